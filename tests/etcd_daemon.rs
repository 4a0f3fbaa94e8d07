//! `ha-heartbeat` daemons on etcd (`hb.backend=etcd`, settings only) against a real
//! three-member etcd, with the beacon overlap checker of tests/common/cluster.rs: kill -9 and
//! SIGSTOP of the active daemon, a data-centre failure (the active daemon and an etcd member
//! together), quorum loss (two members stopped): takeover within the failover bound, never
//! two applications at once, epochs increasing.
#![cfg(feature = "etcd")]

mod common;

use std::time::Duration;

use common::cluster::{Cluster, mono_ns, other_of, pid_stopped, signal, wait_until};
use common::etcd::{ELECTION_MS, EtcdCluster, HEARTBEAT_MS};
use hamon::heartbeat::etcd::timing::EtcdTiming;

fn timing() -> EtcdTiming {
    EtcdTiming {
        period: Duration::from_millis(200),
        io_timeout: Duration::from_millis(300),
        lease_ttl: Duration::from_secs(2),
        kill_budget: Duration::from_millis(200),
        election_timeout: Duration::from_millis(ELECTION_MS),
        heartbeat_interval: Duration::from_millis(HEARTBEAT_MS),
    }
}

/// The settings that move a cluster of daemons onto `etcd`.
fn on_etcd(etcd: &EtcdCluster) -> String {
    let t = timing();
    format!(
        "hb.backend=etcd\nhb.etcd.endpoints={}\nhb.etcd.period_ms={}\nhb.etcd.io_timeout_ms={}\n\
         hb.etcd.lease_ttl_s={}\nhb.etcd.kill_budget_ms={}\nhb.etcd.election_timeout_ms={}\n\
         hb.etcd.heartbeat_interval_ms={}\n",
        etcd.endpoints().join(","),
        t.period.as_millis(),
        t.io_timeout.as_millis(),
        t.lease_ttl.as_secs(),
        t.kill_budget.as_millis(),
        t.election_timeout.as_millis(),
        t.heartbeat_interval.as_millis(),
    )
}

/// From the fault to the new application: the documented bound, plus the application's
/// first beacon.
fn bound() -> Duration {
    timing().failover_bound() + Duration::from_millis(300)
}

#[test]
fn kill9_of_the_active_daemon_fails_over_within_the_bound_without_overlap() {
    let etcd = EtcdCluster::start(3, false);
    let mut c = Cluster::new("etcd-kill9", &["n1", "n2"], &on_etcd(&etcd));
    c.start("n1");
    c.start("n2");
    // Either may win the first claim (both wait out the daemon's start-up hold).
    let first = c.wait_running_on(|_| true, Duration::from_secs(15));
    let (active, other) = (first.node.clone(), other_of(&first.node));
    let fault = mono_ns();
    c.kill9(&active);
    let next = c.failover_within(
        "kill -9 of the active daemon on etcd",
        fault,
        bound(),
        |i| i.node == other,
    );
    assert!(next.epoch > first.epoch, "{first:?} then {next:?}");
    c.assert_no_overlap();
}

#[test]
fn sigstop_of_the_active_daemon_fails_over_and_it_does_not_come_back_as_a_second() {
    let etcd = EtcdCluster::start(3, false);
    let mut c = Cluster::new("etcd-stop", &["n1", "n2"], &on_etcd(&etcd));
    c.start("n1");
    c.start("n2");
    // Either may win the first claim (both wait out the daemon's start-up hold).
    let first = c.wait_running_on(|_| true, Duration::from_secs(15));
    let (active, other) = (first.node.clone(), other_of(&first.node));
    let pid = c.pid(&active);
    let fault = mono_ns();
    signal(pid, libc::SIGSTOP);
    assert!(wait_until(Duration::from_secs(2), || pid_stopped(pid)));
    let next = c.failover_within(
        "SIGSTOP of the active daemon on etcd",
        fault,
        bound(),
        |i| i.node == other,
    );
    assert!(next.epoch > first.epoch, "{first:?} then {next:?}");
    // Continued: it finds its lease gone and stays standby; the other keeps running.
    signal(pid, libc::SIGCONT);
    let until = mono_ns() + 3 * timing().lease_ttl.as_nanos() as u64;
    while mono_ns() < until {
        let running = c.running();
        assert!(
            running.iter().all(|i| i.node == other),
            "{running:?}\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    c.assert_no_overlap();
}

#[test]
fn a_data_centre_failure_daemon_and_etcd_member_together_fails_over_within_the_bound() {
    let mut etcd = EtcdCluster::start(3, false);
    let mut c = Cluster::new("etcd-dc", &["n1", "n2"], &on_etcd(&etcd));
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_secs(15));
    let (active, other) = (first.node.clone(), other_of(&first.node));
    // Both nodes list m0 first: losing it costs the survivor one endpoint's failover too.
    let fault = mono_ns();
    c.kill9(&active);
    etcd.members[0].kill();
    let next = c.failover_within(
        "data-centre failure on etcd (daemon and etcd member)",
        fault,
        bound() + timing().io_timeout,
        |i| i.node == other,
    );
    assert!(next.epoch > first.epoch, "{first:?} then {next:?}");
    c.assert_no_overlap();
}

/// Continues stopped etcd members also when the test fails, so they can be killed.
struct Cont(Vec<i32>);

impl Drop for Cont {
    fn drop(&mut self) {
        for pid in &self.0 {
            signal(*pid, libc::SIGCONT);
        }
    }
}

#[test]
fn on_quorum_loss_the_active_daemon_fences_and_nobody_starts_until_it_returns() {
    let etcd = EtcdCluster::start(3, false);
    let mut c = Cluster::new("etcd-quorum", &["n1", "n2"], &on_etcd(&etcd));
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_secs(15));
    let pids: Vec<i32> = etcd.members[1..].iter().map(|m| m.pid() as i32).collect();
    let cont = Cont(pids.clone());
    let fault = mono_ns();
    for pid in &pids {
        signal(*pid, libc::SIGSTOP);
    }
    // Fenced within F1 of the last acknowledged keepalive's send (at most a period and a
    // timeout before the fault, or two election timeouts while the lone member still led).
    let t = timing();
    let f1 = t.renew_deadline_for(t.lease_ttl).unwrap();
    let fence_by = f1 + t.period + t.io_timeout + 2 * t.election_timeout + t.kill_budget;
    assert!(
        wait_until(fence_by + Duration::from_millis(500), || c
            .running()
            .is_empty()),
        "still running {:?} ms after quorum loss\n{}",
        (mono_ns() - fault) / 1_000_000,
        c.logs()
    );
    // Nobody starts while there is no quorum.
    let until = mono_ns() + 3 * t.lease_ttl.as_nanos() as u64;
    while mono_ns() < until {
        assert!(
            c.running().is_empty(),
            "started without a quorum\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let back = mono_ns();
    drop(cont);
    let next = c.wait_running_on(|i| i.start >= back, Duration::from_secs(15));
    assert!(next.epoch > first.epoch, "{first:?} then {next:?}");
    c.assert_no_overlap();
}
