//! End to end: stock ACME clients obtain real certificates through the gateway, unchanged.
//!
//! Each test runs its own stack on free loopback ports: the simulated CSC (REST API and the
//! authoritative DNS of `example.com`), the gateway (`csc-rfc2136 serve`) in front of it, and
//! pebble as the ACME server, which validates dns-01 against the sim's DNS. The client sends
//! TSIG-signed updates to the gateway, the gateway turns them into CSC edits, the sim publishes
//! them, pebble sees them and issues. Afterwards: the certificate parses and covers the names, no
//! `_acme-challenge` record is left at the sim, the seeded SPF record is untouched, and the call
//! log shows how the names travelled (certbot's three names: exactly one edit of adds and one of
//! cleanups).
//!
//! The clients are real programs that `scripts/test.sh` installs: `pebble` and `lego` (Debian),
//! `certbot` with `certbot-dns-rfc2136` (PyPI, in `.venv`), `nsupdate`, `dig` and `openssl`. A
//! missing one fails the test. acme.sh is not packaged here: `tests/e2e/acme_sh_dns_nsupdate.sh`
//! sends exactly the nsupdate scripts of its `dns_nsupdate` hook, run by certbot's manual plugin
//! (which calls hooks in acme.sh's order: every add, wait, validate, every cleanup).
//!
//! No client ever uses the machine's resolver: certbot's plugin and nsupdate talk to the gateway
//! they are given, lego gets `--dns.resolvers <sim>` and `--dns.disable-cp`, pebble gets
//! `-dnsserver <sim>`.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::SimProcess;
use common::gateway::{GatewayProcess, TestKey};

/// The zone every test certifies names in.
const ZONE: &str = "example.com";
/// The TXT record the sim seeds at the apex; no client run may touch it.
const SPF: &str = "v=spf1 include:_spf.example.com ~all";
/// How long the sim's edits hold the zone (kept short so the suite stays quick).
const SIM_EDIT_SECONDS: &str = "2";
/// The gateway's batching: certbot sends one update per name, one after the other (measured
/// here: the three arrive about 4 ms apart), and they must share one edit. The harness's 300 ms
/// window passes on an idle machine; the design defaults leave room on a busy one.
const EDITS_TOML: &str =
    "[edits]\nbatch_window = \"2s\"\nbatch_max_wait = \"10s\"\npoll_interval = \"200ms\"\n";
/// The batch window above, to let a stray extra edit show up before counting edits.
const BATCH_WINDOW: Duration = Duration::from_secs(2);
/// certbot's wait between its updates and asking for validation: it must cover the batch
/// window, the sim's edit and the poll that notices it (about 3 s measured), with room to spare.
const CERTBOT_PROPAGATION_SECONDS: &str = "8";
/// lego sleeps this once before asking for validation (with `--dns.disable-cp`).
const LEGO_POLLING_SECONDS: &str = "6";
/// The longest any client run may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(150);
/// How long the cleanup edit may take to reach the sim after the client is done.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(40);

// ---------------------------------------------------------------------------------------------
// Programs

/// Ports handed out in this process, so parallel tests never pick the same one.
static PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A free loopback TCP port (the listener is closed again; pebble binds it a moment later).
fn free_port() -> u16 {
    let mut given = PORTS.lock().unwrap_or_else(PoisonError::into_inner);
    let given = given.get_or_insert_with(HashSet::new);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        if given.insert(port) {
            return port;
        }
    }
}

/// The path of a client program: the project venv's copy first (certbot), then `PATH`.
fn program(name: &str) -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(name);
    if venv.is_file() {
        return venv;
    }
    let on_path = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .find(|candidate| candidate.is_file());
    on_path.unwrap_or_else(|| {
        panic!("`{name}` is not installed: run scripts/test.sh, which installs the e2e clients")
    })
}

/// Runs `command` to the end (killing it after `timeout`) and returns what it printed.
fn run(label: &str, command: &mut Command, timeout: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {label} ({command:?}): {err}"));
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for a client") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let status = child.wait().expect("wait for a killed client");
            eprintln!("{label} did not finish within {timeout:?}: killed");
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Reads `pipe` to its end on a thread of its own.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// Runs a step of the test setup (openssl) and panics with its output when it fails.
fn run_ok(label: &str, command: &mut Command) {
    let output = run(label, command, Duration::from_secs(30));
    assert!(
        output.status.success(),
        "{label} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The last `lines` lines of a text file (empty when it cannot be read).
fn file_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------------------------------------
// Pebble

/// A running pebble with a throw-away CA for its HTTPS endpoint; killed on drop.
struct Pebble {
    child: Child,
    /// The ACME directory URL, `https://127.0.0.1:PORT/dir`.
    directory: String,
    /// The CA that signed pebble's HTTPS certificate (for REQUESTS_CA_BUNDLE and
    /// LEGO_CA_CERTIFICATES).
    ca_pem: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Pebble {
    /// Makes a CA and a server certificate for 127.0.0.1/localhost (Debian's pebble lacks the
    /// test certificates its example config names), writes the config and starts pebble
    /// validating against `dns`; returns once the directory URL answers.
    async fn start(dns: SocketAddr) -> Pebble {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = |name: &str| dir.path().join(name);
        let openssl = program("openssl");
        run_ok(
            "openssl (CA)",
            Command::new(&openssl)
                .current_dir(dir.path())
                .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
                .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
                .args(["-keyout", "ca.key", "-out", "ca.pem"])
                .args(["-subj", "/CN=csc-rfc2136 e2e test CA"])
                .args(["-addext", "basicConstraints=critical,CA:TRUE"])
                .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]),
        );
        run_ok(
            "openssl (server request)",
            Command::new(&openssl)
                .current_dir(dir.path())
                .args(["req", "-new", "-newkey", "ec", "-pkeyopt"])
                .args(["ec_paramgen_curve:prime256v1", "-nodes"])
                .args([
                    "-keyout",
                    "key.pem",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=localhost",
                ]),
        );
        std::fs::write(
            path("server.ext"),
            "subjectAltName = IP:127.0.0.1, DNS:localhost\n\
             basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature\n\
             extendedKeyUsage = serverAuth\n\
             subjectKeyIdentifier = hash\n\
             authorityKeyIdentifier = keyid\n",
        )
        .expect("write server.ext");
        run_ok(
            "openssl (server certificate)",
            Command::new(&openssl)
                .current_dir(dir.path())
                .args(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem"])
                .args(["-CAkey", "ca.key", "-set_serial", "2", "-days", "2"])
                .args(["-extfile", "server.ext", "-out", "cert.pem"]),
        );

        let port = free_port();
        let config = serde_json::json!({
            "pebble": {
                "listenAddress": format!("127.0.0.1:{port}"),
                "managementListenAddress": format!("127.0.0.1:{}", free_port()),
                "certificate": path("cert.pem"),
                "privateKey": path("key.pem"),
                "httpPort": free_port(),
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false
            }
        });
        std::fs::write(path("pebble.json"), config.to_string()).expect("write pebble.json");
        let log = path("pebble.log");
        let out = File::create(&log).expect("pebble.log");
        let err = out.try_clone().expect("pebble.log");
        let child = Command::new(program("pebble"))
            .arg("-config")
            .arg(path("pebble.json"))
            .arg("-dnsserver")
            .arg(dns.to_string())
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start pebble (run scripts/test.sh): {err}"));
        let mut pebble = Pebble {
            child,
            directory: format!("https://127.0.0.1:{port}/dir"),
            ca_pem: path("ca.pem"),
            log,
            _dir: dir,
        };
        pebble.wait_ready().await;
        pebble
    }

    /// Polls the directory URL over HTTPS, trusting only the test CA.
    async fn wait_ready(&mut self) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let pem = std::fs::read(&self.ca_pem).expect("read ca.pem");
        let http = reqwest::Client::builder()
            .no_proxy()
            .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("ca.pem parses")])
            .timeout(Duration::from_secs(2))
            .build()
            .expect("a reqwest client");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let last = match http.get(&self.directory).send().await {
                Ok(reply) if reply.status().is_success() => return,
                Ok(reply) => format!("HTTP {}", reply.status()),
                Err(err) => format!("{err:?}"),
            };
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("pebble exited ({status}):\n{}", self.log_tail());
            }
            assert!(
                Instant::now() < deadline,
                "pebble's directory {} does not answer ({last}):\n{}",
                self.directory,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_tail(&self) -> String {
        file_tail(&self.log, 40)
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The stack and the checks

/// Sim, gateway and pebble for one test.
struct Stack {
    sim: SimProcess,
    gateway: GatewayProcess,
    pebble: Pebble,
    key: TestKey,
    /// Where the client keeps its files.
    work: tempfile::TempDir,
}

impl Stack {
    /// Starts the three servers; the gateway trusts `key` (every zone, `_acme-challenge.*`).
    async fn start(key: TestKey) -> Stack {
        let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", SIM_EDIT_SECONDS]);
        let gateway = GatewayProcess::start(&sim, std::slice::from_ref(&key), EDITS_TOML);
        let pebble = Pebble::start(sim.dns_addr).await;
        Stack {
            sim,
            gateway,
            pebble,
            key,
            work: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// The servers' recent logs, for failure messages.
    fn logs(&self) -> String {
        format!(
            "--- gateway log ---\n{}\n--- sim log ---\n{}\n--- pebble log ---\n{}",
            self.gateway.stderr_tail(),
            self.sim.stderr_tail(),
            self.pebble.log_tail()
        )
    }

    /// Panics with everything useful when a client run failed.
    fn expect_success(&mut self, label: &str, output: &Output, client_log: Option<&Path>) {
        if output.status.success() {
            return;
        }
        let gateway_state = if self.gateway.is_running() {
            "running"
        } else {
            "EXITED"
        };
        panic!(
            "{label} failed ({}); gateway {gateway_state}\n--- {label} stdout ---\n{}\n\
             --- {label} stderr ---\n{}\n--- {label} log ---\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            client_log.map(|log| file_tail(log, 80)).unwrap_or_default(),
            self.logs()
        );
    }

    /// The certificate at `path` parses and covers exactly `names`.
    fn assert_certificate(&self, path: &Path, names: &[&str]) {
        assert!(
            path.is_file(),
            "no certificate at {} ({:?})",
            path.display(),
            std::fs::read_dir(path.parent().unwrap_or(path)).map(|d| d
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .collect::<Vec<_>>())
        );
        let output = run(
            "openssl x509",
            Command::new(program("openssl"))
                .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
                .arg(path),
            Duration::from_secs(30),
        );
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{} does not parse as a certificate: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let got: BTreeSet<&str> = text
            .split([',', '\n'])
            .filter_map(|part| part.trim().strip_prefix("DNS:"))
            .collect();
        let wanted: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(got, wanted, "names of the certificate {}", path.display());
    }

    /// Waits until the sim publishes no `_acme-challenge` record (the cleanup edit landed),
    /// then checks that the seeded SPF record is untouched.
    async fn assert_clean(&self) {
        let deadline = Instant::now() + CLEANUP_TIMEOUT;
        loop {
            let left = challenge_records(&self.sim.records().await);
            if left.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "challenge records left at the sim {CLEANUP_TIMEOUT:?} after the client: \
                 {left:?}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(
            self.sim.txt_values(ZONE, "@").await,
            vec![SPF],
            "the seeded SPF record is untouched"
        );
    }

    /// The items of every edit the sim accepted, oldest first, once no further edit has come
    /// for a batch window (so a stray extra edit is seen, not missed); the gateway must still
    /// be running.
    async fn settled_edits(&mut self) -> Vec<Vec<Item>> {
        tokio::time::sleep(BATCH_WINDOW + Duration::from_millis(500)).await;
        assert!(
            self.gateway.is_running(),
            "the gateway exited during the test:\n{}",
            self.logs()
        );
        accepted_edits(&self.sim.calls().await)
    }
}

/// `(key, value)` of every `_acme-challenge` TXT record in `GET /sim/records`.
fn challenge_records(records: &Value) -> Vec<(String, String)> {
    let mut left = Vec::new();
    for zone in records
        .as_object()
        .into_iter()
        .flat_map(|zones| zones.values())
    {
        for record in zone["txt"].as_array().into_iter().flatten() {
            let key = record["key"].as_str().unwrap_or_default();
            if key.to_ascii_lowercase().starts_with("_acme-challenge") {
                let value = record["value"].as_str().unwrap_or_default();
                left.push((key.to_owned(), value.to_owned()));
            }
        }
    }
    left
}

/// One item of a CSC edit: action (`ADD`/`PURGE`), relative key, value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Item {
    action: String,
    key: String,
    value: String,
}

/// The items of every `POST /zones/edits` the sim answered 201, oldest first.
fn accepted_edits(calls: &[Value]) -> Vec<Vec<Item>> {
    calls
        .iter()
        .filter(|c| c["method"] == "POST" && c["path"] == "/dbs/api/v2/zones/edits")
        .filter(|c| c["status"] == 201)
        .map(|c| {
            let mut items: Vec<Item> = c["requestBody"]["edits"]
                .as_array()
                .unwrap_or_else(|| panic!("no edits in the accepted POST {c}"))
                .iter()
                .map(|e| {
                    let field = |new: &str, current: &str| {
                        e[new]
                            .as_str()
                            .or(e[current].as_str())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    Item {
                        action: e["action"].as_str().unwrap_or_default().to_owned(),
                        key: field("newKey", "currentKey"),
                        value: field("newValue", "currentValue"),
                    }
                })
                .collect();
            items.sort();
            items
        })
        .collect()
}

/// `(key, value)` pairs of `items`, sorted.
fn pairs(items: &[Item]) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = items
        .iter()
        .map(|i| (i.key.clone(), i.value.clone()))
        .collect();
    pairs.sort();
    pairs
}

/// Asserts exactly two accepted edits: one of adds at `keys` (relative names, one per
/// challenge), then one purging exactly those values.
fn assert_one_add_batch_one_cleanup(edits: &[Vec<Item>], keys: &[&str], logs: &str) {
    assert_eq!(
        edits.len(),
        2,
        "expected exactly 2 accepted edits (one batch of adds, one of cleanups); got {}:\n\
         {edits:#?}\n{logs}",
        edits.len()
    );
    let (adds, cleanups) = (&edits[0], &edits[1]);
    assert!(
        adds.iter().all(|i| i.action == "ADD"),
        "the first edit holds only adds: {adds:#?}"
    );
    let mut added_keys: Vec<&str> = adds.iter().map(|i| i.key.as_str()).collect();
    added_keys.sort_unstable();
    let mut wanted_keys = keys.to_vec();
    wanted_keys.sort_unstable();
    assert_eq!(added_keys, wanted_keys, "the names of the add batch");
    assert!(
        cleanups.iter().all(|i| i.action == "PURGE"),
        "the second edit holds only purges: {cleanups:#?}"
    );
    assert_eq!(
        pairs(cleanups),
        pairs(adds),
        "the cleanup batch purges exactly the values added"
    );
}

// ---------------------------------------------------------------------------------------------
// certbot

/// certbot with its rfc2136 plugin for `-d example.com -d '*.example.com' -d www.example.com`;
/// `algorithm` is the INI's `dns_rfc2136_algorithm` line (none: the plugin's default).
async fn certbot_three_names(key: TestKey, algorithm: Option<&str>) {
    let mut stack = Stack::start(key).await;
    let credentials = stack.path("rfc2136.ini");
    let mut ini = format!(
        "dns_rfc2136_server = 127.0.0.1\ndns_rfc2136_port = {}\ndns_rfc2136_name = {}\n\
         dns_rfc2136_secret = {}\n",
        stack.gateway.port(),
        stack.key.name,
        stack.key.secret
    );
    if let Some(algorithm) = algorithm {
        ini.push_str(&format!("dns_rfc2136_algorithm = {algorithm}\n"));
    }
    std::fs::write(&credentials, ini).expect("write the INI");
    set_private(&credentials);

    let output = run(
        "certbot",
        certbot(&stack)
            .args(["--dns-rfc2136", "--dns-rfc2136-credentials"])
            .arg(&credentials)
            .args([
                "--dns-rfc2136-propagation-seconds",
                CERTBOT_PROPAGATION_SECONDS,
            ])
            .args([
                "-d",
                "example.com",
                "-d",
                "*.example.com",
                "-d",
                "www.example.com",
            ]),
        CLIENT_TIMEOUT,
    );
    let log = stack.path("logs/letsencrypt.log");
    stack.expect_success("certbot", &output, Some(&log));
    stack.assert_certificate(
        &stack.path("config/live/e2e/fullchain.pem"),
        &["example.com", "*.example.com", "www.example.com"],
    );
    stack.assert_clean().await;
    let edits = stack.settled_edits().await;
    assert_one_add_batch_one_cleanup(
        &edits,
        &["_acme-challenge", "_acme-challenge", "_acme-challenge.www"],
        &stack.logs(),
    );
}

/// `certbot certonly` against the stack's pebble, files in the stack's work folder.
fn certbot(stack: &Stack) -> Command {
    let mut command = Command::new(program("certbot"));
    command
        .env("REQUESTS_CA_BUNDLE", &stack.pebble.ca_pem)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .args(["certonly", "--server", &stack.pebble.directory])
        .arg("--config-dir")
        .arg(stack.path("config"))
        .arg("--work-dir")
        .arg(stack.path("work"))
        .arg("--logs-dir")
        .arg(stack.path("logs"))
        .args([
            "--non-interactive",
            "--agree-tos",
            "--register-unsafely-without-email",
        ])
        .args(["--cert-name", "e2e"]);
    command
}

/// Makes a secrets file readable by its owner only (certbot warns otherwise).
fn set_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
}

/// certbot's default TSIG algorithm (HMAC-MD5, sent upper case) works, and certbot's updates for
/// three names, two of them at one owner name (a wildcard beside its apex), travel to CSC as one
/// edit of adds and one of cleanups.
#[tokio::test]
async fn certbot_default_algorithm_three_names_in_two_edits() {
    certbot_three_names(TestKey::new("certbot-md5.", "hmac-md5"), None).await;
}

/// The same with HMAC-SHA512 chosen in certbot's INI.
#[tokio::test]
async fn certbot_hmac_sha512_three_names_in_two_edits() {
    certbot_three_names(
        TestKey::new("certbot-sha512.", "hmac-sha512"),
        Some("HMAC-SHA512"),
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// lego

/// lego's rfc2136 provider (UDP, zone found by SOA queries to the sim, add = delete the RRset
/// then insert) gets a certificate for two names, one at a time, and cleans up after itself.
#[tokio::test]
async fn lego_two_names() {
    let mut stack = Stack::start(TestKey::new("lego.", "hmac-sha256")).await;
    let output = run(
        "lego",
        Command::new(program("lego"))
            .env("LEGO_CA_CERTIFICATES", &stack.pebble.ca_pem)
            .env("RFC2136_NAMESERVER", stack.gateway.dns_addr.to_string())
            .env("RFC2136_TSIG_KEY", &stack.key.name)
            .env("RFC2136_TSIG_SECRET", &stack.key.secret)
            .env("RFC2136_TSIG_ALGORITHM", "hmac-sha256.")
            .env("RFC2136_SEQUENCE_INTERVAL", "1")
            .env("RFC2136_POLLING_INTERVAL", LEGO_POLLING_SECONDS)
            .env("RFC2136_PROPAGATION_TIMEOUT", "60")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .args(["--server", &stack.pebble.directory, "--accept-tos"])
            .args(["--email", "a@example.com", "--path"])
            .arg(stack.path("lego"))
            .args(["--dns", "rfc2136", "--dns.disable-cp", "--dns.resolvers"])
            .arg(stack.sim.dns_addr.to_string())
            .args(["-d", "example.com", "-d", "www.example.com", "run"]),
        CLIENT_TIMEOUT,
    );
    stack.expect_success("lego", &output, None);
    stack.assert_certificate(
        &stack.path("lego/certificates/example.com.crt"),
        &["example.com", "www.example.com"],
    );
    stack.assert_clean().await;
    let edits = stack.settled_edits().await;
    let added: BTreeSet<_> = edits
        .iter()
        .flatten()
        .filter(|i| i.action == "ADD")
        .map(|i| i.key.as_str())
        .collect();
    assert_eq!(
        added,
        BTreeSet::from(["_acme-challenge", "_acme-challenge.www"]),
        "lego's two challenges reached CSC: {edits:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// acme.sh (its dns_nsupdate hook)

/// acme.sh's `dns_nsupdate` flow for `example.com` and `www.example.com`: `nsupdate -k KEYFILE`
/// with `update add NAME. 60 in txt "VALUE"` per name, a wait until the sim's DNS answers both
/// values, validation, then `update delete NAME. txt` (class ANY) per name. `zone` is acme.sh's
/// optional `NSUPDATE_ZONE` (without it nsupdate finds the zone by a signed SOA query).
async fn acme_sh_two_names(key: TestKey, zone: Option<&str>) {
    let mut stack = Stack::start(key).await;
    let keyfile = stack.path("nsupdate.key");
    std::fs::write(
        &keyfile,
        format!(
            "key \"{}\" {{\n\talgorithm {};\n\tsecret \"{}\";\n}};\n",
            stack.key.name, stack.key.algorithm, stack.key.secret
        ),
    )
    .expect("write the key file");
    set_private(&keyfile);
    let hook = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/acme_sh_dns_nsupdate.sh");
    // nsupdate and dig must be there: check now for a clear message (the hook runs inside
    // certbot, whose error would be less direct).
    program("nsupdate");
    program("dig");

    let mut command = certbot(&stack);
    command
        .env("NSUPDATE_SERVER", "127.0.0.1")
        .env("NSUPDATE_SERVER_PORT", stack.gateway.port())
        .env("NSUPDATE_KEY", &keyfile)
        .env("E2E_STATE", stack.path("challenges.txt"))
        .env("E2E_DNS_HOST", stack.sim.dns_addr.ip().to_string())
        .env("E2E_DNS_PORT", stack.sim.dns_addr.port().to_string())
        .env("E2E_DNS_WAIT", "40")
        .args(["--manual", "--preferred-challenges", "dns"])
        .arg("--manual-auth-hook")
        .arg(format!("{} add", hook.display()))
        .arg("--manual-cleanup-hook")
        .arg(format!("{} rm", hook.display()))
        .args(["-d", "example.com", "-d", "www.example.com"]);
    match zone {
        Some(zone) => command.env("NSUPDATE_ZONE", zone),
        None => command.env_remove("NSUPDATE_ZONE"),
    };
    let output = run("certbot (acme.sh hook)", &mut command, CLIENT_TIMEOUT);
    let log = stack.path("logs/letsencrypt.log");
    stack.expect_success("certbot (acme.sh hook)", &output, Some(&log));
    stack.assert_certificate(
        &stack.path("config/live/e2e/fullchain.pem"),
        &["example.com", "www.example.com"],
    );
    stack.assert_clean().await;
    let edits = stack.settled_edits().await;
    assert_one_add_batch_one_cleanup(
        &edits,
        &["_acme-challenge", "_acme-challenge.www"],
        &stack.logs(),
    );
}

/// acme.sh's default: no `zone` line, so nsupdate discovers the zone with a TSIG-signed SOA
/// query to the gateway; the RRset deletes remove the challenge values and nothing else.
#[tokio::test]
async fn acme_sh_nsupdate_two_names() {
    acme_sh_two_names(TestKey::new("acme-sh.", "hmac-sha256"), None).await;
}

/// acme.sh with `NSUPDATE_ZONE` set: nsupdate sends a `zone example.com.` line and no SOA query.
#[tokio::test]
async fn acme_sh_nsupdate_with_zone_two_names() {
    acme_sh_two_names(TestKey::new("acme-sh.", "hmac-sha256"), Some(ZONE)).await;
}
