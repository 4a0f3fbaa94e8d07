//! Attacks from the same host against an application embedding the monitor server: the
//! example pico (c-examples/pico.c, default settings, 127.0.0.1) in its own process, so its
//! memory can be read from /proc. During each attack `ha-probe` runs again and again, as a
//! cluster manager would, and every probe must say UP.
//!
//! The bounds:
//! - memory: pico's peak resident set (VmHWM) stays below [`RSS_BOUND_KIB`] (32 MiB). The server keeps at
//!   most 64 KiB of unread replies, one 16 KiB feed and 4 KiB of unfed input per connection,
//!   and at most `ha.max_connections` (16) connections: about 1.4 MiB over pico's own few MiB;
//! - latency: each probe exits 110 within [`PROBE_BOUND`] of wall time (ha-probe's own
//!   timeout is 5 s; an answer usually takes milliseconds).
//!
//! Each attack is bounded in bytes and time; all traffic is on loopback. The attacks run one
//! at a time (a lock) so that they do not compete for the CPU with each other.

#![cfg(unix)]

use crate::common;

use common::TempDir;
use common::cc::{Link, compile};
use common::child::{PATIENCE, Running};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// 32 MiB.
const RSS_BOUND_KIB: u64 = 32 * 1024;
const PROBE_BOUND: Duration = Duration::from_secs(5);
const HA_PROBE: &str = env!("CARGO_BIN_EXE_ha-probe");

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// pico, compiled once for all the attacks into cargo's scratch directory for integration
/// tests: a static is never dropped, so a temporary directory would outlive the run.
fn pico_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("attack");
        std::fs::create_dir_all(&dir).expect("create the attack build directory");
        compile(&[("pico", Link::Static)], &dir).remove(0)
    })
}

struct Pico {
    running: Running,
    port: u16,
}

impl Pico {
    fn start() -> Pico {
        let mut cmd = Command::new(pico_exe());
        cmd.env_remove("HA_HOST")
            .env_remove("PICO_READY_DELAY_MS")
            .env_remove("PICO_FLAG_FILE")
            .env_remove("PICO_PID_FILE")
            .env("HA_PORT", "0");
        let mut running = Running::spawn(&mut cmd);
        let line = running
            .next_line(PATIENCE)
            .expect("pico prints its port line");
        let port = line
            .strip_prefix("pico: listening on port ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected line from pico: {line:?}"));
        let pico = Pico { running, port };
        let started = Instant::now();
        while pico.probe().0 != 110 {
            assert!(started.elapsed() < PATIENCE, "pico never became healthy");
            thread::sleep(Duration::from_millis(50));
        }
        pico
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Peak and current resident set in KiB.
    fn rss_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.running.pid()))
            .expect("pico is alive");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
                .unwrap_or_else(|| panic!("{name} in /proc/PID/status"))
        };
        (field("VmHWM:"), field("VmRSS:"))
    }

    fn probe(&self) -> (i32, Duration, String) {
        probe(self.port)
    }

    /// Probes again and again while `attack` runs; every probe must be healthy in time, and
    /// pico's memory must stay bounded.
    fn survives(&self, name: &str, attack: impl FnOnce()) {
        let done = AtomicBool::new(false);
        let port = self.port;
        let results = thread::scope(|scope| {
            let prober = scope.spawn(|| {
                let mut results = Vec::new();
                while !done.load(Ordering::SeqCst) || results.len() < 5 {
                    results.push(probe(port));
                }
                results
            });
            attack();
            done.store(true, Ordering::SeqCst);
            prober.join().expect("the probe thread")
        });
        let slowest = results.iter().map(|r| r.1).max().unwrap_or_default();
        let bad: Vec<_> = results
            .iter()
            .filter(|(code, took, _)| *code != 110 || *took > PROBE_BOUND)
            .collect();
        let (peak, now) = self.rss_kib();
        eprintln!(
            "{name}: {} probes, slowest {slowest:?}; pico VmHWM {peak} KiB, VmRSS {now} KiB",
            results.len()
        );
        assert!(
            bad.is_empty(),
            "{name}: {} of {} probes failed or were late: {bad:?}",
            bad.len(),
            results.len()
        );
        assert!(
            peak < RSS_BOUND_KIB,
            "{name}: pico's peak RSS {peak} KiB over {RSS_BOUND_KIB} KiB"
        );
        // Still the same process, still answering.
        assert_eq!(self.probe().0, 110, "{name}: pico answers afterwards");
    }
}

/// One `ha-probe` with its defaults (127.0.0.1, 5 s): exit code, wall time, what it printed.
fn probe(port: u16) -> (i32, Duration, String) {
    let started = Instant::now();
    let out = Command::new(HA_PROBE)
        .args(["--port", &port.to_string()])
        .output()
        .expect("run ha-probe");
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.code().unwrap_or(-1), took, text)
}

/// Runs `f` until `limit` passes or `f` says it is finished (false).
fn for_a_while(limit: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while Instant::now() < end && f() {}
}

#[test]
fn a_help_flood_that_never_reads_is_held_and_the_probe_gets_in() {
    let _one = one_at_a_time();
    let pico = Pico::start();
    pico.survives("help flood (60 MB, replies never read)", || {
        let mut s = TcpStream::connect(pico.addr()).unwrap();
        s.set_write_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let chunk = b"help\n".repeat(13_107); // 64 KiB
        let mut sent = 0usize;
        // 60 MB, or until the server stops taking them (it does, once its replies pile up).
        for_a_while(Duration::from_secs(4), || {
            if sent >= 60_000_000 {
                return false;
            }
            match s.write(&chunk) {
                Ok(n) => {
                    sent += n;
                    true
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => true,
                Err(_) => false,
            }
        });
        assert!(
            sent < 60_000_000,
            "the server went on reading a client that never reads ({sent} bytes)"
        );
    });
}

#[test]
fn a_help_flood_that_reads_shares_the_loop() {
    let _one = one_at_a_time();
    let pico = Pico::start();
    pico.survives("help flood (replies read)", || {
        let s = TcpStream::connect(pico.addr()).unwrap();
        let mut reader = s.try_clone().unwrap();
        thread::scope(|scope| {
            scope.spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                while let Ok(n) = reader.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                }
            });
            let chunk = b"help\n".repeat(13_107);
            let mut w = &s;
            for_a_while(Duration::from_secs(3), || w.write_all(&chunk).is_ok());
            let _ = s.shutdown(std::net::Shutdown::Both);
        });
    });
}

#[test]
fn two_newline_floods_do_not_starve_the_probe() {
    let _one = one_at_a_time();
    let pico = Pico::start();
    let addr = pico.addr();
    pico.survives("newline flood from two clients", || {
        thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    let mut s = TcpStream::connect(addr).unwrap();
                    let chunk = vec![b'\n'; 1 << 16];
                    for_a_while(Duration::from_secs(4), || s.write_all(&chunk).is_ok());
                });
            }
        });
    });
}

#[test]
fn an_endless_subnegotiation_is_cut_at_the_line_cap() {
    let _one = one_at_a_time();
    let pico = Pico::start();
    pico.survives("endless IAC SB", || {
        let mut s = TcpStream::connect(pico.addr()).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        s.write_all(b"\xff\xfa\x18").unwrap();
        let chunk = vec![b'a'; 1 << 16];
        let mut sent = 0usize;
        let mut closed = false;
        for_a_while(Duration::from_secs(5), || match s.write(&chunk) {
            Ok(n) => {
                sent += n;
                true
            }
            Err(_) => {
                closed = true;
                false
            }
        });
        assert!(
            closed,
            "the server still took bytes inside IAC SB ({sent} bytes)"
        );
        // What the kernel buffers are not what the server took: a few MiB at most.
        assert!(sent < 16 << 20, "{sent} bytes taken before the close");
    });
    // Sixteen connections trickling a byte a second inside IAC SB hold no slot a probe needs.
    pico.survives("16 trickling IAC SB connections", || {
        let mut conns: Vec<TcpStream> = (0..16)
            .map(|_| {
                let mut s = TcpStream::connect(pico.addr()).unwrap();
                s.write_all(b"\xff\xfa\x18").unwrap();
                s
            })
            .collect();
        for _ in 0..3 {
            for c in &mut conns {
                let _ = c.write_all(b"x");
            }
            thread::sleep(Duration::from_secs(1));
        }
    });
}

#[test]
fn forty_idle_connections_do_not_lock_the_probe_out() {
    let _one = one_at_a_time();
    let pico = Pico::start();
    pico.survives("40 idle connections", || {
        let mut idle = Vec::new();
        // The attacker reconnects whatever the server closes, for 4 s.
        for_a_while(Duration::from_secs(4), || {
            // Closed (EOF) or told BUSY: gone, so connect another.
            idle.retain_mut(|s: &mut TcpStream| {
                let mut b = [0u8; 64];
                matches!(s.read(&mut b), Err(e) if e.kind() == ErrorKind::WouldBlock)
            });
            while idle.len() < 40 {
                let s = TcpStream::connect(pico.addr()).unwrap();
                s.set_nonblocking(true).unwrap();
                idle.push(s);
            }
            thread::sleep(Duration::from_millis(20));
            true
        });
    });
}

/// Runs `ha-probe ARGS` in a private mount namespace whose /etc/hosts is `hosts`; None when
/// that cannot be done here (not root, no unshare, no mount namespaces).
fn probe_with_hosts(hosts: &Path, args: &[String]) -> Option<(i32, String)> {
    let script = "mount --bind \"$0\" /etc/hosts && exec \"$@\"";
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", script])
        .arg(hosts)
        .arg(HA_PROBE)
        .args(args)
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if !stderr.contains("ha-probe:") {
        eprintln!("skipped: cannot run ha-probe with a private /etc/hosts: {stderr}");
        return None;
    }
    Some((out.status.code().unwrap_or(-1), stderr))
}

#[test]
fn a_squatter_on_ipv6_loopback_does_not_answer_the_probe() {
    let _one = one_at_a_time();
    let pico = Pico::start();
    // Anyone may listen on [::1] with pico's port: hamon listens on 127.0.0.1 only.
    let squatter = match TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, pico.port))) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("skipped: no IPv6 loopback here ({e})");
            return;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    squatter.set_nonblocking(true).unwrap();
    let answered = Arc::new(AtomicBool::new(false));
    let (stop2, answered2) = (stop.clone(), answered.clone());
    let fake = thread::spawn(move || {
        while !stop2.load(Ordering::SeqCst) {
            match squatter.accept() {
                Ok((mut s, _)) => {
                    answered2.store(true, Ordering::SeqCst);
                    let _ = s.write_all(b"DOWN v=1 reason=\"squatter\"\r\n");
                }
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    // The default address is immune: it names the server's own address.
    pico.survives("squatter on [::1] (default host)", || {
        thread::sleep(Duration::from_secs(1));
    });
    // `localhost` listed with ::1 first, as stock Debian and RHEL hosts files do.
    let dir = TempDir::new("hosts");
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "::1 localhost ip6-localhost\n127.0.0.1 localhost\n").unwrap();
    let port = pico.port.to_string();
    let args: Vec<String> = ["--host", "localhost", "--port", &port, "--debug"]
        .map(String::from)
        .to_vec();
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("skipped the hosts-file part: needs root for a private mount namespace");
    } else if let Some((code, stderr)) = probe_with_hosts(&hosts, &args) {
        assert!(
            stderr.contains(&format!(
                "resolved localhost to [::1]:{port}, 127.0.0.1:{port}; trying 127.0.0.1:{port}, [::1]:{port}"
            )),
            "the resolver lists ::1 first, the probe tries 127.0.0.1 first:\n{stderr}"
        );
        assert!(
            stderr.contains(&format!("from 127.0.0.1:{port}")),
            "{stderr}"
        );
        assert_eq!(code, 110, "{stderr}");
    }
    assert!(
        !answered.load(Ordering::SeqCst),
        "no probe reached the squatter"
    );
    stop.store(true, Ordering::SeqCst);
    fake.join().unwrap();
}
