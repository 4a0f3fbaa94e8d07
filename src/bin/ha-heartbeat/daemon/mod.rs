//! `ha-heartbeat run`: the daemon that runs a heartbeat [`Node`] and supervises the
//! application (docs/heartbeat.md, "The daemon"). [`run`] is `setup`, then `step` until the
//! stop descriptor becomes readable, then `shutdown`. Each step ticks the node and carries out
//! its action (`act`), then reads what happened to the application, the HA port, the guard
//! and the watchdog device.
//!
//! The parts: `phase` (what the daemon is doing about the application: named transitions,
//! pure), `start` (the gated start and the application's events), `fencing` (guard, watchdog
//! device, holds), `watch` (what a tick tells about the cluster, and the incidents that page),
//! `ha_port` (the HA-port probe thread), `setup`. The binary turns SIGTERM/SIGINT into the
//! readable descriptor; nothing here installs signal handlers.

mod fencing;
mod ha_port;
mod phase;
mod setup;
mod start;
mod watch;

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hamon::config::{Config, HeartbeatSettings};
use hamon::heartbeat::core::Role;
use hamon::heartbeat::node::{Node, TickAction, TickResult, boottime};
use hamon::heartbeat::record::MaintMode;
use hamon::metrics::heartbeat::{Peer, Snapshot, exposition};

use crate::flap::Damping;
use crate::guard::Guard;
use crate::incident::{Incident, Incidents, Kind};
use crate::journal::Journal;
use crate::metrics::MetricsServer;
use crate::notify::Notifier;
use crate::page::{Own, Page};
use crate::pause;
use crate::run_lock::RunLock;
use crate::supervise::{self, App, AppEvent};
use crate::watchdog_device::WatchdogDevice;
use ha_port::HaPort;
use phase::Lifecycle;
use watch::{ClusterWatch, ServiceWatch, role_name};

/// `ha-heartbeat run`. Returns when `stop_fd` becomes readable, after releasing.
/// `guard_exe`: the program to run as `guard_exe guard --config CONFIG` (None: no guard);
/// `config`: the file `cfg` was read from.
pub fn run(
    cfg: &Config,
    config: &Path,
    stop_fd: RawFd,
    guard_exe: Option<&Path>,
) -> Result<(), String> {
    let mut daemon = Daemon::setup(cfg, config, guard_exe)?;
    daemon.begin();
    while daemon.step(stop_fd) {}
    daemon.shutdown();
    Ok(())
}

struct Daemon {
    hb: HeartbeatSettings,
    node: Node,
    app: App,
    /// What the daemon is doing about the application.
    life: Lifecycle,
    /// Its failures here, and the back-off they cause.
    damping: Damping,
    /// The prober of `hb.app_port`, when set.
    ha_port: Option<HaPort>,
    guard: Option<Guard>,
    guard_exe: Option<PathBuf>,
    /// The configuration file, for the guard.
    config: PathBuf,
    /// `STATE_DIR/run.lock`, once taken (see `run_lock`).
    run_lock: Option<RunLock>,
    /// The lock cannot be taken for another reason than a holder (reported once).
    run_lock_failing: bool,
    /// The guard cannot be started (reported once until it can).
    guard_failing: bool,
    watchdog_device: Option<WatchdogDevice>,
    /// The absolute lease deadline (boot clock) the guard holds for the current application:
    /// set when it is handed over, renewed only while it serves the term the node holds.
    app_deadline: u64,
    role: Role,
    /// The epoch of the last tick.
    epoch: u64,
    incidents: Incidents,
    watch: ClusterWatch,
    service: ServiceWatch,
    /// The application outlived SIGKILL by the kill budget: reported.
    unkillable_reported: bool,
    /// A process group left by an earlier run that SIGKILL has not ended yet.
    stray: Option<i32>,
    /// Until this instant (boot clock) the node claims nothing: the daemon's last run may have
    /// been active, and its lease must be over first.
    hold_until: u64,
    turn: Turn,
    /// `hb.metrics_listen`: the latest exposition is published there once a turn.
    metrics: Option<MetricsServer>,
    /// The status page on the same listener: what this daemon saw of the records, once a
    /// turn.
    page: Option<Arc<Page>>,
    /// What this node decided and why (`STATE_DIR/events.jsonl`).
    journal: Journal,
    /// The maintenance mode of the last tick, to journal its changes.
    last_maint: Option<MaintMode>,
    counts: Counts,
    /// The application group whose fence was counted last (the daemon's kill and the
    /// guard's may both reach one group).
    fenced_group: Option<i32>,
}

/// What the metrics count over the daemon's run.
struct Counts {
    started: Instant,
    takeovers: u64,
    fences: u64,
    /// Per kind; kinds never raised are absent (and shown as 0).
    incidents: HashMap<Kind, u64>,
}

impl Default for Counts {
    fn default() -> Counts {
        Counts {
            started: Instant::now(),
            takeovers: 0,
            fences: 0,
            incidents: HashMap::new(),
        }
    }
}

/// What the loop shows outside: systemd's notify messages, and why the node holds.
struct Turn {
    notifier: Notifier,
    ready: bool,
    shown_role: Option<Role>,
    held: Option<&'static str>,
}

impl Turn {
    fn new() -> Turn {
        Turn {
            notifier: Notifier::from_env(),
            ready: false,
            shown_role: None,
            held: None,
        }
    }

    /// Logs when the reason to claim nothing changes.
    fn holding(&mut self, hold: Option<&'static str>) {
        if hold == self.held {
            return;
        }
        match hold {
            Some(why) => log::warn!("this node claims nothing for now: {why}"),
            None if self.held.is_some() => log::info!("this node may claim again"),
            None => {}
        }
        self.held = hold;
    }

    /// After a turn: ready (once), the role when it changed, the service manager's watchdog.
    fn turned(&mut self, role: Role, epoch: u64) {
        if !self.ready {
            self.notifier.send("READY=1");
            self.ready = true;
        }
        if self.shown_role != Some(role) {
            self.shown_role = Some(role);
            self.notifier
                .send(&format!("STATUS={} (epoch {epoch})", role_name(role)));
        }
        self.notifier.ping();
    }
}

impl Daemon {
    /// Logs an incident and pages through `hb.incident_cmd` (see `incident`).
    fn raise(&mut self, kind: Kind, peer: Option<&str>, reason: &str, text: &str) {
        let epoch = self.epoch;
        self.journal.note(kind.name(), epoch, peer, text);
        *self.counts.incidents.entry(kind).or_default() += 1;
        if kind == Kind::Takeover {
            self.counts.takeovers += 1;
        }
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

    /// Before the first step: orphans of the application are reaped here, and a guard runs.
    fn begin(&mut self) {
        if let Err(e) = supervise::become_subreaper() {
            log::warn!(
                "cannot become a child subreaper: {e}; the application's orphans are not reaped \
                 here"
            );
        }
        let r = self.feed_guard();
        self.act_on(r);
    }

    /// One turn of the loop; false once `stop_fd` is readable.
    fn step(&mut self, stop_fd: RawFd) -> bool {
        let hold = self.holding();
        self.turn.holding(hold);
        // A held node is not ticked while it is a standby with nothing running: it writes
        // nothing and so can claim nothing. Anything else it must see through.
        let tick = hold.is_none() || self.node.role() != Role::Standby || self.app.is_running();
        if tick {
            let r = self.node_mut().tick();
            self.act(r);
        }
        if self.app.is_serving() {
            pause::point("serving");
        }
        while let Some(ev) = self.app.poll() {
            let r = self.on_app_event(ev);
            self.act_on(r);
        }
        let r = self.retry_start();
        self.act_on(r);
        let r = self.check_ha_port();
        self.act_on(r);
        let r = self.feed_guard();
        self.act_on(r);
        self.watch_service();
        self.pet_watchdog_device();
        self.housekeeping();
        self.turn.turned(self.role, self.epoch);
        self.publish_metrics();
        !wait_readable(stop_fd, self.next_wait(tick))
    }

    /// How long the loop may sleep: until the node's next tick (a held node looks again every
    /// half period), shorter while the application starts or stops, or its HA port's answer
    /// is awaited; never less than `MIN_WAIT` unless the lease deadline comes sooner.
    fn next_wait(&self, ticked: bool) -> Duration {
        let mut wait = if ticked {
            self.node.next_tick_in()
        } else {
            self.node.settings().timing.period / 2
        };
        wait = wait.max(min_wait(self.node.lease_deadline(), boottime()));
        if self.app.is_running() && !self.app.is_serving() {
            wait = wait.min(Duration::from_millis(10));
        }
        if self.ha_port.is_some() && self.app.is_serving() {
            wait = wait.min(Duration::from_millis(50));
        }
        wait
    }

    /// Releases the node and waits for the application to be gone (killing it after the kill
    /// budget), then disarms what fences.
    fn shutdown(mut self) {
        log::info!("stopping: releasing this node");
        self.turn.notifier.send("STOPPING=1");
        self.life.stop_given();
        let r = self.node_mut().release();
        self.act(r);
        // Ticks from here on only while the node is STOPPING, which never claims: an
        // application that outlives its stop keeps the record changing, so nobody takes over
        // beside it.
        let timing = self.node.settings().timing;
        let until = Instant::now() + timing.kill_budget + timing.io_timeout * 2;
        let mut next_tick = Instant::now() + self.node.next_tick_in();
        while self.app.is_running() {
            if let Some(ev) = self.app.poll() {
                if ev == AppEvent::Stopped {
                    let r = self.node.app_stopped_epoch(self.life.epoch());
                    self.report(&r);
                }
                continue;
            }
            if Instant::now() >= until {
                self.app.kill("shutting down");
            }
            if self.node.role() == Role::Stopping && Instant::now() >= next_tick {
                let r = self.node_mut().tick();
                self.report(&r);
                next_tick = Instant::now() + self.node.next_tick_in();
            }
            let r = self.feed_guard();
            self.act_on(r);
            self.pet_watchdog_device();
            self.housekeeping();
            self.turn.notifier.ping();
            std::thread::sleep(Duration::from_millis(5));
        }
        let r = self.node.flush();
        self.report(&r);
        let r = self.feed_guard();
        self.act_on(r);
        if let Some(g) = self.guard.take() {
            g.close();
        }
        // The application is gone: the host needs no reset any more.
        if let Some(w) = self.watchdog_device.take() {
            w.disarm();
        }
        log::info!("stopped");
    }

    /// Carries out what the node asked for, then what the node answers to that, until it
    /// asks for nothing more.
    fn act(&mut self, first: TickResult) {
        let mut next = Some(first);
        while let Some(r) = next {
            self.report(&r);
            next = self.carry_out(&r);
            self.renew_app_deadline();
        }
    }

    /// `act` on the node's answer, if it was told something.
    fn act_on(&mut self, answer: Option<TickResult>) {
        if let Some(r) = answer {
            self.act(r);
        }
    }

    /// One action of the node; the node's answer when it had to be told something.
    fn carry_out(&mut self, r: &TickResult) -> Option<TickResult> {
        match r.action {
            TickAction::Start => {
                self.life.start_given(r.epoch);
                if self.app.is_running() {
                    // The previous term's application is still on its way out.
                    self.app.kill("a new term starts");
                    return None;
                }
                self.start_app()
            }
            TickAction::Keep => {
                if self.app.is_running() || !self.life.missing_is_failure() {
                    return None;
                }
                self.life.fail();
                Some(self.hand_over("the application is not running"))
            }
            TickAction::Stop | TickAction::Fence => {
                self.life.stop_given();
                if !self.app.is_running() {
                    // Nothing runs: the stop the node just asked for is done.
                    return Some(self.node.app_stopped());
                }
                if r.action == TickAction::Fence {
                    self.count_fence();
                    self.app.kill("the lease is lost (fence)");
                } else {
                    let why = "the heartbeat asks for a hand-over";
                    self.journal.note(
                        "app_stop",
                        r.epoch,
                        None,
                        &format!("stopping the application: {why}"),
                    );
                    self.app.stop(why);
                }
                None
            }
            TickAction::None => {
                if self.app.is_serving() && r.role != Role::Active {
                    // Nothing may run here now: never leave an application behind.
                    self.app.kill("running without a lease");
                }
                None
            }
        }
    }
}

impl Daemon {
    /// The metrics of this turn, for `hb.metrics_listen`, and what the status page needs
    /// of what this daemon saw.
    fn publish_metrics(&self) {
        let Some(server) = &self.metrics else {
            return;
        };
        if let Some(page) = &self.page {
            // Alive: its record changed within the takeover time, as this daemon saw it.
            let takeover = self.node.settings().timing.takeover;
            let seen = self
                .node
                .status()
                .into_iter()
                .map(|v| (v.name, v.changed_ago.filter(|d| *d < takeover)))
                .collect();
            let own = Own {
                role: role_name(self.role),
                lease_left: self
                    .node
                    .lease_deadline()
                    .map(|d| Duration::from_nanos(d.saturating_sub(boottime()))),
                write_latency: self.node.last_write(),
            };
            page.publish_seen(seen, own);
        }
        let peers = self
            .node
            .status()
            .into_iter()
            .filter(|v| !v.is_self)
            .map(|v| Peer {
                name: v.name,
                liveness: v.liveness,
                changed_ago: v.changed_ago,
            })
            .collect();
        let lease_left = self
            .node
            .lease_deadline()
            .map(|d| Duration::from_nanos(d.saturating_sub(boottime())));
        let snapshot = Snapshot {
            node: self.node.settings().node.clone(),
            role: self.role,
            epoch: self.epoch,
            lease_left,
            last_write: self.node.last_write(),
            peers,
            takeovers: self.counts.takeovers,
            fences: self.counts.fences,
            incidents: Kind::ALL
                .iter()
                .map(|k| (k.name(), self.counts.incidents.get(k).copied().unwrap_or(0)))
                .collect(),
            uptime: self.counts.started.elapsed(),
        };
        server.publish(exposition(&snapshot));
    }
}

/// The shortest sleep of the loop. Right after a tick, a node whose next tick is due at once
/// could not move its timers on: what it waits for (a lease, an answer from storage or etcd,
/// the end of a back-off) has not come, and ticking again at once changes nothing. Sleeping
/// this long costs nothing (callers tick every half period, far longer); spinning would cost
/// a whole core beside the application, on every standby and fenced node.
const MIN_WAIT: Duration = Duration::from_millis(10);

/// The least the loop sleeps at `now` (boot clock): `MIN_WAIT`, or less when the lease
/// deadline (`deadline`) comes sooner, so that the node fences at it. A deadline that passed
/// already is no reason to wake: the tick that just ran saw it.
fn min_wait(deadline: Option<u64>, now: u64) -> Duration {
    match deadline {
        Some(d) if d > now => MIN_WAIT.min(Duration::from_nanos(d - now)),
        _ => MIN_WAIT,
    }
}

/// Waits until `fd` is readable or `timeout` passes (rounded up to a millisecond, so that a
/// wait shorter than one is not a busy poll); true when readable.
fn wait_readable(fd: RawFd, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_micros().div_ceil(1000).min(60_000) as i32;
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    rc > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn the_loop_never_waits_less_than_the_floor_unless_the_deadline_is_nearer() {
        let now = 1_000 * MS;
        assert_eq!(min_wait(None, now), MIN_WAIT);
        assert_eq!(min_wait(Some(now + 800 * MS), now), MIN_WAIT);
        assert_eq!(min_wait(Some(now + 3 * MS), now), Duration::from_millis(3));
        // Passed: the tick saw it; no reason to spin.
        assert_eq!(min_wait(Some(now), now), MIN_WAIT);
        assert_eq!(min_wait(Some(now - MS), now), MIN_WAIT);
    }
}
