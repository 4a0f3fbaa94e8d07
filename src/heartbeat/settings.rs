//! A node's `hb.*` settings, checked once: what [`Node`](super::node::Node) and the operator
//! commands ([`admin`](super::admin)) run on, and the errors they report.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::config::HeartbeatSettings;
use crate::heartbeat::timing::{Timing, TimingError};

#[derive(Debug)]
pub enum NodeError {
    /// A required `hb.*` setting is missing or inconsistent.
    Config(String),
    /// The timing would allow two active nodes.
    Timing(TimingError),
    /// The local state directory cannot be used.
    State(PathBuf, io::Error),
    /// The shared directory cannot be used.
    Storage(String),
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::Config(m) => f.write_str(m),
            NodeError::Timing(e) => write!(f, "{e}"),
            NodeError::State(p, e) => write!(f, "hb.state_dir {}: {e}", p.display()),
            NodeError::Storage(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for NodeError {}

/// The validated settings of a node.
#[derive(Clone, Debug)]
pub struct NodeSettings {
    pub dir: PathBuf,
    pub node: String,
    pub cluster: String,
    pub nodes: Vec<String>,
    pub preferred: bool,
    pub timing: Timing,
    /// `hb.profile`, which `timing` starts from.
    pub profile: &'static str,
    pub state_dir: PathBuf,
    /// `hb.backend=etcd`: the etcd backend's settings (then `dir` is unused).
    #[cfg(feature = "etcd")]
    pub etcd: Option<crate::heartbeat::etcd::backend::EtcdSettings>,
}

impl NodeSettings {
    pub fn from_config(hb: &HeartbeatSettings) -> Result<NodeSettings, NodeError> {
        if hb.backend == crate::config::etcd::Backend::Etcd {
            return etcd_settings(hb);
        }
        let missing = |key: &str| NodeError::Config(format!("{key} is not set"));
        let dir = hb.dir.clone().ok_or_else(|| missing("hb.dir"))?;
        let (node, state_dir) = node_and_state_dir(hb, missing)?;
        hb.timing.check().map_err(NodeError::Timing)?;
        Ok(NodeSettings {
            dir,
            node,
            cluster: hb.cluster.clone(),
            nodes: hb.nodes.clone(),
            preferred: hb.preferred,
            timing: hb.timing,
            profile: hb.profile,
            state_dir,
            #[cfg(feature = "etcd")]
            etcd: None,
        })
    }

    /// Whether the node runs on etcd (`hb.backend=etcd`: `hb.dir` and its records unused).
    pub fn on_etcd(&self) -> bool {
        #[cfg(feature = "etcd")]
        if self.etcd.is_some() {
            return true;
        }
        false
    }

    /// Where the cluster's heartbeat lives, for operators: `in <hb.dir>` or
    /// `on etcd <endpoints> under <prefix>`.
    pub fn storage(&self) -> String {
        #[cfg(feature = "etcd")]
        if let Some(e) = &self.etcd {
            return format!(
                "on etcd {} under {}",
                e.client.endpoints.join(","),
                e.keys.prefix
            );
        }
        format!("in {}", self.dir.display())
    }

    /// One line for operators: the backend's timing and the failover bound it gives.
    pub fn timing_line(&self) -> String {
        #[cfg(feature = "etcd")]
        if let Some(e) = &self.etcd {
            let t = &e.timing;
            return format!(
                "timing: etcd (period {} ms, I/O timeout {} ms, lease TTL {} s, kill budget {} \
                 ms); failover within {:.1} s of the active's death, plus the application's start",
                t.period.as_millis(),
                t.io_timeout.as_millis(),
                t.lease_ttl.as_secs(),
                t.kill_budget.as_millis(),
                t.failover_bound().as_secs_f64()
            );
        }
        let t = &self.timing;
        let changed = if Timing::profile(self.profile) == Some(*t) {
            ""
        } else {
            " changed by hb.*_ms keys"
        };
        format!(
            "timing: profile {}{changed} (period {} ms, renew deadline {} ms, takeover {} ms); \
             failover within {:.1} s of the active's death, plus the application's start",
            self.profile,
            t.period.as_millis(),
            t.renew_deadline.as_millis(),
            t.takeover.as_millis(),
            t.failover_bound().as_secs_f64()
        )
    }

    /// The error for a name that is not one of `hb.nodes`.
    pub fn unknown_node(&self, name: &str) -> NodeError {
        NodeError::Config(format!(
            "{name} is not one of hb.nodes={}",
            self.nodes.join(",")
        ))
    }
}

/// `hb.node`, `hb.state_dir` and `hb.nodes`, which every backend needs: this node's name,
/// checked to be one of `hb.nodes`, and its local state directory. `missing` words the error
/// for a key that is not set.
pub(crate) fn node_and_state_dir(
    hb: &HeartbeatSettings,
    missing: impl Fn(&str) -> NodeError,
) -> Result<(String, PathBuf), NodeError> {
    let node = hb.node.clone().ok_or_else(|| missing("hb.node"))?;
    let state_dir = hb
        .state_dir
        .clone()
        .ok_or_else(|| missing("hb.state_dir"))?;
    if hb.nodes.is_empty() {
        return Err(missing("hb.nodes"));
    }
    if !hb.nodes.contains(&node) {
        return Err(NodeError::Config(format!(
            "hb.node={node} is not one of hb.nodes={}",
            hb.nodes.join(",")
        )));
    }
    Ok((node, state_dir))
}

#[cfg(feature = "etcd")]
fn etcd_settings(hb: &HeartbeatSettings) -> Result<NodeSettings, NodeError> {
    let etcd = crate::heartbeat::etcd::backend::EtcdSettings::from_config(hb)?;
    Ok(NodeSettings {
        dir: etcd.state_dir.clone(),
        node: etcd.node.clone(),
        cluster: hb.cluster.clone(),
        nodes: hb.nodes.clone(),
        preferred: hb.preferred,
        timing: etcd.file_timing(),
        profile: "etcd",
        state_dir: etcd.state_dir.clone(),
        etcd: Some(etcd),
    })
}

#[cfg(not(feature = "etcd"))]
fn etcd_settings(_: &HeartbeatSettings) -> Result<NodeSettings, NodeError> {
    Err(NodeError::Config(
        "hb.backend=etcd: this build of hamon has no etcd support (feature etcd)".to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::time::Duration;

    fn timing(text: &str) -> Result<Timing, String> {
        let mut config = Config::default();
        config.load_str(text, "test").map_err(|e| e.to_string())?;
        Ok(config.heartbeat.timing)
    }

    #[test]
    fn a_profile_sets_the_timing_and_the_keys_given_win_in_any_order() {
        assert_eq!(timing("").unwrap(), Timing::nfs_default());
        assert_eq!(timing("hb.profile=local").unwrap(), Timing::local());
        let want = Timing {
            kill_budget: Duration::from_millis(4000),
            takeover: Duration::from_millis(12000),
            ..Timing::local()
        };
        let before = "hb.kill_budget_ms=4000\nhb.takeover_ms=12000\nhb.profile=local\n";
        let after = "hb.profile=local\nhb.kill_budget_ms=4000\nhb.takeover_ms=12000\n";
        assert_eq!(timing(before).unwrap(), want);
        assert_eq!(timing(after).unwrap(), want);
        let pairs = [
            ("hb.takeover_ms", "12000"),
            ("hb.profile", "local"),
            ("hb.kill_budget_ms", "4000"),
        ];
        let mut config = Config::default();
        config.load_pairs(pairs, "test").unwrap();
        assert_eq!(config.heartbeat.timing, want);
        let e = timing("hb.profile=fast").unwrap_err();
        assert!(
            e.contains("hb.profile") && e.contains("nfs, san or local"),
            "{e}"
        );
    }
}
