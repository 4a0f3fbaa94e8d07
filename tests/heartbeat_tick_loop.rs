//! The loop `hamon.h` documents (call `hb_tick`, sleep `next_tick_ms`, repeat) does not spin:
//! for a few seconds on one active node and on a standby (fast timing, period 100 ms, a
//! local directory; and on etcd), it makes at most about 3 `hb_tick` calls per period and
//! the process spends well under a millisecond of CPU per period (its I/O threads
//! included; hamon aims at 0.3 ms, the bound here is loose so that a loaded machine does
//! not fail it: BENCHMARKS.md has the real figures).
//!
//! Also while a read stays out (a hung record, a stopped etcd member): the node's timers fall
//! due while it waits, and it must sleep through that too.
//!
//! The measurements run one at a time (a lock): CPU is the whole process's.

#![cfg(target_os = "linux")]

use crate::common;
use crate::common::hung;

use std::ffi::CString;
use std::path::Path;
use std::ptr;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use hamon::ffi::config::{ha_config, ha_config_free, ha_config_new, ha_config_set};
use hamon::ffi::heartbeat::*;
use hamon::ffi::status::HA_OK;
use hung::HungStorage;

const PERIOD: Duration = Duration::from_millis(100);
const WINDOW: Duration = Duration::from_secs(3);
/// hb_tick calls per period: the tick that renews, and a wake-up or two for the answers of
/// storage and for the half-period bound.
const MOST_CALLS: f64 = 3.5;
/// CPU per period of the whole process (hamon's goal is 0.3 ms).
const MOST_CPU: Duration = Duration::from_millis(1);

/// One measurement at a time: CPU is counted for the whole process.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const FAST: [(&str, &str); 6] = [
    ("hb.period_ms", "100"),
    ("hb.io_timeout_ms", "150"),
    ("hb.renew_deadline_ms", "800"),
    ("hb.kill_budget_ms", "300"),
    ("hb.takeover_ms", "1500"),
    ("hb.confirm_ms", "100"),
];

/// A node driven through the C ABI, as a C program drives it.
struct CNode(*mut hb_node);

// SAFETY: an hb_node may move between threads; each CNode is used by one thread at a time.
unsafe impl Send for CNode {}

impl CNode {
    fn new(settings: &[(&str, String)], init: bool) -> CNode {
        let mut cfg: *mut ha_config = ptr::null_mut();
        let mut node: *mut hb_node = ptr::null_mut();
        // SAFETY: every pointer is valid for its call; cfg is freed once.
        unsafe {
            assert_eq!(ha_config_new(&mut cfg), HA_OK);
            for (k, v) in settings {
                let (ck, cv) = (CString::new(*k).unwrap(), CString::new(v.as_str()).unwrap());
                assert_eq!(
                    ha_config_set(cfg, ck.as_ptr(), cv.as_ptr()),
                    HA_OK,
                    "{k}={v}"
                );
            }
            if init {
                assert_eq!(hb_init(cfg), HA_OK, "hb_init");
            }
            let rc = hb_node_new(cfg, &mut node);
            ha_config_free(cfg);
            assert_eq!(rc, HA_OK, "hb_node_new");
        }
        CNode(node)
    }

    fn tick(&mut self) -> hb_tick_result {
        // SAFETY: all-zero is a valid hb_tick_result.
        let mut out: hb_tick_result = unsafe { std::mem::zeroed() };
        // SAFETY: a live node; out is writable.
        assert_eq!(unsafe { hb_tick(self.0, &mut out) }, HA_OK, "hb_tick");
        out
    }
}

impl Drop for CNode {
    fn drop(&mut self) {
        // SAFETY: from hb_node_new, freed once.
        unsafe { hb_node_free(self.0) };
    }
}

/// The documented loop's sleep.
fn pause(r: &hb_tick_result) {
    thread::sleep(Duration::from_millis(u64::from(r.next_tick_ms)));
}

/// Ticks as documented until `role` holds (answering a START with nothing: the test has no
/// application), within `within`.
fn reach(node: &mut CNode, role: u32, within: Duration) {
    let until = Instant::now() + within;
    loop {
        let r = node.tick();
        if r.role == role && r.action != HB_ACTION_START {
            return;
        }
        assert!(
            Instant::now() < until,
            "role {role} not reached: at {}",
            r.role
        );
        pause(&r);
    }
}

/// What the loop did over a window.
struct Loop {
    calls: u64,
    zeros: u64,
    /// The longest sleep asked for while holding a lease, against the lease left.
    overslept: Option<(u32, Duration)>,
    role_kept: bool,
}

/// Follows the documented loop for `window`, counting.
fn follow(node: &mut CNode, role: u32, window: Duration) -> Loop {
    let mut l = Loop {
        calls: 0,
        zeros: 0,
        overslept: None,
        role_kept: true,
    };
    let end = Instant::now() + window;
    while Instant::now() < end {
        let r = node.tick();
        l.calls += 1;
        l.role_kept &= r.role == role;
        if r.next_tick_ms == 0 {
            l.zeros += 1;
        }
        // The loop never sleeps past the lease's end.
        if r.deadline_left_ms >= 0
            && i64::from(r.next_tick_ms) > r.deadline_left_ms
            && l.overslept.is_none()
        {
            l.overslept = Some((
                r.next_tick_ms,
                Duration::from_millis(r.deadline_left_ms as u64),
            ));
        }
        pause(&r);
    }
    l
}

/// User plus system CPU of this process so far.
fn process_cpu() -> Duration {
    // SAFETY: all-zero is a valid rusage; getrusage fills it.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: u is writable.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) }, 0);
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn file_settings(dir: &Path, node: &str, preferred: bool) -> Vec<(&'static str, String)> {
    let mut s = vec![
        ("hb.dir", dir.join("shared").display().to_string()),
        ("hb.state_dir", dir.join(node).display().to_string()),
        ("hb.node", node.to_string()),
        ("hb.nodes", "dc1,dc2".to_string()),
        ("hb.preferred", preferred.to_string()),
    ];
    s.extend(FAST.iter().map(|(k, v)| (*k, v.to_string())));
    s
}

/// Checks one node's loop over `window` (`periods` periods), its CPU shared with `nodes`
/// nodes of the process.
fn check(what: &str, l: &Loop, cpu: Duration, nodes: u32, role: u32) {
    let periods = WINDOW.as_secs_f64() / PERIOD.as_secs_f64();
    let per_period = l.calls as f64 / periods;
    let cpu_per_period = cpu.as_secs_f64() * 1000.0 / periods;
    eprintln!(
        "{what}: {} hb_tick calls in {} periods ({per_period:.2} per period, {} answered \
         next_tick_ms 0); the process's CPU {cpu_per_period:.3} ms per period for {nodes} node(s)",
        l.calls, periods, l.zeros
    );
    assert!(l.role_kept, "{what}: the node left role {role}");
    assert!(
        l.overslept.is_none(),
        "{what}: told to sleep past the lease's end: {:?}",
        l.overslept
    );
    assert!(
        per_period <= MOST_CALLS,
        "{what}: {per_period:.2} hb_tick calls per period ({} of {} answered 0 ms)",
        l.zeros,
        l.calls
    );
    assert!(
        cpu_per_period < MOST_CPU.as_secs_f64() * 1000.0 * f64::from(nodes),
        "{what}: {cpu_per_period:.3} ms of CPU per period for {nodes} node(s)"
    );
}

#[test]
fn an_active_node_on_a_local_directory_does_not_spin() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = common::TempDir::on_fast_storage("tick-loop-active");
    std::fs::create_dir_all(dir.path().join("shared")).unwrap();
    let mut node = CNode::new(&file_settings(dir.path(), "dc1", true), true);
    reach(&mut node, HB_ROLE_ACTIVE, Duration::from_secs(20));
    let before = process_cpu();
    let l = follow(&mut node, HB_ROLE_ACTIVE, WINDOW);
    check("active", &l, process_cpu() - before, 1, HB_ROLE_ACTIVE);

    // The peer's record hangs (a stuck NFS file): its read stays out for ever, the node's
    // timers fall due meanwhile, and it must still sleep between them.
    let hung = HungStorage::hang(&dir.path().join("shared"), &["node.dc2"]);
    let before = process_cpu();
    let l = follow(&mut node, HB_ROLE_ACTIVE, WINDOW);
    let cpu = process_cpu() - before;
    // Let the hung read go before the node is freed.
    hung.restore();
    check("active, the peer's record hung", &l, cpu, 1, HB_ROLE_ACTIVE);
}

#[test]
fn an_active_node_and_its_standby_do_not_spin() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = common::TempDir::on_fast_storage("tick-loop-standby");
    std::fs::create_dir_all(dir.path().join("shared")).unwrap();
    let mut active = CNode::new(&file_settings(dir.path(), "dc1", true), true);
    reach(&mut active, HB_ROLE_ACTIVE, Duration::from_secs(20));
    let mut standby = CNode::new(&file_settings(dir.path(), "dc2", false), false);
    // The active keeps its lease on a thread of its own while the standby comes up beside
    // it; it stops when the sender goes (also when this test fails).
    let (to_active, stop) = std::sync::mpsc::channel::<()>();
    let a = thread::spawn(move || {
        let (mut calls, started) = (0u64, Instant::now());
        loop {
            let r = active.tick();
            calls += 1;
            assert_eq!(r.role, HB_ROLE_ACTIVE, "the active lost its lease");
            match stop.recv_timeout(Duration::from_millis(u64::from(r.next_tick_ms))) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                _ => return (calls, started.elapsed()),
            }
        }
    });
    reach(&mut standby, HB_ROLE_STANDBY, Duration::from_secs(5));
    // Past its cold-start back-off: a standby that watches a live active.
    let settle = follow(&mut standby, HB_ROLE_STANDBY, Duration::from_millis(600));
    assert!(settle.role_kept, "the standby left its role");
    let before = process_cpu();
    let l = follow(&mut standby, HB_ROLE_STANDBY, WINDOW);
    let cpu = process_cpu() - before;
    drop(to_active);
    let (calls, ran) = a.join().expect("the active's loop");
    let per_period = calls as f64 / (ran.as_secs_f64() / PERIOD.as_secs_f64());
    eprintln!("the active beside it: {calls} calls in {ran:?} ({per_period:.2} per period)");
    assert!(
        per_period <= MOST_CALLS,
        "the active beside the standby: {per_period:.2} hb_tick calls per period"
    );
    check("standby beside an active", &l, cpu, 2, HB_ROLE_STANDBY);
}

#[cfg(feature = "etcd")]
#[test]
fn an_active_node_on_etcd_does_not_spin() {
    use common::etcd::{ELECTION_MS, EtcdCluster, HEARTBEAT_MS};
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Three members, as sites run it: a keepalive waits for raft, and a node whose timers
    // fall due while one is out must not spin meanwhile.
    let etcd = EtcdCluster::start(3, false);
    etcd.wait_ready();
    let dir = common::TempDir::new("tick-loop-etcd");
    let settings = vec![
        ("hb.backend", "etcd".to_string()),
        ("hb.etcd.endpoints", etcd.endpoints().join(",")),
        ("hb.state_dir", dir.path().join("dc1").display().to_string()),
        ("hb.node", "dc1".to_string()),
        ("hb.nodes", "dc1,dc2".to_string()),
        ("hb.preferred", "true".to_string()),
        ("hb.etcd.period_ms", "100".to_string()),
        ("hb.etcd.io_timeout_ms", "500".to_string()),
        ("hb.etcd.lease_ttl_s", "6".to_string()),
        ("hb.etcd.kill_budget_ms", "1000".to_string()),
        ("hb.etcd.election_timeout_ms", ELECTION_MS.to_string()),
        ("hb.etcd.heartbeat_interval_ms", HEARTBEAT_MS.to_string()),
    ];
    let mut node = CNode::new(&settings, false);
    reach(&mut node, HB_ROLE_ACTIVE, Duration::from_secs(30));
    let before = process_cpu();
    let l = follow(&mut node, HB_ROLE_ACTIVE, WINDOW);
    check(
        "active on etcd",
        &l,
        process_cpu() - before,
        1,
        HB_ROLE_ACTIVE,
    );

    // The member it talks to hangs (stopped): its calls stay out until the I/O timeout
    // (500 ms, five periods), and the node's timers fall due meanwhile. It must sleep
    // through that wait too, not call again and again until the answer comes.
    let hung = Stopped::new(etcd.members[0].pid());
    let before = process_cpu();
    let l = follow(&mut node, HB_ROLE_ACTIVE, WINDOW);
    drop(hung);
    check(
        "active on etcd, a member hung",
        &l,
        process_cpu() - before,
        1,
        HB_ROLE_ACTIVE,
    );
}

/// A process stopped (SIGSTOP) until this is dropped, also when the test fails.
#[cfg(feature = "etcd")]
struct Stopped(i32);

#[cfg(feature = "etcd")]
impl Stopped {
    fn new(pid: u32) -> Stopped {
        let pid = i32::try_from(pid).expect("a pid");
        // SAFETY: a signal to a process this test started.
        assert_eq!(
            unsafe { libc::kill(pid, libc::SIGSTOP) },
            0,
            "SIGSTOP {pid}"
        );
        Stopped(pid)
    }
}

#[cfg(feature = "etcd")]
impl Drop for Stopped {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe { libc::kill(self.0, libc::SIGCONT) };
    }
}
