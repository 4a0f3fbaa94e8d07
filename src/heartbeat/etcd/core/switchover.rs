//! Following a switchover: it holds every node but the named one back until the named one
//! holds the leader key, then ends by itself; abandoned after the failover bound from this
//! node first reading it, so the cluster is never left without failover.

use super::{Action, Core, View, nanos};
use crate::heartbeat::observe::Time;
use crate::heartbeat::record::{MaintMode, MaintRecord};

/// A switchover as this node follows it: it holds every node but the named one back until
/// the named one holds the leader key, then ends by itself; abandoned after the failover
/// bound from this node first reading it, so the cluster is never left without failover.
#[derive(Clone, Copy, Debug)]
pub(super) struct SwitchoverWatch {
    token: u64,
    seen_at: Time,
    /// Done or abandoned: the maintenance key counts as OFF.
    over: bool,
}

impl Core {
    /// The switchover `m` names is done or abandoned.
    pub(super) fn switchover_over(&self, m: &MaintRecord) -> bool {
        matches!(m.mode, MaintMode::Switchover(_))
            && self
                .switchover
                .is_some_and(|w| w.token == m.token && w.over)
    }

    /// Ends the switchover once its node holds the leader key, or abandons it after the
    /// failover bound, loudly.
    pub(super) fn follow_switchover(&mut self, now: Time, view: &View, out: &mut Vec<Action>) {
        let m = match &view.maint {
            Some(Ok(m)) => m,
            // Unreadable: it counts as FREEZE anyway; the watch waits for a good read.
            Some(Err(_)) => return,
            None => {
                self.switchover = None;
                return;
            }
        };
        let MaintMode::Switchover(target) = &m.mode else {
            self.switchover = None;
            return;
        };
        let w = match self.switchover {
            Some(w) if w.token == m.token => w,
            _ => SwitchoverWatch {
                token: m.token,
                seen_at: now,
                over: false,
            },
        };
        self.switchover = Some(w);
        if w.over {
            return;
        }
        let limit = self.cfg.timing.failover_bound();
        let msg = if view.leader.as_ref().is_some_and(|l| l.node == *target) {
            format!("switchover to {target} done: normal failover rules apply again")
        } else if now.saturating_sub(w.seen_at) >= nanos(limit) {
            format!(
                "switchover to {target} abandoned: {target} did not become active within {} ms \
                 (the failover bound); normal failover rules apply again",
                limit.as_millis()
            )
        } else {
            return;
        };
        out.push(Action::Alarm(msg));
        self.switchover = Some(SwitchoverWatch { over: true, ..w });
    }
}
