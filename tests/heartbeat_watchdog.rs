//! `hb.watchdog_device` with real daemons (the harness is tests/common/cluster.rs): a FIFO or
//! a plain file stands in for /dev/watchdog. The daemon pets it while it runs, stops while it
//! is paused, writes the magic close 'V' on an orderly shutdown, and refuses a device it
//! cannot open or a setting it cannot use, naming the key.
//!
//! Linux only; needs /bin/sh and /proc/uptime.

#![cfg(target_os = "linux")]

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use crate::common;

use common::cluster::*;

/// The test's end of a FIFO standing in for the device: every byte with when it was read.
struct FifoReader {
    file: File,
    got: Vec<(u64, u8)>,
}

impl FifoReader {
    /// Creates the FIFO and opens its read end (before the daemon opens the write end, which
    /// a FIFO without a reader refuses).
    fn create(path: &Path) -> FifoReader {
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .unwrap();
        FifoReader {
            file,
            got: Vec::new(),
        }
    }

    /// Reads what is waiting, without blocking; returns how many bytes came.
    fn drain(&mut self) -> usize {
        let mut buf = [0u8; 256];
        let mut n = 0;
        loop {
            match self.file.read(&mut buf) {
                Ok(0) => return n,
                Ok(k) => {
                    let t = mono_ns();
                    self.got.extend(buf[..k].iter().map(|b| (t, *b)));
                    n += k;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return n,
                Err(e) => panic!("reading the FIFO: {e}"),
            }
        }
    }

    /// Reads for `window`, every 10 ms.
    fn collect(&mut self, window: Duration) {
        let until = Instant::now() + window;
        while Instant::now() < until {
            self.drain();
            std::thread::sleep(ms(10));
        }
    }
}

fn wait_exit(c: &mut Cluster, node: &str, timeout: Duration) -> ExitStatus {
    let i = c.idx(node);
    let child = c.daemons[i].as_mut().unwrap();
    let mut status = None;
    let exited = wait_until(timeout, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    assert!(exited, "{node} did not exit\n{}", c.logs());
    c.daemons[i] = None;
    status.unwrap()
}

/// How long a stopped daemon takes to shut down: stop the application (K), write RELEASED.
fn shutdown_time() -> Duration {
    FAST.kill_budget + FAST.loop_turn() * 2
}

#[test]
fn a_fifo_device_is_petted_while_the_daemon_runs_not_while_paused_and_closed_with_v() {
    let mut c = Cluster::new("wdfifo", &["n1"], "");
    let device = c.dir.join("watchdog");
    let mut fifo = FifoReader::create(&device);
    c.add_conf("n1", &format!("hb.watchdog_device={}\n", device.display()));
    c.start("n1");
    let app = c.wait_running_on(|_| true, ms(D + 3000));

    // Running: a pet every loop turn, never a gap a device of the largest safe timeout
    // (the timing's watchdog limit) would fire at.
    fifo.drain();
    fifo.got.clear();
    let window = ms(20 * P);
    fifo.collect(window);
    let times: Vec<u64> = fifo.got.iter().map(|(t, _)| *t).collect();
    assert!(fifo.got.iter().all(|(_, b)| *b == b'.'), "{:?}", fifo.got);
    let turns = (window.as_millis() / FAST.loop_turn().as_millis()) as usize;
    assert!(
        times.len() >= turns,
        "{} pets in {window:?}, expected one per loop turn at least ({turns})\n{}",
        times.len(),
        c.logs()
    );
    let gap = times.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    eprintln!(
        "{} pets in {} ms, largest gap {} ms",
        times.len(),
        window.as_millis(),
        gap / 1_000_000
    );
    assert!(
        Duration::from_nanos(gap) < FAST.watchdog_device_limit(),
        "a gap of {} ms between pets",
        gap / 1_000_000
    );

    // Paused: once SIGSTOP took effect, not one pet for twice the largest safe device
    // timeout: a real device would have reset the host.
    let pid = c.pid("n1");
    signal(pid, libc::SIGSTOP);
    assert!(wait_until(ms(F1), || pid_stopped(pid)), "not paused");
    fifo.drain();
    let before = fifo.got.len();
    fifo.collect(FAST.watchdog_device_limit() * 2);
    assert_eq!(
        fifo.got.len(),
        before,
        "pets while paused: {:?}",
        &fifo.got[before..]
    );
    // Its lease ran out meanwhile: the guard killed the application.
    assert!(!pid_alive(app.pid), "{}", c.logs());

    // Resumed: it finds its application gone, and pets again.
    signal(pid, libc::SIGCONT);
    let resumed = wait_until(shutdown_time(), || fifo.drain() > 0);
    assert!(resumed, "no pets after SIGCONT\n{}", c.logs());

    // SIGTERM: the application is stopped, and the last byte is the magic close.
    signal(pid, libc::SIGTERM);
    let status = wait_exit(&mut c, "n1", shutdown_time() * 2);
    assert!(status.success(), "{status}\n{}", c.logs());
    fifo.drain();
    let bytes: Vec<u8> = fifo.got.iter().map(|(_, b)| *b).collect();
    assert_eq!(bytes.last(), Some(&b'V'), "{}", c.logs());
    assert_eq!(bytes.iter().filter(|b| **b == b'V').count(), 1);
    assert!(
        c.log("n1").contains("not a watchdog driver"),
        "{}",
        c.logs()
    );
    assert!(c.log("n1").contains("disarmed"), "{}", c.logs());
}

#[test]
fn a_plain_file_device_grows_while_the_daemon_runs_and_ends_with_v() {
    let mut c = Cluster::new("wdfile", &["n1"], "");
    let device = c.dir.join("watchdog");
    fs::write(&device, b"").unwrap();
    c.add_conf("n1", &format!("hb.watchdog_device={}\n", device.display()));
    c.start("n1");
    c.wait_running_on(|_| true, ms(D + 3000));
    let size = || fs::metadata(&device).unwrap().len();
    let first = size();
    // At least a pet per loop turn: ten more within ten turns and a half.
    assert!(
        wait_until(FAST.loop_turn() * 21 / 2, || size() >= first + 10),
        "{} bytes after {} ms\n{}",
        size(),
        (FAST.loop_turn() * 21 / 2).as_millis(),
        c.logs()
    );
    signal(c.pid("n1"), libc::SIGTERM);
    let status = wait_exit(&mut c, "n1", shutdown_time() * 2);
    assert!(status.success(), "{status}\n{}", c.logs());
    let bytes = fs::read(&device).unwrap();
    assert_eq!(bytes.last(), Some(&b'V'));
    assert!(bytes[..bytes.len() - 1].iter().all(|b| *b == b'.'));
}

/// `run` with `device` as hb.watchdog_device: its exit status and log.
fn run_with_device(label: &str, device: &Path) -> (ExitStatus, String) {
    let mut c = Cluster::new(label, &["n1"], "");
    c.add_conf("n1", &format!("hb.watchdog_device={}\n", device.display()));
    c.start("n1");
    let status = wait_exit(&mut c, "n1", ms(D + 3000));
    (status, c.log("n1"))
}

#[test]
fn a_watchdog_device_that_cannot_be_opened_is_an_error_naming_key_and_path() {
    let missing = PathBuf::from("/nonexistent/hamon/watchdog");
    let (status, log) = run_with_device("wdmissing", &missing);
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("hb.watchdog_device /nonexistent/hamon/watchdog: cannot open: "),
        "{log}"
    );
    assert!(!log.contains("started the application"), "{log}");

    // A FIFO nobody reads cannot be opened without blocking: refused, with the reason.
    let dir = common::TempDir::new("wdfifo-noreader");
    let fifo = dir.path().join("watchdog");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let (status, log) = run_with_device("wdnoreader", &fifo);
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains(&format!(
            "hb.watchdog_device {}: cannot open",
            fifo.display()
        )) && log.contains("only while something reads it"),
        "{log}"
    );
}

#[test]
fn bad_watchdog_settings_are_refused_naming_the_key() {
    let c = Cluster::new("wdconf", &["n1"], "");
    // Not an absolute path.
    c.add_conf("n1", "hb.watchdog_device=watchdog\n");
    let (st, out) = c.cli("n1", &["status"]);
    assert_eq!(st.code(), Some(3), "{out}");
    assert!(
        out.contains("hb.watchdog_device: bad value \"watchdog\""),
        "{out}"
    );

    // A timing that is safe with its kill budget but leaves a device no safe timeout above
    // one loop turn.
    c.add_conf(
        "n1",
        "hb.watchdog_device=/dev/watchdog\nhb.kill_budget_ms=100\nhb.takeover_ms=1100\n",
    );
    let (st, out) = c.cli("n1", &["status"]);
    assert_eq!(st.code(), Some(3), "{out}");
    assert!(
        out.contains("hb.watchdog_device: the device timeout must exceed one loop turn"),
        "{out}"
    );
}
