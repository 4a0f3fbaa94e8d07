//! The decision journal of real daemons: a takeover names the node it took over from and how
//! long its record was unchanged, a fence names its deadline, an operator's change names who
//! asked and why; `events` prints them, a restart keeps them, and the journal rotates.
//!
//! Linux only; needs /bin/sh and /proc/uptime.

#![cfg(target_os = "linux")]

use std::fs;
use std::path::PathBuf;

use crate::common;

use common::cluster::*;
use serde_json::Value;

/// `node`'s journal as `events --json` prints it.
fn events(c: &Cluster, node: &str) -> Vec<Value> {
    let (st, out) = c.cli(node, &["events", "--json"]);
    assert!(st.success(), "{out}");
    out.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn find<'a>(evs: &'a [Value], kind: &str, has: &str) -> Option<&'a Value> {
    evs.iter()
        .find(|e| e["kind"] == kind && e["text"].as_str().is_some_and(|t| t.contains(has)))
}

fn state_dir(c: &Cluster, node: &str) -> PathBuf {
    c.dir.join(format!("state-{node}"))
}

#[test]
fn a_takeover_and_a_fence_are_journaled_with_their_why_and_survive_a_restart() {
    let mut c = Cluster::new("journal", &["n1", "n2"], "");
    c.start("n1");
    let first = c.wait_running_on(|i| i.node == "n1", failover_bound() * 2);
    c.start("n2");
    wait_until(failover_bound(), || {
        find(&events(&c, "n2"), "role", "-> standby").is_some()
    });

    // An operator's change names who asked and why.
    let (st, out) = c.cli(
        "n2",
        &["drain", "n2", "--reason", "disk replacement, ticket 42"],
    );
    assert!(st.success(), "{out}");
    let (st, out) = c.cli("n2", &["undrain", "n2", "--reason", "disk replaced"]);
    assert!(st.success(), "{out}");
    let evs = events(&c, "n2");
    let op = find(&evs, "operator", "drain n2 by ").expect("the drain in the journal");
    assert!(
        op["text"]
            .as_str()
            .unwrap()
            .contains("disk replacement, ticket 42"),
        "{op}"
    );
    let (_, json) = c.cli("n2", &["status", "--json"]);
    assert!(json.contains(r#""reason":"disk replaced""#), "{json}");

    // The active daemon pauses past its lease: n2 takes over, n1 fences.
    let pid = c.pid("n1");
    let t_stop = mono_ns();
    signal(pid, libc::SIGSTOP);
    let second = c.failover_within("SIGSTOP of n1", t_stop, failover_bound(), |i| {
        i.node == "n2"
    });
    signal(pid, libc::SIGCONT);
    let mut evs = Vec::new();
    assert!(
        wait_until(failover_bound(), || {
            evs = events(&c, "n2");
            find(&evs, "takeover", "took over from n1").is_some()
        }),
        "no takeover in n2's journal: {evs:?}\n{}",
        c.logs()
    );
    let t = find(&evs, "takeover", "took over from n1").unwrap();
    assert_eq!(t["peer"], "n1", "{t}");
    assert!(t["text"].as_str().unwrap().contains("unchanged for"), "{t}");
    assert_eq!(t["epoch"].as_u64(), Some(second.epoch), "{t}");
    assert!(find(&evs, "role", "-> active").is_some(), "{evs:?}");
    assert!(
        find(&evs, "app_start", "started the application").is_some(),
        "{evs:?}"
    );

    let mut n1 = Vec::new();
    assert!(
        wait_until(failover_bound(), || {
            n1 = events(&c, "n1");
            n1.iter().any(|e| e["kind"] == "fence")
        }),
        "no fence in n1's journal: {n1:?}\n{}",
        c.log("n1")
    );
    let fence = n1.iter().find(|e| e["kind"] == "fence").unwrap();
    assert!(
        fence["text"].as_str().unwrap().contains("deadline"),
        "{fence}"
    );
    assert_eq!(fence["epoch"].as_u64(), Some(first.epoch), "{fence}");
    assert!(
        wait_until(failover_bound(), || {
            n1 = events(&c, "n1");
            find(&n1, "app_exit", "the application is gone").is_some()
        }),
        "the end of n1's application is not journaled: {n1:?}"
    );

    // A restart keeps the journal, and `--since` keeps only the recent part.
    let before = events(&c, "n2").len();
    signal(c.pid("n2"), libc::SIGTERM);
    let i = c.idx("n2");
    c.daemons[i].as_mut().unwrap().wait().unwrap();
    c.start("n2");
    assert!(
        wait_until(failover_bound() * 2, || events(&c, "n2").len() > before),
        "the restarted daemon journals nothing"
    );
    let evs = events(&c, "n2");
    assert!(
        find(&evs, "takeover", "took over from n1").is_some(),
        "{evs:?}"
    );
    let (st, text) = c.cli("n2", &["events"]);
    assert!(
        st.success() && text.contains(" n2 takeover epoch="),
        "{text}"
    );
    let (st, recent) = c.cli("n2", &["events", "--since", "1h"]);
    assert!(st.success() && recent.contains(" takeover "), "{recent}");
    fs::write(
        state_dir(&c, "n2").join("events.jsonl.1"),
        "{\"time_ms\":1000,\"node\":\"n2\",\"kind\":\"role\",\"epoch\":1,\"peer\":\"\",\"text\":\"long ago\"}\n",
    )
    .unwrap();
    let (_, all) = c.cli("n2", &["events"]);
    let (_, recent) = c.cli("n2", &["events", "--since=30m"]);
    assert!(
        all.contains("long ago") && !recent.contains("long ago"),
        "{recent}"
    );
    c.assert_no_overlap();
}

#[test]
fn the_journal_rotates_at_its_bound() {
    let mut c = Cluster::new("journal-rotate", &["n1"], "");
    let dir = state_dir(&c, "n1");
    fs::create_dir_all(&dir).unwrap();
    let line = "{\"time_ms\":1000,\"node\":\"n1\",\"kind\":\"role\",\"epoch\":1,\"peer\":\"\",\"text\":\"filler\"}\n";
    let full = line.repeat(1024 * 1024 / line.len());
    fs::write(dir.join("events.jsonl"), &full).unwrap();
    c.start("n1");
    c.wait_running_on(|i| i.node == "n1", failover_bound() * 2);
    assert!(
        wait_until(failover_bound(), || dir.join("events.jsonl.1").exists()),
        "no rotation"
    );
    let kept = fs::metadata(dir.join("events.jsonl.1")).unwrap().len();
    let current = fs::metadata(dir.join("events.jsonl")).unwrap().len();
    assert_eq!(kept, full.len() as u64);
    assert!(current < 64 * 1024, "{current}");
    let evs = events(&c, "n1");
    assert!(evs.len() > full.len() / line.len(), "{}", evs.len());
    assert!(find(&evs, "role", "-> active").is_some());
}
