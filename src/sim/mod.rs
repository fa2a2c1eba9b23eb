//! `csc-rfc2136 sim`: an in-memory simulator of CSC Global Domain Manager — the REST API of
//! `shared/docs/csc-api.md` (auth, paging, validation, the per-zone edit lock, the edit
//! lifecycle on a clock, rate limit, injected faults) and an authoritative DNS server for the
//! records it has published, so an ACME server can validate dns-01 challenges against it.

use std::net::SocketAddr;

/// Command-line options of `csc-rfc2136 sim` (also used by `sandbox` and by tests).
#[derive(Debug, Clone, clap::Args)]
pub struct SimOptions {
    /// Address of the REST API (plain HTTP). Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    /// Address of the authoritative DNS server (UDP and TCP). Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:5354")]
    pub dns: SocketAddr,
    /// Comma-separated zones to serve.
    #[arg(long, value_delimiter = ',', default_value = "example.com")]
    pub zones: Vec<String>,
    /// How long an edit holds the zone lock, in seconds (fractions allowed).
    #[arg(long, default_value_t = 6.0)]
    pub edit_seconds: f64,
    /// The API key clients must send in the `apikey` header.
    #[arg(long, default_value = "sim-api-key")]
    pub api_key: String,
    /// The token clients must send as `Authorization: Bearer <token>`.
    #[arg(long, default_value = "sim-bearer-token")]
    pub bearer_token: String,
    /// Every Nth edit ends FAILED (0 = never).
    #[arg(long, default_value_t = 0)]
    pub fail_every: u64,
    /// Share of API calls answered with HTTP 500 (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Requests per second over which the API answers CSC's plain-text rate-limit 400 (0 = none).
    #[arg(long, default_value_t = 0.0)]
    pub rate_limit: f64,
    /// Extra latency added to every API call, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency: u64,
    /// Zones per page on `GET /zones` (when the client does not ask for a size).
    #[arg(long, default_value_t = 50)]
    pub page_size: usize,
}
