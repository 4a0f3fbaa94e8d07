//! A [`Node`] on etcd (`hb.backend=etcd`, settings only) against a real one-member etcd: two
//! nodes, each a thread that ticks and runs a shared "application" slot that two nodes must
//! never hold at once. A crashed node leaves its application to the guard, which stops it at
//! the node's last lease deadline.
#![cfg(feature = "etcd")]

use crate::common;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::TempDir;
use common::etcd::{ELECTION_MS, EtcdCluster, HEARTBEAT_MS};
use hamon::config::Config;
use hamon::heartbeat::core::Role;
use hamon::heartbeat::etcd::settings::timing_settings;
use hamon::heartbeat::etcd::timing::EtcdTiming;
use hamon::heartbeat::node::{Node, NodeSettings, TickAction, boottime};
use hamon::heartbeat::observe::Liveness;
use hamon::heartbeat::record::{MaintMode, NodeState};

fn timing() -> EtcdTiming {
    EtcdTiming {
        period: Duration::from_millis(200),
        io_timeout: Duration::from_millis(300),
        lease_ttl: Duration::from_secs(2),
        kill_budget: Duration::from_millis(100),
        election_timeout: Duration::from_millis(ELECTION_MS),
        heartbeat_interval: Duration::from_millis(HEARTBEAT_MS),
    }
}

#[derive(Default)]
struct App {
    holder: Option<String>,
    starts: Vec<(String, u64)>,
    /// Per node, the peer its status last showed active (and alive).
    peer_active: std::collections::HashMap<String, Option<String>>,
}

const RUN: u8 = 0;
const RELEASE: u8 = 1;
const CRASH: u8 = 2;

struct NodeThread {
    cmd: Arc<AtomicU8>,
    handle: Option<thread::JoinHandle<()>>,
}

impl NodeThread {
    fn spawn(name: &str, etcd: &EtcdCluster, state: &TempDir, app: Arc<Mutex<App>>) -> Self {
        let cmd = Arc::new(AtomicU8::new(RUN));
        let seen = cmd.clone();
        let name = name.to_string();
        let settings = settings(&name, etcd, state);
        let handle = thread::spawn(move || {
            let mut node = Node::new(settings).expect("node");
            let mut released = false;
            loop {
                let r = match seen.load(Ordering::SeqCst) {
                    CRASH => break,
                    RELEASE if !released => {
                        released = true;
                        node.release()
                    }
                    _ => node.tick(),
                };
                match r.action {
                    TickAction::Start => {
                        assert_eq!(r.role, Role::Active);
                        let mut app = app.lock().unwrap();
                        assert!(
                            app.holder.is_none(),
                            "{name} starts epoch {} while {:?} runs",
                            r.epoch,
                            app.holder
                        );
                        app.holder = Some(name.clone());
                        app.starts.push((name.clone(), r.epoch));
                    }
                    TickAction::Stop | TickAction::Fence => {
                        {
                            let mut app = app.lock().unwrap();
                            if app.holder.as_deref() == Some(name.as_str()) {
                                app.holder = None;
                            }
                        }
                        node.app_stopped();
                    }
                    TickAction::None | TickAction::Keep => {}
                }
                let peer = node
                    .status()
                    .into_iter()
                    .find(|v| {
                        !v.is_self
                            && v.liveness == Liveness::Alive
                            && v.record
                                .as_ref()
                                .is_some_and(|r| r.state == NodeState::Active)
                    })
                    .map(|v| v.name);
                app.lock().unwrap().peer_active.insert(name.clone(), peer);
                thread::sleep(node.next_tick_in());
            }
            // Crashed: the guard stops the application at the deadline it last knew.
            if let Some(d) = node.lease_deadline() {
                thread::sleep(Duration::from_nanos(d.saturating_sub(boottime())));
                let mut app = app.lock().unwrap();
                if app.holder.as_deref() == Some(name.as_str()) {
                    app.holder = None;
                }
            }
        });
        NodeThread {
            cmd,
            handle: Some(handle),
        }
    }

    fn crash(&mut self) {
        self.cmd.store(CRASH, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            h.join().expect("node thread");
        }
    }
}

impl Drop for NodeThread {
    fn drop(&mut self) {
        self.cmd.store(CRASH, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A node's settings as a user writes them: the backend, the endpoints and the etcd timing.
fn settings(node: &str, etcd: &EtcdCluster, state: &TempDir) -> NodeSettings {
    let t = timing();
    let text = format!(
        "hb.backend=etcd\nhb.etcd.endpoints={}\nhb.cluster=etcdnode\nhb.node={node}\n\
         hb.nodes=a,b\nhb.preferred={}\nhb.state_dir={}\n{}",
        etcd.endpoints().join(","),
        node == "a",
        state.path().join(node).display(),
        timing_settings(&t),
    );
    let mut config = Config::default();
    config.load_str(&text, "test").unwrap();
    NodeSettings::from_config(&config.heartbeat).unwrap()
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
        thread::sleep(Duration::from_millis(5));
    }
    panic!(
        "{want} did not become active within {within:?}; holder {:?}",
        holder(app)
    );
}

fn epoch_file(state: &TempDir, node: &str) -> u64 {
    std::fs::read_to_string(state.path().join(node).join("epoch"))
        .expect("epoch file")
        .trim()
        .parse()
        .expect("a number")
}

#[test]
fn release_hands_over_at_once_and_a_crash_fails_over_within_the_bound() {
    timing().check().expect("test timing is safe");
    let etcd = EtcdCluster::start(1, false);
    let state = TempDir::new("etcd-node");
    let app = Arc::new(Mutex::new(App::default()));
    let a = NodeThread::spawn("a", &etcd, &state, app.clone());
    let mut b = NodeThread::spawn("b", &etcd, &state, app.clone());
    wait_holder(&app, "a", Duration::from_secs(10));
    let first = app.lock().unwrap().starts[0].1;
    assert_eq!(
        epoch_file(&state, "a"),
        first,
        "epoch persisted before its claim"
    );
    // The standby's status shows the active peer (what the daemon's no-active watch reads).
    let seen = Instant::now();
    while app
        .lock()
        .unwrap()
        .peer_active
        .get("b")
        .cloned()
        .flatten()
        .as_deref()
        != Some("a")
    {
        assert!(
            seen.elapsed() < Duration::from_secs(5),
            "b never saw a active"
        );
        thread::sleep(Duration::from_millis(10));
    }

    // A release revokes the lease: b claims well before the lease could have expired.
    a.cmd.store(RELEASE, Ordering::SeqCst);
    let took = wait_holder(&app, "b", Duration::from_secs(10));
    assert!(took < timing().lease_ttl, "hand-over took {took:?}");
    let second = app.lock().unwrap().starts[1].1;
    assert!(second > first, "epochs {first} then {second}");
    assert_eq!(epoch_file(&state, "b"), second);

    // b crashes without a word: a (which released and backed off) takes over once the lease
    // has expired, within the failover bound, never while b's guard still runs it.
    let crashed = Instant::now();
    b.crash();
    let bound = timing().failover_bound() + timing().lease_ttl + timing().period;
    wait_holder(&app, "a", bound);
    let took = crashed.elapsed();
    let starts = app.lock().unwrap().starts.clone();
    assert_eq!(starts.len(), 3, "{starts:?}");
    assert!(starts[2].1 > starts[1].1, "{starts:?}");
    eprintln!("failover after a crash: {took:?} (bound {bound:?})");
}

#[test]
fn an_unreachable_etcd_fences_the_active_by_its_deadline_and_nobody_starts() {
    let mut etcd = EtcdCluster::start(1, false);
    let state = TempDir::new("etcd-node");
    let app = Arc::new(Mutex::new(App::default()));
    let _a = NodeThread::spawn("a", &etcd, &state, app.clone());
    let _b = NodeThread::spawn("b", &etcd, &state, app.clone());
    wait_holder(&app, "a", Duration::from_secs(10));
    let killed = Instant::now();
    etcd.members[0].kill();
    let t = timing();
    let f1 = t.renew_deadline_for(t.lease_ttl).unwrap();
    let fence_by = f1 + t.period + t.io_timeout + Duration::from_millis(300);
    while holder(&app).is_some() {
        assert!(
            killed.elapsed() < fence_by,
            "still active after {:?}",
            killed.elapsed()
        );
        thread::sleep(Duration::from_millis(5));
    }
    let until = killed + t.lease_ttl * 2;
    while Instant::now() < until {
        assert!(holder(&app).is_none(), "started without etcd");
        thread::sleep(Duration::from_millis(20));
    }
    // etcd back with its data: exactly one runs again, with a higher epoch.
    etcd.members[0].restart();
    etcd.wait_ready();
    let back = Instant::now();
    while holder(&app).is_none() {
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "nobody took over after etcd returned"
        );
        thread::sleep(Duration::from_millis(10));
    }
    let starts = app.lock().unwrap().starts.clone();
    assert_eq!(starts.len(), 2, "{starts:?}");
    assert!(starts[1].1 > starts[0].1, "{starts:?}");
}

#[test]
fn a_switchover_and_a_drain_set_by_the_operator_move_the_application() {
    let etcd = EtcdCluster::start(1, false);
    let state = TempDir::new("etcd-node");
    let app = Arc::new(Mutex::new(App::default()));
    let a = NodeThread::spawn("a", &etcd, &state, app.clone());
    let _b = NodeThread::spawn("b", &etcd, &state, app.clone());
    wait_holder(&app, "a", Duration::from_secs(10));
    // The operator's commands run on a node of their own.
    let operator = Node::new(settings("a", &etcd, &state)).expect("node");
    let m = operator
        .set_maintenance(Some(MaintMode::Switchover("b".into())), None, "test")
        .expect("switchover");
    assert_eq!(m.token, 1);
    let took = wait_holder(&app, "b", Duration::from_secs(10));
    assert!(took < timing().lease_ttl, "switchover took {took:?}");
    // A switchover back to a, then maintenance off with b drained.
    operator
        .set_maintenance(Some(MaintMode::Switchover("a".into())), None, "test")
        .expect("switchover back");
    wait_holder(&app, "a", Duration::from_secs(10));
    let m = operator
        .set_maintenance(Some(MaintMode::Off), Some(("b", true)), "test")
        .expect("drain");
    assert_eq!((m.token, m.drained.clone()), (3, vec!["b".to_string()]));
    // a releases: drained b never takes over; a claims again after its back-off.
    a.cmd.store(RELEASE, Ordering::SeqCst);
    let released = Instant::now();
    while released.elapsed() < timing().lease_ttl * 2 {
        assert_ne!(
            holder(&app).as_deref(),
            Some("b"),
            "a drained node took over"
        );
        thread::sleep(Duration::from_millis(10));
    }
    wait_holder(&app, "a", Duration::from_secs(10));
    let err = operator
        .set_maintenance(None, Some(("c", true)), "test")
        .unwrap_err()
        .to_string();
    assert!(err.contains("c is not one of hb.nodes=a,b"), "{err}");
    let starts = app.lock().unwrap().starts.clone();
    assert_eq!(starts.len(), 4, "{starts:?}");
    assert!(starts.windows(2).all(|w| w[1].1 > w[0].1), "{starts:?}");
}

#[test]
fn a_switchover_that_is_done_no_longer_holds_the_others_back() {
    let etcd = EtcdCluster::start(1, false);
    let state = TempDir::new("etcd-node");
    let app = Arc::new(Mutex::new(App::default()));
    let mut a = NodeThread::spawn("a", &etcd, &state, app.clone());
    let _b = NodeThread::spawn("b", &etcd, &state, app.clone());
    wait_holder(&app, "a", Duration::from_secs(10));
    let operator = Node::new(settings("b", &etcd, &state)).expect("node");
    operator
        .set_maintenance(Some(MaintMode::Switchover("a".into())), None, "test")
        .expect("switchover");
    // Both nodes read it (done at once: a holds the leader key), then a crashes: b takes over
    // as after any crash.
    thread::sleep(timing().period * 3);
    let crashed = Instant::now();
    a.crash();
    let bound = timing().failover_bound() + timing().period;
    wait_holder(&app, "b", bound);
    eprintln!(
        "failover after a finished switchover: {:?}",
        crashed.elapsed()
    );
}
