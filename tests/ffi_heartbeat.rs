//! The heartbeat's C ABI (`hb_*`) called as C would call it: statuses, error details,
//! out-params, and a real two-node cluster on a temporary directory, one thread per node.

#![cfg(unix)]

use std::ffi::{CStr, CString, c_char};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::common;

use hamon::ffi::config::*;
use hamon::ffi::heartbeat::*;
use hamon::ffi::status::*;

/// The fast profile: failover within about 3 s on one machine.
const FAST: [(&str, &str); 6] = [
    ("hb.period_ms", "100"),
    ("hb.io_timeout_ms", "150"),
    ("hb.renew_deadline_ms", "800"),
    ("hb.kill_budget_ms", "300"),
    ("hb.takeover_ms", "1500"),
    ("hb.confirm_ms", "100"),
];

fn last_error() -> String {
    let mut buf = [0 as c_char; 512];
    assert_eq!(
        unsafe { ha_last_error(buf.as_mut_ptr(), buf.len(), ptr::null_mut()) },
        HA_OK
    );
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_str()
        .unwrap()
        .to_string()
}

fn status_str(rc: ha_status) -> String {
    unsafe { CStr::from_ptr(ha_status_str(rc)) }
        .to_str()
        .unwrap()
        .to_string()
}

fn text(field: &[c_char]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8(bytes).unwrap()
}

/// A cluster's directory: `shared/` for the records, `state-NODE/` for each node.
struct ClusterDir(common::TempDir);

impl ClusterDir {
    fn new(label: &str) -> ClusterDir {
        ClusterDir::made(common::TempDir::new(label))
    }

    /// For nodes that tick on the fast profile: see `common::fast_storage`.
    fn on_fast_storage(label: &str) -> ClusterDir {
        ClusterDir::made(common::TempDir::on_fast_storage(label))
    }

    fn made(dir: common::TempDir) -> ClusterDir {
        std::fs::create_dir_all(dir.path().join("shared")).unwrap();
        ClusterDir(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn shared(&self) -> PathBuf {
        self.path().join("shared")
    }

    fn state(&self, node: &str) -> PathBuf {
        self.path().join(format!("state-{node}"))
    }
}

/// An `ha_config` freed on drop.
struct Cfg(*mut ha_config);

impl Cfg {
    fn new(pairs: &[(&str, String)]) -> Cfg {
        let mut cfg = ptr::null_mut();
        assert_eq!(unsafe { ha_config_new(&mut cfg) }, HA_OK);
        let cfg = Cfg(cfg);
        for (k, v) in pairs {
            cfg.set(k, v);
        }
        cfg
    }

    fn set(&self, key: &str, value: &str) {
        let (k, v) = (CString::new(key).unwrap(), CString::new(value).unwrap());
        assert_eq!(
            unsafe { ha_config_set(self.0, k.as_ptr(), v.as_ptr()) },
            HA_OK,
            "{key}={value}: {}",
            last_error()
        );
    }
}

impl Drop for Cfg {
    fn drop(&mut self) {
        unsafe { ha_config_free(self.0) };
    }
}

/// Every setting node `node` of the cluster a,b needs, on `dir`, with the fast timing.
fn settings(dir: &ClusterDir, node: &str, preferred: bool) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        ("hb.dir", dir.shared().display().to_string()),
        ("hb.node", node.to_string()),
        ("hb.nodes", "a,b".to_string()),
        ("hb.state_dir", dir.state(node).display().to_string()),
        ("hb.preferred", preferred.to_string()),
    ];
    pairs.extend(FAST.iter().map(|&(k, v)| (k, v.to_string())));
    pairs
}

/// A node freed on drop.
struct NodeBox(*mut hb_node);

impl NodeBox {
    fn new(cfg: &Cfg) -> NodeBox {
        let mut node = ptr::null_mut();
        assert_eq!(
            unsafe { hb_node_new(cfg.0, &mut node) },
            HA_OK,
            "{}",
            last_error()
        );
        assert!(!node.is_null());
        NodeBox(node)
    }
}

impl Drop for NodeBox {
    fn drop(&mut self) {
        unsafe { hb_node_free(self.0) };
    }
}

/// A result no call would produce, to see that failed calls leave out-params alone.
fn sentinel() -> hb_tick_result {
    hb_tick_result {
        role: 0xdead,
        action: 0xbeef,
        epoch: 77,
        deadline_left_ms: 12345,
        maint: 0xdead,
        maint_ok: 0xdead,
        maint_target: [b'x' as c_char; HB_NAME_CAP],
        alarms: 0xdead,
        next_tick_ms: 0xdead,
    }
}

fn is_sentinel(r: &hb_tick_result) -> bool {
    r.role == 0xdead
        && r.action == 0xbeef
        && r.epoch == 77
        && r.deadline_left_ms == 12345
        && r.maint == 0xdead
        && r.maint_ok == 0xdead
        && r.maint_target.iter().all(|&c| c == b'x' as c_char)
        && r.alarms == 0xdead
        && r.next_tick_ms == 0xdead
}

fn blank_status() -> hb_node_status {
    hb_node_status {
        name: [b'x' as c_char; HB_NAME_CAP],
        is_self: 0xdead,
        known: 0xdead,
        state: 0xdead,
        epoch: 77,
        seq: 77,
        liveness: 0xdead,
        changed_ago_ms: 77,
        preferred: 0xdead,
    }
}

#[test]
fn null_arguments_are_refused_and_out_params_untouched() {
    let dir = ClusterDir::new("null");
    let cfg = Cfg::new(&settings(&dir, "a", true));
    let node = NodeBox::new(&cfg);
    let n = node.0;
    let mut r = sentinel();
    let mut count = 777usize;
    let mut entries = [blank_status(); 2];
    unsafe {
        assert_eq!(hb_init(ptr::null()), HA_ERR_NULL_ARG);
        assert_eq!(last_error(), "cfg is NULL");

        let mut out: *mut hb_node = ptr::dangling_mut();
        assert_eq!(hb_node_new(ptr::null(), &mut out), HA_ERR_NULL_ARG);
        assert_eq!(last_error(), "cfg is NULL");
        assert_eq!(out, ptr::dangling_mut(), "out written on failure");
        assert_eq!(hb_node_new(cfg.0, ptr::null_mut()), HA_ERR_NULL_ARG);
        assert_eq!(last_error(), "out is NULL");

        type Call = unsafe extern "C" fn(*mut hb_node, *mut hb_tick_result) -> ha_status;
        for (name, f) in [
            ("hb_tick", hb_tick as Call),
            ("hb_app_stopped", hb_app_stopped),
            ("hb_release", hb_release),
        ] {
            assert_eq!(f(ptr::null_mut(), &mut r), HA_ERR_NULL_ARG, "{name}");
            assert_eq!(last_error(), "node is NULL", "{name}");
            assert_eq!(f(n, ptr::null_mut()), HA_ERR_NULL_ARG, "{name}");
            assert_eq!(last_error(), "out is NULL", "{name}");
        }
        assert_eq!(
            hb_app_failed(ptr::null_mut(), c"x".as_ptr(), &mut r),
            HA_ERR_NULL_ARG
        );
        assert_eq!(last_error(), "node is NULL");
        assert_eq!(
            hb_app_failed(n, c"x".as_ptr(), ptr::null_mut()),
            HA_ERR_NULL_ARG
        );
        assert_eq!(last_error(), "out is NULL");
        assert!(is_sentinel(&r), "out written on failure");

        assert_eq!(
            hb_maintenance_set(ptr::null_mut(), HB_MAINT_OFF, ptr::null(), ptr::null()),
            HA_ERR_NULL_ARG
        );
        assert_eq!(last_error(), "node is NULL");
        assert_eq!(
            hb_drain_set(ptr::null_mut(), c"a".as_ptr(), true),
            HA_ERR_NULL_ARG
        );
        assert_eq!(hb_drain_set(n, ptr::null(), true), HA_ERR_NULL_ARG);
        assert_eq!(last_error(), "name is NULL");

        assert_eq!(
            hb_status(ptr::null(), entries.as_mut_ptr(), 2, &mut count),
            HA_ERR_NULL_ARG
        );
        assert_eq!(last_error(), "node is NULL");
        assert_eq!(
            hb_status(n, ptr::null_mut(), 2, &mut count),
            HA_ERR_NULL_ARG
        );
        assert_eq!(last_error(), "entries is NULL");
        assert_eq!(
            hb_status(n, entries.as_mut_ptr(), 2, ptr::null_mut()),
            HA_ERR_NULL_ARG
        );
        assert_eq!(last_error(), "out_count is NULL");
        assert_eq!(count, 777, "out_count written on failure");
        assert!(
            entries.iter().all(|e| e.is_self == 0xdead),
            "entries written on failure"
        );

        // Sizing call: no array at all.
        assert_eq!(hb_status(n, ptr::null_mut(), 0, &mut count), HA_OK);
        assert_eq!(count, 2);
        // A short array gets what fits, and the total.
        count = 0;
        assert_eq!(hb_status(n, entries.as_mut_ptr(), 1, &mut count), HA_OK);
        assert_eq!(count, 2);
        assert_eq!(text(&entries[0].name), "a");
        assert_eq!(entries[0].is_self, 1);
        assert_eq!(entries[1].is_self, 0xdead, "entries beyond cap untouched");

        hb_node_free(ptr::null_mut()); // a no-op
    }
}

#[test]
fn missing_keys_are_named() {
    let dir = ClusterDir::new("missing");
    for key in ["hb.dir", "hb.node", "hb.nodes", "hb.state_dir"] {
        let pairs: Vec<_> = settings(&dir, "a", true)
            .into_iter()
            .filter(|(k, _)| *k != key)
            .collect();
        let cfg = Cfg::new(&pairs);
        let mut out: *mut hb_node = ptr::dangling_mut();
        assert_eq!(
            unsafe { hb_node_new(cfg.0, &mut out) },
            HA_ERR_CONFIG_MISSING,
            "without {key}"
        );
        assert_eq!(last_error(), format!("{key} is not set"));
        assert_eq!(out, ptr::dangling_mut(), "out written on failure");
        assert_eq!(unsafe { hb_init(cfg.0) }, HA_ERR_CONFIG_MISSING);
        assert_eq!(last_error(), format!("{key} is not set"));
    }

    let cfg = Cfg::new(&settings(&dir, "a", true));
    cfg.set("hb.node", "c");
    let mut out = ptr::null_mut();
    assert_eq!(
        unsafe { hb_node_new(cfg.0, &mut out) },
        HA_ERR_CONFIG_MISSING
    );
    let e = last_error();
    assert!(e.contains("hb.node=c") && e.contains("hb.nodes=a,b"), "{e}");
    assert!(out.is_null());
    // No record was created by the failed calls.
    assert_eq!(std::fs::read_dir(dir.shared()).unwrap().count(), 0);
}

#[test]
fn unsafe_timing_is_refused_with_the_numbers() {
    let dir = ClusterDir::new("timing");
    let cfg = Cfg::new(&settings(&dir, "a", true));
    cfg.set("hb.takeover_ms", "1000");
    let mut out: *mut hb_node = ptr::dangling_mut();
    assert_eq!(unsafe { hb_node_new(cfg.0, &mut out) }, HB_ERR_TIMING);
    assert_eq!(out, ptr::dangling_mut(), "out written on failure");
    let e = last_error();
    assert!(e.contains("takeover 1000 ms"), "{e}");
    assert!(
        e.contains("renew deadline 800 ms + kill budget 300 ms"),
        "{e}"
    );
    assert!(e.contains("hb.takeover_ms"), "{e}");
    assert_eq!(unsafe { hb_init(cfg.0) }, HB_ERR_TIMING);
    assert_eq!(status_str(HB_ERR_TIMING), "unsafe heartbeat timing");
    assert_eq!(HB_ERR_TIMING, 5001);
    assert_eq!((HB_ERR_STATE, HB_ERR_STORAGE), (5002, 5003));
}

#[test]
fn unusable_state_dir_and_storage_have_their_codes() {
    let dir = ClusterDir::new("state");
    // A state dir below a regular file cannot be created.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let cfg = Cfg::new(&settings(&dir, "a", true));
    cfg.set("hb.state_dir", &file.join("sub").display().to_string());
    let mut out: *mut hb_node = ptr::dangling_mut();
    assert_eq!(unsafe { hb_node_new(cfg.0, &mut out) }, HB_ERR_STATE);
    assert!(
        last_error().starts_with("hb.state_dir "),
        "{}",
        last_error()
    );
    assert_eq!(out, ptr::dangling_mut());

    // A garbled epoch file: the node must not guess an epoch.
    let state = dir.state("a");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("epoch"), "seven\n").unwrap();
    let cfg = Cfg::new(&settings(&dir, "a", true));
    assert_eq!(unsafe { hb_node_new(cfg.0, &mut out) }, HB_ERR_STATE);
    assert!(last_error().contains("does not hold a number"));
    assert_eq!(out, ptr::dangling_mut());

    // hb_init on a directory that does not exist.
    cfg.set(
        "hb.dir",
        &dir.path().join("not-there").display().to_string(),
    );
    assert_eq!(unsafe { hb_init(cfg.0) }, HB_ERR_STORAGE);
    let not_there = format!("hb.dir {}: ", dir.path().join("not-there").display());
    assert!(
        last_error().starts_with(&not_there)
            && last_error().contains("cannot create the record of a"),
        "{}",
        last_error()
    );
}

/// Ticks as a daemon would until `want` holds, for at most 5 s.
fn tick_until(n: *mut hb_node, want: impl Fn(&hb_tick_result) -> bool) -> hb_tick_result {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut r = sentinel();
        assert_eq!(unsafe { hb_tick(n, &mut r) }, HA_OK, "{}", last_error());
        if want(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "last result: {r:?}");
        thread::sleep(Duration::from_millis(u64::from(r.next_tick_ms.min(50))));
    }
}

#[test]
fn maintenance_arguments_are_checked() {
    let dir = ClusterDir::new("maint");
    let cfg = Cfg::new(&settings(&dir, "a", true));
    unsafe {
        assert_eq!(hb_init(cfg.0), HA_OK);
        assert_eq!(hb_init(cfg.0), HA_OK, "idempotent");
    }
    let node = NodeBox::new(&cfg);
    let n = node.0;
    unsafe {
        assert_eq!(
            hb_maintenance_set(n, 7, ptr::null(), ptr::null()),
            HA_ERR_INVALID_ARG
        );
        assert!(last_error().contains("maintenance mode 7"));
        assert_eq!(
            hb_maintenance_set(n, u32::MAX, ptr::null(), ptr::null()),
            HA_ERR_INVALID_ARG
        );
        assert_eq!(
            hb_maintenance_set(n, HB_MAINT_SWITCHOVER, ptr::null(), ptr::null()),
            HA_ERR_INVALID_ARG
        );
        assert!(last_error().contains("needs a target"));
        assert_eq!(
            hb_maintenance_set(n, HB_MAINT_FREEZE, c"b".as_ptr(), ptr::null()),
            HA_ERR_INVALID_ARG
        );
        assert!(last_error().contains("target must be NULL"));
        assert_eq!(
            hb_maintenance_set(n, HB_MAINT_SWITCHOVER, c"zz".as_ptr(), ptr::null()),
            HA_ERR_INVALID_ARG
        );
        let e = last_error();
        assert!(e.contains("zz") && e.contains("hb.nodes=a,b"), "{e}");
        assert_eq!(
            hb_maintenance_set(n, HB_MAINT_SWITCHOVER, c"\xff".as_ptr(), ptr::null()),
            HA_ERR_INVALID_UTF8
        );
        assert_eq!(hb_drain_set(n, c"zz".as_ptr(), true), HA_ERR_INVALID_ARG);
        assert!(last_error().contains("zz"));

        // Valid calls, seen by the next tick.
        assert_eq!(
            hb_maintenance_set(
                n,
                HB_MAINT_SWITCHOVER,
                c"b".as_ptr(),
                c"kernel update".as_ptr()
            ),
            HA_OK
        );
        assert_eq!(hb_drain_set(n, c"a".as_ptr(), true), HA_OK);
        let r = tick_until(n, |r| r.maint == HB_MAINT_SWITCHOVER);
        assert_eq!(r.maint_ok, 1);
        assert_eq!(text(&r.maint_target), "b");
        assert_eq!(r.role, HB_ROLE_STANDBY);
        assert_eq!(r.action, HB_ACTION_NONE);
        assert_eq!(r.deadline_left_ms, -1);
        assert!(r.next_tick_ms <= 50, "{r:?}");

        assert_eq!(
            hb_maintenance_set(n, HB_MAINT_OFF, ptr::null(), ptr::null()),
            HA_OK
        );
        let r = tick_until(n, |r| r.maint == HB_MAINT_OFF);
        assert_eq!(text(&r.maint_target), "");

        // A failing application while standby changes nothing; NULL reason is allowed.
        let mut r = sentinel();
        assert_eq!(hb_app_failed(n, ptr::null(), &mut r), HA_OK);
        assert_eq!(r.action, HB_ACTION_NONE);
    }
}

// ---- a real two-node cluster -------------------------------------------------------------

enum Cmd {
    /// Stop ticking: a dead host (its record stops changing, nothing fences it).
    Pause,
    Resume,
    Maint(u32, Sender<(ha_status, String)>),
    Quit,
}

#[derive(Clone, Debug)]
struct Report {
    node: &'static str,
    at: Instant,
    /// Which call produced it: `hb_tick` or `hb_app_stopped`.
    call: &'static str,
    r: hb_tick_result,
    view: Vec<hb_node_status>,
    /// Set when the result contradicts what the caller knows about its application.
    violation: Option<String>,
}

impl Report {
    fn peer(&self) -> &hb_node_status {
        self.view.iter().find(|s| s.is_self == 0).expect("a peer")
    }
}

/// One node driven from its own thread, as a daemon would; stopped and joined on drop.
struct NodeThread {
    cmds: Sender<Cmd>,
    handle: Option<JoinHandle<()>>,
}

impl NodeThread {
    fn start(
        name: &'static str,
        pairs: Vec<(&'static str, String)>,
        reports: Sender<Report>,
    ) -> NodeThread {
        let (cmds, rx) = mpsc::channel();
        let handle = thread::Builder::new()
            .name(format!("node-{name}"))
            .spawn(move || drive(name, &pairs, &rx, &reports))
            .unwrap();
        NodeThread {
            cmds,
            handle: Some(handle),
        }
    }

    fn send(&self, cmd: Cmd) {
        self.cmds.send(cmd).expect("node thread alive");
    }

    fn maint(&self, mode: u32) {
        let (tx, rx) = mpsc::channel();
        self.send(Cmd::Maint(mode, tx));
        let (rc, detail) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("maintenance answered");
        assert_eq!(rc, HA_OK, "hb_maintenance_set: {detail}");
    }
}

impl Drop for NodeThread {
    fn drop(&mut self) {
        let _ = self.cmds.send(Cmd::Quit);
        if let Some(h) = self.handle.take() {
            let joined = h.join();
            if !thread::panicking() {
                joined.expect("node thread panicked");
            }
        }
    }
}

fn view(node: *const hb_node) -> Vec<hb_node_status> {
    let mut entries = [blank_status(); 4];
    let mut count = 0;
    let rc = unsafe { hb_status(node, entries.as_mut_ptr(), entries.len(), &mut count) };
    assert_eq!(rc, HA_OK);
    entries[..count].to_vec()
}

fn drive(
    name: &'static str,
    pairs: &[(&'static str, String)],
    cmds: &Receiver<Cmd>,
    reports: &Sender<Report>,
) {
    let cfg = Cfg::new(pairs);
    let node = NodeBox::new(&cfg);
    drop(cfg);
    let n = node.0;
    let mut paused = false;
    let mut app_running = false;
    let send = |call, r: hb_tick_result, violation| {
        let _ = reports.send(Report {
            node: name,
            at: Instant::now(),
            call,
            r,
            view: view(n),
            violation,
        });
    };
    loop {
        loop {
            match cmds.try_recv() {
                Ok(Cmd::Pause) => paused = true,
                Ok(Cmd::Resume) => paused = false,
                Ok(Cmd::Maint(mode, reply)) => {
                    let rc = unsafe {
                        hb_maintenance_set(n, mode, ptr::null(), c"ffi_heartbeat test".as_ptr())
                    };
                    let detail = if rc == HA_OK {
                        String::new()
                    } else {
                        last_error()
                    };
                    let _ = reply.send((rc, detail));
                }
                Ok(Cmd::Quit) | Err(TryRecvError::Disconnected) => return,
                Err(TryRecvError::Empty) => break,
            }
        }
        if paused {
            thread::sleep(Duration::from_millis(10));
            continue;
        }
        let mut r = sentinel();
        assert_eq!(unsafe { hb_tick(n, &mut r) }, HA_OK, "{}", last_error());
        let violation = match r.action {
            HB_ACTION_START if app_running => Some("START while running".to_string()),
            HB_ACTION_START if r.role != HB_ROLE_ACTIVE => Some("START while not active".into()),
            HB_ACTION_KEEP if !app_running => Some("KEEP while not running".into()),
            HB_ACTION_NONE if app_running => Some("NONE while running".into()),
            HB_ACTION_START | HB_ACTION_KEEP | HB_ACTION_NONE => None,
            HB_ACTION_STOP | HB_ACTION_FENCE if !app_running => {
                Some("STOP/FENCE while not running".into())
            }
            HB_ACTION_STOP | HB_ACTION_FENCE => None,
            other => Some(format!("unknown action {other}")),
        };
        if r.action == HB_ACTION_START {
            app_running = true;
        }
        let next = r.next_tick_ms;
        send("hb_tick", r, violation);
        if matches!(r.action, HB_ACTION_STOP | HB_ACTION_FENCE) {
            app_running = false; // "stopped" at once
            let mut after = sentinel();
            assert_eq!(unsafe { hb_app_stopped(n, &mut after) }, HA_OK);
            let violation = (after.action != HB_ACTION_NONE)
                .then(|| format!("action {} after hb_app_stopped", after.action));
            send("hb_app_stopped", after, violation);
        }
        thread::sleep(Duration::from_millis(u64::from(next.min(50))));
    }
}

/// Collects every report; waits are bounded.
struct Watch {
    rx: Receiver<Report>,
    log: Vec<Report>,
}

impl Watch {
    /// Waits at most `limit` for a report matching `want`; every report seen is checked for
    /// violations and kept in the log.
    fn until(&mut self, limit: Duration, what: &str, mut want: impl FnMut(&Report) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(rep) => {
                    assert!(rep.violation.is_none(), "{rep:?}");
                    let done = want(&rep);
                    self.log.push(rep);
                    if done {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let tail: Vec<String> = self
                        .log
                        .iter()
                        .rev()
                        .take(6)
                        .map(|r| format!("{} {} {:?}", r.node, r.call, r.r))
                        .collect();
                    panic!("waited {limit:?} in vain for {what}; last reports: {tail:#?}");
                }
                Err(RecvTimeoutError::Disconnected) => panic!("node threads ended early"),
            }
        }
    }

    /// Keeps collecting for `span`, returning what came in.
    fn during(&mut self, span: Duration) -> Vec<Report> {
        let first = self.log.len();
        let end = Instant::now() + span;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok(rep) => {
                    assert!(rep.violation.is_none(), "{rep:?}");
                    self.log.push(rep);
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => panic!("node threads ended early"),
            }
        }
        self.log[first..].to_vec()
    }

    fn starts(&self) -> Vec<&Report> {
        self.log
            .iter()
            .filter(|r| r.r.action == HB_ACTION_START)
            .collect()
    }
}

fn other(name: &str) -> &'static str {
    if name == "a" { "b" } else { "a" }
}

#[test]
fn two_nodes_keep_exactly_one_active() {
    let dir = ClusterDir::on_fast_storage("cluster");
    {
        let cfg = Cfg::new(&settings(&dir, "a", true));
        assert_eq!(unsafe { hb_init(cfg.0) }, HA_OK, "{}", last_error());
    }
    let (tx, rx) = mpsc::channel();
    let mut watch = Watch {
        rx,
        log: Vec::new(),
    };
    let a = NodeThread::start("a", settings(&dir, "a", true), tx.clone());
    let b = NodeThread::start("b", settings(&dir, "b", false), tx);
    let thread_of = |name: &str| if name == "a" { &a } else { &b };

    // Exactly one node starts the application; then it keeps it, and the other stays out.
    watch.until(Duration::from_secs(10), "a START", |r| {
        r.r.action == HB_ACTION_START
    });
    let first = watch.starts()[0].clone();
    let standby = other(first.node);
    assert_eq!(first.r.role, HB_ROLE_ACTIVE);
    assert!(first.r.epoch >= 1);
    assert!(first.r.deadline_left_ms > 0, "{:?}", first.r);
    let settle = watch.during(Duration::from_millis(1500));
    assert_eq!(watch.starts().len(), 1, "only one START");
    assert!(
        settle
            .iter()
            .filter(|r| r.node == first.node && r.call == "hb_tick")
            .all(|r| r.r.action == HB_ACTION_KEEP && r.r.role == HB_ROLE_ACTIVE),
        "the active keeps it"
    );
    assert!(
        settle
            .iter()
            .filter(|r| r.node == standby)
            .all(|r| r.r.action == HB_ACTION_NONE && r.r.role == HB_ROLE_STANDBY),
        "the other stays standby"
    );
    watch.until(
        Duration::from_secs(5),
        "the standby to see the active ALIVE",
        |r| {
            r.node == standby
                && r.peer().known == 1
                && r.peer().state == HB_STATE_ACTIVE
                && r.peer().liveness == HB_LIVENESS_ALIVE
        },
    );
    let seen = watch.log.last().unwrap().clone();
    assert_eq!(text(&seen.peer().name), first.node);
    assert_eq!(seen.peer().epoch, first.r.epoch);
    assert_eq!(seen.peer().preferred, u32::from(first.node == "a"));
    assert!(seen.peer().changed_ago_ms >= 0 && seen.peer().changed_ago_ms < 1500);
    assert_eq!(seen.r.maint, HB_MAINT_OFF);
    assert_eq!(seen.r.maint_ok, 1);

    // The active's host dies: the standby takes over with a higher epoch.
    thread_of(first.node).send(Cmd::Pause);
    let died = Instant::now();
    watch.until(Duration::from_secs(6), "a takeover START", |r| {
        r.node == standby && r.r.action == HB_ACTION_START
    });
    let second = watch.log.last().unwrap().clone();
    assert!(second.at - died < Duration::from_secs(6));
    assert!(second.r.epoch > first.r.epoch, "{:?}", second.r);

    // The old active comes back: its lease is long gone, it is fenced and stays standby.
    thread_of(first.node).send(Cmd::Resume);
    watch.until(Duration::from_secs(5), "the old active fenced", |r| {
        r.node == first.node && r.call == "hb_tick" && r.r.action == HB_ACTION_FENCE
    });
    watch.until(
        Duration::from_secs(5),
        "the old active to see the new one",
        |r| {
            r.node == first.node
                && r.r.role == HB_ROLE_STANDBY
                && r.peer().state == HB_STATE_ACTIVE
                && r.peer().liveness == HB_LIVENESS_ALIVE
        },
    );

    // FREEZE: the new active dies, nobody takes over.
    thread_of(standby).maint(HB_MAINT_FREEZE);
    watch.until(Duration::from_secs(5), "FREEZE seen by the other", |r| {
        r.node == first.node && r.r.maint == HB_MAINT_FREEZE
    });
    thread_of(standby).send(Cmd::Pause);
    let frozen = watch.during(Duration::from_secs(3));
    assert!(
        frozen
            .iter()
            .filter(|r| r.node == first.node)
            .all(|r| r.r.action == HB_ACTION_NONE && r.r.role == HB_ROLE_STANDBY),
        "no takeover while frozen"
    );
    assert!(
        frozen.iter().any(|r| r.node == first.node),
        "it kept ticking"
    );

    // OFF: the takeover follows, after a full takeover time counted from OFF.
    thread_of(first.node).maint(HB_MAINT_OFF);
    let off = Instant::now();
    watch.until(Duration::from_secs(6), "START after OFF", |r| {
        r.node == first.node && r.r.action == HB_ACTION_START
    });
    let third = watch.log.last().unwrap().clone();
    assert!(
        third.at - off >= Duration::from_millis(1500),
        "{:?}",
        third.at - off
    );
    assert!(third.r.epoch > second.r.epoch);
    assert_eq!(third.r.maint, HB_MAINT_OFF);

    drop(a);
    drop(b);
}

/// `hb_app_stopped` on a node that keeps claiming: whatever order the stop and the claim
/// take, a START only ever reaches the caller together with the lease (role ACTIVE); a
/// START without one would run the application unfenced.
#[test]
fn app_stopped_never_answers_start_without_a_lease() {
    let dir = ClusterDir::on_fast_storage("single");
    let cfg = Cfg::new(&settings(&dir, "a", true));
    cfg.set("hb.nodes", "a");
    assert_eq!(unsafe { hb_init(cfg.0) }, HA_OK, "{}", last_error());
    let node = NodeBox::new(&cfg);
    let until = Instant::now() + Duration::from_secs(2);
    let mut roles = std::collections::BTreeSet::new();
    while Instant::now() < until {
        let mut r = sentinel();
        assert_eq!(unsafe { hb_app_stopped(node.0, &mut r) }, HA_OK);
        assert!(
            r.action != HB_ACTION_START || r.role == HB_ROLE_ACTIVE,
            "START in role {} from hb_app_stopped",
            r.role
        );
        roles.insert(r.role);
        thread::sleep(Duration::from_millis(u64::from(r.next_tick_ms.min(20))));
    }
    assert!(roles.contains(&HB_ROLE_CLAIMING), "it did claim: {roles:?}");
}
