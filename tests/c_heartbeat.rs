//! Builds c-examples/hb_node.c with a C compiler against the static library that cargo built
//! for this test run, and runs two of them as the two nodes of a cluster on one temporary
//! directory: exactly one becomes active, the other takes over when the active is killed with
//! SIGKILL, and SIGTERM hands over cleanly.
//!
//! Needs `cc` (or `$CC`) and `kill` on the PATH; Unix only.

#![cfg(unix)]

mod common;

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

#[test]
fn two_c_nodes_fail_over_and_hand_over() {
    let dir = TempDir::on_fast_storage("cluster");
    let exe = compile(&[("hb_node", Link::Static)], dir.path()).remove(0);
    fs::create_dir_all(dir.path().join("shared")).expect("shared dir");
    let names = ["a", "b"];
    let props = [
        write_properties(dir.path(), "a", true),
        write_properties(dir.path(), "b", false),
    ];
    let mut a = Running::spawn(Command::new(&exe).arg(&props[0]));
    let mut b = Running::spawn(Command::new(&exe).arg(&props[1]));
    let (first, first_epoch) = {
        let mut nodes = [&mut a, &mut b];
        one_starts(&mut nodes, names)
    };
    let second = 1 - first;

    // The active dies without a word; the other takes over with a higher epoch.
    let (active, mut survivor) = if first == 0 { (a, b) } else { (b, a) };
    let killed_stderr = active.kill();
    let killed = Instant::now();
    let survivor_name = names[second];
    let mut take_over_epoch = None;
    while take_over_epoch.is_none() {
        if let Some(line) = survivor.try_line() {
            take_over_epoch = start_epoch(&line, survivor_name);
            continue;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(8),
            "no takeover within 8 s of SIGKILL; survivor said:\n{}\nkilled node's stderr:\n{}",
            survivor.seen.join("\n"),
            killed_stderr
        );
        thread::sleep(Duration::from_millis(10));
    }
    let epoch = take_over_epoch.unwrap();
    assert!(epoch > first_epoch, "epoch {epoch} after {first_epoch}");

    // SIGTERM: a clean hand-over, RELEASED on the shared directory, exit 0.
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
