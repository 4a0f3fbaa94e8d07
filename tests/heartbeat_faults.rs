//! Process-level faults for `ha-heartbeat`, beyond tests/heartbeat_daemon.rs (the harness
//! is tests/common/cluster.rs): peer records deleted and truncated, an HA port that stops
//! answering, a daemon whose wall clock is hours off (Debian's `faketime`), a peer record or
//! the whole shared directory unreadable for one daemon (an unprivileged user; needs root),
//! and many simultaneous starts of two nodes. Every failover is timed from the fault against the bound of
//! docs/heartbeat.md; where none may happen, none does for as long as one would take.
//!
//! Linux only; needs /bin/sh and /proc/uptime.

#![cfg(target_os = "linux")]

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common;

use common::cluster::*;

/// Scenario 1: the standby's record deleted, then truncated, while n1 is active. A missing
/// or unreadable record is never "dead": the active keeps its application, the standby whose
/// file is gone does not take over, and after `ha-heartbeat init` the cluster fails over
/// normally again.
#[test]
fn a_deleted_or_truncated_standby_record_causes_no_takeover() {
    let mut c = Cluster::new("rmrec", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|i| i.node == "n1", ms(D + 3000));
    // Let n2 watch n1 for a full window first.
    c.watch(ms(D), Some(first.pid), "settled");

    fs::remove_file(c.record("n2")).unwrap();
    c.assert_no_failover(first.pid, "n2's record deleted");
    assert!(
        !c.record("n2").exists(),
        "a node must never create its record on the fly"
    );

    // Restore: init recreates the missing file and leaves n1's alone.
    let (st, out) = c.cli("n1", &["init"]);
    assert!(st.success(), "init: {out}");
    assert!(c.record("n2").is_file());

    // Truncated to 100 bytes: unreadable for n1 until n2 rewrites the whole block.
    let f = fs::OpenOptions::new()
        .write(true)
        .open(c.record("n2"))
        .unwrap();
    f.set_len(100).unwrap();
    drop(f);
    c.assert_no_failover(first.pid, "n2's record truncated");
    // n2 writes its record whole again, every period.
    assert!(
        wait_until(FAST.loop_turn() * 2, || fs::metadata(c.record("n2"))
            .is_ok_and(|m| m.len() == 4096)),
        "n2 did not rewrite its record\n{}",
        c.logs()
    );

    // Normal operation: status sees both, and kill -9 of n1 fails over to n2.
    let (st, out) = c.cli("n2", &["status", "--watch"]);
    assert_eq!(st.code(), Some(0), "{out}");
    assert!(out.contains("ACTIVE") && out.contains("STANDBY"), "{out}");
    let t_kill = mono_ns();
    c.kill9("n1");
    let second = c.failover_within(
        "kill -9 after the record was restored",
        t_kill,
        failover_bound(),
        |i| i.node == "n2",
    );
    assert!(second.epoch > first.epoch, "{second:?}");
    c.assert_no_overlap();
}

/// Scenario 2: the active's HA port stops answering (accepts, never replies): after
/// hb.app_probe_fail failed probes the daemon hands over and the other node takes over.
#[test]
fn a_hung_ha_port_is_handed_over_after_the_failed_probes() {
    let (c, ports) = Cluster::started_on_fake_ha_ports("hang");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    let bad = c.idx(&first.node);
    let other = other_of(&first.node);
    // Healthy and answered at least twice (one probe per period).
    assert!(
        wait_until(FAST.loop_turn() * 4, || ports[bad].answered() >= 2),
        "the daemon never probed the HA port\n{}",
        c.logs()
    );
    c.watch(ms(5 * P), Some(first.pid), "healthy");
    let t_hang = mono_ns();
    ports[bad].set(HaAnswer::Hang);
    // Three probes time out, the application is stopped (K), then the takeover takes at most
    // what it takes after a death.
    let second = c.failover_within(
        "hung HA port",
        t_hang,
        probe_detection(3) + FAST.kill_budget + failover_bound(),
        |i| i.node == other,
    );
    assert!(!pid_alive(first.pid), "{}", c.logs());
    assert!(second.epoch > first.epoch, "{second:?}");
    let incidents = fs::read_to_string(c.dir.join("incidents")).unwrap_or_default();
    assert!(
        incidents.contains("unhealthy"),
        "{incidents:?}\n{}",
        c.logs()
    );
    // The new active's port answers: it stays.
    c.assert_no_failover(second.pid, "after the hand-over");
    c.assert_no_overlap();
}

/// Scenario 3: one daemon's wall clock is five hours ahead (Debian's `faketime`). Liveness is
/// judged on each node's own monotonic clock by changing bytes, so failover works both ways,
/// in the usual time, and nothing overlaps.
#[test]
fn a_wall_clock_hours_off_changes_nothing() {
    let have = Command::new("sh")
        .args(["-c", "command -v faketime"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        have,
        "this test needs faketime: install Debian's faketime package \
         (apt-get install faketime; scripts/test installs it)"
    );
    let _shm = FaketimeLeftovers;
    let mut c = Cluster::new("clock", &["n1", "n2"], "");
    // The application logs for the checker without libfaketime.
    let conf = fs::read_to_string(c.conf("n2")).unwrap().replace(
        "hb.start_cmd=exec /bin/sh",
        "hb.start_cmd=exec env -u LD_PRELOAD -u FAKETIME /bin/sh",
    );
    fs::write(c.conf("n2"), conf).unwrap();
    // The `faketime` wrapper forks and waits; preload its library into the daemon itself so
    // that kill -9 hits the daemon.
    let lib = fs::read_dir("/usr/lib")
        .unwrap()
        .flatten()
        .map(|e| e.path().join("faketime/libfaketime.so.1"))
        .chain([PathBuf::from("/usr/lib/faketime/libfaketime.so.1")])
        .find(|p| p.is_file())
        .expect("faketime is installed but libfaketime.so.1 was not found");
    let lib = lib.to_str().unwrap().to_string();
    // Only the wall clock: with CLOCK_MONOTONIC faked too, futex waits with absolute
    // monotonic deadlines (Rust's Condvar and sleeps) go straight to the kernel and would
    // wait five hours (a libfaketime artefact, not a daemon bug).
    let faked = [
        ("LD_PRELOAD", lib.as_str()),
        ("FAKETIME", "+5h"),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
    ];
    // The faked clock really is five hours ahead.
    let wall = |env: &[(&str, &str)]| -> i64 {
        let out = Command::new("date")
            .arg("+%s")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    let skew = wall(&faked) - wall(&[]);
    assert!(
        (5 * 3600 - 60..5 * 3600 + 60).contains(&skew),
        "skew {skew} s"
    );
    c.start("n1");
    c.start_with("n2", &faked);
    let first = c.wait_running_on(|i| i.node == "n1", ms(D + 3000));
    c.watch(ms(D), Some(first.pid), "n1 active");

    // n1 -> n2
    let t_kill = mono_ns();
    c.kill9("n1");
    let second = c.failover_within("failover to the +5h node", t_kill, failover_bound(), |i| {
        i.node == "n2"
    });
    assert!(second.epoch > first.epoch);

    // n1 back as standby, then n2 -> n1.
    c.start("n1");
    c.watch(ms(D), Some(second.pid), "n1 rejoined");
    let t_kill = mono_ns();
    c.kill9("n2");
    let third = c.failover_within(
        "failover from the +5h node",
        t_kill,
        failover_bound(),
        |i| i.node == "n1",
    );
    assert!(third.epoch > second.epoch);
    c.assert_no_failover(third.pid, "n1 active again");
    c.assert_no_overlap();
}

/// libfaketime keeps a shared-memory segment and a semaphore per process in /dev/shm and
/// removes them at a normal exit only: those of the processes this test killed with -9 are
/// removed when it ends (only those whose process is gone, so no other user's).
struct FaketimeLeftovers;

impl Drop for FaketimeLeftovers {
    fn drop(&mut self) {
        let Ok(entries) = fs::read_dir("/dev/shm") else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix("faketime_shm_")
                .or_else(|| name.strip_prefix("sem.faketime_sem_"));
            if let Some(pid) = pid.filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
                && !PathBuf::from(format!("/proc/{pid}")).exists()
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

const NOBODY: u32 = 65534;

/// n1 runs as root and becomes active; then `hide` takes something away from `nobody`, and
/// n2's daemon starts as `nobody` with what it needs otherwise (its record, its state dir,
/// the application's log dir, the incidents file). None, after saying so, without root.
fn with_an_unprivileged_standby(
    label: &str,
    hide: impl Fn(&Cluster),
) -> Option<(Cluster, Instance)> {
    // SAFETY: plain syscall.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED {label}: needs root to run a daemon as another user");
        return None;
    }
    let mut c = Cluster::new(label, &["n1", "n2"], "");
    let chown = |p: &std::path::Path| std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY));
    chown(&c.record("n2")).unwrap();
    let state = c.dir.join("state-n2");
    fs::create_dir_all(&state).unwrap();
    chown(&state).unwrap();
    chown(&c.dir.join("iv")).unwrap();
    fs::write(c.dir.join("incidents"), "").unwrap();
    chown(&c.dir.join("incidents")).unwrap();
    c.start("n1");
    let first = c.wait_running_on(|i| i.node == "n1", ms(D + 3000));
    hide(&c);
    c.start_as("n2", &[], Some(NOBODY));
    Some((c, first))
}

fn chmod(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Scenario 4: n2's daemon runs as `nobody` and cannot read n1's record (mode 0600, owned by
/// root). Unreadable is never dead: when n1 is killed with -9 nobody takes over; once the
/// permissions are fixed, n2 takes over as after a death.
#[test]
fn an_unreadable_peer_record_is_never_dead() {
    let hide = |c: &Cluster| chmod(&c.record("n1"), 0o600);
    let Some((mut c, first)) = with_an_unprivileged_standby("perm", hide) else {
        return;
    };
    // n2 runs and keeps writing its own record, but cannot see n1.
    let before = fs::read(c.record("n2")).unwrap();
    c.watch(ms(D), Some(first.pid), "n2 blind");
    assert!(
        c.daemons[1].as_mut().unwrap().try_wait().unwrap().is_none(),
        "n2's daemon exited\n{}",
        c.logs()
    );
    assert_ne!(
        fs::read(c.record("n2")).unwrap(),
        before,
        "n2 does not write its record\n{}",
        c.logs()
    );
    let record = c.record("n1");
    stays_dead_until_readable(&mut c, &first, || chmod(&record, 0o644));
}

/// Scenario 4b: the whole shared directory unreadable for n2 (mode 0700, owned by root):
/// n2 can neither read nor write there, and never takes over until it can.
#[test]
fn an_unreadable_shared_directory_is_never_dead() {
    let hide = |c: &Cluster| chmod(&c.dir.join("shared"), 0o700);
    let Some((mut c, first)) = with_an_unprivileged_standby("permdir", hide) else {
        return;
    };
    c.watch(ms(D), Some(first.pid), "n2 shut out");
    assert!(
        c.daemons[1].as_mut().unwrap().try_wait().unwrap().is_none(),
        "n2's daemon exited\n{}",
        c.logs()
    );
    let shared = c.dir.join("shared");
    stays_dead_until_readable(&mut c, &first, || chmod(&shared, 0o755));
}

/// n1 is killed with -9: for as long as a failover would take nobody takes over; then
/// `restore` makes n1's record readable for n2, which first sees it then, finds it unchanged
/// for D and takes over within the failover bound.
fn stays_dead_until_readable(c: &mut Cluster, first: &Instance, restore: impl Fn()) {
    let t_kill = mono_ns();
    c.kill9("n1");
    assert!(
        wait_until(FAST.fence_bound(), || !pid_alive(first.pid)),
        "{}",
        c.logs()
    );
    c.assert_no_takeover_since(t_kill, "n2 cannot read n1's record");
    let t_readable = mono_ns();
    restore();
    let second = c.failover_within(
        "takeover after the record became readable",
        t_readable,
        failover_bound(),
        |i| i.node == "n2",
    );
    assert!(second.epoch > first.epoch, "{second:?}");
    c.assert_no_overlap();
}

/// Scenario 5: two nodes (no preferred node) started at the same moment, 50 times
/// (`HAMON_HB_FAULT_STARTS` changes the count): exactly one application comes up each time,
/// no second one follows, the records say exactly one node is active, and nothing overlaps.
///
/// A round is mostly waiting on timers (the cold-start back-off, claim, confirm, and the
/// observation window below), so rounds run as independent clusters, each in its own
/// directory with its own daemons, several at a time.
#[test]
fn two_nodes_started_together_repeatedly_run_one_application() {
    const AT_ONCE: usize = 5;
    let rounds: usize = std::env::var("HAMON_HB_FAULT_STARTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let t0 = Instant::now();
    for batch in (0..rounds).step_by(AT_ONCE) {
        std::thread::scope(|s| {
            for round in batch..(batch + AT_ONCE).min(rounds) {
                s.spawn(move || start_two_nodes_at_once(round));
            }
        });
    }
    eprintln!("{rounds} simultaneous starts in {:?}", t0.elapsed());
}

fn start_two_nodes_at_once(round: usize) {
    let what = format!("round {round}");
    let mut c = Cluster::new("twostart", &["n1", "n2"], "hb.preferred=false\n");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, ms(D + 3000));
    // A claim that raced the winner's had read the winner's record before the winner's claim
    // write completed, so it began at most one tick (T_io) after the winner's application
    // started, and it ends within its own lease F1: an application of such a claim would be
    // up within F1 + T_io + S of the winner's start. Any later claim needs the winner's
    // record unchanged for D.
    let window = FAST.renew_deadline + FAST.io_timeout + ms(APP_START_MS);
    let watched = Duration::from_nanos(mono_ns().saturating_sub(first.start));
    c.watch(window.saturating_sub(watched), Some(first.pid), &what);
    assert_eq!(c.instances().len(), 1, "{what}: {:?}", c.instances());
    let (st, out) = c.cli("n1", &["status", "--watch"]);
    assert_eq!(
        st.code(),
        Some(0),
        "{what}: exactly one node active:\n{out}"
    );
    c.assert_no_overlap();
}

/// Scenario 6: a process group left by an earlier run of n2 that SIGKILL cannot end (n2's
/// daemon runs as `nobody`, the group as root: as unkillable for it as a group stuck in
/// uninterruptible sleep). n2 says so, claims nothing while the group exists, not even when
/// n1 dies, and does not pet its watchdog device; once the group is gone it takes over within
/// the failover bound and pets again.
#[test]
fn a_stray_group_that_survives_sigkill_keeps_the_node_out_and_the_watchdog_unpetted() {
    let stray = std::cell::RefCell::new(None);
    let device = std::cell::RefCell::new(PathBuf::new());
    let hide = |c: &Cluster| {
        use std::os::unix::process::CommandExt;
        let child = Command::new("/bin/sh")
            .args(["-c", "sleep 600 & wait"])
            .env(TAG, &c.dir)
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id() as i32;
        let stat = fs::read_to_string(format!("/proc/{pgid}/stat")).unwrap();
        let start: u64 = stat[stat.rfind(')').unwrap() + 1..]
            .split_whitespace()
            .nth(19)
            .unwrap()
            .parse()
            .unwrap();
        fs::write(
            c.dir.join("state-n2").join("app.pgid"),
            format!("{pgid} {start}\n"),
        )
        .unwrap();
        *stray.borrow_mut() = Some(child);
        let wd = c.dir.join("watchdog-n2");
        fs::write(&wd, b"").unwrap();
        std::os::unix::fs::chown(&wd, Some(NOBODY), Some(NOBODY)).unwrap();
        c.add_conf("n2", &format!("hb.watchdog_device={}\n", wd.display()));
        *device.borrow_mut() = wd;
    };
    let Some((mut c, first)) = with_an_unprivileged_standby("unkillable", hide) else {
        return;
    };
    let mut stray = stray.into_inner().unwrap();
    let device = device.into_inner();
    let pets = || fs::metadata(&device).unwrap().len();
    assert!(
        wait_until(FAST.kill_budget + FAST.loop_turn() * 4, || c
            .log("n2")
            .contains("survives SIGKILL")),
        "{}",
        c.logs()
    );
    let t_kill = mono_ns();
    c.kill9("n1");
    assert!(
        wait_until(FAST.fence_bound(), || !pid_alive(first.pid)),
        "{}",
        c.logs()
    );
    c.assert_no_takeover_since(t_kill, "a stray group of n2 survives");
    assert_eq!(pets(), 0, "n2 petted its watchdog beside a surviving stray");
    let t_gone = mono_ns();
    let _ = stray.kill();
    let _ = stray.wait();
    // SAFETY: plain syscall: the rest of the stray group (its sleep).
    unsafe {
        libc::kill(-(stray.id() as i32), libc::SIGKILL);
    }
    let second = c.failover_within(
        "takeover once the stray group is gone",
        t_gone,
        FAST.loop_turn() + failover_bound(),
        |i| i.node == "n2",
    );
    assert!(second.epoch > first.epoch, "{second:?}");
    assert!(pets() > 0, "no pets once the stray was gone\n{}", c.logs());
    c.assert_no_overlap();
}
