//! The parent's handle on the server process (serve.rs): its port, its CPU time, and how
//! often its check callback has run. Dropping it stops the process.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::time::Duration;

use crate::serve::{ROLE, ROLE_ENV};
use crate::support::{cleanup, procfs};

pub struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    pub port: u16,
}

/// The check callback's invocations so far, and how long the server has been up.
pub struct Runs {
    pub runs: u64,
    pub uptime: Duration,
}

impl ServerProcess {
    pub fn start() -> ServerProcess {
        let exe = std::env::current_exe().expect("this program's path");
        let mut child = cleanup::command(exe)
            .env(ROLE_ENV, ROLE)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the server process");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the server's port line");
        let port = line
            .strip_prefix("port ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected line from the server: {line:?}"));
        ServerProcess {
            child,
            stdin,
            stdout,
            port,
        }
    }

    /// CPU time of all the server's threads so far.
    pub fn cpu(&self) -> Duration {
        procfs::cpu(&self.child.id().to_string())
    }

    pub fn runs(&mut self) -> Runs {
        let stdin = self.stdin.as_mut().expect("the server is running");
        writeln!(stdin, "runs?")
            .and_then(|()| stdin.flush())
            .expect("ask the server");
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("the server's answer");
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["runs", runs, "uptime_ms", ms] => Runs {
                runs: runs.parse().expect("a count"),
                uptime: Duration::from_millis(ms.parse().expect("milliseconds")),
            },
            _ => panic!("unexpected answer from the server: {line:?}"),
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        cleanup::reap_within(&mut self.child, Duration::from_secs(3));
    }
}
