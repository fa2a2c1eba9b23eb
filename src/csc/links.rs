//! Pure URL work for the client: building request URLs under the API root, following paging
//! links safely, and reading an edit id out of a hypermedia link.

use url::Url;

/// `base` with `segments` appended, each percent-encoded as one path segment.
pub fn join_segments(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    // The constructor only accepts bases that can carry a path, so this cannot fail.
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// The URL of the next page from a `links.next` value, always on `base`'s scheme, host and port.
///
/// The link may be absolute or relative. CSC's links name its public host; behind a proxy or a
/// test double they may name another one, and the credentials must only ever go to the
/// configured host — so the origin is taken from `base`, and only the path and query from the
/// link. Returns `None` when the link is not a URL at all.
pub fn resolve_next(base: &Url, link: &str) -> Option<Url> {
    let mut url = base.join(link.trim()).ok()?;
    if url.origin() != base.origin() {
        url.set_scheme(base.scheme()).ok()?;
        url.set_host(base.host_str()).ok()?;
        url.set_port(base.port()).ok()?;
    }
    url.set_fragment(None);
    Some(url)
}

/// `url` with its `page` query parameter set to `page` (other parameters kept).
pub fn with_page(url: &Url, page: u64) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "page")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut out = url.clone();
    out.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("page", &page.to_string());
    out
}

/// The edit id in a link such as `https://…/zones/edits/status/<id>`: its last non-empty path
/// segment, percent-decoded. Accepts a bare path too.
pub fn edit_id_from_link(link: &str) -> Option<String> {
    let link = link.trim();
    let path = match Url::parse(link) {
        Ok(url) => url.path().to_owned(),
        // Not absolute: cut the query and fragment by hand.
        Err(_) => link.split(['?', '#']).next().unwrap_or_default().to_owned(),
    };
    let last = path.split('/').rev().find(|s| !s.is_empty())?;
    let id = percent_decode(last)?;
    // An id is never one of the route words; a link ending in one is not an edit link.
    (!matches!(id.as_str(), "edits" | "status" | "zones")).then_some(id)
}

/// `METHOD /path?query` of `url` relative to the API root, for logs and error messages.
pub fn endpoint(method: &reqwest::Method, base: &Url, url: &Url) -> String {
    let root = base.path().trim_end_matches('/');
    let path = url
        .path()
        .strip_prefix(root)
        .filter(|p| p.starts_with('/'))
        .unwrap_or(url.path());
    match url.query() {
        Some(query) => format!("{method} {path}?{query}"),
        None => format!("{method} {path}"),
    }
}

/// Decodes `%XX` escapes; anything else is kept as it is.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| segment.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://apis.cscglobal.com/dbs/api/v2").unwrap()
    }

    #[test]
    fn segments_are_appended_and_encoded() {
        let url = join_segments(&base(), &["zones", "a b/c.test"]);
        assert_eq!(
            url.as_str(),
            "https://apis.cscglobal.com/dbs/api/v2/zones/a%20b%2Fc.test"
        );
        let slash = Url::parse("http://127.0.0.1:9/root/").unwrap();
        assert_eq!(
            join_segments(&slash, &["zones"]).as_str(),
            "http://127.0.0.1:9/root/zones"
        );
        let bare = Url::parse("http://127.0.0.1:9").unwrap();
        assert_eq!(
            join_segments(&bare, &["zones", "edits"]).as_str(),
            "http://127.0.0.1:9/zones/edits"
        );
    }

    #[test]
    fn edit_id_is_the_last_segment_of_the_status_link() {
        let id = "9e139e34-a2a1-462e-88ab-3645833a55d4";
        for link in [
            format!("https://apis.cscglobal.com/dbs/api/v2/zones/edits/status/{id}"),
            format!("https://apis.cscglobal.com/dbs/api/v2/zones/edits/status/{id}/"),
            format!("http://127.0.0.1:8080/zones/edits/status/{id}?x=1#f"),
            format!("/zones/edits/status/{id}"),
            format!(" zones/edits/status/{id} "),
        ] {
            assert_eq!(edit_id_from_link(&link).as_deref(), Some(id), "{link}");
        }
        assert_eq!(
            edit_id_from_link("https://x/zones/edits/status/a%20b").as_deref(),
            Some("a b")
        );
        assert_eq!(
            edit_id_from_link("https://x/zones/edits/status/a+b").as_deref(),
            Some("a+b")
        );
        assert_eq!(edit_id_from_link("https://x/zones/edits/status/"), None);
        assert_eq!(edit_id_from_link(""), None);
        assert_eq!(edit_id_from_link("/"), None);
    }

    #[test]
    fn next_links_stay_on_the_configured_host() {
        let local = Url::parse("http://127.0.0.1:4000/dbs/api/v2").unwrap();
        let next = resolve_next(
            &local,
            "https://apis.cscglobal.com/dbs/api/v2/zones?page=2&size=2",
        )
        .unwrap();
        assert_eq!(
            next.as_str(),
            "http://127.0.0.1:4000/dbs/api/v2/zones?page=2&size=2"
        );
        let same = resolve_next(&local, "http://127.0.0.1:4000/dbs/api/v2/zones?page=3").unwrap();
        assert_eq!(
            same.as_str(),
            "http://127.0.0.1:4000/dbs/api/v2/zones?page=3"
        );
        let relative = resolve_next(&local, "/dbs/api/v2/zones?page=2").unwrap();
        assert_eq!(
            relative.as_str(),
            "http://127.0.0.1:4000/dbs/api/v2/zones?page=2"
        );
    }

    #[test]
    fn page_parameter_is_replaced() {
        let url = Url::parse("http://h/zones?filter=zoneName%3D%3D%22a%22&page=1").unwrap();
        let two = with_page(&url, 2);
        let pairs: Vec<_> = two.query_pairs().collect();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0].1, "zoneName==\"a\"");
        assert_eq!(pairs[1], ("page".into(), "2".into()));
    }

    #[test]
    fn endpoints_are_relative_to_the_api_root() {
        let get = reqwest::Method::GET;
        let url = join_segments(&base(), &["zones", "example.com"]);
        assert_eq!(endpoint(&get, &base(), &url), "GET /zones/example.com");
        let paged = Url::parse("https://apis.cscglobal.com/dbs/api/v2/zones?page=2").unwrap();
        assert_eq!(endpoint(&get, &base(), &paged), "GET /zones?page=2");
        let root = Url::parse("http://127.0.0.1:1/").unwrap();
        let url = join_segments(&root, &["zones"]);
        assert_eq!(endpoint(&get, &root, &url), "GET /zones");
    }
}
