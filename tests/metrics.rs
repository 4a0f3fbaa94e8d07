//! `GET /metrics` on a real monitor server: what it says matches what happened, the text is
//! read back by a strict reader here and by `promtool check metrics` (Debian's `prometheus`
//! package, installed by scripts/test), and the largest reply a server can give arrives
//! whole over TCP and the Unix socket.

use crate::common::prom;
use crate::common::promtool;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use hamon::config::{CheckOptions, Config, CounterRule};
use hamon::monitor::Server;
use hamon::monitor::check::Outcome;
use hamon::monitor::counters::MAX_COUNTERS;
use hamon::monitor::server::MAX_CHECKS;
use prom::{parse, value};
use promtool::validate;

fn server(edit: impl FnOnce(&mut Config)) -> Server {
    let mut cfg = Config {
        port: Some(0),
        ..Config::default()
    };
    edit(&mut cfg);
    Server::start(&cfg).expect("server starts")
}

fn fast() -> CheckOptions {
    CheckOptions {
        interval: Duration::from_millis(20),
        timeout: Duration::from_millis(500),
        rise: 1,
        fall: 1,
        ..CheckOptions::default()
    }
}

/// The whole HTTP response from `stream`, split into the head and the body.
fn exchange(mut stream: impl Read + Write, request: &str) -> (String, String) {
    stream.write_all(request.as_bytes()).unwrap();
    let mut resp = String::new();
    stream.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").expect("a complete response");
    (head.to_string(), body.to_string())
}

fn get_metrics(server: &Server) -> String {
    let stream = TcpStream::connect(server.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let (head, body) = exchange(stream, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(
        head.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())),
        "{head}"
    );
    body
}

fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

#[test]
fn metrics_follow_the_state_checks_counters_and_connections() {
    let server = server(|c| {
        c.app_name = "billing".into();
        c.max_connections = 2;
        c.max_connections_per_source = 2;
        c.first_command_timeout = Duration::from_secs(1);
        c.counters.insert(
            "tx".into(),
            CounterRule {
                min: Some(3),
                ..Default::default()
            },
        );
    });
    server
        .add_check(
            "db.primary-1",
            Box::new(|| (Outcome::Down, "refused".into())),
            Some(fast()),
        )
        .unwrap();
    server
        .add_check(
            "disk",
            Box::new(|| (Outcome::Up, String::new())),
            Some(fast()),
        )
        .unwrap();
    server.counter_add("tx", 5).unwrap();
    server.ready();

    let mut samples = Vec::new();
    assert!(wait_for(Duration::from_secs(5), || {
        samples = validate(&get_metrics(&server));
        value(
            &samples,
            "hamon_check_runs_total",
            &[("check", "db.primary-1")],
        )
        .is_some_and(|n| n >= 2.0)
    }));
    // A client that never sends a command is closed by the first-command deadline.
    let mut silent = TcpStream::connect(server.local_addr()).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = String::new();
    silent.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "ERR first-command-timeout\r\n");
    // At the cap of 2, a third connection makes the longest-waiting one leave with BUSY.
    let mut idle: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(server.local_addr()).unwrap())
        .collect();
    let mut third = TcpStream::connect(server.local_addr()).unwrap();
    third.write_all(b"ping\r\n").unwrap();
    let mut answer = [0u8; 8];
    third.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"FAILED\r\n", "the instance is DOWN");
    idle[0]
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = String::new();
    idle[0].read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "BUSY\r\n");
    drop((idle, third));
    let samples = validate(&get_metrics(&server));
    let v = |n: &str, l: &[(&str, &str)]| value(&samples, n, l);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(v("hamon_build_info", &[("version", version)]), Some(1.0));
    assert!(v("hamon_uptime_seconds", &[]).unwrap() > 0.0);
    assert_eq!(v("hamon_state", &[("state", "DOWN")]), Some(1.0));
    assert_eq!(v("hamon_state", &[("state", "UP")]), Some(0.0));
    assert_eq!(v("hamon_available", &[]), Some(0.0));
    let db = |state| {
        v(
            "hamon_check_state",
            &[("check", "db.primary-1"), ("state", state)],
        )
    };
    assert_eq!((db("DOWN"), db("UP")), (Some(1.0), Some(0.0)));
    assert_eq!(
        v("hamon_check_state", &[("check", "disk"), ("state", "UP")]),
        Some(1.0)
    );
    let runs = v("hamon_check_runs_total", &[("check", "db.primary-1")]).unwrap();
    let failures = v("hamon_check_failures_total", &[("check", "db.primary-1")]).unwrap();
    assert!(runs >= 2.0 && failures == runs, "{runs} {failures}");
    assert_eq!(
        v("hamon_check_failures_total", &[("check", "disk")]),
        Some(0.0)
    );
    assert!(v("hamon_check_latency_seconds", &[("check", "disk")]).unwrap() < 0.5);
    assert!(v("hamon_check_age_seconds", &[("check", "disk")]).is_some());
    assert_eq!(v("hamon_events_total", &[("counter", "tx")]), Some(5.0));
    assert_eq!(v("hamon_events_in_window", &[("counter", "tx")]), Some(5.0));
    assert_eq!(
        v("hamon_events_window_min", &[("counter", "tx")]),
        Some(3.0)
    );
    assert_eq!(v("hamon_events_window_seconds", &[]), Some(40.0));
    assert_eq!(
        v(
            "hamon_connections_expired_total",
            &[("deadline", "first-command-timeout")]
        ),
        Some(1.0)
    );
    // The silent client, the two idle ones and three metrics requests.
    assert_eq!(
        v("hamon_connections_accepted_total", &[]).map(|n| n >= 6.0),
        Some(true)
    );
    assert_eq!(v("hamon_connections_busy_total", &[]), Some(1.0));
    assert_eq!(v("hamon_connections_denied_total", &[]), Some(0.0));
    assert!(
        v("hamon_connections", &[]).unwrap() >= 1.0,
        "this request is open"
    );
    server.stop();
}

/// The most a server can hold: 64 checks and 256 counters with 64-character names. The
/// reply is larger than the unread-reply cap of one connection (64 KiB), arrives whole, and
/// stays under the bound docs/monitor-server.md gives.
#[test]
fn the_largest_reply_arrives_whole_over_tcp_and_the_unix_socket() {
    let dir = std::env::temp_dir().join(format!("hamon-metrics-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("ha.sock");
    let server = server(|c| c.unix_socket = Some(socket.clone()));
    let slow = CheckOptions {
        interval: Duration::from_secs(60),
        ..CheckOptions::default()
    };
    for i in 0..MAX_CHECKS {
        let name = format!("check-{i:0>58}");
        let opts = Some(slow.clone());
        server
            .add_check(&name, Box::new(|| (Outcome::Up, String::new())), opts)
            .unwrap();
    }
    for i in 0..MAX_COUNTERS {
        server.counter_add(&format!("count-{i:0>58}"), 1).unwrap();
    }
    server.ready();
    assert!(wait_for(Duration::from_secs(10), || {
        server.state() == hamon::monitor::state::State::Up
    }));
    let body = get_metrics(&server);
    assert!(
        (64 * 1024..160 * 1024).contains(&body.len()),
        "{} bytes",
        body.len()
    );
    let samples = validate(&body);
    let checks = samples
        .iter()
        .filter(|s| s.0 == "hamon_check_runs_total")
        .count();
    let counters = samples
        .iter()
        .filter(|s| s.0 == "hamon_events_total")
        .count();
    assert_eq!((checks, counters), (MAX_CHECKS, MAX_COUNTERS));

    let unix = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    unix.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (head, unix_body) = exchange(unix, "GET /metrics HTTP/1.0\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(parse(&unix_body).unwrap().len(), samples.len());
    server.stop();
    std::fs::remove_dir_all(dir).unwrap();
}

/// The heartbeat daemon's renderer, with a peer name no check could have, passes the same
/// readers.
#[test]
fn the_heartbeat_metrics_pass_the_same_readers() {
    use hamon::heartbeat::core::Role;
    use hamon::heartbeat::observe::Liveness;
    use hamon::metrics::heartbeat::{Peer, Snapshot, exposition};
    let odd = "dc 2 \"east\"\\\nrack";
    let text = exposition(&Snapshot {
        node: "dc1".into(),
        role: Role::Active,
        epoch: 7,
        lease_left: Some(Duration::from_millis(4_500)),
        last_write: Some(Duration::from_micros(800)),
        peers: vec![Peer {
            name: odd.into(),
            liveness: Liveness::Alive,
            changed_ago: Some(Duration::from_millis(900)),
        }],
        takeovers: 1,
        fences: 0,
        incidents: vec![("storage", 2), ("fence", 0)],
        uptime: Duration::from_secs(10),
    });
    let samples = validate(&text);
    assert_eq!(
        value(
            &samples,
            "hamon_heartbeat_peer_state",
            &[("peer", odd), ("state", "alive")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "hamon_heartbeat_lease_remaining_seconds", &[]),
        Some(4.5)
    );
}
