//! The etcd backend of a node: the etcd [`Core`] driven on the node's boot clock, its etcd
//! calls run one at a time by a worker thread that owns the [`Client`], the epoch persisted
//! to the local epoch file before the claim that carries it. Its API is the node's (`tick`,
//! `app_stopped_epoch`, `release`, ...) and its results the node's [`TickResult`], so the
//! daemon, the C ABI and Java see no difference between backends.
//!
//! A tick waits for the call it sent at most the I/O timeout, and less when a timer of the
//! core (the lease deadline above all) fires first: a hung etcd never holds `tick` longer than
//! the file backend's storage does. The worker takes `sent` on the boot clock just before each
//! call, so the deadline is anchored at the send of the last acknowledged keepalive.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread;
use std::time::Duration;

use super::admin;
use super::api::{Client, Settings};
use super::core::{Action, Core, CoreConfig, Event, Role as EtcdRole};
use super::keys::Keys;
use super::timing::EtcdTiming;
use crate::heartbeat::clock::boottime;
use crate::heartbeat::core::Role;
use crate::heartbeat::epoch::EpochFile;
use crate::heartbeat::node::{NodeView, TickAction, TickResult};
use crate::heartbeat::observe::{Liveness, Time};
use crate::heartbeat::record::{MaintMode, MaintRecord, NodeRecord, NodeState};
use crate::heartbeat::settings::{NodeError, NodeSettings};
use crate::heartbeat::stop::StopTracking;

/// What the etcd backend of one node runs on.
#[derive(Clone, Debug)]
pub struct EtcdSettings {
    pub node: String,
    pub preferred: bool,
    pub timing: EtcdTiming,
    pub client: Settings,
    pub keys: Keys,
    /// Local directory of the epoch file.
    pub state_dir: PathBuf,
}

pub struct EtcdBackend {
    core: Core,
    timing: EtcdTiming,
    state_dir: PathBuf,
    epoch_file: EpochFile,
    calls: Sender<Action>,
    results: Receiver<Event>,
    /// A call sent during the current tick: the tick waits for its result.
    awaited: bool,
    /// The epoch of the running application (what a report without an epoch refers to).
    app_epoch: Option<u64>,
    /// The application told to stop, until the caller reports it gone or the kill budget
    /// ends.
    stop: StopTracking,
    /// For the operator's commands, which use a client of their own.
    client_settings: Settings,
    keys: Keys,
    /// The leader key of the last trusted read (node, epoch) and when it was taken.
    leader_seen: Option<(Option<(String, u64)>, Time)>,
    /// The last acknowledged keepalive's round trip in ns (0: none yet), set by the worker.
    renewal_ns: Arc<AtomicU64>,
}

impl EtcdBackend {
    /// Checks the timing, loads the epoch file and starts the worker; no etcd call is made
    /// before the first tick.
    pub fn new(settings: EtcdSettings, incarnation: u64) -> Result<EtcdBackend, String> {
        settings.timing.check().map_err(|e| e.to_string())?;
        if let Some(warning) = settings.timing.election_warning() {
            log::warn!("{warning}");
        }
        std::fs::create_dir_all(&settings.state_dir)
            .map_err(|e| format!("hb.state_dir {}: {e}", settings.state_dir.display()))?;
        let epoch_file = EpochFile::new(&settings.state_dir);
        let persisted_epoch = epoch_file
            .load()
            .map_err(|e| format!("hb.state_dir {}: {e}", settings.state_dir.display()))?;
        let mut client = Client::new(&settings.client)?;
        let (calls, work) = mpsc::channel::<Action>();
        let (done, results) = mpsc::channel();
        let (keys, node) = (settings.keys.clone(), settings.node.clone());
        let renewal_ns = Arc::new(AtomicU64::new(0));
        let renewal = Arc::clone(&renewal_ns);
        let (client_settings, admin_keys) = (settings.client.clone(), settings.keys.clone());
        thread::Builder::new()
            .name("hamon-etcd".into())
            .spawn(move || {
                // Ends when the backend is dropped (its sender with it).
                for action in work {
                    let Some(event) = keys.perform(&mut client, &node, &action, boottime) else {
                        continue;
                    };
                    // Timed here: the backend may take the event only at its next tick.
                    if let Event::KeptAlive {
                        sent,
                        result: Ok(ttl),
                        ..
                    } = &event
                        && *ttl > 0
                    {
                        let took = boottime().saturating_sub(*sent).max(1);
                        renewal.store(took, Ordering::Relaxed);
                    }
                    if done.send(event).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| format!("cannot start the etcd worker thread: {e}"))?;
        let core = Core::new(
            CoreConfig {
                node: settings.node,
                preferred: settings.preferred,
                timing: settings.timing,
                incarnation,
                persisted_epoch,
            },
            boottime(),
        );
        Ok(EtcdBackend {
            core,
            timing: settings.timing,
            state_dir: settings.state_dir,
            epoch_file,
            calls,
            results,
            awaited: false,
            app_epoch: None,
            stop: StopTracking::default(),
            client_settings,
            keys: admin_keys,
            leader_seen: None,
            renewal_ns,
        })
    }

    /// How long the last acknowledged keepalive took; None before one.
    pub fn last_write(&self) -> Option<Duration> {
        match self.renewal_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    pub fn role(&self) -> Role {
        role(self.core.role())
    }

    /// The epoch and etcd lease of the term this node holds (claiming, active or stopping),
    /// for the guard's hand-over; None while standby or without a lease.
    pub fn held_lease(&self) -> Option<(u64, i64)> {
        if self.role() == Role::Standby {
            return None;
        }
        let s = self.core.status(boottime());
        s.lease.map(|lease| (s.epoch, lease))
    }

    /// The instant (boot clock, ns) the active must have stopped its application.
    pub fn lease_deadline(&self) -> Option<Time> {
        self.core.lease_deadline()
    }

    /// When the next tick is due at the latest.
    pub fn next_tick_in(&self) -> Duration {
        let left = self.core.next_wakeup().saturating_sub(boottime());
        Duration::from_nanos(left).min(self.timing.period / 2)
    }

    pub fn tick(&mut self) -> TickResult {
        self.step(None)
    }

    /// The application started for `epoch` is gone.
    pub fn app_stopped_epoch(&mut self, epoch: u64) -> TickResult {
        self.stop.stopped(epoch);
        self.step(Some(Event::AppStopped { epoch }))
    }

    /// The application is gone: the one last told to stop, else the running one.
    pub fn app_stopped(&mut self) -> TickResult {
        let epoch = self.stop.unconfirmed().or(self.app_epoch).unwrap_or(0);
        self.app_stopped_epoch(epoch)
    }

    pub fn app_failed(&mut self, why: &str) -> TickResult {
        self.step(Some(Event::AppFailed(why.to_string())))
    }

    /// Graceful hand-over: stop the application, then revoke the lease.
    pub fn release(&mut self) -> TickResult {
        self.step(Some(Event::Release))
    }

    /// An application told to stop that the caller still sees is not taken as gone.
    pub fn app_still_present(&mut self) {
        self.stop.still_present();
    }

    /// Waits (at most the I/O timeout) for the call in flight, so that a revoke reaches etcd
    /// before the process exits and a peer can claim at once.
    pub fn flush(&mut self) -> TickResult {
        let mut result = self.tick();
        if let Ok(event) = self.results.recv_timeout(self.timing.io_timeout) {
            self.handle(event, &mut result);
        }
        result.role = self.role();
        result
    }

    /// Every node of `hb.nodes` as the etcd backend knows it: the holder of the leader key
    /// (as of a read at most two periods and two timeouts old) as an ACTIVE peer, Alive; the
    /// others without a record. Timing fields are 0: etcd nodes' timings are not compared.
    pub fn status(&self, settings: &NodeSettings) -> Vec<NodeView> {
        let now = boottime();
        let fresh = (self.timing.period * 2 + self.timing.io_timeout * 2).as_nanos() as u64;
        let leader = self
            .leader_seen
            .as_ref()
            .filter(|(_, at)| now.saturating_sub(*at) <= fresh)
            .and_then(|(l, _)| l.clone());
        settings
            .nodes
            .iter()
            .map(|name| {
                let record = leader
                    .as_ref()
                    .filter(|(n, _)| n == name)
                    .map(|(n, epoch)| NodeRecord {
                        state: NodeState::Active,
                        epoch: *epoch,
                        max_epoch: *epoch,
                        ..NodeRecord::blank(&settings.cluster, n)
                    });
                NodeView {
                    name: name.clone(),
                    is_self: *name == settings.node,
                    liveness: if record.is_some() {
                        Liveness::Alive
                    } else {
                        Liveness::Unknown
                    },
                    record,
                    changed_ago: None,
                }
            })
            .collect()
    }

    /// Read-modify-write of the maintenance key (see [`admin::update_maintenance`]).
    pub fn set_maintenance(
        &self,
        settings: &NodeSettings,
        mode: Option<MaintMode>,
        drain: Option<(&str, bool)>,
        reason: &str,
    ) -> Result<MaintRecord, NodeError> {
        admin::update_maintenance(
            &self.client_settings,
            &self.keys,
            settings,
            mode,
            drain,
            reason,
        )
    }

    fn send(&mut self, action: Action, result: &mut TickResult) {
        match self.calls.send(action) {
            Ok(()) => self.awaited = true,
            Err(mpsc::SendError(action)) => {
                if let Some(ev) = failed(&action, "the etcd worker thread is gone") {
                    self.handle(ev, result);
                }
            }
        }
    }

    fn handle(&mut self, event: Event, result: &mut TickResult) {
        let mut persist_failed = false;
        for action in self.core.step(boottime(), event) {
            match action {
                Action::PersistEpoch(e) => {
                    if let Err(err) = self.epoch_file.store(e) {
                        persist_failed = true;
                        let msg = format!(
                            "cannot persist epoch {e} in {}: {err}",
                            self.state_dir.display()
                        );
                        log::error!("hamon heartbeat: {msg}");
                        result.alarms.push(msg);
                    }
                }
                // An epoch that is not on local disk must not reach etcd.
                Action::Claim { .. } if persist_failed => {
                    let ev = failed(&action, "the epoch was not persisted").expect("a call");
                    self.handle(ev, result);
                }
                Action::StartApp { epoch } => {
                    self.app_epoch = Some(epoch);
                    result.action = TickAction::Start;
                }
                Action::StopApp { reason, fence } => {
                    self.stop.decided(result, &reason, fence, self.app_epoch);
                }
                Action::Alarm(msg) => {
                    log::warn!("hamon heartbeat: {msg}");
                    result.alarms.push(msg);
                }
                Action::EpochExhausted { top, in_key } => {
                    let msg = epoch_exhausted(&self.keys, &self.state_dir, top, in_key);
                    log::error!("hamon heartbeat: {msg}");
                    result.alarms.push(msg);
                }
                call => self.send(call, result),
            }
        }
    }

    fn step(&mut self, event: Option<Event>) -> TickResult {
        let mut result = TickResult {
            role: self.role(),
            action: TickAction::None,
            epoch: self.core.status(boottime()).epoch,
            deadline_left: None,
            maint: self.core.maint_mode().0,
            maint_ok: true,
            alarms: Vec::new(),
        };
        let until = boottime() + self.timing.io_timeout.as_nanos() as u64;
        let deadline = self.core.lease_deadline();
        self.awaited = false;
        if let Some(event) = event {
            self.handle(event, &mut result);
        }
        if let Some(epoch) = self.stop.overdue(boottime(), self.timing.kill_budget) {
            self.handle(Event::AppStopped { epoch }, &mut result);
        }
        self.handle(Event::Tick, &mut result);
        loop {
            if result.must_act() || self.core.lease_deadline() != deadline {
                break;
            }
            match self.results.try_recv() {
                Ok(ev) => {
                    self.awaited = false;
                    self.handle(ev, &mut result);
                    continue;
                }
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) if !self.awaited => break,
                Err(TryRecvError::Empty) => {}
            }
            let now = boottime();
            if now >= until {
                break;
            }
            let stop_at = until.min(self.core.next_wakeup().max(now));
            match self
                .results
                .recv_timeout(Duration::from_nanos(stop_at.saturating_sub(now)))
            {
                Ok(ev) => {
                    self.awaited = false;
                    self.handle(ev, &mut result);
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    if boottime() >= self.core.next_wakeup() {
                        self.handle(Event::Tick, &mut result);
                        if self.core.next_wakeup() <= boottime() {
                            break;
                        }
                    }
                }
            }
        }
        let now = boottime();
        if let Some(leader) = self.core.leader_seen() {
            self.leader_seen = Some((leader.map(|l| (l.node.clone(), l.epoch)), now));
        }
        let status = self.core.status(now);
        if !status.app_running {
            self.app_epoch = None;
        }
        result.role = role(status.role);
        result.epoch = status.epoch;
        result.deadline_left = status.deadline_left.map(Duration::from_nanos);
        (result.maint, result.maint_ok) = self.core.maint_mode();
        let active = status.role == EtcdRole::Active;
        self.stop
            .finish(&mut result, now, active, status.app_running);
        result
    }
}

/// The alarm of an epoch at the top of its range, naming where it is.
fn epoch_exhausted(keys: &Keys, state_dir: &std::path::Path, top: u64, in_key: bool) -> String {
    let source = if in_key {
        format!("key {}", String::from_utf8_lossy(&keys.epoch()))
    } else {
        format!(
            "the epoch this node persisted ({}/epoch) or read earlier",
            state_dir.display()
        )
    };
    format!(
        "epoch exhausted: {source} is at {top}: the fencing token cannot grow; this node \
         claims nothing"
    )
}

fn role(r: EtcdRole) -> Role {
    match r {
        EtcdRole::Standby => Role::Standby,
        EtcdRole::Active => Role::Active,
        EtcdRole::Stopping => Role::Stopping,
    }
}

/// The failed result of an etcd call that could not be made.
fn failed(action: &Action, why: &str) -> Option<Event> {
    let sent = boottime();
    fn e<T>(why: &str) -> Result<T, String> {
        Err(why.to_string())
    }
    Some(match action {
        Action::GrantLease { .. } => Event::Granted {
            sent,
            result: e(why),
        },
        Action::KeepAlive { lease } => Event::KeptAlive {
            sent,
            lease: *lease,
            result: e(why),
        },
        Action::Read => Event::Read { result: e(why) },
        Action::Claim { .. } => Event::Claimed { result: e(why) },
        Action::Revoke { .. } => Event::Revoked { result: e(why) },
        Action::PutStatus { .. } => Event::StatusPut { result: e(why) },
        _ => return None,
    })
}
