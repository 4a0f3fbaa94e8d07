//! The records on the shared storage: one per node (written only by that node) and the
//! maintenance record (written only by operator commands). Fixed layout, little endian,
//! CRC-32C protected, padded to one [`BLOCK`] so it can be written in place with O_DIRECT.

/// Size of every record file, and of every read and write.
pub const BLOCK: usize = 4096;
/// Longest node or cluster name (bytes of `[A-Za-z0-9_.-]`).
pub const MAX_NAME: usize = crate::name::MAX_NODE_NAME;
/// Most nodes a maintenance record can list as drained.
pub const MAX_DRAINED: usize = 8;

/// A node's role as written in its record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeState {
    Standby,
    Claiming,
    Active,
    Stopping,
    Released,
}

/// A node's record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRecord {
    pub cluster: String,
    pub node: String,
    /// Random per daemon start: tells a restart from a continuation.
    pub incarnation: u64,
    /// +1 on every write of this incarnation: the heartbeat itself.
    pub seq: u64,
    pub state: NodeState,
    /// The fencing token of the current claim or term.
    pub epoch: u64,
    /// The highest epoch this node has seen anywhere.
    pub max_epoch: u64,
    /// The token of the last maintenance record this node acted on.
    pub maint_ack: u64,
    /// The writer's timing, so peers can refuse an unsafe mix.
    pub period_ms: u32,
    pub renew_deadline_ms: u32,
    pub takeover_ms: u32,
    pub kill_budget_ms: u32,
    pub preferred: bool,
    /// Display only: never used for a decision.
    pub wall_ms: u64,
}

/// What maintenance asks of every node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MaintMode {
    Off,
    /// Nobody starts or stops anything on their own.
    Freeze,
    /// The active releases; the named node claims at once.
    Switchover(String),
}

/// The maintenance record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaintRecord {
    pub cluster: String,
    /// Increases with every change.
    pub token: u64,
    pub mode: MaintMode,
    /// Nodes that must never take over.
    pub drained: Vec<String>,
    pub set_by: String,
    pub reason: String,
    /// Display only.
    pub wall_ms: u64,
}

impl NodeRecord {
    /// The record `init` writes for a node that never ran: STANDBY, epoch 0, no timing.
    pub fn blank(cluster: &str, node: &str) -> NodeRecord {
        NodeRecord {
            cluster: cluster.to_string(),
            node: node.to_string(),
            incarnation: 0,
            seq: 0,
            state: NodeState::Standby,
            epoch: 0,
            max_epoch: 0,
            maint_ack: 0,
            period_ms: 0,
            renew_deadline_ms: 0,
            takeover_ms: 0,
            kill_budget_ms: 0,
            preferred: false,
            wall_ms: 0,
        }
    }
}
