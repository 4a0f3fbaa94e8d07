//! What a node's driver keeps about the application it told to stop, the same on both
//! backends: which one the caller has not yet reported gone, and when the caller learnt of
//! the stop, so that after the kill budget the application is taken as gone.

use std::time::Duration;

use crate::heartbeat::node::{TickAction, TickResult};
use crate::heartbeat::observe::Time;

#[derive(Debug, Default)]
pub struct StopTracking {
    /// The last StopApp not yet taken as done: when the caller learnt of it, and the epoch of
    /// the application it stops.
    given: Option<(Time, u64)>,
    /// The epoch of the application the caller was last told to stop and has not yet
    /// reported stopped: what a report without an epoch refers to.
    unconfirmed: Option<u64>,
}

impl StopTracking {
    /// The core decided to stop the application of `epoch` (None: no application known), at
    /// once when `fence`: the tick's result tells the caller, the log says why.
    pub fn decided(
        &mut self,
        result: &mut TickResult,
        reason: &str,
        fence: bool,
        epoch: Option<u64>,
    ) {
        // A lost lease is news; a hand-over (release, switchover) is routine.
        let level = if fence {
            log::Level::Warn
        } else {
            log::Level::Info
        };
        log::log!(level, "hamon heartbeat: stop the application: {reason}");
        result.action = if fence {
            TickAction::Fence
        } else {
            TickAction::Stop
        };
        self.unconfirmed = epoch;
    }

    /// The application told to stop that the caller has not reported gone yet.
    pub fn unconfirmed(&self) -> Option<u64> {
        self.unconfirmed
    }

    /// The caller reported the application of `epoch` gone.
    pub fn stopped(&mut self, epoch: u64) {
        if self.unconfirmed == Some(epoch) {
            self.unconfirmed = None;
        }
        if self.given.is_some_and(|(_, e)| e == epoch) {
            self.given = None;
        }
    }

    /// The caller still sees the application: it is not taken as gone after the budget.
    pub fn still_present(&mut self) {
        self.given = None;
    }

    /// The epoch of an application the caller learnt to stop `kill_budget` or more before
    /// `now` and has not confirmed gone: from now on it is taken as gone.
    pub fn overdue(&mut self, now: Time, kill_budget: Duration) -> Option<u64> {
        let (given, epoch) = self.given?;
        if now.saturating_sub(given) < kill_budget.as_nanos() as u64 {
            return None;
        }
        self.given = None;
        Some(epoch)
    }

    /// Ends a tick's result at `now`, as the caller is about to learn it: the kill budget of
    /// a new stop runs from now, a START goes out only while the node is `active`, and a
    /// running application with no stop pending is to be kept.
    pub fn finish(&mut self, result: &mut TickResult, now: Time, active: bool, app_running: bool) {
        // The kill budget runs from when the caller learns of the stop, not from the decision.
        if matches!(result.action, TickAction::Stop | TickAction::Fence)
            && let Some(epoch) = self.unconfirmed
            && self.given.is_none_or(|(_, e)| e != epoch)
        {
            self.given = Some((now, epoch));
        }
        // A START is only ever passed on while the node holds the lease it was given for.
        if result.action == TickAction::Start && !active {
            result.action = TickAction::None;
        }
        if result.action == TickAction::None && app_running && self.given.is_none() {
            result.action = TickAction::Keep;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heartbeat::core::Role;
    use crate::heartbeat::record::MaintMode;

    const MS: u64 = 1_000_000;

    fn result(action: TickAction) -> TickResult {
        TickResult {
            role: Role::Active,
            action,
            epoch: 7,
            deadline_left: None,
            maint: MaintMode::Off,
            maint_ok: true,
            alarms: Vec::new(),
        }
    }

    #[test]
    fn the_kill_budget_runs_from_when_the_caller_learns_of_the_stop() {
        let budget = std::time::Duration::from_millis(300);
        let mut stop = StopTracking::default();
        let mut r = result(TickAction::None);
        stop.decided(&mut r, "lease lost", true, Some(7));
        assert_eq!(r.action, TickAction::Fence);
        assert_eq!(stop.overdue(10_000 * MS, budget), None, "not given yet");
        stop.finish(&mut r, 1_000 * MS, true, true);
        assert_eq!(r.action, TickAction::Fence);
        // A later tick repeating the stop keeps the first instant.
        stop.finish(&mut result(TickAction::Stop), 1_200 * MS, true, true);
        assert_eq!(stop.overdue(1_299 * MS, budget), None);
        assert_eq!(stop.overdue(1_300 * MS, budget), Some(7));
        assert_eq!(stop.overdue(2_000 * MS, budget), None, "taken as gone once");
        assert_eq!(stop.unconfirmed(), Some(7));
        stop.stopped(7);
        assert_eq!(stop.unconfirmed(), None);
    }

    #[test]
    fn a_report_or_a_present_application_ends_the_budget() {
        let budget = std::time::Duration::from_millis(300);
        let mut stop = StopTracking::default();
        let mut r = result(TickAction::None);
        stop.decided(&mut r, "released", false, Some(3));
        assert_eq!(r.action, TickAction::Stop);
        stop.finish(&mut r, 0, true, true);
        stop.stopped(4);
        assert_eq!(stop.unconfirmed(), Some(3), "another epoch's report");
        stop.still_present();
        assert_eq!(stop.overdue(10_000 * MS, budget), None);
        stop.stopped(3);
        assert_eq!(stop.unconfirmed(), None);
    }

    #[test]
    fn start_only_while_active_and_keep_a_running_application_with_no_stop_pending() {
        let mut stop = StopTracking::default();
        let mut r = result(TickAction::Start);
        stop.finish(&mut r, 0, false, false);
        assert_eq!(r.action, TickAction::None);
        let mut r = result(TickAction::Start);
        stop.finish(&mut r, 0, true, false);
        assert_eq!(r.action, TickAction::Start);
        let mut r = result(TickAction::None);
        stop.finish(&mut r, 0, true, true);
        assert_eq!(r.action, TickAction::Keep);
        let mut r = result(TickAction::None);
        stop.finish(&mut r, 0, true, false);
        assert_eq!(r.action, TickAction::None);
        // A stop the caller has learnt of and not confirmed: no KEEP meanwhile.
        stop.decided(&mut result(TickAction::None), "switchover", false, Some(2));
        stop.finish(&mut result(TickAction::Stop), 0, true, true);
        let mut r = result(TickAction::None);
        stop.finish(&mut r, 10 * MS, true, true);
        assert_eq!(r.action, TickAction::None);
    }
}
