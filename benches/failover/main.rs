//! Failover time with real processes, two rows per setup: "daemon killed" (kill -9 of the
//! active daemon alone: its guard hands the term over) against 2P + 4 T_io + C (etcd: P +
//! 4 T_io + W) plus the application's start time, and "node lost" (the active's daemon, guard
//! and application killed at once, as when its host dies) against D + 2P + 6 T_io + C (etcd:
//! TTL + 3E + 0.5 s + P + 3 T_io + W) plus the start time. hamon's `ha-heartbeat` with the fast
//! timing and the `hb.profile`s (nfs, the default; san; local), hamon on a local three-member
//! etcd (`hb.backend=etcd`), and the seed script with its own settings under kill -9 of its
//! active instance. The fast and the etcd clusters run one after another; the profiles' and the
//! seed's (ten seconds to over a minute per failover) all at once, each in its own directory.

#[path = "../support/mod.rs"]
mod support;

mod daemons;
mod etcd_cluster;
mod hamon_cluster;
mod seed_cluster;
mod watch;

use std::path::Path;
use std::time::Duration;

use hamon::heartbeat::etcd::timing::EtcdTiming;
use hamon::heartbeat::timing::Timing;

use daemons::Kill;
use hamon_cluster::HamonCluster;
use seed_cluster::SeedCluster;
use support::cleanup::Guard;
use support::report::{Report, Table};
use support::stats::{Samples, human};
use support::{cli, pico, seed};
use watch::Failover;

/// Probe interval while watching: the resolution of the figures.
const FAST_EVERY: Duration = Duration::from_millis(10);
const SLOW_EVERY: Duration = Duration::from_millis(100);

struct Series {
    label: String,
    runs: Vec<Failover>,
    /// The bound the failover must stay within, with how it is made up.
    bound: Option<(Duration, String)>,
    /// The bound's formula, for the target.
    formula: &'static str,
}

/// The rows of each setup, in this order.
pub const KILLS: [Kill; 2] = [Kill::Daemon, Kill::Node];

const FILE_BOUND: &str = "D + 2P + 6 T_io + C + S";
const FILE_HANDOVER_BOUND: &str = "2P + 4 T_io + C + S";
const ETCD_BOUND: &str = "TTL + 3E + 0.5 s + P + 3 T_io + W + S";
const ETCD_HANDOVER_BOUND: &str = "P + 4 T_io + W + S";
const ETCD_LABEL: &str = "hamon on etcd, 3 local members (P 500 ms, TTL 6 s)";
const ETCD_DEFAULT_LABEL: &str = "hamon on etcd, default profile (P 1 s, TTL 10 s)";

fn main() {
    let Some(opts) = cli::parse("failover") else {
        return;
    };
    let guard = Guard::install(&opts, "failover");
    let runs = opts.runs.unwrap_or(if opts.quick { 3 } else { 20 });
    let pico = pico::build(guard.scratch());
    let start_time = hamon_cluster::pico_start_time(&pico, 10);

    let fast = Timing::fast();
    let profiles = [
        ("hamon, NFS profile (default)", Timing::nfs_default()),
        ("hamon, SAN profile", Timing::san()),
        ("hamon, local profile", Timing::local()),
    ];
    let mut series: Vec<Series> = KILLS
        .iter()
        .map(|&kill| {
            let runs = (0..runs)
                .map(|i| {
                    let dir = guard.subdir(&format!("fast-{}-{i}", kill.name().replace(' ', "-")));
                    HamonCluster::new(&dir, &pico, &fast).failover(&fast, FAST_EVERY, kill)
                })
                .collect();
            file_series("hamon, fast profile", kill, runs, &fast, start_time)
        })
        .collect();
    // On etcd a failover takes seconds: fewer runs than the file profiles' in a full run.
    let etcd_count = if opts.quick { runs } else { runs.min(10) };
    let etcd_dir = guard.subdir("etcd");
    let etcd_default_dir = guard.subdir("etcd-default");
    let short = etcd_cluster::short_timing();
    let default = EtcdTiming::default_profile();
    let etcd_run = || etcd_cluster::runs(&etcd_dir, &pico, etcd_count, FAST_EVERY, short);
    let etcd_default_run =
        || etcd_cluster::runs(&etcd_default_dir, &pico, etcd_count, FAST_EVERY, default);
    // (label, timing, result): the default profile only in a full run.
    let mut etcd_results = Vec::new();
    if opts.quick {
        etcd_results.push((ETCD_LABEL, short, etcd_run()));
    }

    let seed_ready = seed::source().and_then(|script| {
        seed_cluster::available()?;
        Ok(script)
    });
    let mut seed_notes = Vec::new();
    let mut skipped = Vec::new();
    if opts.quick {
        skipped.push(
            "hamon, NFS, SAN and local profiles: not run with --quick (10-80 s per failover)",
        );
        skipped.push("seed script: not run with --quick (up to a minute and a half per failover)");
    } else {
        let timings: Vec<Timing> = profiles.iter().map(|(_, t)| *t).collect();
        // The etcd clusters of each series one after another, beside the profiles' and the
        // seed's.
        let (etcd_done, (profile_runs, seed_runs)) = std::thread::scope(|scope| {
            let short_thread = scope.spawn(etcd_run);
            let default_thread = scope.spawn(etcd_default_run);
            let others = concurrent_runs(
                guard.scratch(),
                runs,
                &pico,
                &timings,
                seed_ready.as_deref().ok(),
            );
            let join =
                |t: std::thread::ScopedJoinHandle<'_, _>| t.join().expect("an etcd series' thread");
            ([join(short_thread), join(default_thread)], others)
        });
        let [short_done, default_done] = etcd_done;
        etcd_results.push((ETCD_LABEL, short, short_done));
        etcd_results.push((ETCD_DEFAULT_LABEL, default, default_done));
        for ((label, timing), per_kill) in profiles.iter().zip(profile_runs) {
            for (&kill, runs) in KILLS.iter().zip(per_kill) {
                series.push(file_series(label, kill, runs, timing, start_time));
            }
        }
        if let Some(seed_runs) = seed_runs {
            let (runs, notes): (Vec<_>, Vec<_>) = seed_runs.into_iter().unzip();
            seed_notes = notes.into_iter().flatten().collect();
            series.push(Series {
                label: "seed script (failOverTime 10 s, loopTime 3 s)".into(),
                runs,
                bound: None,
                formula: "",
            });
        }
    }
    let mut etcd_missing = Vec::new();
    for (label, t, result) in etcd_results {
        match result {
            Ok(per_kill) => {
                for (&kill, runs) in KILLS.iter().zip(per_kill) {
                    let (b, formula) = match kill {
                        Kill::Daemon => (
                            t.period + 4 * t.io_timeout + t.claim_wait(),
                            ETCD_HANDOVER_BOUND,
                        ),
                        Kill::Node => (t.failover_bound(), ETCD_BOUND),
                    };
                    let text = format!("{} + {}", human(b), human(start_time));
                    series.push(Series {
                        label: format!("{label}: {}", kill.name()),
                        runs,
                        bound: Some((b + start_time, text)),
                        formula,
                    });
                }
            }
            Err(why) => etcd_missing.push((label, why)),
        }
    }

    let mut report = Report::new("failover");
    report.heading("Heartbeat failover after kill -9 of the active daemon, and of its whole node");
    report.paragraph(&format!(
        "Two nodes on one machine, each with its own monitor port; at a random point of the \
         period the active node's daemon is killed with -9 alone (\"daemon killed\": the host \
         lives, its guard stops the application and hands the term over; bound 2P + 4 T_io + \
         C plus S, on etcd P + 4 T_io + W plus S) or together with its guard and application \
         (\"node lost\": all stopped, then killed at once, as when the host dies; the lease \
         is waited out), and the time runs from the kill \
         until the other node's application answers `check` healthy (probed every {} for \
         the fast profile, every {} otherwise). hamon: `ha-heartbeat` supervising the \
         example pico, {runs} clusters per profile, fast ones one after another, those of \
         the `hb.profile`s (nfs, san, local) all at once. The node-lost bound is D + 2P + 6 T_io + C plus S, pico's start time (the \
         slowest of 10 starts: {}). Seed: the script unchanged, each instance in its own \
         UTS and PID namespace with its own host name, sharing the heartbeat directory, \
         killed at a random point of the standby's 33 s loop. hamon on etcd: the same daemons \
         with `hb.backend=etcd` on three local etcd members (dc1, dc2, witness; \
         --heartbeat-interval {} ms, --election-timeout {} ms; data on the scratch disk), \
         P {}, T_io {}, TTL {}, K {}, and with hamon's default etcd profile (P {}, T_io {}, \
         TTL {}, K {}){}; {etcd_count} clusters per series one after another{}, each \
         listing its own site's member first; dc1 starts first, and its daemon (or its whole node) is killed once \
         dc2 stands by; probed every {}. Its node-lost bound is TTL + 3E + 0.5 s + P + 3 T_io + W plus S.",
        human(FAST_EVERY),
        human(SLOW_EVERY),
        human(start_time),
        support::etcd::HEARTBEAT_MS,
        support::etcd::ELECTION_MS,
        human(short.period),
        human(short.io_timeout),
        human(short.lease_ttl),
        human(short.kill_budget),
        human(default.period),
        human(default.io_timeout),
        human(default.lease_ttl),
        human(default.kill_budget),
        if opts.quick {
            " (not run with --quick)"
        } else {
            ""
        },
        if opts.quick {
            ""
        } else {
            " (beside the profiles' and the seed's clusters)"
        },
        human(FAST_EVERY),
    ));
    report.table(&failover_table(&series));
    let mut notes = Vec::new();
    for s in &series {
        for (i, problem) in s
            .runs
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((i, r.problem.as_ref()?)))
        {
            notes.push(format!("{} run {i}: {problem}", s.label));
        }
    }
    if let (Err(why), false) = (&seed_ready, opts.quick) {
        notes.push(format!("seed script not run: {why}"));
    }
    for (label, why) in &etcd_missing {
        notes.push(format!("{label}: not measured: {why}"));
    }
    notes.extend(skipped.iter().map(|s| s.to_string()));
    if let Some(first) = seed_notes.first() {
        notes.push(format!(
            "The seed's standby printed `{first}` at each takeover check ({} in all): \
             GNU stat has no -s; the script then reads the time with `stat -c %Y`, so the \
             check still works.",
            seed_notes.len()
        ));
    }
    for note in notes {
        report.paragraph(&format!("- {note}"));
    }
    for s in series.iter().filter(|s| s.bound.is_some()) {
        judge(&mut report, s);
    }
    for (label, why) in &etcd_missing {
        report.not_run(&format!("failover: {label} within {ETCD_BOUND}"), why);
    }
    if opts.quick {
        for (kill, formula) in KILLS.iter().zip([ETCD_HANDOVER_BOUND, ETCD_BOUND]) {
            report.not_run(
                &format!(
                    "failover: {ETCD_DEFAULT_LABEL}: {} within {formula}",
                    kill.name()
                ),
                "not run with --quick",
            );
        }
        for (label, _) in &profiles {
            for (kill, formula) in KILLS.iter().zip([FILE_HANDOVER_BOUND, FILE_BOUND]) {
                report.not_run(
                    &format!("failover: {label}: {} within {formula}", kill.name()),
                    "not run with --quick",
                );
            }
        }
    }
    report.write(&opts.out);
    drop(guard);
}

/// The series of one file-backend setup and way of killing: with a daemon killed alone the
/// guard hands over (2P + 4 T_io + C + S), with the node lost the lease is waited out
/// (D + 2P + 6 T_io + C + S).
fn file_series(
    label: &str,
    kill: Kill,
    runs: Vec<Failover>,
    t: &Timing,
    start: Duration,
) -> Series {
    let (b, formula) = match kill {
        Kill::Daemon => (
            t.period * 2 + t.io_timeout * 4 + t.confirm,
            FILE_HANDOVER_BOUND,
        ),
        Kill::Node => (t.failover_bound(), FILE_BOUND),
    };
    Series {
        label: format!("{label}: {}", kill.name()),
        runs,
        bound: Some((b + start, format!("{} + {}", human(b), human(start)))),
        formula,
    }
}

type SeedRun = (Failover, Vec<String>);

/// Every cluster of every profile in `timings` (each way of killing, `KILLS`) and every seed
/// cluster at once, one thread each; the runs of each profile in `timings`' order, per kill.
fn concurrent_runs(
    scratch: &Path,
    runs: usize,
    pico: &Path,
    timings: &[Timing],
    seed_script: Option<&Path>,
) -> (Vec<Vec<Vec<Failover>>>, Option<Vec<SeedRun>>) {
    std::thread::scope(|scope| {
        let profile_threads: Vec<Vec<Vec<_>>> = timings
            .iter()
            .enumerate()
            .map(|(p, timing)| {
                KILLS
                    .iter()
                    .enumerate()
                    .map(|(k, &kill)| {
                        (0..runs)
                            .map(|i| {
                                let dir = scratch.join(format!("profile{p}-{k}-{i}"));
                                scope.spawn(move || {
                                    HamonCluster::new(&dir, pico, timing)
                                        .failover(timing, SLOW_EVERY, kill)
                                })
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let seed_threads: Option<Vec<_>> = seed_script.map(|script| {
            (0..runs)
                .map(|i| {
                    let dir = scratch.join(format!("seed-{i}"));
                    scope.spawn(move || SeedCluster::new(&dir, script, pico).failover(SLOW_EVERY))
                })
                .collect()
        });
        let profile_runs = profile_threads
            .into_iter()
            .map(|per_kill| {
                per_kill
                    .into_iter()
                    .map(|threads| {
                        threads
                            .into_iter()
                            .map(|t| t.join().expect("a profile's cluster thread"))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let seed_runs = seed_threads.map(|threads| {
            threads
                .into_iter()
                .map(|t| t.join().expect("a seed cluster thread"))
                .collect()
        });
        (profile_runs, seed_runs)
    })
}

fn failover_table(series: &[Series]) -> Table {
    let mut t = Table::new(&[
        "setup",
        "runs",
        "failed",
        "min",
        "p50",
        "p90",
        "max",
        "bound",
        "old application gone after (max)",
        "both applications up at once",
    ]);
    for s in series {
        let done: Vec<Duration> = s.runs.iter().filter_map(|r| r.new_up).collect();
        let mut times = Samples::default();
        for &d in &done {
            times.record(d);
        }
        let gone = s.runs.iter().filter_map(|r| r.old_gone).max();
        let both = s.runs.iter().filter(|r| r.both_up).count();
        // Quantiles from the histogram; the extremes exactly, as the verdicts use them. A
        // histogram quantile is the top of its bucket, so it is kept within the extremes.
        let q = |q: f64| match (done.iter().min(), done.iter().max()) {
            (Some(&lo), Some(&hi)) => human(times.quantile(q).clamp(lo, hi)),
            _ => "–".to_string(),
        };
        let exact = |d: Option<&Duration>| d.map_or("–".to_string(), |d| human(*d));
        t.row(vec![
            s.label.clone(),
            s.runs.len().to_string(),
            (s.runs.len() - done.len()).to_string(),
            exact(done.iter().min()),
            q(0.5),
            q(0.9),
            exact(done.iter().max()),
            s.bound
                .as_ref()
                .map_or("none".into(), |(_, text)| text.clone()),
            gone.map_or("never".into(), human),
            format!("{both} of {}", s.runs.len()),
        ]);
    }
    t
}

fn judge(report: &mut Report, s: &Series) {
    let Some((bound, text)) = &s.bound else {
        return;
    };
    let max = s.runs.iter().filter_map(|r| r.new_up).max();
    let failed = s.runs.iter().filter(|r| r.new_up.is_none()).count();
    let measured = match max {
        Some(max) => format!(
            "max {} of {} runs, {failed} failed; bound {text}",
            human(max),
            s.runs.len()
        ),
        None => format!("no run completed ({failed} failed)"),
    };
    report.target(
        &format!("failover: {} within {}", s.label, s.formula),
        &measured,
        failed == 0 && max.is_some_and(|m| m <= *bound),
    );
}
