//! The application's phase: what the daemon is doing about its application, as opposed to
//! whether its processes exist (that is `App`'s). Each event the daemon sees is a named
//! transition here; the daemon carries out what a transition returns. Pure: no processes,
//! no clocks.

/// Where the application stands, from the daemon's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Nothing is to run: no START yet, or the node asked for a stop.
    Idle,
    /// The start waits until the previous application is gone or the lease allows it.
    StartPending,
    /// The application was started (its gate opened).
    Running,
    /// The application died on its own and is started again once its group is gone.
    RestartPending,
    /// The application failed (died, unhealthy, no guard, could not start) and the node was
    /// told: nothing more to report until the node gives a new START.
    Failed,
}

/// What the daemon does after the application died on its own.
#[derive(Debug, PartialEq, Eq)]
pub enum AfterDeath {
    /// Not active: the node learns of it when the group is gone.
    Nothing,
    /// Restart it locally (`n`-th restart of this term, of `limit`).
    Restart { n: u32, limit: u32 },
    /// Restarts are used up: the node is told it failed.
    HandOver,
}

/// What the daemon does once the application's group is gone.
#[derive(Debug, PartialEq, Eq)]
pub enum AfterGone {
    /// Carry out the start that waited for the group to go (the lease is checked at that
    /// instant).
    Start,
    /// Carry out the local restart, likewise.
    Restart,
    /// Tell the node the application of `epoch` is gone.
    Report { epoch: u64 },
}

/// The phase, the term it is about and the local restarts in that term.
#[derive(Debug)]
pub struct Lifecycle {
    phase: Phase,
    /// The epoch of the last START: every application of this daemon is started with it, and
    /// the node is told of its end with it (0: no START yet, which the node ignores).
    epoch: u64,
    restarts: u32,
    restart_limit: u32,
}

impl Lifecycle {
    /// `restart_limit`: local restarts per term before handing over (`hb.restart_limit`).
    pub fn new(restart_limit: u32) -> Lifecycle {
        Lifecycle {
            phase: Phase::Idle,
            epoch: 0,
            restarts: 0,
            restart_limit,
        }
    }

    #[cfg(test)]
    fn phase(&self) -> Phase {
        self.phase
    }

    /// The epoch of the last START (see the field).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The node gave START for `epoch`: a new term, restarts start over.
    pub fn start_given(&mut self, epoch: u64) {
        self.epoch = epoch;
        self.restarts = 0;
        self.phase = Phase::StartPending;
    }

    /// The start must wait (the lease does not allow it at this instant, or the previous
    /// application is still on its way out).
    pub fn start_deferred(&mut self) {
        self.phase = Phase::StartPending;
    }

    /// The application runs past its gate.
    pub fn started(&mut self) {
        self.phase = Phase::Running;
    }

    /// A start waits.
    pub fn start_pending(&self) -> bool {
        self.phase == Phase::StartPending
    }

    /// The application failed: true when the node is to be told, false when it already was.
    pub fn fail(&mut self) -> bool {
        let first = self.phase != Phase::Failed;
        self.phase = Phase::Failed;
        first
    }

    /// The node keeps the lease and expects the application; true when its absence is a
    /// failure to report (it is not merely waiting to start, nor reported already).
    pub fn missing_is_failure(&self) -> bool {
        !matches!(self.phase, Phase::Failed | Phase::StartPending)
    }

    /// The node asks for a stop (hand-over, fence, or the daemon's own shutdown): nothing
    /// waits to start any more. A failure already reported stays reported.
    pub fn stop_given(&mut self) {
        if self.phase != Phase::Failed {
            self.phase = Phase::Idle;
        }
    }

    /// The application died on its own; `active`: this node holds the lease.
    pub fn died(&mut self, active: bool) -> AfterDeath {
        if !active {
            return AfterDeath::Nothing;
        }
        if self.restarts < self.restart_limit {
            self.restarts += 1;
            self.phase = Phase::RestartPending;
            AfterDeath::Restart {
                n: self.restarts,
                limit: self.restart_limit,
            }
        } else {
            self.phase = Phase::Failed;
            AfterDeath::HandOver
        }
    }

    /// The guard killed the application at its lease deadline: a fence, not a failure, so no
    /// restart is counted and nothing is reported as failed. While this node still holds the
    /// lease (its own FENCE has not come yet, or a renewal reached it just after the guard's
    /// kill) the start waits for the lease; a FENCE drops it.
    pub fn fenced(&mut self, active: bool) {
        if active && matches!(self.phase, Phase::Running | Phase::RestartPending) {
            self.phase = Phase::StartPending;
        }
    }

    /// The application's group is gone (nothing of it runs); `active`: this node holds the
    /// lease.
    pub fn gone(&mut self, active: bool) -> AfterGone {
        match self.phase {
            Phase::RestartPending if active => {
                self.phase = Phase::StartPending;
                AfterGone::Restart
            }
            Phase::StartPending if active => AfterGone::Start,
            Phase::RestartPending | Phase::StartPending | Phase::Running => {
                self.phase = Phase::Idle;
                self.report()
            }
            Phase::Idle | Phase::Failed => self.report(),
        }
    }

    fn report(&self) -> AfterGone {
        AfterGone::Report { epoch: self.epoch }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_waits_runs_and_a_stop_ends_it() {
        let mut l = Lifecycle::new(2);
        assert!(
            l.missing_is_failure(),
            "idle: a kept lease without application"
        );
        l.start_given(7);
        assert!(l.start_pending());
        assert!(!l.missing_is_failure(), "a waiting start is not a failure");
        l.started();
        assert_eq!(l.phase(), Phase::Running);
        assert!(!l.start_pending());
        assert!(l.missing_is_failure());
        l.stop_given();
        assert_eq!(l.phase(), Phase::Idle);
        assert_eq!(l.gone(false), AfterGone::Report { epoch: 7 });
    }

    #[test]
    fn the_end_of_an_old_group_is_reported_with_the_epoch_of_the_last_start() {
        let mut l = Lifecycle::new(0);
        l.start_given(2);
        l.started();
        // A new term while the old application is on its way out.
        l.start_given(3);
        assert_eq!(
            l.gone(true),
            AfterGone::Start,
            "started once the old group is gone"
        );
        assert!(l.start_pending());
        assert_eq!(l.gone(false), AfterGone::Report { epoch: 3 });
        assert_eq!(l.phase(), Phase::Idle);
    }

    #[test]
    fn deaths_restart_up_to_the_limit_per_term_then_hand_over() {
        let mut l = Lifecycle::new(2);
        l.start_given(1);
        l.started();
        assert_eq!(l.died(true), AfterDeath::Restart { n: 1, limit: 2 });
        assert_eq!(l.phase(), Phase::RestartPending);
        assert_eq!(l.gone(true), AfterGone::Restart);
        assert!(l.start_pending(), "until the lease allows it");
        l.started();
        assert_eq!(l.died(true), AfterDeath::Restart { n: 2, limit: 2 });
        assert_eq!(l.gone(true), AfterGone::Restart);
        l.started();
        assert_eq!(l.died(true), AfterDeath::HandOver);
        assert_eq!(l.phase(), Phase::Failed);
        assert_eq!(l.gone(true), AfterGone::Report { epoch: 1 });
        // A new term counts afresh.
        l.start_given(2);
        assert_eq!(l.phase(), Phase::StartPending);
        l.started();
        assert_eq!(l.died(true), AfterDeath::Restart { n: 1, limit: 2 });
    }

    #[test]
    fn a_death_while_not_active_is_only_reported_when_the_group_is_gone() {
        let mut l = Lifecycle::new(5);
        l.start_given(4);
        l.started();
        assert_eq!(l.died(false), AfterDeath::Nothing);
        assert_eq!(l.phase(), Phase::Running);
        assert_eq!(l.gone(false), AfterGone::Report { epoch: 4 });
        assert_eq!(l.phase(), Phase::Idle);
    }

    #[test]
    fn a_restart_is_dropped_when_the_lease_went_or_a_stop_came_meanwhile() {
        let mut l = Lifecycle::new(3);
        l.start_given(1);
        l.started();
        l.died(true);
        assert_eq!(l.gone(false), AfterGone::Report { epoch: 1 });
        assert!(!l.start_pending());
        l.started();
        l.died(true);
        l.stop_given();
        assert_eq!(
            l.gone(true),
            AfterGone::Report { epoch: 1 },
            "a stop cancels it"
        );
    }

    #[test]
    fn a_kill_at_the_lease_deadline_is_no_failure_and_no_restart() {
        let mut l = Lifecycle::new(1);
        l.start_given(5);
        l.started();
        l.fenced(true);
        assert!(l.start_pending(), "the start waits for the lease");
        assert!(
            !l.missing_is_failure(),
            "a fenced application is not missing"
        );
        // The node's FENCE follows: nothing waits to start, the end is reported.
        l.stop_given();
        assert_eq!(l.gone(false), AfterGone::Report { epoch: 5 });
        // The restart it did not count is still there for a real death.
        l.start_given(6);
        l.started();
        assert_eq!(l.died(true), AfterDeath::Restart { n: 1, limit: 1 });
        // Fenced after the node's own FENCE already came, or after a failure: nothing changes.
        let mut l = Lifecycle::new(0);
        l.start_given(7);
        l.started();
        l.fenced(false);
        assert_eq!(l.phase(), Phase::Running);
        assert!(l.fail());
        l.fenced(true);
        assert_eq!(l.phase(), Phase::Failed);
    }

    #[test]
    fn a_failure_is_reported_once_and_survives_a_stop_until_a_new_start() {
        let mut l = Lifecycle::new(0);
        l.start_given(9);
        l.started();
        assert!(l.fail());
        assert!(!l.fail(), "reported already");
        assert!(!l.missing_is_failure());
        l.stop_given();
        assert_eq!(l.phase(), Phase::Failed);
        assert_eq!(l.gone(true), AfterGone::Report { epoch: 9 });
        assert_eq!(l.phase(), Phase::Failed);
        l.start_given(10);
        assert_eq!(l.phase(), Phase::StartPending);
    }
}
