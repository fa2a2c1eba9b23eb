//! `csc-rfc2136 status --config FILE`: the per-zone view of pending and in-flight work with CSC's
//! status of each edit, read from a journal when no gateway runs and from the running gateway's
//! HTTP endpoint when one does; a journal locked by `serve` without `server.http` is explained.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use csc_rfc2136::engine::change::{Change, LedgerEntry, Op, now_ms};
use csc_rfc2136::engine::redb_store::RedbStore;
use csc_rfc2136::engine::store::{Mutation, Store};

use common::gateway::{GatewayOptions, GatewayProcess, TestKey};
use common::{SimProcess, add_txt, edit_id};

/// An edit id CSC has never seen.
const UNKNOWN_EDIT: &str = "00000000-0000-4000-8000-000000000000";

fn status(config: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_csc-rfc2136"))
        .args(["status", "--config", config.to_str().unwrap()])
        .args(extra)
        .env_remove("CSC_API_KEY")
        .env_remove("CSC_BEARER_TOKEN")
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A config for `sim` keeping state in `dir/state`; `server_extra` goes under `[server]`.
fn write_config(dir: &Path, sim: &SimProcess, server_extra: &str) -> PathBuf {
    let path = dir.join("gw.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n{server_extra}\n[csc]\nbase_url = \"{}\"\n\
             api_key = \"{}\"\nbearer_token = \"{}\"\n\n[state]\ndir = \"{}\"\n",
            sim.api_base,
            sim.api_key,
            sim.bearer_token,
            dir.join("state").display()
        ),
    )
    .unwrap();
    path
}

fn change(id: u64, zone: &str, edit: Option<&str>, accepted_at_ms: u64) -> Change {
    Change {
        id,
        zone: zone.to_owned(),
        ops: vec![Op::Add {
            name: format!("_acme-challenge.{zone}"),
            value: format!("token-{id}"),
        }],
        origin: "acme.".to_owned(),
        accepted_at_ms,
        failed_attempts: 0,
        edit_id: edit.map(str::to_owned),
    }
}

/// The whitespace-separated cells of the table row of `zone`.
fn row<'a>(text: &'a str, zone: &str) -> Vec<&'a str> {
    text.lines()
        .find(|line| line.starts_with(&format!("{zone} ")))
        .unwrap_or_else(|| panic!("no row for {zone} in:\n{text}"))
        .split_whitespace()
        .collect()
}

#[tokio::test]
async fn a_journal_shows_pending_and_in_flight_work_with_csc_status_and_age() {
    let sim = SimProcess::start(&["--zones", "example.com,b.test", "--edit-seconds", "120"]);
    let edit = edit_id(
        &sim.post_edit(&add_txt("example.com", "_acme-challenge", "in-flight"))
            .await,
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim, "");
    let now = now_ms();
    {
        let store = RedbStore::open(&dir.path().join("state")).unwrap();
        store
            .apply(&[
                Mutation::PutChange(change(1, "example.com", Some(&edit), now - 125_000)),
                Mutation::PutChange(change(2, "example.com", None, now - 3_000)),
                Mutation::PutChange(change(3, "b.test", Some(UNKNOWN_EDIT), now - 10_000)),
                Mutation::PutLedger(LedgerEntry {
                    zone: "example.com".to_owned(),
                    name: "_acme-challenge.example.com".to_owned(),
                    value: "owned".to_owned(),
                    added_at: now / 1000,
                    edit_id: Some(edit.clone()),
                }),
            ])
            .unwrap();
    }
    let before = sim.edit_status(&edit).await;
    let output = status(&config, &[]);
    let after = sim.edit_status(&edit).await;
    let text = stdout(&output);
    assert!(output.status.success(), "{text}{}", stderr(&output));
    assert!(
        text.contains("journal: ") && text.contains("read directly"),
        "{text}"
    );
    assert!(text.contains("owned values: 1"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == [
                    "ZONE", "PENDING", "IN", "FLIGHT", "EDIT", "ID", "CSC", "STATUS", "OLDEST"
                ]),
        "a header: {text}"
    );

    let cells = row(&text, "example.com");
    assert_eq!(
        &cells[..4],
        ["example.com", "1", "1", edit.as_str()],
        "{text}"
    );
    assert!(
        cells[4] == before || cells[4] == after,
        "CSC status {} is the sim's ({before} → {after}):\n{text}",
        cells[4]
    );
    let age = cells[5..].join(" ");
    assert!(
        age == "2m 5s" || age == "2m 6s",
        "oldest change is 125 s old: {age:?}\n{text}"
    );

    let cells = row(&text, "b.test");
    assert_eq!(&cells[..4], ["b.test", "0", "1", UNKNOWN_EDIT], "{text}");
    let line = text.lines().find(|l| l.starts_with("b.test")).unwrap();
    assert!(
        line.contains("status unknown: CSC has no zone edit"),
        "{text}"
    );

    // The same for machines.
    let output = status(&config, &["--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["source"]["kind"], "journal", "{json}");
    assert_eq!(json["owned_values"], 1);
    let zones = json["zones"].as_array().unwrap();
    assert_eq!(zones.len(), 2, "{json}");
    assert_eq!(zones[0]["zone"], "b.test");
    assert_eq!(zones[0]["csc_status"]["result"], "unknown", "{json}");
    assert_eq!(zones[1]["zone"], "example.com");
    assert_eq!(zones[1]["pending"], 1);
    assert_eq!(zones[1]["in_flight"], 1);
    assert_eq!(zones[1]["edit_id"], edit.as_str());
    assert_eq!(zones[1]["oldest_accepted_ms"], now - 125_000);
    assert!(zones[1]["age_ms"].as_u64().unwrap() >= 125_000, "{json}");
    assert_eq!(zones[1]["csc_status"]["result"], "known", "{json}");
    let status = zones[1]["csc_status"]["status"].as_str().unwrap();
    assert!(
        ["NEW", "SUBMITTED", "PROCESSING", "PROPAGATING", "COMPLETED"].contains(&status),
        "{json}"
    );
    assert!(!stdout(&output).contains(&sim.api_key));
}

#[test]
fn no_journal_means_no_pending_changes_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gw.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"127.0.0.1:5353\"]\n[csc]\nbase_url = \"http://127.0.0.1:9/x\"\n\
             api_key = \"k\"\nbearer_token = \"t\"\n[state]\ndir = \"{}\"\n",
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    let output = status(&config, &[]);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}{}", stderr(&output));
    assert!(text.contains("does not exist yet"), "{text}");
    assert!(text.ends_with("no pending changes\n"), "{text}");
    assert!(
        !dir.path().join("state").exists(),
        "status must not create the state folder"
    );
}

#[test]
fn a_journal_locked_by_serve_without_http_says_how_to_fix_it() {
    let sim = SimProcess::start(&["--zones", "example.com"]);
    let gateway = GatewayProcess::start(&sim, &[], "");
    let output = status(&gateway.config_path, &[]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        stdout(&output).is_empty(),
        "no half result: {}",
        stdout(&output)
    );
    assert!(
        message.contains("is locked by a running `csc-rfc2136 serve`"),
        "{message}"
    );
    assert!(message.contains("journal.redb"), "{message}");
    assert!(message.contains("server.http"), "{message}");
    assert!(
        message.contains(&gateway.config_path.display().to_string()),
        "names the config to edit: {message}"
    );
}

/// A copy of the gateway's config whose `server.http` names the port it actually bound.
fn config_with_bound_http(gateway: &GatewayProcess, dir: &Path) -> PathBuf {
    let http = gateway.http_addr.expect("the gateway serves HTTP");
    let text = std::fs::read_to_string(&gateway.config_path).unwrap();
    assert!(text.contains("http = \"127.0.0.1:0\""), "{text}");
    let path = dir.join("status.toml");
    std::fs::write(
        &path,
        text.replace("http = \"127.0.0.1:0\"", &format!("http = \"{http}\"")),
    )
    .unwrap();
    path
}

#[test]
fn a_running_gateway_is_asked_over_http() {
    let sim = SimProcess::start(&["--zones", "example.com"]);
    let dir = tempfile::tempdir().unwrap();
    let gateway = GatewayProcess::start_with(
        &sim,
        &[],
        &GatewayOptions {
            http: true,
            ..GatewayOptions::default()
        },
        &dir.path().join("state"),
    );
    let config = config_with_bound_http(&gateway, dir.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    let output = loop {
        let output = status(&config, &[]);
        if output.status.success() || Instant::now() > deadline {
            break output;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = stdout(&output);
    assert!(output.status.success(), "{text}{}", stderr(&output));
    assert!(
        text.starts_with("gateway: ready (http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.ends_with("no pending changes\n"), "{text}");

    let output = status(&config, &["--json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["source"]["kind"], "gateway", "{json}");
    assert_eq!(json["source"]["ready"], true, "{json}");
    assert_eq!(json["zones"], serde_json::json!([]), "{json}");
}

#[test]
fn a_gateway_whose_credentials_are_rejected_fails_the_status() {
    let sim = SimProcess::start(&["--zones", "example.com"]);
    let dir = tempfile::tempdir().unwrap();
    let gateway = GatewayProcess::start_with(
        &sim,
        &[],
        &GatewayOptions {
            http: true,
            api_key: Some("not-the-key"),
            ..GatewayOptions::default()
        },
        &dir.path().join("state"),
    );
    let config = config_with_bound_http(&gateway, dir.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    let output = loop {
        let output = status(&config, &[]);
        if !output.status.success() || Instant::now() > deadline {
            break output;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    assert!(text.starts_with("gateway: NOT READY"), "{text}");
    assert!(text.contains("credentials"), "says why: {text}");
    assert!(!text.contains("not-the-key"), "{text}");
}

/// Sends one UPDATE with nsupdate; whether it was answered NOERROR.
fn nsupdate(key: &TestKey, gateway: &GatewayProcess, lines: &str) -> bool {
    let mut child = Command::new("nsupdate")
        .arg("-y")
        .arg(key.nsupdate_arg())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nsupdate is installed (scripts/test.sh installs bind9-dnsutils)");
    let script = format!("server 127.0.0.1 {}\n{lines}send\n", gateway.port());
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    child.wait().unwrap().success()
}

#[test]
fn a_running_gateway_shows_its_in_flight_edit_with_csc_status() {
    // Edits hold the zone for 60 s at the sim, so the batch stays in flight while we look.
    let sim = SimProcess::start(&["--zones", "example.com", "--edit-seconds", "60"]);
    let key = TestKey::new("acme.", "hmac-sha256");
    let dir = tempfile::tempdir().unwrap();
    let gateway = GatewayProcess::start_with(
        &sim,
        std::slice::from_ref(&key),
        &GatewayOptions {
            http: true,
            ..GatewayOptions::default()
        },
        &dir.path().join("state"),
    );
    let config = config_with_bound_http(&gateway, dir.path());
    assert!(nsupdate(
        &key,
        &gateway,
        "update add _acme-challenge.example.com. 60 TXT \"s1\"\n"
    ));
    // Wait until the batch went out and CSC accepted it (an edit id shows).
    let deadline = Instant::now() + Duration::from_secs(20);
    let json = loop {
        let output = status(&config, &["--json"]);
        assert!(output.status.success(), "{}", stderr(&output));
        let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        if json["zones"][0]["edit_id"].is_string() || Instant::now() > deadline {
            break json;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(json["source"]["kind"], "gateway", "{json}");
    let zone = &json["zones"][0];
    assert_eq!(zone["zone"], "example.com", "{json}");
    assert_eq!(zone["in_flight"], 1, "{json}");
    let edit = zone["edit_id"].as_str().expect("an edit id").to_owned();
    assert_eq!(zone["csc_status"]["result"], "known", "{json}");

    let output = status(&config, &[]);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}{}", stderr(&output));
    let cells = row(&text, "example.com");
    assert_eq!(
        &cells[..4],
        ["example.com", "0", "1", edit.as_str()],
        "{text}"
    );
    assert!(
        ["NEW", "SUBMITTED", "PROCESSING", "PROPAGATING"].contains(&cells[4]),
        "{text}"
    );
}
