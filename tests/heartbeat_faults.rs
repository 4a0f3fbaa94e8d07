//! Process-level faults for `ha-heartbeat`, beyond tests/heartbeat_daemon.rs (whose harness
//! is copied here): peer records deleted and truncated, an HA port that stops answering, a
//! daemon whose wall clock is hours off (Debian's `faketime`), a peer record unreadable for
//! one daemon (an unprivileged user; needs root), and many simultaneous starts of two nodes.
//!
//! Unix only; needs /bin/sh and `date +%s%N` (GNU or busybox).

#![cfg(target_os = "linux")]

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_ha-heartbeat");

// The fast profile of docs/heartbeat.md.
const P: u64 = 100;
const T_IO: u64 = 150;
const F1: u64 = 800;
const D: u64 = 1500;
const C: u64 = 100;
/// Worst-case failover without the application's start time (docs/heartbeat.md).
const FAILOVER_BOUND_MS: u64 = D + 2 * P + 6 * T_IO + C;
/// For the shell application to start, for a loaded machine and a debug build.
const MARGIN_MS: u64 = 1500;
/// How often the application writes "alive": the checker's resolution.
const ALIVE_EVERY: &str = "0.02";

/// The environment tag every process of one test inherits, so Drop can find them all.
const TAG: &str = "HAMON_HB_TEST";

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: plain syscall.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// One application instance, from its own log file.
#[derive(Clone, Debug)]
struct Instance {
    node: String,
    epoch: u64,
    pid: i32,
    start: u64,
    last: u64,
}

/// A cluster of daemons over one temp directory. Drop kills (SIGCONT first) every process
/// carrying this cluster's tag in its environment, daemons, guards and applications alike,
/// and removes the directory.
struct Cluster {
    dir: PathBuf,
    nodes: Vec<String>,
    daemons: Vec<Option<Child>>,
}

impl Cluster {
    fn new(label: &str, nodes: &[&str], extra: &str) -> Cluster {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hamon-hbf-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("shared")).unwrap();
        fs::create_dir_all(dir.join("iv")).unwrap();
        let app = format!(
            "f=\"{iv}/$HB_NODE.$$\"\n\
             echo \"start $HB_NODE $HB_EPOCH $(date +%s%N)\" > \"$f\"\n\
             while :; do echo \"alive $(date +%s%N)\" >> \"$f\"; sleep {ALIVE_EVERY}; done\n",
            iv = dir.join("iv").display()
        );
        fs::write(dir.join("app.sh"), app).unwrap();
        let incident = dir.join("incidents");
        for n in nodes {
            // The first node is preferred unless the test says otherwise: with no preferred
            // node, two nodes that start together can back off in lock-step for a long time
            // (see symmetric_start_converges below).
            let preferred = if extra.contains("hb.preferred") {
                String::new()
            } else {
                format!("hb.preferred={}\n", n == &nodes[0])
            };
            let conf = format!(
                "hb.dir={shared}\nhb.node={n}\nhb.nodes={all}\nhb.state_dir={state}\n\
                 hb.period_ms={P}\nhb.io_timeout_ms={T_IO}\nhb.renew_deadline_ms={F1}\n\
                 hb.kill_budget_ms=300\nhb.takeover_ms={D}\nhb.confirm_ms={C}\n\
                 hb.start_cmd=exec /bin/sh {app}\n\
                 hb.incident_cmd=echo \"$HB_NODE $HB_EPOCH $HB_INCIDENT\" >> {incident}\n\
                 {preferred}{extra}",
                shared = dir.join("shared").display(),
                all = nodes.join(","),
                state = dir.join(format!("state-{n}")).display(),
                app = dir.join("app.sh").display(),
                incident = incident.display(),
            );
            fs::write(dir.join(format!("{n}.conf")), conf).unwrap();
        }
        let c = Cluster {
            dir,
            nodes: nodes.iter().map(|s| s.to_string()).collect(),
            daemons: nodes.iter().map(|_| None).collect(),
        };
        let out = c.cli(nodes[0], &["init"]);
        assert!(out.0.success(), "init: {}", out.1);
        c
    }

    fn conf(&self, node: &str) -> PathBuf {
        self.dir.join(format!("{node}.conf"))
    }

    fn idx(&self, node: &str) -> usize {
        self.nodes.iter().position(|n| n == node).unwrap()
    }

    /// Runs a one-shot command (`status`, `maintenance on`, ...) as `node`.
    fn cli(&self, node: &str, args: &[&str]) -> (ExitStatus, String) {
        let out = Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(self.conf(node))
            .env(TAG, &self.dir)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status, text)
    }

    fn start(&mut self, node: &str) {
        self.start_with(node, &[]);
    }

    fn start_with(&mut self, node: &str, env: &[(&str, &str)]) {
        self.start_as(node, env, None);
    }

    /// Starts `node`'s daemon, optionally as another user.
    fn start_as(&mut self, node: &str, env: &[(&str, &str)], uid: Option<u32>) {
        use std::os::unix::process::CommandExt;
        let i = self.idx(node);
        let log = fs::File::create(self.dir.join(format!("{node}.log"))).unwrap();
        let mut cmd = Command::new(BIN);
        if let Some(uid) = uid {
            cmd.uid(uid).gid(uid);
        }
        let child = cmd
            .args(["run", "--config"])
            .arg(self.conf(node))
            .env(TAG, &self.dir)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.daemons[i] = Some(child);
    }

    fn log(&self, node: &str) -> String {
        fs::read_to_string(self.dir.join(format!("{node}.log"))).unwrap_or_default()
    }

    fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("--- {n}\n{}", self.log(n)))
            .collect()
    }

    /// Every application instance so far.
    fn instances(&self) -> Vec<Instance> {
        let mut out = Vec::new();
        for e in fs::read_dir(self.dir.join("iv")).unwrap() {
            let path = e.unwrap().path();
            let text = fs::read_to_string(&path).unwrap_or_default();
            let mut lines = text.lines();
            let Some(first) = lines.next() else { continue };
            let f: Vec<&str> = first.split_whitespace().collect();
            if f.len() != 4 || f[0] != "start" {
                continue;
            }
            let start: u64 = f[3].parse().unwrap();
            let last = text
                .lines()
                .filter_map(|l| l.strip_prefix("alive "))
                .filter_map(|n| n.trim().parse::<u64>().ok())
                .max()
                .unwrap_or(start);
            let pid = path.extension().unwrap().to_str().unwrap().parse().unwrap();
            out.push(Instance {
                node: f[1].to_string(),
                epoch: f[2].parse().unwrap_or(0),
                pid,
                start,
                last,
            });
        }
        out.sort_by_key(|i| i.start);
        out
    }

    /// Instances that wrote "alive" within the last 300 ms.
    fn running(&self) -> Vec<Instance> {
        let now = now_ns();
        self.instances()
            .into_iter()
            .filter(|i| now.saturating_sub(i.last) < 300_000_000)
            .collect()
    }

    fn wait_running_on(&self, pred: impl Fn(&Instance) -> bool, timeout: Duration) -> Instance {
        let mut found = None;
        let ok = wait_until(timeout, || {
            found = self.running().into_iter().find(|i| pred(i));
            found.is_some()
        });
        assert!(ok, "no application came up\n{}", self.logs());
        found.unwrap()
    }

    /// The independent checker: no two instances' lifetimes overlap, and epochs grow.
    fn assert_no_overlap(&self) {
        let all = self.instances();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert!(
                    b.start > a.last,
                    "overlap: {a:?} and {b:?} ({} ms)\n{}",
                    (a.last - b.start) / 1_000_000,
                    self.logs()
                );
                assert!(b.epoch > a.epoch || b.node == a.node, "epochs: {a:?} {b:?}");
            }
        }
    }

    fn kill9(&mut self, node: &str) {
        let i = self.idx(node);
        if let Some(mut c) = self.daemons[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn pids_with_tag(&self) -> Vec<i32> {
        let needle = format!("{TAG}={}", self.dir.display());
        let mut out = Vec::new();
        for e in fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if let Ok(env) = fs::read(format!("/proc/{pid}/environ"))
                && env.split(|&b| b == 0).any(|kv| kv == needle.as_bytes())
            {
                out.push(pid);
            }
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for pid in self.pids_with_tag() {
            signal(pid, libc::SIGCONT);
            signal(pid, libc::SIGKILL);
        }
        for c in self.daemons.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Applications are in their own sessions; reap what is ours, wait for the rest.
        wait_until(Duration::from_secs(5), || self.pids_with_tag().is_empty());
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("kept {} for inspection", self.dir.display());
        }
    }
}

fn pid_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s[s.rfind(')').unwrap() + 1..].trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

impl Cluster {
    fn record(&self, node: &str) -> PathBuf {
        self.dir.join("shared").join(format!("node.{node}"))
    }

    fn add_conf(&self, node: &str, lines: &str) {
        let mut conf = fs::read_to_string(self.conf(node)).unwrap();
        conf.push_str(lines);
        fs::write(self.conf(node), conf).unwrap();
    }

    /// For `dur`, at most one application runs at any sample, and it is `only` if given.
    fn watch(&self, dur: Duration, only: Option<i32>, what: &str) {
        let until = Instant::now() + dur;
        while Instant::now() < until {
            let r = self.running();
            assert!(r.len() <= 1, "{what}: two running: {r:?}\n{}", self.logs());
            if let Some(pid) = only {
                assert!(
                    r.len() == 1 && r[0].pid == pid,
                    "{what}: expected only pid {pid} running, got {r:?}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn other_of(node: &str) -> &'static str {
    if node == "n1" { "n2" } else { "n1" }
}

/// Scenario 1: the standby's record deleted, then truncated, while n1 is active. A missing
/// or unreadable record is never "dead": the active keeps its application, the standby whose
/// file is gone does not take over, and after `ha-heartbeat init` the cluster fails over
/// normally again.
#[test]
fn a_deleted_or_truncated_standby_record_causes_no_takeover() {
    let mut c = Cluster::new("rmrec", &["n1", "n2"], "");
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|i| i.node == "n1", Duration::from_millis(D + 3000));
    // Let n2 watch n1 for a full window first.
    c.watch(Duration::from_millis(D), Some(first.pid), "settled");

    fs::remove_file(c.record("n2")).unwrap();
    c.watch(
        Duration::from_millis(2 * D + 1000),
        Some(first.pid),
        "n2's record deleted",
    );
    assert!(
        !c.record("n2").exists(),
        "a node must never create its record on the fly"
    );
    assert_eq!(c.instances().len(), 1, "{:?}\n{}", c.instances(), c.logs());

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
    c.watch(
        Duration::from_millis(2 * D + 1000),
        Some(first.pid),
        "n2's record truncated",
    );
    assert_eq!(c.instances().len(), 1, "{:?}\n{}", c.instances(), c.logs());
    // n2 writes its record whole again.
    assert!(
        wait_until(Duration::from_millis(D), || fs::metadata(c.record("n2"))
            .is_ok_and(|m| m.len() == 4096)),
        "n2 did not rewrite its record\n{}",
        c.logs()
    );

    // Normal operation: status sees both, and kill -9 of n1 fails over to n2.
    let (st, out) = c.cli("n2", &["status"]);
    assert_eq!(st.code(), Some(0), "{out}");
    assert!(out.contains("ACTIVE") && out.contains("STANDBY"), "{out}");
    c.kill9("n1");
    let second = c.wait_running_on(
        |i| i.node == "n2",
        Duration::from_millis(FAILOVER_BOUND_MS + MARGIN_MS + 1000),
    );
    assert!(second.epoch > first.epoch, "{second:?}");
    c.assert_no_overlap();
}

/// A stand-in for the application's HA monitor that answers `check` with UP until `hang` is
/// set; from then on it accepts connections and never answers (a hung application).
struct HangingPort {
    port: u16,
    hang: std::sync::Arc<std::sync::atomic::AtomicBool>,
    answered: std::sync::Arc<AtomicUsize>,
}

impl HangingPort {
    fn start() -> HangingPort {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hang = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let (flag, count) = (hang.clone(), answered.clone());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming().flatten() {
                if flag.load(Ordering::Relaxed) {
                    // Keep it open, say nothing.
                    held.push(conn);
                    continue;
                }
                let mut line = String::new();
                let mut r = BufReader::new(&conn);
                if r.read_line(&mut line).is_ok() {
                    let _ = (&conn).write_all(b"UP\r\n");
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        HangingPort {
            port,
            hang,
            answered,
        }
    }
}

/// Scenario 2: the active's HA port stops answering (accepts, never replies): after
/// hb.app_probe_fail failed probes the daemon hands over and the other node takes over.
#[test]
fn a_hung_ha_port_is_handed_over_after_the_failed_probes() {
    let ports = [HangingPort::start(), HangingPort::start()];
    let mut c = Cluster::new("hang", &["n1", "n2"], "");
    for (i, n) in ["n1", "n2"].iter().enumerate() {
        c.add_conf(
            n,
            &format!("hb.app_port={}\nhb.app_probe_fail=3\n", ports[i].port),
        );
    }
    c.start("n1");
    c.start("n2");
    let first = c.wait_running_on(|_| true, Duration::from_millis(D + 3000));
    let bad = c.idx(&first.node);
    let other = other_of(&first.node);
    // Healthy and answered at least once.
    assert!(
        wait_until(Duration::from_millis(2000), || ports[bad]
            .answered
            .load(Ordering::Relaxed)
            >= 2),
        "the daemon never probed the HA port\n{}",
        c.logs()
    );
    c.watch(Duration::from_millis(5 * P), Some(first.pid), "healthy");
    ports[bad].hang.store(true, Ordering::Relaxed);
    let t_hang = now_ns();
    let second = c.wait_running_on(
        |i| i.node == other,
        Duration::from_millis(3 * (P + T_IO) + FAILOVER_BOUND_MS + MARGIN_MS + 1000),
    );
    eprintln!(
        "hung HA port to the other node's application: {} ms",
        (second.start - t_hang) / 1_000_000
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
    c.watch(
        Duration::from_millis(D),
        Some(second.pid),
        "after hand-over",
    );
    c.assert_no_overlap();
}

/// Scenario 3: one daemon's wall clock is five hours ahead (Debian's `faketime`). Liveness is
/// judged on each node's own monotonic clock by changing bytes, so failover works both ways
/// and nothing overlaps.
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
    let mut c = Cluster::new("clock", &["n1", "n2"], "");
    // The application must log true time for the checker: drop libfaketime for it.
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
    let out = Command::new("date")
        .arg("+%s")
        .envs(faked)
        .output()
        .unwrap();
    let faked_s: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let skew = faked_s as i64 - (now_ns() / 1_000_000_000) as i64;
    assert!(
        (5 * 3600 - 60..5 * 3600 + 60).contains(&skew),
        "skew {skew} s"
    );
    c.start("n1");
    c.start_with("n2", &faked);
    let first = c.wait_running_on(|i| i.node == "n1", Duration::from_millis(D + 3000));
    c.watch(Duration::from_millis(D), Some(first.pid), "n1 active");

    // n1 -> n2
    let t = now_ns();
    c.kill9("n1");
    let second = c.wait_running_on(
        |i| i.node == "n2",
        Duration::from_millis(FAILOVER_BOUND_MS + MARGIN_MS + 1000),
    );
    eprintln!(
        "failover to the +5h node: {} ms",
        (second.start - t) / 1_000_000
    );
    assert!(second.epoch > first.epoch);

    // n1 back as standby, then n2 -> n1.
    c.start("n1");
    c.watch(
        Duration::from_millis(D + 500),
        Some(second.pid),
        "n1 rejoined",
    );
    let t = now_ns();
    c.kill9("n2");
    let third = c.wait_running_on(
        |i| i.node == "n1",
        Duration::from_millis(FAILOVER_BOUND_MS + MARGIN_MS + 1000),
    );
    eprintln!(
        "failover from the +5h node: {} ms",
        (third.start - t) / 1_000_000
    );
    assert!(third.epoch > second.epoch);
    c.watch(Duration::from_millis(D), Some(third.pid), "n1 active again");
    c.assert_no_overlap();
}

/// Scenario 4: n2's daemon runs as `nobody` and cannot read n1's record (mode 0600, owned by
/// root). Unreadable is never dead: when n1 is killed with -9 nobody takes over; once the
/// permissions are fixed, n2 takes over.
#[test]
fn an_unreadable_peer_record_is_never_dead() {
    // SAFETY: plain syscall.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "SKIPPED an_unreadable_peer_record_is_never_dead: needs root to run a daemon as \
             another user"
        );
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    const NOBODY: u32 = 65534;
    let mut c = Cluster::new("perm", &["n1", "n2"], "");
    let chown = |p: &std::path::Path| std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY));
    // What n2 (as nobody) needs: its own record, its state dir, the app's log dir, incidents.
    chown(&c.record("n2")).unwrap();
    let state = c.dir.join("state-n2");
    fs::create_dir_all(&state).unwrap();
    chown(&state).unwrap();
    chown(&c.dir.join("iv")).unwrap();
    fs::write(c.dir.join("incidents"), "").unwrap();
    chown(&c.dir.join("incidents")).unwrap();
    fs::set_permissions(c.record("n1"), fs::Permissions::from_mode(0o600)).unwrap();
    c.start("n1");
    let first = c.wait_running_on(|i| i.node == "n1", Duration::from_millis(D + 3000));
    c.start_as("n2", &[], Some(NOBODY));
    // n2 runs and keeps writing its own record, but cannot see n1.
    let before = fs::read(c.record("n2")).unwrap();
    c.watch(Duration::from_millis(D + 1000), Some(first.pid), "n2 blind");
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

    c.kill9("n1");
    assert!(
        wait_until(Duration::from_millis(1000), || !pid_alive(first.pid)),
        "{}",
        c.logs()
    );
    // Past the takeover time, and 3 s more: nobody takes over.
    std::thread::sleep(Duration::from_millis(FAILOVER_BOUND_MS));
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        assert!(
            c.running().is_empty(),
            "n2 took over a peer it cannot read\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(c.instances().len(), 1, "{:?}", c.instances());

    // Readable again: n1's record now stays the same for D, and n2 takes over.
    let t = now_ns();
    fs::set_permissions(c.record("n1"), fs::Permissions::from_mode(0o644)).unwrap();
    let second = c.wait_running_on(
        |i| i.node == "n2",
        Duration::from_millis(FAILOVER_BOUND_MS + MARGIN_MS + 1000),
    );
    eprintln!(
        "takeover after the record became readable: {} ms",
        (second.start - t) / 1_000_000
    );
    assert!(second.epoch > first.epoch, "{second:?}");
    c.assert_no_overlap();
}

/// Scenario 5: two nodes (no preferred node) started at the same moment, round after round:
/// exactly one application comes up each time and nothing overlaps. Rounds:
/// `HAMON_HB_FAULT_STARTS` (default 10; 50 makes this file run well over 90 s).
#[test]
fn two_nodes_started_together_repeatedly_run_one_application() {
    let rounds: usize = std::env::var("HAMON_HB_FAULT_STARTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    for round in 0..rounds {
        let mut c = Cluster::new("twostart", &["n1", "n2"], "hb.preferred=false\n");
        c.start("n1");
        c.start("n2");
        let up = wait_until(Duration::from_millis(D + 3000), || c.running().len() == 1);
        assert!(up, "round {round}: nobody became active\n{}", c.logs());
        let one = c.running()[0].pid;
        c.watch(
            Duration::from_millis(3 * P),
            Some(one),
            &format!("round {round}"),
        );
        assert_eq!(c.instances().len(), 1, "round {round}: {:?}", c.instances());
        c.assert_no_overlap();
    }
}
