//! `csc-rfc2136 serve`: wires the configuration into the CSC client, the journal, the engine
//! and the DNS listeners, then runs until asked to stop.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use crate::config::Config;
use crate::csc::{CscClient, CscClientOptions, CscError};
use crate::dns::gateway::Gateway;
use crate::dns::listener::{Limits, Listeners};
use crate::engine::redb_store::RedbStore;
use crate::engine::store::StoreError;
use crate::engine::{Engine, EngineOptions};

/// Why the gateway could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("CSC client: {0}")]
    Client(#[from] CscError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addrs:?}: {source}")]
    Listen {
        addrs: Vec<SocketAddr>,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The CSC client options of a configuration.
pub fn client_options(config: &Config) -> CscClientOptions {
    let mut options = CscClientOptions::new(
        config.csc.base_url.clone(),
        SecretString::from(&config.csc.api_key),
        SecretString::from(&config.csc.bearer_token),
    );
    options.timeout = config.csc.timeout;
    options.connect_timeout = options.connect_timeout.min(config.csc.timeout);
    options.rate_limit_per_sec = config.csc.rate_limit;
    options
}

/// How long shutdown waits for requests being answered.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A running gateway: the engine, the DNS listeners and (when configured) the HTTP endpoint.
pub struct Running {
    pub engine: Engine,
    pub listeners: Listeners,
    /// The HTTP endpoint's address, when `server.http` is set.
    pub http: Option<SocketAddr>,
}

impl Running {
    /// Stops taking requests and waits for those being answered, so every acknowledged change
    /// is in the journal; edits in flight at CSC resume at the next start.
    pub async fn shutdown(self) {
        self.listeners.shutdown(SHUTDOWN_GRACE).await;
    }
}

/// Starts everything `config` describes.
pub async fn start(config: &Config) -> Result<Running, ServeError> {
    let metrics = crate::ops::metrics::install();
    let client = CscClient::new(client_options(config))?;
    let store = Arc::new(RedbStore::open(&config.state.dir)?);
    let engine = Engine::start(EngineOptions::from_config(config), client, store).await?;
    let gateway = Arc::new(Gateway::new(engine.clone(), &config.keys));
    let listeners = Listeners::bind(&config.server.listen, gateway, Limits::default())
        .await
        .map_err(|source| ServeError::Listen {
            addrs: config.server.listen.clone(),
            source,
        })?;
    let http = match config.server.http {
        Some(addr) => Some(
            crate::ops::http::serve(addr, engine.clone(), metrics)
                .await
                .map_err(|source| ServeError::Listen {
                    addrs: vec![addr],
                    source,
                })?,
        ),
        None => None,
    };
    Ok(Running {
        engine,
        listeners,
        http,
    })
}

/// Runs the gateway until Ctrl-C or SIGTERM. Prints `gateway ready: dns=<addr>[,<addr>…]`
/// (and ` http=<addr>` when configured) on stdout once it listens (tests and scripts read the
/// chosen ports from it).
pub async fn run(config: Config) -> Result<(), ServeError> {
    if config.keys.is_empty() {
        tracing::warn!("no [[key]] configured: every UPDATE will be refused");
    }
    let running = start(&config).await?;
    let addrs: Vec<String> = running
        .listeners
        .local_addrs()
        .iter()
        .map(ToString::to_string)
        .collect();
    {
        let mut stdout = std::io::stdout().lock();
        match running.http {
            Some(http) => writeln!(stdout, "gateway ready: dns={} http={http}", addrs.join(","))?,
            None => writeln!(stdout, "gateway ready: dns={}", addrs.join(","))?,
        }
        stdout.flush()?;
    }
    tracing::info!(dns = %addrs.join(","), zones = running.engine.zone_names().len(), "gateway ready");
    crate::shutdown::wait_for_stop().await?;
    tracing::info!("stopping: no new requests; journaled changes resume at the next start");
    running.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}
