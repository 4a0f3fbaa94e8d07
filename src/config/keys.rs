//! The known keys: how each value is parsed into [`Config`], and how the effective
//! settings are written back as canonical `ha.*` assignments.

use std::path::PathBuf;
use std::time::Duration;

use super::error::{ConfigError, ConfigErrorKind};
use super::{Cidr, Config, CounterRule, Importance};

/// Longest accepted millisecond setting: one day.
const DAY_MS: u64 = 86_400_000;
/// MediationZone never uses a counter window shorter than this.
const MZ_MIN_INTERVAL_SECS: u64 = 40;
/// Counters travel as signed 64-bit integers through the C ABI.
const MAX_COUNT: u64 = i64::MAX as u64;
/// Marks a gate whose `gate_min` has not been given; no user value can reach it.
pub(super) const GATE_MIN_UNSET: u64 = u64::MAX;
const COUNTER_PREFIX: &str = "ha.counter.";
const COUNTER_FIELDS: [&str; 4] = ["min", "max", "gate", "gate_min"];

/// Err holds what was expected, for the message.
type Apply = fn(&mut Config, &str) -> Result<(), String>;

struct Key {
    name: &'static str,
    apply: Apply,
}

const KEYS: &[Key] = &[
    Key {
        name: "ha.enabled",
        apply: |c, v| boolean(v).map(|x| c.enabled = x),
    },
    Key {
        name: "mz.ha.enabled",
        apply: |c, v| boolean(v).map(|x| c.enabled = x),
    },
    Key {
        name: "ha.host",
        apply: |c, v| host(v).map(|x| c.host = x),
    },
    Key {
        name: "mz.ha.host",
        apply: |c, v| host(v).map(|x| c.host = x),
    },
    Key {
        name: "ha.port",
        apply: |c, v| port(v).map(|x| c.port = Some(x)),
    },
    Key {
        name: "mz.ha.port",
        apply: |c, v| optional_port(v).map(|x| c.port = x),
    },
    Key {
        name: "ha.log_file",
        apply: |c, v| log_file(v).map(|x| c.log_file = x),
    },
    Key {
        name: "mz.ha.log_file",
        apply: |c, v| log_file(v).map(|x| c.log_file = x),
    },
    Key {
        name: "ha.app_name",
        apply: |c, v| app_name(v).map(|x| c.app_name = x),
    },
    Key {
        name: "ha.interval",
        apply: |c, v| interval(v).map(|x| c.interval = x),
    },
    Key {
        name: "mz.ha.interval",
        apply: |c, v| mz_interval(v).map(|x| c.interval = x),
    },
    Key {
        name: "ha.max_connections",
        apply: |c, v| int(v, 1, 4096).map(|x| c.max_connections = x as usize),
    },
    Key {
        name: "ha.max_connections_per_source",
        apply: |c, v| int(v, 0, 4096).map(|x| c.max_connections_per_source = x as usize),
    },
    Key {
        name: "ha.first_command_timeout_ms",
        apply: |c, v| millis(v).map(|x| c.first_command_timeout = x),
    },
    Key {
        name: "ha.connection_lifetime_ms",
        apply: |c, v| millis(v).map(|x| c.connection_lifetime = x),
    },
    Key {
        name: "ha.allow",
        apply: |c, v| allow_list(v).map(|x| c.allow = x),
    },
    Key {
        name: "ha.unix_socket",
        apply: |c, v| unix_socket(v).map(|x| c.unix_socket = x),
    },
    Key {
        name: "ha.max_line_bytes",
        apply: |c, v| int(v, 64, 65536).map(|x| c.max_line_bytes = x as usize),
    },
    Key {
        name: "ha.idle_timeout_ms",
        apply: |c, v| millis(v).map(|x| c.idle_timeout = x),
    },
    Key {
        name: "ha.stop_timeout_ms",
        apply: |c, v| millis(v).map(|x| c.stop_timeout = x),
    },
    Key {
        name: "ha.watchdog_ms",
        apply: |c, v| millis_or_off(v).map(|x| c.watchdog = x),
    },
    Key {
        name: "ha.startup_grace_ms",
        apply: |c, v| millis_or_off(v).map(|x| c.startup_grace = x),
    },
    Key {
        name: "ha.stale_ms",
        apply: |c, v| millis_or_off(v).map(|x| c.stale_after = x),
    },
    Key {
        name: "ha.agent_degraded_weight",
        apply: |c, v| int(v, 0, 100).map(|x| c.agent_degraded_weight = x as u8),
    },
    Key {
        name: "ha.check.interval_ms",
        apply: |c, v| millis(v).map(|x| c.check_defaults.interval = x),
    },
    Key {
        name: "ha.check.timeout_ms",
        apply: |c, v| millis(v).map(|x| c.check_defaults.timeout = x),
    },
    Key {
        name: "ha.check.rise",
        apply: |c, v| int(v, 1, 100).map(|x| c.check_defaults.rise = x as u32),
    },
    Key {
        name: "ha.check.fall",
        apply: |c, v| int(v, 1, 100).map(|x| c.check_defaults.fall = x as u32),
    },
    Key {
        name: "ha.check.importance",
        apply: |c, v| importance(v).map(|x| c.check_defaults.importance = x),
    },
    Key {
        name: "ha.check.latency_warn_ms",
        apply: |c, v| millis_or_off(v).map(|x| c.check_defaults.latency_warn = x),
    },
    Key {
        name: "ha.check.latency_crit_ms",
        apply: |c, v| millis_or_off(v).map(|x| c.check_defaults.latency_crit = x),
    },
    Key {
        name: "mz.ha.min_number_of_transactions",
        apply: |c, v| set_counter(c, "transactions", "min", v),
    },
    Key {
        name: "mz.ha.max_aborts",
        apply: |c, v| set_counter(c, "aborts", "max", v),
    },
    Key {
        name: "mz.ha.min_activations",
        apply: |c, v| set_counter(c, "activations", "min", v),
    },
    Key {
        name: "mz.ha.min_activations_for_aborts",
        apply: |c, v| {
            let gate = count_or_off(v)?.map(|min| ("activations".to_string(), min));
            update_counter(c, "aborts", |rule| rule.gate = gate);
            Ok(())
        },
    },
    Key {
        name: "mz.ha.min_consumes",
        apply: |c, v| set_counter(c, "consumes", "min", v),
    },
    Key {
        name: "hb.dir",
        apply: |c, v| dir(v).map(|x| c.heartbeat.dir = Some(x)),
    },
    Key {
        name: "hb.state_dir",
        apply: |c, v| dir(v).map(|x| c.heartbeat.state_dir = Some(x)),
    },
    Key {
        name: "hb.node",
        apply: |c, v| node_name(v).map(|x| c.heartbeat.node = Some(x)),
    },
    Key {
        name: "hb.cluster",
        apply: |c, v| node_name(v).map(|x| c.heartbeat.cluster = x),
    },
    Key {
        name: "hb.nodes",
        apply: |c, v| node_list(v).map(|x| c.heartbeat.nodes = x),
    },
    Key {
        name: "hb.preferred",
        apply: |c, v| boolean(v).map(|x| c.heartbeat.preferred = x),
    },
    Key {
        name: "hb.profile",
        apply: |c, v| c.heartbeat.set_profile(v),
    },
    Key {
        name: "hb.period_ms",
        apply: |c, v| millis(v).map(|x| c.heartbeat.set_timing_key(0, x)),
    },
    Key {
        name: "hb.io_timeout_ms",
        apply: |c, v| millis(v).map(|x| c.heartbeat.set_timing_key(1, x)),
    },
    Key {
        name: "hb.renew_deadline_ms",
        apply: |c, v| millis(v).map(|x| c.heartbeat.set_timing_key(2, x)),
    },
    Key {
        name: "hb.kill_budget_ms",
        apply: |c, v| millis(v).map(|x| c.heartbeat.set_timing_key(3, x)),
    },
    Key {
        name: "hb.takeover_ms",
        apply: |c, v| millis(v).map(|x| c.heartbeat.set_timing_key(4, x)),
    },
    Key {
        name: "hb.confirm_ms",
        apply: |c, v| millis(v).map(|x| c.heartbeat.set_timing_key(5, x)),
    },
    Key {
        name: "hb.start_cmd",
        apply: |c, v| command(v, false).map(|x| c.heartbeat.start_cmd = x),
    },
    Key {
        name: "hb.stop_cmd",
        apply: |c, v| command(v, true).map(|x| c.heartbeat.stop_cmd = x),
    },
    Key {
        name: "hb.incident_cmd",
        apply: |c, v| command(v, true).map(|x| c.heartbeat.incident_cmd = x),
    },
    Key {
        name: "hb.app_port",
        apply: |c, v| optional_port(v).map(|x| c.heartbeat.app_port = x.filter(|&p| p != 0)),
    },
    Key {
        name: "hb.app_probe_fail",
        apply: |c, v| int(v, 1, 100).map(|x| c.heartbeat.app_probe_fail = x as u32),
    },
    Key {
        name: "hb.restart_limit",
        apply: |c, v| int(v, 0, 100).map(|x| c.heartbeat.restart_limit = x as u32),
    },
    Key {
        name: "hb.log_file",
        apply: |c, v| log_file(v).map(|x| c.heartbeat.log_file = x),
    },
    Key {
        name: "hb.app_log",
        apply: |c, v| log_file(v).map(|x| c.heartbeat.app_log = x),
    },
    Key {
        name: "hb.watchdog_device",
        apply: |c, v| device(v).map(|x| c.heartbeat.watchdog_device = x),
    },
];

/// A shell command line (run with `/bin/sh -c`); empty means none where `optional`.
fn command(value: &str, optional: bool) -> Result<Option<String>, String> {
    if value.contains('\0') || (value.is_empty() && !optional) {
        return Err(if optional {
            "a shell command line without NUL characters, or empty for none".to_string()
        } else {
            "a non-empty shell command line without NUL characters".to_string()
        });
    }
    Ok((!value.is_empty()).then(|| value.to_string()))
}

fn dir(value: &str) -> Result<PathBuf, String> {
    if value.is_empty() || value.contains('\0') {
        return Err("a directory path".to_string());
    }
    Ok(PathBuf::from(value))
}

/// A device is named by an absolute path (a relative one would depend on the daemon's
/// working directory); empty means none.
fn device(value: &str) -> Result<Option<PathBuf>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    if !value.starts_with('/') || value.contains('\0') {
        return Err("an absolute path such as /dev/watchdog, or empty for none".to_string());
    }
    Ok(Some(PathBuf::from(value)))
}

fn node_name(value: &str) -> Result<String, String> {
    if crate::heartbeat::codec::valid_name(value) {
        Ok(value.to_string())
    } else {
        Err("a name of 1-32 characters A-Z a-z 0-9 _ . -".to_string())
    }
}

fn node_list(value: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> = value.split(',').map(|n| n.trim().to_string()).collect();
    let expected =
        "node names separated by commas, each 1-32 characters A-Z a-z 0-9 _ . -, no repeats";
    if names.len() > 16
        || names
            .iter()
            .any(|n| !crate::heartbeat::codec::valid_name(n))
    {
        return Err(expected.to_string());
    }
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != names.len() {
        return Err(expected.to_string());
    }
    Ok(names)
}

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
    if !valid_counter_name(name) {
        return unknown(format!(
            "unknown key: bad counter name {}: expected 1-64 characters A-Z a-z 0-9 _ . -",
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

fn valid_counter_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
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

fn nearest<'a>(typo: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    // Keeps the quadratic distance cheap when a file holds a huge garbage key.
    if typo.len() > 100 {
        return None;
    }
    let typo = typo.to_ascii_lowercase();
    let limit = 1 + typo.chars().count() / 5;
    candidates
        .map(|candidate| (edit_distance(&typo, candidate), candidate))
        .filter(|&(distance, _)| distance <= limit)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// An unsigned decimal number: digits only, no sign, no separators; None on overflow.
fn decimal(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

fn int(value: &str, min: u64, max: u64) -> Result<u64, String> {
    decimal(value)
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("an integer {min}-{max}"))
}

fn port(value: &str) -> Result<u16, String> {
    int(value, 0, 65535)
        .map(|n| n as u16)
        .map_err(|_| "a port number 0-65535".to_string())
}

/// MediationZone ships `mz.ha.port` with an empty value, meaning not set.
fn optional_port(value: &str) -> Result<Option<u16>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    port(value).map(Some)
}

fn boolean(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err("true/false, yes/no, on/off or 1/0".to_string()),
    }
}

fn host(value: &str) -> Result<String, String> {
    if value.is_empty() || value.chars().any(char::is_whitespace) {
        return Err("an IP address or host name without whitespace".to_string());
    }
    Ok(value.to_string())
}

/// Comma-separated CIDR blocks; empty for every address.
fn allow_list(value: &str) -> Result<Vec<Cidr>, String> {
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .map(|item| Cidr::parse(item.trim()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|why| {
            format!("address blocks separated by commas, such as 10.0.0.0/8, ::1 ({why})")
        })
}

/// An absolute socket path short enough for `sockaddr_un`, or empty for none.
fn unix_socket(value: &str) -> Result<Option<PathBuf>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    if !value.starts_with('/') || value.contains('\0') || value.len() > 107 {
        return Err(
            "an absolute path of at most 107 bytes (a Unix socket address), or empty for none"
                .to_string(),
        );
    }
    Ok(Some(PathBuf::from(value)))
}

fn log_file(value: &str) -> Result<Option<PathBuf>, String> {
    if value.contains('\0') {
        return Err("a file path without NUL characters, or empty for none".to_string());
    }
    Ok((!value.is_empty()).then(|| PathBuf::from(value)))
}

fn app_name(value: &str) -> Result<String, String> {
    let fits = value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !fits {
        return Err("up to 64 characters A-Z a-z 0-9 . _ -".to_string());
    }
    Ok(value.to_string())
}

fn interval(value: &str) -> Result<Duration, String> {
    let (number, unit_ms) = if let Some(number) = value.strip_suffix("ms") {
        (number, 1)
    } else if let Some(number) = value.strip_suffix('s') {
        (number, 1000)
    } else if let Some(number) = value.strip_suffix('m') {
        (number, 60_000)
    } else {
        (value, 1000)
    };
    decimal(number)
        .and_then(|n| n.checked_mul(unit_ms))
        .filter(|ms| (100..=DAY_MS).contains(ms))
        .map(Duration::from_millis)
        .ok_or_else(|| {
            "a duration 100ms-24h: seconds, or a number with ms, s or m (500ms, 40, 2m)".to_string()
        })
}

fn mz_interval(value: &str) -> Result<Duration, String> {
    let secs = int(value, 0, DAY_MS / 1000).map_err(|_| "whole seconds 0-86400".to_string())?;
    if secs < MZ_MIN_INTERVAL_SECS {
        log::warn!(
            "mz.ha.interval={secs} is below {MZ_MIN_INTERVAL_SECS} seconds; \
             using {MZ_MIN_INTERVAL_SECS} as MediationZone does"
        );
    }
    Ok(Duration::from_secs(secs.max(MZ_MIN_INTERVAL_SECS)))
}

fn millis(value: &str) -> Result<Duration, String> {
    int(value, 1, DAY_MS)
        .map(Duration::from_millis)
        .map_err(|_| format!("milliseconds 1-{DAY_MS}"))
}

fn millis_or_off(value: &str) -> Result<Option<Duration>, String> {
    match int(value, 0, DAY_MS) {
        Ok(0) => Ok(None),
        Ok(ms) => Ok(Some(Duration::from_millis(ms))),
        Err(_) => Err(format!("milliseconds 0-{DAY_MS}, 0 for off")),
    }
}

fn importance(value: &str) -> Result<Importance, String> {
    match value.to_ascii_lowercase().as_str() {
        "critical" => Ok(Importance::Critical),
        "degrading" => Ok(Importance::Degrading),
        "info" => Ok(Importance::Info),
        _ => Err("critical, degrading or info".to_string()),
    }
}

fn count_or_off(value: &str) -> Result<Option<u64>, String> {
    if value == "-1" {
        return Ok(None);
    }
    int(value, 0, MAX_COUNT)
        .map(Some)
        .map_err(|_| format!("a count 0-{MAX_COUNT}, or -1 for off"))
}

fn gate_name(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() || value == "-1" {
        return Ok(None);
    }
    if !valid_counter_name(value) {
        return Err(
            "a counter name of 1-64 characters A-Z a-z 0-9 _ . -, or empty or -1 for no gate"
                .to_string(),
        );
    }
    Ok(Some(value.to_string()))
}

fn importance_name(importance: Importance) -> &'static str {
    match importance {
        Importance::Critical => "critical",
        Importance::Degrading => "degrading",
        Importance::Info => "info",
    }
}

fn ms(duration: Duration) -> String {
    duration.as_millis().to_string()
}

fn ms_or_off(duration: Option<Duration>) -> String {
    duration.map_or_else(|| "0".to_string(), ms)
}

/// The effective settings under canonical names; see [`Config::assignments`].
pub(super) fn assignments(config: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut put = |key: &str, value: String| out.push((key.to_string(), value));
    let check = &config.check_defaults;
    put("ha.enabled", config.enabled.to_string());
    put("ha.host", config.host.clone());
    if let Some(port) = config.port {
        put("ha.port", port.to_string());
    }
    let log_file = config.log_file.as_ref();
    put(
        "ha.log_file",
        log_file.map_or_else(String::new, |p| p.display().to_string()),
    );
    put("ha.app_name", config.app_name.clone());
    let interval_ms = config.interval.as_millis();
    let interval = if interval_ms.is_multiple_of(1000) {
        format!("{}s", interval_ms / 1000)
    } else {
        format!("{interval_ms}ms")
    };
    put("ha.interval", interval);
    put("ha.max_connections", config.max_connections.to_string());
    put(
        "ha.max_connections_per_source",
        config.max_connections_per_source.to_string(),
    );
    put("ha.max_line_bytes", config.max_line_bytes.to_string());
    put("ha.idle_timeout_ms", ms(config.idle_timeout));
    put(
        "ha.first_command_timeout_ms",
        ms(config.first_command_timeout),
    );
    put("ha.connection_lifetime_ms", ms(config.connection_lifetime));
    let allow: Vec<String> = config.allow.iter().map(Cidr::to_string).collect();
    put("ha.allow", allow.join(","));
    let socket = config.unix_socket.as_ref();
    put(
        "ha.unix_socket",
        socket.map_or_else(String::new, |p| p.display().to_string()),
    );
    put("ha.stop_timeout_ms", ms(config.stop_timeout));
    put("ha.watchdog_ms", ms_or_off(config.watchdog));
    put("ha.startup_grace_ms", ms_or_off(config.startup_grace));
    put("ha.stale_ms", ms_or_off(config.stale_after));
    put(
        "ha.agent_degraded_weight",
        config.agent_degraded_weight.to_string(),
    );
    put("ha.check.interval_ms", ms(check.interval));
    put("ha.check.timeout_ms", ms(check.timeout));
    put("ha.check.rise", check.rise.to_string());
    put("ha.check.fall", check.fall.to_string());
    put(
        "ha.check.importance",
        importance_name(check.importance).to_string(),
    );
    put("ha.check.latency_warn_ms", ms_or_off(check.latency_warn));
    put("ha.check.latency_crit_ms", ms_or_off(check.latency_crit));
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
    fn edit_distance_counts_swaps_as_one() {
        assert_eq!(edit_distance("ha.prot", "ha.port"), 1);
        assert_eq!(edit_distance("ha.por", "ha.port"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", "abc"), 0);
    }

    #[test]
    fn decimal_takes_digits_only() {
        assert_eq!(decimal("007"), Some(7));
        for bad in [
            "",
            "+1",
            "-1",
            "1_000",
            "0x10",
            "1.5",
            " 1",
            "99999999999999999999",
        ] {
            assert_eq!(decimal(bad), None, "{bad}");
        }
    }

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
}
