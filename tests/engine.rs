//! The edit engine in-process against the real simulator binary over HTTP, with short timings:
//! batching into one edit, waiting on the zone lock by following the blocking edit, cancelling
//! and retrying FAILED edits, riding out 5xx and the rate limit, refusing fast on rejected
//! credentials, ownership-aware RRset deletes, the orphan purge, the `accepted` reply mode, and
//! resuming from the journal after a crash without applying anything twice.
//!
//! Every count of POSTs, conflicts, cancels and faults comes from the simulator's call log
//! (`GET /sim/calls`), never from the engine's own word. Conditions are polled with generous
//! deadlines rather than waited for with fixed sleeps, so a loaded machine slows the tests down
//! instead of failing them.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use csc_rfc2136::config::ReplyMode;
use csc_rfc2136::csc::model::RATE_LIMIT_BODY;
use csc_rfc2136::csc::{CscClient, CscClientOptions};
use csc_rfc2136::engine::change::Op;
use csc_rfc2136::engine::redb_store::RedbStore;
use csc_rfc2136::engine::store::Store;
use csc_rfc2136::engine::{Engine, EngineOptions, SubmitError};
use secrecy::SecretString;
use serde_json::Value;
use tempfile::TempDir;
use url::Url;

use common::{SimProcess, add_txt, edit_id};

/// How long any awaited condition may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);
/// The zone most tests use.
const ZONE: &str = "example.com";
/// The challenge name most tests use, and its key relative to [`ZONE`].
const NAME: &str = "_acme-challenge.www.example.com";
const KEY: &str = "_acme-challenge.www";
/// The path of `POST /zones/edits` as the call log shows it.
const EDITS_PATH: &str = "/dbs/api/v2/zones/edits";
/// The origin of the test's changes.
const ORIGIN: &str = "test-key.";

// ---------------------------------------------------------------------------------------------
// Setting up

/// Logs of the engine on the test's output when `RUST_LOG` asks for them.
fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Short timings for tests; each test changes what it exercises.
fn options() -> EngineOptions {
    EngineOptions {
        reply: ReplyMode::Queued,
        reply_timeout: Duration::from_secs(15),
        batch_window: Duration::from_millis(300),
        batch_max_wait: Duration::from_secs(2),
        batch_max_changes: 500,
        max_pending: 10_000,
        orphan_ttl: Duration::from_secs(3600),
        record_ttl: 300,
        poll_interval: Duration::from_millis(150),
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_secs(1),
        credentials_retry: Duration::from_secs(2),
        zone_refresh: Duration::from_secs(3600),
    }
}

/// A CSC client for `sim` sending `api_key`, paced at `rate` requests per second, with fast
/// retries.
fn client_with(sim: &SimProcess, api_key: &str, rate: f64) -> CscClient {
    let mut options = CscClientOptions::new(
        Url::parse(&sim.api_base).expect("the sim's API base is a URL"),
        SecretString::from(api_key.to_owned()),
        SecretString::from(sim.bearer_token.clone()),
    );
    options.timeout = Duration::from_secs(10);
    options.connect_timeout = Duration::from_secs(2);
    options.rate_limit_per_sec = rate;
    options.max_retries = 4;
    options.retry_base_delay = Duration::from_millis(20);
    options.retry_max_delay = Duration::from_millis(300);
    CscClient::new(options).expect("the client builds")
}

/// A client for `sim` with its credentials and no pacing to speak of.
fn client(sim: &SimProcess) -> CscClient {
    client_with(sim, &sim.api_key, 100.0)
}

/// An engine with its state folder and a handle on its store (to read the journal).
struct Gateway {
    engine: Engine,
    store: Arc<RedbStore>,
    _dir: TempDir,
}

impl Gateway {
    async fn start(client: CscClient, options: EngineOptions) -> Gateway {
        init_logging();
        let dir = tempfile::tempdir().expect("a temporary state folder");
        let store = Arc::new(RedbStore::open(dir.path()).expect("the journal opens"));
        let engine = Engine::start(options, client, store.clone() as Arc<dyn Store>)
            .await
            .expect("the engine starts");
        Gateway {
            engine,
            store,
            _dir: dir,
        }
    }

    /// Submits `ops` for `zone`; panics unless the engine accepts them.
    async fn submit(&self, zone: &str, ops: Vec<Op>) -> u64 {
        self.engine
            .submit(zone, ops, ORIGIN)
            .await
            .unwrap_or_else(|err| panic!("submit to {zone} refused: {err}"))
    }

    /// Waits until the engine has no pending or in-flight work.
    async fn idle(&self) {
        wait_until("the engine to have no work left", async || {
            self.engine.work().is_empty()
        })
        .await;
    }

    /// How many changes the journal still holds.
    fn journaled(&self) -> usize {
        self.store.load().expect("the journal reads").changes.len()
    }
}

fn add(name: &str, value: &str) -> Op {
    Op::Add {
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

fn delete(name: &str, value: &str) -> Op {
    Op::DeleteValue {
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

/// Polls `check` every 50 ms until it holds; panics after [`DEADLINE`].
async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if check().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the TXT values at `key` of `zone` are exactly `expected` (in any order).
async fn wait_for_values(sim: &SimProcess, zone: &str, key: &str, expected: &[&str]) {
    let mut want: Vec<String> = expected.iter().map(|v| (*v).to_owned()).collect();
    want.sort();
    wait_until(
        &format!("{key} in {zone} to hold exactly {want:?}"),
        async || {
            let mut have = sim.txt_values(zone, key).await;
            have.sort();
            have == want
        },
    )
    .await;
}

/// Posts a foreign one-item ADD directly to the sim (as another tool would) and returns its id.
async fn foreign_add(sim: &SimProcess, zone: &str, key: &str, value: &str) -> String {
    assert!(value.starts_with("foreign"), "foreign values are marked");
    edit_id(&sim.post_edit(&add_txt(zone, key, value)).await)
}

/// The SPF record every sim zone is seeded with.
fn spf(zone: &str) -> String {
    format!("v=spf1 include:_spf.{zone} ~all")
}

// ---------------------------------------------------------------------------------------------
// Reading the call log

/// Every `POST /zones/edits` the engine sent (foreign edits carry values starting "foreign").
fn engine_posts(calls: &[Value]) -> Vec<&Value> {
    calls
        .iter()
        .filter(|c| c["method"] == "POST" && c["path"] == EDITS_PATH)
        .filter(|c| !c["requestBody"].to_string().contains("\"foreign"))
        .collect()
}

/// The engine's POSTs that CSC accepted (201).
fn accepted_posts(calls: &[Value]) -> Vec<&Value> {
    engine_posts(calls)
        .into_iter()
        .filter(|c| c["status"] == 201)
        .collect()
}

/// CSC's JSON error code of a call, if it answered one.
fn code(call: &Value) -> Option<&str> {
    call["responseBody"]["code"].as_str()
}

/// How many answers carried the error `wanted`.
fn count_code(calls: &[&Value], wanted: &str) -> usize {
    calls.iter().filter(|c| code(c) == Some(wanted)).count()
}

/// How many answers were CSC's plain-text rate-limit refusal.
fn rate_limited(calls: &[Value]) -> usize {
    calls
        .iter()
        .filter(|c| c["status"] == 400 && c["responseBody"] == RATE_LIMIT_BODY)
        .count()
}

/// `(action, key, value)` of every item a POST carried.
fn items(call: &Value) -> Vec<(String, String, String)> {
    call["requestBody"]["edits"]
        .as_array()
        .map(|edits| {
            edits
                .iter()
                .map(|e| {
                    let action = e["action"].as_str().unwrap_or("").to_owned();
                    let (key, value) = if action == "ADD" {
                        (&e["newKey"], &e["newValue"])
                    } else {
                        (&e["currentKey"], &e["currentValue"])
                    };
                    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
                    (action, text(key), text(value))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The edit id a 201 answer names (last segment of `links.status`).
fn created_id(call: &Value) -> String {
    call["responseBody"]["links"]["status"]
        .as_str()
        .and_then(|url| url.rsplit('/').next())
        .unwrap_or_else(|| panic!("no links.status in {call}"))
        .to_owned()
}

/// An RFC 3339 time of the call log or the edit list.
fn time(value: &Value) -> SystemTime {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    humantime::parse_rfc3339(text).unwrap_or_else(|err| panic!("bad time {text}: {err}"))
}

/// The sim's view of one edit (`GET /sim/edits`).
async fn sim_edit(sim: &SimProcess, id: &str) -> Value {
    sim.edits()
        .await
        .into_iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("the sim knows no edit {id}"))
}

/// Waits until the sim reports edit `id` as `status` and returns its view.
async fn wait_for_edit(sim: &SimProcess, id: &str, status: &str) -> Value {
    wait_until(&format!("edit {id} to be {status}"), async || {
        sim_edit(sim, id).await["status"] == status
    })
    .await;
    sim_edit(sim, id).await
}

// ---------------------------------------------------------------------------------------------
// Batching

/// Ten changes inside one batch window cost exactly one POST carrying all ten values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_changes_in_a_window_make_one_post() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "1"]);
    let gw = Gateway::start(client(&sim), options()).await;
    let values: Vec<String> = (0..10).map(|i| format!("token-{i}")).collect();
    // Concurrently, as ten UPDATEs from certbot's parallel runs would come (group commit).
    let mut tasks = tokio::task::JoinSet::new();
    for (i, value) in values.iter().enumerate() {
        let engine = gw.engine.clone();
        let ops = vec![add(&format!("_acme-challenge.n{i}.{ZONE}"), value)];
        tasks.spawn(async move { engine.submit(ZONE, ops, ORIGIN).await });
    }
    while let Some(result) = tasks.join_next().await {
        result.expect("task").expect("accepted");
    }
    for (i, value) in values.iter().enumerate() {
        wait_for_values(&sim, ZONE, &format!("_acme-challenge.n{i}"), &[value]).await;
    }
    gw.idle().await;
    let calls = sim.calls().await;
    let posts = engine_posts(&calls);
    assert_eq!(posts.len(), 1, "exactly one POST: {posts:#?}");
    assert_eq!(posts[0]["status"], 201);
    assert_eq!(items(posts[0]).len(), 10, "all ten values in it");
    assert_eq!(gw.engine.owned_values(), 10, "the ledger owns all ten");
    assert_eq!(gw.journaled(), 0, "the journal is empty once applied");
}

/// An add and a delete of one value inside a window cancel out: no POST at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_and_delete_inside_a_window_send_nothing() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "1"]);
    let gw = Gateway::start(client(&sim), options()).await;
    gw.submit(ZONE, vec![add(NAME, "fleeting")]).await;
    gw.submit(ZONE, vec![delete(NAME, "fleeting")]).await;
    gw.idle().await;
    // The worker read the zone and found nothing to change.
    wait_until("the worker to read the zone", async || {
        sim.calls()
            .await
            .iter()
            .any(|c| c["method"] == "GET" && c["path"] == "/dbs/api/v2/zones/example.com")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let calls = sim.calls().await;
    assert!(engine_posts(&calls).is_empty(), "no POST: {calls:#?}");
    assert!(sim.txt_values(ZONE, KEY).await.is_empty());
    assert_eq!(gw.journaled(), 0);
}

/// Changes that arrive while the engine's own edit holds the lock go out in exactly one more
/// POST, right after that edit completes (it waits on the status, so no conflicts bounce).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_during_an_open_own_edit_make_one_more_post() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "2"]);
    let gw = Gateway::start(client(&sim), options()).await;
    gw.submit(ZONE, vec![add(NAME, "first")]).await;
    wait_until("the first POST to be accepted", async || {
        !accepted_posts(&sim.calls().await).is_empty()
    })
    .await;
    let first_id = created_id(accepted_posts(&sim.calls().await)[0]);
    for value in ["second", "third", "fourth"] {
        gw.submit(ZONE, vec![add(NAME, value)]).await;
    }
    wait_for_values(&sim, ZONE, KEY, &["first", "second", "third", "fourth"]).await;
    gw.idle().await;
    let calls = sim.calls().await;
    let accepted = accepted_posts(&calls);
    assert_eq!(accepted.len(), 2, "two POSTs in all: {accepted:#?}");
    assert_eq!(
        items(accepted[1]).len(),
        3,
        "the second carries the three late values"
    );
    let first = sim_edit(&sim, &first_id).await;
    assert_eq!(first["status"], "COMPLETED");
    let completed = time(&first["modifiedDate"]);
    let second_posted = time(&accepted[1]["time"]);
    assert!(
        second_posted >= completed,
        "the second POST waited for the first edit to complete"
    );
    let lag = second_posted.duration_since(completed).unwrap_or_default();
    assert!(
        lag < Duration::from_secs(3),
        "and came right after it: {lag:?}"
    );
    let conflicts = count_code(&engine_posts(&calls), "OPEN_ZONE_EDITS");
    assert!(conflicts <= 1, "{conflicts} OPEN_ZONE_EDITS answers");
}

/// Zones are independent: edits of two zones are open at the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_zones_run_in_parallel() {
    let sim = SimProcess::start(&["--zones", "a.test,b.test", "--edit-seconds", "2"]);
    let gw = Gateway::start(client(&sim), options()).await;
    let (a, b) = tokio::join!(
        gw.submit("a.test", vec![add("_acme-challenge.a.test", "va")]),
        gw.submit("b.test", vec![add("_acme-challenge.b.test", "vb")]),
    );
    assert_ne!(a, b);
    wait_for_values(&sim, "a.test", "_acme-challenge", &["va"]).await;
    wait_for_values(&sim, "b.test", "_acme-challenge", &["vb"]).await;
    gw.idle().await;
    let calls = sim.calls().await;
    let accepted = accepted_posts(&calls);
    assert_eq!(accepted.len(), 2, "one POST per zone: {accepted:#?}");
    let edits: Vec<Value> = {
        let mut edits = Vec::new();
        for post in &accepted {
            edits.push(sim_edit(&sim, &created_id(post)).await);
        }
        edits
    };
    let zones: Vec<&str> = edits
        .iter()
        .filter_map(|e| e["zoneName"].as_str())
        .collect();
    assert!(
        zones.contains(&"a.test") && zones.contains(&"b.test"),
        "{zones:?}"
    );
    // Both held their zone's lock (2 s each, neither cancelled) and started less than 2 s
    // apart, so both were open at the same moment.
    let (t0, t1) = (
        time(&edits[0]["createdDate"]),
        time(&edits[1]["createdDate"]),
    );
    let apart = t1.duration_since(t0).unwrap_or_else(|e| e.duration());
    assert!(apart < Duration::from_secs(2), "edits {apart:?} apart");
    assert!(edits.iter().all(|e| e["status"] != "CANCELED"));
    assert_eq!(count_code(&engine_posts(&calls), "OPEN_ZONE_EDITS"), 0);
}

// ---------------------------------------------------------------------------------------------
// The zone lock and failed edits

/// A foreign edit holding the lock: the engine follows its status (at most one conflict
/// answer, no re-POSTing) and posts only once it is final.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_edit_is_waited_for_by_its_status() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "3"]);
    let gw = Gateway::start(client(&sim), options()).await;
    let foreign = foreign_add(&sim, ZONE, "other", "foreign-1").await;
    gw.submit(ZONE, vec![add(NAME, "ours")]).await;
    wait_for_values(&sim, ZONE, KEY, &["ours"]).await;
    gw.idle().await;
    let calls = sim.calls().await;
    let posts = engine_posts(&calls);
    let accepted = accepted_posts(&calls);
    assert_eq!(accepted.len(), 1, "{posts:#?}");
    assert!(
        count_code(&posts, "OPEN_ZONE_EDITS") <= 1,
        "the engine polled the status instead of re-POSTing: {posts:#?}"
    );
    let blocking = sim_edit(&sim, &foreign).await;
    assert_eq!(blocking["status"], "COMPLETED");
    assert!(
        time(&accepted[0]["time"]) >= time(&blocking["modifiedDate"]),
        "the engine's edit came only after the foreign edit was final"
    );
    if count_code(&posts, "OPEN_ZONE_EDITS") == 1 {
        let status_path = format!("/dbs/api/v2/zones/edits/status/{foreign}");
        assert!(
            calls
                .iter()
                .any(|c| c["method"] == "GET" && c["path"] == status_path),
            "the engine followed the blocking edit's status"
        );
    }
}

/// A FAILED own edit is cancelled (DELETE in the log) and retried once, which succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_edit_is_cancelled_and_retried() {
    // Every second accepted edit fails; a foreign edit in another zone takes number one, so the
    // engine's first edit fails and its retry succeeds.
    let sim = SimProcess::start(&[
        "--zones",
        "example.com,other.test",
        "--edit-seconds",
        "1",
        "--fail-every",
        "2",
    ]);
    foreign_add(&sim, "other.test", "x", "foreign-1").await;
    let gw = Gateway::start(client(&sim), options()).await;
    gw.submit(ZONE, vec![add(NAME, "retried")]).await;
    wait_for_values(&sim, ZONE, KEY, &["retried"]).await;
    gw.idle().await;
    let calls = sim.calls().await;
    let accepted = accepted_posts(&calls);
    assert_eq!(
        accepted.len(),
        2,
        "the failed edit and its retry: {accepted:#?}"
    );
    let failed = created_id(accepted[0]);
    let cancel_path = format!("{EDITS_PATH}/{failed}");
    let cancel = calls
        .iter()
        .find(|c| c["method"] == "DELETE" && c["path"] == cancel_path)
        .unwrap_or_else(|| panic!("no DELETE of the failed edit {failed}"));
    assert!(
        cancel["status"]
            .as_u64()
            .is_some_and(|s| (200..300).contains(&s))
    );
    assert!(
        cancel["seq"].as_u64() < accepted[1]["seq"].as_u64(),
        "cancelled before the retry"
    );
    assert_eq!(sim_edit(&sim, &failed).await["status"], "CANCELED");
    assert_eq!(gw.engine.owned_values(), 1);
    assert_eq!(gw.journaled(), 0);
}

/// An edit that fails twice gives its changes up: both cancelled, nothing applied, the journal
/// empty, no third POST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twice_failed_changes_are_given_up() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "1", "--fail-every", "1"]);
    let gw = Gateway::start(client(&sim), options()).await;
    gw.submit(ZONE, vec![add(NAME, "doomed")]).await;
    gw.idle().await;
    wait_until("two cancels in the log", async || {
        sim.calls()
            .await
            .iter()
            .filter(|c| c["method"] == "DELETE")
            .count()
            >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let calls = sim.calls().await;
    let accepted = accepted_posts(&calls);
    assert_eq!(accepted.len(), 2, "one try and one retry: {accepted:#?}");
    for post in &accepted {
        assert_eq!(
            sim_edit(&sim, &created_id(post)).await["status"],
            "CANCELED"
        );
    }
    assert_eq!(calls.iter().filter(|c| c["method"] == "DELETE").count(), 2);
    assert!(
        sim.txt_values(ZONE, KEY).await.is_empty(),
        "nothing applied"
    );
    assert!(gw.engine.work().is_empty());
    assert_eq!(gw.journaled(), 0, "the given-up change left the journal");
    assert_eq!(gw.engine.owned_values(), 0);
}

// ---------------------------------------------------------------------------------------------
// Faults, pacing, credentials

/// With 30 % of all calls answered 500, the engine still converges to the right records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_through_injected_server_errors() {
    let sim = SimProcess::start(&[
        "--zones",
        ZONE,
        "--edit-seconds",
        "1",
        "--error-rate",
        "0.3",
    ]);
    let gw = Gateway::start(client(&sim), options()).await;
    for value in ["a", "b", "c", "d"] {
        gw.submit(ZONE, vec![add(NAME, value)]).await;
    }
    wait_for_values(&sim, ZONE, KEY, &["a", "b", "c", "d"]).await;
    gw.idle().await;
    gw.submit(
        ZONE,
        vec![delete(NAME, "a"), delete(NAME, "c"), add(NAME, "e")],
    )
    .await;
    wait_for_values(&sim, ZONE, KEY, &["b", "d", "e"]).await;
    gw.idle().await;
    let calls = sim.calls().await;
    let faults = calls.iter().filter(|c| c["status"] == 500).count();
    eprintln!("{faults} of {} calls answered 500", calls.len());
    let posts = engine_posts(&calls);
    assert_eq!(count_code(&posts, "DUPLICATE_RECORD"), 0, "{posts:#?}");
    assert_eq!(count_code(&posts, "RECORD_NOT_FOUND"), 0, "{posts:#?}");
    assert_eq!(sim.txt_values(ZONE, "@").await, [spf(ZONE)]);
    assert_eq!(gw.engine.owned_values(), 3);
    assert_eq!(gw.journaled(), 0);
}

/// Under CSC's rate limit (3/s here) with the client limiter at 2/s, two busy zones converge
/// and CSC never answers the rate-limit refusal: the gateway never exceeded it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stays_under_a_low_rate_limit() {
    let sim = SimProcess::start(&[
        "--zones",
        "a.test,b.test",
        "--edit-seconds",
        "1",
        "--rate-limit",
        "3",
    ]);
    let mut opts = options();
    opts.poll_interval = Duration::from_millis(50);
    let gw = Gateway::start(client_with(&sim, &sim.api_key, 2.0), opts).await;
    for zone in ["a.test", "b.test"] {
        for value in ["one", "two"] {
            gw.submit(zone, vec![add(&format!("_acme-challenge.{zone}"), value)])
                .await;
        }
    }
    wait_for_values(&sim, "a.test", "_acme-challenge", &["one", "two"]).await;
    wait_for_values(&sim, "b.test", "_acme-challenge", &["one", "two"]).await;
    gw.idle().await;
    let calls = sim.calls().await;
    assert!(
        calls.len() >= 8,
        "enough traffic to matter: {}",
        calls.len()
    );
    assert_eq!(rate_limited(&calls), 0, "rate-limit answers in {calls:#?}");
    assert_eq!(accepted_posts(&calls).len(), 2);
}

/// Rejected credentials: submits fail fast with NotReady, CSC sees a handful of calls (one per
/// `credentials_retry`), and once CSC accepts the credentials again the engine is ready again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_credentials_fail_fast_without_a_retry_storm() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "1"]);
    let port = sim.origin.rsplit(':').next().expect("a port").to_owned();
    let gw = Gateway::start(client_with(&sim, "wrong-api-key", 100.0), options()).await;
    let started = Instant::now();
    for _ in 0..20 {
        let refused = gw.engine.submit(ZONE, vec![add(NAME, "v")], ORIGIN).await;
        assert!(
            matches!(refused, Err(SubmitError::NotReady(_))),
            "{refused:?}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "fast: {:?}",
        started.elapsed()
    );
    assert!(gw.engine.not_ready_reason().is_some());
    // Over ~4.5 s with credentials_retry = 2 s: the first read plus about two retries.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let calls = sim.calls().await;
    assert!(calls.iter().all(|c| c["status"] == 401), "{calls:#?}");
    assert!(
        (1..=5).contains(&calls.len()),
        "no retry storm: {} calls",
        calls.len()
    );
    assert!(engine_posts(&calls).is_empty());
    assert_eq!(gw.journaled(), 0, "refused changes were never journaled");

    // CSC starts accepting the engine's key (a sim on the same port that expects it).
    drop(sim);
    let sim = SimProcess::start(&[
        "--zones",
        ZONE,
        "--edit-seconds",
        "1",
        "--http",
        &format!("127.0.0.1:{port}"),
        "--api-key",
        "wrong-api-key",
    ]);
    wait_until("the engine to be ready again", async || {
        gw.engine.not_ready_reason().is_none()
    })
    .await;
    gw.submit(ZONE, vec![add(NAME, "after")]).await;
    wait_for_values(&sim, ZONE, KEY, &["after"]).await;
    assert_eq!(accepted_posts(&sim.calls().await).len(), 1);
}

/// Credentials rejected while a change is queued: the acknowledged change waits (the worker
/// tries once per `credentials_retry`, new submits fail fast) and is delivered once CSC accepts
/// the credentials again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_change_survives_a_credentials_outage() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "1"]);
    let port = sim.origin.rsplit(':').next().expect("a port").to_owned();
    let http = format!("127.0.0.1:{port}");
    let gw = Gateway::start(client(&sim), options()).await;
    assert!(gw.engine.not_ready_reason().is_none());
    // CSC stops accepting the gateway's key.
    drop(sim);
    let rejecting = SimProcess::start(&["--zones", ZONE, "--http", &http, "--api-key", "rotated"]);
    gw.submit(ZONE, vec![add(NAME, "patient")]).await;
    wait_until("the engine to report not-ready", async || {
        gw.engine.not_ready_reason().is_some()
    })
    .await;
    let refused = gw.engine.submit(ZONE, vec![add(NAME, "v")], ORIGIN).await;
    assert!(
        matches!(refused, Err(SubmitError::NotReady(_))),
        "{refused:?}"
    );
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let calls = rejecting.calls().await;
    assert!(
        (1..=4).contains(&calls.len()),
        "no retry storm: {} calls",
        calls.len()
    );
    assert_eq!(
        gw.journaled(),
        1,
        "the acknowledged change waits in the journal"
    );
    // CSC accepts the key again.
    drop(rejecting);
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "1", "--http", &http]);
    wait_for_values(&sim, ZONE, KEY, &["patient"]).await;
    gw.idle().await;
    assert!(gw.engine.not_ready_reason().is_none());
    assert_eq!(accepted_posts(&sim.calls().await).len(), 1);
    assert_eq!(gw.journaled(), 0);
}

// ---------------------------------------------------------------------------------------------
// Ownership

/// An RRset delete removes only the values the engine added: the apex SPF record and a foreign
/// value under the same name survive; the desired view hides the owned value at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rrset_delete_keeps_foreign_values() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "1"]);
    let foreign = foreign_add(&sim, ZONE, KEY, "foreign-verification").await;
    wait_for_edit(&sim, &foreign, "COMPLETED").await;
    let gw = Gateway::start(client(&sim), options()).await;
    gw.submit(ZONE, vec![add(NAME, "ours")]).await;
    wait_for_values(&sim, ZONE, KEY, &["foreign-verification", "ours"]).await;
    gw.idle().await;
    assert_eq!(gw.engine.owned_values(), 1);

    gw.submit(
        ZONE,
        vec![
            Op::DeleteRrset {
                name: NAME.to_owned(),
                foreign: false,
            },
            Op::DeleteName {
                name: ZONE.to_owned(),
                foreign: false,
            },
        ],
    )
    .await;
    let desired = gw.engine.desired_zone(ZONE).expect("a known zone");
    let values: Vec<(&str, &str)> = desired
        .txt
        .iter()
        .map(|r| (r.key.as_str(), r.value.as_str()))
        .collect();
    assert!(
        !values.contains(&(KEY, "ours")),
        "owned value hidden: {values:?}"
    );
    assert!(
        values.contains(&(KEY, "foreign-verification")),
        "{values:?}"
    );
    let spf_value = spf(ZONE);
    assert!(values.contains(&("@", spf_value.as_str())), "{values:?}");

    wait_for_values(&sim, ZONE, KEY, &["foreign-verification"]).await;
    gw.idle().await;
    assert_eq!(
        sim.txt_values(ZONE, "@").await,
        [spf(ZONE)],
        "SPF untouched"
    );
    let calls = sim.calls().await;
    let accepted = accepted_posts(&calls);
    assert_eq!(accepted.len(), 2, "{accepted:#?}");
    assert_eq!(
        items(accepted[1]),
        [("PURGE".to_owned(), KEY.to_owned(), "ours".to_owned())],
        "the delete purged our value only"
    );
    assert_eq!(gw.engine.owned_values(), 0);
}

/// The desired view shows a pending add before CSC has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desired_view_shows_pending_adds() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "1"]);
    let mut opts = options();
    opts.batch_window = Duration::from_millis(1500);
    opts.batch_max_wait = Duration::from_secs(5);
    let gw = Gateway::start(client(&sim), opts).await;
    let before = gw.engine.desired_zone(ZONE).expect("a known zone");
    assert!(!before.txt.iter().any(|r| r.key == KEY));
    assert!(gw.engine.desired_zone("unknown.test").is_none());
    gw.submit(ZONE, vec![add(NAME, "pending")]).await;
    let desired = gw.engine.desired_zone(ZONE).expect("a known zone");
    let record = desired
        .txt
        .iter()
        .find(|r| r.key == KEY && r.value == "pending")
        .unwrap_or_else(|| panic!("pending add not in the desired view: {desired:?}"));
    assert_eq!(record.status.as_deref(), Some("PENDING"));
    assert!(
        sim.txt_values(ZONE, KEY).await.is_empty(),
        "CSC does not have it yet"
    );
    wait_for_values(&sim, ZONE, KEY, &["pending"]).await;
    gw.idle().await;
    let desired = gw.engine.desired_zone(ZONE).expect("a known zone");
    assert!(
        desired
            .txt
            .iter()
            .any(|r| r.key == KEY && r.value == "pending")
    );
}

/// A value the engine added and nobody deleted is purged after `orphan_ttl`, by a later POST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_are_purged_after_their_ttl() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "1"]);
    let mut opts = options();
    opts.orphan_ttl = Duration::from_secs(2);
    let gw = Gateway::start(client(&sim), opts).await;
    gw.submit(ZONE, vec![add(NAME, "forgotten")]).await;
    wait_for_values(&sim, ZONE, KEY, &["forgotten"]).await;
    let added = Instant::now();
    wait_for_values(&sim, ZONE, KEY, &[]).await;
    assert!(
        added.elapsed() >= Duration::from_millis(1000),
        "purged only after its TTL: {:?}",
        added.elapsed()
    );
    wait_until("the ledger to forget the value", async || {
        gw.engine.owned_values() == 0
    })
    .await;
    gw.idle().await;
    let calls = sim.calls().await;
    let accepted = accepted_posts(&calls);
    assert_eq!(accepted.len(), 2, "{accepted:#?}");
    assert_eq!(
        items(accepted[1]),
        [("PURGE".to_owned(), KEY.to_owned(), "forgotten".to_owned())]
    );
    assert_eq!(sim.txt_values(ZONE, "@").await, [spf(ZONE)]);
}

// ---------------------------------------------------------------------------------------------
// Reply mode "accepted"

/// In `accepted` mode submit returns only once CSC answered 201 for an edit carrying the
/// change: the POST is in the log by then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_mode_returns_after_csc_accepted() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "1"]);
    let mut opts = options();
    opts.reply = ReplyMode::Accepted;
    let gw = Gateway::start(client(&sim), opts).await;
    let started = Instant::now();
    gw.submit(ZONE, vec![add(NAME, "confirmed")]).await;
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "waited for the batch window"
    );
    let calls = sim.calls().await;
    let accepted = accepted_posts(&calls);
    assert_eq!(
        accepted.len(),
        1,
        "the 201 came before the reply: {calls:#?}"
    );
    assert!(items(accepted[0]).contains(&(
        "ADD".to_owned(),
        KEY.to_owned(),
        "confirmed".to_owned()
    )));
    wait_for_values(&sim, ZONE, KEY, &["confirmed"]).await;
    gw.idle().await;
}

/// In `accepted` mode, a foreign lock longer than `reply_timeout` withdraws the change: the
/// submit times out and the value never reaches CSC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_mode_withdraws_what_csc_did_not_take_in_time() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "4"]);
    let mut opts = options();
    opts.reply = ReplyMode::Accepted;
    opts.reply_timeout = Duration::from_secs(1);
    let gw = Gateway::start(client(&sim), opts).await;
    let foreign = foreign_add(&sim, ZONE, "other", "foreign-lock").await;
    let result = gw
        .engine
        .submit(ZONE, vec![add(NAME, "late")], ORIGIN)
        .await;
    assert!(
        matches!(result, Err(SubmitError::TimedOut(_))),
        "{result:?}"
    );
    assert_eq!(gw.journaled(), 0, "withdrawn from the journal");
    wait_for_edit(&sim, &foreign, "COMPLETED").await;
    gw.idle().await;
    // Past the lock, the worker recomputes its (now empty) batch: nothing to send.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let calls = sim.calls().await;
    let posts = engine_posts(&calls);
    assert!(
        posts.iter().all(|c| c["status"] != 201),
        "no edit carried the withdrawn change: {posts:#?}"
    );
    assert!(sim.txt_values(ZONE, KEY).await.is_empty());
    assert_eq!(gw.engine.owned_values(), 0);
}

/// A change withdrawn while it waited behind the engine's own open edit leaves the zone working:
/// later changes of that zone are still delivered (the worker must not stop believing it runs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_change_does_not_stall_the_zone() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "4"]);
    let mut opts = options();
    opts.reply = ReplyMode::Accepted;
    opts.reply_timeout = Duration::from_millis(1500);
    let gw = Gateway::start(client(&sim), opts).await;
    gw.submit(ZONE, vec![add(NAME, "first")]).await;
    // Waits behind the open edit (4 s) longer than reply_timeout: withdrawn.
    let late = gw
        .engine
        .submit(ZONE, vec![add(NAME, "late")], ORIGIN)
        .await;
    assert!(matches!(late, Err(SubmitError::TimedOut(_))), "{late:?}");
    let first_id = created_id(accepted_posts(&sim.calls().await)[0]);
    wait_for_edit(&sim, &first_id, "COMPLETED").await;
    gw.idle().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The zone still has a worker for new changes.
    gw.submit(ZONE, vec![add(NAME, "next")]).await;
    wait_for_values(&sim, ZONE, KEY, &["first", "next"]).await;
    let calls = sim.calls().await;
    assert_eq!(
        accepted_posts(&calls).len(),
        2,
        "the withdrawn value never went out"
    );
}

// ---------------------------------------------------------------------------------------------
// Crash and restart

/// An engine in a runtime of its own, so the test can "crash" it: shutting the runtime down
/// stops every task where it stands, as a kill would.
struct Crashable {
    runtime: tokio::runtime::Runtime,
    engine: Engine,
}

impl Crashable {
    async fn start(client: CscClient, options: EngineOptions, store: Arc<RedbStore>) -> Self {
        init_logging();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let engine = runtime
            .spawn(Engine::start(options, client, store as Arc<dyn Store>))
            .await
            .expect("the start task")
            .expect("the engine starts");
        Crashable { runtime, engine }
    }

    async fn submit(&self, zone: &str, ops: Vec<Op>) -> u64 {
        let engine = self.engine.clone();
        let zone = zone.to_owned();
        self.runtime
            .spawn(async move { engine.submit(&zone, ops, ORIGIN).await })
            .await
            .expect("the submit task")
            .expect("accepted")
    }

    /// Stops every task at once; the journal writer finishes what it was given and exits.
    fn crash(self) {
        drop(self.engine);
        self.runtime.shutdown_background();
    }
}

/// Opens the journal again once the crashed engine's writer has let go of it.
async fn reopen(dir: &TempDir) -> Arc<RedbStore> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match RedbStore::open(dir.path()) {
            Ok(store) => return Arc::new(store),
            Err(err) => {
                assert!(Instant::now() < deadline, "the journal stays locked: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Asserts no CSC answer refused a duplicate ADD.
fn assert_no_duplicates(calls: &[Value]) {
    let dups: Vec<&Value> = calls
        .iter()
        .filter(|c| code(c) == Some("DUPLICATE_RECORD"))
        .collect();
    assert!(dups.is_empty(), "duplicate ADDs: {dups:#?}");
}

/// A crash after the changes were acknowledged but before their batch window closed: the next
/// engine re-batches them and applies each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_before_the_post_rebatches_pending_changes() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "1"]);
    let dir = tempfile::tempdir().expect("a state folder");
    let store = Arc::new(RedbStore::open(dir.path()).expect("the journal opens"));
    let mut opts = options();
    opts.batch_window = Duration::from_secs(2);
    opts.batch_max_wait = Duration::from_secs(5);
    let first = Crashable::start(client(&sim), opts.clone(), store.clone()).await;
    first.submit(ZONE, vec![add(NAME, "one")]).await;
    first
        .submit(ZONE, vec![add(NAME, "two"), delete(NAME, "one")])
        .await;
    first.submit(ZONE, vec![add(NAME, "three")]).await;
    first.crash();
    assert_eq!(
        store.load().expect("reads").changes.len(),
        3,
        "all three journaled"
    );
    drop(store);
    assert!(
        engine_posts(&sim.calls().await).is_empty(),
        "crashed before any POST"
    );

    let store = reopen(&dir).await;
    let second = Crashable::start(client(&sim), opts, store.clone()).await;
    wait_for_values(&sim, ZONE, KEY, &["two", "three"]).await;
    wait_until("the journal to empty", async || {
        store.load().expect("reads").changes.is_empty()
    })
    .await;
    let calls = sim.calls().await;
    assert_eq!(accepted_posts(&calls).len(), 1, "one edit for the three");
    assert_no_duplicates(&calls);
    assert_eq!(second.engine.owned_values(), 2);
    second.crash();
}

/// A crash after the POST, with the edit id journaled: the next engine follows that edit and
/// sends no new POST for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_the_post_follows_the_journaled_edit() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "2"]);
    let dir = tempfile::tempdir().expect("a state folder");
    let store = Arc::new(RedbStore::open(dir.path()).expect("the journal opens"));
    let first = Crashable::start(client(&sim), options(), store.clone()).await;
    first.submit(ZONE, vec![add(NAME, "in-flight")]).await;
    wait_until("the edit id to be journaled", async || {
        store
            .load()
            .expect("reads")
            .changes
            .iter()
            .any(|c| c.edit_id.is_some())
    })
    .await;
    first.crash();
    let journaled_id = store.load().expect("reads").changes[0]
        .edit_id
        .clone()
        .expect("an edit id");
    drop(store);
    let calls_at_crash = sim.calls().await.len();

    let store = reopen(&dir).await;
    let second = Crashable::start(client(&sim), options(), store.clone()).await;
    wait_for_values(&sim, ZONE, KEY, &["in-flight"]).await;
    wait_until("the journal to empty", async || {
        store.load().expect("reads").changes.is_empty()
    })
    .await;
    let calls = sim.calls().await;
    let accepted = accepted_posts(&calls);
    assert_eq!(
        accepted.len(),
        1,
        "no new POST after the restart: {accepted:#?}"
    );
    assert_eq!(created_id(accepted[0]), journaled_id);
    let status_path = format!("/dbs/api/v2/zones/edits/status/{journaled_id}");
    assert!(
        calls[calls_at_crash..]
            .iter()
            .any(|c| c["method"] == "GET" && c["path"] == status_path),
        "the new engine followed the journaled edit"
    );
    assert_no_duplicates(&calls);
    assert_eq!(second.engine.owned_values(), 1, "the ledger owns the value");
    second.crash();
}

/// A crash between CSC accepting the POST and the edit id reaching the journal (played here by
/// posting the lost edit directly): the next engine finds the value there and adds nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_an_unjournaled_post_adds_nothing_twice() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "2"]);
    let dir = tempfile::tempdir().expect("a state folder");
    let store = Arc::new(RedbStore::open(dir.path()).expect("the journal opens"));
    let mut opts = options();
    opts.batch_window = Duration::from_secs(2);
    let first = Crashable::start(client(&sim), opts, store.clone()).await;
    first.submit(ZONE, vec![add(NAME, "lost-post")]).await;
    first.crash();
    drop(store);
    // The POST the crashed engine "sent": the same single ADD.
    let lost = edit_id(&sim.post_edit(&add_txt(ZONE, KEY, "lost-post")).await);

    let store = reopen(&dir).await;
    let second = Crashable::start(client(&sim), options(), store.clone()).await;
    wait_until("the journal to empty", async || {
        store.load().expect("reads").changes.is_empty()
    })
    .await;
    wait_for_values(&sim, ZONE, KEY, &["lost-post"]).await;
    let calls = sim.calls().await;
    let accepted = accepted_posts(&calls);
    assert_eq!(accepted.len(), 1, "only the lost POST: {accepted:#?}");
    assert_eq!(created_id(accepted[0]), lost);
    assert_no_duplicates(&calls);
    assert_eq!(second.engine.owned_values(), 1);
    second.crash();
}

/// A lost POST whose edit then FAILED (played by posting the same single ADD directly while
/// the sim fails every second edit): the engine's own POST bounces off it, the engine sees the
/// blocking edit carries exactly its items, cancels it as its own, and delivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_lost_post_is_recognised_and_cancelled() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "1", "--fail-every", "2"]);
    // Edit #1 succeeds and is unrelated; edit #2 is the "lost" one and fails.
    let first = edit_id(
        &sim.post_edit(&add_txt(ZONE, "_acme-challenge.other", "x"))
            .await,
    );
    wait_for_edit(&sim, &first, "COMPLETED").await;
    let lost = edit_id(&sim.post_edit(&add_txt(ZONE, KEY, "lost-and-failed")).await);
    wait_for_edit(&sim, &lost, "FAILED").await;

    let gateway = Gateway::start(client(&sim), options()).await;
    gateway
        .submit(ZONE, vec![add(NAME, "lost-and-failed")])
        .await;
    wait_for_values(&sim, ZONE, KEY, &["lost-and-failed"]).await;
    gateway.idle().await;
    let calls = sim.calls().await;
    let cancel_path = format!("{EDITS_PATH}/{lost}");
    assert!(
        calls
            .iter()
            .any(|c| c["method"] == "DELETE" && c["path"] == cancel_path),
        "the engine cancelled the failed edit carrying its items"
    );
    assert_no_duplicates(&calls);
}

/// `batch_max_changes` caps one edit: 7 changes with a cap of 3 travel in 3 edits (3, 3, 1), one
/// after the other, and all arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_batch_is_split_at_batch_max_changes() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "0.5"]);
    let mut opts = options();
    opts.batch_max_changes = 3;
    let gateway = Gateway::start(client(&sim), opts).await;
    let values: Vec<String> = (0..7).map(|i| format!("split-{i}")).collect();
    for value in &values {
        gateway.submit(ZONE, vec![add(NAME, value)]).await;
    }
    let expected: Vec<&str> = values.iter().map(String::as_str).collect();
    wait_for_values(&sim, ZONE, KEY, &expected).await;
    gateway.idle().await;
    let calls = sim.calls().await;
    let sizes: Vec<usize> = accepted_posts(&calls)
        .iter()
        .map(|c| items(c).len())
        .collect();
    assert_eq!(sizes, vec![3, 3, 1], "edit sizes");
    assert_no_duplicates(&calls);
}

/// `max_pending` bounds what waits for CSC: past it, submits are refused as Busy, nothing is
/// journaled for them, and the accepted changes are delivered as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_pending_refuses_changes_past_the_bound() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "0.5"]);
    let mut opts = options();
    opts.max_pending = 2;
    opts.batch_window = Duration::from_secs(2);
    let gateway = Gateway::start(client(&sim), opts).await;
    gateway.submit(ZONE, vec![add(NAME, "p1")]).await;
    gateway.submit(ZONE, vec![add(NAME, "p2")]).await;
    let refused = gateway
        .engine
        .submit(ZONE, vec![add(NAME, "p3")], ORIGIN)
        .await;
    assert!(
        matches!(refused, Err(SubmitError::Busy { waiting: 2, .. })),
        "{refused:?}"
    );
    assert_eq!(
        gateway.journaled(),
        2,
        "the refused change was not journaled"
    );
    wait_for_values(&sim, ZONE, KEY, &["p1", "p2"]).await;
    gateway.idle().await;
    gateway.submit(ZONE, vec![add(NAME, "p3")]).await;
    wait_for_values(&sim, ZONE, KEY, &["p1", "p2", "p3"]).await;
}
