//! A test hook: with `HAMON_TEST_PAUSE_AT=POINT` in its environment the daemon stops itself
//! (SIGSTOP) the first time it reaches POINT, so process-level tests can hold the real binary
//! inside a dangerous window for as long as they like (SIGCONT resumes it). Without the
//! variable it does nothing. The points, in the order a start goes through them:
//!
//! - `start`: a START (or a deferred start) is about to be carried out: before the lease check;
//! - `forked`: the application's process group exists, held at its gate, and the guard has not
//!   been told of it yet;
//! - `handed`: the guard acknowledged the group and its deadline; the gate is still closed;
//! - `running`: the gate is open (the application runs); before the next tick;
//! - `restart`: a local restart was decided after the application died, before it is carried
//!   out;
//! - `serving`: in a turn of the loop, after the node's tick and what it asked for (the start
//!   included), while the application runs, before the daemon looks at the application (held
//!   here past the lease deadline, the daemon sees the guard's kill before its own tick
//!   fences).
//! - `handover`: in the guard, after its daemon died: the daemon is gone, the guard holds
//!   `STATE_DIR/run.lock` and the application's group is empty; before it reads the records
//!   and hands the term over.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// The environment variable naming the point.
pub const VAR: &str = "HAMON_TEST_PAUSE_AT";

/// Stops this process the first time `name` is reached, when `HAMON_TEST_PAUSE_AT` names it.
pub fn point(name: &str) {
    static AT: OnceLock<Option<String>> = OnceLock::new();
    static DONE: AtomicBool = AtomicBool::new(false);
    let at = AT.get_or_init(|| std::env::var(VAR).ok());
    if at.as_deref() == Some(name) && !DONE.swap(true, Ordering::Relaxed) {
        log::warn!("{VAR}: pausing at {name}");
        // SAFETY: plain syscall; SIGSTOP stops this process until SIGCONT.
        unsafe {
            libc::raise(libc::SIGSTOP);
        }
        log::warn!("{VAR}: resumed at {name}");
    }
}
