//! The daemon's start sequence in the simulation (docs/heartbeat.md, "The daemon").
//!
//! A START reaches the daemon when the tick returns; the daemon then checks the lease at
//! that instant, makes sure its fencing guard runs, forks the application's group held at
//! its gate, hands the group and the lease's absolute deadline to the guard, checks the
//! lease again and only then opens the gate. The same sequence serves a start deferred for
//! lack of lease and a local restart after the application died on its own. No tick runs
//! while the sequence runs (the daemon is one loop).
//!
//! Each step takes a little time, and with daemon faults on, the daemon may be paused
//! (SIGSTOP, a VM freeze) at every step boundary, and its guard may fail to start or to
//! take a group over. A group held at its gate is not the application: only an opened gate
//! starts a term for the overlap checker, and a group the guard killed cannot be opened.
//! These decisions draw from their own random stream, so they never shift the rest of the
//! schedule; with daemon faults off, the sequence takes no time and replays schedules made
//! before it was modelled.

use super::{MS, Sim, SimEvent};
use crate::heartbeat::core::{Event, Role};

/// Where a start sequence is: the next thing the daemon does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Step {
    /// Check the lease and the guard, then fork the gated group.
    Fork,
    /// Hand the gated group and the lease deadline to the guard.
    HandOff,
    /// Check the lease again.
    Check,
    /// Open the gate: the application runs.
    Go,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Start {
    pub(super) epoch: u64,
    pub(super) step: Step,
    /// The lease deadline the sequence runs under (the node's clock).
    pub(super) deadline: u64,
    /// Names the one step event that counts: a resumed daemon schedules its step afresh.
    pub(super) token: u64,
}

impl Sim {
    /// The daemon acts on a START (or retries a deferred one, or restarts locally).
    pub(super) fn begin_start(&mut self, i: usize, epoch: u64) {
        let node = &mut self.nodes[i];
        node.pending_start = None;
        node.start = Some(Start {
            epoch,
            step: Step::Fork,
            deadline: 0,
            token: 0,
        });
        let name = node.name.clone();
        self.note(|| format!("{name}: daemon begins starting the application, epoch {epoch}"));
        self.next_step(i);
    }

    /// Schedules the sequence's next step after the step's own time, and maybe a pause of
    /// the daemon at this boundary.
    fn next_step(&mut self, i: usize) {
        if !self.daemon_faults {
            let token = self.nodes[i].start.map_or(0, |s| s.token);
            return self.daemon_step(i, token);
        }
        if self.now < self.fault_end && self.drng.chance(100) {
            let d = Self::ns(self.effective_timing().takeover);
            let dur = if self.drng.chance(500) {
                self.drng.range(MS, d / 2)
            } else {
                self.drng.range(d, 2 * d)
            };
            let node = &mut self.nodes[i];
            let step = node.start.map(|s| s.step);
            node.paused_until = node.paused_until.max(self.now + dur);
            let (name, at) = (node.name.clone(), node.paused_until);
            self.note(|| format!("{name}: daemon paused for {} ms before {step:?}", dur / MS));
            self.push(at, SimEvent::Resume(i));
        }
        let at = self.now + self.drng.below(2 * MS);
        self.schedule_step(i, at);
    }

    /// The step runs at `at`, or when the daemon runs again; an earlier event is void.
    pub(super) fn schedule_step(&mut self, i: usize, at: u64) {
        let node = &mut self.nodes[i];
        let Some(start) = node.start.as_mut() else {
            return;
        };
        start.token += 1;
        let (inc, token) = (node.inc, start.token);
        let at = at.max(node.paused_until);
        self.push(at, SimEvent::DaemonStep(i, inc, token));
    }

    /// One step of the start sequence, when the daemon runs.
    pub(super) fn daemon_step(&mut self, i: usize, token: u64) {
        let Some(start) = self.nodes[i].start else {
            return;
        };
        if start.token != token {
            return;
        }
        if self.paused(i) {
            return self.schedule_step(i, self.now);
        }
        match start.step {
            Step::Fork => {
                let Some(deadline) = self.lease_for_start(i) else {
                    return self.defer_start(i, "the lease does not allow it");
                };
                if self.nodes[i].guard_broken {
                    return self.refuse_start(i, "there is no guard to fence it");
                }
                self.set_start(i, |s| {
                    s.deadline = deadline;
                    s.step = Step::HandOff;
                });
            }
            Step::HandOff => {
                if self.nodes[i].guard_broken {
                    if self.lease_for_start(i).is_none() {
                        return self.defer_start(i, "the lease ran out during its start");
                    }
                    return self.refuse_start(i, "the guard did not take it over");
                }
                // From here the guard kills the gated group (and the application it becomes)
                // at this absolute deadline, whatever the daemon does.
                let node = &mut self.nodes[i];
                node.guard_deadline = Some(node.clock.global(start.deadline));
                self.set_start(i, |s| s.step = Step::Check);
            }
            Step::Check => {
                let local = self.nodes[i].clock.local(self.now);
                let margin = Self::ns(self.nodes[i].timing.io_timeout);
                if local + margin >= start.deadline {
                    return self.defer_start(i, "the lease ran out during its start");
                }
                self.set_start(i, |s| s.step = Step::Go);
            }
            Step::Go => return self.open_gate(i, start.epoch),
        }
        self.next_step(i);
    }

    /// The daemon writes `go` to the gate. A guard past its deadline has killed the group or
    /// kills it within the kill budget: the application then ends by that kill, or never
    /// ran (the gate is gone: the start fails and the node hands over).
    fn open_gate(&mut self, i: usize, epoch: u64) {
        self.nodes[i].start = None;
        let k = Self::ns(self.nodes[i].timing.kill_budget) * self.kill_factor;
        let kill_at = self.nodes[i]
            .guard_deadline
            .filter(|d| *d <= self.now)
            .map(|d| d + self.drng.below(k));
        if kill_at.is_some_and(|at| at <= self.now) {
            return self.refuse_start(i, "cannot open its gate: the guard killed the group");
        }
        self.start_app(i, epoch);
        let node = &mut self.nodes[i];
        let inc = node.inc;
        if let (Some(at), Some(term)) = (kill_at, node.app) {
            node.killing = true;
            let name = node.name.clone();
            self.note(|| format!("{name}: fencing guard kills the application"));
            self.push(at, SimEvent::AppGone(i, inc, term));
        } else if let Some(deadline) = node.guard_deadline
            && node.guard_armed != Some(deadline)
        {
            node.guard_armed = Some(deadline);
            self.push(deadline.max(self.now), SimEvent::Guard(i, inc));
        }
        self.end_sequence(i);
    }

    fn set_start(&mut self, i: usize, f: impl FnOnce(&mut Start)) {
        if let Some(s) = self.nodes[i].start.as_mut() {
            f(s);
        }
    }

    /// The lease deadline under which this node may start now: active, with the I/O
    /// timeout's margin left before the deadline.
    fn lease_for_start(&self, i: usize) -> Option<u64> {
        let node = &self.nodes[i];
        let core = node.core.as_ref()?;
        if core.role() != Role::Active {
            return None;
        }
        let deadline = core.deadline()?;
        let local = node.clock.local(self.now);
        (local + Self::ns(node.timing.io_timeout) < deadline).then_some(deadline)
    }

    /// Not now: the gated group (if any) is killed, the start waits for the next renewal.
    fn defer_start(&mut self, i: usize, why: &str) {
        let node = &mut self.nodes[i];
        let epoch = node.start.take().map_or(0, |s| s.epoch);
        node.pending_start = Some(epoch);
        let name = node.name.clone();
        self.note(|| format!("{name}: not starting the application now: {why}"));
        self.end_sequence(i);
    }

    /// Never without a guard: the node hands over.
    fn refuse_start(&mut self, i: usize, why: &str) {
        self.nodes[i].start = None;
        let name = self.nodes[i].name.clone();
        self.note(|| format!("{name}: not starting the application: {why}; handing over"));
        self.end_sequence(i);
        self.report(i, Event::AppFailed(why.to_string()));
    }

    /// The loop goes on: a tick that came due during the sequence runs now. (Without daemon
    /// faults the sequence runs inside the tick's return, which schedules the next tick.)
    fn end_sequence(&mut self, i: usize) {
        if !self.daemon_faults {
            return;
        }
        let node = &mut self.nodes[i];
        if node.tick_at <= self.now || node.tick_at == u64::MAX {
            node.tick_at = self.now;
            let inc = node.inc;
            self.push(self.now, SimEvent::Tick(i, inc));
        }
    }

    /// After each tick: a death noticed meanwhile is handled, else a deferred start is
    /// tried again while the node is active and nothing runs.
    pub(super) fn retry_start(&mut self, i: usize) {
        if let Some(epoch) = self.nodes[i].died.take() {
            return self.app_died(i, epoch);
        }
        let node = &self.nodes[i];
        let active = node.core.as_ref().is_some_and(|c| c.role() == Role::Active);
        if let Some(epoch) = node.pending_start
            && node.start.is_none()
            && node.app.is_none()
            && active
        {
            self.begin_start(i, epoch);
        }
    }

    /// The application died on its own: the daemon restarts it once through the same
    /// sequence while the node is active, else reports it failed (the node hands over).
    pub(super) fn app_died(&mut self, i: usize, epoch: u64) {
        let node = &mut self.nodes[i];
        if self.now < node.paused_until || node.call.is_some() || node.start.is_some() {
            // The daemon's loop notices the death when it gets there (after the tick).
            node.died = Some(epoch);
            return;
        }
        let active = node.core.as_ref().is_some_and(|c| c.role() == Role::Active);
        if active && node.restarts < 1 {
            node.restarts += 1;
            if let Some(t) = self
                .terms
                .iter_mut()
                .rev()
                .find(|t| t.node == i && t.epoch == epoch)
            {
                t.restarted = true;
            }
            let node = &mut self.nodes[i];
            let epoch = node.core.as_ref().map_or(epoch, |c| c.epoch());
            let name = node.name.clone();
            self.note(|| format!("{name}: the application died; local restart"));
            self.begin_start(i, epoch);
        } else if active {
            self.report(i, Event::AppFailed("the application died".into()));
        } else {
            self.report(i, Event::AppStopped { epoch });
        }
    }

    /// Faults of the daemon's own making, beside those of `Sim::fault`: its guard stops
    /// working (or works again), or an application dies on its own.
    pub(super) fn daemon_fault(&mut self) {
        let i = self.drng.below(self.nodes.len() as u64) as usize;
        let name = self.nodes[i].name.clone();
        match self.drng.below(16) {
            0 => {
                let broken = !self.nodes[i].guard_broken;
                self.nodes[i].guard_broken = broken;
                self.note(|| format!("{name}: fencing guard broken: {broken}"));
            }
            1 => {
                let node = &self.nodes[i];
                if let Some(term) = node.app
                    && !node.killing
                {
                    let inc = node.inc;
                    self.note(|| format!("{name}: the application dies on its own"));
                    self.push(self.now, SimEvent::AppGone(i, inc, term));
                }
            }
            _ => {}
        }
    }
}
