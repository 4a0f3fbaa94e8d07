//! Checks that need the whole configuration, run before a server starts.

use std::net::IpAddr;

use super::error::{ConfigError, ConfigErrorKind};
use super::keys::{self, GATE_MIN_UNSET};
use super::{CheckOptionsFault, Config};

impl Config {
    /// Checks what a server needs before it starts: `ha.port` is set, `ha.host` is an IP
    /// address or host name, every counter gate names both its counter and its count, a
    /// counter's min is not above its max, and the check latency warning is below the
    /// critical latency.
    ///
    /// Fields set directly from Rust are held to the same ranges as [`Config::set`].
    pub fn validate_for_start(&self) -> Result<(), ConfigError> {
        if self.port.is_none() {
            return Err(ConfigError::missing(
                "ha.port",
                "ha.port is not set".to_string(),
            ));
        }
        self.check_ranges()?;
        if !valid_host(&self.host) {
            return Err(ConfigError::bad_value(
                "ha.host",
                &self.host,
                "an IP address or host name",
            ));
        }
        for (name, rule) in &self.counters {
            let key = |field: &str| format!("ha.counter.{name}.{field}");
            if let Some((gate, gate_min)) = &rule.gate {
                if gate.is_empty() {
                    let sentence = format!("{} is set but {} is not", key("gate_min"), key("gate"));
                    return Err(ConfigError::missing(&key("gate"), sentence));
                }
                if *gate_min == GATE_MIN_UNSET {
                    let sentence = format!("{} is set but {} is not", key("gate"), key("gate_min"));
                    return Err(ConfigError::missing(&key("gate_min"), sentence));
                }
            }
            if let (Some(min), Some(max)) = (rule.min, rule.max)
                && min > max
            {
                let message = format!(
                    "bad value \"{min}\": above {} ({max}), so the rule always fails",
                    key("max")
                );
                return Err(ConfigError::new(
                    ConfigErrorKind::BadValue,
                    Some(&key("min")),
                    message,
                ));
            }
        }
        // The ranges are the keys' own (check_ranges above); what is left is the order.
        let check = &self.check_defaults;
        if let (Err(CheckOptionsFault::LatencyOrder), Some(warn), Some(crit)) =
            (check.check(), check.latency_warn, check.latency_crit)
        {
            let message = format!(
                "bad value \"{}\": not below ha.check.latency_crit_ms ({}), so it never warns",
                warn.as_millis(),
                crit.as_millis()
            );
            return Err(ConfigError::new(
                ConfigErrorKind::BadValue,
                Some("ha.check.latency_warn_ms"),
                message,
            ));
        }
        Ok(())
    }

    /// Feeds every effective setting back through the key parsers, so a field set from Rust
    /// outside its range (a zero timeout, a weight of 200) is caught as if it came from a file.
    fn check_ranges(&self) -> Result<(), ConfigError> {
        let optional = [
            ("ha.watchdog_ms", self.watchdog),
            ("ha.startup_grace_ms", self.startup_grace),
            ("ha.stale_ms", self.stale_after),
            ("ha.check.latency_warn_ms", self.check_defaults.latency_warn),
            ("ha.check.latency_crit_ms", self.check_defaults.latency_crit),
        ];
        for (key, duration) in optional {
            // Below 1 ms would be written as 0, which reads as off.
            if let Some(duration) = duration.filter(|d| d.as_millis() == 0) {
                let shown = format!("{duration:?}");
                return Err(ConfigError::bad_value(
                    key,
                    &shown,
                    "at least 1 ms, or None",
                ));
            }
        }
        let mut scratch = Config::default();
        for (key, value) in self.assignments() {
            keys::apply(&mut scratch, &key, &value)?;
        }
        Ok(())
    }
}

/// An IP address, or a host name of dot-separated labels of letters, digits and inner hyphens
/// (RFC 1123) whose last label is not all digits, so a mistyped IPv4 address is not taken for
/// a name.
fn valid_host(host: &str) -> bool {
    if host.parse::<IpAddr>().is_ok() {
        return true;
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let last_is_numeric = name
        .rsplit('.')
        .next()
        .is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()));
    name.split('.').all(label_ok) && !last_is_numeric
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for good in [
            "127.0.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fe80::1",
            "localhost",
            "db-1.example.com",
            "example.com.",
            "a1",
        ] {
            assert!(valid_host(good), "{good}");
        }
        for bad in [
            "",
            "1.2.3.999",
            "123",
            "-a.com",
            "a-.com",
            "a..b",
            "a_b",
            "[::1]",
            "host:80",
            "a.b c",
            &"a".repeat(64),
        ] {
            assert!(!valid_host(bad), "{bad}");
        }
    }
}
