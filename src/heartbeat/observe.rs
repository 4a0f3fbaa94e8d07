//! What a node knows about a peer from reading its record: liveness judged only by whether
//! the bytes change, on the reader's own monotonic clock. Clocks of different hosts are never
//! compared, and a record that cannot be read is never taken for a dead node.

use crate::heartbeat::record::NodeRecord;

/// Nanoseconds on the observing node's monotonic clock (CLOCK_BOOTTIME).
pub type Time = u64;

/// How alive a peer looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Nothing can be said: the last read failed, or the bytes have not had time to change.
    Unknown,
    /// The bytes changed less than the takeover time ago.
    Alive,
    /// A read that started at least the takeover time after the current bytes were first
    /// seen still returned them.
    Stale,
}

#[derive(Clone, Debug)]
pub struct Observation {
    last_bytes: Option<Vec<u8>>,
    /// End of the read that first returned `last_bytes` (or the window restart).
    t_change: Time,
    /// The bytes changed at least once while watched.
    changed: bool,
    /// The last read failed.
    failing: bool,
    /// The current bytes decoded, when they are a valid record.
    pub record: Option<NodeRecord>,
    pub liveness: Liveness,
}

impl Observation {
    pub fn new(now: Time) -> Observation {
        Observation {
            last_bytes: None,
            t_change: now,
            changed: false,
            failing: false,
            record: None,
            liveness: Liveness::Unknown,
        }
    }

    /// Forgets what was seen, so staleness needs a whole new takeover window from `now`
    /// (after maintenance ends: the standby must not act on time that passed while frozen).
    pub fn restart_window(&mut self, now: Time) {
        self.t_change = now;
        self.changed = false;
        if self.liveness == Liveness::Stale {
            self.liveness = Liveness::Unknown;
        }
    }

    /// A failed read: nothing is known until a read succeeds again.
    pub fn read_failed(&mut self) {
        self.failing = true;
        self.liveness = Liveness::Unknown;
    }

    /// A read that started at `started` and ended at `ended` returned `bytes`, which decode to
    /// `record` (None: corrupt or foreign).
    pub fn read_ok(
        &mut self,
        bytes: &[u8],
        record: Option<NodeRecord>,
        started: Time,
        ended: Time,
        takeover: u64,
    ) {
        self.failing = false;
        let same = self.last_bytes.as_deref() == Some(bytes);
        if !same {
            if self.last_bytes.is_some() {
                self.changed = true;
            }
            self.last_bytes = Some(bytes.to_vec());
            // Using the read's end for a change and its start for staleness errs on the safe
            // side both ways.
            self.t_change = self.t_change.max(ended);
            self.record = record;
        }
        self.liveness = if same && started >= self.t_change && started - self.t_change >= takeover {
            Liveness::Stale
        } else if self.changed {
            Liveness::Alive
        } else {
            Liveness::Unknown
        };
    }

    /// Alive-ness expires: a peer whose bytes have not changed for the takeover time is no
    /// longer counted as alive, though only a read can prove it stale.
    pub fn refresh(&mut self, now: Time, takeover: u64) {
        if self.liveness == Liveness::Alive && now.saturating_sub(self.t_change) >= takeover {
            self.liveness = Liveness::Unknown;
        }
    }

    /// When the current bytes were first seen (None before any successful read).
    pub fn changed_at(&self) -> Option<Time> {
        self.last_bytes.as_ref().map(|_| self.t_change)
    }

    pub fn is_failing(&self) -> bool {
        self.failing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: u64 = 1000;

    #[test]
    fn first_sight_is_unknown_then_change_is_alive() {
        let mut o = Observation::new(0);
        o.read_ok(b"a", None, 0, 10, D);
        assert_eq!(o.liveness, Liveness::Unknown, "one look proves nothing");
        o.read_ok(b"b", None, 100, 110, D);
        assert_eq!(o.liveness, Liveness::Alive);
        o.refresh(1109, D);
        assert_eq!(o.liveness, Liveness::Alive);
        o.refresh(1110, D);
        assert_eq!(o.liveness, Liveness::Unknown);
    }

    #[test]
    fn stale_needs_a_read_starting_a_full_window_after_the_change() {
        let mut o = Observation::new(0);
        o.read_ok(b"a", None, 0, 10, D);
        o.read_ok(b"a", None, 1009, 1500, D);
        assert_eq!(
            o.liveness,
            Liveness::Unknown,
            "read started 999 after the change"
        );
        o.read_ok(b"a", None, 1010, 1011, D);
        assert_eq!(o.liveness, Liveness::Stale);
    }

    #[test]
    fn unreadable_is_never_dead() {
        let mut o = Observation::new(0);
        o.read_ok(b"a", None, 0, 10, D);
        for t in (100..5000).step_by(100) {
            o.read_failed();
            assert_eq!(o.liveness, Liveness::Unknown, "at {t}");
        }
        assert!(o.is_failing());
        // A later successful read of the same bytes may still prove staleness.
        o.read_ok(b"a", None, 5000, 5001, D);
        assert_eq!(o.liveness, Liveness::Stale);
    }

    #[test]
    fn changing_garbage_is_alive_and_static_garbage_goes_stale() {
        let mut o = Observation::new(0);
        o.read_ok(b"x1", None, 0, 1, D);
        o.read_ok(b"x2", None, 100, 101, D);
        assert_eq!((o.liveness, o.record.is_none()), (Liveness::Alive, true));
        o.read_ok(b"x2", None, 1101, 1102, D);
        assert_eq!(o.liveness, Liveness::Stale);
    }

    #[test]
    fn restarting_the_window_forgets_elapsed_time() {
        let mut o = Observation::new(0);
        o.read_ok(b"a", None, 0, 10, D);
        o.read_ok(b"a", None, 2000, 2001, D);
        assert_eq!(o.liveness, Liveness::Stale);
        o.restart_window(2100);
        assert_eq!(o.liveness, Liveness::Unknown);
        o.read_ok(b"a", None, 3000, 3001, D);
        assert_eq!(o.liveness, Liveness::Unknown);
        o.read_ok(b"a", None, 3100, 3101, D);
        assert_eq!(o.liveness, Liveness::Stale);
    }
}
