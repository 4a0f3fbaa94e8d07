//! Footprint of the embedded monitor server inside the process that embeds it, all from
//! /proc: the resident memory and threads that starting it adds (same process, before and
//! after), and what it costs while idle, CPU time and wake-ups of its threads over a window
//! of at least 10 s, first with no check, then with one check at the default interval.

#[path = "../support/mod.rs"]
mod support;

mod idle;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hamon::config::{CheckOptions, Config};
use hamon::monitor::Server;
use hamon::monitor::check::Outcome;

use support::cleanup::Guard;
use support::procfs;
use support::report::{Report, Table};
use support::stats::{human, kib};
use support::{cli, pico};

const TARGET_RSS_KIB: u64 = 2 * 1024;
const PROBES: u32 = 1000;

fn main() {
    let Some(opts) = cli::parse("footprint") else {
        return;
    };
    let guard = Guard::install(&opts, "footprint");
    let window = if opts.quick {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(12)
    };
    let settle = Duration::from_millis(500);

    let mut memory = Table::new(&["moment", "VmRSS", "added", "threads", "added"]);
    let rss0 = procfs::vm_rss_kib("self");
    let threads0 = procfs::threads("self");
    let mut row = |moment: &str| {
        let (rss, threads) = (procfs::vm_rss_kib("self"), procfs::threads("self"));
        memory.row(vec![
            moment.to_string(),
            kib(rss),
            kib(rss.saturating_sub(rss0)),
            threads.to_string(),
            (threads - threads0).to_string(),
        ]);
        rss.saturating_sub(rss0)
    };
    row("before ha_server_start");

    let cfg = Config {
        port: Some(0),
        ..Config::default()
    };
    let server = Server::start(&cfg).expect("start the monitor server");
    server.ready();
    std::thread::sleep(settle);
    let added_at_start = row("server started and ready, no check");
    let no_check = idle::measure(window, || 0);

    let runs = Arc::new(AtomicU64::new(0));
    let counter = runs.clone();
    let interval = CheckOptions::default().interval;
    server
        .add_check(
            "app",
            Box::new(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                (Outcome::Up, String::new())
            }),
            None,
        )
        .expect("add a check");
    std::thread::sleep(settle);
    let added_with_check = row("one check added");
    let one_check = idle::measure(window, || runs.load(Ordering::Relaxed));

    pico::wait_healthy(
        server.port(),
        Duration::from_millis(10),
        Duration::from_secs(5),
    )
    .expect("the server answers UP");
    for _ in 0..PROBES {
        ask_check(server.port());
    }
    let added_after_probes = row(&format!("after answering {PROBES} probes"));
    server.stop();

    let mut report = Report::new("footprint");
    report.heading("Footprint of the embedded server");
    report.paragraph(
        "Resident memory and threads of one process before and after `Server::start` (what \
         `ha_server_start` runs), from /proc/self/status:",
    );
    report.table(&memory);
    report.paragraph(&format!(
        "Idle cost over {} per situation: wake-ups are the voluntary context switches of \
         each hamon thread (/proc/self/task/*/status), CPU its schedstat run time. The check \
         (interval {}, a callback that returns at once) is the only thing that should wake \
         anything: per run at most 2 wake-ups of the scheduler and 2 of the check's worker, \
         counted for one run more than the window saw (a run on its edge), none of the \
         network thread.",
        human(window),
        human(interval)
    ));
    report.table(&idle::table(&[
        ("no check", &no_check),
        ("one check", &one_check),
    ]));

    let worst_rss = added_at_start.max(added_with_check).max(added_after_probes);
    report.target(
        "footprint: at most 2 MiB resident added",
        &format!("{} at most", kib(worst_rss)),
        worst_rss <= TARGET_RSS_KIB,
    );
    let total_no_check = no_check.total_wakeups();
    report.target(
        "footprint: no idle wake-ups beyond the check interval",
        &format!(
            "no check: {total_no_check}; one check: {} for {} runs (allowed: {})",
            one_check.total_wakeups(),
            one_check.runs,
            one_check
                .threads
                .keys()
                .map(|t| one_check.allowed(t))
                .sum::<u64>()
        ),
        total_no_check == 0 && one_check.within_allowance(),
    );
    report.write(&opts.out);
    drop(guard);
}

/// One `check` over a fresh connection, with nothing but std (so no client code of the
/// library adds to this process's resident set).
fn ask_check(port: u16) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.write_all(b"check\r\nquit\r\n").expect("send");
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).expect("reply");
    assert!(line.starts_with("UP "), "unexpected reply {line:?}");
}
