//! The example pico (c-examples/pico.c, an application embedding the monitor server through
//! the C ABI), compiled against this build's `libhamon.a` as tests/c_examples.rs does, and
//! probed with the library's own client.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use hamon::monitor::state::State;
use hamon::probe::{ProbeCommand, ProbeRequest, probe};

use super::cleanup;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The newest `libhamon.a` next to this executable (`deps/`, where `cargo bench` puts the
/// library it built) or one directory up (where `cargo build --release` copies it).
fn static_lib() -> PathBuf {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let deps = exe.parent().expect("deps/");
    [deps, deps.parent().expect("the profile directory")]
        .iter()
        .map(|dir| dir.join("libhamon.a"))
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .max()
        .map(|(_, p)| p)
        .expect("no libhamon.a beside the benchmark: run `cargo build --release` first")
}

/// Compiles pico into `dir` with `$CC` (default `cc`), optimised; returns the executable.
pub fn build(dir: &Path) -> PathBuf {
    let out = dir.join("pico");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let status = cleanup::command(&cc)
        .args(["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror"])
        .arg(format!("-I{}", root().join("include").display()))
        .arg(root().join("c-examples/pico.c"))
        .arg(static_lib())
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?}: {e}"));
    assert!(
        status.success(),
        "compiling c-examples/pico.c failed: {status}"
    );
    out
}

/// A running pico; dropping it stops it (SIGTERM, then SIGKILL).
pub struct Pico {
    child: Child,
    /// Kept open so pico's last line ("pico: stopped") does not meet a closed pipe.
    _stdout: BufReader<ChildStdout>,
    pub port: u16,
}

impl Pico {
    /// Starts pico on `port` (0: any) and waits for its port line.
    pub fn start(exe: &Path, port: u16) -> Pico {
        let mut child = cleanup::command(exe)
            .env("HA_HOST", "127.0.0.1")
            .env("HA_PORT", port.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        stdout.read_line(&mut line).expect("read pico's port line");
        let port = line
            .strip_prefix("pico: listening on port ")
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from pico: {line:?}"));
        Pico {
            child,
            _stdout: stdout,
            port,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Pico {
    fn drop(&mut self) {
        // SAFETY: plain syscall on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        cleanup::reap_within(&mut self.child, Duration::from_secs(2));
    }
}

/// Whether a monitor server on `port` answers `check` with UP or DEGRADED within `timeout`.
pub fn healthy(port: u16, timeout: Duration) -> bool {
    let req = ProbeRequest {
        host: "127.0.0.1".into(),
        port,
        timeout,
        command: ProbeCommand::Check,
    };
    matches!(probe(&req), Ok(r) if matches!(r.state, State::Up | State::Degraded))
}

/// Polls `port` every `every` until it answers healthy; the time it took, or None after
/// `limit`.
pub fn wait_healthy(port: u16, every: Duration, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if healthy(port, Duration::from_millis(500)) {
            return Some(start.elapsed());
        }
        std::thread::sleep(every);
    }
    None
}
