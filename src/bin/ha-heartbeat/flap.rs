//! Flap damping, as Pacemaker's migration-threshold and failure-timeout: after its
//! application failed here, this node claims nothing for `hb.flap_backoff_ms`, doubled for
//! each further failure within `hb.failure_timeout_ms`, at most `hb.flap_backoff_max_ms`. Two
//! nodes whose applications both fail then hand over ever more rarely instead of every few
//! seconds. The state is kept in `STATE_DIR/flap` so that `ha-heartbeat status` can say why
//! this node holds back. Times are on the boot clock, which every process of a host shares.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hamon::config::HeartbeatSettings;

/// Checks that the damping settings fit together; errors name the keys.
pub fn check_settings(hb: &HeartbeatSettings) -> Result<(), String> {
    match hb.flap_backoff {
        Some(first) if first > hb.flap_backoff_max => Err(format!(
            "hb.flap_backoff_ms ({} ms) is above hb.flap_backoff_max_ms ({} ms)",
            first.as_millis(),
            hb.flap_backoff_max.as_millis()
        )),
        Some(_) if hb.failure_timeout < hb.flap_backoff_max => Err(format!(
            "hb.failure_timeout_ms ({} ms) is below hb.flap_backoff_max_ms ({} ms): failures \
             would be forgotten before the back-off they caused is over",
            hb.failure_timeout.as_millis(),
            hb.flap_backoff_max.as_millis()
        )),
        _ => Ok(()),
    }
}

/// The failures of this node's application and the back-off they cause. Pure.
#[derive(Debug)]
pub struct Damping {
    first: Option<Duration>,
    max: Duration,
    forget_after: Duration,
    /// When each remembered failure happened (boot clock, ns), oldest first.
    failures: Vec<u64>,
    /// No claim before this instant (boot clock, ns).
    until: u64,
}

impl Damping {
    pub fn new(hb: &HeartbeatSettings) -> Damping {
        Damping {
            first: hb.flap_backoff,
            max: hb.flap_backoff_max,
            forget_after: hb.failure_timeout,
            failures: Vec::new(),
            until: 0,
        }
    }

    /// The application failed at `now`: the back-off this failure causes (None: no damping).
    pub fn failed(&mut self, now: u64) -> Option<Duration> {
        let first = self.first?;
        self.forget(now);
        self.failures.push(now);
        let doublings = u32::try_from(self.failures.len() - 1).unwrap_or(u32::MAX);
        let backoff = first
            .checked_mul(2u32.saturating_pow(doublings.min(31)))
            .map_or(self.max, |b| b.min(self.max));
        self.until = self.until.max(now + backoff.as_nanos() as u64);
        Some(backoff)
    }

    /// This node backs off at `now`: how much longer.
    pub fn holding(&mut self, now: u64) -> Option<Duration> {
        self.forget(now);
        (now < self.until).then(|| Duration::from_nanos(self.until - now))
    }

    /// The failures remembered at the last look.
    pub fn failures(&self) -> usize {
        self.failures.len()
    }

    fn forget(&mut self, now: u64) {
        let forget_after = self.forget_after.as_nanos() as u64;
        self.failures
            .retain(|&t| now.saturating_sub(t) < forget_after);
    }

    /// The state as `STATE_DIR/flap` keeps it.
    pub fn state(&self, last: &str) -> FlapState {
        FlapState {
            failures: self.failures.len(),
            until: self.until,
            last: last.replace(['\n', '\r'], " "),
        }
    }
}

/// What `STATE_DIR/flap` says: one line `FAILURES UNTIL_NS LAST_REASON`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlapState {
    pub failures: usize,
    /// The end of the back-off (boot clock, ns).
    pub until: u64,
    /// Why the application last failed.
    pub last: String,
}

pub fn state_path(state_dir: &Path) -> PathBuf {
    state_dir.join("flap")
}

impl FlapState {
    pub fn encode(&self) -> String {
        format!("{} {} {}\n", self.failures, self.until, self.last)
    }

    pub fn decode(text: &str) -> Option<FlapState> {
        let mut f = text.trim_end().splitn(3, ' ');
        Some(FlapState {
            failures: f.next()?.parse().ok()?,
            until: f.next()?.parse().ok()?,
            last: f.next().unwrap_or_default().to_string(),
        })
    }

    /// Reads it; None when there is none (no failure since the daemon started) or it cannot
    /// be read.
    pub fn load(state_dir: &Path) -> Option<FlapState> {
        FlapState::decode(&std::fs::read_to_string(state_path(state_dir)).ok()?)
    }

    /// Writes it (replacing the file at once, so a reader never sees half of it).
    pub fn store(&self, state_dir: &Path) -> std::io::Result<()> {
        let path = state_path(state_dir);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, self.encode())?;
        std::fs::rename(tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn settings(first: u64, max: u64, forget: u64) -> HeartbeatSettings {
        HeartbeatSettings {
            flap_backoff: (first > 0).then(|| Duration::from_secs(first)),
            flap_backoff_max: Duration::from_secs(max),
            failure_timeout: Duration::from_secs(forget),
            ..HeartbeatSettings::default()
        }
    }

    #[test]
    fn the_back_off_doubles_per_failure_up_to_the_cap() {
        let mut d = Damping::new(&settings(2, 10, 100));
        let backoffs: Vec<u64> = (1..=5)
            .map(|i| d.failed(i * 20 * S).unwrap().as_secs())
            .collect();
        assert_eq!(backoffs, [2, 4, 8, 10, 10]);
        assert_eq!(d.holding(100 * S), Some(Duration::from_secs(10)));
        assert_eq!(d.holding(110 * S), None);
    }

    #[test]
    fn failures_older_than_the_failure_timeout_are_forgotten() {
        let mut d = Damping::new(&settings(1, 60, 60));
        d.failed(0);
        d.failed(10 * S);
        assert_eq!(d.failed(30 * S), Some(Duration::from_secs(4)));
        // At 75 s the first two are over a minute old.
        assert_eq!(d.failed(75 * S), Some(Duration::from_secs(2)));
        d.holding(200 * S);
        assert_eq!(d.failures(), 0);
        assert_eq!(d.failed(200 * S), Some(Duration::from_secs(1)));
    }

    #[test]
    fn zero_turns_damping_off() {
        let mut d = Damping::new(&settings(0, 60, 60));
        assert_eq!(d.failed(S), None);
        assert_eq!(d.holding(S), None);
    }

    #[test]
    fn settings_that_do_not_fit_are_refused_naming_the_keys() {
        let e = check_settings(&settings(20, 10, 100)).unwrap_err();
        assert!(e.contains("hb.flap_backoff_ms") && e.contains("hb.flap_backoff_max_ms"));
        let e = check_settings(&settings(1, 100, 50)).unwrap_err();
        assert!(e.contains("hb.failure_timeout_ms"), "{e}");
        check_settings(&settings(0, 100, 50)).unwrap();
        check_settings(&HeartbeatSettings::default()).unwrap();
    }

    #[test]
    fn the_state_file_reads_back() {
        let d = {
            let mut d = Damping::new(&settings(1, 60, 600));
            d.failed(5 * S);
            d
        };
        let st = d.state("3 failed probes\nof port 9");
        assert_eq!(FlapState::decode(&st.encode()), Some(st.clone()));
        assert_eq!(st.last, "3 failed probes of port 9");
        assert_eq!(st.until, 6 * S);
        assert_eq!(FlapState::decode("x"), None);
    }
}
