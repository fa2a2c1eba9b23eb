//! The zone directory: which zones CSC serves, and the last copy of each zone's records.
//!
//! Zones come from `GET /zones` (every page), re-read periodically and when a name matches no
//! zone (at most once per [`MISS_REFRESH_INTERVAL`], so a flood of queries for foreign names
//! cannot turn into a flood of CSC calls). Zone workers store fresher copies after every edit.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::csc::model::Zone;
use crate::csc::{CscClient, CscError, names};

/// Shortest time between two zone-list reads caused by names that match no zone.
pub const MISS_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// The zones CSC serves, with their last-read records.
pub struct ZoneDirectory {
    client: CscClient,
    zones: RwLock<BTreeMap<String, Zone>>,
    last_list: Mutex<Option<Instant>>,
    /// Counts stored copies, so views derived from them know when to rebuild.
    generation: AtomicU64,
}

impl ZoneDirectory {
    /// An empty directory; call [`ZoneDirectory::refresh`] to fill it.
    pub fn new(client: CscClient) -> ZoneDirectory {
        ZoneDirectory {
            client,
            zones: RwLock::new(BTreeMap::new()),
            last_list: Mutex::new(None),
            generation: AtomicU64::new(0),
        }
    }

    /// Re-reads the zone list (with every zone's records) from CSC.
    pub async fn refresh(&self) -> Result<usize, CscError> {
        *self.last_list.lock().expect("lock") = Some(Instant::now());
        let zones = self.client.list_zones().await?;
        let map: BTreeMap<String, Zone> = zones
            .into_iter()
            .map(|zone| (names::normalize(&zone.zone_name), zone))
            .collect();
        let count = map.len();
        *self.zones.write().expect("lock") = map;
        self.generation.fetch_add(1, Ordering::SeqCst);
        tracing::debug!(zones = count, "zone list refreshed");
        Ok(count)
    }

    /// The zone (normalized) that `name` belongs to, from what is known now.
    pub fn find(&self, name: &str) -> Option<String> {
        let zones = self.zones.read().expect("lock");
        names::find_zone(name, zones.keys().map(String::as_str)).map(str::to_owned)
    }

    /// As [`ZoneDirectory::find`], re-reading the zone list on a miss when the last read is
    /// older than [`MISS_REFRESH_INTERVAL`].
    pub async fn find_or_refresh(&self, name: &str) -> Option<String> {
        if let Some(zone) = self.find(name) {
            return Some(zone);
        }
        let stale = self
            .last_list
            .lock()
            .expect("lock")
            .is_none_or(|at| at.elapsed() >= MISS_REFRESH_INTERVAL);
        if stale && let Err(err) = self.refresh().await {
            tracing::warn!(error = %err, "cannot re-read the zone list from CSC");
        }
        self.find(name)
    }

    /// The last-read copy of `zone` (normalized name).
    pub fn snapshot(&self, zone: &str) -> Option<Zone> {
        self.zones.read().expect("lock").get(zone).cloned()
    }

    /// Stores a fresher copy of a zone read by a worker.
    pub fn store(&self, zone: Zone) {
        let name = names::normalize(&zone.zone_name);
        self.zones.write().expect("lock").insert(name, zone);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// A number that changes whenever a zone copy is stored.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Every zone name known now.
    pub fn zone_names(&self) -> Vec<String> {
        self.zones.read().expect("lock").keys().cloned().collect()
    }
}
