//! Status codes. Numbers are grouped by area and never reused: a retired code stays listed
//! here as reserved.

use std::ffi::{CStr, c_char};

use crate::ffi::boundary::{boundary_status, copy_out, last_error, panic_boundary};

/// The result of every fallible hamon function: `HA_OK` (0) or one of the `HA_ERR_*` codes.
#[allow(non_camel_case_types)]
pub type ha_status = u32;

/// Success.
pub const HA_OK: ha_status = 0;

// 1xxx: the call itself.
/// A required pointer argument was NULL.
pub const HA_ERR_NULL_ARG: ha_status = 1001;
/// An argument was out of range (an unknown state or admin value, a zero timeout, ...).
pub const HA_ERR_INVALID_ARG: ha_status = 1002;
/// A string argument was not valid UTF-8.
pub const HA_ERR_INVALID_UTF8: ha_status = 1003;
/// hamon hit an internal error; the call had no effect that can be relied on.
pub const HA_ERR_PANIC: ha_status = 1004;

// 2xxx: configuration.
/// A key in the `ha.` or `mz.ha.` namespace that hamon does not know.
pub const HA_ERR_CONFIG_UNKNOWN_KEY: ha_status = 2001;
/// A value that does not fit its key.
pub const HA_ERR_CONFIG_BAD_VALUE: ha_status = 2002;
/// A properties line that cannot be parsed.
pub const HA_ERR_CONFIG_SYNTAX: ha_status = 2003;
/// The configuration file cannot be read.
pub const HA_ERR_CONFIG_FILE: ha_status = 2004;
/// A required setting is missing or settings contradict each other.
pub const HA_ERR_CONFIG_MISSING: ha_status = 2005;

// 3xxx: the monitor server.
/// `ha.enabled` is false: the server was not started. Not a failure of the application.
pub const HA_ERR_DISABLED: ha_status = 3001;
/// The address cannot be bound (in use, not local, not resolvable).
pub const HA_ERR_BIND: ha_status = 3002;
/// A thread or the event loop could not be created.
pub const HA_ERR_THREAD: ha_status = 3003;
/// The HA log (`ha.log_file`) cannot be opened.
pub const HA_ERR_LOG_FILE: ha_status = 3004;
/// A check with that name is already registered.
pub const HA_ERR_DUPLICATE_CHECK: ha_status = 3005;
/// A check or counter name outside `[A-Za-z0-9_.-]{1,64}`.
pub const HA_ERR_INVALID_NAME: ha_status = 3006;
/// The server already runs the most checks it allows (64).
pub const HA_ERR_TOO_MANY_CHECKS: ha_status = 3007;
/// The server already keeps the most counters it allows (256).
pub const HA_ERR_TOO_MANY_COUNTERS: ha_status = 3008;
/// Another logger is installed in this process; hamon's log callback cannot be.
pub const HA_ERR_LOG_IN_USE: ha_status = 3009;

// 4xxx: probing a server.
/// The host name does not resolve.
pub const HA_ERR_PROBE_RESOLVE: ha_status = 4001;
/// Nothing listens on the port (connection refused).
pub const HA_ERR_PROBE_REFUSED: ha_status = 4002;
/// No complete reply within the deadline.
pub const HA_ERR_PROBE_TIMEOUT: ha_status = 4003;
/// The reply is not a valid state line.
pub const HA_ERR_PROBE_BAD_REPLY: ha_status = 4004;
/// The connection failed after it was made (reset, ...).
pub const HA_ERR_PROBE_IO: ha_status = 4005;
/// The server is at its connection cap and answered `BUSY`.
pub const HA_ERR_PROBE_BUSY: ha_status = 4006;
/// The server has no check of the requested name.
pub const HA_ERR_PROBE_UNKNOWN_CHECK: ha_status = 4007;

// 5xxx: the heartbeat (hb_*).
/// The `hb.*` timing could allow two active nodes, or a claim could never complete.
pub const HB_ERR_TIMING: ha_status = 5001;
/// The local state directory (`hb.state_dir`) or its epoch file cannot be used.
pub const HB_ERR_STATE: ha_status = 5002;
/// The heartbeat's shared storage cannot be read or written in time: the directory `hb.dir`
/// or a record in it, or, with `hb.backend=etcd`, the etcd cluster of `hb.etcd.endpoints`.
pub const HB_ERR_STORAGE: ha_status = 5003;

/// Every status code with its description, as `ha_status_str` gives it: the one list of codes
/// (the constants above are what the C header shows; the unit test below holds the header and
/// this table to the same set).
const MESSAGES: &[(ha_status, &CStr)] = &[
    (HA_OK, c"ok"),
    (HA_ERR_NULL_ARG, c"a required argument is NULL"),
    (HA_ERR_INVALID_ARG, c"an argument is out of range"),
    (HA_ERR_INVALID_UTF8, c"a string argument is not valid UTF-8"),
    (HA_ERR_PANIC, c"internal error inside hamon"),
    (HA_ERR_CONFIG_UNKNOWN_KEY, c"unknown configuration key"),
    (HA_ERR_CONFIG_BAD_VALUE, c"bad configuration value"),
    (HA_ERR_CONFIG_SYNTAX, c"configuration syntax error"),
    (HA_ERR_CONFIG_FILE, c"configuration file cannot be read"),
    (
        HA_ERR_CONFIG_MISSING,
        c"required configuration missing or inconsistent",
    ),
    (
        HA_ERR_DISABLED,
        c"HA monitor server disabled (ha.enabled=false)",
    ),
    (HA_ERR_BIND, c"cannot listen on the configured address"),
    (HA_ERR_THREAD, c"cannot start a thread"),
    (HA_ERR_LOG_FILE, c"cannot open the HA log file"),
    (
        HA_ERR_DUPLICATE_CHECK,
        c"a check with this name is already registered",
    ),
    (HA_ERR_INVALID_NAME, c"invalid check or counter name"),
    (HA_ERR_TOO_MANY_CHECKS, c"too many checks"),
    (HA_ERR_TOO_MANY_COUNTERS, c"too many counters"),
    (
        HA_ERR_LOG_IN_USE,
        c"another logger is installed in this process",
    ),
    (HA_ERR_PROBE_RESOLVE, c"host name does not resolve"),
    (HA_ERR_PROBE_REFUSED, c"connection refused"),
    (HA_ERR_PROBE_TIMEOUT, c"no reply within the timeout"),
    (HA_ERR_PROBE_BAD_REPLY, c"unparsable reply"),
    (HA_ERR_PROBE_IO, c"connection failed"),
    (HA_ERR_PROBE_BUSY, c"server busy (connection cap reached)"),
    (HA_ERR_PROBE_UNKNOWN_CHECK, c"unknown check name"),
    (HB_ERR_TIMING, c"unsafe heartbeat timing"),
    (HB_ERR_STATE, c"heartbeat state directory unusable"),
    (HB_ERR_STORAGE, c"heartbeat shared storage unusable"),
];

/// The static description of a status code, as `ha_status_str` gives it.
pub(crate) fn message(status: u32) -> &'static CStr {
    MESSAGES
        .iter()
        .find(|(code, _)| *code == status)
        .map_or(c"unknown status code", |(_, text)| text)
}

/// A static, NUL-terminated description of a status code; never NULL, never to be freed.
/// Any number is accepted (unknown ones give "unknown status code"). Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn ha_status_str(status: u32) -> *const c_char {
    panic_boundary(|| message(status).as_ptr())
}

/// The library version, e.g. "0.1.0"; static, never NULL. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn ha_version() -> *const c_char {
    panic_boundary(|| {
        static VERSION: &CStr =
            match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
                Ok(v) => v,
                Err(_) => c"unknown",
            };
        VERSION.as_ptr()
    })
}

/// Copies the detail of the last failed hamon call on the calling thread (e.g.
/// "ha.properties:7: ha.prot: unknown key (did you mean ha.port?)") into `buf` as a
/// NUL-terminated string, cut to `cap`. The detail is kept until the next failure on the same
/// thread, like errno; successful calls leave it alone.
///
/// `out_len` (nullable) receives the full length of the message without the NUL, so a
/// caller can tell whether it was cut. Returns `HA_ERR_NULL_ARG` when `buf` is NULL and
/// `HA_ERR_INVALID_ARG` when `cap` is 0; neither replaces the stored detail.
///
/// # Safety
/// `buf` points to `cap` writable bytes; `out_len` is NULL or points to a writable size_t.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_last_error(
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> ha_status {
    boundary_status(|| {
        // Misuse here must not overwrite the detail the caller is asking for.
        if buf.is_null() {
            return Err(HA_ERR_NULL_ARG);
        }
        if cap == 0 {
            return Err(HA_ERR_INVALID_ARG);
        }
        let text = last_error();
        // SAFETY: per the contract above.
        unsafe {
            copy_out(&text, buf, cap);
            if !out_len.is_null() {
                *out_len = text.len();
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status codes the C header defines, read from include/hamon.h.
    fn header_codes() -> Vec<(String, u32)> {
        include_str!("../../include/hamon.h")
            .lines()
            .filter_map(|line| {
                let mut words = line.strip_prefix("#define ")?.split_whitespace();
                let (name, value) = (words.next()?, words.next()?);
                let is_status = name == "HA_OK" || name.contains("_ERR_");
                Some((name.to_string(), value.parse().ok()?)).filter(|_| is_status)
            })
            .collect()
    }

    #[test]
    fn every_code_in_the_header_has_its_own_message() {
        let codes = header_codes();
        assert!(codes.len() >= 29, "{codes:?}");
        assert_eq!(codes.len(), MESSAGES.len(), "{codes:?}");
        let mut seen = std::collections::HashSet::new();
        for (name, code) in codes {
            let msg = message(code).to_str().unwrap();
            assert_ne!(msg, "unknown status code", "{name}");
            assert!(seen.insert(msg), "duplicate message for {name}");
        }
        assert_eq!(message(999_999).to_str().unwrap(), "unknown status code");
    }

    #[test]
    fn codes_are_never_listed_twice() {
        let mut seen = std::collections::HashSet::new();
        for (code, _) in MESSAGES {
            assert!(seen.insert(code), "{code} listed twice");
        }
    }
}
