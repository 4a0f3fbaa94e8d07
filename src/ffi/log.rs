//! Forwards hamon's log records to a callback of the host application.

use std::ffi::{CString, c_char, c_void};
use std::sync::{OnceLock, RwLock};

use crate::ffi::guard::{fail, guard_status};
use crate::ffi::status::*;

pub const HA_LOG_OFF: u32 = 0;
pub const HA_LOG_ERROR: u32 = 1;
pub const HA_LOG_WARN: u32 = 2;
pub const HA_LOG_INFO: u32 = 3;
pub const HA_LOG_DEBUG: u32 = 4;
pub const HA_LOG_TRACE: u32 = 5;

/// Receives one log record: `level` is `HA_LOG_ERROR` .. `HA_LOG_TRACE`, `message` a
/// NUL-terminated line valid only during the call. Called on whichever hamon thread logs,
/// possibly several at once; it must not call any hamon function (a failing call logs, and
/// would re-enter the callback).
#[allow(non_camel_case_types)]
pub type ha_log_cb =
    Option<unsafe extern "C" fn(userdata: *mut c_void, level: u32, message: *const c_char)>;

#[derive(Clone, Copy)]
struct Sink {
    cb: unsafe extern "C" fn(*mut c_void, u32, *const c_char),
    userdata: usize,
}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);
/// Whether hamon's forwarder became the process's logger (decided once).
static OURS: OnceLock<bool> = OnceLock::new();

struct Forwarder;

static FORWARDER: Forwarder = Forwarder;

impl log::Log for Forwarder {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let Some(sink) = *SINK.read().unwrap_or_else(|p| p.into_inner()) else {
            return;
        };
        let text = record.args().to_string().replace('\0', " ");
        let Ok(message) = CString::new(text) else {
            return;
        };
        let level = record.level() as u32;
        // SAFETY: the callback's contract; message lives for the call.
        unsafe { (sink.cb)(sink.userdata as *mut c_void, level, message.as_ptr()) };
    }

    fn flush(&self) {}
}

fn level_filter(level: u32) -> Option<log::LevelFilter> {
    Some(match level {
        HA_LOG_OFF => log::LevelFilter::Off,
        HA_LOG_ERROR => log::LevelFilter::Error,
        HA_LOG_WARN => log::LevelFilter::Warn,
        HA_LOG_INFO => log::LevelFilter::Info,
        HA_LOG_DEBUG => log::LevelFilter::Debug,
        HA_LOG_TRACE => log::LevelFilter::Trace,
        _ => return None,
    })
}

/// Sends hamon's log records up to `max_level` (`HA_LOG_OFF` .. `HA_LOG_TRACE`) to `cb`.
/// May be called again to change the callback or level; `cb` NULL stops forwarding.
/// hamon uses the process-wide Rust `log` facade: if the process already installed another
/// Rust logger, this returns `HA_ERR_LOG_IN_USE` and hamon logs through that one.
/// `userdata` must stay valid until the callback is replaced. Thread-safe.
///
/// # Safety
/// `cb` is NULL or a function following `ha_log_cb`'s rules.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_log_set_callback(
    cb: ha_log_cb,
    userdata: *mut c_void,
    max_level: u32,
) -> ha_status {
    guard_status(|| {
        let Some(filter) = level_filter(max_level) else {
            return Err(fail(
                HA_ERR_INVALID_ARG,
                format!("max_level {max_level} is not one of HA_LOG_*"),
            ));
        };
        if !*OURS.get_or_init(|| log::set_logger(&FORWARDER).is_ok()) {
            return Err(fail(
                HA_ERR_LOG_IN_USE,
                "another logger is installed in this process",
            ));
        }
        *SINK.write().unwrap_or_else(|p| p.into_inner()) = cb.map(|cb| Sink {
            cb,
            userdata: userdata as usize,
        });
        log::set_max_level(if cb.is_some() {
            filter
        } else {
            log::LevelFilter::Off
        });
        Ok(())
    })
}
