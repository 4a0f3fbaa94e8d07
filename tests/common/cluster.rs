//! The multi-process harness of the `ha-heartbeat` tests: real daemons (one per node) on
//! one machine over a temp directory, with a tiny shell application that logs its own
//! lifetime on the machine's monotonic clock, so an independent checker can prove that no
//! two instances ever ran at once, and failover times can be measured from the fault.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hamon::heartbeat::record::NodeRecord;
use hamon::heartbeat::timing::Timing;

pub const BIN: &str = env!("CARGO_BIN_EXE_ha-heartbeat");

/// The fast profile of docs/heartbeat.md, which every daemon of these tests runs.
pub const FAST: Timing = Timing::fast();
pub const P: u64 = FAST.period.as_millis() as u64;
pub const T_IO: u64 = FAST.io_timeout.as_millis() as u64;
pub const F1: u64 = FAST.renew_deadline.as_millis() as u64;
pub const K: u64 = FAST.kill_budget.as_millis() as u64;
pub const D: u64 = FAST.takeover.as_millis() as u64;
pub const C: u64 = FAST.confirm.as_millis() as u64;
/// S of docs/heartbeat.md, the application's own start time: for the shell application a
/// fork, an exec and its first line, which on a loaded two-core machine running debug builds
/// can take a second. It also absorbs the daemons' own scheduling delays there.
pub const APP_START_MS: u64 = 1500;
/// How often the application writes "alive": with /proc/uptime's 10 ms, the checker's
/// resolution.
pub const ALIVE_EVERY: &str = "0.02";

/// The environment tag every process of one test inherits, so Drop can find them all.
pub const TAG: &str = "HAMON_HB_TEST";

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Worst-case failover after the active daemon or its host dies, D + 2P + 6 T_io + C, plus S.
pub fn failover_bound() -> Duration {
    FAST.failover_bound() + ms(APP_START_MS)
}

/// How long an active daemon takes to notice that its application died: one loop turn.
pub fn crash_detection() -> Duration {
    FAST.loop_turn()
}

/// How long an active daemon takes to give up on an application whose HA port fails: the
/// probe in flight when it breaks may still pass, then `fails` probes, one per period, each
/// answered or timed out (min(T_io, P)) within one loop turn.
pub fn probe_detection(fails: u32) -> Duration {
    FAST.loop_turn() * (fails + 1)
}

/// Worst-case planned hand-over: the active sees the maintenance record (P + T_io), stops its
/// application (K) and writes RELEASED (T_io); the target reads it (P + T_io), claims (T_io),
/// reads (T_io), waits C, confirms (T_io) and writes ACTIVE (T_io); plus S.
pub fn switchover_bound() -> Duration {
    FAST.kill_budget + FAST.period * 2 + FAST.io_timeout * 7 + FAST.confirm + ms(APP_START_MS)
}

/// How long to watch for a failover that must not happen: as long as one would take at worst
/// after the fault, so one would have been seen.
pub fn no_failover_window() -> Duration {
    failover_bound()
}

/// CLOCK_BOOTTIME as the application sees it (/proc/uptime, 10 ms resolution), in ns. Both
/// sides read the same file, so a container's view of uptime cannot skew the comparison.
pub fn mono_ns() -> u64 {
    let text = fs::read_to_string("/proc/uptime").unwrap();
    parse_uptime(text.split_whitespace().next().unwrap()).unwrap()
}

/// "12345.67" (seconds) to nanoseconds.
fn parse_uptime(s: &str) -> Option<u64> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut ns: u64 = secs.parse::<u64>().ok()? * 1_000_000_000;
    let mut scale = 100_000_000;
    for b in frac.bytes().take(9) {
        ns += u64::from(b.checked_sub(b'0').filter(|d| *d < 10)?) * scale;
        scale /= 10;
    }
    Some(ns)
}

pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
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

pub fn signal(pid: i32, sig: i32) {
    // SAFETY: plain syscall.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// The process is stopped (SIGSTOP took effect), per /proc.
pub fn pid_stopped(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s[s.rfind(')').unwrap() + 1..].trim_start().starts_with('T'))
}

/// One application instance, from its own log file.
#[derive(Clone, Debug)]
pub struct Instance {
    pub node: String,
    pub epoch: u64,
    pub pid: i32,
    pub start: u64,
    pub last: u64,
}

/// A cluster of daemons over one temp directory. Drop kills (SIGCONT first) every process
/// carrying this cluster's tag in its environment, daemons, guards and applications alike,
/// and removes the directory.
pub struct Cluster {
    pub dir: PathBuf,
    pub nodes: Vec<String>,
    pub daemons: Vec<Option<Child>>,
    /// Per node, the command its programs run through (see [`super::prefixed`]), e.g.
    /// `ip netns exec NS` for a node in a network namespace; empty: run here.
    pub prefixes: Vec<Vec<String>>,
}

impl Cluster {
    pub fn new(label: &str, nodes: &[&str], extra: &str) -> Cluster {
        Cluster::new_at(label, nodes, extra, &[])
    }

    /// As [`Cluster::new`], node `i`'s daemon and commands (`init` included) run through
    /// `prefixes[i]` (none given: here).
    pub fn new_at(label: &str, nodes: &[&str], extra: &str, prefixes: &[Vec<String>]) -> Cluster {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = super::fast_storage().join(format!(
            "hamon-hb-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("shared")).unwrap();
        fs::create_dir_all(dir.join("iv")).unwrap();
        // `read` is a shell builtin: the clock costs no fork.
        let app = format!(
            "f=\"{iv}/$HB_NODE.$$\"\n\
             read -r up _ < /proc/uptime\n\
             echo \"start $HB_NODE $HB_EPOCH $up\" > \"$f\"\n\
             while :; do\n\
             read -r up _ < /proc/uptime; echo \"alive $up\" >> \"$f\"; sleep {ALIVE_EVERY}\n\
             done\n",
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
                 hb.kill_budget_ms={K}\nhb.takeover_ms={D}\nhb.confirm_ms={C}\n\
                 hb.start_cmd=exec /bin/sh {app}\n\
                 hb.incident_cmd=echo \"$HB_NODE $HB_EPOCH $HB_INCIDENT\" >> {incident}\n\
                 {preferred}{extra}",
                shared = dir.join("shared").display(),
                all = nodes.join(","),
                state = dir.join(format!("state-{n}")).display(),
                app = dir.join("app.sh").display(),
                incident = incident.display(),
            );
            fs::write(dir.join(format!("{n}.conf")), last_setting_wins(&conf)).unwrap();
        }
        let c = Cluster {
            dir,
            nodes: nodes.iter().map(|s| s.to_string()).collect(),
            daemons: nodes.iter().map(|_| None).collect(),
            prefixes: (0..nodes.len())
                .map(|i| prefixes.get(i).cloned().unwrap_or_default())
                .collect(),
        };
        let out = c.cli(nodes[0], &["init"]);
        assert!(out.0.success(), "init: {}", out.1);
        c
    }

    /// `program` as `node` runs it.
    fn command(&self, node: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        super::prefixed(&self.prefixes[self.idx(node)], program)
    }

    pub fn conf(&self, node: &str) -> PathBuf {
        self.dir.join(format!("{node}.conf"))
    }

    /// Adds settings to `node`'s configuration file; a key it sets replaces the earlier one.
    pub fn add_conf(&self, node: &str, lines: &str) {
        let mut conf = fs::read_to_string(self.conf(node)).unwrap();
        conf.push_str(lines);
        fs::write(self.conf(node), last_setting_wins(&conf)).unwrap();
    }

    /// `node`'s record in the shared directory.
    pub fn record(&self, node: &str) -> PathBuf {
        self.dir.join("shared").join(format!("node.{node}"))
    }

    pub fn idx(&self, node: &str) -> usize {
        self.nodes.iter().position(|n| n == node).unwrap()
    }

    /// Runs a one-shot command (`status`, `maintenance on`, ...) as `node`.
    pub fn cli(&self, node: &str, args: &[&str]) -> (ExitStatus, String) {
        let out = self
            .command(node, BIN)
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

    pub fn start(&mut self, node: &str) {
        self.start_with(node, &[]);
    }

    pub fn start_with(&mut self, node: &str, env: &[(&str, &str)]) {
        self.start_as(node, env, None);
    }

    /// Starts `node`'s daemon, optionally as another user.
    pub fn start_as(&mut self, node: &str, env: &[(&str, &str)], uid: Option<u32>) {
        use std::os::unix::process::CommandExt;
        let i = self.idx(node);
        let log = fs::File::create(self.dir.join(format!("{node}.log"))).unwrap();
        let mut cmd = self.command(node, BIN);
        if let Some(uid) = uid {
            // The checkout may sit in a directory other users cannot enter (mktemp -d is
            // 0700): run a copy from the test's own directory, which they can.
            use std::os::unix::fs::PermissionsExt;
            let copy = self.dir.join("ha-heartbeat");
            if !copy.exists() {
                fs::copy(BIN, &copy).unwrap();
            }
            fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o755)).unwrap();
            cmd = self.command(node, &copy);
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

    pub fn pid(&self, node: &str) -> i32 {
        self.daemons[self.idx(node)].as_ref().unwrap().id() as i32
    }

    pub fn log(&self, node: &str) -> String {
        fs::read_to_string(self.dir.join(format!("{node}.log"))).unwrap_or_default()
    }

    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("--- {n}\n{}", self.log(n)))
            .collect()
    }

    /// Every application instance so far.
    pub fn instances(&self) -> Vec<Instance> {
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
            let Some(start) = parse_uptime(f[3]) else {
                continue;
            };
            let last = text
                .lines()
                .filter_map(|l| l.strip_prefix("alive "))
                .filter_map(|n| parse_uptime(n.trim()))
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
    pub fn running(&self) -> Vec<Instance> {
        let now = mono_ns();
        self.instances()
            .into_iter()
            .filter(|i| now.saturating_sub(i.last) < 300_000_000)
            .collect()
    }

    pub fn wait_running_on(&self, pred: impl Fn(&Instance) -> bool, timeout: Duration) -> Instance {
        let mut found = None;
        let ok = wait_until(timeout, || {
            found = self.running().into_iter().find(|i| pred(i));
            found.is_some()
        });
        assert!(ok, "no application came up\n{}", self.logs());
        found.unwrap()
    }

    /// Waits for the application that takes over after a fault at `fault` (from [`mono_ns`])
    /// and asserts that it came up within `bound` of the fault. Waits twice the bound, so that
    /// a slow failover is reported with its time rather than as missing.
    pub fn failover_within(
        &self,
        what: &str,
        fault: u64,
        bound: Duration,
        pred: impl Fn(&Instance) -> bool,
    ) -> Instance {
        let next = self.wait_running_on(|i| i.start >= fault && pred(i), bound * 2);
        let took = Duration::from_nanos(next.start - fault);
        eprintln!(
            "{what}: the new application came up {} ms after the fault (bound {} ms)",
            took.as_millis(),
            bound.as_millis()
        );
        assert!(
            took <= bound,
            "{what}: the new application came up {} ms after the fault, above the bound of {} ms\n{}",
            took.as_millis(),
            bound.as_millis(),
            self.logs()
        );
        next
    }

    /// For `window`, at every sample at most one application runs; with `only`, that
    /// application's process stays alive and no other one runs at any time in the window.
    /// (Liveness of `only` is judged by its process, not by its log: on a loaded machine
    /// the shell may go 300 ms without writing.)
    pub fn watch(&self, window: Duration, only: Option<i32>, what: &str) {
        let begin = mono_ns();
        let until = Instant::now() + window;
        loop {
            if let Some(pid) = only {
                assert!(
                    pid_alive(pid),
                    "{what}: the application {pid} is gone\n{}",
                    self.logs()
                );
                let others: Vec<Instance> = self
                    .instances()
                    .into_iter()
                    .filter(|i| i.pid != pid && i.last >= begin)
                    .collect();
                assert!(
                    others.is_empty(),
                    "{what}: besides {pid}, running: {others:?}\n{}",
                    self.logs()
                );
            } else {
                let r = self.running();
                assert!(r.len() <= 1, "{what}: two running: {r:?}\n{}", self.logs());
            }
            if Instant::now() >= until {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// No failover: for [`no_failover_window`], `pid` runs and nothing else, and no other
    /// application ever ran after it started.
    pub fn assert_no_failover(&self, pid: i32, what: &str) {
        self.watch(no_failover_window(), Some(pid), what);
        let start = self.instance(pid).start;
        let later: Vec<Instance> = self
            .instances()
            .into_iter()
            .filter(|i| i.pid != pid && i.last >= start)
            .collect();
        assert!(
            later.is_empty(),
            "{what}: another application ran: {later:?}\n{}",
            self.logs()
        );
    }

    /// No takeover: for [`no_failover_window`], no application starts after `fault`.
    pub fn assert_no_takeover_since(&self, fault: u64, what: &str) {
        let until = Instant::now() + no_failover_window();
        loop {
            let new: Vec<Instance> = self
                .instances()
                .into_iter()
                .filter(|i| i.start >= fault)
                .collect();
            assert!(
                new.is_empty(),
                "{what}: took over: {new:?}\n{}",
                self.logs()
            );
            if Instant::now() >= until {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The maintenance token `node`'s record says it acted on (None: no valid record).
    pub fn maint_ack(&self, node: &str) -> Option<u64> {
        let bytes = fs::read(self.record(node)).ok()?;
        NodeRecord::decode(&bytes, "hamon")
            .ok()
            .map(|r| r.maint_ack)
    }

    /// Waits until every running daemon's record shows it acted on maintenance `token`.
    pub fn wait_maintenance_seen(&self, token: u64) {
        let running: Vec<&String> = self
            .nodes
            .iter()
            .zip(&self.daemons)
            .filter(|(_, d)| d.is_some())
            .map(|(n, _)| n)
            .collect();
        // Each reads the maintenance record every period and writes its ack with its next write.
        let seen = wait_until(FAST.loop_turn() * 4, || {
            running
                .iter()
                .all(|n| self.maint_ack(n).is_some_and(|t| t >= token))
        });
        assert!(
            seen,
            "maintenance token {token} not acted on\n{}",
            self.logs()
        );
    }

    /// The instance with application pid `pid`.
    pub fn instance(&self, pid: i32) -> Instance {
        self.instances()
            .into_iter()
            .find(|i| i.pid == pid)
            .unwrap_or_else(|| panic!("no application with pid {pid}\n{}", self.logs()))
    }

    /// The independent checker: no two instances' lifetimes overlap, and epochs grow.
    pub fn assert_no_overlap(&self) {
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

    pub fn kill9(&mut self, node: &str) {
        let i = self.idx(node);
        if let Some(mut c) = self.daemons[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn pids_with_tag(&self) -> Vec<i32> {
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

/// The token in the output of a maintenance command: "maintenance: FREEZE (token 7); ...".
pub fn maint_token(out: &str) -> u64 {
    out.split("(token ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no token in {out:?}"))
}

/// The other node of a two-node cluster.
pub fn other_of(node: &str) -> &'static str {
    if node == "n1" { "n2" } else { "n1" }
}

pub fn pid_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s[s.rfind(')').unwrap() + 1..].trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

/// What a [`FakeHaPort`] does with the next `check`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum HaAnswer {
    Up,
    Down,
    /// Accept the connection and never answer (a hung application).
    Hang,
}

/// A stand-in for the application's HA monitor: answers `check` as the test says.
pub struct FakeHaPort {
    pub port: u16,
    answer: std::sync::Arc<std::sync::Mutex<HaAnswer>>,
    answered: std::sync::Arc<AtomicUsize>,
}

impl FakeHaPort {
    pub fn start() -> FakeHaPort {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let answer = Arc::new(Mutex::new(HaAnswer::Up));
        let answered = Arc::new(AtomicUsize::new(0));
        let (now, count) = (answer.clone(), answered.clone());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming().flatten() {
                let word = match *now.lock().unwrap() {
                    HaAnswer::Up => "UP",
                    HaAnswer::Down => "DOWN",
                    HaAnswer::Hang => {
                        held.push(conn); // open, and silent
                        continue;
                    }
                };
                let mut line = String::new();
                if BufReader::new(&conn).read_line(&mut line).is_ok() {
                    let _ = (&conn).write_all(format!("{word}\r\n").as_bytes());
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        FakeHaPort {
            port,
            answer,
            answered,
        }
    }

    pub fn set(&self, answer: HaAnswer) {
        *self.answer.lock().unwrap() = answer;
    }

    /// How many `check`s it has answered.
    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::Relaxed)
    }
}

impl Cluster {
    /// Nodes n1 and n2, each judging its application by its own [`FakeHaPort`] (three failed
    /// probes count as dead), both started.
    pub fn started_on_fake_ha_ports(label: &str) -> (Cluster, [FakeHaPort; 2]) {
        let ports = [FakeHaPort::start(), FakeHaPort::start()];
        let mut c = Cluster::new(label, &["n1", "n2"], "");
        for (port, n) in ports.iter().zip(["n1", "n2"]) {
            c.add_conf(
                n,
                &format!("hb.app_port={}\nhb.app_probe_fail=3\n", port.port),
            );
        }
        c.start("n1");
        c.start("n2");
        (c, ports)
    }
}

impl Cluster {
    /// Starts `node`'s daemon from its own copy of the binary (`ha-heartbeat-NODE` in the
    /// test's directory), so that a test can take the program away while it runs (the guard
    /// is started from the same file). Returns the copy's path.
    pub fn start_from_copy(&mut self, node: &str) -> PathBuf {
        let copy = self.dir.join(format!("ha-heartbeat-{node}"));
        fs::copy(BIN, &copy).unwrap();
        let i = self.idx(node);
        let log = fs::File::create(self.dir.join(format!("{node}.log"))).unwrap();
        let child = self
            .command(node, &copy)
            .args(["run", "--config"])
            .arg(self.conf(node))
            .env(TAG, &self.dir)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.daemons[i] = Some(child);
        copy
    }

    /// The pid of `node`'s guard: the child of its daemon that runs `guard`.
    pub fn guard_pid(&self, node: &str) -> Option<i32> {
        let daemon = self.pid(node);
        fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
            let pid: i32 = e.file_name().to_string_lossy().parse().ok()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let ppid: i32 = stat[stat.rfind(')')? + 1..]
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let is_guard = cmdline.split(|&b| b == 0).any(|a| a == b"guard");
            (ppid == daemon && is_guard).then_some(pid)
        })
    }
}

/// `conf` with each key kept only at its last setting, in place of the earlier ones: a
/// settings file that names a key twice is refused, and tests override the defaults.
fn last_setting_wins(conf: &str) -> String {
    let key = |l: &str| l.split_once('=').map(|(k, _)| k.trim().to_string());
    let lines: Vec<&str> = conf.lines().collect();
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        let later =
            key(l).is_some_and(|k| lines[i + 1..].iter().any(|m| key(m) == Some(k.clone())));
        if !later {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// Worst case from `kill -9` of the active daemon alone to the peer's application, when the
/// guard hands the term over and storage is healthy: the guard's reads and write (ms on a
/// local directory), the peer's next read (P + T_io), its claim write and read (2 T_io), C,
/// the confirm read and the ACTIVE write (2 T_io), plus a period of slack for a loaded
/// machine, plus S. No takeover time D in it: nobody waits out the lease.
pub fn handover_bound() -> Duration {
    FAST.period * 2 + FAST.io_timeout * 4 + FAST.confirm + ms(APP_START_MS)
}

impl Cluster {
    /// The processes of `node`: its daemon, its guard and its running application (the
    /// leader of the application's process group), those that exist.
    pub fn node_pids(&self, node: &str) -> (i32, Option<i32>, Option<i32>) {
        let app = self.running().into_iter().find(|i| i.node == node);
        (self.pid(node), self.guard_pid(node), app.map(|i| i.pid))
    }

    /// Every process of `node` at once, as when its host is lost: all are stopped first
    /// (SIGSTOP), so that none sees another's end and acts on it, then, with SIGKILL, killed.
    pub fn stop_node(&mut self, node: &str, kill: bool) {
        let (daemon, guard, app) = self.node_pids(node);
        let group = app.map(|a| -a);
        for pid in [Some(daemon), guard, group].into_iter().flatten() {
            signal(pid, libc::SIGSTOP);
        }
        if kill {
            for pid in [Some(daemon), guard, group].into_iter().flatten() {
                signal(pid, libc::SIGKILL);
            }
            self.kill9(node);
        }
    }
}
