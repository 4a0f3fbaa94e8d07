//! `ha_server`: the embedded HA monitor server.

use std::ffi::{CStr, c_char, c_void};
use std::time::Duration;

use crate::config::{CheckOptions, CheckOptionsFault, Importance, MAX_STREAK};
use crate::ffi::boundary::{
    boundary_status, c_str, c_str_or_empty, fail, non_null, panic_boundary,
};
use crate::ffi::config::{config_code, ha_config};
use crate::ffi::status::*;
use crate::monitor::check::Outcome;
use crate::monitor::health::Admin;
use crate::monitor::{Server, ServerError};

/// A check callback returns one of these.
pub const HA_CHECK_UP: u32 = 0;
/// The application works, but less well (slow, a redundant part lost).
pub const HA_CHECK_DEGRADED: u32 = 1;
/// The application cannot do its job.
pub const HA_CHECK_DOWN: u32 = 2;

/// The state of an instance, as `ha_probe` and `ha_server_state` report it.
pub const HA_STATE_UP: u32 = 0;
pub const HA_STATE_DEGRADED: u32 = 1;
pub const HA_STATE_DOWN: u32 = 2;
/// Not yet ready (`ha_server_ready` not called yet).
pub const HA_STATE_STARTING: u32 = 3;
pub const HA_STATE_DRAINING: u32 = 4;
pub const HA_STATE_MAINT: u32 = 5;
pub const HA_STATE_STOPPING: u32 = 6;

/// Lifecycle states for `ha_server_set_admin`.
pub const HA_ADMIN_NONE: u32 = 0;
pub const HA_ADMIN_DRAINING: u32 = 1;
pub const HA_ADMIN_MAINT: u32 = 2;
pub const HA_ADMIN_STOPPING: u32 = 3;

/// Check importance: a failing critical check makes the instance DOWN.
pub const HA_IMPORTANCE_CRITICAL: u32 = 0;
/// A failing degrading check makes the instance DEGRADED.
pub const HA_IMPORTANCE_DEGRADING: u32 = 1;
/// An info check is reported but never changes the instance's state.
pub const HA_IMPORTANCE_INFO: u32 = 2;

/// Size of the reason buffer a check callback receives.
pub const HA_REASON_CAP: usize = 256;

/// A health check. Returns `HA_CHECK_UP`, `HA_CHECK_DEGRADED` or `HA_CHECK_DOWN`; any other
/// value counts as DOWN ("invalid check result N").
///
/// `userdata` is the pointer given to `ha_server_add_check`. `reason` points to `reason_cap`
/// zeroed bytes where the callback may write a short NUL-terminated explanation; the buffer
/// is valid only during the call. hamon reads at most `reason_cap - 1` bytes, keeps the first
/// 200 characters and turns control characters into spaces, so a reason stays one line.
///
/// Runs on the check's own hamon thread, never concurrently with itself, every
/// `interval_ms`. It should return well within `timeout_ms`; a callback that takes longer
/// counts as failed, and one that never returns blocks only its own check. `userdata` must
/// stay valid until `ha_server_stop` has returned and, if a callback was still running then,
/// until that call returns.
#[allow(non_camel_case_types)]
pub type ha_check_cb = Option<
    unsafe extern "C" fn(userdata: *mut c_void, reason: *mut c_char, reason_cap: usize) -> u32,
>;

/// How a check is run and judged. Fill with `ha_check_options_init`, then change fields.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ha_check_options {
    /// Time between runs (> 0).
    pub interval_ms: u32,
    /// A run still going after this long counts as failed (> 0).
    pub timeout_ms: u32,
    /// Consecutive successes to pass again after failing (1-100).
    pub rise: u32,
    /// Consecutive failures to fail after passing (1-100).
    pub fall: u32,
    /// `HA_IMPORTANCE_CRITICAL`, `HA_IMPORTANCE_DEGRADING` or `HA_IMPORTANCE_INFO`.
    pub importance: u32,
    /// A successful run slower than this makes the check DEGRADED; 0 = off.
    pub latency_warn_ms: u32,
    /// A run slower than this counts as failed; 0 = off.
    pub latency_crit_ms: u32,
}

/// A running HA monitor server.
///
/// Created by `ha_server_start`, which the caller must balance with `ha_server_stop`.
/// Every function below except `ha_server_stop` may be called from any thread at the same
/// time; `ha_server_stop` must not race with other calls on the same server.
///
/// Methods: ha_server_start, ha_server_port, ha_server_add_check, ha_server_ready,
/// ha_server_set_state, ha_server_set_admin, ha_server_heartbeat, ha_counter_add,
/// ha_server_state, ha_server_stop.
pub struct ha_server {
    inner: Server,
}

/// The status code of a server error.
pub(crate) fn server_code(e: &ServerError) -> ha_status {
    match e {
        ServerError::Disabled => HA_ERR_DISABLED,
        ServerError::Config(c) => config_code(c),
        ServerError::LogFile(_) => HA_ERR_LOG_FILE,
        ServerError::Bind { .. } => HA_ERR_BIND,
        ServerError::Thread(_) => HA_ERR_THREAD,
        ServerError::DuplicateCheck(_) => HA_ERR_DUPLICATE_CHECK,
        ServerError::InvalidName(_) => HA_ERR_INVALID_NAME,
        ServerError::TooManyChecks => HA_ERR_TOO_MANY_CHECKS,
        ServerError::TooManyCounters => HA_ERR_TOO_MANY_COUNTERS,
    }
}

fn server_status(e: ServerError) -> ha_status {
    fail(server_code(&e), e.to_string())
}

fn invalid(message: String) -> ha_status {
    fail(HA_ERR_INVALID_ARG, message)
}

fn server_ref<'a>(srv: *const ha_server) -> Result<&'a Server, ha_status> {
    non_null(srv, "srv")?;
    // SAFETY: non-NULL; callers promise it is a live server from ha_server_start.
    Ok(unsafe { &(*srv).inner })
}

/// Checks `ha_check_options` and turns them into [`CheckOptions`]; `Err` says what is out of
/// range (an `HA_ERR_INVALID_ARG`).
pub(crate) fn check_options(o: &ha_check_options) -> Result<CheckOptions, String> {
    let ms = |v: u32| Duration::from_millis(u64::from(v));
    let off_or = |v: u32| (v > 0).then(|| ms(v));
    let importance = match o.importance {
        HA_IMPORTANCE_CRITICAL => Ok(Importance::Critical),
        HA_IMPORTANCE_DEGRADING => Ok(Importance::Degrading),
        HA_IMPORTANCE_INFO => Ok(Importance::Info),
        other => Err(format!("importance {other} is not one of HA_IMPORTANCE_*")),
    };
    let options = CheckOptions {
        interval: ms(o.interval_ms),
        timeout: ms(o.timeout_ms),
        rise: o.rise,
        fall: o.fall,
        // Set below once known to be one of HA_IMPORTANCE_*.
        importance: Importance::Critical,
        latency_warn: off_or(o.latency_warn_ms),
        latency_crit: off_or(o.latency_crit_ms),
    };
    // Faults are reported in the order of the fields.
    match (options.check(), importance) {
        (Err(CheckOptionsFault::ZeroDuration), _) => Err(format!(
            "interval_ms ({}) and timeout_ms ({}) must be > 0",
            o.interval_ms, o.timeout_ms
        )),
        (Err(CheckOptionsFault::Streak), _) => Err(format!(
            "rise ({}) and fall ({}) must be 1-{MAX_STREAK}",
            o.rise, o.fall
        )),
        (_, Err(why)) => Err(why),
        (Err(CheckOptionsFault::LatencyOrder), Ok(_)) => Err(format!(
            "latency_warn_ms ({}) must be below latency_crit_ms ({})",
            o.latency_warn_ms, o.latency_crit_ms
        )),
        (Ok(()), Ok(importance)) => Ok(CheckOptions {
            importance,
            ..options
        }),
    }
}

/// The C form of [`CheckOptions`].
pub(crate) fn from_options(o: &CheckOptions) -> ha_check_options {
    let ms = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
    ha_check_options {
        interval_ms: ms(o.interval),
        timeout_ms: ms(o.timeout),
        rise: o.rise,
        fall: o.fall,
        importance: match o.importance {
            Importance::Critical => HA_IMPORTANCE_CRITICAL,
            Importance::Degrading => HA_IMPORTANCE_DEGRADING,
            Importance::Info => HA_IMPORTANCE_INFO,
        },
        latency_warn_ms: o.latency_warn.map_or(0, ms),
        latency_crit_ms: o.latency_crit.map_or(0, ms),
    }
}

/// The outcome for an `HA_STATE_*` an application may push (UP, DEGRADED, DOWN).
pub(crate) fn pushed_outcome(state: u32) -> Result<Outcome, String> {
    match state {
        HA_STATE_UP => Ok(Outcome::Up),
        HA_STATE_DEGRADED => Ok(Outcome::Degraded),
        HA_STATE_DOWN => Ok(Outcome::Down),
        other => Err(format!(
            "state {other} is not HA_STATE_UP, _DEGRADED or _DOWN"
        )),
    }
}

/// The lifecycle state for an `HA_ADMIN_*`.
pub(crate) fn admin_state(admin: u32) -> Result<Admin, String> {
    match admin {
        HA_ADMIN_NONE => Ok(Admin::None),
        HA_ADMIN_DRAINING => Ok(Admin::Draining),
        HA_ADMIN_MAINT => Ok(Admin::Maint),
        HA_ADMIN_STOPPING => Ok(Admin::Stopping),
        other => Err(format!("admin {other} is not one of HA_ADMIN_*")),
    }
}

/// Fills `opts` with the library defaults: interval 1000 ms, timeout 1000 ms, rise 2,
/// fall 3, critical, no latency thresholds.
///
/// # Safety
/// `opts` is NULL or points to a writable `ha_check_options`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_check_options_init(opts: *mut ha_check_options) -> ha_status {
    boundary_status(|| {
        non_null(opts, "opts")?;
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *opts = from_options(&CheckOptions::default()) };
        Ok(())
    })
}

/// Starts a server: binds `ha.host`:`ha.port` (`ha.port=0` picks a free port, see
/// `ha_server_port`) and starts its named threads. The server answers STARTING until
/// `ha_server_ready`.
///
/// `cfg` is copied; it may be freed right after. On success `*out` receives the server, which
/// the caller must stop with `ha_server_stop`. `*out` is written only on success.
/// `HA_ERR_DISABLED` means `ha.enabled=false`; `HA_ERR_BIND` that the address is taken or
/// not local; `ha_last_error` gives the detail.
///
/// # Safety
/// `cfg` is NULL or a live `ha_config`; `out` is NULL or writable storage for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_server_start(
    cfg: *const ha_config,
    out: *mut *mut ha_server,
) -> ha_status {
    boundary_status(|| {
        non_null(cfg, "cfg")?;
        non_null(out, "out")?;
        // SAFETY: non-NULL and live per the contract.
        let cfg = unsafe { &(*cfg).inner };
        let server = Server::start(cfg).map_err(server_status)?;
        // SAFETY: out is non-NULL and writable.
        unsafe { *out = Box::into_raw(Box::new(ha_server { inner: server })) };
        Ok(())
    })
}

/// The TCP port the server listens on (the bound one when `ha.port=0`); 0 when `srv` is NULL.
///
/// # Safety
/// `srv` is NULL or a live server.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_server_port(srv: *const ha_server) -> u16 {
    panic_boundary(|| server_ref(srv).map_or(0, |s| s.port()))
}

/// Registers a health check named `name` (1-64 of `A-Z a-z 0-9 _ . -`, unique per server).
/// It runs at once and then every `interval_ms`; see `ha_check_cb` for the threading and
/// lifetime rules. `opts` NULL uses the server's defaults (`ha.check.*` settings, else the
/// values of `ha_check_options_init`); `opts` is copied.
///
/// # Safety
/// `srv` is NULL or a live server; `name` is NULL or NUL-terminated; `opts` is NULL or
/// points to a readable `ha_check_options`; `userdata` follows the rules of `ha_check_cb`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_server_add_check(
    srv: *mut ha_server,
    name: *const c_char,
    cb: ha_check_cb,
    userdata: *mut c_void,
    opts: *const ha_check_options,
) -> ha_status {
    boundary_status(|| {
        let server = server_ref(srv)?;
        // SAFETY: per the contract.
        let name = unsafe { c_str(name, "name")? };
        let Some(cb) = cb else {
            return Err(fail(HA_ERR_NULL_ARG, "cb is NULL"));
        };
        let opts = if opts.is_null() {
            None
        } else {
            Some(check_options(unsafe { &*opts }).map_err(invalid)?)
        };
        let callback = CCheck { cb, userdata };
        let check = Box::new(move || callback.call());
        server.add_check(name, check, opts).map_err(server_status)
    })
}

/// A C check callback and its userdata, called on the check's worker thread only.
struct CCheck {
    cb: unsafe extern "C" fn(*mut c_void, *mut c_char, usize) -> u32,
    userdata: *mut c_void,
}

// SAFETY: the header tells C callers that the callback runs on a hamon thread, never
// concurrently with itself; userdata is theirs to make safe for that.
unsafe impl Send for CCheck {}
unsafe impl Sync for CCheck {}

impl CCheck {
    fn call(&self) -> (Outcome, String) {
        let mut buf = [0 as c_char; HA_REASON_CAP];
        // SAFETY: the callback's contract; buf is writable for its full length.
        let rc = unsafe { (self.cb)(self.userdata, buf.as_mut_ptr(), buf.len()) };
        buf[HA_REASON_CAP - 1] = 0;
        // SAFETY: buf is NUL-terminated within its length.
        let reason = unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        check_result(rc, reason)
    }
}

/// What a check's `HA_CHECK_*` result and reason count as; any other number is DOWN.
pub(crate) fn check_result(rc: u32, reason: String) -> (Outcome, String) {
    match rc {
        HA_CHECK_UP => (Outcome::Up, reason),
        HA_CHECK_DEGRADED => (Outcome::Degraded, reason),
        HA_CHECK_DOWN => (Outcome::Down, reason),
        other => (Outcome::Down, format!("invalid check result {other}")),
    }
}

/// Tells the server the application has started: it leaves STARTING. Idempotent.
///
/// # Safety
/// `srv` is NULL or a live server.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_server_ready(srv: *mut ha_server) -> ha_status {
    boundary_status(|| {
        server_ref(srv)?.ready();
        Ok(())
    })
}

/// Pushes the application's own view: `HA_STATE_UP`, `HA_STATE_DEGRADED` or
/// `HA_STATE_DOWN`, with a reason (nullable). It combines with the checks (the worse wins);
/// a pushed DOWN takes effect at once, without rise/fall. Push UP to clear it.
///
/// # Safety
/// `srv` is NULL or a live server; `reason` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_server_set_state(
    srv: *mut ha_server,
    state: u32,
    reason: *const c_char,
) -> ha_status {
    boundary_status(|| {
        let server = server_ref(srv)?;
        let outcome = pushed_outcome(state).map_err(invalid)?;
        // SAFETY: per the contract.
        let reason = unsafe { c_str_or_empty(reason, "reason")? };
        server.set_state(outcome, reason);
        Ok(())
    })
}

/// Sets the lifecycle state shown instead of the operational one: `HA_ADMIN_DRAINING`,
/// `HA_ADMIN_MAINT`, `HA_ADMIN_STOPPING`, or `HA_ADMIN_NONE` to clear it. `reason` nullable.
///
/// # Safety
/// `srv` is NULL or a live server; `reason` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_server_set_admin(
    srv: *mut ha_server,
    admin: u32,
    reason: *const c_char,
) -> ha_status {
    boundary_status(|| {
        let server = server_ref(srv)?;
        let admin = admin_state(admin).map_err(invalid)?;
        // SAFETY: per the contract.
        let reason = unsafe { c_str_or_empty(reason, "reason")? };
        server.set_admin(admin, reason);
        Ok(())
    })
}

/// Feeds the application watchdog. With `ha.watchdog_ms` set, the instance is DOWN when
/// this has not been called for that long after `ha_server_ready`; call it from the loop
/// whose stall should count as a failure.
///
/// # Safety
/// `srv` is NULL or a live server.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_server_heartbeat(srv: *mut ha_server) -> ha_status {
    boundary_status(|| {
        server_ref(srv)?.heartbeat();
        Ok(())
    })
}

/// Adds `n` to the counter `name` (created on first use). Counters are judged over the
/// sliding window `ha.interval` against `ha.counter.NAME.*` and `mz.ha.*` thresholds.
///
/// # Safety
/// `srv` is NULL or a live server; `name` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_counter_add(
    srv: *mut ha_server,
    name: *const c_char,
    n: u64,
) -> ha_status {
    boundary_status(|| {
        let server = server_ref(srv)?;
        // SAFETY: per the contract.
        let name = unsafe { c_str(name, "name")? };
        server.counter_add(name, n).map_err(server_status)
    })
}

/// Writes the state a client would be told now (`HA_STATE_*`) to `*out_state`.
///
/// # Safety
/// `srv` is NULL or a live server; `out_state` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_server_state(srv: *const ha_server, out_state: *mut u32) -> ha_status {
    boundary_status(|| {
        let server = server_ref(srv)?;
        non_null(out_state, "out_state")?;
        let state = server.state().code();
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *out_state = state };
        Ok(())
    })
}

/// Stops the server, joins its threads and frees it. NULL is a no-op. Waits at most
/// `ha.stop_timeout_ms` (default 2000) for a check still inside its callback, then returns
/// anyway; that callback's userdata must stay valid until it returns. Called from one of the
/// server's own check callbacks, it waits for the other checks, not for that one.
///
/// # Safety
/// `srv` is NULL or came from `ha_server_start`; it is not used afterwards, and no other
/// call on it is running.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_server_stop(srv: *mut ha_server) {
    panic_boundary(|| {
        if !srv.is_null() {
            // SAFETY: srv came from Box::into_raw in ha_server_start and is freed once.
            let server = unsafe { Box::from_raw(srv) };
            server.inner.stop();
        }
    })
}
