//! One iteration of the seed script's loop, run unchanged. Its loop begins with
//! `sleep $loopTime` (3 s) and then does the work: `ls -1tr | tail`, `pgrep -f`, `touch`.
//! To time the work alone, bash is given a `sleep` function through BASH_ENV (sourced
//! before the script, which stays byte for byte the same): it records when it was called
//! and returns at once. The time between two `sleep 3` calls is then one iteration's work,
//! and the loop runs back to back. CPU per iteration is the seed's and its children's CPU
//! (getrusage of reaped children) over the run, divided by the iterations.
//!
//! It runs as an active ("master") instance: alone, with its application running.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::stats::Samples;
use crate::support::{cleanup, seed};
use crate::usage;

/// The instrument, sourced by bash through BASH_ENV.
const SLEEP_MARKS: &str = "\
# Sourced before the seed script (BASH_ENV): its `sleep N` records the time and returns.
sleep() { printf '%s %s\\n' \"$EPOCHREALTIME\" \"$*\" >> \"$HAMON_SEED_MARKS\"; }
";

/// The application the seed supervises, found again by its `pgrep -f`. /bin/sh, which does
/// not read BASH_ENV, so its sleep is the real one.
const APP: &str = "while :; do sleep 60; done";

/// Iterations at the start that are not the steady state (first claim, application start).
const WARM_UP: usize = 3;

pub struct SeedCost {
    pub iterations: Samples,
    pub cpu_per_iteration: Duration,
    /// The seed started its application and kept touching its heartbeat file.
    pub steady: bool,
    /// Lines the seed printed on stderr, first of each kind (what it trips over here).
    pub complaints: Vec<String>,
}

pub fn measure(script: &Path, dir: &Path, window: Duration) -> SeedCost {
    let shared = dir.join("shared");
    fs::create_dir_all(&shared).expect("create the heartbeat directory");
    let node = dir.join("node");
    let copy = seed::install(&node, script, &shared, APP);
    let instrument = dir.join("sleep-marks.bash");
    fs::write(&instrument, SLEEP_MARKS).expect("write the instrument");
    let marks = dir.join("marks");
    let run_tag = dir.display().to_string();

    let cpu_before = usage::children_cpu();
    let mut child = cleanup::command("bash")
        .arg(&copy)
        .current_dir(&node)
        .env("BASH_ENV", &instrument)
        .env("HAMON_SEED_MARKS", &marks)
        .env("HAMON_SEED_RUN", &run_tag)
        .stdout(fs::File::create(dir.join("seed.out")).expect("log"))
        .stderr(fs::File::create(dir.join("seed.err")).expect("log"))
        .spawn()
        .expect("start the seed script");
    let end = Instant::now() + window;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let cpu = usage::children_cpu().saturating_sub(cpu_before);
    cleanup::kill_with_env("HAMON_SEED_RUN", &run_tag);

    let marks = fs::read_to_string(&marks).unwrap_or_default();
    let all_iterations = marks.lines().filter(|l| l.ends_with(" 3")).count();
    let loop_starts = loop_starts(&marks);
    let mut iterations = Samples::default();
    for pair in loop_starts.windows(2).skip(WARM_UP) {
        iterations.record(pair[1] - pair[0]);
    }
    let out = fs::read_to_string(dir.join("seed.out")).unwrap_or_default();
    let heartbeat = shared.join(hostname());
    SeedCost {
        cpu_per_iteration: cpu / all_iterations.max(1) as u32,
        iterations,
        steady: out.contains("We are master so start server") && heartbeat.exists(),
        complaints: first_of_each(&fs::read_to_string(dir.join("seed.err")).unwrap_or_default()),
    }
}

/// The times of the loop's `sleep 3` calls, while no other sleep came between them (another
/// one, `sleep 5` in startInstance, means that iteration did something else).
fn loop_starts(marks: &str) -> Vec<Duration> {
    let mut starts = Vec::new();
    for line in marks.lines() {
        let mut words = line.split_whitespace();
        let (Some(time), Some(arg)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(secs) = time.parse::<f64>() else {
            continue;
        };
        if arg == "3" {
            starts.push(Duration::from_secs_f64(secs));
        } else {
            starts.clear();
        }
    }
    starts
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Each distinct stderr line once, with the number of times it came.
fn first_of_each(text: &str) -> Vec<String> {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match seen.iter_mut().find(|(l, _)| l == line) {
            Some((_, n)) => *n += 1,
            None => seen.push((line.to_string(), 1)),
        }
    }
    seen.into_iter()
        .map(|(line, n)| format!("`{line}` ({n}x)"))
        .collect()
}
