//! A kill at the lease deadline is a fence, not a failure of the application, whichever the
//! daemon sees first: the guard's kill (the daemon held, with the test hook, between its tick
//! and its look at the application, past the deadline) or its own FENCE (storage lost while
//! active). No `app_failed` incident, no flap damping: the node claims again as soon as it
//! can, not after the damping's minute.
//!
//! Linux only; needs /bin/sh, /proc and mkfifo.

#![cfg(target_os = "linux")]

use std::fs;
use std::time::Duration;

use crate::common;
use crate::common::hung;

use common::cluster::*;
use hung::HungStorage;

/// Far longer than any wait of these tests: a node that damps cannot come back in time.
const DAMPING_MS: u64 = 60_000;

/// n1 and n2, damping on, no local restarts; n2 is never started, so n1 claims alone.
fn cluster(label: &str) -> Cluster {
    let c = Cluster::new(
        label,
        &["n1", "n2"],
        &format!(
            "hb.flap_backoff_ms={DAMPING_MS}\nhb.flap_backoff_max_ms={DAMPING_MS}\n\
             hb.failure_timeout_ms={}\nhb.restart_limit=0\n",
            DAMPING_MS * 10
        ),
    );
    let kinds = c.dir.join("kinds");
    c.add_conf(
        "n1",
        &format!(
            "hb.incident_cmd=echo \"$HB_INCIDENT_KIND|$HB_REASON\" >> {}\n",
            kinds.display()
        ),
    );
    c
}

/// The kinds of incident paged so far, with their reasons.
fn incidents(c: &Cluster) -> Vec<String> {
    fs::read_to_string(c.dir.join("kinds"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The lease is lost, and nothing of it counts as a failure of the application.
fn assert_a_fence_and_no_failure(c: &Cluster) {
    let paged = incidents(c);
    assert!(
        wait_until(ms(5_000), || incidents(c)
            .iter()
            .any(|l| l.starts_with("fence|"))),
        "no fence paged: {paged:?}\n{}",
        c.logs()
    );
    let paged = incidents(c);
    assert!(
        !paged
            .iter()
            .any(|l| l.starts_with("app_failed|") || l.starts_with("app_restart|")),
        "a fence paged as a failure of the application: {paged:?}\n{}",
        c.logs()
    );
    let log = c.log("n1");
    assert!(
        !log.contains("claims nothing for") && !log.contains("hb.flap_backoff_ms"),
        "a fence started the flap damping:\n{log}"
    );
}

/// n1 runs its application again after `after` (mono_ns), well before the damping would
/// have let it.
fn runs_again(c: &Cluster, after: u64) -> Instance {
    // After storage returns: a period and a read to see the maintenance record, then a
    // failover (docs/heartbeat.md, "Timing").
    let bound = failover_bound() + ms(P + T_IO);
    let next = c.wait_running_on(|i| i.node == "n1" && i.start > after, bound * 2);
    assert!(
        Duration::from_nanos(next.start - after) < ms(DAMPING_MS / 2),
        "{next:?}"
    );
    next
}

#[test]
fn the_guard_killing_at_the_deadline_before_the_daemon_fences_is_no_failure() {
    let mut c = cluster("fence-guard-first");
    // The daemon stops itself right after the first tick that finds the application running,
    // before it looks at the application: its lease runs out meanwhile and the guard kills.
    c.start_with("n1", &[("HAMON_TEST_PAUSE_AT", "serving")]);
    let pid = c.pid("n1");
    assert!(
        wait_until(failover_bound() * 2, || pid_stopped(pid)),
        "n1 never reached the pause point\n{}",
        c.logs()
    );
    let mut first = None;
    assert!(
        wait_until(ms(5_000), || {
            first = c.instances().into_iter().find(|i| i.node == "n1");
            first.is_some()
        }),
        "no application started\n{}",
        c.logs()
    );
    let first = first.unwrap();
    assert!(
        wait_until(ms(F1 + K + 2_000), || !pid_alive(first.pid)),
        "the guard did not kill the application at the deadline\n{}",
        c.logs()
    );
    assert!(
        c.log("n1")
            .contains("the lease deadline passed without renewal"),
        "not the guard's kill:\n{}",
        c.log("n1")
    );
    let resumed = mono_ns();
    signal(pid, libc::SIGCONT);
    let next = runs_again(&c, resumed);
    assert!(next.epoch > first.epoch, "{first:?} then {next:?}");
    assert!(
        c.log("n1")
            .contains("was killed at its lease deadline: a fence, not a failure"),
        "{}",
        c.log("n1")
    );
    assert_a_fence_and_no_failure(&c);
    c.assert_no_overlap();
}

#[test]
fn storage_lost_while_active_is_a_fence_and_the_node_claims_again_when_it_returns() {
    let mut c = cluster("fence-storage");
    c.start("n1");
    let mut current = c.wait_running_on(|i| i.node == "n1", failover_bound() * 2);
    // Here the node's own tick usually fences first (it returns FENCE at the deadline); the
    // other order is the test above. Twice: a node that fenced claims again, and again.
    for round in 1..=2 {
        let hung = HungStorage::hang(&c.dir.join("shared"), &["node.n1", "node.n2", "maint"]);
        assert!(
            wait_until(ms(F1 + K + 2_000), || !pid_alive(current.pid)),
            "round {round}: the application outlived the lease\n{}",
            c.logs()
        );
        assert!(
            wait_until(ms(5_000), || c.log("n1").contains("self-fencing")),
            "round {round}: no fence\n{}",
            c.logs()
        );
        let back = mono_ns();
        hung.restore();
        let next = runs_again(&c, back);
        assert!(next.epoch > current.epoch, "{current:?} then {next:?}");
        assert_a_fence_and_no_failure(&c);
        current = next;
    }
    c.assert_no_overlap();
}
