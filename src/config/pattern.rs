//! Owner-name patterns of a key's grant: `_acme-challenge.*` and friends.
//!
//! A pattern is a domain name whose labels are matched one by one, case-insensitively. A `*`
//! label matches exactly one label, except as the last label, where it matches one or more, so
//! the default `_acme-challenge.*` means "any name whose first label is `_acme-challenge`".

use std::fmt;
use std::str::FromStr;

/// One owner-name pattern, parsed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    labels: Vec<String>,
    text: String,
}

impl NamePattern {
    /// The pattern every key gets when its config names none.
    pub fn default_acme() -> Self {
        "_acme-challenge.*"
            .parse()
            .expect("the default pattern is valid")
    }

    /// Whether `name` (any case, trailing dot optional) matches this pattern.
    pub fn matches(&self, name: &str) -> bool {
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        let name_labels: Vec<&str> = name.split('.').filter(|l| !l.is_empty()).collect();
        let last = self.labels.len() - 1;
        if self.labels[last] == "*" {
            if name_labels.len() < self.labels.len() {
                return false;
            }
        } else if name_labels.len() != self.labels.len() {
            return false;
        }
        self.labels
            .iter()
            .zip(&name_labels)
            .all(|(pattern, label)| pattern == "*" || pattern == label)
    }
}

impl FromStr for NamePattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.strip_suffix('.').unwrap_or(text);
        if trimmed.is_empty() {
            return Err("an empty name pattern matches nothing".to_owned());
        }
        let labels: Vec<String> = trimmed.split('.').map(str::to_ascii_lowercase).collect();
        for label in &labels {
            if label.is_empty() {
                return Err(format!("name pattern `{text}` has an empty label"));
            }
            if label.contains('*') && label != "*" {
                return Err(format!(
                    "name pattern `{text}`: `*` must stand alone as a whole label"
                ));
            }
            if label.len() > 63 {
                return Err(format!("name pattern `{text}` has a label over 63 bytes"));
            }
        }
        Ok(NamePattern {
            labels,
            text: text.to_owned(),
        })
    }
}

impl fmt::Display for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> NamePattern {
        s.parse().unwrap()
    }

    #[test]
    fn default_matches_acme_names_only() {
        let acme = NamePattern::default_acme();
        assert!(acme.matches("_acme-challenge.example.com."));
        assert!(acme.matches("_ACME-Challenge.www.example.com"));
        assert!(!acme.matches("www.example.com"));
        assert!(!acme.matches("_acme-challenge"));
        assert!(!acme.matches("x._acme-challenge.example.com"));
    }

    #[test]
    fn inner_star_is_one_label_and_exact_names_work() {
        assert!(p("_acme-challenge.*.example.com").matches("_acme-challenge.www.example.com"));
        assert!(!p("_acme-challenge.*.example.com").matches("_acme-challenge.a.b.example.com"));
        assert!(p("_acme-challenge.example.com").matches("_acme-challenge.EXAMPLE.com."));
        assert!(!p("_acme-challenge.example.com").matches("_acme-challenge.www.example.com"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!("".parse::<NamePattern>().is_err());
        assert!("a..b".parse::<NamePattern>().is_err());
        assert!("_acme-*.example.com".parse::<NamePattern>().is_err());
    }
}
