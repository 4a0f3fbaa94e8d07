//! The cost of the heartbeat on etcd: an active node (`hb.backend=etcd`) on a local
//! three-member etcd, ticked through the C ABI as a daemon ticks it. Its beat is one lease
//! keepalive and one linearizable range read of the cluster's keys per period, made by its
//! etcd thread while hb_tick waits for them. A tick during which the lease's deadline moved
//! on acknowledged a keepalive; the ticks between two such make up one period. The members'
//! own figures tell what the beat cost them: their CPU above their idle rate, and the
//! requests they received (their `/metrics`).

use std::path::Path;
use std::time::{Duration, Instant};

use hamon::ffi::heartbeat::{HB_ACTION_START, HB_ROLE_ACTIVE};
use hamon::heartbeat::etcd::timing::EtcdTiming;

use crate::c_node::CNode;
use crate::support::etcd::{self, ELECTION_MS, Etcd, HEARTBEAT_MS};
use crate::support::stats::Samples;
use crate::usage;

/// The failover benchmark's etcd timing with the fast profile's period: the cost of a beat
/// does not depend on the period, and more beats fit the window.
pub fn timing() -> EtcdTiming {
    EtcdTiming {
        period: Duration::from_millis(100),
        io_timeout: Duration::from_millis(500),
        lease_ttl: Duration::from_secs(6),
        kill_budget: Duration::from_millis(1000),
        election_timeout: Duration::from_millis(ELECTION_MS),
        heartbeat_interval: Duration::from_millis(HEARTBEAT_MS),
    }
}

pub struct EtcdCost {
    pub timing: EtcdTiming,
    /// Ticks during which a keepalive was acknowledged.
    pub ack_ticks: Samples,
    /// Time spent in hb_tick per period (between two acknowledgements).
    pub periods: Samples,
    /// The other ticks.
    pub other_ticks: Samples,
    /// CPU of the node's process (its etcd thread included) per period.
    pub cpu_per_period: Duration,
    /// hb_tick calls per period.
    pub calls_per_period: f64,
    /// Calls that answered `next_tick_ms` 0.
    pub zero_answers: u64,
    /// CPU of the three members per period, above what they use idle.
    pub etcd_cpu_per_period: Duration,
    /// Requests the members received per period: keepalives, range reads, anything else
    /// (transactions, puts, grants, revokes).
    pub keepalives: f64,
    pub ranges: f64,
    pub others: f64,
}

fn settings(dir: &Path, t: &EtcdTiming, endpoints: &[String]) -> Vec<(&'static str, String)> {
    let ms = |d: Duration| d.as_millis().to_string();
    vec![
        ("hb.backend", "etcd".into()),
        ("hb.etcd.endpoints", endpoints.join(",")),
        ("hb.state_dir", dir.join("state").display().to_string()),
        ("hb.node", "dc1".into()),
        ("hb.nodes", "dc1,dc2".into()),
        ("hb.preferred", "true".into()),
        ("hb.etcd.period_ms", ms(t.period)),
        ("hb.etcd.io_timeout_ms", ms(t.io_timeout)),
        ("hb.etcd.lease_ttl_s", t.lease_ttl.as_secs().to_string()),
        ("hb.etcd.kill_budget_ms", ms(t.kill_budget)),
        ("hb.etcd.election_timeout_ms", ms(t.election_timeout)),
        ("hb.etcd.heartbeat_interval_ms", ms(t.heartbeat_interval)),
    ]
}

fn pause(next_tick_ms: u32) {
    std::thread::sleep(Duration::from_millis(u64::from(next_tick_ms)));
}

const OTHER_CALLS: [&str; 5] = ["Txn", "Put", "LeaseGrant", "LeaseRevoke", "DeleteRange"];

fn others(etcd: &Etcd) -> Result<u64, String> {
    OTHER_CALLS.iter().map(|m| etcd.requests(m)).sum()
}

/// Starts etcd in `dir`, measures its idle CPU, becomes active, then measures for `window`.
pub fn measure(dir: &Path, window: Duration) -> Result<EtcdCost, String> {
    etcd::available()?;
    let timing = timing();
    timing.check().map_err(|e| e.to_string())?;
    let etcd = Etcd::start(dir)?;
    // The members' idle rate (raft heartbeats every H), to be taken off.
    let idle_window = (window / 4).max(Duration::from_secs(2));
    let (idle_cpu0, idle_t0) = (etcd.cpu(), Instant::now());
    std::thread::sleep(idle_window);
    let idle_rate =
        (etcd.cpu().saturating_sub(idle_cpu0)).as_secs_f64() / idle_t0.elapsed().as_secs_f64();

    // dc1 only: the peer never runs (as in the file row), its status key is not there.
    let mut node = CNode::new(&settings(dir, &timing, &etcd.endpoints()), false);
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let r = node.tick();
        if r.role == HB_ROLE_ACTIVE && r.action == HB_ACTION_START {
            break;
        }
        if Instant::now() >= until {
            return Err("the node did not become active on etcd within 30 s".into());
        }
        pause(r.next_tick_ms);
    }
    // Settle: the status key written, the first periods past.
    let settle = Instant::now() + timing.period * 5;
    while Instant::now() < settle {
        let r = node.tick();
        pause(r.next_tick_ms);
    }

    let (mut ack_ticks, mut other_ticks, mut periods) =
        (Samples::default(), Samples::default(), Samples::default());
    let (keep0, range0, other0) = (
        etcd.requests("LeaseKeepAlive")?,
        etcd.requests("Range")?,
        others(&etcd)?,
    );
    let (mut in_period, mut acks, mut last_left) = (Duration::ZERO, 0u64, i64::MIN);
    let (mut calls, mut zero_answers) = (0u64, 0u64);
    let cpu_before = usage::process_cpu();
    let etcd_cpu_before = etcd.cpu();
    let started_window = Instant::now();
    let end = started_window + window;
    while Instant::now() < end {
        let started = Instant::now();
        let r = node.tick();
        let took = started.elapsed();
        in_period += took;
        calls += 1;
        zero_answers += u64::from(r.next_tick_ms == 0);
        // The deadline only moves on when a keepalive is acknowledged.
        if r.deadline_left_ms > last_left && last_left != i64::MIN {
            ack_ticks.record(took);
            periods.record(in_period);
            in_period = Duration::ZERO;
            acks += 1;
        } else {
            other_ticks.record(took);
        }
        last_left = r.deadline_left_ms;
        if r.role != HB_ROLE_ACTIVE {
            return Err("the node lost its lease during the measurement".into());
        }
        pause(r.next_tick_ms);
    }
    let elapsed = started_window.elapsed();
    let cpu = usage::process_cpu().saturating_sub(cpu_before);
    let etcd_cpu = etcd.cpu().saturating_sub(etcd_cpu_before);
    let etcd_above_idle =
        etcd_cpu.saturating_sub(Duration::from_secs_f64(idle_rate * elapsed.as_secs_f64()));
    let per = |n: u64| n as f64 / acks.max(1) as f64;
    Ok(EtcdCost {
        timing,
        ack_ticks,
        periods,
        other_ticks,
        cpu_per_period: cpu / acks.max(1) as u32,
        calls_per_period: per(calls),
        zero_answers,
        etcd_cpu_per_period: etcd_above_idle / acks.max(1) as u32,
        keepalives: per(etcd.requests("LeaseKeepAlive")? - keep0),
        ranges: per(etcd.requests("Range")? - range0),
        others: per(others(&etcd)? - other0),
    })
}
