//! The state shared by the server's threads: the health model and the check runs, behind
//! one lock that is held only for short, non-blocking work.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::monitor::check::CheckView;
use crate::monitor::counters::CounterView;
use crate::monitor::ha_log::TransitionLog;
use crate::monitor::health::{Health, Verdict};
use crate::monitor::metrics::NetCounts;
use crate::monitor::protocol::Oracle;
use crate::monitor::render::Identity;
use crate::monitor::state::State;

/// Scheduling state of one check's runs (index-aligned with `Health::checks`).
#[derive(Debug)]
pub struct RunSlot {
    pub trigger: std::sync::mpsc::Sender<()>,
    pub next_due: Instant,
    /// When the run now inside the callback started.
    pub in_flight: Option<Instant>,
    /// When the in-flight run is next counted as timed out.
    pub next_timeout: Instant,
    /// The in-flight run was already counted as a failure; its late result is dropped.
    pub timed_out: bool,
}

#[derive(Debug)]
pub struct Inner {
    pub health: Health,
    pub runs: Vec<RunSlot>,
    /// The wire and operational state last logged, to log each transition once.
    logged: Option<(State, State)>,
}

impl Inner {
    /// The log line for a change of state since the last call, if there was one.
    pub fn transition(&mut self, now: Instant) -> Option<String> {
        let v = self.health.verdict(now);
        if self.logged == Some((v.state, v.op)) {
            return None;
        }
        let from = self
            .logged
            .map_or("none".to_string(), |(s, _)| s.to_string());
        self.logged = Some((v.state, v.op));
        let to = if v.reason.is_empty() {
            v.state.to_string()
        } else {
            format!("{} ({})", v.state, v.reason)
        };
        Some(format!("hamon: state {from} -> {to}"))
    }
}

/// What the network thread counts for `/metrics`. Only it writes them, once per connection
/// event (accept, close), never per command.
#[derive(Debug, Default)]
pub struct NetStats {
    pub open: AtomicU64,
    pub accepted: AtomicU64,
    pub busy: AtomicU64,
    pub denied: AtomicU64,
    /// In the order of [`EXPIRIES`].
    pub expired: [AtomicU64; 3],
}

/// The deadlines that close a connection, as `ERR` replies and metrics name them.
pub const EXPIRIES: [&str; 3] = [
    "first-command-timeout",
    "idle-timeout",
    "connection-lifetime",
];

impl NetStats {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Debug)]
pub struct Shared {
    inner: Mutex<Inner>,
    /// Wakes the scheduler: a run ended, a check was added, a state was pushed, or stop.
    pub wake: Condvar,
    pub stopping: AtomicBool,
    pub identity: Identity,
    pub ha_log: TransitionLog,
    pub net: NetStats,
    started: Instant,
}

impl Shared {
    pub fn new(health: Health, identity: Identity, ha_log: TransitionLog) -> Shared {
        Shared {
            inner: Mutex::new(Inner {
                health,
                runs: Vec::new(),
                logged: None,
            }),
            wake: Condvar::new(),
            stopping: AtomicBool::new(false),
            identity,
            ha_log,
            net: NetStats::default(),
            started: Instant::now(),
        }
    }

    /// Locks the state. A panic elsewhere while holding the lock leaves data that is still
    /// consistent (every update is a few field writes), so poisoning is ignored.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Applies a change to the health model and lets the scheduler re-judge at once.
    pub fn update(&self, f: impl FnOnce(&mut Health, Instant)) {
        let mut inner = self.lock();
        let now = Instant::now();
        f(&mut inner.health, now);
        let change = inner.transition(now);
        drop(inner);
        if let Some(change) = change {
            self.ha_log.write(&change);
        }
        self.wake.notify_all();
    }
}

impl Oracle for Shared {
    fn verdict(&self) -> Verdict {
        self.lock().health.verdict(Instant::now())
    }

    fn check(&self, name: &str) -> Option<CheckView> {
        self.lock().health.check_view(name, Instant::now())
    }

    fn details(&self) -> (Vec<CheckView>, Vec<CounterView>, Duration) {
        let now = Instant::now();
        let inner = self.lock();
        (
            inner.health.check_views(now),
            inner.health.counter_views(now),
            inner.health.counter_window(),
        )
    }

    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn net(&self) -> NetCounts {
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        NetCounts {
            uptime: self.started.elapsed(),
            open: n(&self.net.open),
            accepted: n(&self.net.accepted),
            busy: n(&self.net.busy),
            denied: n(&self.net.denied),
            expired: [0, 1, 2].map(|i| (EXPIRIES[i], n(&self.net.expired[i]))),
        }
    }
}
