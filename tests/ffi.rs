//! The C ABI called as C would call it: statuses, out-params, error details, callbacks.

use std::ffi::{CStr, CString, c_char, c_void};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hamon::ffi::config::*;
use hamon::ffi::log::*;
use hamon::ffi::probe::*;
use hamon::ffi::server::*;
use hamon::ffi::status::*;

fn last_error() -> String {
    let mut buf = [0 as c_char; 512];
    let mut len = 0usize;
    assert_eq!(
        unsafe { ha_last_error(buf.as_mut_ptr(), buf.len(), &mut len) },
        HA_OK
    );
    let text = unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(text.len(), len);
    text
}

fn new_config() -> *mut ha_config {
    let mut cfg = ptr::null_mut();
    assert_eq!(unsafe { ha_config_new(&mut cfg) }, HA_OK);
    cfg
}

fn set(cfg: *mut ha_config, key: &str, value: &str) -> ha_status {
    let (k, v) = (CString::new(key).unwrap(), CString::new(value).unwrap());
    unsafe { ha_config_set(cfg, k.as_ptr(), v.as_ptr()) }
}

#[test]
fn config_errors_name_the_key_and_the_line() {
    let cfg = new_config();
    assert_eq!(set(cfg, "ha.prot", "1"), HA_ERR_CONFIG_UNKNOWN_KEY);
    let e = last_error();
    assert!(e.contains("ha.prot") && e.contains("ha.port"), "{e}");
    assert_eq!(set(cfg, "ha.port", "seventy"), HA_ERR_CONFIG_BAD_VALUE);
    assert!(last_error().contains("ha.port"));

    let dir = std::env::temp_dir().join(format!("hamon-ffi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ha.properties");
    std::fs::write(
        &file,
        "# pico settings\nmz.ha.enabled=true\nmz.ha.port=7001\nha.check.rise=zero\n",
    )
    .unwrap();
    let path = CString::new(file.to_str().unwrap()).unwrap();
    assert_eq!(
        unsafe { ha_config_load_file(cfg, path.as_ptr()) },
        HA_ERR_CONFIG_BAD_VALUE
    );
    let e = last_error();
    assert!(
        e.contains("ha.properties:4") && e.contains("ha.check.rise"),
        "{e}"
    );

    let missing = CString::new(dir.join("nope.properties").to_str().unwrap()).unwrap();
    assert_eq!(
        unsafe { ha_config_load_file(cfg, missing.as_ptr()) },
        HA_ERR_CONFIG_FILE
    );
    assert!(last_error().contains("nope.properties"));

    // Nothing was applied by the failed file: the port is still unset.
    let mut srv = ptr::null_mut();
    assert_eq!(
        unsafe { ha_server_start(cfg, &mut srv) },
        HA_ERR_CONFIG_MISSING
    );
    assert!(last_error().contains("ha.port"));
    assert!(srv.is_null(), "out-params are written only on success");
    unsafe { ha_config_free(cfg) };
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn misuse_gets_statuses_not_crashes() {
    unsafe {
        assert_eq!(ha_config_new(ptr::null_mut()), HA_ERR_NULL_ARG);
        assert_eq!(
            ha_config_set(ptr::null_mut(), c"ha.port".as_ptr(), c"1".as_ptr()),
            HA_ERR_NULL_ARG
        );
        assert_eq!(last_error(), "cfg is NULL");
        let cfg = new_config();
        assert_eq!(
            ha_config_set(cfg, ptr::null(), c"1".as_ptr()),
            HA_ERR_NULL_ARG
        );
        assert_eq!(
            ha_config_set(cfg, c"ha.port".as_ptr(), ptr::null()),
            HA_ERR_NULL_ARG
        );
        assert_eq!(
            ha_config_set(cfg, c"ha.po\xffrt".as_ptr(), c"1".as_ptr()),
            HA_ERR_INVALID_UTF8
        );
        assert_eq!(ha_server_start(cfg, ptr::null_mut()), HA_ERR_NULL_ARG);
        assert_eq!(set(cfg, "ha.port", "0"), HA_OK);
        let mut srv = ptr::null_mut();
        assert_eq!(ha_server_start(cfg, &mut srv), HA_OK);
        ha_config_free(cfg);

        assert_eq!(ha_server_set_state(srv, 3, ptr::null()), HA_ERR_INVALID_ARG);
        assert_eq!(
            ha_server_set_state(srv, u32::MAX, ptr::null()),
            HA_ERR_INVALID_ARG
        );
        assert_eq!(ha_server_set_admin(srv, 4, ptr::null()), HA_ERR_INVALID_ARG);
        assert_eq!(ha_server_ready(ptr::null_mut()), HA_ERR_NULL_ARG);
        assert_eq!(ha_server_port(ptr::null()), 0);
        assert_eq!(
            ha_counter_add(srv, c"bad name".as_ptr(), 1),
            HA_ERR_INVALID_NAME
        );
        assert_eq!(
            ha_server_add_check(srv, c"db".as_ptr(), None, ptr::null_mut(), ptr::null()),
            HA_ERR_NULL_ARG
        );
        let mut opts = std::mem::zeroed::<ha_check_options>();
        assert_eq!(ha_check_options_init(&mut opts), HA_OK);
        opts.importance = 7;
        assert_eq!(
            ha_server_add_check(srv, c"db".as_ptr(), Some(garbage), ptr::null_mut(), &opts),
            HA_ERR_INVALID_ARG
        );
        let mut state = 77;
        assert_eq!(ha_server_state(srv, ptr::null_mut()), HA_ERR_NULL_ARG);
        assert_eq!(ha_server_state(ptr::null(), &mut state), HA_ERR_NULL_ARG);
        assert_eq!(state, 77);

        let mut result = std::mem::zeroed::<ha_probe_result>();
        result.state = 99;
        assert_eq!(
            ha_probe(c"127.0.0.1".as_ptr(), ha_server_port(srv), 0, &mut result),
            HA_ERR_INVALID_ARG
        );
        assert_eq!(ha_probe(ptr::null(), 1, 100, &mut result), HA_ERR_NULL_ARG);
        assert_eq!(result.state, 99, "not written on failure");
        assert!(!ha_status_str(123_456).is_null());
        assert_eq!(
            CStr::from_ptr(ha_status_str(HA_ERR_BIND)).to_str().unwrap(),
            "cannot listen on the configured address"
        );
        let mut tiny = [1 as c_char; 1];
        assert_eq!(ha_last_error(tiny.as_mut_ptr(), 1, ptr::null_mut()), HA_OK);
        assert_eq!(tiny[0], 0);
        ha_server_stop(srv);
        ha_server_stop(ptr::null_mut());
        ha_config_free(ptr::null_mut());
    }
}

unsafe extern "C" fn garbage(_: *mut c_void, reason: *mut c_char, cap: usize) -> u32 {
    // Fills the whole buffer without a terminator: hamon must still read a bounded string.
    unsafe { ptr::write_bytes(reason, b'x', cap) };
    12345
}

#[test]
fn a_callback_returning_garbage_is_down() {
    unsafe {
        let cfg = new_config();
        assert_eq!(set(cfg, "ha.port", "0"), HA_OK);
        let mut srv = ptr::null_mut();
        assert_eq!(ha_server_start(cfg, &mut srv), HA_OK);
        ha_config_free(cfg);
        let mut opts = std::mem::zeroed::<ha_check_options>();
        ha_check_options_init(&mut opts);
        opts.interval_ms = 20;
        assert_eq!(
            ha_server_add_check(srv, c"db".as_ptr(), Some(garbage), ptr::null_mut(), &opts),
            HA_OK
        );
        assert_eq!(
            ha_server_add_check(srv, c"db".as_ptr(), Some(garbage), ptr::null_mut(), &opts),
            HA_ERR_DUPLICATE_CHECK
        );
        assert_eq!(ha_server_ready(srv), HA_OK);
        let port = ha_server_port(srv);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut result = std::mem::zeroed::<ha_probe_result>();
        loop {
            let rc = ha_probe(c"127.0.0.1".as_ptr(), port, 1000, &mut result);
            assert_eq!(rc, HA_OK);
            if result.state == HA_STATE_DOWN || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(result.state, HA_STATE_DOWN);
        let reason = CStr::from_ptr(result.reason.as_ptr()).to_str().unwrap();
        assert!(reason.contains("invalid check result 12345"), "{reason}");
        assert_eq!((result.checks_ok, result.checks_total), (0, 1));
        assert!(result.rtt_us > 0);
        ha_server_stop(srv);
    }
}

static LOGGED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count_logs(userdata: *mut c_void, level: u32, message: *const c_char) {
    assert_eq!(userdata as usize, 42);
    assert!((HA_LOG_ERROR..=HA_LOG_TRACE).contains(&level));
    let text = unsafe { CStr::from_ptr(message) }.to_str().unwrap();
    if text.contains("monitor server listening") {
        LOGGED.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn log_records_reach_the_host_callback() {
    unsafe {
        assert_eq!(
            ha_log_set_callback(Some(count_logs), 42 as *mut c_void, 99),
            HA_ERR_INVALID_ARG
        );
        assert_eq!(
            ha_log_set_callback(Some(count_logs), 42 as *mut c_void, HA_LOG_INFO),
            HA_OK
        );
        let cfg = new_config();
        assert_eq!(set(cfg, "ha.port", "0"), HA_OK);
        let mut srv = ptr::null_mut();
        assert_eq!(ha_server_start(cfg, &mut srv), HA_OK);
        ha_server_stop(srv);
        ha_config_free(cfg);
        assert!(LOGGED.load(Ordering::SeqCst) >= 1);
        assert_eq!(
            ha_log_set_callback(None, ptr::null_mut(), HA_LOG_OFF),
            HA_OK
        );
    }
}

#[test]
fn probe_errors_are_distinct() {
    unsafe {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut result = std::mem::zeroed::<ha_probe_result>();
        // Accepts but never answers: a timeout.
        let started = Instant::now();
        assert_eq!(
            ha_probe(c"127.0.0.1".as_ptr(), port, 200, &mut result),
            HA_ERR_PROBE_TIMEOUT
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(listener);
        assert_eq!(
            ha_probe(c"127.0.0.1".as_ptr(), port, 200, &mut result),
            HA_ERR_PROBE_REFUSED
        );
        // Garbage.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            use std::io::Write;
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\n").unwrap();
        });
        assert_eq!(
            ha_probe(c"127.0.0.1".as_ptr(), port, 1000, &mut result),
            HA_ERR_PROBE_BAD_REPLY
        );
        t.join().unwrap();
    }
}
