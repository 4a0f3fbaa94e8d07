//! An idle server must not wake up: it lives inside someone else's process, and a
//! busy-polling monitor costs CPU and power on every host it runs on.
//!
//! Its own test binary, so no other server's threads share the process.

use std::time::Duration;

use hamon::config::{CheckOptions, Config};
use hamon::monitor::Server;
use hamon::monitor::check::Outcome;

/// Context switches of every thread of this process whose name starts with `prefix`, and
/// how many such threads there are.
fn switches(prefix: &str) -> (u64, usize) {
    let (mut total, mut threads) = (0, 0);
    for task in std::fs::read_dir("/proc/self/task").expect("procfs") {
        let dir = task.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !comm.trim_end().starts_with(prefix) {
            continue;
        }
        threads += 1;
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        for line in status.lines() {
            if let Some(v) = line
                .strip_prefix("voluntary_ctxt_switches:")
                .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
            {
                total += v.trim().parse::<u64>().unwrap();
            }
        }
    }
    (total, threads)
}

#[test]
fn idle_server_threads_sleep() {
    let cfg = Config {
        port: Some(0),
        ..Config::default()
    };
    let server = Server::start(&cfg).unwrap();
    server.ready();
    std::thread::sleep(Duration::from_millis(200));
    let (before, threads) = switches("hamon-");
    assert_eq!(threads, 2, "the network and scheduler threads");
    std::thread::sleep(Duration::from_millis(1500));
    let idle = switches("hamon-").0 - before;
    assert!(
        idle <= 2,
        "an idle server without checks woke {idle} times in 1.5 s"
    );

    // With one check every 500 ms, the threads wake for that check and nothing else.
    let opts = CheckOptions {
        interval: Duration::from_millis(500),
        ..CheckOptions::default()
    };
    server
        .add_check("db", Box::new(|| (Outcome::Up, String::new())), Some(opts))
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (before, threads) = switches("hamon-");
    assert_eq!(threads, 3, "plus the check's worker");
    std::thread::sleep(Duration::from_millis(2000));
    let woke = switches("hamon-").0 - before;
    assert!(woke >= 4, "the check ran, so its threads woke ({woke})");
    assert!(
        woke <= 24,
        "4 check runs in 2 s should need a handful of wake-ups, saw {woke}"
    );
    server.stop();
}
