//! Which lease deadlines the guard may be acting on for the application's group, so that the
//! daemon can tell a kill at the lease deadline (a fence) from the application dying on its
//! own, whichever it sees first: the guard's kill or its own tick's FENCE. Pure: no
//! processes, no clocks.
//!
//! The guard acts on the last line it read. A line the daemon wrote may not have been read
//! yet (the guard answers each line once it holds it), and a renewal that reached the guard
//! just after it killed at the previous deadline is answered all the same. So the guard may
//! have killed at any deadline it has not answered yet, at the one it answered last, or at
//! the one before that. In steady state every one of them lies ahead (each renewal moves the
//! deadline by a period, and the lease is longer than a period plus two I/O timeouts), so an
//! application that dies on its own is never taken for a fence.

use std::collections::VecDeque;

/// The deadlines (boot clock, ns) the guard may hold for one process group.
#[derive(Debug, Default)]
pub struct Held {
    pgid: i32,
    /// Sent and not answered yet, oldest first.
    unanswered: VecDeque<u64>,
    /// The last two answered, latest first.
    answered: [Option<u64>; 2],
}

/// Lines sent and never answered that are remembered at most (answers can be lost: the guard
/// never blocks on them).
const MAX_UNANSWERED: usize = 64;

impl Held {
    /// The daemon sent `pgid deadline` to the guard.
    pub fn sent(&mut self, pgid: i32, deadline: u64) {
        if pgid != self.pgid {
            *self = Held {
                pgid,
                ..Held::default()
            };
        }
        if pgid == 0 {
            return;
        }
        if self.unanswered.len() == MAX_UNANSWERED {
            self.unanswered.pop_front();
        }
        self.unanswered.push_back(deadline);
    }

    /// The guard answered `pgid deadline`: it holds it, and every line sent before it was
    /// read too.
    pub fn answered(&mut self, pgid: i32, deadline: u64) {
        if pgid != self.pgid || pgid == 0 {
            return;
        }
        let Some(i) = self.unanswered.iter().position(|&d| d == deadline) else {
            return;
        };
        self.unanswered.drain(..=i);
        self.answered = [Some(deadline), self.answered[0]];
    }

    /// The earliest instant the guard may have killed group `pgid` at; None when it was never
    /// given a deadline for it.
    pub fn earliest_kill(&self, pgid: i32) -> Option<u64> {
        if pgid != self.pgid || pgid == 0 {
            return None;
        }
        self.unanswered
            .iter()
            .copied()
            .chain(self.answered.iter().flatten().copied())
            .min()
    }

    /// The group `pgid`, seen gone at `now`, may have been killed by the guard at its lease
    /// deadline: its end is a fence, not a failure of the application.
    pub fn killed_at_deadline(&self, pgid: i32, now: u64) -> bool {
        self.earliest_kill(pgid).is_some_and(|t| now >= t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// A lease of 800 ms renewed every 100 ms: deadlines 800, 900, 1000 ms ... sent at 0,
    /// 100, 200 ms ...
    fn renewed(until_ms: u64) -> Held {
        let mut h = Held::default();
        let mut t = 0;
        while t <= until_ms {
            h.sent(7, (t + 800) * MS);
            h.answered(7, (t + 800) * MS);
            t += 100;
        }
        h
    }

    #[test]
    fn a_death_before_every_deadline_is_a_failure() {
        let h = renewed(5_000);
        // The last two answered: 5800 and 5700 ms.
        assert_eq!(h.earliest_kill(7), Some(5_700 * MS));
        assert!(!h.killed_at_deadline(7, 5_050 * MS));
        assert!(!h.killed_at_deadline(7, 5_699 * MS));
    }

    #[test]
    fn a_death_at_or_after_the_held_deadline_is_a_fence() {
        let h = renewed(5_000);
        assert!(h.killed_at_deadline(7, 5_700 * MS));
        assert!(h.killed_at_deadline(7, 9_000 * MS));
    }

    #[test]
    fn a_renewal_the_guard_has_not_read_leaves_the_old_deadline_in_force() {
        let mut h = Held::default();
        h.sent(7, 800 * MS);
        h.answered(7, 800 * MS);
        // Renewed just after the guard killed at 800 ms: the new line waits in the pipe.
        h.sent(7, 1_600 * MS);
        assert!(h.killed_at_deadline(7, 801 * MS));
        // Answered: the guard may still have killed at 800 before it read the line.
        h.answered(7, 1_600 * MS);
        assert!(h.killed_at_deadline(7, 801 * MS));
        // One more renewal later, 800 ms is out of the picture.
        h.sent(7, 1_700 * MS);
        h.answered(7, 1_700 * MS);
        assert!(!h.killed_at_deadline(7, 900 * MS));
    }

    #[test]
    fn lost_answers_are_covered_by_a_later_one() {
        let mut h = Held::default();
        for d in [800, 900, 1_000] {
            h.sent(7, d * MS);
        }
        assert_eq!(h.earliest_kill(7), Some(800 * MS));
        h.answered(7, 1_000 * MS);
        assert_eq!(h.earliest_kill(7), Some(1_000 * MS));
        // An answer to a line it does not know changes nothing.
        h.answered(7, 5 * MS);
        assert_eq!(h.earliest_kill(7), Some(1_000 * MS));
    }

    #[test]
    fn another_group_or_none_is_never_a_fence() {
        let mut h = renewed(1_000);
        assert!(!h.killed_at_deadline(8, u64::MAX));
        h.sent(0, 0);
        assert!(!h.killed_at_deadline(7, u64::MAX));
        assert!(!h.killed_at_deadline(0, u64::MAX));
        assert_eq!(Held::default().earliest_kill(7), None);
    }

    #[test]
    fn unanswered_lines_are_bounded() {
        let mut h = Held::default();
        for d in 1..=1_000 {
            h.sent(7, d);
        }
        assert_eq!(h.unanswered.len(), MAX_UNANSWERED);
        assert_eq!(h.earliest_kill(7), Some(1_000 - MAX_UNANSWERED as u64 + 1));
    }
}
