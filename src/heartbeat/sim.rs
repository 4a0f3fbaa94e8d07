//! Deterministic simulation of heartbeat clusters under faults.
//!
//! Nodes run the real [`Core`] against a simulated shared store and simulated clocks
//! (CLOCK_BOOTTIME: it runs on through a suspend), through a model of the node driver: a
//! tick waits for the I/O it issued, at most the I/O timeout and never past the lease
//! deadline; completions arriving between ticks wait for the next one; start and stop
//! decisions reach the daemon when the tick returns, the guard learns each new deadline
//! then, and the kill budget runs from then. A seeded random schedule injects faults: slow,
//! failing (EIO, ENOSPC, ESTALE, EACCES), torn, lost and late writes (at most one
//! outstanding write per node), I/O hanging past the tick, node crashes and restarts,
//! daemon pauses longer than the takeover time, host suspends, storage cut off from one node
//! or from all, clocks with different offsets and rate errors, maintenance changes, garbage
//! in records, stale "application stopped" reports, and one node with another timing. The
//! checker looks only at when applications started and ended, and asserts:
//!
//! - never two nodes whose application may be running at once (started and not yet gone:
//!   stopped by the daemon, killed with it, or killed by the fencing guard at the deadline);
//! - the epochs of successive active terms strictly increase;
//! - progress: once faults end, some node runs the application within P + T_io + the
//!   failover bound of docs/heartbeat.md.
//!
//! `cargo test --lib heartbeat::sim` runs three timing profiles ([`profiles`]). More, or one
//! seed again:
//!   HAMON_SIM_SCHEDULES=100000 HAMON_SIM_BASE=10000000 cargo test --release --lib heartbeat::sim -- --nocapture
//!   HAMON_SIM_PROFILE=nfs HAMON_SIM_SEED=1234 cargo test --lib heartbeat::sim -- --nocapture

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::Duration;

use crate::heartbeat::core::{Action, Core, CoreConfig, Event};
use crate::heartbeat::record::{MaintMode, MaintRecord, NodeRecord};
use crate::heartbeat::timing::{RATE_ERROR, Timing};

mod daemon;
mod handover;

const MS: u64 = 1_000_000;

/// splitmix64: small, fast, and the same everywhere, so a seed replays exactly.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// How storage treats one node's I/O.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    Healthy,
    /// Operations never complete until healed (a hung hard mount).
    Hang,
    /// Operations fail quickly with this error (a soft mount, a full disk, ...).
    Fail(&'static str),
}

const ERRORS: [&str; 4] = ["EIO", "ENOSPC", "ESTALE", "EACCES"];

/// One I/O in flight.
#[derive(Clone, Debug)]
struct Io {
    id: u64,
    node: usize,
    inc: u64,
    /// Storage key: a node name, or "" for the maintenance record.
    file: String,
    /// For writes: the bytes, and whether the writer will be told it worked.
    write: Option<(Vec<u8>, bool)>,
    started: u64,
    /// When a read sees storage.
    read_at: u64,
    error: Option<&'static str>,
    /// Submitted over a hung link: ends only when the link heals.
    hung: bool,
}

#[derive(Debug)]
enum SimEvent {
    /// The daemon calls `tick`.
    Tick(usize, u64),
    /// A tick stops waiting for its I/O (the I/O timeout, or the lease deadline).
    TickEnd(usize, u64, u64),
    Done(Io),
    /// A write reaches storage, whether or not its writer still exists.
    Land {
        file: String,
        bytes: Vec<u8>,
    },
    /// The application of this term is gone (killed, or died with its daemon).
    AppGone(usize, u64, usize),
    /// A report that the application of this epoch stopped, long after the fact.
    StaleStopped(usize, u64, u64),
    /// The fencing guard acts on the deadline it was last given.
    Guard(usize, u64),
    Fault,
    Boot(usize),
    Resume(usize),
    /// The daemon's start sequence takes its next step (sim/daemon.rs).
    DaemonStep(usize, u64, u64),
    /// The guard of a crashed run takes its next hand-over step (sim/handover.rs).
    HandOver(usize, u64),
}

/// A clock running at `1 + rate` from `offset`: the node's CLOCK_BOOTTIME, which keeps
/// running through a suspend.
#[derive(Clone, Copy, Debug)]
struct Clock {
    offset: u64,
    rate: f64,
}

impl Clock {
    fn local(&self, t: u64) -> u64 {
        self.offset + (t as f64 * (1.0 + self.rate)) as u64
    }
    fn global(&self, local: u64) -> u64 {
        (local.saturating_sub(self.offset) as f64 / (1.0 + self.rate)).ceil() as u64
    }
}

/// One run of the application.
#[derive(Clone, Debug)]
pub struct Term {
    pub node: usize,
    pub epoch: u64,
    pub start: u64,
    pub end: Option<u64>,
    /// The daemon restarted it locally: its end is never reported to the node.
    pub restarted: bool,
}

/// A `tick` call in progress: the node driver waits for the I/O it issued, at most the I/O
/// timeout and never past the lease deadline.
#[derive(Clone, Debug)]
struct TickCall {
    no: u64,
    /// The I/O timeout after the call began.
    until: u64,
    /// When the wait is next looked at (the latest `TickEnd` that counts).
    wake: u64,
    awaited: Vec<u64>,
    /// The lease deadline when the call began: a renewal returns the call at once, so the
    /// guard learns the new deadline without waiting for slow reads.
    deadline: Option<u64>,
}

struct Node {
    name: String,
    timing: Timing,
    core: Option<Core>,
    /// Incarnation counter: events of a crashed incarnation are dropped.
    inc: u64,
    clock: Clock,
    /// The daemon (SIGSTOP) or the whole host (suspend) does not run until then.
    paused_until: u64,
    /// The whole host is suspended until then: its guard does not run either.
    suspended_until: u64,
    /// Completions and application reports the driver has not yet handed to the core: they
    /// wait for the next tick, as in the node driver.
    pending: Vec<Event>,
    persisted_epoch: u64,
    link: Link,
    /// Operations of this node still in flight (hung ones included).
    in_flight: Vec<Io>,
    /// The running application's term (index into `terms`).
    app: Option<usize>,
    /// The deadline the fencing guard knows, in true time.
    guard_deadline: Option<u64>,
    /// The deadline a guard check is already scheduled for.
    guard_armed: Option<u64>,
    /// The application is being killed.
    killing: bool,
    /// The next tick scheduled for this node.
    tick_at: u64,
    /// The tick call in progress.
    call: Option<TickCall>,
    /// Start and stop decisions of the core, handed to the daemon when the tick returns.
    held: Vec<Action>,
    /// The last StopApp not yet taken as done: local time given, epoch.
    stop_given: Option<(u64, u64)>,
    /// The daemon's start sequence in progress (no tick runs meanwhile).
    start: Option<daemon::Start>,
    /// A start the lease did not allow yet, tried again after each tick.
    pending_start: Option<u64>,
    /// The fencing guard cannot be started or does not take a group over.
    guard_broken: bool,
    /// Local restarts of the application in this term.
    restarts: u32,
    /// The application died while the daemon was busy: handled after the tick.
    died: Option<u64>,
    /// The incarnation the running daemon writes under.
    incarnation: u64,
    /// The hand-over of the guard of a crashed run, while it goes on.
    handover: Option<handover::HandOver>,
    /// Until then a guard holds the node's run lock: a daemon that boots waits.
    run_lock_until: u64,
}

pub struct Sim {
    timing: Timing,
    rng: Rng,
    now: u64,
    seq: u64,
    io_seq: u64,
    tick_seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    events: BTreeMap<u64, SimEvent>,
    nodes: Vec<Node>,
    storage: BTreeMap<String, Vec<(u64, Vec<u8>)>>,
    pub terms: Vec<Term>,
    cluster: String,
    maint_token: u64,
    /// Faults are injected until this instant; then everything heals.
    fault_end: u64,
    pub trace: Vec<String>,
    verbose: bool,
    /// Applications die within this many kill budgets (1: the documented assumption).
    kill_factor: u64,
    /// The daemon's own faults: pauses at every step of its start sequence, a guard that
    /// fails, applications that die and are restarted. Off only to replay old seeds.
    daemon_faults: bool,
    /// The daemon faults' own random stream, so they never shift the rest of a schedule.
    drng: Rng,
}

/// A different, valid timing for one node of a mixed cluster: a longer renew deadline and
/// kill budget, with the takeover time its own check asks for.
fn other_timing(base: Timing, rng: &mut Rng) -> Timing {
    let f1 = base.renew_deadline * rng.range(1, 5) as u32;
    let k = base.kill_budget * rng.range(1, 4) as u32;
    let need = Timing::takeover_needed(f1, k, base.period);
    let t = Timing {
        renew_deadline: f1,
        kill_budget: k,
        takeover: need + need / 10 * rng.below(3) as u32,
        ..base
    };
    debug_assert!(t.check().is_ok(), "{t:?}");
    t
}

impl Sim {
    pub fn new(seed: u64, nodes: usize, timing: Timing, verbose: bool) -> Sim {
        let mut rng = Rng::new(seed);
        // One schedule in four mixes timings: the last node runs a slower one.
        let mixed = rng.chance(250).then(|| other_timing(timing, &mut rng));
        let slowest = mixed.map_or(timing.takeover, |m| m.takeover.max(timing.takeover));
        let fault_end = Self::ns(slowest) * rng.range(2, 6);
        let mut sim = Sim {
            timing,
            rng: Rng::new(0),
            now: 0,
            seq: 0,
            io_seq: 0,
            tick_seq: 0,
            queue: BinaryHeap::new(),
            events: BTreeMap::new(),
            nodes: Vec::new(),
            storage: BTreeMap::new(),
            terms: Vec::new(),
            cluster: "sim".into(),
            maint_token: 0,
            fault_end,
            trace: Vec::new(),
            verbose,
            kill_factor: 1,
            daemon_faults: true,
            drng: Rng::new(seed ^ 0x6461_656d_6f6e),
        };
        for i in 0..nodes {
            let name = format!("n{i}");
            let rate = (rng.below(2001) as f64 / 1000.0 - 1.0) * RATE_ERROR;
            let clock = Clock {
                offset: rng.below(1 << 40),
                rate,
            };
            let blank = NodeRecord::blank(&sim.cluster, &name);
            sim.storage.insert(name.clone(), vec![(0, blank.encode())]);
            let own = match mixed {
                Some(m) if i == nodes - 1 => m,
                _ => timing,
            };
            sim.nodes.push(Node {
                name,
                timing: own,
                core: None,
                inc: 0,
                clock,
                paused_until: 0,
                suspended_until: 0,
                pending: Vec::new(),
                persisted_epoch: 0,
                link: Link::Healthy,
                in_flight: Vec::new(),
                app: None,
                guard_deadline: None,
                guard_armed: None,
                killing: false,
                tick_at: u64::MAX,
                call: None,
                held: Vec::new(),
                stop_given: None,
                start: None,
                pending_start: None,
                guard_broken: false,
                restarts: 0,
                died: None,
                incarnation: 0,
                handover: None,
                run_lock_until: 0,
            });
        }
        let maint = sim.maint_record(MaintMode::Off);
        sim.storage.insert(String::new(), vec![(0, maint)]);
        for i in 0..nodes {
            // Daemons start within one takeover time of each other, often at once.
            let at = if rng.chance(500) {
                0
            } else {
                rng.below(Self::ns(timing.takeover))
            };
            sim.push(at, SimEvent::Boot(i));
        }
        let first_fault = rng.below(fault_end / 2);
        sim.push(first_fault, SimEvent::Fault);
        sim.rng = rng;
        sim
    }

    fn ns(d: Duration) -> u64 {
        d.as_nanos() as u64
    }

    /// The timing the cluster as a whole behaves by: the longest of each setting over its
    /// nodes, and a takeover time long enough for every node's renew deadline and kill
    /// budget (what a mixed cluster waits; see `Core::wait_for`).
    pub fn effective_timing(&self) -> Timing {
        let mut t = self.timing;
        for n in &self.nodes {
            let o = n.timing;
            t.period = t.period.max(o.period);
            t.io_timeout = t.io_timeout.max(o.io_timeout);
            t.confirm = t.confirm.max(o.confirm);
            t.renew_deadline = t.renew_deadline.max(o.renew_deadline);
            t.kill_budget = t.kill_budget.max(o.kill_budget);
            let need = Timing::takeover_needed(o.renew_deadline, o.kill_budget, o.period);
            t.takeover = t.takeover.max(o.takeover).max(need);
        }
        t
    }

    fn maint_record(&mut self, mode: MaintMode) -> Vec<u8> {
        self.maint_token += 1;
        MaintRecord {
            cluster: self.cluster.clone(),
            token: self.maint_token,
            mode,
            drained: vec![],
            set_by: "sim".into(),
            reason: String::new(),
            wall_ms: 0,
        }
        .encode()
    }

    fn push(&mut self, at: u64, ev: SimEvent) {
        self.seq += 1;
        self.events.insert(self.seq, ev);
        self.queue.push(Reverse((at, self.seq)));
    }

    fn note(&mut self, msg: impl FnOnce() -> String) {
        if self.verbose {
            // Printed at once, so a trace survives a panic.
            println!("{:>9.3}s {}", self.now as f64 / 1e9, msg());
        }
    }

    /// Runs until `until` (true time, ns).
    pub fn run(&mut self, until: u64) {
        while let Some(Reverse((at, id))) = self.queue.peek().copied() {
            if at > until {
                break;
            }
            self.queue.pop();
            self.now = at;
            let ev = self.events.remove(&id).expect("queued event");
            self.dispatch(ev);
        }
        self.now = until;
    }

    fn alive(&self, i: usize, inc: u64) -> bool {
        self.nodes[i].core.is_some() && self.nodes[i].inc == inc
    }

    fn paused(&self, i: usize) -> bool {
        self.now < self.nodes[i].paused_until
    }

    fn dispatch(&mut self, ev: SimEvent) {
        match ev {
            SimEvent::Boot(i) => self.boot(i),
            SimEvent::Tick(i, inc) => {
                if self.alive(i, inc)
                    && self.nodes[i].tick_at == self.now
                    && !self.paused(i)
                    && self.nodes[i].call.is_none()
                    && self.nodes[i].start.is_none()
                {
                    self.nodes[i].tick_at = u64::MAX;
                    self.tick(i, None);
                }
            }
            SimEvent::TickEnd(i, inc, no) => {
                let current = self.nodes[i]
                    .call
                    .as_ref()
                    .is_some_and(|c| c.no == no && c.wake == self.now);
                if self.alive(i, inc) && current && !self.paused(i) {
                    self.wait_over(i);
                }
            }
            SimEvent::Done(io) => self.complete(io),
            SimEvent::Land { file, bytes } => {
                let now = self.now;
                let versions = self.storage.get_mut(&file).expect("known file");
                versions.push((now, bytes));
                if versions.len() > 16 {
                    versions.remove(0);
                }
            }
            SimEvent::AppGone(i, inc, term) => {
                if self.terms[term].end.is_some() {
                    return;
                }
                self.terms[term].end = Some(self.now);
                let epoch = self.terms[term].epoch;
                let node = &mut self.nodes[i];
                let died = node.app == Some(term) && !node.killing;
                if node.app == Some(term) {
                    node.app = None;
                    node.killing = false;
                }
                let name = node.name.clone();
                self.note(|| format!("{name}: application of epoch {epoch} gone"));
                if self.alive(i, inc) && died {
                    self.app_died(i, epoch);
                } else if self.alive(i, inc) {
                    self.report(i, Event::AppStopped { epoch });
                }
            }
            SimEvent::DaemonStep(i, inc, token) => {
                if self.alive(i, inc) {
                    self.daemon_step(i, token);
                }
            }
            SimEvent::StaleStopped(i, inc, epoch) => {
                if self.alive(i, inc) {
                    let name = self.nodes[i].name.clone();
                    self.note(|| {
                        format!("{name}: a stale report: application of epoch {epoch} stopped")
                    });
                    self.report(i, Event::AppStopped { epoch });
                }
            }
            SimEvent::Guard(i, inc) => {
                if self.now < self.nodes[i].suspended_until {
                    // The guard is frozen with its host; it acts when the host resumes.
                    let at = self.nodes[i].suspended_until;
                    self.push(at, SimEvent::Guard(i, inc));
                    return;
                }
                let node = &mut self.nodes[i];
                let expired = node.guard_deadline.is_some_and(|d| d <= self.now);
                node.guard_armed = None;
                if let Some(term) = node.app
                    && node.inc == inc
                    && expired
                    && !node.killing
                {
                    node.killing = true;
                    // The guard kills the application group within the kill budget.
                    let after = self
                        .rng
                        .below(Self::ns(node.timing.kill_budget) * self.kill_factor);
                    let name = node.name.clone();
                    self.note(|| format!("{name}: fencing guard kills the application"));
                    self.push(self.now + after, SimEvent::AppGone(i, inc, term));
                }
            }
            SimEvent::Resume(i) => {
                if self.now >= self.nodes[i].paused_until && self.nodes[i].core.is_some() {
                    let name = self.nodes[i].name.clone();
                    self.note(|| format!("{name}: daemon resumes"));
                    let inc = self.nodes[i].inc;
                    if self.nodes[i].start.is_some() {
                        // The start sequence goes on; the loop ticks after it.
                        self.schedule_step(i, self.now);
                    } else if self.nodes[i].call.is_some() {
                        // The tick that was waiting when the daemon stopped goes on: the
                        // core sees the time first, then what arrived meanwhile.
                        self.core_event(i, Event::Tick);
                        self.feed_pending(i);
                        self.wait_over(i);
                    } else {
                        self.nodes[i].tick_at = self.now;
                        self.push(self.now, SimEvent::Tick(i, inc));
                    }
                }
            }
            SimEvent::HandOver(i, inc) => self.hand_over_step(i, inc),
            SimEvent::Fault => self.fault(),
        }
    }

    fn boot(&mut self, i: usize) {
        if self.nodes[i].core.is_some() {
            return;
        }
        // A restarted daemon waits for its old writes, keeping one write outstanding per node,
        // and for the run lock a guard may hold while it hands the last run's term over.
        if self.nodes[i].in_flight.iter().any(|io| io.write.is_some())
            || self.now < self.nodes[i].run_lock_until
        {
            self.push(self.now + 10 * MS, SimEvent::Boot(i));
            return;
        }
        let nodes = self.nodes.len();
        let incarnation = self.rng.next_u64();
        let node = &mut self.nodes[i];
        node.inc += 1;
        node.incarnation = incarnation;
        node.paused_until = 0;
        node.suspended_until = 0;
        node.pending.clear();
        node.call = None;
        node.held.clear();
        node.stop_given = None;
        node.start = None;
        node.pending_start = None;
        node.restarts = 0;
        node.died = None;
        let cfg = CoreConfig {
            cluster: self.cluster.clone(),
            node: node.name.clone(),
            nodes: (0..nodes).map(|k| format!("n{k}")).collect(),
            preferred: i == 0,
            timing: node.timing,
            incarnation,
            persisted_epoch: node.persisted_epoch,
        };
        node.core = Some(Core::new(cfg, node.clock.local(self.now)));
        let (name, inc) = (node.name.clone(), node.inc);
        node.tick_at = self.now;
        self.note(|| format!("{name}: daemon starts"));
        self.push(self.now, SimEvent::Tick(i, inc));
    }

    fn crash(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if node.core.take().is_none() {
            return;
        }
        node.guard_deadline = None;
        node.call = None;
        node.held.clear();
        // A group held at its gate dies with the daemon too; it never ran.
        node.start = None;
        node.pending_start = None;
        node.died = None;
        let name = node.name.clone();
        // The application dies with its daemon (parent-death signal, then the guard).
        if let Some(term) = node.app.take()
            && self.terms[term].end.is_none()
        {
            self.terms[term].end = Some(self.now + MS);
        }
        self.note(|| format!("{name}: daemon crashes"));
    }

    /// Runs the core on one event; I/O goes out at once (and counts as this tick's when a
    /// tick is in progress), start and stop decisions wait for the tick to return.
    fn core_event(&mut self, i: usize, ev: Event) {
        let local = self.nodes[i].clock.local(self.now);
        let Some(core) = self.nodes[i].core.as_mut() else {
            return;
        };
        let actions = core.handle(local, ev);
        for a in actions {
            self.act(i, a);
        }
    }

    fn feed_pending(&mut self, i: usize) {
        for ev in std::mem::take(&mut self.nodes[i].pending) {
            self.core_event(i, ev);
        }
    }

    /// A daemon call into the node: `tick`, or `app_stopped` with `event`. Like the node
    /// driver: the event first, then the kill-budget timeout, a tick of the core, then the
    /// completions that arrived since the last call; then it waits for its own I/O.
    fn tick(&mut self, i: usize, event: Option<Event>) {
        self.tick_seq += 1;
        let no = self.tick_seq;
        let until = self.now + Self::ns(self.nodes[i].timing.io_timeout);
        let deadline = self.nodes[i].core.as_ref().and_then(|c| c.deadline());
        self.nodes[i].call = Some(TickCall {
            no,
            until,
            wake: until,
            awaited: Vec::new(),
            deadline,
        });
        if let Some(ev) = event {
            self.core_event(i, ev);
        }
        let local = self.nodes[i].clock.local(self.now);
        let k = Self::ns(self.nodes[i].timing.kill_budget);
        if let Some((given, epoch)) = self.nodes[i].stop_given
            && local.saturating_sub(given) >= k
        {
            // The node takes an application told to stop as gone after the kill budget.
            self.nodes[i].stop_given = None;
            self.core_event(i, Event::AppStopped { epoch });
        }
        self.core_event(i, Event::Tick);
        self.feed_pending(i);
        if self.call_done(i) {
            self.tick_return(i);
            return;
        }
        self.schedule_wait(i);
    }

    /// The tick's wait ends at the I/O timeout or at the lease deadline, whichever is first.
    fn schedule_wait(&mut self, i: usize) {
        let node = &self.nodes[i];
        let Some(call) = node.call.as_ref() else {
            return;
        };
        let mut end = call.until;
        if let Some(core) = node.core.as_ref() {
            end = end.min(node.clock.global(core.next_wakeup()).max(self.now));
        }
        let (inc, no) = (node.inc, call.no);
        if let Some(call) = self.nodes[i].call.as_mut() {
            call.wake = end;
        }
        self.push(end, SimEvent::TickEnd(i, inc, no));
    }

    /// The tick's wait is over (I/O timeout or lease deadline).
    fn wait_over(&mut self, i: usize) {
        let local = self.nodes[i].clock.local(self.now);
        let due = |sim: &Sim| {
            sim.nodes[i]
                .core
                .as_ref()
                .is_some_and(|c| c.next_wakeup() <= local)
        };
        let mut stuck = false;
        if due(self) {
            // A timer of the core is due (the lease deadline, the claim's pause, a poll).
            self.core_event(i, Event::Tick);
            stuck = due(self);
        }
        let until = self.nodes[i].call.as_ref().map_or(0, |c| c.until);
        if self.call_done(i) || self.now >= until || stuck {
            self.tick_return(i);
        } else {
            self.schedule_wait(i);
        }
    }

    /// The tick returns now: its own I/O is done, the lease was renewed (the guard must
    /// learn the new deadline), or a start or a fence must go out.
    fn call_done(&self, i: usize) -> bool {
        let node = &self.nodes[i];
        let deadline = node.core.as_ref().and_then(|c| c.deadline());
        node.call
            .as_ref()
            .is_none_or(|c| c.awaited.is_empty() || c.deadline != deadline)
            || node
                .held
                .iter()
                .any(|a| matches!(a, Action::StartApp { .. } | Action::StopApp { .. }))
    }

    /// The tick returns to the daemon, which acts on its last start or stop decision (a
    /// START only while the node still holds the lease), hands the deadline to the guard,
    /// and sleeps until the next tick (at most half a period).
    fn tick_return(&mut self, i: usize) {
        self.nodes[i].call = None;
        let held = std::mem::take(&mut self.nodes[i].held);
        let last = held.into_iter().last();
        let (active, deadline, wakeup) = {
            let core = self.nodes[i].core.as_ref().expect("running");
            (
                core.role() == crate::heartbeat::core::Role::Active,
                core.deadline(),
                core.next_wakeup(),
            )
        };
        let clock = self.nodes[i].clock;
        // The guard learns every new deadline before the daemon acts on the decision.
        if let Some(at) = deadline {
            self.nodes[i].guard_deadline = Some(clock.global(at));
        }
        match last {
            Some(Action::StartApp { epoch }) if active => {
                self.nodes[i].restarts = 0;
                self.begin_start(i, epoch);
            }
            Some(Action::StopApp { reason, .. }) => {
                self.nodes[i].pending_start = None;
                // The kill budget runs from when the daemon is told, not from the decision.
                let core = self.nodes[i].core.as_ref().expect("running");
                let epoch = core.app_epoch().unwrap_or(0);
                if core.app_running() {
                    self.nodes[i].stop_given = Some((clock.local(self.now), epoch));
                }
                self.stop_app(i, reason)
            }
            _ => self.retry_start(i),
        }
        let node = &mut self.nodes[i];
        let inc = node.inc;
        let guard = node
            .guard_deadline
            .filter(|d| node.app.is_some() && node.guard_armed != Some(*d));
        if let Some(at) = guard {
            node.guard_armed = Some(at);
            self.push(at.max(self.now), SimEvent::Guard(i, inc));
        }
        let node = &mut self.nodes[i];
        let half = Self::ns(node.timing.period) / 2;
        let wake = clock.global(wakeup).clamp(self.now + MS, self.now + half);
        // A tick that came due during this call was dropped: schedule afresh.
        if node.tick_at <= self.now || wake < node.tick_at {
            node.tick_at = wake;
            self.push(wake, SimEvent::Tick(i, inc));
        }
    }

    /// An application report reaches the daemon: through `app_stopped` when no tick is in
    /// progress, else at the next call.
    fn report(&mut self, i: usize, ev: Event) {
        if self.paused(i) || self.nodes[i].call.is_some() {
            self.nodes[i].pending.push(ev);
        } else {
            self.tick(i, Some(ev));
        }
    }

    fn start_app(&mut self, i: usize, epoch: u64) {
        let name = self.nodes[i].name.clone();
        self.note(|| format!("{name}: starts the application, epoch {epoch}"));
        assert!(
            self.nodes[i].app.is_none(),
            "{name} started a second application"
        );
        self.terms.push(Term {
            node: i,
            epoch,
            start: self.now,
            end: None,
            restarted: false,
        });
        self.nodes[i].app = Some(self.terms.len() - 1);
        self.nodes[i].killing = false;
    }

    fn stop_app(&mut self, i: usize, reason: String) {
        let name = self.nodes[i].name.clone();
        self.note(|| format!("{name}: stops the application: {reason}"));
        let node = &mut self.nodes[i];
        let Some(term) = node.app else { return };
        if node.killing {
            // Already being killed (by the guard): one death, one report.
            return;
        }
        node.killing = true;
        let inc = node.inc;
        let after = self
            .rng
            .below(Self::ns(node.timing.kill_budget) * self.kill_factor);
        self.push(self.now + after, SimEvent::AppGone(i, inc, term));
    }

    fn act(&mut self, i: usize, action: Action) {
        match action {
            Action::ReadNode(n) => self.submit(i, n, None),
            Action::ReadMaint => self.submit(i, String::new(), None),
            Action::PersistEpoch(e) => {
                let node = &mut self.nodes[i];
                node.persisted_epoch = node.persisted_epoch.max(e);
            }
            Action::Write(rec) => {
                let name = self.nodes[i].name.clone();
                self.submit(i, name, Some(rec.encode()));
            }
            Action::StartApp { .. } => self.nodes[i].held.push(action),
            Action::StopApp { .. } => self.nodes[i].held.push(action),
            Action::Alarm(msg) => {
                let name = self.nodes[i].name.clone();
                self.note(|| format!("{name}: alarm: {msg}"));
            }
        }
    }

    fn submit(&mut self, i: usize, file: String, write: Option<Vec<u8>>) {
        let tio = Self::ns(self.nodes[i].timing.io_timeout);
        let started = self.now;
        let inc = self.nodes[i].inc;
        let is_write = write.is_some();
        assert!(
            !self.nodes[i]
                .in_flight
                .iter()
                .any(|io| io.inc == inc && io.file == file && io.write.is_some() == is_write),
            "core issued a second outstanding {} of {file:?}",
            if is_write { "write" } else { "read" }
        );
        self.io_seq += 1;
        let id = self.io_seq;
        if let Some(call) = self.nodes[i].call.as_mut() {
            call.awaited.push(id);
        }
        // Usually quick, sometimes slow; while faults last, now and then past the I/O timeout
        // (healthy storage answers within it: that is what the timeout means).
        let faulty = self.now < self.fault_end;
        let dur = match self.rng.below(100) {
            0..=79 => self.rng.range(MS / 10, 5 * MS),
            96.. if faulty => self.rng.range(tio, 3 * tio),
            _ => self.rng.range(5 * MS, tio),
        };
        let link = self.nodes[i].link;
        let end = match link {
            Link::Fail(_) => started + self.rng.range(MS / 10, 2 * MS),
            _ => started + dur,
        };
        let error = match link {
            Link::Fail(e) => Some(e),
            _ => None,
        };
        let read_at = self.rng.range(started, end);
        let write = write.map(|mut bytes: Vec<u8>| {
            // Lost: never lands. Torn: some 512-byte sectors land and others keep their old
            // bytes (storage writes sectors atomically, not blocks). Either way the writer
            // may be told it worked or not; a failing link never reports success. All three
            // are faults: once faults end, storage is healthy (the failover bound is stated
            // for healthy storage). The roll is drawn either way, so seeds replay as found.
            let roll = self.rng.below(100);
            let lost = faulty && (roll < 3 || error.is_some() && roll < 50);
            let torn = faulty && roll >= 97;
            let unacknowledged = faulty && !(6..97).contains(&roll);
            if torn {
                let old = self.content_at(&file, self.now);
                for (k, sector) in bytes.chunks_mut(512).enumerate() {
                    if self.rng.chance(500) {
                        let from = (k * 512).min(old.len());
                        let to = (from + sector.len()).min(old.len());
                        sector[..to - from].copy_from_slice(&old[from..to]);
                    }
                }
            }
            // A torn write is an interrupted one: its writer is never told it worked.
            let ok = error.is_none() && !unacknowledged;
            if !lost && link != Link::Hang {
                let land = self.rng.range(started, end);
                self.push(
                    land,
                    SimEvent::Land {
                        file: file.clone(),
                        bytes: bytes.clone(),
                    },
                );
            }
            (bytes, ok)
        });
        let hung = link == Link::Hang;
        let io = Io {
            id,
            node: i,
            inc,
            file,
            write,
            started,
            read_at,
            error,
            hung,
        };
        self.nodes[i].in_flight.push(io.clone());
        if link != Link::Hang {
            self.push(end, SimEvent::Done(io));
        }
    }

    fn content_at(&self, file: &str, t: u64) -> Vec<u8> {
        let versions = &self.storage[file];
        versions
            .iter()
            .rev()
            .find(|(at, _)| *at <= t)
            .map(|(_, b)| b.clone())
            .unwrap_or_default()
    }

    fn complete(&mut self, io: Io) {
        let node = &mut self.nodes[io.node];
        if let Some(pos) = node.in_flight.iter().position(|x| x.id == io.id) {
            node.in_flight.remove(pos);
        }
        if !self.alive(io.node, io.inc) {
            return;
        }
        let clock = self.nodes[io.node].clock;
        let (started, ended) = (clock.local(io.started), clock.local(self.now));
        let ev = match (&io.write, io.file.as_str()) {
            (Some((_, ok)), _) => Event::Written {
                started,
                ended,
                ok: *ok && io.error.is_none(),
            },
            (None, "") => {
                let result = match io.error {
                    Some(e) => Err(e.to_string()),
                    None => Ok(MaintRecord::decode(
                        &self.content_at("", io.read_at),
                        &self.cluster,
                    )
                    .ok()),
                };
                Event::MaintRead {
                    started,
                    ended,
                    result,
                }
            }
            (None, name) => {
                let result = match io.error {
                    Some(e) => Err(e.to_string()),
                    None => Ok(self.content_at(name, io.read_at)),
                };
                Event::NodeRead {
                    node: name.to_string(),
                    started,
                    ended,
                    result,
                }
            }
        };
        self.delivered(io.node, io.id, ev);
    }

    /// A completion reaches the node driver: handed to the core at once when a tick waits
    /// for it, else kept for the next call (a late completion).
    fn delivered(&mut self, i: usize, id: u64, ev: Event) {
        if self.paused(i) || self.nodes[i].call.is_none() {
            self.nodes[i].pending.push(ev);
            return;
        }
        if let Some(call) = self.nodes[i].call.as_mut() {
            call.awaited.retain(|x| *x != id);
        }
        self.core_event(i, ev);
        if self.call_done(i) {
            self.tick_return(i);
        }
    }

    /// Heals a hung link: its operations end now, with an error, and writes may land.
    fn unhang(&mut self, i: usize) {
        let (hung, rest): (Vec<Io>, Vec<Io>) = std::mem::take(&mut self.nodes[i].in_flight)
            .into_iter()
            .partition(|io| io.hung);
        self.nodes[i].in_flight = rest;
        for mut io in hung {
            io.hung = false;
            if let Some((bytes, _)) = &io.write
                && self.rng.chance(500)
            {
                self.push(
                    self.now,
                    SimEvent::Land {
                        file: io.file.clone(),
                        bytes: bytes.clone(),
                    },
                );
            }
            io.error = Some("EIO");
            self.nodes[i].in_flight.push(io.clone());
            self.push(self.now + 1, SimEvent::Done(io));
        }
    }

    fn set_link(&mut self, i: usize, link: Link) {
        if self.nodes[i].link == Link::Hang && link != Link::Hang {
            self.nodes[i].link = link;
            self.unhang(i);
        }
        self.nodes[i].link = link;
    }

    fn fault(&mut self) {
        if self.now >= self.fault_end {
            self.heal();
            return;
        }
        if self.daemon_faults {
            self.daemon_fault();
            self.crash_fault();
        }
        let n = self.nodes.len();
        let i = self.rng.below(n as u64) as usize;
        let d = Self::ns(self.effective_timing().takeover);
        let name = self.nodes[i].name.clone();
        match self.rng.below(12) {
            0 => {
                self.note(|| format!("{name}: storage hangs"));
                self.set_link(i, Link::Hang);
            }
            1 => {
                let e = ERRORS[self.rng.below(4) as usize];
                self.note(|| format!("{name}: storage fails with {e}"));
                self.set_link(i, Link::Fail(e));
            }
            2 => {
                self.note(|| "storage cut off from every node".into());
                for k in 0..n {
                    self.set_link(k, Link::Hang);
                }
            }
            3 | 4 => {
                self.note(|| format!("{name}: storage healthy again"));
                self.set_link(i, Link::Healthy);
            }
            5 => {
                // The daemon alone (its guard survives and may hand over), or the whole node.
                let guard = self.guard_survives(i);
                self.crash(i);
                if let Some(h) = guard {
                    self.begin_hand_over(i, h);
                }
                let at = self.now + self.rng.range(MS, d);
                self.push(at, SimEvent::Boot(i));
            }
            6 | 7 => {
                // Shorter than the renew deadline, or longer than the takeover time.
                let dur = if self.rng.chance(500) {
                    self.rng.range(MS, d / 2)
                } else {
                    self.rng.range(d, 2 * d)
                };
                if self.nodes[i].core.is_some() {
                    self.note(|| format!("{name}: daemon paused for {} ms", dur / MS));
                    self.nodes[i].paused_until = self.now + dur;
                    self.push(self.now + dur, SimEvent::Resume(i));
                }
            }
            8 => {
                let target = format!("n{}", self.rng.below(n as u64));
                let mode = match self.rng.below(3) {
                    0 => MaintMode::Freeze,
                    1 => MaintMode::Switchover(target),
                    _ => MaintMode::Off,
                };
                self.note(|| format!("maintenance set to {mode:?}"));
                let bytes = self.maint_record(mode);
                self.push(
                    self.now,
                    SimEvent::Land {
                        file: String::new(),
                        bytes,
                    },
                );
            }
            10 if self.nodes[i].core.is_some() && !self.paused(i) => {
                // The host suspends: daemon, guard and application stop, CLOCK_BOOTTIME runs
                // on. Up to half a period: a longer one can outlast what peers wait beyond
                // the lease and the kill (the frozen-host limit of docs/heartbeat.md).
                let dur = self
                    .rng
                    .range(MS, Self::ns(self.nodes[i].timing.period) / 2);
                self.note(|| format!("{name}: host suspended for {} ms", dur / MS));
                // A daemon paused (SIGSTOP) before or during the suspend stays paused.
                let node = &mut self.nodes[i];
                node.paused_until = node.paused_until.max(self.now + dur);
                node.suspended_until = self.now + dur;
                let (at, inc) = (node.paused_until, node.inc);
                self.push(at, SimEvent::Resume(i));
                // The guard looks at its deadline as soon as the host wakes.
                self.push(self.now + dur, SimEvent::Guard(i, inc));
            }
            11 if self.nodes[i].core.is_some() => {
                // A report about an application that is long gone reaches the daemon late:
                // an ended term of this node, or the epoch before its current one.
                // Not a run the daemon restarts (or is about to) locally: it never reports
                // one, and a report names only the epoch.
                let died = self.nodes[i].died;
                let ended: Vec<u64> = self
                    .terms
                    .iter()
                    .filter(|t| t.node == i && t.end.is_some() && !t.restarted)
                    .filter(|t| Some(t.epoch) != died)
                    .map(|t| t.epoch)
                    .collect();
                let epoch = if ended.is_empty() {
                    let core = self.nodes[i].core.as_ref().expect("running");
                    core.epoch().saturating_sub(1)
                } else {
                    ended[self.rng.below(ended.len() as u64) as usize]
                };
                let inc = self.nodes[i].inc;
                let at = self.now + self.rng.below(Self::ns(self.nodes[i].timing.period));
                self.push(at, SimEvent::StaleStopped(i, inc, epoch));
            }
            9 if self.nodes[i].core.is_some()
                && self.nodes[i].link == Link::Healthy
                && self.nodes[i].paused_until <= self.now =>
            {
                // Garbage in a live node's record (an operator's mistake); its next write
                // repairs it. A dead node's destroyed record is a documented limit: its
                // epoch can only be learned from other copies.
                let mut bytes = self.content_at(&name, self.now);
                let at = self.rng.below(bytes.len().max(1) as u64) as usize;
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= 0xff;
                }
                self.note(|| format!("{name}: record overwritten with garbage"));
                self.push(self.now, SimEvent::Land { file: name, bytes });
            }
            _ => {}
        }
        let next = self.now + self.rng.range(10 * MS, d);
        self.push(next, SimEvent::Fault);
    }

    /// Ends every fault: links healthy, daemons resumed and running, maintenance off.
    fn heal(&mut self) {
        self.note(|| "faults end".into());
        self.fault_end = self.now;
        for i in 0..self.nodes.len() {
            self.set_link(i, Link::Healthy);
            self.nodes[i].guard_broken = false;
            if self.nodes[i].paused_until > self.now {
                self.nodes[i].paused_until = self.now;
                self.push(self.now, SimEvent::Resume(i));
            }
            if self.nodes[i].suspended_until > self.now {
                self.nodes[i].suspended_until = self.now;
                let inc = self.nodes[i].inc;
                self.push(self.now, SimEvent::Guard(i, inc));
            }
            if self.nodes[i].core.is_none() {
                self.push(self.now, SimEvent::Boot(i));
            }
        }
        let bytes = self.maint_record(MaintMode::Off);
        self.push(
            self.now,
            SimEvent::Land {
                file: String::new(),
                bytes,
            },
        );
    }

    pub fn fault_end(&self) -> u64 {
        self.fault_end
    }

    /// Checks the run: no overlap, increasing epochs, progress after healing.
    pub fn check(&self, end: u64, progress_by: u64) -> Result<(), String> {
        let mut terms = self.terms.clone();
        terms.sort_by_key(|t| t.start);
        for (a, ta) in terms.iter().enumerate() {
            for tb in &terms[a + 1..] {
                let a_end = ta.end.unwrap_or(u64::MAX);
                if tb.node != ta.node && tb.start < a_end {
                    return Err(format!(
                        "two applications at once: n{} (epoch {}) from {:.3}s to {}, n{} (epoch {}) from {:.3}s",
                        ta.node,
                        ta.epoch,
                        ta.start as f64 / 1e9,
                        ta.end.map_or("still running".into(), |e| format!(
                            "{:.3}s",
                            e as f64 / 1e9
                        )),
                        tb.node,
                        tb.epoch,
                        tb.start as f64 / 1e9
                    ));
                }
            }
        }
        for w in terms.windows(2) {
            // A local restart runs again under the same epoch, on the same node.
            let restart = w[1].node == w[0].node && w[1].epoch == w[0].epoch;
            if w[1].epoch <= w[0].epoch && !restart {
                return Err(format!("epoch went from {} to {}", w[0].epoch, w[1].epoch));
            }
        }
        let running_at = |t: u64| {
            terms
                .iter()
                .any(|x| x.start <= t && x.end.is_none_or(|e| e > t))
        };
        for t in [progress_by, end] {
            if !running_at(t) {
                let last = terms
                    .last()
                    .map_or("never".into(), |x| format!("{:.3}s", x.start as f64 / 1e9));
                return Err(format!(
                    "no progress: nothing runs at {:.3}s; faults ended at {:.3}s; last start {last}",
                    t as f64 / 1e9,
                    self.fault_end as f64 / 1e9
                ));
            }
        }
        Ok(())
    }
}

/// Runs one schedule and checks it. `kill_factor` > 1 breaks the kill-budget assumption
/// (applications take longer to die than K), for checking the checker.
pub fn run_schedule(
    seed: u64,
    nodes: usize,
    timing: Timing,
    kill_factor: u64,
    daemon_faults: bool,
    verbose: bool,
) -> (Result<(), String>, Vec<String>) {
    let run = std::panic::catch_unwind(|| {
        schedule(seed, nodes, timing, kill_factor, daemon_faults, verbose)
    });
    run.unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
        (
            Err(format!("panic: {}", msg.unwrap_or_default())),
            Vec::new(),
        )
    })
}

fn schedule(
    seed: u64,
    nodes: usize,
    timing: Timing,
    kill_factor: u64,
    daemon_faults: bool,
    verbose: bool,
) -> (Result<(), String>, Vec<String>) {
    let mut sim = Sim::new(seed, nodes, timing, verbose);
    sim.kill_factor = kill_factor;
    sim.daemon_faults = daemon_faults;
    let eff = sim.effective_timing();
    let d = Sim::ns(eff.takeover);
    // Faults come at most one takeover time apart, so healing happens by then.
    sim.run(sim.fault_end() + d + MS);
    let progress_by = sim.fault_end() + eff.recovery_bound().as_nanos() as u64;
    let end = progress_by + d;
    sim.run(end);
    (sim.check(end, progress_by), sim.trace)
}

/// The timing profiles the simulation runs: the fast one of the tests, the NFS default, and
/// one with a long I/O timeout against a short period and a takeover time at the edge of
/// the safety inequality.
pub fn profiles() -> [(&'static str, Timing); 3] {
    let ms = Duration::from_millis;
    let slow_io = Timing {
        period: ms(100),
        io_timeout: ms(1000),
        renew_deadline: ms(4200),
        kill_budget: ms(100),
        takeover: ms(4410),
        confirm: ms(50),
    };
    [
        ("fast", Timing::fast()),
        ("nfs", Timing::nfs_default()),
        ("slow-io", slow_io),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_u64(key: &str) -> Option<u64> {
        std::env::var(key).ok().and_then(|s| s.parse().ok())
    }

    /// A replay models the daemon's faults unless HAMON_SIM_DAEMON_FAULTS=0 (seeds found
    /// before they were modelled).
    fn daemon_faults() -> bool {
        std::env::var("HAMON_SIM_DAEMON_FAULTS").map_or(true, |v| v != "0")
    }

    /// Explores `count` schedules from seed `base` (or replays HAMON_SIM_SEED with a trace,
    /// when HAMON_SIM_PROFILE names this profile; fast by default). Returns the first failure.
    fn explore(
        profile: &str,
        timing: Timing,
        kill_factor: u64,
        count: u64,
        base: u64,
    ) -> Option<(u64, usize, String)> {
        if let Some(seed) = env_u64("HAMON_SIM_SEED") {
            let wanted = std::env::var("HAMON_SIM_PROFILE").unwrap_or_else(|_| "fast".into());
            if wanted != profile || kill_factor != 1 {
                return None;
            }
            let nodes = 2 + (seed % 2) as usize;
            let (result, _) = run_schedule(seed, nodes, timing, kill_factor, daemon_faults(), true);
            return result.err().map(|e| (seed, nodes, e));
        }
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
        let found = std::sync::Mutex::new(None);
        std::thread::scope(|s| {
            for t in 0..threads {
                let found = &found;
                s.spawn(move || {
                    let mut k = t;
                    while k < count {
                        if found.lock().unwrap().is_some() {
                            return;
                        }
                        let seed = base + k;
                        let nodes = 2 + (seed % 2) as usize;
                        if let (Err(e), _) =
                            run_schedule(seed, nodes, timing, kill_factor, true, false)
                        {
                            let mut f = found.lock().unwrap();
                            if f.as_ref().is_none_or(|(s, _, _)| seed < *s) {
                                *f = Some((seed, nodes, e));
                            }
                            return;
                        }
                        k += threads;
                    }
                });
            }
        });
        found.into_inner().unwrap()
    }

    fn run_profile(name: &str, default_count: u64) {
        let (_, timing) = profiles()
            .into_iter()
            .find(|(n, _)| *n == name)
            .expect("a profile");
        let count = env_u64("HAMON_SIM_SCHEDULES").unwrap_or(default_count);
        let base = env_u64("HAMON_SIM_BASE").unwrap_or(0);
        let started = std::time::Instant::now();
        if let Some((seed, nodes, e)) = explore(name, timing, 1, count, base) {
            panic!(
                "{name} profile, seed {seed} ({nodes} nodes): {e}\nreplay: HAMON_SIM_PROFILE={name} \
                 HAMON_SIM_SEED={seed} cargo test --lib heartbeat::sim -- --nocapture"
            );
        }
        println!(
            "{name}: {count} schedules from seed {base}, no failure, {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }

    #[test]
    fn fast_profile_never_runs_two_and_fails_over_in_time() {
        run_profile("fast", 3000);
    }

    #[test]
    fn nfs_profile_never_runs_two_and_fails_over_in_time() {
        run_profile("nfs", 2000);
    }

    #[test]
    fn slow_io_profile_never_runs_two_and_fails_over_in_time() {
        run_profile("slow-io", 2000);
    }

    /// Seeds that once failed: on the NFS profile an epoch reused after a garbled record and
    /// a pause (5006166) and a stale "application stopped" releasing a running term
    /// (6026686); two where a daemon paused during a host suspend kept its guard frozen;
    /// and two where a renewal landing while the tick waited for slow reads reached the
    /// guard only when the tick returned, so it killed at the old deadline (10059421,
    /// 10088046).
    #[test]
    fn former_failures_pass() {
        let [fast, nfs, _] = profiles();
        for ((name, timing), seed) in [
            (nfs, 5006166),
            (nfs, 6026686),
            (fast, 10022685),
            (nfs, 10022926),
            (fast, 10059421),
            (fast, 10088046),
        ] {
            let nodes = 2 + (seed % 2) as usize;
            let (result, _) = run_schedule(seed, nodes, timing, 1, false, false);
            assert_eq!(result, Ok(()), "{name} profile, seed {seed}");
        }
    }

    #[test]
    fn the_checker_finds_an_overlap_when_applications_outlive_the_kill_budget() {
        // Applications that take up to four kill budgets to die break the assumption the
        // takeover time rests on: the simulation must see two at once.
        if env_u64("HAMON_SIM_SEED").is_some() {
            return;
        }
        let found = explore("none", Timing::fast(), 4, 3000, 1_000_000);
        let (_, _, e) = found.expect("a broken kill budget must produce an overlap");
        // Across nodes the checker sees it; on one node the simulation itself refuses a
        // second application beside the one that outlived its kill.
        assert!(
            e.starts_with("two applications at once") || e.contains("started a second application"),
            "{e}"
        );
    }
}
