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
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;

use super::{SimProcess, spawn_until_ready_with};

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

/// Runs `nsupdate -t 10 -y KEY` with `script` on stdin (blocking) and returns its output.
pub fn nsupdate(key: &TestKey, script: &str) -> Output {
    let mut child = Command::new("nsupdate")
        // A bound on the wait: an answer that never comes fails the test instead of hanging.
        .args(["-t", "10", "-y", &key.nsupdate_arg()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nsupdate is installed (scripts/test.sh installs bind9-dnsutils)");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(script.as_bytes())
        .expect("write the nsupdate script");
    child.wait_with_output().expect("nsupdate runs")
}

/// Less common ways to start the gateway; `GatewayOptions::default()` is what `start` uses.
#[derive(Default)]
pub struct GatewayOptions<'a> {
    /// TOML appended to the config (an `[edits]` table replaces the harness's own).
    pub extra_toml: &'a str,
    /// Serve the HTTP endpoint on a free port (`server.http`).
    pub http: bool,
    /// Arguments before `serve` (global flags such as `--log-format json`).
    pub args: &'a [&'a str],
    /// Environment variables for the process (e.g. `RUST_LOG`).
    pub env: &'a [(&'a str, &'a str)],
    /// An API key other than the sim's (to see credentials rejected).
    pub api_key: Option<&'a str>,
}

/// A running `csc-rfc2136 serve`; killed on drop.
pub struct GatewayProcess {
    child: Child,
    /// The DNS address (UDP and TCP).
    pub dns_addr: SocketAddr,
    /// The HTTP endpoint's address, when started with `http: true`.
    pub http_addr: Option<SocketAddr>,
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
        Self::start_with(
            sim,
            keys,
            &GatewayOptions {
                extra_toml,
                ..GatewayOptions::default()
            },
            state_dir,
        )
    }

    /// The most general start: see [`GatewayOptions`].
    pub fn start_with(
        sim: &SimProcess,
        keys: &[TestKey],
        options: &GatewayOptions<'_>,
        state_dir: &Path,
    ) -> GatewayProcess {
        let extra_toml = options.extra_toml;
        std::fs::create_dir_all(state_dir).expect("state dir");
        let config_path = state_dir.with_extension("toml");
        let edits = if extra_toml.contains("[edits]") {
            String::new()
        } else {
            "[edits]\nbatch_window = \"300ms\"\nbatch_max_wait = \"3s\"\npoll_interval = \"200ms\"\n".to_owned()
        };
        let http = if options.http {
            "http = \"127.0.0.1:0\"\n"
        } else {
            ""
        };
        let config = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n{http}\n[csc]\nbase_url = \"{}\"\napi_key = \"{}\"\n\
             bearer_token = \"{}\"\nrate_limit = 50\n\n[state]\ndir = \"{}\"\n\n{edits}{extra_toml}\n{}",
            sim.api_base,
            options.api_key.unwrap_or(&sim.api_key),
            sim.bearer_token,
            state_dir.display(),
            keys.iter().map(TestKey::toml).collect::<String>(),
        );
        std::fs::write(&config_path, config).expect("write config");
        let mut args: Vec<String> = options.args.iter().map(|a| (*a).to_owned()).collect();
        args.extend([
            "serve".to_owned(),
            "--config".to_owned(),
            config_path.display().to_string(),
        ]);
        let (child, line, stderr) =
            spawn_until_ready_with(&args, options.env, "gateway ready:", "gateway");
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|part| part.strip_prefix(name))
                .and_then(|addrs| addrs.split(',').next())
                .and_then(|addr| addr.parse::<SocketAddr>().ok())
        };
        let dns_addr = field("dns=").unwrap_or_else(|| panic!("no dns= address in {line:?}"));
        GatewayProcess {
            child,
            dns_addr,
            http_addr: field("http="),
            state_dir: state_dir.to_owned(),
            config_path,
            stderr,
            _temp: None,
        }
    }

    /// Sends SIGTERM (a polite stop) and waits up to `timeout` for the exit status.
    pub fn terminate(&mut self, timeout: std::time::Duration) -> Option<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }

    /// Every line the gateway wrote to stderr so far (its log).
    pub fn log_lines(&self) -> Vec<String> {
        let tail = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        tail.iter().cloned().collect()
    }

    /// Sends `lines` (nsupdate commands, without `server` and `send`) to this gateway with
    /// BIND's nsupdate signed by `key`, and returns its output (blocking, at most ~10 s).
    pub fn nsupdate(&self, key: &TestKey, lines: &str) -> Output {
        nsupdate(
            key,
            &format!("server 127.0.0.1 {}\n{lines}send\n", self.port()),
        )
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
