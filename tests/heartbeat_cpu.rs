//! No busy loop in any state: a daemon that holds no lease and cannot reach its storage
//! sleeps until its next due call. Measured from /proc/PID/stat over 10 s: under 5 % of a
//! core for a fenced node and a standby on hung shared storage, for a node whose only etcd
//! endpoint refuses connections (an ordinary etcd outage), for an active node fenced
//! because its etcd went away, and for a node backing off after its application failed.
//!
//! Linux only; needs /bin/sh, /proc and mkfifo.

#![cfg(target_os = "linux")]

use std::time::Duration;

use crate::common;
use crate::common::cpu;
use crate::common::hung;

use common::cluster::*;
use cpu::cpu_shares;
use hung::HungStorage;

const WINDOW: Duration = Duration::from_secs(10);
/// A share of one core.
const MOST: f64 = 0.05;

fn assert_sleeps(c: &Cluster, nodes: &[&str], what: &str) {
    let pids: Vec<i32> = nodes.iter().map(|n| c.pid(n)).collect();
    let shares = cpu_shares(&pids, WINDOW);
    for (node, share) in nodes.iter().zip(&shares) {
        eprintln!(
            "{what}: {node}'s daemon used {:.1} % of a core over {} s",
            share * 100.0,
            WINDOW.as_secs()
        );
    }
    for (node, share) in nodes.iter().zip(&shares) {
        assert!(
            *share < MOST,
            "{what}: {node}'s daemon used {:.1} % of a core over {} s\n{}",
            share * 100.0,
            WINDOW.as_secs(),
            c.logs()
        );
    }
}

#[test]
fn a_fenced_node_and_a_standby_on_hung_storage_sleep() {
    let mut c = Cluster::new("cpu-hung", &["n1", "n2"], "");
    c.start("n1");
    let first = c.wait_running_on(|i| i.node == "n1", failover_bound() * 2);
    c.start("n2");
    // n2 has seen n1's record change: it is a standby that watches.
    assert!(
        wait_until(failover_bound(), || c
            .cli("n2", &["status"])
            .1
            .contains("n1")),
        "{}",
        c.logs()
    );
    let hung = HungStorage::hang(&c.dir.join("shared"), &["node.n1", "node.n2", "maint"]);
    assert!(
        wait_until(ms(F1 + K + 2_000), || !pid_alive(first.pid)),
        "n1's application outlived its lease\n{}",
        c.logs()
    );
    assert!(
        wait_until(ms(5_000), || c.log("n1").contains("self-fencing")),
        "n1 did not fence\n{}",
        c.logs()
    );
    assert_sleeps(&c, &["n1", "n2"], "shared storage hung");
    assert!(c.running().is_empty(), "{:?}", c.running());
    // Storage back: an application runs again, one at a time.
    let back = mono_ns();
    hung.restore();
    c.failover_within(
        "storage back after a hang",
        back,
        failover_bound() + ms(P + T_IO),
        |_| true,
    );
    c.assert_no_overlap();
}

#[test]
fn a_node_backing_off_after_its_application_failed_sleeps() {
    let mut c = Cluster::new(
        "cpu-backoff",
        &["n1", "n2"],
        "hb.flap_backoff_ms=60000\nhb.flap_backoff_max_ms=60000\nhb.restart_limit=0\n",
    );
    // The application fails as soon as it starts: the node hands over and backs off a minute.
    c.add_conf("n1", "hb.start_cmd=exit 3\n");
    c.start("n1");
    assert!(
        wait_until(failover_bound() * 2, || c.log("n1").contains(
            "claims nothing for now: its application failed here recently"
        )),
        "n1 did not back off\n{}",
        c.logs()
    );
    assert_sleeps(&c, &["n1"], "backing off");
    assert!(
        c.log("n1").matches("handing over").count() == 1,
        "n1 claimed again while backing off\n{}",
        c.logs()
    );
}

#[cfg(feature = "etcd")]
#[test]
fn a_node_whose_etcd_refuses_connections_sleeps() {
    let mut c = Cluster::new("cpu-etcd", &["n1", "n2"], "");
    // Nothing listens there: every call fails at once, the node never holds a lease.
    let closed = common::ports::free_port();
    c.add_conf(
        "n1",
        &format!("hb.backend=etcd\nhb.etcd.endpoints=http://127.0.0.1:{closed}\n"),
    );
    c.start("n1");
    let pid = c.pid("n1");
    // Set up: from here on it runs the loop it runs for as long as etcd is out.
    assert!(
        wait_until(ms(10_000), || c
            .log("n1")
            .contains("on etcd http://127.0.0.1")),
        "n1 never started\n{}",
        c.logs()
    );
    assert!(pid_alive(pid), "n1's daemon exited\n{}", c.logs());
    assert_sleeps(&c, &["n1"], "etcd unreachable");
    assert!(c.instances().is_empty(), "{:?}", c.instances());
}

#[cfg(feature = "etcd")]
#[test]
fn a_node_fenced_by_an_etcd_outage_sleeps() {
    use hamon::heartbeat::etcd::settings::timing_settings;
    use hamon::heartbeat::etcd::timing::EtcdTiming;
    let mut etcd = common::etcd::EtcdCluster::start(1, false);
    let timing = EtcdTiming {
        period: ms(200),
        io_timeout: ms(300),
        lease_ttl: Duration::from_secs(2),
        kill_budget: ms(200),
        election_timeout: ms(common::etcd::ELECTION_MS),
        heartbeat_interval: ms(common::etcd::HEARTBEAT_MS),
    };
    let settings = format!(
        "hb.backend=etcd\nhb.etcd.endpoints={}\n{}",
        etcd.endpoints().join(","),
        timing_settings(&timing)
    );
    let mut c = Cluster::new("cpu-etcd-fenced", &["n1", "n2"], &settings);
    c.start("n1");
    let first = c.wait_running_on(|i| i.node == "n1", Duration::from_secs(15));
    etcd.members[0].kill();
    assert!(
        wait_until(timing.lease_ttl + ms(2_000), || !pid_alive(first.pid)),
        "n1's application outlived its lease\n{}",
        c.logs()
    );
    assert!(
        wait_until(ms(5_000), || c.log("n1").contains("self-fencing")),
        "n1 did not fence\n{}",
        c.logs()
    );
    assert_sleeps(&c, &["n1"], "fenced, etcd down");
    assert!(c.running().is_empty(), "{:?}", c.running());
}
