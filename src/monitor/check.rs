//! One health check's judged state: rise/fall hysteresis, latency thresholds, timeouts and
//! staleness. Pure: results and time come in as arguments.

use std::time::{Duration, Instant};

use crate::config::{CheckOptions, Importance};
use crate::monitor::state::State;

/// What a check callback said about the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Up,
    Degraded,
    Down,
}

/// The end of one run of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// The callback returned.
    Returned {
        outcome: Outcome,
        reason: String,
        latency: Duration,
    },
    /// The callback was still running when its timeout passed.
    TimedOut { after: Duration },
}

/// Longest reason kept from a callback; the rest is cut so replies stay one short line.
pub const MAX_REASON: usize = 200;

/// Keeps printable characters only, so a reason can never break the line protocol.
pub fn clean_reason(raw: &str) -> String {
    raw.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_REASON)
        .collect::<String>()
        .trim()
        .to_string()
}

#[derive(Clone, Debug)]
pub struct CheckState {
    pub name: String,
    pub opts: CheckOptions,
    /// None until the first run ends: the first result counts at once, later ones through
    /// rise/fall.
    passing: Option<bool>,
    ok_streak: u32,
    fail_streak: u32,
    /// The last run's verdict: success and whether it was degraded.
    last_success: bool,
    last_degraded: bool,
    pub last_reason: String,
    pub last_latency: Option<Duration>,
    pub last_end: Option<Instant>,
    pub runs: u64,
    pub failures: u64,
}

/// A check as it is shown to clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckView {
    pub name: String,
    pub state: State,
    pub importance: Importance,
    pub latency_ms: Option<u64>,
    pub age_ms: Option<u64>,
    pub fail_streak: u32,
    pub fall: u32,
    pub ok_streak: u32,
    pub rise: u32,
    pub runs: u64,
    pub failures: u64,
    pub reason: String,
}

impl CheckState {
    pub fn new(name: &str, opts: CheckOptions) -> CheckState {
        CheckState {
            name: name.to_string(),
            opts,
            passing: None,
            ok_streak: 0,
            fail_streak: 0,
            last_success: false,
            last_degraded: false,
            last_reason: String::new(),
            last_latency: None,
            last_end: None,
            runs: 0,
            failures: 0,
        }
    }

    /// How old a result may get before the check counts as DOWN: a runner that stopped
    /// producing results must not leave a healthy-looking answer behind.
    pub fn stale_after(&self, configured: Option<Duration>) -> Duration {
        configured.unwrap_or(self.opts.interval * 3 + self.opts.timeout)
    }

    pub fn record(&mut self, end: RunEnd, now: Instant) {
        let (success, degraded, reason, latency) = match end {
            RunEnd::Returned {
                outcome,
                reason,
                latency,
            } => {
                let mut reason = clean_reason(&reason);
                if reason.is_empty() && outcome != Outcome::Up {
                    // Otherwise clients read `reason="db:"`: say at least what was returned.
                    let word = if outcome == Outcome::Down {
                        "DOWN"
                    } else {
                        "DEGRADED"
                    };
                    reason = format!("{word} (no reason given)");
                }
                let ms = latency.as_millis();
                match (outcome, self.opts.latency_crit, self.opts.latency_warn) {
                    (Outcome::Down, _, _) => (false, false, reason, Some(latency)),
                    (_, Some(crit), _) if latency > crit => {
                        let why = format!("slow: {ms} ms > crit {} ms", crit.as_millis());
                        (false, false, why, Some(latency))
                    }
                    (_, _, Some(warn)) if latency > warn => {
                        let why = format!("slow: {ms} ms > warn {} ms", warn.as_millis());
                        (true, true, why, Some(latency))
                    }
                    (Outcome::Degraded, _, _) => (true, true, reason, Some(latency)),
                    (Outcome::Up, _, _) => (true, false, reason, Some(latency)),
                }
            }
            RunEnd::TimedOut { after } => {
                // A stuck run is counted again every interval; the reason keeps naming the
                // timeout, the latency says how long it has run.
                let why = format!(
                    "timeout: no answer after {} ms",
                    self.opts.timeout.as_millis()
                );
                (false, false, why, Some(after))
            }
        };
        self.runs += 1;
        if !success {
            self.failures += 1;
        }
        self.last_success = success;
        self.last_degraded = degraded;
        self.last_reason = reason;
        self.last_latency = latency;
        self.last_end = Some(now);
        if success {
            self.ok_streak = self.ok_streak.saturating_add(1);
            self.fail_streak = 0;
        } else {
            self.fail_streak = self.fail_streak.saturating_add(1);
            self.ok_streak = 0;
        }
        self.passing = Some(match self.passing {
            None => success,
            Some(true) => self.fail_streak < self.opts.fall,
            Some(false) => self.ok_streak >= self.opts.rise,
        });
    }

    /// The check's state at `now`, with the reason to show.
    pub fn judge(&self, now: Instant, stale: Option<Duration>) -> (State, String) {
        let (Some(passing), Some(end)) = (self.passing, self.last_end) else {
            return (State::Starting, "no result yet".to_string());
        };
        let age = now.saturating_duration_since(end);
        if age > self.stale_after(stale) {
            return (
                State::Down,
                format!("stale: no result for {} ms", age.as_millis()),
            );
        }
        match (passing, self.last_success, self.last_degraded) {
            (false, _, _) => (State::Down, self.last_reason.clone()),
            (true, true, true) => (State::Degraded, self.last_reason.clone()),
            (true, true, false) => (State::Up, self.last_reason.clone()),
            // Passing, but the last run failed: still within `fall`.
            (true, false, _) => (
                State::Up,
                format!(
                    "failing {}/{}: {}",
                    self.fail_streak, self.opts.fall, self.last_reason
                ),
            ),
        }
    }

    pub fn view(&self, now: Instant, stale: Option<Duration>) -> CheckView {
        let (state, reason) = self.judge(now, stale);
        CheckView {
            name: self.name.clone(),
            state,
            importance: self.opts.importance,
            latency_ms: self.last_latency.map(|l| l.as_millis() as u64),
            age_ms: self
                .last_end
                .map(|e| now.saturating_duration_since(e).as_millis() as u64),
            fail_streak: self.fail_streak,
            fall: self.opts.fall,
            ok_streak: self.ok_streak,
            rise: self.opts.rise,
            runs: self.runs,
            failures: self.failures,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(rise: u32, fall: u32) -> CheckOptions {
        CheckOptions {
            rise,
            fall,
            ..CheckOptions::default()
        }
    }

    fn ret(outcome: Outcome, ms: u64) -> RunEnd {
        RunEnd::Returned {
            outcome,
            reason: format!("{outcome:?}"),
            latency: Duration::from_millis(ms),
        }
    }

    #[test]
    fn first_result_counts_at_once_then_rise_and_fall_apply() {
        let t = Instant::now();
        let mut c = CheckState::new("db", opts(2, 3));
        assert_eq!(c.judge(t, None).0, State::Starting);
        c.record(ret(Outcome::Up, 1), t);
        assert_eq!(c.judge(t, None).0, State::Up);
        c.record(ret(Outcome::Down, 1), t);
        c.record(ret(Outcome::Down, 1), t);
        let (st, why) = c.judge(t, None);
        assert_eq!(st, State::Up, "two failures are within fall=3");
        assert!(why.starts_with("failing 2/3"), "{why}");
        c.record(ret(Outcome::Down, 1), t);
        assert_eq!(c.judge(t, None).0, State::Down);
        c.record(ret(Outcome::Up, 1), t);
        assert_eq!(
            c.judge(t, None).0,
            State::Down,
            "one success is below rise=2"
        );
        c.record(ret(Outcome::Up, 1), t);
        assert_eq!(c.judge(t, None).0, State::Up);
        assert_eq!((c.runs, c.failures), (6, 3));
    }

    #[test]
    fn latency_thresholds_degrade_then_fail() {
        let t = Instant::now();
        let mut o = opts(1, 1);
        o.latency_warn = Some(Duration::from_millis(100));
        o.latency_crit = Some(Duration::from_millis(500));
        let mut c = CheckState::new("db", o);
        c.record(ret(Outcome::Up, 150), t);
        let (st, why) = c.judge(t, None);
        assert_eq!(st, State::Degraded);
        assert_eq!(why, "slow: 150 ms > warn 100 ms");
        c.record(ret(Outcome::Up, 600), t);
        assert_eq!(
            c.judge(t, None),
            (State::Down, "slow: 600 ms > crit 500 ms".into())
        );
    }

    #[test]
    fn timeouts_fail_and_old_results_go_stale() {
        let t = Instant::now();
        let mut c = CheckState::new("db", opts(1, 1));
        c.record(
            RunEnd::TimedOut {
                after: Duration::from_millis(1000),
            },
            t,
        );
        assert_eq!(
            c.judge(t, None),
            (State::Down, "timeout: no answer after 1000 ms".into())
        );
        c.record(ret(Outcome::Up, 1), t);
        assert_eq!(c.judge(t + Duration::from_secs(4), None).0, State::Up);
        let (st, why) = c.judge(t + Duration::from_millis(4001), None);
        assert_eq!(st, State::Down);
        assert!(why.starts_with("stale"), "{why}");
        assert_eq!(
            c.judge(t + Duration::from_secs(9), Some(Duration::from_secs(10)))
                .0,
            State::Up
        );
    }

    #[test]
    fn a_failure_without_a_reason_says_what_was_returned() {
        let t = Instant::now();
        let mut c = CheckState::new("db", opts(1, 1));
        let bare = |outcome| RunEnd::Returned {
            outcome,
            reason: " \n".into(),
            latency: Duration::from_millis(1),
        };
        c.record(bare(Outcome::Degraded), t);
        assert_eq!(
            c.judge(t, None),
            (State::Degraded, "DEGRADED (no reason given)".into())
        );
        c.record(bare(Outcome::Down), t);
        assert_eq!(
            c.judge(t, None),
            (State::Down, "DOWN (no reason given)".into())
        );
        c.record(bare(Outcome::Up), t);
        assert_eq!(c.judge(t, None), (State::Up, String::new()));
    }

    #[test]
    fn reasons_are_kept_to_one_printable_line() {
        assert_eq!(clean_reason("a\r\nb\0c"), "a  b c");
        assert_eq!(clean_reason(&"x".repeat(500)).len(), MAX_REASON);
    }
}
