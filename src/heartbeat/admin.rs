//! The operator's commands on the shared records: creating them (`ha-heartbeat init`,
//! `hb_init`) and the read-modify-write of the maintenance record (maintenance, drain,
//! switchover). They go through the [`Store`] on an [`IoPool`], like the node's own I/O, so
//! a hung share costs at most the command's timeout and never a thread per call.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::heartbeat::io::{IoPool, Op};
use crate::heartbeat::published;
use crate::heartbeat::record::{MaintMode, MaintRecord, NodeRecord};
use crate::heartbeat::settings::{NodeError, NodeSettings};
use crate::heartbeat::store::{FileStore, Store};

/// Runs operator commands against one store, each store call bounded by a timeout.
pub struct Admin {
    pool: IoPool,
    timeout: Duration,
}

impl Admin {
    /// Commands over `store`. Each store call waits at most the I/O timeout, and never less
    /// than 2 s: an operator's one-off command on a loaded host must not fail for want of
    /// a few hundred milliseconds.
    pub fn new(store: Arc<dyn Store>, settings: &NodeSettings) -> Admin {
        Admin {
            pool: IoPool::new(store),
            timeout: settings.timing.io_timeout.max(Duration::from_secs(2)),
        }
    }

    /// Runs `op` and waits for its completion, at most the timeout.
    fn run(&self, op: Op) -> io::Result<Vec<u8>> {
        let id = self.pool.submit(op).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::WouldBlock,
                "an earlier call on this record has not returned yet",
            )
        })?;
        let until = Instant::now() + self.timeout;
        loop {
            match self.pool.next(until) {
                Some(c) if c.id == id => return c.result,
                // The late completion of an earlier call that timed out.
                Some(_) => continue,
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "storage did not answer in time",
                    ));
                }
            }
        }
    }

    /// Read-modify-write of the maintenance record; the token always grows. `mode` None
    /// keeps the mode; `drain` adds a node to or removes it from the drained list.
    pub fn update_maintenance(
        &self,
        settings: &NodeSettings,
        mode: Option<MaintMode>,
        drain: Option<(&str, bool)>,
        reason: &str,
    ) -> Result<MaintRecord, NodeError> {
        let current = self
            .run(Op::ReadMaint)
            .map_err(|e| storage_err("cannot read the maintenance record", e))?;
        // A corrupt record is replaced: that is how an operator repairs it.
        let current = MaintRecord::decode(&current, &settings.cluster).ok();
        let record = next_maintenance(current, settings, mode, drain, reason, wall_ms())?;
        self.run(Op::WriteMaint(record.encode()))
            .map_err(|e| storage_err("cannot write the maintenance record", e))?;
        Ok(record)
    }

    /// Why a switchover to `target` would leave the service down, if it would: `target` is
    /// not one of `hb.nodes`, is drained, or its record is unreadable, corrupt or not
    /// changing (its daemon is not running). Watches the record for at most two periods
    /// and the I/O timeout; returns as soon as it changes.
    pub fn check_switchover_target(
        &self,
        settings: &NodeSettings,
        target: &str,
    ) -> Result<(), NodeError> {
        if !settings.nodes.iter().any(|n| n == target) {
            return Err(settings.unknown_node(target));
        }
        let refused = |why: String| NodeError::Config(format!("not switching over to {why}"));
        // An unreadable maintenance record is replaced by the switchover: nothing to check.
        if let Ok(m) = self
            .run(Op::ReadMaint)
            .map_err(|e| e.to_string())
            .and_then(|b| MaintRecord::decode(&b, &settings.cluster).map_err(|e| e.to_string()))
            && m.drained.iter().any(|n| n == target)
        {
            return Err(refused(format!(
                "{target}: it is drained and would never take over (undrain it first)"
            )));
        }
        let read = || {
            self.run(Op::ReadNode(target.to_string()))
                .map_err(|e| refused(format!("{target}: its record is unreadable: {e}")))
        };
        let first = read()?;
        if NodeRecord::decode(&first, &settings.cluster).is_err() {
            return Err(refused(format!("{target}: its record is corrupt")));
        }
        let t = settings.timing;
        let window = t.period * 2 + t.io_timeout;
        let started = Instant::now();
        while started.elapsed() < window {
            std::thread::sleep(t.period / 2);
            if read()? != first {
                return Ok(());
            }
        }
        Err(refused(format!(
            "{target}: its record has not changed for {} ms (its daemon is not running, or \
             cannot write)",
            started.elapsed().as_millis()
        )))
    }

    /// Creates the records of every node and the maintenance record (OFF); existing ones
    /// are left alone.
    pub fn init_cluster(&self, settings: &NodeSettings) -> Result<(), NodeError> {
        let dir = settings.dir.display();
        for name in &settings.nodes {
            let blank = NodeRecord::blank(&settings.cluster, name);
            self.run(Op::InitNode(name.clone(), blank.encode()))
                .map_err(|e| {
                    storage_err(
                        &format!("hb.dir {dir}: cannot create the record of {name}"),
                        e,
                    )
                })?;
        }
        let maint = MaintRecord {
            cluster: settings.cluster.clone(),
            token: 1,
            mode: MaintMode::Off,
            drained: Vec::new(),
            set_by: settings.node.clone(),
            reason: "init".into(),
            wall_ms: 0,
        };
        self.run(Op::InitMaint(maint.encode())).map_err(|e| {
            storage_err(
                &format!("hb.dir {dir}: cannot create the maintenance record"),
                e,
            )
        })?;
        Ok(())
    }
}

/// The maintenance record that replaces `current` (None: absent or corrupt, so OFF with
/// nothing drained) for an operator's change, on either backend: the token grows by one;
/// `mode` None keeps the mode; `drain` adds a node to or removes it from the drained list.
/// Refuses a node that is not one of `hb.nodes`.
pub fn next_maintenance(
    current: Option<MaintRecord>,
    settings: &NodeSettings,
    mode: Option<MaintMode>,
    drain: Option<(&str, bool)>,
    reason: &str,
    wall_ms: u64,
) -> Result<MaintRecord, NodeError> {
    let (token, old_mode, mut drained) = match current {
        Some(m) => (m.token, m.mode, m.drained),
        None => (0, MaintMode::Off, Vec::new()),
    };
    if let Some((name, on)) = drain {
        if !settings.nodes.iter().any(|n| n == name) {
            return Err(settings.unknown_node(name));
        }
        drained.retain(|n| n != name);
        if on {
            drained.push(name.to_string());
        }
    }
    if let Some(MaintMode::Switchover(target)) = &mode
        && !settings.nodes.contains(target)
    {
        return Err(settings.unknown_node(target));
    }
    Ok(MaintRecord {
        cluster: settings.cluster.clone(),
        token: token + 1,
        mode: mode.unwrap_or(old_mode),
        drained,
        set_by: settings.node.clone(),
        reason: reason.to_string(),
        wall_ms,
    })
}

/// Read-modify-write of the maintenance record on `store`; see [`Admin::update_maintenance`].
pub fn update_maintenance(
    store: Arc<dyn Store>,
    settings: &NodeSettings,
    mode: Option<MaintMode>,
    drain: Option<(&str, bool)>,
    reason: &str,
) -> Result<MaintRecord, NodeError> {
    Admin::new(store, settings).update_maintenance(settings, mode, drain, reason)
}

/// [`Admin::check_switchover_target`] on `store`.
pub fn check_switchover_target(
    store: Arc<dyn Store>,
    settings: &NodeSettings,
    target: &str,
) -> Result<(), NodeError> {
    Admin::new(store, settings).check_switchover_target(settings, target)
}

/// Creates the shared records for every node, the maintenance record (OFF) and every
/// node's events file in `hb.dir`; existing files are left alone, so running it again on a
/// running cluster only adds what is missing (how a cluster made by an older hamon gets its
/// events files). Run once per cluster (`ha-heartbeat init`).
pub fn init_cluster(settings: &NodeSettings) -> Result<(), NodeError> {
    #[cfg(feature = "etcd")]
    if let Some(e) = &settings.etcd {
        return crate::heartbeat::etcd::admin::init(&e.client, &e.keys, settings);
    }
    let store = Arc::new(FileStore::new(settings.dir.clone()));
    let admin = Admin::new(store.clone(), settings);
    admin.init_cluster(settings)?;
    init_events(store, settings, admin.timeout)
}

/// Creates each node's events file (nothing published yet) unless it exists, each creation
/// bounded by `timeout` on a thread of its own: a hung share costs the command its
/// timeout, as with the records.
fn init_events(
    store: Arc<FileStore>,
    settings: &NodeSettings,
    timeout: Duration,
) -> Result<(), NodeError> {
    let dir = settings.dir.display();
    for name in &settings.nodes {
        let block = published::encode_block(&settings.cluster, name, 0, "")
            .map_err(|e| NodeError::Config(format!("the events file of {name}: {e}")))?;
        let (tx, rx) = std::sync::mpsc::channel();
        let (s, n) = (store.clone(), name.clone());
        std::thread::Builder::new()
            .name("hb-init-events".into())
            .spawn(move || {
                let _ = tx.send(s.init_events(&n, &block));
            })
            .map_err(|e| storage_err("cannot start a thread", e))?;
        let what = format!("hb.dir {dir}: cannot create the events file of {name}");
        match rx.recv_timeout(timeout) {
            Ok(r) => r.map_err(|e| storage_err(&what, e))?,
            Err(_) => return Err(storage_err(&what, "storage did not answer in time")),
        }
    }
    Ok(())
}

fn storage_err(what: &str, e: impl std::fmt::Display) -> NodeError {
    NodeError::Storage(format!("{what}: {e}"))
}

/// For operators reading records: never used for a decision.
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn settings() -> NodeSettings {
        let mut config = Config::default();
        let text = "hb.dir=/nonexistent/shared\nhb.state_dir=/nonexistent/state\nhb.node=a\n\
                    hb.nodes=a,b,c\n";
        config.load_str(text, "test").unwrap();
        NodeSettings::from_config(&config.heartbeat).unwrap()
    }

    #[test]
    fn the_next_maintenance_record_grows_the_token_and_keeps_what_is_not_changed() {
        let s = settings();
        let first = next_maintenance(None, &s, None, Some(("b", true)), "drain b", 5).unwrap();
        assert_eq!(first.token, 1);
        assert_eq!(first.mode, MaintMode::Off);
        assert_eq!(first.drained, vec!["b".to_string()]);
        assert_eq!(
            (first.set_by.as_str(), first.reason.as_str()),
            ("a", "drain b")
        );
        assert_eq!((&first.cluster, first.wall_ms), (&s.cluster, 5));
        let to_c = MaintMode::Switchover("c".into());
        let second =
            next_maintenance(Some(first), &s, Some(to_c.clone()), None, "move", 6).unwrap();
        assert_eq!((second.token, second.mode.clone()), (2, to_c));
        assert_eq!(second.drained, vec!["b".to_string()]);
        let third = next_maintenance(Some(second), &s, None, Some(("b", false)), "", 7).unwrap();
        assert_eq!(third.token, 3);
        assert!(matches!(third.mode, MaintMode::Switchover(_)));
        assert!(third.drained.is_empty());
    }

    #[test]
    fn the_next_maintenance_record_refuses_a_node_not_in_hb_nodes() {
        let s = settings();
        let e = next_maintenance(None, &s, None, Some(("x", true)), "", 0).unwrap_err();
        assert!(
            e.to_string().contains("x is not one of hb.nodes=a,b,c"),
            "{e}"
        );
        let mode = Some(MaintMode::Switchover("y".into()));
        let e = next_maintenance(None, &s, mode, None, "", 0).unwrap_err();
        assert!(e.to_string().contains("y is not one of hb.nodes"), "{e}");
    }
}
