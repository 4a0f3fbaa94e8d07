//! `ha-heartbeat status` answers at once from the records and judges liveness only when
//! asked (`--watch`), with real daemons and without; a configuration or hb.dir it cannot
//! read is UNKNOWN (3) to a Nagios-style check, in text and in JSON.
//!
//! Linux only.

#![cfg(target_os = "linux")]

use crate::common;

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::cluster::*;

/// One `status` run: exit code, stdout, stderr, how long it took.
struct Run {
    code: i32,
    out: String,
    err: String,
    took: Duration,
}

impl Run {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.out).unwrap_or_else(|e| panic!("{e}: {}", self.out))
    }
}

fn status(conf: &std::path::Path, args: &[&str]) -> Run {
    let t0 = Instant::now();
    let out = Command::new(BIN)
        .arg("status")
        .args(args)
        .arg("--config")
        .arg(conf)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: t0.elapsed(),
    }
}

/// A configuration for node n1 of `c` on the default profile (nfs: a full watch takes
/// 2 x 3000 + 2 x 8000 = 22000 ms), as an operator's would be.
fn nfs_conf(c: &Cluster) -> PathBuf {
    let conf = c.dir.join("nfs.conf");
    fs::write(
        &conf,
        format!(
            "hb.dir={}\nhb.node=n1\nhb.nodes=n1,n2\nhb.state_dir={}\n",
            c.dir.join("shared").display(),
            c.dir.join("state-n1").display()
        ),
    )
    .unwrap();
    conf
}

/// Answering at once: well under the 22 s a full watch takes on the nfs profile, with room
/// for a debug build starting on a busy machine.
const AT_ONCE: Duration = Duration::from_millis(1500);

/// The fast profile's full watch: 2P + 2 T_io.
const WINDOW_MS: u64 = 2 * P + 2 * T_IO;

fn line<'a>(out: &'a str, start: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line {start:?}:\n{out}"))
}

#[test]
fn with_no_daemon_status_answers_at_once_and_watch_finds_nobody_alive() {
    let mut c = Cluster::new("st-stopped", &["n1", "n2"], "");
    let nfs = nfs_conf(&c);
    // Fresh records from init: no record says ACTIVE, which needs no watch.
    let r = status(&nfs, &[]);
    assert_eq!(r.code, 2, "{}{}", r.out, r.err);
    assert!(r.took < AT_ONCE, "took {:?}", r.took);
    assert!(
        r.out.contains("active: none (no record says ACTIVE)")
            && r.out.contains("  no node is active: no record says ACTIVE")
            && line(&r.out, "n1*").contains("never written (blank record from init)"),
        "{}",
        r.out
    );

    // A cluster that ran and whose daemons all stopped: the records keep their last states.
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let standby = other_of(&first.node);
    c.kill9(standby);
    // The active's node lost as a whole: its guard dies too and hands nothing over.
    c.stop_node(&first.node, true);
    assert!(
        wait_until(ms(F1 + K), || c.running().is_empty()),
        "{}",
        c.logs()
    );

    let r = status(&nfs, &[]);
    assert_eq!(r.code, 3, "{}{}", r.out, r.err);
    assert!(r.took < AT_ONCE, "took {:?}: not at once", r.took);
    assert!(r.err.is_empty(), "nothing on stderr: {}", r.err);
    let active = line(&r.out, &first.node);
    assert!(
        active.contains("ACTIVE")
            && active.contains("not watched")
            && active.contains("ago by this host's clock"),
        "{}",
        r.out
    );
    assert!(
        r.out.contains("read once in")
            && r.out
                .contains("--watch: up to 22000 ms to see which daemons are alive")
            && r.out.contains(&format!(
                "active: {} by its record (not watched)",
                first.node
            ))
            && r.out.contains("verdict: unknown (exit 3)")
            && r.out.contains("  liveness not watched")
            && r.out.contains("failover within"),
        "{}",
        r.out
    );
    let j = status(&nfs, &["--json"]).json();
    assert_eq!(j["code"], 3, "{j}");
    assert_eq!(j["verdict"], "unknown", "{j}");
    assert_eq!(j["liveness"], "not watched", "{j}");
    assert_eq!(j["watch_ms"], 22000, "{j}");
    assert!(
        j["active"].is_null() && j["actives"] == serde_json::json!([]),
        "{j}"
    );
    for n in j["nodes"].as_array().unwrap() {
        assert!(n["alive"].is_null(), "{n}");
        assert!(n["modified_ago_ms"].is_i64(), "{n}");
    }

    // Watching: nothing changes, so nobody is alive and nobody is active.
    let r = status(&c.conf("n1"), &["--watch"]);
    assert_eq!(r.code, 2, "{}{}", r.out, r.err);
    assert!(r.took >= ms(WINDOW_MS), "watched only {:?}", r.took);
    assert!(
        r.err.is_empty(),
        "no terminal, nothing on stderr: {}",
        r.err
    );
    assert!(
        line(&r.out, &first.node).contains("no change seen: stopped, paused or dead")
            && r.out.contains("active: none\n")
            && r.out.contains("verdict: critical (exit 2)"),
        "{}",
        r.out
    );
    let j = status(&c.conf("n1"), &["--json", "--watch"]).json();
    assert_eq!(
        (j["code"].clone(), j["liveness"].clone()),
        (2.into(), "watched".into())
    );
    assert!(j["watch_ms"].is_null(), "{j}");
    for n in j["nodes"].as_array().unwrap() {
        assert_eq!(n["alive"], false, "{n}");
    }
}

#[test]
fn with_live_daemons_only_a_watch_says_ok() {
    let mut c = Cluster::new("st-live", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    // Both daemons write their records once the active runs; a watch then sees both.
    assert!(
        wait_until(ms(5000), || status(&c.conf("n2"), &["--watch"]).code == 0),
        "{}",
        status(&c.conf("n2"), &["--watch"]).out
    );
    let r = status(&c.conf("n2"), &["--watch"]);
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(
        line(&r.out, &first.node).contains("alive: the record changed")
            && r.out.contains(&format!("active: {}\n", first.node))
            && r.out.contains("verdict: ok (exit 0)"),
        "{}",
        r.out
    );
    let j = status(&c.conf("n2"), &["--json", "--watch=1s"]).json();
    assert_eq!(j["code"], 0, "{j}");
    assert_eq!(j["active"], first.node.as_str(), "{j}");
    for n in j["nodes"].as_array().unwrap() {
        assert_eq!(n["alive"], true, "{n}");
    }
    // Read once, the same cluster: the roles, but no claim about who is alive.
    let r = status(&c.conf("n2"), &[]);
    assert_eq!(r.code, 3, "{}", r.out);
    assert!(
        r.out.contains(&format!(
            "active: {} by its record (not watched)",
            first.node
        )) && line(&r.out, "n2*").contains("not watched"),
        "{}",
        r.out
    );
    let j = status(&c.conf("n2"), &["--json"]).json();
    assert_eq!(j["liveness"], "not watched", "{j}");
    let states: Vec<&str> = j["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["state"].as_str().unwrap())
        .collect();
    assert!(
        states.contains(&"ACTIVE") && states.contains(&"STANDBY"),
        "{j}"
    );
    c.assert_no_overlap();
}

#[test]
fn a_watch_shorter_than_a_live_daemon_needs_is_refused() {
    let c = Cluster::new("st-short", &["n1", "n2"], "");
    let nfs = nfs_conf(&c);
    for json in [false, true] {
        let args: &[&str] = if json {
            &["--watch=10s", "--json"]
        } else {
            &["--watch=10s"]
        };
        let r = status(&nfs, args);
        assert_eq!(r.code, 3, "{}{}", r.out, r.err);
        assert!(r.took < AT_ONCE, "took {:?}", r.took);
        assert!(
            r.err
                .starts_with("ha-heartbeat: --watch=10000ms is shorter than")
                && r.err.contains("= 22000 ms"),
            "{}",
            r.err
        );
        if json {
            assert_eq!(r.json()["verdict"], "unknown", "{}", r.out);
        } else {
            assert!(r.out.is_empty(), "{}", r.out);
        }
    }
    // Exactly the full window, or more, is a watch.
    let r = status(&c.conf("n1"), &[&format!("--watch={WINDOW_MS}ms")]);
    assert_eq!(r.code, 2, "{}{}", r.out, r.err);
    assert!(r.out.contains("(watched "), "{}", r.out);
    let r = status(&c.conf("n1"), &["--watch=5"]);
    assert_eq!(r.code, 3, "{}", r.err);
    assert!(
        r.err.contains("--watch=5: give a duration such as 30s"),
        "{}",
        r.err
    );
}

#[test]
fn a_configuration_status_cannot_read_is_unknown_naming_the_file() {
    let c = Cluster::new("st-conf", &["n1"], "");
    let missing = c.dir.join("missing.conf");
    // A directory where the file should be: it exists but cannot be read as one.
    let dir = c.dir.join("iv");
    for conf in [&missing, &dir] {
        let r = status(conf, &[]);
        assert_eq!(r.code, 3, "{}{}", r.out, r.err);
        assert!(r.out.is_empty(), "{}", r.out);
        assert!(
            r.err.starts_with("ha-heartbeat: ")
                && r.err.contains(&conf.display().to_string())
                && r.err.lines().count() == 1,
            "{}",
            r.err
        );
        let r = status(conf, &["--json", "--watch"]);
        assert_eq!(r.code, 3, "{}", r.err);
        let j = r.json();
        assert_eq!(j["verdict"], "unknown", "{j}");
        assert!(
            j["problems"][0]
                .as_str()
                .unwrap()
                .contains(&conf.display().to_string()),
            "{j}"
        );
        assert!(
            j["nodes"] == serde_json::json!([]) && j["node"].is_null(),
            "{j}"
        );
    }
    // An invalid one names the key.
    c.add_conf("n1", "hb.period_ms=soon\n");
    let r = status(&c.conf("n1"), &["--watch"]);
    assert_eq!(r.code, 3, "{}", r.err);
    assert!(
        r.err.contains("hb.period_ms: bad value \"soon\""),
        "{}",
        r.err
    );
}

#[test]
fn records_this_host_cannot_read_are_unknown_not_critical() {
    let c = Cluster::new("st-unreadable", &["n1", "n2"], "");
    // Each record replaced by a directory: there, but not readable as a record (as root,
    // permissions would not stop the read).
    for n in ["n1", "n2"] {
        fs::remove_file(c.record(n)).unwrap();
        fs::create_dir(c.record(n)).unwrap();
    }
    for args in [&[][..], &["--watch"][..]] {
        let r = status(&c.conf("n1"), args);
        assert_eq!(r.code, 3, "{args:?}: {}{}", r.out, r.err);
        assert!(
            r.out.contains("verdict: unknown (exit 3)")
                && r.out
                    .contains("  no record in hb.dir can be read: cannot tell")
                && r.out.contains("  n2: record unreadable: "),
            "{args:?}: {}",
            r.out
        );
    }
}

#[test]
fn on_a_terminal_a_watch_says_at_once_what_it_waits_for() {
    // script(1) gives the command a terminal; its output is what the operator sees.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no script(1) to give status a terminal");
        return;
    }
    let c = Cluster::new("st-tty", &["n1", "n2"], "");
    let conf = c.conf("n1");
    let run = |args: &str| {
        let line = format!("'{BIN}' status {args} --config '{}'", conf.display());
        let out = Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).replace('\r', "")
    };
    let out = run("--watch");
    let note = format!(
        "ha-heartbeat: watching the records for up to {WINDOW_MS} ms to see which daemons are alive\n"
    );
    assert!(out.starts_with(&note), "{out}");
    assert!(out.contains("verdict: critical (exit 2)"), "{out}");
    // Read once, nothing to wait for: no note.
    let out = run("");
    assert!(!out.contains("watching"), "{out}");
    assert!(out.starts_with("NODE "), "{out}");
}

#[cfg(feature = "etcd")]
#[test]
fn on_etcd_one_read_judges_and_watch_adds_nothing() {
    use common::etcd::{ELECTION_MS, EtcdCluster, HEARTBEAT_MS};
    use hamon::heartbeat::etcd::settings::timing_settings;
    use hamon::heartbeat::etcd::timing::EtcdTiming;

    let etcd = EtcdCluster::start(1, false);
    let t = EtcdTiming {
        period: Duration::from_millis(200),
        io_timeout: Duration::from_millis(300),
        // Long enough for the active to ride through an etcd leader election.
        lease_ttl: Duration::from_secs(3),
        kill_budget: Duration::from_millis(200),
        election_timeout: Duration::from_millis(ELECTION_MS),
        heartbeat_interval: Duration::from_millis(HEARTBEAT_MS),
    };
    let settings = format!(
        "hb.backend=etcd\nhb.etcd.endpoints={}\n{}",
        etcd.endpoints().join(","),
        timing_settings(&t)
    );
    let mut c = Cluster::new("st-etcd", &["n1", "n2"], &settings);
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_secs(15));
    // The standby's status key comes with its lease.
    assert!(
        wait_until(ms(5000), || status(&c.conf("n1"), &[]).code == 0),
        "{}",
        status(&c.conf("n1"), &[]).out
    );
    for args in [&[][..], &["--watch"][..], &["--watch=60s"][..]] {
        let r = status(&c.conf("n1"), args);
        assert_eq!(r.code, 0, "{args:?}: {}{}", r.out, r.err);
        assert!(r.took < AT_ONCE, "{args:?}: took {:?}", r.took);
        assert!(
            r.out.contains("(one read of etcd at revision")
                && r.out.contains(&format!("active: {}\n", first.node)),
            "{args:?}: {}",
            r.out
        );
    }
    let j = status(&c.conf("n1"), &["--json", "--watch"]).json();
    assert_eq!(j["liveness"], "leases", "{j}");
    for n in j["nodes"].as_array().unwrap() {
        assert_eq!(n["alive"], true, "{n}");
        assert!(n["modified_ago_ms"].is_null(), "{n}");
    }
    c.assert_no_overlap();
}
