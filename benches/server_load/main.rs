//! The monitor server under load: `check` latency and throughput with 1, 16 and 100
//! concurrent clients, persistent and connect-per-probe, against a server (its own process)
//! whose only check callback takes 200 ms; closed loop (as fast as the clients can ask) and
//! paced (each client every 10 ms: one client is what a cluster manager does, only more
//! often); and the proof that the callback runs at its interval however many requests come
//! in (replies come from the cached result).

#[path = "../support/mod.rs"]
mod support;

mod loadgen;
mod serve;
mod server_process;

use std::net::SocketAddr;
use std::time::Duration;

use loadgen::Mode;
use server_process::ServerProcess;
use support::cleanup::Guard;
use support::report::{Report, Table};
use support::stats::human;
use support::{cli, pico};

const CONCURRENCY: [usize; 3] = [1, 16, 100];
const MODES: [Mode; 2] = [Mode::Persistent, Mode::ConnectPerProbe];
/// How often each client probes in the paced runs: with 100 clients 10,000 probes/s in all,
/// far above what cluster managers and load balancers ask.
const PACE: Duration = Duration::from_millis(10);
const PACED_CONCURRENCY: [usize; 2] = [1, 100];

fn main() {
    if std::env::var(serve::ROLE_ENV).as_deref() == Ok(serve::ROLE) {
        serve::serve();
        return;
    }
    let Some(opts) = cli::parse("server_load") else {
        return;
    };
    let guard = Guard::install(&opts, "server_load");
    let cell = if opts.quick {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(5)
    };

    let mut server = ServerProcess::start();
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port));
    // The first check result makes it UP; until then it says STARTING.
    pico::wait_healthy(
        server.port,
        Duration::from_millis(10),
        Duration::from_secs(10),
    )
    .expect("the server answers UP");
    loadgen::run(addr, 16, Mode::Persistent, None, cell / 5);

    let mut table = Table::new(&[
        "clients",
        "connections",
        "pace",
        "requests",
        "throughput",
        "p50",
        "p99",
        "max",
        "server CPU per request",
        "generator start lag p99",
        "errors",
    ]);
    let mut answered = 0;
    let mut p99_at_100 = Vec::new();
    let closed_loop = CONCURRENCY
        .iter()
        .flat_map(|&c| MODES.map(|m| (c, m, None)));
    let paced = PACED_CONCURRENCY
        .iter()
        .flat_map(|&c| MODES.map(|m| (c, m, Some(PACE))));
    for (clients, mode, pace) in closed_loop.chain(paced) {
        let cpu_before = server.cpu();
        let out = loadgen::run(addr, clients, mode, pace, cell);
        let cpu = server.cpu().saturating_sub(cpu_before);
        let requests = out.answered + out.errors;
        answered += out.answered;
        let p99 = out.latency.quantile(0.99);
        let pace_label = match pace {
            Some(p) => format!("each every {}", human(p)),
            None => "closed loop".to_string(),
        };
        if clients == 100 {
            p99_at_100.push((mode, pace_label.clone(), p99));
        }
        table.row(vec![
            clients.to_string(),
            mode.label().to_string(),
            pace_label,
            requests.to_string(),
            format!("{:.0}/s", requests as f64 / out.elapsed.as_secs_f64()),
            human(out.latency.quantile(0.5)),
            human(p99),
            human(out.latency.max()),
            human(cpu / requests.max(1) as u32),
            match pace {
                Some(_) => human(out.start_lag.quantile(0.99)),
                None => "–".to_string(),
            },
            out.errors.to_string(),
        ]);
    }
    let runs = server.runs();
    drop(server);

    let interval = serve::CHECK_INTERVAL;
    // The first run starts at once, then one every interval.
    let expected = (runs.uptime.as_millis() / interval.as_millis()) as u64 + 1;
    let mut calls = Table::new(&[
        "server up",
        "UP replies",
        "check callback runs",
        "expected at one per interval",
    ]);
    calls.row(vec![
        human(runs.uptime),
        answered.to_string(),
        runs.runs.to_string(),
        format!("{expected} (every {})", human(interval)),
    ]);

    let mut report = Report::new("server_load");
    report.heading("Server under load: `check` with a 200 ms check callback");
    report.paragraph(&format!(
        "Each row runs {} against the embedded server in its own process (ha.max_connections \
         = {}). Closed loop: every client sends its next `check` as soon as the reply is in, \
         so the server is saturated and latency is queueing (in-flight requests / \
         throughput). Paced: each client starts a probe every {}; the generator's own lag in \
         starting them is shown, and a probe held up by its predecessor's late reply counts \
         from when it was due. One load-generator thread (mio); connect-per-probe clients close with a \
         reset. Server CPU is that of all its threads (schedstat) over the row.",
        human(cell),
        serve::MAX_CONNECTIONS,
        human(PACE)
    ));
    report.table(&table);
    report.paragraph(&format!(
        "The check callback sleeps {} and counts its invocations; replies come from the \
         cached result, so the count follows the interval, not the requests:",
        human(serve::CALLBACK_TIME)
    ));
    report.table(&calls);
    for (mode, pace, p99) in p99_at_100 {
        report.target(
            &format!(
                "load: check p99 under 1 ms at 100 clients, {}, {pace}",
                mode.label()
            ),
            &human(p99),
            p99 < Duration::from_millis(1),
        );
    }
    report.target(
        "load: callbacks run at their interval, not per request",
        &format!(
            "{} runs for {answered} replies; {expected} expected",
            runs.runs
        ),
        runs.runs.abs_diff(expected) <= 1,
    );
    report.write(&opts.out);
    drop(guard);
}
