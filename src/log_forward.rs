//! hamon's records of the process-wide `log` facade, forwarded to one sink of the host
//! application (a C callback, or Java logging through the JNI wrapper).
//!
//! Two rules keep forwarding safe at every level. Only hamon's own records go out (target
//! `hamon` or `hamon::…`): the libraries hamon is built on log too, the `jni` crate on every
//! JNI call at TRACE, so forwarding theirs from a sink that calls Java would recurse. And a
//! record logged on a thread while that thread is forwarding one (by the sink, or by hamon
//! code the sink calls) is dropped instead of entering the sink again.

use std::cell::Cell;
use std::sync::{Arc, OnceLock, RwLock};

/// Where records go: called with the level and the message text.
pub type Sink = Arc<dyn Fn(log::Level, &str) + Send + Sync>;

static SINK: RwLock<Option<Sink>> = RwLock::new(None);
/// Whether hamon's forwarder became the process's logger (decided once).
static OURS: OnceLock<bool> = OnceLock::new();

thread_local! {
    /// This thread is inside the sink.
    static FORWARDING: Cell<bool> = const { Cell::new(false) };
}

/// Another Rust logger was installed in the process before hamon's.
#[derive(Debug)]
pub struct LoggerInUse;

/// Sends hamon's records up to `max` to `sink`; `None` stops forwarding.
pub fn set_sink(sink: Option<Sink>, max: log::LevelFilter) -> Result<(), LoggerInUse> {
    if !*OURS.get_or_init(|| log::set_logger(&FORWARDER).is_ok()) {
        return Err(LoggerInUse);
    }
    let on = sink.is_some();
    *SINK.write().unwrap_or_else(|p| p.into_inner()) = sink;
    log::set_max_level(if on { max } else { log::LevelFilter::Off });
    Ok(())
}

/// Whether a record's target is hamon's: `hamon` or a module below it.
pub fn is_hamon(target: &str) -> bool {
    target
        .strip_prefix("hamon")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

/// Marks the thread as forwarding while alive; `None` when it already is (or is ending).
struct Forwarding;

impl Forwarding {
    fn enter() -> Option<Forwarding> {
        let entered = FORWARDING.try_with(|f| !f.replace(true)).ok()?;
        // Not `then_some`: a guard built and dropped here would clear the flag.
        entered.then(|| Forwarding)
    }
}

impl Drop for Forwarding {
    fn drop(&mut self) {
        let _ = FORWARDING.try_with(|f| f.set(false));
    }
}

struct Forwarder;

static FORWARDER: Forwarder = Forwarder;

impl log::Log for Forwarder {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level() && is_hamon(metadata.target())
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let Some(_forwarding) = Forwarding::enter() else {
            return;
        };
        // Not called under the lock: the sink may replace itself.
        let sink = SINK.read().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(sink) = sink {
            sink(record.level(), &record.args().to_string());
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hamon_and_its_modules_are_hamon() {
        assert!(is_hamon("hamon"));
        assert!(is_hamon("hamon::monitor::server"));
        assert!(!is_hamon("hamonx"));
        assert!(!is_hamon("jni::wrapper::jvalue"));
        assert!(!is_hamon("mio::poll"));
        assert!(!is_hamon(""));
    }

    #[test]
    fn a_thread_enters_forwarding_once() {
        let outer = Forwarding::enter().expect("first entry");
        assert!(Forwarding::enter().is_none(), "re-entry on the same thread");
        assert!(
            Forwarding::enter().is_none(),
            "a refused entry leaves the flag set"
        );
        std::thread::spawn(|| assert!(Forwarding::enter().is_some(), "another thread"))
            .join()
            .unwrap();
        drop(outer);
        assert!(Forwarding::enter().is_some(), "after leaving");
    }
}
