//! The real `ha-heartbeat` held still (SIGSTOP through its test hook `HAMON_TEST_PAUSE_AT`)
//! inside each window of an application start: between the START decision and the fork,
//! between the fork and the guard's acknowledgement, between that and the opening of the
//! application's gate, between the start and the next tick, and at a local restart. The peer
//! takes over while the daemon is held; after SIGCONT the independent checker of
//! tests/common/cluster.rs must find no two applications at once.
//!
//! Linux only; needs /bin/sh and /proc/uptime.

#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use crate::common;

use common::cluster::*;

const PAUSE_VAR: &str = "HAMON_TEST_PAUSE_AT";

/// How long a daemon is held: longer than a takeover, so the peer is active when it resumes.
fn hold() -> Duration {
    failover_bound() + ms(2 * D)
}

/// Waits until `node`'s daemon stopped itself at `point`.
fn wait_held(c: &Cluster, node: &str, point: &str, timeout: Duration) {
    let pid = c.pid(node);
    let held = wait_until(timeout, || {
        pid_stopped(pid) && c.log(node).contains(&format!("pausing at {point}"))
    });
    assert!(held, "{node} never paused at {point}\n{}", c.logs());
}

/// Holds `node` (stopped at `point` since `since`, from [`mono_ns`]) until the other node's
/// application runs and [`hold`] has passed, resumes it, and checks that from then on only
/// the other node's application runs and that no two lifetimes ever overlapped.
fn resume_after_takeover(c: &Cluster, node: &str, point: &str, since: Instant) {
    let other = other_of(node);
    let second = c.wait_running_on(|i| i.node == other, failover_bound() * 2);
    let left = hold().saturating_sub(since.elapsed());
    // The pause's length is the fault itself, hence a sleep.
    std::thread::sleep(left);
    assert!(
        pid_stopped(c.pid(node)),
        "{node} resumed early\n{}",
        c.logs()
    );
    signal(c.pid(node), libc::SIGCONT);
    let what = format!("{node} resumed after a pause at {point}");
    // Long enough for a resumed daemon to start, run and lose an application.
    c.watch(
        FAST.fence_bound() + FAST.loop_turn() * 2,
        Some(second.pid),
        &what,
    );
    assert!(
        c.log(node).contains(&format!("resumed at {point}")),
        "{}",
        c.logs()
    );
    c.assert_no_overlap();
}

/// n1 alone becomes active and stops itself at `point` of its first start; n2 starts then
/// and takes over; n1 resumes. Returns the cluster for further checks.
fn paused_in_the_first_start(label: &str, point: &str) -> Cluster {
    let mut c = Cluster::new(label, &["n1", "n2"], "");
    c.start_with("n1", &[(PAUSE_VAR, point)]);
    wait_held(&c, "n1", point, ms(D + 3000));
    let since = Instant::now();
    c.start("n2");
    resume_after_takeover(&c, "n1", point, since);
    c
}

/// How many applications `node`'s daemon started, by its log. An application killed before
/// it wrote its first line escapes the checker, not the daemon's log.
fn starts_logged(c: &Cluster, node: &str) -> usize {
    c.log(node).matches("started the application").count()
}

/// Nothing of n1 ran: the pause came before its application could start, and after it the
/// lease was gone.
fn n1_never_ran(c: &Cluster) {
    let n1: Vec<Instance> = c
        .instances()
        .into_iter()
        .filter(|i| i.node == "n1")
        .collect();
    assert!(n1.is_empty(), "n1 ran {n1:?}\n{}", c.logs());
    assert_eq!(starts_logged(c, "n1"), 0, "{}", c.logs());
    // Held up past its lease is not a fault of the guard.
    assert!(
        !c.log("n1").contains("did not take it over"),
        "{}",
        c.logs()
    );
}

#[test]
fn a_daemon_paused_between_the_start_decision_and_the_fork_starts_nothing_after_its_lease() {
    let c = paused_in_the_first_start("pstart", "start");
    n1_never_ran(&c);
}

#[test]
fn a_daemon_paused_between_the_fork_and_the_guard_hand_off_leaves_nothing_running() {
    let c = paused_in_the_first_start("pforked", "forked");
    n1_never_ran(&c);
}

#[test]
fn a_daemon_paused_between_the_guard_hand_off_and_the_gate_leaves_nothing_running() {
    let c = paused_in_the_first_start("phanded", "handed");
    n1_never_ran(&c);
}

#[test]
fn a_daemon_paused_right_after_the_start_has_its_application_killed_by_the_lease_deadline() {
    let c = paused_in_the_first_start("prunning", "running");
    // The application ran, and the guard ended it by the lease deadline: at most F1 after the
    // start of the ACTIVE write, which came before the start.
    let first = c
        .instances()
        .into_iter()
        .find(|i| i.node == "n1")
        .unwrap_or_else(|| panic!("n1's application never ran\n{}", c.logs()));
    let lived = Duration::from_nanos(first.last - first.start);
    assert!(
        lived <= FAST.fence_bound(),
        "n1's application ran {} ms while its daemon was paused\n{}",
        lived.as_millis(),
        c.logs()
    );
}

#[test]
fn a_daemon_paused_at_a_local_restart_does_not_restart_after_its_lease() {
    let mut c = Cluster::new("prestart", &["n1", "n2"], "");
    c.add_conf("n1", "hb.restart_limit=1\n");
    c.start_with("n1", &[(PAUSE_VAR, "restart")]);
    let first = c.wait_running_on(|i| i.node == "n1", ms(D + 3000));
    c.start("n2");
    // n2 watches n1 for a whole takeover time first.
    c.watch(ms(D), Some(first.pid), "n2 joined");
    signal(-first.pid, libc::SIGKILL);
    wait_held(&c, "n1", "restart", failover_bound());
    let since = Instant::now();
    resume_after_takeover(&c, "n1", "restart", since);
    let again: Vec<Instance> = c
        .instances()
        .into_iter()
        .filter(|i| i.node == "n1" && i.pid != first.pid)
        .collect();
    assert!(again.is_empty(), "n1 restarted {again:?}\n{}", c.logs());
    assert_eq!(starts_logged(&c, "n1"), 1, "{}", c.logs());
}
