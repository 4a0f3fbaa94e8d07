//! The operator's commands on etcd (`ha-heartbeat maintenance`, `drain`, `undrain`,
//! `switchover`): the maintenance key, with the same meaning as the file backend's record.

use super::api::{Client, Compare, Op, Settings};
use super::keys::Keys;
use crate::heartbeat::admin::{next_maintenance, wall_ms};
use crate::heartbeat::record::{MaintMode, MaintRecord};
use crate::heartbeat::settings::{NodeError, NodeSettings};

/// Read-modify-write of the maintenance key, as the file backend does with its record:
/// the token always grows, and the write succeeds only if nobody changed the key since
/// it was read. Waits at most two I/O timeouts.
pub fn update_maintenance(
    client: &Settings,
    keys: &Keys,
    settings: &NodeSettings,
    mode: Option<MaintMode>,
    drain: Option<(&str, bool)>,
    reason: &str,
) -> Result<MaintRecord, NodeError> {
    let storage = |what: &str, e: String| NodeError::Storage(format!("{what}: {e}"));
    let mut client = Client::new(client).map_err(|e| storage("hb.etcd", e))?;
    let key = keys.maint();
    let current = client
        .get(&key)
        .map_err(|e| storage("cannot read the maintenance key", e.to_string()))?;
    let rev = current.as_ref().map_or(0, |kv| kv.mod_revision);
    // Absent (OFF), or corrupt: replaced, which is how an operator repairs it.
    let current = current
        .as_ref()
        .and_then(|kv| MaintRecord::decode(&kv.value, &settings.cluster).ok());
    let record = next_maintenance(current, settings, mode, drain, reason, wall_ms())?;
    let put = Op::Put {
        key: key.clone(),
        value: record.encode(),
        lease: 0,
    };
    let reply = client
        .txn(&[Compare::ModRevision(key, rev)], &[put], &[])
        .map_err(|e| storage("cannot write the maintenance key", e.to_string()))?;
    if !reply.succeeded {
        return Err(NodeError::Storage(
            "the maintenance key changed while it was being updated: try again".to_string(),
        ));
    }
    Ok(record)
}

/// Why a switchover to `target` would leave the service down, if it would: `target` is not
/// one of `hb.nodes`, is drained, or has no status key (attached to its lease, so present
/// only while its daemon keeps that lease alive).
pub fn check_switchover_target(
    client: &Settings,
    keys: &Keys,
    settings: &NodeSettings,
    target: &str,
) -> Result<(), NodeError> {
    if !settings.nodes.iter().any(|n| n == target) {
        return Err(settings.unknown_node(target));
    }
    let refused = |why: String| NodeError::Config(format!("not switching over to {target}: {why}"));
    let mut client =
        Client::new(client).map_err(|e| NodeError::Storage(format!("hb.etcd: {e}")))?;
    let (_, kvs) = keys
        .read_records(&mut client)
        .map_err(|e| NodeError::Storage(format!("cannot read {}: {e}", keys.prefix)))?;
    let view = keys.view(&kvs).map_err(|e| refused(e.to_string()))?;
    if let Some(Ok(m)) = &view.maint
        && m.drained.iter().any(|n| n == target)
    {
        return Err(refused(
            "it is drained and would never take over (undrain it first)".into(),
        ));
    }
    if !kvs.iter().any(|kv| kv.key == keys.status(target)) {
        return Err(refused(format!(
            "it holds no lease in etcd (no key {}status/{target}): its daemon is not running",
            keys.prefix
        )));
    }
    Ok(())
}

/// `ha-heartbeat init` on etcd: the leader and epoch keys are created by the first claim, so
/// this only checks that etcd answers and puts the maintenance key (OFF) unless one exists.
pub fn init(client: &Settings, keys: &Keys, settings: &NodeSettings) -> Result<(), NodeError> {
    let mut client =
        Client::new(client).map_err(|e| NodeError::Storage(format!("hb.etcd: {e}")))?;
    let record = MaintRecord {
        cluster: settings.cluster.clone(),
        token: 0,
        mode: MaintMode::Off,
        drained: Vec::new(),
        set_by: settings.node.clone(),
        reason: "init".to_string(),
        wall_ms: wall_ms(),
    };
    let put = Op::Put {
        key: keys.maint(),
        value: record.encode(),
        lease: 0,
    };
    client
        .txn(&[Compare::CreateRevision(keys.maint(), 0)], &[put], &[])
        .map_err(|e| NodeError::Storage(format!("cannot write the maintenance key: {e}")))?;
    Ok(())
}
