//! Setting the daemon up: its settings checked, what an earlier run left behind dealt with
//! (a process group that must die, a lease that may not be over), then the node and, last,
//! the watchdog device.

use std::path::Path;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use hamon::config::Config;
use hamon::heartbeat::core::Role;
use hamon::heartbeat::node::{Node, NodeSettings, boottime};
use hamon::heartbeat::record::{NodeRecord, NodeState};
use hamon::heartbeat::store::{FileStore, Store};
use hamon::heartbeat::timing::Timing;

use super::ha_port::HaPort;
use super::phase::Lifecycle;
use super::watch::{ClusterWatch, ServiceWatch};
use super::{Counts, Daemon, Turn};
use crate::account::Account;
use crate::flap::{self, Damping};
use crate::incident::{Incidents, Kind};
use crate::journal::Journal;
use crate::metrics::MetricsServer;
use crate::page::Page;
use crate::supervise::App;
use crate::watchdog_device::{self, WatchdogDevice};

impl Daemon {
    /// Everything up to the first turn of the loop. `guard_exe`: the program to run as
    /// `guard_exe guard` (None: no guard).
    pub(super) fn setup(
        cfg: &Config,
        config: &Path,
        guard_exe: Option<&Path>,
    ) -> Result<Daemon, String> {
        let hb = cfg.heartbeat.clone();
        let settings = NodeSettings::from_config(&hb).map_err(|e| e.to_string())?;
        watchdog_device::check_settings(&hb)?;
        flap::check_settings(&hb)?;
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
            Account::resolve(&hb)?,
        );
        app.check_log()?;
        // Damping starts afresh with each run: an earlier run's back-off is not this one's.
        let _ = std::fs::remove_file(flap::state_path(&settings.state_dir));
        if !settings.on_etcd() && !settings.dir.is_dir() {
            // Not fatal: the share may be mounted later; until then nobody here takes over.
            log::error!(
                "hb.dir {}: not a directory (not mounted yet?); this node takes over nothing \
                 until it can read and write the records there",
                settings.dir.display()
            );
        }
        // Looked at before the group of an earlier run is killed, which forgets it.
        let maybe_active = earlier_run_maybe_active(&app, &settings);
        let stray = kill_stray(&app, timing);
        let hold_until = maybe_active.map_or(0, |why| hold(why, timing));
        log::info!(
            "node {} of {} {}: period {} ms, takeover {} ms",
            settings.node,
            settings.nodes.join(","),
            settings.storage(),
            timing.period.as_millis(),
            timing.takeover.as_millis()
        );
        let ha_port = match hb.app_port {
            Some(port) => Some(
                HaPort::spawn(port, timing.period, timing.io_timeout.min(timing.period))
                    .map_err(|e| format!("cannot start the thread probing hb.app_port: {e}"))?,
            ),
            None => None,
        };
        let incidents = Incidents::new(hb.incident_cmd.clone(), &settings.node);
        let journal = Journal::open(&settings.state_dir, &settings.node);
        crate::publish::start(&settings);
        let (metrics, page) = match hb.metrics_listen {
            Some(addr) => {
                let page = Page::new(settings.clone());
                (Some(MetricsServer::start(addr, page.clone())?), Some(page))
            }
            None => (None, None),
        };
        let node = Node::new(settings).map_err(|e| e.to_string())?;
        // Opened (and armed) last, just before the loop that pets it.
        let watchdog_device = match &hb.watchdog_device {
            Some(path) => Some(WatchdogDevice::open(
                path,
                timing.watchdog_device_limit(),
                timing.loop_turn(),
            )?),
            None => None,
        };
        let mut daemon = Daemon {
            life: Lifecycle::new(hb.restart_limit),
            damping: Damping::new(&hb),
            hb,
            node,
            app,
            ha_port,
            guard: None,
            guard_exe: guard_exe.map(Path::to_path_buf),
            config: config.to_path_buf(),
            run_lock: None,
            run_lock_failing: false,
            guard_failing: false,
            watchdog_device,
            app_deadline: 0,
            role: Role::Standby,
            epoch: 0,
            incidents,
            watch: ClusterWatch::new(),
            service: ServiceWatch::default(),
            unkillable_reported: false,
            stray,
            hold_until,
            turn: Turn::new(),
            metrics,
            page,
            journal,
            last_maint: None,
            counts: Counts::default(),
            fenced_group: None,
        };
        if let Some(pgid) = daemon.stray {
            daemon.raise(
                Kind::AppUnkillable,
                None,
                &format!("pgid {pgid} of an earlier run survives SIGKILL"),
                &format!(
                    "the process group {pgid} left by an earlier run survives SIGKILL: this node \
                     claims nothing until it is gone"
                ),
            );
        }
        Ok(daemon)
    }
}

/// Why the daemon's last run may have ended while active (an application recorded, or its
/// record not STANDBY or RELEASED), if it may have. On etcd nothing is to be waited out
/// here: the last run's term is its leader key in etcd, attached to its lease, and no node,
/// this one included, claims while that key exists; its application is killed before the
/// node starts (or, surviving SIGKILL, holds every claim back).
fn earlier_run_maybe_active(app: &App, s: &NodeSettings) -> Option<&'static str> {
    if s.on_etcd() {
        return None;
    }
    if app.left_by_earlier_run() {
        Some("an application was recorded")
    } else if !own_record_idle(s) {
        Some("its record is not STANDBY or RELEASED, or cannot be read")
    } else {
        None
    }
}

/// A run that may have been active may have left a lease that is not over yet: claim
/// nothing for a full lease and kill budget from now, as if another node held it. Until when
/// (boot clock).
fn hold(why: &str, timing: Timing) -> u64 {
    let hold = timing.renew_deadline + timing.kill_budget;
    log::warn!(
        "this node may have been active when its daemon last ended ({why}): it claims nothing \
         for {} ms (hb.renew_deadline_ms + hb.kill_budget_ms)",
        hold.as_millis()
    );
    boottime() + hold.as_nanos() as u64
}

/// Kills the process group an earlier run left, waiting up to the kill budget; the group
/// when it survives SIGKILL.
fn kill_stray(app: &App, timing: Timing) -> Option<i32> {
    let mut stray = app.stray_group();
    let pgid = stray?;
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
    stray
}

/// This node's record says it was not claiming, active or stopping when its last run ended:
/// STANDBY or RELEASED (or never written). Read at most for the I/O timeout; an unreadable
/// record cannot tell.
fn own_record_idle(s: &NodeSettings) -> bool {
    let store = FileStore::new(s.dir.clone());
    let node = s.node.clone();
    let (tx, rx) = channel();
    let spawned = std::thread::Builder::new()
        .name("hamon-hbown".into())
        .spawn(move || {
            let _ = tx.send(store.read_node(&node));
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
