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
