//! The multi-process harness of the `ha-heartbeat` tests: real daemons (one per node) on
//! one machine over a temp directory, with a tiny shell application that logs its own
//! lifetime, so an independent checker can prove that no two instances ever ran at once.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const BIN: &str = env!("CARGO_BIN_EXE_ha-heartbeat");

// The fast profile of docs/heartbeat.md.
pub const P: u64 = 100;
pub const T_IO: u64 = 150;
pub const F1: u64 = 800;
pub const D: u64 = 1500;
pub const C: u64 = 100;
/// Worst-case failover without the application's start time (docs/heartbeat.md).
pub const FAILOVER_BOUND_MS: u64 = D + 2 * P + 6 * T_IO + C;
/// For the shell application to start, for a loaded machine and a debug build.
pub const MARGIN_MS: u64 = 1500;
/// How often the application writes "alive": the checker's resolution.
pub const ALIVE_EVERY: &str = "0.02";

/// The environment tag every process of one test inherits, so Drop can find them all.
pub const TAG: &str = "HAMON_HB_TEST";

pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
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
}

impl Cluster {
    pub fn new(label: &str, nodes: &[&str], extra: &str) -> Cluster {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hamon-hb-{label}-{}-{}",
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

    pub fn conf(&self, node: &str) -> PathBuf {
        self.dir.join(format!("{node}.conf"))
    }

    pub fn idx(&self, node: &str) -> usize {
        self.nodes.iter().position(|n| n == node).unwrap()
    }

    /// Runs a one-shot command (`status`, `maintenance on`, ...) as `node`.
    pub fn cli(&self, node: &str, args: &[&str]) -> (ExitStatus, String) {
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
        let mut cmd = Command::new(BIN);
        if let Some(uid) = uid {
            // The checkout may sit in a directory other users cannot enter (mktemp -d is
            // 0700): run a copy from the test's own directory, which they can.
            use std::os::unix::fs::PermissionsExt;
            let copy = self.dir.join("ha-heartbeat");
            if !copy.exists() {
                fs::copy(BIN, &copy).unwrap();
            }
            fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o755)).unwrap();
            cmd = Command::new(&copy);
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
    pub fn running(&self) -> Vec<Instance> {
        let now = now_ns();
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

pub fn pid_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s[s.rfind(')').unwrap() + 1..].trim_start().starts_with('Z'),
        Err(_) => false,
    }
}
