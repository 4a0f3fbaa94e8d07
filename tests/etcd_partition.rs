//! A network partition between the active node and the etcd majority, with real
//! `ha-heartbeat` daemons and three real etcd members, each site a network namespace this test
//! creates (docs/heartbeat-etcd.md, "Three sites"):
//!
//!     dc1: node n1, member m0      dc2: node n2, member m1      witness: member m2
//!
//! Each site is joined by a veth pair to a bridge in a fourth namespace, the WAN, from which
//! the test reaches the members. Taking the active's port on the bridge down cuts its site off
//! from the other two members and the other node; inside the site the active still reaches its
//! own member, which has lost the quorum too. Needs root (CAP_NET_ADMIN), veth and bridge
//! devices: without them each test prints "skipped: <why>" and passes.
#![cfg(feature = "etcd")]

use crate::common;

use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::cluster::{Cluster, Instance, mono_ns, other_of, pid_alive, wait_until};
use common::etcd::{ELECTION_MS, EtcdCluster, HEARTBEAT_MS, Host, need};
use hamon::heartbeat::etcd::settings::timing_settings;
use hamon::heartbeat::etcd::timing::EtcdTiming;

/// The WAN namespace holds the bridge; the sites hold a node and a member each (the witness
/// a member only). Site i's member is m<i>, node n<i+1> runs in site i.
const WAN: &str = "wan";
const SITES: [&str; 3] = ["dc1", "dc2", "wit"];
const SITE_IP: [&str; 3] = ["10.200.0.1", "10.200.0.2", "10.200.0.3"];
const WAN_IP: &str = "10.200.0.254";
const WITNESS: usize = 2;

/// A TTL that rides through an etcd leader election (`EtcdTiming::election_warning`): the
/// test moves the etcd leader before the cut, and the active must keep running through it.
fn timing() -> EtcdTiming {
    EtcdTiming {
        period: Duration::from_millis(200),
        io_timeout: Duration::from_millis(300),
        lease_ttl: Duration::from_secs(3),
        kill_budget: Duration::from_millis(200),
        election_timeout: Duration::from_millis(ELECTION_MS),
        heartbeat_interval: Duration::from_millis(HEARTBEAT_MS),
    }
}

/// Scheduling slack of a loaded two-core machine for the daemons and this test's polling.
const SLACK: Duration = Duration::from_millis(500);
/// From the application's start to its first beacon (as tests/etcd_daemon.rs).
const FIRST_BEACON: Duration = Duration::from_millis(300);

/// The network namespaces of one test, deleted when dropped. Declare it before the clusters
/// whose processes run in it, so that they are stopped first.
struct Sites {
    stem: String,
    made: Vec<String>,
}

/// Runs `ip`; what failed, with its stderr.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new(need("ip", "iproute2"))
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn must(args: &[&str]) {
    if let Err(e) = ip(args) {
        panic!("{e}");
    }
}

impl Sites {
    /// The topology, or why this machine cannot make it (the test is then skipped). Only the
    /// first namespace, bridge and veth pair and `ip netns exec` may fail that way; a later
    /// failure is a bug and panics.
    fn build() -> Result<Sites, String> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let mut sites = Sites {
            stem: format!(
                "hamon-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ),
            made: Vec::new(),
        };
        for s in [WAN].iter().chain(&SITES) {
            let name = sites.name(s);
            ip(&["netns", "add", &name])?;
            sites.made.push(name);
        }
        let wan = sites.name(WAN);
        ip(&["-n", &wan, "link", "add", "br0", "type", "bridge"])?;
        for s in SITES {
            // Both ends made inside their namespaces: nothing appears in this one.
            ip(&[
                "link",
                "add",
                &format!("to-{s}"),
                "netns",
                &wan,
                "type",
                "veth",
                "peer",
                "name",
                "wan0",
                "netns",
                &sites.name(s),
            ])?;
        }
        ip(&["netns", "exec", &wan, "true"])?;
        must(&["-n", &wan, "link", "set", "lo", "up"]);
        must(&[
            "-n",
            &wan,
            "addr",
            "add",
            &format!("{WAN_IP}/24"),
            "dev",
            "br0",
        ]);
        must(&["-n", &wan, "link", "set", "br0", "up"]);
        for (s, addr) in SITES.iter().zip(SITE_IP) {
            let port = format!("to-{s}");
            let ns = sites.name(s);
            must(&["-n", &wan, "link", "set", &port, "master", "br0"]);
            must(&["-n", &wan, "link", "set", &port, "up"]);
            must(&["-n", &ns, "link", "set", "lo", "up"]);
            must(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "wan0",
            ]);
            must(&["-n", &ns, "link", "set", "wan0", "up"]);
        }
        Ok(sites)
    }

    fn name(&self, site: &str) -> String {
        format!("{}-{site}", self.stem)
    }

    /// The command prefix that runs a program in `site`.
    fn exec(&self, site: &str) -> Vec<String> {
        ["ip", "netns", "exec", &self.name(site)]
            .map(String::from)
            .to_vec()
    }

    /// Takes `site`'s port on the bridge down: the site keeps its own addresses and routes
    /// (the link shows NO-CARRIER), but nothing crosses the WAN.
    fn cut(&self, site: &str) {
        must(&[
            "-n",
            &self.name(WAN),
            "link",
            "set",
            &format!("to-{site}"),
            "down",
        ]);
    }

    fn heal(&self, site: &str) {
        must(&[
            "-n",
            &self.name(WAN),
            "link",
            "set",
            &format!("to-{site}"),
            "up",
        ]);
    }
}

impl Drop for Sites {
    fn drop(&mut self) {
        // Deleting a namespace destroys its end of each veth pair, and with it the other end.
        for name in self.made.iter().rev() {
            if let Err(e) = ip(&["netns", "del", name]) {
                eprintln!("cannot remove network namespace: {e}");
            }
        }
    }
}

/// The settings that move a daemon onto the members at `endpoints`, tried in this order.
fn on_etcd(endpoints: &[String]) -> String {
    let t = timing();
    format!(
        "hb.backend=etcd\nhb.etcd.endpoints={}\n{}",
        endpoints.join(","),
        timing_settings(&t)
    )
}

/// Members' client URLs, `first` first (a node lists its own site's member first).
fn endpoints_from(etcd: &EtcdCluster, first: usize) -> Vec<String> {
    let all = etcd.endpoints();
    let mut out = vec![all[first].clone()];
    out.extend(
        all.iter()
            .enumerate()
            .filter(|(i, _)| *i != first)
            .map(|(_, u)| u.clone()),
    );
    out
}

/// Whether a linearizable read (`etcdctl endpoint health`) succeeds at `member`, asked from
/// `site`'s namespace.
fn healthy_from(sites: &Sites, site: &str, etcd: &EtcdCluster, member: usize) -> bool {
    let url = [etcd.members[member].client_url.clone()];
    EtcdCluster::etcdctl_via(&sites.exec(site), &url, &["endpoint", "health"]).is_ok()
}

/// The member that leads and its raft term, as `members` (all: None) seen from the WAN say.
fn etcd_leader(etcd: &EtcdCluster, members: Option<&[usize]>) -> Option<(usize, u64)> {
    let urls = match members {
        None => etcd.endpoints(),
        Some(ms) => ms
            .iter()
            .map(|m| etcd.members[*m].client_url.clone())
            .collect(),
    };
    let out = EtcdCluster::etcdctl_via(
        &etcd.control,
        &urls,
        &["endpoint", "status", "-w", "simple"],
    )
    .ok()?;
    // ENDPOINT, ID, VERSION, DB SIZE, IS LEADER, IS LEARNER, RAFT TERM, ...
    out.lines().find_map(|l| {
        let f: Vec<&str> = l.split(',').map(str::trim).collect();
        if f.get(4) != Some(&"true") {
            return None;
        }
        let member = etcd.members.iter().position(|m| m.client_url == f[0])?;
        Some((member, f.get(6)?.parse().ok()?))
    })
}

/// Moves the etcd leadership to member `to`, waiting until it leads.
fn move_leader(etcd: &EtcdCluster, to: usize) {
    let leads = || etcd_leader(etcd, None).map(|(m, _)| m);
    if leads() != Some(to) {
        // "ID, status, name, peer URLs, client URLs, is learner"
        let list = etcd.etcdctl(None, &["member", "list"]);
        let id = list
            .lines()
            .map(|l| l.split(',').map(str::trim).collect::<Vec<_>>())
            .find(|f| f.get(2) == Some(&etcd.members[to].name.as_str()))
            .map(|f| f[0].to_string())
            .unwrap_or_else(|| panic!("no {} in {list}", etcd.members[to].name));
        etcd.etcdctl(None, &["move-leader", &id]);
    }
    assert!(
        wait_until(Duration::from_secs(10), || leads() == Some(to)),
        "etcd leadership did not move to {} (leader: {:?})",
        etcd.members[to].name,
        leads()
    );
}

/// The value of the cluster's key `key` (under the default prefix `/hamon/hamon/`), read from
/// the WAN.
fn etcd_value(etcd: &EtcdCluster, key: &str) -> Option<String> {
    let out = EtcdCluster::etcdctl_via(
        &etcd.control,
        &etcd.endpoints(),
        &["get", "--print-value-only", &format!("/hamon/hamon/{key}")],
    )
    .ok()?;
    out.lines().next().map(str::to_string)
}

fn ms_since(t0: u64, t: u64) -> i64 {
    (t as i64 - t0 as i64) / 1_000_000
}

/// Serializes the tests of this file: each runs five daemons' worth of processes, and two at
/// once on a two-core machine would eat the slack the timing assertions allow.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Cuts the active's site off from the WAN while the etcd leader is in that site
/// (`leader_cut_off`) or at the witness, then heals it.
fn partition_of_the_active_site(leader_cut_off: bool) {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // SAFETY: plain syscall.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: not root (network namespaces need CAP_NET_ADMIN)");
        return;
    }
    let sites = match Sites::build() {
        Ok(s) => s,
        Err(why) => {
            eprintln!("skipped: cannot build the network namespaces: {why}");
            return;
        }
    };
    let t = timing();
    t.check().expect("test timing is safe");
    assert_eq!(t.election_warning(), None);
    let hosts: Vec<Host> = SITES
        .iter()
        .zip(SITE_IP)
        .map(|(s, addr)| Host {
            ip: addr.to_string(),
            prefix: sites.exec(s),
        })
        .collect();
    let etcd = EtcdCluster::start_on(&hosts, false, sites.exec(WAN));
    let nodes = ["n1", "n2"];
    let mut c = Cluster::new_at(
        "etcd-partition",
        &nodes,
        &on_etcd(&etcd.endpoints()),
        &[sites.exec(SITES[0]), sites.exec(SITES[1])],
    );
    for (i, n) in nodes.iter().enumerate() {
        c.add_conf(n, &on_etcd(&endpoints_from(&etcd, i)));
        c.start(n);
    }
    // Either may win the first claim (both wait out the daemon's start-up hold).
    let first = c.wait_running_on(|_| true, Duration::from_secs(20));
    let active = first.node.clone();
    let standby = other_of(&active);
    let own = c.idx(&active); // the active's site and member
    let site = SITES[own];
    let majority = [c.idx(standby), WITNESS];

    let want = if leader_cut_off { own } else { WITNESS };
    move_leader(&etcd, want);
    // The active rides through the leader transfer.
    c.watch(t.lease_ttl, Some(first.pid), "after moving the etcd leader");
    let (leader, term) = etcd_leader(&etcd, None).expect("etcd has a leader");
    assert_eq!(leader, want, "etcd leader moved again");

    let cut = mono_ns();
    sites.cut(site);

    // The active fences F1 after its last acknowledged keepalive was sent. Its own member
    // forwards keepalives to the leader and cannot once cut off, so that send was before the
    // cut; but a leader in the cut-off site renews leases itself until CheckQuorum makes it
    // step down, up to 2E after the cut. The application is gone K after the fence.
    let f1 = t.renew_deadline_for(t.lease_ttl).unwrap();
    let stale_acks = if leader_cut_off {
        2 * t.election_timeout
    } else {
        Duration::ZERO
    };
    let fence_by = f1 + stale_acks + t.kill_budget + SLACK;
    let gone = wait_until(fence_by * 2, || !pid_alive(first.pid));
    let gone_at = mono_ns();
    assert!(
        gone,
        "the cut-off active still runs {} ms after the cut\n{}",
        ms_since(cut, gone_at),
        c.logs()
    );
    let last_beacon = c.instance(first.pid).last;
    eprintln!(
        "cut-off active: last beacon {} ms, seen gone {} ms after the cut (bound {} ms: F1 {} \
         + stale acks {} + K {} + slack {})",
        ms_since(cut, last_beacon),
        ms_since(cut, gone_at),
        fence_by.as_millis(),
        f1.as_millis(),
        stale_acks.as_millis(),
        t.kill_budget.as_millis(),
        SLACK.as_millis()
    );
    assert!(
        Duration::from_nanos(gone_at - cut) <= fence_by,
        "the cut-off active stopped {} ms after the cut, later than {} ms\n{}",
        ms_since(cut, gone_at),
        fence_by.as_millis(),
        c.logs()
    );

    // The other node takes over once the majority has expired the lease: within the failover
    // bound, whose 3E covers a leader in the cut-off site (the majority elects another
    // within 2E of the cut, which gives every lease TTL + E from then).
    let bound = t.failover_bound() + FIRST_BEACON;
    let next = c.failover_within(
        &format!("partition of {site} (etcd leader cut off: {leader_cut_off})"),
        cut,
        bound,
        |i| i.node == standby,
    );
    assert!(next.epoch > first.epoch, "{first:?} then {next:?}");
    eprintln!(
        "takeover {} ms after the old application's last beacon",
        ms_since(last_beacon, next.start)
    );
    c.assert_no_overlap();

    // What the cut-off node sees: its own member has no quorum (no linearizable read, no
    // keepalive, no claim can succeed there), the other members are out of reach; so it stays
    // standby however long the partition lasts, while the majority serves the new active.
    assert!(
        !healthy_from(&sites, site, &etcd, own),
        "the cut-off member {} still serves linearizable reads",
        etcd.members[own].name
    );
    for m in majority {
        assert!(
            !healthy_from(&sites, site, &etcd, m),
            "{} reachable from the cut-off site",
            etcd.members[m].name
        );
        assert!(
            healthy_from(&sites, WAN, &etcd, m),
            "{} has no quorum in the majority",
            etcd.members[m].name
        );
    }
    assert!(pid_alive(c.pid(&active)), "the cut-off daemon exited");
    let during = etcd_leader(&etcd, Some(&majority));
    c.watch(
        2 * t.lease_ttl,
        Some(next.pid),
        "during the partition, after the takeover",
    );

    // Healed: the member rejoins without forcing an etcd election (the members run with
    // --pre-vote), the old active finds the leader key taken and stays standby; the new active
    // keeps running.
    sites.heal(site);
    let healed = mono_ns();
    assert!(
        wait_until(Duration::from_secs(10), || healthy_from(
            &sites, site, &etcd, own
        )),
        "{} did not rejoin\n{}",
        etcd.members[own].name,
        c.logs()
    );
    eprintln!(
        "{} serves again {} ms after the heal",
        etcd.members[own].name,
        ms_since(healed, mono_ns())
    );
    c.watch(
        t.failover_bound() + 2 * t.lease_ttl,
        Some(next.pid),
        "after healing the partition",
    );
    assert!(pid_alive(c.pid(&active)), "the old active's daemon exited");
    eprintln!(
        "etcd leader (member, term): {:?} before the cut, {during:?} during the partition, \
         {:?} after the heal",
        (leader, term),
        etcd_leader(&etcd, None)
    );
    // In etcd: the leader key is the new active's, and the old active, on a new lease, says
    // it is a standby.
    let leader = format!("node={standby} epoch={}", next.epoch);
    let standby_status = format!("node={active} role=standby ");
    let mut seen = (None, None);
    let agree = wait_until(Duration::from_secs(5), || {
        seen = (
            etcd_value(&etcd, "leader"),
            etcd_value(&etcd, &format!("status/{active}")),
        );
        seen.0.as_ref() == Some(&leader)
            && seen
                .1
                .as_ref()
                .is_some_and(|v| v.starts_with(&standby_status))
    });
    assert!(
        agree,
        "etcd holds leader and status {seen:?}, not {leader:?} and {standby_status:?}...\n{}",
        c.logs()
    );
    let after: Vec<Instance> = c
        .instances()
        .into_iter()
        .filter(|i| i.start >= cut && i.pid != next.pid)
        .collect();
    assert!(after.is_empty(), "started since the cut: {after:?}");
    c.assert_no_overlap();

    // Nothing left behind: processes first, then the namespaces and their links.
    let stem = sites.stem.clone();
    drop(c);
    drop(etcd);
    drop(sites);
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let left = String::from_utf8_lossy(&out.stdout);
    assert!(!left.contains(&stem), "namespaces left: {left}");
}

#[test]
fn a_partition_of_the_active_site_fences_it_by_its_deadline_and_fails_over_once() {
    partition_of_the_active_site(false);
}

#[test]
fn a_partition_of_the_active_site_with_the_etcd_leader_in_it_fences_and_fails_over_once() {
    partition_of_the_active_site(true);
}
