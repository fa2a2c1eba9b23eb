//! The narrow interface between the engine and its durable store.
//!
//! The engine keeps its working state in memory and writes every state change through
//! [`Store::apply`] as one atomic, durable batch of [`Mutation`]s; at start it reads everything
//! back with [`Store::load`]. That is all a backend has to do, so another one (PostgreSQL, for
//! several replicas) can slot in without touching the engine's logic.

use super::change::{Change, ChangeId, LedgerEntry};

/// One durable state change.
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    /// Insert or replace a change (its edit id and attempt count move with it).
    PutChange(Change),
    /// Forget a change: applied, cancelled out, failed for good, or withdrawn.
    DeleteChange(ChangeId),
    /// Record a value the gateway created.
    PutLedger(LedgerEntry),
    /// Forget a value the gateway created (it is gone from CSC).
    DeleteLedger {
        zone: String,
        name: String,
        value: String,
    },
}

/// Everything a store holds, read back at start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Changes not yet applied, in id order.
    pub changes: Vec<Change>,
    pub ledger: Vec<LedgerEntry>,
}

/// Why the store failed. The engine treats every store failure as fatal for the request at hand:
/// an acknowledged change must be on disk.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("journal at {path}: {detail}")]
    Backend { path: String, detail: String },
    #[error("journal at {path} has schema version {found}; this build reads version {expected}")]
    Schema {
        path: String,
        found: u64,
        expected: u64,
    },
    #[error("journal record is corrupt: {0}")]
    Corrupt(String),
    #[error("the journal writer has stopped")]
    Closed,
}

/// A durable store of the engine's state. Calls block; the journal runs them off the runtime.
pub trait Store: Send + Sync + 'static {
    /// Reads the whole state.
    fn load(&self) -> Result<Snapshot, StoreError>;
    /// Applies `mutations` atomically and durably (fsync before returning).
    fn apply(&self, mutations: &[Mutation]) -> Result<(), StoreError>;
}
