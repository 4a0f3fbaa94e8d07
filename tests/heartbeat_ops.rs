//! `ha-heartbeat` in operation: every incident kind pages once with its fields, the CLI as
//! monitoring and operators use it, and the systemd unit. Real daemons over a temp directory
//! (tests/common/cluster.rs).
//!
//! Linux only; needs /bin/sh and /proc/uptime.

#![cfg(target_os = "linux")]

use std::fs;
use std::time::Duration;

use crate::common;

use common::cluster::*;

/// One run of `hb.incident_cmd`, as the test's command wrote it.
#[derive(Debug, Clone)]
struct Paged {
    kind: String,
    node: String,
    epoch: String,
    peer: String,
    reason: String,
    text: String,
}

/// Makes every node's `hb.incident_cmd` append its environment, one line per run, to
/// `paged` in the test's directory.
fn page_to_file(c: &Cluster) {
    let file = c.dir.join("paged");
    for n in &c.nodes {
        c.add_conf(
            n,
            &format!(
                "hb.incident_cmd=printf '%s|%s|%s|%s|%s|%s\\n' \"$HB_INCIDENT_KIND\" \
                 \"$HB_NODE\" \"$HB_EPOCH\" \"$HB_PEER\" \"$HB_REASON\" \"$HB_INCIDENT\" >> {}\n",
                file.display()
            ),
        );
    }
}

fn paged(c: &Cluster) -> Vec<Paged> {
    fs::read_to_string(c.dir.join("paged"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.splitn(6, '|').collect();
            (f.len() == 6).then(|| Paged {
                kind: f[0].into(),
                node: f[1].into(),
                epoch: f[2].into(),
                peer: f[3].into(),
                reason: f[4].into(),
                text: f[5].into(),
            })
        })
        .collect()
}

fn of_kind(c: &Cluster, kind: &str) -> Vec<Paged> {
    paged(c).into_iter().filter(|p| p.kind == kind).collect()
}

/// Waits for the first incident of `kind`, then a while longer, and checks that it paged
/// exactly once and that the daemon's log has it too.
fn paged_once(c: &Cluster, kind: &str, within: Duration) -> Paged {
    paged_once_by(c, kind, None, within)
}

/// As [`paged_once`], for the incidents of one node (`None`: of all nodes).
fn paged_once_by(c: &Cluster, kind: &str, node: Option<&str>, within: Duration) -> Paged {
    let mine = || -> Vec<Paged> {
        of_kind(c, kind)
            .into_iter()
            .filter(|p| node.is_none_or(|n| p.node == n))
            .collect()
    };
    assert!(
        wait_until(within, || !mine().is_empty()),
        "no {kind} incident within {} ms: {:?}\n{}",
        within.as_millis(),
        paged(c),
        c.logs()
    );
    // More of the same cause come in this time, and the rate limit keeps them out.
    std::thread::sleep(ms(4 * P + 2 * T_IO));
    let got = mine();
    assert_eq!(got.len(), 1, "{kind} paged more than once: {got:?}");
    let p = got[0].clone();
    assert!(
        c.log(&p.node).contains(&format!("incident {kind}")),
        "{kind} is not in {}'s log\n{}",
        p.node,
        c.log(&p.node)
    );
    assert!(!p.reason.is_empty() && !p.text.is_empty(), "{p:?}");
    p
}

#[test]
fn a_takeover_pages_with_the_peer_and_how_long_its_record_was_unchanged() {
    let mut c = Cluster::new("inc-take", &["n1", "n2"], "");
    page_to_file(&c);
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let other = other_of(&first.node);
    // The node lost as a whole (a daemon killed alone is handed over by its guard instead).
    c.stop_node(&first.node.clone(), true);
    let p = paged_once(&c, "takeover", failover_bound() + ms(2000));
    assert_eq!(p.node, other, "{p:?}");
    assert_eq!(p.peer, first.node, "{p:?}");
    assert!(p.reason.contains("unchanged for"), "{p:?}");
    assert!(p.epoch.parse::<u64>().unwrap() > first.epoch, "{p:?}");
    assert!(
        c.log(other).contains("took over from"),
        "the takeover's cause is not logged\n{}",
        c.log(other)
    );
    c.assert_no_overlap();
}

#[test]
fn a_paused_active_daemon_pages_self_fencing_when_it_resumes() {
    let mut c = Cluster::new("inc-fence", &["n1", "n2"], "");
    page_to_file(&c);
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let node = first.node.clone();
    let pid = c.pid(&node);
    signal(pid, libc::SIGSTOP);
    assert!(
        wait_until(FAST.fence_bound() + ms(2000), || !pid_alive(first.pid)),
        "{}",
        c.logs()
    );
    signal(pid, libc::SIGCONT);
    let p = paged_once(&c, "fence", ms(F1 + 5000));
    assert_eq!(p.node, node, "{p:?}");
    assert!(p.reason.contains("renew deadline"), "{p:?}");
    c.assert_no_overlap();
}

#[test]
fn an_unwritable_record_pages_a_storage_incident_naming_the_error() {
    let mut c = Cluster::new("inc-storage", &["n1", "n2"], "");
    page_to_file(&c);
    c.start("n1");
    c.start("n2");
    c.wait_running_on(|_| true, ms(D + 3000));
    // The standby's record can no longer be opened for writing: a directory in its place
    // (root bypasses file modes, and EISDIR carries an errno just as EACCES or EROFS do).
    let standby = c
        .nodes
        .iter()
        .find(|n| c.running().iter().all(|i| &i.node != *n))
        .unwrap()
        .clone();
    fs::remove_file(c.record(&standby)).unwrap();
    fs::create_dir(c.record(&standby)).unwrap();
    let p = paged_once(&c, "storage", ms(4 * P + 4 * T_IO + 5000));
    assert_eq!(p.node, standby, "{p:?}");
    assert!(p.reason.contains("EISDIR"), "{p:?}");
    assert!(p.reason.contains(&format!("node.{standby}")), "{p:?}");
    fs::remove_dir(c.record(&standby)).unwrap();
    c.assert_no_overlap();
}

/// A daemon that runs as `nobody` over a record owned by root (mode 0644): its writes fail
/// with EACCES, and the incident says so, not only that the renewal did not happen.
#[test]
fn a_record_the_daemon_may_not_write_pages_eacces() {
    const NOBODY: u32 = 65534;
    // SAFETY: plain syscall.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: needs root to run a daemon as another user");
        return;
    }
    let mut c = Cluster::new("inc-eacces", &["n1", "n2"], "");
    page_to_file(&c);
    let chown = |p: &std::path::Path| std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY));
    let state = c.dir.join("state-n2");
    fs::create_dir_all(&state).unwrap();
    chown(&state).unwrap();
    chown(&c.dir.join("iv")).unwrap();
    fs::write(c.dir.join("paged"), "").unwrap();
    chown(&c.dir.join("paged")).unwrap();
    c.start("n1");
    c.wait_running_on(|i| i.node == "n1", ms(D + 3000));
    c.start_as("n2", &[], Some(NOBODY));
    let p = paged_once_by(&c, "storage", Some("n2"), ms(4 * P + 4 * T_IO + 5000));
    assert!(p.reason.contains("EACCES"), "{p:?}");
    assert!(p.reason.contains("node.n2"), "{p:?}");
    c.assert_no_overlap();
}

#[test]
fn a_foreign_writer_in_the_own_record_pages() {
    let mut c = Cluster::new("inc-foreign", &["n1", "n2"], "");
    page_to_file(&c);
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let standby = other_of(&first.node);
    // Someone else keeps writing the standby's record (a second writer, as two daemons with
    // one hb.node would): its bytes under another incarnation, until the node notices.
    let cluster = hamon::config::Config::default().heartbeat.cluster;
    let mut rec = hamon::heartbeat::record::NodeRecord::decode(
        &fs::read(c.record(standby)).unwrap(),
        &cluster,
    )
    .unwrap();
    rec.incarnation ^= 0x5a5a;
    let noticed = wait_until(ms(4 * P + 4 * T_IO + 3000), || {
        rec.seq += 1000;
        fs::write(c.record(standby), rec.encode()).unwrap();
        std::thread::sleep(ms(P / 5));
        !of_kind(&c, "foreign_writer").is_empty()
    });
    assert!(noticed, "{:?}\n{}", paged(&c), c.logs());
    let p = paged_once(&c, "foreign_writer", ms(4 * P + 4 * T_IO + 3000));
    assert_eq!(p.node, standby, "{p:?}");
    assert!(p.reason.contains("another writer"), "{p:?}");
    c.assert_no_overlap();
}

#[test]
fn no_active_node_past_the_failover_bound_pages_once() {
    let mut c = Cluster::new("inc-none", &["n1", "n2"], "");
    page_to_file(&c);
    // Both drained: nobody may take over, and the service stays down.
    for n in ["n1", "n2"] {
        let (st, out) = c.cli("n1", &["drain", n]);
        assert!(st.success(), "{out}");
    }
    c.start("n1");
    c.start("n2");
    assert!(
        wait_until(failover_bound() * 2 + ms(3000), || of_kind(&c, "no_active")
            .iter()
            .map(|p| &p.node)
            .collect::<std::collections::HashSet<_>>()
            .len()
            == 2),
        "{:?}\n{}",
        paged(&c),
        c.logs()
    );
    std::thread::sleep(ms(4 * P + 2 * T_IO));
    let got = of_kind(&c, "no_active");
    assert_eq!(got.len(), 2, "once per node: {got:?}");
    assert!(got[0].reason.contains("failover bound"), "{got:?}");
    assert!(c.running().is_empty());
}

#[test]
fn a_peer_with_another_timing_pages_a_timing_mismatch() {
    let mut c = Cluster::new("inc-timing", &["n1", "n2"], "");
    page_to_file(&c);
    // A shorter kill budget is safe on its own; the nodes differ.
    c.add_conf("n2", &format!("hb.kill_budget_ms={}\n", K - 100));
    c.start("n1");
    c.start("n2");
    // Each side sees the other's.
    for (me, peer) in [("n1", "n2"), ("n2", "n1")] {
        let p = paged_once_by(&c, "timing_mismatch", Some(me), ms(D + 5000));
        assert_eq!(p.peer, peer, "{p:?}");
        assert!(p.reason.contains("kill_budget"), "{p:?}");
        assert!(p.reason.contains(&format!("/{}", K - 100)), "{p:?}");
    }
}

#[test]
fn a_killed_guard_pages_a_guard_incident() {
    let mut c = Cluster::new("inc-guard", &["n1", "n2"], "");
    page_to_file(&c);
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let node = first.node.clone();
    let guard = c.guard_pid(&node).expect("the active daemon runs a guard");
    signal(guard, libc::SIGKILL);
    let p = paged_once(&c, "guard", ms(4 * P + 5000));
    assert_eq!(p.node, node, "{p:?}");
    c.assert_no_overlap();
}

#[test]
fn an_unhealthy_application_pages_with_the_probe_answer() {
    let ports = [FakeHaPort::start(), FakeHaPort::start()];
    let mut c = Cluster::new("inc-probe", &["n1", "n2"], "");
    for (port, n) in ports.iter().zip(["n1", "n2"]) {
        c.add_conf(
            n,
            &format!("hb.app_port={}\nhb.app_probe_fail=3\n", port.port),
        );
    }
    page_to_file(&c);
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    assert!(wait_until(ms(5000), || ports[c.idx(&first.node)]
        .answered()
        > 0));
    ports[c.idx(&first.node)].set(HaAnswer::Down);
    let p = paged_once(&c, "app_failed", probe_detection(3) + ms(3000));
    assert_eq!(p.node, first.node, "{p:?}");
    assert!(p.reason.contains("Down"), "{p:?}");
}

// ---- logs -------------------------------------------------------------------------------

/// `2026-12-02T11:04:38.961Z ha-heartbeat[PID] LEVEL: ` at the start of `line`.
fn timestamped(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 25
        && b[4] == b'-'
        && b[10] == b'T'
        && line[..24].ends_with('Z')
        && line[24..].starts_with(" ha-heartbeat[")
}

#[test]
fn the_guard_logs_to_the_log_file_with_timestamps_and_sigterm_is_info() {
    let mut c = Cluster::new("log-guard", &["n1", "n2"], "");
    let dir = c.dir.clone();
    let file = |n: &str| dir.join(format!("{n}.file.log"));
    for n in ["n1", "n2"] {
        c.add_conf(n, &format!("hb.log_file={}\n", file(n).display()));
    }
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let node = first.node.clone();
    let other = other_of(&node).to_string();
    // The guard of a daemon killed with -9 kills the application and says so.
    c.kill9(&node);
    assert!(wait_until(FAST.fence_bound() + ms(2000), || {
        fs::read_to_string(file(&node))
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains("guard: ") && l.contains("killed"))
    }));
    let text = fs::read_to_string(file(&node)).unwrap();
    let guard_line = text.lines().find(|l| l.contains("guard: ")).unwrap();
    assert!(timestamped(guard_line), "{guard_line}");
    // The other takes over; a SIGTERM stop of it logs no WARN or ERROR.
    c.wait_running_on(|i| i.node == other, failover_bound() + ms(2000));
    let before = fs::read_to_string(file(&other)).unwrap().len();
    let pid = c.pid(&other);
    signal(pid, libc::SIGTERM);
    let i = c.idx(&other);
    let child = c.daemons[i].as_mut().unwrap();
    let mut status = None;
    assert!(wait_until(ms(K + 5000), || {
        status = child.try_wait().unwrap();
        status.is_some()
    }));
    assert_eq!(status.unwrap().code(), Some(0));
    let text = fs::read_to_string(file(&other)).unwrap();
    let stop = &text[before..];
    assert!(stop.contains("INFO: stopped"), "{stop}");
    for l in stop.lines() {
        assert!(timestamped(l), "{l}");
        assert!(
            !l.contains(" WARN: ") && !l.contains(" ERROR: "),
            "a SIGTERM stop is routine: {l}\n{stop}"
        );
    }
}

#[test]
fn lines_to_the_journal_carry_syslog_priorities_and_the_file_does_not() {
    use std::os::unix::fs::MetadataExt;
    let mut c = Cluster::new("log-journal", &["n1"], "");
    let file = c.dir.join("n1.file.log");
    c.add_conf("n1", &format!("hb.log_file={}\n", file.display()));
    // The daemon's stderr is n1.log: created here so its device and inode are known (the
    // harness truncates it in place).
    let stderr = c.dir.join("n1.log");
    fs::write(&stderr, "").unwrap();
    let m = fs::metadata(&stderr).unwrap();
    let stream = format!("{}:{}", m.dev(), m.ino());
    c.start_with("n1", &[("JOURNAL_STREAM", &stream)]);
    assert!(wait_until(ms(D + 3000), || c
        .log("n1")
        .contains("role claiming -> active")));
    let journal = c.log("n1");
    let first = journal.lines().next().unwrap();
    assert!(
        first.starts_with("<6>") && timestamped(&first[3..]),
        "{first}"
    );
    assert!(
        journal
            .lines()
            .all(|l| l.len() > 3 && matches!(&l[..3], "<3>" | "<4>" | "<6>" | "<7>")),
        "{journal}"
    );
    let plain = fs::read_to_string(&file).unwrap();
    assert!(plain.lines().all(timestamped), "{plain}");
    // A JOURNAL_STREAM that names another file: stderr is not the journal.
    drop(c);
    let mut c = Cluster::new("log-nojournal", &["n1"], "");
    let m = fs::metadata(c.conf("n1")).unwrap();
    let other = format!("{}:{}", m.dev(), m.ino());
    c.start_with("n1", &[("JOURNAL_STREAM", &other)]);
    assert!(wait_until(ms(D + 3000), || c.log("n1").contains("active")));
    assert!(c.log("n1").lines().all(timestamped), "{}", c.log("n1"));
}

// ---- the CLI ----------------------------------------------------------------------------

fn run_bin(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_and_version_go_to_stdout_with_exit_0() {
    for flag in ["--help", "-h"] {
        let (code, out, err) = run_bin(&[flag]);
        assert_eq!(code, Some(0), "{err}");
        assert!(out.starts_with("usage: ha-heartbeat"), "{out}");
        assert!(out.contains("status [--json]"), "{out}");
        assert!(err.is_empty(), "{err}");
    }
    let (code, out, _) = run_bin(&["--version"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        out.trim(),
        format!("ha-heartbeat {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn every_error_is_prefixed_with_the_program_name() {
    let c = Cluster::new("cli-err", &["n1", "n2"], "");
    let conf = c.conf("n1");
    let conf = conf.to_str().unwrap();
    // `status` is a Nagios-style check: called wrongly, it is UNKNOWN (3).
    for (args, want) in [
        (vec![], 2),
        (vec!["bogus", "-c", conf], 2),
        (vec!["status", "--bogus", "-c", conf], 3),
        (vec!["status"], 3),
        (vec!["run", "--json", "-c", conf], 2),
        (vec!["status", "-c", "/nonexistent/hamon.conf"], 3),
        (vec!["switchover", "--to"], 2),
    ] {
        let (code, out, err) = run_bin(&args);
        assert_eq!(code, Some(want), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.starts_with("ha-heartbeat: "), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
    }
    // A maintenance command with a configuration that cannot be read.
    let (code, _, err) = run_bin(&["drain", "n1", "-c", "/nonexistent/hamon.conf"]);
    assert_eq!(code, Some(2));
    assert!(err.starts_with("ha-heartbeat: "), "{err}");
}

#[test]
fn status_before_init_says_to_run_init() {
    let c = Cluster::new("cli-noinit", &["n1", "n2"], "");
    // A fresh shared directory: as before `init`.
    let shared = c.dir.join("shared");
    fs::remove_dir_all(&shared).unwrap();
    fs::create_dir(&shared).unwrap();
    let (st, out) = c.cli("n1", &["status"]);
    assert_eq!(st.code(), Some(3), "{out}");
    assert!(out.starts_with("ha-heartbeat: "), "{out}");
    assert!(out.contains("run `ha-heartbeat init"), "{out}");
    let (st, out) = c.cli("n1", &["status", "--json"]);
    assert_eq!(st.code(), Some(3), "{out}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["verdict"], "unknown");
}

fn status_json(c: &Cluster, node: &str) -> (i32, serde_json::Value) {
    let out = std::process::Command::new(BIN)
        .args(["status", "--json", "--watch", "--config"])
        .arg(c.conf(node))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let j = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (out.status.code().unwrap(), j)
}

#[test]
fn status_exit_codes_and_json_follow_the_cluster() {
    let mut c = Cluster::new("cli-status", &["n1", "n2"], "");
    // Nobody active: critical.
    let (code, j) = status_json(&c, "n1");
    assert_eq!(code, 2, "{j}");
    assert_eq!(j["verdict"], "critical");
    assert!(j["active"].is_null(), "{j}");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    // One active, the other alive: ok. The documented fields are all there.
    assert!(
        wait_until(ms(5000), || status_json(&c, "n2").0 == 0),
        "{}",
        status_json(&c, "n2").1
    );
    let (_, j) = status_json(&c, "n2");
    assert_eq!(j["active"], first.node.as_str(), "{j}");
    assert_eq!(j["node"], "n2");
    assert_eq!(j["code"], 0);
    assert_eq!(j["problems"].as_array().unwrap().len(), 0, "{j}");
    assert_eq!(j["maintenance"]["mode"], "OFF");
    assert!(j["observed_ms"].as_u64().unwrap() > 0);
    let nodes = j["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    for n in nodes {
        for field in [
            "name",
            "self",
            "alive",
            "changed_within_ms",
            "state",
            "epoch",
            "seq",
            "preferred",
            "error",
        ] {
            assert!(n.get(field).is_some(), "{field} missing: {n}");
        }
        assert_eq!(n["alive"], true, "{n}");
    }
    // FREEZE: one active, no failover: degraded, and the text says why.
    let (st, out) = c.cli("n1", &["maintenance", "on"]);
    assert!(st.success(), "{out}");
    let (st, out) = c.cli("n2", &["status", "--watch"]);
    assert_eq!(st.code(), Some(1), "{out}");
    assert!(
        out.contains("verdict: degraded") && out.contains("FREEZE"),
        "{out}"
    );
    let (st, out) = c.cli("n1", &["maintenance", "off"]);
    assert!(st.success(), "{out}");
    // The standby's daemon gone: no failover possible: degraded.
    let standby = other_of(&first.node).to_string();
    c.kill9(&standby);
    let (code, j) = status_json(&c, &first.node);
    assert_eq!(code, 1, "{j}");
    assert!(j["problems"][0].as_str().unwrap().contains(&standby), "{j}");
    c.assert_no_overlap();
}

// ---- the systemd unit -------------------------------------------------------------------

fn systemd_analyze() -> Option<std::path::PathBuf> {
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", "command -v systemd-analyze"])
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !path.is_empty()).then(|| path.into())
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let Some(tool) = systemd_analyze() else {
        eprintln!("skipped: systemd-analyze is not installed (apt-get install systemd)");
        return;
    };
    let unit =
        fs::read_to_string(common::root().join("scripts/systemd/ha-heartbeat.service")).unwrap();
    // The shared and state directories stay writable under ProtectSystem=strict.
    for line in [
        "ProtectSystem=strict",
        "ReadWritePaths=",
        "StateDirectory=hamon",
        "NoNewPrivileges=yes",
    ] {
        assert!(unit.contains(line), "{line} missing");
    }
    // As the installer leaves it: the program path substituted (verify checks it exists).
    let dir = std::env::temp_dir().join(format!("hamon-unit-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ha-heartbeat.service");
    fs::write(&path, unit.replace("/usr/bin/ha-heartbeat", BIN)).unwrap();
    let verify = std::process::Command::new(&tool)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let security = std::process::Command::new(&tool)
        .args(["security", "--offline=true"])
        .arg(&path)
        .output()
        .unwrap();
    let _ = fs::remove_dir_all(&dir);
    let verr = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "verify: {verr}");
    assert!(
        !verr.contains("ha-heartbeat.service"),
        "verify warns about the unit: {verr}"
    );
    let text = String::from_utf8_lossy(&security.stdout);
    let overall = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| {
            panic!(
                "no overall level: {text}{}",
                String::from_utf8_lossy(&security.stderr)
            )
        });
    let level = overall
        .split(':')
        .nth(1)
        .and_then(|v| v.split_whitespace().nth(1))
        .unwrap_or("");
    assert!(
        ["PERFECT", "SAFE", "OK", "MEDIUM"].contains(&level),
        "exposure above MEDIUM: {overall}"
    );
}
