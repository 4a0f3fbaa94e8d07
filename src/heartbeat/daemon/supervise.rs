//! The application as a supervised process group: started with `/bin/sh -c`, in its own
//! session, killed with its parent (PR_SET_PDEATHSIG), stopped with TERM then KILL, and only
//! reported gone when its whole process group is empty.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

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
}

/// The application of this node.
pub struct App {
    node: String,
    start_cmd: String,
    stop_cmd: Option<String>,
    app_log: PathBuf,
    pgid_file: PathBuf,
    kill_budget: Duration,
    running: Option<Running>,
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
    ) -> App {
        App {
            node: node.to_string(),
            start_cmd: start_cmd.to_string(),
            stop_cmd: stop_cmd.map(str::to_string),
            app_log: app_log.to_path_buf(),
            pgid_file: state_dir.join("app.pgid"),
            kill_budget,
            running: None,
        }
    }

    /// Some(pgid) while any process of the application may exist.
    pub fn pgid(&self) -> Option<i32> {
        self.running.as_ref().map(|r| r.pgid)
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Running and not being stopped.
    pub fn is_serving(&self) -> bool {
        self.running
            .as_ref()
            .is_some_and(|r| r.stopping.is_none() && r.leader_gone.is_none())
    }

    pub fn uptime(&self) -> Option<Duration> {
        self.running.as_ref().map(|r| r.started.elapsed())
    }

    /// Kills a process group left behind by an earlier run of this daemon (recorded in
    /// `STATE_DIR/app.pgid` with its leader's start time, so a reused pid is left alone).
    /// Waits at most `patience` for it to go.
    pub fn kill_stray(&self, patience: Duration) -> Option<i32> {
        let text = fs::read_to_string(&self.pgid_file).ok()?;
        let mut it = text.split_whitespace();
        let pgid: i32 = it.next()?.parse().ok()?;
        let started: u64 = it.next()?.parse().ok()?;
        let ours = start_time(pgid) == Some(started);
        if ours && signal_group(pgid, libc::SIGKILL) {
            let until = Instant::now() + patience;
            while signal_group(pgid, 0) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = fs::remove_file(&self.pgid_file);
            return Some(pgid);
        }
        let _ = fs::remove_file(&self.pgid_file);
        None
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

    /// Starts the application with `HB_EPOCH` and `HB_NODE`. Must be called from the thread
    /// that lives as long as the daemon (PR_SET_PDEATHSIG fires when the forking thread ends).
    pub fn start(&mut self, epoch: u64) -> io::Result<i32> {
        if let Some(r) = &self.running {
            return Ok(r.pgid);
        }
        let out = self.log_file()?;
        let err = out.try_clone()?;
        // SAFETY: getpid is async-signal-safe.
        let parent = unsafe { libc::getpid() };
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(&self.start_cmd)
            .env("HB_EPOCH", epoch.to_string())
            .env("HB_NODE", &self.node)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
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
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        let pgid = child.id() as i32;
        if let Some(t) = start_time(pgid) {
            let _ = fs::write(&self.pgid_file, format!("{pgid} {t}\n"));
        }
        log::info!("started the application: pgid {pgid}, epoch {epoch}");
        self.running = Some(Running {
            child,
            pgid,
            started: Instant::now(),
            leader_gone: None,
            stopping: None,
            stop_cmd: None,
        });
        Ok(pgid)
    }

    fn spawn_stop_cmd(&self, cmd: &str, pgid: i32) -> io::Result<Child> {
        let out = self.log_file()?;
        let err = out.try_clone()?;
        Command::new("/bin/sh")
            .arg("-c")
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
        // KILL at 4/5 of the budget: the node takes the application as gone after the whole
        // budget, so the group must be dead by then.
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
            self.running = None;
            let _ = fs::remove_file(&self.pgid_file);
            return Some(AppEvent::Stopped);
        }
        None
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
