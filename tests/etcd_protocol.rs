//! The etcd protocol core driven against a real three-member etcd (tests/common/etcd.rs):
//! two nodes, each a thread running the core and performing its calls; the "application" is a
//! shared slot that two nodes must never hold at once (checked on every start). A node that
//! crashes leaves its application to the guard, which stops it at the node's deadline.
#![cfg(feature = "etcd")]

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::etcd::{ELECTION_MS, EtcdCluster, HEARTBEAT_MS};
use hamon::heartbeat::etcd::api::{Client, Settings};
use hamon::heartbeat::etcd::core::{Action, Core, CoreConfig, Event};
use hamon::heartbeat::etcd::keys::Keys;
use hamon::heartbeat::etcd::timing::EtcdTiming;

/// The tests' timing with a lease of `ttl_s` seconds.
fn timing(ttl_s: u64) -> EtcdTiming {
    EtcdTiming {
        period: Duration::from_millis(200),
        io_timeout: Duration::from_millis(300),
        lease_ttl: Duration::from_secs(ttl_s),
        kill_budget: Duration::from_millis(100),
        election_timeout: Duration::from_millis(ELECTION_MS),
        heartbeat_interval: Duration::from_millis(HEARTBEAT_MS),
    }
}

/// Long enough for the active to ride through an etcd leader election
/// (EtcdTiming::election_warning); etcd's minimum (2 s) is not.
const RIDES_THROUGH_ELECTIONS: u64 = 3;
/// etcd's minimum for the tests' election timeout: the shortest test.
const SHORTEST: u64 = 2;

/// Who runs the application, and every (node, epoch) start in order.
#[derive(Default)]
struct App {
    holder: Option<String>,
    starts: Vec<(String, u64, Instant)>,
}

struct NodeThread {
    crash: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<()>>,
}

impl NodeThread {
    fn spawn(
        name: &str,
        preferred: bool,
        timing: EtcdTiming,
        settings: Settings,
        app: Arc<Mutex<App>>,
    ) -> Self {
        let crash = Arc::new(AtomicBool::new(false));
        let stop = crash.clone();
        let name = name.to_string();
        let handle = thread::spawn(move || {
            let t0 = Instant::now();
            let now = || t0.elapsed().as_nanos() as u64 + 1;
            let mut client = Client::new(&settings).expect("settings");
            let keys = Keys::new("etcdtest", None);
            let mut core = Core::new(
                CoreConfig {
                    node: name.clone(),
                    preferred,
                    timing,
                    incarnation: now() ^ 0x5eed,
                    persisted_epoch: 0,
                },
                now(),
            );
            let mut events = vec![Event::Tick];
            let mut running = 0;
            while !stop.load(Ordering::SeqCst) {
                let ev = events.pop().unwrap_or(Event::Tick);
                for a in core.step(now(), ev) {
                    if let Some(e) = keys.perform(&mut client, &name, &a, now) {
                        events.insert(0, e);
                        continue;
                    }
                    match a {
                        Action::StartApp { epoch } => {
                            let mut app = app.lock().unwrap();
                            assert!(
                                app.holder.is_none(),
                                "{name} starts epoch {epoch} while {:?} runs",
                                app.holder
                            );
                            app.holder = Some(name.clone());
                            running = epoch;
                            app.starts.push((name.clone(), epoch, Instant::now()));
                        }
                        Action::StopApp { .. } => {
                            let mut app = app.lock().unwrap();
                            if app.holder.as_deref() == Some(name.as_str()) {
                                app.holder = None;
                            }
                            events.insert(0, Event::AppStopped { epoch: running });
                        }
                        _ => {}
                    }
                }
                if events.is_empty() {
                    let wake = core.next_wakeup().saturating_sub(now());
                    thread::sleep(Duration::from_nanos(wake).min(Duration::from_millis(20)));
                }
            }
            // Crashed: the guard stops the application at the deadline it last knew.
            if let Some(left) = core.status(now()).deadline_left {
                thread::sleep(Duration::from_nanos(left));
                let mut app = app.lock().unwrap();
                if app.holder.as_deref() == Some(name.as_str()) {
                    app.holder = None;
                }
            }
        });
        NodeThread {
            crash,
            handle: Some(handle),
        }
    }

    fn crash(&mut self) {
        self.crash.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            h.join().expect("node thread");
        }
    }
}

impl Drop for NodeThread {
    fn drop(&mut self) {
        self.crash.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn holder(app: &Mutex<App>) -> Option<String> {
    app.lock().unwrap().holder.clone()
}

fn wait_holder(app: &Mutex<App>, want: &str, within: Duration) -> Duration {
    let start = Instant::now();
    while start.elapsed() < within {
        if holder(app).as_deref() == Some(want) {
            return start.elapsed();
        }
        thread::sleep(Duration::from_millis(10));
    }
    panic!(
        "{want} did not become active within {within:?}; holder {:?}",
        holder(app)
    );
}

#[test]
fn one_active_survives_an_etcd_leader_kill_and_a_crash_fails_over_within_the_bound() {
    let t = timing(RIDES_THROUGH_ELECTIONS);
    t.check().expect("test timing is safe");
    assert_eq!(t.election_warning(), None);
    let mut etcd = EtcdCluster::start(3, false);
    let app = Arc::new(Mutex::new(App::default()));
    let mut a = NodeThread::spawn("a", true, t, etcd.settings(), app.clone());
    let _b = NodeThread::spawn("b", false, t, etcd.settings(), app.clone());
    wait_holder(&app, "a", Duration::from_secs(10));

    // The etcd leader dies: the new leader extends the lease, the active keeps running.
    let leader = etcd.leader();
    etcd.members[leader].kill();
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        assert_eq!(
            holder(&app).as_deref(),
            Some("a"),
            "failover after the etcd leader died"
        );
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(app.lock().unwrap().starts.len(), 1);

    // The active crashes (its guard stops the application at its deadline): b takes over
    // within the failover bound, with a higher epoch.
    let crashed = Instant::now();
    a.crash();
    let bound = t.failover_bound();
    wait_holder(&app, "b", bound + Duration::from_secs(1));
    let took = crashed.elapsed();
    let starts = app.lock().unwrap().starts.clone();
    assert_eq!(starts.len(), 2, "{starts:?}");
    assert!(starts[1].1 > starts[0].1, "epochs {starts:?}");
    assert!(
        took <= bound + Duration::from_secs(1),
        "failover took {took:?}"
    );
    eprintln!("failover after a crash: {took:?} (bound {bound:?})");
}

fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(ok.success(), "kill {sig} {pid}");
}

/// Continues stopped members also when the test fails, so the cluster can be killed.
struct Cont(Vec<u32>);

impl Drop for Cont {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = std::process::Command::new("kill")
                .args(["-CONT", &pid.to_string()])
                .status();
        }
    }
}

#[test]
fn on_quorum_loss_the_active_fences_by_its_deadline_and_nobody_starts_until_it_returns() {
    let t = timing(SHORTEST);
    t.check().expect("test timing is safe");
    let etcd = EtcdCluster::start(3, false);
    let app = Arc::new(Mutex::new(App::default()));
    let _a = NodeThread::spawn("a", true, t, etcd.settings(), app.clone());
    let _b = NodeThread::spawn("b", false, t, etcd.settings(), app.clone());
    wait_holder(&app, "a", Duration::from_secs(10));

    // Two of three members stopped: no keepalive can succeed.
    let pids: Vec<u32> = etcd.members[1..].iter().map(|m| m.pid()).collect();
    let stopped = Instant::now();
    let cont = Cont(pids.clone());
    for pid in &pids {
        signal(*pid, "-STOP");
    }
    // The active stops within F1 of its last acknowledged keepalive's send, which was at most
    // a period (plus one timeout) before the members stopped, or, when the running member was
    // the etcd leader, before it noticed the lost quorum and stepped down (CheckQuorum: up to
    // two election timeouts; etcd 3.4 renews leases on the leader without raft). This harness
    // makes its calls one after another on the node's thread, so the stop can wait behind a
    // keepalive and a read that time out (T_io each) besides the one in flight.
    let f1 = t.renew_deadline_for(t.lease_ttl).unwrap();
    let fence_by =
        f1 + t.period + 3 * t.io_timeout + 2 * t.election_timeout + Duration::from_millis(500);
    while holder(&app).is_some() {
        assert!(
            stopped.elapsed() < fence_by,
            "still active after {:?}",
            stopped.elapsed()
        );
        thread::sleep(Duration::from_millis(10));
    }
    eprintln!(
        "fenced {:?} after the quorum was lost (allowed {fence_by:?})",
        stopped.elapsed()
    );
    // Nobody starts while there is no quorum, however long it lasts.
    let until = stopped + t.lease_ttl * 3;
    while Instant::now() < until {
        assert!(holder(&app).is_none(), "started without an etcd quorum");
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(app.lock().unwrap().starts.len(), 1);
    drop(cont);
    // Quorum back: exactly one node runs again (the slot refuses a second), with a new epoch.
    let back = Instant::now();
    while holder(&app).is_none() {
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "nobody took over after the quorum returned"
        );
        thread::sleep(Duration::from_millis(10));
    }
    let starts = app.lock().unwrap().starts.clone();
    assert_eq!(starts.len(), 2, "{starts:?}");
    assert!(starts[1].1 > starts[0].1, "{starts:?}");
}
