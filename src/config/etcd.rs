//! The `hb.backend` and `hb.etcd.*` settings: which store decides the leases, and how the
//! etcd backend reaches its cluster. Plain data here; the heartbeat checks them as a whole
//! (`heartbeat::etcd::settings`).

use std::path::PathBuf;
use std::time::Duration;

/// `hb.backend`: where leases are decided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// Records in the shared directory `hb.dir`.
    #[default]
    File,
    /// Leases and a leader key in an etcd cluster (`hb.etcd.*`).
    Etcd,
}

/// The `hb.etcd.*` settings. Timing defaults: etcd's default election timeout (1000 ms) and
/// heartbeat (100 ms), a 10 s lease renewed every second: failover within 20.5 s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdConfig {
    /// `hb.etcd.endpoints`: `http://` or `https://` host:port, comma-separated.
    pub endpoints: Vec<String>,
    /// `hb.etcd.prefix`: the cluster's keys (default `/hamon/<hb.cluster>/`).
    pub prefix: Option<String>,
    /// `hb.etcd.ca_file`, `hb.etcd.cert_file`, `hb.etcd.key_file`: PEM files for TLS.
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// `hb.etcd.user` and `hb.etcd.password_file`: etcd user authentication.
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    /// `hb.etcd.period_ms`: lease keepalive and read period.
    pub period: Duration,
    /// `hb.etcd.io_timeout_ms`: one etcd request, every endpoint tried included.
    pub io_timeout: Duration,
    /// `hb.etcd.kill_budget_ms`: from stopping the application to it being gone.
    pub kill_budget: Duration,
    /// `hb.etcd.lease_ttl_s`: each node's lease, whole seconds.
    pub lease_ttl: Duration,
    /// `hb.etcd.election_timeout_ms` and `hb.etcd.heartbeat_interval_ms`: the etcd cluster's
    /// own `--election-timeout` and `--heartbeat-interval`, for the timing check.
    pub election_timeout: Duration,
    pub heartbeat_interval: Duration,
}

impl Default for EtcdConfig {
    fn default() -> Self {
        EtcdConfig {
            endpoints: Vec::new(),
            prefix: None,
            ca_file: None,
            cert_file: None,
            key_file: None,
            user: None,
            password_file: None,
            period: Duration::from_millis(1000),
            io_timeout: Duration::from_millis(1500),
            kill_budget: Duration::from_secs(3),
            lease_ttl: Duration::from_secs(10),
            election_timeout: Duration::from_millis(1000),
            heartbeat_interval: Duration::from_millis(100),
        }
    }
}

pub(super) fn backend(value: &str) -> Result<Backend, String> {
    match value {
        "file" => Ok(Backend::File),
        "etcd" => Ok(Backend::Etcd),
        _ => Err("file or etcd".to_string()),
    }
}

/// Comma-separated `http://host:port` or `https://host:port`; the address is checked in
/// full when the node starts.
pub(super) fn endpoints(value: &str) -> Result<Vec<String>, String> {
    let list: Vec<String> = value.split(',').map(|e| e.trim().to_string()).collect();
    let ok = |e: &String| {
        let rest = e
            .strip_prefix("http://")
            .or_else(|| e.strip_prefix("https://"));
        rest.is_some_and(|r| {
            r.rsplit_once(':').is_some_and(|(h, p)| {
                !h.is_empty() && p.trim_end_matches('/').parse::<u16>().is_ok_and(|p| p != 0)
            })
        })
    };
    if list.len() > 16 || !list.iter().all(ok) {
        return Err(
            "http://host:port or https://host:port, comma-separated (at most 16)".to_string(),
        );
    }
    Ok(list)
}

/// A key prefix: printable ASCII without spaces, starting with `/`.
pub(super) fn prefix(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    if !value.starts_with('/') || value.len() > 200 || !value.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err("a key prefix starting with /, printable ASCII, no spaces".to_string());
    }
    Ok(Some(value.to_string()))
}

/// An etcd user name; empty for none.
pub(super) fn user(value: &str) -> Result<Option<String>, String> {
    if value.len() > 128 || value.chars().any(|c| c.is_control() || c == ':') {
        return Err("a user name without control characters or ':', or empty for none".to_string());
    }
    Ok((!value.is_empty()).then(|| value.to_string()))
}

/// Whole seconds, 1 to 3600.
pub(super) fn seconds(value: &str) -> Result<Duration, String> {
    let expected = || "whole seconds from 1 to 3600".to_string();
    let n: u64 = value
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| value.parse().ok())
        .flatten()
        .ok_or_else(expected)?;
    if !(1..=3600).contains(&n) {
        return Err(expected());
    }
    Ok(Duration::from_secs(n))
}
