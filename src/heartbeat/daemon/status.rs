//! `ha-heartbeat status`: reads the records straight from the shared directory (never
//! writes, never joins the cluster), again every half period until each has changed or the
//! window passed, and prints every node with how long ago its record last changed as seen.

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
    /// The decoded record of the last read, or why there is none.
    pub record: Result<NodeRecord, String>,
    /// Some(d): the record changed while watched, last less than d before the watch ended
    /// (the read before the one that showed the change started d before the end).
    pub changed_within: Option<Duration>,
}

impl NodeStatus {
    /// The record changed while watched: its writer is alive.
    pub fn changed(&self) -> bool {
        self.changed_within.is_some()
    }
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
            .filter(|n| n.changed() && matches!(&n.record, Ok(r) if r.state == NodeState::Active))
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
    let mut last = read_all(&store, s, timeout);
    // Per node: the bytes of its last good read and when that read started; when a read shows
    // other bytes, the change happened after that start.
    let mut seen: Vec<Option<(Vec<u8>, Instant)>> = last
        .iter()
        .map(|r| r.as_ref().ok().map(|b| (b.clone(), t0)))
        .collect();
    let mut changed_after: Vec<Option<Instant>> = vec![None; last.len()];
    while t0.elapsed() < window && changed_after.iter().any(Option::is_none) {
        std::thread::sleep((s.timing.period / 2).min(window.saturating_sub(t0.elapsed())));
        let round = Instant::now();
        for (i, r) in read_all(&store, s, timeout).into_iter().enumerate() {
            if let Ok(bytes) = &r {
                if let Some((before, at)) = &seen[i]
                    && before != bytes
                {
                    changed_after[i] = Some(*at);
                }
                seen[i] = Some((bytes.clone(), round));
            }
            last[i] = r;
        }
    }
    let end = Instant::now();
    let observed = end - t0;
    let nodes = s
        .nodes
        .iter()
        .zip(last.into_iter().zip(changed_after))
        .map(|(name, (b, after))| {
            let record = b.and_then(|bytes| {
                NodeRecord::decode(&bytes, &s.cluster).map_err(|e| format!("invalid record: {e}"))
            });
            NodeStatus {
                name: name.clone(),
                record,
                changed_within: after.map(|t| end - t),
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
        "{:<12} {:<9} {:>8} {:>10} {:<9} {:<14} (watched {} ms for changes)",
        "NODE",
        "STATE",
        "EPOCH",
        "SEQ",
        "PREFERRED",
        "LAST CHANGE",
        c.observed.as_millis()
    );
    for n in &c.nodes {
        let me = if n.name == self_node { "*" } else { "" };
        match &n.record {
            Ok(r) => {
                let last_change = match n.changed_within {
                    Some(d) => format!("< {} ms ago", d.as_millis()),
                    None => format!("> {} ms ago", c.observed.as_millis()),
                };
                let _ = writeln!(
                    out,
                    "{:<12} {:<9} {:>8} {:>10} {:<9} {:<14} {}",
                    format!("{}{me}", n.name),
                    state_name(r.state),
                    r.epoch,
                    r.seq,
                    if r.preferred { "yes" } else { "no" },
                    last_change,
                    if n.changed() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, state: NodeState, seq: u64, within: Option<u64>) -> NodeStatus {
        let mut r = NodeRecord::blank("hamon", name);
        r.state = state;
        r.seq = seq;
        r.epoch = 3;
        NodeStatus {
            name: name.into(),
            record: Ok(r),
            changed_within: within.map(Duration::from_millis),
        }
    }

    fn cluster(nodes: Vec<NodeStatus>) -> ClusterStatus {
        ClusterStatus {
            nodes,
            maint: Err("gone".into()),
            observed: Duration::from_millis(520),
        }
    }

    #[test]
    fn only_an_active_record_that_changed_counts_as_active() {
        let c = cluster(vec![
            node("n1", NodeState::Active, 9, Some(80)),
            node("n2", NodeState::Active, 4, None),
            node("n3", NodeState::Standby, 7, Some(60)),
        ]);
        assert_eq!(c.live_actives(), ["n1"]);
        let c = cluster(vec![
            node("n1", NodeState::Active, 9, Some(80)),
            node("n2", NodeState::Active, 4, Some(30)),
        ]);
        assert_eq!(c.live_actives(), ["n1", "n2"]);
    }

    #[test]
    fn render_shows_how_long_ago_each_record_changed() {
        let c = cluster(vec![
            node("n1", NodeState::Active, 9, Some(80)),
            node("n2", NodeState::Standby, 4, None),
            node("n3", NodeState::Standby, 0, None),
        ]);
        let out = render(&c, "n2");
        let line = |name: &str| {
            out.lines()
                .find(|l| l.starts_with(name))
                .unwrap()
                .to_string()
        };
        assert!(line("n1 ").contains("< 80 ms ago"), "{out}");
        assert!(line("n1 ").contains("ACTIVE"), "{out}");
        assert!(line("n2*").contains("> 520 ms ago"), "{out}");
        assert!(line("n2*").contains("stopped, paused or dead"), "{out}");
        assert!(line("n3").contains("never written"), "{out}");
        assert!(out.contains("maintenance: unreadable"), "{out}");
        assert!(out.ends_with("active: n1\n"), "{out}");
    }
}
