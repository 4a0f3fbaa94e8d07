//! The monitor server's rules, shown with real sockets and real threads.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use hamon::config::{CheckOptions, Config, CounterRule};
use hamon::monitor::Server;
use hamon::monitor::check::Outcome;
use hamon::monitor::health::Admin;
use hamon::monitor::state::State;
use hamon::probe::{ProbeCommand, ProbeRequest, probe};

fn config(edit: impl FnOnce(&mut Config)) -> Config {
    let mut cfg = Config {
        port: Some(0),
        ..Config::default()
    };
    edit(&mut cfg);
    cfg
}

fn start(edit: impl FnOnce(&mut Config)) -> Server {
    Server::start(&config(edit)).expect("server starts")
}

fn ready_server(edit: impl FnOnce(&mut Config)) -> Server {
    let s = start(edit);
    s.ready();
    s
}

struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(server: &Server) -> Client {
        let stream = TcpStream::connect(server.local_addr()).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("write");
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read a line");
        assert!(line.ends_with("\r\n"), "reply lines end in CRLF: {line:?}");
        line.trim_end().to_string()
    }

    fn ask(&mut self, command: &str) -> String {
        self.send(format!("{command}\r\n").as_bytes());
        self.line()
    }

    /// True when the server closed the connection (EOF after any pending bytes).
    fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

/// Polls `cond` until it holds or `limit` passes; never sleeps longer than needed.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

fn fast(rise: u32, fall: u32) -> CheckOptions {
    CheckOptions {
        interval: Duration::from_millis(20),
        timeout: Duration::from_millis(200),
        rise,
        fall,
        ..CheckOptions::default()
    }
}

/// A check whose outcome the test flips.
fn switch() -> (Arc<AtomicU32>, hamon::monitor::runner::CheckFn) {
    let flag = Arc::new(AtomicU32::new(0));
    let f = flag.clone();
    let check = Box::new(move || match f.load(Ordering::SeqCst) {
        0 => (Outcome::Up, String::new()),
        1 => (Outcome::Degraded, "slow disk".to_string()),
        _ => (Outcome::Down, "database refused".to_string()),
    });
    (flag, check)
}

#[test]
fn help_lists_commands_and_ends_with_a_dot() {
    let server = ready_server(|_| {});
    let mut c = Client::connect(&server);
    c.send(b"help\r\n");
    let mut lines = Vec::new();
    loop {
        let l = c.line();
        if l == "." {
            break;
        }
        lines.push(l);
    }
    for cmd in [
        "help", "ping", "check", "status", "version", "agent", "quit",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(cmd)),
            "help mentions {cmd}: {lines:?}"
        );
    }
    assert_eq!(
        c.ask("version"),
        format!("VERSION hamon/{} proto=1", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn starting_until_ready() {
    let server = start(|_| {});
    let mut c = Client::connect(&server);
    assert!(c.ask("check").starts_with("STARTING v=1 "));
    assert_eq!(c.ask("ping"), "FAILED");
    server.ready();
    assert!(c.ask("check").starts_with("UP v=1 "));
    assert_eq!(c.ask("PING"), "OK");
}

#[test]
fn ping_fails_when_a_critical_check_fails() {
    let server = ready_server(|_| {});
    let (flag, check) = switch();
    server.add_check("db", check, Some(fast(1, 1))).unwrap();
    let mut c = Client::connect(&server);
    assert!(wait_for(Duration::from_secs(5), || c.ask("ping") == "OK"));
    flag.store(2, Ordering::SeqCst);
    assert!(wait_for(Duration::from_secs(5), || c.ask("ping") == "FAILED"));
    let line = c.ask("check");
    assert!(line.starts_with("DOWN v=1 checks=0/1 "), "{line}");
    assert!(line.contains("failed=db"), "{line}");
    assert!(line.contains(r#"reason="db: database refused""#), "{line}");
    let named = c.ask("check db");
    assert!(
        named.starts_with("DOWN v=1 check=db importance=critical"),
        "{named}"
    );
    assert_eq!(c.ask("check nope"), "ERR unknown-check name=nope");
    flag.store(1, Ordering::SeqCst);
    assert!(wait_for(Duration::from_secs(5), || c
        .ask("check")
        .starts_with("DEGRADED")));
    assert_eq!(c.ask("ping"), "OK", "DEGRADED is still available");
}

#[test]
fn rise_and_fall_need_consecutive_results() {
    let server = ready_server(|_| {});
    let runs = Arc::new(AtomicU32::new(0));
    let fail_from = Arc::new(AtomicU32::new(u32::MAX));
    let (r, f) = (runs.clone(), fail_from.clone());
    let check = Box::new(move || {
        let n = r.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= f.load(Ordering::SeqCst) {
            (Outcome::Down, "broken".to_string())
        } else {
            (Outcome::Up, String::new())
        }
    });
    let opts = CheckOptions {
        interval: Duration::from_millis(30),
        ..fast(2, 3)
    };
    server.add_check("db", check, Some(opts)).unwrap();
    let mut c = Client::connect(&server);
    assert!(wait_for(Duration::from_secs(5), || c
        .ask("check")
        .starts_with("UP")));
    fail_from.store(runs.load(Ordering::SeqCst) + 1, Ordering::SeqCst);
    // Within fall the check line says UP with the failing streak.
    assert!(wait_for(Duration::from_secs(5), || c
        .ask("check db")
        .contains("fall=1/3")));
    assert!(c.ask("check").starts_with("UP"));
    assert!(wait_for(Duration::from_secs(5), || c
        .ask("check")
        .starts_with("DOWN")));
    let failing_runs = runs.load(Ordering::SeqCst) + 1 - fail_from.load(Ordering::SeqCst);
    assert!(
        failing_runs >= 3,
        "DOWN only after fall=3 failures, saw {failing_runs}"
    );
}

#[test]
fn a_stuck_callback_times_out_and_the_server_still_answers() {
    let server = ready_server(|c| c.stop_timeout = Duration::from_millis(100));
    let release = Arc::new(std::sync::Barrier::new(2));
    let stuck = Arc::new(AtomicU32::new(0));
    let (s, b) = (stuck.clone(), release.clone());
    let check = Box::new(move || {
        if s.load(Ordering::SeqCst) == 1 {
            b.wait();
        }
        (Outcome::Up, String::new())
    });
    let opts = CheckOptions {
        timeout: Duration::from_millis(100),
        ..fast(1, 1)
    };
    server.add_check("db", check, Some(opts)).unwrap();
    let mut c = Client::connect(&server);
    assert!(wait_for(Duration::from_secs(5), || c
        .ask("check")
        .starts_with("UP")));
    stuck.store(1, Ordering::SeqCst);
    assert!(wait_for(Duration::from_secs(5), || c
        .ask("check")
        .starts_with("DOWN")));
    let started = Instant::now();
    let line = c.ask("check db");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "replies never wait for callbacks"
    );
    assert!(line.contains("timeout: no answer after"), "{line}");
    // Stopping does not hang on the stuck callback.
    let stopping = Instant::now();
    server.stop();
    assert!(stopping.elapsed() < Duration::from_secs(2));
    release.wait();
}

#[test]
fn quit_and_exit_close_the_connection() {
    let server = ready_server(|_| {});
    for word in ["quit", "EXIT"] {
        let mut c = Client::connect(&server);
        assert_eq!(c.ask(word), "BYE");
        assert!(c.closed());
    }
}

#[test]
fn telnet_negotiation_and_odd_line_endings_are_tolerated() {
    let server = ready_server(|_| {});
    let mut c = Client::connect(&server);
    c.send(b"\xff\xfb\x1f\xff\xfb\x20\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0pi\xff\xf1ng\r\0");
    assert_eq!(c.line(), "OK");
    c.send(b"ping\n");
    assert_eq!(c.line(), "OK");
    assert_eq!(c.ask("nonsense"), "ERR unknown-command (try help)");
    assert_eq!(
        c.ask("ping"),
        "OK",
        "the connection survives an unknown command"
    );
}

#[test]
fn an_over_long_line_is_refused_and_closed() {
    let server = ready_server(|_| {});
    let mut c = Client::connect(&server);
    c.send(&[b'x'; 513]);
    assert_eq!(c.line(), "ERR line-too-long");
    assert!(c.closed());
}

#[test]
fn at_the_connection_cap_the_longest_waiting_connection_makes_room() {
    let server = ready_server(|c| {
        c.max_connections = 2;
        c.max_connections_per_source = 2;
    });
    let mut a = Client::connect(&server);
    let mut b = Client::connect(&server);
    assert_eq!(b.ask("ping"), "OK");
    assert_eq!(a.ask("ping"), "OK");
    // b has waited longest since its last command: it goes, the newcomer is served.
    let mut third = Client::connect(&server);
    assert_eq!(third.ask("ping"), "OK");
    assert_eq!(b.line(), "BUSY");
    assert!(b.closed());
    assert_eq!(a.ask("ping"), "OK");
}

#[test]
fn one_address_holds_at_most_its_share() {
    // Half of the cap by default: the fifth connection from 127.0.0.1 replaces the oldest
    // silent one of that address, whatever room is left.
    let server = ready_server(|c| c.max_connections = 8);
    let mut silent: Vec<Client> = (0..4).map(|_| Client::connect(&server)).collect();
    let mut fifth = Client::connect(&server);
    assert_eq!(fifth.ask("ping"), "OK");
    assert_eq!(silent[0].line(), "BUSY");
    assert!(silent[0].closed());
    for c in &mut silent[1..] {
        assert_eq!(c.ask("ping"), "OK");
    }
}

#[test]
fn deadlines_that_bytes_do_not_reset() {
    let server = ready_server(|c| {
        c.first_command_timeout = Duration::from_millis(300);
        c.idle_timeout = Duration::from_millis(300);
        c.connection_lifetime = Duration::from_millis(1500);
    });
    // Bytes without a complete command: closed at the first-command deadline.
    let mut trickle = Client::connect(&server);
    let started = Instant::now();
    for _ in 0..5 {
        trickle.send(b"p");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(trickle.line(), "ERR first-command-timeout");
    assert!(trickle.closed());
    assert!(started.elapsed() >= Duration::from_millis(250));
    // Telnet subnegotiation counts neither as a command nor towards the idle time.
    let mut sb = Client::connect(&server);
    assert_eq!(sb.ask("ping"), "OK");
    sb.send(b"\xff\xfa\x18");
    for _ in 0..5 {
        // The server may close it meanwhile; the reply below tells.
        let _ = sb.reader.get_mut().write_all(b"x");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(sb.line(), "ERR idle-timeout");
    // Commands keep a connection open, but not past its lifetime.
    let mut busy = Client::connect(&server);
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < Duration::from_secs(10) {
        busy.send(b"ping\r\n");
        last = busy.line();
        if last != "OK" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(last, "ERR connection-lifetime");
    assert!(started.elapsed() >= Duration::from_millis(1400));
    assert!(busy.closed());
}

#[test]
fn http_clients_that_never_finish_get_408() {
    let server = ready_server(|c| c.first_command_timeout = Duration::from_millis(200));
    let mut c = Client::connect(&server);
    c.send(b"GET /readyz HTTP/1.1\r\nHost: x\r\n");
    assert_eq!(c.line(), "HTTP/1.1 408 Request Timeout");
}

#[test]
fn idle_connections_are_closed() {
    let server = ready_server(|c| c.idle_timeout = Duration::from_millis(200));
    let mut c = Client::connect(&server);
    assert_eq!(c.ask("ping"), "OK");
    let started = Instant::now();
    assert_eq!(c.line(), "ERR idle-timeout");
    assert!(c.closed());
    assert!(started.elapsed() >= Duration::from_millis(150));
}

fn http(server: &Server, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let code = resp[9..12].parse().unwrap();
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

#[test]
fn http_endpoints_share_the_port() {
    let server = start(|c| c.app_name = "billing".into());
    let get = |path: &str| {
        http(
            &server,
            &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        )
    };
    assert_eq!(get("/livez").0, 200);
    assert_eq!(get("/readyz").0, 503, "STARTING is not ready");
    server.ready();
    assert_eq!(get("/readyz"), (200, "UP\n".into()));
    let (code, body) = get("/health");
    assert_eq!(code, 200);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (doc["status"].as_str(), doc["serviceId"].as_str()),
        (Some("pass"), Some("billing"))
    );
    server.set_state(Outcome::Down, "lost the database");
    assert_eq!(get("/readyz").0, 503);
    assert_eq!(get("/livez").0, 503, "a pushed DOWN is a liveness failure");
    let (code, body) = get("/health");
    assert_eq!(code, 503);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["status"], "fail");
    assert_eq!(doc["output"], "app: lost the database");
    assert_eq!(get("/nothing-here").0, 404);
}

#[test]
fn agent_replies_follow_haproxy_and_close() {
    let server = ready_server(|c| c.agent_degraded_weight = 30);
    let agent = |server: &Server| {
        let mut c = Client::connect(server);
        let line = c.ask("agent");
        assert!(c.closed());
        line
    };
    assert_eq!(agent(&server), "up ready 100%");
    server.set_state(Outcome::Degraded, "slow");
    assert_eq!(agent(&server), "up ready 30%");
    server.set_admin(Admin::Draining, "deploy");
    assert_eq!(agent(&server), "up drain");
    server.set_admin(Admin::Maint, "");
    assert_eq!(agent(&server), "maint");
    server.set_admin(Admin::None, "");
    server.set_state(Outcome::Down, "dead");
    assert_eq!(agent(&server), "down #app: dead");
}

#[test]
fn lifecycle_states_show_on_the_wire() {
    let server = ready_server(|_| {});
    server.set_admin(Admin::Draining, "rolling deploy");
    let mut c = Client::connect(&server);
    let line = c.ask("check");
    assert!(line.starts_with("DRAINING v=1 "), "{line}");
    assert!(line.contains("rolling deploy"), "{line}");
    assert_eq!(c.ask("ping"), "FAILED");
    server.set_admin(Admin::Stopping, "");
    assert!(c.ask("check").starts_with("STOPPING"));
    server.set_admin(Admin::None, "");
    assert_eq!(c.ask("ping"), "OK");
}

#[test]
fn a_missed_application_watchdog_is_down() {
    let server = ready_server(|c| c.watchdog = Some(Duration::from_millis(150)));
    let mut c = Client::connect(&server);
    server.heartbeat();
    assert_eq!(c.ask("ping"), "OK");
    assert!(wait_for(Duration::from_secs(5), || c.ask("ping") == "FAILED"));
    assert!(c.ask("check").contains("watchdog: no heartbeat for"));
    server.heartbeat();
    assert_eq!(c.ask("ping"), "OK");
}

#[test]
fn counter_thresholds_over_a_window() {
    let server = ready_server(|c| {
        c.interval = Duration::from_millis(400);
        c.counters.insert(
            "transactions".into(),
            CounterRule {
                min: Some(3),
                ..Default::default()
            },
        );
        c.counters.insert(
            "aborts".into(),
            CounterRule {
                max: Some(1),
                gate: Some(("activations".into(), 2)),
                ..Default::default()
            },
        );
    });
    let mut c = Client::connect(&server);
    assert_eq!(c.ask("ping"), "OK", "minimums wait for a whole window");
    // Nothing happens for a whole window: too few transactions.
    assert!(wait_for(Duration::from_secs(5), || c.ask("ping") == "FAILED"));
    assert!(c.ask("check").contains("counter transactions=0 < min 3"));
    server.counter_add("transactions", 5).unwrap();
    assert_eq!(c.ask("ping"), "OK");
    // Aborts only count once there were enough activations.
    server.counter_add("aborts", 4).unwrap();
    assert_eq!(c.ask("ping"), "OK");
    server.counter_add("activations", 2).unwrap();
    let line = c.ask("check");
    assert!(
        line.starts_with("DOWN") && line.contains("aborts=4 > max 1"),
        "{line}"
    );
    c.send(b"status\r\n");
    let mut status = Vec::new();
    loop {
        let l = c.line();
        if l == "." {
            break;
        }
        status.push(l);
    }
    assert!(
        status
            .iter()
            .any(|l| l.starts_with("COUNTER aborts count=4 total=4") && l.contains("max=1")),
        "{status:?}"
    );
}

#[test]
fn the_probe_reads_the_server() {
    let server = ready_server(|c| c.app_name = "billing".into());
    let req = |command| ProbeRequest {
        host: "127.0.0.1".into(),
        port: server.port(),
        timeout: Duration::from_secs(2),
        command,
    };
    let reply = probe(&req(ProbeCommand::Check)).unwrap();
    assert_eq!(reply.state, State::Up);
    assert_eq!(reply.field("app"), Some("billing"));
    assert_eq!(probe(&req(ProbeCommand::Ping)).unwrap().state, State::Up);
    server.set_state(Outcome::Down, "said so");
    let reply = probe(&req(ProbeCommand::Check)).unwrap();
    assert_eq!(
        (reply.state, reply.reason()),
        (State::Down, Some("app: said so"))
    );
}

#[test]
fn a_second_server_on_the_same_port_fails_to_bind() {
    let first = ready_server(|_| {});
    let err = Server::start(&config(|c| c.port = Some(first.port()))).unwrap_err();
    assert!(
        err.to_string().contains("cannot listen on 127.0.0.1:"),
        "{err}"
    );
}

#[test]
fn stop_closes_the_port() {
    let server = ready_server(|_| {});
    let addr = server.local_addr();
    let mut c = Client::connect(&server);
    assert_eq!(c.ask("ping"), "OK");
    server.stop();
    assert!(c.closed());
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn clients_that_half_close_still_get_their_answer() {
    let server = ready_server(|_| {});
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.write_all(b"ping\r\ncheck\r\n").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("OK\r\nUP v=1 "), "{out}");
}

#[test]
fn a_stale_result_is_down() {
    // Results older than ha.stale_ms count as DOWN: here the limit is set below the check
    // interval, so every result goes stale before the next run refreshes it.
    let server = ready_server(|c| c.stale_after = Some(Duration::from_millis(150)));
    let opts = CheckOptions {
        interval: Duration::from_millis(1000),
        ..fast(1, 1)
    };
    server
        .add_check("db", Box::new(|| (Outcome::Up, String::new())), Some(opts))
        .unwrap();
    let mut c = Client::connect(&server);
    assert!(wait_for(Duration::from_secs(5), || c
        .ask("check")
        .starts_with("UP")));
    assert!(wait_for(Duration::from_secs(5), || c
        .ask("check")
        .starts_with("DOWN")));
    let line = c.ask("check");
    assert!(line.contains("stale: no result for"), "{line}");
    assert!(
        wait_for(Duration::from_secs(5), || c.ask("check").starts_with("UP")),
        "the next run refreshes it"
    );
}

#[test]
fn the_ha_log_records_settings_and_transitions() {
    let dir = std::env::temp_dir().join(format!("hamon-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let server = start(|c| {
        c.log_file = Some(dir.clone());
        c.app_name = "billing".into();
    });
    server.ready();
    server.set_state(Outcome::Down, "disk full");
    let log = dir.join("ha-monitor.log");
    assert!(wait_for(Duration::from_secs(5), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("-> DOWN (app: disk full)")
    }));
    server.stop();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("monitor server listening on 127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("hamon: ha.app_name=billing"), "{text}");
    assert!(text.contains("state none -> STARTING"), "{text}");
    assert!(text.contains("STARTING -> UP"), "{text}");
    assert!(
        text.lines()
            .all(|l| l.starts_with("20") && l.as_bytes()[23] == b'Z'),
        "{text}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_wildcard_bind_is_logged_as_a_warning() {
    let dir = std::env::temp_dir().join(format!("hamon-wild-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let server = ready_server(|c| {
        c.host = "0.0.0.0".into();
        c.allow = vec![hamon::config::Cidr::parse("127.0.0.1").unwrap()];
        c.log_file = Some(dir.clone());
    });
    let port = server.port();
    server.stop();
    let text = std::fs::read_to_string(dir.join("ha-monitor.log")).unwrap();
    assert!(
        text.contains(&format!(
            "ha.host=0.0.0.0 listens on every interface: any host that reaches port {port} can \
             connect from the blocks in ha.allow"
        )),
        "{text}"
    );
    assert!(text.contains("hamon: ha.allow=127.0.0.1/32"), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_unix_socket_answers_like_the_port() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let dir = std::env::temp_dir().join(format!("hamon-unix-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ha.sock");
    // A socket file left behind by a dead process is replaced.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let server = ready_server(|c| c.unix_socket = Some(path.clone()));
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    let ask = |command: ProbeCommand| {
        hamon::probe::probe_unix_traced(&path, &command, Duration::from_secs(2), &mut |_| {})
    };
    assert_eq!(ask(ProbeCommand::Check).unwrap().state, State::Up);
    server.set_state(Outcome::Down, "said so");
    let reply = ask(ProbeCommand::Check).unwrap();
    assert_eq!(
        (reply.state, reply.reason()),
        (State::Down, Some("app: said so"))
    );
    // A live server's socket is not taken over.
    let err = Server::start(&config(|c| c.unix_socket = Some(path.clone()))).unwrap_err();
    assert!(
        err.to_string().contains("another server is listening"),
        "{err}"
    );
    server.stop();
    assert!(!path.exists(), "the socket is removed at stop");
    assert!(ask(ProbeCommand::Ping).is_err());
    std::fs::remove_dir_all(dir).unwrap();
}

/// hamon's log records, captured in this test process (the `log` facade has one logger).
struct Capture(std::sync::Mutex<Vec<(log::Level, String)>>);

static CAPTURE: Capture = Capture(std::sync::Mutex::new(Vec::new()));

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        if record.target().starts_with("hamon") {
            let text = record.args().to_string();
            self.0.lock().unwrap().push((record.level(), text));
        }
    }
    fn flush(&self) {}
}

fn captured() -> Vec<(log::Level, String)> {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&CAPTURE).expect("no other logger in this test process");
        log::set_max_level(log::LevelFilter::Trace);
    });
    CAPTURE.0.lock().unwrap().clone()
}

#[test]
fn the_start_is_one_info_line_and_the_settings_are_at_debug() {
    captured();
    let app = format!("quiet-{}", std::process::id());
    let server = start(|c| {
        c.app_name = app.clone();
        c.max_connections = 9;
    });
    let port = server.port();
    server.stop();
    let records = captured();
    let show = || format!("{records:#?}");
    let starts: Vec<&String> = records
        .iter()
        .filter(|(l, m)| *l == log::Level::Info && m.contains(&format!("ha.app_name={app}")))
        .map(|(_, m)| m)
        .collect();
    assert_eq!(starts.len(), 1, "{}", show());
    assert_eq!(
        starts[0],
        &format!(
            "hamon {}: monitor server listening on 127.0.0.1:{port}; settings: \
             ha.port=0 ha.app_name={app} ha.max_connections=9 (others default)",
            env!("CARGO_PKG_VERSION")
        )
    );
    // Every setting is still there, one record each, at DEBUG only.
    assert!(
        records
            .iter()
            .any(|(l, m)| *l == log::Level::Debug && m == &format!("hamon: ha.app_name={app}")),
        "{}",
        show()
    );
    assert!(
        records
            .iter()
            .any(|(l, m)| *l == log::Level::Debug && m == "hamon: ha.idle_timeout_ms=30000"),
        "{}",
        show()
    );
    assert!(
        !records
            .iter()
            .any(|(l, m)| *l <= log::Level::Info && m.starts_with("hamon: ha.")),
        "{}",
        show()
    );
}

#[test]
fn a_check_that_fails_without_a_reason_says_so() {
    let server = ready_server(|_| {});
    server
        .add_check(
            "db",
            Box::new(|| (Outcome::Down, String::new())),
            Some(fast(1, 1)),
        )
        .unwrap();
    let mut c = Client::connect(&server);
    // FAILED also while the first result is awaited: wait for the check's own verdict.
    let mut line = String::new();
    wait_for(Duration::from_secs(5), || {
        line = c.ask("check");
        !line.contains("waiting for first result")
    });
    assert_eq!(c.ask("ping"), "FAILED");
    assert!(
        line.ends_with(r#" reason="db: DOWN (no reason given)""#),
        "{line}"
    );
    let named = c.ask("check db");
    assert!(
        named.ends_with(r#" reason="DOWN (no reason given)""#),
        "{named}"
    );
}
