//! The simulator's in-memory world: the zones with their published records, the zone edits with
//! their lifecycle, and the per-zone lock.
//!
//! Status is computed lazily from each edit's acceptance time (see [`super::lifecycle`]): every
//! access first calls `advance`, under one mutex, which moves each edit to the status its age
//! gives and applies its records the first time it reaches PROPAGATING — so records are applied
//! exactly once, whether the first observer is an API call, the DNS server or the ticker task.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime};

use serde::Serialize;
use tracing::{info, warn};

use super::error::ApiError;
use super::lifecycle::Timing;
use super::records::{self, EditError};
use crate::csc::model::{EditItem, EditRequest, EditStatus, Zone, ZoneEdit};
use crate::csc::names::normalize;

/// Who the simulator says requested every edit (`requestedBy`).
const REQUESTED_BY: &str = "sim-api-user";
/// The `source` of every edit.
const SOURCE: &str = "API";

/// Why the simulator's world cannot be built from the options.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// `--zones` named no zone.
    #[error("no zones to serve: pass --zones a.test,b.test")]
    NoZones,
    /// A zone name is empty or malformed.
    #[error("invalid zone name {0:?}")]
    BadZone(String),
}

/// An edit as the API shows it: CSC's [`ZoneEdit`] plus the simulator's extra fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EditView {
    /// The documented fields (`id`, `zoneName`, `status`, `modifiedDate`, …).
    #[serde(flatten)]
    pub edit: ZoneEdit,
    /// When the edit was accepted (RFC 3339).
    pub created_date: String,
    /// Why the edit FAILED; empty otherwise.
    pub error_description: String,
}

/// One zone edit and its bookkeeping.
#[derive(Debug, Clone)]
struct Entry {
    id: String,
    zone: String,
    items: Vec<EditItem>,
    accepted: Instant,
    created: SystemTime,
    modified: SystemTime,
    status: EditStatus,
    error_description: String,
    /// Chosen by `--fail-every` to end FAILED.
    fails: bool,
    /// Whether its records were applied to the zone.
    applied: bool,
}

impl Entry {
    fn view(&self) -> EditView {
        EditView {
            edit: ZoneEdit {
                id: self.id.clone(),
                zone_name: self.zone.clone(),
                status: self.status,
                modified_date: rfc3339(self.modified),
                requested_by: REQUESTED_BY.to_owned(),
                source: SOURCE.to_owned(),
                edits: self.items.clone(),
            },
            created_date: rfc3339(self.created),
            error_description: self.error_description.clone(),
        }
    }

    /// Whether the clock still moves this edit (not final, not FAILED).
    fn moving(&self) -> bool {
        !self.status.is_final() && self.status != EditStatus::Failed
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// Zones by normalized name.
    zones: BTreeMap<String, Zone>,
    /// Every edit, oldest first.
    edits: Vec<Entry>,
    /// Edits accepted so far (the `--fail-every` counter).
    accepted: u64,
}

/// The shared state of one simulator.
#[derive(Debug)]
pub struct SimState {
    inner: Mutex<Inner>,
    timing: Timing,
    fail_every: u64,
}

impl SimState {
    /// A world with `zones` freshly seeded, edits on `timing`, every `fail_every`th edit failing
    /// (0 = none).
    pub fn new(zones: &[String], timing: Timing, fail_every: u64) -> Result<Self, StateError> {
        let mut map = BTreeMap::new();
        for zone in zones {
            let name = normalize(zone.trim());
            let valid = !name.is_empty()
                && !name.starts_with('.')
                && !name.contains("..")
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
            if !valid {
                return Err(StateError::BadZone(zone.clone()));
            }
            map.entry(name.clone())
                .or_insert_with(|| records::seed_zone(&name));
        }
        if map.is_empty() {
            return Err(StateError::NoZones);
        }
        Ok(SimState {
            inner: Mutex::new(Inner {
                zones: map,
                ..Inner::default()
            }),
            timing,
            fail_every,
        })
    }

    /// The served zone names, sorted.
    pub fn zone_names(&self) -> Vec<String> {
        self.lock().zones.keys().cloned().collect()
    }

    /// Every zone with its published records, sorted by name.
    pub fn zones(&self) -> Vec<Zone> {
        self.advanced().zones.values().cloned().collect()
    }

    /// One zone by name (case-insensitive, trailing dot ignored).
    pub fn zone(&self, name: &str) -> Option<Zone> {
        self.advanced().zones.get(&normalize(name)).cloned()
    }

    /// Accepts an edit: checks it, takes the zone lock, and returns the new edit's id.
    pub fn submit(&self, request: &EditRequest) -> Result<String, ApiError> {
        let now = Instant::now();
        let mut inner = self.lock();
        self.advance(&mut inner, now);
        let zone_name = normalize(&request.zone_name);
        let Some(zone) = inner.zones.get(&zone_name) else {
            return Err(ApiError::invalid_zone(&request.zone_name));
        };
        records::check_fields(&request.edits).map_err(edit_error)?;
        if let Some(blocking) = inner
            .edits
            .iter()
            .rev()
            .find(|e| e.zone == zone_name && e.status.holds_lock())
        {
            return Err(ApiError::open_zone_edits(&blocking.id));
        }
        let mut trial = zone.clone();
        records::apply_items(&mut trial, &request.edits).map_err(edit_error)?;

        inner.accepted += 1;
        let fails = self.fail_every > 0 && inner.accepted.is_multiple_of(self.fail_every);
        let created = SystemTime::now();
        let entry = Entry {
            id: uuid::Uuid::new_v4().to_string(),
            zone: zone_name,
            items: request.edits.clone(),
            accepted: now,
            created,
            modified: created,
            status: EditStatus::New,
            error_description: String::new(),
            fails,
            applied: false,
        };
        info!(
            edit = %entry.id, zone = %entry.zone, items = entry.items.len(), fails,
            "sim: zone edit accepted (NEW)"
        );
        let id = entry.id.clone();
        inner.edits.push(entry);
        self.advance(&mut inner, now);
        Ok(id)
    }

    /// One edit by id.
    pub fn edit(&self, id: &str) -> Option<EditView> {
        self.advanced()
            .edits
            .iter()
            .find(|e| e.id == id)
            .map(Entry::view)
    }

    /// Every edit, newest first.
    pub fn edits(&self) -> Vec<EditView> {
        self.advanced()
            .edits
            .iter()
            .rev()
            .map(Entry::view)
            .collect()
    }

    /// Cancels an edit (FAILED or pending → CANCELED), releasing the zone lock.
    ///
    /// Cancelling a CANCELED edit succeeds again; a COMPLETED edit answers
    /// `EDIT_NOT_CANCELABLE`. Records an edit already applied (PROPAGATING) stay published.
    pub fn cancel(&self, id: &str) -> Result<EditView, ApiError> {
        let mut inner = self.advanced();
        let entry = inner
            .edits
            .iter_mut()
            .find(|e| e.id == id)
            .ok_or_else(|| ApiError::edit_not_found(id))?;
        match entry.status {
            EditStatus::Completed => Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "EDIT_NOT_CANCELABLE",
                "A COMPLETED zone edit cannot be canceled",
                id,
            )),
            EditStatus::Canceled => Ok(entry.view()),
            from => {
                entry.status = EditStatus::Canceled;
                entry.modified = SystemTime::now();
                info!(
                    edit = %entry.id, zone = %entry.zone, from = wire(from), applied = entry.applied,
                    "sim: zone edit CANCELED, zone lock released"
                );
                Ok(entry.view())
            }
        }
    }

    /// Moves every edit along the clock now (the ticker calls this so logs and DNS stay timely).
    pub fn tick(&self) {
        drop(self.advanced());
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` inconsistent in a way that matters
        // to a test double more than stopping would, so keep serving.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn advanced(&self) -> MutexGuard<'_, Inner> {
        let mut inner = self.lock();
        self.advance(&mut inner, Instant::now());
        inner
    }

    /// Brings every moving edit to the status its age gives, applying records exactly once.
    fn advance(&self, inner: &mut Inner, now: Instant) {
        let Inner { zones, edits, .. } = inner;
        for entry in edits.iter_mut().filter(|e| e.moving()) {
            let target = self
                .timing
                .status_at(now.saturating_duration_since(entry.accepted), entry.fails);
            if target == entry.status {
                continue;
            }
            let from = entry.status;
            entry.modified = SystemTime::now();
            if target == EditStatus::Failed {
                entry.error_description = format!(
                    "Simulated failure: every edit number divisible by {} fails (--fail-every)",
                    self.fail_every
                );
                entry.status = EditStatus::Failed;
                warn!(edit = %entry.id, zone = %entry.zone, from = wire(from), "sim: zone edit FAILED (nothing applied, zone stays locked)");
                continue;
            }
            if target.is_live() && !entry.applied {
                if let Err(err) = apply(zones, entry) {
                    entry.error_description = format!("Could not apply the edit: {err}");
                    entry.status = EditStatus::Failed;
                    warn!(edit = %entry.id, zone = %entry.zone, error = %err, "sim: zone edit FAILED at apply time");
                    continue;
                }
                info!(edit = %entry.id, zone = %entry.zone, "sim: zone edit records applied");
            }
            entry.status = target;
            info!(edit = %entry.id, zone = %entry.zone, from = wire(from), to = wire(target), "sim: zone edit status changed");
        }
    }
}

/// Applies an edit's items to its zone, all or nothing, and bumps the SOA serial.
fn apply(zones: &mut BTreeMap<String, Zone>, entry: &mut Entry) -> Result<(), EditError> {
    // Zones are never removed, so an accepted edit always finds its zone; be defensive anyway.
    let Some(zone) = zones.get_mut(&entry.zone) else {
        return Err(EditError::NoEdits);
    };
    let mut next = zone.clone();
    records::apply_items(&mut next, &entry.items)?;
    if let Some(soa) = next.soa.as_mut() {
        soa.serial = soa.serial.wrapping_add(1);
    }
    *zone = next;
    entry.applied = true;
    Ok(())
}

/// Maps a record-level error to the API error the simulator answers.
fn edit_error(err: EditError) -> ApiError {
    use axum::http::StatusCode;
    let description = err.to_string();
    match err {
        EditError::NoEdits => ApiError::validation(description, "edits"),
        EditError::MissingField { index, field, .. }
        | EditError::EmptyKey { index, field }
        | EditError::EmptyValue { index, field } => {
            ApiError::validation(description, format!("edits[{index}].{field}"))
        }
        EditError::NothingToChange { index } => {
            ApiError::validation(description, format!("edits[{index}]"))
        }
        EditError::NotFound { key, value, .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "RECORD_NOT_FOUND",
            description,
            format!("{key} {value}"),
        ),
        EditError::Duplicate { key, value, .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "DUPLICATE_RECORD",
            description,
            format!("{key} {value}"),
        ),
    }
}

/// A status as CSC spells it (`PROPAGATING`), for logs.
fn wire(status: EditStatus) -> &'static str {
    match status {
        EditStatus::New => "NEW",
        EditStatus::Submitted => "SUBMITTED",
        EditStatus::Processing => "PROCESSING",
        EditStatus::Propagating => "PROPAGATING",
        EditStatus::Completed => "COMPLETED",
        EditStatus::Failed => "FAILED",
        EditStatus::Canceled => "CANCELED",
    }
}

/// RFC 3339 with milliseconds, UTC.
fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn request(zone: &str, items: Vec<EditItem>) -> EditRequest {
        EditRequest {
            zone_name: zone.to_owned(),
            edits: items,
        }
    }

    fn has_txt(state: &SimState, zone: &str, value: &str) -> bool {
        state
            .zone(zone)
            .is_some_and(|z| z.txt.iter().any(|r| r.value == value))
    }

    #[test]
    fn instant_edits_apply_once_and_release_the_lock() {
        let state =
            SimState::new(&["example.com".into()], Timing::new(Duration::ZERO), 0).expect("state");
        let add = request(
            "example.com",
            vec![EditItem::add_txt("_acme-challenge", "v1", 300, None)],
        );
        let id = state.submit(&add).expect("accepted");
        assert_eq!(
            state.edit(&id).map(|e| e.edit.status),
            Some(EditStatus::Completed)
        );
        assert!(has_txt(&state, "example.com", "v1"));
        let serial = state
            .zone("example.com")
            .and_then(|z| z.soa)
            .map(|s| s.serial);
        assert_eq!(serial, Some(records::SEED_SERIAL + 1));
        // The same ADD again is a duplicate now.
        let dup = state.submit(&add).expect_err("duplicate");
        assert_eq!(dup.code, "DUPLICATE_RECORD");
    }

    #[test]
    fn lock_and_fail_every() {
        let state = SimState::new(
            &["a.test".into(), "b.test".into()],
            Timing::new(Duration::from_secs(60)),
            2,
        )
        .expect("state");
        let first = state
            .submit(&request(
                "a.test",
                vec![EditItem::add_txt("x", "1", 300, None)],
            ))
            .expect("first");
        let blocked = state
            .submit(&request(
                "a.test",
                vec![EditItem::add_txt("x", "2", 300, None)],
            ))
            .expect_err("locked");
        assert_eq!(
            (blocked.code, blocked.value.as_str()),
            ("OPEN_ZONE_EDITS", first.as_str())
        );
        // Other zones are independent; this is accepted edit number 2, chosen to fail.
        let second = state
            .submit(&request(
                "b.test",
                vec![EditItem::add_txt("x", "1", 300, None)],
            ))
            .expect("other zone");
        assert!(state.zone_names() == vec!["a.test".to_owned(), "b.test".to_owned()]);
        state.cancel(&first).expect("cancel");
        assert_eq!(
            state.edit(&first).map(|e| e.edit.status),
            Some(EditStatus::Canceled)
        );
        assert!(!has_txt(&state, "a.test", "1"));
        state
            .submit(&request(
                "a.test",
                vec![EditItem::add_txt("x", "2", 300, None)],
            ))
            .expect("lock released");
        assert!(state.cancel(&second).is_ok());
        assert_eq!(
            state.cancel("nope").map(|_| ()).map_err(|e| e.code),
            Err("EDIT_NOT_FOUND")
        );
    }

    #[test]
    fn bad_zone_names_are_refused() {
        let timing = Timing::new(Duration::ZERO);
        assert!(SimState::new(&[], timing, 0).is_err());
        assert!(SimState::new(&["bad zone".into()], timing, 0).is_err());
    }
}
