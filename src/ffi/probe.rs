//! `ha_probe`: asks a monitor server for its state, with one hard deadline.

use std::ffi::c_char;
use std::time::Duration;

use crate::ffi::boundary::{boundary_status, c_str, copy_out, fail, non_null};
use crate::ffi::server::HA_REASON_CAP;
use crate::ffi::status::*;
use crate::probe::{ProbeCommand, ProbeError, ProbeReply, ProbeRequest, probe};

/// Size of `ha_probe_result.line`.
pub const HA_PROBE_LINE_CAP: usize = 512;

/// What a server answered.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ha_probe_result {
    /// One of `HA_STATE_*`.
    pub state: u32,
    /// Round trip from connect to the complete reply, in microseconds.
    pub rtt_us: u64,
    /// `checks=OK/TOTAL` from the reply; -1 when the reply has none.
    pub checks_ok: i32,
    pub checks_total: i32,
    /// `age_ms=` from the reply: how old the server's check results are; -1 when absent.
    pub age_ms: i64,
    /// The reply line as received (NUL-terminated, cut to fit).
    pub line: [c_char; HA_PROBE_LINE_CAP],
    /// The reply's `reason=` (NUL-terminated, empty when there is none).
    pub reason: [c_char; HA_REASON_CAP],
}

/// The status code of a failed probe.
pub(crate) fn probe_code(e: &ProbeError) -> ha_status {
    match e {
        ProbeError::Resolve(_) => HA_ERR_PROBE_RESOLVE,
        ProbeError::Refused(_) => HA_ERR_PROBE_REFUSED,
        ProbeError::Timeout(_) => HA_ERR_PROBE_TIMEOUT,
        ProbeError::Io(_) => HA_ERR_PROBE_IO,
        ProbeError::BadReply(_) => HA_ERR_PROBE_BAD_REPLY,
        ProbeError::UnknownCheck(_) => HA_ERR_PROBE_UNKNOWN_CHECK,
        ProbeError::Busy => HA_ERR_PROBE_BUSY,
        ProbeError::InvalidRequest(_) => HA_ERR_INVALID_ARG,
    }
}

fn probe_status(e: &ProbeError) -> ha_status {
    fail(probe_code(e), e.to_string())
}

fn fill(reply: &ProbeReply) -> ha_probe_result {
    let mut out = ha_probe_result {
        state: reply.state.code(),
        rtt_us: u64::try_from(reply.rtt.as_micros()).unwrap_or(u64::MAX),
        checks_ok: -1,
        checks_total: -1,
        age_ms: reply.age_ms().unwrap_or(-1),
        line: [0; HA_PROBE_LINE_CAP],
        reason: [0; HA_REASON_CAP],
    };
    if let Some((ok, total)) = reply.checks() {
        (out.checks_ok, out.checks_total) = (ok, total);
    }
    // SAFETY: both buffers are writable for their full, non-zero length.
    unsafe {
        copy_out(&reply.line, out.line.as_mut_ptr(), HA_PROBE_LINE_CAP);
        copy_out(
            reply.reason().unwrap_or(""),
            out.reason.as_mut_ptr(),
            HA_REASON_CAP,
        );
    }
    out
}

unsafe fn run(
    host: *const c_char,
    port: u16,
    timeout_ms: u32,
    command: impl FnOnce() -> Result<ProbeCommand, ha_status>,
    out: *mut ha_probe_result,
) -> ha_status {
    boundary_status(|| {
        // SAFETY: per the callers' contract.
        let host = unsafe { c_str(host, "host")? };
        non_null(out, "out")?;
        if timeout_ms == 0 {
            return Err(fail(HA_ERR_INVALID_ARG, "timeout_ms is 0"));
        }
        let request = ProbeRequest {
            host: host.to_string(),
            port,
            timeout: Duration::from_millis(u64::from(timeout_ms)),
            command: command()?,
        };
        let reply = probe(&request).map_err(|e| probe_status(&e))?;
        // SAFETY: out is non-NULL and writable per the contract.
        unsafe { *out = fill(&reply) };
        Ok(())
    })
}

/// Sends `check` to the server at `host`:`port` and parses the reply, all within
/// `timeout_ms` (connect, write and read together; must be > 0).
///
/// `HA_OK` means a valid reply came: read `out->state` (DOWN is a valid answer). Otherwise:
/// `HA_ERR_PROBE_REFUSED` (nothing listens), `HA_ERR_PROBE_TIMEOUT`,
/// `HA_ERR_PROBE_BAD_REPLY`, `HA_ERR_PROBE_BUSY`, `HA_ERR_PROBE_IO`,
/// `HA_ERR_PROBE_RESOLVE`. Bad arguments give `HA_ERR_NULL_ARG` (host or out NULL),
/// `HA_ERR_INVALID_UTF8`, or `HA_ERR_INVALID_ARG` (timeout 0, port 0, an empty host or one
/// with whitespace). `*out` is written only on `HA_OK`. Blocks the calling thread for at most
/// `timeout_ms`; thread-safe.
///
/// # Safety
/// `host` is NULL or NUL-terminated; `out` is NULL or points to a writable `ha_probe_result`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_probe(
    host: *const c_char,
    port: u16,
    timeout_ms: u32,
    out: *mut ha_probe_result,
) -> ha_status {
    unsafe { run(host, port, timeout_ms, || Ok(ProbeCommand::Check), out) }
}

/// Like `ha_probe`, for one named check (`check NAME`): `out->state` is that check's state.
/// An unknown name gives `HA_ERR_PROBE_UNKNOWN_CHECK`; an empty name, or one with whitespace
/// or control characters, gives `HA_ERR_INVALID_ARG` before anything is sent.
///
/// # Safety
/// As for `ha_probe`; `check_name` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_probe_check(
    host: *const c_char,
    port: u16,
    timeout_ms: u32,
    check_name: *const c_char,
    out: *mut ha_probe_result,
) -> ha_status {
    let command = || {
        // SAFETY: per the contract.
        let name = unsafe { c_str(check_name, "check_name")? };
        Ok(ProbeCommand::CheckNamed(name.to_string()))
    };
    unsafe { run(host, port, timeout_ms, command, out) }
}
