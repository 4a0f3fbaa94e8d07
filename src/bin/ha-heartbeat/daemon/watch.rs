//! What the daemon learns from each tick besides its action: role changes, the alarms that
//! page, and the cluster as a whole (no node active for longer than the failover bound, a
//! peer with another timing, this node's own record not changing).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::time::Instant;

use hamon::heartbeat::core::Role;
use hamon::heartbeat::node::{TickAction, TickResult, boottime};
use hamon::heartbeat::observe::Liveness;
use hamon::heartbeat::record::NodeState;
use hamon::heartbeat::store::FileStore;

use super::Daemon;
use crate::incident::{self, Kind};
use crate::status::{self, ClusterStatus};

/// While this node backs off after failures it is not ticked, so its view of the peers
/// stands still: whether any node runs the application is then read as `ha-heartbeat status`
/// reads it, on a thread (one at a time, at most one per half failover bound).
#[derive(Default)]
pub(super) struct ServiceWatch {
    observation: Option<Receiver<ClusterStatus>>,
    last: Option<Instant>,
    /// Since when no node was seen active (None: one was, or not backing off).
    down_since: Option<Instant>,
    /// Paged in this run of failures (until they are forgotten).
    reported: bool,
}

/// What the watching remembers between ticks.
pub(super) struct ClusterWatch {
    /// Since when no node has been seen active (None: one is).
    none_active_since: Option<Instant>,
    /// The current time without an active node was paged.
    no_active_reported: bool,
    /// The last own-storage check (at most one per period).
    last_storage_check: Option<Instant>,
    /// A storage check's thread has not returned yet.
    storage_check_busy: Arc<AtomicBool>,
    /// Peers whose other timing was reported.
    timing_reported: Vec<String>,
}

impl ClusterWatch {
    /// At start no node has been seen active yet.
    pub(super) fn new() -> ClusterWatch {
        ClusterWatch {
            none_active_since: Some(Instant::now()),
            no_active_reported: false,
            last_storage_check: None,
            storage_check_busy: Arc::default(),
            timing_reported: Vec::new(),
        }
    }
}

pub(super) fn role_name(r: Role) -> &'static str {
    match r {
        Role::Standby => "standby",
        Role::Claiming => "claiming",
        Role::Active => "active",
        Role::Stopping => "stopping",
    }
}

impl Daemon {
    pub(super) fn report(&mut self, r: &TickResult) {
        self.epoch = r.epoch;
        if r.role != self.role {
            log::info!(
                "role {} -> {} (epoch {})",
                role_name(self.role),
                role_name(r.role),
                r.epoch
            );
            let text = format!(
                "{} -> {} (epoch {})",
                role_name(self.role),
                role_name(r.role),
                r.epoch
            );
            self.journal.note("role", r.epoch, None, &text);
            if r.role == Role::Active {
                self.on_became_active();
            }
            self.role = r.role;
        }
        if r.maint_ok && self.last_maint.as_ref() != Some(&r.maint) {
            // The first tick's mode is journaled too: a restart shows what it found.
            let text = format!("maintenance {}", status::maint_name(&r.maint));
            self.journal.note("maintenance", r.epoch, None, &text);
            self.last_maint = Some(r.maint.clone());
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
        // The fencing token at the top of its range (said once per process): nobody here
        // claims until an operator resets the cluster's epoch.
        if let Some(a) = has("epoch exhausted") {
            let text = format!("fencing token: {a}");
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
            self.watch.none_active_since = None;
            if std::mem::take(&mut self.watch.no_active_reported) {
                log::info!("a node is active again");
            }
        } else {
            let since = *self
                .watch
                .none_active_since
                .get_or_insert_with(Instant::now);
            let bound = timing.failover_bound();
            if since.elapsed() > bound && !self.watch.no_active_reported {
                // Once per outage (the rate limit covers a flapping one).
                self.watch.no_active_reported = true;
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
            if rec.period_ms != 0 && ours != theirs && !self.watch.timing_reported.contains(&v.name)
            {
                self.watch.timing_reported.push(v.name.clone());
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
    pub(super) fn check_storage(&mut self, now: bool) {
        // On etcd there is no record file: the backend's alarms name the endpoints' errors.
        if self.node.settings().on_etcd() {
            return;
        }
        let timing = self.node.settings().timing;
        if !now
            && self
                .watch
                .last_storage_check
                .is_some_and(|t| t.elapsed() < timing.period)
        {
            return;
        }
        // A check that hangs (a dead NFS server) keeps its thread: never more than one.
        if self.watch.storage_check_busy.load(Ordering::Acquire) {
            return;
        }
        self.watch.last_storage_check = Some(Instant::now());
        let busy = self.watch.storage_check_busy.clone();
        busy.store(true, Ordering::Release);
        let path =
            FileStore::new(self.node.settings().dir.clone()).node_path(&self.node.settings().node);
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
                busy.store(false, Ordering::Release);
                let _ = tx.send(r);
            });
        if spawned.is_err() {
            self.watch
                .storage_check_busy
                .store(false, Ordering::Release);
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

    /// While this node backs off: pages once per run of failures when no node has been seen
    /// active for longer than the failover bound, i.e. no node can run the application now.
    pub(super) fn watch_service(&mut self) {
        let Some(left) = self.damping.holding(boottime()) else {
            self.service.down_since = None;
            self.service.observation = None;
            if self.damping.failures() == 0 {
                self.service.reported = false;
            }
            return;
        };
        let timing = self.node.settings().timing;
        // Often enough to judge against the failover bound; rarely enough that reads a hung
        // share holds up (each bounded, its thread left behind) stay few over a back-off.
        let every = (timing.failover_bound() / 2).max(timing.period);
        if let Some(rx) = &self.service.observation {
            match rx.try_recv() {
                Ok(c) => {
                    self.service.observation = None;
                    self.judge_service(&c, left);
                }
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => self.service.observation = None,
            }
        }
        if self.service.last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.service.last = Some(Instant::now());
        let settings = self.node.settings().clone();
        let window = timing.period * 2 + timing.io_timeout * 2;
        let (tx, rx) = channel();
        let spawned = std::thread::Builder::new()
            .name("hamon-hbwatch".into())
            .spawn(move || {
                let _ = tx.send(status::observe_backend(&settings, window));
            });
        if spawned.is_ok() {
            self.service.observation = Some(rx);
        }
    }

    fn judge_service(&mut self, c: &ClusterStatus, left: std::time::Duration) {
        if !c.live_actives().is_empty() {
            self.service.down_since = None;
            return;
        }
        let seen_from = Instant::now() - c.observed;
        let since = *self.service.down_since.get_or_insert(seen_from);
        let bound = self.node.settings().timing.failover_bound();
        if since.elapsed() <= bound || self.service.reported {
            return;
        }
        self.service.reported = true;
        let peers: Vec<String> = c
            .nodes
            .iter()
            .filter(|n| n.name != self.node.settings().node)
            .map(|n| match &n.record {
                Ok(r) if n.changed() => format!("{} {}", n.name, status::state_name(r.state)),
                Ok(r) => format!(
                    "{} {} (no change seen)",
                    n.name,
                    status::state_name(r.state)
                ),
                Err(e) => format!("{} unreadable ({e})", n.name),
            })
            .collect();
        let reason = format!(
            "no node seen active for {} ms (failover bound {} ms); the application failed here \
             {} time(s) within hb.failure_timeout_ms and this node claims nothing for another \
             {} ms; peers: {}",
            since.elapsed().as_millis(),
            bound.as_millis(),
            self.damping.failures(),
            left.as_millis(),
            peers.join(", ")
        );
        let text = format!("the service is down everywhere: {reason}");
        self.raise(Kind::ServiceDown, None, &reason, &text);
    }
}
