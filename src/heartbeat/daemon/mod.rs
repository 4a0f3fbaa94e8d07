//! `ha-heartbeat`: the daemon that runs a heartbeat [`Node`] and supervises the application.
//! The library never installs signal handlers: the binary turns SIGTERM/SIGINT into a
//! readable file descriptor that [`run`] watches.

pub mod cli;
pub mod guard;
pub mod notify;
pub mod status;
pub mod supervise;
pub mod watchdog;

use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use crate::config::{Config, HeartbeatSettings};
use crate::heartbeat::core::Role;
use crate::heartbeat::node::{Node, NodeSettings, TickAction, TickResult, boottime};
use crate::heartbeat::record::MaintMode;
use crate::monitor::state::State;
use crate::probe::{ProbeCommand, ProbeRequest, probe};
use guard::Guard;
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
        cli::Command::Switchover(to) => {
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
            (Some(MaintMode::Switchover(target)), None)
        }
        _ => return Err("not a maintenance command".into()),
    };
    let drain_ref = drain.as_ref().map(|(n, on)| (n.as_str(), *on));
    let rec = crate::heartbeat::node::update_maintenance(store, s, mode, drain_ref, &reason)
        .map_err(|e| e.to_string())?;
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
    watchdog: Option<WatchdogDevice>,
    /// Lease deadline on the boot clock last given to the guard.
    deadline: u64,
    role: Role,
    /// The epoch of the last tick.
    epoch: u64,
    incidents: Vec<Child>,
    /// Process groups of finished incident commands that may still hold orphans.
    incident_groups: Vec<i32>,
    /// A START came while the previous application was still going: its epoch.
    pending_start: Option<u64>,
    /// Local restarts in this term.
    restarts: u32,
    /// The application died and is restarted locally once its group is gone.
    restart_pending: bool,
    /// The application failed (died or unhealthy): the node was told.
    failed: bool,
    probe_rx: Option<Receiver<bool>>,
    last_probe: Option<Instant>,
    probe_fails: u32,
    probe_ok_once: bool,
}

impl Daemon {
    fn incident(&mut self, what: &str) {
        log::error!("incident: {what}");
        let Some(cmd) = self.hb.incident_cmd.clone() else {
            return;
        };
        let node = self.node.settings().node.clone();
        match Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd)
            .env("HB_INCIDENT", what)
            .env("HB_NODE", node)
            .env("HB_EPOCH", self.node_epoch().to_string())
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
        {
            Ok(c) => self.incidents.push(c),
            Err(e) => log::error!("cannot run hb.incident_cmd: {e}"),
        }
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
            self.role = r.role;
        }
        // Alarms are logged by the node itself.
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
                if !self.app.is_running() && !self.failed {
                    self.failed = true;
                    let r2 = self.node.app_failed("the application is not running");
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
        if matches!(r.action, TickAction::Start | TickAction::Keep)
            && let Some(left) = r.deadline_left
        {
            self.deadline = boottime() + left.as_nanos() as u64;
        }
    }

    fn start_app(&mut self, epoch: u64) {
        self.probe_fails = 0;
        self.probe_ok_once = false;
        self.probe_rx = None;
        self.last_probe = Some(Instant::now());
        if let Err(e) = self.app.start(epoch) {
            self.incident(&format!("cannot start the application: {e}"));
            self.failed = true;
            let r = self.node.app_failed(&format!("cannot start: {e}"));
            self.act(r);
        }
    }

    fn on_app_event(&mut self, ev: AppEvent) {
        match ev {
            AppEvent::Died(why) => {
                let active = self.node.role() == Role::Active;
                if active && self.restarts < self.hb.restart_limit {
                    self.restarts += 1;
                    self.incident(&format!(
                        "the application died ({why}); local restart {}/{}",
                        self.restarts, self.hb.restart_limit
                    ));
                    self.restart_pending = true;
                } else if active {
                    self.incident(&format!("the application died ({why}); handing over"));
                    self.failed = true;
                    let r = self.node.app_failed(&why);
                    self.act(r);
                }
            }
            AppEvent::Stopped => {
                if let Some(epoch) = self.pending_start.take()
                    && self.node.role() == Role::Active
                {
                    self.start_app(epoch);
                    return;
                }
                if self.restart_pending {
                    self.restart_pending = false;
                    let lease_ok = self.node.role() == Role::Active;
                    if lease_ok {
                        let epoch = self.node_epoch();
                        self.start_app(epoch);
                        return;
                    }
                }
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
            && let Ok(healthy) = rx.try_recv()
        {
            self.probe_rx = None;
            if healthy {
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
                    self.incident(&format!(
                        "the application is unhealthy: {n} failed probes of port {port}; handing over"
                    ));
                    let r = self.node.app_failed("unhealthy");
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
                let healthy =
                    matches!(probe(&req), Ok(r) if matches!(r.state, State::Up | State::Degraded));
                let _ = tx.send(healthy);
            });
        }
    }

    fn feed_guard(&mut self) {
        if self.guard.as_mut().is_some_and(|g| !g.alive()) {
            log::error!("the guard process is gone; starting a new one");
            self.guard = None;
        }
        if self.guard.is_none()
            && let Some(exe) = &self.guard_exe
        {
            match Guard::spawn(exe) {
                Ok(g) => self.guard = Some(g),
                Err(e) => log::error!("cannot start the guard: {e}"),
            }
        }
        let line = match self.app.pgid() {
            Some(pgid) => (pgid, self.deadline),
            None => (0, 0),
        };
        if let Some(g) = self.guard.as_mut()
            && let Err(e) = g.send(line.0, line.1)
        {
            log::error!("cannot reach the guard: {e}");
            self.guard = None;
        }
    }

    /// Pets the watchdog device unless the application runs past its lease: the daemon has
    /// just turned its loop, so it is alive and in control.
    fn pet_watchdog(&mut self) {
        let past_lease = !watchdog::may_pet(self.app.is_running(), boottime(), self.deadline);
        if let Some(w) = self.watchdog.as_mut()
            && !past_lease
        {
            w.pet();
        }
    }

    fn housekeeping(&mut self) {
        let mut done = Vec::new();
        self.incidents.retain_mut(|c| match c.try_wait() {
            Ok(None) => true,
            _ => {
                done.push(c.id() as i32);
                false
            }
        });
        self.incident_groups.extend(done);
        self.incident_groups.retain(|&pg| {
            supervise::reap_group(pg);
            supervise::signal_group(pg, 0)
        });
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
    if let Some(pgid) = app.kill_stray(timing.kill_budget * 2) {
        log::warn!("killed process group {pgid} left by an earlier run");
    }
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
    let mut d = Daemon {
        hb,
        node,
        app,
        guard: None,
        guard_exe: guard_exe.map(Path::to_path_buf),
        watchdog,
        deadline: 0,
        role: Role::Standby,
        epoch: 0,
        incidents: Vec::new(),
        incident_groups: Vec::new(),
        pending_start: None,
        restarts: 0,
        restart_pending: false,
        failed: false,
        probe_rx: None,
        last_probe: None,
        probe_fails: 0,
        probe_ok_once: false,
    };
    let mut notifier = notify::Notifier::from_env();
    let mut ready = false;
    let mut shown_role = None;
    if let Err(e) = supervise::become_subreaper() {
        log::warn!(
            "cannot become a child subreaper: {e}; the application's orphans are not reaped here"
        );
    }
    d.feed_guard();
    loop {
        let r = d.node.tick();
        d.act(r);
        while let Some(ev) = d.app.poll() {
            d.on_app_event(ev);
        }
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
        let mut wait = d.node.next_tick_in();
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
    let r = d.node.release();
    d.act(r);
    // No ticks from here on: the node must not claim again while the daemon exits.
    let until = Instant::now() + timing.kill_budget + timing.io_timeout * 2;
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
        d.feed_guard();
        d.pet_watchdog();
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
