//! Runs the checks: one scheduler thread decides when each check is due and when a run has
//! timed out; one worker thread per check calls the callback, single-flight. A callback that
//! never returns only ever blocks its own worker.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::monitor::check::{Outcome, RunEnd};
use crate::monitor::shared::Shared;

/// A health check: returns the outcome and a reason. Called on the check's own worker thread.
pub type CheckFn = Box<dyn Fn() -> (Outcome, String) + Send + Sync + 'static>;

/// Counts live worker threads so that stopping can wait for them, but only for so long.
#[derive(Debug, Default)]
pub struct WorkerCount {
    live: Mutex<usize>,
    changed: Condvar,
}

impl WorkerCount {
    fn enter(self: &Arc<Self>) -> WorkerGuard {
        *self.live.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        WorkerGuard(self.clone())
    }

    /// Waits until at most `keep` workers are left or the deadline passes; returns how many
    /// remain.
    pub fn wait_until(&self, deadline: Instant, keep: usize) -> usize {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        while *live > keep {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            live = self
                .changed
                .wait_timeout(live, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        *live
    }
}

struct WorkerGuard(Arc<WorkerCount>);

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        *self.0.live.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        self.0.changed.notify_all();
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// The body of a check's worker thread.
pub fn work(
    shared: Arc<Shared>,
    index: usize,
    check: CheckFn,
    trigger: Receiver<()>,
    count: Arc<WorkerCount>,
) {
    let _guard = count.enter();
    while trigger.recv().is_ok() {
        if shared.is_stopping() {
            break;
        }
        let start = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(&check));
        let latency = start.elapsed();
        let end = match result {
            Ok((outcome, reason)) => RunEnd::Returned {
                outcome,
                reason,
                latency,
            },
            Err(p) => RunEnd::Returned {
                outcome: Outcome::Down,
                reason: format!("check panicked: {}", panic_message(p.as_ref())),
                latency,
            },
        };
        if shared.is_stopping() {
            break;
        }
        let mut inner = shared.lock();
        let Some(slot) = inner.runs.get_mut(index) else {
            break;
        };
        let counted = std::mem::replace(&mut slot.timed_out, false);
        slot.in_flight = None;
        if !counted {
            inner.health.checks_mut()[index].record(end, Instant::now());
        }
        let change = inner.transition(Instant::now());
        drop(inner);
        if let Some(change) = change {
            shared.ha_log.write(&change);
        }
        shared.wake.notify_all();
    }
}

/// The body of the scheduler thread.
pub fn schedule(shared: Arc<Shared>) {
    let mut inner = shared.lock();
    while !shared.is_stopping() {
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let mut soonest = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        let inner_ref = &mut *inner;
        for (i, slot) in inner_ref.runs.iter_mut().enumerate() {
            let check = &mut inner_ref.health.checks_mut()[i];
            let (interval, timeout) = (check.opts.interval, check.opts.timeout);
            if let Some(since) = slot.in_flight {
                if now >= slot.next_timeout {
                    check.record(RunEnd::TimedOut { after: now - since }, now);
                    slot.timed_out = true;
                    // A run that stays stuck counts as one more failure every interval.
                    slot.next_timeout += interval;
                }
                soonest(slot.next_timeout);
            } else if now >= slot.next_due {
                if slot.trigger.send(()).is_ok() {
                    slot.in_flight = Some(now);
                    slot.next_timeout = now + timeout;
                    slot.next_due = now + interval;
                    soonest(slot.next_timeout);
                }
            } else {
                soonest(slot.next_due);
            }
        }
        if let Some(change) = inner.transition(now) {
            drop(inner);
            shared.ha_log.write(&change);
            // Anything may have happened while unlocked, stop included: judge again.
            inner = shared.lock();
            continue;
        }
        if let Some(t) = inner.health.next_change(now) {
            soonest(t);
        }
        inner = match next {
            Some(t) => {
                let wait = t
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1));
                shared
                    .wake
                    .wait_timeout(inner, wait)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
            None => shared.wake.wait(inner).unwrap_or_else(|p| p.into_inner()),
        };
    }
}
