//! Operating the gateway: `/metrics`, `/healthz`, `/readyz` and `/status` over real HTTP, the
//! audit trail in JSON logs, no secret in any log line even at trace level, and a polite stop
//! (SIGTERM) that loses no acknowledged change.

mod common;

use std::time::{Duration, Instant};

use common::SimProcess;
use common::gateway::{GatewayOptions, GatewayProcess, TestKey};

fn nsupdate(key: &TestKey, gateway: &GatewayProcess, lines: &str) -> bool {
    gateway.nsupdate(key, lines).status.success()
}

async fn get(gateway: &GatewayProcess, path: &str) -> (u16, String) {
    let addr = gateway.http_addr.expect("started with http");
    let reply = common::http_client()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .expect("the HTTP endpoint answers");
    (reply.status().as_u16(), reply.text().await.unwrap())
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A counter's value in Prometheus text, for the series whose labels include all of `labels`.
fn metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|lab| l.contains(lab)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

// The endpoints answer and the counters follow real traffic: updates by rcode, key and zone,
// TSIG failures by kind, CSC calls by route and status, journal commits, pending changes.
#[tokio::test]
async fn metrics_health_readiness_and_status() {
    let sim = SimProcess::start(&["--zones", "example.com", "--edit-seconds", "1"]);
    let key = TestKey::new("acme.", "hmac-sha256");
    let options = GatewayOptions {
        http: true,
        ..GatewayOptions::default()
    };
    let temp = tempfile::tempdir().unwrap();
    let gateway = GatewayProcess::start_with(
        &sim,
        std::slice::from_ref(&key),
        &options,
        &temp.path().join("s"),
    );

    assert_eq!(get(&gateway, "/healthz").await.0, 200);
    assert_eq!(get(&gateway, "/readyz").await, (200, "ready\n".to_owned()));

    assert!(nsupdate(
        &key,
        &gateway,
        "update add _acme-challenge.example.com. 60 TXT \"m1\"\n"
    ));
    let wrong = TestKey {
        secret: TestKey::new("acme.", "hmac-sha256").secret,
        ..key.clone()
    };
    assert!(!nsupdate(
        &wrong,
        &gateway,
        "update add _acme-challenge.example.com. 60 TXT \"m2\"\n"
    ));
    assert!(!nsupdate(
        &key,
        &gateway,
        "update add www.example.com. 60 TXT \"m3\"\n"
    ));

    let (_, status) = get(&gateway, "/status").await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["ready"], true, "{status}");

    wait_for("the value at CSC", async || {
        sim.txt_values("example.com", "_acme-challenge").await == ["m1"]
    })
    .await;
    wait_for("the edit to be recorded", async || {
        let (_, text) = get(&gateway, "/metrics").await;
        metric(
            &text,
            "csc_rfc2136_csc_edits_total",
            &["outcome=\"accepted\""],
        ) >= 1.0
            && metric(
                &text,
                "csc_rfc2136_edit_lifecycle_seconds_count",
                &["phase=\"propagating\""],
            ) >= 1.0
    })
    .await;
    let (code, text) = get(&gateway, "/metrics").await;
    assert_eq!(code, 200);
    let updates = |rcode: &str| {
        metric(
            &text,
            "csc_rfc2136_dns_updates_total",
            &[
                &format!("rcode=\"{rcode}\""),
                "key=\"acme.\"",
                "zone=\"example.com\"",
            ],
        )
    };
    assert_eq!(updates("NOERROR"), 1.0, "{text}");
    assert_eq!(updates("REFUSED"), 1.0, "{text}");
    assert!(
        metric(
            &text,
            "csc_rfc2136_tsig_failures_total",
            &["kind=\"BADSIG\""]
        ) >= 1.0,
        "nsupdate's SOA query and its UPDATE may both fail the check"
    );
    assert!(
        metric(
            &text,
            "csc_rfc2136_csc_requests_total",
            &["endpoint=\"POST /zones/edits\"", "status=\"201\""]
        ) >= 1.0
    );
    assert!(
        metric(
            &text,
            "csc_rfc2136_csc_request_duration_seconds_count",
            &["endpoint=\"GET /zones/{zone}\""]
        ) >= 1.0
    );
    assert!(metric(&text, "csc_rfc2136_journal_commit_seconds_count", &[]) >= 1.0);
    assert!(
        text.contains("csc_rfc2136_pending_changes{zone=\"example.com\"}"),
        "{text}"
    );
    assert!(
        !text.contains("/zones/edits/status/") || text.contains("{id}"),
        "routes hide ids"
    );
}

// When CSC rejects the credentials the gateway says so: /readyz is 503 with the reason, and an
// UPDATE gets SERVFAIL at once instead of an acknowledgement that cannot be kept.
#[tokio::test]
async fn rejected_credentials_make_the_gateway_not_ready() {
    let sim = SimProcess::start(&["--zones", "example.com"]);
    let key = TestKey::new("acme.", "hmac-sha256");
    let options = GatewayOptions {
        http: true,
        api_key: Some("not-the-key"),
        ..GatewayOptions::default()
    };
    let temp = tempfile::tempdir().unwrap();
    let gateway = GatewayProcess::start_with(
        &sim,
        std::slice::from_ref(&key),
        &options,
        &temp.path().join("s"),
    );
    let (code, body) = get(&gateway, "/readyz").await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("credentials"), "{body}");
    assert!(
        !body.contains("not-the-key"),
        "no secret in the reason: {body}"
    );
    assert!(!nsupdate(
        &key,
        &gateway,
        "zone example.com.\nupdate add _acme-challenge.example.com. 60 TXT \"x\"\n"
    ));
    let posts = sim
        .calls()
        .await
        .iter()
        .filter(|c| c["method"] == "POST")
        .count();
    assert_eq!(posts, 0, "nothing was sent to CSC");
}

// One JSON audit event per UPDATE (accepted and refused) and per CSC edit, with the fields an
// operator needs, and no secret in any of the log's lines, even at trace level.
#[tokio::test]
async fn audit_events_and_no_secret_in_any_log_line() {
    let sim = SimProcess::start(&["--zones", "example.com", "--edit-seconds", "1"]);
    let key = TestKey::new("acme.", "hmac-sha256");
    let options = GatewayOptions {
        args: &["--log-format", "json"],
        env: &[("RUST_LOG", "trace")],
        ..GatewayOptions::default()
    };
    let temp = tempfile::tempdir().unwrap();
    let gateway = GatewayProcess::start_with(
        &sim,
        std::slice::from_ref(&key),
        &options,
        &temp.path().join("s"),
    );
    assert!(nsupdate(
        &key,
        &gateway,
        "update add _acme-challenge.example.com. 60 TXT \"a1\"\n"
    ));
    assert!(!nsupdate(
        &key,
        &gateway,
        "update add mail.example.com. 60 TXT \"a2\"\n"
    ));
    let wrong = TestKey {
        secret: TestKey::new("x.", "hmac-sha256").secret,
        ..key.clone()
    };
    assert!(!nsupdate(
        &wrong,
        &gateway,
        "update add _acme-challenge.example.com. 60 TXT \"a3\"\n"
    ));
    wait_for("the value at CSC", async || {
        sim.txt_values("example.com", "_acme-challenge").await == ["a1"]
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let lines = gateway.log_lines();
    let events: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["target"] == "audit")
        .collect();
    let updates: Vec<_> = events.iter().filter(|e| e["event"] == "update").collect();
    assert_eq!(updates.len(), 3, "{updates:#?}");
    let accepted = updates
        .iter()
        .find(|e| e["outcome"] == "NOERROR")
        .expect("an accepted UPDATE");
    assert_eq!(accepted["key"], "acme.");
    assert_eq!(accepted["zone"], "example.com");
    assert_eq!(accepted["transport"], "udp");
    assert!(accepted["src"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(
        accepted["operations"].as_str().unwrap().contains("a1"),
        "{accepted}"
    );
    assert!(accepted["latency_ms"].as_f64().is_some());
    let refused = updates
        .iter()
        .find(|e| e["outcome"] == "REFUSED")
        .expect("a refused UPDATE");
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .contains("mail.example.com"),
        "{refused}"
    );
    assert!(updates.iter().any(|e| e["outcome"] == "BADSIG"));
    let submitted = events
        .iter()
        .find(|e| e["event"] == "csc_edit" && e["outcome"] == "submitted")
        .expect("a CSC edit event");
    assert!(!submitted["edit_id"].as_str().unwrap().is_empty());

    assert!(
        lines.len() > 20,
        "trace logging is on: {} lines",
        lines.len()
    );
    for secret in [
        key.secret.as_str(),
        wrong.secret.as_str(),
        sim.api_key.as_str(),
        sim.bearer_token.as_str(),
    ] {
        if let Some(line) = lines.iter().find(|l| l.contains(secret)) {
            panic!("a secret appears in the log: {line}");
        }
    }
}

// SIGTERM stops the gateway cleanly (exit 0); a change acknowledged just before is in the
// journal and reaches CSC after the next start.
#[tokio::test]
async fn sigterm_stops_cleanly_and_loses_nothing() {
    let sim = SimProcess::start(&["--zones", "example.com", "--edit-seconds", "1"]);
    let key = TestKey::new("acme.", "hmac-sha256");
    let temp = tempfile::tempdir().unwrap();
    let state = temp.path().join("s");
    // A long batch window: the change is still pending when the stop comes.
    let slow =
        "[edits]\nbatch_window = \"30s\"\nbatch_max_wait = \"60s\"\npoll_interval = \"200ms\"\n";
    let mut gateway = GatewayProcess::start_in(&sim, std::slice::from_ref(&key), slow, &state);
    assert!(nsupdate(
        &key,
        &gateway,
        "update add _acme-challenge.example.com. 60 TXT \"survivor\"\n"
    ));
    let status = gateway
        .terminate(Duration::from_secs(15))
        .expect("the gateway stops within 15 s");
    assert!(status.success(), "exit status {status:?}");
    assert!(
        sim.calls().await.iter().all(|c| c["method"] != "POST"),
        "nothing was sent before the stop"
    );

    let _restarted = GatewayProcess::start_in(&sim, std::slice::from_ref(&key), "", &state);
    wait_for("the survivor at CSC", async || {
        sim.txt_values("example.com", "_acme-challenge").await == ["survivor"]
    })
    .await;
}
