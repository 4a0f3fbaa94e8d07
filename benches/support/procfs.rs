//! Readers of /proc: memory, threads, per-thread context switches and CPU time, and the file
//! system a path lives on.

use std::fs;
use std::path::Path;
use std::time::Duration;

/// A `Key:   value kB` (or plain number) field of `/proc/PID/status`; `pid` may be "self".
pub fn status_field(pid: &str, key: &str) -> u64 {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

pub fn vm_rss_kib(pid: &str) -> u64 {
    status_field(pid, "VmRSS")
}

pub fn threads(pid: &str) -> u64 {
    status_field(pid, "Threads")
}

/// One thread of a process.
#[derive(Clone, Debug)]
pub struct Task {
    pub tid: String,
    pub name: String,
    /// Voluntary context switches: each is the thread going to sleep, so each stands for
    /// one wake-up (preemptions, the involuntary ones, are not counted).
    pub sleeps: u64,
    /// CPU time spent running (schedstat, nanoseconds).
    pub cpu: Duration,
}

/// Every thread of `pid` ("self" for this process).
pub fn tasks(pid: &str) -> Vec<Task> {
    let Ok(entries) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| {
            let tid = e.file_name().to_string_lossy().into_owned();
            let dir = e.path();
            let name = fs::read_to_string(dir.join("comm"))
                .unwrap_or_default()
                .trim_end()
                .to_string();
            let status = fs::read_to_string(dir.join("status")).unwrap_or_default();
            let sleeps = status
                .lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
            let cpu_ns = fs::read_to_string(dir.join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok())
                .unwrap_or(0);
            Task {
                tid,
                name,
                sleeps,
                cpu: Duration::from_nanos(cpu_ns),
            }
        })
        .collect()
}

/// CPU time of all live threads of `pid`.
pub fn cpu(pid: &str) -> Duration {
    tasks(pid).iter().map(|t| t.cpu).sum()
}

/// The file system type (`ext4`, `tmpfs`, ...) of the mount holding `path`.
pub fn filesystem_of(path: &Path) -> String {
    let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_dev, mount, fstype) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(mount)
                .then(|| (mount.len(), fstype.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, fstype)| fstype)
        .unwrap_or_else(|| "unknown".to_string())
}
