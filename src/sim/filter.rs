//! The `filter` query parameter of CSC's list endpoints (an RSQL/FIQL subset).
//!
//! Supported: `field==value`, `field!=value`, `field=in=(a,b)`, `field=out=(a,b)`,
//! `field=like=value` (case-insensitive substring; `*` wildcards are ignored), values optionally in
//! double or single quotes, `;` for AND binding tighter than `,` for OR. No parentheses for
//! grouping. Values compare case-insensitively. Which fields exist is up to the endpoint.

/// A parse error, reported as `400 VALIDATION_ERROR` by the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter {filter:?}: {reason}")]
pub struct FilterError {
    /// The filter as given.
    pub filter: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    In,
    Out,
    Like,
}

/// One `field op value` term.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    field: String,
    op: Op,
    values: Vec<String>,
}

/// A parsed filter: OR of ANDs of terms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    any_of: Vec<Vec<Term>>,
}

impl Filter {
    /// Parses `text`, accepting only the field names in `fields` (compared case-sensitively).
    pub fn parse(text: &str, fields: &[&str]) -> Result<Filter, FilterError> {
        let error = |reason: String| FilterError {
            filter: text.to_owned(),
            reason,
        };
        let mut any_of = Vec::new();
        for group in split_top(text, ',') {
            let mut all_of = Vec::new();
            for term in split_top(group, ';') {
                let term = parse_term(term.trim()).map_err(error)?;
                if !fields.contains(&term.field.as_str()) {
                    return Err(error(format!(
                        "unsupported field {:?} (supported: {})",
                        term.field,
                        fields.join(", ")
                    )));
                }
                all_of.push(term);
            }
            any_of.push(all_of);
        }
        Ok(Filter { any_of })
    }

    /// Whether an item matches; `get` returns an item's value of a field.
    pub fn matches<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.any_of.is_empty()
            || self
                .any_of
                .iter()
                .any(|all| all.iter().all(|term| term.matches(get(&term.field))))
    }
}

impl Term {
    fn matches(&self, actual: Option<&str>) -> bool {
        let actual = actual.unwrap_or("").to_ascii_lowercase();
        let eq = |v: &String| v.to_ascii_lowercase() == actual;
        match self.op {
            Op::Eq | Op::In => self.values.iter().any(eq),
            Op::Ne | Op::Out => !self.values.iter().any(eq),
            Op::Like => self.values.iter().any(|v| {
                let needle = v.replace('*', "").to_ascii_lowercase();
                actual.contains(&needle)
            }),
        }
    }
}

/// Splits on `sep` outside quotes and parentheses.
fn split_top(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut start) = (0usize, None::<char>, 0usize);
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth = depth.saturating_sub(1),
            (None, c) if c == sep && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_term(term: &str) -> Result<Term, String> {
    const OPS: [(&str, Op); 5] = [
        ("=in=", Op::In),
        ("=out=", Op::Out),
        ("=like=", Op::Like),
        ("==", Op::Eq),
        ("!=", Op::Ne),
    ];
    let (at, token, op) = OPS
        .iter()
        .filter_map(|(token, op)| term.find(token).map(|at| (at, *token, *op)))
        .min_by_key(|(at, _, _)| *at)
        .ok_or_else(|| format!("no operator in {term:?} (use ==, !=, =in=, =out=, =like=)"))?;
    let field = term[..at].trim();
    if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("bad field name in {term:?}"));
    }
    let raw = term[at + token.len()..].trim();
    let values = match op {
        Op::In | Op::Out => {
            let inner = raw
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| format!("{token} needs a list in parentheses in {term:?}"))?;
            split_top(inner, ',').into_iter().map(unquote).collect()
        }
        _ => vec![unquote(raw)],
    };
    if values.iter().any(String::is_empty) {
        return Err(format!("empty value in {term:?}"));
    }
    Ok(Term {
        field: field.to_owned(),
        op,
        values,
    })
}

fn unquote(value: &str) -> String {
    let value = value.trim();
    for q in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner.to_owned();
        }
    }
    value.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone_matches(filter: &str, zone: &str) -> bool {
        let f = Filter::parse(filter, &["zoneName", "status"]).expect("parses");
        f.matches(|field| (field == "zoneName").then_some(zone))
    }

    #[test]
    fn equality_with_and_without_quotes() {
        assert!(zone_matches(r#"zoneName=="example.com""#, "example.com"));
        assert!(zone_matches("zoneName==Example.COM", "example.com"));
        assert!(!zone_matches(r#"zoneName=="example.com""#, "example.net"));
        assert!(zone_matches(r#"zoneName!="example.com""#, "example.net"));
    }

    #[test]
    fn lists_like_and_or() {
        assert!(zone_matches(r#"zoneName=in=("a.test","b.test")"#, "b.test"));
        assert!(!zone_matches(
            r#"zoneName=in=("a.test","b.test")"#,
            "c.test"
        ));
        assert!(zone_matches("zoneName=like=*ample*", "example.com"));
        assert!(zone_matches("zoneName==a.test,zoneName==b.test", "b.test"));
        assert!(!zone_matches("zoneName==a.test;zoneName==b.test", "b.test"));
    }

    #[test]
    fn unknown_fields_and_garbage_are_refused() {
        assert!(Filter::parse("owner==x", &["zoneName"]).is_err());
        assert!(Filter::parse("zoneName", &["zoneName"]).is_err());
        assert!(Filter::parse("zoneName==", &["zoneName"]).is_err());
        assert!(Filter::parse("zoneName=in=a", &["zoneName"]).is_err());
    }
}
