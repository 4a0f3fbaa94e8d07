//! `ha-heartbeat` daemons on a real etcd when etcd or what stands between misbehaves, with the
//! small fake endpoint of tests/common/fake_etcd.rs: a proxy that inflates lease TTLs and
//! then cuts the active off (the active fences by its own deadline, never two applications),
//! endpoints that answer 404, HTML, malformed JSON or another cluster's answers listed first
//! (the node becomes active through the next one) and second (a 1 s stall of the real member
//! neither fences nor fails over), an epoch key at the top of its range (the node refuses
//! to claim, loudly), and the daemon's CPU with no etcd reachable and after a fence.
#![cfg(feature = "etcd")]

use crate::common;
use crate::common::cpu;

use std::fs;
use std::time::Duration;

use common::cluster::{Cluster, mono_ns, signal, wait_until};
use common::etcd::{EtcdCluster, short_timing};
use common::fake_etcd::{FakeEtcd, Mode};
use common::ports::free_port;
use hamon::heartbeat::etcd::settings::timing_settings;
use hamon::heartbeat::etcd::timing::EtcdTiming;

/// The daemons' short etcd timing (tests/common/etcd.rs).
fn timing() -> EtcdTiming {
    short_timing()
}

/// A lease whose F1 (about 2.1 s) is far longer than the 1 s stall of the tests below.
fn riding() -> EtcdTiming {
    EtcdTiming {
        lease_ttl: Duration::from_secs(3),
        ..timing()
    }
}

fn settings(endpoints: &[&str], t: EtcdTiming) -> String {
    format!(
        "hb.backend=etcd\nhb.etcd.endpoints={}\nhb.etcd.prefix=/trust/\n{}",
        endpoints.join(","),
        timing_settings(&t)
    )
}

/// The failover bound from the cut-off, plus the application's first beacon.
fn bound() -> Duration {
    timing().failover_bound() + Duration::from_millis(300)
}

/// `node` put its status key as a standby (within 10 s).
fn standby(etcd: &EtcdCluster, node: &str) -> bool {
    let key = format!("/trust/status/{node}");
    wait_until(Duration::from_secs(10), || {
        etcd.etcdctl(None, &["get", "--print-value-only", &key])
            .contains("role=standby")
    })
}

const LIE: u64 = 9_000_000_000;

/// The active reaches etcd only through a proxy. The proxy starts answering every grant and
/// keepalive with a TTL of 9000000000 s, then relays nothing: the active stops its
/// application by the deadline of its last trustworthy keepalive (F1 of the TTL it asked
/// for), and only then does the standby start its own.
#[test]
fn a_proxy_inflating_the_ttl_then_cutting_the_active_off_never_gives_two_applications() {
    let etcd = EtcdCluster::start(1, false);
    let member = etcd.endpoints()[0].clone();
    let proxy = FakeEtcd::start(Mode::Relay, Some(&member));
    let mut c = Cluster::new("etcd-lie", &["n1", "n2"], &settings(&[&member], timing()));
    c.add_conf("n1", &format!("hb.etcd.endpoints={}\n", proxy.url));
    c.start("n1");
    let first = c.wait_running_on(|i| i.node == "n1", Duration::from_secs(15));
    c.start("n2");
    assert!(standby(&etcd, "n2"), "n2 is not standby\n{}", c.logs());
    let before = proxy.requests();
    proxy.set(Mode::LyingTtl(LIE));
    let lie_at = mono_ns();
    // A few lying answers reach the active, then it is cut off.
    assert!(wait_until(Duration::from_secs(5), || proxy.requests() >= before + 3));
    proxy.set(Mode::Silent);
    let cut = mono_ns();
    let next = c.failover_within(
        "an inflated TTL, then the active cut off",
        cut,
        bound(),
        |i| i.node == "n2",
    );
    assert!(next.epoch > first.epoch, "{first:?} then {next:?}");
    c.assert_no_overlap();
    // n1's application stopped by n1's own deadline: F1 of the 2 s asked for after the last
    // keepalive answered before the lies (plus K and a beacon's granularity).
    let t = timing();
    let f1 = t.renew_deadline_for(t.lease_ttl).unwrap();
    let gone = c
        .instances()
        .into_iter()
        .find(|i| i.pid == first.pid)
        .expect("n1's application");
    eprintln!(
        "n1's application last seen {} ms after the lie (F1 {} ms)",
        (gone.last.saturating_sub(lie_at)) / 1_000_000,
        f1.as_millis()
    );
    let latest = lie_at + (f1 + t.kill_budget + Duration::from_millis(300)).as_nanos() as u64;
    assert!(
        gone.last <= latest,
        "n1's application ran {} ms past the lie, beyond F1 {} ms + K\n{}",
        (gone.last - lie_at) / 1_000_000,
        f1.as_millis(),
        c.logs()
    );
    let log = c.log("n1");
    assert!(
        log.contains("9000000000") && log.contains("not trusted"),
        "n1 did not say why it distrusted the answers\n{log}"
    );
}

/// An endpoint that is not etcd, listed first: the node moves on to the real member as if
/// the first had timed out, becomes active soon, and does not keep asking the bad one.
#[test]
fn an_endpoint_answering_404_html_or_malformed_json_listed_first_is_left_for_the_next() {
    let etcd = EtcdCluster::start(1, false);
    let member = etcd.endpoints()[0].clone();
    for mode in [Mode::NotFound, Mode::Html, Mode::Malformed] {
        let bad = FakeEtcd::start(mode.clone(), None);
        let label = format!("etcd-first-{}", bad.url.rsplit(':').next().unwrap());
        let mut c = Cluster::new(&label, &["n1"], &settings(&[&bad.url, &member], timing()));
        let started = mono_ns();
        c.start("n1");
        let up = c.wait_running_on(|i| i.node == "n1", Duration::from_secs(15));
        let took = Duration::from_nanos(up.start - started);
        assert!(
            took < Duration::from_secs(5),
            "{mode:?} first: active only after {took:?}\n{}",
            c.logs()
        );
        // One grant tried there, not one a period: the node stays on the endpoint that
        // answered (it returns to the first only after 30 s).
        let asked = bad.requests();
        std::thread::sleep(timing().period * 10);
        assert!(
            bad.requests() <= asked + 1 && bad.grants() <= 2,
            "{mode:?} first: {} requests, {} grants to it\n{}",
            bad.requests(),
            bad.grants(),
            c.logs()
        );
        c.watch(
            Duration::from_secs(1),
            Some(up.pid),
            &format!("{mode:?} first"),
        );
    }
}

/// The real member listed first stalls for 1 s (SIGSTOP), far less than F1: the node's calls
/// go to the second endpoint, which is not etcd (404, HTML, malformed JSON, or another
/// cluster's answers), and come back to the first. No fence, no takeover.
#[test]
fn a_one_second_stall_of_the_first_member_with_a_bad_second_endpoint_neither_fences_nor_fails_over()
{
    let etcd = EtcdCluster::start(1, false);
    let member = etcd.endpoints()[0].clone();
    let bad = FakeEtcd::start(Mode::NotFound, Some(&member));
    let mut c = Cluster::new(
        "etcd-second",
        &["n1", "n2"],
        &settings(&[&member, &bad.url], riding()),
    );
    c.start("n1");
    let up = c.wait_running_on(|i| i.node == "n1", Duration::from_secs(15));
    c.start("n2");
    assert!(standby(&etcd, "n2"), "n2 is not standby\n{}", c.logs());
    let pid = etcd.members[0].pid() as i32;
    for mode in [
        Mode::NotFound,
        Mode::Html,
        Mode::Malformed,
        Mode::OtherCluster(0x5eed),
    ] {
        bad.set(mode.clone());
        let asked = bad.requests();
        signal(pid, libc::SIGSTOP);
        std::thread::sleep(Duration::from_secs(1));
        signal(pid, libc::SIGCONT);
        assert!(
            bad.requests() > asked,
            "{mode:?}: the stall never sent a call to the second endpoint\n{}",
            c.logs()
        );
        c.watch(
            riding().period * 10,
            Some(up.pid),
            &format!("1 s stall, {mode:?} second"),
        );
    }
    c.assert_no_failover(up.pid, "1 s stalls of the first member");
    let log = c.log("n1");
    assert!(
        !log.contains("fencing") && !log.contains("stopping before etcd"),
        "n1 fenced\n{log}"
    );
}

/// The epoch key at 18446744073709551615: no epoch above it exists. The node claims nothing,
/// says so once naming the key, and never runs the application (with HB_EPOCH=0 or any).
#[test]
fn an_epoch_key_at_the_top_of_its_range_is_refused_loudly_and_never_wraps() {
    let etcd = EtcdCluster::start(1, false);
    let member = etcd.endpoints()[0].clone();
    let mut c = Cluster::new("etcd-epoch", &["n1"], &settings(&[&member], timing()));
    let paged = c.dir.join("paged");
    c.add_conf(
        "n1",
        &format!(
            "hb.incident_cmd=echo \"$HB_INCIDENT_KIND|$HB_REASON\" >> {}\n",
            paged.display()
        ),
    );
    etcd.etcdctl(None, &["put", "/trust/epoch", "18446744073709551615"]);
    c.start("n1");
    let said = "epoch exhausted: key /trust/epoch is at 18446744073709551615";
    assert!(
        wait_until(Duration::from_secs(10), || c.log("n1").contains(said)),
        "no alarm naming the key\n{}",
        c.logs()
    );
    // The operator is paged once, with the key named.
    let incident = || {
        fs::read_to_string(&paged)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("storage|") && l.contains(said))
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(5), || incident() == 1),
        "no incident naming the key: {:?}\n{}",
        fs::read_to_string(&paged),
        c.logs()
    );
    // Several periods later: still nothing claimed, the alarm not repeated.
    std::thread::sleep(timing().period * 15);
    assert!(c.instances().is_empty(), "{:?}", c.instances());
    let log = c.log("n1");
    let alarms = log
        .lines()
        .filter(|l| l.contains(said) && !l.contains("incident"))
        .count();
    assert_eq!(alarms, 1, "{log}");
    assert_eq!(incident(), 1, "paged again\n{log}");
    let leader = etcd.etcdctl(None, &["get", "/trust/leader"]);
    assert!(leader.trim().is_empty(), "a leader key: {leader}");
    let epoch = etcd.etcdctl(None, &["get", "--print-value-only", "/trust/epoch"]);
    assert_eq!(epoch.trim(), "18446744073709551615");
    let local = fs::read_to_string(c.dir.join("state-n1").join("epoch")).unwrap_or_default();
    assert_ne!(local.trim(), "0", "the local epoch went back to 0");
}

/// The share of one core `pid` used over 10 s (tests/common/cpu.rs).
fn cpu_share_over_10s(pid: i32) -> f64 {
    let share = cpu::cpu_shares(&[pid], Duration::from_secs(10))[0];
    eprintln!("the daemon used {:.2} % of a core over 10 s", share * 100.0);
    share
}

/// No etcd reachable (the endpoint a closed loopback port): the daemon sleeps until its next
/// call is due instead of spinning.
#[test]
fn with_no_etcd_reachable_the_daemon_uses_under_5_percent_of_a_core() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let etcd = EtcdCluster::start(1, false);
    let member = etcd.endpoints()[0].clone();
    // `init` needs etcd; the daemon then only knows the closed port.
    let mut c = Cluster::new("etcd-cpu", &["n1"], &settings(&[&member], timing()));
    c.add_conf("n1", &format!("hb.etcd.endpoints={closed}\n"));
    c.start("n1");
    assert!(
        wait_until(Duration::from_secs(10), || c
            .log("n1")
            .contains("cannot get an etcd lease")),
        "{}",
        c.logs()
    );
    let share = cpu_share_over_10s(c.pid("n1"));
    assert!(
        share < 0.05,
        "the daemon used {:.1} % of a core with no etcd\n{}",
        share * 100.0,
        c.logs()
    );
}

/// An active whose etcd disappears fences, and then, with no etcd, sleeps too.
#[test]
fn after_a_fence_without_etcd_the_daemon_uses_under_5_percent_of_a_core() {
    let mut etcd = EtcdCluster::start(1, false);
    let member = etcd.endpoints()[0].clone();
    let mut c = Cluster::new("etcd-cpu-fence", &["n1"], &settings(&[&member], timing()));
    c.start("n1");
    let up = c.wait_running_on(|i| i.node == "n1", Duration::from_secs(15));
    etcd.members[0].kill();
    assert!(
        wait_until(Duration::from_secs(10), || c.running().is_empty()),
        "the application kept running\n{}",
        c.logs()
    );
    assert!(c.instances().iter().all(|i| i.pid == up.pid));
    let share = cpu_share_over_10s(c.pid("n1"));
    assert!(
        share < 0.05,
        "the fenced daemon used {:.1} % of a core with no etcd\n{}",
        share * 100.0,
        c.logs()
    );
}

/// The client pins the cluster_id of its first accepted answer: a relay that later answers
/// with another cluster's id is left for the next endpoint, whose answer counts; so is one
/// that answers with an older store revision than already seen, a 404 page or malformed
/// JSON.
#[test]
fn the_client_leaves_an_endpoint_answering_for_another_cluster_or_not_etcd() {
    let etcd = EtcdCluster::start(1, false);
    let member = etcd.endpoints()[0].clone();
    let relay = FakeEtcd::start(Mode::Relay, Some(&member));
    let mut settings = etcd.settings();
    settings.endpoints = vec![relay.url.clone(), member.clone()];
    let mut c = hamon::heartbeat::etcd::api::Client::new(&settings).unwrap();
    c.put(b"/trust/k", b"1", 0).expect("through the relay");
    assert_eq!(c.current_endpoint(), relay.url);
    let pinned = c.cluster_id().expect("pinned");
    for mode in [
        Mode::OtherCluster(pinned ^ 1),
        Mode::OldStore,
        Mode::NotFound,
        Mode::Malformed,
    ] {
        // Back to the relay first, then the mode under test.
        let mut fresh = hamon::heartbeat::etcd::api::Client::new(&settings).unwrap();
        relay.set(Mode::Relay);
        fresh.get(b"/trust/k").expect("through the relay");
        relay.set(mode.clone());
        let got = fresh.get(b"/trust/k").expect("through the member");
        assert_eq!(got.map(|kv| kv.value), Some(b"1".to_vec()), "{mode:?}");
        assert_eq!(fresh.current_endpoint(), member, "{mode:?}");
        assert_eq!(fresh.cluster_id(), Some(pinned));
    }
    // A lying relay's TTL reaches the caller as it was answered: the core compares it with
    // what it asked for (and refuses it); the client does not make it up.
    relay.set(Mode::LyingTtl(LIE));
    let mut fresh = hamon::heartbeat::etcd::api::Client::new(&settings).unwrap();
    let (_, ttl) = fresh.lease_grant(2).expect("a grant through the relay");
    assert_eq!(ttl, LIE as i64);
}

/// After leaving the first endpoint, the client stays on the one that answered, and tries the
/// first again once `RETURN_TO_FIRST` has passed.
#[test]
fn the_client_returns_to_the_first_endpoint_after_a_while() {
    use hamon::heartbeat::etcd::api::{Client, RETURN_TO_FIRST};
    let etcd = EtcdCluster::start(1, false);
    let member = etcd.endpoints()[0].clone();
    let first = FakeEtcd::start(Mode::NotFound, Some(&member));
    let mut settings = etcd.settings();
    settings.endpoints = vec![first.url.clone(), member.clone()];
    let mut c = Client::new(&settings).unwrap();
    c.put(b"/trust/r", b"1", 0).expect("through the member");
    assert_eq!(c.current_endpoint(), member);
    // The first endpoint is good again, but not asked before its time.
    first.set(Mode::Relay);
    let asked = first.requests();
    let left = std::time::Instant::now();
    while left.elapsed() < RETURN_TO_FIRST - Duration::from_secs(2) {
        c.get(b"/trust/r").expect("a read");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(first.requests(), asked, "asked the first endpoint early");
    assert_eq!(c.current_endpoint(), member);
    std::thread::sleep(RETURN_TO_FIRST.saturating_sub(left.elapsed()) + Duration::from_millis(100));
    c.get(b"/trust/r").expect("a read");
    assert_eq!(first.requests(), asked + 1);
    assert_eq!(c.current_endpoint(), first.url);
}
