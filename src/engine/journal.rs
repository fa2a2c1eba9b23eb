//! Group commit in front of a [`Store`]: concurrent callers share one durable write.
//!
//! Every caller sends its mutations to one writer thread and waits. The writer takes whatever
//! has queued up, applies it as one transaction (one fsync), and answers all of them, so a
//! burst of UPDATEs costs a handful of fsyncs instead of one each.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use tokio::sync::oneshot;

use super::store::{Mutation, Store, StoreError};

/// Most mutation groups merged into one transaction (bounds the latency of the first caller).
const MAX_GROUPS_PER_COMMIT: usize = 512;

struct Request {
    mutations: Vec<Mutation>,
    done: oneshot::Sender<Result<(), String>>,
}

/// A handle to the journal writer; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    queue: mpsc::Sender<Request>,
    /// Whether the last commit succeeded (for readiness).
    healthy: Arc<AtomicBool>,
}

impl Journal {
    /// Starts the writer thread over `store`.
    pub fn start(store: Arc<dyn Store>) -> Journal {
        let (queue, requests) = mpsc::channel::<Request>();
        let healthy = Arc::new(AtomicBool::new(true));
        let flag = healthy.clone();
        std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || write_loop(store, requests, &flag))
            .expect("the journal writer thread starts");
        Journal { queue, healthy }
    }

    /// Whether the last commit succeeded.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Applies `mutations` durably; returns once they are on disk.
    pub async fn commit(&self, mutations: Vec<Mutation>) -> Result<(), StoreError> {
        if mutations.is_empty() {
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        self.queue
            .send(Request { mutations, done })
            .map_err(|_| StoreError::Closed)?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(detail)) => Err(StoreError::Backend {
                path: "journal".into(),
                detail,
            }),
            Err(_) => Err(StoreError::Closed),
        }
    }
}

fn write_loop(store: Arc<dyn Store>, requests: mpsc::Receiver<Request>, healthy: &AtomicBool) {
    while let Ok(first) = requests.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUPS_PER_COMMIT {
            match requests.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let mutations: Vec<Mutation> = group
            .iter()
            .flat_map(|r| r.mutations.iter().cloned())
            .collect();
        let started = Instant::now();
        let result = store.apply(&mutations).map_err(|e| e.to_string());
        crate::ops::metrics::journal_commit(started.elapsed());
        healthy.store(result.is_ok(), Ordering::Relaxed);
        tracing::trace!(
            callers = group.len(),
            mutations = mutations.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "journal commit"
        );
        if let Err(err) = &result {
            tracing::error!(error = %err, "journal commit failed");
        }
        for request in group {
            let _ = request.done.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::store::Snapshot;
    use std::sync::Mutex;

    /// Counts commits so the test can see callers sharing them.
    #[derive(Default)]
    struct CountingStore {
        commits: Mutex<Vec<usize>>,
    }

    impl Store for CountingStore {
        fn load(&self) -> Result<Snapshot, StoreError> {
            Ok(Snapshot::default())
        }
        fn apply(&self, mutations: &[Mutation]) -> Result<(), StoreError> {
            std::thread::sleep(std::time::Duration::from_millis(20));
            self.commits.lock().unwrap().push(mutations.len());
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_commits() {
        let store = Arc::new(CountingStore::default());
        let journal = Journal::start(store.clone());
        let mut tasks = Vec::new();
        for id in 0..50u64 {
            let journal = journal.clone();
            tasks.push(tokio::spawn(async move {
                journal.commit(vec![Mutation::DeleteChange(id)]).await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let commits = store.commits.lock().unwrap();
        assert_eq!(commits.iter().sum::<usize>(), 50, "every mutation written");
        assert!(commits.len() < 50, "callers shared commits: {commits:?}");
    }
}
