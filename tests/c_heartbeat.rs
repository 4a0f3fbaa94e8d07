//! Builds c-examples/hb_node.c with a C compiler against the static library that cargo built
//! for this test run, and runs two of them as the two nodes of a cluster on one temporary
//! directory: exactly one becomes active, the other takes over when the active is killed with
//! SIGKILL, and SIGTERM hands over cleanly.
//!
//! Needs `cc` (or `$CC`) and `kill` on the PATH; Unix only.

#![cfg(unix)]

use crate::common;

use common::TempDir;
use common::cc::{Link, compile};
use common::child::{PATIENCE, Running, sigterm};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use hamon::heartbeat::record::{NodeRecord, NodeState};

// ---- the cluster -------------------------------------------------------------------------

/// The epoch of an `hb_node: NAME ACTIVE START epoch N` line.
fn start_epoch(line: &str, name: &str) -> Option<u64> {
    line.strip_prefix(&format!("hb_node: {name} ACTIVE START epoch "))?
        .parse()
        .ok()
}

/// Takes lines from both nodes until `want(node index, line)` holds, for at most `limit`.
fn wait_line(
    nodes: &mut [&mut Running; 2],
    limit: Duration,
    what: &str,
    mut want: impl FnMut(usize, &str) -> bool,
) -> (usize, String) {
    let deadline = Instant::now() + limit;
    loop {
        for (i, node) in nodes.iter_mut().enumerate() {
            while let Some(line) = node.try_line() {
                if want(i, &line) {
                    return (i, line);
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "waited {limit:?} in vain for {what}; output so far:\n{}\n--\n{}",
            nodes[0].seen.join("\n"),
            nodes[1].seen.join("\n")
        );
        thread::sleep(Duration::from_millis(10));
    }
}

fn write_properties(dir: &Path, name: &str, preferred: bool) -> PathBuf {
    let path = dir.join(format!("{name}.properties"));
    let text = format!(
        "# node {name} of the test cluster\n\
         hb.dir={shared}\n\
         hb.node={name}\n\
         hb.nodes=a,b\n\
         hb.preferred={preferred}\n\
         hb.state_dir={state}\n\
         hb.period_ms=100\n\
         hb.io_timeout_ms=150\n\
         hb.renew_deadline_ms=800\n\
         hb.kill_budget_ms=300\n\
         hb.takeover_ms=1500\n\
         hb.confirm_ms=100\n",
        shared = dir.join("shared").display(),
        state = dir.join(format!("state-{name}")).display(),
    );
    fs::write(&path, text).expect("write properties");
    path
}

/// Both nodes run: exactly one prints ACTIVE START and then keeps it; the other stays
/// standby. Returns the active's index and epoch.
fn one_starts(nodes: &mut [&mut Running; 2], names: [&str; 2]) -> (usize, u64) {
    let (first, line) = wait_line(nodes, PATIENCE, "ACTIVE START", |i, l| {
        start_epoch(l, names[i]).is_some()
    });
    let first_epoch = start_epoch(&line, names[first]).unwrap();
    let second = 1 - first;
    let settle = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < settle {
        for node in nodes.iter_mut() {
            while node.try_line().is_some() {}
        }
        thread::sleep(Duration::from_millis(20));
    }
    let starts = |n: &Running, name: &str| {
        n.seen
            .iter()
            .filter(|l| start_epoch(l, name).is_some())
            .count()
    };
    assert_eq!(starts(nodes[first], names[first]), 1);
    assert_eq!(
        starts(nodes[second], names[second]),
        0,
        "both started:\n{}\n--\n{}",
        nodes[0].seen.join("\n"),
        nodes[1].seen.join("\n")
    );
    let last_role_line = |n: &Running| {
        n.seen
            .iter()
            .rfind(|l| !l.contains(" maintenance "))
            .cloned()
            .unwrap_or_default()
    };
    let standby_line = last_role_line(nodes[second]);
    assert!(
        standby_line.starts_with(&format!("hb_node: {} STANDBY NONE epoch ", names[second])),
        "the other stays standby: {:?}",
        nodes[second].seen
    );
    assert_eq!(
        last_role_line(nodes[first]),
        format!("hb_node: {} ACTIVE KEEP epoch {first_epoch}", names[first]),
        "the active keeps it: {:?}",
        nodes[first].seen
    );
    for (i, node) in nodes.iter().enumerate() {
        let maint = format!("hb_node: {} maintenance OFF", names[i]);
        assert!(node.seen.contains(&maint), "{:?}", node.seen);
    }
    (first, first_epoch)
}

/// Runs `exe` once per properties file (nodes a and b): one starts; it is killed with
/// SIGKILL and the other takes over within `limit` with a higher epoch; then SIGTERM hands
/// over cleanly (exit 0, STOPPING STOP, "stopped" last). Returns the survivor's name and
/// the epoch it ran with.
fn fail_over_and_hand_over(
    exe: &Path,
    props: &[PathBuf; 2],
    limit: Duration,
) -> (&'static str, u64) {
    let names = ["a", "b"];
    let mut a = Running::spawn(Command::new(exe).arg(&props[0]));
    let mut b = Running::spawn(Command::new(exe).arg(&props[1]));
    let (first, first_epoch) = {
        let mut nodes = [&mut a, &mut b];
        one_starts(&mut nodes, names)
    };
    let survivor_name = names[1 - first];

    // The active dies without a word; the other takes over with a higher epoch.
    let (active, mut survivor) = if first == 0 { (a, b) } else { (b, a) };
    let killed_stderr = active.kill();
    let killed = Instant::now();
    let epoch = loop {
        if let Some(line) = survivor.try_line() {
            match start_epoch(&line, survivor_name) {
                Some(epoch) => break epoch,
                None => continue,
            }
        }
        assert!(
            killed.elapsed() < limit,
            "no takeover within {limit:?} of SIGKILL; survivor said:\n{}\nkilled node's \
             stderr:\n{killed_stderr}",
            survivor.seen.join("\n"),
        );
        thread::sleep(Duration::from_millis(10));
    };
    assert!(epoch > first_epoch, "epoch {epoch} after {first_epoch}");

    sigterm(survivor.pid());
    let (status, lines, stderr) = survivor.finish(PATIENCE);
    assert!(status.success(), "exit {status}; stderr:\n{stderr}");
    let stop = format!("hb_node: {survivor_name} STOPPING STOP epoch {epoch}");
    assert!(lines.contains(&stop), "{lines:?}\n{stderr}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some(format!("hb_node: {survivor_name} stopped").as_str()),
        "{lines:?}"
    );
    (survivor_name, epoch)
}

#[test]
fn two_c_nodes_fail_over_and_hand_over() {
    let dir = TempDir::on_fast_storage("cluster");
    let exe = compile(&[("hb_node", Link::Static)], dir.path()).remove(0);
    fs::create_dir_all(dir.path().join("shared")).expect("shared dir");
    let props = [
        write_properties(dir.path(), "a", true),
        write_properties(dir.path(), "b", false),
    ];
    let (survivor_name, epoch) = fail_over_and_hand_over(&exe, &props, Duration::from_secs(8));
    // The hand-over left RELEASED on the shared directory.
    let bytes = fs::read(
        dir.path()
            .join("shared")
            .join(format!("node.{survivor_name}")),
    )
    .expect("the survivor's record");
    let record = NodeRecord::decode(&bytes, "hamon").expect("a valid record");
    assert_eq!(record.state, NodeState::Released, "{record:?}");
    assert_eq!(record.epoch, epoch);
}

/// The same C program on etcd: only the settings change (`hb.backend=etcd`, endpoints, TLS
/// files, the etcd timing keys; no `hb.dir`).
#[cfg(feature = "etcd")]
#[test]
fn the_same_c_nodes_on_etcd_with_tls_fail_over_and_hand_over() {
    use common::etcd::{ELECTION_MS, EtcdCluster, HEARTBEAT_MS};
    use hamon::heartbeat::etcd::keys::Keys;
    use hamon::heartbeat::etcd::settings::timing_settings;
    use hamon::heartbeat::etcd::timing::EtcdTiming;

    let etcd = EtcdCluster::start(1, true);
    let certs = etcd.certs.as_ref().expect("TLS certificates");
    let t = EtcdTiming {
        period: Duration::from_millis(200),
        io_timeout: Duration::from_millis(300),
        lease_ttl: Duration::from_secs(2),
        kill_budget: Duration::from_millis(100),
        election_timeout: Duration::from_millis(ELECTION_MS),
        heartbeat_interval: Duration::from_millis(HEARTBEAT_MS),
    };
    let dir = TempDir::new("c-etcd");
    let exe = compile(&[("hb_node", Link::Static)], dir.path()).remove(0);
    let props = ["a", "b"].map(|name| {
        let path = dir.path().join(format!("{name}.properties"));
        let text = format!(
            "hb.backend=etcd\n\
             hb.etcd.endpoints={}\n\
             hb.etcd.ca_file={}\n\
             hb.etcd.cert_file={}\n\
             hb.etcd.key_file={}\n\
             hb.node={name}\n\
             hb.nodes=a,b\n\
             hb.preferred={}\n\
             hb.state_dir={}\n{}",
            etcd.endpoints().join(","),
            certs.ca.display(),
            certs.client_cert.display(),
            certs.client_key.display(),
            name == "a",
            dir.path().join(format!("state-{name}")).display(),
            timing_settings(&t)
        );
        fs::write(&path, text).expect("write properties");
        path
    });
    let limit = t.failover_bound() + Duration::from_secs(2);
    let (_, epoch) = fail_over_and_hand_over(&exe, &props, limit);
    // The hand-over revoked the lease: the leader key is gone at once, the epoch key stays.
    let keys = Keys::new("hamon", None);
    let mut client = etcd.client();
    assert_eq!(client.get(&keys.leader()).expect("read etcd"), None);
    let stored = client
        .get(&keys.epoch())
        .expect("read etcd")
        .expect("epoch key");
    assert_eq!(stored.value, epoch.to_string().into_bytes());
}
