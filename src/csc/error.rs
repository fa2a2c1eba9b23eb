//! Typed errors of the CSC client, and the pure classification of a failed HTTP answer into one.
//!
//! Every variant names one situation a person (or the engine) handles differently, and its
//! message says what to do about it. No variant ever carries the API key or the bearer token:
//! body excerpts are redacted by the client before they get here, and headers are never kept.

use std::fmt;

use super::model::{ErrorBody, OPEN_ZONE_EDITS, RATE_LIMIT_BODY};

/// How many characters of a response body an error keeps.
pub const EXCERPT_CHARS: usize = 200;

/// Why a request got no HTTP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// Connecting failed (DNS, refused, TLS handshake, connect timeout): the request was never
    /// sent, so retrying it is always safe.
    Connect,
    /// The request was sent but no complete answer came within the timeout.
    Timeout,
    /// The connection broke after the request was sent (reset, truncated body, protocol error).
    Broken,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "could not connect",
            TransportKind::Timeout => "timed out waiting for the answer",
            TransportKind::Broken => "connection broke after the request was sent",
        })
    }
}

/// Everything that can go wrong talking to CSC.
#[derive(Debug, thiserror::Error)]
pub enum CscError {
    /// Another zone edit holds the zone's lock. Never retried by the client: the engine follows
    /// the blocking edit and resubmits.
    #[error(
        "zone {zone} is locked by the open CSC zone edit {}: wait until that edit is COMPLETED or \
         CANCELED (cancel it if it is FAILED), then submit again",
        blocking_edit_id.as_deref().unwrap_or("<id not given by CSC>")
    )]
    OpenZoneEdits {
        /// The zone the edit was for.
        zone: String,
        /// The id of the edit holding the lock (CSC's `value`), if CSC named it.
        blocking_edit_id: Option<String>,
    },

    /// CSC's gateway answered its plain-text rate-limit message (HTTP 400, not 429).
    #[error(
        "CSC rate limit exceeded on {endpoint} (\"Requests exceeded API Rate limit.\"): another \
         client may share this API key, or the client-side rate limit is set too high (CSC allows \
         about 20 requests per second)"
    )]
    RateLimited {
        /// The request that was refused, e.g. `GET /zones`.
        endpoint: String,
    },

    /// HTTP 401 or 403: the API key or bearer token is wrong, expired or lacks rights.
    #[error(
        "CSC rejected the credentials (HTTP {status} on {endpoint}): check the API key and the \
         bearer token (csc.api_key / csc.bearer_token, their *_file forms, or CSC_API_KEY / \
         CSC_BEARER_TOKEN); a bearer token expires after 30 days without use, and an expired one \
         must be replaced by a new token from CSC"
    )]
    CredentialsRejected {
        /// 401 or 403.
        status: u16,
        /// The request that was refused.
        endpoint: String,
    },

    /// HTTP 404: the zone or edit does not exist (or is not visible to this account).
    #[error(
        "CSC has no {what} (HTTP 404 on {endpoint}): check the name, and that this API key's \
         account manages it"
    )]
    NotFound {
        /// What was looked for, e.g. `zone example.com` or `zone edit 9e13…`.
        what: String,
        /// The request that was refused.
        endpoint: String,
    },

    /// Another 4xx with CSC's JSON error body: CSC understood the request and refused it.
    #[error(
        "CSC refused {endpoint} (HTTP {status}, code {code}): {description}{}",
        value.as_deref().map(|v| format!(" [value: {v}]")).unwrap_or_default()
    )]
    Validation {
        /// The HTTP status (usually 400).
        status: u16,
        /// The request that was refused.
        endpoint: String,
        /// CSC's error code.
        code: String,
        /// CSC's human-readable description.
        description: String,
        /// CSC's `value` (what the error is about), if any.
        value: Option<String>,
    },

    /// HTTP 5xx: CSC (or its gateway) failed. Transient; retried with backoff.
    #[error(
        "CSC server error HTTP {status} on {endpoint}: {excerpt:?}; the fault is on CSC's side \
         and usually passes: try again later"
    )]
    Server {
        /// The 5xx status.
        status: u16,
        /// The request that failed.
        endpoint: String,
        /// The start of the body (at most [`EXCERPT_CHARS`] characters).
        excerpt: String,
    },

    /// No HTTP answer: connect failure, timeout, reset, TLS. The source error is kept.
    #[error(
        "no answer from CSC for {endpoint}: {kind} ({detail}); check the network path to \
         csc.base_url and CSC's availability"
    )]
    Transport {
        /// The request that failed.
        endpoint: String,
        /// Whether the request could have reached CSC; see [`CscError::outcome_unknown`].
        kind: TransportKind,
        /// The innermost cause, e.g. `Connection refused (os error 111)`.
        detail: String,
        /// The underlying HTTP client error.
        #[source]
        source: reqwest::Error,
    },

    /// A success status whose body is not the JSON this endpoint documents.
    #[error(
        "CSC answered {endpoint} with a body the client cannot read: {detail}; the API may have \
         changed"
    )]
    MalformedBody {
        /// The request whose answer was unreadable.
        endpoint: String,
        /// What was wrong, with a short excerpt of the body.
        detail: String,
    },

    /// `POST /zones/edits` answered 2xx, but `content.status` was not `SUCCESS`.
    #[error(
        "CSC did not enqueue the edit of zone {zone}: content.status is {status:?} ({message:?})"
    )]
    EditRejected {
        /// The zone the edit was for.
        zone: String,
        /// CSC's `content.status`.
        status: String,
        /// CSC's `content.message`.
        message: String,
    },

    /// Any other non-success status without CSC's JSON error body (e.g. a redirect, or an HTML 4xx).
    #[error("unexpected HTTP {status} from CSC on {endpoint}: {excerpt:?}")]
    Unexpected {
        /// The HTTP status.
        status: u16,
        /// The request that got it.
        endpoint: String,
        /// The start of the body (at most [`EXCERPT_CHARS`] characters).
        excerpt: String,
    },

    /// The client could not be built from its options (bad base URL, unusable header value, …).
    #[error("invalid CSC client settings: {detail}")]
    InvalidOptions {
        /// What is wrong; never contains a secret.
        detail: String,
    },
}

impl CscError {
    /// Whether trying the same request again later may succeed: rate limit, 5xx, transport.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            CscError::RateLimited { .. } | CscError::Server { .. } | CscError::Transport { .. }
        )
    }

    /// Whether CSC may have acted on the request even though the client saw a failure.
    ///
    /// True for a timeout or a broken connection after the request was sent, and for a 502 or
    /// 504 (a proxy lost the answer of a backend that may have acted). For a `POST /zones/edits`
    /// this means an edit may exist at CSC: read the zone's edits before submitting again.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            CscError::Transport { kind, .. } => *kind != TransportKind::Connect,
            CscError::Server { status, .. } => matches!(status, 502 | 504),
            _ => false,
        }
    }

    /// Whether CSC refused the credentials (the engine stops and reports not-ready).
    pub fn is_credentials(&self) -> bool {
        matches!(self, CscError::CredentialsRejected { .. })
    }
}

/// What a request was about, so a failed answer can be turned into an actionable error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// Method and path, e.g. `GET /zones/example.com`.
    pub endpoint: String,
    /// What a 404 means here, e.g. `zone example.com`.
    pub what: String,
    /// The zone a submitted edit was for (names the zone in [`CscError::OpenZoneEdits`]).
    pub zone: Option<String>,
}

/// Turns a non-success answer (`status`, `body`) into the error it stands for.
///
/// Pure, so every case is unit-tested. The order matters: credentials first (their bodies are
/// unknown), then CSC's rate-limit text (a 400 that must not read as a validation error), then
/// the JSON error body, then the status class.
pub fn classify(info: &RequestInfo, status: u16, body: &str) -> CscError {
    let endpoint = info.endpoint.clone();
    if status == 401 || status == 403 {
        return CscError::CredentialsRejected { status, endpoint };
    }
    if status == 429 || is_rate_limit_body(body) {
        return CscError::RateLimited { endpoint };
    }
    let json = serde_json::from_str::<ErrorBody>(body.trim()).ok();
    if let Some(err) = &json
        && err.code == OPEN_ZONE_EDITS
    {
        return CscError::OpenZoneEdits {
            zone: info.zone.clone().unwrap_or_else(|| "<unknown>".to_owned()),
            blocking_edit_id: err.value.clone().filter(|v| !v.trim().is_empty()),
        };
    }
    match (status, json) {
        (404, _) => CscError::NotFound {
            what: info.what.clone(),
            endpoint,
        },
        (500..=599, _) => CscError::Server {
            status,
            endpoint,
            excerpt: excerpt(body),
        },
        (400..=499, Some(err)) => CscError::Validation {
            status,
            endpoint,
            code: err.code,
            description: err.description,
            value: err.value,
        },
        _ => CscError::Unexpected {
            status,
            endpoint,
            excerpt: excerpt(body),
        },
    }
}

/// Whether `body` is CSC's plain-text rate-limit answer, tolerating case, whitespace, quotes and
/// a missing full stop.
pub fn is_rate_limit_body(body: &str) -> bool {
    // Compare without the trailing full stop so "…Rate limit" and "…Rate limit." both match.
    let needle = RATE_LIMIT_BODY.trim_end_matches('.').to_ascii_lowercase();
    let body = body
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    body.contains(&needle)
}

/// The first [`EXCERPT_CHARS`] characters of `body`, on one line, marked when cut.
pub fn excerpt(body: &str) -> String {
    let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = flat.chars();
    let mut out: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> RequestInfo {
        RequestInfo {
            endpoint: "POST /zones/edits".to_owned(),
            what: "zone example.com".to_owned(),
            zone: Some("example.com".to_owned()),
        }
    }

    #[test]
    fn open_zone_edits_names_the_blocking_edit() {
        let body = r#"{"code":"OPEN_ZONE_EDITS","description":"Existing zone edits need to be resolved before publishing a new edit","value":"9e139e34-a2a1-462e-88ab-3645833a55d4"}"#;
        match classify(&info(), 400, body) {
            CscError::OpenZoneEdits {
                zone,
                blocking_edit_id,
            } => {
                assert_eq!(zone, "example.com");
                assert_eq!(
                    blocking_edit_id.as_deref(),
                    Some("9e139e34-a2a1-462e-88ab-3645833a55d4")
                );
            }
            other => panic!("wrong class: {other:?}"),
        }
        let no_value = r#"{"code":"OPEN_ZONE_EDITS","description":"x"}"#;
        assert!(matches!(
            classify(&info(), 400, no_value),
            CscError::OpenZoneEdits {
                blocking_edit_id: None,
                ..
            }
        ));
    }

    #[test]
    fn rate_limit_text_is_matched_robustly() {
        for body in [
            "Requests exceeded API Rate limit.",
            "  requests exceeded api rate limit.\n",
            "\"Requests exceeded API Rate limit.\"",
            "Requests   exceeded API\nRate limit",
            "<html>Requests exceeded API Rate limit.</html>",
        ] {
            let err = classify(&info(), 400, body);
            assert!(
                matches!(err, CscError::RateLimited { .. }),
                "{body:?} → {err:?}"
            );
            assert!(err.is_transient());
        }
        assert!(matches!(
            classify(&info(), 429, ""),
            CscError::RateLimited { .. }
        ));
        assert!(!is_rate_limit_body("Requests exceeded"));
    }

    #[test]
    fn credentials_are_recognised_whatever_the_body() {
        for (status, body) in [
            (401, ""),
            (403, "<html>Forbidden</html>"),
            (401, r#"{"code":"X"}"#),
        ] {
            let err = classify(&info(), status, body);
            assert!(
                matches!(err, CscError::CredentialsRejected { status: s, .. } if s == status),
                "{err:?}"
            );
            assert!(!err.is_transient());
            let text = err.to_string();
            assert!(
                text.contains("API key") && text.contains("30 days"),
                "{text}"
            );
        }
    }

    #[test]
    fn not_found_names_what_was_looked_for() {
        let info = RequestInfo {
            endpoint: "GET /zones/nope.test".to_owned(),
            what: "zone nope.test".to_owned(),
            zone: None,
        };
        let err = classify(&info, 404, r#"{"code":"ZONE_NOT_FOUND","description":"x"}"#);
        assert!(matches!(&err, CscError::NotFound { what, .. } if what == "zone nope.test"));
        assert!(err.to_string().contains("zone nope.test"));
    }

    #[test]
    fn other_json_4xx_is_a_validation_error_with_code() {
        let body = r#"{"code":"RECORD_NOT_FOUND","description":"No TXT record x","value":"x"}"#;
        match classify(&info(), 400, body) {
            CscError::Validation {
                status,
                code,
                description,
                value,
                ..
            } => {
                assert_eq!((status, code.as_str()), (400, "RECORD_NOT_FOUND"));
                assert_eq!(description, "No TXT record x");
                assert_eq!(value.as_deref(), Some("x"));
            }
            other => panic!("wrong class: {other:?}"),
        }
    }

    #[test]
    fn server_errors_are_transient_with_a_short_excerpt() {
        let long = "x".repeat(1000);
        let err = classify(&info(), 503, &long);
        match &err {
            CscError::Server {
                status: 503,
                excerpt,
                ..
            } => {
                assert_eq!(excerpt.chars().count(), EXCERPT_CHARS + 1)
            }
            other => panic!("wrong class: {other:?}"),
        }
        assert!(err.is_transient() && !err.outcome_unknown());
        // A JSON body does not make a 5xx a validation error.
        let err = classify(&info(), 500, r#"{"code":"INTERNAL","description":"boom"}"#);
        assert!(matches!(err, CscError::Server { status: 500, .. }));
        assert!(classify(&info(), 504, "").outcome_unknown());
    }

    #[test]
    fn anything_else_is_unexpected() {
        for (status, body) in [
            (400, "<html>Bad Request</html>"),
            (302, ""),
            (418, "{not json"),
        ] {
            let err = classify(&info(), status, body);
            assert!(matches!(err, CscError::Unexpected { status: s, .. } if s == status));
            assert!(!err.is_transient());
        }
    }

    #[test]
    fn excerpts_are_single_line_and_cut_at_a_char_boundary() {
        assert_eq!(excerpt("a\n  b\tc "), "a b c");
        let cut = excerpt(&"é".repeat(300));
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
