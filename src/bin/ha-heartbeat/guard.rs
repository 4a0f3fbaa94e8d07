//! The fencing backstop: a separate process (`ha-heartbeat guard`, in its own session) that
//! kills the application's process group when the lease deadline it holds passes without a
//! newer one, e.g. because the daemon is paused (SIGSTOP, a VM freeze, a debugger) or hung. It
//! also kills the group when the daemon dies (its pipe closes) while an application is held.
//!
//! Protocol: the daemon writes one line per change to the guard's stdin, `PGID DEADLINE_NS`,
//! where DEADLINE_NS is an absolute instant of CLOCK_BOOTTIME (the clock of the heartbeat's
//! lease; PGID 0 means no application). The guard answers every line, once it holds it, with
//! the same line on its stdout. The daemon lets a new application run only after that answer
//! (see `App::spawn_gated`), so no application ever runs that the guard does not know of.
//!
//! The daemon also tells the guard the term it holds, `term file EPOCH INCARNATION`, `term
//! etcd EPOCH LEASE` or `term none` (not answered). When the daemon dies while it holds one, the
//! guard hands it over once the application's group is gone (`guard_handover`).
//!
//! The guard waits on a timerfd of CLOCK_BOOTTIME set to the absolute deadline: it compares on
//! the same clock as the lease, and a timer that expired during a suspend fires on resume.
//! Where no such timer can be set it polls, at least every 100 ms, and compares on the same
//! clock after every wake.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use super::guard_handover::HandOver;
use super::guard_held::Held;
use super::supervise::signal_group;
use hamon::heartbeat::handover::Term;
use hamon::heartbeat::node::boottime;

fn kill_group(pgid: i32, why: &str) {
    if pgid > 1 && signal_group(pgid, libc::SIGKILL) {
        log::error!("{why}: killed the application's process group {pgid}");
    }
}

/// Without a CLOCK_BOOTTIME timer, the longest the guard sleeps while it holds a group.
const POLL_EVERY_MS: u64 = 100;

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

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain fcntl calls on a descriptor we hold.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A timerfd on CLOCK_BOOTTIME.
struct BootTimer(RawFd);

impl BootTimer {
    fn new() -> io::Result<BootTimer> {
        // SAFETY: plain syscall.
        let fd = unsafe {
            libc::timerfd_create(libc::CLOCK_BOOTTIME, libc::TFD_CLOEXEC | libc::TFD_NONBLOCK)
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(BootTimer(fd))
    }

    /// Fires at the absolute boot-clock instant `at` (ns); 0 disarms.
    fn set(&self, at: u64) -> io::Result<()> {
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (at / 1_000_000_000) as libc::time_t,
                tv_nsec: (at % 1_000_000_000) as libc::c_long,
            },
        };
        // SAFETY: a valid itimerspec; the old value is not wanted.
        let rc = unsafe {
            libc::timerfd_settime(self.0, libc::TFD_TIMER_ABSTIME, &spec, std::ptr::null_mut())
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Consumes an expiry, if any.
    fn clear(&self) {
        let mut n = [0u8; 8];
        // SAFETY: a valid 8-byte buffer; the descriptor is non-blocking.
        unsafe {
            libc::read(self.0, n.as_mut_ptr().cast(), n.len());
        }
    }
}

impl Drop for BootTimer {
    fn drop(&mut self) {
        // SAFETY: our own descriptor, closed once.
        unsafe {
            libc::close(self.0);
        }
    }
}

/// Parses `PGID DEADLINE_NS`.
fn parse_line(line: &str) -> Option<(i32, u64)> {
    let mut it = line.split_whitespace();
    let pgid = it.next()?.parse().ok()?;
    let deadline = it.next()?.parse().ok()?;
    it.next().is_none().then_some((pgid, deadline))
}

/// The guard's main loop over `fd` (its stdin), answering on `ack` (its stdout). With
/// `handover` (the daemon's settings could be read), a term the daemon held when it died is
/// handed over. Returns the exit code.
pub fn guard_main(fd: RawFd, ack: RawFd, mut handover: Option<HandOver>) -> i32 {
    let mut timer = match BootTimer::new() {
        Ok(t) => Some(t),
        Err(e) => {
            log::warn!("no CLOCK_BOOTTIME timer ({e}): polling instead");
            None
        }
    };
    // An answer must never block the guard: the daemon reads them, and drops what it missed.
    if let Err(e) = set_nonblocking(ack) {
        log::error!("cannot make its answers non-blocking: {e}");
        return 1;
    }
    let mut pgid: i32 = 0;
    let mut deadline: u64 = 0;
    // The term the daemon holds, and the last group it handed over (also after a kill at the
    // deadline): a hand-over waits until that group is empty.
    let mut term: Option<Term> = None;
    let mut last_group: i32 = 0;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // A guard that was not scheduled for a while must read what the daemon sent in the
        // meantime before it judges the deadline: a newer one may be waiting in the pipe.
        if pgid != 0 && boottime() >= deadline && !readable_now(fd) {
            kill_group(pgid, "the lease deadline passed without renewal");
            pgid = 0;
        }
        if let Some(Err(e)) = timer
            .as_ref()
            .map(|t| t.set(if pgid != 0 { deadline.max(1) } else { 0 }))
        {
            log::warn!("cannot set its CLOCK_BOOTTIME timer ({e}): polling instead");
            timer = None;
        }
        // Without the timer: wake at the deadline, and at least every POLL_EVERY_MS, so that a
        // deadline that passed during a suspend (not counted by poll) is late by that at most.
        let timeout_ms: i32 = match (&timer, pgid) {
            (None, p) if p != 0 => {
                let left = deadline.saturating_sub(boottime()) / 1_000_000 + 1;
                left.min(POLL_EVERY_MS) as i32
            }
            _ => -1,
        };
        let mut pfd = [
            libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: timer.as_ref().map_or(-1, |t| t.0),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfds (a negative fd is ignored).
        let rc = unsafe { libc::poll(pfd.as_mut_ptr(), 2, timeout_ms) };
        if rc < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            kill_group(pgid, "poll failed");
            return 1;
        }
        if pfd[1].revents != 0
            && let Some(t) = &timer
        {
            t.clear();
        }
        if pfd[0].revents == 0 {
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
            if let (Some(t), Some(h)) = (&term, handover.as_mut()) {
                h.run(t, last_group);
            }
            return 0;
        }
        buf.extend_from_slice(&chunk[..n as usize]);
        let mut answers = Vec::new();
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line);
            if let Some(t) = Term::parse_line(&text) {
                term = t;
            } else if let Some((p, d)) = parse_line(&text) {
                if p != pgid && pgid != 0 && p != 0 {
                    // A new application while the old one is held: should not happen.
                    kill_group(pgid, "replaced by a new application");
                }
                pgid = p;
                deadline = d;
                if p != 0 {
                    last_group = p;
                }
                answers.extend_from_slice(&line);
            }
        }
        if pgid != 0 && boottime() >= deadline {
            kill_group(
                pgid,
                "the lease deadline had passed when it was handed over",
            );
            pgid = 0;
        }
        // SAFETY: a valid buffer; a short or failed write only loses answers.
        unsafe {
            libc::write(ack, answers.as_ptr().cast(), answers.len());
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
    answers: ChildStdout,
    pending: Vec<u8>,
    last: (i32, u64),
    /// The term line sent last.
    last_term: Option<String>,
    /// The deadlines it may be acting on.
    held: Held,
}

impl Guard {
    /// Starts `exe guard` in its own session (not the daemon's process group, so a signal
    /// to the daemon's group does not reach it), logging to `log_file` as well as to the
    /// daemon's stderr, with the daemon's configuration file `config` (what it needs to hand
    /// a term over).
    pub fn spawn(exe: &Path, log_file: Option<&Path>, config: Option<&Path>) -> io::Result<Guard> {
        let mut cmd = Command::new(exe);
        cmd.arg("guard");
        if let Some(f) = log_file {
            cmd.arg("--log-file").arg(f);
        }
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
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
        let answers = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no pipe"))?;
        set_nonblocking(answers.as_raw_fd())?;
        Ok(Guard {
            child,
            stdin,
            answers,
            pending: Vec::new(),
            last: (-1, 0),
            last_term: None,
            held: Held::default(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn write_line(&mut self, pgid: i32, deadline: u64) -> io::Result<String> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::other("guard pipe closed"))?;
        let line = format!("{pgid} {deadline}\n");
        stdin.write_all(line.as_bytes())?;
        self.last = (pgid, deadline);
        self.held.sent(pgid, deadline);
        Ok(line)
    }

    /// Reads the answers that are waiting; true when `line` is among them.
    fn read_answers(&mut self, line: &str) -> io::Result<bool> {
        let mut found = false;
        let mut chunk = [0u8; 4096];
        loop {
            match self.answers.read(&mut chunk) {
                Ok(0) => return Err(io::Error::other("the guard closed its answers")),
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let got: Vec<u8> = self.pending.drain(..=end).collect();
            found |= got == line.as_bytes();
            if let Some((pgid, deadline)) = parse_line(&String::from_utf8_lossy(&got)) {
                self.held.answered(pgid, deadline);
            }
        }
        Ok(found)
    }

    /// Group `pgid`, seen gone at `now` (boot clock), may have been killed by this guard at
    /// its lease deadline (see `guard_held`).
    pub fn killed_at_deadline(&self, pgid: i32, now: u64) -> bool {
        self.held.killed_at_deadline(pgid, now)
    }

    /// Tells the guard the current application group and lease deadline (boot clock ns),
    /// without waiting for its answer.
    pub fn send(&mut self, pgid: i32, deadline: u64) -> io::Result<()> {
        self.read_answers("")?;
        if self.last == (pgid, deadline) {
            return Ok(());
        }
        self.write_line(pgid, deadline).map(drop)
    }

    /// Tells the guard the term the node holds (None: none), for a hand-over should the
    /// daemon die; sent only when it changed, not answered.
    pub fn send_term(&mut self, term: Option<&Term>) -> io::Result<()> {
        let line = term.map_or_else(|| "term none".to_string(), Term::to_line);
        if self.last_term.as_deref() == Some(line.as_str()) {
            return Ok(());
        }
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::other("guard pipe closed"))?;
        stdin.write_all(format!("{line}\n").as_bytes())?;
        self.last_term = Some(line);
        Ok(())
    }

    /// Tells the guard the application group and its absolute lease deadline, and waits until
    /// the guard answers that it holds them, at most until `until` on the boot clock.
    pub fn hand_off(&mut self, pgid: i32, deadline: u64, until: u64) -> io::Result<()> {
        let line = self.write_line(pgid, deadline)?;
        loop {
            if self.read_answers(&line)? {
                return Ok(());
            }
            let now = boottime();
            if now >= until {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the guard did not answer in time",
                ));
            }
            let wait = Duration::from_nanos(until - now).as_millis().clamp(1, 1000) as i32;
            let mut pfd = libc::pollfd {
                fd: self.answers.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe {
                libc::poll(&mut pfd, 1, wait);
            }
        }
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Closes the pipe and waits for the guard to exit.
    pub fn close(mut self) {
        self.stdin.take();
        let _ = self.child.wait();
    }

    /// Kills a guard that does not answer (it holds nothing the daemon still relies on: the
    /// daemon stops or kills the application itself).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{FromRawFd, OwnedFd};

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: fds is a valid array of two ints.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: both were just created and are owned here only.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    /// The guard answers a line only once it holds it, kills the group at the absolute
    /// deadline and not before, and at once when a deadline arrives already passed.
    #[test]
    fn the_guard_answers_and_kills_at_the_absolute_deadline() {
        let (in_r, in_w) = pipe();
        let (ack_r, ack_w) = pipe();
        let (in_fd, ack_fd) = (in_r.as_raw_fd(), ack_w.as_raw_fd());
        let guard = std::thread::spawn(move || {
            let code = guard_main(in_fd, ack_fd, None);
            drop((in_r, ack_w));
            code
        });
        let group = |secs: &str| {
            let c = Command::new("sleep")
                .arg(secs)
                .process_group(0)
                .spawn()
                .unwrap();
            (c.id() as i32, c)
        };
        let mut input = std::fs::File::from(in_w);
        let mut answers = std::fs::File::from(ack_r);
        let mut ask = |line: String| {
            input.write_all(line.as_bytes()).unwrap();
            let mut got = vec![0u8; line.len()];
            answers.read_exact(&mut got).unwrap();
            assert_eq!(String::from_utf8(got).unwrap(), line);
        };
        let (pgid, mut child) = group("30");
        let deadline = boottime() + 300_000_000;
        ask(format!("{pgid} {deadline}\n"));
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            child.try_wait().unwrap().is_none(),
            "killed before the deadline"
        );
        let status = child.wait().unwrap();
        assert!(
            boottime() >= deadline,
            "killed {} ns early",
            deadline - boottime()
        );
        assert!(!status.success());

        let (pgid, mut child) = group("30");
        ask(format!("{pgid} {}\n", boottime() - 1));
        assert!(
            !child.wait().unwrap().success(),
            "a passed deadline kills at once"
        );

        // The daemon goes: the guard kills what it holds and exits.
        let (pgid, mut child) = group("30");
        ask(format!("{pgid} {}\n", boottime() + 60_000_000_000));
        drop(input);
        assert!(!child.wait().unwrap().success());
        assert_eq!(guard.join().unwrap(), 0);
    }

    #[test]
    fn lines_are_two_numbers() {
        assert_eq!(parse_line("123 456\n"), Some((123, 456)));
        assert_eq!(parse_line("0 0"), Some((0, 0)));
        assert_eq!(parse_line("123"), None);
        assert_eq!(parse_line("1 2 3"), None);
        assert_eq!(parse_line("x 2"), None);
    }
}
