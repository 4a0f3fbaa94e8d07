//! `ha-heartbeat` as operators run it: real daemons (one per node) on one machine over a
//! temp directory, with a tiny shell application that logs its own lifetime, so an
//! independent checker can prove that no two instances ever ran at the same time. Every
//! failover is timed from the fault against the bound of docs/heartbeat.md; where none may
//! happen, none does for as long as one would take.
//!
//! Linux only; needs /bin/sh and /proc/uptime.

#![cfg(target_os = "linux")]

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common;

use common::cluster::*;

#[test]
fn two_daemons_started_at_once_run_exactly_one_application() {
    let mut c = Cluster::new("pair", &["n1", "n2"], "");
    let (st, out) = c.cli("n1", &["status"]);
    assert_eq!(st.code(), Some(2), "nobody active yet:\n{out}");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    // Watch for three takeover times: always exactly this one.
    c.watch(ms(3 * D), Some(first.pid), "started at once");
    assert_eq!(c.instances().len(), 1, "{:?}", c.instances());
    let (st, out) = c.cli("n2", &["status", "--watch"]);
    assert_eq!(st.code(), Some(0), "{out}");
    assert!(out.contains("ACTIVE") && out.contains("STANDBY"), "{out}");
    c.assert_no_overlap();
}

/// With no preferred node, two nodes started at the same moment must not keep abandoning each
/// other's claims: the back-off jitter spans two periods and a node wakes when it ends.
#[test]
fn symmetric_start_converges() {
    for round in 0..5 {
        let mut c = Cluster::new("sym", &["n1", "n2"], "hb.preferred=false\n");
        c.start("n1");
        c.start("n2");
        let found = wait_until(ms(D + 3000), || !c.running().is_empty());
        assert!(found, "round {round}: nobody became active\n{}", c.logs());
        c.assert_no_overlap();
    }
}

#[test]
fn kill9_of_the_active_daemon_kills_its_app_and_the_other_takes_over_in_time() {
    let mut c = Cluster::new("kill9", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let other = other_of(&first.node);
    let t_kill = mono_ns();
    c.kill9(&first.node.clone());
    // PDEATHSIG (or the guard, when the pipe closes) ends the orphaned application at once;
    // at the very latest the lease would end it, F1 + K after the last write.
    assert!(
        wait_until(FAST.fence_bound(), || !pid_alive(first.pid)),
        "the application outlived its daemon\n{}",
        c.logs()
    );
    let second = c.failover_within(
        "kill -9 of the active daemon",
        t_kill,
        failover_bound(),
        |i| i.node == other,
    );
    assert!(second.epoch > first.epoch);
    c.assert_no_overlap();
}

#[test]
fn a_paused_active_daemon_is_fenced_by_its_guard_and_stays_standby_after_resume() {
    let mut c = Cluster::new("stop", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let node = first.node.clone();
    let other = other_of(&node);
    let pid = c.pid(&node);
    let t_stop = mono_ns();
    signal(pid, libc::SIGSTOP);
    // The lease ends at most F1 after the start of the last write, which was before the
    // pause: the guard kills the application then, well inside F1 + K.
    assert!(
        wait_until(FAST.fence_bound(), || !pid_alive(first.pid)),
        "the guard did not kill the application of the paused daemon\n{}",
        c.logs()
    );
    let lived = c.instance(first.pid).last.saturating_sub(t_stop);
    assert!(
        Duration::from_nanos(lived) <= FAST.fence_bound(),
        "the application ran {} ms into the pause\n{}",
        lived / 1_000_000,
        c.logs()
    );
    // Paused longer than the takeover time: the pause is the fault, as a death would be.
    let second = c.failover_within(
        "SIGSTOP of the active daemon",
        t_stop,
        failover_bound(),
        |i| i.node == other,
    );
    signal(pid, libc::SIGCONT);
    // The resumed daemon finds its lease gone and stays out.
    c.assert_no_failover(second.pid, "the paused daemon resumed");
    assert!(c.log(&node).contains("guard"), "{}", c.log(&node));
    let (st, out) = c.cli(&node, &["status", "--watch"]);
    assert_eq!(st.code(), Some(0), "{out}");
    c.assert_no_overlap();
}

#[test]
fn a_crashed_application_is_reported_and_a_new_term_starts() {
    let mut c = Cluster::new("crash", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let t_crash = mono_ns();
    signal(-first.pid, libc::SIGKILL);
    // The daemon notices within a loop turn, then hands over as if it had died.
    let second = c.failover_within(
        "the application crashed",
        t_crash,
        crash_detection() + failover_bound(),
        |i| i.pid != first.pid,
    );
    assert!(second.epoch > first.epoch, "{second:?}\n{}", c.logs());
    let incidents = fs::read_to_string(c.dir.join("incidents")).unwrap_or_default();
    assert!(
        incidents.contains(&first.node) && incidents.contains("died"),
        "incident: {incidents:?}\n{}",
        c.logs()
    );
    c.assert_no_overlap();
}

/// After its application failed, a node backs off for the takeover time so the other node
/// takes over; the stop that follows must not shorten that back-off.
#[test]
fn a_crashed_application_is_taken_over_by_the_other_node() {
    let mut c = Cluster::new("crash2", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    // The standby watches the active for a whole takeover time first.
    c.watch(ms(D), Some(first.pid), "settled");
    let other = other_of(&first.node);
    let t_crash = mono_ns();
    signal(-first.pid, libc::SIGKILL);
    c.failover_within(
        "the application crashed",
        t_crash,
        crash_detection() + failover_bound(),
        |i| i.node == other,
    );
    c.assert_no_overlap();
}

#[test]
fn restart_limit_restarts_locally_first() {
    let mut c = Cluster::new("restart", &["n1", "n2"], "hb.restart_limit=1\n");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let t_crash = mono_ns();
    signal(-first.pid, libc::SIGKILL);
    // Noticed within a loop turn; restarted at once once its group is gone.
    let again = c.failover_within(
        "local restart",
        t_crash,
        crash_detection() + ms(APP_START_MS),
        |i| i.pid != first.pid,
    );
    assert_eq!(again.node, first.node, "restarted locally\n{}", c.logs());
    assert_eq!(again.epoch, first.epoch);
    let t_crash = mono_ns();
    signal(-again.pid, libc::SIGKILL);
    // The limit is used up: the node releases and backs off the takeover time, so the other
    // node starts a new term.
    let third = c.failover_within(
        "the restarted application crashed",
        t_crash,
        crash_detection() + failover_bound(),
        |i| i.pid != again.pid && i.pid != first.pid,
    );
    assert_eq!(third.node, other_of(&first.node), "{}", c.logs());
    assert!(third.epoch > first.epoch, "{third:?}\n{}", c.logs());
    assert!(c.log(&first.node).contains("handing over"), "{}", c.logs());
    c.assert_no_overlap();
}

#[test]
fn freeze_blocks_takeover_until_maintenance_off() {
    let mut c = Cluster::new("freeze", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let other = other_of(&first.node);
    let (st, out) = c.cli(other, &["maintenance", "on"]);
    assert!(st.success(), "{out}");
    assert!(out.contains("FREEZE"), "{out}");
    c.wait_maintenance_seen(maint_token(&out));
    let t_kill = mono_ns();
    c.kill9(&first.node.clone());
    assert!(
        wait_until(FAST.fence_bound(), || !pid_alive(first.pid)),
        "{}",
        c.logs()
    );
    c.assert_no_takeover_since(t_kill, "the active was killed while frozen");
    let (st, out) = c.cli(other, &["status", "--watch"]);
    assert_eq!(st.code(), Some(2), "nobody is active:\n{out}");
    assert!(out.contains("FREEZE"), "{out}");
    // Lifting the freeze is the fault's end: the standby restarts its observation window
    // when it reads OFF, so the takeover takes the whole failover time from there.
    let t_off = mono_ns();
    let (st, out) = c.cli(other, &["maintenance", "off"]);
    assert!(st.success(), "{out}");
    c.failover_within("FREEZE lifted", t_off, failover_bound(), |i| {
        i.node == other
    });
    c.assert_no_overlap();
}

#[test]
fn sigterm_releases_and_the_other_node_takes_over() {
    let mut c = Cluster::new("term", &["n1", "n2"], "");
    for n in ["n1", "n2"] {
        let log = c.dir.join(format!("{n}.hblog"));
        c.add_conf(n, &format!("hb.log_file={}\n", log.display()));
    }
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let node = first.node.clone();
    let other = other_of(&node);
    let t_term = mono_ns();
    signal(c.pid(&node), libc::SIGTERM);
    let i = c.idx(&node);
    let mut child = c.daemons[i].take().unwrap();
    let mut status = None;
    // It stops its application within the kill budget and writes RELEASED within T_io.
    assert!(wait_until(FAST.kill_budget + FAST.loop_turn() * 2, || {
        status = child.try_wait().unwrap();
        status.is_some()
    }));
    assert!(status.unwrap().success(), "{}", c.log(&node));
    assert!(!pid_alive(first.pid));
    let hblog = fs::read_to_string(c.dir.join(format!("{node}.hblog"))).unwrap();
    assert!(
        hblog.contains("started the application") && hblog.contains("stopped"),
        "{hblog}"
    );
    assert!(c.dir.join(format!("state-{node}/app.log")).is_file());
    // The stop takes at most K; then the other node takes over as after a death at worst
    // (sooner: it sees RELEASED and need not wait for the takeover time).
    c.failover_within(
        "SIGTERM of the active daemon",
        t_term,
        FAST.kill_budget + failover_bound(),
        |i| i.node == other,
    );
    c.assert_no_overlap();
}

#[test]
fn drain_and_switchover_commands_write_the_maintenance_record() {
    let c = Cluster::new("maint", &["n1", "n2"], "");
    let (st, out) = c.cli("n1", &["drain"]);
    assert!(st.success() && out.contains("drained: n1"), "{out}");
    let (st, out) = c.cli("n1", &["undrain", "n1"]);
    assert!(st.success() && out.contains("drained: none"), "{out}");
    let (st, out) = c.cli("n1", &["drain", "nope"]);
    assert!(!st.success(), "{out}");
    let (st, out) = c.cli("n1", &["switchover", "--force"]);
    assert!(st.success() && out.contains("SWITCHOVER to n2"), "{out}");
    let (st, out) = c.cli("n2", &["switchover", "--to", "n2", "--force"]);
    assert!(st.success() && out.contains("SWITCHOVER to n2"), "{out}");
    let (st, _) = c.cli("n1", &["bogus"]);
    assert_eq!(st.code(), Some(2));
}

#[test]
fn the_overlap_checker_catches_an_overlap() {
    let c = Cluster::new("checker", &["n1", "n2"], "");
    let iv = c.dir.join("iv");
    // Times as the application writes them: seconds since boot, in hundredths.
    fs::write(iv.join("n1.100"), "start n1 1 1000.00\nalive 1000.50\n").unwrap();
    fs::write(iv.join("n2.200"), "start n2 2 1000.60\nalive 1000.90\n").unwrap();
    c.assert_no_overlap();
    fs::write(iv.join("n1.300"), "start n1 3 1000.80\nalive 1000.95\n").unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.assert_no_overlap()));
    assert!(
        caught.is_err(),
        "n2 [1000.60, 1000.90] and n1 [1000.80, 1000.95] overlap"
    );
}

#[test]
fn an_unhealthy_application_on_its_ha_port_is_handed_over() {
    let (c, ports) = Cluster::started_on_fake_ha_ports("probe");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    // Healthy: it keeps running.
    c.watch(ms(10 * P), Some(first.pid), "healthy");
    let bad = c.idx(&first.node);
    let other = other_of(&first.node);
    let t_down = mono_ns();
    ports[bad].set(HaAnswer::Down);
    // Three failed probes, the stop (K), then a takeover as after a death at worst.
    c.failover_within(
        "the HA port says DOWN",
        t_down,
        probe_detection(3) + FAST.kill_budget + failover_bound(),
        |i| i.node == other,
    );
    assert!(!pid_alive(first.pid));
    let incidents = fs::read_to_string(c.dir.join("incidents")).unwrap_or_default();
    assert!(
        incidents.contains("unhealthy"),
        "{incidents:?}\n{}",
        c.logs()
    );
    c.assert_no_overlap();
}

#[test]
fn a_stray_application_group_of_an_earlier_run_is_killed_at_start() {
    let mut c = Cluster::new("stray", &["n1", "n2"], "");
    // A process group that looks like an application left behind by a crashed daemon.
    let mut stray = Command::new("/bin/sh");
    stray
        .args(["-c", "sleep 60 & wait"])
        .env(TAG, &c.dir)
        .process_group(0);
    use std::os::unix::process::CommandExt;
    let mut stray = stray.spawn().unwrap();
    let pgid = stray.id() as i32;
    let stat = fs::read_to_string(format!("/proc/{pgid}/stat")).unwrap();
    let start: u64 = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let state = c.dir.join("state-n2");
    fs::create_dir_all(&state).unwrap();
    fs::write(state.join("app.pgid"), format!("{pgid} {start}\n")).unwrap();
    c.start("n2");
    let mut status = None;
    assert!(
        wait_until(Duration::from_secs(3), || {
            status = stray.try_wait().unwrap();
            status.is_some()
        }),
        "the stray group was left alone\n{}",
        c.logs()
    );
    assert!(
        wait_until(Duration::from_secs(3), || c
            .log("n2")
            .contains("left by an earlier run")),
        "{}",
        c.logs()
    );
}

#[test]
fn switchover_moves_the_application_to_the_named_node() {
    let mut c = Cluster::new("switch", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let other = other_of(&first.node);
    // Let the target's observation window pass, as in a planned switchover.
    c.watch(ms(D), Some(first.pid), "before the switchover");
    let t0 = mono_ns();
    let (st, out) = c.cli(&first.node, &["switchover"]);
    assert!(st.success(), "{out}");
    let second = c.failover_within("switchover", t0, switchover_bound(), |i| i.node == other);
    // It stays there.
    c.assert_no_failover(second.pid, "after the switchover");
    let (st, out) = c.cli(other, &["status", "--watch"]);
    assert_eq!(st.code(), Some(0), "{out}");
    c.assert_no_overlap();
}

/// Writes `bytes` over `node`'s record in place (the way a stray writer or a broken storage
/// would), keeping the file's size.
fn scribble(c: &Cluster, node: &str, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = fs::OpenOptions::new()
        .write(true)
        .open(c.record(node))
        .unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

/// Garbage is never trusted and never mistaken for death: garbage over the standby's record
/// changes nothing for the active, and garbage over the active's own record is neither a
/// second writer (it does not decode) nor a dead record (its bytes keep changing), so the
/// active keeps its application and nobody takes over.
#[test]
fn garbage_in_the_records_never_makes_two_applications() {
    let mut c = Cluster::new("garbage", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let other = other_of(&first.node);
    // Garbage over the standby's record, then over the active's own record, a few times.
    for round in 0..5u8 {
        scribble(&c, other, &[0xA5 ^ round; 4096]);
        c.watch(
            ms(2 * P),
            Some(first.pid),
            "garbage over the standby's record",
        );
        scribble(&c, &first.node, &[0x5A ^ round; 4096]);
        c.watch(
            ms(2 * P),
            Some(first.pid),
            "garbage over the active's record",
        );
    }
    c.assert_no_failover(first.pid, "after the garbage");
    c.assert_no_overlap();
}

#[test]
fn a_second_writer_of_the_active_record_makes_it_stop() {
    let mut c = Cluster::new("overwrite", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let other = other_of(&first.node);
    c.watch(ms(5 * P), Some(first.pid), "settled");
    // Replay an old copy of the active's own record every half period: a rolled-back seq,
    // as a second daemon with the same hb.node would keep writing. A replay is seen only when
    // it lands after one of the active's writes and before its next read-back, which the
    // daemon issues together with the write after it: each period that is a matter of
    // chance, so the replays go on for as long as a failover may take.
    let old = fs::read(c.record(&first.node)).unwrap();
    c.watch(ms(5 * P), Some(first.pid), "before the replays");
    let mut last_replay = mono_ns();
    assert!(
        wait_until(failover_bound(), || {
            last_replay = mono_ns();
            scribble(&c, &first.node, &old);
            std::thread::sleep(ms(P / 2));
            !pid_alive(first.pid)
        }),
        "the active kept running after its record was overwritten\n{}",
        c.logs()
    );
    // The second writer stops with the last replay: from then on the stopped node's own
    // STANDBY writes show, and the other node takes over, within the failover bound.
    c.failover_within(
        "own record overwritten (from the last replay)",
        last_replay,
        failover_bound(),
        |i| i.node == other,
    );
    c.assert_no_overlap();
}

#[test]
fn systemd_notify_ready_status_watchdog_and_stopping() {
    let mut c = Cluster::new("notify", &["n1"], "");
    let sock_path = c.dir.join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let path = sock_path.to_str().unwrap().to_string();
    c.start_with(
        "n1",
        &[("NOTIFY_SOCKET", &path), ("WATCHDOG_USEC", "400000")],
    );
    let mut got: Vec<String> = Vec::new();
    let mut buf = [0u8; 512];
    let until = Instant::now() + ms(D + 3000);
    while Instant::now() < until
        && !(got.iter().any(|m| m.starts_with("STATUS=active"))
            && got.iter().filter(|m| *m == "WATCHDOG=1").count() >= 3)
    {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    assert_eq!(got.first().map(String::as_str), Some("READY=1"), "{got:?}");
    assert!(
        got.iter().any(|m| m.starts_with("STATUS=active")),
        "{got:?}"
    );
    assert!(
        got.iter().filter(|m| *m == "WATCHDOG=1").count() >= 3,
        "{got:?}"
    );
    signal(c.pid("n1"), libc::SIGTERM);
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until && !got.iter().any(|m| m == "STOPPING=1") {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    assert!(got.iter().any(|m| m == "STOPPING=1"), "{got:?}");
}

/// `HAMON_HB_STARTS=50 cargo test --test heartbeat_daemon repeatedly` for the long run.
#[test]
fn three_nodes_started_at_once_repeatedly_run_one_application() {
    let rounds: usize = std::env::var("HAMON_HB_STARTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for round in 0..rounds {
        let mut c = Cluster::new("simultaneous", &["n1", "n2", "n3"], "");
        for n in ["n1", "n2", "n3"] {
            c.start(n);
        }
        let first = c.wait_running_on(|_| true, ms(D + 3000));
        c.watch(ms(D), Some(first.pid), &format!("round {round}"));
        assert_eq!(c.instances().len(), 1, "round {round}: {:?}", c.instances());
        c.assert_no_overlap();
    }
}

#[test]
fn a_short_pause_of_the_active_daemon_changes_nothing() {
    let mut c = Cluster::new("shortstop", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let pid = c.pid(&first.node);
    // Paused well inside the renew deadline: the lease survives, nobody takes over. The
    // pause's length is the fault itself, hence a sleep.
    signal(pid, libc::SIGSTOP);
    assert!(wait_until(ms(F1), || pid_stopped(pid)), "not paused");
    std::thread::sleep(ms(F1 / 3));
    signal(pid, libc::SIGCONT);
    c.assert_no_failover(first.pid, "after a short pause of the active");
    c.assert_no_overlap();
}

#[test]
fn a_paused_standby_does_not_take_over_when_it_resumes() {
    let mut c = Cluster::new("standbystop", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let standby = other_of(&first.node);
    let pid = c.pid(standby);
    // Paused longer than the takeover time (the pause is the fault, hence a sleep): on resume
    // its last observations are old, but a fresh read shows the active's record still
    // changing.
    signal(pid, libc::SIGSTOP);
    assert!(wait_until(ms(F1), || pid_stopped(pid)), "not paused");
    std::thread::sleep(ms(2 * D));
    signal(pid, libc::SIGCONT);
    c.assert_no_failover(first.pid, "the paused standby resumed");
    c.assert_no_overlap();
}

/// Every command refuses a bad setting with an error that names the key: exit 2 when the
/// file itself is wrong (3 for `status`, as a Nagios-style check reads it: UNKNOWN), 1 when
/// a setting cannot be used (a path that is not there).
#[test]
fn every_bad_setting_is_refused_naming_its_key() {
    let cases: &[(&str, &str, i32, &str)] = &[
        (
            "status",
            "hb.period_ms=abc",
            3,
            "hb.period_ms: bad value \"abc\"",
        ),
        ("status", "hb.bogus=1", 3, "hb.bogus: unknown key"),
        (
            "status",
            "hb.nodes=a,b",
            3,
            "hb.node=n1 is not one of hb.nodes=a,b",
        ),
        (
            "status",
            "hb.takeover_ms=1000",
            3,
            "raise hb.takeover_ms above",
        ),
        (
            "status",
            "hb.renew_deadline_ms=300",
            3,
            "hb.renew_deadline_ms 300 must be",
        ),
        (
            "status",
            "hb.confirm_ms=300",
            3,
            "hb.confirm_ms 300 + 4 x hb.io_timeout_ms",
        ),
        ("run", "hb.start_cmd=", 2, "hb.start_cmd: bad value \"\""),
        (
            "init",
            "hb.dir=/nonexistent/hamon",
            1,
            "hb.dir /nonexistent/hamon: cannot create",
        ),
        (
            "run",
            "hb.state_dir=/proc/hamon",
            1,
            "hb.state_dir /proc/hamon: ",
        ),
        (
            "run",
            "hb.app_log=/nonexistent/hamon/app.log",
            1,
            "hb.app_log /nonexistent/hamon/app.log: ",
        ),
    ];
    for (i, (command, setting, code, message)) in cases.iter().enumerate() {
        let mut c = Cluster::new(&format!("badconf{i}"), &["n1", "n2"], "");
        c.add_conf("n1", &format!("{setting}\n"));
        let (status, out) = if *command == "run" {
            // Through the harness, so a daemon that wrongly keeps running is cleaned up.
            c.start("n1");
            let child = c.daemons[0].as_mut().unwrap();
            let mut status = None;
            let exited = wait_until(ms(D), || {
                status = child.try_wait().unwrap();
                status.is_some()
            });
            assert!(exited, "{setting}: run kept going\n{}", c.logs());
            (status.unwrap(), c.log("n1"))
        } else {
            c.cli("n1", &[command])
        };
        assert_eq!(
            status.code(),
            Some(*code),
            "{command} with {setting}:\n{out}"
        );
        assert!(out.contains(message), "{command} with {setting}:\n{out}");
    }
}

/// A daemon killed with -9 while active and restarted at once claims nothing for a full lease
/// and kill budget (F1 + K): its earlier run's lease, and application, may not be over yet.
#[test]
fn a_restarted_daemon_that_was_active_waits_a_full_lease_before_it_claims() {
    let mut c = Cluster::new("rewait", &["n1", "n2"], "");
    c.start("n1");
    let first = c.wait_running_on(|i| i.node == "n1", ms(D + 3000));
    c.kill9("n1");
    assert!(
        wait_until(FAST.fence_bound(), || !pid_alive(first.pid)),
        "{}",
        c.logs()
    );
    let t_restart = mono_ns();
    c.start("n1");
    let second = c.wait_running_on(|i| i.pid != first.pid, ms(F1 + K + D + 3000));
    let after = Duration::from_nanos(second.start.saturating_sub(t_restart));
    assert!(
        after >= FAST.fence_bound(),
        "the restarted daemon started an application {} ms after its start, inside F1 + K\n{}",
        after.as_millis(),
        c.logs()
    );
    assert!(c.log("n1").contains("may have been active"), "{}", c.logs());
    c.assert_no_overlap();
}

/// The guard killed and its program taken away, so that no new guard can be started: the
/// active hands its application over at once rather than run it unguarded, and claims
/// nothing afterwards, not even when the other node dies.
#[test]
fn a_node_that_cannot_start_its_guard_hands_over_and_claims_nothing() {
    let mut c = Cluster::new("noguard", &["n1", "n2"], "");
    let copy = c.start_from_copy("n1");
    let first = c.wait_running_on(|i| i.node == "n1", ms(D + 3000));
    c.start("n2");
    c.watch(ms(D), Some(first.pid), "n2 joined");
    fs::remove_file(&copy).unwrap();
    let guard = c
        .guard_pid("n1")
        .unwrap_or_else(|| panic!("no guard\n{}", c.logs()));
    let t_guard = mono_ns();
    signal(guard, libc::SIGKILL);
    // Noticed within a loop turn, stopped within K, then a takeover as after a death.
    let second = c.failover_within(
        "the guard is gone for good",
        t_guard,
        crash_detection() + FAST.kill_budget + failover_bound(),
        |i| i.node == "n2",
    );
    assert!(!pid_alive(first.pid), "{}", c.logs());
    c.watch(ms(2 * P), Some(second.pid), "n2 took over");
    assert!(
        c.log("n1").contains("cannot start the guard"),
        "{}",
        c.logs()
    );
    let t_kill = mono_ns();
    c.kill9("n2");
    let (cpu_before, t_before) = (cpu_time(c.pid("n1")), Instant::now());
    c.assert_no_takeover_since(t_kill, "n1 has no guard");
    // Held, it looks again every half period: it does not spin.
    let (cpu, wall) = (cpu_time(c.pid("n1")) - cpu_before, t_before.elapsed());
    assert!(
        cpu < wall / 20,
        "a held daemon used {cpu:?} of CPU in {wall:?}\n{}",
        c.logs()
    );
    c.assert_no_overlap();
}

/// User and system CPU time of process `pid` so far.
fn cpu_time(pid: i32) -> Duration {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<u64> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|v| v.parse().unwrap())
        .collect();
    // SAFETY: plain sysconf.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis((f[0] + f[1]) * 1000 / hz)
}

/// A member of the application's process group that SIGKILL cannot remove, as one stuck in
/// uninterruptible sleep would be: a zombie whose parent lives outside the group (in its own
/// group of the same session) and never reaps it. The parent writes its pid to `argv[1]`.
const UNDYING_C: &str = r#"
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    pid_t group = getpgrp();
    if (argc < 2) return 2;
    if (fork() == 0) {
        setpgid(0, 0);
        if (fork() == 0) {
            setpgid(0, group);
            _exit(0);
        }
        FILE *f = fopen(argv[1], "w");
        if (!f) return 1;
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
        for (;;) pause();
    }
    for (;;) pause();
}
"#;

/// An application whose process group SIGKILL cannot empty: its daemon never counts it gone,
/// so the node stays STOPPING (never RELEASED) and nobody takes over; the watchdog device is
/// no longer petted once the application's lease deadline passed. Once the group is empty the
/// node releases and the other one takes over.
#[test]
fn an_application_sigkill_cannot_end_keeps_the_node_stopping_and_the_watchdog_unpetted() {
    use hamon::heartbeat::record::{NodeRecord, NodeState};
    let mut c = Cluster::new("undying", &["n1", "n2"], "");
    let src = c.dir.join("undying.c");
    let exe = c.dir.join("undying");
    fs::write(&src, UNDYING_C).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let out = Command::new(&cc)
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(out.status.success(), "{cc}: {out:?}");
    let holder = c.dir.join("holder.pid");
    let device = c.dir.join("watchdog-n1");
    fs::write(&device, b"").unwrap();
    let conf = fs::read_to_string(c.conf("n1")).unwrap().replace(
        "hb.start_cmd=exec /bin/sh",
        &format!(
            "hb.start_cmd={} {} & exec /bin/sh",
            exe.display(),
            holder.display()
        ),
    );
    fs::write(c.conf("n1"), conf).unwrap();
    c.add_conf("n1", &format!("hb.watchdog_device={}\n", device.display()));
    c.start("n1");
    let first = c.wait_running_on(|i| i.node == "n1", ms(D + 3000));
    c.start("n2");
    c.watch(ms(D), Some(first.pid), "n2 joined");
    let holder_pid: i32 = fs::read_to_string(&holder).unwrap().trim().parse().unwrap();
    let t_kill = mono_ns();
    signal(-first.pid, libc::SIGKILL);
    assert!(
        wait_until(FAST.kill_budget + FAST.loop_turn() * 4, || c
            .log("n1")
            .contains("after SIGKILL")),
        "{}",
        c.logs()
    );
    // The application's lease deadline came at most F1 after the kill: no pet after that.
    std::thread::sleep(FAST.fence_bound());
    let pets = fs::metadata(&device).unwrap().len();
    c.assert_no_takeover_since(t_kill, "n1's application group cannot be emptied");
    assert_eq!(
        fs::metadata(&device).unwrap().len(),
        pets,
        "n1 petted its watchdog beside an application past its lease\n{}",
        c.logs()
    );
    let rec = NodeRecord::decode(&fs::read(c.record("n1")).unwrap(), "hamon").unwrap();
    assert_eq!(rec.state, NodeState::Stopping, "{}", c.logs());
    // The zombie's parent goes: the daemon (the subreaper) reaps the zombie, the group is
    // empty, n1 releases and n2 takes over.
    let t_gone = mono_ns();
    signal(holder_pid, libc::SIGKILL);
    c.failover_within(
        "the application's group emptied",
        t_gone,
        FAST.loop_turn() + failover_bound(),
        |i| i.node == "n2",
    );
    assert!(
        wait_until(FAST.loop_turn() * 4, || fs::metadata(&device)
            .unwrap()
            .len()
            > pets),
        "no pets once the group was empty\n{}",
        c.logs()
    );
    c.assert_no_overlap();
}
