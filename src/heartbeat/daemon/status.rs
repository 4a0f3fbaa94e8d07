//! `ha-heartbeat status`: reads the records straight from the shared directory (never
//! writes, never joins the cluster), twice one period apart, and prints every node.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::heartbeat::node::NodeSettings;
use crate::heartbeat::record::{MaintMode, MaintRecord, NodeRecord, NodeState};
use crate::heartbeat::store::{FileStore, Store};

/// One node as the status command saw it.
#[derive(Clone, Debug)]
pub struct NodeStatus {
    pub name: String,
    /// The decoded record of the second read, or why there is none.
    pub record: Result<NodeRecord, String>,
    /// The bytes differed between the two reads.
    pub changed: bool,
}

/// What `status` found.
#[derive(Clone, Debug)]
pub struct ClusterStatus {
    pub nodes: Vec<NodeStatus>,
    pub maint: Result<MaintRecord, String>,
    pub observed: Duration,
}

impl ClusterStatus {
    /// Nodes whose record says ACTIVE and changed while observed.
    pub fn live_actives(&self) -> Vec<&str> {
        self.nodes
            .iter()
            .filter(|n| n.changed && matches!(&n.record, Ok(r) if r.state == NodeState::Active))
            .map(|n| n.name.as_str())
            .collect()
    }
}

fn read_bounded<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(timeout) {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

fn read_all(
    store: &Arc<FileStore>,
    s: &NodeSettings,
    timeout: Duration,
) -> Vec<Result<Vec<u8>, String>> {
    s.nodes
        .iter()
        .map(|n| {
            let (st, n) = (store.clone(), n.clone());
            read_bounded(timeout, move || st.read_node(&n))
        })
        .collect()
}

/// Reads every record, then again every half period until each has changed or `window`
/// passed (2 periods + 2 I/O timeouts: a live node writes at least once in that time).
pub fn observe(s: &NodeSettings, window: Duration) -> ClusterStatus {
    let store = Arc::new(FileStore::new(s.dir.clone()));
    let timeout = s.timing.io_timeout.max(Duration::from_secs(1));
    let t0 = Instant::now();
    let first = read_all(&store, s, timeout);
    let mut changed = vec![false; first.len()];
    let mut last = first.clone();
    while t0.elapsed() < window && changed.iter().any(|c| !c) {
        std::thread::sleep((s.timing.period / 2).min(window.saturating_sub(t0.elapsed())));
        let now = read_all(&store, s, timeout);
        for (i, r) in now.into_iter().enumerate() {
            if matches!((&first[i], &r), (Ok(x), Ok(y)) if x != y) {
                changed[i] = true;
            }
            last[i] = r;
        }
    }
    let observed = t0.elapsed();
    let nodes = s
        .nodes
        .iter()
        .zip(last.into_iter().zip(changed))
        .map(|(name, (b, changed))| {
            let record = b.and_then(|bytes| {
                NodeRecord::decode(&bytes, &s.cluster).map_err(|e| format!("invalid record: {e}"))
            });
            NodeStatus {
                name: name.clone(),
                record,
                changed,
            }
        })
        .collect();
    let st = store.clone();
    let maint = read_bounded(timeout, move || st.read_maint()).and_then(|b| {
        MaintRecord::decode(&b, &s.cluster).map_err(|e| format!("invalid record: {e}"))
    });
    ClusterStatus {
        nodes,
        maint,
        observed,
    }
}

pub fn state_name(s: NodeState) -> &'static str {
    match s {
        NodeState::Standby => "STANDBY",
        NodeState::Claiming => "CLAIMING",
        NodeState::Active => "ACTIVE",
        NodeState::Stopping => "STOPPING",
        NodeState::Released => "RELEASED",
    }
}

pub fn maint_name(m: &MaintMode) -> String {
    match m {
        MaintMode::Off => "OFF".into(),
        MaintMode::Freeze => "FREEZE".into(),
        MaintMode::Switchover(n) => format!("SWITCHOVER to {n}"),
    }
}

/// The text `ha-heartbeat status` prints.
pub fn render(c: &ClusterStatus, self_node: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<12} {:<9} {:>8} {:>10} {:<9} {:<8} (watched {} ms for changes)",
        "NODE",
        "STATE",
        "EPOCH",
        "SEQ",
        "PREFERRED",
        "CHANGING",
        c.observed.as_millis()
    );
    for n in &c.nodes {
        let me = if n.name == self_node { "*" } else { "" };
        match &n.record {
            Ok(r) => {
                let _ = writeln!(
                    out,
                    "{:<12} {:<9} {:>8} {:>10} {:<9} {:<8} {}",
                    format!("{}{me}", n.name),
                    state_name(r.state),
                    r.epoch,
                    r.seq,
                    if r.preferred { "yes" } else { "no" },
                    if n.changed { "yes" } else { "no" },
                    if n.changed {
                        "alive: the record changed"
                    } else if r.seq == 0 {
                        "never written (blank record from init)"
                    } else {
                        "no change seen: stopped, paused or dead"
                    }
                );
            }
            Err(e) => {
                let _ = writeln!(out, "{:<12} unreadable: {e}", format!("{}{me}", n.name));
            }
        }
    }
    match &c.maint {
        Ok(m) => {
            let drained = if m.drained.is_empty() {
                "none".to_string()
            } else {
                m.drained.join(",")
            };
            let _ = writeln!(
                out,
                "maintenance: {} (token {}, set by {}: {}); drained: {drained}",
                maint_name(&m.mode),
                m.token,
                m.set_by,
                if m.reason.is_empty() { "-" } else { &m.reason }
            );
        }
        Err(e) => {
            let _ = writeln!(out, "maintenance: unreadable ({e}): nodes act as FREEZE");
        }
    }
    let actives = c.live_actives();
    let _ = match actives.len() {
        1 => writeln!(out, "active: {}", actives[0]),
        0 => writeln!(out, "active: none"),
        _ => writeln!(out, "active: SEVERAL ({})", actives.join(",")),
    };
    out
}
