//! What keeps an application from outliving this node's lease: the guard process, which
//! holds the application's group and its absolute lease deadline, the watchdog device, the
//! hold after an earlier run, and an application SIGKILL cannot end.

use hamon::heartbeat::node::{TickResult, boottime};

use super::Daemon;
use crate::guard::Guard;
use crate::incident::{self, Kind};
use crate::{run_lock, supervise, watchdog_device};

impl Daemon {
    /// A guard runs (one is started when there is none); false when none can be started.
    pub(super) fn ensure_guard(&mut self) -> bool {
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
            Some(exe) => Guard::spawn(exe, self.hb.log_file.as_deref(), Some(&self.config))
                .map_err(|e| e.to_string()),
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
    /// without a guard, so one that has none is handed over: the node's answer.
    pub(super) fn feed_guard(&mut self) -> Option<TickResult> {
        for _ in 0..2 {
            if !self.ensure_guard() {
                break;
            }
            let line = match self.app.pgid() {
                Some(pgid) => (pgid, self.app_deadline),
                None => (0, 0),
            };
            let term = self.node.held_term();
            let sent = self.guard.as_mut().map(|g| {
                g.send(line.0, line.1)
                    .and_then(|()| g.send_term(term.as_ref()))
            });
            match sent {
                Some(Err(e)) => {
                    let reason = incident::describe_io(&e);
                    let text = format!("cannot reach the guard: {reason}; starting a new one");
                    self.raise(Kind::Guard, None, &reason, &text);
                    if let Some(g) = self.guard.take() {
                        g.kill();
                    }
                }
                _ => return None,
            }
        }
        if !self.app.is_serving() || !self.life.fail() {
            return None;
        }
        self.raise(
            Kind::Guard,
            None,
            "the guard cannot be started or reached",
            "the application runs without a guard; handing over",
        );
        Some(self.hand_over("no guard"))
    }

    /// Pets the watchdog device unless an application that should be gone is still there: its
    /// own lease deadline passed, or a group of an earlier run survives. The daemon has just
    /// turned its loop, so it is alive and in control.
    pub(super) fn pet_watchdog_device(&mut self) {
        let app_ok = watchdog_device::may_pet(self.app.is_running(), boottime(), self.app_deadline);
        if let Some(w) = self.watchdog_device.as_mut()
            && app_ok
            && self.stray.is_none()
            && let Some(e) = w.pet()
        {
            let text = format!("the watchdog device cannot be petted: {e}");
            self.raise(Kind::Watchdog, None, &e, &text);
        }
    }

    /// Why the node must not claim now, if it must not.
    pub(super) fn holding(&mut self) -> Option<&'static str> {
        if !self.take_run_lock() {
            return Some(
                "the guard of its last run still hands that run's term over, or another daemon \
                 runs with this hb.state_dir (its run.lock is held)",
            );
        }
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
        } else if self.damping.holding(boottime()).is_some() {
            Some("its application failed here recently (hb.flap_backoff_ms)")
        } else if !self.ensure_guard() {
            Some("no guard")
        } else {
            None
        }
    }

    /// Holds `STATE_DIR/run.lock`, taking it if it is free: the guard of an earlier run is
    /// done with it (see `run_lock`).
    fn take_run_lock(&mut self) -> bool {
        if self.run_lock.is_some() {
            return true;
        }
        let dir = &self.node.settings().state_dir;
        match run_lock::try_take(dir) {
            Ok(lock) => self.run_lock = lock,
            // Said once; the hold's own line says what it means.
            Err(e) if !self.run_lock_failing => {
                self.run_lock_failing = true;
                log::error!("cannot lock {}: {e}", run_lock::path(dir).display());
            }
            Err(_) => {}
        }
        self.run_lock.is_some()
    }

    pub(super) fn housekeeping(&mut self) {
        self.incidents.housekeeping();
        if let Some(t) = self.app.outlived_kill()
            && let Some(pgid) = self.app.pgid()
        {
            supervise::signal_group(pgid, libc::SIGKILL);
            if !self.unkillable_reported {
                self.unkillable_reported = true;
                let wd = if self.watchdog_device.is_some() {
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
