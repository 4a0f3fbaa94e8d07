//! The known keys, one table: per key its name, how a value is applied to [`Config`], and how
//! the effective value is written back as a canonical `ha.*` assignment for the HA log.
//!
//! Adding a key is one entry in [`KEYS`]: `Key::shown` for an `ha.*` key of the monitor server
//! (listed in the HA log, read back by [`Config::set`]), `Key::alias` for a MediationZone name
//! of one (`mz.ha.*`), `Key::daemon` for an `hb.*` key of the heartbeat daemon (not in the
//! monitor server's HA log). The value types are in `values`.

use super::error::{ConfigError, ConfigErrorKind};
use super::etcd::{backend, endpoints, prefix, seconds, user};
use super::typo::nearest;
use super::values::{
    account, allow_list, app_name, boolean, command, count_or_off, device, dir, gate_name, host,
    importance, importance_name, int, interval, interval_text, listen_addr, log_file, millis,
    millis_or_off, ms, ms_or_off, mz_interval, node_list, node_name, optional_port, path_or_empty,
    port, streak, unix_socket,
};
use super::{Cidr, Config, CounterRule};
use crate::name::{MAX_CHECK_NAME, valid_check_name};

/// Marks a gate whose `gate_min` has not been given; no user value can reach it.
pub(super) const GATE_MIN_UNSET: u64 = u64::MAX;
const COUNTER_PREFIX: &str = "ha.counter.";
const COUNTER_FIELDS: [&str; 4] = ["min", "max", "gate", "gate_min"];

/// Applies a value; Err holds what was expected, for the message.
type Apply = fn(&mut Config, &str) -> Result<(), String>;
/// The effective value as `Config::set` accepts it; None leaves the key out.
type Show = fn(&Config) -> Option<String>;

struct Key {
    name: &'static str,
    apply: Apply,
    /// None: not written back (an alias, or a key of the heartbeat daemon).
    show: Option<Show>,
}

impl Key {
    /// An `ha.*` key of the monitor server, written back in the HA log.
    const fn shown(name: &'static str, apply: Apply, show: Show) -> Key {
        Key {
            name,
            apply,
            show: Some(show),
        }
    }

    /// A MediationZone name (`mz.ha.*`): read, written back under its `ha.*` name.
    const fn alias(name: &'static str, apply: Apply) -> Key {
        Key {
            name,
            apply,
            show: None,
        }
    }

    /// An `hb.*` key of the heartbeat daemon: read, not in the monitor server's HA log.
    const fn daemon(name: &'static str, apply: Apply) -> Key {
        Key {
            name,
            apply,
            show: None,
        }
    }
}

/// In the HA log's order. The `mz.ha.*` counter keys set `ha.counter.*` rules, which
/// [`assignments`] writes back after this table.
const KEYS: &[Key] = &[
    Key::shown(
        "ha.enabled",
        |c, v| boolean(v).map(|x| c.enabled = x),
        |c| Some(c.enabled.to_string()),
    ),
    Key::alias("mz.ha.enabled", |c, v| boolean(v).map(|x| c.enabled = x)),
    Key::shown(
        "ha.host",
        |c, v| host(v).map(|x| c.host = x),
        |c| Some(c.host.clone()),
    ),
    Key::alias("mz.ha.host", |c, v| host(v).map(|x| c.host = x)),
    Key::shown(
        "ha.port",
        |c, v| port(v).map(|x| c.port = Some(x)),
        |c| c.port.map(|p| p.to_string()),
    ),
    Key::alias("mz.ha.port", |c, v| optional_port(v).map(|x| c.port = x)),
    Key::shown(
        "ha.log_file",
        |c, v| log_file(v).map(|x| c.log_file = x),
        |c| Some(path_or_empty(c.log_file.as_deref())),
    ),
    Key::alias("mz.ha.log_file", |c, v| log_file(v).map(|x| c.log_file = x)),
    Key::shown(
        "ha.app_name",
        |c, v| app_name(v).map(|x| c.app_name = x),
        |c| Some(c.app_name.clone()),
    ),
    Key::shown(
        "ha.interval",
        |c, v| interval(v).map(|x| c.interval = x),
        |c| Some(interval_text(c.interval)),
    ),
    Key::alias("mz.ha.interval", |c, v| {
        mz_interval(v).map(|x| c.interval = x)
    }),
    Key::shown(
        "ha.max_connections",
        |c, v| int(v, 1, 4096).map(|x| c.max_connections = x as usize),
        |c| Some(c.max_connections.to_string()),
    ),
    Key::shown(
        "ha.max_connections_per_source",
        |c, v| int(v, 0, 4096).map(|x| c.max_connections_per_source = x as usize),
        |c| Some(c.max_connections_per_source.to_string()),
    ),
    Key::shown(
        "ha.max_line_bytes",
        |c, v| int(v, 64, 65536).map(|x| c.max_line_bytes = x as usize),
        |c| Some(c.max_line_bytes.to_string()),
    ),
    Key::shown(
        "ha.idle_timeout_ms",
        |c, v| millis(v).map(|x| c.idle_timeout = x),
        |c| Some(ms(c.idle_timeout)),
    ),
    Key::shown(
        "ha.first_command_timeout_ms",
        |c, v| millis(v).map(|x| c.first_command_timeout = x),
        |c| Some(ms(c.first_command_timeout)),
    ),
    Key::shown(
        "ha.connection_lifetime_ms",
        |c, v| millis(v).map(|x| c.connection_lifetime = x),
        |c| Some(ms(c.connection_lifetime)),
    ),
    Key::shown(
        "ha.allow",
        |c, v| allow_list(v).map(|x| c.allow = x),
        |c| {
            let blocks: Vec<String> = c.allow.iter().map(Cidr::to_string).collect();
            Some(blocks.join(","))
        },
    ),
    Key::shown(
        "ha.unix_socket",
        |c, v| unix_socket(v).map(|x| c.unix_socket = x),
        |c| Some(path_or_empty(c.unix_socket.as_deref())),
    ),
    Key::shown(
        "ha.stop_timeout_ms",
        |c, v| millis(v).map(|x| c.stop_timeout = x),
        |c| Some(ms(c.stop_timeout)),
    ),
    Key::shown(
        "ha.watchdog_ms",
        |c, v| millis_or_off(v).map(|x| c.watchdog = x),
        |c| Some(ms_or_off(c.watchdog)),
    ),
    Key::shown(
        "ha.startup_grace_ms",
        |c, v| millis_or_off(v).map(|x| c.startup_grace = x),
        |c| Some(ms_or_off(c.startup_grace)),
    ),
    Key::shown(
        "ha.stale_ms",
        |c, v| millis_or_off(v).map(|x| c.stale_after = x),
        |c| Some(ms_or_off(c.stale_after)),
    ),
    Key::shown(
        "ha.agent_degraded_weight",
        |c, v| int(v, 0, 100).map(|x| c.agent_degraded_weight = x as u8),
        |c| Some(c.agent_degraded_weight.to_string()),
    ),
    Key::shown(
        "ha.check.interval_ms",
        |c, v| millis(v).map(|x| c.check_defaults.interval = x),
        |c| Some(ms(c.check_defaults.interval)),
    ),
    Key::shown(
        "ha.check.timeout_ms",
        |c, v| millis(v).map(|x| c.check_defaults.timeout = x),
        |c| Some(ms(c.check_defaults.timeout)),
    ),
    Key::shown(
        "ha.check.rise",
        |c, v| streak(v).map(|x| c.check_defaults.rise = x),
        |c| Some(c.check_defaults.rise.to_string()),
    ),
    Key::shown(
        "ha.check.fall",
        |c, v| streak(v).map(|x| c.check_defaults.fall = x),
        |c| Some(c.check_defaults.fall.to_string()),
    ),
    Key::shown(
        "ha.check.importance",
        |c, v| importance(v).map(|x| c.check_defaults.importance = x),
        |c| Some(importance_name(c.check_defaults.importance).to_string()),
    ),
    Key::shown(
        "ha.check.latency_warn_ms",
        |c, v| millis_or_off(v).map(|x| c.check_defaults.latency_warn = x),
        |c| Some(ms_or_off(c.check_defaults.latency_warn)),
    ),
    Key::shown(
        "ha.check.latency_crit_ms",
        |c, v| millis_or_off(v).map(|x| c.check_defaults.latency_crit = x),
        |c| Some(ms_or_off(c.check_defaults.latency_crit)),
    ),
    Key::alias("mz.ha.min_number_of_transactions", |c, v| {
        set_counter(c, "transactions", "min", v)
    }),
    Key::alias("mz.ha.max_aborts", |c, v| {
        set_counter(c, "aborts", "max", v)
    }),
    Key::alias("mz.ha.min_activations", |c, v| {
        set_counter(c, "activations", "min", v)
    }),
    Key::alias("mz.ha.min_activations_for_aborts", |c, v| {
        let gate = count_or_off(v)?.map(|min| ("activations".to_string(), min));
        update_counter(c, "aborts", |rule| rule.gate = gate);
        Ok(())
    }),
    Key::alias("mz.ha.min_consumes", |c, v| {
        set_counter(c, "consumes", "min", v)
    }),
    Key::daemon("hb.dir", |c, v| dir(v).map(|x| c.heartbeat.dir = Some(x))),
    Key::daemon("hb.state_dir", |c, v| {
        dir(v).map(|x| c.heartbeat.state_dir = Some(x))
    }),
    Key::daemon("hb.node", |c, v| {
        node_name(v).map(|x| c.heartbeat.node = Some(x))
    }),
    Key::daemon("hb.cluster", |c, v| {
        node_name(v).map(|x| c.heartbeat.cluster = x)
    }),
    Key::daemon("hb.nodes", |c, v| {
        node_list(v).map(|x| c.heartbeat.nodes = x)
    }),
    Key::daemon("hb.preferred", |c, v| {
        boolean(v).map(|x| c.heartbeat.preferred = x)
    }),
    Key::daemon("hb.profile", |c, v| c.heartbeat.set_profile(v)),
    Key::daemon("hb.period_ms", |c, v| {
        millis(v).map(|x| c.heartbeat.set_timing_key(0, x))
    }),
    Key::daemon("hb.io_timeout_ms", |c, v| {
        millis(v).map(|x| c.heartbeat.set_timing_key(1, x))
    }),
    Key::daemon("hb.renew_deadline_ms", |c, v| {
        millis(v).map(|x| c.heartbeat.set_timing_key(2, x))
    }),
    Key::daemon("hb.kill_budget_ms", |c, v| {
        millis(v).map(|x| c.heartbeat.set_timing_key(3, x))
    }),
    Key::daemon("hb.takeover_ms", |c, v| {
        millis(v).map(|x| c.heartbeat.set_timing_key(4, x))
    }),
    Key::daemon("hb.confirm_ms", |c, v| {
        millis(v).map(|x| c.heartbeat.set_timing_key(5, x))
    }),
    Key::daemon("hb.start_cmd", |c, v| {
        command(v, false).map(|x| c.heartbeat.start_cmd = x)
    }),
    Key::daemon("hb.stop_cmd", |c, v| {
        command(v, true).map(|x| c.heartbeat.stop_cmd = x)
    }),
    Key::daemon("hb.incident_cmd", |c, v| {
        command(v, true).map(|x| c.heartbeat.incident_cmd = x)
    }),
    Key::daemon("hb.app_port", |c, v| {
        optional_port(v).map(|x| c.heartbeat.app_port = x.filter(|&p| p != 0))
    }),
    Key::daemon("hb.app_probe_fail", |c, v| {
        int(v, 1, 100).map(|x| c.heartbeat.app_probe_fail = x as u32)
    }),
    Key::daemon("hb.restart_limit", |c, v| {
        int(v, 0, 100).map(|x| c.heartbeat.restart_limit = x as u32)
    }),
    Key::daemon("hb.flap_backoff_ms", |c, v| {
        millis_or_off(v).map(|x| c.heartbeat.flap_backoff = x)
    }),
    Key::daemon("hb.flap_backoff_max_ms", |c, v| {
        millis(v).map(|x| c.heartbeat.flap_backoff_max = x)
    }),
    Key::daemon("hb.failure_timeout_ms", |c, v| {
        millis(v).map(|x| c.heartbeat.failure_timeout = x)
    }),
    Key::daemon("hb.user", |c, v| account(v).map(|x| c.heartbeat.user = x)),
    Key::daemon("hb.group", |c, v| account(v).map(|x| c.heartbeat.group = x)),
    Key::daemon("hb.log_file", |c, v| {
        log_file(v).map(|x| c.heartbeat.log_file = x)
    }),
    Key::daemon("hb.app_log", |c, v| {
        log_file(v).map(|x| c.heartbeat.app_log = x)
    }),
    Key::daemon("hb.metrics_listen", |c, v| {
        listen_addr(v).map(|x| c.heartbeat.metrics_listen = x)
    }),
    Key::daemon("hb.watchdog_device", |c, v| {
        device(v).map(|x| c.heartbeat.watchdog_device = x)
    }),
    Key::daemon("hb.backend", |c, v| {
        backend(v).map(|x| c.heartbeat.backend = x)
    }),
    Key::daemon("hb.etcd.endpoints", |c, v| {
        endpoints(v).map(|x| c.heartbeat.etcd.endpoints = x)
    }),
    Key::daemon("hb.etcd.prefix", |c, v| {
        prefix(v).map(|x| c.heartbeat.etcd.prefix = x)
    }),
    Key::daemon("hb.etcd.ca_file", |c, v| {
        log_file(v).map(|x| c.heartbeat.etcd.ca_file = x)
    }),
    Key::daemon("hb.etcd.cert_file", |c, v| {
        log_file(v).map(|x| c.heartbeat.etcd.cert_file = x)
    }),
    Key::daemon("hb.etcd.key_file", |c, v| {
        log_file(v).map(|x| c.heartbeat.etcd.key_file = x)
    }),
    Key::daemon("hb.etcd.user", |c, v| {
        user(v).map(|x| c.heartbeat.etcd.user = x)
    }),
    Key::daemon("hb.etcd.password_file", |c, v| {
        log_file(v).map(|x| c.heartbeat.etcd.password_file = x)
    }),
    Key::daemon("hb.etcd.period_ms", |c, v| {
        millis(v).map(|x| c.heartbeat.etcd.period = x)
    }),
    Key::daemon("hb.etcd.io_timeout_ms", |c, v| {
        millis(v).map(|x| c.heartbeat.etcd.io_timeout = x)
    }),
    Key::daemon("hb.etcd.kill_budget_ms", |c, v| {
        millis(v).map(|x| c.heartbeat.etcd.kill_budget = x)
    }),
    Key::daemon("hb.etcd.lease_ttl_s", |c, v| {
        seconds(v).map(|x| c.heartbeat.etcd.lease_ttl = x)
    }),
    Key::daemon("hb.etcd.election_timeout_ms", |c, v| {
        millis(v).map(|x| c.heartbeat.etcd.election_timeout = x)
    }),
    Key::daemon("hb.etcd.heartbeat_interval_ms", |c, v| {
        millis(v).map(|x| c.heartbeat.etcd.heartbeat_interval = x)
    }),
];

/// Whether a properties key belongs to hamon. Wrongly cased `HA.` keys count, so a typo is
/// reported instead of silently ignored.
pub(super) fn in_namespace(key: &str) -> bool {
    let starts = |prefix: &str| {
        key.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    starts("ha.") || starts("mz.ha.") || starts("hb.")
}

/// Applies one trimmed setting. May leave `config` partly changed on error; callers work on
/// a copy.
pub(super) fn apply(config: &mut Config, key: &str, value: &str) -> Result<(), ConfigError> {
    if let Some(known) = KEYS.iter().find(|known| known.name == key) {
        return (known.apply)(config, value)
            .map_err(|expected| ConfigError::bad_value(key, value, &expected));
    }
    if let Some(rest) = key.strip_prefix(COUNTER_PREFIX) {
        let (name, field) = counter_key(key, rest)?;
        return set_counter(config, name, field, value)
            .map_err(|expected| ConfigError::bad_value(key, value, &expected));
    }
    let mut message = "unknown key".to_string();
    if !in_namespace(key) {
        message.push_str(" (hamon keys start with ha., mz.ha. or hb.)");
    }
    if let Some(suggestion) = suggest(key) {
        message = format!("unknown key (did you mean {suggestion}?)");
    }
    Err(ConfigError::new(
        ConfigErrorKind::UnknownKey,
        Some(key),
        message,
    ))
}

/// Splits `NAME.FIELD` after `ha.counter.`; the field is the last dot-separated part.
fn counter_key<'a>(key: &str, rest: &'a str) -> Result<(&'a str, &'a str), ConfigError> {
    let unknown = |message: String| {
        Err(ConfigError::new(
            ConfigErrorKind::UnknownKey,
            Some(key),
            message,
        ))
    };
    let Some((name, field)) = rest.rsplit_once('.') else {
        return unknown(
            "unknown key (expected ha.counter.NAME.min, .max, .gate or .gate_min)".into(),
        );
    };
    if !valid_check_name(name) {
        return unknown(format!(
            "unknown key: bad counter name {}: expected 1-{MAX_CHECK_NAME} characters \
             A-Z a-z 0-9 _ . -",
            super::error::quote(name)
        ));
    }
    if !COUNTER_FIELDS.contains(&field) {
        let message = match nearest(field, COUNTER_FIELDS.iter().copied()) {
            Some(near) => format!("unknown key (did you mean {COUNTER_PREFIX}{name}.{near}?)"),
            None => "unknown key (expected ha.counter.NAME.min, .max, .gate or .gate_min)".into(),
        };
        return unknown(message);
    }
    Ok((name, field))
}

fn set_counter(config: &mut Config, name: &str, field: &str, value: &str) -> Result<(), String> {
    match field {
        "min" => {
            let min = count_or_off(value)?;
            update_counter(config, name, |rule| rule.min = min);
        }
        "max" => {
            let max = count_or_off(value)?;
            update_counter(config, name, |rule| rule.max = max);
        }
        "gate" => {
            let gate = gate_name(value)?;
            update_counter(config, name, |rule| {
                rule.gate = gate.map(|gate| {
                    let min = rule.gate.take().map_or(GATE_MIN_UNSET, |(_, min)| min);
                    (gate, min)
                });
            });
        }
        "gate_min" => {
            let min = count_or_off(value)?;
            update_counter(config, name, |rule| {
                rule.gate = min.map(|min| (rule.gate.take().unwrap_or_default().0, min));
            });
        }
        _ => unreachable!("counter_key admits only COUNTER_FIELDS"),
    }
    Ok(())
}

/// Changes one rule, dropping it when nothing is left.
fn update_counter(config: &mut Config, name: &str, change: impl FnOnce(&mut CounterRule)) {
    let rule = config.counters.entry(name.to_string()).or_default();
    change(rule);
    if *rule == CounterRule::default() {
        config.counters.remove(name);
    }
}

/// The canonical key nearest to an unknown one, if it is close enough to be a typo.
fn suggest(key: &str) -> Option<String> {
    let prefixed = format!("ha.{key}");
    if KEYS.iter().any(|known| known.name == prefixed) {
        return Some(prefixed);
    }
    nearest(key, KEYS.iter().map(|known| known.name)).map(str::to_string)
}

/// The effective settings under canonical names; see [`Config::assignments`].
pub(super) fn assignments(config: &Config) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = KEYS
        .iter()
        .filter_map(|key| Some((key.name.to_string(), (key.show?)(config)?)))
        .collect();
    for (name, rule) in &config.counters {
        let key = |field: &str| format!("{COUNTER_PREFIX}{name}.{field}");
        if let Some(min) = rule.min {
            out.push((key("min"), min.to_string()));
        }
        if let Some(max) = rule.max {
            out.push((key("max"), max.to_string()));
        }
        if let Some((gate, gate_min)) = &rule.gate {
            // A half-given gate is listed as given; validate_for_start reports the rest.
            if !gate.is_empty() {
                out.push((key("gate"), gate.clone()));
            }
            if *gate_min != GATE_MIN_UNSET {
                out.push((key("gate_min"), gate_min.to_string()));
            }
        }
    }
    out
}

#[cfg(test)]
pub(super) fn known_keys() -> impl Iterator<Item = &'static str> {
    KEYS.iter().map(|known| known.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_is_ha_and_mz_ha_whatever_the_case() {
        assert!(in_namespace("ha.port"));
        assert!(in_namespace("mz.ha.port"));
        assert!(in_namespace("HA.port"));
        assert!(!in_namespace("mz.port"));
        assert!(!in_namespace("ha"));
        assert!(!in_namespace("hazard.level"));
        assert!(!in_namespace("pico.name"));
    }

    #[test]
    fn exactly_the_ha_keys_are_written_back() {
        for key in KEYS {
            assert_eq!(
                key.show.is_some(),
                key.name.starts_with("ha."),
                "{}",
                key.name
            );
        }
    }
}
