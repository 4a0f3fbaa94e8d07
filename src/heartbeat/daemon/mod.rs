//! `ha-heartbeat`: the daemon that runs a heartbeat [`Node`] and supervises the application.
//! The library never installs signal handlers: the binary turns SIGTERM/SIGINT into a
//! readable file descriptor that [`run`] watches.

pub mod cli;
pub mod guard;
pub mod incident;
pub mod logging;
pub mod notify;
pub mod pause;
pub mod status;
pub mod supervise;
pub mod watchdog;

use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use crate::config::{Config, HeartbeatSettings};
use crate::heartbeat::core::Role;
use crate::heartbeat::node::{Node, NodeSettings, TickAction, TickResult, boottime};
use crate::heartbeat::observe::Liveness;
use crate::heartbeat::record::{MaintMode, NodeRecord, NodeState};
use crate::monitor::state::State;
use crate::probe::{ProbeCommand, ProbeRequest, probe};
use guard::Guard;
use incident::{Incident, Incidents, Kind};
use supervise::{App, AppEvent};
use watchdog::WatchdogDevice;

/// Loads a configuration file and checks the node settings.
pub fn load(path: &Path) -> Result<(Config, NodeSettings), String> {
    let mut cfg = Config::default();
    cfg.load_file(path).map_err(|e| e.to_string())?;
    let s = NodeSettings::from_config(&cfg.heartbeat).map_err(|e| e.to_string())?;
    watchdog::check_settings(&cfg.heartbeat)?;
    Ok((cfg, s))
}

/// `maintenance`, `drain`, `undrain`, `switchover`: writes the maintenance record.
pub fn maintenance(s: &NodeSettings, command: &cli::Command) -> Result<String, String> {
    let store = std::sync::Arc::new(crate::heartbeat::store::FileStore::new(s.dir.clone()));
    let reason = format!("ha-heartbeat on {}", s.node);
    let (mode, drain) = match command {
        cli::Command::Maintenance(true) => (Some(MaintMode::Freeze), None),
        cli::Command::Maintenance(false) => (Some(MaintMode::Off), None),
        cli::Command::Drain(n, on) => (None, Some((n.clone().unwrap_or(s.node.clone()), *on))),
        cli::Command::Switchover(to, force) => {
            let target = match to {
                Some(t) => t.clone(),
                None => {
                    let others: Vec<&String> = s.nodes.iter().filter(|n| **n != s.node).collect();
                    match others.as_slice() {
                        [one] if s.nodes.len() == 2 => (*one).clone(),
                        _ => {
                            return Err(
                                "switchover needs --to NODE unless hb.nodes names exactly two"
                                    .into(),
                            );
                        }
                    }
                }
            };
            if !force {
                check_switchover_target(store.clone(), s, &target)
                    .map_err(|e| format!("{e} (--force switches over anyway)"))?;
            }
            (Some(MaintMode::Switchover(target)), None)
        }
        _ => return Err("not a maintenance command".into()),
    };
    let drain_ref = drain.as_ref().map(|(n, on)| (n.as_str(), *on));
    let rec = update_maintenance(store, s, mode, drain_ref, &reason).map_err(|e| e.to_string())?;
    let drained = if rec.drained.is_empty() {
        "none".to_string()
    } else {
        rec.drained.join(",")
    };
    Ok(format!(
        "maintenance: {} (token {}); drained: {drained}",
        status::maint_name(&rec.mode),
        rec.token
    ))
}

/// The switchover check on the node's backend: the shared directory or etcd.
fn check_switchover_target(
    store: std::sync::Arc<crate::heartbeat::store::FileStore>,
    s: &NodeSettings,
    target: &str,
) -> Result<(), crate::heartbeat::node::NodeError> {
    #[cfg(feature = "etcd")]
    if let Some(e) = &s.etcd {
        return crate::heartbeat::etcd::admin::check_switchover_target(
            &e.client, &e.keys, s, target,
        );
    }
    crate::heartbeat::admin::check_switchover_target(store, s, target)
}

/// The maintenance update on the node's backend: the shared directory or etcd.
fn update_maintenance(
    store: std::sync::Arc<crate::heartbeat::store::FileStore>,
    s: &NodeSettings,
    mode: Option<MaintMode>,
    drain: Option<(&str, bool)>,
    reason: &str,
) -> Result<crate::heartbeat::record::MaintRecord, crate::heartbeat::node::NodeError> {
    #[cfg(feature = "etcd")]
    if let Some(e) = &s.etcd {
        let (client, keys) = (&e.client, &e.keys);
        return crate::heartbeat::etcd::admin::update_maintenance(
            client, keys, s, mode, drain, reason,
        );
    }
    crate::heartbeat::node::update_maintenance(store, s, mode, drain, reason)
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Standby => "standby",
        Role::Claiming => "claiming",
        Role::Active => "active",
        Role::Stopping => "stopping",
    }
}

struct Daemon {
    hb: HeartbeatSettings,
    node: Node,
    app: App,
    guard: Option<Guard>,
    guard_exe: Option<PathBuf>,
    /// The guard cannot be started (reported once until it can).
    guard_failing: bool,
    watchdog: Option<WatchdogDevice>,
    /// The absolute lease deadline (boot clock) the guard holds for the current application:
    /// set when it is handed over, renewed only while it serves the term the node holds.
    app_deadline: u64,
    /// The epoch the current application was started with.
    app_epoch: u64,
    role: Role,
    /// The epoch of the last tick.
    epoch: u64,
    incidents: Incidents,
    /// Since when no node has been seen active (None: one is).
    none_active_since: Option<Instant>,
    /// The current time without an active node was paged.
    no_active_reported: bool,
    /// The last own-storage check (at most one per period).
    last_storage_check: Option<Instant>,
    /// A storage check's thread has not returned yet.
    storage_check_busy: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Peers whose other timing was reported.
    timing_reported: Vec<String>,
    /// A start to carry out once the previous application is gone or the lease allows it:
    /// its epoch.
    pending_start: Option<u64>,
    /// Local restarts in this term.
    restarts: u32,
    /// The application died and is restarted locally once its group is gone.
    restart_pending: bool,
    /// The application failed (died or unhealthy): the node was told.
    failed: bool,
    /// The application outlived SIGKILL by the kill budget: reported.
    unkillable_reported: bool,
    /// A process group left by an earlier run that SIGKILL has not ended yet.
    stray: Option<i32>,
    /// Until this instant (boot clock) the node claims nothing: the daemon's last run may have
    /// been active, and its lease must be over first.
    hold_until: u64,
    /// The probe's verdict: Ok, or its answer or error.
    probe_rx: Option<Receiver<Result<(), String>>>,
    /// The last failed probe's answer or error.
    probe_last_fail: String,
    last_probe: Option<Instant>,
    probe_fails: u32,
    probe_ok_once: bool,
}

impl Daemon {
    /// Logs an incident and pages through `hb.incident_cmd` (see `incident`).
    fn raise(&mut self, kind: Kind, peer: Option<&str>, reason: &str, text: &str) {
        let epoch = self.node_epoch();
        self.incidents.raise(
            &Incident {
                kind,
                peer,
                reason,
                text,
            },
            epoch,
        );
    }

    /// The node, told first that the application is still there when it is: the daemon
    /// confirms every stop itself, so an application that outlives its kill budget is never
    /// taken as gone (see `App::outlived_kill`).
    fn node_mut(&mut self) -> &mut Node {
        if self.app.is_running() {
            self.node.app_still_present();
        }
        &mut self.node
    }

    fn node_epoch(&self) -> u64 {
        self.epoch
    }

    fn report(&mut self, r: &TickResult) {
        self.epoch = r.epoch;
        if r.role != self.role {
            log::info!(
                "role {} -> {} (epoch {})",
                role_name(self.role),
                role_name(r.role),
                r.epoch
            );
            if r.role == Role::Active {
                self.on_became_active();
            }
            self.role = r.role;
        }
        // Alarms are logged by the node itself; the ones that page are raised here.
        self.page_alarms(r);
        self.watch_cluster(r);
    }

    /// This node just became active: a takeover when a peer held (or was taking) the lease
    /// and its record stopped changing; logged with how long it was unchanged.
    fn on_became_active(&mut self) {
        let takeover_ms = self.node.settings().timing.takeover.as_millis();
        let stale: Vec<(String, String)> = self
            .node
            .status()
            .into_iter()
            .filter(|v| !v.is_self && v.liveness == Liveness::Stale)
            .filter_map(|v| {
                let rec = v.record.as_ref()?;
                let held = matches!(
                    rec.state,
                    NodeState::Active | NodeState::Claiming | NodeState::Stopping
                );
                held.then(|| {
                    let ago = v
                        .changed_ago
                        .map_or("?".into(), |d| d.as_millis().to_string());
                    (
                        v.name.clone(),
                        format!(
                            "record of {} ({} epoch {}) unchanged for {ago} ms (takeover after \
                             {takeover_ms} ms unchanged)",
                            v.name,
                            status::state_name(rec.state),
                            rec.epoch
                        ),
                    )
                })
            })
            .collect();
        if stale.is_empty() {
            log::info!("became active: no peer held the lease");
            return;
        }
        let peers: Vec<&str> = stale.iter().map(|(n, _)| n.as_str()).collect();
        let reason: Vec<&str> = stale.iter().map(|(_, r)| r.as_str()).collect();
        let (peer, reason) = (peers.join(","), reason.join("; "));
        let text = format!("took over from {peer}: {reason}");
        self.raise(Kind::Takeover, Some(&peer), &reason, &text);
    }

    /// The alarms of a tick that page: a lost lease, a foreign writer, storage errors.
    fn page_alarms(&mut self, r: &TickResult) {
        let has = |what: &str| r.alarms.iter().find(|a| a.contains(what)).cloned();
        if r.action == TickAction::Fence || has("renew deadline passed").is_some() {
            let reason = if r.alarms.is_empty() {
                "the lease is lost".to_string()
            } else {
                r.alarms.join("; ")
            };
            let text = format!("self-fencing: this node stops its application ({reason})");
            self.raise(Kind::Fence, None, &reason, &text);
        }
        if let Some(a) = has("another writer") {
            let text = format!("foreign writer in this node's record: {a}");
            self.raise(Kind::ForeignWriter, None, &a, &text);
        }
        if let Some(a) = has("cannot persist epoch") {
            let text = format!("local state: {a}");
            self.raise(Kind::Storage, None, &a, &text);
        }
        if let Some(a) = has("switchover to").filter(|a| a.contains("abandoned")) {
            let text = format!("switchover abandoned, failover is back on: {a}");
            self.raise(Kind::Switchover, None, &a, &text);
        }
        if let Some(a) = has("maintenance record unreadable") {
            let text = format!("shared storage: {a}");
            self.raise(Kind::Storage, None, &a, &text);
        }
        if has("renew deadline passed").is_some() {
            // The node only says the renewal did not succeed in time: find out why.
            self.check_storage(true);
        }
    }

    /// After a tick: the own record not changing (storage), no active node for longer than
    /// the failover bound, a peer with another timing.
    fn watch_cluster(&mut self, r: &TickResult) {
        let timing = self.node.settings().timing;
        let views = self.node.status();
        let own_quiet = timing.period * 2 + timing.io_timeout * 2;
        if views
            .iter()
            .any(|v| v.is_self && v.changed_ago.is_some_and(|d| d > own_quiet))
        {
            self.check_storage(false);
        }
        let someone_active = self.node.role() == Role::Active
            || views.iter().any(|v| {
                !v.is_self
                    && v.liveness == Liveness::Alive
                    && v.record
                        .as_ref()
                        .is_some_and(|r| r.state == NodeState::Active)
            });
        if someone_active {
            self.none_active_since = None;
            if std::mem::take(&mut self.no_active_reported) {
                log::info!("a node is active again");
            }
        } else {
            let since = *self.none_active_since.get_or_insert_with(Instant::now);
            let bound = timing.failover_bound();
            if since.elapsed() > bound && !self.no_active_reported {
                // Once per outage (the rate limit covers a flapping one).
                self.no_active_reported = true;
                let maint = if r.maint_ok {
                    status::maint_name(&r.maint)
                } else {
                    "unreadable".to_string()
                };
                let reason = format!(
                    "no node seen active for {} ms (failover bound {} ms); maintenance {maint}; \
                     this node {}",
                    since.elapsed().as_millis(),
                    bound.as_millis(),
                    role_name(self.node.role())
                );
                let text = format!("the service is down everywhere: {reason}");
                self.raise(Kind::NoActive, None, &reason, &text);
            }
        }
        for v in views.iter().filter(|v| !v.is_self) {
            let Some(rec) = &v.record else { continue };
            let ours = (
                timing.period.as_millis() as u32,
                timing.renew_deadline.as_millis() as u32,
                timing.takeover.as_millis() as u32,
                timing.kill_budget.as_millis() as u32,
            );
            let theirs = (
                rec.period_ms,
                rec.renew_deadline_ms,
                rec.takeover_ms,
                rec.kill_budget_ms,
            );
            if rec.period_ms != 0 && ours != theirs && !self.timing_reported.contains(&v.name) {
                self.timing_reported.push(v.name.clone());
                let reason = format!(
                    "{} runs period/renew_deadline/takeover/kill_budget {}/{}/{}/{} ms, this \
                     node {}/{}/{}/{} ms",
                    v.name, theirs.0, theirs.1, theirs.2, theirs.3, ours.0, ours.1, ours.2, ours.3
                );
                let text = format!("timing mismatch between nodes: {reason}");
                self.raise(Kind::Timing, Some(&v.name.clone()), &reason, &text);
            }
        }
    }

    /// Finds out whether this node's record can be opened for reading and writing (nothing is
    /// written), at most once per period unless `now`, bounded by the I/O timeout; a failure
    /// is a storage incident naming the error (errno), which the node's own alarms do not
    /// carry ("renew deadline passed").
    fn check_storage(&mut self, now: bool) {
        // On etcd there is no record file: the backend's alarms name the endpoints' errors.
        #[cfg(feature = "etcd")]
        if self.node.settings().etcd.is_some() {
            return;
        }
        let timing = self.node.settings().timing;
        if !now
            && self
                .last_storage_check
                .is_some_and(|t| t.elapsed() < timing.period)
        {
            return;
        }
        // A check that hangs (a dead NFS server) keeps its thread: never more than one.
        if self
            .storage_check_busy
            .load(std::sync::atomic::Ordering::Acquire)
        {
            return;
        }
        self.last_storage_check = Some(Instant::now());
        let busy = self.storage_check_busy.clone();
        busy.store(true, std::sync::atomic::Ordering::Release);
        let path = crate::heartbeat::store::FileStore::new(self.node.settings().dir.clone())
            .node_path(&self.node.settings().node);
        let (tx, rx) = channel();
        let p = path.clone();
        let spawned = std::thread::Builder::new()
            .name("hamon-hbcheck".into())
            .spawn(move || {
                let r = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&p)
                    .map(drop);
                busy.store(false, std::sync::atomic::Ordering::Release);
                let _ = tx.send(r);
            });
        if spawned.is_err() {
            self.storage_check_busy
                .store(false, std::sync::atomic::Ordering::Release);
            return;
        }
        let reason = match rx.recv_timeout(timing.io_timeout) {
            // Opens fine: a slow write or a paused daemon, which the fence incident tells.
            Ok(Ok(())) => return,
            Ok(Err(e)) => incident::describe_io(&e),
            Err(_) => format!(
                "opening it did not return within {} ms (hb.io_timeout_ms)",
                timing.io_timeout.as_millis()
            ),
        };
        let reason = format!("{}: {reason}", path.display());
        let text = format!("shared storage: this node cannot write its record {reason}");
        self.raise(Kind::Storage, None, &reason, &text);
    }

    /// Carries out what a tick (or an event) asked for.
    fn act(&mut self, r: TickResult) {
        self.report(&r);
        match r.action {
            TickAction::Start => {
                self.restarts = 0;
                self.failed = false;
                if self.app.is_running() {
                    // The previous term's application is still on its way out.
                    self.app.kill("a new term starts");
                    self.pending_start = Some(r.epoch);
                } else {
                    self.start_app(r.epoch);
                }
            }
            TickAction::Keep => {
                if !self.app.is_running() && !self.failed && self.pending_start.is_none() {
                    self.failed = true;
                    let r2 = self.node_mut().app_failed("the application is not running");
                    self.act(r2);
                }
            }
            TickAction::Stop => {
                self.restart_pending = false;
                self.pending_start = None;
                if self.app.is_running() {
                    self.app.stop("the heartbeat asks for a hand-over");
                } else {
                    let r2 = self.node.app_stopped();
                    self.act(r2);
                }
            }
            TickAction::Fence => {
                self.restart_pending = false;
                self.pending_start = None;
                if self.app.is_running() {
                    self.app.kill("the lease is lost (fence)");
                } else {
                    let r2 = self.node.app_stopped();
                    self.act(r2);
                }
            }
            TickAction::None => {
                if self.app.is_serving() && r.role != Role::Active {
                    // Nothing may run here now: never leave an application behind.
                    self.app.kill("running without a lease");
                }
            }
        }
        self.renew_app_deadline();
    }

    /// The guard's deadline follows the lease only for the application of the term the node
    /// holds, while it serves; one being stopped keeps the deadline it had.
    fn renew_app_deadline(&mut self) {
        if self.app.is_serving()
            && self.node.role() == Role::Active
            && self.app_epoch == self.epoch
            && let Some(deadline) = self.node.lease_deadline()
        {
            self.app_deadline = deadline;
        }
    }

    /// How much lease a start needs left: the I/O timeout, as the core itself requires when it
    /// gives START. (Safety does not rest on it: the guard holds the deadline before the
    /// application runs. It keeps an application from being started only to be killed.)
    fn start_margin(&self) -> u64 {
        self.node.settings().timing.io_timeout.as_nanos() as u64
    }

    /// The lease deadline (boot clock) when this node may start its application at this
    /// instant: it is ACTIVE and the lease, read from the clock now, has the margin left.
    fn lease_for_start(&self) -> Option<u64> {
        if self.node.role() != Role::Active {
            return None;
        }
        let deadline = self.node.lease_deadline()?;
        (boottime() + self.start_margin() < deadline).then_some(deadline)
    }

    /// Starts the application for `epoch`, if the lease allows it at this instant: its group
    /// is created held at its gate, the guard acknowledges the group and the absolute lease
    /// deadline, the lease is checked again, and only then the gate opens. A start the lease
    /// does not allow now waits for the next renewal (or is dropped by the fence).
    fn start_app(&mut self, epoch: u64) {
        pause::point("start");
        self.pending_start = None;
        let Some(deadline) = self.lease_for_start() else {
            log::warn!("not starting the application now: the lease does not allow it");
            self.pending_start = Some(epoch);
            return;
        };
        if !self.ensure_guard() {
            self.refuse_start("there is no guard to fence it");
            return;
        }
        self.probe_fails = 0;
        self.probe_ok_once = false;
        self.probe_rx = None;
        self.last_probe = Some(Instant::now());
        self.unkillable_reported = false;
        let pgid = match self.app.spawn_gated(epoch) {
            Ok(pgid) => pgid,
            Err(e) => {
                self.refuse_start(&format!("cannot start it: {e}"));
                return;
            }
        };
        self.app_epoch = epoch;
        self.app_deadline = deadline;
        pause::point("forked");
        let until = deadline.saturating_sub(self.start_margin());
        let handed = match self.guard.as_mut() {
            Some(g) => g.hand_off(pgid, deadline, until),
            None => Err(std::io::Error::other("no guard")),
        };
        if let Err(e) = handed {
            if boottime() + self.start_margin() >= deadline {
                // The daemon was held up past the lease: not the guard's fault.
                self.app.kill("the lease ran out during its start");
                self.pending_start = Some(epoch);
                return;
            }
            self.app.kill("the guard did not take it over");
            if let Some(g) = self.guard.take() {
                g.kill();
            }
            self.refuse_start(&format!("the guard did not take it over ({e})"));
            return;
        }
        pause::point("handed");
        if boottime() + self.start_margin() >= deadline {
            self.app.kill("the lease ran out during its start");
            self.pending_start = Some(epoch);
            return;
        }
        if let Err(e) = self.app.open_gate(epoch) {
            self.app.kill("its gate cannot be opened");
            self.refuse_start(&format!("cannot open its gate: {e}"));
            return;
        }
        pause::point("running");
    }

    /// The application cannot be started safely: the node hands over.
    fn refuse_start(&mut self, why: &str) {
        let kind = if why.contains("guard") {
            Kind::Guard
        } else {
            Kind::AppStart
        };
        self.raise(
            kind,
            None,
            why,
            &format!("not starting the application: {why}; handing over"),
        );
        self.failed = true;
        let r = self.node_mut().app_failed(why);
        self.act(r);
    }

    /// A start that waited for the lease: tried again once nothing else runs.
    fn retry_start(&mut self) {
        if let Some(epoch) = self.pending_start
            && !self.app.is_running()
            && self.node.role() == Role::Active
        {
            self.start_app(epoch);
        }
    }

    fn on_app_event(&mut self, ev: AppEvent) {
        match ev {
            AppEvent::Died(why) => {
                let active = self.node.role() == Role::Active;
                if active && self.restarts < self.hb.restart_limit {
                    self.restarts += 1;
                    let text = format!(
                        "the application died ({why}); local restart {}/{}",
                        self.restarts, self.hb.restart_limit
                    );
                    self.raise(Kind::AppRestart, None, &why, &text);
                    self.restart_pending = true;
                } else if active {
                    let text = format!("the application died ({why}); handing over");
                    self.raise(Kind::AppFailed, None, &why, &text);
                    self.failed = true;
                    let r = self.node_mut().app_failed(&why);
                    self.act(r);
                }
            }
            AppEvent::Stopped => {
                if std::mem::take(&mut self.restart_pending) && self.node.role() == Role::Active {
                    pause::point("restart");
                    self.pending_start = Some(self.node_epoch());
                }
                if let Some(epoch) = self.pending_start
                    && self.node.role() == Role::Active
                {
                    // start_app checks the lease at this instant.
                    self.start_app(epoch);
                    return;
                }
                self.pending_start = None;
                let r = self.node.app_stopped();
                self.act(r);
            }
        }
    }

    fn check_probe(&mut self) {
        let Some(port) = self.hb.app_port else {
            return;
        };
        if !self.app.is_serving() {
            self.probe_rx = None;
            return;
        }
        if let Some(rx) = &self.probe_rx
            && let Ok(verdict) = rx.try_recv()
        {
            self.probe_rx = None;
            if let Err(answer) = &verdict {
                self.probe_last_fail = answer.clone();
            }
            if verdict.is_ok() {
                self.probe_fails = 0;
                self.probe_ok_once = true;
            } else {
                // Before the first healthy answer the application gets the takeover time
                // to start.
                let grace = self.node.settings().timing.takeover;
                let counting = self.probe_ok_once || self.app.uptime().is_some_and(|u| u >= grace);
                if counting {
                    self.probe_fails += 1;
                }
                if self.probe_fails >= self.hb.app_probe_fail && !self.failed {
                    self.failed = true;
                    let n = self.probe_fails;
                    let reason = self.probe_last_fail.clone();
                    let text = format!(
                        "the application is unhealthy: {n} failed probes of port {port} \
                         (last: {reason}); handing over"
                    );
                    self.raise(Kind::AppFailed, None, &reason, &text);
                    let r = self.node_mut().app_failed("unhealthy");
                    self.act(r);
                    return;
                }
            }
        }
        let period = self.node.settings().timing.period;
        if self.probe_rx.is_none() && self.last_probe.is_none_or(|t| t.elapsed() >= period) {
            let timeout = self.node.settings().timing.io_timeout.min(period);
            let (tx, rx) = channel();
            self.probe_rx = Some(rx);
            self.last_probe = Some(Instant::now());
            std::thread::spawn(move || {
                let req = ProbeRequest {
                    host: "127.0.0.1".into(),
                    port,
                    timeout,
                    command: ProbeCommand::Check,
                };
                let verdict = match probe(&req) {
                    Ok(r) if matches!(r.state, State::Up | State::Degraded) => Ok(()),
                    Ok(r) => Err(format!("the HA port answered {:?}", r.state)),
                    Err(e) => Err(format!("probe of 127.0.0.1:{port}: {e}")),
                };
                let _ = tx.send(verdict);
            });
        }
    }

    /// A guard runs (one is started when there is none); false when none can be started.
    fn ensure_guard(&mut self) -> bool {
        if self.guard.as_mut().is_some_and(|g| !g.alive()) {
            self.raise(
                Kind::Guard,
                None,
                "the guard process exited",
                "the guard process is gone; starting a new one",
            );
            self.guard = None;
        }
        if self.guard.is_some() {
            return true;
        }
        let spawned = match &self.guard_exe {
            Some(exe) => Guard::spawn(exe, self.hb.log_file.as_deref()).map_err(|e| e.to_string()),
            None => Err("no guard program".to_string()),
        };
        match spawned {
            Ok(g) => {
                if self.guard_failing {
                    log::info!("the guard runs again (pid {})", g.pid());
                }
                self.guard_failing = false;
                self.guard = Some(g);
                true
            }
            Err(e) => {
                if !self.guard_failing {
                    self.guard_failing = true;
                    let text = format!(
                        "cannot start the guard: {e}; this node claims nothing and starts no \
                         application until it can"
                    );
                    self.raise(Kind::Guard, None, &e, &text);
                }
                false
            }
        }
    }

    /// Tells the guard the application's group and deadline; an application must not run
    /// without a guard, so one that has none is handed over.
    fn feed_guard(&mut self) {
        for _ in 0..2 {
            if !self.ensure_guard() {
                break;
            }
            let line = match self.app.pgid() {
                Some(pgid) => (pgid, self.app_deadline),
                None => (0, 0),
            };
            match self.guard.as_mut().map(|g| g.send(line.0, line.1)) {
                Some(Err(e)) => {
                    let reason = incident::describe_io(&e);
                    let text = format!("cannot reach the guard: {reason}; starting a new one");
                    self.raise(Kind::Guard, None, &reason, &text);
                    if let Some(g) = self.guard.take() {
                        g.kill();
                    }
                }
                _ => return,
            }
        }
        if self.app.is_serving() && !self.failed {
            self.failed = true;
            self.raise(
                Kind::Guard,
                None,
                "the guard cannot be started or reached",
                "the application runs without a guard; handing over",
            );
            let r = self.node_mut().app_failed("no guard");
            self.act(r);
        }
    }

    /// Pets the watchdog device unless an application that should be gone is still there: its
    /// own lease deadline passed, or a group of an earlier run survives. The daemon has just
    /// turned its loop, so it is alive and in control.
    fn pet_watchdog(&mut self) {
        let app_ok = watchdog::may_pet(self.app.is_running(), boottime(), self.app_deadline);
        if let Some(w) = self.watchdog.as_mut()
            && app_ok
            && self.stray.is_none()
            && let Some(e) = w.pet()
        {
            let text = format!("the watchdog device cannot be petted: {e}");
            self.raise(Kind::Watchdog, None, &e, &text);
        }
    }

    /// Why the node must not claim now, if it must not.
    fn holding(&mut self) -> Option<&'static str> {
        if let Some(pgid) = self.stray
            && !self.app.kill_stray(pgid)
        {
            log::info!("the process group {pgid} left by an earlier run is gone");
            self.stray = None;
        }
        if self.stray.is_some() {
            Some("a process group of an earlier run survives SIGKILL")
        } else if boottime() < self.hold_until {
            Some("the lease of the daemon's last run may not be over")
        } else if !self.ensure_guard() {
            Some("no guard")
        } else {
            None
        }
    }

    fn housekeeping(&mut self) {
        self.incidents.housekeeping();
        if let Some(t) = self.app.outlived_kill()
            && let Some(pgid) = self.app.pgid()
        {
            supervise::signal_group(pgid, libc::SIGKILL);
            if !self.unkillable_reported {
                self.unkillable_reported = true;
                let wd = if self.watchdog.is_some() {
                    "the watchdog device is no longer petted and resets the host"
                } else {
                    "only a reset of this host ends it (no hb.watchdog_device)"
                };
                let reason = format!("pgid {pgid} alive {} ms after SIGKILL", t.as_millis());
                let text = format!(
                    "the application (pgid {pgid}) is still there {} ms after SIGKILL \
                     (uninterruptible sleep?): this node keeps its record STOPPING so that \
                     nobody takes over while it exists; {wd}",
                    t.as_millis()
                );
                self.raise(Kind::AppUnkillable, None, &reason, &text);
            }
        }
    }
}

/// This node's record says it was not claiming, active or stopping when its last run ended:
/// STANDBY or RELEASED (or never written). Read at most for the I/O timeout; an unreadable
/// record cannot tell.
fn own_record_idle(s: &NodeSettings) -> bool {
    let store = crate::heartbeat::store::FileStore::new(s.dir.clone());
    let node = s.node.clone();
    let (tx, rx) = channel();
    let spawned = std::thread::Builder::new()
        .name("hamon-hbown".into())
        .spawn(move || {
            let _ = tx.send(crate::heartbeat::store::Store::read_node(&store, &node));
        });
    if spawned.is_err() {
        return false;
    }
    match rx.recv_timeout(s.timing.io_timeout) {
        Ok(Ok(bytes)) => NodeRecord::decode(&bytes, &s.cluster)
            .is_ok_and(|r| matches!(r.state, NodeState::Standby | NodeState::Released)),
        _ => false,
    }
}

/// Waits until `fd` is readable or `timeout` passes; true when readable.
fn wait_readable(fd: RawFd, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(60_000) as i32;
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    rc > 0
}

/// `ha-heartbeat run`. Returns when `stop_fd` becomes readable, after releasing.
/// `guard_exe`: the program to run as `guard_exe guard` (None: no guard).
pub fn run(cfg: &Config, stop_fd: RawFd, guard_exe: Option<&Path>) -> Result<(), String> {
    let hb = cfg.heartbeat.clone();
    let settings = NodeSettings::from_config(&hb).map_err(|e| e.to_string())?;
    watchdog::check_settings(&hb)?;
    let start_cmd = hb.start_cmd.clone().ok_or("hb.start_cmd is not set")?;
    std::fs::create_dir_all(&settings.state_dir)
        .map_err(|e| format!("hb.state_dir {}: {e}", settings.state_dir.display()))?;
    let app_log = hb
        .app_log
        .clone()
        .unwrap_or_else(|| settings.state_dir.join("app.log"));
    let timing = settings.timing;
    let app = App::new(
        &settings.node,
        &start_cmd,
        hb.stop_cmd.as_deref(),
        &app_log,
        &settings.state_dir,
        timing.kill_budget,
    );
    app.check_log()?;
    if !settings.dir.is_dir() {
        // Not fatal: the share may be mounted later; until then nobody here takes over.
        log::error!(
            "hb.dir {}: not a directory (not mounted yet?); this node takes over nothing until \
             it can read and write the records there",
            settings.dir.display()
        );
    }
    // A run that ended while it may have been active (an application recorded, or its record
    // not STANDBY or RELEASED) may have left a lease that is not over yet: claim nothing for a
    // full lease and kill budget, as if another node held it.
    let left_app = app.left_by_earlier_run();
    let was_active = left_app || !own_record_idle(&settings);
    let mut stray = app.stray_group();
    if let Some(pgid) = stray {
        log::warn!("killing process group {pgid} left by an earlier run");
        let until = Instant::now() + timing.kill_budget;
        while stray.is_some() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
            stray = stray.filter(|&p| app.kill_stray(p));
        }
        match stray {
            Some(p) => log::error!(
                "the process group {p} left by an earlier run survives SIGKILL (uninterruptible \
                 sleep?): this node claims nothing until it is gone"
            ),
            None => log::warn!("killed process group {pgid} left by an earlier run"),
        }
    }
    let hold_until = if was_active {
        let hold = timing.renew_deadline + timing.kill_budget;
        log::warn!(
            "this node may have been active when its daemon last ended ({}): it claims nothing \
             for {} ms (hb.renew_deadline_ms + hb.kill_budget_ms)",
            if left_app {
                "an application was recorded"
            } else {
                "its record is not STANDBY or RELEASED, or cannot be read"
            },
            hold.as_millis()
        );
        boottime() + hold.as_nanos() as u64
    } else {
        0
    };
    log::info!(
        "node {} of {} in {}: period {} ms, takeover {} ms",
        settings.node,
        settings.nodes.join(","),
        settings.dir.display(),
        timing.period.as_millis(),
        timing.takeover.as_millis()
    );
    let node = Node::new(settings).map_err(|e| e.to_string())?;
    // Opened (and armed) last, just before the loop that pets it.
    let watchdog = match &hb.watchdog_device {
        Some(path) => Some(WatchdogDevice::open(
            path,
            timing.watchdog_limit(),
            timing.loop_turn(),
        )?),
        None => None,
    };
    let hb_incident_cmd = hb.incident_cmd.clone();
    let node_name = node.settings().node.clone();
    let mut d = Daemon {
        hb,
        node,
        app,
        guard: None,
        guard_exe: guard_exe.map(Path::to_path_buf),
        guard_failing: false,
        watchdog,
        app_deadline: 0,
        app_epoch: 0,
        role: Role::Standby,
        epoch: 0,
        incidents: Incidents::new(hb_incident_cmd, &node_name),
        none_active_since: Some(Instant::now()),
        no_active_reported: false,
        last_storage_check: None,
        storage_check_busy: Default::default(),
        timing_reported: Vec::new(),
        pending_start: None,
        restarts: 0,
        restart_pending: false,
        failed: false,
        unkillable_reported: false,
        stray,
        hold_until,
        probe_rx: None,
        probe_last_fail: String::new(),
        last_probe: None,
        probe_fails: 0,
        probe_ok_once: false,
    };
    if let Some(pgid) = d.stray {
        d.raise(
            Kind::AppUnkillable,
            None,
            &format!("pgid {pgid} of an earlier run survives SIGKILL"),
            &format!(
                "the process group {pgid} left by an earlier run survives SIGKILL: this node \
                 claims nothing until it is gone"
            ),
        );
    }
    let mut notifier = notify::Notifier::from_env();
    let mut ready = false;
    let mut shown_role = None;
    if let Err(e) = supervise::become_subreaper() {
        log::warn!(
            "cannot become a child subreaper: {e}; the application's orphans are not reaped here"
        );
    }
    d.feed_guard();
    let mut held: Option<&str> = None;
    loop {
        let hold = d.holding();
        if hold != held {
            match hold {
                Some(why) => log::warn!("this node claims nothing for now: {why}"),
                None if held.is_some() => log::info!("this node may claim again"),
                None => {}
            }
            held = hold;
        }
        // A held node is not ticked while it is a standby with nothing running: it writes
        // nothing and so can claim nothing. Anything else it must see through.
        let tick = hold.is_none() || d.node.role() != Role::Standby || d.app.is_running();
        if tick {
            let r = d.node_mut().tick();
            d.act(r);
        }
        while let Some(ev) = d.app.poll() {
            d.on_app_event(ev);
        }
        d.retry_start();
        d.check_probe();
        d.feed_guard();
        d.pet_watchdog();
        d.housekeeping();
        if !ready {
            notifier.send("READY=1");
            ready = true;
        }
        if shown_role != Some(d.role) {
            shown_role = Some(d.role);
            notifier.send(&format!("STATUS={} (epoch {})", role_name(d.role), d.epoch));
        }
        notifier.ping();
        // A held node looks again every half period (its core, not ticked, is always due).
        let mut wait = if tick {
            d.node.next_tick_in()
        } else {
            timing.period / 2
        };
        if d.app.is_running() && !d.app.is_serving() {
            wait = wait.min(Duration::from_millis(10));
        }
        if d.hb.app_port.is_some() && d.app.is_serving() {
            wait = wait.min(Duration::from_millis(50));
        }
        if wait_readable(stop_fd, wait) {
            break;
        }
    }
    log::info!("stopping: releasing this node");
    notifier.send("STOPPING=1");
    d.pending_start = None;
    d.restart_pending = false;
    let r = d.node_mut().release();
    d.act(r);
    // Ticks from here on only while the node is STOPPING, which never claims: an application
    // that outlives its stop keeps the record changing, so nobody takes over beside it.
    let until = Instant::now() + timing.kill_budget + timing.io_timeout * 2;
    let mut next_tick = Instant::now() + d.node.next_tick_in();
    while d.app.is_running() {
        if let Some(ev) = d.app.poll() {
            if ev == AppEvent::Stopped {
                let r = d.node.app_stopped();
                d.report(&r);
            }
            continue;
        }
        if Instant::now() >= until {
            d.app.kill("shutting down");
        }
        if d.node.role() == Role::Stopping && Instant::now() >= next_tick {
            let r = d.node_mut().tick();
            d.report(&r);
            next_tick = Instant::now() + d.node.next_tick_in();
        }
        d.feed_guard();
        d.pet_watchdog();
        d.housekeeping();
        notifier.ping();
        std::thread::sleep(Duration::from_millis(5));
    }
    let r = d.node.flush();
    d.report(&r);
    d.feed_guard();
    if let Some(g) = d.guard.take() {
        g.close();
    }
    // The application is gone: the host needs no reset any more.
    if let Some(w) = d.watchdog.take() {
        w.disarm();
    }
    log::info!("stopped");
    Ok(())
}
