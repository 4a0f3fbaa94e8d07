//! Nodes with different timing: a peer must wait out the active node's own renew deadline
//! and kill budget (read from its record), not only its own takeover time, and say so.
//! Real `ha-heartbeat` daemons; the independent beacon checker of tests/common/cluster.rs
//! judges overlap.

use crate::common;

use std::time::Duration;

use common::cluster::*;
use hamon::heartbeat::timing::Timing;

/// n1: F1 4000 ms, K 1000 ms, D 6000 ms (safe on its own); n2: the fast profile (D 1500 ms,
/// which alone would take over 2.5 s before n1's application is surely gone).
const SLOW: &str = "hb.renew_deadline_ms=4000\nhb.kill_budget_ms=1000\nhb.takeover_ms=6000\n";

#[test]
fn a_fast_peer_waits_for_a_slow_active_by_the_active_s_timing_with_no_overlap() {
    let mut c = Cluster::new("mixed", &["n1", "n2"], "");
    c.add_conf("n1", SLOW);
    c.start("n1");
    let first = c.wait_running_on(|i| i.node == "n1", ms(6000 + 3000));
    c.start("n2");
    // n2 reads n1's record and announces the longer wait, with the numbers.
    let need = Timing::takeover_needed(ms(4000), ms(1000), ms(P));
    let said = format!(
        "taking over from it needs its record unchanged for {} ms",
        need.as_millis()
    );
    assert!(
        wait_until(ms(5000), || c.log("n2").contains(&said)),
        "n2 did not report n1's timing\n{}",
        c.logs()
    );
    assert!(
        c.log("n2")
            .contains("hb.renew_deadline_ms=4000 hb.kill_budget_ms=1000")
    );
    // Let n2 settle as a standby, then freeze n1's daemon: its guard ends the application at
    // n1's deadline, and n2 may start only after n1's F1 + K have surely passed.
    c.watch(ms(1000), Some(first.pid), "both running");
    let pid = c.pid("n1");
    let t_stop = mono_ns();
    signal(pid, libc::SIGSTOP);
    let mixed = Timing {
        takeover: need,
        ..FAST
    };
    let bound = mixed.failover_bound() + ms(APP_START_MS);
    let second = c.failover_within("SIGSTOP of the slow active", t_stop, bound, |i| {
        i.node == "n2"
    });
    let waited = Duration::from_nanos(second.start - t_stop);
    assert!(
        waited >= ms(FAST.takeover.as_millis() as u64 + 1000),
        "n2 took over {} ms after the stop: it did not wait for n1's own fence",
        waited.as_millis()
    );
    signal(pid, libc::SIGCONT);
    c.watch(ms(2000), Some(second.pid), "after n1 resumed");
    c.assert_no_overlap();
}
