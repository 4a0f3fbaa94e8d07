//! The commands that are not the daemon's loop: loading the configuration, and the operator's
//! maintenance, drain and switchover, which write the maintenance record.

use std::path::Path;
use std::sync::Arc;

use hamon::config::Config;
use hamon::heartbeat::node::{NodeError, NodeSettings};
use hamon::heartbeat::record::{MaintMode, MaintRecord};
use hamon::heartbeat::store::FileStore;

use crate::{cli, flap, journal, status, watchdog_device};

/// Loads a configuration file and checks the node settings.
pub fn load(path: &Path) -> Result<(Config, NodeSettings), String> {
    let mut cfg = Config::default();
    cfg.load_file(path).map_err(|e| e.to_string())?;
    let s = NodeSettings::from_config(&cfg.heartbeat).map_err(|e| e.to_string())?;
    watchdog_device::check_settings(&cfg.heartbeat)?;
    flap::check_settings(&cfg.heartbeat)?;
    Ok((cfg, s))
}

/// `maintenance`, `drain`, `undrain`, `switchover`: writes the maintenance record, with the
/// operator's `--reason` (default: which node's command wrote it), and journals the change
/// with who asked.
pub fn maintenance(
    s: &NodeSettings,
    command: &cli::Command,
    reason: Option<&str>,
) -> Result<String, String> {
    let store = Arc::new(FileStore::new(s.dir.clone()));
    let reason = reason.map_or_else(|| format!("ha-heartbeat on {}", s.node), str::to_string);
    let (mode, drain) = match command {
        cli::Command::Maintenance(true) => (Some(MaintMode::Freeze), None),
        cli::Command::Maintenance(false) => (Some(MaintMode::Off), None),
        cli::Command::Drain(n, on) => (None, Some((n.clone().unwrap_or(s.node.clone()), *on))),
        cli::Command::Switchover(to, force) => {
            let target = match to {
                Some(t) => t.clone(),
                None => {
                    let others: Vec<&String> = s.nodes.iter().filter(|n| **n != s.node).collect();
                    match others.as_slice() {
                        [one] if s.nodes.len() == 2 => (*one).clone(),
                        _ => {
                            return Err(
                                "switchover needs --to NODE unless hb.nodes names exactly two"
                                    .into(),
                            );
                        }
                    }
                }
            };
            if !force {
                check_switchover_target(store.clone(), s, &target).map_err(|e| {
                    // --force cannot add a node to hb.nodes.
                    if s.nodes.contains(&target) {
                        format!("{e} (--force switches over anyway)")
                    } else {
                        e.to_string()
                    }
                })?;
            }
            (Some(MaintMode::Switchover(target)), None)
        }
        _ => return Err("not a maintenance command".into()),
    };
    let drain_ref = drain.as_ref().map(|(n, on)| (n.as_str(), *on));
    let rec = update_maintenance(store, s, mode, drain_ref, &reason).map_err(|e| e.to_string())?;
    let drained = if rec.drained.is_empty() {
        "none".to_string()
    } else {
        rec.drained.join(",")
    };
    let done = format!(
        "maintenance: {} (token {}); drained: {drained}",
        status::maint_name(&rec.mode),
        rec.token
    );
    journal_operator(s, command, &rec.reason, &done);
    Ok(done)
}

/// Journals an operator's change on this node: what was asked, by whom, why, and what the
/// record says now. The change is made: a journal that cannot be written only warns.
fn journal_operator(s: &NodeSettings, command: &cli::Command, reason: &str, done: &str) {
    let asked = match command {
        cli::Command::Maintenance(on) => format!("maintenance {}", if *on { "on" } else { "off" }),
        cli::Command::Drain(n, on) => format!(
            "{} {}",
            if *on { "drain" } else { "undrain" },
            n.as_deref().unwrap_or(&s.node)
        ),
        cli::Command::Switchover(to, force) => format!(
            "switchover{}{}",
            to.as_ref().map_or(String::new(), |t| format!(" --to {t}")),
            if *force { " --force" } else { "" }
        ),
        _ => return,
    };
    let who = operator_name();
    let text = format!("{asked} by {who}: {reason}; {done}");
    let ev = journal::Event::new(&s.node, "operator", 0, None, &text);
    // The daemon creates hb.state_dir too; a command may run before its first start.
    let written = std::fs::create_dir_all(&s.state_dir)
        .and_then(|()| journal::append(&s.state_dir, &ev, journal::ROTATE_AT));
    if let Err(e) = written {
        eprintln!(
            "ha-heartbeat: cannot write the journal {}: {e}",
            journal::path(&s.state_dir).display()
        );
    }
}

/// Who runs the command: the user sudo ran it for, else the login name, else the uid.
fn operator_name() -> String {
    for var in ["SUDO_USER", "LOGNAME", "USER"] {
        if let Ok(v) = std::env::var(var)
            && !v.is_empty()
        {
            return v;
        }
    }
    // SAFETY: getuid cannot fail.
    format!("uid {}", unsafe { libc::getuid() })
}

/// The switchover check on the node's backend: the shared directory or etcd.
fn check_switchover_target(
    store: Arc<FileStore>,
    s: &NodeSettings,
    target: &str,
) -> Result<(), NodeError> {
    #[cfg(feature = "etcd")]
    if let Some(e) = &s.etcd {
        return hamon::heartbeat::etcd::admin::check_switchover_target(
            &e.client, &e.keys, s, target,
        );
    }
    hamon::heartbeat::admin::check_switchover_target(store, s, target)
}

/// The maintenance update on the node's backend: the shared directory or etcd.
fn update_maintenance(
    store: Arc<FileStore>,
    s: &NodeSettings,
    mode: Option<MaintMode>,
    drain: Option<(&str, bool)>,
    reason: &str,
) -> Result<MaintRecord, NodeError> {
    #[cfg(feature = "etcd")]
    if let Some(e) = &s.etcd {
        return hamon::heartbeat::etcd::admin::update_maintenance(
            &e.client, &e.keys, s, mode, drain, reason,
        );
    }
    hamon::heartbeat::node::update_maintenance(store, s, mode, drain, reason)
}
