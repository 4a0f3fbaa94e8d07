//! The cost of the heartbeat on a local file system: an active node of a two-node cluster
//! (the peer's record exists and is read, the peer never runs), ticked as a daemon ticks it
//! (`hb_tick`, then sleep `next_tick_ms`). Every tick is timed, and told apart by whether
//! the node's own record was written during it (the beat: its record written with its
//! syncs, the peer's and the maintenance record read) or not; the ticks between two writes
//! make up one heartbeat period. The calls are counted: a caller that sleeps what
//! `next_tick_ms` says calls about twice a period, and those that answered 0 (call again at
//! once) are counted apart.

use std::path::Path;
use std::time::{Duration, Instant};

use hamon::ffi::heartbeat::{HB_ACTION_START, HB_ROLE_ACTIVE};
use hamon::heartbeat::timing::Timing;

use crate::c_node::CNode;
use crate::support::stats::Samples;
use crate::usage;

pub struct HamonCost {
    pub timing: Timing,
    /// Ticks during which the node wrote its record.
    pub write_ticks: Samples,
    /// The other ticks.
    pub other_ticks: Samples,
    /// Time spent in hb_tick per heartbeat period.
    pub periods: Samples,
    /// CPU of the whole process (the I/O threads included) per heartbeat period.
    pub cpu_per_period: Duration,
    /// hb_tick calls per heartbeat period.
    pub calls_per_period: f64,
    /// Calls that answered `next_tick_ms` 0.
    pub zero_answers: u64,
}

fn settings(dir: &Path, timing: &Timing) -> Vec<(&'static str, String)> {
    let ms = |d: Duration| d.as_millis().to_string();
    vec![
        ("hb.dir", dir.join("shared").display().to_string()),
        ("hb.state_dir", dir.join("state").display().to_string()),
        ("hb.node", "dc1".into()),
        ("hb.nodes", "dc1,dc2".into()),
        ("hb.preferred", "true".into()),
        ("hb.period_ms", ms(timing.period)),
        ("hb.io_timeout_ms", ms(timing.io_timeout)),
        ("hb.renew_deadline_ms", ms(timing.renew_deadline)),
        ("hb.kill_budget_ms", ms(timing.kill_budget)),
        ("hb.takeover_ms", ms(timing.takeover)),
        ("hb.confirm_ms", ms(timing.confirm)),
    ]
}

fn pause(next_tick_ms: u32) {
    std::thread::sleep(Duration::from_millis(u64::from(next_tick_ms)));
}

/// Becomes active in `dir`, then measures for `window`.
pub fn measure(dir: &Path, window: Duration) -> HamonCost {
    // The fast profile: the cost of a period does not depend on its length, and more
    // periods fit the window.
    let timing = Timing::fast();
    std::fs::create_dir_all(dir.join("shared")).expect("create the shared directory");
    let mut node = CNode::new(&settings(dir, &timing), true);
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let r = node.tick();
        if r.role == HB_ROLE_ACTIVE && r.action == HB_ACTION_START {
            break;
        }
        assert!(Instant::now() < until, "the node did not become active");
        pause(r.next_tick_ms);
    }

    let (mut write_ticks, mut other_ticks) = (Samples::default(), Samples::default());
    let mut periods = Samples::default();
    let mut seq = node.own_seq();
    let (mut in_period, mut writes) = (Duration::ZERO, 0u64);
    let (mut calls, mut zero_answers) = (0u64, 0u64);
    let cpu_before = usage::process_cpu();
    let end = Instant::now() + window;
    while Instant::now() < end {
        let started = Instant::now();
        let r = node.tick();
        let took = started.elapsed();
        in_period += took;
        calls += 1;
        zero_answers += u64::from(r.next_tick_ms == 0);
        let now_seq = node.own_seq();
        if now_seq == seq {
            other_ticks.record(took);
        } else {
            write_ticks.record(took);
            periods.record(in_period);
            in_period = Duration::ZERO;
            writes += now_seq - seq;
            seq = now_seq;
        }
        pause(r.next_tick_ms);
    }
    let cpu = usage::process_cpu().saturating_sub(cpu_before);
    HamonCost {
        timing,
        write_ticks,
        other_ticks,
        periods,
        cpu_per_period: cpu / writes.max(1) as u32,
        calls_per_period: calls as f64 / writes.max(1) as f64,
        zero_answers,
    }
}
