//! Child processes for the tests: killed and reaped when dropped (also when a test panics),
//! with stdout read line by line in the background and stderr collected.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Long enough for a loaded CI machine running a debug build; every wait polls.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct Running {
    child: Child,
    stdout_lines: Option<Receiver<String>>,
    stderr: Option<JoinHandle<String>>,
    /// Every stdout line taken so far, for failure messages.
    pub seen: Vec<String>,
}

impl Running {
    pub fn spawn(cmd: &mut Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        Running {
            child,
            stdout_lines: Some(read_lines(stdout)),
            stderr: Some(thread::spawn(move || {
                let mut text = String::new();
                let _ = stderr.read_to_string(&mut text);
                text
            })),
            seen: Vec::new(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line on stdout, waiting at most `timeout`.
    pub fn next_line(&mut self, timeout: Duration) -> Option<String> {
        let line = self.stdout_lines.as_ref()?.recv_timeout(timeout).ok()?;
        self.seen.push(line.clone());
        Some(line)
    }

    /// The next stdout line if one is there already.
    pub fn try_line(&mut self) -> Option<String> {
        let line = self.stdout_lines.as_ref()?.try_recv().ok()?;
        self.seen.push(line.clone());
        Some(line)
    }

    /// SIGKILL, then reap; returns stderr.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }

    /// Waits for the process to exit (killing it and failing after `timeout`); returns its
    /// status, the stdout lines not taken before, and all of stderr.
    pub fn finish(mut self, timeout: Duration) -> (ExitStatus, Vec<String>, String) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let status = self.child.wait().expect("wait");
                let stderr = self.stderr.take().and_then(|h| h.join().ok());
                panic!(
                    "process {} did not exit within {timeout:?} (killed: {status}); stdout:\n{}\nstderr:\n{}",
                    self.child.id(),
                    self.seen.join("\n"),
                    stderr.unwrap_or_default()
                );
            }
            thread::sleep(Duration::from_millis(10));
        };
        // The reader threads end at EOF, which follows the exit.
        let rest = self
            .stdout_lines
            .take()
            .map(|rx| rx.iter().collect())
            .unwrap_or_default();
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        (status, rest, stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn read_lines(stdout: ChildStdout) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Runs a short-lived program to completion (at most `PATIENCE`).
pub fn run(cmd: &mut Command) -> (ExitStatus, String, String) {
    let (status, lines, stderr) = Running::spawn(cmd).finish(PATIENCE);
    (status, lines.join("\n"), stderr)
}

/// Sends SIGTERM through kill(1): the tests use std only, and std has no signal API.
pub fn sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM {pid}: {status}");
}

/// Polls `probe` until it gives `Some`, for at most `PATIENCE`; the panic shows `last`.
pub fn wait_for<T>(what: &str, probe: impl FnMut(&mut String) -> Option<T>) -> T {
    wait_within(PATIENCE, what, probe)
}

/// Polls `probe` until it gives `Some`, for at most `patience`; the panic shows `last`.
pub fn wait_within<T>(
    patience: Duration,
    what: &str,
    mut probe: impl FnMut(&mut String) -> Option<T>,
) -> T {
    let deadline = Instant::now() + patience;
    let mut last = String::new();
    loop {
        if let Some(v) = probe(&mut last) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "waited {patience:?} in vain for {what}; last seen:\n{last}"
        );
        thread::sleep(Duration::from_millis(25));
    }
}

/// How a process ended and what it printed.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Finished {
    pub fn show(&self) -> String {
        format!(
            "{} after {:?}\n--- stdout:\n{}--- stderr:\n{}",
            self.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Runs a command to completion, killing it (and failing) after `limit`. Its stdout and
/// stderr must close when it exits: a cluster manager reading them would hang on a
/// background process that kept them open, so that is a test failure too.
pub fn run_to_end(cmd: &mut Command, limit: Duration) -> Finished {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let (tx, rx) = mpsc::channel();
    let pipes: [Box<dyn Read + Send>; 2] = [
        Box::new(child.stdout.take().expect("stdout")),
        Box::new(child.stderr.take().expect("stderr")),
    ];
    for (i, mut pipe) in pipes.into_iter().enumerate() {
        let tx = tx.clone();
        thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            let _ = tx.send((i, String::from_utf8_lossy(&bytes).into_owned()));
        });
    }
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let status = child.wait().expect("wait");
            // Grandchildren may hold the pipes: take what came within a moment.
            let out: Vec<String> = (0..2)
                .filter_map(|_| rx.recv_timeout(Duration::from_secs(2)).ok())
                .map(|(_, text)| text)
                .collect();
            panic!(
                "{cmd:?} still ran after {limit:?}; killed ({status})\n--- output:\n{}",
                out.join("\n---\n")
            );
        }
        thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    let mut out = [String::new(), String::new()];
    for _ in 0..2 {
        let (i, text) = rx.recv_timeout(Duration::from_secs(5)).unwrap_or_else(|_| {
            panic!(
                "{cmd:?} exited ({status}) but something it started keeps its stdout or stderr open"
            )
        });
        out[i] = text;
    }
    let [stdout, stderr] = out;
    Finished {
        status,
        stdout,
        stderr,
        elapsed,
    }
}
