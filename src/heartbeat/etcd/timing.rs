//! The etcd backend's timing and the inequalities that make it safe (docs/heartbeat-etcd.md).
//!
//! Symbols: P period, T_io request timeout, TTL lease time to live (whole seconds, as etcd
//! grants it), K kill budget, E etcd's election timeout, H etcd's heartbeat interval, rho
//! clock rate error, eps scheduling slack (one period).

use std::time::Duration;

use crate::heartbeat::timing::{RATE_ERROR, TimingError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EtcdTiming {
    /// P: how often a node renews its lease and reads the cluster's keys.
    pub period: Duration,
    /// T_io: the longest one etcd request may take, every endpoint tried included.
    pub io_timeout: Duration,
    /// TTL of each node's lease, in whole seconds.
    pub lease_ttl: Duration,
    /// K: from stopping the application to it being gone.
    pub kill_budget: Duration,
    /// E: the etcd cluster's --election-timeout.
    pub election_timeout: Duration,
    /// H: the etcd cluster's --heartbeat-interval.
    pub heartbeat_interval: Duration,
}

/// How often etcd's lessor looks for expired leases (lessor.go's run loop): a lease is
/// revoked up to this long after it expired.
pub const ETCD_EXPIRY_CHECK: Duration = Duration::from_millis(500);

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl EtcdTiming {
    /// For etcd with its default election timeout (1000 ms) and heartbeat (100 ms) across
    /// data centres with a few ms of latency: failover within 20.5 s.
    pub fn default_profile() -> EtcdTiming {
        EtcdTiming {
            period: Duration::from_millis(1000),
            io_timeout: Duration::from_millis(1500),
            lease_ttl: Duration::from_secs(10),
            kill_budget: Duration::from_secs(3),
            election_timeout: Duration::from_millis(1000),
            heartbeat_interval: Duration::from_millis(100),
        }
    }

    /// eps: slack for scheduling and measurement, one period.
    pub fn slack(&self) -> Duration {
        self.period
    }

    /// etcd's minimum lease TTL: it raises any shorter grant to 1.5 election timeouts,
    /// counted in heartbeat ticks and rounded up to whole seconds (etcd's server/config).
    pub fn etcd_min_ttl(&self) -> Duration {
        let h = self.heartbeat_interval.as_nanos().max(1);
        let ticks = self.election_timeout.as_nanos() / h;
        let min = Duration::from_nanos(((3 * ticks / 2) * h) as u64);
        Duration::from_secs(min.as_secs() + u64::from(min.subsec_nanos() > 0))
    }

    /// F1: from the send of the last acknowledged keepalive of a lease with `ttl` to the
    /// moment the active stops its application: (TTL - E) x (1 - 2 rho) - K - eps. The
    /// application is then gone K later, still eps before the earliest instant etcd can
    /// expire the lease; negative when no such moment exists.
    pub fn renew_deadline_for(&self, ttl: Duration) -> Option<Duration> {
        let safe = (ms(ttl) - ms(self.election_timeout)) * (1.0 - 2.0 * RATE_ERROR)
            - ms(self.kill_budget)
            - ms(self.slack());
        (safe > 0.0).then(|| Duration::from_secs_f64(safe / 1000.0))
    }

    /// The longest from the death of the active's daemon to another node starting the
    /// application, when etcd keeps its quorum: the lease runs out (TTL after the last
    /// keepalive; when the etcd leader died too, the majority elects another within 2E and
    /// promotes every lease to TTL + E from then: TTL + 3E), etcd's lessor notices within
    /// its check interval, the standby's next read sees the key gone (P, and T_io for a
    /// keepalive due first and T_io for the read), it may wait for its own renewal
    /// ([`claim_wait`](Self::claim_wait)), and claims (T_io).
    pub fn failover_bound(&self) -> Duration {
        self.lease_ttl
            + 3 * self.election_timeout
            + ETCD_EXPIRY_CHECK
            + self.period
            + 3 * self.io_timeout
            + self.claim_wait()
    }

    /// A standby claims only with P + 2 T_io left before its own deadline (room to start
    /// and renew); just before its next keepalive is acknowledged it may have less and
    /// waits for that keepalive: at most 2P + 3 T_io - F1 (zero when F1 leaves room through
    /// a whole renewal).
    pub fn claim_wait(&self) -> Duration {
        let f1 = self.renew_deadline_for(self.lease_ttl).unwrap_or_default();
        (2 * self.period + 3 * self.io_timeout).saturating_sub(f1)
    }

    /// What the active needs to ride through an etcd leader election without fencing: the
    /// followers notice the dead leader and elect a new one within 2E, after which one failed
    /// attempt (T_io) and the next period's keepalive succeed.
    pub fn election_ride_through(&self) -> Duration {
        2 * self.election_timeout + self.period + self.io_timeout
    }

    /// A warning when an etcd leader election may make the active fence (safe, but an outage
    /// and a failover), naming the numbers and the TTL that would avoid it.
    pub fn election_warning(&self) -> Option<String> {
        let f1 = self.renew_deadline_for(self.lease_ttl)?;
        let need = self.election_ride_through();
        if f1 >= need {
            return None;
        }
        let min_ttl = self.ttl_for_renew_deadline(need);
        Some(format!(
            "an etcd leader election may make the active stop its application: its renew \
             deadline ({:.0} ms) is shorter than 2 x election timeout {:.0} ms + period {:.0} ms \
             + I/O timeout {:.0} ms = {:.0} ms; a lease TTL of {} s rides through an election",
            ms(f1),
            ms(self.election_timeout),
            ms(self.period),
            ms(self.io_timeout),
            ms(need),
            min_ttl.as_secs()
        ))
    }

    /// The shortest whole-second TTL whose renew deadline (`renew_deadline_for`) is at least
    /// `f1`.
    fn ttl_for_renew_deadline(&self, f1: Duration) -> Duration {
        let ms = (ms(f1) + ms(self.kill_budget) + ms(self.slack())) / (1.0 - 2.0 * RATE_ERROR)
            + ms(self.election_timeout);
        Duration::from_secs((ms / 1000.0).ceil() as u64)
    }

    /// Refuses a timing that is unsafe or cannot make progress, naming the numbers.
    pub fn check(&self) -> Result<(), TimingError> {
        let (p, tio, ttl, k, e, h) = (
            ms(self.period),
            ms(self.io_timeout),
            ms(self.lease_ttl),
            ms(self.kill_budget),
            ms(self.election_timeout),
            ms(self.heartbeat_interval),
        );
        if p <= 0.0 || tio <= 0.0 || h <= 0.0 || e < h {
            return Err(TimingError(format!(
                "the period ({p:.0} ms), I/O timeout ({tio:.0} ms) and etcd heartbeat interval \
                 ({h:.0} ms) must be > 0, and the etcd election timeout ({e:.0} ms) at least the \
                 heartbeat interval"
            )));
        }
        if self.lease_ttl.subsec_nanos() != 0 {
            return Err(TimingError(format!(
                "lease TTL {ttl:.0} ms: etcd grants leases in whole seconds"
            )));
        }
        let min = self.etcd_min_ttl();
        if self.lease_ttl < min {
            return Err(TimingError(format!(
                "lease TTL {} s is below etcd's minimum of {} s for an election timeout of \
                 {e:.0} ms (1.5 x election timeout, whole seconds): etcd would silently grant \
                 the longer TTL",
                self.lease_ttl.as_secs(),
                min.as_secs()
            )));
        }
        let need = p + 2.0 * tio;
        let f1 = self.renew_deadline_for(self.lease_ttl).map_or(0.0, ms);
        if f1 < need {
            let eps = ms(self.slack());
            let min_ttl = self.ttl_for_renew_deadline(Duration::from_secs_f64(need / 1000.0));
            return Err(TimingError(format!(
                "unsafe timing for etcd: the active must stop its application at (TTL {ttl:.0} \
                 ms - election timeout {e:.0} ms) x (1 - 2 x {RATE_ERROR}) - kill budget {k:.0} \
                 ms - slack {eps:.0} ms = {f1:.0} ms after sending its last acknowledged \
                 keepalive, which must leave at least period {p:.0} ms + 2 x I/O timeout \
                 {tio:.0} ms = {need:.0} ms to retry a failed keepalive; raise the lease TTL to \
                 at least {} s or lower the others",
                min_ttl.as_secs()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_profile_is_safe_and_fails_over_faster_than_nfs() {
        let t = EtcdTiming::default_profile();
        t.check().unwrap();
        assert_eq!(t.election_warning(), None);
        let nfs = crate::heartbeat::timing::Timing::nfs_default();
        assert!(
            t.failover_bound() < nfs.takeover,
            "{:?}",
            t.failover_bound()
        );
    }

    #[test]
    fn the_failover_bound_covers_a_lost_etcd_leader_the_lessor_check_and_the_claim_wait() {
        // 10 s TTL + 3 x 1 s election + 0.5 s expiry check + 1 s period + 3 x 1.5 s I/O,
        // + the claim's wait for a renewal: 2 x 1 s + 3 x 1.5 s - F1 4982 ms = 1518 ms.
        let t = EtcdTiming::default_profile();
        assert_eq!(t.claim_wait(), Duration::from_millis(1518));
        assert_eq!(t.failover_bound(), Duration::from_millis(20_518));
        // A longer TTL leaves room through a whole renewal: no wait.
        let long = EtcdTiming {
            lease_ttl: Duration::from_secs(15),
            ..t
        };
        assert_eq!(long.claim_wait(), Duration::ZERO);
    }

    #[test]
    fn etcd_minimum_ttl_follows_its_election_timeout() {
        let mut t = EtcdTiming::default_profile();
        assert_eq!(t.etcd_min_ttl(), Duration::from_secs(2)); // 1.5 s rounded up
        t.election_timeout = Duration::from_millis(5000);
        assert_eq!(t.etcd_min_ttl(), Duration::from_secs(8)); // 7.5 s
        t.lease_ttl = Duration::from_secs(7);
        let err = t.check().unwrap_err().0;
        assert!(err.contains("below etcd's minimum of 8 s"), "{err}");
    }

    #[test]
    fn refuses_a_deadline_that_leaves_no_time_before_expiry_with_numbers() {
        let mut t = EtcdTiming::default_profile();
        t.kill_budget = Duration::from_secs(6);
        // (10000 - 1000) x 0.998 - 6000 - 1000 = 1982 ms < 1000 + 2 x 1500.
        let err = t.check().unwrap_err().0;
        assert!(err.contains("= 1982 ms"), "{err}");
        assert!(
            err.contains("raise the lease TTL to at least 13 s"),
            "{err}"
        );
        t.lease_ttl = Duration::from_secs(13);
        t.check().unwrap();
        t.lease_ttl = Duration::from_millis(12500);
        assert!(t.check().unwrap_err().0.contains("whole seconds"));
    }

    #[test]
    fn a_ttl_too_short_to_ride_through_an_election_gets_a_warning_naming_one_that_does() {
        let mut t = EtcdTiming {
            period: Duration::from_millis(200),
            io_timeout: Duration::from_millis(300),
            lease_ttl: Duration::from_secs(2),
            kill_budget: Duration::from_millis(100),
            election_timeout: Duration::from_millis(500),
            heartbeat_interval: Duration::from_millis(50),
        };
        t.check().unwrap();
        let w = t.election_warning().expect("F1 1197 ms < 1500 ms");
        assert!(w.contains("= 1500 ms") && w.contains("TTL of 3 s"), "{w}");
        t.lease_ttl = Duration::from_secs(3);
        assert_eq!(t.election_warning(), None);
    }
}
