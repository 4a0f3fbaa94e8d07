//! The application as a supervised process group: started with `/bin/sh -c`, in its own
//! session, killed with its parent (PR_SET_PDEATHSIG), stopped with TERM then KILL, and only
//! reported gone when its whole process group is empty.
//!
//! A start has two steps. `spawn_gated` creates the process group: its leader is a shell held
//! at a gate (it reads one line from a pipe) before it runs `hb.start_cmd`. The daemon hands
//! the group and its lease deadline to the guard, checks the lease again, and only then opens
//! the gate (`open_gate`). A daemon paused or killed in between leaves a group that has not
//! run anything and that the guard (or the closed pipe) ends.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::account::Account;

/// What happened to the application since the last poll.
#[derive(Debug, PartialEq, Eq)]
pub enum AppEvent {
    /// It exited (or was killed) without being asked to stop: `why` says how.
    Died(String),
    /// A stop (graceful or fence) completed: the whole group is gone.
    Stopped,
}

struct Running {
    child: Child,
    pgid: i32,
    started: Instant,
    /// The leader exited (status as text); members of the group may still be alive.
    leader_gone: Option<String>,
    /// Since when it is being stopped, and whether KILL was already sent.
    stopping: Option<(Instant, bool)>,
    stop_cmd: Option<Child>,
    /// The write end of the gate while it is closed.
    gate: Option<File>,
}

/// Run by the group's leader before the application: waits for the daemon's `go` on fd 3,
/// then becomes `/bin/sh -c "$1"` (same pid, so the group keeps its leader). End of file (the
/// daemon died) or anything else ends it.
const GATE: &str = "IFS= read -r hamon_gate <&3 || exit 111; exec 3<&-; \
                    [ \"$hamon_gate\" = go ] || exit 111; exec /bin/sh -c \"$1\"";

/// The application of this node.
pub struct App {
    node: String,
    start_cmd: String,
    stop_cmd: Option<String>,
    app_log: PathBuf,
    pgid_file: PathBuf,
    kill_budget: Duration,
    /// Who `hb.start_cmd` and `hb.stop_cmd` run as.
    account: Account,
    running: Option<Running>,
    /// How the last application's leader ended (its exit status), for the journal.
    last_exit: Option<String>,
}

/// Signals every process of group `pgid`; false when the group is empty (ESRCH).
pub fn signal_group(pgid: i32, sig: i32) -> bool {
    if pgid <= 1 {
        return false;
    }
    // SAFETY: plain syscall; a negative pid addresses the process group.
    let rc = unsafe { libc::kill(-pgid, sig) };
    rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Reaps every exited child of ours in group `pgid` (the daemon is a child subreaper, so the
/// application's orphans become its children; a zombie still counts as a group member).
pub fn reap_group(pgid: i32) {
    loop {
        let mut st = 0;
        // SAFETY: plain syscall with a valid out-pointer.
        let rc = unsafe { libc::waitpid(-pgid, &mut st, libc::WNOHANG) };
        if rc <= 0 {
            return;
        }
    }
}

/// Makes this process the reaper of its orphaned descendants (Linux 3.4+).
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: plain prctl.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Field 22 of /proc/PID/stat: the start time in clock ticks since boot.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (_, Some(s)) => format!("killed by signal {s}"),
        _ => status.to_string(),
    }
}

impl App {
    pub fn new(
        node: &str,
        start_cmd: &str,
        stop_cmd: Option<&str>,
        app_log: &Path,
        state_dir: &Path,
        kill_budget: Duration,
        account: Account,
    ) -> App {
        App {
            node: node.to_string(),
            start_cmd: start_cmd.to_string(),
            stop_cmd: stop_cmd.map(str::to_string),
            app_log: app_log.to_path_buf(),
            pgid_file: state_dir.join("app.pgid"),
            kill_budget,
            account,
            running: None,
            last_exit: None,
        }
    }

    /// Some(pgid) while any process of the application may exist.
    pub fn pgid(&self) -> Option<i32> {
        self.running.as_ref().map(|r| r.pgid)
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Running (past its gate) and not being stopped.
    pub fn is_serving(&self) -> bool {
        self.running
            .as_ref()
            .is_some_and(|r| r.stopping.is_none() && r.leader_gone.is_none() && r.gate.is_none())
    }

    /// Since when a stop that ended in SIGKILL has not emptied the group, once that is longer
    /// than the kill budget: an application SIGKILL cannot end (uninterruptible sleep).
    pub fn outlived_kill(&self) -> Option<Duration> {
        let r = self.running.as_ref()?;
        let (since, killed) = r.stopping?;
        (killed && since.elapsed() >= self.kill_budget).then(|| since.elapsed())
    }

    pub fn uptime(&self) -> Option<Duration> {
        self.running.as_ref().map(|r| r.started.elapsed())
    }

    /// An earlier run of this daemon ended while an application of it was recorded in
    /// `STATE_DIR/app.pgid` (a daemon that stops in order removes it).
    pub fn left_by_earlier_run(&self) -> bool {
        self.pgid_file.exists()
    }

    /// The process group left behind by an earlier run of this daemon, if it still has members
    /// (recorded in `STATE_DIR/app.pgid` with its leader's start time, so a reused pid is left
    /// alone); SIGKILL is sent to it. The record is removed once the group is gone.
    pub fn stray_group(&self) -> Option<i32> {
        let text = fs::read_to_string(&self.pgid_file).ok()?;
        let mut it = text.split_whitespace();
        let recorded = it
            .next()?
            .parse::<i32>()
            .ok()
            .zip(it.next()?.parse::<u64>().ok());
        let alive = recorded.and_then(|(pgid, started)| {
            let ours = start_time(pgid) == Some(started);
            (ours && signal_group(pgid, libc::SIGKILL)).then_some(pgid)
        });
        if alive.is_none() {
            let _ = fs::remove_file(&self.pgid_file);
        }
        alive
    }

    /// Kills the earlier run's group `pgid` again; false once it is gone (then the record
    /// goes too).
    pub fn kill_stray(&self, pgid: i32) -> bool {
        if signal_group(pgid, libc::SIGKILL) {
            return true;
        }
        let _ = fs::remove_file(&self.pgid_file);
        false
    }

    fn log_file(&self) -> io::Result<File> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.app_log)
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("hb.app_log {}: {e}", self.app_log.display()),
                )
            })
    }

    /// The application's log can be opened: checked when the daemon starts, so that a bad
    /// `hb.app_log` stops it there instead of failing every term it wins.
    pub fn check_log(&self) -> Result<(), String> {
        self.log_file()
            .map(drop)
            .map_err(|e| format!("cannot open the application's log: {e}"))
    }

    /// Creates the application's process group with `HB_EPOCH` and `HB_NODE`, its leader held
    /// at the gate: nothing of `hb.start_cmd` runs before [`App::open_gate`]. Must be called
    /// from the thread that lives as long as the daemon (PR_SET_PDEATHSIG fires when the
    /// forking thread ends).
    pub fn spawn_gated(&mut self, epoch: u64) -> io::Result<i32> {
        if let Some(r) = &self.running {
            return Ok(r.pgid);
        }
        let out = self.log_file()?;
        let err = out.try_clone()?;
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: fds is a valid array of two ints.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created and are owned here only.
        let (gate_r, gate_w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
        let gate_fd = gate_r.as_raw_fd();
        // SAFETY: getpid is async-signal-safe.
        let parent = unsafe { libc::getpid() };
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(GATE)
            .arg("/bin/sh")
            .arg(&self.start_cmd)
            .env("HB_EPOCH", epoch.to_string())
            .env("HB_NODE", &self.node)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        self.account.apply(&mut cmd);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) < 0
                {
                    return Err(io::Error::last_os_error());
                }
                // The daemon died between fork and prctl: the signal was missed.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                // The gate's read end becomes fd 3 (dup2 clears close-on-exec; when it is 3
                // already, clear it by hand).
                if gate_fd == 3 {
                    if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                        return Err(io::Error::last_os_error());
                    }
                } else if libc::dup2(gate_fd, 3) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        drop(gate_r);
        let pgid = child.id() as i32;
        if let Some(t) = start_time(pgid) {
            let _ = fs::write(&self.pgid_file, format!("{pgid} {t}\n"));
        }
        self.running = Some(Running {
            child,
            pgid,
            started: Instant::now(),
            leader_gone: None,
            stopping: None,
            stop_cmd: None,
            gate: Some(gate_w),
        });
        Ok(pgid)
    }

    /// Lets the group's leader run `hb.start_cmd`.
    pub fn open_gate(&mut self, epoch: u64) -> io::Result<()> {
        let r = self
            .running
            .as_mut()
            .ok_or_else(|| io::Error::other("no application"))?;
        let mut gate = r
            .gate
            .take()
            .ok_or_else(|| io::Error::other("the gate is open already"))?;
        gate.write_all(b"go\n")?;
        r.started = Instant::now();
        log::info!("started the application: pgid {}, epoch {epoch}", r.pgid);
        Ok(())
    }

    fn spawn_stop_cmd(&self, cmd: &str, pgid: i32) -> io::Result<Child> {
        let out = self.log_file()?;
        let err = out.try_clone()?;
        let mut stop = Command::new("/bin/sh");
        self.account.apply(&mut stop);
        stop.arg("-c")
            .arg(cmd)
            .env("HB_NODE", &self.node)
            .env("HB_APP_PGID", pgid.to_string())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
    }

    /// Graceful stop: `hb.stop_cmd`, else TERM to the group; KILL after the kill budget.
    pub fn stop(&mut self, why: &str) {
        let stop_cmd = self.stop_cmd.clone();
        let Some(r) = self.running.as_ref() else {
            return;
        };
        if r.stopping.is_some() {
            return;
        }
        let pgid = r.pgid;
        log::info!("stopping the application (pgid {pgid}): {why}");
        let child = match stop_cmd {
            Some(cmd) => match self.spawn_stop_cmd(&cmd, pgid) {
                Ok(c) => Some(c),
                Err(e) => {
                    log::error!("cannot run hb.stop_cmd: {e}; sending SIGTERM");
                    signal_group(pgid, libc::SIGTERM);
                    None
                }
            },
            None => {
                signal_group(pgid, libc::SIGTERM);
                None
            }
        };
        if let Some(r) = self.running.as_mut() {
            r.stopping = Some((Instant::now(), false));
            r.stop_cmd = child;
        }
    }

    /// Fence: KILL the whole group at once.
    pub fn kill(&mut self, why: &str) {
        if let Some(r) = self.running.as_mut() {
            if r.stopping.is_none_or(|(_, killed)| !killed) {
                log::warn!("killing the application (pgid {}): {why}", r.pgid);
            }
            signal_group(r.pgid, libc::SIGKILL);
            r.stopping = Some((r.stopping.map_or(Instant::now(), |s| s.0), true));
        }
    }

    /// Reaps, escalates a stop past the kill budget, and reports what happened.
    pub fn poll(&mut self) -> Option<AppEvent> {
        let budget = self.kill_budget;
        let r = self.running.as_mut()?;
        if let Some(c) = r.stop_cmd.as_mut()
            && let Ok(Some(_)) = c.try_wait()
        {
            r.stop_cmd = None;
        }
        // KILL at 4/5 of the budget, so the group is dead by the end of it; one still there
        // after that is never taken as gone (see `outlived_kill`).
        if let Some((since, false)) = r.stopping
            && since.elapsed() >= budget * 4 / 5
        {
            log::warn!(
                "the application (pgid {}) outlived the kill budget: SIGKILL",
                r.pgid
            );
            signal_group(r.pgid, libc::SIGKILL);
            r.stopping = Some((since, true));
        }
        let leader = match r.child.try_wait() {
            _ if r.leader_gone.is_some() => None,
            Ok(Some(status)) => Some(describe(status)),
            Ok(None) => None,
            // Reaped by reap_group below in an earlier poll.
            Err(_) => Some("exit status unknown".to_string()),
        };
        if let Some(status) = leader {
            r.leader_gone = Some(status.clone());
            if r.stopping.is_none() {
                // Died on its own: whatever is left of the group goes too.
                log::warn!("the application (pgid {}) exited: {status}", r.pgid);
                signal_group(r.pgid, libc::SIGKILL);
                let why = status;
                // Report the death now; Stopped follows when the group is empty.
                r.stopping = Some((Instant::now(), true));
                return Some(AppEvent::Died(why));
            }
        }
        if r.leader_gone.is_some() {
            reap_group(r.pgid);
        }
        if r.leader_gone.is_some() && !signal_group(r.pgid, 0) {
            if let Some(mut c) = r.stop_cmd.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
            log::info!("the application (pgid {}) is gone", r.pgid);
            self.last_exit = r.leader_gone.clone();
            self.running = None;
            let _ = fs::remove_file(&self.pgid_file);
            return Some(AppEvent::Stopped);
        }
        None
    }
}

impl App {
    /// How the leader of the last application that is gone ended.
    pub fn last_exit(&self) -> Option<&str> {
        self.last_exit.as_deref()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(r) = self.running.as_mut() {
            signal_group(r.pgid, libc::SIGKILL);
            let _ = r.child.wait();
        }
    }
}
