//! The heartbeat's timing and the inequalities that make it safe. It sits below both the
//! settings (`hb.*_ms`, parsed in [`crate::config`]) and the heartbeat that runs it.
//!
//! Symbols (docs/heartbeat.md, "Timing"): P period, T_io I/O timeout, F1 renew deadline,
//! K kill budget, D takeover time, C confirm delay, rho clock rate error, eps scheduling slack.

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

    /// For a SAN volume (multipath): rides through storage stalls of about 14 s (F1 - P).
    pub fn san() -> Timing {
        Timing {
            period: Duration::from_secs(1),
            io_timeout: Duration::from_secs(3),
            renew_deadline: Duration::from_secs(15),
            kill_budget: Duration::from_secs(10),
            takeover: Duration::from_secs(30),
            confirm: Duration::from_secs(1),
        }
    }

    /// For storage without failover of its own and sub-second latency (one array, one LAN):
    /// rides through stalls of about 4.5 s (F1 - P).
    pub fn local() -> Timing {
        Timing {
            period: Duration::from_millis(500),
            io_timeout: Duration::from_secs(1),
            renew_deadline: Duration::from_secs(5),
            kill_budget: Duration::from_secs(3),
            takeover: Duration::from_secs(10),
            confirm: Duration::from_millis(500),
        }
    }

    /// The names `hb.profile` takes, the default first.
    pub const PROFILES: [&str; 3] = ["nfs", "san", "local"];

    /// The timing profile `hb.profile` names: `nfs` (the default), `san` or `local`.
    pub fn profile(name: &str) -> Option<Timing> {
        match name {
            "nfs" => Some(Timing::nfs_default()),
            "san" => Some(Timing::san()),
            "local" => Some(Timing::local()),
            _ => None,
        }
    }

    /// For local tests and demos on one machine: failover within about 3 s.
    pub const fn fast() -> Timing {
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
                "hb.renew_deadline_ms {f1:.0} must be at least hb.period_ms {p:.0} + 2 x \
                 hb.io_timeout_ms {tio:.0} = {:.0}, so one failed write can be retried",
                p + 2.0 * tio
            )));
        }
        if c + 4.0 * tio >= f1 {
            return Err(TimingError(format!(
                "hb.confirm_ms {c:.0} + 4 x hb.io_timeout_ms {tio:.0} = {:.0} must be below \
                 hb.renew_deadline_ms {f1:.0}, or a claim can never complete",
                c + 4.0 * tio
            )));
        }
        Ok(())
    }

    /// The shortest takeover time D that is safe against a holder with renew deadline `f1`,
    /// kill budget `k` and period `p` (its slack): D (1 - rho) > (F1 + K)(1 + rho) + P, plus
    /// a millisecond. Zero for a record that carries no timing (never written by a node).
    pub fn takeover_needed(f1: Duration, k: Duration, p: Duration) -> Duration {
        if f1.is_zero() && k.is_zero() {
            return Duration::ZERO;
        }
        let right = (ms(f1) + ms(k)) * (1.0 + RATE_ERROR) + ms(p);
        Duration::from_millis((right / (1.0 - RATE_ERROR)).ceil() as u64 + 1)
    }

    /// The longest one turn of the daemon's loop takes: it wakes at least every period and a
    /// tick waits for storage at most the I/O timeout. A watchdog (systemd's or a device) must
    /// allow more than this, or a healthy daemon trips it.
    pub fn loop_turn(&self) -> Duration {
        self.period + self.io_timeout
    }

    /// W: the longest timeout a watchdog device may have. The daemon pets it only while its
    /// application runs inside the lease, so a daemon that hangs right after a pet has its host
    /// reset by F1 + W after the start of its last successful write; W takes the place of the
    /// kill budget in the safety inequality: D (1 - rho) > (F1 + W)(1 + rho) + eps.
    pub fn watchdog_device_limit(&self) -> Duration {
        let d = ms(self.takeover) * (1.0 - RATE_ERROR);
        let most = (d - ms(self.slack())) / (1.0 + RATE_ERROR) - ms(self.renew_deadline);
        // Strictly below the bound, in whole milliseconds.
        Duration::from_millis((most.ceil() - 1.0).max(0.0) as u64)
    }

    /// Refuses a timing that leaves no safe watchdog device timeout above one loop turn.
    pub fn check_watchdog_device(&self) -> Result<(), TimingError> {
        let (limit, turn) = (self.watchdog_device_limit(), self.loop_turn());
        if limit <= turn {
            return Err(TimingError(format!(
                "hb.watchdog_device: the device timeout must exceed one loop turn \
                 (hb.period_ms + hb.io_timeout_ms = {} ms) and stay at most {} ms \
                 (hb.takeover_ms - hb.renew_deadline_ms - slack, with clock rate error); \
                 raise hb.takeover_ms or lower hb.renew_deadline_ms",
                turn.as_millis(),
                limit.as_millis()
            )));
        }
        Ok(())
    }

    /// Worst-case time from the end of every fault (storage healthy, every daemon running,
    /// maintenance OFF written) to the application running: one period and one read to see
    /// the maintenance record (which restarts the observation window), then a failover.
    pub fn recovery_bound(&self) -> Duration {
        self.period + self.io_timeout + self.failover_bound()
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
        for t in [
            Timing::nfs_default(),
            Timing::san(),
            Timing::local(),
            Timing::fast(),
        ] {
            t.check().unwrap();
            t.check_watchdog_device().unwrap();
        }
        assert_eq!(Timing::profile("san"), Some(Timing::san()));
        assert_eq!(Timing::profile("NFS"), None);
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
    fn deadlines_too_short_for_retries_or_claims_are_refused_naming_the_keys() {
        let t = Timing {
            io_timeout: Duration::from_millis(360),
            ..Timing::fast()
        };
        let e = t.check().unwrap_err().0;
        assert!(e.contains("one failed write can be retried"), "{e}");
        assert!(e.starts_with("hb.renew_deadline_ms 800"), "{e}");
        let t = Timing {
            confirm: Duration::from_millis(200),
            ..Timing::fast()
        };
        let e = t.check().unwrap_err().0;
        assert!(e.contains("a claim can never complete"), "{e}");
        assert!(e.starts_with("hb.confirm_ms 200"), "{e}");
    }

    #[test]
    fn the_watchdog_limit_keeps_the_safety_inequality() {
        for t in [Timing::fast(), Timing::nfs_default()] {
            let w = ms(t.watchdog_device_limit());
            let left = ms(t.takeover) * (1.0 - RATE_ERROR);
            let right = |w: f64| (ms(t.renew_deadline) + w) * (1.0 + RATE_ERROR) + ms(t.slack());
            assert!(left > right(w), "{t:?}: {w} ms is unsafe");
            assert!(left <= right(w + 1.0), "{t:?}: {w} ms is not the largest");
        }
        // NFS: D 75 s, F1 40 s, eps 3 s: a device timeout of 31 s is the most.
        assert_eq!(Timing::nfs_default().watchdog_device_limit().as_secs(), 31);
        Timing::nfs_default().check_watchdog_device().unwrap();
        Timing::fast().check_watchdog_device().unwrap();
    }

    #[test]
    fn a_timing_without_room_for_a_watchdog_is_refused_naming_the_key() {
        // Safe with its kill budget, but D - F1 - eps leaves less than one loop turn.
        let t = Timing {
            kill_budget: Duration::from_millis(100),
            takeover: Duration::from_millis(1100),
            ..Timing::fast()
        };
        t.check().unwrap();
        let e = t.check_watchdog_device().unwrap_err().0;
        assert!(e.starts_with("hb.watchdog_device: "), "{e}");
        assert!(e.contains("250 ms"), "{e}");
    }
}
