//! Retries of transient CSC failures: exponential backoff with jitter, bounded attempts, and a
//! warning in the log for every retry.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use rand::Rng;

use super::error::CscError;

/// How often and how patiently a failed request is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first try (0 = no retries).
    pub max_retries: usize,
    /// The delay before the first retry; it doubles on each further retry.
    pub base_delay: Duration,
    /// No delay is longer than this.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// Runs `attempt` until it succeeds, fails with an error `retryable` refuses, or the retries
    /// run out; returns the last result. Each retry is logged at warn with the endpoint, the
    /// attempt number, the delay and the error.
    pub async fn run<T, F, Fut>(
        &self,
        endpoint: &str,
        retryable: impl FnMut(&CscError) -> bool,
        attempt: F,
    ) -> Result<T, CscError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, CscError>>,
    {
        let max_delay = self.max_delay.max(self.base_delay);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.base_delay)
            .with_max_delay(max_delay)
            .with_max_times(self.max_retries)
            .with_jitter();
        let mut tries = 1u32;
        attempt
            .retry(backoff)
            .when(retryable)
            // backon's jitter may add up to 100 % on top of the delay; keep the promise of
            // `max_delay` while still spreading clients that all hit the cap.
            .adjust(move |_, delay| delay.map(|d| cap_with_jitter(d, max_delay)))
            .notify(|err, delay| {
                tries += 1;
                tracing::warn!(
                    endpoint,
                    attempt = tries,
                    delay_ms = delay.as_millis() as u64,
                    error = %err,
                    "CSC request failed, retrying"
                );
            })
            .await
    }
}

/// `delay`, or a random duration in `[max/2, max]` when `delay` exceeds `max`.
fn cap_with_jitter(delay: Duration, max: Duration) -> Duration {
    if delay <= max {
        return delay;
    }
    let half = max / 2;
    half + (max - half).mul_f64(rand::rng().random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn server_error() -> CscError {
        CscError::Server {
            status: 500,
            endpoint: "GET /zones".into(),
            excerpt: String::new(),
        }
    }

    fn fast(max_retries: usize) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        }
    }

    #[tokio::test]
    async fn retries_until_success() {
        let calls = AtomicUsize::new(0);
        let out = fast(4)
            .run("GET /zones", CscError::is_transient, || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Err(server_error()),
                    _ => Ok(7),
                }
            })
            .await;
        assert_eq!(out.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn gives_up_after_max_retries() {
        let calls = AtomicUsize::new(0);
        let out: Result<(), _> = fast(3)
            .run("GET /zones", CscError::is_transient, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(server_error())
            })
            .await;
        assert!(matches!(out, Err(CscError::Server { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn does_not_retry_what_is_not_retryable() {
        let calls = AtomicUsize::new(0);
        let out: Result<(), _> = fast(3)
            .run("GET /zones", CscError::is_transient, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(CscError::CredentialsRejected {
                    status: 401,
                    endpoint: "GET /zones".into(),
                })
            })
            .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn delays_never_exceed_the_cap() {
        let max = Duration::from_millis(100);
        for _ in 0..100 {
            let d = cap_with_jitter(Duration::from_millis(180), max);
            assert!(d >= max / 2 && d <= max, "{d:?}");
        }
        assert_eq!(
            cap_with_jitter(Duration::from_millis(30), max),
            Duration::from_millis(30)
        );
    }
}
