//! `ha-heartbeat` daemons on etcd (`hb.backend=etcd`, settings only) against a real
//! three-member etcd, with the beacon overlap checker of tests/common/cluster.rs: kill -9 and
//! SIGSTOP of the active daemon, a data-centre failure (the active daemon and an etcd member
//! together), quorum loss (two members stopped): takeover within the failover bound, never
//! two applications at once, epochs increasing. A kill -9 of the etcd leader member and a
//! member restarted with its data: no failover. `ha-heartbeat status` on etcd, with etcd up
//! and down, and the active's metrics. A restarted daemon waits for its earlier lease, not
//! for a hold of its own; a node backing off pages only when no node is active.
#![cfg(feature = "etcd")]

use crate::common;
use crate::common::prom;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::cluster::{Cluster, mono_ns, other_of, pid_alive, pid_stopped, signal, wait_until};
use common::etcd::{EtcdCluster, short_timing};
use common::ports::free_port;
use hamon::heartbeat::etcd::api::Client;
use hamon::heartbeat::etcd::keys::Keys;
use hamon::heartbeat::etcd::settings::timing_settings;
use hamon::heartbeat::etcd::timing::EtcdTiming;
use hamon::heartbeat::record::MaintRecord;

/// The daemons' short etcd timing (tests/common/etcd.rs).
fn timing() -> EtcdTiming {
    short_timing()
}

/// A lease long enough for the active to ride through an etcd leader election
/// (F1 >= 2E + P + T_io: the daemon would warn otherwise).
fn riding() -> EtcdTiming {
    let t = EtcdTiming {
        lease_ttl: Duration::from_secs(3),
        ..timing()
    };
    assert_eq!(t.election_warning(), None);
    t
}

/// The settings that move a cluster of daemons onto `etcd`.
fn on_etcd(etcd: &EtcdCluster) -> String {
    on_etcd_with(etcd, timing())
}

fn on_etcd_with(etcd: &EtcdCluster, t: EtcdTiming) -> String {
    format!(
        "hb.backend=etcd\nhb.etcd.endpoints={}\n{}",
        etcd.endpoints().join(","),
        timing_settings(&t)
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
    // Either may win the first claim (both start together).
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
    // Either may win the first claim (both start together).
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
    // When m0 led etcd, the bound's 3E covers the election of a new leader and its promotion
    // of every lease (docs/heartbeat-etcd.md).
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
    // The application's process is gone (not merely late with its heartbeat file, as it may
    // be on a busy machine).
    assert!(
        wait_until(fence_by + Duration::from_millis(500), || !pid_alive(
            first.pid
        )),
        "still running {:?} ms after quorum loss\n{}",
        (mono_ns() - fault) / 1_000_000,
        c.logs()
    );
    // Nobody starts while there is no quorum.
    let until = mono_ns() + 3 * t.lease_ttl.as_nanos() as u64;
    while mono_ns() < until {
        let started: Vec<_> = c
            .running()
            .into_iter()
            .filter(|i| i.pid != first.pid)
            .collect();
        assert!(
            started.is_empty(),
            "started without a quorum: {started:?}\n{}",
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

/// The active's `GET /metrics` on etcd: its role, epoch, lease and how long its last
/// keepalive took.
fn assert_active_metrics(port: u16, epoch: u64, t: &EtcdTiming) {
    let mut text = String::new();
    let seen = wait_until(Duration::from_secs(5), || {
        let Some(body) = get_metrics(port) else {
            return false;
        };
        text = body;
        text.contains("\nhamon_heartbeat_write_latency_seconds ")
    });
    assert!(seen, "no keepalive latency in the metrics:\n{text}");
    let samples = prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let get = |name: &str, labels: &[(&str, &str)]| {
        prom::value(&samples, name, labels).unwrap_or_else(|| panic!("{name} in\n{text}"))
    };
    assert_eq!(get("hamon_heartbeat_role", &[("role", "active")]), 1.0);
    assert_eq!(get("hamon_heartbeat_epoch", &[]), epoch as f64);
    let left = get("hamon_heartbeat_lease_remaining_seconds", &[]);
    assert!(left > 0.0 && left <= t.lease_ttl.as_secs_f64(), "{text}");
    let took = get("hamon_heartbeat_write_latency_seconds", &[]);
    // A keepalive is bounded by the I/O timeout; the rest is the worker's scheduling.
    assert!(
        took > 0.0 && took < t.io_timeout.as_secs_f64() + 0.5,
        "{text}"
    );
}

fn get_metrics(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let (head, body) = resp.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200 ").then(|| body.to_string())
}

/// `status` as `node`: (exit code, stdout and stderr, how long it took).
fn status(c: &Cluster, node: &str, json: bool) -> (i32, String, Duration) {
    let t0 = Instant::now();
    let args: &[&str] = if json {
        &["status", "--json"]
    } else {
        &["status"]
    };
    let (st, out) = c.cli(node, args);
    (st.code().unwrap_or(-1), out, t0.elapsed())
}

/// Until `status` as `node` exits with `code` and its output passes `and`; the last output.
fn status_until(
    c: &Cluster,
    node: &str,
    code: i32,
    within: Duration,
    and: impl Fn(&str) -> bool,
) -> String {
    let mut last = (0, String::new(), Duration::ZERO);
    let ok = wait_until(within, || {
        last = status(c, node, false);
        last.0 == code && and(&last.1)
    });
    assert!(
        ok,
        "status never exited {code}: last {last:?}\n{}",
        c.logs()
    );
    last.1
}

#[test]
fn status_on_etcd_shows_the_active_the_standby_the_epoch_and_maintenance_and_etcd_down() {
    let mut etcd = EtcdCluster::start(1, false);
    let mut c = Cluster::new("etcd-status", &["n1", "n2"], &on_etcd(&etcd));
    let metrics = [free_port(), free_port()];
    for (node, port) in ["n1", "n2"].iter().zip(metrics) {
        c.add_conf(node, &format!("hb.metrics_listen=127.0.0.1:{port}\n"));
    }
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_secs(15));
    let (active, standby) = (first.node.clone(), other_of(&first.node));
    let port = metrics[c.idx(&active)];
    assert_active_metrics(port, first.epoch, &timing());
    // `init` again: says where (etcd, not a directory) and changes nothing.
    let (st, out) = c.cli("n1", &["init"]);
    assert!(
        st.success()
            && out.contains(&format!(
                "initialised on etcd {} under ",
                etcd.endpoints().join(",")
            ))
            && out.contains("timing: etcd"),
        "{out}"
    );
    // Both status keys present (the standby's comes with its lease), the leader key, and
    // the active's status key written after its claim.
    let out = status_until(&c, standby, 0, Duration::from_secs(10), |out| {
        out.lines()
            .any(|l| l.starts_with(&active) && l.contains("ACTIVE"))
    });
    let line = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no line for {name}: {out}"))
            .to_string()
    };
    assert!(line(&active).contains("ACTIVE"), "{out}");
    assert!(
        line(&active).contains(&format!(" {} ", first.epoch)),
        "{out}"
    );
    assert!(line(&format!("{standby}*")).contains("STANDBY"), "{out}");
    assert!(
        out.contains(&format!(
            "leader key: {active} epoch {e} (lease",
            e = first.epoch
        )) && out.contains(&format!("epoch key: {}", first.epoch)),
        "{out}"
    );
    assert!(out.contains("one read of etcd at revision"), "{out}");
    assert!(out.contains(&format!("active: {active}\n")), "{out}");
    assert!(out.contains("maintenance: OFF"), "{out}");
    assert!(out.contains("verdict: ok (exit 0)"), "{out}");
    assert!(out.contains("timing: etcd"), "{out}");
    let (code, j, _) = status(&c, &active, true);
    assert_eq!(code, 0, "{j}");
    assert!(j.contains(r#""backend":"etcd""#), "{j}");
    assert!(j.contains(&format!(r#""active":"{active}""#)), "{j}");
    assert!(
        j.contains(&format!(
            r#""leader":{{"node":"{active}","epoch":{}"#,
            first.epoch
        )),
        "{j}"
    );

    // Maintenance on: degraded, the mode shown.
    let (st, out) = c.cli(&active, &["maintenance", "on"]);
    assert!(st.success(), "{out}");
    let (code, out, _) = status(&c, standby, false);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("maintenance: FREEZE"), "{out}");
    assert!(out.contains("maintenance FREEZE: no failover"), "{out}");
    let (code, j, _) = status(&c, standby, true);
    assert_eq!(code, 1, "{j}");
    assert!(j.contains(r#""mode":"FREEZE""#), "{j}");
    let (st, out) = c.cli(&active, &["maintenance", "off"]);
    assert!(st.success(), "{out}");

    // The standby's daemon dies: its status key goes with its lease, TTL after its last
    // keepalive plus etcd's 0.5 s expiry check (etcd's leader stays).
    let t = timing();
    c.kill9(standby);
    let out = status_until(
        &c,
        &active,
        1,
        t.lease_ttl + t.election_timeout + Duration::from_secs(3),
        |_| true,
    );
    assert!(
        out.contains(&format!("{standby}: no key /hamon/hamon/status/{standby}")),
        "{out}"
    );

    // etcd hangs (stopped): status gives up within the I/O timeout, exits 3 and names the
    // endpoint, in text and JSON. The bound: T_io plus the start of a debug binary.
    let pid = etcd.members[0].pid() as i32;
    let cont = Cont(vec![pid]);
    signal(pid, libc::SIGSTOP);
    let endpoint = etcd.endpoints()[0].clone();
    for json in [false, true] {
        let (code, out, took) = status(&c, &active, json);
        assert_eq!(code, 3, "{out}");
        assert!(
            out.contains("cannot read etcd") && out.contains(&endpoint),
            "{out}"
        );
        assert!(took < t.io_timeout + Duration::from_secs(2), "{took:?}");
        if json {
            assert!(out.contains(r#""verdict":"unknown""#), "{out}");
        }
    }
    drop(cont);
    // etcd killed: refused at once, the same answer.
    etcd.members[0].kill();
    let (code, out, _) = status(&c, &active, false);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains(&endpoint), "{out}");
}

#[test]
fn a_kill9_of_the_etcd_leader_member_does_not_fail_over() {
    let mut etcd = EtcdCluster::start(3, false);
    let t = riding();
    let mut c = Cluster::new("etcd-leader", &["n1", "n2"], &on_etcd_with(&etcd, t));
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_secs(15));
    let leader = etcd.leader();
    etcd.members[leader].kill();
    // Watch as long as a failover would take at worst: the same application runs throughout
    // and nothing else ever starts.
    c.watch(
        t.failover_bound() + t.lease_ttl,
        Some(first.pid),
        "after a kill -9 of the etcd leader member",
    );
    let running = c.running();
    assert_eq!(running.len(), 1, "{running:?}");
    assert_eq!(running[0].pid, first.pid, "{running:?}");
    c.assert_no_overlap();
}

#[test]
fn an_etcd_member_restarted_with_its_data_rejoins_without_failover_and_failover_still_works() {
    let mut etcd = EtcdCluster::start(3, false);
    let t = riding();
    let mut c = Cluster::new("etcd-rejoin", &["n1", "n2"], &on_etcd_with(&etcd, t));
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_secs(15));
    let (active, other) = (first.node.clone(), other_of(&first.node));
    // m0 is every node's first endpoint (and may be the etcd leader).
    etcd.members[0].kill();
    c.watch(t.failover_bound(), Some(first.pid), "while etcd m0 is down");
    etcd.members[0].restart();
    // It rejoins with its data: a linearizable read through it alone shows the leader key.
    let mut alone = etcd.settings();
    alone.endpoints = vec![etcd.members[0].client_url.clone()];
    let mut client = Client::new(&alone).unwrap();
    let key = "/hamon/hamon/leader";
    let mut last = String::new();
    assert!(
        wait_until(Duration::from_secs(20), || {
            match client.get(key.as_bytes()) {
                Ok(Some(kv)) => {
                    last = String::from_utf8_lossy(&kv.value).into_owned();
                    last.starts_with(&format!("node={active} "))
                }
                Ok(None) => {
                    last = "no leader key".into();
                    false
                }
                Err(e) => {
                    last = e.to_string();
                    false
                }
            }
        }),
        "m0 did not rejoin: {last}"
    );
    c.watch(
        t.failover_bound(),
        Some(first.pid),
        "after etcd m0 rejoined",
    );
    // Failover still works, within the documented bound.
    let fault = mono_ns();
    c.kill9(&active);
    let next = c.failover_within(
        "kill -9 of the active daemon after an etcd member rejoined",
        fault,
        t.failover_bound() + Duration::from_millis(300),
        |i| i.node == other,
    );
    assert!(next.epoch > first.epoch, "{first:?} then {next:?}");
    c.assert_no_overlap();
}

/// On etcd the start-up hold of the file backend (F1 + K, for a record that may say ACTIVE)
/// does not apply: the earlier run's term is its leader key in etcd. A fresh daemon claims
/// at once; one restarted right after a kill -9 while active waits for its old lease, and
/// only for that.
#[test]
fn on_etcd_a_daemon_start_waits_for_no_record_file_only_for_its_earlier_lease() {
    let etcd = EtcdCluster::start(1, false);
    // A TTL whose F1 + K (9.3 s) is far beyond a claim, so a hold would show.
    let t = EtcdTiming {
        lease_ttl: Duration::from_secs(10),
        ..timing()
    };
    let hold = t.renew_deadline_for(t.lease_ttl).unwrap() + t.kill_budget;
    let mut c = Cluster::new("etcd-nohold", &["n1", "n2"], &on_etcd_with(&etcd, t));
    let t0 = mono_ns();
    c.start("n1");
    let first = c.wait_running_on(|i| i.node == "n1", Duration::from_secs(30));
    let took = Duration::from_nanos(first.start - t0);
    assert!(
        took < hold - Duration::from_secs(3),
        "the first start took {took:?}: held for F1 + K ({hold:?})?\n{}",
        c.logs()
    );
    // The whole node killed (its guard too, which would revoke the lease of a daemon killed
    // alone) and an immediate restart: its application is killed at once, and the new run
    // claims only once etcd let the old lease go (TTL after its last renewal, sent at most a
    // period and an I/O timeout before the kill).
    let kill = mono_ns();
    c.stop_node("n1", true);
    c.start("n1");
    let second = c.wait_running_on(
        |i| i.pid != first.pid,
        t.failover_bound() + Duration::from_secs(5),
    );
    let after = Duration::from_nanos(second.start - kill);
    assert!(
        after >= t.lease_ttl - t.period - t.io_timeout,
        "started {after:?} after the kill, before the old lease could have ended\n{}",
        c.logs()
    );
    assert!(
        after <= t.failover_bound() + Duration::from_millis(1500),
        "started {after:?} after the kill (bound {:?})\n{}",
        t.failover_bound(),
        c.logs()
    );
    let log = c.log("n1");
    assert!(!log.contains("may have been active"), "{log}");
    assert!(log.contains("on etcd http://127.0.0.1:"), "{log}");
    c.assert_no_overlap();
}

/// A node that backs off after its application failed judges from etcd whether the service
/// runs elsewhere: no `service_down` while the other node is active, one once that node's
/// daemon died and its lease ended.
#[test]
fn a_node_backing_off_on_etcd_pages_only_when_no_node_holds_the_leader_key() {
    let etcd = EtcdCluster::start(1, false);
    let mut c = Cluster::new(
        "etcd-flap",
        &["n1", "n2"],
        &format!(
            "{}hb.flap_backoff_ms=60000\nhb.flap_backoff_max_ms=60000\n\
             hb.failure_timeout_ms=120000\n",
            on_etcd(&etcd)
        ),
    );
    let kinds = c.dir.join("kinds");
    for n in ["n1", "n2"] {
        c.add_conf(
            n,
            &format!(
                "hb.incident_cmd=echo \"$HB_INCIDENT_KIND|$HB_NODE|$HB_REASON\" >> {}\n",
                kinds.display()
            ),
        );
    }
    c.add_conf("n1", "hb.start_cmd=exit 3\n");
    let service_down = || -> Vec<String> {
        std::fs::read_to_string(&kinds)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("service_down|"))
            .map(str::to_string)
            .collect()
    };
    c.start("n1");
    assert!(
        wait_until(Duration::from_secs(15), || c
            .log("n1")
            .contains("claims nothing for")),
        "n1 did not back off\n{}",
        c.logs()
    );
    c.start("n2");
    let second = c.wait_running_on(|i| i.node == "n2", Duration::from_secs(15));
    // The daemon's failover bound on etcd (its takeover time plus periods and timeouts) is
    // about 6 s and it looks every 3 s: 12 s would show a false page.
    c.watch(
        Duration::from_secs(12),
        Some(second.pid),
        "n2 active, n1 backing off",
    );
    assert!(
        service_down().is_empty(),
        "{:?}\n{}",
        service_down(),
        c.logs()
    );
    let fault = std::time::Instant::now();
    c.kill9("n2");
    assert!(
        wait_until(Duration::from_secs(25), || !service_down().is_empty()),
        "no service_down after n2 died\n{}",
        c.logs()
    );
    let page = service_down()[0].clone();
    assert!(page.starts_with("service_down|n1|"), "{page}");
    assert!(page.contains("n2 unreadable (no key"), "{page}");
    assert!(
        fault.elapsed() > timing().lease_ttl,
        "paged {:?} after the kill, before n2's lease could end: {page}",
        fault.elapsed()
    );
}

/// The operator's commands keep their meaning on etcd: `switchover` moves the application,
/// a drained node never takes over (not even when the active dies), `undrain` lets it, and a
/// switchover to an unknown node is refused.
#[test]
fn switchover_drain_and_undrain_on_etcd_daemons() {
    let etcd = EtcdCluster::start(1, false);
    let mut c = Cluster::new("etcd-ops", &["n1", "n2"], &on_etcd(&etcd));
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_secs(15));
    let (a, b) = (first.node.clone(), other_of(&first.node).to_string());
    // b stands by once its status key says so.
    status_until(&c, &a, 0, Duration::from_secs(10), |out| {
        out.lines()
            .any(|l| l.starts_with(&b) && l.contains("STANDBY"))
    });
    let t = timing();

    let (st, out) = c.cli(&a, &["switchover", "--to", "n9"]);
    assert!(!st.success() && out.contains("n9"), "{out}");

    let t0 = mono_ns();
    let (st, out) = c.cli(&a, &["switchover"]);
    assert!(st.success(), "{out}");
    let moved = c.failover_within("switchover on etcd", t0, bound(), |i| i.node == b);
    assert!(moved.epoch > first.epoch, "{first:?} then {moved:?}");

    // a is drained: when b dies, nobody takes over.
    let (st, out) = c.cli(&b, &["drain", &a]);
    assert!(st.success(), "{out}");
    // a's daemon has read the drain: its status key acknowledges the maintenance token.
    let keys = Keys::new("hamon", None);
    let mut client = etcd.client();
    let acked = wait_until(Duration::from_secs(5), || {
        let mut get = |k: &[u8]| client.get(k).ok().flatten().map(|kv| kv.value);
        let (Some(maint), Some(status)) = (get(&keys.maint()), get(&keys.status(&a))) else {
            return false;
        };
        let token = MaintRecord::decode(&maint, "hamon")
            .expect("maintenance key")
            .token;
        String::from_utf8_lossy(&status).contains(&format!(" maint_ack={token} "))
    });
    assert!(acked, "{a} never acknowledged the drain\n{}", c.logs());
    let fault = mono_ns();
    c.kill9(&b);
    let until = fault + (bound() + t.lease_ttl).as_nanos() as u64;
    while mono_ns() < until {
        let running: Vec<_> = c
            .running()
            .into_iter()
            .filter(|i| i.start > fault)
            .collect();
        assert!(
            running.is_empty(),
            "a drained node started {running:?}\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (st, out) = c.cli(&a, &["undrain"]);
    assert!(st.success(), "{out}");
    // Timed from when the undrain is in etcd. The maintenance key still names the switchover
    // to b (undrain changes only the drained list, and with it the token): a follows that
    // switchover again from its first read of the new key, up to a period later, and
    // abandons it after the failover bound, as a switchover to a dead node is.
    let t1 = mono_ns();
    let back = c.failover_within("undrain on etcd", t1, bound() + t.period, |i| i.node == a);
    assert!(back.epoch > moved.epoch, "{moved:?} then {back:?}");
    c.assert_no_overlap();
}
