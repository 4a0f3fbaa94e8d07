//! The file backend's node: the [`Core`] wired to the [`Store`] (through the deadline-bound
//! I/O pool), the boot clock and the local epoch file, behind [`Node`](super::node::Node).
//! `tick` never blocks longer than the I/O timeout. Settings live in
//! [`settings`](super::settings), the epoch file in [`epoch`](super::epoch), the operator's
//! commands in [`admin`](super::admin), what is kept about a stopping application (shared
//! with the etcd backend) in [`stop`](super::stop).

use std::collections::HashSet;
use std::fs;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::heartbeat::admin::{Admin, wall_ms};
use crate::heartbeat::clock::boottime;
use crate::heartbeat::core::{Action, Core, CoreConfig, Event, Role};
use crate::heartbeat::epoch::EpochFile;
use crate::heartbeat::io::{Completion, IoPool, Op, OpKind};
use crate::heartbeat::node::{NodeView, TickAction, TickResult};
use crate::heartbeat::observe::{Liveness, Time};
use crate::heartbeat::record::{MaintMode, MaintRecord};
use crate::heartbeat::settings::{NodeError, NodeSettings};
use crate::heartbeat::stop::StopTracking;
use crate::heartbeat::store::Store;

/// A timer of the core due within this is waited for inside the tick (never past the I/O
/// timeout). Callers sleep whole milliseconds (`Node::next_tick_ms`), and the lease's end is
/// rounded down there: one less than a millisecond away would be 0, a call again at once,
/// and again, until it passes. A timer this near costs a caller a call of its own for
/// nothing, too.
const NEAR: Duration = Duration::from_millis(2);

/// The file backend behind [`Node`](super::node::Node): its `pub(crate)` methods are
/// `Node`'s, documented there.
pub(crate) struct FileNode {
    settings: NodeSettings,
    core: Core,
    pool: IoPool,
    /// The operator's commands, on a pool of their own so that their completions never
    /// mix with the tick's.
    admin: Admin,
    epoch_file: EpochFile,
    /// The application told to stop, until the caller reports it gone or the kill budget
    /// ends.
    stop: StopTracking,
    /// Operations submitted since the current tick began: the tick waits for these (at most
    /// the I/O timeout), never for one a hung file left from an earlier tick.
    awaited: HashSet<u64>,
    /// How long the last successful write of this node's record took (for metrics).
    last_write: Option<Duration>,
}

impl FileNode {
    /// A node on `store`, with `incarnation` telling this run's writes from others'.
    pub(crate) fn new(
        settings: NodeSettings,
        store: Arc<dyn Store>,
        incarnation: u64,
    ) -> Result<FileNode, NodeError> {
        let state = |e| NodeError::State(settings.state_dir.clone(), e);
        fs::create_dir_all(&settings.state_dir).map_err(state)?;
        let epoch_file = EpochFile::new(&settings.state_dir);
        let persisted_epoch = epoch_file.load().map_err(state)?;
        let cfg = CoreConfig {
            cluster: settings.cluster.clone(),
            node: settings.node.clone(),
            nodes: settings.nodes.clone(),
            preferred: settings.preferred,
            timing: settings.timing,
            incarnation,
            persisted_epoch,
        };
        let core = Core::new(cfg, boottime());
        Ok(FileNode {
            admin: Admin::new(store.clone(), &settings),
            pool: IoPool::new(store),
            core,
            epoch_file,
            stop: StopTracking::default(),
            awaited: HashSet::new(),
            settings,
            last_write: None,
        })
    }

    pub(crate) fn role(&self) -> Role {
        self.core.role()
    }

    /// The epoch of the current (or last) term.
    pub(crate) fn epoch(&self) -> u64 {
        self.core.epoch()
    }

    pub(crate) fn last_write(&self) -> Option<Duration> {
        self.last_write
    }

    fn feed(&mut self, c: Completion, result: &mut TickResult) {
        // Taken on CLOCK_BOOTTIME by the I/O worker: the clock of the lease itself.
        let (started, ended) = (c.started, c.ended);
        let event = match c.op_kind {
            OpKind::ReadNode(node) => Event::NodeRead {
                node,
                started,
                ended,
                result: c.result.map_err(|e| e.to_string()),
            },
            OpKind::WriteNode(_) => {
                if c.result.is_ok() {
                    self.last_write = Some(Duration::from_nanos(ended.saturating_sub(started)));
                }
                Event::Written {
                    started,
                    ended,
                    ok: c.result.is_ok(),
                }
            }
            OpKind::ReadMaint => {
                let cluster = &self.settings.cluster;
                let result = c
                    .result
                    .map(|b| MaintRecord::decode(&b, cluster).ok())
                    .map_err(|e| e.to_string());
                Event::MaintRead {
                    started,
                    ended,
                    result,
                }
            }
            OpKind::WriteMaint | OpKind::InitNode(_) | OpKind::InitMaint => return,
        };
        self.handle(event, result);
    }

    fn handle(&mut self, event: Event, result: &mut TickResult) {
        let actions = self.core.handle(boottime(), event);
        let mut persist_failed = false;
        for action in actions {
            match action {
                Action::ReadNode(n) => {
                    if !self.submit(Op::ReadNode(n.clone())) {
                        let now = boottime();
                        let err = Err("a read of this file is still outstanding".to_string());
                        let ev = Event::NodeRead {
                            node: n,
                            started: now,
                            ended: now,
                            result: err,
                        };
                        self.handle(ev, result);
                    }
                }
                Action::ReadMaint => {
                    if !self.submit(Op::ReadMaint) {
                        let now = boottime();
                        let err = Err(
                            "a read of the maintenance record is still outstanding".to_string()
                        );
                        self.handle(
                            Event::MaintRead {
                                started: now,
                                ended: now,
                                result: err,
                            },
                            result,
                        );
                    }
                }
                Action::PersistEpoch(e) => {
                    if let Err(err) = self.epoch_file.store(e) {
                        persist_failed = true;
                        let msg = format!(
                            "cannot persist epoch {e} in {}: {err}",
                            self.settings.state_dir.display()
                        );
                        log::error!("hamon heartbeat: {msg}");
                        result.alarms.push(msg);
                    }
                }
                Action::Write(mut rec) => {
                    let node = self.settings.node.clone();
                    rec.wall_ms = wall_ms();
                    // An epoch that is not on local disk must not reach the shared one.
                    if persist_failed || !self.submit(Op::WriteNode(node, rec.encode())) {
                        let now = boottime();
                        self.handle(
                            Event::Written {
                                started: now,
                                ended: now,
                                ok: false,
                            },
                            result,
                        );
                    }
                }
                Action::StartApp { .. } => result.action = TickAction::Start,
                Action::StopApp { reason, fence } => {
                    let epoch = self.core.app_epoch().unwrap_or(self.core.epoch());
                    self.stop.decided(result, &reason, fence, Some(epoch));
                }
                Action::Alarm(msg) => {
                    log::warn!("hamon heartbeat: {msg}");
                    result.alarms.push(msg);
                }
            }
        }
    }

    pub(crate) fn tick(&mut self) -> TickResult {
        self.step(None)
    }

    /// A tick that first hands `event` to the core, so nothing decided before it (a START,
    /// say) reaches the caller after the event changed the picture.
    fn step(&mut self, event: Option<Event>) -> TickResult {
        let mut result = TickResult {
            role: self.core.role(),
            action: TickAction::None,
            epoch: self.core.epoch(),
            deadline_left: None,
            maint: MaintMode::Off,
            maint_ok: true,
            alarms: Vec::new(),
        };
        let until = boottime() + self.settings.timing.io_timeout.as_nanos() as u64;
        // A renewal returns the call at once: a caller with a guard must learn the new
        // deadline now, not when slow reads of this tick end (or the guard kills at the old).
        let deadline = self.core.deadline();
        self.awaited.clear();
        if let Some(event) = event {
            self.handle(event, &mut result);
        }
        // An application told to stop is taken as gone after the kill budget unless the
        // caller confirmed it sooner (`app_stopped`).
        if let Some(epoch) = self
            .stop
            .overdue(boottime(), self.settings.timing.kill_budget)
        {
            self.handle(Event::AppStopped { epoch }, &mut result);
        }
        self.handle(Event::Tick, &mut result);
        // Completions already queued are taken at once; only this tick's own operations
        // are waited for, and the core's timers (the lease deadline above all, the claim's
        // pause, polls) fire on time while waiting: a FENCE (or a START, or a STOP) goes to
        // the caller as soon as the core decides it, not when slow storage answers.
        loop {
            if result.must_act() || self.core.deadline() != deadline {
                break;
            }
            let now = boottime();
            if self.awaited.is_empty() {
                // Nothing of ours outstanding: take what is queued, then return; but a timer
                // due sooner than a caller can sleep (whole milliseconds) is waited for here,
                // or the caller would call again and again until it is due.
                let due = self.core.next_wakeup();
                let near = due > now && due - now < NEAR.as_nanos() as u64 && due <= until;
                let wait = if near {
                    Duration::from_nanos(due - now)
                } else {
                    Duration::ZERO
                };
                match self.pool.next(Instant::now() + wait) {
                    Some(c) => {
                        self.feed(c, &mut result);
                        continue;
                    }
                    None if near => {
                        self.handle(Event::Tick, &mut result);
                        continue;
                    }
                    None => break,
                }
            }
            if now >= until {
                break;
            }
            let stop_at = until.min(self.core.next_wakeup().max(now));
            let wait_until = Instant::now() + Duration::from_nanos(stop_at.saturating_sub(now));
            if let Some(c) = self.pool.next(wait_until) {
                self.awaited.remove(&c.id);
                self.feed(c, &mut result);
                continue;
            }
            if boottime() >= self.core.next_wakeup() {
                // A timer of the core is due (the lease deadline, the claim's pause, a poll).
                self.handle(Event::Tick, &mut result);
                if self.core.next_wakeup() <= boottime() {
                    // Nothing moved it: do not spin, the next tick comes soon.
                    break;
                }
            }
        }
        let now = boottime();
        let status = self.core.status(now);
        result.role = status.role;
        result.epoch = status.epoch;
        result.deadline_left = status.deadline_left.map(Duration::from_nanos);
        result.maint = status.maint;
        result.maint_ok = status.maint_ok;
        let active = status.role == Role::Active;
        self.stop
            .finish(&mut result, now, active, status.app_running);
        result
    }

    pub(crate) fn flush(&mut self) -> TickResult {
        let mut result = self.tick();
        let until = Instant::now() + self.settings.timing.io_timeout;
        let own = OpKind::WriteNode(self.settings.node.clone());
        while self.pool.busy(&own) {
            match self.pool.next(until) {
                Some(c) => self.feed(c, &mut result),
                None => break,
            }
        }
        result.role = self.core.role();
        result
    }

    /// Submits `op`; false when one of its kind on the same file is still outstanding.
    fn submit(&mut self, op: Op) -> bool {
        match self.pool.submit(op) {
            Some(id) => {
                self.awaited.insert(id);
                true
            }
            None => false,
        }
    }

    pub(crate) fn next_tick_in(&self) -> Duration {
        let now = boottime();
        let half = self.settings.timing.period / 2;
        Duration::from_nanos(self.core.next_wakeup().saturating_sub(now)).min(half)
    }

    pub(crate) fn app_stopped(&mut self) -> TickResult {
        let epoch = self
            .stop
            .unconfirmed()
            .or(self.core.app_epoch())
            .unwrap_or(self.core.epoch());
        self.app_stopped_epoch(epoch)
    }

    pub(crate) fn app_stopped_epoch(&mut self, epoch: u64) -> TickResult {
        self.stop.stopped(epoch);
        self.event(Event::AppStopped { epoch })
    }

    pub(crate) fn app_failed(&mut self, why: &str) -> TickResult {
        self.event(Event::AppFailed(why.to_string()))
    }

    pub(crate) fn release(&mut self) -> TickResult {
        self.event(Event::Release)
    }

    fn event(&mut self, event: Event) -> TickResult {
        self.step(Some(event))
    }

    pub(crate) fn status(&self) -> Vec<NodeView> {
        let now = boottime();
        self.settings
            .nodes
            .iter()
            .map(|name| {
                let is_self = *name == self.settings.node;
                let obs = if is_self {
                    Some(self.core.own())
                } else {
                    self.core.peer(name)
                };
                NodeView {
                    name: name.clone(),
                    is_self,
                    record: obs.and_then(|o| o.record.clone()),
                    liveness: obs.map_or(Liveness::Unknown, |o| o.liveness),
                    changed_ago: obs
                        .and_then(|o| o.changed_at())
                        .map(|t| Duration::from_nanos(now.saturating_sub(t))),
                }
            })
            .collect()
    }

    pub(crate) fn set_maintenance(
        &self,
        mode: Option<MaintMode>,
        drain: Option<(&str, bool)>,
        reason: &str,
    ) -> Result<MaintRecord, NodeError> {
        self.admin
            .update_maintenance(&self.settings, mode, drain, reason)
    }

    pub(crate) fn lease_deadline(&self) -> Option<Time> {
        self.core.deadline()
    }

    pub(crate) fn app_still_present(&mut self) {
        self.stop.still_present();
    }
}
