//! The heartbeat state machine: events in, actions out. No I/O and no clock reads: the
//! driver (a node, or the simulation) performs the actions and reports what happened, with
//! times from the node's own monotonic clock.
//!
//! The protocol is a delta lease over single-writer records (research: leases §7): a node
//! claims by writing CLAIMING, then reading every peer (Dekker-style: two claimers cannot
//! both miss each other), confirms after a pause, writes ACTIVE and starts the application.
//! The active stops the application when its renew deadline (start of its last successful
//! write + F1) passes, whatever storage says; a peer takes over only after seeing the
//! active's record unchanged for D > F1 + K.

use std::collections::BTreeMap;

use std::time::Duration;

use crate::heartbeat::codec::NODE_USED;
use crate::heartbeat::observe::{Liveness, Observation, Time};
use crate::heartbeat::record::{MaintMode, MaintRecord, NodeRecord, NodeState};
use crate::heartbeat::timing::Timing;

/// The role of this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Standby,
    Claiming,
    Active,
    Stopping,
}

/// What happened, as the driver reports it. Times are the node's monotonic clock.
#[derive(Clone, Debug)]
pub enum Event {
    /// Time has passed.
    Tick,
    /// A read of a peer's record (or of our own, when `node` is us) ended.
    NodeRead {
        node: String,
        started: Time,
        ended: Time,
        result: Result<Vec<u8>, String>,
    },
    /// A read of the maintenance record ended; `Ok(None)`: bytes that do not decode.
    MaintRead {
        started: Time,
        ended: Time,
        result: Result<Option<MaintRecord>, String>,
    },
    /// Our own record's write ended.
    Written {
        started: Time,
        ended: Time,
        ok: bool,
    },
    /// The application started for `epoch` is confirmed gone (after `StopApp`, or it died by
    /// itself). A report about another epoch's application is stale and ignored.
    AppStopped { epoch: u64 },
    /// The application failed (died, or its health probe keeps failing): hand over.
    AppFailed(String),
    /// Graceful hand-over requested (shutdown, operator).
    Release,
}

/// What the driver must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    ReadNode(String),
    ReadMaint,
    /// Store the epoch durably on local disk before the next write, which carries it.
    PersistEpoch(u64),
    /// Write our record (at most one write is outstanding; the core ensures it).
    Write(NodeRecord),
    /// Start the application with this fencing token.
    StartApp {
        epoch: u64,
    },
    /// Stop the application now (TERM, then KILL within the kill budget).
    StopApp {
        reason: String,
        /// True when the lease is lost (deadline, overwritten record, a higher term): stop
        /// now. False for a hand-over (release, switchover, failed application).
        fence: bool,
    },
    /// Something an operator must know about.
    Alarm(String),
}

#[derive(Clone, Debug)]
pub struct CoreConfig {
    pub cluster: String,
    pub node: String,
    /// Every node of the cluster, this one included.
    pub nodes: Vec<String>,
    pub preferred: bool,
    pub timing: Timing,
    /// Random per start; also seeds the back-off jitter.
    pub incarnation: u64,
    /// The highest epoch persisted on local disk.
    pub persisted_epoch: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClaimPhase {
    /// The CLAIMING write is outstanding.
    Writing,
    /// Waiting for peer reads that started after the claim write completed.
    Reading { after: Time },
    /// Waiting until the confirm pause is over.
    Pausing { until: Time },
    /// Waiting for confirm reads that started after the pause.
    Confirming { after: Time },
    /// The ACTIVE write is outstanding.
    Activating,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfterStop {
    /// Write RELEASED: peers may take over at once.
    Release,
    /// Write STANDBY.
    Standby,
}

/// A snapshot for status displays and the C ABI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreStatus {
    pub role: Role,
    pub epoch: u64,
    pub deadline_left: Option<u64>,
    pub maint: MaintMode,
    pub maint_ok: bool,
    pub app_running: bool,
}

pub struct Core {
    cfg: CoreConfig,
    d: u64,
    role: Role,
    seq: u64,
    epoch: u64,
    max_epoch: u64,
    /// While CLAIMING or ACTIVE: the instant our lease ends.
    deadline: Option<Time>,
    app_running: bool,
    claim: Option<ClaimPhase>,
    after_stop: AfterStop,
    peers: BTreeMap<String, Observation>,
    own: Observation,
    maint: Option<MaintRecord>,
    /// The maintenance record could not be read or decoded: behave as FROZEN.
    maint_bad: bool,
    /// The write in flight: its record and when it started.
    writing: Option<(NodeRecord, Time)>,
    /// (end, seq) of our recent acknowledged writes, oldest first.
    acks: std::collections::VecDeque<(Time, u64)>,
    last_write_ok: bool,
    /// Reads in flight, by file (node name, or "" for maintenance).
    reading: BTreeMap<String, Time>,
    /// Start of the last completed read of each peer.
    last_read: BTreeMap<String, Time>,
    next_poll: Time,
    next_write: Time,
    backoff_until: Time,
    /// When another writer was last seen in our own record: no claim until it has been
    /// gone for the takeover time.
    foreign_writer: Option<Time>,
    /// The epoch of the running application (set by `StartApp`).
    app_epoch: Option<u64>,
    /// Per peer: the longest takeover wait its records ever asked for (its F1 and K), and
    /// whether a record of it was ever decoded intact (its epoch is known).
    peer_wait: BTreeMap<String, u64>,
    peer_known: BTreeMap<String, bool>,
    /// Peers whose dead record hides its epoch, already reported.
    unknown_epoch_said: std::collections::BTreeSet<String>,
    /// The highest epoch any peer claimed, as read in its record.
    peer_epoch: u64,
    /// The latest `now` handled.
    last_now: Time,
    rng: u64,
}

const MAINT_KEY: &str = "";

impl Core {
    pub fn new(cfg: CoreConfig, now: Time) -> Core {
        let d = cfg.timing.takeover.as_nanos() as u64;
        let peers = cfg
            .nodes
            .iter()
            .filter(|n| **n != cfg.node)
            .map(|n| (n.clone(), Observation::new(now)))
            .collect();
        let p = cfg.timing.period.as_nanos() as u64;
        let mut core = Core {
            d,
            role: Role::Standby,
            seq: 0,
            // A restarted node shows the last epoch it claimed, so no peer can reuse it.
            epoch: cfg.persisted_epoch,
            max_epoch: cfg.persisted_epoch,
            deadline: None,
            app_running: false,
            claim: None,
            after_stop: AfterStop::Standby,
            peers,
            own: Observation::new(now),
            maint: None,
            maint_bad: false,
            writing: None,
            acks: std::collections::VecDeque::new(),
            last_write_ok: false,
            reading: BTreeMap::new(),
            last_read: BTreeMap::new(),
            next_poll: now,
            next_write: now,
            backoff_until: now,
            foreign_writer: None,
            app_epoch: None,
            peer_wait: BTreeMap::new(),
            peer_known: BTreeMap::new(),
            unknown_epoch_said: std::collections::BTreeSet::new(),
            peer_epoch: 0,
            last_now: now,
            rng: cfg.incarnation | 1,
            cfg,
        };
        // Nodes that are not preferred give the preferred one a head start on a cold start.
        if !core.cfg.preferred {
            core.backoff_until = now + 3 * p + core.jitter(p);
        }
        core
    }

    fn period(&self) -> u64 {
        self.cfg.timing.period.as_nanos() as u64
    }

    fn io_timeout(&self) -> u64 {
        self.cfg.timing.io_timeout.as_nanos() as u64
    }

    /// The longest a claim can take: claim write, peer reads, the pause, confirm reads,
    /// ACTIVE write (C + 4 T_io).
    fn claim_time(&self) -> u64 {
        self.cfg.timing.confirm.as_nanos() as u64 + 4 * self.io_timeout()
    }

    fn jitter(&mut self, below: u64) -> u64 {
        // xorshift64: deterministic per incarnation, which the simulation relies on.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        if below == 0 { 0 } else { self.rng % below }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn deadline(&self) -> Option<Time> {
        self.deadline
    }

    /// The epoch of the running application, if one runs.
    pub fn app_epoch(&self) -> Option<u64> {
        self.app_epoch
    }

    pub fn app_running(&self) -> bool {
        self.app_running
    }

    /// What was last read of our own record.
    pub fn own(&self) -> &Observation {
        &self.own
    }

    pub fn peer(&self, node: &str) -> Option<&Observation> {
        self.peers.get(node)
    }

    pub fn maint_mode(&self) -> MaintMode {
        self.maint
            .as_ref()
            .map_or(MaintMode::Freeze, |m| m.mode.clone())
    }

    pub fn status(&self, now: Time) -> CoreStatus {
        CoreStatus {
            role: self.role,
            epoch: self.epoch,
            deadline_left: self.deadline.map(|d| d.saturating_sub(now)),
            maint: self.maint_mode(),
            // Nothing read yet counts as not OK: the node behaves as frozen until it knows.
            maint_ok: !self.maint_bad && self.maint.is_some(),
            app_running: self.app_running,
        }
    }

    /// When the driver should call [`Core::handle`] with `Tick` next, at the latest.
    pub fn next_wakeup(&self) -> Time {
        let mut t = self.next_poll;
        // No periodic write is due while a claim runs (its writes are its own).
        if self.writing.is_none() && self.claim.is_none() {
            t = t.min(self.next_write);
        }
        if let Some(d) = self.deadline {
            t = t.min(d);
        }
        if let Some(ClaimPhase::Pausing { until }) = self.claim {
            t = t.min(until);
        }
        if self.role == Role::Standby && self.backoff_until > self.last_now {
            t = t.min(self.backoff_until);
        }
        t
    }

    fn frozen(&self) -> bool {
        self.maint_bad || self.maint.is_none() || matches!(self.maint_mode(), MaintMode::Freeze)
    }

    fn drained(&self) -> bool {
        self.maint
            .as_ref()
            .is_some_and(|m| m.drained.contains(&self.cfg.node))
    }

    fn record(&self, state: NodeState, wall_ms: u64) -> NodeRecord {
        let t = &self.cfg.timing;
        let ms = |d: std::time::Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        NodeRecord {
            cluster: self.cfg.cluster.clone(),
            node: self.cfg.node.clone(),
            incarnation: self.cfg.incarnation,
            seq: self.seq + 1,
            state,
            epoch: self.epoch,
            max_epoch: self.max_epoch,
            maint_ack: self.maint.as_ref().map_or(0, |m| m.token),
            period_ms: ms(t.period),
            renew_deadline_ms: ms(t.renew_deadline),
            takeover_ms: ms(t.takeover),
            kill_budget_ms: ms(t.kill_budget),
            preferred: self.cfg.preferred,
            wall_ms,
        }
    }

    fn state_word(&self) -> NodeState {
        match (self.role, self.claim) {
            (Role::Active, _) => NodeState::Active,
            (Role::Claiming, Some(ClaimPhase::Activating)) => NodeState::Active,
            (Role::Claiming, _) => NodeState::Claiming,
            (Role::Stopping, _) => NodeState::Stopping,
            (Role::Standby, _) if self.after_stop == AfterStop::Release => NodeState::Released,
            (Role::Standby, _) => NodeState::Standby,
        }
    }

    /// Issues a write of our record in `state`, unless one is outstanding.
    fn write(&mut self, state: NodeState, now: Time, out: &mut Vec<Action>) -> bool {
        if self.writing.is_some() {
            return false;
        }
        let rec = self.record(state, 0);
        self.seq += 1;
        self.writing = Some((rec.clone(), now));
        self.next_write = now + self.period();
        out.push(Action::Write(rec));
        true
    }

    fn poll(&mut self, now: Time, out: &mut Vec<Action>) {
        let mut files: Vec<String> = self.peers.keys().cloned().collect();
        files.push(self.cfg.node.clone());
        for node in files {
            if !self.reading.contains_key(&node) {
                self.reading.insert(node.clone(), now);
                out.push(Action::ReadNode(node));
            }
        }
        if !self.reading.contains_key(MAINT_KEY) {
            self.reading.insert(MAINT_KEY.to_string(), now);
            out.push(Action::ReadMaint);
        }
        self.next_poll = now + self.period();
    }

    fn stop_app(&mut self, reason: String, after: AfterStop, out: &mut Vec<Action>) {
        self.after_stop = after;
        self.claim = None;
        self.deadline = None;
        if self.app_running {
            self.role = Role::Stopping;
            let fence = after == AfterStop::Standby;
            out.push(Action::StopApp { reason, fence });
        } else {
            self.role = Role::Standby;
        }
    }

    fn back_off(&mut self, now: Time) {
        let p = self.period();
        // The jitter spans two periods and the node wakes when it ends (see `next_wakeup`),
        // so two nodes that are not preferred do not keep colliding on the period grid. On
        // top comes the longest a claim takes, so the preferred node, back after one period,
        // finishes its next claim before the others try again, however slow storage is.
        let wait = if self.cfg.preferred {
            p
        } else {
            3 * p + self.jitter(2 * p) + self.claim_time()
        };
        // Never shortens a longer back-off (after a failure this node must let others go).
        self.backoff_until = self.backoff_until.max(now + wait);
    }

    fn abort_claim(&mut self, why: &str, now: Time, out: &mut Vec<Action>) {
        self.claim = None;
        self.deadline = None;
        self.role = Role::Standby;
        self.after_stop = AfterStop::Standby;
        self.back_off(now);
        out.push(Action::Alarm(format!("claim abandoned: {why}")));
        self.write(NodeState::Standby, now, out);
    }

    /// Why a peer forbids claiming, if it does.
    fn blocker(&self, name: &str, obs: &Observation) -> Option<String> {
        if obs.is_failing() {
            return Some(format!("{name}: record unreadable"));
        }
        match (obs.liveness, &obs.record) {
            // A dead node's epoch must be known, or a claim could reuse it.
            (Liveness::Stale, None) if !self.peer_known.get(name).copied().unwrap_or(false) => {
                Some(format!(
                    "{name}: record corrupt and never read intact, so its epoch is unknown; \
                     start its node again (its first write repairs the record)"
                ))
            }
            (Liveness::Stale, _) => None,
            (_, Some(r)) if matches!(r.state, NodeState::Standby | NodeState::Released) => None,
            (_, Some(r)) => Some(format!("{name}: {:?} epoch {}", r.state, r.epoch)),
            (_, None) => Some(format!("{name}: record unknown or corrupt")),
        }
    }

    fn first_blocker(&self) -> Option<String> {
        self.peers.iter().find_map(|(n, o)| self.blocker(n, o))
    }

    fn may_claim(&self, now: Time) -> bool {
        let switchover_to_me =
            matches!(self.maint_mode(), MaintMode::Switchover(ref t) if *t == self.cfg.node);
        self.role == Role::Standby
            && !self.app_running
            && self.foreign_writer.is_none()
            && self.last_write_ok
            && self.writing.is_none()
            && !self.drained()
            && !self.maint_bad
            && (switchover_to_me || !self.frozen() && self.maint_mode() == MaintMode::Off)
            && (switchover_to_me || now >= self.backoff_until)
            && self.first_blocker().is_none()
    }

    fn start_claim(&mut self, now: Time, out: &mut Vec<Action>) {
        let peers_max = self
            .peers
            .values()
            .filter_map(|o| o.record.as_ref())
            .map(|r| r.epoch.max(r.max_epoch))
            .max();
        let e = self.max_epoch.max(self.epoch).max(peers_max.unwrap_or(0)) + 1;
        self.max_epoch = e;
        self.epoch = e;
        out.push(Action::PersistEpoch(e));
        self.role = Role::Claiming;
        self.after_stop = AfterStop::Standby;
        self.claim = Some(ClaimPhase::Writing);
        self.write(NodeState::Claiming, now, out);
    }

    /// All peers have been read by reads that started at or after `after`.
    fn read_since(&self, after: Time, reads: &BTreeMap<String, Time>) -> bool {
        self.peers
            .keys()
            .all(|n| reads.get(n).is_some_and(|t| *t >= after))
    }

    pub fn handle(&mut self, now: Time, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        self.last_now = self.last_now.max(now);
        match event {
            Event::Tick => {}
            Event::NodeRead {
                node,
                started,
                ended,
                result,
            } => self.on_node_read(&node, started, ended, result, &mut out),
            Event::MaintRead { result, .. } => self.on_maint_read(result, now, &mut out),
            Event::Written { started, ended, ok } => {
                self.on_written(now, started, ended, ok, &mut out)
            }
            // Nothing runs: a late or repeated report, nothing to do.
            Event::AppStopped { .. } if !self.app_running => {}
            Event::AppStopped { epoch } if self.app_epoch != Some(epoch) => {
                // About an application of another term: acting on it would release a lease
                // whose application still runs.
                out.push(Action::Alarm(format!(
                    "ignored a stale report that the application of epoch {epoch} stopped \
                     (running: epoch {})",
                    self.app_epoch.unwrap_or(0)
                )));
            }
            Event::AppStopped { .. } => {
                self.app_running = false;
                self.app_epoch = None;
                if self.role == Role::Active {
                    // It died on its own (or a fencing backstop killed it): hand over.
                    out.push(Action::Alarm(
                        "application gone while active: releasing".into(),
                    ));
                    self.stop_app("application gone".into(), AfterStop::Release, &mut out);
                    self.backoff_until = now + self.d;
                    self.next_write = now;
                } else if self.role == Role::Stopping {
                    // The next write says RELEASED or STANDBY (see `state_word`).
                    self.role = Role::Standby;
                    self.back_off(now);
                    self.next_write = now;
                }
            }
            Event::AppFailed(why) => {
                if self.app_running {
                    out.push(Action::Alarm(format!("application failed: {why}")));
                    self.stop_app(
                        format!("application failed: {why}"),
                        AfterStop::Release,
                        &mut out,
                    );
                    // Let another node take over before this one tries again.
                    self.backoff_until = now + self.d;
                }
            }
            Event::Release => {
                if matches!(self.role, Role::Active | Role::Claiming) {
                    self.stop_app("released".into(), AfterStop::Release, &mut out);
                    if self.role == Role::Standby {
                        self.next_write = now;
                    }
                    self.backoff_until = now + self.d;
                }
            }
        }
        self.step(now, &mut out);
        out
    }

    fn on_node_read(
        &mut self,
        node: &str,
        started: Time,
        ended: Time,
        result: Result<Vec<u8>, String>,
        out: &mut Vec<Action>,
    ) {
        self.reading.remove(node);
        let d = self.d;
        let cluster = self.cfg.cluster.clone();
        let decode = |b: &[u8]| NodeRecord::decode(b, &cluster).ok();
        if node == self.cfg.node {
            match result {
                Ok(bytes) => {
                    let rec = decode(&bytes);
                    // Our own record remembers epochs a lost local state dir forgot.
                    if let Some(r) = &rec {
                        self.learn_epoch(r.epoch.max(r.max_epoch), out);
                    }
                    self.own.read_ok(&bytes, rec.clone(), started, ended, d);
                    self.check_own(rec, started, ended, out);
                }
                Err(_) => self.own.read_failed(),
            }
            return;
        }
        if !self.peers.contains_key(node) {
            return;
        }
        match result {
            Ok(bytes) => {
                let rec = decode(&bytes).filter(|r| r.node == node);
                // The used part of a record intact under a damaged tail still tells the
                // peer's epoch and timing (its CRC covers them); nothing else is trusted.
                let head = rec.clone().or_else(|| {
                    decode(&bytes[..bytes.len().min(NODE_USED)]).filter(|r| r.node == node)
                });
                if let Some(r) = &head {
                    // Every epoch ever seen counts, so a record destroyed later cannot make
                    // a fencing token go backwards. A peer's own epoch is its claim; its
                    // max_epoch may only echo ours.
                    self.peer_epoch = self.peer_epoch.max(r.epoch);
                    self.learn_epoch(r.epoch.max(r.max_epoch), out);
                    self.peer_known.insert(node.to_string(), true);
                    self.learn_timing(node, r, out);
                }
                let wait = self.wait_for(node);
                if let Some(obs) = self.peers.get_mut(node) {
                    obs.read_ok(&bytes, rec, started, ended, wait);
                }
            }
            Err(_) => {
                if let Some(obs) = self.peers.get_mut(node) {
                    obs.read_failed();
                }
            }
        }
        self.last_read.insert(node.to_string(), started);
    }

    /// How long `node`'s record must stay unchanged before it counts as dead: our takeover
    /// time, or longer when the peer's own renew deadline and kill budget need more (see
    /// [`Timing::takeover_needed`]).
    fn wait_for(&self, node: &str) -> u64 {
        self.d.max(self.peer_wait.get(node).copied().unwrap_or(0))
    }

    /// Remembers the longest takeover wait `node`'s timing ever asked for, loudly when it is
    /// longer than ours: nodes should share one timing, and a mix must not be unsafe.
    fn learn_timing(&mut self, node: &str, r: &NodeRecord, out: &mut Vec<Action>) {
        let ms = |v: u32| Duration::from_millis(u64::from(v));
        let need = Timing::takeover_needed(
            ms(r.renew_deadline_ms),
            ms(r.kill_budget_ms),
            ms(r.period_ms),
        )
        .as_nanos() as u64;
        let known = self.peer_wait.get(node).copied().unwrap_or(0);
        if need <= known {
            return;
        }
        self.peer_wait.insert(node.to_string(), need);
        if need > self.d && need > known.max(self.d) {
            out.push(Action::Alarm(format!(
                "{node} runs another timing (hb.renew_deadline_ms={} hb.kill_budget_ms={} \
                 hb.period_ms={}): taking over from it needs its record unchanged for {} ms, \
                 more than this node's hb.takeover_ms={} ms; waiting {} ms for it. Give every \
                 node the same timing",
                r.renew_deadline_ms,
                r.kill_budget_ms,
                r.period_ms,
                need / 1_000_000,
                self.d / 1_000_000,
                need / 1_000_000
            )));
        }
    }

    /// Every epoch ever seen is persisted locally, so that after a restart this node never
    /// claims an epoch at or below one it knew, even if every record that held it is gone.
    fn learn_epoch(&mut self, epoch: u64, out: &mut Vec<Action>) {
        if epoch > self.max_epoch {
            self.max_epoch = epoch;
            out.push(Action::PersistEpoch(epoch));
        }
    }

    /// Our own record must be what we last wrote (or are writing): anything else means a
    /// second writer or a rolled-back storage, and an active node must stop at once.
    fn check_own(
        &mut self,
        rec: Option<NodeRecord>,
        started: Time,
        ended: Time,
        out: &mut Vec<Action>,
    ) {
        let Some(rec) = rec else { return };
        // The read must show the newest write of ours acknowledged before it started, or a
        // newer one of ours.
        let Some(&(_, seq)) = self.acks.iter().rev().find(|(ended, _)| *ended <= started) else {
            return;
        };
        if rec.incarnation == self.cfg.incarnation && rec.seq >= seq {
            // Claims resume once our record has shown only our own writes for a whole
            // takeover time: a live second writer would have overwritten it by then.
            if let Some(seen) = self.foreign_writer
                && started.saturating_sub(seen) >= self.d
            {
                self.foreign_writer = None;
                out.push(Action::Alarm(format!(
                    "no other writer in our record {} for {} ms: claiming is allowed again",
                    self.cfg.node,
                    self.d / 1_000_000
                )));
            }
            return;
        }
        if self.foreign_writer.is_none() {
            out.push(Action::Alarm(format!(
                "our record {} holds incarnation {:x} seq {} after we wrote seq {seq}: another \
                 writer or a storage rollback; not claiming until it has been gone for {} ms",
                self.cfg.node,
                rec.incarnation,
                rec.seq,
                self.d / 1_000_000
            )));
        }
        self.foreign_writer = Some(ended);
        if matches!(self.role, Role::Active | Role::Claiming) {
            self.stop_app("own record overwritten".into(), AfterStop::Standby, out);
        }
    }

    fn on_maint_read(
        &mut self,
        result: Result<Option<MaintRecord>, String>,
        now: Time,
        out: &mut Vec<Action>,
    ) {
        self.reading.remove(MAINT_KEY);
        match result {
            Ok(Some(m)) => {
                let was = self.maint_mode();
                let was_bad = self.maint_bad;
                let token_changed = self.maint.as_ref().is_none_or(|old| old.token != m.token);
                if self.maint_bad {
                    out.push(Action::Alarm("maintenance record readable again".into()));
                }
                self.maint_bad = false;
                // Leaving maintenance, or an unreadable record (which counts as FREEZE)
                // readable again: time that passed while frozen must not count.
                if m.mode == MaintMode::Off && (was_bad || token_changed && was != MaintMode::Off) {
                    for o in self.peers.values_mut() {
                        o.restart_window(now);
                    }
                }
                self.maint = Some(m);
            }
            Ok(None) => {
                if !self.maint_bad {
                    out.push(Action::Alarm(
                        "maintenance record corrupt: behaving as FREEZE".into(),
                    ));
                }
                self.maint_bad = true;
            }
            Err(e) => {
                if !self.maint_bad {
                    out.push(Action::Alarm(format!(
                        "maintenance record unreadable ({e}): behaving as FREEZE"
                    )));
                }
                self.maint_bad = true;
            }
        }
    }

    fn on_written(
        &mut self,
        now: Time,
        started: Time,
        ended: Time,
        ok: bool,
        out: &mut Vec<Action>,
    ) {
        let Some((rec, _)) = self.writing.take() else {
            return;
        };
        self.last_write_ok = ok;
        if ok {
            if self.acks.len() == 16 {
                self.acks.pop_front();
            }
            self.acks.push_back((ended, rec.seq));
        }
        let in_time = |deadline: Option<Time>| deadline.is_some_and(|d| ended < d);
        match (self.role, self.claim) {
            (Role::Claiming, Some(ClaimPhase::Writing)) => {
                if ok && ended < started + self.io_timeout() {
                    self.deadline =
                        Some(started + self.cfg.timing.renew_deadline.as_nanos() as u64);
                    self.claim = Some(ClaimPhase::Reading { after: ended });
                } else {
                    self.abort_claim("claim write failed or was late", now, out);
                }
            }
            (Role::Claiming, Some(ClaimPhase::Activating)) => {
                let deadline = started + self.cfg.timing.renew_deadline.as_nanos() as u64;
                // Learning of the write late (a paused daemon) must not start the
                // application with its lease nearly or already over.
                let time_left = now + self.io_timeout() < deadline;
                if ok && in_time(self.deadline) && time_left {
                    self.deadline = Some(deadline);
                    self.role = Role::Active;
                    self.claim = None;
                    self.app_running = true;
                    self.app_epoch = Some(self.epoch);
                    out.push(Action::StartApp { epoch: self.epoch });
                } else {
                    self.abort_claim("activation write failed or was late", now, out);
                }
            }
            (Role::Active, _)
                // No resurrection: a write that ends after the deadline extends nothing.
                if ok && rec.state == NodeState::Active && in_time(self.deadline) => {
                    self.deadline =
                        Some(started + self.cfg.timing.renew_deadline.as_nanos() as u64);
                }
            _ => {}
        }
    }

    /// Everything that depends on time and on what is known now.
    fn step(&mut self, now: Time, out: &mut Vec<Action>) {
        let waits: Vec<u64> = self.peers.keys().map(|n| self.wait_for(n)).collect();
        for (o, wait) in self.peers.values_mut().zip(waits) {
            o.refresh(now, wait);
        }
        let hidden: Vec<String> = self
            .peers
            .iter()
            .filter(|(n, o)| {
                o.liveness == Liveness::Stale
                    && o.record.is_none()
                    && !self.peer_known.get(*n).copied().unwrap_or(false)
                    && !self.unknown_epoch_said.contains(*n)
            })
            .map(|(n, _)| n.clone())
            .collect();
        for n in hidden {
            if let Some(why) = self.peers.get(&n).and_then(|o| self.blocker(&n, o)) {
                out.push(Action::Alarm(format!("not taking over: {why}")));
            }
            self.unknown_epoch_said.insert(n);
        }
        // Self-fencing comes first, whatever else happens.
        if let Some(deadline) = self.deadline
            && now >= deadline
            && matches!(self.role, Role::Active | Role::Claiming)
        {
            let was_active = self.role == Role::Active;
            out.push(Action::Alarm(format!(
                "renew deadline passed in role {:?}: stopping",
                self.role
            )));
            if was_active {
                self.stop_app("renew deadline passed".into(), AfterStop::Standby, out);
            } else {
                self.abort_claim("deadline passed while claiming", now, out);
            }
        }
        if self.role == Role::Active {
            // A fresh active peer with a higher term wins; this should never happen.
            let me = (self.epoch, self.cfg.node.clone());
            let higher = self.peers.iter().find(|(n, o)| {
                o.liveness == Liveness::Alive
                    && o.record.as_ref().is_some_and(|r| {
                        r.state == NodeState::Active && (r.epoch, (*n).clone()) > me
                    })
            });
            if let Some((n, _)) = higher {
                out.push(Action::Alarm(format!(
                    "{n} is active with a higher epoch: stepping down"
                )));
                self.stop_app(
                    "another node holds a higher epoch".into(),
                    AfterStop::Standby,
                    out,
                );
            } else if matches!(self.maint_mode(), MaintMode::Switchover(ref t) if *t != self.cfg.node)
                && !self.maint_bad
            {
                self.stop_app("switchover".into(), AfterStop::Release, out);
            }
        }
        self.advance_claim(now, out);
        if now >= self.next_poll {
            self.poll(now, out);
        }
        if self.may_claim(now) {
            self.start_claim(now, out);
        }
        if now >= self.next_write && self.claim.is_none() {
            let state = match self.role {
                Role::Active => NodeState::Active,
                _ => self.state_word(),
            };
            self.write(state, now, out);
        }
    }

    fn advance_claim(&mut self, now: Time, out: &mut Vec<Action>) {
        let Some(phase) = self.claim else { return };
        match phase {
            ClaimPhase::Reading { after } | ClaimPhase::Confirming { after } => {
                if !self.read_since(after, &self.last_read) {
                    // Reads that started before `after` do not count: read again.
                    let stale: Vec<String> = self
                        .peers
                        .keys()
                        .filter(|n| {
                            !self.reading.contains_key(*n)
                                && self.last_read.get(*n).is_none_or(|t| *t < after)
                        })
                        .cloned()
                        .collect();
                    for n in stale {
                        self.reading.insert(n.clone(), now);
                        out.push(Action::ReadNode(n));
                    }
                    return;
                }
                if let Some(why) = self.first_blocker() {
                    self.abort_claim(&format!("contended: {why}"), now, out);
                    return;
                }
                // Our epoch was chosen before these reads: if a peer already used it, claim
                // again with a higher one, so fencing tokens only ever grow.
                if self.peer_epoch >= self.epoch {
                    let why = format!(
                        "epoch {} is already taken (seen {})",
                        self.epoch, self.peer_epoch
                    );
                    self.abort_claim(&why, now, out);
                    self.backoff_until = now;
                    return;
                }
                let margin = self.io_timeout();
                if self.deadline.is_none_or(|d| now + margin >= d) {
                    self.abort_claim("too close to the claim's deadline", now, out);
                    return;
                }
                if matches!(phase, ClaimPhase::Reading { .. }) {
                    self.claim = Some(ClaimPhase::Pausing {
                        until: now + self.cfg.timing.confirm.as_nanos() as u64,
                    });
                } else {
                    self.claim = Some(ClaimPhase::Activating);
                    if !self.write(NodeState::Active, now, out) {
                        self.abort_claim("a write is still outstanding", now, out);
                    }
                }
            }
            ClaimPhase::Pausing { until } => {
                if now >= until {
                    self.claim = Some(ClaimPhase::Confirming { after: now });
                    self.advance_claim(now, out);
                }
            }
            ClaimPhase::Writing | ClaimPhase::Activating => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn cfg(node: &str, preferred: bool) -> CoreConfig {
        CoreConfig {
            cluster: "c".into(),
            node: node.into(),
            nodes: vec!["a".into(), "b".into()],
            preferred,
            timing: Timing::fast(),
            incarnation: 7,
            persisted_epoch: 0,
        }
    }

    fn peer(node: &str, state: NodeState, epoch: u64, seq: u64) -> Vec<u8> {
        NodeRecord {
            cluster: "c".into(),
            node: node.into(),
            incarnation: 9,
            seq,
            state,
            epoch,
            max_epoch: epoch,
            maint_ack: 0,
            period_ms: 100,
            renew_deadline_ms: 800,
            takeover_ms: 1500,
            kill_budget_ms: 300,
            preferred: false,
            wall_ms: 0,
        }
        .encode()
    }

    fn maint_off() -> Result<Option<MaintRecord>, String> {
        Ok(Some(MaintRecord {
            cluster: "c".into(),
            token: 1,
            mode: MaintMode::Off,
            drained: vec![],
            set_by: "t".into(),
            reason: String::new(),
            wall_ms: 0,
        }))
    }

    /// Completes everything a node asked for, one millisecond each, in order: reads
    /// return `b`'s bytes, writes succeed. Returns the actions and the time reached.
    fn serve(
        core: &mut Core,
        now: Time,
        actions: Vec<Action>,
        b: &[u8],
    ) -> (Vec<(Time, Action)>, Time) {
        let mut all = Vec::new();
        let mut queue: std::collections::VecDeque<Action> = actions.into();
        let mut t = now;
        while let Some(a) = queue.pop_front() {
            assert!(all.len() < 10_000, "the core keeps asking for I/O");
            let (started, ended) = (t, t + MS);
            let ev = match &a {
                Action::ReadNode(n) if n == "b" => Some(Event::NodeRead {
                    node: "b".into(),
                    started,
                    ended,
                    result: Ok(b.to_vec()),
                }),
                Action::ReadNode(n) => Some(Event::NodeRead {
                    node: n.clone(),
                    started,
                    ended,
                    result: Err("x".into()),
                }),
                Action::ReadMaint => Some(Event::MaintRead {
                    started,
                    ended,
                    result: maint_off(),
                }),
                Action::Write(_) => Some(Event::Written {
                    started,
                    ended,
                    ok: true,
                }),
                _ => None,
            };
            all.push((t, a));
            if let Some(ev) = ev {
                t = ended;
                queue.extend(core.handle(t, ev));
            }
        }
        (all, t)
    }

    fn run(
        core: &mut Core,
        from: Time,
        to: Time,
        b: impl Fn(Time) -> Vec<u8>,
    ) -> Vec<(Time, Action)> {
        let mut log = Vec::new();
        let mut t = from;
        while t < to {
            let actions = core.handle(t, Event::Tick);
            let (done, reached) = serve(core, t, actions, &b(t));
            log.extend(done);
            t = reached.max(t) + 20 * MS;
        }
        log
    }

    fn started(log: &[(Time, Action)]) -> Option<(Time, u64)> {
        log.iter().find_map(|(t, a)| match a {
            Action::StartApp { epoch } => Some((*t, *epoch)),
            _ => None,
        })
    }

    #[test]
    fn claims_when_the_peer_is_standby_persisting_the_epoch_first() {
        let mut core = Core::new(cfg("a", true), 0);
        let log = run(&mut core, 0, 1000 * MS, |t| {
            peer("b", NodeState::Standby, 0, t / (100 * MS))
        });
        let (_, epoch) = started(&log).expect("a becomes active");
        assert_eq!(epoch, 1);
        let persist = log
            .iter()
            .position(|(_, a)| *a == Action::PersistEpoch(1))
            .unwrap();
        let claim = log
            .iter()
            .position(|(_, a)| matches!(a, Action::Write(r) if r.state == NodeState::Claiming))
            .unwrap();
        assert!(
            persist < claim,
            "the epoch reaches local disk before the shared one"
        );
        assert_eq!(core.role(), Role::Active);
    }

    #[test]
    fn a_live_active_peer_is_never_challenged() {
        let mut core = Core::new(cfg("a", true), 0);
        // The peer's record changes every period: alive.
        let log = run(&mut core, 0, 10_000 * MS, |t| {
            peer("b", NodeState::Active, 4, t / (100 * MS))
        });
        assert_eq!(started(&log), None);
        assert!(
            !log.iter()
                .any(|(_, a)| matches!(a, Action::Write(r) if r.state != NodeState::Standby))
        );
    }

    #[test]
    fn a_dead_active_peer_is_taken_over_after_the_takeover_time_with_a_higher_epoch() {
        let mut core = Core::new(cfg("a", true), 0);
        let frozen = peer("b", NodeState::Active, 4, 99);
        let log = run(&mut core, 0, 5000 * MS, |_| frozen.clone());
        let (t, epoch) = started(&log).expect("takeover");
        assert!(t >= 1500 * MS, "not before the takeover time: {t}");
        assert_eq!(epoch, 5);
    }

    #[test]
    fn an_unreadable_peer_is_never_taken_for_dead() {
        let mut core = Core::new(cfg("a", true), 0);
        let mut t = 0;
        while t < 10_000 * MS {
            let actions = core.handle(t, Event::Tick);
            for a in actions {
                let ev = match a {
                    Action::ReadNode(n) => Event::NodeRead {
                        node: n,
                        started: t,
                        ended: t,
                        result: Err("ESTALE".into()),
                    },
                    Action::ReadMaint => Event::MaintRead {
                        started: t,
                        ended: t,
                        result: maint_off(),
                    },
                    Action::Write(_) => Event::Written {
                        started: t,
                        ended: t,
                        ok: true,
                    },
                    Action::StartApp { .. } => panic!("started with an unreadable peer"),
                    _ => continue,
                };
                core.handle(t, ev);
            }
            t += 50 * MS;
        }
        assert_eq!(core.role(), Role::Standby);
    }

    #[test]
    fn the_active_fences_itself_at_its_deadline_and_a_late_write_does_not_revive_it() {
        let mut core = Core::new(cfg("a", true), 0);
        run(&mut core, 0, 1000 * MS, |t| {
            peer("b", NodeState::Standby, 0, t / (100 * MS))
        });
        assert_eq!(core.role(), Role::Active);
        let deadline = core.deadline().unwrap();
        // Storage hangs: writes never come back.
        let mut t = 1000 * MS;
        let mut stopped = None;
        while t < deadline + 100 * MS {
            for a in core.handle(t, Event::Tick) {
                if let Action::StopApp { fence, .. } = a {
                    stopped = Some((t, fence));
                }
            }
            t += 10 * MS;
        }
        let (at, fence) = stopped.expect("self-fencing");
        assert!(at >= deadline && at < deadline + 20 * MS);
        assert!(fence);
        // The hung write finally reports success, after the deadline: nothing revives.
        let actions = core.handle(
            t,
            Event::Written {
                started: deadline - 300 * MS,
                ended: t,
                ok: true,
            },
        );
        assert!(!actions.iter().any(|a| matches!(a, Action::StartApp { .. })));
        assert_ne!(core.role(), Role::Active);
        assert_eq!(core.deadline(), None);
    }

    #[test]
    fn freeze_blocks_a_takeover() {
        let mut core = Core::new(cfg("a", true), 0);
        let frozen = peer("b", NodeState::Active, 4, 99);
        let mut t = 0;
        while t < 5000 * MS {
            for a in core.handle(t, Event::Tick) {
                let ev = match a {
                    Action::ReadNode(n) if n == "b" => Event::NodeRead {
                        node: n,
                        started: t,
                        ended: t,
                        result: Ok(frozen.clone()),
                    },
                    Action::ReadNode(n) => Event::NodeRead {
                        node: n,
                        started: t,
                        ended: t,
                        result: Err("x".into()),
                    },
                    Action::ReadMaint => {
                        let mut m = maint_off().unwrap().unwrap();
                        m.mode = MaintMode::Freeze;
                        Event::MaintRead {
                            started: t,
                            ended: t,
                            result: Ok(Some(m)),
                        }
                    }
                    Action::Write(_) => Event::Written {
                        started: t,
                        ended: t,
                        ok: true,
                    },
                    Action::StartApp { .. } => panic!("took over while frozen"),
                    _ => continue,
                };
                core.handle(t, ev);
            }
            t += 50 * MS;
        }
    }

    #[test]
    fn two_claimers_that_see_each_other_both_back_off() {
        let mut core = Core::new(cfg("a", true), 0);
        // b claims at the same time: its record says CLAIMING and changes.
        let log = run(&mut core, 0, 300 * MS, |t| {
            if t < 20 * MS {
                peer("b", NodeState::Standby, 0, 1)
            } else {
                peer("b", NodeState::Claiming, 1, t / (20 * MS))
            }
        });
        assert_eq!(started(&log), None);
        assert!(
            log.iter()
                .any(|(_, a)| matches!(a, Action::Alarm(m) if m.contains("contended")))
        );
    }

    fn timed_peer(state: NodeState, epoch: u64, seq: u64, f1: u32, k: u32) -> Vec<u8> {
        let mut r = NodeRecord::decode(&peer("b", state, epoch, seq), "c").unwrap();
        r.renew_deadline_ms = f1;
        r.kill_budget_ms = k;
        r.encode()
    }

    fn alarms(log: &[(Time, Action)]) -> Vec<String> {
        log.iter()
            .filter_map(|(_, a)| match a {
                Action::Alarm(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_holder_with_a_longer_fence_is_waited_for_by_its_own_timing_loudly() {
        // b: F1 4000 ms, K 1000 ms (period 100 ms); a: the fast profile, D 1500 ms.
        let need = Timing::takeover_needed(
            Duration::from_millis(4000),
            Duration::from_millis(1000),
            Duration::from_millis(100),
        );
        assert!(need > Duration::from_millis(5000), "{need:?}");
        let mut core = Core::new(cfg("a", true), 0);
        let frozen = timed_peer(NodeState::Active, 4, 99, 4000, 1000);
        let log = run(&mut core, 0, 9000 * MS, |_| frozen.clone());
        let (t, epoch) = started(&log).expect("takeover once b's own fence is over");
        assert!(
            t >= need.as_nanos() as u64,
            "took over at {} ms, before b's application is surely gone ({need:?})",
            t / MS
        );
        assert_eq!(epoch, 5);
        let said = alarms(&log);
        assert!(
            said.iter().any(|m| m.contains("hb.renew_deadline_ms=4000")
                && m.contains("hb.kill_budget_ms=1000")
                && m.contains(&format!("{} ms", need.as_millis()))),
            "{said:?}"
        );
    }

    #[test]
    fn a_stale_application_report_of_an_earlier_term_is_ignored() {
        // The daemon learns late that the application of an earlier epoch stopped, after
        // the application of the current epoch started: nothing may be released.
        let mut c = cfg("a", true);
        c.persisted_epoch = 2;
        let mut core = Core::new(c, 0);
        run(&mut core, 0, 1000 * MS, |t| {
            peer("b", NodeState::Standby, 0, t / (100 * MS))
        });
        assert_eq!((core.role(), core.app_epoch()), (Role::Active, Some(3)));
        let out = core.handle(1000 * MS, Event::AppStopped { epoch: 2 });
        assert!(
            !out.iter()
                .any(|a| matches!(a, Action::StopApp { .. } | Action::Write(_))),
            "{out:?}"
        );
        assert!(alarms(&out.into_iter().map(|a| (0, a)).collect::<Vec<_>>())[0].contains("stale"));
        assert_eq!(core.role(), Role::Active);
        assert!(core.app_running());
        // The report about this term's application is acted on.
        core.handle(1001 * MS, Event::AppStopped { epoch: 3 });
        assert_ne!(core.role(), Role::Active);
        assert!(!core.app_running());
    }

    #[test]
    fn a_record_garbled_before_it_was_ever_read_blocks_a_claim_its_epoch_being_unknown() {
        // b claimed epoch 7 and its record was garbled in the used part before a started.
        let mut bytes = peer("b", NodeState::Active, 7, 3);
        bytes[100] ^= 0xff;
        let mut core = Core::new(cfg("a", true), 0);
        let log = run(&mut core, 0, 6000 * MS, |_| bytes.clone());
        assert_eq!(started(&log), None, "claimed over an unknown epoch");
        assert!(
            alarms(&log)
                .iter()
                .any(|m| m.contains("its epoch is unknown")),
            "{:?}",
            alarms(&log)
        );
    }

    #[test]
    fn a_record_damaged_only_after_its_crc_still_tells_the_epoch() {
        // Garbage in the zero tail: the record is not trusted, but the epoch its checked
        // part holds is learned, so the takeover uses a higher one.
        let mut bytes = peer("b", NodeState::Active, 7, 3);
        bytes[3000] ^= 0xff;
        let mut core = Core::new(cfg("a", true), 0);
        let log = run(&mut core, 0, 6000 * MS, |_| bytes.clone());
        let (_, epoch) = started(&log).expect("takeover of a dead node");
        assert_eq!(epoch, 8);
    }

    /// Ticks every 20 ms from `from` to `to`, answering every action at once with
    /// `answer` (None: nothing comes back), and logs every action.
    fn drive(
        core: &mut Core,
        from: Time,
        to: Time,
        mut answer: impl FnMut(Time, &Action) -> Option<Event>,
    ) -> Vec<(Time, Action)> {
        let mut log = Vec::new();
        let mut t = from;
        while t < to {
            let mut queue: std::collections::VecDeque<Action> = core.handle(t, Event::Tick).into();
            while let Some(a) = queue.pop_front() {
                assert!(log.len() < 1_000_000, "the core keeps asking");
                if let Some(ev) = answer(t, &a) {
                    queue.extend(core.handle(t, ev));
                }
                log.push((t, a));
            }
            t += 20 * MS;
        }
        log
    }

    fn read_ok(node: &str, t: Time, bytes: Vec<u8>) -> Option<Event> {
        Some(Event::NodeRead {
            node: node.into(),
            started: t,
            ended: t,
            result: Ok(bytes),
        })
    }

    fn written(t: Time) -> Option<Event> {
        Some(Event::Written {
            started: t,
            ended: t,
            ok: true,
        })
    }

    #[test]
    fn an_unreadable_maintenance_record_readable_again_restarts_the_window() {
        let mut core = Core::new(cfg("a", true), 0);
        let frozen = peer("b", NodeState::Active, 4, 99);
        // Unreadable (FREEZE) for the first 2 s, then OFF.
        let log = drive(&mut core, 0, 6000 * MS, |t, a| match a {
            Action::ReadNode(n) if n == "b" => read_ok(n, t, frozen.clone()),
            Action::ReadNode(n) => Some(Event::NodeRead {
                node: n.clone(),
                started: t,
                ended: t,
                result: Err("x".into()),
            }),
            Action::ReadMaint => Some(Event::MaintRead {
                started: t,
                ended: t,
                result: if t < 2000 * MS {
                    Err("EIO".into())
                } else {
                    maint_off()
                },
            }),
            Action::Write(_) => written(t),
            _ => None,
        });
        let (at, _) = started(&log).expect("takeover after a whole window");
        assert!(
            at >= 3500 * MS,
            "took over {} ms after the record became readable: frozen time counted",
            (at - 2000 * MS) / MS
        );
    }

    #[test]
    fn a_node_that_saw_another_writer_claims_again_once_it_is_gone_for_the_takeover_time() {
        let mut core = Core::new(cfg("a", true), 0);
        let mut own: Option<Vec<u8>> = None;
        let mut stopped = None;
        let foreign = peer("a", NodeState::Standby, 0, 1);
        // b is a live standby throughout; a second writer owns a's record from 300 ms to
        // 1500 ms. a claims at once, stops when it sees the other writer, and may claim again
        // only once its record has been its own for the takeover time (1500 ms).
        let log = drive(&mut core, 0, 6000 * MS, |t, a| match a {
            Action::ReadNode(n) if n == "b" => {
                read_ok(n, t, peer("b", NodeState::Standby, 0, t / (100 * MS)))
            }
            Action::ReadNode(n) if (300 * MS..1500 * MS).contains(&t) => {
                read_ok(n, t, foreign.clone())
            }
            Action::ReadNode(n) => Some(Event::NodeRead {
                node: n.clone(),
                started: t,
                ended: t,
                result: own.clone().ok_or_else(|| "ENOENT".to_string()),
            }),
            Action::ReadMaint => Some(Event::MaintRead {
                started: t,
                ended: t,
                result: maint_off(),
            }),
            Action::Write(r) => {
                own = Some(r.encode());
                written(t)
            }
            Action::StopApp { .. } => {
                stopped = Some(t);
                Some(Event::AppStopped { epoch: 1 })
            }
            _ => None,
        });
        let said = alarms(&log);
        assert!(
            said.iter().any(|m| m.contains("another writer")),
            "{said:?}"
        );
        assert!(stopped.is_some_and(|t| t < 1500 * MS), "{stopped:?}");
        assert!(
            said.iter().any(|m| m.contains("claiming is allowed again")),
            "{said:?}"
        );
        let again: Vec<Time> = log
            .iter()
            .filter_map(|(t, a)| matches!(a, Action::StartApp { .. }).then_some(*t))
            .collect();
        assert!(
            again.len() == 2 && again[1] >= 3000 * MS,
            "starts at {again:?}"
        );
    }
}
