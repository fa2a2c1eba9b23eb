//! The ledger: every TXT value the gateway created at CSC and has not seen removed.
//!
//! It answers "is this value ours?" for RRset deletes (so an SPF record is never removed by an
//! `update delete NAME TXT`), and "which of ours were left behind?" for the orphan purge.

use std::collections::BTreeMap;

use super::change::LedgerEntry;

/// In-memory ledger, mirrored to the journal by the engine.
#[derive(Debug, Default)]
pub struct Ledger {
    entries: BTreeMap<(String, String, String), LedgerEntry>,
    /// Counts changes, so views derived from ownership know when to rebuild.
    generation: u64,
}

impl Ledger {
    /// A ledger holding `entries` (as loaded from the journal).
    pub fn from_entries(entries: impl IntoIterator<Item = LedgerEntry>) -> Ledger {
        let mut ledger = Ledger::default();
        for entry in entries {
            ledger.insert(entry);
        }
        ledger
    }

    /// Whether the gateway created `value` at `name` in `zone`.
    pub fn owns(&self, zone: &str, name: &str, value: &str) -> bool {
        self.entries
            .contains_key(&(zone.to_owned(), name.to_owned(), value.to_owned()))
    }

    /// Records a created value (replacing an older record of it).
    pub fn insert(&mut self, entry: LedgerEntry) {
        let key = (entry.zone.clone(), entry.name.clone(), entry.value.clone());
        self.entries.insert(key, entry);
        self.generation += 1;
    }

    /// Forgets a value; returns whether it was there.
    pub fn remove(&mut self, zone: &str, name: &str, value: &str) -> bool {
        self.generation += 1;
        self.entries
            .remove(&(zone.to_owned(), name.to_owned(), value.to_owned()))
            .is_some()
    }

    /// A number that changes whenever an entry is added or removed.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The values owned at `name` in `zone`.
    pub fn values_at<'a>(
        &'a self,
        zone: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a LedgerEntry> + 'a {
        self.entries
            .values()
            .filter(move |e| e.zone == zone && e.name == name)
    }

    /// Entries created at or before `cutoff` (Unix seconds): orphans once their TTL has passed.
    pub fn older_than(&self, cutoff: u64) -> Vec<LedgerEntry> {
        self.entries
            .values()
            .filter(|e| e.added_at <= cutoff)
            .cloned()
            .collect()
    }

    /// How many values the gateway owns.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the gateway owns no value at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(value: &str, added_at: u64) -> LedgerEntry {
        LedgerEntry {
            zone: "example.com".into(),
            name: "_acme-challenge.example.com".into(),
            value: value.into(),
            added_at,
            edit_id: None,
        }
    }

    #[test]
    fn owns_exactly_what_was_inserted() {
        let mut ledger = Ledger::from_entries([entry("a", 10)]);
        assert!(ledger.owns("example.com", "_acme-challenge.example.com", "a"));
        assert!(!ledger.owns("example.com", "_acme-challenge.example.com", "b"));
        ledger.insert(entry("b", 20));
        assert_eq!(
            ledger
                .values_at("example.com", "_acme-challenge.example.com")
                .count(),
            2
        );
        assert_eq!(ledger.older_than(15), vec![entry("a", 10)]);
        assert!(ledger.remove("example.com", "_acme-challenge.example.com", "a"));
        assert!(!ledger.remove("example.com", "_acme-challenge.example.com", "a"));
        assert_eq!(ledger.len(), 1);
    }
}
