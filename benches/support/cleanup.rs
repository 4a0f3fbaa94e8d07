//! Every process a benchmark starts carries `HAMON_BENCH_OWNER=<the benchmark's pid>` in its
//! environment, and passes it on to whatever it starts in turn (daemons, their guards and
//! applications, shells, JVMs, namespaces). When the benchmark ends, normally, by a panic or
//! by SIGINT/SIGTERM/SIGHUP, it kills every process carrying its tag and removes its scratch
//! directory.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::cli::Options;

pub const OWNER: &str = "HAMON_BENCH_OWNER";

fn owner_tag() -> String {
    std::process::id().to_string()
}

/// A command for a child process: tagged, stdin from /dev/null.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env(OWNER, owner_tag()).stdin(Stdio::null());
    cmd
}

/// Waits up to `grace` for a child asked to stop, then kills it; reaps it either way.
pub fn reap_within(child: &mut Child, grace: Duration) {
    let until = Instant::now() + grace;
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Live processes (not zombies) whose environment holds `key=value`, this one excepted.
pub fn pids_with_env(key: &str, value: &str) -> Vec<i32> {
    let needle = format!("{key}={value}");
    let me = std::process::id() as i32;
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// Kills (SIGCONT first, for stopped ones) every process whose environment holds
/// `key=value`, and waits up to 5 s for them to be gone.
pub fn kill_with_env(key: &str, value: &str) {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let pids = pids_with_env(key, value);
        if pids.is_empty() || Instant::now() >= until {
            return;
        }
        for pid in pids {
            // SAFETY: plain syscalls on a pid.
            unsafe {
                libc::kill(pid, libc::SIGCONT);
                libc::kill(pid, libc::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn clean_up(scratch: &Path) {
    kill_with_env(OWNER, &owner_tag());
    let _ = fs::remove_dir_all(scratch);
}

/// The benchmark's scratch directory and its cleanup. Dropping it kills every tagged process
/// and removes the directory.
pub struct Guard {
    scratch: PathBuf,
}

impl Guard {
    /// Call first in `main`, before any thread starts: SIGINT, SIGTERM and SIGHUP are blocked
    /// in every thread (children get a clean mask from `Command`) and taken by one thread
    /// that cleans up and exits 130.
    pub fn install(opts: &Options, name: &str) -> Guard {
        let scratch = opts
            .scratch_root
            .join(format!("hamon-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&scratch);
        fs::create_dir_all(&scratch)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", scratch.display()));
        // SAFETY: the set is initialised by sigemptyset before use; no other thread exists.
        let set = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                libc::sigaddset(&mut set, sig);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            set
        };
        let dir = scratch.clone();
        std::thread::Builder::new()
            .name("bench-signals".into())
            .spawn(move || {
                let mut sig = 0;
                // SAFETY: set is a valid, initialised signal set.
                unsafe { libc::sigwait(&set, &mut sig) };
                eprintln!("\ninterrupted (signal {sig}): stopping every process started");
                clean_up(&dir);
                std::process::exit(130);
            })
            .expect("start the signal thread");
        Guard { scratch }
    }

    pub fn scratch(&self) -> &Path {
        &self.scratch
    }

    /// A new directory inside the scratch directory.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let dir = self.scratch.join(name);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        dir
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        clean_up(&self.scratch);
    }
}
