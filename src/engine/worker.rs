//! The zone worker: one task per zone with work, delivering batches to CSC one edit at a time.
//!
//! A batch is every change that arrived within the batch window. The worker reads the zone
//! fresh, sends the net diff in one `POST /zones/edits`, and follows the edit's status until
//! its records are live. `OPEN_ZONE_EDITS` means another edit holds the zone lock: the worker
//! follows that edit until it is final and submits the recomputed diff right after (changes that
//! arrived meanwhile join the batch). A FAILED own edit is cancelled and retried once.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::csc::model::{EditAction, EditItem, EditRequest, EditStatus, Zone};
use crate::csc::{CscError, names};

use super::change::{Change, LedgerEntry, Op, now_ms};
use super::diff;
use super::store::Mutation;
use super::{Inner, Outcome, ZoneQueue};
use crate::ops::{audit, metrics};

/// A failed own edit is retried once; the second failure gives its changes up.
const MAX_FAILED_ATTEMPTS: u32 = 2;

/// What to do after a CSC error.
enum Next {
    /// Try again after a pause (transient failure, or credentials rejected).
    Retry,
    /// Give the batch up with this reason (CSC refused it for good).
    GiveUp(String),
}

/// Whether an edit of the zone may still change its records (see `Worker::unapplied_edit`).
enum OpenEdit {
    None,
    Unapplied(String),
    /// The edit list could not be read now (the worker paused); read the zone again.
    Unknown,
}

/// NEW, SUBMITTED or PROCESSING: CSC accepted the edit but its records are not live yet (a FAILED
/// edit never applies them).
fn not_applied_yet(status: EditStatus) -> bool {
    matches!(
        status,
        EditStatus::New | EditStatus::Submitted | EditStatus::Processing
    )
}

/// How following the own edit ended.
enum Followed {
    /// PROPAGATING or COMPLETED: the records are live.
    Live,
    /// FAILED (with CSC's description) or CANCELED by someone else.
    Failed(String),
}

struct Worker {
    inner: Arc<Inner>,
    queue: Arc<ZoneQueue>,
    /// Consecutive transient failures, for the backoff.
    failures: u32,
    /// The items of the edit in flight, when this process sent it (not after a restart).
    sent_items: Option<Vec<EditItem>>,
    /// Edits this process created, so it may cancel them when they are FAILED.
    own_edits: HashSet<String>,
    /// CSC refused the current batch's edit this many times (a concurrent change at CSC can
    /// make a diff stale: the first refusal re-reads the zone, the second gives up).
    refusals: u32,
    /// When the edit in flight was submitted by this process (for lifecycle metrics).
    submitted_at: Option<Instant>,
}

/// The worker's main loop: wait for a batch, deliver it, until the zone has no work left.
pub(super) async fn run(inner: Arc<Inner>, queue: Arc<ZoneQueue>) {
    let mut worker = Worker {
        inner,
        queue,
        failures: 0,
        sent_items: None,
        own_edits: HashSet::new(),
        refusals: 0,
        submitted_at: None,
    };
    loop {
        let has_batch = !worker.queue.state.lock().expect("lock").batch.is_empty();
        if !has_batch && !worker.wait_for_batch().await {
            return;
        }
        worker.deliver().await;
    }
}

impl Worker {
    fn zone(&self) -> &str {
        &self.queue.zone
    }

    /// Waits until the batch window closes, then moves the pending changes into the batch.
    /// Returns false (and marks the worker stopped) when there is nothing to do.
    async fn wait_for_batch(&mut self) -> bool {
        loop {
            let deadline = {
                let mut state = self.queue.state.lock().expect("lock");
                let (Some(first), Some(last)) = (state.first_pending, state.last_pending) else {
                    if state.pending.is_empty() {
                        state.worker_running = false;
                        return false;
                    }
                    // Restored changes carry no arrival time: deliver them now.
                    return self.take_pending_or_stop(&mut state);
                };
                let options = &self.inner.options;
                let deadline = (last + options.batch_window).min(first + options.batch_max_wait);
                if Instant::now() >= deadline {
                    return self.take_pending_or_stop(&mut state);
                }
                deadline
            };
            tokio::select! {
                _ = tokio::time::sleep_until(deadline.into()) => {}
                _ = self.queue.wake.notified() => {}
            }
        }
    }

    /// [`Worker::take_pending`] for the end of a batch window; when it yields no batch, marks
    /// the worker stopped (under the same lock) before the caller returns false.
    ///
    /// Fix: the window can close on an empty `pending` with `first_pending` still set, when an
    /// `accepted`-mode change was withdrawn (`reply_timeout`) while it waited, e.g. behind the
    /// worker's own open edit. The worker then ended with `worker_running` still true, so
    /// `ensure_worker` never started another one and every later change of the zone stayed
    /// journaled but undelivered.
    fn take_pending_or_stop(&self, state: &mut super::QueueState) -> bool {
        if self.take_pending(state) {
            return true;
        }
        state.worker_running = false;
        false
    }

    /// Moves pending changes into the batch, up to `batch_max_changes` in all; what does not
    /// fit stays pending for the next edit, which then starts without another window.
    fn take_pending(&self, state: &mut super::QueueState) -> bool {
        let room = self
            .inner
            .options
            .batch_max_changes
            .saturating_sub(state.batch.len());
        let count = room.min(state.pending.len());
        let taken: Vec<_> = state.pending.drain(..count).collect();
        if state.pending.is_empty() {
            state.first_pending = None;
            state.last_pending = None;
        } else {
            // The rest is due at once: its window has already passed.
            let now = Instant::now();
            state.first_pending = Some(now - self.inner.options.batch_max_wait);
            state.last_pending = Some(now - self.inner.options.batch_window);
        }
        if !taken.is_empty() {
            tracing::info!(zone = %self.zone(), changes = taken.len(), left = state.pending.len(), "batch window closed");
        }
        state.batch.extend(taken);
        !state.batch.is_empty()
    }

    /// Delivers the current batch: returns once it is live at CSC or given up.
    async fn deliver(&mut self) {
        loop {
            let edit_id = self.queue.state.lock().expect("lock").edit_id.clone();
            if let Some(edit_id) = edit_id {
                match self.follow_own(&edit_id).await {
                    Followed::Live => {
                        self.finish(Some(edit_id.clone())).await;
                        self.wait_until_final_if_busy(&edit_id).await;
                        return;
                    }
                    Followed::Failed(description) => {
                        self.own_edit_failed(&edit_id, &description).await;
                        if self.queue.state.lock().expect("lock").batch.is_empty() {
                            return;
                        }
                        continue;
                    }
                }
            }
            // Not sent yet: changes that arrived while waiting join this batch.
            {
                let mut state = self.queue.state.lock().expect("lock");
                if !state.pending.is_empty() {
                    self.take_pending(&mut state);
                }
            }
            let zone = match self.inner.client.get_zone(self.zone()).await {
                Ok(zone) => {
                    self.csc_ok();
                    zone
                }
                Err(err) => match self.on_error(&err, "reading the zone").await {
                    Next::Retry => continue,
                    Next::GiveUp(reason) => return self.give_up(&reason).await,
                },
            };
            self.inner.directory.store(zone.clone());
            let items = self.net_edit(&zone);
            if items.is_empty() {
                self.queue.state.lock().expect("lock").posting = false;
                // Fix (found by tests/crash.rs): an empty diff is only final when no edit of the
                // zone still has to apply its records. After a crash between CSC accepting our
                // POST and the journal recording its edit id, the restarted worker sees the batch
                // as unsent; read before that edit applied, "add x" (its content) and a later
                // acknowledged "delete x" cancel out, the batch was finished, and the old edit
                // then published x for good. The same holds after a POST whose outcome was
                // unknown. So wait for such an edit to apply, then read the zone again.
                match self.unapplied_edit().await {
                    OpenEdit::Unapplied(edit_id) => {
                        self.wait_until_applied(&edit_id).await;
                        continue;
                    }
                    OpenEdit::Unknown => continue,
                    OpenEdit::None => {}
                }
                tracing::info!(zone = %self.zone(), "nothing to change at CSC: the batch cancels out or is already there");
                // The batch's added values count as ours even though nothing was sent: the usual
                // reason they are already there is our own edit whose id a crash kept from the
                // journal. A foreign value can only be claimed when a client adds the very same
                // value under a name its grant allows (an `_acme-challenge` name by default).
                self.answer_waiters(Outcome::Accepted);
                self.finish_with(None, Some(zone)).await;
                return;
            }
            if !self.submit(items).await {
                return;
            }
        }
    }

    /// The net diff between CSC's records and the batch laid over them.
    /// Marks the batch as posting: the caller POSTs the result, or clears `posting` when it is
    /// empty.
    fn net_edit(&self, zone: &Zone) -> Vec<EditItem> {
        let ops: Vec<Op> = {
            let mut state = self.queue.state.lock().expect("lock");
            // Fix: `posting` is set under the same lock that reads the batch. Set later (as it
            // was, in `submit`), an `accepted`-mode withdraw could slip in between, drop a change
            // whose ops are already in the items, and tell the client it was withdrawn while the
            // POST still carried it.
            state.posting = true;
            state
                .batch
                .iter()
                .flat_map(|c| c.ops.iter().cloned())
                .collect()
        };
        let current = diff::txt_set(zone);
        let desired = {
            let ledger = self.inner.ledger.lock().expect("lock");
            diff::desired_txt(&current, &ops, |name, value| {
                ledger.owns(self.zone(), name, value)
            })
        };
        diff::net_edit(
            self.zone(),
            &current,
            &desired,
            self.inner.options.record_ttl,
        )
    }

    /// POSTs the edit. Returns false when the batch was given up (nothing more to do).
    async fn submit(&mut self, items: Vec<EditItem>) -> bool {
        let request = EditRequest {
            zone_name: self.zone().to_owned(),
            edits: items.clone(),
        };
        // `posting` was set by `net_edit`.
        let started = Instant::now();
        let result = self.inner.client.submit_edit(&request).await;
        {
            let mut state = self.queue.state.lock().expect("lock");
            state.posting = false;
            // Fix: the edit id is set under the lock that clears `posting`, so no withdraw can
            // take a change out of the batch between the two (CSC already accepted it).
            if let Ok(edit_id) = &result {
                state.edit_id = Some(edit_id.clone());
            }
        }
        match result {
            Ok(edit_id) => {
                self.csc_ok();
                tracing::info!(zone = %self.zone(), edit_id = %edit_id, items = items.len(), "CSC accepted the edit");
                metrics::edit(self.zone(), "accepted");
                audit::edit(
                    self.zone(),
                    Some(&edit_id),
                    "submitted",
                    &self.batch_ids(),
                    items.len(),
                    started.elapsed(),
                );
                self.submitted_at = Some(started);
                self.own_edits.insert(edit_id.clone());
                self.sent_items = Some(items);
                let mutations: Vec<Mutation> = {
                    let mut state = self.queue.state.lock().expect("lock");
                    state.edit_id = Some(edit_id.clone());
                    state
                        .batch
                        .iter_mut()
                        .map(|change| {
                            change.edit_id = Some(edit_id.clone());
                            Mutation::PutChange(change.clone())
                        })
                        .collect()
                };
                if let Err(err) = self.inner.journal.commit(mutations).await {
                    // The edit exists at CSC either way; after a restart the diff finds it applied.
                    tracing::error!(error = %err, "cannot record the edit id in the journal");
                }
                self.answer_waiters(Outcome::Accepted);
                true
            }
            Err(CscError::OpenZoneEdits {
                blocking_edit_id, ..
            }) => {
                self.csc_ok();
                tracing::info!(zone = %self.zone(), blocking_edit = blocking_edit_id.as_deref().unwrap_or("?"), "zone locked by another edit: following it");
                metrics::lock_wait_started(self.zone());
                let waiting = Instant::now();
                match blocking_edit_id {
                    Some(id) => self.wait_for_blocking(&id, &items).await,
                    None => self.pause().await,
                }
                metrics::lock_wait_ended(waiting.elapsed());
                true
            }
            Err(err) => {
                if err.outcome_unknown() {
                    // CSC may have created the edit: see `QueueState::maybe_sent`.
                    let mut state = self.queue.state.lock().expect("lock");
                    let ids: Vec<u64> = state.batch.iter().map(|c| c.id).collect();
                    state.maybe_sent.extend(ids);
                }
                match self.on_error(&err, "submitting the edit").await {
                    Next::Retry => true,
                    Next::GiveUp(reason) => {
                        self.give_up(&reason).await;
                        false
                    }
                }
            }
        }
    }

    /// Follows the own edit until its records are live, it failed, or it was cancelled.
    async fn follow_own(&mut self, edit_id: &str) -> Followed {
        loop {
            match self.inner.client.edit_status(edit_id).await {
                Ok(status) => {
                    self.csc_ok();
                    match status.status {
                        s if s.is_live() => {
                            tracing::info!(zone = %self.zone(), edit_id, status = ?s, "edit is live");
                            let since = self.submitted_at.map(|at| at.elapsed());
                            if let Some(elapsed) = since {
                                metrics::edit_phase("propagating", elapsed);
                            }
                            audit::edit(
                                self.zone(),
                                Some(edit_id),
                                "live",
                                &self.batch_ids(),
                                0,
                                since.unwrap_or_default(),
                            );
                            return Followed::Live;
                        }
                        EditStatus::Failed => return Followed::Failed(status.error_description),
                        EditStatus::Canceled => {
                            return Followed::Failed("the edit was cancelled at CSC".into());
                        }
                        _ => self.poll_pause().await,
                    }
                }
                Err(CscError::NotFound { .. }) => {
                    return Followed::Failed("CSC no longer knows the edit".into());
                }
                Err(err) => {
                    self.on_error(&err, "reading the edit status").await;
                }
            }
        }
    }

    /// After the own edit is live, waits for it to release the lock when more work is queued,
    /// so the next POST does not bounce off our own edit.
    async fn wait_until_final_if_busy(&mut self, edit_id: &str) {
        let busy = !self.queue.state.lock().expect("lock").pending.is_empty();
        if busy {
            self.wait_for_blocking(edit_id, &[]).await;
            if let Some(at) = self.submitted_at {
                metrics::edit_phase("completed", at.elapsed());
            }
        }
    }

    /// An edit of the zone CSC accepted but has not applied yet (NEW, SUBMITTED, PROCESSING).
    /// A listing CSC refuses for good is logged and counts as none (the diff is trusted).
    async fn unapplied_edit(&mut self) -> OpenEdit {
        match self.inner.client.list_zone_edits(self.zone()).await {
            Ok(edits) => {
                self.csc_ok();
                edits
                    .into_iter()
                    .find(|e| not_applied_yet(e.status))
                    .map_or(OpenEdit::None, |e| OpenEdit::Unapplied(e.id))
            }
            Err(err) if err.is_transient() || err.is_credentials() => {
                self.on_error(&err, "listing the zone's edits").await;
                OpenEdit::Unknown
            }
            Err(err) => {
                tracing::warn!(zone = %self.zone(), error = %err, "cannot list the zone's edits; trusting the empty diff");
                OpenEdit::None
            }
        }
    }

    /// Follows an edit until its records are applied, or it failed, was cancelled or is gone.
    async fn wait_until_applied(&mut self, edit_id: &str) {
        tracing::info!(zone = %self.zone(), edit_id, "an edit not applied yet may change the zone: waiting for it before trusting an empty diff");
        loop {
            match self.inner.client.edit_status(edit_id).await {
                Ok(status) if not_applied_yet(status.status) => {
                    self.csc_ok();
                    self.poll_pause().await;
                }
                Ok(_) | Err(CscError::NotFound { .. }) => return,
                Err(err) => {
                    self.on_error(&err, "reading the status of an unapplied edit")
                        .await;
                    return;
                }
            }
        }
    }

    /// Follows an edit holding the zone lock until it is final. A FAILED edit of our own is
    /// cancelled; a foreign one is reported, since only its owner should cancel it.
    ///
    /// `attempted` is the edit the lock bounced: a FAILED blocking edit carrying exactly those
    /// items is our own, sent by a POST whose answer was lost (timeout, crash), and is cancelled.
    async fn wait_for_blocking(&mut self, edit_id: &str, attempted: &[EditItem]) {
        let mut warned_at: Option<Instant> = None;
        let mut checked_owner = false;
        loop {
            match self.inner.client.edit_status(edit_id).await {
                Ok(status) => {
                    self.csc_ok();
                    match status.status {
                        s if s.is_final() => return,
                        EditStatus::Failed if self.own_edits.contains(edit_id) => {
                            self.cancel(edit_id).await;
                            return;
                        }
                        EditStatus::Failed
                            if !checked_owner
                                && self.is_lost_own_edit(edit_id, attempted).await =>
                        {
                            tracing::info!(zone = %self.zone(), edit_id, "the FAILED edit holding the lock is ours (its POST answer was lost)");
                            self.own_edits.insert(edit_id.to_owned());
                            self.cancel(edit_id).await;
                            return;
                        }
                        EditStatus::Failed => {
                            checked_owner = true;
                            if warned_at.is_none_or(|at| at.elapsed() > Duration::from_secs(300)) {
                                tracing::warn!(zone = %self.zone(), edit_id, error = %status.error_description,
                                    "a FAILED edit the gateway did not create locks the zone: cancel it at CSC (DELETE /zones/edits/{edit_id})");
                                warned_at = Some(Instant::now());
                            }
                            self.poll_pause().await;
                        }
                        _ => self.poll_pause().await,
                    }
                }
                Err(CscError::NotFound { .. }) => return,
                Err(err) => {
                    // Its status cannot be read: back off, then simply try the POST again.
                    self.on_error(&err, "reading the blocking edit's status")
                        .await;
                    return;
                }
            }
        }
    }

    /// Whether edit `edit_id` carries exactly the `attempted` items (order aside).
    async fn is_lost_own_edit(&mut self, edit_id: &str, attempted: &[EditItem]) -> bool {
        if attempted.is_empty() {
            return false;
        }
        match self.inner.client.get_edit(edit_id).await {
            Ok(edit) => {
                // Compare what the items do, not how CSC echoes optional fields.
                let key = |i: &EditItem| {
                    let name = i.new_key.as_ref().or(i.current_key.as_ref());
                    let value = i.new_value.as_ref().or(i.current_value.as_ref());
                    format!(
                        "{:?} {:?} {:?} {:?}",
                        i.action,
                        i.record_type,
                        name.map(|n| n.to_ascii_lowercase()),
                        value
                    )
                };
                let theirs: BTreeSet<String> = edit.edits.iter().map(key).collect();
                let ours: BTreeSet<String> = attempted.iter().map(key).collect();
                theirs == ours
            }
            Err(_) => false,
        }
    }

    /// The own edit FAILED: cancel it, count the failure, give up changes that failed twice.
    async fn own_edit_failed(&mut self, edit_id: &str, description: &str) {
        tracing::error!(zone = %self.zone(), edit_id, error = %description, "CSC edit FAILED");
        metrics::edit(self.zone(), "failed");
        audit::edit(
            self.zone(),
            Some(edit_id),
            "failed",
            &self.batch_ids(),
            0,
            self.submitted_at.map(|at| at.elapsed()).unwrap_or_default(),
        );
        self.cancel(edit_id).await;
        self.sent_items = None;
        let (mutations, given_up) = {
            let mut state = self.queue.state.lock().expect("lock");
            state.edit_id = None;
            let mut mutations = Vec::new();
            let mut given_up = Vec::new();
            for change in std::mem::take(&mut state.batch) {
                let mut change = change;
                change.edit_id = None;
                change.failed_attempts += 1;
                if change.failed_attempts >= MAX_FAILED_ATTEMPTS {
                    mutations.push(Mutation::DeleteChange(change.id));
                    given_up.push(change);
                } else {
                    mutations.push(Mutation::PutChange(change.clone()));
                    state.batch.push(change);
                }
            }
            (mutations, given_up)
        };
        if let Err(err) = self.inner.journal.commit(mutations).await {
            tracing::error!(error = %err, "cannot record the failed attempt in the journal");
        }
        for change in given_up {
            self.report_given_up(&change, &format!("CSC edit failed twice: {description}"));
        }
    }

    /// Cancels an own edit (FAILED edits keep the zone locked until cancelled).
    async fn cancel(&mut self, edit_id: &str) {
        for _ in 0..5 {
            match self.inner.client.cancel_edit(edit_id).await {
                Ok(()) => {
                    tracing::info!(zone = %self.zone(), edit_id, "cancelled the failed edit");
                    return;
                }
                Err(err) if err.is_transient() => self.pause().await,
                Err(err) => {
                    tracing::error!(zone = %self.zone(), edit_id, error = %err, "cannot cancel the failed edit");
                    return;
                }
            }
        }
    }

    /// The batch's records are live: update the ledger, forget the changes, refresh the zone.
    async fn finish(&mut self, edit_id: Option<String>) {
        let fresh = self.read_zone_for_bookkeeping().await;
        self.finish_with(edit_id, fresh).await;
    }

    async fn read_zone_for_bookkeeping(&mut self) -> Option<Zone> {
        for _ in 0..3 {
            match self.inner.client.get_zone(self.zone()).await {
                Ok(zone) => return Some(zone),
                Err(err) if err.is_transient() => self.pause().await,
                Err(_) => break,
            }
        }
        None
    }

    async fn finish_with(&mut self, edit_id: Option<String>, fresh: Option<Zone>) {
        self.refusals = 0;
        let batch: Vec<Change> = self.queue.state.lock().expect("lock").batch.clone();
        let sent = self.sent_items.take();
        // What we created: the ADD items we sent, or (after a restart) the batch's adds.
        let mut added: BTreeSet<(String, String)> = match &sent {
            Some(items) => items
                .iter()
                .filter(|i| i.action == EditAction::Add)
                .filter_map(|i| {
                    Some((
                        names::full_name(i.new_key.as_deref()?, self.zone()),
                        i.new_value.clone()?,
                    ))
                })
                .collect(),
            None => batch
                .iter()
                .flat_map(|c| &c.ops)
                .filter_map(|op| match op {
                    Op::Add { name, value } => Some((name.clone(), value.clone())),
                    _ => None,
                })
                .collect(),
        };
        // Fix (found by tests/crash.rs): a change that may have gone out in an earlier POST whose
        // edit id was lost (a crash between CSC's 201 and the journal commit, or a POST whose
        // outcome was unknown) had its values created by that lost edit, so the last POST does
        // not carry them. Counting only the items sent left them out of the ledger, and a later
        // `update delete NAME TXT` kept them as if foreign. Such a change's adds that the fresh
        // read shows at CSC count as created by the gateway.
        {
            let state = self.queue.state.lock().expect("lock");
            let at_csc = fresh.as_ref().map(diff::txt_set).unwrap_or_default();
            added.extend(
                batch
                    .iter()
                    .filter(|c| state.maybe_sent.contains(&c.id))
                    .flat_map(|c| &c.ops)
                    .filter_map(|op| match op {
                        Op::Add { name, value } => Some((name.clone(), value.clone())),
                        _ => None,
                    })
                    .filter(|(name, value)| at_csc.get(name).is_some_and(|v| v.contains(value))),
            );
        }
        let present = |name: &str, value: &str| -> bool {
            match &fresh {
                Some(zone) => diff::txt_set(zone)
                    .get(name)
                    .is_some_and(|v| v.contains(value)),
                // Without a fresh read, trust what was sent: adds exist, purges are gone.
                None => !sent.iter().flatten().any(|i| {
                    i.action == EditAction::Purge
                        && i.current_value.as_deref() == Some(value)
                        && i.current_key
                            .as_deref()
                            .map(|k| names::full_name(k, self.zone()))
                            .as_deref()
                            == Some(name)
                }),
            }
        };
        let touched: BTreeSet<String> = batch
            .iter()
            .flat_map(|c| c.ops.iter().map(|op| op.name().to_owned()))
            .chain(added.iter().map(|(name, _)| name.clone()))
            .collect();
        let mut mutations: Vec<Mutation> =
            batch.iter().map(|c| Mutation::DeleteChange(c.id)).collect();
        {
            let mut ledger = self.inner.ledger.lock().expect("lock");
            for (name, value) in &added {
                if present(name, value) {
                    let entry = LedgerEntry {
                        zone: self.zone().to_owned(),
                        name: name.clone(),
                        value: value.clone(),
                        added_at: now_ms() / 1000,
                        edit_id: edit_id.clone(),
                    };
                    ledger.insert(entry.clone());
                    mutations.push(Mutation::PutLedger(entry));
                }
            }
            for name in &touched {
                let gone: Vec<String> = ledger
                    .values_at(self.zone(), name)
                    .filter(|e| !present(name, &e.value))
                    .map(|e| e.value.clone())
                    .collect();
                for value in gone {
                    ledger.remove(self.zone(), name, &value);
                    mutations.push(Mutation::DeleteLedger {
                        zone: self.zone().to_owned(),
                        name: name.clone(),
                        value,
                    });
                }
            }
        }
        if let Some(zone) = fresh {
            self.inner.directory.store(zone);
        }
        if let Err(err) = self.inner.journal.commit(mutations).await {
            tracing::error!(error = %err, "cannot record the applied batch in the journal");
        }
        let mut state = self.queue.state.lock().expect("lock");
        let done: HashSet<u64> = batch.iter().map(|c| c.id).collect();
        state.batch.retain(|c| !done.contains(&c.id));
        state.maybe_sent.retain(|id| !done.contains(id));
        state.edit_id = None;
        metrics::pending(self.zone(), state.pending.len() + state.batch.len());
        tracing::info!(zone = %self.zone(), changes = batch.len(), edit_id = edit_id.as_deref().unwrap_or("-"), "batch applied");
    }

    /// CSC refused the batch for good: forget its changes and tell whoever waits.
    async fn give_up(&mut self, reason: &str) {
        self.refusals = 0;
        let batch = std::mem::take(&mut self.queue.state.lock().expect("lock").batch);
        let mutations = batch.iter().map(|c| Mutation::DeleteChange(c.id)).collect();
        if let Err(err) = self.inner.journal.commit(mutations).await {
            tracing::error!(error = %err, "cannot record the failed batch in the journal");
        }
        for change in &batch {
            self.report_given_up(change, reason);
        }
        metrics::edit(self.zone(), "refused");
        let ids: Vec<u64> = batch.iter().map(|c| c.id).collect();
        audit::edit(self.zone(), None, "refused", &ids, 0, Duration::ZERO);
        let mut state = self.queue.state.lock().expect("lock");
        state.edit_id = None;
        metrics::pending(self.zone(), state.pending.len() + state.batch.len());
    }

    /// The ids of the changes in the batch.
    fn batch_ids(&self) -> Vec<u64> {
        self.queue
            .state
            .lock()
            .expect("lock")
            .batch
            .iter()
            .map(|c| c.id)
            .collect()
    }

    fn report_given_up(&self, change: &Change, reason: &str) {
        tracing::error!(zone = %self.zone(), change = change.id, origin = %change.origin, ops = change.ops.len(), reason, "change failed for good");
        if let Some(waiter) = self
            .queue
            .state
            .lock()
            .expect("lock")
            .waiters
            .remove(&change.id)
        {
            let _ = waiter.send(Outcome::Failed(reason.to_owned()));
        }
    }

    /// Answers every `accepted`-mode waiter of the batch.
    fn answer_waiters(&self, outcome: Outcome) {
        let mut state = self.queue.state.lock().expect("lock");
        let ids: Vec<u64> = state.batch.iter().map(|c| c.id).collect();
        for id in ids {
            if let Some(waiter) = state.waiters.remove(&id) {
                let _ = waiter.send(outcome.clone());
            }
        }
    }

    /// Decides what a CSC error means for the batch, pausing as needed.
    async fn on_error(&mut self, err: &CscError, doing: &str) -> Next {
        if err.is_credentials() {
            self.inner.note_csc_error(err);
            self.refuse_unacknowledged(&err.to_string()).await;
            tokio::time::sleep(self.inner.options.credentials_retry).await;
            return Next::Retry;
        }
        match err {
            CscError::Validation { .. }
            | CscError::EditRejected { .. }
            | CscError::Unexpected {
                status: 400..=499, ..
            } if self.refusals == 0 => {
                self.refusals += 1;
                tracing::warn!(zone = %self.zone(), error = %err, "CSC refused the edit; re-reading the zone and trying once more");
                self.pause().await;
                Next::Retry
            }
            // A 4xx without CSC's JSON body (413 for an edit too large, say) will not pass on
            // a retry of the same request either.
            CscError::Validation { .. }
            | CscError::EditRejected { .. }
            | CscError::Unexpected {
                status: 400..=499, ..
            }
            | CscError::NotFound { .. } => Next::GiveUp(err.to_string()),
            _ => {
                tracing::warn!(zone = %self.zone(), error = %err, "CSC failed while {doing}; retrying with backoff");
                self.pause().await;
                Next::Retry
            }
        }
    }

    /// Credentials rejected: `accepted`-mode changes not yet answered are refused now (the
    /// client gets SERVFAIL at once) and dropped; acknowledged changes wait for CSC.
    async fn refuse_unacknowledged(&mut self, reason: &str) {
        let refused: Vec<u64> = {
            let mut state = self.queue.state.lock().expect("lock");
            if state.edit_id.is_some() || state.waiters.is_empty() {
                return;
            }
            let waiting: HashSet<u64> = state.waiters.keys().copied().collect();
            state.batch.retain(|c| !waiting.contains(&c.id));
            state.pending.retain(|c| !waiting.contains(&c.id));
            for (_, waiter) in state.waiters.drain() {
                let _ = waiter.send(Outcome::Failed(reason.to_owned()));
            }
            waiting.into_iter().collect()
        };
        let mutations = refused.into_iter().map(Mutation::DeleteChange).collect();
        if let Err(err) = self.inner.journal.commit(mutations).await {
            tracing::error!(error = %err, "cannot drop refused changes from the journal");
        }
    }

    fn csc_ok(&mut self) {
        self.failures = 0;
        self.inner.note_csc_ok();
    }

    /// Exponential backoff with jitter after a transient failure.
    async fn pause(&mut self) {
        let options = &self.inner.options;
        let exp = options
            .min_backoff
            .saturating_mul(1u32 << self.failures.min(16));
        let delay = exp
            .min(options.max_backoff)
            .mul_f64(rand::random_range(0.5..=1.0));
        self.failures = self.failures.saturating_add(1);
        tokio::time::sleep(delay).await;
    }

    /// The jittered pause between two status reads.
    async fn poll_pause(&self) {
        let delay = self
            .inner
            .options
            .poll_interval
            .mul_f64(rand::random_range(0.75..=1.25));
        tokio::time::sleep(delay).await;
    }
}
