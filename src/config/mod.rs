//! Configuration of the HA monitor server: Java-style properties files (`key=value`) and
//! single `key`/`value` settings, turned into a typed [`Config`].
//!
//! The same keys are accepted by `ha_config_set` and by properties files. The MediationZone
//! names (`mz.ha.*`) are aliases, so an existing pico configuration carries over.
//!
//! `keys` is the one table of keys (name, how a value is applied, how it is written back),
//! `values` the value types it uses, `check_rule` the rule for check options whichever way
//! they arrive, and `validate` the checks that need the whole configuration.

mod check_rule;
pub(crate) mod cidr;
mod error;
pub mod etcd;
mod keys;
mod properties;
#[cfg(test)]
mod tests;
mod typo;
mod validate;
mod values;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

pub use check_rule::{CheckOptionsFault, MAX_STREAK};
pub use cidr::Cidr;
pub use error::{ConfigError, ConfigErrorKind};

/// Largest properties text accepted; a configuration is small, anything bigger is a mistake.
const MAX_TEXT_BYTES: usize = 1024 * 1024;

/// How much a failing check weighs in the aggregate state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Importance {
    /// A failing check makes the instance DOWN.
    Critical,
    /// A failing check makes the instance DEGRADED.
    Degrading,
    /// The check is reported but never changes the aggregate.
    Info,
}

/// How one health check is run and judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    /// Time between the starts of two runs.
    pub interval: Duration,
    /// A run still inside the callback after this long counts as failed.
    pub timeout: Duration,
    /// Consecutive successes needed to pass again after failing.
    pub rise: u32,
    /// Consecutive failures needed to fail after passing.
    pub fall: u32,
    pub importance: Importance,
    /// A successful run slower than this makes the check DEGRADED.
    pub latency_warn: Option<Duration>,
    /// A run slower than this counts as a failure.
    pub latency_crit: Option<Duration>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            interval: Duration::from_millis(1000),
            timeout: Duration::from_millis(1000),
            rise: 2,
            fall: 3,
            importance: Importance::Critical,
            latency_warn: None,
            latency_crit: None,
        }
    }
}

/// A threshold on a named counter, evaluated over the sliding window [`Config::interval`].
/// A breach makes the instance DOWN.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CounterRule {
    /// At least this many in the window.
    pub min: Option<u64>,
    /// At most this many in the window.
    pub max: Option<u64>,
    /// The rule is judged only while the named counter has reached the given count in the
    /// same window (MediationZone: aborts count only after enough activations).
    /// While only one of `gate`/`gate_min` has been set, the missing half is `""` or
    /// `u64::MAX`, and [`Config::validate_for_start`] reports it.
    pub gate: Option<(String, u64)>,
}

/// The typed configuration of one HA monitor server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `ha.enabled` / `mz.ha.enabled` (default true): false means the server is not started.
    pub enabled: bool,
    /// `ha.host`: the address to bind (default 127.0.0.1).
    pub host: String,
    /// `ha.port`: the TCP port; 0 binds an ephemeral port. Must be set before starting.
    pub port: Option<u16>,
    /// `ha.log_file`: where the transition log is appended (a directory gets `ha-monitor.log`).
    pub log_file: Option<std::path::PathBuf>,
    /// `ha.app_name`: shown as `app=` in replies.
    pub app_name: String,
    /// `ha.interval`: the counter window (seconds, or with an `ms`/`s`/`m` suffix; default 40 s).
    pub interval: Duration,
    /// `ha.max_connections`: most concurrent clients (default 16). A newcomer past it is
    /// let in and the connection that has waited longest without completing a command gets
    /// `BUSY` and is closed, so a probe always gets in.
    pub max_connections: usize,
    /// `ha.max_connections_per_source`: most connections from one client address; a newcomer
    /// past it replaces that address's longest-waiting connection (default 0: half of
    /// `ha.max_connections`, at least 1).
    pub max_connections_per_source: usize,
    /// `ha.idle_timeout_ms`: a connection that completes no command for this long is closed
    /// (default 30000). Bytes that do not complete a command do not count.
    pub idle_timeout: Duration,
    /// `ha.first_command_timeout_ms`: a connection that has not completed its first command
    /// this long after it was accepted is closed (default 10000).
    pub first_command_timeout: Duration,
    /// `ha.connection_lifetime_ms`: any connection is closed this long after it was accepted
    /// (default 600000, ten minutes).
    pub connection_lifetime: Duration,
    /// `ha.unix_socket`: also listen on this Unix domain socket (mode 0660), which no other
    /// process can squat as it can a TCP port (default: none).
    pub unix_socket: Option<std::path::PathBuf>,
    /// `ha.allow`: the client addresses (CIDR blocks, comma-separated) that may connect;
    /// loopback clients always may. Empty (the default): every address.
    pub allow: Vec<Cidr>,
    /// `ha.max_line_bytes`: a longer command line gets `ERR line-too-long` (default 512).
    pub max_line_bytes: usize,
    /// `ha.stop_timeout_ms`: how long stopping waits for a check still inside its callback.
    pub stop_timeout: Duration,
    /// `ha.watchdog_ms`: when set, missing `ha_server_heartbeat` for this long is DOWN.
    pub watchdog: Option<Duration>,
    /// `ha.startup_grace_ms`: when set, STARTING turns DOWN if not ready after this long.
    pub startup_grace: Option<Duration>,
    /// `ha.stale_ms`: a check result older than this is DOWN (default: 3 intervals + timeout).
    pub stale_after: Option<Duration>,
    /// `ha.agent_degraded_weight`: the HAProxy agent weight (percent) reported when DEGRADED.
    pub agent_degraded_weight: u8,
    /// `ha.check.*`: options for checks registered without their own.
    pub check_defaults: CheckOptions,
    /// `ha.counter.NAME.*` and the `mz.ha.*` counter thresholds.
    pub counters: BTreeMap<String, CounterRule>,
    /// `hb.*`: the heartbeat node, when this configuration describes one.
    pub heartbeat: HeartbeatSettings,
}

/// The `hb.*` settings of one heartbeat node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeartbeatSettings {
    /// `hb.dir`: the shared directory holding the records.
    pub dir: Option<std::path::PathBuf>,
    /// `hb.node`: this node's name.
    pub node: Option<String>,
    /// `hb.cluster`: guards against a directory of another cluster (default `hamon`).
    pub cluster: String,
    /// `hb.nodes`: every node of the cluster, comma-separated, this one included.
    pub nodes: Vec<String>,
    /// `hb.preferred`: this node backs off less when two claim at once.
    pub preferred: bool,
    /// The effective timing: `hb.profile` with the `hb.period_ms`, `hb.io_timeout_ms`,
    /// `hb.renew_deadline_ms`, `hb.kill_budget_ms`, `hb.takeover_ms`, `hb.confirm_ms` given
    /// laid over it, whatever their order.
    pub timing: crate::timing::Timing,
    /// `hb.profile`: `nfs` (default), `san` or `local`.
    pub profile: &'static str,
    /// The `hb.*_ms` timing keys given, in `Timing`'s field order.
    pub timing_keys: [Option<std::time::Duration>; 6],
    /// `hb.state_dir`: local directory where the highest epoch seen is kept.
    pub state_dir: Option<std::path::PathBuf>,
    /// `hb.start_cmd`: how `ha-heartbeat` starts the application (run with `/bin/sh -c`).
    pub start_cmd: Option<String>,
    /// `hb.stop_cmd`: how it stops the application gracefully (default: SIGTERM to the
    /// application's process group, SIGKILL after `hb.kill_budget_ms`).
    pub stop_cmd: Option<String>,
    /// `hb.app_port`: the application's HA monitor port; the application counts as healthy
    /// only while a probe of it says UP or DEGRADED (None/0: no probe).
    pub app_port: Option<u16>,
    /// `hb.app_probe_fail`: consecutive failed probes before the application counts as dead
    /// (default 3).
    pub app_probe_fail: u32,
    /// `hb.incident_cmd`: run with `/bin/sh -c` on an incident, with `HB_INCIDENT`, `HB_NODE`
    /// and `HB_EPOCH` in its environment.
    pub incident_cmd: Option<String>,
    /// `hb.log_file`: the daemon's own log is appended here too (besides stderr).
    pub log_file: Option<std::path::PathBuf>,
    /// `hb.app_log`: where the application's stdout and stderr are appended (default
    /// `STATE_DIR/app.log`).
    pub app_log: Option<std::path::PathBuf>,
    /// `hb.restart_limit`: local restarts of a failed application before handing over
    /// (default 0: hand over at once).
    pub restart_limit: u32,
    /// `hb.watchdog_device`: a watchdog device (such as /dev/watchdog) the daemon pets while
    /// it is alive and its application runs inside its lease (None: no device).
    pub watchdog_device: Option<std::path::PathBuf>,
    /// `hb.metrics_listen`: where the daemon serves `GET /metrics` (numeric address and
    /// port; None: not served).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// `hb.flap_backoff_ms`: after its application failed, the node claims nothing for this
    /// long, doubled for each further failure (default 10 s; None/0: no damping).
    pub flap_backoff: Option<Duration>,
    /// `hb.flap_backoff_max_ms`: the back-off grows to this at most (default 5 min).
    pub flap_backoff_max: Duration,
    /// `hb.failure_timeout_ms`: failures older than this are forgotten (default 15 min).
    pub failure_timeout: Duration,
    /// `hb.user`, `hb.group`: the application runs as this user and group (names or numeric
    /// ids; None: the daemon's own).
    pub user: Option<String>,
    pub group: Option<String>,
    /// `hb.backend`: where leases are decided (default: the shared directory `hb.dir`).
    pub backend: etcd::Backend,
    /// `hb.etcd.*`: the etcd backend's cluster, credentials and timing.
    pub etcd: etcd::EtcdConfig,
}

impl HeartbeatSettings {
    /// Sets timing key `index` (in `Timing`'s field order) and recomputes `timing`.
    pub(crate) fn set_timing_key(&mut self, index: usize, value: std::time::Duration) {
        self.timing_keys[index] = Some(value);
        self.retime();
    }

    /// `timing` from the profile and the timing keys given.
    fn retime(&mut self) {
        let mut t = crate::timing::Timing::profile(self.profile)
            .unwrap_or_else(crate::timing::Timing::nfs_default);
        let fields = [
            &mut t.period,
            &mut t.io_timeout,
            &mut t.renew_deadline,
            &mut t.kill_budget,
            &mut t.takeover,
            &mut t.confirm,
        ];
        for (field, key) in fields.into_iter().zip(self.timing_keys) {
            if let Some(v) = key {
                *field = v;
            }
        }
        self.timing = t;
    }

    /// Sets `hb.profile`.
    pub(crate) fn set_profile(&mut self, name: &str) -> Result<(), String> {
        self.profile = crate::timing::Timing::PROFILES
            .into_iter()
            .find(|p| *p == name)
            .ok_or("nfs, san or local")?;
        self.retime();
        Ok(())
    }
}

impl Default for HeartbeatSettings {
    fn default() -> Self {
        HeartbeatSettings {
            dir: None,
            node: None,
            cluster: "hamon".to_string(),
            nodes: Vec::new(),
            preferred: false,
            timing: crate::timing::Timing::nfs_default(),
            profile: "nfs",
            timing_keys: [None; 6],
            state_dir: None,
            start_cmd: None,
            stop_cmd: None,
            app_port: None,
            app_probe_fail: 3,
            incident_cmd: None,
            log_file: None,
            app_log: None,
            restart_limit: 0,
            watchdog_device: None,
            metrics_listen: None,
            flap_backoff: Some(Duration::from_secs(10)),
            flap_backoff_max: Duration::from_secs(300),
            failure_timeout: Duration::from_secs(900),
            user: None,
            group: None,
            backend: etcd::Backend::File,
            etcd: etcd::EtcdConfig::default(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            host: "127.0.0.1".to_string(),
            port: None,
            log_file: None,
            app_name: String::new(),
            interval: Duration::from_secs(40),
            max_connections: 16,
            max_connections_per_source: 0,
            idle_timeout: Duration::from_millis(30_000),
            first_command_timeout: Duration::from_millis(10_000),
            connection_lifetime: Duration::from_millis(600_000),
            allow: Vec::new(),
            unix_socket: None,
            max_line_bytes: 512,
            stop_timeout: Duration::from_millis(2_000),
            watchdog: None,
            startup_grace: None,
            stale_after: None,
            agent_degraded_weight: 50,
            check_defaults: CheckOptions::default(),
            counters: BTreeMap::new(),
            heartbeat: HeartbeatSettings::default(),
        }
    }
}

impl Config {
    /// Applies one setting; same keys and values as properties files. On error nothing changes.
    ///
    /// Unlike in files, keys outside `ha.`/`mz.ha.` are rejected as unknown. Key and value are
    /// trimmed; keys are case-sensitive.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let mut next = self.clone();
        keys::apply(&mut next, key.trim(), value.trim())?;
        *self = next;
        Ok(())
    }

    /// Parses a Java `.properties` text and applies every `ha.*` and `mz.ha.*` key in it, in
    /// order; other keys are ignored, so an application's shared properties file can be used.
    /// A hamon key given twice is an error naming both lines. On any error nothing changes. `origin` names the source in errors (usually a path).
    pub fn load_str(&mut self, text: &str, origin: &str) -> Result<(), ConfigError> {
        if text.len() > MAX_TEXT_BYTES {
            return Err(too_large().at(origin, None));
        }
        let entries = properties::parse(text).map_err(|error| error.at(origin, None))?;
        let mut next = self.clone();
        // A key given twice in one file is ambiguous: which one did the operator mean?
        let mut first_line: BTreeMap<&str, usize> = BTreeMap::new();
        for entry in entries
            .iter()
            .filter(|entry| keys::in_namespace(&entry.key))
        {
            if let Some(earlier) = first_line.insert(&entry.key, entry.line) {
                let message = format!(
                    "set twice, on line {earlier} and on line {}: remove one",
                    entry.line
                );
                let error = ConfigError::new(ConfigErrorKind::Syntax, Some(&entry.key), message);
                return Err(error.at(origin, Some(entry.line)));
            }
            keys::apply(&mut next, &entry.key, &entry.value)
                .map_err(|error| error.at(origin, Some(entry.line)))?;
        }
        *self = next;
        Ok(())
    }

    /// Applies `(key, value)` pairs, such as a Java `Properties` object holds, like a
    /// properties text: keys outside `ha.`, `mz.ha.` and `hb.` are ignored, keys and values
    /// are trimmed, and on any error nothing changes. The pairs have no order of their own, so
    /// they are applied sorted by key with the `mz.ha.*` aliases first: when a key and its
    /// alias are both given, the `ha.*` name wins. `origin` names the source in errors.
    pub fn load_pairs<'a>(
        &mut self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        origin: &str,
    ) -> Result<(), ConfigError> {
        let mut pairs: Vec<(&str, &str)> = pairs
            .into_iter()
            .map(|(key, value)| (key.trim(), value.trim()))
            .filter(|(key, _)| keys::in_namespace(key))
            .collect();
        pairs.sort_by_key(|&(key, _)| (!key.starts_with("mz."), key));
        let mut next = self.clone();
        for (key, value) in pairs {
            keys::apply(&mut next, key, value).map_err(|error| error.at(origin, None))?;
        }
        *self = next;
        Ok(())
    }

    /// Reads a properties file (UTF-8, at most 1 MiB) and applies it like [`Config::load_str`].
    /// Errors name the path.
    pub fn load_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let origin = path.display().to_string();
        let text = read_text(path).map_err(|error| error.at(&origin, None))?;
        self.load_str(&text, &origin)
    }

    /// The effective settings as `(key, value)` pairs under canonical `ha.*` names, in a fixed
    /// order, for the HA log. Each pair is accepted by [`Config::set`]; an unset port is left
    /// out and 0 stands for an unset optional duration.
    pub fn assignments(&self) -> Vec<(String, String)> {
        keys::assignments(self)
    }

    /// The effective `ha.max_connections_per_source`: 0 stands for half of
    /// `ha.max_connections` (at least 1), and no value exceeds the cap itself.
    pub fn connections_per_source(&self) -> usize {
        let limit = match self.max_connections_per_source {
            0 => self.max_connections / 2,
            n => n,
        };
        limit.clamp(1, self.max_connections.max(1))
    }
}

fn too_large() -> ConfigError {
    let message = format!("larger than 1 MiB ({MAX_TEXT_BYTES} bytes); not a properties file?");
    ConfigError::new(ConfigErrorKind::File, None, message)
}

fn read_text(path: &Path) -> Result<String, ConfigError> {
    let io_error = |error: std::io::Error| {
        ConfigError::new(ConfigErrorKind::File, None, format!("cannot read: {error}"))
    };
    let file = std::fs::File::open(path).map_err(io_error)?;
    let mut bytes = Vec::new();
    // Reads one byte past the cap, so a file that grows or lies about its size is caught too.
    file.take(MAX_TEXT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() > MAX_TEXT_BYTES {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        let mut error = ConfigError::new(
            ConfigErrorKind::Syntax,
            None,
            "not UTF-8 text (save the file as UTF-8, or write \\uXXXX escapes)".to_string(),
        );
        error.line = Some(valid.iter().filter(|&&b| b == b'\n').count() + 1);
        error
    })
}
