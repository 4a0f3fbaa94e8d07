//! The heartbeat state machine: events in, actions out. No I/O and no clock reads: the
//! driver (a node, or the simulation) performs the actions and reports what happened, with
//! times from the node's own monotonic clock.
//!
//! The protocol is a delta lease over single-writer records (docs/heartbeat.md): a node
//! claims by writing CLAIMING, then reading every peer (Dekker-style: two claimers cannot
//! both miss each other), confirms after a pause, writes ACTIVE and starts the application.
//! The active stops the application when its renew deadline (start of its last successful
//! write + F1) passes, whatever storage says; a peer takes over only after seeing the
//! active's record unchanged for D > F1 + K.
//!
//! The state is grouped by what it is about: this node's [`Lease`], the [`Claim`] machinery,
//! what it has [`Observed`] of the records, and its record [`RecordIo`] in flight. The
//! claim lives in `claim.rs`, the handling of reads and writes in `records.rs`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use crate::heartbeat::observe::{Liveness, Observation, Time};
use crate::heartbeat::record::{MaintMode, MaintRecord, NodeRecord, NodeState};
use crate::heartbeat::timing::Timing;
use switchover::SwitchoverWatch;

mod claim;
mod records;
mod switchover;
#[cfg(test)]
mod tests;

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

/// The timing in nanoseconds of the node's clock, converted once.
#[derive(Clone, Copy, Debug)]
struct Nanos {
    period: u64,
    io_timeout: u64,
    renew_deadline: u64,
    confirm: u64,
    /// D: how long a peer's record must stay unchanged before it counts as dead.
    takeover: u64,
    /// D + 2P + 6 T_io + C: the longest a failover takes; a switchover gets as long.
    failover_bound: u64,
}

impl Nanos {
    fn of(t: &Timing) -> Nanos {
        Nanos {
            period: ns(t.period),
            io_timeout: ns(t.io_timeout),
            renew_deadline: ns(t.renew_deadline),
            confirm: ns(t.confirm),
            takeover: ns(t.takeover),
            failover_bound: ns(t.failover_bound()),
        }
    }

    /// The longest a claim can take: claim write, peer reads, the pause, confirm reads,
    /// ACTIVE write (C + 4 T_io).
    fn claim_time(&self) -> u64 {
        self.confirm + 4 * self.io_timeout
    }
}

/// A duration in nanoseconds (saturating: no timing comes near 584 years).
fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfterStop {
    /// Write RELEASED: peers may take over at once.
    Release,
    /// Write STANDBY.
    Standby,
}

/// This node's lease and the application it covers.
struct Lease {
    role: Role,
    /// The epoch of our current (or last) term: the fencing token.
    epoch: u64,
    /// The highest epoch known anywhere (persisted before it is written).
    max_epoch: u64,
    /// While CLAIMING or ACTIVE: the instant our lease ends.
    deadline: Option<Time>,
    /// What the next write says once the application is stopped.
    after_stop: AfterStop,
    /// The epoch of the running application (set by `StartApp`); None: nothing runs.
    app: Option<u64>,
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

/// Claiming: the phase of a claim under way and when the next one may begin.
struct Claim {
    phase: Option<ClaimPhase>,
    /// No claim before this instant (a switchover to this node aside).
    backoff_until: Time,
    /// xorshift64 state of the back-off jitter, seeded by the incarnation.
    jitter_state: u64,
    /// The epoch is at the top of its range and that was said (claim.rs).
    epoch_top_said: bool,
}

/// What this node has learnt from reading the records.
struct Observed {
    own: Observation,
    peers: BTreeMap<String, Observation>,
    /// Per peer: the longest takeover wait its records ever asked for (its F1 and K).
    peer_wait: BTreeMap<String, u64>,
    /// Peers of which a record was decoded intact at least once: their epoch is known.
    epoch_known: BTreeSet<String>,
    /// Peers whose dead record hides its epoch, already reported.
    unknown_epoch_reported: BTreeSet<String>,
    /// The highest epoch any peer claimed, as read in its record.
    peer_epoch: u64,
    maint: Option<MaintRecord>,
    /// The maintenance record could not be read or decoded: behave as FROZEN.
    maint_bad: bool,
    /// The switchover the maintenance record names, as this node follows it.
    switchover: Option<SwitchoverWatch>,
    /// When another writer was last seen in our own record: no claim until it has been
    /// gone for the takeover time.
    foreign_writer: Option<Time>,
}

/// Our own record's I/O: writes, reads in flight and when the next are due.
struct RecordIo {
    /// The sequence number of our last write issued.
    seq: u64,
    /// The write in flight: its record and when it started.
    writing: Option<(NodeRecord, Time)>,
    /// (end, seq) of our recent acknowledged writes, oldest first.
    acks: VecDeque<(Time, u64)>,
    last_write_ok: bool,
    /// Reads of node records in flight, by node, with when they were issued.
    node_reads: BTreeMap<String, Time>,
    /// A read of the maintenance record is in flight.
    maint_read: bool,
    /// Start of the last completed read of each peer.
    last_read: BTreeMap<String, Time>,
    next_poll: Time,
    next_write: Time,
}

pub struct Core {
    cfg: CoreConfig,
    t: Nanos,
    lease: Lease,
    claim: Claim,
    seen: Observed,
    io: RecordIo,
    /// The latest `now` handled.
    last_now: Time,
}

impl Core {
    pub fn new(cfg: CoreConfig, now: Time) -> Core {
        let peers = cfg
            .nodes
            .iter()
            .filter(|n| **n != cfg.node)
            .map(|n| (n.clone(), Observation::new(now)))
            .collect();
        let mut core = Core {
            t: Nanos::of(&cfg.timing),
            lease: Lease {
                role: Role::Standby,
                // A restarted node shows the last epoch it claimed, so no peer can reuse it.
                epoch: cfg.persisted_epoch,
                max_epoch: cfg.persisted_epoch,
                deadline: None,
                after_stop: AfterStop::Standby,
                app: None,
            },
            claim: Claim {
                phase: None,
                backoff_until: now,
                jitter_state: cfg.incarnation | 1,
                epoch_top_said: false,
            },
            seen: Observed {
                own: Observation::new(now),
                peers,
                peer_wait: BTreeMap::new(),
                epoch_known: BTreeSet::new(),
                unknown_epoch_reported: BTreeSet::new(),
                peer_epoch: 0,
                maint: None,
                maint_bad: false,
                switchover: None,
                foreign_writer: None,
            },
            io: RecordIo {
                seq: 0,
                writing: None,
                acks: VecDeque::new(),
                last_write_ok: false,
                node_reads: BTreeMap::new(),
                maint_read: false,
                last_read: BTreeMap::new(),
                next_poll: now,
                next_write: now,
            },
            last_now: now,
            cfg,
        };
        // Nodes that are not preferred give the preferred one a head start on a cold start.
        if !core.cfg.preferred {
            let p = core.t.period;
            core.claim.backoff_until = now + 3 * p + core.jitter(p);
        }
        core
    }

    pub fn role(&self) -> Role {
        self.lease.role
    }

    pub fn epoch(&self) -> u64 {
        self.lease.epoch
    }

    pub fn deadline(&self) -> Option<Time> {
        self.lease.deadline
    }

    /// The epoch of the running application, if one runs.
    pub fn app_epoch(&self) -> Option<u64> {
        self.lease.app
    }

    pub fn app_running(&self) -> bool {
        self.lease.app.is_some()
    }

    /// What was last read of our own record.
    pub fn own(&self) -> &Observation {
        &self.seen.own
    }

    pub fn peer(&self, node: &str) -> Option<&Observation> {
        self.seen.peers.get(node)
    }

    /// The maintenance mode in effect: FREEZE until the record is read, OFF once the
    /// switchover it names is done or abandoned.
    pub fn maint_mode(&self) -> MaintMode {
        match &self.seen.maint {
            None => MaintMode::Freeze,
            Some(m) if self.switchover_over(m) => MaintMode::Off,
            Some(m) => m.mode.clone(),
        }
    }

    pub fn status(&self, now: Time) -> CoreStatus {
        CoreStatus {
            role: self.lease.role,
            epoch: self.lease.epoch,
            deadline_left: self.lease.deadline.map(|d| d.saturating_sub(now)),
            maint: self.maint_mode(),
            // Nothing read yet counts as not OK: the node behaves as frozen until it knows.
            maint_ok: !self.seen.maint_bad && self.seen.maint.is_some(),
            app_running: self.app_running(),
        }
    }

    /// When the driver should call [`Core::handle`] with `Tick` next, at the latest.
    pub fn next_wakeup(&self) -> Time {
        let mut t = self.io.next_poll;
        // No periodic write is due while a claim runs (its writes are its own).
        if self.io.writing.is_none() && self.claim.phase.is_none() {
            t = t.min(self.io.next_write);
        }
        if let Some(d) = self.lease.deadline {
            t = t.min(d);
        }
        if let Some(ClaimPhase::Pausing { until }) = self.claim.phase {
            t = t.min(until);
        }
        if self.lease.role == Role::Standby && self.claim.backoff_until > self.last_now {
            t = t.min(self.claim.backoff_until);
        }
        t
    }

    fn frozen(&self) -> bool {
        self.seen.maint_bad
            || self.seen.maint.is_none()
            || matches!(self.maint_mode(), MaintMode::Freeze)
    }

    fn drained(&self) -> bool {
        self.seen
            .maint
            .as_ref()
            .is_some_and(|m| m.drained.contains(&self.cfg.node))
    }

    fn stop_app(&mut self, reason: String, after: AfterStop, out: &mut Vec<Action>) {
        self.lease.after_stop = after;
        self.claim.phase = None;
        self.lease.deadline = None;
        if self.app_running() {
            self.lease.role = Role::Stopping;
            let fence = after == AfterStop::Standby;
            out.push(Action::StopApp { reason, fence });
        } else {
            self.lease.role = Role::Standby;
        }
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
            Event::AppStopped { epoch } => self.on_app_stopped(epoch, now, &mut out),
            Event::AppFailed(why) => {
                if self.app_running() {
                    out.push(Action::Alarm(format!("application failed: {why}")));
                    self.stop_app(
                        format!("application failed: {why}"),
                        AfterStop::Release,
                        &mut out,
                    );
                    // Let another node take over before this one tries again.
                    self.claim.backoff_until = now + self.t.takeover;
                }
            }
            Event::Release => {
                if matches!(self.lease.role, Role::Active | Role::Claiming) {
                    self.stop_app("released".into(), AfterStop::Release, &mut out);
                    if self.lease.role == Role::Standby {
                        self.io.next_write = now;
                    }
                    self.claim.backoff_until = now + self.t.takeover;
                }
            }
        }
        self.step(now, &mut out);
        out
    }

    fn on_app_stopped(&mut self, epoch: u64, now: Time, out: &mut Vec<Action>) {
        match self.lease.app {
            // Nothing runs: a late or repeated report, nothing to do.
            None => {}
            Some(running) if running != epoch => {
                // About an application of another term: acting on it would release a lease
                // whose application still runs.
                out.push(Action::Alarm(format!(
                    "ignored a stale report that the application of epoch {epoch} stopped \
                     (running: epoch {running})"
                )));
            }
            Some(_) => {
                self.lease.app = None;
                if self.lease.role == Role::Active {
                    // It died on its own (or a fencing backstop killed it): hand over.
                    out.push(Action::Alarm(
                        "application gone while active: releasing".into(),
                    ));
                    self.stop_app("application gone".into(), AfterStop::Release, out);
                    self.claim.backoff_until = now + self.t.takeover;
                    self.io.next_write = now;
                } else if self.lease.role == Role::Stopping {
                    // The next write says RELEASED or STANDBY (see `state_word`).
                    self.lease.role = Role::Standby;
                    self.back_off(now, false);
                    self.io.next_write = now;
                }
            }
        }
    }

    /// Everything that depends on time and on what is known now.
    fn step(&mut self, now: Time, out: &mut Vec<Action>) {
        self.refresh_peers(now, out);
        self.follow_switchover(now, out);
        // Self-fencing comes first, whatever else happens.
        if let Some(deadline) = self.lease.deadline
            && now >= deadline
            && matches!(self.lease.role, Role::Active | Role::Claiming)
        {
            let was_active = self.lease.role == Role::Active;
            out.push(Action::Alarm(format!(
                "renew deadline passed in role {:?}: stopping",
                self.lease.role
            )));
            if was_active {
                self.stop_app("renew deadline passed".into(), AfterStop::Standby, out);
            } else {
                self.abort_claim("deadline passed while claiming", now, out);
            }
        }
        if self.lease.role == Role::Active {
            self.check_active(out);
        }
        self.advance_claim(now, out);
        if now >= self.io.next_poll {
            self.poll(now, out);
        }
        if self.may_claim(now) {
            self.start_claim(now, out);
        }
        if now >= self.io.next_write && self.claim.phase.is_none() {
            let state = match self.lease.role {
                Role::Active => NodeState::Active,
                _ => self.state_word(),
            };
            self.write(state, now, out);
        }
    }

    /// Ages every peer's observation and reports, once each, dead peers whose epoch is
    /// unknown (they block claims).
    fn refresh_peers(&mut self, now: Time, out: &mut Vec<Action>) {
        let waits: Vec<u64> = self.seen.peers.keys().map(|n| self.wait_for(n)).collect();
        for (o, wait) in self.seen.peers.values_mut().zip(waits) {
            o.refresh(now, wait);
        }
        let hidden: Vec<String> = self
            .seen
            .peers
            .iter()
            .filter(|(n, o)| {
                o.liveness == Liveness::Stale
                    && o.record.is_none()
                    && !self.seen.epoch_known.contains(*n)
                    && !self.seen.unknown_epoch_reported.contains(*n)
            })
            .map(|(n, _)| n.clone())
            .collect();
        for n in hidden {
            if let Some(why) = self.seen.peers.get(&n).and_then(|o| self.blocker(&n, o)) {
                out.push(Action::Alarm(format!("not taking over: {why}")));
            }
            self.seen.unknown_epoch_reported.insert(n);
        }
    }

    /// The active steps down for a fresh active peer with a higher term (which should never
    /// happen) and hands over for a switchover to another node.
    fn check_active(&mut self, out: &mut Vec<Action>) {
        let me = (self.lease.epoch, self.cfg.node.clone());
        let higher = self.seen.peers.iter().find(|(n, o)| {
            o.liveness == Liveness::Alive
                && o.record
                    .as_ref()
                    .is_some_and(|r| r.state == NodeState::Active && (r.epoch, (*n).clone()) > me)
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
            && !self.seen.maint_bad
        {
            self.stop_app("switchover".into(), AfterStop::Release, out);
        }
    }
}
