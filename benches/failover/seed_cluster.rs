//! Two instances of the seed script, run unchanged, as two hosts sharing the heartbeat
//! directory. The script names its heartbeat file after `hostname` and finds its application
//! with `pgrep -f`, so each instance runs in its own UTS and PID namespace (`unshare`, root
//! only): its own host name, its own processes, the same files. The namespace's first
//! process stays (it ends in `sleep`), so like a host it outlives its daemon: kill -9 of the
//! active instance's script is the same kill as hamon's, the script's loop dies and whatever
//! it started lives on.
//!
//! dc1 starts first and becomes active; dc2 is started when dc1's application answers, and
//! once dc2 has declared itself standby, dc1's script is killed at a random point of dc2's
//! standby loop.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use crate::support::{cleanup, pico, ports, random, seed};
use crate::watch::{self, Failover};

const CLUSTER: &str = "HAMON_BENCH_CLUSTER";
/// Marks one instance's processes, to find its script's process.
const INSTANCE: &str = "HAMON_SEED_INSTANCE";
/// The namespace's first process: names the host, starts the script, then just stays.
const INIT: &str =
    r#"hostname "$1" && { bash ./seed-heartbeat.sh >seed.log 2>&1 & } && exec sleep 2147483647"#;
/// A standby instance's loop: `sleep $loopTime` (3 s), then killInstance's `sleep 30`.
const STANDBY_LOOP: Duration = Duration::from_secs(33);
/// How long to wait for each step; the script's own delays add up to well under this.
const PATIENCE: Duration = Duration::from_secs(150);

pub struct SeedCluster {
    dir: PathBuf,
    ports: [u16; 2],
    /// The `unshare` processes, one per instance.
    hosts: Vec<Child>,
}

/// The application the seed starts: the example pico on this instance's port, stopped
/// along with the shell the seed's `pgrep -f` finds.
fn application(pico: &Path, port: u16) -> String {
    format!(
        "HA_HOST=127.0.0.1 HA_PORT={port} {} >/dev/null &\ntrap 'kill $!; exit 0' TERM INT\nwait",
        pico.display()
    )
}

/// Whether `unshare` can make the namespaces here; Err says why not.
pub fn available() -> Result<(), String> {
    // SAFETY: a plain syscall.
    if unsafe { libc::geteuid() } != 0 {
        return Err("needs root (unshare --uts --pid for two host names on one machine)".into());
    }
    let ok = cleanup::command("unshare")
        .args(["--uts", "--pid", "--fork", "--mount-proc", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err("unshare --uts --pid --fork --mount-proc does not work here (util-linux)".into())
    }
}

impl SeedCluster {
    pub fn new(dir: &Path, script: &Path, pico: &Path) -> SeedCluster {
        let shared = dir.join("shared");
        fs::create_dir_all(&shared).expect("create the heartbeat directory");
        let ports = [ports::free_port(), ports::free_port()];
        for (node, port) in ["dc1", "dc2"].iter().zip(ports) {
            seed::install(&dir.join(node), script, &shared, &application(pico, port));
        }
        SeedCluster {
            dir: dir.to_path_buf(),
            ports,
            hosts: Vec::new(),
        }
    }

    fn instance_tag(&self, node: &str) -> String {
        self.dir.join(node).display().to_string()
    }

    fn start(&mut self, node: &str) {
        let host = cleanup::command("unshare")
            .args(["--uts", "--pid", "--fork", "--mount-proc", "sh", "-c", INIT])
            .args(["seed-host", node])
            .current_dir(self.dir.join(node))
            .env(CLUSTER, &self.dir)
            .env(INSTANCE, self.instance_tag(node))
            .env_remove("BASH_ENV")
            .process_group(0)
            .spawn()
            .expect("start unshare");
        self.hosts.push(host);
    }

    fn log(&self, node: &str) -> String {
        fs::read_to_string(self.dir.join(node).join("seed.log")).unwrap_or_default()
    }

    /// The script's own process: the `bash ./seed-heartbeat.sh` of this instance whose
    /// parent is not one too (its subshells are).
    fn script_pid(&self, node: &str) -> Option<i32> {
        let is_script = |pid: i32| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.ends_with(b"./seed-heartbeat.sh\0"))
        };
        let parent = |pid: i32| -> Option<i32> {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            stat[stat.rfind(')')? + 2..]
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        };
        cleanup::pids_with_env(INSTANCE, &self.instance_tag(node))
            .into_iter()
            .find(|&pid| is_script(pid) && !parent(pid).is_some_and(is_script))
    }

    /// Runs both instances, kills dc1's script with -9 and watches dc2 take over.
    pub fn failover(mut self, every: Duration) -> (Failover, Vec<String>) {
        let fail = |why: String| {
            (
                Failover {
                    problem: Some(why),
                    ..Failover::default()
                },
                vec![],
            )
        };
        self.start("dc1");
        if pico::wait_healthy(self.ports[0], every, PATIENCE).is_none() {
            return fail(format!(
                "dc1's application never came up: {}",
                self.log("dc1")
            ));
        }
        self.start("dc2");
        let until = Instant::now() + PATIENCE;
        while !self.log("dc2").contains("We are not master") {
            if Instant::now() > until {
                return fail(format!("dc2 never went standby: {}", self.log("dc2")));
            }
            std::thread::sleep(every);
        }
        let phase = random::below(STANDBY_LOOP.as_millis() as u64);
        std::thread::sleep(Duration::from_millis(phase));
        let Some(pid) = self.script_pid("dc1") else {
            return fail("dc1's script process not found".into());
        };
        let killed = Instant::now();
        // SAFETY: a plain syscall on a process this benchmark started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let f = watch::watch(killed, self.ports[0], self.ports[1], every, PATIENCE);
        let log = self.log("dc2");
        let notes = log
            .lines()
            .filter(|l| l.starts_with("stat: "))
            .map(str::to_string)
            .collect();
        (f, notes)
    }
}

impl Drop for SeedCluster {
    fn drop(&mut self) {
        cleanup::kill_with_env(CLUSTER, &self.dir.display().to_string());
        for host in &mut self.hosts {
            let _ = host.kill();
            let _ = host.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
