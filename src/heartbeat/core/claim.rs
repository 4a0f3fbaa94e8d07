//! Claiming the lease: when a node may claim, the claim's phases (write CLAIMING, read every
//! peer, pause, read again, write ACTIVE), and backing off when it fails.

use std::collections::BTreeMap;

use super::{Action, AfterStop, ClaimPhase, Core, Role};
use crate::heartbeat::observe::{Liveness, Observation, Time};
use crate::heartbeat::record::{MaintMode, NodeState};

impl Core {
    pub(super) fn jitter(&mut self, below: u64) -> u64 {
        // xorshift64: deterministic per incarnation, which the simulation relies on.
        let s = &mut self.claim.jitter_state;
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        if below == 0 { 0 } else { *s % below }
    }

    /// Waits before this node may claim again; `goes_first` when its claim lost a collision
    /// of claims in which it ranks first (see `goes_first`).
    pub(super) fn back_off(&mut self, now: Time, goes_first: bool) {
        let p = self.t.period;
        // The jitter spans two periods and the node wakes when it ends (see `next_wakeup`),
        // so two nodes that do not go first do not keep colliding on the period grid. On top
        // comes the longest a claim takes, so the node that goes first (the preferred one, or
        // the first of a collision), back after one period, finishes its next claim before
        // the others try again, however slow storage is.
        let wait = if self.cfg.preferred || goes_first {
            p
        } else {
            3 * p + self.jitter(2 * p) + self.t.claim_time()
        };
        // Never shortens a longer back-off (after a failure this node must let others go).
        self.claim.backoff_until = self.claim.backoff_until.max(now + wait);
    }

    pub(super) fn abort_claim(&mut self, why: &str, now: Time, out: &mut Vec<Action>) {
        self.abort_claim_ranked(why, now, false, out);
    }

    fn abort_claim_ranked(
        &mut self,
        why: &str,
        now: Time,
        goes_first: bool,
        out: &mut Vec<Action>,
    ) {
        self.claim.phase = None;
        self.lease.deadline = None;
        self.lease.role = Role::Standby;
        self.lease.after_stop = AfterStop::Standby;
        self.back_off(now, goes_first);
        out.push(Action::Alarm(format!("claim abandoned: {why}")));
        self.write(NodeState::Standby, now, out);
    }

    /// Whether this claim goes first among those it collided with: no live peer that is
    /// claiming, or that chose this claim's epoch or a later one, ranks before this node
    /// (preferred nodes first, then by name). The nodes of a collision see each other's claim
    /// or epoch and rank by the same order, so one retries soon and the others let it
    /// finish: equal back-offs alone can keep two claims colliding round after round.
    fn goes_first(&self) -> bool {
        let epoch = self.lease.epoch;
        let me = (!self.cfg.preferred, self.cfg.node.as_str());
        self.seen
            .peers
            .iter()
            .filter(|(_, o)| o.liveness != Liveness::Stale)
            .filter_map(|(n, o)| o.record.as_ref().map(|r| (n, r)))
            .filter(|(_, r)| r.state == NodeState::Claiming || r.epoch >= epoch)
            .all(|(n, r)| (!r.preferred, n.as_str()) > me)
    }

    /// Every peer that forbids claiming does so because it is claiming too.
    fn only_claims_block(&self) -> bool {
        self.seen
            .peers
            .iter()
            .filter(|(n, o)| self.blocker(n, o).is_some())
            .all(|(_, o)| {
                !o.is_failing()
                    && o.record
                        .as_ref()
                        .is_some_and(|r| r.state == NodeState::Claiming)
            })
    }

    /// Why a peer forbids claiming, if it does.
    pub(super) fn blocker(&self, name: &str, obs: &Observation) -> Option<String> {
        if obs.is_failing() {
            return Some(format!("{name}: record unreadable"));
        }
        match (obs.liveness, &obs.record) {
            // A dead node's epoch must be known, or a claim could reuse it.
            (Liveness::Stale, None) if !self.seen.epoch_known.contains(name) => Some(format!(
                "{name}: record corrupt and never read intact, so its epoch is unknown; \
                 start its node again (its first write repairs the record)"
            )),
            (Liveness::Stale, _) => None,
            (_, Some(r)) if matches!(r.state, NodeState::Standby | NodeState::Released) => None,
            (_, Some(r)) => Some(format!("{name}: {:?} epoch {}", r.state, r.epoch)),
            (_, None) => Some(format!("{name}: record unknown or corrupt")),
        }
    }

    fn first_blocker(&self) -> Option<String> {
        self.seen.peers.iter().find_map(|(n, o)| self.blocker(n, o))
    }

    pub(super) fn may_claim(&self, now: Time) -> bool {
        let switchover_to_me =
            matches!(self.maint_mode(), MaintMode::Switchover(ref t) if *t == self.cfg.node);
        self.lease.role == Role::Standby
            && !self.app_running()
            && self.seen.foreign_writer.is_none()
            && self.io.last_write_ok
            && self.io.writing.is_none()
            && !self.drained()
            && !self.seen.maint_bad
            && (switchover_to_me || !self.frozen() && self.maint_mode() == MaintMode::Off)
            && (switchover_to_me || now >= self.claim.backoff_until)
            && self.first_blocker().is_none()
    }

    /// Starts a claim with an epoch above every one seen. At the top of the epoch's range
    /// there is none: the node claims nothing (a claim with a lower or equal epoch would send
    /// the fencing token backwards) and says so once, naming where the top was seen.
    pub(super) fn start_claim(&mut self, now: Time, out: &mut Vec<Action>) {
        let peers_max = self
            .seen
            .peers
            .iter()
            .filter_map(|(n, o)| o.record.as_ref().map(|r| (r.epoch.max(r.max_epoch), n)))
            .max();
        let lease = &mut self.lease;
        let own = lease.max_epoch.max(lease.epoch);
        let top = own.max(peers_max.map_or(0, |(e, _)| e));
        let Some(e) = top.checked_add(1) else {
            if !self.claim.epoch_top_said {
                self.claim.epoch_top_said = true;
                let source = match peers_max {
                    Some((e, n)) if e == top => format!("the record of node {n}"),
                    _ => "this node's record or its persisted epoch (hb.state_dir/epoch)".into(),
                };
                out.push(Action::Alarm(format!(
                    "epoch exhausted: {source} is at {top}: the fencing token cannot grow; this \
                     node claims nothing"
                )));
            }
            return;
        };
        lease.max_epoch = e;
        lease.epoch = e;
        out.push(Action::PersistEpoch(e));
        lease.role = Role::Claiming;
        lease.after_stop = AfterStop::Standby;
        self.claim.phase = Some(ClaimPhase::Writing);
        self.write(NodeState::Claiming, now, out);
    }

    /// All peers have been read by reads that started at or after `after`.
    fn read_since(&self, after: Time, reads: &BTreeMap<String, Time>) -> bool {
        self.seen
            .peers
            .keys()
            .all(|n| reads.get(n).is_some_and(|t| *t >= after))
    }

    pub(super) fn advance_claim(&mut self, now: Time, out: &mut Vec<Action>) {
        let Some(phase) = self.claim.phase else {
            return;
        };
        match phase {
            ClaimPhase::Reading { after } | ClaimPhase::Confirming { after } => {
                if !self.read_since(after, &self.io.last_read) {
                    // Reads that started before `after` do not count: read again.
                    let stale: Vec<String> = self
                        .seen
                        .peers
                        .keys()
                        .filter(|n| {
                            !self.io.node_reads.contains_key(*n)
                                && self.io.last_read.get(*n).is_none_or(|t| *t < after)
                        })
                        .cloned()
                        .collect();
                    for n in stale {
                        self.io.node_reads.insert(n.clone(), now);
                        out.push(Action::ReadNode(n));
                    }
                    return;
                }
                if let Some(why) = self.first_blocker() {
                    let first = self.only_claims_block() && self.goes_first();
                    self.abort_claim_ranked(&format!("contended: {why}"), now, first, out);
                    return;
                }
                // Our epoch was chosen before these reads: if a peer already used it, claim
                // again with a higher one, so fencing tokens only ever grow.
                if self.seen.peer_epoch >= self.lease.epoch {
                    let why = format!(
                        "epoch {} is already taken (seen {})",
                        self.lease.epoch, self.seen.peer_epoch
                    );
                    let first = self.goes_first();
                    self.abort_claim_ranked(&why, now, first, out);
                    return;
                }
                let margin = self.t.io_timeout;
                if self.lease.deadline.is_none_or(|d| now + margin >= d) {
                    self.abort_claim("too close to the claim's deadline", now, out);
                    return;
                }
                if matches!(phase, ClaimPhase::Reading { .. }) {
                    self.claim.phase = Some(ClaimPhase::Pausing {
                        until: now + self.t.confirm,
                    });
                } else {
                    self.claim.phase = Some(ClaimPhase::Activating);
                    if !self.write(NodeState::Active, now, out) {
                        self.abort_claim("a write is still outstanding", now, out);
                    }
                }
            }
            ClaimPhase::Pausing { until } => {
                if now >= until {
                    self.claim.phase = Some(ClaimPhase::Confirming { after: now });
                    self.advance_claim(now, out);
                }
            }
            ClaimPhase::Writing | ClaimPhase::Activating => {}
        }
    }
}
