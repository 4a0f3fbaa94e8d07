//! The guard's hand-over in the simulation (docs/heartbeat.md, "The guard's hand-over").
//!
//! When a daemon crashes and its guard survives (half of the daemon crashes, with daemon
//! faults on; never while its host is suspended or its guard is broken), the guard knows the
//! term the daemon held (its epoch and incarnation, when it was not a standby) and goes
//! through the real steps: it waits until the daemon is wholly gone (no write of the crashed
//! run still in flight, within K), takes the node's run lock (given up when a restarted daemon
//! holds it already), waits until the application is gone (within K), reads its own record
//! and every peer's through the node's link, asks the real `handover::decide` and writes what
//! it answers. Before each of those steps, and between its reads and its write, the guard may
//! die (SIGKILL, the OOM killer) with probability 1/10. Its write is slow, lost or landing
//! late like any write while faults last, and a hung link keeps the guard, and with it the
//! lock, until it heals. A restarted daemon waits for the lock, as `run.lock` makes it; it
//! is restarted before the guard takes the lock, while it hands over, or later.
//!
//! A node crashing with its guard is the lost node: nothing is handed over, and the
//! peers wait out the lease. The independent checker is the same as for every schedule.

use super::{Link, MS, Sim, SimEvent};
use crate::heartbeat::core::Role;
use crate::heartbeat::handover::{HeldTerm, Read, decide};
use crate::heartbeat::record::NodeRecord;

/// Where a guard's hand-over is: its next step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Step {
    /// Wait until the daemon is gone, then take the run lock.
    Lock,
    /// Wait until the application's group is empty.
    GroupGone,
    /// Read the records, decide, write.
    Release,
}

#[derive(Clone, Debug)]
pub(super) struct HandOver {
    /// The crashed run's incarnation counter (events name it).
    pub(super) inc: u64,
    pub(super) term: HeldTerm,
    pub(super) crashed_at: u64,
    pub(super) step: Step,
    /// A read was submitted while the link hung: it fails when the link heals.
    pub(super) stuck: bool,
}

impl Sim {
    /// A fault of the daemon's own making, beside `Sim::fault`'s crashes: now and then the
    /// daemon of a node that holds a term crashes (a bug, the OOM killer, `kill -9`) while its
    /// host and guard live on, and comes back (as systemd or an operator restarts it) at any
    /// moment of the hand-over, or after it.
    pub(super) fn crash_fault(&mut self) {
        if !self.drng.chance(40) {
            return;
        }
        let i = self.drng.below(self.nodes.len() as u64) as usize;
        let node = &self.nodes[i];
        let holds = node
            .core
            .as_ref()
            .is_some_and(|c| c.role() != Role::Standby);
        if !holds || node.guard_broken || self.now < node.suspended_until {
            return;
        }
        let guard = self.guard_survives(i);
        self.crash(i);
        if let Some(h) = guard {
            self.begin_hand_over(i, h);
        }
        // Restarted before the guard takes the lock, while it hands over, or later.
        let d = Self::ns(self.effective_timing().takeover);
        let after = match self.drng.below(3) {
            0 => self.drng.range(MS / 10, 3 * MS),
            1 => self.drng.range(MS, 20 * MS),
            _ => self.drng.range(MS / 10, d),
        };
        self.push(self.now + after, SimEvent::Boot(i));
    }

    /// The daemon of node `i` is about to crash: with a surviving guard, the term the guard
    /// will hand over, if it was told one.
    pub(super) fn guard_survives(&mut self, i: usize) -> Option<HandOver> {
        let node = &self.nodes[i];
        let surviving = self.daemon_faults
            && !node.guard_broken
            && self.now >= node.suspended_until
            && self.drng.chance(500);
        let core = node.core.as_ref()?;
        if !surviving || core.role() == Role::Standby {
            return None;
        }
        Some(HandOver {
            inc: node.inc,
            term: HeldTerm {
                epoch: core.epoch(),
                incarnation: node.incarnation,
            },
            crashed_at: self.now,
            step: Step::Lock,
            stuck: false,
        })
    }

    /// Starts the hand-over `h` of node `i`'s guard (its pipe just closed).
    pub(super) fn begin_hand_over(&mut self, i: usize, h: HandOver) {
        let (name, epoch, inc) = (self.nodes[i].name.clone(), h.term.epoch, h.inc);
        self.note(|| format!("{name}: its guard survives and hands epoch {epoch} over"));
        self.nodes[i].handover = Some(h);
        let at = self.now + self.drng.below(2 * MS);
        if !self.guard_dies(i) {
            self.push(at, SimEvent::HandOver(i, inc));
        }
    }

    /// At a step boundary the guard may die (SIGKILL, the OOM killer): 1 in 10. True when it
    /// did; its hand-over ends there.
    fn guard_dies(&mut self, i: usize) -> bool {
        if !self.drng.chance(100) {
            return false;
        }
        self.end_hand_over(i, "the guard dies", self.now);
        true
    }

    /// One step of node `i`'s guard hand-over for the crashed run `inc`.
    pub(super) fn hand_over_step(&mut self, i: usize, inc: u64) {
        let Some(h) = self.nodes[i].handover.clone().filter(|h| h.inc == inc) else {
            return;
        };
        let k = Self::ns(self.nodes[i].timing.kill_budget);
        match h.step {
            Step::Lock => {
                if self.nodes[i].core.is_some() {
                    return self.end_hand_over(i, "a restarted daemon holds the lock", 0);
                }
                // The daemon is gone only when its last write has returned.
                if self.nodes[i].in_flight.iter().any(|io| io.write.is_some()) {
                    if self.now >= h.crashed_at + k {
                        return self.end_hand_over(i, "the daemon is not gone within K", 0);
                    }
                    return self.push(self.now + MS, SimEvent::HandOver(i, inc));
                }
                self.nodes[i].run_lock_until = u64::MAX;
                self.hand_over_next(i, Step::GroupGone, self.now);
            }
            Step::GroupGone => {
                let left = self
                    .terms
                    .iter()
                    .filter(|t| t.node == i)
                    .filter_map(|t| match t.end {
                        None => Some(u64::MAX),
                        Some(e) if e > self.now => Some(e),
                        _ => None,
                    })
                    .max();
                match left {
                    None => self.hand_over_next(i, Step::Release, self.now + MS / 10),
                    Some(_) if self.now >= h.crashed_at + 2 * k => {
                        self.end_hand_over(i, "the group is not empty within K", self.now)
                    }
                    Some(e) => self.push(e.min(self.now + MS), SimEvent::HandOver(i, inc)),
                }
            }
            Step::Release => self.release_step(i, inc, h),
        }
    }

    fn hand_over_next(&mut self, i: usize, step: Step, at: u64) {
        if self.guard_dies(i) {
            return;
        }
        let inc = match self.nodes[i].handover.as_mut() {
            Some(h) => {
                h.step = step;
                h.inc
            }
            None => return,
        };
        self.push(at, SimEvent::HandOver(i, inc));
    }

    /// Reads every record over the node's link, decides, and writes RELEASED when allowed.
    fn release_step(&mut self, i: usize, inc: u64, h: HandOver) {
        let tio = Self::ns(self.nodes[i].timing.io_timeout);
        match self.nodes[i].link {
            Link::Hang => {
                // Blocked in a read until the link heals; the lock stays held.
                if let Some(h) = self.nodes[i].handover.as_mut() {
                    h.stuck = true;
                }
                let p = Self::ns(self.nodes[i].timing.period);
                return self.push(self.now + p, SimEvent::HandOver(i, inc));
            }
            Link::Fail(e) => return self.end_hand_over(i, e, self.now),
            Link::Healthy if h.stuck => {
                return self.end_hand_over(i, "its read failed when storage came back", self.now);
            }
            Link::Healthy => {}
        }
        let read = |sim: &Sim, name: &str| -> Read {
            NodeRecord::decode(&sim.content_at(name, sim.now), &sim.cluster)
                .map_err(|e| format!("{e:?}"))
        };
        let own_name = self.nodes[i].name.clone();
        let own = read(self, &own_name);
        let peers: Vec<(String, Read)> = (0..self.nodes.len())
            .filter(|&k| k != i)
            .map(|k| {
                let n = self.nodes[k].name.clone();
                let r = read(self, &n);
                (n, r)
            })
            .collect();
        let rec = match decide(&h.term, &own, &peers) {
            Ok(rec) => rec,
            Err(why) => {
                let name = own_name.clone();
                self.note(|| format!("{name}: its guard hands nothing over: {why}"));
                return self.end_hand_over(i, "refused", self.now);
            }
        };
        if self.guard_dies(i) {
            return;
        }
        // Like any write while faults last: now and then slow, lost or landing late.
        let faulty = self.now < self.fault_end;
        let dur = if faulty && self.drng.chance(50) {
            self.drng.range(tio, 3 * tio)
        } else {
            self.drng.range(MS / 10, tio)
        };
        let lost = faulty && self.drng.chance(30);
        if !lost {
            let land = self.now + self.drng.below(dur);
            let bytes = rec.encode();
            self.push(
                land,
                SimEvent::Land {
                    file: own_name.clone(),
                    bytes,
                },
            );
        }
        let epoch = rec.epoch;
        self.note(|| format!("{own_name}: its guard writes RELEASED with epoch {epoch}"));
        self.end_hand_over(i, "done", self.now + dur);
    }

    /// The hand-over of node `i` ends; its guard lets go of the run lock at `unlock` (0: it
    /// never held it; a write still in flight keeps it until it returns).
    fn end_hand_over(&mut self, i: usize, why: &str, unlock: u64) {
        let node = &mut self.nodes[i];
        if node.handover.take().is_none() {
            return;
        }
        if node.run_lock_until == u64::MAX {
            node.run_lock_until = unlock;
        }
        let name = node.name.clone();
        let why = why.to_string();
        self.note(|| format!("{name}: its guard's hand-over ends ({why})"));
    }
}
