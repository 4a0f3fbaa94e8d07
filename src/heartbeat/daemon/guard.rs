//! The fencing backstop: a separate process (`ha-heartbeat guard`, in its own session) that
//! kills the application's process group when the lease deadline the daemon last sent passes
//! without a newer one, e.g. because the daemon is paused (SIGSTOP) or hung. It also kills
//! the group when the daemon dies (its pipe closes) while an application is recorded.
//!
//! Protocol on the guard's stdin: one line per daemon tick, `PGID DEADLINE_NS`, where
//! DEADLINE_NS is on CLOCK_BOOTTIME (same host); PGID 0 means no application.

use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

use super::supervise::signal_group;
use crate::heartbeat::node::boottime;

fn kill_group(pgid: i32, why: &str) {
    if pgid > 1 && signal_group(pgid, libc::SIGKILL) {
        eprintln!("ha-heartbeat guard: {why}: killed the application's process group {pgid}");
    }
}

/// Input (or the end of it) is waiting on `fd`.
fn readable_now(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; a zero timeout never blocks.
    unsafe { libc::poll(&mut pfd, 1, 0) > 0 }
}

/// The guard's main loop over `fd` (its stdin). Returns the exit code.
pub fn guard_main(fd: RawFd) -> i32 {
    let mut pgid: i32 = 0;
    let mut deadline: u64 = 0;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let now = boottime();
        // A guard that was not scheduled for a while must read what the daemon sent in the
        // meantime before it judges the deadline: a newer one may be waiting in the pipe.
        if pgid != 0 && now >= deadline && !readable_now(fd) {
            kill_group(pgid, "the lease deadline passed without renewal");
            pgid = 0;
        }
        let timeout_ms: i32 = if pgid != 0 {
            (deadline.saturating_sub(now) / 1_000_000 + 1).min(60_000) as i32
        } else {
            60_000
        };
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if rc < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            kill_group(pgid, "poll failed");
            return 1;
        }
        if rc == 0 {
            continue;
        }
        let mut chunk = [0u8; 4096];
        // SAFETY: chunk is a valid buffer of its length.
        let n = unsafe { libc::read(fd, chunk.as_mut_ptr().cast(), chunk.len()) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            kill_group(pgid, "cannot read from the daemon");
            return 1;
        }
        if n == 0 {
            // The daemon is gone: whatever application it left must go too.
            kill_group(pgid, "the daemon went away");
            return 0;
        }
        buf.extend_from_slice(&chunk[..n as usize]);
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line);
            let mut it = text.split_whitespace();
            if let (Some(Ok(p)), Some(Ok(d))) = (
                it.next().map(str::parse::<i32>),
                it.next().map(str::parse::<u64>),
            ) {
                if p != pgid && pgid != 0 && p != 0 {
                    // A new application while the old one is recorded: should not happen.
                    kill_group(pgid, "replaced by a new application");
                }
                pgid = p;
                deadline = d;
            }
        }
        if buf.len() > 65536 {
            buf.clear();
        }
    }
}

/// The daemon's end of the guard.
pub struct Guard {
    child: Child,
    stdin: Option<ChildStdin>,
    last: (i32, u64),
}

impl Guard {
    /// Starts `exe guard` in its own session (not the daemon's process group, so a signal
    /// to the daemon's group does not reach it).
    pub fn spawn(exe: &Path) -> io::Result<Guard> {
        let mut cmd = Command::new(exe);
        cmd.arg("guard")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take();
        Ok(Guard {
            child,
            stdin,
            last: (-1, 0),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Tells the guard the current application group and lease deadline (boot clock ns).
    pub fn send(&mut self, pgid: i32, deadline: u64) -> io::Result<()> {
        if self.last == (pgid, deadline) {
            return Ok(());
        }
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::other("guard pipe closed"))?;
        let line = format!("{pgid} {deadline}\n");
        stdin.write_all(line.as_bytes())?;
        self.last = (pgid, deadline);
        Ok(())
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Closes the pipe and waits for the guard to exit.
    pub fn close(mut self) {
        self.stdin.take();
        let _ = self.child.wait();
    }

    pub fn raw_fd(&self) -> Option<RawFd> {
        self.stdin.as_ref().map(|s| s.as_raw_fd())
    }
}
