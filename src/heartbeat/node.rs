//! A heartbeat node: the [`Core`] wired to the shared directory (through the deadline-bound
//! I/O pool), the boot clock and the local state directory. `tick` is what `hb_tick` and the
//! `ha-heartbeat` daemon call, at least every half period; it never blocks longer than the
//! I/O timeout.

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::HeartbeatSettings;
use crate::heartbeat::codec::DecodeError;
use crate::heartbeat::core::{Action, Core, CoreConfig, Event, Role};
use crate::heartbeat::io::{Completion, IoPool, Op, OpKind};
use crate::heartbeat::observe::{Liveness, Time};
use crate::heartbeat::record::{MaintMode, MaintRecord, NodeRecord};
use crate::heartbeat::store::{FileStore, Store};

/// What the caller must do with the application after a tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TickAction {
    /// Nothing runs here and nothing should.
    None,
    /// Start the application now, with `epoch` as its fencing token.
    Start,
    /// Keep it running.
    Keep,
    /// Stop it gracefully (hand-over), within the kill budget.
    Stop,
    /// Stop it at once: the lease is lost.
    Fence,
}

/// The outcome of one tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TickResult {
    pub role: Role,
    pub action: TickAction,
    pub epoch: u64,
    /// Time left until this node's lease ends (None: it holds none).
    pub deadline_left: Option<Duration>,
    pub maint: MaintMode,
    /// The maintenance record is readable and valid.
    pub maint_ok: bool,
    /// Problems noticed during this tick, for the operator.
    pub alarms: Vec<String>,
}

/// One node's record as this node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView {
    pub name: String,
    pub is_self: bool,
    pub record: Option<NodeRecord>,
    pub liveness: Liveness,
    /// How long ago its record last changed, as observed here.
    pub changed_ago: Option<Duration>,
}

#[derive(Debug)]
pub enum NodeError {
    /// A required `hb.*` setting is missing or inconsistent.
    Config(String),
    /// The timing would allow two active nodes.
    Timing(crate::heartbeat::timing::TimingError),
    /// The local state directory cannot be used.
    State(PathBuf, io::Error),
    /// The shared directory cannot be used.
    Storage(String),
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::Config(m) => f.write_str(m),
            NodeError::Timing(e) => write!(f, "{e}"),
            NodeError::State(p, e) => write!(f, "hb.state_dir {}: {e}", p.display()),
            NodeError::Storage(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for NodeError {}

pub use crate::heartbeat::clock::boottime;

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(boottime());
    h.write_u32(std::process::id());
    h.finish() | 1
}

/// The validated settings of a node.
#[derive(Clone, Debug)]
pub struct NodeSettings {
    pub dir: PathBuf,
    pub node: String,
    pub cluster: String,
    pub nodes: Vec<String>,
    pub preferred: bool,
    pub timing: crate::heartbeat::timing::Timing,
    pub state_dir: PathBuf,
}

impl NodeSettings {
    pub fn from_config(hb: &HeartbeatSettings) -> Result<NodeSettings, NodeError> {
        let missing = |key: &str| NodeError::Config(format!("{key} is not set"));
        let dir = hb.dir.clone().ok_or_else(|| missing("hb.dir"))?;
        let node = hb.node.clone().ok_or_else(|| missing("hb.node"))?;
        let state_dir = hb
            .state_dir
            .clone()
            .ok_or_else(|| missing("hb.state_dir"))?;
        if hb.nodes.is_empty() {
            return Err(missing("hb.nodes"));
        }
        if !hb.nodes.contains(&node) {
            return Err(NodeError::Config(format!(
                "hb.node={node} is not one of hb.nodes={}",
                hb.nodes.join(",")
            )));
        }
        hb.timing.check().map_err(NodeError::Timing)?;
        Ok(NodeSettings {
            dir,
            node,
            cluster: hb.cluster.clone(),
            nodes: hb.nodes.clone(),
            preferred: hb.preferred,
            timing: hb.timing,
            state_dir,
        })
    }
}

/// The highest epoch this host has seen, kept in `STATE_DIR/epoch` (write, fsync, rename).
pub struct EpochFile {
    path: PathBuf,
}

impl EpochFile {
    pub fn new(state_dir: &Path) -> EpochFile {
        EpochFile {
            path: state_dir.join("epoch"),
        }
    }

    /// 0 when the file does not exist yet; an unreadable or garbled file is an error: the
    /// node must not guess an epoch.
    pub fn load(&self) -> io::Result<u64> {
        match fs::read_to_string(&self.path) {
            Ok(text) => text.trim().parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} does not hold a number", self.path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
        }
    }

    pub fn store(&self, epoch: u64) -> io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        let mut f = fs::File::create(&tmp)?;
        writeln!(f, "{epoch}")?;
        f.sync_all()?;
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

pub struct Node {
    settings: NodeSettings,
    core: Core,
    pool: IoPool,
    store: Arc<dyn Store>,
    epoch_file: EpochFile,
    /// The last StopApp not yet taken as done: when it was given, and the epoch of the
    /// application it stops. After the kill budget the node takes that application as gone.
    stop_given: Option<(Time, u64)>,
    /// The epoch of the application the caller was last told to stop and has not yet
    /// reported stopped: what a report without an epoch ([`Node::app_stopped`]) refers to.
    stop_unconfirmed: Option<u64>,
    /// Operations submitted since the current tick began: the tick waits for these (at most
    /// the I/O timeout), never for one a hung file left from an earlier tick.
    awaited: HashSet<u64>,
}

impl Node {
    /// Creates a node on the shared directory `settings.dir` with the file store.
    pub fn new(settings: NodeSettings) -> Result<Node, NodeError> {
        let store: Arc<dyn Store> = Arc::new(FileStore::new(settings.dir.clone()));
        Node::with_store(settings, store)
    }

    /// Creates a node on any store (tests use this to inject faults).
    pub fn with_store(settings: NodeSettings, store: Arc<dyn Store>) -> Result<Node, NodeError> {
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
            incarnation: random_u64(),
            persisted_epoch,
        };
        let core = Core::new(cfg, boottime());
        Ok(Node {
            pool: IoPool::new(store.clone()),
            store,
            core,
            epoch_file,
            stop_given: None,
            stop_unconfirmed: None,
            awaited: HashSet::new(),
            settings,
        })
    }

    pub fn settings(&self) -> &NodeSettings {
        &self.settings
    }

    pub fn role(&self) -> Role {
        self.core.role()
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
            OpKind::WriteNode(_) => Event::Written {
                started,
                ended,
                ok: c.result.is_ok(),
            },
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
            OpKind::WriteMaint => return,
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
                    // For operators reading records: never used for a decision.
                    rec.wall_ms = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as u64);
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
                    let epoch = self.core.app_epoch().unwrap_or(self.core.epoch());
                    self.stop_unconfirmed = Some(epoch);
                }
                Action::Alarm(msg) => {
                    log::warn!("hamon heartbeat: {msg}");
                    result.alarms.push(msg);
                }
            }
        }
    }

    /// One step: collects finished I/O, lets the core decide, issues I/O and waits for it
    /// at most the I/O timeout.
    pub fn tick(&mut self) -> TickResult {
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
        if let Some((given, epoch)) = self.stop_given
            && boottime().saturating_sub(given)
                >= self.settings.timing.kill_budget.as_nanos() as u64
        {
            self.stop_given = None;
            self.handle(Event::AppStopped { epoch }, &mut result);
        }
        self.handle(Event::Tick, &mut result);
        // Completions already queued are taken at once; only this tick's own operations
        // are waited for, and the core's timers (the lease deadline above all, the claim's
        // pause, polls) fire on time while waiting: a FENCE (or a START, or a STOP) goes to
        // the caller as soon as the core decides it, not when slow storage answers.
        loop {
            if matches!(
                result.action,
                TickAction::Fence | TickAction::Stop | TickAction::Start
            ) || self.core.deadline() != deadline
            {
                break;
            }
            let now = boottime();
            if self.awaited.is_empty() {
                // Nothing of ours outstanding: take what is queued, then return.
                match self.pool.next(Instant::now()) {
                    Some(c) => {
                        self.feed(c, &mut result);
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
        // The kill budget runs from when the caller learns of the stop, not from the decision.
        if matches!(result.action, TickAction::Stop | TickAction::Fence)
            && let Some(epoch) = self.stop_unconfirmed
            && self.stop_given.is_none_or(|(_, e)| e != epoch)
        {
            self.stop_given = Some((now, epoch));
        }
        // A START is only ever passed on while the node holds the lease it was given for.
        if result.action == TickAction::Start && status.role != Role::Active {
            result.action = TickAction::None;
        }
        if result.action == TickAction::None && status.app_running && self.stop_given.is_none() {
            result.action = TickAction::Keep;
        }
        result
    }

    /// Waits (at most the I/O timeout) for the write in flight, so that a RELEASED record
    /// reaches storage before the process exits and peers can take over at once.
    pub fn flush(&mut self) -> TickResult {
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

    /// When the next tick is due at the latest.
    pub fn next_tick_in(&self) -> Duration {
        let now = boottime();
        let half = self.settings.timing.period / 2;
        Duration::from_nanos(self.core.next_wakeup().saturating_sub(now)).min(half)
    }

    /// The application is gone (after Stop/Fence, or it exited by itself): the one the
    /// caller was last told to stop and has not reported yet, else the running one.
    pub fn app_stopped(&mut self) -> TickResult {
        let epoch = self
            .stop_unconfirmed
            .or(self.core.app_epoch())
            .unwrap_or(self.core.epoch());
        self.app_stopped_epoch(epoch)
    }

    /// The application started for `epoch` is gone. A report about another epoch's
    /// application (late, after a new term began) is ignored with an alarm.
    pub fn app_stopped_epoch(&mut self, epoch: u64) -> TickResult {
        if self.stop_unconfirmed == Some(epoch) {
            self.stop_unconfirmed = None;
        }
        if self.stop_given.is_some_and(|(_, e)| e == epoch) {
            self.stop_given = None;
        }
        self.event(Event::AppStopped { epoch })
    }

    /// The application failed: stop it and let another node take over.
    pub fn app_failed(&mut self, why: &str) -> TickResult {
        self.event(Event::AppFailed(why.to_string()))
    }

    /// Graceful hand-over: stop the application, then release the lease.
    pub fn release(&mut self) -> TickResult {
        self.event(Event::Release)
    }

    fn event(&mut self, event: Event) -> TickResult {
        self.step(Some(event))
    }

    /// Every record as last read (this node's own included), for status displays.
    pub fn status(&self) -> Vec<NodeView> {
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

    /// Writes the maintenance record (an operator action), keeping the drained list unless
    /// `drain` changes it. Waits at most the I/O timeout.
    pub fn set_maintenance(
        &self,
        mode: Option<MaintMode>,
        drain: Option<(&str, bool)>,
        reason: &str,
    ) -> Result<MaintRecord, NodeError> {
        update_maintenance(self.store.clone(), &self.settings, mode, drain, reason)
    }

    /// The instant (boot clock, ns) this node's lease ends, while it holds one.
    pub fn lease_deadline(&self) -> Option<Time> {
        self.core.deadline()
    }

    /// For a caller that sees the application itself and confirms its end (`app_stopped`):
    /// an application told to stop that is still there is not taken as gone after the kill
    /// budget. Call before each tick while it is there.
    pub fn app_still_present(&mut self) {
        self.stop_given = None;
    }
}

fn storage_err(what: &str, e: impl fmt::Display) -> NodeError {
    NodeError::Storage(format!("{what}: {e}"))
}

/// Runs a store call on a thread and waits at most `timeout` for it.
fn bounded<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("hamon-hbmaint".into())
        .spawn(move || {
            let _ = tx.send(f());
        })?;
    rx.recv_timeout(timeout).unwrap_or_else(|_| {
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "storage did not answer in time",
        ))
    })
}

/// Read-modify-write of the maintenance record; the token always grows.
pub fn update_maintenance(
    store: Arc<dyn Store>,
    settings: &NodeSettings,
    mode: Option<MaintMode>,
    drain: Option<(&str, bool)>,
    reason: &str,
) -> Result<MaintRecord, NodeError> {
    let timeout = settings.timing.io_timeout.max(Duration::from_secs(2));
    let read_store = store.clone();
    let current = bounded(timeout, move || read_store.read_maint())
        .map_err(|e| storage_err("cannot read the maintenance record", e))?;
    let current: Result<MaintRecord, DecodeError> =
        MaintRecord::decode(&current, &settings.cluster);
    let (token, old_mode, mut drained) = match current {
        Ok(m) => (m.token, m.mode, m.drained),
        // A corrupt record is replaced: that is how an operator repairs it.
        Err(_) => (0, MaintMode::Off, Vec::new()),
    };
    if let Some((name, on)) = drain {
        if !settings.nodes.iter().any(|n| n == name) {
            return Err(NodeError::Config(format!(
                "{name} is not one of hb.nodes={}",
                settings.nodes.join(",")
            )));
        }
        drained.retain(|n| n != name);
        if on {
            drained.push(name.to_string());
        }
    }
    if let Some(MaintMode::Switchover(target)) = &mode
        && !settings.nodes.contains(target)
    {
        return Err(NodeError::Config(format!(
            "{target} is not one of hb.nodes={}",
            settings.nodes.join(",")
        )));
    }
    let record = MaintRecord {
        cluster: settings.cluster.clone(),
        token: token + 1,
        mode: mode.unwrap_or(old_mode),
        drained,
        set_by: settings.node.clone(),
        reason: reason.to_string(),
        wall_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    };
    let bytes = record.encode();
    bounded(timeout, move || store.write_maint(&bytes))
        .map_err(|e| storage_err("cannot write the maintenance record", e))?;
    Ok(record)
}

/// Creates the shared records for every node and the maintenance record (OFF); existing
/// files are left alone. Run once per cluster (`ha-heartbeat init`).
pub fn init_cluster(settings: &NodeSettings) -> Result<(), NodeError> {
    let store = FileStore::new(settings.dir.clone());
    for name in &settings.nodes {
        let blank = NodeRecord::blank(&settings.cluster, name);
        store.init_node(name, &blank.encode()).map_err(|e| {
            let what = format!(
                "hb.dir {}: cannot create the record of {name}",
                settings.dir.display()
            );
            storage_err(&what, e)
        })?;
    }
    let maint = MaintRecord {
        cluster: settings.cluster.clone(),
        token: 1,
        mode: MaintMode::Off,
        drained: Vec::new(),
        set_by: settings.node.clone(),
        reason: "init".into(),
        wall_ms: 0,
    };
    store.init_maint(&maint.encode()).map_err(|e| {
        let what = format!(
            "hb.dir {}: cannot create the maintenance record",
            settings.dir.display()
        );
        storage_err(&what, e)
    })
}

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;
