//! The embedded [`Store`] backend: one redb file under `state.dir`.
//!
//! Tables: `meta` (schema version), `changes` (id → JSON change), `ledger`
//! (`zone\0name\0value` → JSON entry). JSON values keep the file readable by later versions
//! and by `csc-rfc2136 status`.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::change::{Change, LedgerEntry};
use super::store::{Mutation, Snapshot, Store, StoreError};

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("changes");
const LEDGER: TableDefinition<&str, &[u8]> = TableDefinition::new("ledger");

/// The schema this build writes and reads.
pub const SCHEMA_VERSION: u64 = 1;

/// The journal file's name inside `state.dir`.
pub const FILE_NAME: &str = "journal.redb";

/// redb's page cache (read cache and write buffer together). redb's default is 1 GiB, which a
/// write-mostly journal fills with pages it never reads again: under a burst of UPDATEs the
/// gateway's RSS grew by hundreds of MB. Writes do not need it (pages are read back from the
/// OS page cache), and the journal is read in full only once, at start.
const CACHE_BYTES: usize = 4 << 20;

/// A redb-backed store.
pub struct RedbStore {
    db: Database,
    path: PathBuf,
}

impl RedbStore {
    /// Opens (creating if needed) the journal in `dir`, checking its schema version.
    pub fn open(dir: &Path) -> Result<RedbStore, StoreError> {
        let path = dir.join(FILE_NAME);
        let fail = |detail: String| StoreError::Backend {
            path: path.display().to_string(),
            detail,
        };
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create folder: {e}")))?;
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| fail(e.to_string()))?;
        let store = RedbStore { db, path };
        store.init_schema()?;
        Ok(store)
    }

    fn fail(&self, err: impl std::fmt::Display) -> StoreError {
        StoreError::Backend {
            path: self.path.display().to_string(),
            detail: err.to_string(),
        }
    }

    fn init_schema(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.fail(e))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| self.fail(e))?;
            let found = meta
                .get("schema_version")
                .map_err(|e| self.fail(e))?
                .map(|v| v.value());
            match found {
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION)
                        .map_err(|e| self.fail(e))?;
                }
                Some(SCHEMA_VERSION) => {}
                Some(found) => {
                    return Err(StoreError::Schema {
                        path: self.path.display().to_string(),
                        found,
                        expected: SCHEMA_VERSION,
                    });
                }
            }
            txn.open_table(CHANGES).map_err(|e| self.fail(e))?;
            txn.open_table(LEDGER).map_err(|e| self.fail(e))?;
        }
        txn.commit().map_err(|e| self.fail(e))
    }
}

fn ledger_key(zone: &str, name: &str, value: &str) -> String {
    format!("{zone}\0{name}\0{value}")
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("journal records always serialize")
}

impl Store for RedbStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.fail(e))?;
        let mut snapshot = Snapshot::default();
        let changes = txn.open_table(CHANGES).map_err(|e| self.fail(e))?;
        for row in changes.iter().map_err(|e| self.fail(e))? {
            let (_, value) = row.map_err(|e| self.fail(e))?;
            let change: Change = serde_json::from_slice(value.value())
                .map_err(|e| StoreError::Corrupt(format!("change: {e}")))?;
            snapshot.changes.push(change);
        }
        let ledger = txn.open_table(LEDGER).map_err(|e| self.fail(e))?;
        for row in ledger.iter().map_err(|e| self.fail(e))? {
            let (_, value) = row.map_err(|e| self.fail(e))?;
            let entry: LedgerEntry = serde_json::from_slice(value.value())
                .map_err(|e| StoreError::Corrupt(format!("ledger entry: {e}")))?;
            snapshot.ledger.push(entry);
        }
        Ok(snapshot)
    }

    fn apply(&self, mutations: &[Mutation]) -> Result<(), StoreError> {
        // redb's default durability fsyncs on commit; the journal batches callers in front of it.
        let txn = self.db.begin_write().map_err(|e| self.fail(e))?;
        {
            let mut changes = txn.open_table(CHANGES).map_err(|e| self.fail(e))?;
            let mut ledger = txn.open_table(LEDGER).map_err(|e| self.fail(e))?;
            for mutation in mutations {
                match mutation {
                    Mutation::PutChange(change) => {
                        changes
                            .insert(change.id, to_json(change).as_slice())
                            .map_err(|e| self.fail(e))?;
                    }
                    Mutation::DeleteChange(id) => {
                        changes.remove(id).map_err(|e| self.fail(e))?;
                    }
                    Mutation::PutLedger(entry) => {
                        let key = ledger_key(&entry.zone, &entry.name, &entry.value);
                        ledger
                            .insert(key.as_str(), to_json(entry).as_slice())
                            .map_err(|e| self.fail(e))?;
                    }
                    Mutation::DeleteLedger { zone, name, value } => {
                        let key = ledger_key(zone, name, value);
                        ledger.remove(key.as_str()).map_err(|e| self.fail(e))?;
                    }
                }
            }
        }
        txn.commit().map_err(|e| self.fail(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::change::Op;

    fn change(id: u64) -> Change {
        Change {
            id,
            zone: "example.com".into(),
            ops: vec![Op::Add {
                name: "_acme-challenge.example.com".into(),
                value: format!("v{id}"),
            }],
            origin: "k.".into(),
            accepted_at_ms: 1,
            failed_attempts: 0,
            edit_id: None,
        }
    }

    #[test]
    fn mutations_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = RedbStore::open(dir.path()).unwrap();
            let entry = LedgerEntry {
                zone: "example.com".into(),
                name: "_acme-challenge.example.com".into(),
                value: "v".into(),
                added_at: 5,
                edit_id: Some("e1".into()),
            };
            store
                .apply(&[
                    Mutation::PutChange(change(1)),
                    Mutation::PutChange(change(2)),
                    Mutation::PutLedger(entry),
                ])
                .unwrap();
            store.apply(&[Mutation::DeleteChange(1)]).unwrap();
        }
        let store = RedbStore::open(dir.path()).unwrap();
        let snapshot = store.load().unwrap();
        assert_eq!(snapshot.changes, vec![change(2)]);
        assert_eq!(snapshot.ledger.len(), 1);
        store
            .apply(&[Mutation::DeleteLedger {
                zone: "example.com".into(),
                name: "_acme-challenge.example.com".into(),
                value: "v".into(),
            }])
            .unwrap();
        assert!(store.load().unwrap().ledger.is_empty());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = RedbStore::open(dir.path()).unwrap();
            let txn = store.db.begin_write().unwrap();
            txn.open_table(META)
                .unwrap()
                .insert("schema_version", 99)
                .unwrap();
            txn.commit().unwrap();
        }
        let err = RedbStore::open(dir.path()).err().unwrap();
        assert!(err.to_string().contains("schema version 99"), "{err}");
    }
}
