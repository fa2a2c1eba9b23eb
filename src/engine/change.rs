//! What the engine carries: the operations of one accepted UPDATE, and their bookkeeping.
//!
//! Names are stored normalized (lower case, no final dot) and absolute; the gateway manages TXT
//! records only, so an operation needs no type.

use serde::{Deserialize, Serialize};

/// Monotonic id of an accepted change, assigned by the engine.
pub type ChangeId = u64;

/// One operation of an UPDATE, on the TXT records of a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Add one TXT value (a duplicate of a present value is a no-op).
    Add { name: String, value: String },
    /// Delete one TXT value (class NONE); deleting a missing value is a no-op.
    DeleteValue { name: String, value: String },
    /// Delete the TXT RRset (class ANY, type TXT). Unless `foreign`, only values the gateway
    /// owns are removed, so SPF and verification records survive.
    DeleteRrset { name: String, foreign: bool },
    /// Delete every RRset at the name (class ANY, type ANY). The gateway touches TXT only, so
    /// this is the TXT RRset delete with the same ownership rule.
    DeleteName { name: String, foreign: bool },
}

impl Op {
    /// The owner name the operation touches.
    pub fn name(&self) -> &str {
        match self {
            Op::Add { name, .. }
            | Op::DeleteValue { name, .. }
            | Op::DeleteRrset { name, .. }
            | Op::DeleteName { name, .. } => name,
        }
    }
}

/// An accepted UPDATE for one zone, as committed to the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub id: ChangeId,
    /// The zone, normalized.
    pub zone: String,
    /// The operations, applied in order, all or nothing.
    pub ops: Vec<Op>,
    /// Who asked: the TSIG key name, or an internal origin such as `orphan-purge`.
    pub origin: String,
    /// When it was accepted, in Unix milliseconds.
    pub accepted_at_ms: u64,
    /// How many CSC edits carrying it ended FAILED; the second failure gives it up.
    #[serde(default)]
    pub failed_attempts: u32,
    /// The CSC edit carrying it, once one was created (`None` while pending).
    #[serde(default)]
    pub edit_id: Option<String>,
}

/// A value the gateway created at CSC, so that RRset deletes and the orphan purge know it is ours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub zone: String,
    pub name: String,
    pub value: String,
    /// When the edit that created it was accepted, in Unix seconds.
    pub added_at: u64,
    /// The CSC edit that created it, when known.
    pub edit_id: Option<String>,
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
