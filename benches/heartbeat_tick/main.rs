//! The heartbeat's cost per beat against the seed script's: the `hb_tick` of an active node
//! that writes its record with its syncs and reads the others, on a local file system, and
//! all its hb_tick time per heartbeat period, beside one iteration of the seed's loop (run
//! unchanged, its sleep taken out from outside; see seed_loop.rs); and the beat of an active
//! node on a local three-member etcd: one keepalive and one range read (etcd_period.rs).

#[path = "../support/mod.rs"]
mod support;

mod c_node;
mod etcd_period;
mod hamon_period;
mod seed_loop;
mod usage;

use std::time::Duration;

use support::cleanup::Guard;
use support::report::{Report, Table};
use support::stats::{Samples, human, ratio};
use support::{cli, procfs, seed};

fn main() {
    let Some(opts) = cli::parse("heartbeat_tick") else {
        return;
    };
    let guard = Guard::install(&opts, "heartbeat_tick");
    let window = if opts.quick {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(20)
    };

    let hb_dir = guard.subdir("hamon");
    let fs_type = procfs::filesystem_of(&hb_dir);
    let hamon = hamon_period::measure(&hb_dir, window);
    let seed =
        seed::source().map(|script| seed_loop::measure(&script, &guard.subdir("seed"), window));
    let on_etcd = etcd_period::measure(&guard.subdir("etcd"), window);

    let mut report = Report::new("heartbeat_tick");
    report.heading("Heartbeat: cost of one beat, hb_tick against the seed's loop");
    report.paragraph(&format!(
        "Both on the same local file system ({fs_type}, the scratch directory), {} each. \
         hamon: an active node of two, ticked through the C ABI as a daemon does \
         (`hb_tick`, sleep `next_tick_ms`), fast profile (period {}); its beat is the \
         hb_tick that writes its record in place with O_DSYNC or fsync and reads the peer's \
         and the maintenance record; a period is every hb_tick between two writes. Seed: one iteration \
         of its loop as the active instance (`ls -1tr | tail`, `pgrep -f`, `touch`, no \
         sync), its `sleep 3` replaced from outside by a function given through BASH_ENV \
         that only records the time; the script itself runs unchanged.",
        human(window),
        human(hamon.timing.period)
    ));
    let mut t = Table::new(&[
        "one beat",
        "samples",
        "mean",
        "p50",
        "p99",
        "max",
        "CPU per beat",
        "hb_tick calls per beat",
        "mean vs hamon's beat",
        "p50 vs hamon's beat",
    ]);
    let (base, base_p50) = (hamon.write_ticks.mean(), hamon.write_ticks.quantile(0.5));
    let mut row = |label: &str, s: &Samples, cpu: Duration, calls: Option<f64>| {
        t.row(vec![
            label.to_string(),
            s.count().to_string(),
            human(s.mean()),
            human(s.quantile(0.5)),
            human(s.quantile(0.99)),
            human(s.max()),
            human(cpu),
            calls.map_or("–".to_string(), |c| format!("{c:.2}")),
            ratio(s.mean(), base),
            ratio(s.quantile(0.5), base_p50),
        ]);
    };
    row(
        "hamon: the hb_tick that writes and reads",
        &hamon.write_ticks,
        hamon.cpu_per_period,
        Some(hamon.calls_per_period),
    );
    row(
        "hamon: every hb_tick of one period",
        &hamon.periods,
        hamon.cpu_per_period,
        Some(hamon.calls_per_period),
    );
    let mut notes = Vec::new();
    if let Ok(e) = &on_etcd {
        row(
            "hamon on etcd: every hb_tick of one period (one keepalive, one range read)",
            &e.periods,
            e.cpu_per_period,
            Some(e.calls_per_period),
        );
        row(
            "hamon on etcd: the hb_tick that got the keepalive's answer",
            &e.ack_ticks,
            e.cpu_per_period,
            Some(e.calls_per_period),
        );
    }
    match &seed {
        Ok(s) => {
            row(
                "seed: one loop iteration without its sleep",
                &s.iterations,
                s.cpu_per_iteration,
                None,
            );
            if !s.steady {
                notes.push(
                    "The seed did not reach its active state (application started, heartbeat \
                     file touched): its row is not an active instance's."
                        .to_string(),
                );
            }
            if !s.complaints.is_empty() {
                notes.push(format!(
                    "The seed wrote on stderr: {}.",
                    s.complaints.join("; ")
                ));
            }
        }
        Err(why) => {
            let mut cells = vec!["seed".to_string(), format!("not measured: {why}")];
            cells.resize(10, "–".to_string());
            t.row(cells);
        }
    }
    if let Err(why) = &on_etcd {
        let mut cells = vec!["hamon on etcd".to_string(), format!("not measured: {why}")];
        cells.resize(10, "–".to_string());
        t.row(cells);
    }
    report.table(&t);
    report.paragraph(&format!(
        "CPU per beat is the process's (its I/O threads included) over the window, divided by \
         the beats; hb_tick calls per beat, every call of the window divided by the beats (a \
         caller that sleeps `next_tick_ms` wakes for the next timer: about twice a period). \
         The hb_tick calls that wrote nothing ({} of them, {} answered `next_tick_ms` 0) took \
         p50 {}, p99 {}, max {} (I/O timeout: {}).",
        hamon.other_ticks.count(),
        hamon.zero_answers,
        human(hamon.other_ticks.quantile(0.5)),
        human(hamon.other_ticks.quantile(0.99)),
        human(hamon.other_ticks.max()),
        human(hamon.timing.io_timeout)
    ));
    if let Ok(e) = &on_etcd {
        report.paragraph(&format!(
            "hamon on etcd: the same node with `hb.backend=etcd` on three local etcd members \
             (--heartbeat-interval {} ms, --election-timeout {} ms, data on the scratch disk), \
             period {}, I/O timeout {}, TTL {}, its peer absent; a period is every hb_tick \
             between two that saw a keepalive acknowledged (the lease's deadline moved on), \
             hb_tick waiting for its etcd thread's calls. Per period the members received \
             {:.2} keepalives, {:.2} range reads and {:.2} other requests (their /metrics), and \
             spent {} of CPU above their idle rate (raft heartbeats), all three together. The \
             other hb_tick calls ({} of them, {} answered `next_tick_ms` 0) took p50 {}, p99 \
             {}, max {}.",
            support::etcd::HEARTBEAT_MS,
            support::etcd::ELECTION_MS,
            human(e.timing.period),
            human(e.timing.io_timeout),
            human(e.timing.lease_ttl),
            e.keepalives,
            e.ranges,
            e.others,
            human(e.etcd_cpu_per_period),
            e.other_ticks.count(),
            e.zero_answers,
            human(e.other_ticks.quantile(0.5)),
            human(e.other_ticks.quantile(0.99)),
            human(e.other_ticks.max()),
        ));
    }
    for note in notes {
        report.paragraph(&note);
    }
    report.write(&opts.out);
    drop(guard);
}
