//! Probe cost per call. Each client asks the example pico (C, embedding the monitor server)
//! `check` on loopback as a whole process, fork+exec+connect+reply+exit, timed from spawn to
//! reaping: what a cluster manager pays on every monitor interval. The clients take turns,
//! round after round, so a busy machine slows them alike; the JVM runs every tenth round.
//! `true` runs beside them to show what any process costs here. Also ha-probe's binary size
//! and every client's peak RSS (a separate pass through a small launcher, see maxrss.c).

#[path = "../support/mod.rs"]
mod support;

mod clients;
mod rss;
mod spawn;

use std::fs;
use std::path::Path;
use std::time::Duration;

use clients::Client;
use rss::{Peak, RssMeter};
use support::cleanup::{self, Guard};
use support::cli;
use support::pico::{self, Pico};
use support::report::{Report, Table};
use support::stats::{Samples, human, kib, ratio};

/// Rounds between two runs of the JVM client, which costs tens of times more per call.
const JVM_EVERY: u64 = 10;
/// Runs per client through the RSS launcher; the peak is the largest.
const RSS_RUNS: u32 = 5;

struct Measured {
    client: Client,
    every: u64,
    wall: Samples,
    cpu: Samples,
    peak: Option<Peak>,
    unhealthy: u64,
}

impl Measured {
    fn new(client: Client, every: u64) -> Measured {
        Measured {
            client,
            every,
            wall: Samples::default(),
            cpu: Samples::default(),
            peak: None,
            unhealthy: 0,
        }
    }

    fn call(&mut self) -> spawn::Run {
        spawn::run(&mut self.client.command())
    }

    fn measure_rss(&mut self, meter: &RssMeter) {
        for _ in 0..RSS_RUNS {
            spawn::run(&mut self.client.command_under(&meter.prefix()));
            let peak = meter.last();
            if self.peak.as_ref().is_none_or(|p| peak.kib > p.kib) {
                self.peak = Some(peak);
            }
        }
    }

    fn measure(&mut self) {
        let run = self.call();
        self.wall.record(run.wall);
        self.cpu.record(run.cpu);
        if !self.client.healthy(&run) {
            self.unhealthy += 1;
        }
    }
}

fn main() {
    let Some(opts) = cli::parse("probe_cost") else {
        return;
    };
    let guard = Guard::install(&opts, "probe_cost");
    let rounds: u64 = if opts.quick { 100 } else { 2000 };

    let pico_exe = pico::build(guard.scratch());
    let pico = Pico::start(&pico_exe, 0);
    let port = pico.port;
    pico::wait_healthy(port, Duration::from_millis(20), Duration::from_secs(10))
        .expect("pico answers healthy");

    let mut measured = vec![
        Measured::new(clients::ha_probe(port), 1),
        Measured::new(clients::process_floor(), 1),
    ];
    let mut missing: Vec<(&str, String)> = Vec::new();
    let optional = [
        (
            "JVM (java HaProbe)",
            clients::jvm(&guard.subdir("java"), port),
            JVM_EVERY,
        ),
        ("bash /dev/tcp", clients::bash(port), 1),
        ("nc", clients::nc(guard.scratch(), port), 1),
    ];
    for (label, client, every) in optional {
        match client {
            Ok(c) => measured.push(Measured::new(c, every)),
            Err(why) => {
                eprintln!("probe_cost: {label} not measured: {why}");
                missing.push((label, why));
            }
        }
    }

    // Warm-up, and proof that every client gets a healthy answer before anything counts.
    for m in &mut measured {
        for _ in 0..3 {
            let run = m.call();
            assert!(
                m.client.healthy(&run),
                "{} did not get a healthy answer: exit {:?}, output {:?}",
                m.client.label,
                run.code,
                run.stdout
            );
        }
    }
    for round in 0..rounds {
        for m in measured.iter_mut().filter(|m| round % m.every == 0) {
            m.measure();
        }
    }
    let meter = RssMeter::build(guard.scratch());
    for m in &mut measured {
        m.measure_rss(&meter);
    }
    drop(pico);

    let mut report = Report::new("probe_cost");
    report.heading("Probe cost per call (whole process, loopback, against the example pico)");
    report.paragraph(&format!(
        "{rounds} rounds; in each, every client runs once as a new process (the JVM client \
         every {JVM_EVERY}th round). Wall time from spawn to reaping; CPU (user + system) from \
         wait4; peak RSS the largest ru_maxrss of {RSS_RUNS} further runs through a small \
         static launcher (Linux carries a parent's resident set into its child's peak)."
    ));
    report.table(&cost_table(&measured, &missing));
    report.heading("ha-probe binary");
    let probe = clients::ha_probe_binary();
    report.paragraph(&format!(
        "Measured: `{}`, {}.",
        probe.display(),
        clients::linking(&probe).map_or_else(|e| format!("linking unknown ({e})"), String::from)
    ));
    report.table(&size_table(&probe, guard.scratch()));
    judge(&mut report, &measured);
    report.write(&opts.out);
    drop(guard);
}

fn cost_table(measured: &[Measured], missing: &[(&str, String)]) -> Table {
    let base = &measured[0];
    let mut t = Table::new(&[
        "client",
        "calls",
        "mean",
        "p50",
        "p99",
        "max",
        "CPU per call",
        "peak RSS",
        "mean vs ha-probe",
        "p50 vs ha-probe",
        "unhealthy answers",
    ]);
    for m in measured {
        t.row(vec![
            m.client.label.to_string(),
            m.wall.count().to_string(),
            human(m.wall.mean()),
            human(m.wall.quantile(0.5)),
            human(m.wall.quantile(0.99)),
            human(m.wall.max()),
            human(m.cpu.mean()),
            peak_text(m.peak.as_ref()),
            ratio(m.wall.mean(), base.wall.mean()),
            ratio(m.wall.quantile(0.5), base.wall.quantile(0.5)),
            m.unhealthy.to_string(),
        ]);
    }
    for (label, why) in missing {
        let mut row = vec![label.to_string(), format!("not measured: {why}")];
        row.resize(11, "–".to_string());
        t.row(row);
    }
    t
}

/// A peak RSS, or "at most the floor" when it cannot be told apart from the launcher's own.
fn peak_text(peak: Option<&Peak>) -> String {
    match peak {
        Some(p) if p.kib > p.floor_kib => kib(p.kib),
        Some(p) => format!("≤ {} (launcher floor)", kib(p.floor_kib)),
        None => "–".into(),
    }
}

fn size_table(built: &Path, scratch: &Path) -> Table {
    let size = |p: &Path| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut t = Table::new(&["ha-probe", "bytes", "size"]);
    let as_built = size(built);
    t.row(vec![
        "as built".into(),
        as_built.to_string(),
        kib(as_built / 1024),
    ]);
    let stripped = scratch.join("ha-probe.stripped");
    let strip = cleanup::command("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(built)
        .status();
    match strip {
        Ok(s) if s.success() => {
            let n = size(&stripped);
            t.row(vec!["stripped".into(), n.to_string(), kib(n / 1024)]);
        }
        _ => t.row(vec![
            "stripped".into(),
            "not measured: strip not installed (Debian: binutils)".into(),
            "–".into(),
        ]),
    }
    t
}

/// How much more than starting any process a probe may cost (mean and p50).
const FLOOR_FACTOR: f64 = 1.2;

fn judge(report: &mut Report, measured: &[Measured]) {
    let base = &measured[0];
    let find = |label: &str| measured.iter().find(|m| m.client.label == label);
    let (mean, p50) = (base.wall.mean(), base.wall.quantile(0.5));
    if let Some(floor) = find(clients::FLOOR_LABEL) {
        let (rm, rp) = (
            mean.as_secs_f64() / floor.wall.mean().as_secs_f64(),
            p50.as_secs_f64() / floor.wall.quantile(0.5).as_secs_f64(),
        );
        report.target(
            &format!("probe: ha-probe at most {FLOOR_FACTOR}x the process floor (mean and p50)"),
            &format!(
                "{rm:.2}x mean, {rp:.2}x p50 (ha-probe {} / {} vs true {} / {})",
                human(mean),
                human(p50),
                human(floor.wall.mean()),
                human(floor.wall.quantile(0.5))
            ),
            rm <= FLOOR_FACTOR && rp <= FLOOR_FACTOR,
        );
    }
    match find("JVM (java HaProbe)") {
        Some(jvm) => {
            let (rm, rp) = (
                jvm.wall.mean().as_secs_f64() / mean.as_secs_f64(),
                jvm.wall.quantile(0.5).as_secs_f64() / p50.as_secs_f64(),
            );
            report.target(
                "probe: ha-probe at least 20x faster than the JVM client (mean and p50)",
                &format!("{rm:.1}x mean, {rp:.1}x p50"),
                rm >= 20.0 && rp >= 20.0,
            );
        }
        None => report.target(
            "probe: ha-probe at least 20x faster than the JVM client",
            "not measured (no JDK)",
            false,
        ),
    }
    match find("bash /dev/tcp") {
        Some(bash) => {
            let (bm, bp) = (bash.wall.mean(), bash.wall.quantile(0.5));
            report.target(
                "probe: ha-probe no slower than bash /dev/tcp (mean and p50)",
                &format!(
                    "ha-probe {} / {} vs bash {} / {}",
                    human(mean),
                    human(p50),
                    human(bm),
                    human(bp)
                ),
                mean <= bm && p50 <= bp,
            );
        }
        None => report.target(
            "probe: ha-probe no slower than bash /dev/tcp",
            "not measured (no bash)",
            false,
        ),
    }
}
