//! `hb_node`: the heartbeat, which keeps exactly one node of a cluster active over a shared
//! directory. A thin translation of [`crate::heartbeat::node`]: C passes `u32` constants in,
//! gets `#[repr(C)]` snapshots out.

use std::ffi::c_char;
use std::time::Duration;

use crate::ffi::boundary::{
    boundary_status, c_str, c_str_or_empty, copy_out, fail, non_null, panic_boundary,
};
use crate::ffi::config::ha_config;
use crate::ffi::status::*;
use crate::heartbeat::core::Role;
use crate::heartbeat::node::{
    Node, NodeError, NodeSettings, NodeView, TickAction, TickResult, init_cluster,
};
use crate::heartbeat::observe::Liveness;
use crate::heartbeat::record::{MAX_NAME, MaintMode, NodeState};

/// Size of the name fields of `hb_tick_result` and `hb_node_status`: the longest node name
/// (32 bytes of `A-Z a-z 0-9 _ . -`) and its NUL.
pub const HB_NAME_CAP: usize = 33;
const _: () = assert!(HB_NAME_CAP == MAX_NAME + 1);

/// `hb_tick_result.role`: this node neither runs nor claims the application.
pub const HB_ROLE_STANDBY: u32 = 0;
/// Claiming the lease; the application is not started yet.
pub const HB_ROLE_CLAIMING: u32 = 1;
/// Holding the lease: the application runs here.
pub const HB_ROLE_ACTIVE: u32 = 2;
/// The application was told to stop and is not confirmed gone yet.
pub const HB_ROLE_STOPPING: u32 = 3;

/// `hb_tick_result.action`: nothing runs here and nothing may; make sure it does not.
pub const HB_ACTION_NONE: u32 = 0;
/// Start the application now, with `epoch` as its fencing token (e.g. `HB_EPOCH=<epoch>`).
pub const HB_ACTION_START: u32 = 1;
/// The application runs and must keep running; leave it alone.
pub const HB_ACTION_KEEP: u32 = 2;
/// Hand-over: stop the application gracefully within `hb.kill_budget_ms`, then call
/// `hb_app_stopped`.
pub const HB_ACTION_STOP: u32 = 3;
/// The lease is lost: kill the application now, then call `hb_app_stopped`.
pub const HB_ACTION_FENCE: u32 = 4;

/// Maintenance mode (`hb_tick_result.maint`, `hb_maintenance_set`): normal operation.
pub const HB_MAINT_OFF: u32 = 0;
/// No node claims or takes over; an active node keeps its lease (and still stops the
/// application if it cannot renew it).
pub const HB_MAINT_FREEZE: u32 = 1;
/// The active node hands over and the named target node claims at once.
pub const HB_MAINT_SWITCHOVER: u32 = 2;

/// `hb_node_status.state`: the state a node wrote in its record.
pub const HB_STATE_STANDBY: u32 = 0;
pub const HB_STATE_CLAIMING: u32 = 1;
pub const HB_STATE_ACTIVE: u32 = 2;
pub const HB_STATE_STOPPING: u32 = 3;
/// Handed over on purpose: peers may take over at once.
pub const HB_STATE_RELEASED: u32 = 4;

/// `hb_node_status.liveness`: nothing can be said (no read yet, the last read failed, or
/// the record has not had time to change).
pub const HB_LIVENESS_UNKNOWN: u32 = 0;
/// The record changed less than `hb.takeover_ms` ago: its writer is alive.
pub const HB_LIVENESS_ALIVE: u32 = 1;
/// The record stayed unchanged for `hb.takeover_ms`: its writer is dead or cut off.
pub const HB_LIVENESS_STALE: u32 = 2;

/// A heartbeat node: this host's member of a cluster that keeps exactly one node active.
///
/// Create with `hb_node_new` (after `hb_init` has created the shared records once per
/// cluster); the caller owns it and frees it with `hb_node_free`. Drive it from the daemon
/// loop: call `hb_tick`, do what its `action` says, sleep `next_tick_ms`, repeat; report the
/// application's end with `hb_app_stopped` / `hb_app_failed`.
///
/// Not thread-safe: one thread at a time per node (it may move between threads, but calls
/// must not overlap, `hb_status` included). Separate nodes are independent. The methods
/// that touch storage block at most a bounded time, given on each; only `hb_init` (not a
/// method) does plain blocking I/O.
///
/// Methods: hb_node_new, hb_tick, hb_app_stopped, hb_app_failed, hb_release,
/// hb_maintenance_set, hb_drain_set, hb_status, hb_node_free.
pub struct hb_node {
    inner: Node,
}

// hb_node may be handed to another thread between calls, as documented.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<hb_node>();
};

/// What a node tells its caller after `hb_tick`, `hb_app_stopped`, `hb_app_failed` and
/// `hb_release`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct hb_tick_result {
    /// `HB_ROLE_*`: this node's role now.
    pub role: u32,
    /// `HB_ACTION_*`: what the caller must do with the application now.
    pub action: u32,
    /// The fencing token of this node's current or last term (0 before its first claim).
    pub epoch: u64,
    /// Time left on this node's lease in milliseconds; -1 when it holds none.
    pub deadline_left_ms: i64,
    /// `HB_MAINT_*` as last read from the shared directory (`HB_MAINT_FREEZE` until read).
    pub maint: u32,
    /// 1 when the maintenance record is readable and valid, 0 when not (the node then
    /// behaves as in `HB_MAINT_FREEZE`).
    pub maint_ok: u32,
    /// The switchover target when `maint` is `HB_MAINT_SWITCHOVER`, else empty;
    /// NUL-terminated.
    pub maint_target: [c_char; HB_NAME_CAP],
    /// How many alarms (problems an operator must know about) this call raised. Their text
    /// goes to the log (`ha_log_set_callback`, level WARN or ERROR).
    pub alarms: u32,
    /// Sleep this many milliseconds, then call `hb_tick` again: the next timer (a renewal,
    /// a read, the lease's end) is due then. At most half of `hb.period_ms`, never past the
    /// lease's end; 0 only when something is due at once (rare: the loop does not spin).
    pub next_tick_ms: u32,
}

/// One node of the cluster as this node sees it (`hb_status`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct hb_node_status {
    /// The node's name (from `hb.nodes`), NUL-terminated.
    pub name: [c_char; HB_NAME_CAP],
    /// 1 for the calling node's own entry.
    pub is_self: u32,
    /// 1 if a valid record was read; `state`, `epoch`, `seq` and `preferred` are 0 otherwise.
    pub known: u32,
    /// `HB_STATE_*` from the record.
    pub state: u32,
    /// The epoch in the record.
    pub epoch: u64,
    /// The record's write counter: it grows with every heartbeat of its writer.
    pub seq: u64,
    /// `HB_LIVENESS_*`, judged on this node's clock.
    pub liveness: u32,
    /// How long ago this node saw the record last change, in milliseconds; -1 unknown.
    pub changed_ago_ms: i64,
    /// 1 if the record says its node is preferred (`hb.preferred`).
    pub preferred: u32,
}

/// The status code of a node error.
pub(crate) fn node_code(e: &NodeError) -> ha_status {
    match e {
        NodeError::Config(_) => HA_ERR_CONFIG_MISSING,
        NodeError::Timing(_) => HB_ERR_TIMING,
        NodeError::State(..) => HB_ERR_STATE,
        NodeError::Storage(_) => HB_ERR_STORAGE,
    }
}

fn node_status(e: &NodeError) -> ha_status {
    fail(node_code(e), e.to_string())
}

/// The status code of a failed operator call (maintenance, drain): the only configuration
/// error they raise is a name not in hb.nodes, which is an argument the caller passed.
pub(crate) fn maint_code(e: &NodeError) -> ha_status {
    match e {
        NodeError::Config(_) => HA_ERR_INVALID_ARG,
        other => node_code(other),
    }
}

fn maint_status(e: &NodeError) -> ha_status {
    fail(maint_code(e), e.to_string())
}

fn settings(cfg: *const ha_config) -> Result<NodeSettings, ha_status> {
    non_null(cfg, "cfg")?;
    // SAFETY: non-NULL; the caller promises a live ha_config not used by another thread.
    let cfg = unsafe { &*cfg };
    NodeSettings::from_config(&cfg.inner.heartbeat).map_err(|e| node_status(&e))
}

fn node_ref<'a>(node: *const hb_node) -> Result<&'a Node, ha_status> {
    non_null(node, "node")?;
    // SAFETY: non-NULL; the caller promises a live node used by this thread only.
    Ok(unsafe { &(*node).inner })
}

fn node_mut<'a>(node: *mut hb_node) -> Result<&'a mut Node, ha_status> {
    non_null(node, "node")?;
    // SAFETY: as for node_ref, and no other reference to it exists during the call.
    Ok(unsafe { &mut (*node).inner })
}

pub(crate) fn millis_i64(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn role_code(role: Role) -> u32 {
    match role {
        Role::Standby => HB_ROLE_STANDBY,
        Role::Claiming => HB_ROLE_CLAIMING,
        Role::Active => HB_ROLE_ACTIVE,
        Role::Stopping => HB_ROLE_STOPPING,
    }
}

pub(crate) fn action_code(action: TickAction) -> u32 {
    match action {
        TickAction::None => HB_ACTION_NONE,
        TickAction::Start => HB_ACTION_START,
        TickAction::Keep => HB_ACTION_KEEP,
        TickAction::Stop => HB_ACTION_STOP,
        TickAction::Fence => HB_ACTION_FENCE,
    }
}

pub(crate) fn state_code(state: NodeState) -> u32 {
    match state {
        NodeState::Standby => HB_STATE_STANDBY,
        NodeState::Claiming => HB_STATE_CLAIMING,
        NodeState::Active => HB_STATE_ACTIVE,
        NodeState::Stopping => HB_STATE_STOPPING,
        NodeState::Released => HB_STATE_RELEASED,
    }
}

pub(crate) fn liveness_code(l: Liveness) -> u32 {
    match l {
        Liveness::Unknown => HB_LIVENESS_UNKNOWN,
        Liveness::Alive => HB_LIVENESS_ALIVE,
        Liveness::Stale => HB_LIVENESS_STALE,
    }
}

fn name_field(name: &str) -> [c_char; HB_NAME_CAP] {
    let mut field = [0; HB_NAME_CAP];
    // SAFETY: the array is HB_NAME_CAP (> 0) writable bytes.
    unsafe { copy_out(name, field.as_mut_ptr(), HB_NAME_CAP) };
    field
}

/// The reason recorded for `hb_app_failed`: the caller's, or a placeholder when empty.
pub(crate) fn failure_reason(reason: &str) -> &str {
    if reason.is_empty() {
        "no reason given"
    } else {
        reason
    }
}

/// The `HB_MAINT_*` of a mode and its switchover target ("" for the other modes).
pub(crate) fn maint_parts(mode: &MaintMode) -> (u32, &str) {
    match mode {
        MaintMode::Off => (HB_MAINT_OFF, ""),
        MaintMode::Freeze => (HB_MAINT_FREEZE, ""),
        MaintMode::Switchover(t) => (HB_MAINT_SWITCHOVER, t.as_str()),
    }
}

fn tick_result(node: &Node, r: &TickResult) -> hb_tick_result {
    let action = r.action;
    let (maint, target) = maint_parts(&r.maint);
    hb_tick_result {
        role: role_code(r.role),
        action: action_code(action),
        epoch: r.epoch,
        deadline_left_ms: r.deadline_left.map_or(-1, millis_i64),
        maint,
        maint_ok: u32::from(r.maint_ok),
        maint_target: name_field(target),
        alarms: u32::try_from(r.alarms.len()).unwrap_or(u32::MAX),
        next_tick_ms: u32::try_from(node.next_tick_ms()).unwrap_or(u32::MAX),
    }
}

fn view_status(v: &NodeView) -> hb_node_status {
    let rec = v.record.as_ref();
    hb_node_status {
        name: name_field(&v.name),
        is_self: u32::from(v.is_self),
        known: u32::from(rec.is_some()),
        state: rec.map_or(0, |r| state_code(r.state)),
        epoch: rec.map_or(0, |r| r.epoch),
        seq: rec.map_or(0, |r| r.seq),
        liveness: liveness_code(v.liveness),
        changed_ago_ms: v.changed_ago.map_or(-1, millis_i64),
        preferred: u32::from(rec.is_some_and(|r| r.preferred)),
    }
}

/// The maintenance mode for an `HB_MAINT_*` and its target, which SWITCHOVER needs and the
/// other modes refuse; `Err` says what is wrong (an `HA_ERR_INVALID_ARG`).
pub(crate) fn maint_mode(mode: u32, target: Option<&str>) -> Result<MaintMode, String> {
    match (mode, target) {
        (HB_MAINT_OFF, None) => Ok(MaintMode::Off),
        (HB_MAINT_FREEZE, None) => Ok(MaintMode::Freeze),
        (HB_MAINT_SWITCHOVER, Some(target)) => Ok(MaintMode::Switchover(target.to_string())),
        (HB_MAINT_SWITCHOVER, None) => Err("HB_MAINT_SWITCHOVER needs a target node".to_string()),
        (HB_MAINT_OFF | HB_MAINT_FREEZE, Some(_)) => {
            Err(format!("target must be NULL for maintenance mode {mode}"))
        }
        _ => Err(format!(
            "maintenance mode {mode} is not HB_MAINT_OFF (0), HB_MAINT_FREEZE (1) \
             or HB_MAINT_SWITCHOVER (2)"
        )),
    }
}

/// Creates the shared records of the cluster described by `cfg` (one per node of
/// `hb.nodes`, each with its events file, and the maintenance record, OFF) in `hb.dir`,
/// which must exist, or, with `hb.backend=etcd`, the cluster's keys under `hb.etcd.prefix`.
/// Records that exist are left exactly as they are, so this is idempotent and safe to run
/// on every start of every node. Thread-safe (with other `hb_init` calls too).
///
/// Needs the same `hb.*` keys as `hb_node_new`. Errors: `HA_ERR_CONFIG_MISSING` (a key is
/// missing or `hb.node` is not in `hb.nodes`; the detail names it), `HB_ERR_TIMING`,
/// `HB_ERR_STORAGE` (the directory or etcd cannot be written; the detail names the file or
/// the key). Unlike `hb_tick`, this does plain blocking I/O: on a hung mount it hangs too;
/// on etcd each request waits at most `hb.etcd.io_timeout_ms`.
///
/// # Safety
/// `cfg` is NULL or a live `ha_config`, not used by another thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hb_init(cfg: *const ha_config) -> ha_status {
    boundary_status(|| {
        let settings = settings(cfg)?;
        init_cluster(&settings).map_err(|e| node_status(&e))
    })
}

/// Creates this host's node from the `hb.*` keys of `cfg`: `hb.dir` (the shared directory),
/// `hb.node` (this node's name), `hb.nodes` (every node, this one included),
/// `hb.state_dir` (a local directory, created if missing, where the highest epoch seen is
/// kept), and optionally `hb.cluster`, `hb.preferred` and the timing keys. `cfg` is copied;
/// it may be freed right after.
///
/// On success `*out` receives a node that the caller owns and must free with
/// `hb_node_free`; `*out` is written only on success. The node starts as STANDBY and does
/// no shared I/O until the first `hb_tick`, so storage problems (a missing `hb.dir`, records
/// never created by `hb_init`) show up there as alarms, not as an error here.
///
/// Errors (`ha_last_error` has the detail): `HA_ERR_CONFIG_MISSING` when a required key is
/// missing or `hb.node` is not in `hb.nodes` (the detail names the key); `HB_ERR_TIMING`
/// when the timing could allow two active nodes or never finish a claim (the detail gives
/// the numbers and the inequality); `HB_ERR_STATE` when `hb.state_dir` cannot be created or
/// its epoch file is unreadable or garbled.
///
/// # Safety
/// `cfg` is NULL or a live `ha_config`, not used by another thread during the call; `out` is
/// NULL or writable storage for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hb_node_new(cfg: *const ha_config, out: *mut *mut hb_node) -> ha_status {
    boundary_status(|| {
        non_null(cfg, "cfg")?;
        non_null(out, "out")?;
        let node = Node::new(settings(cfg)?).map_err(|e| node_status(&e))?;
        let node = Box::into_raw(Box::new(hb_node { inner: node }));
        // SAFETY: out is non-NULL and writable per the contract.
        unsafe { *out = node };
        Ok(())
    })
}

/// One step of the heartbeat: collects finished storage I/O, renews or claims the lease,
/// reads the peers and the maintenance record, and tells the caller what to do. Blocks at
/// most `hb.io_timeout_ms` (storage that hangs longer is left behind, never waited for), and
/// never past the lease deadline: FENCE, START and STOP are returned as soon as decided.
///
/// Call it from the daemon loop: call, act on the result, sleep `out->next_tick_ms`
/// (`nanosleep`, `poll` with that timeout), call again. A loop that sleeps exactly that long
/// makes about two calls per `hb.period_ms` and never sleeps past the lease's end (the
/// value is rounded up to the next timer, down to the lease's end): the lease is renewed
/// only inside this call, and an active node that misses its renew deadline is told FENCE.
/// Waking sooner (a signal, other work) is harmless; sleeping longer than `next_tick_ms`
/// risks the lease. Act on `out->action`:
/// - `HB_ACTION_START`: start the application now, giving it `out->epoch` as its fencing
///   token (for instance in the environment as `HB_EPOCH`).
/// - `HB_ACTION_KEEP`: it runs; leave it.
/// - `HB_ACTION_STOP`: stop it gracefully (hand-over), then call `hb_app_stopped`.
/// - `HB_ACTION_FENCE`: the lease is lost: kill it now, then call `hb_app_stopped`.
/// - `HB_ACTION_NONE`: nothing may run here: make sure it does not.
///
/// After STOP or FENCE the application must be gone within `hb.kill_budget_ms` of this
/// call's return; when `hb_app_stopped` has not been called by then, the node takes it as
/// gone. Alarms raised
/// by the tick are counted in `out->alarms` and logged. `*out` is written only on success.
///
/// # Safety
/// `node` is NULL or a live node that no other thread uses during the call; `out` is NULL or
/// points to a writable `hb_tick_result`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hb_tick(node: *mut hb_node, out: *mut hb_tick_result) -> ha_status {
    boundary_status(|| {
        let node = node_mut(node)?;
        non_null(out, "out")?;
        let r = node.tick();
        let result = tick_result(node, &r);
        // SAFETY: out is non-NULL and writable per the contract.
        unsafe { *out = result };
        Ok(())
    })
}

/// Tells the node the application is gone: after `HB_ACTION_STOP` or `HB_ACTION_FENCE`, or
/// because it exited by itself (then an active node releases the lease so another node can
/// take over, and waits `hb.takeover_ms` before it claims again). It refers to the
/// application the caller was last told to stop and has not reported yet, else to the one
/// running; a report for an application of an earlier term, arriving after a new START, is
/// ignored. Includes a tick (blocks at most `hb.io_timeout_ms`); act on `out->action` as
/// after `hb_tick`. `*out` is written only on success.
///
/// # Safety
/// As for `hb_tick`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hb_app_stopped(node: *mut hb_node, out: *mut hb_tick_result) -> ha_status {
    boundary_status(|| {
        let node = node_mut(node)?;
        non_null(out, "out")?;
        let r = node.app_stopped();
        let result = tick_result(node, &r);
        // SAFETY: out is non-NULL and writable per the contract.
        unsafe { *out = result };
        Ok(())
    })
}

/// Tells the node the application failed (it is unhealthy but still running): an active
/// node answers `HB_ACTION_STOP` and hands over, and waits `hb.takeover_ms` before it claims
/// again. `reason` (nullable) goes to the alarm and the log. Does nothing when the
/// application is not running here. Includes a tick (blocks at most `hb.io_timeout_ms`);
/// act on `out->action` as after `hb_tick`. `*out` is written only on success.
///
/// # Safety
/// As for `hb_tick`; `reason` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hb_app_failed(
    node: *mut hb_node,
    reason: *const c_char,
    out: *mut hb_tick_result,
) -> ha_status {
    boundary_status(|| {
        let node = node_mut(node)?;
        non_null(out, "out")?;
        // SAFETY: per the contract.
        let reason = unsafe { c_str_or_empty(reason, "reason")? };
        let r = node.app_failed(failure_reason(reason));
        let result = tick_result(node, &r);
        // SAFETY: out is non-NULL and writable per the contract.
        unsafe { *out = result };
        Ok(())
    })
}

/// Graceful hand-over (shutdown, operator): an active or claiming node gives up its lease;
/// when the application runs, `out->action` is `HB_ACTION_STOP`: stop it, call
/// `hb_app_stopped`, and then `hb_tick` once more, so the RELEASED record is written before
/// `hb_node_free` (peers then take over at once instead of after `hb.takeover_ms`). The node
/// does not claim again for `hb.takeover_ms`. Does nothing on a standby node. Includes a tick
/// (blocks at most `hb.io_timeout_ms`). `*out` is written only on success.
///
/// # Safety
/// As for `hb_tick`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hb_release(node: *mut hb_node, out: *mut hb_tick_result) -> ha_status {
    boundary_status(|| {
        let node = node_mut(node)?;
        non_null(out, "out")?;
        let r = node.release();
        let result = tick_result(node, &r);
        // SAFETY: out is non-NULL and writable per the contract.
        unsafe { *out = result };
        Ok(())
    })
}

/// Sets the cluster's maintenance mode (an operator action; every node acts on it at its
/// next read of the maintenance record, within about `hb.period_ms`):
/// - `HB_MAINT_OFF`: normal operation. Takeover of a silent active then needs a full
///   `hb.takeover_ms` counted from the moment OFF is read.
/// - `HB_MAINT_FREEZE`: no node claims or takes over; the active keeps its lease.
/// - `HB_MAINT_SWITCHOVER`: the active node hands over and `target` claims at once.
///
/// `target` names a node of `hb.nodes` for SWITCHOVER and must be NULL otherwise
/// (`HA_ERR_INVALID_ARG`, as for an unknown mode or a name not in `hb.nodes`). `reason`
/// (nullable) is recorded for operators, cut to 128 bytes. The drained list is kept.
///
/// Reads and rewrites the maintenance record in `hb.dir` (on etcd, the maintenance key),
/// waiting for each at most the larger of the I/O timeout and 2 s: `HB_ERR_STORAGE` when
/// storage fails or is slower.
///
/// # Safety
/// `node` is NULL or a live node that no other thread uses during the call; `target` and
/// `reason` are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hb_maintenance_set(
    node: *mut hb_node,
    mode: u32,
    target: *const c_char,
    reason: *const c_char,
) -> ha_status {
    boundary_status(|| {
        let node = node_ref(node)?;
        // SAFETY: per the contract.
        let reason = unsafe { c_str_or_empty(reason, "reason")? };
        // The target's text matters only for SWITCHOVER; for the other modes a target is an
        // error whatever it says.
        let target = match (target.is_null(), mode) {
            (true, _) => None,
            // SAFETY: per the contract.
            (false, HB_MAINT_SWITCHOVER) => Some(unsafe { c_str(target, "target")? }),
            (false, _) => Some(""),
        };
        let mode = maint_mode(mode, target).map_err(|m| fail(HA_ERR_INVALID_ARG, m))?;
        node.set_maintenance(Some(mode), None, reason)
            .map(drop)
            .map_err(|e| maint_status(&e))
    })
}

/// Drains `name` (a node of `hb.nodes`, this one or another) so it never takes over, or with
/// `drained` false lets it again. A drained active node keeps running; use
/// `hb_maintenance_set` with SWITCHOVER or `hb_release` to move the application. The mode is
/// kept. Same storage access, bounds and errors as `hb_maintenance_set`; a name not in
/// `hb.nodes` gives `HA_ERR_INVALID_ARG`.
///
/// # Safety
/// `node` is NULL or a live node that no other thread uses during the call; `name` is NULL
/// or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hb_drain_set(
    node: *mut hb_node,
    name: *const c_char,
    drained: bool,
) -> ha_status {
    boundary_status(|| {
        let node = node_ref(node)?;
        // SAFETY: per the contract.
        let name = unsafe { c_str(name, "name")? };
        let reason = format!("{} {name}", if drained { "drain" } else { "undrain" });
        node.set_maintenance(None, Some((name, drained)), &reason)
            .map(drop)
            .map_err(|e| maint_status(&e))
    })
}

/// Every node of `hb.nodes` (this one included, in that order) as this node last read it.
/// No I/O: the records are those of the latest ticks.
///
/// Fills `entries[0 .. min(cap, n)]` and writes the number of nodes `n` to `*out_count`, so a
/// caller can size its array: with `cap` 0, `entries` may be NULL. Both are written only on
/// success.
///
/// # Safety
/// `node` is NULL or a live node that no other thread uses during the call; `entries` is
/// NULL (only when `cap` is 0) or points to `cap` writable `hb_node_status`; `out_count` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hb_status(
    node: *const hb_node,
    entries: *mut hb_node_status,
    cap: usize,
    out_count: *mut usize,
) -> ha_status {
    boundary_status(|| {
        let node = node_ref(node)?;
        if cap > 0 {
            non_null(entries, "entries")?;
        }
        non_null(out_count, "out_count")?;
        let views = node.status();
        for (i, v) in views.iter().take(cap).enumerate() {
            // SAFETY: i < cap entries are writable per the contract.
            unsafe { entries.add(i).write(view_status(v)) };
        }
        // SAFETY: out_count is non-NULL and writable per the contract.
        unsafe { *out_count = views.len() };
        Ok(())
    })
}

/// Frees a node. NULL is a no-op. Does not wait for storage: an I/O still in flight finishes
/// on its own thread and is discarded, so call `hb_release` (and the ticks it asks for)
/// first for a clean hand-over. A node freed while active simply stops renewing: peers take
/// over after `hb.takeover_ms`, so the application must be stopped first.
///
/// # Safety
/// `node` is NULL or came from `hb_node_new`, is not in use by another thread, and is not
/// used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hb_node_free(node: *mut hb_node) {
    panic_boundary(|| {
        if !node.is_null() {
            // SAFETY: node came from Box::into_raw in hb_node_new and is freed once.
            drop(unsafe { Box::from_raw(node) });
        }
    })
}
