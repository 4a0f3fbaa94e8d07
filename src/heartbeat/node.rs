//! A heartbeat node, what `hb_tick`, the Java `Heartbeat` and the `ha-heartbeat` daemon
//! drive: `tick` at least every half period (it never blocks longer than the I/O timeout),
//! then what its result says. Its API speaks of roles, actions and records only, never of
//! files or keys: behind it runs one backend, the file store's node
//! ([`FileNode`](super::file_node), docs/heartbeat.md) or, with `hb.backend=etcd`, the etcd
//! backend ([`EtcdBackend`](super::etcd::backend), docs/heartbeat-etcd.md).

use std::sync::Arc;
use std::time::Duration;

use crate::heartbeat::core::Role;
use crate::heartbeat::file_node::FileNode;
use crate::heartbeat::handover::{HeldTerm, Term};
use crate::heartbeat::observe::{Liveness, Time};
use crate::heartbeat::record::{MaintMode, MaintRecord, NodeRecord};
use crate::heartbeat::store::{FileStore, Store};

pub use crate::heartbeat::admin::{init_cluster, update_maintenance};
pub use crate::heartbeat::clock::boottime;
pub use crate::heartbeat::settings::{NodeError, NodeSettings};

/// What the caller must do with the application after a tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TickAction {
    /// Nothing runs here and nothing should.
    None,
    /// Start the application now, with `epoch` as its fencing token.
    Start,
    /// Keep it running.
    Keep,
    /// Stop it gracefully (hand-over), within the kill budget.
    Stop,
    /// Stop it at once: the lease is lost.
    Fence,
}

/// The outcome of one tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TickResult {
    pub role: Role,
    pub action: TickAction,
    pub epoch: u64,
    /// Time left until this node's lease ends (None: it holds none).
    pub deadline_left: Option<Duration>,
    pub maint: MaintMode,
    /// The maintenance record is readable and valid.
    pub maint_ok: bool,
    /// Problems noticed during this tick, for the operator.
    pub alarms: Vec<String>,
}

impl TickResult {
    /// The caller must act on the application now (start, stop or fence it): a tick returns
    /// at once with such a result, whatever I/O is still out.
    pub fn must_act(&self) -> bool {
        matches!(
            self.action,
            TickAction::Start | TickAction::Stop | TickAction::Fence
        )
    }
}

/// One node's record as this node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView {
    pub name: String,
    pub is_self: bool,
    pub record: Option<NodeRecord>,
    pub liveness: Liveness,
    /// How long ago its record last changed, as observed here.
    pub changed_ago: Option<Duration>,
}

pub struct Node {
    settings: NodeSettings,
    backend: Backend,
    /// This run's incarnation (in every record it writes).
    incarnation: u64,
}

/// Boxed: the two differ in size, and a node lives as long as its program anyway.
enum Backend {
    File(Box<FileNode>),
    #[cfg(feature = "etcd")]
    Etcd(Box<crate::heartbeat::etcd::backend::EtcdBackend>),
}

/// `$call` on whichever backend runs.
macro_rules! each {
    ($self:ident, $b:ident => $call:expr) => {
        match &$self.backend {
            Backend::File($b) => $call,
            #[cfg(feature = "etcd")]
            Backend::Etcd($b) => $call,
        }
    };
    (mut $self:ident, $b:ident => $call:expr) => {
        match &mut $self.backend {
            Backend::File($b) => $call,
            #[cfg(feature = "etcd")]
            Backend::Etcd($b) => $call,
        }
    };
}

impl Node {
    /// Creates a node on the backend its settings name: the shared directory `hb.dir`, or
    /// etcd (`hb.backend=etcd`).
    pub fn new(settings: NodeSettings) -> Result<Node, NodeError> {
        #[cfg(feature = "etcd")]
        if let Some(e) = settings.etcd.clone() {
            let incarnation = incarnation();
            let etcd = crate::heartbeat::etcd::backend::EtcdBackend::new(e, incarnation)
                .map_err(|m| NodeError::Config(format!("hb.etcd: {m}")))?;
            return Ok(Node {
                settings,
                backend: Backend::Etcd(Box::new(etcd)),
                incarnation,
            });
        }
        let store: Arc<dyn Store> = Arc::new(FileStore::new(settings.dir.clone()));
        Node::with_store(settings, store)
    }

    /// Creates a node of the file backend on any store (tests use this to inject faults).
    pub fn with_store(settings: NodeSettings, store: Arc<dyn Store>) -> Result<Node, NodeError> {
        let incarnation = incarnation();
        let file = FileNode::new(settings.clone(), store, incarnation)?;
        Ok(Node {
            settings,
            backend: Backend::File(Box::new(file)),
            incarnation,
        })
    }

    pub fn settings(&self) -> &NodeSettings {
        &self.settings
    }

    pub fn role(&self) -> Role {
        each!(self, b => b.role())
    }

    /// How long the last renewal took (the write of this node's record; on etcd, the
    /// keepalive of its lease); None before one.
    pub fn last_write(&self) -> Option<Duration> {
        each!(self, b => b.last_write())
    }

    /// One step: collects finished I/O, lets the backend decide, issues I/O and waits for
    /// it at most the I/O timeout.
    pub fn tick(&mut self) -> TickResult {
        each!(mut self, b => b.tick())
    }

    /// Waits (at most the I/O timeout) for the write or call in flight, so that a hand-over
    /// (a RELEASED record, a revoked lease) reaches storage before the process exits and
    /// peers can take over at once.
    pub fn flush(&mut self) -> TickResult {
        each!(mut self, b => b.flush())
    }

    /// When the next tick is due at the latest.
    pub fn next_tick_in(&self) -> Duration {
        each!(self, b => b.next_tick_in())
    }

    /// [`next_tick_in`](Node::next_tick_in) in whole milliseconds, for callers that sleep
    /// that long (`hb_tick`'s `next_tick_ms`, Java's `nextTickWithin`): rounded up, so that
    /// the timer is due when they wake (rounded down, every fraction of a millisecond before
    /// a timer became calls that found nothing to do), but never past the lease's end,
    /// which is rounded down. 0 only when something is due now.
    pub fn next_tick_ms(&self) -> u64 {
        let lease_left = self
            .lease_deadline()
            .map(|end| Duration::from_nanos(end.saturating_sub(boottime())));
        whole_ms(self.next_tick_in(), lease_left)
    }

    /// The application is gone (after Stop/Fence, or it exited by itself): the one the
    /// caller was last told to stop and has not reported yet, else the running one.
    pub fn app_stopped(&mut self) -> TickResult {
        each!(mut self, b => b.app_stopped())
    }

    /// The application started for `epoch` is gone. A report about another epoch's
    /// application (late, after a new term began) is ignored with an alarm.
    pub fn app_stopped_epoch(&mut self, epoch: u64) -> TickResult {
        each!(mut self, b => b.app_stopped_epoch(epoch))
    }

    /// The application failed: stop it and let another node take over.
    pub fn app_failed(&mut self, why: &str) -> TickResult {
        each!(mut self, b => b.app_failed(why))
    }

    /// Graceful hand-over: stop the application, then release the lease.
    pub fn release(&mut self) -> TickResult {
        each!(mut self, b => b.release())
    }

    /// Every node as last seen (this node's own included), for status displays.
    pub fn status(&self) -> Vec<NodeView> {
        match &self.backend {
            Backend::File(b) => b.status(),
            #[cfg(feature = "etcd")]
            Backend::Etcd(b) => b.status(&self.settings),
        }
    }

    /// Writes the maintenance record (an operator action), keeping the drained list unless
    /// `drain` changes it. Waits at most the I/O timeout.
    pub fn set_maintenance(
        &self,
        mode: Option<MaintMode>,
        drain: Option<(&str, bool)>,
        reason: &str,
    ) -> Result<MaintRecord, NodeError> {
        match &self.backend {
            Backend::File(b) => b.set_maintenance(mode, drain, reason),
            #[cfg(feature = "etcd")]
            Backend::Etcd(b) => b.set_maintenance(&self.settings, mode, drain, reason),
        }
    }

    /// The instant (boot clock, ns) this node's lease ends, while it holds one.
    pub fn lease_deadline(&self) -> Option<Time> {
        each!(self, b => b.lease_deadline())
    }

    /// The term this node holds (claiming, active or stopping), for a guard that hands it over
    /// when its caller dies and the application is confirmed gone (docs/heartbeat.md, "The
    /// guard's hand-over"); None while standby.
    pub fn held_term(&self) -> Option<Term> {
        if self.role() == Role::Standby {
            return None;
        }
        match &self.backend {
            Backend::File(b) => {
                let term = HeldTerm {
                    epoch: b.epoch(),
                    incarnation: self.incarnation,
                };
                term.is_some().then_some(Term::File(term))
            }
            #[cfg(feature = "etcd")]
            Backend::Etcd(b) => b
                .held_lease()
                .map(|(epoch, lease)| Term::Etcd { epoch, lease }),
        }
    }

    /// For a caller that sees the application itself and confirms its end (`app_stopped`):
    /// an application told to stop that is still there is not taken as gone after the kill
    /// budget. Call before each tick while it is there.
    pub fn app_still_present(&mut self) {
        each!(mut self, b => b.app_still_present())
    }
}

/// `wait` in whole milliseconds rounded up, but not past `lease_left` rounded down.
fn whole_ms(wait: Duration, lease_left: Option<Duration>) -> u64 {
    let ms = |n: u128| u64::try_from(n).unwrap_or(u64::MAX);
    let up = ms(wait.as_nanos().div_ceil(1_000_000));
    lease_left.map_or(up, |left| up.min(ms(left.as_millis())))
}

/// A random incarnation number, new at every start (never 0): it tells this run's writes
/// from an earlier run's and from a second writer's.
fn incarnation() -> u64 {
    getrandom::u64().unwrap_or_else(|e| {
        // No random source (a very old kernel without /dev/urandom): the boot clock and the
        // process id still differ between runs of one host.
        log::warn!("hamon heartbeat: no random number from the OS ({e}): using the boot clock");
        boottime() ^ u64::from(std::process::id()).rotate_left(32)
    }) | 1
}

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;
