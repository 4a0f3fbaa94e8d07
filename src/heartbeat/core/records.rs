//! The records' side of the core: what this node writes, when it reads, and what it learns
//! from each completed read and write (liveness, epochs, timings, a second writer in its
//! own record, the maintenance record, the lease renewed).

use std::time::Duration;

use super::{Action, AfterStop, ClaimPhase, Core, Role, SwitchoverWatch, ns};
use crate::heartbeat::codec::NODE_USED;
use crate::heartbeat::observe::Time;
use crate::heartbeat::record::{MaintMode, MaintRecord, NodeRecord, NodeState};
use crate::heartbeat::timing::Timing;

impl Core {
    fn record(&self, state: NodeState, wall_ms: u64) -> NodeRecord {
        let t = &self.cfg.timing;
        let ms = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        NodeRecord {
            cluster: self.cfg.cluster.clone(),
            node: self.cfg.node.clone(),
            incarnation: self.cfg.incarnation,
            seq: self.io.seq + 1,
            state,
            epoch: self.lease.epoch,
            max_epoch: self.lease.max_epoch,
            maint_ack: self.seen.maint.as_ref().map_or(0, |m| m.token),
            period_ms: ms(t.period),
            renew_deadline_ms: ms(t.renew_deadline),
            takeover_ms: ms(t.takeover),
            kill_budget_ms: ms(t.kill_budget),
            preferred: self.cfg.preferred,
            wall_ms,
        }
    }

    pub(super) fn state_word(&self) -> NodeState {
        match (self.lease.role, self.claim.phase) {
            (Role::Active, _) => NodeState::Active,
            (Role::Claiming, Some(ClaimPhase::Activating)) => NodeState::Active,
            (Role::Claiming, _) => NodeState::Claiming,
            (Role::Stopping, _) => NodeState::Stopping,
            (Role::Standby, _) if self.lease.after_stop == AfterStop::Release => {
                NodeState::Released
            }
            (Role::Standby, _) => NodeState::Standby,
        }
    }

    /// Issues a write of our record in `state`, unless one is outstanding.
    pub(super) fn write(&mut self, state: NodeState, now: Time, out: &mut Vec<Action>) -> bool {
        if self.io.writing.is_some() {
            return false;
        }
        let rec = self.record(state, 0);
        self.io.seq += 1;
        self.io.writing = Some((rec.clone(), now));
        self.io.next_write = now + self.t.period;
        out.push(Action::Write(rec));
        true
    }

    /// Reads every record (peers', our own, the maintenance record) not already being read.
    pub(super) fn poll(&mut self, now: Time, out: &mut Vec<Action>) {
        let mut nodes: Vec<String> = self.seen.peers.keys().cloned().collect();
        nodes.push(self.cfg.node.clone());
        for node in nodes {
            if !self.io.node_reads.contains_key(&node) {
                self.io.node_reads.insert(node.clone(), now);
                out.push(Action::ReadNode(node));
            }
        }
        if !self.io.maint_read {
            self.io.maint_read = true;
            out.push(Action::ReadMaint);
        }
        self.io.next_poll = now + self.t.period;
    }

    pub(super) fn on_node_read(
        &mut self,
        node: &str,
        started: Time,
        ended: Time,
        result: Result<Vec<u8>, String>,
        out: &mut Vec<Action>,
    ) {
        self.io.node_reads.remove(node);
        let cluster = self.cfg.cluster.clone();
        let decode = |b: &[u8]| NodeRecord::decode(b, &cluster).ok();
        if node == self.cfg.node {
            match result {
                Ok(bytes) => {
                    let rec = decode(&bytes);
                    // Our own record remembers epochs a lost local state dir forgot.
                    if let Some(r) = &rec {
                        self.learn_epoch(r.epoch.max(r.max_epoch), out);
                    }
                    let takeover = self.t.takeover;
                    self.seen
                        .own
                        .read_ok(&bytes, rec.clone(), started, ended, takeover);
                    self.check_own(rec, started, ended, out);
                }
                Err(_) => self.seen.own.read_failed(),
            }
            return;
        }
        if !self.seen.peers.contains_key(node) {
            return;
        }
        match result {
            Ok(bytes) => {
                let rec = decode(&bytes).filter(|r| r.node == node);
                // The used part of a record intact under a damaged tail still tells the
                // peer's epoch and timing (its CRC covers them); nothing else is trusted.
                let head = rec.clone().or_else(|| {
                    decode(&bytes[..bytes.len().min(NODE_USED)]).filter(|r| r.node == node)
                });
                if let Some(r) = &head {
                    // Every epoch ever seen counts, so a record destroyed later cannot make
                    // a fencing token go backwards. A peer's own epoch is its claim; its
                    // max_epoch may only echo ours.
                    self.seen.peer_epoch = self.seen.peer_epoch.max(r.epoch);
                    self.learn_epoch(r.epoch.max(r.max_epoch), out);
                    self.seen.epoch_known.insert(node.to_string());
                    self.learn_timing(node, r, out);
                }
                let wait = self.wait_for(node);
                if let Some(obs) = self.seen.peers.get_mut(node) {
                    obs.read_ok(&bytes, rec, started, ended, wait);
                }
            }
            Err(_) => {
                if let Some(obs) = self.seen.peers.get_mut(node) {
                    obs.read_failed();
                }
            }
        }
        self.io.last_read.insert(node.to_string(), started);
    }

    /// How long `node`'s record must stay unchanged before it counts as dead: our takeover
    /// time, or longer when the peer's own renew deadline and kill budget need more (see
    /// [`Timing::takeover_needed`]).
    pub(super) fn wait_for(&self, node: &str) -> u64 {
        let theirs = self.seen.peer_wait.get(node).copied().unwrap_or(0);
        self.t.takeover.max(theirs)
    }

    /// Remembers the longest takeover wait `node`'s timing ever asked for, loudly when it is
    /// longer than ours: nodes should share one timing, and a mix must not be unsafe.
    fn learn_timing(&mut self, node: &str, r: &NodeRecord, out: &mut Vec<Action>) {
        let ms = |v: u32| Duration::from_millis(u64::from(v));
        let need = ns(Timing::takeover_needed(
            ms(r.renew_deadline_ms),
            ms(r.kill_budget_ms),
            ms(r.period_ms),
        ));
        let known = self.seen.peer_wait.get(node).copied().unwrap_or(0);
        if need <= known {
            return;
        }
        self.seen.peer_wait.insert(node.to_string(), need);
        let ours = self.t.takeover;
        if need > ours && need > known.max(ours) {
            out.push(Action::Alarm(format!(
                "{node} runs another timing (hb.renew_deadline_ms={} hb.kill_budget_ms={} \
                 hb.period_ms={}): taking over from it needs its record unchanged for {} ms, \
                 more than this node's hb.takeover_ms={} ms; waiting {} ms for it. Give every \
                 node the same timing",
                r.renew_deadline_ms,
                r.kill_budget_ms,
                r.period_ms,
                need / 1_000_000,
                ours / 1_000_000,
                need / 1_000_000
            )));
        }
    }

    /// Every epoch ever seen is persisted locally, so that after a restart this node never
    /// claims an epoch at or below one it knew, even if every record that held it is gone.
    fn learn_epoch(&mut self, epoch: u64, out: &mut Vec<Action>) {
        if epoch > self.lease.max_epoch {
            self.lease.max_epoch = epoch;
            out.push(Action::PersistEpoch(epoch));
        }
    }

    /// Our own record must be what we last wrote (or are writing): anything else means a
    /// second writer or a rolled-back storage, and an active node must stop at once.
    fn check_own(
        &mut self,
        rec: Option<NodeRecord>,
        started: Time,
        ended: Time,
        out: &mut Vec<Action>,
    ) {
        let Some(rec) = rec else { return };
        // The read must show the newest write of ours acknowledged before it started, or a
        // newer one of ours.
        let acked_before = self.io.acks.iter().rev().find(|(end, _)| *end <= started);
        let Some(&(_, seq)) = acked_before else {
            return;
        };
        let takeover = self.t.takeover;
        if rec.incarnation == self.cfg.incarnation && rec.seq >= seq {
            // Claims resume once our record has shown only our own writes for a whole
            // takeover time: a live second writer would have overwritten it by then.
            if let Some(seen) = self.seen.foreign_writer
                && started.saturating_sub(seen) >= takeover
            {
                self.seen.foreign_writer = None;
                out.push(Action::Alarm(format!(
                    "no other writer in our record {} for {} ms: claiming is allowed again",
                    self.cfg.node,
                    takeover / 1_000_000
                )));
            }
            return;
        }
        if self.seen.foreign_writer.is_none() {
            out.push(Action::Alarm(format!(
                "our record {} holds incarnation {:x} seq {} after we wrote seq {seq}: another \
                 writer or a storage rollback; not claiming until it has been gone for {} ms",
                self.cfg.node,
                rec.incarnation,
                rec.seq,
                takeover / 1_000_000
            )));
        }
        self.seen.foreign_writer = Some(ended);
        if matches!(self.lease.role, Role::Active | Role::Claiming) {
            self.stop_app("own record overwritten".into(), AfterStop::Standby, out);
        }
    }

    pub(super) fn on_maint_read(
        &mut self,
        result: Result<Option<MaintRecord>, String>,
        now: Time,
        out: &mut Vec<Action>,
    ) {
        self.io.maint_read = false;
        let seen = &mut self.seen;
        match result {
            Ok(Some(m)) => {
                let was = seen
                    .maint
                    .as_ref()
                    .map_or(MaintMode::Freeze, |m| m.mode.clone());
                let was_bad = seen.maint_bad;
                let token_changed = seen.maint.as_ref().is_none_or(|old| old.token != m.token);
                if seen.maint_bad {
                    out.push(Action::Alarm("maintenance record readable again".into()));
                }
                seen.maint_bad = false;
                // Leaving maintenance, or an unreadable record (which counts as FREEZE)
                // readable again: time that passed while frozen must not count.
                if m.mode == MaintMode::Off && (was_bad || token_changed && was != MaintMode::Off) {
                    for o in seen.peers.values_mut() {
                        o.restart_window(now);
                    }
                }
                seen.switchover = SwitchoverWatch::follow(seen.switchover, &m, now);
                seen.maint = Some(m);
            }
            Ok(None) => {
                if !seen.maint_bad {
                    out.push(Action::Alarm(
                        "maintenance record corrupt: behaving as FREEZE".into(),
                    ));
                }
                seen.maint_bad = true;
            }
            Err(e) => {
                if !seen.maint_bad {
                    out.push(Action::Alarm(format!(
                        "maintenance record unreadable ({e}): behaving as FREEZE"
                    )));
                }
                seen.maint_bad = true;
            }
        }
    }

    pub(super) fn on_written(
        &mut self,
        now: Time,
        started: Time,
        ended: Time,
        ok: bool,
        out: &mut Vec<Action>,
    ) {
        let Some((rec, _)) = self.io.writing.take() else {
            return;
        };
        self.io.last_write_ok = ok;
        if ok {
            if self.io.acks.len() == 16 {
                self.io.acks.pop_front();
            }
            self.io.acks.push_back((ended, rec.seq));
        }
        let in_time = |deadline: Option<Time>| deadline.is_some_and(|d| ended < d);
        // A successful write renews the lease until its start plus the renew deadline.
        let renewed_until = started + self.t.renew_deadline;
        match (self.lease.role, self.claim.phase) {
            (Role::Claiming, Some(ClaimPhase::Writing)) => {
                if ok && ended < started + self.t.io_timeout {
                    self.lease.deadline = Some(renewed_until);
                    self.claim.phase = Some(ClaimPhase::Reading { after: ended });
                } else {
                    self.abort_claim("claim write failed or was late", now, out);
                }
            }
            (Role::Claiming, Some(ClaimPhase::Activating)) => {
                // Learning of the write late (a paused daemon) must not start the
                // application with its lease nearly or already over.
                let time_left = now + self.t.io_timeout < renewed_until;
                if ok && in_time(self.lease.deadline) && time_left {
                    self.lease.deadline = Some(renewed_until);
                    self.lease.role = Role::Active;
                    self.claim.phase = None;
                    self.lease.app = Some(self.lease.epoch);
                    out.push(Action::StartApp {
                        epoch: self.lease.epoch,
                    });
                } else {
                    self.abort_claim("activation write failed or was late", now, out);
                }
            }
            // No resurrection: a write that ends after the deadline extends nothing.
            (Role::Active, _)
                if ok && rec.state == NodeState::Active && in_time(self.lease.deadline) =>
            {
                self.lease.deadline = Some(renewed_until);
            }
            _ => {}
        }
    }
}
