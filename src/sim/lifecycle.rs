//! The clock of a zone edit: which status an edit has after a given time.
//!
//! With an edit time `E` (`--edit-seconds`): NEW for the first 5 % of `E`, PROCESSING until
//! `E/2`, then PROPAGATING (the records are applied at that moment) until `E`, then COMPLETED.
//! An edit chosen to fail (`--fail-every`) turns FAILED at `E/2` instead and stays FAILED until it
//! is cancelled. `E = 0` makes every edit COMPLETED (or FAILED) at once.

use std::time::Duration;

use crate::csc::model::EditStatus;

/// Share of the edit time spent in NEW.
const NEW_SHARE: f64 = 0.05;

/// The timing of every edit of one simulator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    edit: Duration,
}

impl Timing {
    /// Timing for edits that hold the zone lock for `edit`.
    pub fn new(edit: Duration) -> Self {
        Timing { edit }
    }

    /// How long an edit holds the zone lock when it succeeds.
    pub fn edit_time(&self) -> Duration {
        self.edit
    }

    /// The status an edit reaches `elapsed` after it was accepted, unless it was cancelled.
    pub fn status_at(&self, elapsed: Duration, fails: bool) -> EditStatus {
        if elapsed >= self.edit / 2 {
            if fails {
                EditStatus::Failed
            } else if elapsed >= self.edit {
                EditStatus::Completed
            } else {
                EditStatus::Propagating
            }
        } else if elapsed < self.edit.mul_f64(NEW_SHARE) {
            EditStatus::New
        } else {
            EditStatus::Processing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(timing: Timing, ms: u64, fails: bool) -> EditStatus {
        timing.status_at(Duration::from_millis(ms), fails)
    }

    #[test]
    fn phases_follow_the_clock() {
        let timing = Timing::new(Duration::from_secs(10));
        assert_eq!(at(timing, 0, false), EditStatus::New);
        assert_eq!(at(timing, 499, false), EditStatus::New);
        assert_eq!(at(timing, 500, false), EditStatus::Processing);
        assert_eq!(at(timing, 4_999, false), EditStatus::Processing);
        assert_eq!(at(timing, 5_000, false), EditStatus::Propagating);
        assert_eq!(at(timing, 9_999, false), EditStatus::Propagating);
        assert_eq!(at(timing, 10_000, false), EditStatus::Completed);
    }

    #[test]
    fn failing_edits_fail_halfway_and_stay_failed() {
        let timing = Timing::new(Duration::from_secs(10));
        assert_eq!(at(timing, 4_999, true), EditStatus::Processing);
        assert_eq!(at(timing, 5_000, true), EditStatus::Failed);
        assert_eq!(at(timing, 60_000, true), EditStatus::Failed);
    }

    #[test]
    fn zero_edit_time_is_instant() {
        let timing = Timing::new(Duration::ZERO);
        assert_eq!(at(timing, 0, false), EditStatus::Completed);
        assert_eq!(at(timing, 0, true), EditStatus::Failed);
    }
}
