//! The two `ha-heartbeat` daemons of one benchmark cluster: their configs (`NODE.conf`) and
//! logs (`NODE.log`) in the cluster's directory, every process they start marked with
//! `HAMON_BENCH_CLUSTER=<dir>` so the cluster can be stopped alone, and all of it (the
//! directory too) gone when dropped.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Instant;

use crate::support::cleanup;

pub const DAEMON: &str = env!("CARGO_BIN_EXE_ha-heartbeat");
/// Marks every process of one cluster, so it can be stopped alone.
const CLUSTER: &str = "HAMON_BENCH_CLUSTER";

pub struct Daemons {
    pub dir: PathBuf,
    running: Vec<Child>,
}

impl Daemons {
    pub fn new(dir: &Path) -> Daemons {
        Daemons {
            dir: dir.to_path_buf(),
            running: Vec::new(),
        }
    }

    /// Starts `ha-heartbeat run` for `node`, in its own process group: a Ctrl-C reaches the
    /// benchmark, which stops everything.
    pub fn start(&mut self, node: &str) {
        let log = fs::File::create(self.dir.join(format!("{node}.log"))).expect("a log file");
        let child = cleanup::command(DAEMON)
            .args(["run", "--config"])
            .arg(self.dir.join(format!("{node}.conf")))
            .env(CLUSTER, &self.dir)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start ha-heartbeat");
        self.running.push(child);
    }

    /// Kills the first daemon started with SIGKILL, alone or with its whole node, and
    /// returns when it was killed.
    pub fn kill_first(&mut self, kill: Kill) -> Instant {
        let daemon = self.running[0].id() as i32;
        let killed = Instant::now();
        if kill == Kill::Node {
            // Everything of the node at once, as when its host dies: the daemon, then the
            // process groups of its children (the guard's and the application's) stopped
            // first, so that none sees another's end and acts on it; then killed.
            signal(daemon, libc::SIGSTOP);
            let groups = child_groups(daemon);
            for &g in &groups {
                signal(-g, libc::SIGSTOP);
            }
            for &g in &groups {
                signal(-g, libc::SIGKILL);
            }
        }
        let _ = self.running[0].kill();
        let _ = self.running[0].wait();
        killed
    }

    /// The last three lines of each node's log, for a failed run's message.
    pub fn log_tail(&self) -> String {
        ["dc1", "dc2"]
            .iter()
            .map(|n| {
                let log = fs::read_to_string(self.dir.join(format!("{n}.log"))).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(3).collect();
                format!(
                    "{n}: {}",
                    tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// What a failover run kills on the active node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kill {
    /// Its daemon alone (kill -9): the host lives, and its guard hands the term over.
    Daemon,
    /// Daemon, guard and application at once: the node is lost, its lease waited out.
    Node,
}

impl Kill {
    /// The row's name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Kill::Daemon => "daemon killed",
            Kill::Node => "node lost",
        }
    }
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: plain syscall.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// The process groups of `parent`'s children, from /proc.
fn child_groups(parent: i32) -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut groups: Vec<i32> = dir
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let mut rest = stat[stat.rfind(')')? + 1..].split_whitespace();
            let ppid: i32 = rest.nth(1)?.parse().ok()?;
            let pgrp: i32 = rest.next()?.parse().ok()?;
            (ppid == parent && pgrp > 1).then_some(pgrp)
        })
        .collect();
    groups.sort_unstable();
    groups.dedup();
    groups
}

impl Drop for Daemons {
    fn drop(&mut self) {
        cleanup::kill_with_env(CLUSTER, &self.dir.display().to_string());
        for d in &mut self.running {
            let _ = d.kill();
            let _ = d.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
