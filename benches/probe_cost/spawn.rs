//! Runs one client as a whole process and measures it: wall time from spawn to reaping,
//! and its CPU time from wait4(2).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Run {
    pub wall: Duration,
    /// User plus system time of the process (and of any children it waited for).
    pub cpu: Duration,
    /// The exit code, or None when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
}

pub fn run(cmd: &mut Command) -> Run {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // Reaped here rather than by Child::wait, which cannot report the child's rusage;
    // `child` is not used afterwards (dropping a Child neither waits nor kills).
    let rc = loop {
        // SAFETY: pid is our own unreaped child; both pointers are valid.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc >= 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            break rc;
        }
    };
    let wall = start.elapsed();
    assert_eq!(
        rc,
        pid,
        "wait4 on {cmd:?}: {}",
        std::io::Error::last_os_error()
    );
    drop(child);
    Run {
        wall,
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout,
    }
}
