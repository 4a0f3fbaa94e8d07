//! What `status` saw: every node's record and how its liveness was judged, the maintenance
//! record, this node's back-off, and on etcd the leader and epoch keys. Filled by the file
//! observer (file.rs) or one read of etcd (etcd.rs); judged by verdict.rs.

use std::time::Duration;

use hamon::heartbeat::node::{NodeSettings, boottime};
use hamon::heartbeat::record::{MaintMode, MaintRecord, NodeRecord, NodeState};

use crate::flap::FlapState;

/// How the nodes' liveness was judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// The records were read again and again for `observed`: a record that changed is alive.
    Watched,
    /// The records were read once: a record's content cannot say whether its daemon still
    /// runs. `window` is how long a watch would take to tell.
    NotWatched { window: Duration },
    /// etcd: a node's status key exists only while its daemon keeps its lease alive.
    Leases,
}

/// One node as the status command saw it.
#[derive(Clone, Debug)]
pub struct NodeStatus {
    pub name: String,
    /// The decoded record of the last read, or why there is none.
    pub record: Result<NodeRecord, String>,
    /// Some(d): the record changed while watched, last less than d before the watch ended
    /// (the read before the one that showed the change started d before the end).
    pub changed_within: Option<Duration>,
    /// etcd: the lease the node's status key is attached to (the key exists only while
    /// its daemon keeps that lease alive). None on the file backend.
    pub lease: Option<i64>,
    /// File backend: this host's clock minus the record file's mtime at the last read, in
    /// ms (negative: the mtime is ahead of this host's clock). Only a hint for operators:
    /// the mtime comes from the clock of whoever wrote it (or the file server).
    pub modified_ago_ms: Option<i64>,
}

impl NodeStatus {
    /// Its daemon is alive: the record changed while watched, or (etcd) its lease holds
    /// its status key.
    pub fn changed(&self) -> bool {
        self.changed_within.is_some() || self.lease.is_some()
    }

    fn says_active(&self) -> bool {
        matches!(&self.record, Ok(r) if r.state == NodeState::Active)
    }
}

/// What one read of etcd showed besides the nodes' status keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdSeen {
    /// The cluster's prefix (`hb.etcd.prefix`).
    pub prefix: String,
    /// The store's revision at the read.
    pub revision: i64,
    /// The leader key: (node, epoch, lease); None when absent.
    pub leader: Option<(String, u64, i64)>,
    /// The epoch key: the last epoch claimed (0 when absent).
    pub epoch: u64,
    /// The read failed or a key made no sense: the picture cannot be trusted.
    pub error: Option<String>,
    /// No key at all under the prefix.
    pub empty: bool,
}

/// What `status` found.
#[derive(Clone, Debug)]
pub struct ClusterStatus {
    pub nodes: Vec<NodeStatus>,
    pub maint: Result<MaintRecord, String>,
    /// How long the records were watched, or the read took.
    pub observed: Duration,
    pub liveness: Liveness,
    /// The node `status` runs on backs off after its application failed (`STATE_DIR/flap`).
    pub backing_off: Option<BackingOff>,
    /// Read from etcd (`hb.backend=etcd`).
    pub etcd: Option<EtcdSeen>,
}

/// A node that claims nothing for now because its application failed on it.
#[derive(Clone, Debug)]
pub struct BackingOff {
    pub node: String,
    pub state: FlapState,
    /// How much longer.
    pub left: Duration,
}

impl BackingOff {
    /// Reads this node's damping state; Some while its back-off lasts.
    pub fn load(s: &NodeSettings) -> Option<BackingOff> {
        let state = FlapState::load(&s.state_dir)?;
        let now = boottime();
        (now < state.until).then(|| BackingOff {
            node: s.node.clone(),
            left: Duration::from_nanos(state.until - now),
            state,
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "{} backs off for another {} ms after its application failed {} time(s) (last: {})",
            self.node,
            self.left.as_millis(),
            self.state.failures,
            self.state.last
        )
    }
}

impl ClusterStatus {
    /// etcd: the node that holds the leader key, whose lease keeps it (its status key may
    /// not be written yet).
    pub fn leader(&self) -> Option<&str> {
        self.etcd
            .as_ref()
            .and_then(|e| e.leader.as_ref())
            .map(|l| l.0.as_str())
    }

    /// Whether `n`'s daemon is alive, None when nobody watched.
    pub fn alive(&self, n: &NodeStatus) -> Option<bool> {
        match self.liveness {
            Liveness::NotWatched { .. } => None,
            _ => Some(n.changed() || self.leader() == Some(n.name.as_str())),
        }
    }

    /// Nodes whose record says ACTIVE and changed while observed; on etcd, also the node
    /// that holds the leader key (its status key may not say so yet). Empty when nobody
    /// watched.
    pub fn live_actives(&self) -> Vec<&str> {
        let leader = self.leader();
        self.nodes
            .iter()
            .filter(|n| Some(n.name.as_str()) == leader || n.changed() && n.says_active())
            .map(|n| n.name.as_str())
            .collect()
    }

    /// Nodes whose record says ACTIVE, alive or not: a daemon that stopped leaves its last
    /// record behind.
    pub fn record_actives(&self) -> Vec<&str> {
        self.nodes
            .iter()
            .filter(|n| n.says_active())
            .map(|n| n.name.as_str())
            .collect()
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

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn node(name: &str, state: NodeState, seq: u64, within: Option<u64>) -> NodeStatus {
        let mut r = NodeRecord::blank("hamon", name);
        r.state = state;
        r.seq = seq;
        r.epoch = 3;
        NodeStatus {
            name: name.into(),
            record: Ok(r),
            changed_within: within.map(Duration::from_millis),
            lease: None,
            modified_ago_ms: Some(1500),
        }
    }

    /// A watched cluster whose maintenance record cannot be read.
    pub fn cluster(nodes: Vec<NodeStatus>) -> ClusterStatus {
        ClusterStatus {
            nodes,
            maint: Err("gone".into()),
            observed: Duration::from_millis(520),
            liveness: Liveness::Watched,
            backing_off: None,
            etcd: None,
        }
    }

    pub fn maint(mode: MaintMode, drained: &[&str]) -> Result<MaintRecord, String> {
        Ok(MaintRecord {
            cluster: "hamon".into(),
            token: 1,
            mode,
            drained: drained.iter().map(|s| s.to_string()).collect(),
            set_by: "n1".into(),
            reason: String::new(),
            wall_ms: 0,
        })
    }

    #[test]
    fn only_an_active_record_that_changed_counts_as_active() {
        let c = cluster(vec![
            node("n1", NodeState::Active, 9, Some(80)),
            node("n2", NodeState::Active, 4, None),
            node("n3", NodeState::Standby, 7, Some(60)),
        ]);
        assert_eq!(c.live_actives(), ["n1"]);
        assert_eq!(c.record_actives(), ["n1", "n2"]);
        let c = cluster(vec![
            node("n1", NodeState::Active, 9, Some(80)),
            node("n2", NodeState::Active, 4, Some(30)),
        ]);
        assert_eq!(c.live_actives(), ["n1", "n2"]);
        let mut c = cluster(vec![node("n1", NodeState::Active, 9, None)]);
        assert_eq!(c.alive(&c.nodes[0]), Some(false));
        c.liveness = Liveness::NotWatched {
            window: Duration::from_secs(22),
        };
        assert_eq!(c.alive(&c.nodes[0]), None);
    }
}
