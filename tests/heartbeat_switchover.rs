//! Switchovers never leave the cluster without failover: one ends by itself once its node is
//! active, one whose node never becomes active is abandoned after the failover bound with an
//! incident, and `ha-heartbeat switchover` refuses a node that could not take over. Real
//! daemons over a temp directory (tests/common/cluster.rs).
//!
//! Linux only; needs /bin/sh and /proc/uptime.

#![cfg(target_os = "linux")]

use std::fs;
use std::time::Duration;

use crate::common;

use common::cluster::*;

/// From the switchover command to the application running again on the node that gave it up,
/// when the named node never becomes active: the node reads the maintenance record (P +
/// T_io), abandons the switchover after the failover bound, backs off one period and claims
/// (C + 4 T_io); plus S.
fn abandoned_bound() -> Duration {
    FAST.failover_bound() + FAST.period * 2 + FAST.io_timeout * 5 + FAST.confirm + ms(APP_START_MS)
}

#[test]
fn after_a_switchover_the_death_of_the_new_active_is_failed_over() {
    let mut c = Cluster::new("sw-kill", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let other = other_of(&first.node);
    // Let the target's observation window pass, as in a planned switchover.
    c.watch(ms(D), Some(first.pid), "before the switchover");
    let t0 = mono_ns();
    let (st, out) = c.cli(&first.node, &["switchover"]);
    assert!(st.success(), "{out}");
    c.failover_within("switchover", t0, switchover_bound(), |i| i.node == other);
    // The switchover is over once the node that handed over has seen the target active (a
    // target whose daemon dies before that is released by its guard while the switchover
    // still names it: the others then wait until they abandon it).
    assert!(
        wait_until(FAST.loop_turn() * 2, || c
            .log(&first.node)
            .contains(&format!("switchover to {other} done"))),
        "{}",
        c.logs()
    );
    // The new active dies: the node that handed over takes over again, as after any death.
    let t1 = mono_ns();
    c.kill9(other);
    c.failover_within("kill -9 of the new active", t1, failover_bound(), |i| {
        i.node == first.node
    });
    assert!(
        c.log(&first.node)
            .contains(&format!("switchover to {other} done")),
        "{}",
        c.logs()
    );
    c.assert_no_overlap();
}

#[test]
fn a_switchover_to_a_node_that_never_becomes_active_is_abandoned_with_an_incident() {
    let mut c = Cluster::new("sw-never", &["n1", "n2"], "");
    c.start("n1");
    let first = c.wait_running_on(|i| i.node == "n1", ms(D + 3000));
    // n2's daemon never runs: only --force gets the switchover through.
    let t0 = mono_ns();
    let (st, out) = c.cli("n1", &["switchover", "--to", "n2", "--force"]);
    assert!(st.success(), "{out}");
    let back = c.failover_within("abandoned switchover", t0, abandoned_bound(), |i| {
        i.node == "n1" && i.pid != first.pid
    });
    // Not before the deadline: the switchover held n1 back until then.
    let deadline = t0 + FAST.failover_bound().as_nanos() as u64;
    assert!(
        back.start >= deadline,
        "n1 claimed again {} ms before the switchover's deadline\n{}",
        (deadline - back.start) / 1_000_000,
        c.logs()
    );
    let incidents = fs::read_to_string(c.dir.join("incidents")).unwrap_or_default();
    assert!(
        incidents.contains("switchover abandoned") && incidents.contains("n2"),
        "{incidents:?}\n{}",
        c.logs()
    );
    assert!(
        c.log("n1").contains("incident switchover_abandoned"),
        "{}",
        c.log("n1")
    );
    c.assert_no_overlap();
}

/// Runs `switchover --to target` on n1 and asserts it is refused naming `why`, and that the
/// maintenance record still says OFF.
fn refused(c: &Cluster, target: &str, why: &str) {
    let (st, out) = c.cli("n1", &["switchover", "--to", target]);
    assert_eq!(st.code(), Some(1), "switchover to {target} accepted: {out}");
    let hint = target == "n4" || out.contains("--force switches over anyway");
    assert!(
        out.starts_with("ha-heartbeat: ") && out.contains(why) && hint,
        "switchover to {target}: {out:?} does not say {why:?}"
    );
    let (_, status) = c.cli("n1", &["status"]);
    assert!(
        !status.contains("SWITCHOVER"),
        "a refused switchover changed the record: {status}"
    );
}

#[test]
fn a_switchover_to_a_node_that_could_not_take_over_is_refused_unless_forced() {
    let mut c = Cluster::new("sw-refuse", &["n1", "n2", "n3"], "");
    c.start("n1");
    c.start("n2");
    c.start("n3");
    c.wait_running_on(|i| i.node == "n1", ms(D + 3000));

    refused(&c, "n4", "not one of hb.nodes");
    let (st, out) = c.cli("n1", &["switchover", "--to", "n4", "--force"]);
    assert_eq!(st.code(), Some(1), "{out}");

    let (st, out) = c.cli("n1", &["drain", "n2"]);
    assert!(st.success(), "{out}");
    refused(&c, "n2", "n2: it is drained");
    let (st, out) = c.cli("n1", &["undrain", "n2"]);
    assert!(st.success(), "{out}");

    c.kill9("n3");
    refused(&c, "n3", "n3: its record has not changed");

    let record = c.record("n3");
    let aside = c.dir.join("node.n3.aside");
    fs::rename(&record, &aside).unwrap();
    refused(&c, "n3", "n3: its record is unreadable");
    fs::write(&record, vec![0x5a; 4096]).unwrap();
    refused(&c, "n3", "n3: its record is corrupt");
    fs::rename(&aside, &record).unwrap();

    // A live node is accepted, and --force overrides the checks.
    let (st, out) = c.cli("n1", &["switchover", "--to", "n2"]);
    assert!(st.success(), "{out}");
    let (st, out) = c.cli("n1", &["switchover", "--to", "n3", "--force"]);
    assert!(st.success() && out.contains("SWITCHOVER to n3"), "{out}");
}
