//! `hb.metrics_listen` under clients that hold connections open: 2,000 idle connections
//! held, new idle ones opened all the while, and a slow-loris client sending a byte a
//! second, yet 30 scrapes over six seconds are all answered, each within a bound; the active keeps
//! renewing meanwhile (no fence, no takeover). Once with the descriptor limit the test runs
//! under, once with the daemon held to 64 descriptors, where the listener must leave the
//! heartbeat its own.
//!
//! Linux only; needs /bin/sh, /proc/uptime and prlimit (util-linux).

#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common;

use common::cluster::*;
use common::ports::free_port;

const IDLE: usize = 2_000;
const SCRAPES: usize = 30;
/// How long one scrape may take, flood or not.
const SCRAPE_BOUND: Duration = Duration::from_secs(2);
const SCRAPE_EVERY: Duration = Duration::from_millis(200);

/// Lets this process hold the idle connections (root may raise the hard limit too).
fn raise_nofile(want: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointers to an rlimit.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur >= want as libc::rlim_t {
            return;
        }
        lim.rlim_cur = want as libc::rlim_t;
        lim.rlim_max = lim.rlim_max.max(want as libc::rlim_t);
        assert_eq!(
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim),
            0,
            "cannot raise RLIMIT_NOFILE to {want}: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn connect(addr: SocketAddr) -> Option<TcpStream> {
    TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()
}

/// One scrape: the status line and the body, and how long it took.
fn scrape(addr: SocketAddr) -> Result<(String, String, Duration), String> {
    let t = Instant::now();
    let mut s = connect(addr).ok_or("cannot connect")?;
    s.set_read_timeout(Some(SCRAPE_BOUND * 2))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .map_err(|e| format!("request: {e}"))?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .map_err(|e| format!("reply after {} ms: {e}", t.elapsed().as_millis()))?;
    let (head, body) = resp.split_once("\r\n\r\n").ok_or(format!(
        "no reply after {} ms: {resp:?}",
        t.elapsed().as_millis()
    ))?;
    let status = head.lines().next().unwrap_or_default().to_string();
    Ok((status, body.to_string(), t.elapsed()))
}

/// Clients that never finish a request, until `stop`.
struct Attack {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<usize>>,
    /// Idle connections held when the scrapes began.
    idle_held: usize,
}

impl Attack {
    /// `IDLE` connections opened and held; then one thread keeps opening idle ones (each
    /// replacing the oldest held), another sends a request one byte a second.
    fn start(addr: SocketAddr) -> Attack {
        // A listener that stops accepting fills its backlog, and connecting then waits: the
        // attack takes what it gets within a bound (all of them, checked after the scrapes).
        let until = Instant::now() + Duration::from_secs(15);
        let mut held: Vec<TcpStream> = Vec::with_capacity(IDLE);
        while held.len() < IDLE && Instant::now() < until {
            if let Ok(c) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
                held.push(c);
            }
        }
        let idle_held = held.len();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let churn = std::thread::spawn(move || {
            let mut opened = 0;
            let mut i = 0;
            while !s.load(Ordering::Relaxed) {
                if let Ok(c) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
                    if held.len() < IDLE {
                        held.push(c);
                    } else {
                        held[i % IDLE] = c;
                        i += 1;
                    }
                    opened += 1;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            opened
        });
        let s = stop.clone();
        let loris = std::thread::spawn(move || {
            let request = b"GET /metrics HTTP/1.1\r\nHost: slow\r\n\r\n";
            let (mut sent, mut closed) = (0, 0);
            let mut conn = connect(addr);
            while !s.load(Ordering::Relaxed) {
                let byte = request[sent % request.len()..][..1].to_vec();
                if conn.as_mut().is_none_or(|c| c.write_all(&byte).is_err()) {
                    // Closed by the daemon at its deadline: start over, as a patient attacker.
                    closed += 1;
                    sent = 0;
                    conn = connect(addr);
                } else {
                    sent += 1;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            closed
        });
        Attack {
            stop,
            threads: vec![churn, loris],
            idle_held,
        }
    }

    /// Ends it: how many connections the churner opened, and how often the daemon closed
    /// the slow client's.
    fn stop(mut self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        let counts: Vec<usize> = self.threads.drain(..).map(|t| t.join().unwrap()).collect();
        (counts[0], counts[1])
    }
}

impl Drop for Attack {
    /// A test that fails midway stops its clients too.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Runs the attack on n1's metrics at `port` while n1 is active and n2 watches.
fn scrapes_survive(mut c: Cluster, port: u16) {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    c.start("n1");
    let active = c.wait_running_on(|i| i.node == "n1", failover_bound() * 2);
    c.start("n2");
    assert!(
        wait_until(failover_bound() * 2, || scrape(addr).is_ok_and(
            |(_, body, _)| {
                body.contains(r#"hamon_heartbeat_peer_state{peer="n2",state="alive"} 1"#)
            }
        )),
        "no scrape saw n2 alive\n{}",
        c.logs()
    );
    let attack = Attack::start(addr);
    let idle_held = attack.idle_held;
    let mut slowest = Duration::ZERO;
    let mut last = String::new();
    for k in 1..=SCRAPES {
        let (status, body, took) = scrape(addr)
            .unwrap_or_else(|e| panic!("scrape {k} of {SCRAPES} under attack: {e}\n{}", c.logs()));
        assert!(status.starts_with("HTTP/1.1 200 "), "scrape {k}: {status}");
        assert!(
            took <= SCRAPE_BOUND,
            "scrape {k} took {} ms\n{}",
            took.as_millis(),
            c.logs()
        );
        slowest = slowest.max(took);
        last = body;
        // Spread over several seconds: the churn and the slow client go on meanwhile, and
        // the active renews many times.
        std::thread::sleep(SCRAPE_EVERY);
    }
    let (opened, loris_closed) = attack.stop();
    eprintln!(
        "{SCRAPES} scrapes answered beside {idle_held} idle connections held, {opened} more \
         opened meanwhile and a slow client (closed {loris_closed} times): the slowest took {} \
         ms",
        slowest.as_millis()
    );
    assert_eq!(idle_held, IDLE, "the attack could not open its connections");
    assert!(
        loris_closed > 0,
        "a client sending a byte a second kept its connection"
    );
    // The heartbeat never noticed.
    assert!(
        last.contains("hamon_heartbeat_fences_total 0"),
        "{last}\n{}",
        c.logs()
    );
    assert!(pid_alive(active.pid), "{}", c.logs());
    let all = c.instances();
    assert!(
        all.len() == 1 && all[0].pid == active.pid,
        "a takeover under the attack: {all:?}\n{}",
        c.logs()
    );
    assert!(!c.log("n1").contains("self-fencing"), "{}", c.log("n1"));
    c.assert_no_overlap();
}

#[test]
fn idle_and_slow_clients_cannot_starve_a_scrape() {
    raise_nofile(IDLE as u64 + 1_000);
    let c = Cluster::new("metrics-clients", &["n1", "n2"], "");
    let port = free_port();
    c.add_conf("n1", &format!("hb.metrics_listen=127.0.0.1:{port}\n"));
    scrapes_survive(c, port);
}

#[test]
fn a_daemon_with_few_descriptors_keeps_renewing_and_answering() {
    raise_nofile(IDLE as u64 + 1_000);
    let limit = vec!["prlimit".to_string(), "--nofile=64:64".to_string()];
    let c = Cluster::new_at("metrics-fds", &["n1", "n2"], "", &[limit]);
    let port = free_port();
    c.add_conf("n1", &format!("hb.metrics_listen=127.0.0.1:{port}\n"));
    scrapes_survive(c, port);
}
