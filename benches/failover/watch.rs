//! Watching a failover from outside, as a cluster manager's monitor would: the old and the
//! new application's monitor ports, probed every `every` from the moment of the kill.

use std::time::{Duration, Instant};

use crate::support::pico::healthy;

/// What one failover looked like.
#[derive(Clone, Debug, Default)]
pub struct Failover {
    /// From the kill to the new application answering healthy; None: not within the limit.
    pub new_up: Option<Duration>,
    /// From the kill to the old application no longer answering healthy.
    pub old_gone: Option<Duration>,
    /// The old application still answered healthy when the new one came up.
    pub both_up: bool,
    /// What went wrong, for the report.
    pub problem: Option<String>,
}

/// Probes `old` and `new` every `every`, starting at `killed`, until `new` is healthy or
/// `limit` has passed.
pub fn watch(killed: Instant, old: u16, new: u16, every: Duration, limit: Duration) -> Failover {
    let timeout = every.max(Duration::from_millis(200));
    let mut f = Failover::default();
    while killed.elapsed() < limit {
        let old_up = healthy(old, timeout);
        if !old_up && f.old_gone.is_none() {
            f.old_gone = Some(killed.elapsed());
        }
        if healthy(new, timeout) {
            f.new_up = Some(killed.elapsed());
            f.both_up = old_up;
            return f;
        }
        std::thread::sleep(every);
    }
    f.problem = Some(format!(
        "no application answered within {limit:?} of the kill"
    ));
    f
}
