//! Following a switchover: it holds every node but the named one back until that one is
//! active, then ends by itself (normal failover rules again); if the named node is not
//! active within the failover bound of this node first reading the switchover, it is
//! abandoned, so the cluster is never left without failover.

use super::{Action, Core, Role};
use crate::heartbeat::observe::Time;
use crate::heartbeat::record::{MaintMode, MaintRecord, NodeState};

/// A switchover as this node follows it.
#[derive(Clone, Copy, Debug)]
pub(super) struct SwitchoverWatch {
    /// The maintenance token of the switchover.
    token: u64,
    /// When this node first read it.
    seen_at: Time,
    /// Done or abandoned: the maintenance record no longer restricts anything.
    over: bool,
}

impl SwitchoverWatch {
    /// The watch after reading `m` at `now`: kept while the same switchover stands, new for
    /// a new one, gone when the record names none.
    pub(super) fn follow(old: Option<SwitchoverWatch>, m: &MaintRecord, now: Time) -> Option<Self> {
        match (&m.mode, old) {
            (MaintMode::Switchover(_), Some(w)) if w.token == m.token => Some(w),
            (MaintMode::Switchover(_), _) => Some(SwitchoverWatch {
                token: m.token,
                seen_at: now,
                over: false,
            }),
            _ => None,
        }
    }
}

impl Core {
    /// The switchover `m` names is done or abandoned: it counts as OFF.
    pub(super) fn switchover_over(&self, m: &MaintRecord) -> bool {
        matches!(m.mode, MaintMode::Switchover(_))
            && self
                .seen
                .switchover
                .is_some_and(|w| w.token == m.token && w.over)
    }

    /// Ends the switchover once its node is active (this node in role ACTIVE, or a peer
    /// whose record says ACTIVE after it read the switchover), or abandons it after the
    /// failover bound, loudly.
    pub(super) fn follow_switchover(&mut self, now: Time, out: &mut Vec<Action>) {
        let (Some(m), Some(w)) = (&self.seen.maint, self.seen.switchover) else {
            return;
        };
        let MaintMode::Switchover(target) = &m.mode else {
            return;
        };
        if w.over || self.seen.maint_bad {
            return;
        }
        let done = if *target == self.cfg.node {
            self.lease.role == Role::Active
        } else {
            self.seen
                .peers
                .get(target)
                .and_then(|o| o.record.as_ref())
                .is_some_and(|r| r.state == NodeState::Active && r.maint_ack >= w.token)
        };
        let limit = self.t.failover_bound;
        let msg = if done {
            format!("switchover to {target} done: normal failover rules apply again")
        } else if now.saturating_sub(w.seen_at) >= limit {
            format!(
                "switchover to {target} abandoned: {target} did not become active within \
                 {} ms (the failover bound); normal failover rules apply again",
                limit / 1_000_000
            )
        } else {
            return;
        };
        out.push(Action::Alarm(msg));
        self.seen.switchover = Some(SwitchoverWatch { over: true, ..w });
    }
}
