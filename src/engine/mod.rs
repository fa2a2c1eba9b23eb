//! The edit engine: accepted changes in, as few CSC zone edits as the zone lock allows out.
//!
//! [`Engine::submit`] commits a zone's operations to the journal (group commit) and answers per
//! the reply mode. One worker per zone with work waits out the batch window, reads the zone
//! fresh, sends the net diff as one `POST /zones/edits`, and follows the edit; on
//! `OPEN_ZONE_EDITS` it follows the blocking edit instead of sleeping blind. After a crash the
//! journal brings back every acknowledged change: in-flight edits are followed, pending changes
//! re-batched, and because each edit is the diff against CSC's current records, nothing is
//! applied twice.

pub mod change;
pub mod diff;
pub mod journal;
pub mod ledger;
pub mod redb_store;
pub mod store;
mod worker;
pub mod zones;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, oneshot};

use crate::config::ReplyMode;
use crate::csc::CscClient;
use crate::csc::model::{Record, Zone};
use change::{Change, ChangeId, LedgerEntry, Op, now_ms};
use journal::Journal;
use ledger::Ledger;
use store::{Mutation, Store, StoreError};
use zones::ZoneDirectory;

/// How the engine batches, replies and paces itself.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub reply: ReplyMode,
    pub reply_timeout: Duration,
    pub batch_window: Duration,
    pub batch_max_wait: Duration,
    /// Most changes carried by one CSC edit; more wait for the next one.
    pub batch_max_changes: usize,
    /// Most changes of one zone waiting for CSC; more are refused (back-pressure).
    pub max_pending: usize,
    pub orphan_ttl: Duration,
    /// TTL of created TXT records.
    pub record_ttl: u32,
    /// How often an edit's status is read while following it (jittered ±25 %).
    pub poll_interval: Duration,
    /// First delay after a transient CSC failure; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// How long to wait before trying CSC again after it rejected the credentials.
    pub credentials_retry: Duration,
    /// How often the zone list is re-read.
    pub zone_refresh: Duration,
}

impl EngineOptions {
    /// The options of a gateway configuration.
    pub fn from_config(config: &crate::config::Config) -> EngineOptions {
        EngineOptions {
            reply: config.edits.reply,
            reply_timeout: config.edits.reply_timeout,
            batch_window: config.edits.batch_window,
            batch_max_wait: config.edits.batch_max_wait,
            batch_max_changes: config.edits.batch_max_changes,
            max_pending: config.edits.max_pending,
            orphan_ttl: config.edits.orphan_ttl,
            record_ttl: config.csc.record_ttl,
            poll_interval: config.edits.poll_interval,
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            credentials_retry: Duration::from_secs(60),
            zone_refresh: config.csc.zone_refresh,
        }
    }
}

/// Why a change was not accepted. Each maps to a DNS rcode in the front.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// CSC rejected the gateway's credentials recently; changes are refused until it accepts them.
    #[error("not ready: {0}")]
    NotReady(String),
    /// The change could not be committed to the journal.
    #[error("journal: {0}")]
    Journal(#[from] StoreError),
    /// Reply mode `accepted`: CSC refused the edit carrying the change, or it failed for good.
    #[error("CSC refused the change: {0}")]
    Refused(String),
    /// Reply mode `accepted`: no edit carried the change within `reply_timeout`; it was withdrawn.
    #[error("CSC did not accept the change within {0:?}; it was withdrawn")]
    TimedOut(Duration),
    /// The zone already has `max_pending` changes waiting for CSC: try again later.
    #[error("zone {zone} has {waiting} changes waiting for CSC (max_pending); try again later")]
    Busy { zone: String, waiting: usize },
}

/// What finally happened to a change (for `accepted` waiters).
#[derive(Debug, Clone)]
enum Outcome {
    /// An edit carrying it was accepted by CSC (or there was nothing to send).
    Accepted,
    /// It was given up, with the reason.
    Failed(String),
}

/// Pending and in-flight work of one zone: what `/status` serves and `csc-rfc2136 status` reads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ZoneWork {
    /// The zone.
    pub zone: String,
    /// Changes waiting for the batch window or for the zone lock.
    pub pending: usize,
    /// Changes carried by the batch being delivered.
    pub in_flight: usize,
    /// The CSC edit carrying the batch, once CSC accepted it.
    pub edit_id: Option<String>,
    /// When the oldest of these changes was accepted, in Unix milliseconds.
    pub oldest_accepted_ms: Option<u64>,
}

/// The inputs of a zone's desired view (see [`Engine::view_version`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewVersion {
    changes: Vec<ChangeId>,
    directory: u64,
    ledger: u64,
}

/// The engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    options: EngineOptions,
    client: CscClient,
    journal: Journal,
    directory: ZoneDirectory,
    ledger: Mutex<Ledger>,
    queues: Mutex<HashMap<String, Arc<ZoneQueue>>>,
    next_id: AtomicU64,
    /// Set while CSC rejects the credentials: the reason, for replies and `/readyz`.
    credentials_error: Mutex<Option<String>>,
}

/// One zone's work, shared by submitters and the zone's worker.
struct ZoneQueue {
    zone: String,
    state: Mutex<QueueState>,
    wake: Notify,
}

#[derive(Default)]
struct QueueState {
    /// Accepted changes not yet taken into a batch, in order.
    pending: Vec<Change>,
    /// The batch the worker is delivering.
    batch: Vec<Change>,
    /// The CSC edit carrying the batch, once CSC accepted it.
    edit_id: Option<String>,
    /// A POST carrying the batch is under way: its changes can no longer be withdrawn.
    posting: bool,
    first_pending: Option<Instant>,
    last_pending: Option<Instant>,
    worker_running: bool,
    /// `accepted`-mode submitters waiting for their change's outcome.
    waiters: HashMap<ChangeId, oneshot::Sender<Outcome>>,
    /// Changes that may have gone out in a POST whose edit id was never recorded: restored from
    /// the journal without one (the process may have died between CSC's 201 and the journal
    /// commit), or carried by a POST whose outcome is unknown. When their batch is applied, the
    /// values they add that CSC has count as created by the gateway (the ledger), even if the
    /// last POST did not carry them: the lost edit did.
    maybe_sent: HashSet<ChangeId>,
}

impl Engine {
    /// Loads the journal, reads the zone list (a failure is logged, not fatal: the workers
    /// retry) and starts the workers for the work found in the journal.
    pub async fn start(
        options: EngineOptions,
        client: CscClient,
        store: Arc<dyn Store>,
    ) -> Result<Engine, StoreError> {
        let snapshot = tokio::task::spawn_blocking({
            let store = store.clone();
            move || store.load()
        })
        .await
        .map_err(|e| StoreError::Corrupt(e.to_string()))??;
        let next_id = snapshot.changes.iter().map(|c| c.id).max().unwrap_or(0) + 1;
        let engine = Engine {
            inner: Arc::new(Inner {
                directory: ZoneDirectory::new(client.clone()),
                options,
                client,
                journal: Journal::start(store),
                ledger: Mutex::new(Ledger::from_entries(snapshot.ledger)),
                queues: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(next_id),
                credentials_error: Mutex::new(None),
            }),
        };
        match engine.inner.directory.refresh().await {
            Ok(count) => tracing::info!(zones = count, "zone list loaded from CSC"),
            Err(err) => {
                engine.inner.note_csc_error(&err);
                tracing::error!(error = %err, "cannot read the zone list from CSC; will retry");
            }
        }
        engine.restore(snapshot.changes);
        engine.spawn_background_tasks();
        Ok(engine)
    }

    /// Puts journaled changes back: those with an edit id form the zone's batch (that edit is
    /// followed first), the others are pending again.
    fn restore(&self, changes: Vec<Change>) {
        let mut by_zone: BTreeMap<String, Vec<Change>> = BTreeMap::new();
        for change in changes {
            by_zone.entry(change.zone.clone()).or_default().push(change);
        }
        for (zone, changes) in by_zone {
            let queue = self.inner.queue(&zone);
            let mut state = queue.state.lock().expect("lock");
            let edit_id = changes.iter().find_map(|c| c.edit_id.clone());
            for mut change in changes {
                if change.edit_id.is_some() && change.edit_id == edit_id {
                    state.batch.push(change);
                } else {
                    change.edit_id = None;
                    state.maybe_sent.insert(change.id);
                    state.pending.push(change);
                }
            }
            state.edit_id = edit_id.clone();
            let now = Instant::now();
            if !state.pending.is_empty() {
                state.first_pending = Some(now);
                state.last_pending = Some(now);
            }
            tracing::info!(
                zone = %zone,
                in_flight = state.batch.len(),
                pending = state.pending.len(),
                edit_id = edit_id.as_deref().unwrap_or("-"),
                "resuming journaled changes"
            );
            drop(state);
            self.inner.clone().ensure_worker(&queue);
        }
    }

    fn spawn_background_tasks(&self) {
        let inner = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                // Fix: while CSC rejects the credentials, submits fail fast, so no zone worker
                // may ever run to notice that CSC accepts them again; this task is then the only
                // one that can end the not-ready state. It re-reads the zone list every
                // `credentials_retry` (one call, no storm) instead of every `zone_refresh`, and
                // a successful read clears the state (before, nothing cleared it: a 401 at start
                // kept the gateway refusing every UPDATE until it was restarted).
                let Some(period) = inner.upgrade().map(|i| {
                    if i.credentials_error.lock().expect("lock").is_some() {
                        i.options.credentials_retry.min(i.options.zone_refresh)
                    } else {
                        i.options.zone_refresh
                    }
                }) else {
                    return;
                };
                tokio::time::sleep(period).await;
                let Some(inner) = inner.upgrade() else { return };
                match inner.directory.refresh().await {
                    Ok(_) => inner.note_csc_ok(),
                    Err(err) => {
                        inner.note_csc_error(&err);
                        tracing::warn!(error = %err, "cannot re-read the zone list from CSC");
                    }
                }
            }
        });
        let inner = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let Some(period) = inner
                    .upgrade()
                    .map(|i| orphan_check_period(i.options.orphan_ttl))
                else {
                    return;
                };
                tokio::time::sleep(period).await;
                let Some(inner) = inner.upgrade() else { return };
                Engine { inner }.purge_orphans().await;
            }
        });
    }

    /// Commits `ops` for `zone` (normalized) from `origin` and answers per the reply mode.
    pub async fn submit(
        &self,
        zone: &str,
        ops: Vec<Op>,
        origin: &str,
    ) -> Result<ChangeId, SubmitError> {
        if let Some(reason) = self.inner.credentials_error.lock().expect("lock").clone() {
            return Err(SubmitError::NotReady(reason));
        }
        let queue = self.inner.queue(zone);
        {
            // A soft bound (concurrent submits may pass together): it keeps a flood from
            // growing memory without limit while CSC takes minutes per edit.
            let state = queue.state.lock().expect("lock");
            let waiting = state.pending.len() + state.batch.len();
            if waiting >= self.inner.options.max_pending {
                return Err(SubmitError::Busy {
                    zone: zone.to_owned(),
                    waiting,
                });
            }
        }
        let change = Change {
            id: self.inner.next_id.fetch_add(1, Ordering::Relaxed),
            zone: zone.to_owned(),
            ops,
            origin: origin.to_owned(),
            accepted_at_ms: now_ms(),
            failed_attempts: 0,
            edit_id: None,
        };
        let id = change.id;
        self.inner
            .journal
            .commit(vec![Mutation::PutChange(change.clone())])
            .await?;
        let outcome = {
            let mut state = queue.state.lock().expect("lock");
            let now = Instant::now();
            state.first_pending.get_or_insert(now);
            state.last_pending = Some(now);
            state.pending.push(change);
            crate::ops::metrics::pending(zone, state.pending.len() + state.batch.len());
            (self.inner.options.reply == ReplyMode::Accepted).then(|| {
                let (tx, rx) = oneshot::channel();
                state.waiters.insert(id, tx);
                rx
            })
        };
        queue.wake.notify_one();
        self.inner.clone().ensure_worker(&queue);
        let Some(outcome) = outcome else {
            return Ok(id);
        };
        match tokio::time::timeout(self.inner.options.reply_timeout, outcome).await {
            Ok(Ok(Outcome::Accepted)) => Ok(id),
            Ok(Ok(Outcome::Failed(reason))) => Err(SubmitError::Refused(reason)),
            Ok(Err(_)) => Err(SubmitError::Refused("the engine stopped".into())),
            Err(_) => self.withdraw(&queue, id).await,
        }
    }

    /// `reply_timeout` passed: takes the change back if no POST carries it yet. A change a POST
    /// already carries cannot be withdrawn; its outcome is awaited instead.
    async fn withdraw(&self, queue: &ZoneQueue, id: ChangeId) -> Result<ChangeId, SubmitError> {
        let withdrawn = {
            let mut state = queue.state.lock().expect("lock");
            state.waiters.remove(&id);
            let before = state.pending.len() + state.batch.len();
            state.pending.retain(|c| c.id != id);
            if state.edit_id.is_none() && !state.posting {
                state.batch.retain(|c| c.id != id);
            }
            state.pending.len() + state.batch.len() < before
        };
        if withdrawn {
            self.inner
                .journal
                .commit(vec![Mutation::DeleteChange(id)])
                .await?;
            tracing::warn!(zone = %queue.zone, change = id, "withdrawn: no CSC edit carried it within reply_timeout");
        } else {
            // A POST already carries it: it will be applied; the client is told it timed out.
            tracing::warn!(zone = %queue.zone, change = id, "reply_timeout passed while CSC was accepting the edit carrying it");
        }
        Err(SubmitError::TimedOut(self.inner.options.reply_timeout))
    }

    /// The zone (normalized) that `name` belongs to, from the zone list as last read.
    pub fn find_zone(&self, name: &str) -> Option<String> {
        self.inner.directory.find(name)
    }

    /// The zone (normalized) that `name` belongs to, re-reading the zone list on a miss.
    pub async fn zone_of(&self, name: &str) -> Option<String> {
        self.inner.directory.find_or_refresh(name).await
    }

    /// The zone as clients should see it: CSC's records with the pending and in-flight changes
    /// laid over its TXT records. `None` for a zone CSC does not serve.
    pub fn desired_zone(&self, zone: &str) -> Option<Zone> {
        let mut snapshot = self.inner.directory.snapshot(zone)?;
        let queue = self.inner.queues.lock().expect("lock").get(zone).cloned();
        let Some(queue) = queue else {
            return Some(snapshot);
        };
        let ops: Vec<Op> = {
            let state = queue.state.lock().expect("lock");
            state
                .batch
                .iter()
                .chain(&state.pending)
                .flat_map(|c| c.ops.iter().cloned())
                .collect()
        };
        if ops.is_empty() {
            return Some(snapshot);
        }
        let current = diff::txt_set(&snapshot);
        let desired = {
            let ledger = self.inner.ledger.lock().expect("lock");
            diff::desired_txt(&current, &ops, |name, value| ledger.owns(zone, name, value))
        };
        let ttl = self.inner.options.record_ttl;
        let mut existing: HashMap<(String, String), Record> = snapshot
            .txt
            .drain(..)
            .map(|r| {
                (
                    (crate::csc::names::full_name(&r.key, zone), r.value.clone()),
                    r,
                )
            })
            .collect();
        for (name, values) in desired {
            for value in values {
                let record = existing
                    .remove(&(name.clone(), value.clone()))
                    .unwrap_or(Record {
                        id: String::new(),
                        key: crate::csc::names::record_key(&name, zone).unwrap_or_default(),
                        value,
                        ttl: Some(ttl),
                        status: Some("PENDING".into()),
                    });
                snapshot.txt.push(record);
            }
        }
        Some(snapshot)
    }

    /// What the desired view of `zone` is made of: equal versions mean equal views, so a
    /// reader may keep a view built from [`Engine::desired_zone`] until the version moves.
    pub fn view_version(&self, zone: &str) -> ViewVersion {
        // Read the change ids first: a change that lands between the reads moves them, and the
        // generations read after cover any zone copy or ledger entry it caused.
        let changes = self
            .inner
            .queues
            .lock()
            .expect("lock")
            .get(zone)
            .cloned()
            .map(|queue| {
                let state = queue.state.lock().expect("lock");
                state
                    .batch
                    .iter()
                    .chain(&state.pending)
                    .map(|c| c.id)
                    .collect()
            })
            .unwrap_or_default();
        ViewVersion {
            changes,
            directory: self.inner.directory.generation(),
            ledger: self.inner.ledger.lock().expect("lock").generation(),
        }
    }

    /// Every zone CSC serves, as last read.
    pub fn zone_names(&self) -> Vec<String> {
        self.inner.directory.zone_names()
    }

    /// Pending and in-flight work per zone.
    pub fn work(&self) -> Vec<ZoneWork> {
        let queues: Vec<Arc<ZoneQueue>> = self
            .inner
            .queues
            .lock()
            .expect("lock")
            .values()
            .cloned()
            .collect();
        let mut work: Vec<ZoneWork> = queues
            .iter()
            .map(|q| {
                let state = q.state.lock().expect("lock");
                ZoneWork {
                    zone: q.zone.clone(),
                    pending: state.pending.len(),
                    in_flight: state.batch.len(),
                    edit_id: state.edit_id.clone(),
                    oldest_accepted_ms: state
                        .batch
                        .iter()
                        .chain(&state.pending)
                        .map(|c| c.accepted_at_ms)
                        .min(),
                }
            })
            .filter(|w| w.pending + w.in_flight > 0)
            .collect();
        work.sort_by(|a, b| a.zone.cmp(&b.zone));
        work
    }

    /// Why the engine is not ready (CSC rejected the credentials), if it is not.
    pub fn not_ready_reason(&self) -> Option<String> {
        self.inner.credentials_error.lock().expect("lock").clone()
    }

    /// Whether the journal's last commit succeeded.
    pub fn journal_healthy(&self) -> bool {
        self.inner.journal.is_healthy()
    }

    /// How many values the gateway owns at CSC.
    pub fn owned_values(&self) -> usize {
        self.inner.ledger.lock().expect("lock").len()
    }

    /// Submits a purge of every owned value older than `orphan_ttl`, one change per zone.
    pub async fn purge_orphans(&self) {
        let cutoff = (now_ms() / 1000).saturating_sub(self.inner.options.orphan_ttl.as_secs());
        let orphans: Vec<LedgerEntry> = self.inner.ledger.lock().expect("lock").older_than(cutoff);
        let mut by_zone: BTreeMap<String, Vec<Op>> = BTreeMap::new();
        for entry in orphans {
            let queued = self.inner.queues.lock().expect("lock").get(&entry.zone).is_some_and(|q| {
                let state = q.state.lock().expect("lock");
                state.batch.iter().chain(&state.pending).any(|c| {
                    c.origin == ORPHAN_ORIGIN
                        && c.ops.iter().any(|op| matches!(op, Op::DeleteValue { name, value } if *name == entry.name && *value == entry.value))
                })
            });
            if !queued {
                by_zone
                    .entry(entry.zone.clone())
                    .or_default()
                    .push(Op::DeleteValue {
                        name: entry.name,
                        value: entry.value,
                    });
            }
        }
        for (zone, ops) in by_zone {
            tracing::info!(zone = %zone, values = ops.len(), "purging orphaned challenge values");
            crate::ops::metrics::orphans_purged(ops.len());
            if let Err(err) = self.submit(&zone, ops, ORPHAN_ORIGIN).await {
                tracing::warn!(zone = %zone, error = %err, "cannot queue the orphan purge");
            }
        }
    }
}

/// The origin of the engine's own orphan-purge changes.
pub const ORPHAN_ORIGIN: &str = "orphan-purge";

/// How often to look for orphans: a quarter of their TTL, between 1 s and 10 min.
fn orphan_check_period(ttl: Duration) -> Duration {
    (ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(600))
}

impl Inner {
    /// The queue of `zone`, created on first use.
    fn queue(&self, zone: &str) -> Arc<ZoneQueue> {
        self.queues
            .lock()
            .expect("lock")
            .entry(zone.to_owned())
            .or_insert_with(|| {
                Arc::new(ZoneQueue {
                    zone: zone.to_owned(),
                    state: Mutex::new(QueueState::default()),
                    wake: Notify::new(),
                })
            })
            .clone()
    }

    /// Starts the zone's worker unless it runs already.
    fn ensure_worker(self: Arc<Self>, queue: &Arc<ZoneQueue>) {
        {
            let mut state = queue.state.lock().expect("lock");
            if state.worker_running {
                return;
            }
            state.worker_running = true;
        }
        tokio::spawn(worker::run(self, queue.clone()));
    }

    /// Remembers a credentials rejection (or its end) for replies and readiness.
    fn note_csc_error(&self, err: &crate::csc::CscError) {
        if err.is_credentials() {
            let mut slot = self.credentials_error.lock().expect("lock");
            if slot.is_none() {
                tracing::error!(error = %err, "CSC rejected the credentials: updates are refused until it accepts them");
            }
            *slot = Some(err.to_string());
        }
    }

    /// A CSC call succeeded: the credentials work.
    fn note_csc_ok(&self) {
        let mut slot = self.credentials_error.lock().expect("lock");
        if slot.take().is_some() {
            tracing::info!("CSC accepts the credentials again");
        }
    }
}
