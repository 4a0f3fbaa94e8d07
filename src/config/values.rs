//! The value types of the settings: how a text is parsed (Err says what was expected, for
//! the message) and how an effective value is written back.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Cidr, Importance, MAX_STREAK};
use crate::name::{MAX_CHECK_NAME, MAX_NODE_NAME, valid_check_name, valid_node_name};

/// Longest accepted millisecond setting: one day.
const DAY_MS: u64 = 86_400_000;
/// MediationZone never uses a counter window shorter than this.
const MZ_MIN_INTERVAL_SECS: u64 = 40;
/// Counters travel as signed 64-bit integers through the C ABI.
const MAX_COUNT: u64 = i64::MAX as u64;

/// A shell command line (run with `/bin/sh -c`); empty means none where `optional`.
/// A user or group: a name of the local passwd/group files or a numeric id; empty means none.
pub(super) fn account(value: &str) -> Result<Option<String>, String> {
    let name_ok = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
    if value.starts_with('-') || !value.chars().all(name_ok) {
        return Err("a user or group name, or a numeric id, or empty for none".to_string());
    }
    Ok((!value.is_empty()).then(|| value.to_string()))
}

pub(super) fn command(value: &str, optional: bool) -> Result<Option<String>, String> {
    if value.contains('\0') || (value.is_empty() && !optional) {
        return Err(if optional {
            "a shell command line without NUL characters, or empty for none".to_string()
        } else {
            "a non-empty shell command line without NUL characters".to_string()
        });
    }
    Ok((!value.is_empty()).then(|| value.to_string()))
}

pub(super) fn dir(value: &str) -> Result<PathBuf, String> {
    if value.is_empty() || value.contains('\0') {
        return Err("a directory path".to_string());
    }
    Ok(PathBuf::from(value))
}

/// A device is named by an absolute path (a relative one would depend on the daemon's
/// working directory); empty means none.
/// A numeric address and port to listen on (`127.0.0.1:9464`, `[::1]:9464`); empty for none.
/// Numeric only: a listener never waits on name resolution.
pub(super) fn listen_addr(value: &str) -> Result<Option<std::net::SocketAddr>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| "a numeric address and port such as 127.0.0.1:9464, or empty for none".into())
}

pub(super) fn device(value: &str) -> Result<Option<PathBuf>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    if !value.starts_with('/') || value.contains('\0') {
        return Err("an absolute path such as /dev/watchdog, or empty for none".to_string());
    }
    Ok(Some(PathBuf::from(value)))
}

pub(super) fn node_name(value: &str) -> Result<String, String> {
    if valid_node_name(value) {
        Ok(value.to_string())
    } else {
        Err(format!(
            "a name of 1-{MAX_NODE_NAME} characters A-Z a-z 0-9 _ . -"
        ))
    }
}

pub(super) fn node_list(value: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> = value.split(',').map(|n| n.trim().to_string()).collect();
    let expected = format!(
        "node names separated by commas, each 1-{MAX_NODE_NAME} characters A-Z a-z 0-9 _ . -, \
         no repeats"
    );
    if names.len() > 16 || names.iter().any(|n| !valid_node_name(n)) {
        return Err(expected);
    }
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != names.len() {
        return Err(expected);
    }
    Ok(names)
}

/// An unsigned decimal number: digits only, no sign, no separators; None on overflow.
fn decimal(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

pub(super) fn int(value: &str, min: u64, max: u64) -> Result<u64, String> {
    decimal(value)
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("an integer {min}-{max}"))
}

pub(super) fn port(value: &str) -> Result<u16, String> {
    int(value, 0, 65535)
        .map(|n| n as u16)
        .map_err(|_| "a port number 0-65535".to_string())
}

/// `rise` or `fall`: consecutive results.
pub(super) fn streak(value: &str) -> Result<u32, String> {
    int(value, 1, u64::from(MAX_STREAK)).map(|n| n as u32)
}

/// MediationZone ships `mz.ha.port` with an empty value, meaning not set.
pub(super) fn optional_port(value: &str) -> Result<Option<u16>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    port(value).map(Some)
}

pub(super) fn boolean(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err("true/false, yes/no, on/off or 1/0".to_string()),
    }
}

pub(super) fn host(value: &str) -> Result<String, String> {
    if value.is_empty() || value.chars().any(char::is_whitespace) {
        return Err("an IP address or host name without whitespace".to_string());
    }
    Ok(value.to_string())
}

/// Comma-separated CIDR blocks; empty for every address.
pub(super) fn allow_list(value: &str) -> Result<Vec<Cidr>, String> {
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
pub(super) fn unix_socket(value: &str) -> Result<Option<PathBuf>, String> {
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

pub(super) fn log_file(value: &str) -> Result<Option<PathBuf>, String> {
    if value.contains('\0') {
        return Err("a file path without NUL characters, or empty for none".to_string());
    }
    Ok((!value.is_empty()).then(|| PathBuf::from(value)))
}

/// Empty, or a name by the check-name rule (it is sent unquoted as `app=`).
pub(super) fn app_name(value: &str) -> Result<String, String> {
    if !value.is_empty() && !valid_check_name(value) {
        return Err(format!(
            "up to {MAX_CHECK_NAME} characters A-Z a-z 0-9 . _ -"
        ));
    }
    Ok(value.to_string())
}

pub(super) fn interval(value: &str) -> Result<Duration, String> {
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

pub(super) fn mz_interval(value: &str) -> Result<Duration, String> {
    let secs = int(value, 0, DAY_MS / 1000).map_err(|_| "whole seconds 0-86400".to_string())?;
    if secs < MZ_MIN_INTERVAL_SECS {
        log::warn!(
            "mz.ha.interval={secs} is below {MZ_MIN_INTERVAL_SECS} seconds; \
             using {MZ_MIN_INTERVAL_SECS} as MediationZone does"
        );
    }
    Ok(Duration::from_secs(secs.max(MZ_MIN_INTERVAL_SECS)))
}

pub(super) fn millis(value: &str) -> Result<Duration, String> {
    int(value, 1, DAY_MS)
        .map(Duration::from_millis)
        .map_err(|_| format!("milliseconds 1-{DAY_MS}"))
}

pub(super) fn millis_or_off(value: &str) -> Result<Option<Duration>, String> {
    match int(value, 0, DAY_MS) {
        Ok(0) => Ok(None),
        Ok(ms) => Ok(Some(Duration::from_millis(ms))),
        Err(_) => Err(format!("milliseconds 0-{DAY_MS}, 0 for off")),
    }
}

pub(super) fn importance(value: &str) -> Result<Importance, String> {
    match value.to_ascii_lowercase().as_str() {
        "critical" => Ok(Importance::Critical),
        "degrading" => Ok(Importance::Degrading),
        "info" => Ok(Importance::Info),
        _ => Err("critical, degrading or info".to_string()),
    }
}

pub(super) fn count_or_off(value: &str) -> Result<Option<u64>, String> {
    if value == "-1" {
        return Ok(None);
    }
    int(value, 0, MAX_COUNT)
        .map(Some)
        .map_err(|_| format!("a count 0-{MAX_COUNT}, or -1 for off"))
}

pub(super) fn gate_name(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() || value == "-1" {
        return Ok(None);
    }
    if !valid_check_name(value) {
        return Err(format!(
            "a counter name of 1-{MAX_CHECK_NAME} characters A-Z a-z 0-9 _ . -, or empty or -1 \
             for no gate"
        ));
    }
    Ok(Some(value.to_string()))
}

pub(super) fn importance_name(importance: Importance) -> &'static str {
    match importance {
        Importance::Critical => "critical",
        Importance::Degrading => "degrading",
        Importance::Info => "info",
    }
}

pub(super) fn ms(duration: Duration) -> String {
    duration.as_millis().to_string()
}

pub(super) fn ms_or_off(duration: Option<Duration>) -> String {
    duration.map_or_else(|| "0".to_string(), ms)
}

/// `ha.interval` as given: whole seconds as `Ns`, anything else as `Nms`.
pub(super) fn interval_text(interval: Duration) -> String {
    let interval_ms = interval.as_millis();
    if interval_ms.is_multiple_of(1000) {
        format!("{}s", interval_ms / 1000)
    } else {
        format!("{interval_ms}ms")
    }
}

/// A path, or empty for none.
pub(super) fn path_or_empty(path: Option<&Path>) -> String {
    path.map_or_else(String::new, |p| p.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
