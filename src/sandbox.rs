//! `csc-rfc2136 sandbox`: the gateway and a simulated CSC on loopback, ready to try.
//!
//! It starts the simulator (REST API and DNS) with a demo zone, a gateway in front of it with a
//! throw-away state folder and a fresh demo key, and prints commands that work as pasted. Ctrl-C
//! stops everything.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;

use crate::config::{
    Config, CscConfig, EditsConfig, KeyConfig, KeySecret, NamePattern, ReplyMode, ServerConfig,
    StateConfig, TsigAlgorithm,
};
use crate::secret::Secret;
use crate::sim::{self, SimOptions};
use crate::{keygen, serve};

/// Options of `csc-rfc2136 sandbox`.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxOptions {
    /// The gateway's DNS address (UDP and TCP).
    #[arg(long, default_value = "127.0.0.1:5353")]
    pub dns: SocketAddr,
    /// The simulated CSC's DNS address (what an ACME server validates against).
    #[arg(long, default_value = "127.0.0.1:5354")]
    pub sim_dns: SocketAddr,
    /// The simulated CSC's REST API address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub sim_http: SocketAddr,
    /// The demo zone.
    #[arg(long, default_value = "example.com")]
    pub zone: String,
    /// How long a simulated CSC edit holds the zone lock, in seconds (CSC takes 5–7 minutes).
    #[arg(long, default_value_t = 6.0)]
    pub edit_seconds: f64,
}

/// The demo key's name.
const DEMO_KEY: &str = "sandbox-key.";

/// Why the sandbox could not run.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("simulator: {0}")]
    Sim(std::io::Error),
    #[error("gateway: {0}")]
    Gateway(#[from] serve::ServeError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Runs the sandbox until Ctrl-C.
pub async fn run(options: SandboxOptions) -> Result<(), SandboxError> {
    let sim = sim::start(SimOptions {
        http: options.sim_http,
        dns: options.sim_dns,
        zones: vec![options.zone.clone()],
        edit_seconds: options.edit_seconds,
        api_key: "sandbox-api-key".into(),
        bearer_token: "sandbox-bearer-token".into(),
        fail_every: 0,
        error_rate: 0.0,
        rate_limit: 0.0,
        latency: 0,
        page_size: 50,
    })
    .await
    .map_err(SandboxError::Sim)?;
    let state = tempfile::tempdir()?;
    let secret = keygen::new_secret(TsigAlgorithm::HmacSha256);
    let config = sandbox_config(&options, &sim.api_base_url(), state.path().into(), &secret);
    let running = serve::start(&config).await?;
    let gateway = running.listeners.local_addrs()[0];
    println!(
        "{}",
        instructions(
            &options,
            gateway,
            sim.dns_addr(),
            &sim.api_base_url(),
            &secret
        )
    );
    crate::shutdown::wait_for_stop().await?;
    println!("sandbox: stopping");
    running.shutdown().await;
    sim.shutdown().await;
    Ok(())
}

fn sandbox_config(options: &SandboxOptions, api: &str, dir: PathBuf, secret: &str) -> Config {
    let secret_bytes = base64::engine::general_purpose::STANDARD
        .decode(secret)
        .expect("keygen makes base64");
    Config {
        path: PathBuf::from("<sandbox>"),
        server: ServerConfig {
            listen: vec![options.dns],
            http: None,
        },
        csc: CscConfig {
            base_url: api.parse().expect("the simulator's URL parses"),
            api_key: Secret::new("sandbox-api-key"),
            bearer_token: Secret::new("sandbox-bearer-token"),
            record_ttl: 60,
            timeout: Duration::from_secs(10),
            rate_limit: 10.0,
            zone_refresh: Duration::from_secs(300),
        },
        state: StateConfig { dir },
        edits: EditsConfig {
            reply: ReplyMode::Queued,
            reply_timeout: Duration::from_secs(30),
            batch_window: Duration::from_secs(2),
            batch_max_wait: Duration::from_secs(10),
            batch_max_changes: 500,
            max_pending: 10_000,
            orphan_ttl: Duration::from_secs(24 * 3600),
            poll_interval: Duration::from_secs(1),
        },
        keys: vec![KeyConfig {
            name: DEMO_KEY.into(),
            algorithm: TsigAlgorithm::HmacSha256,
            secrets: vec![KeySecret::new(secret_bytes)],
            zones: None,
            names: vec![NamePattern::default_acme()],
            types: vec!["TXT".into()],
            delete_foreign: false,
        }],
    }
}

fn instructions(
    options: &SandboxOptions,
    gateway: SocketAddr,
    sim_dns: SocketAddr,
    api: &str,
    secret: &str,
) -> String {
    let zone = &options.zone;
    let (host, port) = (gateway.ip(), gateway.port());
    let (sim_host, sim_port) = (sim_dns.ip(), sim_dns.port());
    format!(
        r#"sandbox ready: gateway dns={gateway} sim api={api} sim dns={sim_dns} zone={zone}

The gateway accepts TSIG-signed updates for _acme-challenge names in {zone} with the demo key
{DEMO_KEY} (hmac-sha256). Edits take {secs} s at this simulated CSC (minutes at the real one).

# 1. Add a challenge value with BIND's nsupdate:
nsupdate -y hmac-sha256:{DEMO_KEY}:{secret} <<'EOF'
server {host} {port}
update add _acme-challenge.{zone}. 60 TXT "hello-from-the-sandbox"
send
EOF

# 2. Watch it appear at the simulated CSC (after the batch window and the edit):
dig @{sim_host} -p {sim_port} TXT _acme-challenge.{zone} +short
curl -s -H 'apikey: sandbox-api-key' -H 'Authorization: Bearer sandbox-bearer-token' {api}/zones/{zone}

# 3. Remove it (acme.sh's cleanup deletes the whole RRset; only the gateway's values go):
nsupdate -y hmac-sha256:{DEMO_KEY}:{secret} <<'EOF'
server {host} {port}
update delete _acme-challenge.{zone}. TXT
send
EOF

# certbot, against a local ACME server (pebble -dnsserver {sim_dns}):
cat > sandbox-rfc2136.ini <<'EOF'
dns_rfc2136_server = {host}
dns_rfc2136_port = {port}
dns_rfc2136_name = {DEMO_KEY}
dns_rfc2136_secret = {secret}
dns_rfc2136_algorithm = HMAC-SHA256
EOF
chmod 600 sandbox-rfc2136.ini
certbot certonly --server https://127.0.0.1:14000/dir --dns-rfc2136 \
  --dns-rfc2136-credentials sandbox-rfc2136.ini --dns-rfc2136-propagation-seconds {prop} \
  -d {zone} -d '*.{zone}' --register-unsafely-without-email --agree-tos

# lego, against the same pebble:
RFC2136_NAMESERVER={gateway} RFC2136_TSIG_KEY={DEMO_KEY} RFC2136_TSIG_SECRET={secret} \
RFC2136_TSIG_ALGORITHM=hmac-sha256. RFC2136_PROPAGATION_TIMEOUT=60 RFC2136_SEQUENCE_INTERVAL=1 \
lego --server https://127.0.0.1:14000/dir --accept-tos --email you@{zone} \
  --dns rfc2136 --dns.resolvers {sim_dns} --dns.disable-cp -d {zone} run

Ctrl-C stops the sandbox and forgets everything."#,
        secs = options.edit_seconds,
        prop = (options.edit_seconds.ceil() as u64 + 5).max(10),
    )
}
