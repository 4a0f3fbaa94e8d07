//! Runs the real `ha-probe` binary against fake monitor servers on 127.0.0.1: the one this
//! `cargo test` built, or the one `$HAMON_TEST_PROBE` names (e.g. the static release build).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// What a fake server does after reading the request line.
#[derive(Clone, Copy)]
enum Behave {
    /// Writes these bytes, then keeps reading (the probe's `quit`) until EOF.
    Reply(&'static [u8]),
    /// Never answers; holds the connection until the probe gives up.
    Silent,
    /// Closes without a word.
    Close,
}

/// A fake server that serves a fixed number of connections, then ends.
struct Server {
    addr: SocketAddr,
    conns: usize,
    handle: Option<JoinHandle<Vec<String>>>,
}

impl Server {
    fn start(behave: Behave) -> Server {
        Server::serving(behave, 1)
    }

    fn serving(behave: Behave, conns: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let mut seen = Vec::new();
            for _ in 0..conns {
                let Ok((stream, _)) = listener.accept() else {
                    break;
                };
                serve(stream, behave, &mut seen);
            }
            seen
        });
        Server {
            addr,
            conns,
            handle: Some(handle),
        }
    }

    fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// Every line the server received, in order. Connects once per connection the server
    /// may still be waiting for, so the thread ends even if a probe never came.
    fn lines(mut self) -> Vec<String> {
        self.wake();
        self.handle.take().unwrap().join().unwrap()
    }

    fn wake(&self) {
        for _ in 0..self.conns {
            let _ = TcpStream::connect(self.addr);
        }
    }
}

impl Drop for Server {
    /// A test that fails before `lines()` still ends its server thread.
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.wake();
            let _ = handle.join();
        }
    }
}

fn serve(stream: TcpStream, behave: Behave, seen: &mut Vec<String>) {
    // Safety net: a stuck client cannot keep this thread alive for long.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    seen.push(line.clone());
    match behave {
        Behave::Reply(bytes) => {
            let _ = (&stream).write_all(bytes);
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(n) if n > 0 => seen.push(line.clone()),
                    _ => break,
                }
            }
        }
        Behave::Silent => {
            let _ = reader.read_to_end(&mut Vec::new());
        }
        Behave::Close => {}
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

fn binary() -> PathBuf {
    match std::env::var_os("HAMON_TEST_PROBE") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_ha-probe")),
    }
}

/// Runs `ha-probe`; a watchdog kills it if it hangs, so a bug cannot hang the test suite.
fn ha_probe(args: &[&str]) -> Run {
    let mut cmd = Command::new(binary());
    cmd.args(args).stdout(Stdio::piped());
    run(cmd)
}

/// Runs `cmd` (stdin /dev/null, stderr piped; stdout as the caller set it) under the watchdog.
fn run(mut cmd: Command) -> Run {
    let t0 = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let (done, wait) = mpsc::channel::<()>();
    let watchdog = thread::spawn(move || {
        if wait.recv_timeout(Duration::from_secs(30)) == Err(mpsc::RecvTimeoutError::Timeout) {
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
    });
    let out = child.wait_with_output().unwrap();
    let took = t0.elapsed();
    let _ = done.send(());
    watchdog.join().unwrap();
    Run {
        code: out
            .status
            .code()
            .unwrap_or_else(|| panic!("ha-probe was killed: {:?}", out.status)),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        took,
    }
}

/// Probes a server on 127.0.0.1 with a bounded timeout plus `extra` arguments.
fn probe(server: &Server, extra: &[&str]) -> Run {
    let port = server.port();
    let mut args = vec![
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--timeout-ms",
        "3000",
    ];
    args.extend_from_slice(extra);
    ha_probe(&args)
}

/// A loopback port held bound but not listening, for as long as it lives: connecting is
/// refused, and no other program (tests run side by side) can take the port meanwhile, as it
/// could one that was bound and released.
struct ClosedPort {
    fd: libc::c_int,
    port: String,
}

impl ClosedPort {
    fn new() -> ClosedPort {
        // SAFETY: plain socket calls on a descriptor this struct owns; `addr` and `len` are
        // valid for the calls.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let sa = &mut addr as *mut libc::sockaddr_in as *mut libc::sockaddr;
            assert_eq!(
                libc::bind(fd, sa, len),
                0,
                "bind: {}",
                std::io::Error::last_os_error()
            );
            assert_eq!(libc::getsockname(fd, sa, &mut len), 0, "getsockname");
            ClosedPort {
                fd,
                port: u16::from_be(addr.sin_port).to_string(),
            }
        }
    }
}

impl Drop for ClosedPort {
    fn drop(&mut self) {
        // SAFETY: the descriptor this struct owns, closed once.
        unsafe { libc::close(self.fd) };
    }
}

#[test]
fn up_is_online() {
    let s = Server::start(Behave::Reply(
        b"UP v=1 app=billing checks=3/3 age_ms=412\r\n",
    ));
    let r = probe(&s, &[]);
    assert_eq!(r.code, 110, "{}", r.stderr);
    assert_eq!(r.stdout, "UP v=1 app=billing checks=3/3 age_ms=412\n");
    assert_eq!(r.stderr, "");
    assert_eq!(s.lines(), ["check\r\n", "quit\r\n"]);
}

#[test]
fn degraded_is_online() {
    let s = Server::start(Behave::Reply(b"DEGRADED v=1 checks=2/3 failed=cache\r\n"));
    assert_eq!(probe(&s, &[]).code, 110);
    s.lines();
}

#[test]
fn down_is_offline_and_printed_as_received() {
    let line = "DOWN v=1 checks=2/3 failed=db reason=\"db: timeout after 5000ms\"";
    let s = Server::start(Behave::Reply(
        b"DOWN v=1 checks=2/3 failed=db reason=\"db: timeout after 5000ms\"\r\n",
    ));
    let r = probe(&s, &[]);
    assert_eq!(r.code, 100);
    assert_eq!(r.stdout, format!("{line}\n"));
    s.lines();
}

#[test]
fn maint_is_offline_for_vcs() {
    let s = Server::start(Behave::Reply(b"MAINT v=1\r\n"));
    assert_eq!(probe(&s, &[]).code, 100);
    s.lines();
}

#[test]
fn other_formats_from_the_same_reply() {
    let s = Server::serving(Behave::Reply(b"MAINT v=1\r\n"), 4);
    for (format, code) in [("ocf", 0), ("lsb", 3), ("nagios", 1), ("plain", 1)] {
        assert_eq!(probe(&s, &["--format", format]).code, code, "{format}");
    }
    assert_eq!(s.lines().len(), 8);
}

#[test]
fn silent_server_fails_within_the_timeout() {
    let s = Server::start(Behave::Silent);
    let port = s.port();
    let r = ha_probe(&[
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--timeout-ms",
        "300",
    ]);
    assert_eq!(r.code, 100);
    assert!(r.took < Duration::from_secs(2), "took {:?}", r.took);
    assert!(r.took >= Duration::from_millis(300), "took {:?}", r.took);
    assert_eq!(r.stdout, "FAILED: no reply within 300 ms\n");
    assert_eq!(s.lines(), ["check\r\n"]);
}

#[test]
fn fractional_seconds_timeout() {
    let s = Server::start(Behave::Silent);
    let port = s.port();
    let r = ha_probe(&["--host=127.0.0.1", "--port", &port, "--timeout=0.3"]);
    assert_eq!(r.code, 100);
    assert!(r.took < Duration::from_secs(2), "took {:?}", r.took);
    assert_eq!(r.stdout, "FAILED: no reply within 300 ms\n");
    s.lines();
}

#[test]
fn garbage_is_offline() {
    let s = Server::start(Behave::Reply(b"\x00\xff\x1b[31mHELLO\r\n"));
    let r = probe(&s, &[]);
    assert_eq!(r.code, 100);
    assert!(
        r.stdout.starts_with("FAILED: unparsable reply"),
        "{}",
        r.stdout
    );
    assert_eq!(r.stdout.lines().count(), 1);
    s.lines();
}

#[test]
fn close_without_reply_is_offline() {
    let s = Server::start(Behave::Close);
    let r = probe(&s, &[]);
    assert_eq!(r.code, 100);
    assert_eq!(
        r.stdout,
        "FAILED: unparsable reply: connection closed before a full reply\n"
    );
    s.lines();
}

#[test]
fn partial_line_is_offline() {
    // Half a reply and then silence: the deadline ends it, nothing is guessed.
    let s = Server::start(Behave::Reply(b"UP v=1"));
    let port = s.port();
    let r = ha_probe(&["--host", "127.0.0.1", "--port", &port, "--timeout-ms=300"]);
    assert_eq!(r.code, 100);
    assert_eq!(r.stdout, "FAILED: no reply within 300 ms\n");
    s.lines();
}

#[test]
fn refused_port() {
    let closed = ClosedPort::new();
    let port = closed.port.as_str();
    let r = ha_probe(&["--host", "127.0.0.1", "--port", port]);
    assert_eq!(r.code, 100);
    assert_eq!(
        r.stdout,
        format!("FAILED: connection refused by 127.0.0.1:{port}\n")
    );
    let r = ha_probe(&["--host", "127.0.0.1", "--port", port, "--format", "ocf"]);
    assert_eq!(r.code, 7);
    let r = ha_probe(&["--host", "127.0.0.1", "--port", port, "--format=lsb"]);
    assert_eq!(r.code, 3);
}

#[test]
fn busy_is_offline() {
    // BUSY is tried again a few times (4 connections in all) before it counts.
    let s = Server::serving(Behave::Reply(b"BUSY\r\n"), 4);
    let r = probe(&s, &[]);
    assert_eq!(r.code, 100);
    assert!(r.stdout.contains("busy"), "{}", r.stdout);
    s.lines();
}

#[test]
fn ping_ok_and_failed() {
    let s = Server::start(Behave::Reply(b"OK\r\n"));
    let r = probe(&s, &["--command", "ping"]);
    assert_eq!((r.code, r.stdout.as_str()), (110, "OK\n"));
    assert_eq!(s.lines()[0], "ping\r\n");

    let s = Server::start(Behave::Reply(b"FAILED\r\n"));
    let r = probe(&s, &["--command=ping"]);
    assert_eq!((r.code, r.stdout.as_str()), (100, "FAILED\n"));
    s.lines();
}

#[test]
fn named_check() {
    let s = Server::start(Behave::Reply(b"UP v=1 check=db\r\n"));
    assert_eq!(probe(&s, &["--check", "db"]).code, 110);
    assert_eq!(s.lines(), ["check db\r\n", "quit\r\n"]);

    let s = Server::start(Behave::Reply(b"ERR unknown-check name=db\r\n"));
    let r = probe(&s, &["--check=db"]);
    assert_eq!(r.code, 100);
    assert_eq!(r.stdout, "FAILED: unknown check \"db\"\n");
    assert_eq!(s.lines()[0], "check db\r\n");
}

#[test]
fn nagios_text_and_codes() {
    let cases: [(&'static [u8], i32, &str); 3] = [
        (b"UP v=1\r\n", 0, "HAMON OK - UP v=1 | rtt="),
        (
            b"DEGRADED v=1\r\n",
            1,
            "HAMON WARNING - DEGRADED v=1 | rtt=",
        ),
        (b"DOWN v=1\r\n", 2, "HAMON CRITICAL - DOWN v=1 | rtt="),
    ];
    for (reply, code, text) in cases {
        let s = Server::start(Behave::Reply(reply));
        let r = probe(&s, &["--format", "nagios"]);
        assert_eq!(r.code, code, "{text}");
        assert!(r.stdout.starts_with(text), "{}", r.stdout);
        assert!(r.stdout.ends_with("s;;;0\n"), "{}", r.stdout);
        s.lines();
    }

    let closed = ClosedPort::new();
    let port = closed.port.as_str();
    let r = ha_probe(&["--host", "127.0.0.1", "--port", port, "--format", "nagios"]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stdout,
        format!("HAMON CRITICAL - connection refused by 127.0.0.1:{port}\n")
    );

    let r = ha_probe(&["--format", "nagios"]);
    assert_eq!(r.code, 3);
    assert!(r.stdout.starts_with("HAMON UNKNOWN - "), "{}", r.stdout);
}

#[test]
fn usage_errors_name_the_problem() {
    let cases: [(&[&str], &str); 5] = [
        (&[], "--port"),
        (&["--port", "70000"], "70000"),
        (
            &["--port", "1", "--timeout-ms", "5", "--timeout", "1"],
            "--timeout",
        ),
        (&["--port", "1", "--frobnicate"], "--frobnicate"),
        (&["--port", "1", "--format", "xml"], "xml"),
    ];
    for (args, needle) in cases {
        let r = ha_probe(args);
        assert_eq!(r.code, 100, "{args:?}");
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("--help"), "{args:?}: no hint");
        assert_eq!(r.stdout, "", "{args:?}");
    }
}

#[test]
fn usage_error_code_follows_format() {
    assert_eq!(ha_probe(&["--format", "ocf", "--port", "70000"]).code, 2);
    assert_eq!(ha_probe(&["--port", "70000", "--format=lsb"]).code, 2);
    assert_eq!(ha_probe(&["--format=plain"]).code, 2);
}

#[test]
fn help_and_version() {
    let r = ha_probe(&["--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("Usage: ha-probe"), "{}", r.stdout);
    let r = ha_probe(&["--version"]);
    assert_eq!(r.code, 0);
    assert_eq!(
        r.stdout,
        format!("ha-probe {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn quiet_prints_nothing() {
    let s = Server::start(Behave::Reply(b"UP v=1\r\n"));
    let r = probe(&s, &["--quiet"]);
    assert_eq!((r.code, r.stdout.as_str()), (110, ""));
    s.lines();
}

#[test]
fn debug_traces_on_stderr() {
    let s = Server::start(Behave::Reply(b"UP v=1\r\n"));
    let r = probe(&s, &["--debug"]);
    assert_eq!(r.code, 110);
    assert_eq!(r.stdout, "UP v=1\n");
    for needle in [
        format!("connecting to {}", s.addr),
        "sending \"check\\r\\n\"".to_string(),
        "received \"UP v=1\"".to_string(),
        "exit code 110".to_string(),
    ] {
        assert!(
            r.stderr.contains(&needle),
            "{needle:?} missing in:\n{}",
            r.stderr
        );
    }
    s.lines();
}

#[test]
fn closed_stdout_and_stderr_never_become_the_socket() {
    // Started with descriptors 1 and 2 closed, a probe that did not reopen them would get
    // its socket as fd 1 and send its own output and trace to the server.
    let s = Server::start(Behave::Reply(b"UP v=1\r\n"));
    let port = s.port();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "exec \"$0\" \"$@\" >&- 2>&-"])
        .arg(binary())
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--timeout-ms",
            "3000",
        ])
        .arg("--debug");
    let r = run(cmd);
    assert_eq!(r.code, 110, "{}", r.stderr);
    assert_eq!(s.lines(), ["check\r\n", "quit\r\n"]);
}

#[test]
fn stdout_nobody_reads_is_not_a_signal() {
    // A cluster manager that closed its end of the pipe: the write fails, the code stands.
    let s = Server::start(Behave::Reply(b"UP v=1\r\n"));
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = Command::new(binary());
    cmd.args(["--port", &s.port(), "--timeout-ms", "3000"])
        .stdout(writer);
    let r = run(cmd);
    assert_eq!(r.code, 110, "{}", r.stderr);
    s.lines();
}

#[test]
fn default_host_is_127_0_0_1() {
    let s = Server::start(Behave::Reply(b"UP v=1\r\n"));
    let port = s.port();
    let r = ha_probe(&["--port", &port, "--timeout-ms", "3000", "--debug"]);
    assert_eq!(r.code, 110, "{}", r.stdout);
    assert!(
        r.stderr.contains(&format!("probing 127.0.0.1:{port} ")),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("resolving"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("received \"UP v=1\" from 127.0.0.1:{port}")),
        "{}",
        r.stderr
    );
    s.lines();
}

#[test]
fn localhost_is_tried_ipv4_first() {
    let s = Server::start(Behave::Reply(b"UP v=1\r\n"));
    let port = s.port();
    let r = ha_probe(&["--host", "localhost", "--port", &port, "--debug"]);
    assert_eq!(r.code, 110, "{}", r.stdout);
    let trying = r
        .stderr
        .lines()
        .find(|l| l.contains("resolved localhost to"))
        .unwrap_or_else(|| panic!("{}", r.stderr));
    let tail = trying.split("; trying ").nth(1).unwrap();
    assert!(tail.starts_with("127."), "{trying}");
    s.lines();
}

#[test]
fn names_come_from_etc_hosts_and_nowhere_else() {
    // Every hosts file lists localhost (and without it, it is the loopback addresses).
    let s = Server::start(Behave::Reply(b"UP v=1\r\n"));
    let port = s.port();
    let r = ha_probe(&["--host", "LocalHost", "--port", &port, "--debug"]);
    assert_eq!(r.code, 110, "{}", r.stderr);
    assert!(
        r.stderr.contains("resolving LocalHost from /etc/hosts"),
        "{}",
        r.stderr
    );
    s.lines();

    // A name only DNS could know is not looked up there: the probe fails at once and says
    // what to give instead, in the text the cluster manager logs.
    let r = ha_probe(&[
        "--host",
        "no-such-host.invalid",
        "--port",
        "9",
        "--format",
        "ocf",
    ]);
    assert_eq!(r.code, 1, "ocf: failed\n{}", r.stdout);
    for part in [
        "cannot resolve no-such-host.invalid: not in /etc/hosts",
        "never DNS",
        "give --host the server's address",
    ] {
        assert!(r.stdout.contains(part), "{part:?} in:\n{}", r.stdout);
    }
    assert!(r.took < Duration::from_secs(2), "{:?}", r.took);
}

#[test]
fn check_names_a_server_cannot_hold_are_refused() {
    let long = "a".repeat(4096);
    let r = ha_probe(&["--port", "9", "--check", &long]);
    assert_eq!(r.code, 100, "a usage error in the VCS format");
    assert!(
        r.stderr
            .contains("--check: check name is 4096 bytes long; a hamon server accepts at most 64"),
        "{}",
        r.stderr
    );
}

#[test]
fn unix_socket_probe() {
    let dir = std::env::temp_dir().join(format!("hamon-probe-unix-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ha.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let server = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut r = BufReader::new(&s);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        (&s).write_all(b"UP v=1\r\n").unwrap();
        line
    });
    let p = path.to_str().unwrap();
    let r = ha_probe(&["--unix", p, "--debug"]);
    assert_eq!(r.code, 110, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("received \"UP v=1\" from {p}")),
        "{}",
        r.stderr
    );
    assert_eq!(server.join().unwrap(), "check\r\n");
    std::fs::remove_file(&path).unwrap();
    // Nothing there any more: not healthy.
    let r = ha_probe(&["--unix", p, "--timeout-ms", "2000"]);
    assert_eq!(r.code, 100, "{}", r.stdout);
    assert!(r.stdout.contains(p), "{}", r.stdout);
    std::fs::remove_dir_all(dir).unwrap();
}
