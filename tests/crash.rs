//! The crash test: the real gateway is killed with SIGKILL at pseudo-random points of a run of
//! acknowledged changes, restarted on the same state folder each time, and the simulated CSC must
//! end with exactly the records those changes ask for — nothing lost, nothing applied twice.
//!
//! The scenario ([`acknowledged_changes_survive_random_kills`]):
//! - a sim with 1 s edits serves `example.com`, seeded with its SPF record at the apex and one
//!   foreign verification value at `_acme-challenge.0` (added straight at the sim, so the gateway
//!   does not own it and RRset deletes must keep it);
//! - [`STEPS`] nsupdate UPDATEs over [`NAMES`] names: adds of fresh values, deletes of single
//!   values, RRset deletes (`update delete NAME TXT`), re-adds of deleted values, and
//!   delete-one-add-another in one message; with random pauses between them so changes land in
//!   one batch window, while an own edit is open, or on an idle zone;
//! - seven kills, one of each kind of [`Kill`]: right after the acknowledgement (inside the batch
//!   window), around the window's close, at a random delay up to 1.5 s, right after the sim
//!   accepted the POST carrying the change, while the gateway follows that edit, after its records
//!   were applied but before it completed, and a second kill during the recovery after a restart.
//!   Each kill is followed by a random downtime (the sim's edits keep moving meanwhile).
//!
//! Kills happen only between nsupdate calls, never while one is waiting for its answer, so every
//! UPDATE sent is acknowledged (nsupdate must report success) and the expected records are known
//! exactly: the check is equality, not a range of tolerated outcomes.
//!
//! At the end the test waits until the gateway is idle (the records match, no edit holds the zone
//! lock, no POST for a while), then checks: the sim's TXT records equal the expected ones; the call
//! log has no `DUPLICATE_RECORD` or `RECORD_NOT_FOUND` (and no refusal other than
//! `OPEN_ZONE_EDITS`); replaying the accepted POSTs over the seeded records reaches exactly the
//! final records; no value was ADDed more often than clients acknowledged adding it; the SPF record
//! and the foreign value are untouched; and the journal left on disk holds no change and a ledger
//! of exactly the values the gateway created and that are still published.
//!
//! The plan (updates, pauses, kill points and kinds, downtimes) comes from one seed, printed at
//! the start; `CRASH_SEED=<seed> cargo test --test crash` replays it (timings still vary).
//!
//! Two more tests set up the narrowest crash window exactly — after CSC accepted a POST, before
//! the gateway journaled the edit id — which the random run only hits by luck (the kill follows
//! the POST within a few milliseconds, about the time the journal commit takes):
//! [`an_edit_whose_id_was_lost_is_awaited_before_trusting_an_empty_diff`] and
//! [`values_created_by_an_edit_whose_id_was_lost_are_owned`].

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde_json::Value;

use common::gateway::{GatewayProcess, TestKey};
use common::{SimProcess, add_txt, edit_id};
use csc_rfc2136::engine::change::{Change, Op};
use csc_rfc2136::engine::redb_store::RedbStore;
use csc_rfc2136::engine::store::{Mutation, Store};

const ZONE: &str = "example.com";
/// How many `_acme-challenge.<n>` names the run spreads over.
const NAMES: usize = 4;
/// How many acknowledged UPDATEs the run sends.
const STEPS: usize = 36;
/// The sim's edit time: NEW/PROCESSING until 0.5 s, records applied then, COMPLETED at 1 s.
const EDIT_SECONDS: &str = "1";
const EDITS_PATH: &str = "/dbs/api/v2/zones/edits";
const SPF: &str = "v=spf1 include:_spf.example.com ~all";
/// A value the gateway did not create: RRset deletes at its name must keep it.
const FOREIGN_KEY: &str = "_acme-challenge.0";
const FOREIGN_VALUE: &str = "foreign-verification";

/// TXT values per CSC key (relative, lower case, `@` for the apex).
type Txt = BTreeMap<String, BTreeSet<String>>;

// ---------------------------------------------------------------------------------------------
// The plan

/// One UPDATE message, on the TXT records of one `_acme-challenge.<n>` name.
#[derive(Debug, Clone)]
enum Update {
    Add {
        key: String,
        value: String,
    },
    Delete {
        key: String,
        value: String,
    },
    /// `update delete NAME TXT` (class ANY): removes only the values the gateway owns.
    DeleteRrset {
        key: String,
    },
    /// Delete one value and add another in the same message.
    Replace {
        key: String,
        old: String,
        new: String,
    },
}

impl Update {
    /// The nsupdate lines of the message (without `server`, `zone` and `send`).
    fn script(&self) -> String {
        let owner = |key: &str| format!("{key}.{ZONE}.");
        match self {
            Update::Add { key, value } => format!("update add {} 60 TXT \"{value}\"\n", owner(key)),
            Update::Delete { key, value } => {
                format!("update delete {} TXT \"{value}\"\n", owner(key))
            }
            Update::DeleteRrset { key } => format!("update delete {} TXT\n", owner(key)),
            Update::Replace { key, old, new } => format!(
                "update delete {0} TXT \"{old}\"\nupdate add {0} 60 TXT \"{new}\"\n",
                owner(key)
            ),
        }
    }

    /// Applies the message to the gateway-owned values (the foreign value is kept apart, so an
    /// RRset delete simply empties the name here).
    fn apply(&self, owned: &mut Txt) {
        match self {
            Update::Add { key, value } => {
                owned.entry(key.clone()).or_default().insert(value.clone());
            }
            Update::Delete { key, value } => {
                owned.entry(key.clone()).or_default().remove(value);
            }
            Update::DeleteRrset { key } => {
                owned.remove(key);
            }
            Update::Replace { key, old, new } => {
                let values = owned.entry(key.clone()).or_default();
                values.remove(old);
                values.insert(new.clone());
            }
        }
        owned.retain(|_, values| !values.is_empty());
    }

    /// The value this message adds, if any.
    fn added(&self) -> Option<&str> {
        match self {
            Update::Add { value, .. } | Update::Replace { new: value, .. } => Some(value),
            _ => None,
        }
    }
}

/// Where, after an acknowledged change, the gateway is killed.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// At once: the change is only in the journal, inside the batch window.
    AfterAck,
    /// This many ms on, around the close of the 300 ms batch window (just before or after the POST).
    AroundWindowClose(u64),
    /// This many ms on (0–1500): in the window, at the POST, or while the edit is followed.
    AfterDelay(u64),
    /// As soon as the sim accepted the POST carrying the change (the edit id may not be journaled).
    AfterPost,
    /// This many ms after that POST, while the gateway follows the edit (not applied yet).
    WhileFollowing(u64),
    /// Once the edit's records are applied (PROPAGATING), before the edit completed.
    AfterApply,
    /// As `AfterPost`, then again this many ms after the restart, while the gateway resumes.
    DuringRecovery(u64),
}

impl Kill {
    /// Whether the kill waits for the POST carrying the change (which must then add a value).
    fn needs_post(self) -> bool {
        matches!(
            self,
            Kill::AfterPost | Kill::WhileFollowing(_) | Kill::AfterApply | Kill::DuringRecovery(_)
        )
    }
}

/// Everything the seed decides.
struct Plan {
    updates: Vec<Update>,
    /// The pause after each step (unless the gateway is killed after it).
    pauses: Vec<Duration>,
    /// Step → (kill, downtime before the restart).
    kills: BTreeMap<usize, (Kill, Duration)>,
}

impl Plan {
    fn new(seed: u64) -> Plan {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut kinds = vec![
            Kill::AfterAck,
            Kill::AroundWindowClose(rng.random_range(250..=450)),
            Kill::AfterDelay(rng.random_range(0..=1500)),
            Kill::AfterPost,
            Kill::WhileFollowing(rng.random_range(0..=350)),
            Kill::AfterApply,
            Kill::DuringRecovery(rng.random_range(0..=400)),
        ];
        kinds.shuffle(&mut rng);
        // One kill in each of equal segments of the run, never on the first two steps (so the
        // zone has values) nor on the last (so changes follow the last restart).
        let span = (STEPS - 3) / kinds.len();
        let mut kills = BTreeMap::new();
        for (i, kind) in kinds.into_iter().enumerate() {
            let step = 2 + i * span + rng.random_range(0..span);
            let downtime = Duration::from_millis(rng.random_range(0..=1200));
            kills.insert(step, (kind, downtime));
        }

        let mut owned = Txt::new();
        let mut deleted: Vec<(String, String)> = Vec::new();
        let mut updates = Vec::new();
        let mut pauses = Vec::new();
        for step in 0..STEPS {
            let key = format!("_acme-challenge.{}", rng.random_range(0..NAMES));
            let fresh = format!("tok-{step}");
            let present: Vec<String> = owned.get(&key).into_iter().flatten().cloned().collect();
            let readd: Vec<&(String, String)> = deleted
                .iter()
                .filter(|(k, v)| *k == key && !present.contains(v))
                .collect();
            let roll = if kills.get(&step).is_some_and(|(k, _)| k.needs_post()) {
                0 // a fresh add, so a POST must carry it
            } else {
                rng.random_range(0..100)
            };
            let update = match roll {
                45..70 if !present.is_empty() => Update::Delete {
                    value: present.choose(&mut rng).expect("non-empty").clone(),
                    key,
                },
                70..80 if !readd.is_empty() => Update::Add {
                    value: readd.choose(&mut rng).expect("non-empty").1.clone(),
                    key,
                },
                80..90 if !present.is_empty() => Update::DeleteRrset { key },
                90..100 if !present.is_empty() => Update::Replace {
                    old: present.choose(&mut rng).expect("non-empty").clone(),
                    new: fresh,
                    key,
                },
                _ => Update::Add { key, value: fresh },
            };
            let before = owned.clone();
            update.apply(&mut owned);
            for (key, values) in &before {
                for value in values {
                    if !owned.get(key).is_some_and(|v| v.contains(value)) {
                        deleted.push((key.clone(), value.clone()));
                    }
                }
            }
            updates.push(update);
            // Half the changes follow at once (same batch window), the rest after a pause that
            // lands them while an edit is open or on an idle zone.
            pauses.push(Duration::from_millis(match rng.random_range(0..10) {
                0..5 => 0,
                5..8 => rng.random_range(100..400),
                _ => rng.random_range(600..1500),
            }));
        }
        Plan {
            updates,
            pauses,
            kills,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Driving the gateway and reading the sim

/// Sends one UPDATE with nsupdate and returns its output (blocking, off the runtime).
async fn nsupdate(gateway: &GatewayProcess, key: &TestKey, body: &str) -> Output {
    let script = format!(
        "server 127.0.0.1 {}\nzone {ZONE}.\n{body}send\n",
        gateway.port()
    );
    let key = key.clone();
    tokio::task::spawn_blocking(move || common::gateway::nsupdate(&key, &script))
        .await
        .expect("the nsupdate task")
}

/// The sim's TXT records of the zone.
async fn sim_txt(sim: &SimProcess) -> Txt {
    let records = sim.records().await;
    let mut txt = Txt::new();
    for record in records[ZONE]["txt"]
        .as_array()
        .expect("the zone's TXT list")
    {
        let key = record["key"].as_str().expect("key").to_ascii_lowercase();
        let value = record["value"].as_str().expect("value").to_owned();
        txt.entry(key).or_default().insert(value);
    }
    txt
}

/// The full TXT records expected: the seeded ones plus the gateway-owned values.
fn expected_txt(owned: &Txt) -> Txt {
    let mut txt = owned.clone();
    txt.entry("@".into()).or_default().insert(SPF.into());
    txt.entry(FOREIGN_KEY.into())
        .or_default()
        .insert(FOREIGN_VALUE.into());
    txt
}

/// Every `POST /zones/edits` the gateway sent (the seeding POST carries the foreign value).
fn gateway_posts(calls: &[Value]) -> Vec<&Value> {
    calls
        .iter()
        .filter(|c| c["method"] == "POST" && c["path"] == EDITS_PATH)
        .filter(|c| !c["requestBody"].to_string().contains(FOREIGN_VALUE))
        .collect()
}

/// `(action, key, value)` of every item a POST carried.
fn items(call: &Value) -> Vec<(String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    call["requestBody"]["edits"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let action = text(&e["action"]);
            let (key, value) = if action == "ADD" {
                (&e["newKey"], &e["newValue"])
            } else {
                (&e["currentKey"], &e["currentValue"])
            };
            (action, text(key).to_ascii_lowercase(), text(value))
        })
        .collect()
}

/// The edit id a 201 answer names (last segment of `links.status`).
fn created_id(call: &Value) -> String {
    call["responseBody"]["links"]["status"]
        .as_str()
        .and_then(|url| url.rsplit('/').next())
        .unwrap_or_else(|| panic!("no links.status in {call}"))
        .to_owned()
}

/// Waits for the sim to accept a POST adding `value` and returns that edit's id.
async fn wait_for_post(sim: &SimProcess, gateway: &GatewayProcess, value: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let calls = sim.calls().await;
        let post = gateway_posts(&calls).into_iter().find(|c| {
            c["status"] == 201 && items(c).iter().any(|(a, _, v)| a == "ADD" && v == value)
        });
        if let Some(post) = post {
            return created_id(post);
        }
        assert!(
            Instant::now() < deadline,
            "no accepted POST carries {value} after 15 s\n--- gateway ---\n{}",
            gateway.stderr_tail()
        );
        // Poll tightly: the point is to kill close behind the POST.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The sim's status of an edit.
async fn edit_status(sim: &SimProcess, id: &str) -> String {
    sim.edits()
        .await
        .into_iter()
        .find(|e| e["id"] == id)
        .and_then(|e| e["status"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("the sim knows no edit {id}"))
}

/// Edits that still hold the zone lock.
async fn open_edits(sim: &SimProcess) -> Vec<String> {
    sim.edits()
        .await
        .into_iter()
        .filter(|e| e["status"] != "COMPLETED" && e["status"] != "CANCELED")
        .map(|e| format!("{} {}", e["id"], e["status"]))
        .collect()
}

/// Waits for the kill point after an acknowledged `update`, then kills the gateway. Returns what
/// the sim had reached, for the log.
async fn crash(
    sim: &SimProcess,
    gateway: &mut GatewayProcess,
    kill: Kill,
    update: &Update,
) -> String {
    let added = || {
        update
            .added()
            .expect("kills that wait for a POST follow an add")
    };
    let edit = match kill {
        Kill::AfterAck => None,
        Kill::AroundWindowClose(ms) | Kill::AfterDelay(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            None
        }
        Kill::AfterPost | Kill::DuringRecovery(_) => {
            Some(wait_for_post(sim, gateway, added()).await)
        }
        Kill::WhileFollowing(ms) => {
            let id = wait_for_post(sim, gateway, added()).await;
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Some(id)
        }
        Kill::AfterApply => {
            let id = wait_for_post(sim, gateway, added()).await;
            let deadline = Instant::now() + Duration::from_secs(10);
            while !matches!(
                edit_status(sim, &id).await.as_str(),
                "PROPAGATING" | "COMPLETED"
            ) {
                assert!(Instant::now() < deadline, "edit {id} is not applied");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Some(id)
        }
    };
    gateway.kill();
    match edit {
        Some(id) => format!("edit {id} was {}", edit_status(sim, &id).await),
        None => format!("open edits: {:?}", open_edits(sim).await),
    }
}

// ---------------------------------------------------------------------------------------------
// The tests

/// See the module doc: acknowledged changes, seven SIGKILLs, exact records at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_random_kills() {
    let seed: u64 = match std::env::var("CRASH_SEED") {
        Ok(text) => text.parse().expect("CRASH_SEED is a u64"),
        Err(_) => rand::random(),
    };
    eprintln!("[crash] seed {seed} (replay: CRASH_SEED={seed} cargo test --test crash)");
    let started = Instant::now();
    let plan = Plan::new(seed);
    for (step, (kill, downtime)) in &plan.kills {
        eprintln!("[crash] plan: kill {kill:?} after step {step}, down {downtime:?}");
    }

    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", EDIT_SECONDS]);
    let foreign = edit_id(
        &sim.post_edit(&add_txt(ZONE, FOREIGN_KEY, FOREIGN_VALUE))
            .await,
    );
    sim.wait_for_status(&foreign, "COMPLETED", Duration::from_secs(10))
        .await;
    let seeded = sim_txt(&sim).await;

    let key = TestKey::new("acme.", "hmac-sha256");
    let temp = tempfile::tempdir().expect("temp dir");
    let state_dir = temp.path().join("state");
    let start = || GatewayProcess::start_in(&sim, std::slice::from_ref(&key), "", &state_dir);
    let mut gateway = start();

    // The gateway-owned values the acknowledged changes ask for, and how often each value was
    // acknowledged as added (an edit may ADD it at most that often).
    let mut owned = Txt::new();
    let mut acknowledged_adds: HashMap<String, usize> = HashMap::new();
    let mut kills = 0;
    for (step, update) in plan.updates.iter().enumerate() {
        let output = nsupdate(&gateway, &key, &update.script()).await;
        assert!(
            output.status.success(),
            "seed {seed}, step {step} {update:?}: nsupdate failed: {}{}\n--- gateway ---\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            gateway.stderr_tail()
        );
        // nsupdate exited 0: the gateway answered NOERROR, so the change is acknowledged.
        update.apply(&mut owned);
        if let Some(value) = update.added() {
            *acknowledged_adds.entry(value.to_owned()).or_default() += 1;
        }
        eprintln!("[crash] step {step} acknowledged: {update:?}");

        let Some(&(kill, downtime)) = plan.kills.get(&step) else {
            tokio::time::sleep(plan.pauses[step]).await;
            continue;
        };
        let seen = crash(&sim, &mut gateway, kill, update).await;
        kills += 1;
        eprintln!("[crash] KILLED ({kill:?}) after step {step}; {seen}; down {downtime:?}");
        tokio::time::sleep(downtime).await;
        gateway = start();
        if let Kill::DuringRecovery(ms) = kill {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            gateway.kill();
            kills += 1;
            eprintln!(
                "[crash] KILLED again {ms} ms into the recovery; open edits: {:?}",
                open_edits(&sim).await
            );
            gateway = start();
        }
    }

    // Wait until the gateway is idle: the records match, no edit holds the lock, and no POST
    // comes for longer than the batch window and a status poll.
    let expected = expected_txt(&owned);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let txt = sim_txt(&sim).await;
        let open = open_edits(&sim).await;
        if txt == expected && open.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "seed {seed}: the sim did not converge in 30 s\nexpected {expected:#?}\ngot {txt:#?}\n\
             open edits {open:?}\n--- gateway ---\n{}",
            gateway.stderr_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let posts_then = gateway_posts(&sim.calls().await).len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = sim.calls().await;
    let posts = gateway_posts(&calls);
    assert_eq!(
        posts.len(),
        posts_then,
        "seed {seed}: the gateway kept POSTing after the records matched"
    );
    assert_eq!(
        sim_txt(&sim).await,
        expected,
        "seed {seed}: the records moved on"
    );
    gateway.kill();

    // No edit was applied twice: CSC would have refused an exact duplicate ADD or the PURGE of a
    // missing record, and nothing but the zone lock may have refused anything.
    for code in ["DUPLICATE_RECORD", "RECORD_NOT_FOUND"] {
        let hits: Vec<&Value> = calls
            .iter()
            .filter(|c| c["responseBody"]["code"] == code)
            .collect();
        assert!(
            hits.is_empty(),
            "seed {seed}: CSC answered {code}: {hits:#?}"
        );
    }
    let refused: Vec<&Value> = calls
        .iter()
        .filter(|c| c["status"].as_u64().is_none_or(|s| s >= 400))
        .filter(|c| c["responseBody"]["code"] != "OPEN_ZONE_EDITS")
        .collect();
    assert!(
        refused.is_empty(),
        "seed {seed}: unexpected refusals: {refused:#?}"
    );
    // Replaying the accepted POSTs (the lock serializes them) over the seeded records: every ADD
    // finds its record absent, every PURGE present, and the end is exactly the final records.
    let accepted: Vec<&Value> = posts.into_iter().filter(|c| c["status"] == 201).collect();
    let mut replayed = seeded.clone();
    let mut added_by_edits: HashMap<String, usize> = HashMap::new();
    for post in &accepted {
        for (action, key, value) in items(post) {
            let values = replayed.entry(key.clone()).or_default();
            if action == "ADD" {
                assert!(
                    values.insert(value.clone()),
                    "seed {seed}: {key} {value} added twice"
                );
                *added_by_edits.entry(value).or_default() += 1;
            } else {
                assert_eq!(action, "PURGE", "seed {seed}: unexpected action in {post}");
                assert!(
                    values.remove(&value),
                    "seed {seed}: {key} {value} purged while absent"
                );
            }
        }
        replayed.retain(|_, values| !values.is_empty());
    }
    assert_eq!(
        replayed, expected,
        "seed {seed}: the accepted edits do not add up to the records"
    );
    for (value, count) in &added_by_edits {
        let acknowledged = acknowledged_adds.get(value).copied().unwrap_or(0);
        assert!(
            *count <= acknowledged,
            "seed {seed}: {value} ADDed {count} times, acknowledged {acknowledged} times"
        );
    }
    let txt = sim_txt(&sim).await;
    assert_eq!(txt["@"], BTreeSet::from([SPF.to_owned()]), "SPF untouched");
    assert!(
        txt[FOREIGN_KEY].contains(FOREIGN_VALUE),
        "the foreign value survives RRset deletes"
    );

    // The journal left behind is drained, and the ledger owns exactly what the gateway created
    // and is still published.
    let snapshot = RedbStore::open(&state_dir)
        .and_then(|store| store.load())
        .expect("the journal opens after the last kill");
    assert!(
        snapshot.changes.is_empty(),
        "seed {seed}: changes left in the journal: {:#?}",
        snapshot.changes
    );
    let ledger: BTreeSet<(String, String)> = snapshot
        .ledger
        .iter()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect();
    let owned_names: BTreeSet<(String, String)> = owned
        .iter()
        .flat_map(|(key, values)| {
            values
                .iter()
                .map(move |v| (format!("{key}.{ZONE}"), v.clone()))
        })
        .collect();
    assert_eq!(ledger, owned_names, "seed {seed}: the ledger drifted");

    eprintln!(
        "[crash] seed {seed}: {} updates, {kills} kills, {} accepted POSTs, {} OPEN_ZONE_EDITS, \
         {} values at the end, {:.1} s",
        plan.updates.len(),
        accepted.len(),
        calls
            .iter()
            .filter(|c| c["responseBody"]["code"] == "OPEN_ZONE_EDITS")
            .count(),
        owned.values().map(BTreeSet::len).sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
}

/// The narrowest crash window, set up exactly: CSC accepted the POST carrying an acknowledged
/// add of `value` at `_acme-challenge` (the edit is still NEW), but the process died before the
/// journal recorded the edit id, so the journal in `state_dir` holds the change as pending.
/// Returns the id of that lost edit. Use 3 s edits: it applies at 1.5 s, after the restart and
/// the first batch window.
async fn crashed_between_post_and_journal(
    sim: &SimProcess,
    state_dir: &Path,
    value: &str,
) -> String {
    let store = RedbStore::open(state_dir).expect("a fresh journal");
    let change = Change {
        id: 1,
        zone: ZONE.into(),
        ops: vec![Op::Add {
            name: format!("_acme-challenge.{ZONE}"),
            value: value.into(),
        }],
        origin: "acme.".into(),
        accepted_at_ms: csc_rfc2136::engine::change::now_ms(),
        failed_attempts: 0,
        edit_id: None,
    };
    store
        .apply(&[Mutation::PutChange(change)])
        .expect("journal the change");
    drop(store);
    // The POST that went out before the crash, exactly as the gateway sends it.
    let reply = sim
        .post_edit(&serde_json::json!({
            "zoneName": ZONE,
            "edits": [{"recordType": "TXT", "action": "ADD", "newKey": "_acme-challenge",
                       "newValue": value, "newTtl": 300, "comments": "csc-rfc2136"}]
        }))
        .await;
    edit_id(&reply)
}

/// Sends one UPDATE and asserts it was acknowledged.
async fn acknowledged(gateway: &GatewayProcess, key: &TestKey, body: &str) {
    let output = nsupdate(gateway, key, body).await;
    assert!(
        output.status.success(),
        "nsupdate failed: {}{}\n--- gateway ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        gateway.stderr_tail()
    );
}

/// Waits until `_acme-challenge` holds exactly `wanted` and no edit holds the zone lock.
async fn settle(sim: &SimProcess, gateway: &GatewayProcess, wanted: &[&str], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut values = sim.txt_values(ZONE, "_acme-challenge").await;
        values.sort();
        let open = open_edits(sim).await;
        if values == wanted && open.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: _acme-challenge is {values:?}, expected {wanted:?}; open edits {open:?}\n\
             --- gateway ---\n{}",
            gateway.stderr_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// No call was refused as a duplicate ADD or a PURGE of a missing record.
async fn assert_nothing_applied_twice(sim: &SimProcess) {
    let calls = sim.calls().await;
    for code in ["DUPLICATE_RECORD", "RECORD_NOT_FOUND"] {
        assert!(
            calls.iter().all(|c| c["responseBody"]["code"] != code),
            "CSC answered {code}: {calls:#?}"
        );
    }
}

/// After a crash between CSC's 201 and the journal commit, a delete of the value arrives in the
/// restarted gateway's first batch window. Against the zone as read (the lost edit not applied
/// yet) add + delete cancel out to an empty diff; trusting it ended the batch, and the lost edit
/// then published a value whose delete was acknowledged. The gateway must wait for that edit and
/// purge the value after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_whose_id_was_lost_is_awaited_before_trusting_an_empty_diff() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "3"]);
    let key = TestKey::new("acme.", "hmac-sha256");
    let temp = tempfile::tempdir().expect("temp dir");
    let state_dir = temp.path().join("state");
    let lost = crashed_between_post_and_journal(&sim, &state_dir, "tok-lost").await;

    let gateway = GatewayProcess::start_in(&sim, std::slice::from_ref(&key), "", &state_dir);
    acknowledged(
        &gateway,
        &key,
        &format!("update delete _acme-challenge.{ZONE}. TXT \"tok-lost\"\n"),
    )
    .await;
    sim.wait_for_status(&lost, "COMPLETED", Duration::from_secs(10))
        .await;
    settle(&sim, &gateway, &[], "the acknowledged delete was lost").await;
    assert_nothing_applied_twice(&sim).await;
}

/// After a crash between CSC's 201 and the journal commit, the restarted gateway's batch also
/// carries another add, so its next POST carries only that one: the lost edit created the first
/// value. The ledger must own both, or `update delete NAME TXT` keeps the first as if foreign.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_created_by_an_edit_whose_id_was_lost_are_owned() {
    let sim = SimProcess::start(&["--zones", ZONE, "--edit-seconds", "3"]);
    let key = TestKey::new("acme.", "hmac-sha256");
    let temp = tempfile::tempdir().expect("temp dir");
    let state_dir = temp.path().join("state");
    let lost = crashed_between_post_and_journal(&sim, &state_dir, "tok-lost").await;

    let gateway = GatewayProcess::start_in(&sim, std::slice::from_ref(&key), "", &state_dir);
    let rrset = format!("_acme-challenge.{ZONE}.");
    acknowledged(
        &gateway,
        &key,
        &format!("update add {rrset} 60 TXT \"tok-new\"\n"),
    )
    .await;
    sim.wait_for_status(&lost, "COMPLETED", Duration::from_secs(10))
        .await;
    settle(&sim, &gateway, &["tok-lost", "tok-new"], "the adds").await;

    acknowledged(&gateway, &key, &format!("update delete {rrset} TXT\n")).await;
    settle(
        &sim,
        &gateway,
        &[],
        "the RRset delete kept a value the gateway created",
    )
    .await;
    assert_nothing_applied_twice(&sim).await;
    assert_eq!(
        sim.txt_values(ZONE, "@").await,
        vec![SPF],
        "the SPF record is untouched"
    );
}
