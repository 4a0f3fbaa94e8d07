//! `ha-heartbeat` as operators run it: real daemons (one per node) on one machine over a
//! temp directory, with a tiny shell application that logs its own lifetime, so an
//! independent checker can prove that no two instances ever ran at the same time.
//!
//! Unix only; needs /bin/sh and `date +%s%N` (GNU or busybox).

#![cfg(target_os = "linux")]

use std::fs;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

mod common;

use common::cluster::*;

#[test]
fn two_daemons_started_at_once_run_exactly_one_application() {
    let mut c = Cluster::new("pair", &["n1", "n2"], "");
    let (st, out) = c.cli("n1", &["status"]);
    assert_eq!(st.code(), Some(1), "nobody active yet:\n{out}");
    c.start("n1");
    c.start("n2");
    c.wait_running_on(|_| true, Duration::from_millis(D + 3000));
    // Watch for three takeover times: always exactly one.
    let until = Instant::now() + Duration::from_millis(3 * D);
    while Instant::now() < until {
        let r = c.running();
        assert!(r.len() <= 1, "two running: {r:?}\n{}", c.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(c.instances().len(), 1, "{:?}", c.instances());
    let (st, out) = c.cli("n2", &["status"]);
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
        let found = wait_until(Duration::from_millis(D + 3000), || !c.running().is_empty());
        assert!(found, "round {round}: nobody became active\n{}", c.logs());
        c.assert_no_overlap();
    }
}

#[test]
fn kill9_of_the_active_daemon_kills_its_app_and_the_other_takes_over_in_time() {
    let mut c = Cluster::new("kill9", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_millis(D + 3000));
    let other = if first.node == "n1" { "n2" } else { "n1" };
    let t_kill = now_ns();
    c.kill9(&first.node.clone());
    // PDEATHSIG (or the guard, when the pipe closes) ends the orphaned application at once.
    assert!(
        wait_until(Duration::from_millis(1000), || !pid_alive(first.pid)),
        "the application outlived its daemon\n{}",
        c.logs()
    );
    let second = c.wait_running_on(
        |i| i.node == other,
        Duration::from_millis(FAILOVER_BOUND_MS + MARGIN_MS + 1000),
    );
    let failover_ms = (second.start - t_kill) / 1_000_000;
    eprintln!("failover after kill -9: {failover_ms} ms (bound {FAILOVER_BOUND_MS} ms + start)");
    assert!(
        failover_ms <= FAILOVER_BOUND_MS + MARGIN_MS,
        "failover took {failover_ms} ms\n{}",
        c.logs()
    );
    assert!(second.epoch > first.epoch);
    c.assert_no_overlap();
}

#[test]
fn a_paused_active_daemon_is_fenced_by_its_guard_and_stays_standby_after_resume() {
    let mut c = Cluster::new("stop", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_millis(D + 3000));
    let node = first.node.clone();
    let other = if node == "n1" { "n2" } else { "n1" };
    let pid = c.pid(&node);
    signal(pid, libc::SIGSTOP);
    // The lease ends at most F1 after the last write: the guard kills the application.
    assert!(
        wait_until(Duration::from_millis(F1 + 700), || !pid_alive(first.pid)),
        "the guard did not kill the application of the paused daemon\n{}",
        c.logs()
    );
    let second = c.wait_running_on(
        |i| i.node == other,
        Duration::from_millis(FAILOVER_BOUND_MS + MARGIN_MS + 1000),
    );
    signal(pid, libc::SIGCONT);
    // The resumed daemon finds its lease gone and stays out.
    std::thread::sleep(Duration::from_millis(2 * D));
    let running = c.running();
    assert_eq!(running.len(), 1, "{running:?}\n{}", c.logs());
    assert_eq!(running[0].pid, second.pid);
    assert!(c.log(&node).contains("guard"), "{}", c.log(&node));
    let (st, out) = c.cli(&node, &["status"]);
    assert_eq!(st.code(), Some(0), "{out}");
    c.assert_no_overlap();
}

#[test]
fn a_crashed_application_is_reported_and_a_new_term_starts() {
    let mut c = Cluster::new("crash", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_millis(D + 3000));
    signal(-first.pid, libc::SIGKILL);
    let second = c.wait_running_on(
        |i| i.pid != first.pid,
        Duration::from_millis(FAILOVER_BOUND_MS + MARGIN_MS + 1000),
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
    let first = c.wait_running_on(|_| true, Duration::from_millis(D + 3000));
    std::thread::sleep(Duration::from_millis(D));
    let other = if first.node == "n1" { "n2" } else { "n1" };
    signal(-first.pid, libc::SIGKILL);
    c.wait_running_on(
        |i| i.node == other,
        Duration::from_millis(FAILOVER_BOUND_MS + MARGIN_MS + 1000),
    );
    c.assert_no_overlap();
}

#[test]
fn restart_limit_restarts_locally_first() {
    let mut c = Cluster::new("restart", &["n1", "n2"], "hb.restart_limit=1\n");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_millis(D + 3000));
    signal(-first.pid, libc::SIGKILL);
    let again = c.wait_running_on(|i| i.pid != first.pid, Duration::from_millis(3000));
    assert_eq!(again.node, first.node, "restarted locally\n{}", c.logs());
    assert_eq!(again.epoch, first.epoch);
    signal(-again.pid, libc::SIGKILL);
    // The limit is used up: the node releases and a new term starts. Which node wins is not
    // asserted: the failed node should back off D, but the core currently lets it claim
    // again after its ordinary back-off (see the report of the daemon work).
    let third = c.wait_running_on(
        |i| i.pid != again.pid && i.pid != first.pid,
        Duration::from_millis(FAILOVER_BOUND_MS + MARGIN_MS + 1000),
    );
    assert!(third.epoch > first.epoch, "{third:?}\n{}", c.logs());
    assert!(c.log(&first.node).contains("handing over"), "{}", c.logs());
    c.assert_no_overlap();
}

#[test]
fn freeze_blocks_takeover_until_maintenance_off() {
    let mut c = Cluster::new("freeze", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_millis(D + 3000));
    let other = if first.node == "n1" { "n2" } else { "n1" };
    let (st, out) = c.cli(other, &["maintenance", "on"]);
    assert!(st.success(), "{out}");
    assert!(out.contains("FREEZE"), "{out}");
    std::thread::sleep(Duration::from_millis(3 * P));
    c.kill9(&first.node.clone());
    std::thread::sleep(Duration::from_millis(2 * D + 1000));
    assert!(
        c.running().is_empty(),
        "took over while frozen\n{}",
        c.logs()
    );
    let (st, out) = c.cli(other, &["status"]);
    assert_eq!(st.code(), Some(1), "nobody is active:\n{out}");
    assert!(out.contains("FREEZE"), "{out}");
    let t_off = now_ns();
    let (st, out) = c.cli(other, &["maintenance", "off"]);
    assert!(st.success(), "{out}");
    let second = c.wait_running_on(
        |i| i.node == other,
        Duration::from_millis(FAILOVER_BOUND_MS + MARGIN_MS + 1000),
    );
    eprintln!(
        "takeover after maintenance off: {} ms",
        (second.start - t_off) / 1_000_000
    );
    c.assert_no_overlap();
}

#[test]
fn sigterm_releases_and_the_other_node_takes_over() {
    let mut c = Cluster::new("term", &["n1", "n2"], "");
    for n in ["n1", "n2"] {
        let mut conf = fs::read_to_string(c.conf(n)).unwrap();
        conf.push_str(&format!(
            "hb.log_file={}\n",
            c.dir.join(format!("{n}.hblog")).display()
        ));
        fs::write(c.conf(n), conf).unwrap();
    }
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_millis(D + 3000));
    let node = first.node.clone();
    let other = if node == "n1" { "n2" } else { "n1" };
    signal(c.pid(&node), libc::SIGTERM);
    let i = c.idx(&node);
    let mut child = c.daemons[i].take().unwrap();
    let mut status = None;
    assert!(wait_until(Duration::from_secs(5), || {
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
    c.wait_running_on(
        |i| i.node == other,
        Duration::from_millis(FAILOVER_BOUND_MS + MARGIN_MS + 1000),
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
    let (st, out) = c.cli("n1", &["switchover"]);
    assert!(st.success() && out.contains("SWITCHOVER to n2"), "{out}");
    let (st, out) = c.cli("n2", &["switchover", "--to", "n2"]);
    assert!(st.success() && out.contains("SWITCHOVER to n2"), "{out}");
    let (st, _) = c.cli("n1", &["bogus"]);
    assert_eq!(st.code(), Some(2));
}

#[test]
fn the_overlap_checker_catches_an_overlap() {
    let c = Cluster::new("checker", &["n1", "n2"], "");
    let iv = c.dir.join("iv");
    fs::write(iv.join("n1.100"), "start n1 1 1000\nalive 5000\n").unwrap();
    fs::write(iv.join("n2.200"), "start n2 2 6000\nalive 9000\n").unwrap();
    c.assert_no_overlap();
    fs::write(iv.join("n1.300"), "start n1 3 8000\nalive 9500\n").unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.assert_no_overlap()));
    assert!(
        caught.is_err(),
        "n2 [6000, 9000] and n1 [8000, 9500] overlap"
    );
}

/// A stand-in for the application's HA monitor: answers `check` with UP or DOWN.
struct HaPort {
    port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl HaPort {
    fn start() -> HaPort {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = up.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let mut line = String::new();
                let mut r = BufReader::new(&conn);
                if r.read_line(&mut line).is_ok() {
                    let word = if flag.load(Ordering::Relaxed) {
                        "UP"
                    } else {
                        "DOWN"
                    };
                    let _ = (&conn).write_all(format!("{word}\r\n").as_bytes());
                }
            }
        });
        HaPort { port, up }
    }
}

#[test]
fn an_unhealthy_application_on_its_ha_port_is_handed_over() {
    let ports = [HaPort::start(), HaPort::start()];
    let mut c = Cluster::new("probe", &["n1", "n2"], "");
    for (i, n) in ["n1", "n2"].iter().enumerate() {
        let mut conf = fs::read_to_string(c.conf(n)).unwrap();
        conf.push_str(&format!(
            "hb.app_port={}\nhb.app_probe_fail=3\n",
            ports[i].port
        ));
        fs::write(c.conf(n), conf).unwrap();
    }
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_millis(D + 3000));
    // Healthy: it keeps running for a while.
    std::thread::sleep(Duration::from_millis(10 * P));
    assert!(c.running().iter().any(|i| i.pid == first.pid));
    let (bad, other) = if first.node == "n1" {
        (0, "n2")
    } else {
        (1, "n1")
    };
    ports[bad].up.store(false, Ordering::Relaxed);
    c.wait_running_on(
        |i| i.node == other,
        Duration::from_millis(3 * P + FAILOVER_BOUND_MS + MARGIN_MS + 1000),
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
    std::thread::sleep(Duration::from_millis(100));
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
    let first = c.wait_running_on(|_| true, Duration::from_millis(D + 3000));
    let other = if first.node == "n1" { "n2" } else { "n1" };
    // Let the target's observation window pass, as in a planned switchover.
    std::thread::sleep(Duration::from_millis(D));
    let t0 = now_ns();
    let (st, out) = c.cli(&first.node, &["switchover"]);
    assert!(st.success(), "{out}");
    let second = c.wait_running_on(
        |i| i.node == other,
        Duration::from_millis(FAILOVER_BOUND_MS + MARGIN_MS),
    );
    let ms = (second.start - t0) / 1_000_000;
    // docs/heartbeat.md: about stop time + P + 2 T_io + C + S.
    eprintln!("switchover took {ms} ms");
    assert!(
        ms <= 300 + P + 2 * T_IO + C + MARGIN_MS,
        "{ms} ms\n{}",
        c.logs()
    );
    // It stays there.
    std::thread::sleep(Duration::from_millis(D));
    let running = c.running();
    assert_eq!(running.len(), 1, "{running:?}\n{}", c.logs());
    assert_eq!(running[0].node, other);
    let (st, out) = c.cli(other, &["status"]);
    assert_eq!(st.code(), Some(0), "{out}");
    c.assert_no_overlap();
}

/// Writes `bytes` over `node`'s record in place (the way a stray writer or a broken storage
/// would), keeping the file's size.
fn scribble(c: &Cluster, node: &str, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = fs::OpenOptions::new()
        .write(true)
        .open(c.dir.join("shared").join(format!("node.{node}")))
        .unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

#[test]
fn garbage_in_the_records_never_makes_two_applications() {
    let mut c = Cluster::new("garbage", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_millis(D + 3000));
    let other = if first.node == "n1" { "n2" } else { "n1" };
    // Garbage over the standby's record, then over the active's own record, a few times.
    for round in 0..5u8 {
        scribble(&c, other, &[0xA5 ^ round; 4096]);
        std::thread::sleep(Duration::from_millis(2 * P));
        scribble(&c, &first.node, &[0x5A ^ round; 4096]);
        std::thread::sleep(Duration::from_millis(2 * P));
        assert!(c.running().len() <= 1, "{:?}\n{}", c.running(), c.logs());
    }
    // Whatever the nodes made of it, one application runs again within the failover bound.
    let until = Instant::now() + Duration::from_millis(2 * (FAILOVER_BOUND_MS + MARGIN_MS));
    while Instant::now() < until {
        assert!(c.running().len() <= 1, "{:?}\n{}", c.running(), c.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(c.running().len(), 1, "{:?}\n{}", c.instances(), c.logs());
    c.assert_no_overlap();
}

#[test]
fn a_second_writer_of_the_active_record_makes_it_stop() {
    let mut c = Cluster::new("overwrite", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_millis(D + 3000));
    std::thread::sleep(Duration::from_millis(5 * P));
    // Replay an old copy of the active's own record every half period: a rolled-back seq,
    // as a second daemon with the same hb.node would keep writing. (One single replay can
    // land between the active's read-back and its next write and go unseen.)
    let path = c.dir.join("shared").join(format!("node.{}", first.node));
    let old = fs::read(&path).unwrap();
    std::thread::sleep(Duration::from_millis(5 * P));
    assert!(
        wait_until(Duration::from_millis(F1 + 1000), || {
            scribble(&c, &first.node, &old);
            std::thread::sleep(Duration::from_millis(P / 2));
            !pid_alive(first.pid)
        }),
        "the active kept running after its record was overwritten\n{}",
        c.logs()
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
    let until = Instant::now() + Duration::from_millis(D + 3000);
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
        c.wait_running_on(|_| true, Duration::from_millis(D + 3000));
        let until = Instant::now() + Duration::from_millis(D);
        while Instant::now() < until {
            let r = c.running();
            assert!(r.len() <= 1, "round {round}: {r:?}\n{}", c.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(c.instances().len(), 1, "round {round}: {:?}", c.instances());
        c.assert_no_overlap();
    }
}

#[test]
fn a_short_pause_of_the_active_daemon_changes_nothing() {
    let mut c = Cluster::new("shortstop", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_millis(D + 3000));
    let pid = c.pid(&first.node);
    // Well inside the renew deadline: the lease survives, nobody takes over.
    signal(pid, libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(F1 / 3));
    signal(pid, libc::SIGCONT);
    std::thread::sleep(Duration::from_millis(2 * D));
    let running = c.running();
    assert_eq!(running.len(), 1, "{running:?}\n{}", c.logs());
    assert_eq!(
        running[0].pid,
        first.pid,
        "the same application keeps running\n{}",
        c.logs()
    );
    assert!(pid_alive(first.pid));
    c.assert_no_overlap();
}

#[test]
fn a_paused_standby_does_not_take_over_when_it_resumes() {
    let mut c = Cluster::new("standbystop", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_millis(D + 3000));
    let standby = if first.node == "n1" { "n2" } else { "n1" };
    let pid = c.pid(standby);
    // Longer than the takeover time: on resume its last observations are old, but a fresh
    // read shows the active's record still changing.
    signal(pid, libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(2 * D));
    signal(pid, libc::SIGCONT);
    std::thread::sleep(Duration::from_millis(2 * D));
    let running = c.running();
    assert_eq!(running.len(), 1, "{running:?}\n{}", c.logs());
    assert_eq!(running[0].pid, first.pid, "no false takeover\n{}", c.logs());
    c.assert_no_overlap();
}
