//! Running the real gateway (`csc-rfc2136 serve`) in front of a [`SimProcess`](super::SimProcess).
//!
//! ```ignore
//! let sim = SimProcess::start(&["--zones", "example.com", "--edit-seconds", "1"]);
//! let key = TestKey::new("acme.", "hmac-sha256");
//! let gw = GatewayProcess::start(&sim, &[key.clone()], "");
//! // nsupdate -y hmac-sha256:acme.:<key.secret> against gw.dns_addr …
//! ```
//!
//! The config listens on `127.0.0.1:0` (the chosen port is read from the `gateway ready:`
//! line), keeps its state in a temporary folder (or one the test passes, to restart on it), and
//! uses short timings: batch window 300 ms, max wait 3 s, status polls every 200 ms.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;

use super::{SimProcess, spawn_until_ready};

/// A TSIG key for tests, with a fresh random secret.
#[derive(Debug, Clone)]
pub struct TestKey {
    /// The key name as configured, e.g. `acme.`.
    pub name: String,
    /// The algorithm as configured, e.g. `hmac-sha256`.
    pub algorithm: String,
    /// The secret, base64.
    pub secret: String,
    /// Extra TOML lines for the key's `[[key]]` block (e.g. `zones = ["a.test"]`).
    pub extra: String,
}

impl TestKey {
    /// A key with a random 32-byte secret.
    pub fn new(name: &str, algorithm: &str) -> TestKey {
        let bytes: [u8; 32] = rand::random();
        TestKey {
            name: name.to_owned(),
            algorithm: algorithm.to_owned(),
            secret: base64::engine::general_purpose::STANDARD.encode(bytes),
            extra: String::new(),
        }
    }

    /// The same key with extra TOML lines in its block.
    pub fn with(mut self, extra: &str) -> TestKey {
        self.extra.push_str(extra);
        self.extra.push('\n');
        self
    }

    /// `alg:name:secret`, as `nsupdate -y` and `knsupdate -y` take it.
    pub fn nsupdate_arg(&self) -> String {
        format!("{}:{}:{}", self.algorithm, self.name, self.secret)
    }

    fn toml(&self) -> String {
        format!(
            "[[key]]\nname = \"{}\"\nalgorithm = \"{}\"\nsecret = \"{}\"\n{}\n",
            self.name, self.algorithm, self.secret, self.extra
        )
    }
}

/// A running `csc-rfc2136 serve`; killed on drop.
pub struct GatewayProcess {
    child: Child,
    /// The DNS address (UDP and TCP).
    pub dns_addr: SocketAddr,
    /// The state folder (kept alive by `_temp` when the harness made it).
    pub state_dir: PathBuf,
    /// The config file.
    pub config_path: PathBuf,
    stderr: Arc<Mutex<VecDeque<String>>>,
    _temp: Option<tempfile::TempDir>,
}

impl GatewayProcess {
    /// Starts a gateway for `sim` with `keys`; `extra_toml` is appended to the config (e.g. an
    /// `[edits]` override needs the whole table: pass `"[edits]\nreply = \"accepted\"\n"` and
    /// the harness leaves its own `[edits]` out).
    pub fn start(sim: &SimProcess, keys: &[TestKey], extra_toml: &str) -> GatewayProcess {
        let temp = tempfile::tempdir().expect("temp dir");
        let state = temp.path().join("state");
        let mut gateway = Self::start_in(sim, keys, extra_toml, &state);
        gateway._temp = Some(temp);
        gateway
    }

    /// As [`GatewayProcess::start`], keeping state in `state_dir` (to restart on it).
    pub fn start_in(
        sim: &SimProcess,
        keys: &[TestKey],
        extra_toml: &str,
        state_dir: &Path,
    ) -> GatewayProcess {
        std::fs::create_dir_all(state_dir).expect("state dir");
        let config_path = state_dir.with_extension("toml");
        let edits = if extra_toml.contains("[edits]") {
            String::new()
        } else {
            "[edits]\nbatch_window = \"300ms\"\nbatch_max_wait = \"3s\"\npoll_interval = \"200ms\"\n".to_owned()
        };
        let config = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n\n[csc]\nbase_url = \"{}\"\napi_key = \"{}\"\n\
             bearer_token = \"{}\"\nrate_limit = 50\n\n[state]\ndir = \"{}\"\n\n{edits}{extra_toml}\n{}",
            sim.api_base,
            sim.api_key,
            sim.bearer_token,
            state_dir.display(),
            keys.iter().map(TestKey::toml).collect::<String>(),
        );
        std::fs::write(&config_path, config).expect("write config");
        let args = vec![
            "serve".to_owned(),
            "--config".to_owned(),
            config_path.display().to_string(),
        ];
        let (child, line, stderr) = spawn_until_ready(&args, "gateway ready:", "gateway");
        let dns_addr = line
            .split_whitespace()
            .find_map(|part| part.strip_prefix("dns="))
            .and_then(|addrs| addrs.split(',').next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no dns= address in {line:?}"));
        GatewayProcess {
            child,
            dns_addr,
            state_dir: state_dir.to_owned(),
            config_path,
            stderr,
            _temp: None,
        }
    }

    /// The port as a string, for client command lines.
    pub fn port(&self) -> String {
        self.dns_addr.port().to_string()
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines the gateway wrote to stderr (its log).
    pub fn stderr_tail(&self) -> String {
        let tail = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
