//! Helpers shared by the DNS front tests (`dns_clients.rs`, `dns_wire.rs`): running the real
//! clients (nsupdate, knsupdate, dig) and the dnspython scripts under `tests/py/`, and waiting
//! for the simulated CSC to publish what the gateway sent it.
//!
//! A missing client is a test failure, never a skip: `scripts/test.sh` installs them all.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::SimProcess;
use crate::common::gateway::GatewayProcess;

/// The zone every DNS front test works in.
pub const ZONE: &str = "example.com";
/// The SPF record the sim seeds at the apex; no test may ever see it removed.
pub const SPF: &str = "v=spf1 include:_spf.example.com ~all";
/// Longer than the harness's batch window (300 ms) plus a POST's round trip: when no POST
/// appeared after this, nothing is on its way to CSC.
pub const GRACE: Duration = Duration::from_millis(1200);
/// How long a published change may take (batch window + a 1 s sim edit + polling, with margin
/// for a machine busy compiling).
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(25);

/// The sim every DNS front test uses: one zone plus one the gateway does not get asked about.
pub fn start_sim() -> SimProcess {
    SimProcess::start(&["--zones", "example.com,other.org", "--edit-seconds", "1"])
}

/// Runs `program args` with `stdin` fed in; panics loudly when the program is missing.
pub fn run(program: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            panic!("cannot run {program} ({err}): scripts/test.sh installs it — install it, do not skip")
        });
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .expect("write the client's stdin");
    child.wait_with_output().expect("wait for the client")
}

/// stdout and stderr of a client run, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Panics unless the client exited 0.
pub fn assert_success(what: &str, output: &Output) {
    assert!(output.status.success(), "{what} failed: {}", text(output));
}

/// `server 127.0.0.1 PORT` plus `body` plus `send`, as nsupdate and knsupdate read it.
pub fn script(gateway: &GatewayProcess, body: &str) -> String {
    format!("server 127.0.0.1 {}\n{body}send\n", gateway.port())
}

/// Runs BIND's nsupdate with `args` (e.g. `-y ...`, `-v`) on `body` sent to the gateway.
pub fn nsupdate(gateway: &GatewayProcess, args: &[&str], body: &str) -> Output {
    run("nsupdate", args, &script(gateway, body))
}

/// Runs Knot's knsupdate with `args` on `body` sent to the gateway.
pub fn knsupdate(gateway: &GatewayProcess, args: &[&str], body: &str) -> Output {
    run("knsupdate", args, &script(gateway, body))
}

/// Runs `dig @gateway +norec +tries=1 args` and returns stdout (dig exits 0 on DNS errors).
pub fn dig(gateway: &GatewayProcess, args: &[&str]) -> String {
    let port = gateway.port();
    let mut all = vec!["@127.0.0.1", "-p", &port, "+norec", "+time=3", "+tries=1"];
    all.extend_from_slice(args);
    let output = run("dig", &all, "");
    assert_success(&format!("dig {args:?}"), &output);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The Python of the project venv (`scripts/test.sh` creates it with dnspython).
fn python() -> PathBuf {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test.sh, which creates the venv with dnspython",
        python.display()
    );
    python
}

/// Runs `tests/py/<name>` with `config` as its JSON argument and parses the JSON it prints.
pub fn py(name: &str, config: &Value) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(name);
    let output = Command::new(python())
        .arg(&path)
        .arg(config.to_string())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", path.display()));
    assert_success(&format!("tests/py/{name}"), &output);
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("tests/py/{name} printed no JSON ({err}): {}", text(&output)))
}

/// Waits until the sim publishes exactly `wanted` (any order) at `key` of [`ZONE`].
pub async fn wait_for_txt(sim: &SimProcess, key: &str, wanted: &[&str]) {
    let mut wanted: Vec<String> = wanted.iter().map(|v| (*v).to_owned()).collect();
    wanted.sort();
    let deadline = Instant::now() + PUBLISH_TIMEOUT;
    loop {
        let mut values = sim.txt_values(ZONE, key).await;
        values.sort();
        if values == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "TXT at {key}.{ZONE} is {values:?}, expected {wanted:?}\n--- sim ---\n{}",
            sim.stderr_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `POST /zones/edits` calls the sim has seen (the gateway's way of changing anything).
pub async fn edit_posts(sim: &SimProcess) -> Vec<Value> {
    sim.calls()
        .await
        .into_iter()
        .filter(|c| c["method"] == "POST" && c["path"] == "/dbs/api/v2/zones/edits")
        .collect()
}

/// Waits [`GRACE`] and asserts that the sim still saw exactly `before` edit POSTs.
pub async fn assert_no_new_posts(sim: &SimProcess, before: usize, what: &str) {
    tokio::time::sleep(GRACE).await;
    let posts = edit_posts(sim).await;
    assert_eq!(
        posts.len(),
        before,
        "{what}: something reached CSC: {:#?}",
        &posts[before.min(posts.len())..]
    );
}

/// Asserts the seeded SPF record is still published at the apex.
pub async fn assert_spf_intact(sim: &SimProcess) {
    assert_eq!(
        sim.txt_values(ZONE, "@").await,
        vec![SPF.to_owned()],
        "the SPF record is untouched"
    );
}

/// The rcode of a reply, from a dig output's header line (`status: NOERROR`).
pub fn dig_status(output: &str) -> &str {
    output
        .split("status: ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no status in dig output:\n{output}"))
}

/// The header flags of a dig output (`;; flags: qr aa;` → `["qr", "aa"]`).
pub fn dig_flags(output: &str) -> Vec<&str> {
    output
        .split(";; flags: ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no flags in dig output:\n{output}"))
        .split_whitespace()
        .collect()
}

/// The records of one dig section (`ANSWER`, `AUTHORITY`), one whitespace-normalized line each.
pub fn dig_section(output: &str, section: &str) -> Vec<String> {
    let marker = format!(";; {section} SECTION:");
    let Some(start) = output.find(&marker) else {
        return Vec::new();
    };
    output[start + marker.len()..]
        .lines()
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}
