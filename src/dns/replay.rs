//! Answering a replayed signed request with the first answer, without applying it again.
//!
//! nsupdate and knsupdate resend the identical UDP message every 3 s until they get a reply, and
//! a captured message stays valid for its whole fudge window. A request is identified by its key
//! and MAC (the MAC covers the ID, the time and every byte of the message). The first arrival
//! [`claim`](ReplayCache::claim)s the entry; copies arriving while it is processed learn that it is
//! [`InFlight`](Claim::InFlight) (the first reply, with the same ID, will answer them too); copies
//! arriving later get the stored reply bytes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Identifies one signed request: canonical key name and the request's MAC as received.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplayKey {
    key_name: String,
    mac: Vec<u8>,
}

impl ReplayKey {
    /// `key_name` is compared as given: pass the canonical (lower-case) name.
    pub fn new(key_name: impl Into<String>, mac: &[u8]) -> Self {
        ReplayKey {
            key_name: key_name.into(),
            mac: mac.to_vec(),
        }
    }
}

#[derive(Debug)]
enum State {
    /// Claimed, the reply is not known yet.
    Pending,
    /// The reply that was sent.
    Answered(Vec<u8>),
}

#[derive(Debug)]
struct Entry {
    state: State,
    inserted: Instant,
    /// Distinguishes this entry from a later one under the same key (for the FIFO below).
    generation: u64,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<ReplayKey, Entry>,
    /// Insertion order, for expiry and for evicting the oldest when full.
    order: VecDeque<(ReplayKey, u64)>,
    next_generation: u64,
}

/// Replies to signed requests, kept for a TTL and bounded in size (oldest evicted first).
#[derive(Debug)]
pub struct ReplayCache {
    inner: Mutex<Inner>,
    ttl: Duration,
    capacity: usize,
}

/// What [`ReplayCache::claim`] found.
#[derive(Debug)]
pub enum Claim<'a> {
    /// First sighting: process the request and [`complete`](ReplayGuard::complete) the guard.
    Fresh(ReplayGuard<'a>),
    /// The same request is being processed now: drop this copy.
    InFlight,
    /// Already answered: send these bytes again.
    Answered(Vec<u8>),
}

/// The claim on a fresh request. Dropping it without [`complete`](Self::complete) (the request
/// failed, the task was cancelled) releases the claim so that a resend is processed anew.
#[derive(Debug)]
pub struct ReplayGuard<'a> {
    cache: &'a ReplayCache,
    key: Option<ReplayKey>,
    generation: u64,
}

impl ReplayGuard<'_> {
    /// Stores the reply that is being sent, for the resends.
    pub fn complete(mut self, reply: Vec<u8>) {
        if let Some(key) = self.key.take() {
            let mut inner = self.cache.lock();
            if let Some(entry) = inner.entries.get_mut(&key)
                && entry.generation == self.generation
            {
                entry.state = State::Answered(reply);
            }
        }
    }
}

impl Drop for ReplayGuard<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut inner = self.cache.lock();
            if inner.entries.get(&key).is_some_and(|e| {
                e.generation == self.generation && matches!(e.state, State::Pending)
            }) {
                inner.entries.remove(&key);
            }
        }
    }
}

impl ReplayCache {
    /// 2 × the usual fudge of 300 s: a message is accepted at most that long after it was signed.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(600);
    /// Enough for any ACME fleet; bounds memory against a flood of validly signed messages.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// A cache keeping entries for `ttl`, at most `capacity` of them.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        ReplayCache {
            inner: Mutex::default(),
            ttl,
            capacity: capacity.max(1),
        }
    }

    /// Claims `key` at `now`, or reports that it is in flight or answered.
    pub fn claim(&self, key: ReplayKey, now: Instant) -> Claim<'_> {
        let mut inner = self.lock();
        self.expire(&mut inner, now);
        match inner.entries.get(&key).map(|e| &e.state) {
            Some(State::Pending) => return Claim::InFlight,
            Some(State::Answered(reply)) => return Claim::Answered(reply.clone()),
            None => {}
        }
        let generation = self.push(&mut inner, key.clone(), State::Pending, now);
        Claim::Fresh(ReplayGuard {
            cache: self,
            key: Some(key),
            generation,
        })
    }

    /// The stored reply for `key`, if it was answered and has not expired.
    pub fn get(&self, key: &ReplayKey, now: Instant) -> Option<Vec<u8>> {
        let mut inner = self.lock();
        self.expire(&mut inner, now);
        match inner.entries.get(key).map(|e| &e.state) {
            Some(State::Answered(reply)) => Some(reply.clone()),
            _ => None,
        }
    }

    /// Stores `reply` for `key` (replacing any entry under that key).
    pub fn insert(&self, key: ReplayKey, reply: Vec<u8>, now: Instant) {
        let mut inner = self.lock();
        self.expire(&mut inner, now);
        self.push(&mut inner, key, State::Answered(reply), now);
    }

    /// How many entries (pending or answered) are held.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push(&self, inner: &mut Inner, key: ReplayKey, state: State, now: Instant) -> u64 {
        let generation = inner.next_generation;
        inner.next_generation += 1;
        inner.order.push_back((key.clone(), generation));
        inner.entries.insert(
            key,
            Entry {
                state,
                inserted: now,
                generation,
            },
        );
        // Stale FIFO items (keys re-inserted or released) count too, so the FIFO stays bounded.
        while inner.entries.len() > self.capacity || inner.order.len() > 2 * self.capacity {
            if !Self::pop_oldest(inner) {
                break;
            }
        }
        generation
    }

    /// Drops entries older than the TTL. The FIFO is in insertion order, so it stops at the
    /// first live one.
    fn expire(&self, inner: &mut Inner, now: Instant) {
        while let Some((key, generation)) = inner.order.front() {
            let live = inner
                .entries
                .get(key)
                .filter(|e| e.generation == *generation);
            match live {
                Some(entry) if now.saturating_duration_since(entry.inserted) < self.ttl => break,
                _ => {
                    Self::pop_oldest(inner);
                }
            }
        }
    }

    /// Removes the oldest FIFO item and its entry, unless the entry was replaced since.
    fn pop_oldest(inner: &mut Inner) -> bool {
        let Some((key, generation)) = inner.order.pop_front() else {
            return false;
        };
        if inner
            .entries
            .get(&key)
            .is_some_and(|e| e.generation == generation)
        {
            inner.entries.remove(&key);
        }
        true
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The maps stay consistent at every await-free step, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for ReplayCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_TTL, Self::DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> ReplayKey {
        ReplayKey::new("acme.", &[n; 16])
    }

    #[test]
    fn resend_gets_first_answer() {
        let cache = ReplayCache::default();
        let t0 = Instant::now();
        let Claim::Fresh(guard) = cache.claim(key(1), t0) else {
            panic!("first sighting must be fresh")
        };
        assert!(matches!(cache.claim(key(1), t0), Claim::InFlight));
        guard.complete(b"reply".to_vec());
        match cache.claim(key(1), t0 + Duration::from_secs(3)) {
            Claim::Answered(reply) => assert_eq!(reply, b"reply"),
            other => panic!("expected the stored answer, got {other:?}"),
        }
        assert_eq!(cache.get(&key(1), t0).as_deref(), Some(&b"reply"[..]));
        assert!(matches!(cache.claim(key(2), t0), Claim::Fresh(_)));
    }

    #[test]
    fn dropped_guard_releases_the_claim() {
        let cache = ReplayCache::default();
        let t0 = Instant::now();
        drop(cache.claim(key(1), t0));
        assert!(cache.is_empty());
        assert!(matches!(cache.claim(key(1), t0), Claim::Fresh(_)));
    }

    #[test]
    fn entries_expire_after_ttl() {
        let cache = ReplayCache::new(Duration::from_secs(10), 100);
        let t0 = Instant::now();
        cache.insert(key(1), b"a".to_vec(), t0);
        cache.insert(key(2), b"b".to_vec(), t0 + Duration::from_secs(5));
        assert!(cache.get(&key(1), t0 + Duration::from_secs(9)).is_some());
        assert!(cache.get(&key(1), t0 + Duration::from_secs(10)).is_none());
        assert!(cache.get(&key(2), t0 + Duration::from_secs(10)).is_some());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn bounded_and_oldest_evicted_first() {
        let cache = ReplayCache::new(Duration::from_secs(600), 3);
        let t0 = Instant::now();
        for n in 0..5 {
            cache.insert(key(n), vec![n], t0);
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&key(0), t0).is_none());
        assert!(cache.get(&key(1), t0).is_none());
        assert_eq!(cache.get(&key(4), t0), Some(vec![4]));
        // Re-inserting a key moves it to the back: the stale FIFO item must not evict it.
        cache.insert(key(2), vec![22], t0);
        cache.insert(key(5), vec![5], t0);
        assert_eq!(cache.get(&key(2), t0), Some(vec![22]));
        assert!(cache.get(&key(3), t0).is_none());
    }
}
