//! The heartbeat's timing and the inequalities that make it safe.
//!
//! Symbols (research: leases §7.10): P period, T_io I/O timeout, F1 renew deadline, K kill
//! budget, D takeover time, C confirm delay, rho clock rate error, eps scheduling slack.

use std::fmt;
use std::time::Duration;

/// Bound on how fast or slow any host's monotonic clock may run (1000 ppm; crystals are ~100).
pub const RATE_ERROR: f64 = 1e-3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// P: how often a node writes its record and reads its peers'.
    pub period: Duration,
    /// T_io: the longest a storage operation may take before it counts as failed.
    pub io_timeout: Duration,
    /// F1: from the start of the active's last successful write to stopping its application.
    pub renew_deadline: Duration,
    /// K: from stopping the application to it being gone (TERM, then KILL).
    pub kill_budget: Duration,
    /// D: how long a peer's record must stay unchanged before it counts as dead.
    pub takeover: Duration,
    /// C: the pause between claiming and confirming.
    pub confirm: Duration,
}

/// A timing that would allow two active nodes, or one that can never finish a claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimingError(pub String);

impl fmt::Display for TimingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TimingError {}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Timing {
    /// For shared NFS storage: rides through storage stalls of about 35 s.
    pub fn nfs_default() -> Timing {
        Timing {
            period: Duration::from_secs(3),
            io_timeout: Duration::from_secs(8),
            renew_deadline: Duration::from_secs(40),
            kill_budget: Duration::from_secs(20),
            takeover: Duration::from_secs(75),
            confirm: Duration::from_secs(3),
        }
    }

    /// For local tests and demos on one machine: failover within about 3 s.
    pub fn fast() -> Timing {
        Timing {
            period: Duration::from_millis(100),
            io_timeout: Duration::from_millis(150),
            renew_deadline: Duration::from_millis(800),
            kill_budget: Duration::from_millis(300),
            takeover: Duration::from_millis(1500),
            confirm: Duration::from_millis(100),
        }
    }

    /// eps: slack for scheduling and measurement, one period.
    pub fn slack(&self) -> Duration {
        self.period
    }

    /// F: the latest the application can still run after the start of the active's last
    /// successful write (the daemon stops it at F1 and it is gone within K).
    pub fn fence_bound(&self) -> Duration {
        self.renew_deadline + self.kill_budget
    }

    /// Refuses a timing that is unsafe or cannot make progress, naming the numbers.
    pub fn check(&self) -> Result<(), TimingError> {
        let (p, tio, f1, k, d, c) = (
            ms(self.period),
            ms(self.io_timeout),
            ms(self.renew_deadline),
            ms(self.kill_budget),
            ms(self.takeover),
            ms(self.confirm),
        );
        if p <= 0.0 || tio <= 0.0 || c <= 0.0 {
            return Err(TimingError(
                "hb.period_ms, hb.io_timeout_ms and hb.confirm_ms must be > 0".into(),
            ));
        }
        let eps = ms(self.slack());
        let left = d * (1.0 - RATE_ERROR);
        let right = (f1 + k) * (1.0 + RATE_ERROR) + eps;
        if left <= right {
            return Err(TimingError(format!(
                "unsafe timing: takeover {d:.0} ms x (1 - {RATE_ERROR}) = {left:.1} ms must exceed \
                 (renew deadline {f1:.0} ms + kill budget {k:.0} ms) x (1 + {RATE_ERROR}) + slack \
                 {eps:.0} ms = {right:.1} ms; raise hb.takeover_ms above {:.0} ms or lower the others",
                (right / (1.0 - RATE_ERROR)).ceil()
            )));
        }
        if f1 < p + 2.0 * tio {
            return Err(TimingError(format!(
                "renew deadline {f1:.0} ms must be at least period {p:.0} ms + 2 x I/O timeout \
                 {tio:.0} ms = {:.0} ms, so one failed write can be retried",
                p + 2.0 * tio
            )));
        }
        if c + 4.0 * tio >= f1 {
            return Err(TimingError(format!(
                "confirm {c:.0} ms + 4 x I/O timeout {tio:.0} ms = {:.0} ms must be below the renew \
                 deadline {f1:.0} ms, or a claim can never complete",
                c + 4.0 * tio
            )));
        }
        Ok(())
    }

    /// Worst-case time from the active node's death to the application started elsewhere,
    /// without the application's own start time: D + 2P + 6 T_io + C.
    pub fn failover_bound(&self) -> Duration {
        self.takeover + self.period * 2 + self.io_timeout * 6 + self.confirm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_safe() {
        Timing::nfs_default().check().unwrap();
        Timing::fast().check().unwrap();
    }

    #[test]
    fn takeover_shorter_than_the_fence_is_refused_with_numbers() {
        let t = Timing {
            takeover: Duration::from_millis(1000),
            ..Timing::fast()
        };
        let e = t.check().unwrap_err().to_string();
        assert!(e.starts_with("unsafe timing: takeover 1000 ms"), "{e}");
        assert!(
            e.contains("renew deadline 800 ms + kill budget 300 ms"),
            "{e}"
        );
    }

    #[test]
    fn deadlines_too_short_for_retries_or_claims_are_refused() {
        let t = Timing {
            io_timeout: Duration::from_millis(360),
            ..Timing::fast()
        };
        assert!(
            t.check()
                .unwrap_err()
                .0
                .contains("one failed write can be retried")
        );
        let t = Timing {
            confirm: Duration::from_millis(200),
            ..Timing::fast()
        };
        assert!(
            t.check()
                .unwrap_err()
                .0
                .contains("a claim can never complete")
        );
    }
}
