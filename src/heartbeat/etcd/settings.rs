//! The etcd backend's settings from `hb.*` (`hb.backend=etcd`): checked as a whole when the
//! node starts, every error naming its key. `hb.dir` is not used; `hb.state_dir` keeps the
//! epoch file as with the file backend.

use std::fs;
#[cfg(test)]
use std::time::Duration;

use super::api::Settings;
use super::backend::EtcdSettings;
use super::http::Endpoint;
use super::keys::Keys;
use super::timing::EtcdTiming;
use super::tls::TlsFiles;
use crate::config::HeartbeatSettings;
use crate::heartbeat::settings::{NodeError, node_and_state_dir};
use crate::heartbeat::timing::{Timing, TimingError};

/// The keys that make up the etcd timing, for the timing check's refusals.
const TIMING_KEYS: &str = "hb.etcd.period_ms, hb.etcd.io_timeout_ms, hb.etcd.kill_budget_ms, \
                           hb.etcd.lease_ttl_s, hb.etcd.election_timeout_ms, \
                           hb.etcd.heartbeat_interval_ms";

/// A password file larger than this is not a password.
const MAX_PASSWORD: u64 = 4096;

impl EtcdSettings {
    pub fn from_config(hb: &HeartbeatSettings) -> Result<EtcdSettings, NodeError> {
        let bad = |m: String| NodeError::Config(m);
        let missing = |key: &str| bad(format!("{key} is not set (hb.backend=etcd)"));
        let (node, state_dir) = node_and_state_dir(hb, missing)?;
        let e = &hb.etcd;
        if e.endpoints.is_empty() {
            return Err(missing("hb.etcd.endpoints"));
        }
        for url in &e.endpoints {
            let ep = Endpoint::parse(url).map_err(|m| bad(format!("hb.etcd.endpoints: {m}")))?;
            if ep.tls && e.ca_file.is_none() {
                return Err(bad(format!(
                    "hb.etcd.endpoints: {url} is https:// but hb.etcd.ca_file is not set"
                )));
            }
        }
        if e.cert_file.is_some() != e.key_file.is_some() {
            return Err(bad(
                "hb.etcd.cert_file and hb.etcd.key_file must be set together".to_string(),
            ));
        }
        let user = match (&e.user, &e.password_file) {
            (None, None) => None,
            (Some(u), Some(p)) => Some((u.clone(), password(p)?)),
            (Some(_), None) => return Err(missing("hb.etcd.password_file")),
            (None, Some(_)) => return Err(missing("hb.etcd.user")),
        };
        let timing = EtcdTiming {
            period: e.period,
            io_timeout: e.io_timeout,
            lease_ttl: e.lease_ttl,
            kill_budget: e.kill_budget,
            election_timeout: e.election_timeout,
            heartbeat_interval: e.heartbeat_interval,
        };
        timing
            .check()
            .map_err(|t| NodeError::Timing(TimingError(format!("{TIMING_KEYS}: {}", t.0))))?;
        Ok(EtcdSettings {
            node,
            preferred: hb.preferred,
            timing,
            client: Settings {
                endpoints: e.endpoints.clone(),
                tls: TlsFiles {
                    ca_file: e.ca_file.clone(),
                    cert_file: e.cert_file.clone(),
                    key_file: e.key_file.clone(),
                },
                user,
                timeout: e.io_timeout,
            },
            keys: Keys::new(&hb.cluster, e.prefix.as_deref()),
            state_dir,
        })
    }

    /// The node's timing as the daemon reads it: period, I/O timeout and kill budget as
    /// set, the renew deadline F1 of the lease, the failover bound as the takeover time.
    pub fn file_timing(&self) -> Timing {
        let t = &self.timing;
        Timing {
            period: t.period,
            io_timeout: t.io_timeout,
            renew_deadline: t.renew_deadline_for(t.lease_ttl).unwrap_or_default(),
            kill_budget: t.kill_budget,
            takeover: t.failover_bound(),
            confirm: t.period,
        }
    }
}

/// The `hb.etcd.*` lines that give `t`, one `key=value` per line: what `from_config` reads
/// back into the same timing (for tests, benchmarks and generated configurations).
pub fn timing_settings(t: &EtcdTiming) -> String {
    format!(
        "hb.etcd.period_ms={}\nhb.etcd.io_timeout_ms={}\nhb.etcd.lease_ttl_s={}\n\
         hb.etcd.kill_budget_ms={}\nhb.etcd.election_timeout_ms={}\n\
         hb.etcd.heartbeat_interval_ms={}\n",
        t.period.as_millis(),
        t.io_timeout.as_millis(),
        t.lease_ttl.as_secs(),
        t.kill_budget.as_millis(),
        t.election_timeout.as_millis(),
        t.heartbeat_interval.as_millis(),
    )
}

/// The first line of the password file, without its line end.
fn password(path: &std::path::Path) -> Result<String, NodeError> {
    let bad =
        |m: String| NodeError::Config(format!("hb.etcd.password_file {}: {m}", path.display()));
    let len = fs::metadata(path).map_err(|e| bad(e.to_string()))?.len();
    if len > MAX_PASSWORD {
        return Err(bad(format!("{len} bytes: not a password file")));
    }
    let text = fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let pw = text.lines().next().unwrap_or("").to_string();
    if pw.is_empty() {
        return Err(bad("empty".to_string()));
    }
    Ok(pw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let mut c = Config::default();
        for (k, v) in [
            ("hb.backend", "etcd"),
            ("hb.node", "a"),
            ("hb.nodes", "a,b"),
            ("hb.state_dir", "/var/lib/hamon"),
            (
                "hb.etcd.endpoints",
                "http://127.0.0.1:2379, http://[::1]:2379",
            ),
        ]
        .iter()
        .chain(pairs)
        {
            c.set(k, v).unwrap();
        }
        c
    }

    fn err(pairs: &[(&str, &str)]) -> String {
        EtcdSettings::from_config(&config(pairs).heartbeat)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn defaults_are_safe_and_the_prefix_follows_the_cluster() {
        let c = config(&[("hb.cluster", "billing")]);
        let s = EtcdSettings::from_config(&c.heartbeat).unwrap();
        assert_eq!(s.keys.prefix, "/hamon/billing/");
        assert_eq!(s.timing, EtcdTiming::default_profile());
        assert_eq!(s.client.endpoints.len(), 2);
        assert_eq!(s.client.timeout, Duration::from_millis(1500));
        let s = EtcdSettings::from_config(&config(&[("hb.etcd.prefix", "/x/y")]).heartbeat);
        assert_eq!(s.unwrap().keys.prefix, "/x/y/");
    }

    #[test]
    fn timing_settings_read_back_as_the_same_timing() {
        let t = EtcdTiming {
            period: Duration::from_millis(200),
            io_timeout: Duration::from_millis(300),
            lease_ttl: Duration::from_secs(3),
            kill_budget: Duration::from_millis(100),
            election_timeout: Duration::from_millis(500),
            heartbeat_interval: Duration::from_millis(50),
        };
        let mut c = config(&[]);
        for line in timing_settings(&t).lines() {
            let (k, v) = line.split_once('=').unwrap();
            c.set(k, v).unwrap();
        }
        assert_eq!(EtcdSettings::from_config(&c.heartbeat).unwrap().timing, t);
    }

    #[test]
    fn bad_values_are_refused_naming_the_key() {
        let mut c = Config::default();
        for (k, v) in [
            ("hb.backend", "zookeeper"),
            ("hb.etcd.endpoints", "127.0.0.1:2379"),
            ("hb.etcd.endpoints", "http://127.0.0.1"),
            ("hb.etcd.endpoints", "http://127.0.0.1:0"),
            ("hb.etcd.prefix", "no-slash"),
            ("hb.etcd.lease_ttl_s", "1.5"),
            ("hb.etcd.lease_ttl_s", "0"),
            ("hb.etcd.user", "a:b"),
            ("hb.etcd.election_timeout_ms", "-1"),
        ] {
            let e = c.set(k, v).unwrap_err().to_string();
            assert!(e.contains(k), "{k}={v}: {e}");
        }
    }

    #[test]
    fn missing_and_inconsistent_settings_name_their_keys() {
        let mut c = config(&[]);
        c.heartbeat.etcd.endpoints.clear();
        let e = EtcdSettings::from_config(&c.heartbeat)
            .unwrap_err()
            .to_string();
        assert!(e.contains("hb.etcd.endpoints is not set"), "{e}");
        let e = err(&[("hb.etcd.endpoints", "https://127.0.0.1:2379")]);
        assert!(e.contains("hb.etcd.ca_file is not set"), "{e}");
        let e = err(&[("hb.etcd.cert_file", "/c.pem")]);
        assert!(e.contains("hb.etcd.cert_file and hb.etcd.key_file"), "{e}");
        let e = err(&[("hb.etcd.user", "hamon")]);
        assert!(e.contains("hb.etcd.password_file is not set"), "{e}");
        let e = err(&[
            ("hb.etcd.user", "hamon"),
            ("hb.etcd.password_file", "/nonexistent/pw"),
        ]);
        assert!(e.contains("hb.etcd.password_file /nonexistent/pw"), "{e}");
        let e = err(&[("hb.node", "c")]);
        assert!(e.contains("hb.node=c is not one of hb.nodes=a,b"), "{e}");
    }

    #[test]
    fn the_timing_check_refuses_with_keys_and_numbers() {
        let e = err(&[("hb.etcd.kill_budget_ms", "6000")]);
        assert!(e.contains("hb.etcd.kill_budget_ms"), "{e}");
        assert!(e.contains("= 1982 ms"), "{e}");
        let e = err(&[
            ("hb.etcd.election_timeout_ms", "5000"),
            ("hb.etcd.lease_ttl_s", "7"),
        ]);
        assert!(e.contains("below etcd's minimum of 8 s"), "{e}");
        // The same error kind as the file backend's timing check (HB_ERR_TIMING in C).
        let c = config(&[("hb.etcd.kill_budget_ms", "6000")]);
        assert!(matches!(
            EtcdSettings::from_config(&c.heartbeat),
            Err(NodeError::Timing(_))
        ));
    }

    #[test]
    fn the_password_is_the_first_line_of_its_file() {
        let dir = std::env::temp_dir().join(format!("hamon-etcd-pw-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let pw = dir.join("pw");
        fs::write(&pw, "s3cret\n").unwrap();
        let c = config(&[
            ("hb.etcd.user", "hamon"),
            ("hb.etcd.password_file", pw.to_str().unwrap()),
        ]);
        let s = EtcdSettings::from_config(&c.heartbeat).unwrap();
        assert_eq!(s.client.user, Some(("hamon".into(), "s3cret".into())));
        fs::write(&pw, "\n").unwrap();
        let e = EtcdSettings::from_config(&c.heartbeat)
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
