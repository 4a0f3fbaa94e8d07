//! Starting the application safely, and what happens to it afterwards: its death, its end,
//! its HA port's verdict. Each returns the node's answer when the node was told something,
//! for the daemon to act on.

use hamon::heartbeat::core::Role;
use hamon::heartbeat::node::{TickResult, boottime};

use super::Daemon;
use super::phase::{AfterDeath, AfterGone};
use crate::incident::Kind;
use crate::supervise::AppEvent;
use crate::{flap, pause};

impl Daemon {
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

    /// The lease ran out while the application was being started: it is killed at its gate,
    /// and the start waits for the next renewal.
    fn out_of_lease(&self, deadline: u64) -> bool {
        boottime() + self.start_margin() >= deadline
    }

    /// Starts the application of the term, if the lease allows it at this instant: its group
    /// is created held at its gate, the guard acknowledges the group and the absolute lease
    /// deadline, the lease is checked again, and only then the gate opens. A start the lease
    /// does not allow now waits for the next renewal (or is dropped by the fence).
    pub(super) fn start_app(&mut self) -> Option<TickResult> {
        pause::point("start");
        let epoch = self.life.epoch();
        let Some(deadline) = self.lease_for_start() else {
            log::warn!("not starting the application now: the lease does not allow it");
            self.life.start_deferred();
            return None;
        };
        if !self.ensure_guard() {
            return Some(self.refuse_start("there is no guard to fence it"));
        }
        if let Some(p) = self.ha_port.as_mut() {
            p.restart();
        }
        self.unkillable_reported = false;
        let pgid = match self.app.spawn_gated(epoch) {
            Ok(pgid) => pgid,
            Err(e) => return Some(self.refuse_start(&format!("cannot start it: {e}"))),
        };
        self.app_deadline = deadline;
        // A new group: its fence is counted afresh, even should its pgid be an old one's.
        self.fenced_group = None;
        pause::point("forked");
        let until = deadline.saturating_sub(self.start_margin());
        let handed = match self.guard.as_mut() {
            Some(g) => g.hand_off(pgid, deadline, until),
            None => Err(std::io::Error::other("no guard")),
        };
        if let Err(e) = handed {
            if self.out_of_lease(deadline) {
                // The daemon was held up past the lease: not the guard's fault.
                self.app.kill("the lease ran out during its start");
                self.life.start_deferred();
                return None;
            }
            self.app.kill("the guard did not take it over");
            if let Some(g) = self.guard.take() {
                g.kill();
            }
            return Some(self.refuse_start(&format!("the guard did not take it over ({e})")));
        }
        pause::point("handed");
        if self.out_of_lease(deadline) {
            self.app.kill("the lease ran out during its start");
            self.life.start_deferred();
            return None;
        }
        if let Err(e) = self.app.open_gate(epoch) {
            self.app.kill("its gate cannot be opened");
            return Some(self.refuse_start(&format!("cannot open its gate: {e}")));
        }
        self.life.started();
        let text = format!("started the application (process group {pgid})");
        self.journal.note("app_start", epoch, None, &text);
        pause::point("running");
        None
    }

    /// The application cannot be started safely: the node hands over.
    fn refuse_start(&mut self, why: &str) -> TickResult {
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
        self.life.fail();
        self.hand_over(why)
    }

    /// Tells the node the application failed, so that it hands over; the failure counts for
    /// the flap damping.
    pub(super) fn hand_over(&mut self, why: &str) -> TickResult {
        if let Some(backoff) = self.damping.failed(boottime()) {
            log::warn!(
                "the application failed here {} time(s) within hb.failure_timeout_ms: this node \
                 claims nothing for {} ms once it is stopped (hb.flap_backoff_ms)",
                self.damping.failures(),
                backoff.as_millis()
            );
            let text = format!(
                "the application failed here {} time(s) within hb.failure_timeout_ms (last: \
                 {why}): this node claims nothing for {} ms",
                self.damping.failures(),
                backoff.as_millis()
            );
            self.journal.note("damping", self.epoch, None, &text);
            let state = self.damping.state(why);
            if let Err(e) = state.store(&self.node.settings().state_dir) {
                log::warn!(
                    "cannot write {}: {e}",
                    flap::state_path(&self.node.settings().state_dir).display()
                );
            }
        }
        self.node_mut().app_failed(why)
    }

    /// A start that waited for the lease: tried again once nothing else runs.
    pub(super) fn retry_start(&mut self) -> Option<TickResult> {
        if self.life.start_pending() && !self.app.is_running() && self.node.role() == Role::Active {
            return self.start_app();
        }
        None
    }

    pub(super) fn on_app_event(&mut self, ev: AppEvent) -> Option<TickResult> {
        let active = self.node.role() == Role::Active;
        let (epoch, text) = match &ev {
            AppEvent::Died(why) => (self.life.epoch(), format!("the application ended: {why}")),
            AppEvent::Stopped => (
                self.life.epoch(),
                format!(
                    "the application is gone ({})",
                    self.app.last_exit().unwrap_or("exit status unknown")
                ),
            ),
        };
        self.journal.note("app_exit", epoch, None, &text);
        match ev {
            AppEvent::Died(why) if self.killed_at_deadline() => {
                log::warn!(
                    "the application ({why}) was killed at its lease deadline: a fence, not a \
                     failure of the application"
                );
                self.count_fence();
                self.life.fenced(active);
                None
            }
            AppEvent::Died(why) => match self.life.died(active) {
                AfterDeath::Nothing => None,
                AfterDeath::Restart { n, limit } => {
                    let text = format!("the application died ({why}); local restart {n}/{limit}");
                    self.raise(Kind::AppRestart, None, &why, &text);
                    None
                }
                AfterDeath::HandOver => {
                    let text = format!("the application died ({why}); handing over");
                    self.raise(Kind::AppFailed, None, &why, &text);
                    Some(self.hand_over(&why))
                }
            },
            AppEvent::Stopped => match self.life.gone(active) {
                AfterGone::Restart => {
                    pause::point("restart");
                    self.start_app()
                }
                AfterGone::Start => self.start_app(),
                AfterGone::Report { epoch } => Some(self.node.app_stopped_epoch(epoch)),
            },
        }
    }

    /// The application's group, seen gone now, may have been killed by the guard at the lease
    /// deadline it held: whichever comes first, that kill or this node's own FENCE, the end
    /// of the application is a fence and never a failure (no incident, no damping).
    fn killed_at_deadline(&self) -> bool {
        let (Some(pgid), Some(guard)) = (self.app.pgid(), self.guard.as_ref()) else {
            return false;
        };
        guard.killed_at_deadline(pgid, boottime())
    }

    /// Counts a fence of the current group, once however many of the daemon and the guard
    /// kill it.
    pub(super) fn count_fence(&mut self) {
        let pgid = self.app.pgid();
        if pgid.is_some() && self.fenced_group != pgid {
            self.fenced_group = pgid;
            self.counts.fences += 1;
        }
    }

    /// The guard's deadline follows the lease only for the application of the term the node
    /// holds, while it serves; one being stopped keeps the deadline it had.
    pub(super) fn renew_app_deadline(&mut self) {
        if self.app.is_serving()
            && self.node.role() == Role::Active
            && self.life.epoch() == self.epoch
            && let Some(deadline) = self.node.lease_deadline()
        {
            self.app_deadline = deadline;
        }
    }

    /// Reads the HA port's verdict: enough failed probes in a row hand over.
    pub(super) fn check_ha_port(&mut self) -> Option<TickResult> {
        let serving = self.app.is_serving();
        let uptime = self.app.uptime();
        let grace = self.node.settings().timing.takeover;
        let limit = self.hb.app_probe_fail;
        let p = self.ha_port.as_mut()?;
        if !serving {
            p.forget();
            return None;
        }
        let port = p.port();
        let bad = p.poll(uptime, grace, limit)?;
        if !self.life.fail() {
            return None;
        }
        let text = format!(
            "the application is unhealthy: {} failed probes of port {port} (last: {}); \
             handing over",
            bad.fails, bad.last
        );
        self.raise(Kind::AppFailed, None, &bad.last, &text);
        Some(self.hand_over(&format!("unhealthy: {}", bad.last)))
    }
}
