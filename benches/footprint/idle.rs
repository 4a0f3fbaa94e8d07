//! What the server's threads (named `hamon-*`) do while nobody asks anything: their wake-ups
//! (voluntary context switches: each time a thread went to sleep, it was woken once more)
//! and CPU time over a window, read from /proc/self/task.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::procfs::{self, Task};
use crate::support::report::Table;
use crate::support::stats::human;

/// Wake-ups one check run may cause in `thread`. The scheduler wakes when the run is due
/// and hands it to the check's worker, and once more for the result: 2. The worker wakes
/// for the run: 1, and once more when its callback returns so fast that the scheduler still
/// holds the state lock it handed the run over with: 2. The network thread has nothing to
/// do without clients: 0.
pub fn per_run(thread: &str) -> u64 {
    if thread == "hamon-sched" || thread.starts_with("hamon-check-") {
        2
    } else {
        0
    }
}

pub struct Idle {
    pub window: Duration,
    /// Per thread name: wake-ups and CPU time in the window.
    pub threads: BTreeMap<String, (u64, Duration)>,
    /// Check callback invocations in the window.
    pub runs: u64,
}

impl Idle {
    pub fn total_wakeups(&self) -> u64 {
        self.threads.values().map(|(w, _)| w).sum()
    }

    /// The most wake-ups of `thread` the window's check runs account for: one run more than
    /// counted, for a run that began before the window and ended in it.
    pub fn allowed(&self, thread: &str) -> u64 {
        match self.runs {
            0 => 0,
            runs => (runs + 1) * per_run(thread),
        }
    }

    /// Every thread woke at most as often as the check runs account for.
    pub fn within_allowance(&self) -> bool {
        self.threads
            .iter()
            .all(|(name, (wakeups, _))| *wakeups <= self.allowed(name))
    }
}

fn hamon_tasks() -> BTreeMap<String, Task> {
    procfs::tasks("self")
        .into_iter()
        .filter(|t| t.name.starts_with("hamon-"))
        .map(|t| (t.name.clone(), t))
        .collect()
}

/// Sleeps through `window` and reports what the hamon threads did meanwhile; `runs` reads
/// the check callback's invocation counter.
pub fn measure(window: Duration, runs: impl Fn() -> u64) -> Idle {
    let before = hamon_tasks();
    let runs_before = runs();
    std::thread::sleep(window);
    let after = hamon_tasks();
    let threads = after
        .iter()
        .map(|(name, a)| {
            let (switches, cpu) = match before.get(name) {
                Some(b) => (a.sleeps - b.sleeps, a.cpu.saturating_sub(b.cpu)),
                None => (a.sleeps, a.cpu),
            };
            (name.clone(), (switches, cpu))
        })
        .collect();
    Idle {
        window,
        threads,
        runs: runs() - runs_before,
    }
}

pub fn table(situations: &[(&str, &Idle)]) -> Table {
    let mut t = Table::new(&[
        "situation",
        "thread",
        "wake-ups",
        "per second",
        "CPU",
        "check runs",
        "allowed by the runs",
    ]);
    for (label, idle) in situations {
        let secs = idle.window.as_secs_f64();
        for (name, (wakeups, cpu)) in &idle.threads {
            t.row(vec![
                label.to_string(),
                name.clone(),
                wakeups.to_string(),
                format!("{:.2}", *wakeups as f64 / secs),
                human(*cpu),
                idle.runs.to_string(),
                idle.allowed(name).to_string(),
            ]);
        }
    }
    t
}
