//! The CSC client against the real simulator binary over HTTP: every kind of answer the client
//! must tell apart, its retries, timeouts and rate limiting. Counts come from the simulator's call
//! log, never from the client's own word.

mod common;

use std::time::{Duration, Instant};

use csc_rfc2136::csc::model::{EditItem, EditRequest, EditStatus};
use csc_rfc2136::csc::{CscClient, CscClientOptions, CscError, TransportKind};
use secrecy::SecretString;
use serde_json::Value;
use url::Url;

use common::SimProcess;

/// Options for `sim` with fast retries and no client-side pacing to speak of.
fn options(sim: &SimProcess) -> CscClientOptions {
    let mut options = CscClientOptions::new(
        Url::parse(&sim.api_base.to_string()).expect("sim api base is a URL"),
        SecretString::from(sim.api_key.to_string()),
        SecretString::from(sim.bearer_token.to_string()),
    );
    options.timeout = Duration::from_secs(10);
    options.rate_limit_per_sec = 1000.0;
    options.max_retries = 0;
    options.retry_base_delay = Duration::from_millis(5);
    options.retry_max_delay = Duration::from_millis(50);
    options
}

fn client(options: CscClientOptions) -> CscClient {
    CscClient::new(options).expect("client builds")
}

/// The simulator's call log (`GET /sim/calls`), oldest first.
async fn calls(sim: &SimProcess) -> Vec<Value> {
    sim.calls().await
}

fn count(calls: &[Value], method: &str, path_part: &str) -> usize {
    calls
        .iter()
        .filter(|c| c["method"] == method && c["path"].as_str().unwrap_or("").contains(path_part))
        .count()
}

fn add(zone: &str, key: &str, value: &str) -> EditRequest {
    EditRequest {
        zone_name: zone.to_owned(),
        edits: vec![EditItem::add_txt(key, value, 300, None)],
    }
}

/// Polls the edit's status until `until` holds, returning every status seen in order.
async fn follow(
    client: &CscClient,
    id: &str,
    until: impl Fn(EditStatus) -> bool,
) -> Vec<EditStatus> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen: Vec<EditStatus> = Vec::new();
    loop {
        let status = client
            .edit_status(id)
            .await
            .expect("status readable")
            .status;
        if seen.last() != Some(&status) {
            seen.push(status);
        }
        if until(status) {
            return seen;
        }
        assert!(Instant::now() < deadline, "edit {id} stuck; seen {seen:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn list_zones_follows_every_page() {
    let sim = SimProcess::start(&[
        "--zones",
        "a.test,b.test,c.test,d.test,e.test",
        "--page-size",
        "2",
    ]);
    let zones = client(options(&sim))
        .list_zones()
        .await
        .expect("zones listed");
    let mut names: Vec<_> = zones.iter().map(|z| z.zone_name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["a.test", "b.test", "c.test", "d.test", "e.test"]);
    // 5 zones at 2 a page: exactly 3 page requests, no more.
    assert_eq!(count(&calls(&sim).await, "GET", "/zones"), 3);
}

#[tokio::test]
async fn get_zone_and_not_found() {
    let sim = SimProcess::start(&["--zones", "a.test"]);
    let client = client(options(&sim));
    let zone = client.get_zone("a.test").await.expect("zone read");
    assert_eq!(zone.zone_name, "a.test");
    assert!(zone.soa.is_some());
    assert!(!zone.txt.is_empty(), "the sim seeds an SPF record");

    let err = client.get_zone("nope.test").await.unwrap_err();
    assert!(
        matches!(&err, CscError::NotFound { what, .. } if what.contains("nope.test")),
        "{err:?}"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn submit_returns_the_id_with_exactly_one_post() {
    let sim = SimProcess::start(&["--zones", "a.test", "--edit-seconds", "30"]);
    let client = client(options(&sim));
    let id = client
        .submit_edit(&add("a.test", "_acme-challenge.www", "token-1"))
        .await
        .expect("submitted");

    let log = calls(&sim).await;
    assert_eq!(count(&log, "POST", "/zones/edits"), 1);
    let post = log.iter().find(|c| c["method"] == "POST").unwrap();
    assert_eq!(post["status"], 201);
    let status_link = post["responseBody"]["links"]["status"].as_str().unwrap();
    assert!(
        status_link.ends_with(&format!("/{id}")),
        "{status_link} vs {id}"
    );
    assert_eq!(post["requestBody"]["edits"][0]["newValue"], "token-1");

    let edit = client.get_edit(&id).await.expect("edit read");
    assert_eq!(
        (edit.id.as_str(), edit.zone_name.as_str()),
        (id.as_str(), "a.test")
    );
    assert!(edit.status.holds_lock());
    let listed = client
        .list_zone_edits("a.test")
        .await
        .expect("edits listed");
    assert!(listed.iter().any(|e| e.id == id));
    assert!(
        client
            .list_zone_edits("other.test")
            .await
            .expect("edits listed")
            .is_empty()
    );
}

#[tokio::test]
async fn a_second_edit_meets_open_zone_edits_naming_the_first() {
    let sim = SimProcess::start(&["--zones", "a.test", "--edit-seconds", "30"]);
    let mut opts = options(&sim);
    opts.max_retries = 4; // must not matter: the lock is never retried by the client
    let client = client(opts);
    let first = client
        .submit_edit(&add("a.test", "_acme-challenge", "one"))
        .await
        .expect("first");
    let err = client
        .submit_edit(&add("a.test", "_acme-challenge", "two"))
        .await
        .unwrap_err();
    match &err {
        CscError::OpenZoneEdits {
            zone,
            blocking_edit_id,
        } => {
            assert_eq!(zone, "a.test");
            assert_eq!(blocking_edit_id.as_deref(), Some(first.as_str()));
        }
        other => panic!("expected OpenZoneEdits, got {other:?}"),
    }
    assert!(!err.is_transient());
    assert_eq!(count(&calls(&sim).await, "POST", "/zones/edits"), 2);
}

#[tokio::test]
async fn edit_status_progresses_to_completed() {
    let sim = SimProcess::start(&["--zones", "a.test", "--edit-seconds", "1.5"]);
    let client = client(options(&sim));
    let id = client
        .submit_edit(&add("a.test", "_acme-challenge", "live"))
        .await
        .expect("submitted");
    let seen = follow(&client, &id, EditStatus::is_final).await;
    assert_eq!(seen.last(), Some(&EditStatus::Completed), "{seen:?}");
    assert!(seen.contains(&EditStatus::Propagating), "{seen:?}");
    let order = [
        EditStatus::New,
        EditStatus::Submitted,
        EditStatus::Processing,
        EditStatus::Propagating,
        EditStatus::Completed,
    ];
    let ranks: Vec<_> = seen
        .iter()
        .map(|s| order.iter().position(|o| o == s).unwrap())
        .collect();
    assert!(
        ranks.windows(2).all(|w| w[0] < w[1]),
        "statuses went backwards: {seen:?}"
    );
    let zone = client.get_zone("a.test").await.unwrap();
    assert!(
        zone.txt
            .iter()
            .any(|r| r.key == "_acme-challenge" && r.value == "live")
    );
}

#[tokio::test]
async fn cancelling_a_failed_edit_releases_the_lock() {
    let sim = SimProcess::start(&[
        "--zones",
        "a.test",
        "--edit-seconds",
        "0.4",
        "--fail-every",
        "1",
    ]);
    let client = client(options(&sim));
    let id = client
        .submit_edit(&add("a.test", "_acme-challenge", "doomed"))
        .await
        .expect("submitted");
    follow(&client, &id, |s| s == EditStatus::Failed).await;

    // FAILED keeps the lock …
    let err = client
        .submit_edit(&add("a.test", "_acme-challenge", "next"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CscError::OpenZoneEdits { blocking_edit_id: Some(b), .. } if *b == id),
        "{err:?}"
    );
    // … until cancelled.
    client.cancel_edit(&id).await.expect("cancelled");
    assert_eq!(
        client.edit_status(&id).await.unwrap().status,
        EditStatus::Canceled
    );
    client
        .submit_edit(&add("a.test", "_acme-challenge", "next"))
        .await
        .expect("lock released");
    assert_eq!(count(&calls(&sim).await, "DELETE", &id), 1);
}

#[tokio::test]
async fn csc_validation_errors_carry_the_code() {
    let sim = SimProcess::start(&["--zones", "a.test"]);
    let client = client(options(&sim));
    let purge = EditRequest {
        zone_name: "a.test".into(),
        edits: vec![EditItem::purge_txt("_acme-challenge", "never-added")],
    };
    let err = client.submit_edit(&purge).await.unwrap_err();
    match &err {
        CscError::Validation {
            status,
            code,
            description,
            ..
        } => {
            assert_eq!(*status, 400);
            assert_eq!(code, "RECORD_NOT_FOUND");
            assert!(!description.is_empty());
        }
        other => panic!("expected Validation, got {other:?}"),
    }
    assert!(err.to_string().contains("RECORD_NOT_FOUND"), "{err}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn wrong_credentials_fail_once_without_a_retry_storm() {
    let sim = SimProcess::start(&["--zones", "a.test"]);
    let mut opts = options(&sim);
    opts.api_key = SecretString::from("wrong-key-do-not-print".to_owned());
    opts.max_retries = 4;
    let client = client(opts);
    let err = client.list_zones().await.unwrap_err();
    assert!(
        matches!(err, CscError::CredentialsRejected { status: 401, .. }),
        "{err:?}"
    );
    for text in [err.to_string(), format!("{err:?}"), format!("{client:?}")] {
        assert!(!text.contains("wrong-key-do-not-print"), "{text}");
        assert!(!text.contains(&sim.bearer_token.to_string()), "{text}");
    }
    assert_eq!(calls(&sim).await.len(), 1);
}

#[tokio::test]
async fn the_plain_text_rate_limit_is_recognised() {
    let sim = SimProcess::start(&["--zones", "a.test", "--rate-limit", "1"]);
    let client = client(options(&sim)); // no retries, no client-side pacing to speak of
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        outcomes.push(client.get_zone("a.test").await);
    }
    let limited = outcomes
        .iter()
        .filter(|r| matches!(r, Err(CscError::RateLimited { .. })))
        .count();
    assert!(limited >= 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(CscError::RateLimited { .. })))
    );
    assert!(
        outcomes
            .iter()
            .flat_map(|r| r.as_ref().err())
            .all(CscError::is_transient)
    );
    let log = calls(&sim).await;
    assert_eq!(log.len(), 3);
    assert_eq!(log.iter().filter(|c| c["status"] == 400).count(), limited);
}

#[tokio::test]
async fn retries_converge_under_injected_server_errors() {
    let sim = SimProcess::start(&[
        "--zones",
        "a.test",
        "--error-rate",
        "0.3",
        "--edit-seconds",
        "30",
    ]);
    let mut opts = options(&sim);
    opts.max_retries = 12;
    let client = client(opts);
    for _ in 0..30 {
        client.get_zone("a.test").await.expect("converges");
    }
    assert_eq!(client.list_zones().await.expect("converges").len(), 1);
    client
        .submit_edit(&add("a.test", "_acme-challenge", "once"))
        .await
        .expect("converges");

    let log = calls(&sim).await;
    assert!(
        log.iter().any(|c| c["status"] == 500),
        "the sim injected no fault at all"
    );
    // Retried 500s on the POST never create a second edit.
    let created = log
        .iter()
        .filter(|c| c["method"] == "POST" && c["status"] == 201)
        .count();
    assert_eq!(created, 1);
}

#[tokio::test]
async fn server_errors_surface_after_the_retries_run_out() {
    let sim = SimProcess::start(&["--zones", "a.test", "--error-rate", "1.0"]);
    let mut opts = options(&sim);
    opts.max_retries = 3;
    let client = client(opts);
    let err = client.get_zone("a.test").await.unwrap_err();
    assert!(
        matches!(err, CscError::Server { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_eq!(calls(&sim).await.len(), 1 + 3);
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut opts = CscClientOptions::new(
        Url::parse(&format!("http://127.0.0.1:{port}/dbs/api/v2")).unwrap(),
        SecretString::from("k".to_owned()),
        SecretString::from("t".to_owned()),
    );
    opts.max_retries = 2;
    opts.retry_base_delay = Duration::from_millis(5);
    let client = client(opts);
    let err = client.list_zones().await.unwrap_err();
    assert!(
        matches!(
            err,
            CscError::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient() && !err.outcome_unknown());
    // Nothing was sent, so even a POST may be retried; it still ends as a connect error.
    let err = client
        .submit_edit(&add("a.test", "x", "y"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CscError::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout_and_a_timed_out_post_is_not_resent() {
    let sim = SimProcess::start(&["--zones", "a.test", "--latency", "2000"]);
    let mut opts = options(&sim);
    opts.timeout = Duration::from_millis(300);
    opts.max_retries = 2;
    let client = client(opts);

    // A GET is retried: three tries of 300 ms each.
    let started = Instant::now();
    let err = client.get_zone("a.test").await.unwrap_err();
    assert!(
        matches!(
            err,
            CscError::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.outcome_unknown());
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );

    // A POST whose outcome is unknown is returned at once, not sent again.
    let started = Instant::now();
    let err = client
        .submit_edit(&add("a.test", "_acme-challenge", "maybe"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CscError::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(600 + 300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_client_side_limiter_keeps_clones_under_the_rate() {
    // The sim refuses more than 8 calls a second; the client allows itself 4, shared by clones.
    let sim = SimProcess::start(&["--zones", "a.test", "--rate-limit", "8"]);
    let mut opts = options(&sim);
    opts.rate_limit_per_sec = 4.0;
    let client = client(opts);
    let started = Instant::now();
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                for _ in 0..3 {
                    client.get_zone("a.test").await.expect("never rate limited");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    // 9 calls at 4 a second: at least 8 gaps of 250 ms (bounded below only, never flaky).
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );

    let times: Vec<_> = calls(&sim)
        .await
        .iter()
        .map(|c| humantime::parse_rfc3339(c["time"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(times.len(), 9);
    for start in &times {
        let window = times
            .iter()
            .filter(|t| **t >= *start && t.duration_since(*start).unwrap() < Duration::from_secs(1))
            .count();
        assert!(window <= 5, "{window} calls inside one second");
    }
}

#[tokio::test]
async fn the_token_can_be_refreshed() {
    let sim = SimProcess::start(&["--zones", "a.test"]);
    client(options(&sim))
        .refresh_token()
        .await
        .expect("refreshed");
    assert_eq!(count(&calls(&sim).await, "PUT", "/token/refresh"), 1);
}
