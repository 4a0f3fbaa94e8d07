//! Forwards hamon's log records to a callback of the host application.

use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;

use crate::ffi::boundary::{boundary_status, fail};
use crate::ffi::status::*;
use crate::log_forward::{Sink, set_sink};

pub const HA_LOG_OFF: u32 = 0;
pub const HA_LOG_ERROR: u32 = 1;
pub const HA_LOG_WARN: u32 = 2;
pub const HA_LOG_INFO: u32 = 3;
pub const HA_LOG_DEBUG: u32 = 4;
pub const HA_LOG_TRACE: u32 = 5;

/// Receives one log record: `level` is `HA_LOG_ERROR` .. `HA_LOG_TRACE`, `message` a
/// NUL-terminated line valid only during the call. Called on whichever hamon thread logs,
/// possibly several at once. Only hamon's own records arrive, never those of the libraries it
/// is built on. A record that hamon logs on a thread while that thread is inside the callback
/// is dropped, so a callback that calls hamon cannot recurse.
#[allow(non_camel_case_types)]
pub type ha_log_cb =
    Option<unsafe extern "C" fn(userdata: *mut c_void, level: u32, message: *const c_char)>;

/// Forwards to a C callback; `userdata` is the host's, passed back as is.
fn c_sink(cb: unsafe extern "C" fn(*mut c_void, u32, *const c_char), userdata: usize) -> Sink {
    Arc::new(move |level: log::Level, text: &str| {
        let Ok(message) = CString::new(text.replace('\0', " ")) else {
            return;
        };
        // SAFETY: the callback's contract; message lives for the call.
        unsafe { cb(userdata as *mut c_void, level as u32, message.as_ptr()) };
    })
}

pub(crate) fn level_filter(level: u32) -> Option<log::LevelFilter> {
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
    boundary_status(|| {
        let Some(filter) = level_filter(max_level) else {
            return Err(fail(
                HA_ERR_INVALID_ARG,
                format!("max_level {max_level} is not one of HA_LOG_*"),
            ));
        };
        set_sink(cb.map(|cb| c_sink(cb, userdata as usize)), filter).map_err(|_| {
            fail(
                HA_ERR_LOG_IN_USE,
                "another logger is installed in this process",
            )
        })
    })
}
