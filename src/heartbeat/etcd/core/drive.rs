//! Which etcd call the core makes next, one at a time: revoke, grant, keepalive, read, claim
//! or status, and the fence at the lease deadline that comes before any of them.

use super::{Action, Call, Core, Role, nanos};
use crate::heartbeat::observe::Time;

impl Core {
    pub(super) fn status_text(&self) -> String {
        let role = match self.role {
            Role::Standby => "standby",
            Role::Active => "active",
            Role::Stopping => "stopping",
        };
        let ack = match self.maint() {
            Some(Ok(m)) => m.token,
            _ => 0,
        };
        crate::heartbeat::etcd::keys::status_value(
            &self.cfg.node,
            role,
            self.epoch,
            ack,
            self.cfg.preferred,
        )
    }

    pub(super) fn drive(&mut self, now: Time, out: &mut Vec<Action>) {
        if self.role == Role::Active
            && let Some(d) = self.deadline()
            && now >= d
        {
            let l = self.lease.expect("a deadline has a lease");
            self.fence(
                format!(
                    "no keepalive acknowledged for {} ms (lease TTL {} s): stopping before etcd \
                     can expire the lease",
                    (now - l.acked_send) / 1_000_000,
                    self.cfg.timing.lease_ttl.as_secs()
                ),
                out,
            );
        }
        if self.inflight.is_some() {
            return;
        }
        let p = self.period();
        let call = if let Some(lease) = self.revoke.filter(|_| self.app_epoch.is_none()) {
            out.push(Action::Revoke { lease });
            Call::Revoke
        } else if self.lease.is_none() && self.revoke.is_none() {
            if now < self.next_grant {
                return;
            }
            self.next_grant = now + p;
            out.push(Action::GrantLease {
                ttl_s: self.cfg.timing.lease_ttl.as_secs(),
            });
            Call::Grant
        } else if let Some(l) = self.lease.filter(|_| now >= self.next_keepalive) {
            self.next_keepalive = now + p;
            out.push(Action::KeepAlive { lease: l.id });
            Call::KeepAlive
        } else if now >= self.next_read || (self.view.is_none() && self.role != Role::Stopping) {
            if now < self.next_read && self.view.is_none() {
                // A fresh read after a claim or revoke, but no more than one per half period.
                if now + p / 2 < self.next_read {
                    return;
                }
            }
            self.next_read = now + p;
            out.push(Action::Read);
            Call::Read
        } else if let Some((lease, epoch, epoch_rev)) = self.claim_now(now, out) {
            self.epoch = epoch;
            self.claiming = Some(epoch);
            out.push(Action::PersistEpoch(epoch));
            out.push(Action::Claim {
                lease,
                epoch,
                epoch_rev,
            });
            Call::Claim
        } else if let Some(l) = self.lease
            && self.status_put.as_deref() != Some(self.status_text().as_str())
        {
            let status = self.status_text();
            self.status_put = Some(status.clone());
            out.push(Action::PutStatus {
                lease: l.id,
                status,
            });
            Call::Status
        } else {
            return;
        };
        self.inflight = Some(call);
    }

    /// (lease, epoch, epoch_rev) when this node should claim now. None as well when the
    /// epoch cannot grow: a claim must carry an epoch above every one before, or the
    /// fencing token would go backwards; this is said once, naming where the top came from.
    pub(super) fn claim_now(
        &mut self,
        now: Time,
        out: &mut Vec<Action>,
    ) -> Option<(i64, u64, i64)> {
        if self.role != Role::Standby || self.app_epoch.is_some() {
            return None;
        }
        let view = self.view.as_ref()?;
        if view.leader.is_some() {
            return None;
        }
        let skip_backoff = self.maint_allows_claim()?;
        if !skip_backoff && now < self.backoff_until {
            return None;
        }
        let lease = self.lease?;
        // Room for the claim and the start before the deadline.
        let room = self.period() + 2 * nanos(self.cfg.timing.io_timeout);
        if self.deadline()? < now + room {
            return None;
        }
        let top = view.epoch.max(self.max_epoch).max(self.epoch);
        let Some(epoch) = top.checked_add(1) else {
            if !self.epoch_top_said {
                self.epoch_top_said = true;
                let in_key = view.epoch == top;
                out.push(Action::EpochExhausted { top, in_key });
            }
            return None;
        };
        Some((lease.id, epoch, view.epoch_rev))
    }
}
