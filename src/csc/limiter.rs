//! The client-side rate limiter: keeps every request (first tries, retries and page follows) of
//! all clones of one client under a configured rate, below CSC's ~20 requests per second.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// A shared pacing gate; `acquire` waits until the next request may go out.
pub struct Limiter {
    gate: DefaultDirectRateLimiter,
    clock: DefaultClock,
}

impl Limiter {
    /// A limiter letting `per_sec` requests through per second, with `burst` allowed at once.
    ///
    /// With `burst = 1` requests are spaced evenly, so no one-second window ever holds more than
    /// `per_sec` (rounded up) requests, whatever the window's alignment on CSC's side.
    pub fn new(per_sec: f64, burst: u32) -> Result<Self, String> {
        if !per_sec.is_finite() || per_sec <= 0.0 {
            return Err(format!(
                "rate_limit_per_sec must be a positive number, not {per_sec}"
            ));
        }
        let burst = NonZeroU32::new(burst)
            .ok_or_else(|| "rate_limit_burst must be at least 1".to_owned())?;
        let quota = Quota::with_period(Duration::from_secs_f64(1.0 / per_sec))
            .ok_or_else(|| format!("rate_limit_per_sec {per_sec} is too high"))?
            .allow_burst(burst);
        let clock = DefaultClock::default();
        Ok(Limiter {
            gate: RateLimiter::direct_with_clock(quota, clock.clone()),
            clock,
        })
    }

    /// Waits for the next free slot.
    pub async fn acquire(&self) {
        // Waits on tokio's timer rather than governor's `until_ready`, which sleeps on the
        // futures-timer thread: a gateway under a flood of changes was seen parked for good
        // in front of a CSC call, with every thread idle, right there.
        loop {
            match self.gate.check() {
                Ok(()) => return,
                Err(not_until) => {
                    tokio::time::sleep(not_until.wait_time_from(self.clock.now())).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn rejects_nonsense_settings() {
        assert!(Limiter::new(0.0, 1).is_err());
        assert!(Limiter::new(-3.0, 1).is_err());
        assert!(Limiter::new(f64::NAN, 1).is_err());
        assert!(Limiter::new(10.0, 0).is_err());
        assert!(Limiter::new(0.5, 1).is_ok());
    }

    #[tokio::test]
    async fn spaces_requests_at_the_rate() {
        let limiter = Limiter::new(50.0, 1).unwrap();
        let start = Instant::now();
        for _ in 0..11 {
            limiter.acquire().await;
        }
        // 10 gaps of 20 ms; a lower bound only, so a slow machine cannot make it flaky.
        assert!(
            start.elapsed() >= Duration::from_millis(180),
            "{:?}",
            start.elapsed()
        );
    }
}
