//! The server under load, in a process of its own (this program again, with
//! `HAMON_BENCH_ROLE=load-server`): the embedded monitor server with one check whose callback
//! takes 200 ms and counts its invocations. It prints `port N`, answers each line on stdin
//! with `runs N uptime_ms M`, and stops at end of input.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hamon::config::{CheckOptions, Config};
use hamon::monitor::Server;
use hamon::monitor::check::Outcome;

pub const ROLE_ENV: &str = "HAMON_BENCH_ROLE";
pub const ROLE: &str = "load-server";
/// How long the check callback takes: far slower than any reply may be.
pub const CALLBACK_TIME: Duration = Duration::from_millis(200);
/// How often the check runs (the library's default `ha.check.interval_ms`).
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// Room for 100 clients and connections still closing (the default cap is 16).
pub const MAX_CONNECTIONS: usize = 256;

pub fn serve() {
    let cfg = Config {
        port: Some(0),
        max_connections: MAX_CONNECTIONS,
        ..Config::default()
    };
    let server = Server::start(&cfg).expect("start the monitor server");
    let runs = Arc::new(AtomicU64::new(0));
    let counter = runs.clone();
    let opts = CheckOptions {
        interval: CHECK_INTERVAL,
        timeout: CALLBACK_TIME * 10,
        rise: 1,
        fall: 1,
        ..CheckOptions::default()
    };
    let started = Instant::now();
    server
        .add_check(
            "slow",
            Box::new(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(CALLBACK_TIME);
                (Outcome::Up, String::new())
            }),
            Some(opts),
        )
        .expect("add the slow check");
    server.ready();
    let mut out = std::io::stdout().lock();
    writeln!(out, "port {}", server.port())
        .and_then(|()| out.flush())
        .expect("stdout");
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
        let reply = format!(
            "runs {} uptime_ms {}",
            runs.load(Ordering::Relaxed),
            started.elapsed().as_millis()
        );
        if writeln!(out, "{reply}").and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    server.stop();
}
