//! `ha_log_set_callback` at the most verbose level while servers start, run checks and stop,
//! as a C host would use it: only hamon's own records arrive, and a callback that calls hamon
//! (which logs) never re-enters itself. Its own test process: the logger is process-wide.

use std::cell::Cell;
use std::ffi::{CStr, c_char, c_void};
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use hamon::ffi::config::*;
use hamon::ffi::log::*;
use hamon::ffi::server::*;
use hamon::ffi::status::*;

static RECORDS: Mutex<Vec<(u32, String)>> = Mutex::new(Vec::new());
static REENTERED: AtomicBool = AtomicBool::new(false);
static CALLS_FROM_CALLBACK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Keeps the record and calls hamon from inside the callback: a failing call logs its error
/// at DEBUG, on this thread, while this thread is inside the callback.
unsafe extern "C" fn collect(userdata: *mut c_void, level: u32, message: *const c_char) {
    assert_eq!(userdata as usize, 7);
    if IN_CALLBACK.with(|c| c.replace(true)) {
        REENTERED.store(true, Ordering::SeqCst);
        return;
    }
    let text = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    RECORDS.lock().unwrap().push((level, text));
    // Twice: the first dropped record must not let the second through.
    for _ in 0..2 {
        let mut state = 0;
        assert_eq!(
            unsafe { ha_server_state(ptr::null(), &mut state) },
            HA_ERR_NULL_ARG
        );
    }
    CALLS_FROM_CALLBACK.fetch_add(1, Ordering::SeqCst);
    IN_CALLBACK.with(|c| c.set(false));
}

unsafe extern "C" fn up(_: *mut c_void, _: *mut c_char, _: usize) -> u32 {
    HA_CHECK_UP
}

unsafe extern "C" fn down(_: *mut c_void, reason: *mut c_char, cap: usize) -> u32 {
    let text = c"down on purpose";
    let n = text.to_bytes_with_nul().len().min(cap);
    unsafe { ptr::copy_nonoverlapping(text.as_ptr(), reason, n) };
    HA_CHECK_DOWN
}

/// Starts a server with two checks, lets them run, asks its state, stops it.
fn one_server() {
    unsafe {
        let mut cfg = ptr::null_mut();
        assert_eq!(ha_config_new(&mut cfg), HA_OK);
        assert_eq!(
            ha_config_set(cfg, c"ha.port".as_ptr(), c"0".as_ptr()),
            HA_OK
        );
        let mut srv = ptr::null_mut();
        assert_eq!(ha_server_start(cfg, &mut srv), HA_OK);
        ha_config_free(cfg);
        let mut opts = std::mem::zeroed::<ha_check_options>();
        assert_eq!(ha_check_options_init(&mut opts), HA_OK);
        opts.interval_ms = 10;
        opts.fall = 1;
        let add = |name: &CStr, cb: ha_check_cb| {
            assert_eq!(
                ha_server_add_check(srv, name.as_ptr(), cb, ptr::null_mut(), &opts),
                HA_OK
            );
        };
        add(c"up", Some(up));
        add(c"down", Some(down));
        assert_eq!(ha_server_ready(srv), HA_OK);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut state = HA_STATE_STARTING;
        while state != HA_STATE_DOWN && Instant::now() < deadline {
            assert_eq!(ha_server_state(srv, &mut state), HA_OK);
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(state, HA_STATE_DOWN, "the failing check counted");
        ha_server_stop(srv);
    }
}

#[test]
fn at_the_most_verbose_level_only_hamon_records_arrive_and_none_recurses() {
    unsafe {
        assert_eq!(
            ha_log_set_callback(Some(collect), 7 as *mut c_void, HA_LOG_TRACE),
            HA_OK
        );
    }
    // Records of other crates in the process, as the libraries hamon uses log them.
    log::trace!(target: "mio::poll", "registering event source with poller");
    log::error!(target: "jni::wrapper::objects", "not hamon's either");
    log::error!(target: "hamonx", "a crate whose name only starts like hamon's");

    let servers: Vec<_> = (0..3).map(|_| thread::spawn(one_server)).collect();
    for s in servers {
        s.join().expect("a server round");
    }
    // A failing call outside the callback: its DEBUG record arrives.
    let mut state = 0;
    assert_eq!(
        unsafe { ha_server_state(ptr::null(), &mut state) },
        HA_ERR_NULL_ARG
    );
    unsafe {
        assert_eq!(
            ha_log_set_callback(None, ptr::null_mut(), HA_LOG_OFF),
            HA_OK
        );
    }

    let records = RECORDS.lock().unwrap().clone();
    let show = || {
        records
            .iter()
            .map(|(l, m)| format!("{l} {m}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(!REENTERED.load(Ordering::SeqCst), "re-entered:\n{}", show());
    assert_eq!(CALLS_FROM_CALLBACK.load(Ordering::SeqCst), records.len());
    let has = |level: u32, text: &str| records.iter().any(|(l, m)| *l == level && m.contains(text));
    assert!(
        has(HA_LOG_INFO, "monitor server listening on"),
        "{}",
        show()
    );
    assert!(has(HA_LOG_INFO, "stopped"), "{}", show());
    assert!(has(HA_LOG_INFO, "down on purpose"), "{}", show());
    assert!(has(HA_LOG_DEBUG, "srv is NULL"), "{}", show());
    let from_callback = records
        .iter()
        .filter(|(_, m)| m.contains("srv is NULL"))
        .count();
    assert_eq!(
        from_callback,
        1,
        "only the call made outside the callback:\n{}",
        show()
    );
    for (level, message) in &records {
        assert!((HA_LOG_ERROR..=HA_LOG_TRACE).contains(level), "{level}");
        assert!(message.starts_with("hamon"), "not hamon's: {message}");
    }
}
