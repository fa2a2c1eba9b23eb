//! `csc-rfc2136 sim`: an in-memory simulator of CSC Global Domain Manager — the REST API of
//! `shared/docs/csc-api.md` (auth, paging, validation, the per-zone edit lock, the edit
//! lifecycle on a clock, rate limit, injected faults) and an authoritative DNS server for the
//! records it has published, so an ACME server can validate dns-01 challenges against it.
//!
//! Modules: [`state`] (zones, edits, lock), [`lifecycle`] (the edit clock), [`records`] (record
//! operations), [`api`] (REST routes), [`gate`] (auth and faults), [`calllog`] and [`control`]
//! (test-control endpoints under `/sim/`), [`filter`] (the `filter` query), [`error`] (error
//! codes), `dns` (the DNS server).
//!
//! Run it with [`run`] (the `sim` subcommand) or in-process with [`start`].

pub mod api;
pub mod calllog;
pub mod control;
pub mod dns;
pub mod error;
pub mod filter;
pub mod gate;
pub mod lifecycle;
pub mod records;
pub mod state;

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use self::calllog::CallLog;
use self::dns::{DnsServer, ZoneSource};
use self::gate::Gate;
use self::lifecycle::Timing;
use self::state::SimState;
use crate::csc::model::Zone;

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

/// Why the options cannot run a simulator.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionsError {
    /// `--edit-seconds` is negative, NaN or too large.
    #[error("--edit-seconds must be a finite number of seconds >= 0, got {0}")]
    EditSeconds(f64),
    /// `--error-rate` is outside 0..=1.
    #[error("--error-rate must be between 0.0 and 1.0, got {0}")]
    ErrorRate(f64),
    /// `--rate-limit` is negative or NaN.
    #[error("--rate-limit must be a number of requests per second >= 0, got {0}")]
    RateLimit(f64),
    /// `--page-size` is 0.
    #[error("--page-size must be at least 1")]
    PageSize,
    /// `--zones` is empty or has a bad name.
    #[error(transparent)]
    Zones(#[from] state::StateError),
}

impl From<OptionsError> for io::Error {
    fn from(err: OptionsError) -> Self {
        io::Error::new(io::ErrorKind::InvalidInput, err)
    }
}

impl SimOptions {
    /// The edit timing the options ask for.
    pub fn timing(&self) -> Result<Timing, OptionsError> {
        Duration::try_from_secs_f64(self.edit_seconds)
            .map(Timing::new)
            .map_err(|_| OptionsError::EditSeconds(self.edit_seconds))
    }

    /// Checks the numeric options.
    pub fn validate(&self) -> Result<(), OptionsError> {
        self.timing()?;
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(OptionsError::ErrorRate(self.error_rate));
        }
        if !(self.rate_limit >= 0.0 && self.rate_limit.is_finite()) {
            return Err(OptionsError::RateLimit(self.rate_limit));
        }
        if self.page_size == 0 {
            return Err(OptionsError::PageSize);
        }
        Ok(())
    }
}

impl ZoneSource for SimState {
    fn published_zones(&self) -> Vec<Zone> {
        self.zones()
    }
}

/// How often the clock task moves edits along (so logs and DNS do not wait for an API call).
const TICK: Duration = Duration::from_millis(50);
/// How long [`SimHandle::shutdown`] waits for open HTTP connections.
const HTTP_DRAIN: Duration = Duration::from_secs(2);

/// A running simulator (REST API and DNS). Dropping it leaves the servers running until the
/// runtime stops; call [`SimHandle::shutdown`] to stop them.
pub struct SimHandle {
    http_addr: SocketAddr,
    dns: DnsServer,
    state: Arc<SimState>,
    calls: Arc<CallLog>,
    stop_http: oneshot::Sender<()>,
    http: JoinHandle<io::Result<()>>,
    ticker: JoinHandle<()>,
}

impl SimHandle {
    /// The API base URL, e.g. `http://127.0.0.1:8080/dbs/api/v2`.
    pub fn api_base_url(&self) -> String {
        format!("http://{}{}", self.http_addr, api::BASE_PATH)
    }

    /// The address the HTTP server (API and `/sim/` control endpoints) is bound to.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The address of the DNS server (UDP and TCP).
    pub fn dns_addr(&self) -> SocketAddr {
        self.dns.local_addr()
    }

    /// The served zone names, sorted.
    pub fn zones(&self) -> Vec<String> {
        self.state.zone_names()
    }

    /// The simulated world (zones, edits), for in-process inspection.
    pub fn state(&self) -> &Arc<SimState> {
        &self.state
    }

    /// The API call log, for in-process inspection.
    pub fn calls(&self) -> &Arc<CallLog> {
        &self.calls
    }

    /// Stops the HTTP and DNS servers and the clock task, and waits for them.
    pub async fn shutdown(self) {
        let _ = self.stop_http.send(());
        let http = self.http.abort_handle();
        match tokio::time::timeout(HTTP_DRAIN, self.http).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => warn!(error = %err, "sim: HTTP server stopped with an error"),
            Ok(Err(err)) => warn!(error = %err, "sim: HTTP server task failed"),
            Err(_) => {
                http.abort();
                warn!("sim: HTTP connections still open after shutdown; dropped");
            }
        }
        self.ticker.abort();
        self.dns.shutdown().await;
    }
}

/// Starts the simulator: binds the REST API on `opts.http` and DNS on `opts.dns` (port 0 picks
/// free ports) and returns once both listen.
pub async fn start(opts: SimOptions) -> io::Result<SimHandle> {
    opts.validate()?;
    let timing = opts.timing()?;
    let state =
        Arc::new(SimState::new(&opts.zones, timing, opts.fail_every).map_err(OptionsError::from)?);
    let calls = Arc::new(CallLog::default());

    let listener = TcpListener::bind(opts.http).await?;
    let http_addr = listener.local_addr()?;
    let dns = dns::serve(opts.dns, Arc::clone(&state) as Arc<dyn ZoneSource>).await?;

    let gate = Arc::new(Gate::new(
        opts.api_key.clone(),
        opts.bearer_token.clone(),
        Duration::from_millis(opts.latency),
        opts.error_rate,
        opts.rate_limit,
    ));
    let api = Arc::new(api::Api {
        state: Arc::clone(&state),
        page_size: u64::try_from(opts.page_size).unwrap_or(u64::MAX),
        local_addr: http_addr,
    });
    let app = api::router(api, gate, Arc::clone(&calls)).merge(control::router(control::Control {
        state: Arc::clone(&state),
        calls: Arc::clone(&calls),
    }));

    let (stop_http, stopped) = oneshot::channel::<()>();
    let http = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    let ticker_state = Arc::clone(&state);
    let ticker = tokio::spawn(async move {
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            ticker_state.tick();
        }
    });
    info!(
        api = %format!("http://{http_addr}{}", api::BASE_PATH),
        dns = %dns.local_addr(),
        zones = %state.zone_names().join(","),
        edit_seconds = opts.edit_seconds,
        fail_every = opts.fail_every,
        error_rate = opts.error_rate,
        rate_limit = opts.rate_limit,
        latency_ms = opts.latency,
        "sim: started"
    );
    Ok(SimHandle {
        http_addr,
        dns,
        state,
        calls,
        stop_http,
        http,
        ticker,
    })
}

/// The `sim` subcommand: starts, prints one line
/// `sim ready: api=<api base URL> dns=<ip:port> zones=<a,b>` to stdout, and runs until Ctrl-C or
/// SIGTERM.
pub async fn run(opts: SimOptions) -> io::Result<()> {
    let handle = start(opts).await?;
    {
        let mut stdout = io::stdout().lock();
        writeln!(
            stdout,
            "sim ready: api={} dns={} zones={}",
            handle.api_base_url(),
            handle.dns_addr(),
            handle.zones().join(",")
        )?;
        stdout.flush()?;
    }
    crate::shutdown::wait_for_stop().await?;
    info!("sim: stopping");
    handle.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(extra: &[&str]) -> SimOptions {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            sim: SimOptions,
        }
        let args = ["sim", "--http", "127.0.0.1:0", "--dns", "127.0.0.1:0"];
        let cli = Cli::try_parse_from(args.iter().chain(extra)).expect("options parse");
        cli.sim
    }

    #[test]
    fn options_are_checked() {
        assert!(options(&[]).validate().is_ok());
        let bad = [
            "--error-rate=1.5",
            "--edit-seconds=NaN",
            "--edit-seconds=-1",
            "--rate-limit=-3",
            "--page-size=0",
        ];
        for args in bad {
            assert!(options(&[args]).validate().is_err(), "{args}");
        }
    }

    #[tokio::test]
    async fn starts_in_process_and_shuts_down() {
        let sim = start(options(&["--zones", "Example.COM.,b.test"]))
            .await
            .expect("starts");
        let base = sim.api_base_url();
        let port = sim.http_addr().port();
        assert_eq!(base, format!("http://127.0.0.1:{port}/dbs/api/v2"));
        assert_ne!(sim.dns_addr().port(), 0);
        assert_eq!(sim.zones(), ["b.test", "example.com"]);
        let published = sim.state().published_zones();
        assert_eq!(published.len(), 2);
        assert!(
            published
                .iter()
                .all(|z| z.soa.is_some() && z.txt.len() == 1)
        );

        let addr = sim.http_addr();
        let get = |path: &'static str| async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut stream = tokio::net::TcpStream::connect(addr).await?;
            let request = format!(
                "GET {path} HTTP/1.1\r\nHost: {addr}\r\napikey: sim-api-key\r\n\
                 Authorization: Bearer sim-bearer-token\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(request.as_bytes()).await?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await?;
            io::Result::Ok(answer)
        };
        let answer = get("/dbs/api/v2/zones/example.com").await.expect("answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("\"zoneName\":\"example.com\""), "{answer}");
        assert_eq!(sim.calls().entries().len(), 1);

        sim.shutdown().await;
        assert!(get("/sim/records").await.is_err(), "no longer listening");
    }
}
