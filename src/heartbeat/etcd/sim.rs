//! Randomized simulation of the etcd protocol: two or three cores against an in-memory model
//! of etcd's leases and transactions, with message delays, lost replies, etcd outages (no
//! quorum: nothing expires, then the new leader extends every lease by an election timeout),
//! daemon pauses (the application keeps running; only the guard's copy of the deadline stops
//! it), application failures and releases, clocks that run fast or slow, and a lessor that
//! revokes expired leases up to 500 ms late, and endpoints that lie: a proxy in front of one
//! node that rewrites the TTL of every grant and keepalive answer to 9000000000 s, and may
//! cut that node off from etcd altogether. An independent
//! checker takes every application run as a real-time interval and demands that no two
//! overlap and that epochs increase in the order the runs start.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::Duration;

use super::core::{Action, Core, CoreConfig, Event, Leader, View};
use super::timing::{ETCD_EXPIRY_CHECK, EtcdTiming};
use crate::heartbeat::timing::RATE_ERROR;

const MS: u64 = 1_000_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// etcd as the protocol sees it: leases with an expiry on etcd's clock (real time here), keys,
/// a revision counter; unavailable during an outage.
#[derive(Default)]
struct Etcd {
    rev: i64,
    next_lease: i64,
    /// id -> (ttl ns, expiry)
    leases: BTreeMap<i64, (u64, u64)>,
    leader: Option<Leader>,
    epoch: u64,
    epoch_rev: i64,
    /// When the current outage ends (no quorum until then).
    down_until: u64,
    election_ns: u64,
    /// How late after expiry the lessor revokes a lease (etcd checks every 500 ms).
    expiry_lag: u64,
}

#[derive(Clone, Debug)]
enum Call {
    Grant(u64),
    KeepAlive(i64),
    Read,
    Claim(String, i64, u64, i64),
    Revoke(i64),
    Status(i64),
}

enum Reply {
    Granted(Result<(i64, u64), String>),
    KeptAlive(i64, Result<u64, String>),
    Read(Result<View, String>),
    Claimed(Result<bool, String>),
    Revoked(Result<(), String>),
    Status(Result<(), String>),
}

impl Etcd {
    fn expire(&mut self, t: u64) {
        let dead: Vec<i64> = self
            .leases
            .iter()
            .filter(|(_, (_, exp))| *exp + self.expiry_lag <= t)
            .map(|(id, _)| *id)
            .collect();
        for id in dead {
            self.drop_lease(id);
        }
    }

    fn drop_lease(&mut self, id: i64) {
        self.leases.remove(&id);
        if self.leader.as_ref().is_some_and(|l| l.lease == id) {
            self.leader = None;
            self.rev += 1;
        }
    }

    /// A new etcd leader: every lease gets its full TTL plus one election timeout.
    fn promote(&mut self, t: u64) {
        let e = self.election_ns;
        for (ttl, exp) in self.leases.values_mut() {
            *exp = (*exp).max(t + *ttl + e);
        }
    }

    fn apply(&mut self, t: u64, call: &Call) -> Reply {
        self.expire(t);
        match call {
            Call::Grant(ttl_s) => {
                self.next_lease += 1;
                let ttl = ttl_s * 1000 * MS;
                self.leases.insert(self.next_lease, (ttl, t + ttl));
                Reply::Granted(Ok((self.next_lease, *ttl_s)))
            }
            // An expired lease awaiting its revoke is not renewed (etcd's Renew waits for
            // the revoke and answers not found).
            Call::KeepAlive(id) => match self.leases.get_mut(id).filter(|(_, exp)| *exp > t) {
                Some((ttl, exp)) => {
                    *exp = t + *ttl;
                    Reply::KeptAlive(*id, Ok(*ttl / (1000 * MS)))
                }
                None => Reply::KeptAlive(*id, Ok(0)),
            },
            Call::Read => Reply::Read(Ok(View {
                leader: self.leader.clone(),
                epoch: self.epoch,
                epoch_rev: self.epoch_rev,
                maint: None,
            })),
            Call::Claim(node, lease, epoch, epoch_rev) => {
                if !self.leases.contains_key(lease) {
                    return Reply::Claimed(Err("lease not found".into()));
                }
                if self.leader.is_some() || self.epoch_rev != *epoch_rev {
                    return Reply::Claimed(Ok(false));
                }
                self.rev += 1;
                self.leader = Some(Leader {
                    node: node.clone(),
                    epoch: *epoch,
                    lease: *lease,
                });
                self.epoch = *epoch;
                self.epoch_rev = self.rev;
                Reply::Claimed(Ok(true))
            }
            Call::Revoke(id) => {
                self.drop_lease(*id);
                Reply::Revoked(Ok(()))
            }
            Call::Status(id) => Reply::Status(if self.leases.contains_key(id) {
                Ok(())
            } else {
                Err("lease not found".into())
            }),
        }
    }
}

fn failed(call: &Call, why: &str) -> Reply {
    let e = why.to_string();
    match call {
        Call::Grant(_) => Reply::Granted(Err(e)),
        Call::KeepAlive(id) => Reply::KeptAlive(*id, Err(e)),
        Call::Read => Reply::Read(Err(e)),
        Call::Claim(..) => Reply::Claimed(Err(e)),
        Call::Revoke(_) => Reply::Revoked(Err(e)),
        Call::Status(_) => Reply::Status(Err(e)),
    }
}

struct Node {
    name: String,
    core: Core,
    /// Local clock = base + real x rate.
    base: u64,
    rate: f64,
    paused_until: u64,
    /// The running application: (epoch, real start).
    app: Option<(u64, u64)>,
    /// When the application will be gone (a stop or the guard is under way).
    app_gone_at: Option<u64>,
    /// The guard's copy of the deadline (real time): it kills the application there even
    /// while the daemon is paused.
    guard: Option<u64>,
    /// Until when (real time) a proxy in front of this node inflates every lease TTL it
    /// relays, and until when it relays nothing at all.
    lying_until: u64,
    cut_until: u64,
    /// The call in flight: its send time, local and real.
    sent: u64,
    sent_real: u64,
    /// The one pending tick (real time).
    tick_at: u64,
}

impl Node {
    fn local(&self, t: u64) -> u64 {
        self.base + (t as f64 * self.rate) as u64
    }
    fn real_after(&self, local_delta: u64) -> u64 {
        (local_delta as f64 / self.rate).ceil() as u64
    }
}

enum Ev {
    Tick(usize),
    Arrive(usize, Call, bool),
    Deliver(usize, Reply),
    AppGone(usize, u64),
    Stopped(usize, u64),
    Guard(usize, u64),
    Pause(usize, u64),
    /// The daemon of the node running the application dies (its guard lives on).
    ActiveDies,
    Outage(u64),
    Elect,
    Fail(usize),
    Release(usize),
    /// The proxy in front of a node lies about TTLs for a while.
    Lie(usize, u64),
    /// The proxy in front of a node relays nothing for a while.
    CutOff(usize, u64),
}

struct Sim {
    t: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    events: BTreeMap<u64, Ev>,
    nodes: Vec<Node>,
    etcd: Etcd,
    rng: Rng,
    timing: EtcdTiming,
    /// Message faults: delays up to most of T_io and lost replies.
    faults: bool,
    /// Every application run: (real start, real end, node, epoch).
    runs: Vec<(u64, u64, usize, u64)>,
    /// Answers a lying proxy rewrote and delivered.
    lies: u64,
}

impl Sim {
    fn at(&mut self, t: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((t, self.seq)));
        self.events.insert(self.seq, ev);
    }

    fn step(&mut self, i: usize, ev: Event) {
        let now = self.nodes[i].local(self.t);
        let actions = self.nodes[i].core.step(now, ev);
        for a in actions {
            self.act(i, a);
        }
        // The guard learns the deadline after every step.
        let n = &mut self.nodes[i];
        let left = n.core.status(now).deadline_left;
        n.guard = left.map(|l| self.t + n.real_after(l));
        if let Some(g) = self.nodes[i].guard {
            self.at(g, Ev::Guard(i, g));
        }
        let wake = self.nodes[i].core.next_wakeup().max(now + MS);
        let at = self.t + self.nodes[i].real_after(wake - now);
        if self.nodes[i].tick_at <= self.t || at < self.nodes[i].tick_at {
            self.nodes[i].tick_at = at;
            self.at(at, Ev::Tick(i));
        }
    }

    fn send(&mut self, i: usize, call: Call) {
        let tio = self.timing.io_timeout.as_nanos() as u64;
        self.nodes[i].sent = self.nodes[i].local(self.t);
        self.nodes[i].sent_real = self.t;
        let (d1, lost) = if self.faults {
            (self.rng.below(tio * 3 / 4), self.rng.chance(50))
        } else {
            (self.rng.below(tio / 4), false)
        };
        self.at(self.t + d1, Ev::Arrive(i, call, lost));
    }

    fn act(&mut self, i: usize, a: Action) {
        match a {
            Action::GrantLease { ttl_s } => self.send(i, Call::Grant(ttl_s)),
            Action::KeepAlive { lease } => self.send(i, Call::KeepAlive(lease)),
            Action::Read => self.send(i, Call::Read),
            Action::Claim {
                lease,
                epoch,
                epoch_rev,
            } => {
                let name = self.nodes[i].name.clone();
                self.send(i, Call::Claim(name, lease, epoch, epoch_rev))
            }
            Action::Revoke { lease } => self.send(i, Call::Revoke(lease)),
            Action::PutStatus { lease, .. } => self.send(i, Call::Status(lease)),
            Action::PersistEpoch(_) | Action::Alarm(_) | Action::EpochExhausted { .. } => {}
            Action::StartApp { epoch } => {
                assert!(self.nodes[i].app.is_none(), "start while running");
                self.nodes[i].app = Some((epoch, self.t));
                self.nodes[i].app_gone_at = None;
            }
            Action::StopApp { .. } => self.kill_app(i),
        }
    }

    /// The application is gone within K (on the node's clock).
    fn kill_app(&mut self, i: usize) {
        let Some((epoch, _)) = self.nodes[i].app else {
            return;
        };
        let k = self.timing.kill_budget.as_nanos() as u64;
        // Mostly the worst case: the whole kill budget.
        let k = if self.rng.chance(700) {
            k
        } else {
            self.rng.below(k)
        };
        let gone = self.t + self.nodes[i].real_after(k);
        if self.nodes[i].app_gone_at.is_none_or(|g| gone < g) {
            self.nodes[i].app_gone_at = Some(gone);
            self.at(gone, Ev::AppGone(i, epoch));
        }
    }

    fn run(&mut self, until: u64) {
        while let Some(Reverse((t, seq))) = self.queue.pop() {
            if t > until {
                break;
            }
            self.t = t;
            let ev = self.events.remove(&seq).expect("event");
            match ev {
                Ev::Tick(i)
                | Ev::Deliver(i, _)
                | Ev::Stopped(i, _)
                | Ev::Fail(i)
                | Ev::Release(i)
                    if self.nodes[i].paused_until > t =>
                {
                    // The daemon is paused: what it would do waits until it runs again.
                    let later = self.nodes[i].paused_until;
                    if let Ev::Tick(_) = ev {
                        if self.nodes[i].tick_at != t {
                            continue;
                        }
                        self.nodes[i].tick_at = later;
                    }
                    self.at(later, ev);
                }
                Ev::Tick(i) => {
                    if self.nodes[i].tick_at == t {
                        self.step(i, Event::Tick);
                    }
                }
                Ev::Arrive(i, call, lost) => {
                    let tio = self.timing.io_timeout.as_nanos() as u64;
                    let timeout_at = self.nodes[i].sent_real + self.nodes[i].real_after(tio);
                    let lost = lost || t < self.nodes[i].cut_until;
                    let reply = if t < self.etcd.down_until {
                        failed(&call, "no quorum")
                    } else {
                        self.etcd.apply(t, &call)
                    };
                    let reply = if t < self.nodes[i].lying_until {
                        self.lie(reply)
                    } else {
                        reply
                    };
                    let back = t + self.rng.below(if self.faults { tio / 2 } else { tio / 4 });
                    if lost || back >= timeout_at {
                        // Whatever etcd did stands; the node only sees a timeout.
                        self.at(timeout_at, Ev::Deliver(i, failed(&call, "timed out")));
                    } else {
                        self.at(back, Ev::Deliver(i, reply));
                    }
                }
                Ev::Deliver(i, reply) => {
                    let sent = self.nodes[i].sent;
                    let ev = match reply {
                        Reply::Granted(result) => Event::Granted { sent, result },
                        Reply::KeptAlive(lease, result) => Event::KeptAlive {
                            sent,
                            lease,
                            result,
                        },
                        Reply::Read(result) => Event::Read { result },
                        Reply::Claimed(result) => Event::Claimed { result },
                        Reply::Revoked(result) => Event::Revoked { result },
                        Reply::Status(result) => Event::StatusPut { result },
                    };
                    self.step(i, ev);
                }
                Ev::AppGone(i, epoch) => {
                    if self.nodes[i].app.is_some_and(|(e, _)| e == epoch)
                        && self.nodes[i].app_gone_at == Some(t)
                    {
                        let (_, start) = self.nodes[i].app.take().expect("checked");
                        self.nodes[i].app_gone_at = None;
                        self.runs.push((start, t, i, epoch));
                        self.at(t, Ev::Stopped(i, epoch));
                    }
                }
                Ev::Stopped(i, epoch) => self.step(i, Event::AppStopped { epoch }),
                Ev::Guard(i, g) => {
                    if self.nodes[i].guard == Some(g) && self.nodes[i].app.is_some() {
                        self.kill_app(i);
                    }
                }
                Ev::Pause(i, len) => {
                    self.nodes[i].paused_until =
                        self.nodes[i].paused_until.max(t.saturating_add(len))
                }
                Ev::ActiveDies => {
                    for n in self.nodes.iter_mut().filter(|n| n.app.is_some()) {
                        n.paused_until = u64::MAX;
                    }
                }
                Ev::Outage(len) => {
                    self.etcd.expire(t);
                    self.etcd.down_until = self.etcd.down_until.max(t + len);
                    self.at(t + len, Ev::Elect);
                }
                Ev::Elect => {
                    if t >= self.etcd.down_until {
                        self.etcd.expire(t);
                        self.etcd.promote(t);
                    }
                }
                Ev::Fail(i) => self.step(i, Event::AppFailed("health check".into())),
                Ev::Release(i) => self.step(i, Event::Release),
                Ev::Lie(i, len) => {
                    let n = &mut self.nodes[i];
                    n.lying_until = n.lying_until.max(t + len);
                }
                Ev::CutOff(i, len) => {
                    let n = &mut self.nodes[i];
                    n.cut_until = n.cut_until.max(t + len);
                }
            }
        }
    }

    /// What a lying proxy makes of etcd's answer: every lease "renewed" for 285 years.
    fn lie(&mut self, reply: Reply) -> Reply {
        const HUGE: u64 = 9_000_000_000;
        match reply {
            Reply::Granted(Ok((id, _))) => {
                self.lies += 1;
                Reply::Granted(Ok((id, HUGE)))
            }
            Reply::KeptAlive(id, Ok(_)) => {
                self.lies += 1;
                Reply::KeptAlive(id, Ok(HUGE))
            }
            other => other,
        }
    }
}

/// The independent checker: no two runs overlap in real time; epochs grow with start time.
fn check(runs: &mut [(u64, u64, usize, u64)], seed: u64) {
    runs.sort();
    for w in runs.windows(2) {
        let (a, b) = (w[0], w[1]);
        assert!(
            a.1 <= b.0,
            "seed {seed}: node {} (epoch {}) ran {}..{} ms, node {} (epoch {}) started at {} ms",
            a.2,
            a.3,
            a.0 / MS,
            a.1 / MS,
            b.2,
            b.3,
            b.0 / MS
        );
        assert!(a.3 < b.3, "seed {seed}: epoch {} then {}", a.3, b.3);
    }
}

fn simulate(seed: u64, nodes: usize, faults: bool) -> Vec<(u64, u64, usize, u64)> {
    simulate_with(seed, nodes, faults, None)
}

/// The simulation's timing.
fn sim_timing() -> EtcdTiming {
    EtcdTiming {
        period: Duration::from_millis(500),
        io_timeout: Duration::from_millis(400),
        lease_ttl: Duration::from_secs(3),
        kill_budget: Duration::from_millis(500),
        election_timeout: Duration::from_millis(500),
        heartbeat_interval: Duration::from_millis(50),
    }
}

/// A death: the active's daemon dies at the first time (its guard lives on); with a second
/// time, etcd's leader dies with it and etcd has no quorum for that long.
type Death = (u64, u64);

fn simulate_with(
    seed: u64,
    nodes: usize,
    faults: bool,
    death: Option<Death>,
) -> Vec<(u64, u64, usize, u64)> {
    simulate_lying(seed, nodes, faults, death, None).0
}

/// A lying proxy in front of node 0: (when it starts inflating TTLs, when it then cuts the
/// node off from etcd for good).
type Lying = (u64, u64);

/// As [`simulate_with`], with a lying proxy; also returns how many lies were delivered.
fn simulate_lying(
    seed: u64,
    nodes: usize,
    faults: bool,
    death: Option<Death>,
    lying: Option<Lying>,
) -> (Vec<(u64, u64, usize, u64)>, u64) {
    let timing = sim_timing();
    timing.check().expect("the simulation's timing is safe");
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut sim = Sim {
        t: 0,
        seq: 0,
        queue: BinaryHeap::new(),
        events: BTreeMap::new(),
        nodes: Vec::new(),
        etcd: Etcd {
            election_ns: timing.election_timeout.as_nanos() as u64,
            expiry_lag: rng.below(ETCD_EXPIRY_CHECK.as_nanos() as u64 + 1),
            ..Etcd::default()
        },
        rng: Rng(rng.next() | 1),
        timing,
        faults,
        runs: Vec::new(),
        lies: 0,
    };
    for i in 0..nodes {
        // Clock rates within the bound the timing assumes.
        let ppm = rng.below(2001) as f64 - 1000.0;
        let rate = 1.0 + ppm * RATE_ERROR / 1000.0;
        let base = rng.below(1 << 40);
        let cfg = CoreConfig {
            node: format!("n{i}"),
            preferred: i == 0,
            timing,
            incarnation: rng.next(),
            persisted_epoch: 0,
        };
        sim.nodes.push(Node {
            name: format!("n{i}"),
            core: Core::new(cfg, base),
            base,
            rate,
            paused_until: 0,
            app: None,
            app_gone_at: None,
            guard: None,
            lying_until: 0,
            cut_until: 0,
            sent: 0,
            sent_real: 0,
            tick_at: 0,
        });
        let first = rng.below(200 * MS);
        sim.nodes[i].tick_at = first;
        sim.at(first, Ev::Tick(i));
    }
    let until = 60_000 * MS;
    if faults {
        let mut t = 0;
        loop {
            t += 500 * MS + rng.below(6000 * MS);
            if t >= until - 10_000 * MS {
                break;
            }
            let i = rng.below(nodes as u64) as usize;
            match rng.below(12) {
                0..=2 => sim.at(t, Ev::Pause(i, rng.below(8000 * MS))),
                3 | 4 => sim.at(t, Ev::Outage(rng.below(6000 * MS))),
                5 | 6 => sim.at(t, Ev::Elect),
                7 | 8 => sim.at(t, Ev::Fail(i)),
                9 => sim.at(t, Ev::Lie(i, rng.below(10_000 * MS))),
                10 => sim.at(t, Ev::CutOff(i, rng.below(8000 * MS))),
                _ => {
                    if rng.chance(300) {
                        sim.at(t, Ev::Release(i));
                    }
                }
            }
        }
    }
    if let Some((at, no_quorum)) = death {
        sim.at(at, Ev::ActiveDies);
        if no_quorum > 0 {
            sim.at(at, Ev::Outage(no_quorum));
        }
    }
    if let Some((lie_at, cut_at)) = lying {
        sim.at(lie_at, Ev::Lie(0, until));
        sim.at(cut_at, Ev::CutOff(0, until));
    }
    sim.run(until);
    // Runs still going at the end count up to the end.
    for n in &sim.nodes {
        if let Some((epoch, start)) = n.app {
            let i = sim
                .nodes
                .iter()
                .position(|m| m.name == n.name)
                .expect("node");
            sim.runs.push((start, until, i, epoch));
        }
    }
    let mut runs = sim.runs;
    check(&mut runs, seed);
    (runs, sim.lies)
}

#[test]
fn without_faults_one_node_runs_from_early_on_to_the_end() {
    for seed in 1..20 {
        let runs = simulate(seed, 2, false);
        assert_eq!(runs.len(), 1, "seed {seed}: {runs:?}");
        assert_eq!(runs[0].2, 0, "seed {seed}: the preferred node starts");
        assert!(
            runs[0].0 < 5_000 * MS,
            "seed {seed}: started at {} ms",
            runs[0].0 / MS
        );
    }
}

#[test]
fn no_overlap_under_delays_lost_replies_pauses_outages_and_failures() {
    let mut failovers = 0;
    for seed in 1..200 {
        let runs = simulate(seed, 2 + (seed % 2) as usize, true);
        failovers += runs.len().saturating_sub(1);
    }
    // The faults did force hand-overs: the checker saw real takeovers, not one long run.
    assert!(failovers > 200, "only {failovers} takeovers");
}

/// The failover bound (`EtcdTiming::failover_bound`, docs/heartbeat-etcd.md) against the
/// model: the active's daemon dies at a random moment of its period (its guard still stops
/// the application at the deadline), half the time together with etcd's leader (no quorum
/// for up to 2E, then a new leader that gives every lease TTL + E); the other node starts
/// within the bound of the death, and only then.
#[test]
fn a_dead_active_is_replaced_within_the_failover_bound() {
    let t = sim_timing();
    let bound = t.failover_bound().as_nanos() as u64;
    let e = t.election_timeout.as_nanos() as u64;
    let mut worst = 0;
    for seed in 1..300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1);
        let at = 8_000 * MS + rng.below(t.period.as_nanos() as u64);
        let no_quorum = if rng.chance(500) {
            rng.below(2 * e) + 1
        } else {
            0
        };
        let runs = simulate_with(seed, 2, false, Some((at, no_quorum)));
        assert_eq!(runs.len(), 2, "seed {seed}: {runs:?}");
        let (first, next) = (runs[0], runs[1]);
        assert!(first.0 < at && first.2 != next.2, "seed {seed}: {runs:?}");
        let took = next.0 - at;
        assert!(
            took <= bound,
            "seed {seed}: n1 started {} ms after n0 died (no quorum for {} ms), bound {} ms",
            took / MS,
            no_quorum / MS,
            bound / MS
        );
        worst = worst.max(took);
    }
    // The bound is not loose by orders: the model's worst case comes near it.
    assert!(worst > bound / 2, "worst {} ms", worst / MS);
}

/// An endpoint that answers every grant and keepalive of the active with a TTL of 9000000000 s,
/// then stops relaying anything: the active fences by its own deadline (from the TTL it asked
/// for), the standby takes over, and the two applications never overlap.
#[test]
fn a_lying_endpoint_in_front_of_the_active_cannot_make_two_applications_run() {
    let p = sim_timing().period.as_nanos() as u64;
    let mut lies = 0;
    for seed in 1..200u64 {
        let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1);
        // The lie starts while n0 is active; the cut-off comes with it or up to 3 s later.
        let lie_at = 6_000 * MS + rng.below(p);
        let cut_at = lie_at + rng.below(3_000 * MS);
        let (runs, told) = simulate_lying(seed, 2, seed % 3 == 0, None, Some((lie_at, cut_at)));
        lies += told;
        // `check` found no overlap; n1 took over from n0, which never ran again.
        let last = runs.last().expect("a run");
        assert_eq!(last.2, 1, "seed {seed}: {runs:?}");
        assert!(
            runs.iter().all(|r| r.2 == 1 || r.0 < cut_at),
            "seed {seed}: {runs:?}"
        );
    }
    assert!(lies > 200, "only {lies} lies delivered");
}
