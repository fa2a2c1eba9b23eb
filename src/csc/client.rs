//! The async client of CSC's Domain Manager API v2: one method per endpoint the gateway uses,
//! each paced by the shared rate limiter, bounded by timeouts, retried on transient failures,
//! and answering a typed [`CscError`] otherwise.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use super::error::{CscError, RequestInfo, TransportKind, classify, excerpt};
use super::limiter::Limiter;
use super::links::{edit_id_from_link, endpoint, join_segments, resolve_next, with_page};
use super::model::{
    EditRequest, Links, Meta, StatusContent, StatusResponse, SubmitResponse, Zone, ZoneEdit,
    ZoneEditList, ZoneList,
};
use super::retry::RetryPolicy;

pub use super::options::CscClientOptions;

/// A guard against a server whose paging never ends.
const MAX_PAGES: u64 = 10_000;

/// The CSC API client. Cloning is cheap, and clones share the connection pool and the rate
/// limiter, so one limiter governs the whole process.
#[derive(Clone)]
pub struct CscClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    api_key: SecretString,
    bearer_token: SecretString,
    // Pre-built and marked sensitive, so no debug output of a request can show them.
    apikey_header: HeaderValue,
    auth_header: HeaderValue,
    limiter: Limiter,
    retry: RetryPolicy,
}

/// One request as the retry loop sees it.
struct Call {
    method: Method,
    url: Url,
    body: Option<Vec<u8>>,
    info: RequestInfo,
    /// Whether sending it twice does no harm; see [`CscClient::submit_edit`].
    idempotent: bool,
}

impl CscClient {
    /// Builds a client. Fails on an unusable base URL, an empty credential, a credential that
    /// cannot travel in an HTTP header, or a nonsensical rate limit.
    pub fn new(options: CscClientOptions) -> Result<Self, CscError> {
        // reqwest is built without a bundled crypto provider; install ring unless the process
        // already chose one (then this returns Err and the existing one is used).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let invalid = |detail: String| CscError::InvalidOptions { detail };

        let base = options.base_url.clone();
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(invalid(format!(
                "csc.base_url must be an http(s) URL such as {}, not a {}: URL",
                super::options::PRODUCTION_BASE_URL,
                base.scheme()
            )));
        }
        // A file read with its line ending is the usual mistake; the values themselves are never
        // shown in these messages.
        let api_key = trimmed(&options.api_key);
        let bearer_token = trimmed(&options.bearer_token);
        let apikey_header = secret_header("API key", api_key.expose_secret())?;
        let auth_header = secret_header(
            "bearer token",
            &format!("Bearer {}", bearer_token.expose_secret()),
        )?;
        if api_key.expose_secret().is_empty() || bearer_token.expose_secret().is_empty() {
            return Err(invalid(
                "the CSC API key and bearer token must not be empty".into(),
            ));
        }
        let limiter =
            Limiter::new(options.rate_limit_per_sec, options.rate_limit_burst).map_err(invalid)?;
        let mut http = reqwest::Client::builder();
        if is_loopback(&base) {
            // A local simulator or tunnel: an HTTP(S)_PROXY from the environment must not apply.
            http = http.no_proxy();
        }
        let http = http
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout.min(options.timeout))
            // Redirects would carry the `apikey` header to wherever they point.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                env!("CARGO_PKG_NAME"),
                "/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| invalid(format!("cannot set up the HTTP client: {e}")))?;
        Ok(CscClient {
            inner: Arc::new(Inner {
                http,
                base,
                api_key,
                bearer_token,
                apikey_header,
                auth_header,
                limiter,
                retry: RetryPolicy {
                    max_retries: options.max_retries,
                    base_delay: options.retry_base_delay,
                    max_delay: options.retry_max_delay,
                },
            }),
        })
    }

    /// The API root this client talks to.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// Every zone of the account (`GET /zones`), following every page.
    ///
    /// Pages are followed through `links.next` (kept on the configured host); without one, the
    /// next `page` is asked for while `meta.pages` says there are more.
    pub async fn list_zones(&self) -> Result<Vec<Zone>, CscError> {
        let url = self.url(&["zones"]);
        self.all_pages::<ZoneList>(url, "the zone list".into())
            .await
    }

    /// One zone with its records (`GET /zones/{zone}`); [`CscError::NotFound`] if CSC has none.
    pub async fn get_zone(&self, zone: &str) -> Result<Zone, CscError> {
        let url = self.url(&["zones", zone]);
        self.get_json(url, format!("zone {zone}"), None).await
    }

    /// Submits one zone edit (`POST /zones/edits`) and returns its id, the last segment of
    /// `links.status`.
    ///
    /// Errors the engine must handle itself: [`CscError::OpenZoneEdits`] (never retried here),
    /// [`CscError::Validation`], [`CscError::EditRejected`].
    ///
    /// **Retries and duplicates.** A POST is not idempotent: sent twice, it may create two
    /// edits. It is retried only when CSC certainly did not act: a connect failure (nothing was
    /// sent), the rate-limit answer (refused by the gateway before CSC's logic), or a 500/503.
    /// After a timeout, a reset, or a 502/504 the edit may or may not exist at CSC, so the error
    /// is returned at once ([`CscError::outcome_unknown`] is true): read the zone's edits
    /// ([`CscClient::list_zone_edits`]) or the zone before submitting again.
    pub async fn submit_edit(&self, edit: &EditRequest) -> Result<String, CscError> {
        let zone = &edit.zone_name;
        let body = serde_json::to_vec(edit).map_err(|e| CscError::InvalidOptions {
            detail: format!("cannot encode the edit of zone {zone}: {e}"),
        })?;
        let url = self.url(&["zones", "edits"]);
        let info = self.info(
            &Method::POST,
            &url,
            format!("zone {zone}"),
            Some(zone.clone()),
        );
        let call = Call {
            method: Method::POST,
            url,
            body: Some(body),
            info,
            idempotent: false,
        };
        let text = self.execute(&call).await?;
        let answer: SubmitResponse = decode(&call.info.endpoint, &text)?;
        if !answer.content.status.eq_ignore_ascii_case("SUCCESS") {
            return Err(CscError::EditRejected {
                zone: zone.clone(),
                status: answer.content.status,
                message: answer.content.message,
            });
        }
        let id = edit_id(&answer.links).ok_or_else(|| CscError::MalformedBody {
            endpoint: call.info.endpoint.clone(),
            detail: format!(
                "the edit was accepted but links.status carries no edit id: {}",
                excerpt(&text)
            ),
        })?;
        tracing::debug!(zone = %zone, edit_id = %id, changes = edit.edits.len(), "CSC accepted the edit");
        Ok(id)
    }

    /// The status of a zone edit (`GET /zones/edits/status/{id}`).
    pub async fn edit_status(&self, id: &str) -> Result<StatusContent, CscError> {
        let url = self.url(&["zones", "edits", "status", id]);
        let answer: StatusResponse = self.get_json(url, format!("zone edit {id}"), None).await?;
        Ok(answer.content)
    }

    /// One zone edit with its details (`GET /zones/edits/{id}`).
    pub async fn get_edit(&self, id: &str) -> Result<ZoneEdit, CscError> {
        let url = self.url(&["zones", "edits", id]);
        self.get_json(url, format!("zone edit {id}"), None).await
    }

    /// The edits of one zone (`GET /zones/edits?filter=zoneName=="zone"`), every page, in CSC's
    /// order (newest first, probably). Used to reconcile after a submit whose outcome is unknown.
    pub async fn list_zone_edits(&self, zone: &str) -> Result<Vec<ZoneEdit>, CscError> {
        let mut url = self.url(&["zones", "edits"]);
        url.query_pairs_mut()
            .append_pair("filter", &format!("zoneName==\"{zone}\""));
        self.all_pages::<ZoneEditList>(url, format!("edit list of zone {zone}"))
            .await
    }

    /// Cancels a zone edit (`DELETE /zones/edits/{id}`), which releases the lock a FAILED edit
    /// holds. Any 2xx (CSC has been seen answering both 200 and 204) is success.
    pub async fn cancel_edit(&self, id: &str) -> Result<(), CscError> {
        let url = self.url(&["zones", "edits", id]);
        let info = self.info(&Method::DELETE, &url, format!("zone edit {id}"), None);
        // Cancelling twice leaves the same state, so retrying after any transient error is safe.
        let call = Call {
            method: Method::DELETE,
            url,
            body: None,
            info,
            idempotent: true,
        };
        self.execute(&call).await.map(drop)
    }

    /// Renews the bearer token (`PUT /token/refresh`); tokens expire after 30 days without use.
    pub async fn refresh_token(&self) -> Result<(), CscError> {
        let url = self.url(&["token", "refresh"]);
        let info = self.info(&Method::PUT, &url, "token refresh endpoint".into(), None);
        let call = Call {
            method: Method::PUT,
            url,
            body: None,
            info,
            idempotent: true,
        };
        self.execute(&call).await.map(drop)
    }

    fn url(&self, segments: &[&str]) -> Url {
        join_segments(&self.inner.base, segments)
    }

    fn info(&self, method: &Method, url: &Url, what: String, zone: Option<String>) -> RequestInfo {
        RequestInfo {
            endpoint: endpoint(method, &self.inner.base, url),
            what,
            zone,
        }
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        what: String,
        zone: Option<String>,
    ) -> Result<T, CscError> {
        let info = self.info(&Method::GET, &url, what, zone);
        let call = Call {
            method: Method::GET,
            url,
            body: None,
            info,
            idempotent: true,
        };
        let text = self.execute(&call).await?;
        decode(&call.info.endpoint, &text)
    }

    /// Fetches `first` and every following page, dropping items already seen (by key).
    async fn all_pages<P: Page>(&self, first: Url, what: String) -> Result<Vec<P::Item>, CscError> {
        let mut items = Vec::new();
        let mut keys = HashSet::new();
        let mut visited = HashSet::new();
        let mut url = first.clone();
        let mut page_no = 1u64;
        loop {
            visited.insert(url.to_string());
            let page: P = self.get_json(url.clone(), what.clone(), None).await?;
            let (pages, next) = (page.meta().pages, page.links().next.clone());
            let before = items.len();
            for item in page.into_items() {
                if keys.insert(P::key(&item)) {
                    items.push(item);
                }
            }
            let next = match next {
                Some(link) => Some(resolve_next(&self.inner.base, &link).ok_or_else(|| {
                    CscError::MalformedBody {
                        endpoint: endpoint(&Method::GET, &self.inner.base, &url),
                        detail: format!("links.next is not a URL: {}", excerpt(&link)),
                    }
                })?),
                None if page_no < pages => Some(with_page(&first, page_no + 1)),
                None => None,
            };
            let Some(next) = next else { break };
            // A page that adds nothing, a link back to a visited page, or absurd paging would
            // loop forever; stop with what we have and say so.
            if items.len() == before || visited.contains(next.as_str()) || page_no >= MAX_PAGES {
                tracing::warn!(
                    what = %what,
                    page = page_no,
                    next = %endpoint(&Method::GET, &self.inner.base, &next),
                    "CSC paging does not advance; stopping with the items read so far"
                );
                break;
            }
            url = next;
            page_no += 1;
        }
        Ok(items)
    }

    /// Sends `call`, retrying transient failures as the retry policy and `call.idempotent` allow.
    async fn execute(&self, call: &Call) -> Result<String, CscError> {
        let retryable =
            |err: &CscError| err.is_transient() && (call.idempotent || !err.outcome_unknown());
        self.inner
            .retry
            .run(&call.info.endpoint, retryable, || self.attempt(call))
            .await
    }

    /// One try of `call`: wait for the limiter, send, read the body, classify failures.
    async fn attempt(&self, call: &Call) -> Result<String, CscError> {
        let inner = &self.inner;
        inner.limiter.acquire().await;
        let started = Instant::now();
        let mut request = inner
            .http
            .request(call.method.clone(), call.url.clone())
            .header("apikey", inner.apikey_header.clone())
            .header(AUTHORIZATION, inner.auth_header.clone())
            .header(ACCEPT, "application/json");
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let log_failure = |err: &CscError| {
            crate::ops::metrics::csc_call(&call.info.endpoint, None, started.elapsed());
            tracing::debug!(
                endpoint = %call.info.endpoint,
                latency_ms = started.elapsed().as_millis() as u64,
                error = %err,
                "CSC call failed without an answer"
            );
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => {
                let err = transport(&call.info, err);
                log_failure(&err);
                return Err(err);
            }
        };
        let status = response.status();
        let text = match response.text().await {
            Ok(text) => text,
            Err(err) => {
                let err = transport(&call.info, err);
                log_failure(&err);
                return Err(err);
            }
        };
        crate::ops::metrics::csc_call(
            &call.info.endpoint,
            Some(status.as_u16()),
            started.elapsed(),
        );
        tracing::debug!(
            endpoint = %call.info.endpoint,
            status = status.as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            "CSC call"
        );
        if status.is_success() {
            Ok(text)
        } else {
            Err(classify(&call.info, status.as_u16(), &self.redact(&text)))
        }
    }

    /// `text` with any occurrence of the credentials blanked, in case CSC ever echoes them in an
    /// error body that ends up in an error message.
    fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in [&self.inner.api_key, &self.inner.bearer_token] {
            let secret = secret.expose_secret();
            if !secret.is_empty() && out.contains(secret) {
                out = out.replace(secret, "[REDACTED]");
            }
        }
        out
    }
}

impl fmt::Debug for CscClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CscClient")
            .field("base_url", &self.inner.base.as_str())
            .field("credentials", &"[REDACTED]")
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// A list answer that may span pages.
trait Page: DeserializeOwned {
    type Item;
    fn meta(&self) -> &Meta;
    fn links(&self) -> &Links;
    fn into_items(self) -> Vec<Self::Item>;
    /// What makes an item distinct, to drop repeats across pages.
    fn key(item: &Self::Item) -> String;
}

impl Page for ZoneList {
    type Item = Zone;
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn links(&self) -> &Links {
        &self.links
    }
    fn into_items(self) -> Vec<Zone> {
        self.zones
    }
    fn key(zone: &Zone) -> String {
        zone.zone_name.to_ascii_lowercase()
    }
}

impl Page for ZoneEditList {
    type Item = ZoneEdit;
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn links(&self) -> &Links {
        &self.links
    }
    fn into_items(self) -> Vec<ZoneEdit> {
        self.zone_edits
    }
    fn key(edit: &ZoneEdit) -> String {
        edit.id.clone()
    }
}

/// The edit id of a submit answer: from `links.status`, else from `links.self` (both end in it).
fn edit_id(links: &Links) -> Option<String> {
    links
        .status
        .as_deref()
        .and_then(edit_id_from_link)
        .or_else(|| links.self_.as_deref().and_then(edit_id_from_link))
}

fn decode<T: DeserializeOwned>(endpoint: &str, text: &str) -> Result<T, CscError> {
    serde_json::from_str(text).map_err(|e| CscError::MalformedBody {
        endpoint: endpoint.to_owned(),
        detail: format!("{e}; body starts {:?}", excerpt(text)),
    })
}

fn transport(info: &RequestInfo, err: reqwest::Error) -> CscError {
    // Connect first: a connect timeout is both, and a connect failure means nothing was sent.
    let kind = if err.is_connect() {
        TransportKind::Connect
    } else if err.is_timeout() {
        TransportKind::Timeout
    } else {
        TransportKind::Broken
    };
    CscError::Transport {
        endpoint: info.endpoint.clone(),
        kind,
        detail: root_cause(&err),
        source: err,
    }
}

/// The innermost message of an error chain, e.g. `Connection refused (os error 111)`.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn trimmed(secret: &SecretString) -> SecretString {
    SecretString::from(secret.expose_secret().trim().to_owned())
}

fn secret_header(name: &str, value: &str) -> Result<HeaderValue, CscError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| CscError::InvalidOptions {
        detail: format!(
            "the CSC {name} contains characters an HTTP header cannot carry (check for stray \
             spaces, quotes or line breaks in the setting or its file)"
        ),
    })?;
    header.set_sensitive(true);
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "key-abc-very-secret-123";
    const TOKEN: &str = "token-xyz-very-secret-456";

    fn options() -> CscClientOptions {
        CscClientOptions::new(
            Url::parse("http://127.0.0.1:9/dbs/api/v2").unwrap(),
            SecretString::from(format!("{KEY}\n")),
            SecretString::from(TOKEN.to_owned()),
        )
    }

    #[test]
    fn debug_output_never_shows_the_credentials() {
        let options = options();
        let client = CscClient::new(options.clone()).unwrap();
        for text in [
            format!("{options:?}"),
            format!("{options:#?}"),
            format!("{client:?}"),
            format!("{client:#?}"),
        ] {
            assert!(!text.contains(KEY) && !text.contains(TOKEN), "{text}");
            assert!(!text.contains("very-secret"), "{text}");
        }
        assert!(format!("{:?}", client.inner.auth_header).contains("Sensitive"));
    }

    #[test]
    fn error_bodies_echoing_secrets_are_redacted() {
        let client = CscClient::new(options()).unwrap();
        let info = RequestInfo {
            endpoint: "GET /zones".into(),
            what: "x".into(),
            zone: None,
        };
        let body = format!("bad key {KEY} with token Bearer {TOKEN}");
        let err = classify(&info, 400, &client.redact(&body));
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(KEY) && !text.contains(TOKEN), "{text}");
        }
    }

    #[test]
    fn bad_options_are_refused_without_showing_secrets() {
        let mut bad = options();
        bad.base_url = Url::parse("ftp://example.com/x").unwrap();
        assert!(matches!(
            CscClient::new(bad),
            Err(CscError::InvalidOptions { .. })
        ));

        let mut bad = options();
        bad.bearer_token = SecretString::from("tok\nen-very-secret".to_owned());
        let err = CscClient::new(bad).unwrap_err();
        assert!(err.to_string().contains("bearer token"), "{err}");
        assert!(!err.to_string().contains("very-secret"), "{err}");

        let mut bad = options();
        bad.api_key = SecretString::from("  ".to_owned());
        assert!(matches!(
            CscClient::new(bad),
            Err(CscError::InvalidOptions { .. })
        ));

        let mut bad = options();
        bad.rate_limit_per_sec = 0.0;
        assert!(matches!(
            CscClient::new(bad),
            Err(CscError::InvalidOptions { .. })
        ));
    }

    #[test]
    fn the_edit_id_comes_from_links_status_then_self() {
        let id = "9e139e34-a2a1-462e-88ab-3645833a55d4";
        let links = Links {
            self_: Some(format!("https://x/zones/edits/{id}")),
            status: Some(format!("https://x/zones/edits/status/{id}")),
            ..Links::default()
        };
        assert_eq!(edit_id(&links).as_deref(), Some(id));
        let only_self = Links {
            status: None,
            ..links
        };
        assert_eq!(edit_id(&only_self).as_deref(), Some(id));
        assert_eq!(edit_id(&Links::default()), None);
    }

    #[test]
    fn submit_answers_parse_into_the_model() {
        let body = r#"{"content":{"status":"SUCCESS","message":"The publish request was successfully enqueued."},
            "links":{"self":"https://x/zones/edits/abc","status":"https://x/zones/edits/status/abc"}}"#;
        let answer: SubmitResponse = decode("POST /zones/edits", body).unwrap();
        assert_eq!(edit_id(&answer.links).as_deref(), Some("abc"));
        let err = decode::<SubmitResponse>("POST /zones/edits", "<html>").unwrap_err();
        assert!(matches!(err, CscError::MalformedBody { .. }));
    }
}
