//! Settings of the CSC client: where CSC is, the credentials, and how patient and polite to be.

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

/// CSC's production API.
pub const PRODUCTION_BASE_URL: &str = "https://apis.cscglobal.com/dbs/api/v2";
/// CSC's test ("OTE") API.
pub const OTE_BASE_URL: &str = "https://apis-ote.cscglobal.com/dbs/api/v2";

/// Everything [`CscClient::new`](super::CscClient::new) needs. `Debug` shows the secrets as
/// `[REDACTED]`.
#[derive(Debug, Clone)]
pub struct CscClientOptions {
    /// The API root, e.g. [`PRODUCTION_BASE_URL`]; paths such as `zones` are appended to it.
    pub base_url: Url,
    /// Sent as the `apikey` header.
    pub api_key: SecretString,
    /// Sent as `Authorization: Bearer <token>`.
    pub bearer_token: SecretString,
    /// Limit for one HTTP exchange, from connecting to the last byte of the body (default 30 s).
    pub timeout: Duration,
    /// Limit for establishing the connection, TLS included (default 10 s, never above `timeout`).
    pub connect_timeout: Duration,
    /// Requests per second allowed by the client-side limiter, shared by all clones (default 10,
    /// half of CSC's limit of about 20). Fractions are allowed.
    pub rate_limit_per_sec: f64,
    /// How many requests may go out at once before pacing starts (default 1: evenly spaced).
    pub rate_limit_burst: u32,
    /// Retries of a transient failure after the first try (default 4; 0 disables retries).
    pub max_retries: usize,
    /// Delay before the first retry; it doubles on each further one, plus jitter (default 500 ms).
    pub retry_base_delay: Duration,
    /// Longest delay between two tries (default 20 s).
    pub retry_max_delay: Duration,
}

impl CscClientOptions {
    /// Options with the defaults above for the given API root and credentials.
    pub fn new(base_url: Url, api_key: SecretString, bearer_token: SecretString) -> Self {
        CscClientOptions {
            base_url,
            api_key,
            bearer_token,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            rate_limit_per_sec: 10.0,
            rate_limit_burst: 1,
            max_retries: 4,
            retry_base_delay: Duration::from_millis(500),
            retry_max_delay: Duration::from_secs(20),
        }
    }
}
