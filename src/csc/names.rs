//! Names as CSC sees them: which zone a DNS name belongs to, and the record key relative to it.
//!
//! CSC names zones without a trailing dot and records by a key relative to the zone (`@` at the
//! apex). DNS names are case-insensitive and may carry a trailing dot, so every comparison here
//! works on the normalized form.

/// Lower-cases a name and strips one trailing dot: `WWW.Example.COM.` → `www.example.com`.
pub fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// The longest zone among `zones` that equals `name` or of which `name` is a subdomain.
///
/// Matching is case-insensitive and ignores trailing dots; the zone is returned as given.
pub fn find_zone<'z, I>(name: &str, zones: I) -> Option<&'z str>
where
    I: IntoIterator<Item = &'z str>,
{
    let name = normalize(name);
    zones
        .into_iter()
        .filter(|zone| {
            let zone = normalize(zone);
            name == zone
                || (name.len() > zone.len()
                    && name.ends_with(&zone)
                    && name.as_bytes()[name.len() - zone.len() - 1] == b'.')
        })
        .max_by_key(|zone| normalize(zone).len())
}

/// The CSC record key of `name` inside `zone`: `@` at the apex, else the labels before the zone.
///
/// Returns `None` when `name` is not inside `zone`.
pub fn record_key(name: &str, zone: &str) -> Option<String> {
    let name = normalize(name);
    let zone = normalize(zone);
    if name == zone {
        return Some("@".to_owned());
    }
    let prefix = name.strip_suffix(&zone)?.strip_suffix('.')?;
    (!prefix.is_empty()).then(|| prefix.to_owned())
}

/// The full name (no trailing dot, lower case) of a CSC record `key` inside `zone`.
pub fn full_name(key: &str, zone: &str) -> String {
    let zone = normalize(zone);
    match key {
        "@" | "" => zone,
        key => format!("{}.{}", normalize(key), zone),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONES: [&str; 3] = ["example.com", "sub.example.com", "other.org"];

    #[test]
    fn longest_zone_wins() {
        assert_eq!(
            find_zone("a.sub.example.com", ZONES),
            Some("sub.example.com")
        );
        assert_eq!(
            find_zone("_acme-challenge.www.example.com.", ZONES),
            Some("example.com")
        );
        assert_eq!(
            find_zone("SUB.Example.COM.", ZONES),
            Some("sub.example.com")
        );
    }

    #[test]
    fn suffix_must_be_at_a_label_boundary() {
        assert_eq!(find_zone("notexample.com", ZONES), None);
        assert_eq!(find_zone("xsub.example.com", ZONES), Some("example.com"));
        assert_eq!(find_zone("example.net", ZONES), None);
    }

    #[test]
    fn keys_are_relative_with_at_for_the_apex() {
        assert_eq!(
            record_key("Example.com.", "example.com").as_deref(),
            Some("@")
        );
        assert_eq!(
            record_key("_acme-challenge.WWW.example.com", "example.com.").as_deref(),
            Some("_acme-challenge.www")
        );
        assert_eq!(record_key("www.other.org", "example.com"), None);
        assert_eq!(record_key("xexample.com", "example.com"), None);
    }

    #[test]
    fn full_names_round_trip() {
        assert_eq!(full_name("@", "example.com"), "example.com");
        assert_eq!(
            full_name("_acme-challenge", "Example.com."),
            "_acme-challenge.example.com"
        );
    }
}
