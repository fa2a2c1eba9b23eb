//! Shared helpers for the integration tests: run the real `csc-rfc2136 sim` binary on free
//! loopback ports and talk to it over HTTP.
//!
//! ```ignore
//! mod common;
//! use common::SimProcess;
//!
//! #[tokio::test]
//! async fn example() {
//!     let sim = SimProcess::start(&["--zones", "example.com", "--edit-seconds", "1"]);
//!     let reply = sim.get("/zones").await;            // authed GET under the API base
//!     assert_eq!(reply.status, 200);
//!     let calls = sim.calls().await;                  // GET /sim/calls
//!     let txt = sim.txt_values("example.com", "_acme-challenge").await;
//! }
//! ```
//!
//! [`SimProcess::start`] adds `--http 127.0.0.1:0 --dns 127.0.0.1:0 --api-key test-api-key
//! --bearer-token test-bearer-token` unless `extra_args` already sets that flag, waits for the
//! `sim ready:` line (panicking loudly with the sim's stderr if it does not come), and kills the
//! child on drop. The child's stderr is forwarded to the test's stderr (shown by `cargo test` on
//! failure) and its tail is kept for panic messages ([`SimProcess::stderr_tail`]).

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The API key the sim is started with unless the test passes `--api-key`.
pub const API_KEY: &str = "test-api-key";
/// The bearer token the sim is started with unless the test passes `--bearer-token`.
pub const BEARER_TOKEN: &str = "test-bearer-token";
/// How long to wait for `sim ready:` (generous: the machine may be busy compiling).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of the sim's stderr kept for panic messages.
const STDERR_TAIL: usize = 20_000;

/// A running `csc-rfc2136 sim` child process.
pub struct SimProcess {
    child: Child,
    /// The API base URL, e.g. `http://127.0.0.1:41234/dbs/api/v2`.
    pub api_base: String,
    /// The HTTP origin, e.g. `http://127.0.0.1:41234` (control endpoints live at `/sim/...`).
    pub origin: String,
    /// The DNS server's address (UDP and TCP).
    pub dns_addr: SocketAddr,
    /// The zones the sim serves, as it announced them.
    pub zones: Vec<String>,
    /// The API key the sim expects in the `apikey` header.
    pub api_key: String,
    /// The token the sim expects as `Authorization: Bearer <token>`.
    pub bearer_token: String,
    /// An HTTP client without proxies.
    pub http: reqwest::Client,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

/// An HTTP answer, read completely.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// The `Content-Type` header (empty when absent).
    pub content_type: String,
    /// The body as text.
    pub body: String,
}

impl Reply {
    /// The body parsed as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|err| {
            panic!(
                "expected a JSON body ({err}); got HTTP {} {:?}: {}",
                self.status, self.content_type, self.body
            )
        })
    }

    /// `code` of a CSC error body (panics when the body is not one).
    pub fn error_code(&self) -> String {
        let body = self.json();
        body["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {body}"))
            .to_owned()
    }

    /// Whether the body parses as JSON at all.
    pub fn is_json(&self) -> bool {
        serde_json::from_str::<Value>(&self.body).is_ok()
    }
}

/// A reqwest client for local tests: no proxies, short timeouts, rustls' ring provider installed.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client")
}

/// Sends `request` and reads the whole answer.
pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("HTTP request to the sim");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.text().await.expect("HTTP body from the sim");
    Reply {
        status,
        content_type,
        body,
    }
}

/// The value of `--flag V` or `--flag=V` in `args`.
fn flag_value(args: &[&str], flag: &str) -> Option<String> {
    let prefix = format!("{flag}=");
    args.iter().enumerate().find_map(|(i, arg)| {
        if *arg == flag {
            args.get(i + 1).map(|v| (*v).to_owned())
        } else {
            arg.strip_prefix(&prefix).map(str::to_owned)
        }
    })
}

/// Runs `csc-rfc2136 <args>` and waits for a stdout line starting with `ready_prefix`.
///
/// The child's stderr is forwarded to the test's stderr as `[label] …` and its last lines are
/// kept (returned) for panic messages. Panics loudly, with that tail, when the line does not
/// come within [`READY_TIMEOUT`].
pub fn spawn_until_ready(
    args: &[String],
    ready_prefix: &'static str,
    label: &'static str,
) -> (Child, String, Arc<Mutex<VecDeque<String>>>) {
    spawn_until_ready_with(args, &[], ready_prefix, label)
}

/// As [`spawn_until_ready`], with extra environment variables for the child.
pub fn spawn_until_ready_with(
    args: &[String],
    env: &[(&str, &str)],
    ready_prefix: &'static str,
    label: &'static str,
) -> (Child, String, Arc<Mutex<VecDeque<String>>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_csc-rfc2136"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start csc-rfc2136 {args:?}: {err}"));

    let stderr = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(pipe) = child.stderr.take() {
        let tail = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                eprintln!("[{label}] {line}");
                let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
                if tail.len() == STDERR_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
    }
    let (ready_tx, ready_rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with(ready_prefix) {
                let _ = ready_tx.send(line.clone());
            }
            eprintln!("[{label} stdout] {line}");
        }
    });
    match ready_rx.recv_timeout(READY_TIMEOUT) {
        Ok(line) => (child, line, stderr),
        Err(err) => {
            let _ = child.kill();
            let status = child.wait().ok();
            // Give the stderr thread a moment to drain.
            std::thread::sleep(Duration::from_millis(200));
            let tail = stderr.lock().unwrap_or_else(PoisonError::into_inner);
            panic!(
                "csc-rfc2136 {args:?} did not print `{ready_prefix}` ({err}); exit status {status:?}\n\
                 --- {label} stderr ---\n{}",
                tail.iter().cloned().collect::<Vec<_>>().join("\n")
            );
        }
    }
}

impl SimProcess {
    /// Starts `csc-rfc2136 sim` with `extra_args` (see the module doc for the defaults added).
    pub fn start(extra_args: &[&str]) -> SimProcess {
        let defaults = [
            ("--http", "127.0.0.1:0"),
            ("--dns", "127.0.0.1:0"),
            ("--api-key", API_KEY),
            ("--bearer-token", BEARER_TOKEN),
        ];
        let mut args: Vec<String> = vec!["sim".to_owned()];
        for (flag, value) in defaults {
            if flag_value(extra_args, flag).is_none() {
                args.push(flag.to_owned());
                args.push(value.to_owned());
            }
        }
        args.extend(extra_args.iter().map(|a| (*a).to_owned()));
        let api_key = flag_value(extra_args, "--api-key").unwrap_or_else(|| API_KEY.to_owned());
        let bearer_token =
            flag_value(extra_args, "--bearer-token").unwrap_or_else(|| BEARER_TOKEN.to_owned());

        let (child, line, stderr) = spawn_until_ready(&args, "sim ready:", "sim");
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|part| part.strip_prefix(name))
                .unwrap_or_else(|| panic!("no {name} in the ready line {line:?}"))
                .to_owned()
        };
        let api_base = field("api=");
        let dns_addr: SocketAddr = field("dns=")
            .parse()
            .unwrap_or_else(|err| panic!("bad dns= in {line:?}: {err}"));
        let zones = field("zones=").split(',').map(str::to_owned).collect();
        let origin = api_base
            .strip_suffix("/dbs/api/v2")
            .unwrap_or_else(|| panic!("api= does not end with /dbs/api/v2 in {line:?}"))
            .to_owned();
        SimProcess {
            child,
            api_base,
            origin,
            dns_addr,
            zones,
            api_key,
            bearer_token,
            http: http_client(),
            stderr,
        }
    }

    /// The last lines the sim wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        let tail = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// `api_base` + `path` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api_base)
    }

    /// A request to the API with both auth headers and `Accept: application/json`.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("apikey", &self.api_key)
            .header("Authorization", format!("Bearer {}", self.bearer_token))
            .header("Accept", "application/json")
    }

    /// Authed `GET` of `path` under the API base.
    pub async fn get(&self, path: &str) -> Reply {
        send(self.request(reqwest::Method::GET, path)).await
    }

    /// Authed `GET` of an absolute URL (e.g. a `links.next`).
    pub async fn get_url(&self, url: &str) -> Reply {
        send(
            self.http
                .get(url)
                .header("apikey", &self.api_key)
                .header("Authorization", format!("Bearer {}", self.bearer_token)),
        )
        .await
    }

    /// Authed `POST /zones/edits` with a JSON body.
    pub async fn post_edit(&self, body: &Value) -> Reply {
        send(
            self.request(reqwest::Method::POST, "/zones/edits")
                .json(body),
        )
        .await
    }

    /// Authed `POST /zones/edits` with a raw body (for malformed JSON).
    pub async fn post_edit_raw(&self, body: &str) -> Reply {
        send(
            self.request(reqwest::Method::POST, "/zones/edits")
                .header("Content-Type", "application/json")
                .body(body.to_owned()),
        )
        .await
    }

    /// Authed `DELETE /zones/edits/{id}`.
    pub async fn cancel(&self, id: &str) -> Reply {
        send(self.request(reqwest::Method::DELETE, &format!("/zones/edits/{id}"))).await
    }

    /// The `status` of an edit from `GET /zones/edits/status/{id}`.
    pub async fn edit_status(&self, id: &str) -> String {
        let reply = self.get(&format!("/zones/edits/status/{id}")).await;
        assert_eq!(reply.status, 200, "status of {id}: {}", reply.body);
        reply.json()["content"]["status"]
            .as_str()
            .unwrap_or_else(|| panic!("no content.status in {}", reply.body))
            .to_owned()
    }

    /// Polls an edit's status until it is `wanted`; panics after `timeout`.
    pub async fn wait_for_status(&self, id: &str, wanted: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.edit_status(id).await;
            if status == wanted {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "edit {id} still {status} after {timeout:?}, wanted {wanted}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// `GET` of a control endpoint (`/sim/...`), parsed as JSON.
    pub async fn control(&self, path: &str) -> Value {
        let reply = send(self.http.get(format!("{}{path}", self.origin))).await;
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
        reply.json()
    }

    /// Every API call the sim answered (`GET /sim/calls`), oldest first. Each entry:
    /// `{"seq","time","method","path","status","requestBody","responseBody","durationMs"}`.
    pub async fn calls(&self) -> Vec<Value> {
        match self.control("/sim/calls").await {
            Value::Array(calls) => calls,
            other => panic!("/sim/calls is not a list: {other}"),
        }
    }

    /// The published records per zone (`GET /sim/records`): `{"zone":{Zone as GET /zones/{zone}}}`.
    pub async fn records(&self) -> Value {
        self.control("/sim/records").await
    }

    /// Every edit, newest first (`GET /sim/edits`).
    pub async fn edits(&self) -> Vec<Value> {
        match self.control("/sim/edits").await {
            Value::Array(edits) => edits,
            other => panic!("/sim/edits is not a list: {other}"),
        }
    }

    /// Clears the call log (`POST /sim/reset`).
    pub async fn reset_calls(&self) {
        let reply = send(self.http.post(format!("{}/sim/reset", self.origin))).await;
        assert_eq!(reply.status, 200, "POST /sim/reset: {}", reply.body);
    }

    /// The published TXT values at `key` (relative, `@` for the apex) of `zone`, in order.
    pub async fn txt_values(&self, zone: &str, key: &str) -> Vec<String> {
        let records = self.records().await;
        records[zone]["txt"]
            .as_array()
            .unwrap_or_else(|| panic!("no zone {zone} in {records}"))
            .iter()
            .filter(|r| {
                r["key"]
                    .as_str()
                    .is_some_and(|k| k.eq_ignore_ascii_case(key))
            })
            .filter_map(|r| r["value"].as_str().map(str::to_owned))
            .collect()
    }

    /// The number of edits the sim accepted (`POST /zones/edits` answered 201).
    pub async fn accepted_edits(&self) -> usize {
        self.calls()
            .await
            .iter()
            .filter(|c| c["method"] == "POST" && c["path"] == "/dbs/api/v2/zones/edits")
            .filter(|c| c["status"] == 201)
            .count()
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The JSON body of a one-item TXT `ADD`.
pub fn add_txt(zone: &str, key: &str, value: &str) -> Value {
    serde_json::json!({
        "zoneName": zone,
        "edits": [{"recordType": "TXT", "action": "ADD", "newKey": key, "newValue": value, "newTtl": 300}]
    })
}

/// The JSON body of a one-item TXT `PURGE`.
pub fn purge_txt(zone: &str, key: &str, value: &str) -> Value {
    serde_json::json!({
        "zoneName": zone,
        "edits": [{"recordType": "TXT", "action": "PURGE", "currentKey": key, "currentValue": value}]
    })
}

/// The edit id of a `201` answer: the last path segment of `links.status`.
pub fn edit_id(reply: &Reply) -> String {
    assert_eq!(reply.status, 201, "expected 201, got: {}", reply.body);
    let body = reply.json();
    body["links"]["status"]
        .as_str()
        .and_then(|url| url.rsplit('/').next())
        .unwrap_or_else(|| panic!("no links.status in {body}"))
        .to_owned()
}

pub mod gateway;
