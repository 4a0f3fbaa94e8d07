//! The HA log (`ha.log_file`): the property assignments at start, then one line per state
//! transition, with UTC timestamps. Transitions also go to the `log` facade.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
pub struct TransitionLog {
    file: Option<Mutex<File>>,
}

/// `2026-11-22T10:02:11.123Z` without a date library: days to civil date (H. Hinnant).
pub fn utc_timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

impl TransitionLog {
    /// Opens the log for appending; a directory gets `ha-monitor.log` inside it.
    pub fn open(path: Option<&Path>) -> std::io::Result<TransitionLog> {
        let Some(path) = path else {
            return Ok(TransitionLog::default());
        };
        let path = if path.is_dir() {
            path.join("ha-monitor.log")
        } else {
            path.to_path_buf()
        };
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(TransitionLog {
            file: Some(Mutex::new(file)),
        })
    }

    /// Logs `message` at INFO and appends it to the file.
    pub fn write(&self, message: &str) {
        log::info!("{message}");
        self.append(message);
    }

    /// Appends `message` to the file only (the caller logs it at the level it deserves).
    pub fn append(&self, message: &str) {
        if let Some(file) = &self.file {
            let line = format!("{} {message}\n", utc_timestamp(SystemTime::now()));
            let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = f.write_all(line.as_bytes()) {
                log::warn!("hamon: cannot write the HA log: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_civil_dates() {
        assert_eq!(utc_timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_350_131_042);
        assert_eq!(utc_timestamp(t), "2026-11-22T12:22:11.042Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(utc_timestamp(leap), "2000-02-29T00:00:00.000Z");
    }
}
