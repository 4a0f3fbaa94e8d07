//! The optional watchdog device (`hb.watchdog_device`, such as /dev/watchdog): the last
//! fencing backstop, for what the guard process cannot fix: a hung host, or an application
//! stuck where SIGKILL cannot reach it (uninterruptible I/O on a dead share).
//!
//! The device is armed when opened and resets the host unless it is written to within its
//! timeout. The daemon writes a byte after every turn of its loop, but never while its
//! application runs past its own lease deadline (the one the guard holds for it, which a stop
//! never extends), nor while a process group of an earlier run survives SIGKILL: a daemon that
//! is paused or hung stops petting, and so does one whose application outlives its lease,
//! SIGKILL included. The host is then reset within the device timeout W of the last pet, which
//! came before the lease deadline; W takes the place of the kill budget in the safety
//! inequality (see `Timing::watchdog_device_limit`).
//!
//! Writes never block the loop: the device is opened non-blocking, and a pet that cannot be
//! written (a FIFO nobody reads) is logged and skipped. On an orderly shutdown, once the
//! application is gone, the magic close 'V' disarms the device (unless its driver was built
//! with nowayout). A daemon killed with -9 leaves it armed: the host is reset after W unless
//! the service manager restarts the daemon, which opens the device again, in time.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hamon::config::HeartbeatSettings;

/// What a pet writes: any byte but 'V', which would allow the magic close.
pub const PET: u8 = b'.';
/// The magic close: written last, it tells the driver the close is intended.
pub const MAGIC_CLOSE: u8 = b'V';

/// The Linux watchdog API (include/uapi/linux/watchdog.h).
const WDIOC_SETTIMEOUT: libc::Ioctl = libc::_IOWR::<libc::c_int>(b'W' as u32, 6);
const WDIOC_GETTIMEOUT: libc::Ioctl = libc::_IOR::<libc::c_int>(b'W' as u32, 7);

/// A configured device needs a timing that leaves room for a safe device timeout.
pub fn check_settings(hb: &HeartbeatSettings) -> Result<(), String> {
    if hb.watchdog_device.is_none() {
        return Ok(());
    }
    hb.timing.check_watchdog_device().map_err(|e| e.to_string())
}

/// The daemon may pet the device: nothing of its application runs past the lease deadline
/// (both on the boot clock, ns).
pub fn may_pet(app_running: bool, now: u64, lease_deadline: u64) -> bool {
    !app_running || now < lease_deadline
}

/// The device timeout to ask for: whole seconds, at most `limit`.
fn wanted_secs(limit: Duration) -> Option<libc::c_int> {
    let secs = libc::c_int::try_from(limit.as_secs()).unwrap_or(libc::c_int::MAX);
    (secs >= 1).then_some(secs)
}

/// A device timeout of `secs` is safe (at most `limit`) and survives a healthy loop turn.
fn judge(path: &Path, secs: libc::c_int, limit: Duration, turn: Duration) -> Result<(), String> {
    let w = Duration::from_secs(u64::try_from(secs).unwrap_or(0));
    if w > limit {
        return Err(format!(
            "hb.watchdog_device {}: its timeout is {secs} s, above the {} ms the timing allows \
             (hb.takeover_ms - hb.renew_deadline_ms - slack): a hung daemon's host would be \
             reset after another node took over; set the device's timeout lower or raise \
             hb.takeover_ms",
            path.display(),
            limit.as_millis()
        ));
    }
    if w <= turn {
        return Err(format!(
            "hb.watchdog_device {}: its timeout is {secs} s, not above one loop turn \
             (hb.period_ms + hb.io_timeout_ms = {} ms): a healthy daemon would trip it",
            path.display(),
            turn.as_millis()
        ));
    }
    Ok(())
}

fn ioctl_int(file: &File, request: libc::Ioctl, value: libc::c_int) -> io::Result<libc::c_int> {
    let mut v = value;
    // SAFETY: both requests take a pointer to one int, which outlives the call.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), request, &mut v as *mut libc::c_int) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(v)
    }
}

pub struct WatchdogDevice {
    file: File,
    path: PathBuf,
    /// The last pet failed (logged once until one succeeds again).
    failing: bool,
}

impl WatchdogDevice {
    /// Opens (and so arms) the device and sets its timeout to the largest safe whole
    /// seconds. `limit`: the longest safe timeout; `turn`: the longest loop turn.
    pub fn open(path: &Path, limit: Duration, turn: Duration) -> Result<WatchdogDevice, String> {
        let file = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| {
                let hint = if e.raw_os_error() == Some(libc::ENXIO) {
                    " (a FIFO can be opened only while something reads it)"
                } else {
                    ""
                };
                format!(
                    "hb.watchdog_device {}: cannot open: {e}{hint}",
                    path.display()
                )
            })?;
        let device = WatchdogDevice {
            file,
            path: path.to_path_buf(),
            failing: false,
        };
        match device.set_timeout(limit, turn) {
            Ok(()) => Ok(device),
            Err(e) => {
                // It is armed now, and the daemon will not run: do not leave it to reset
                // the host.
                device.disarm();
                Err(e)
            }
        }
    }

    fn set_timeout(&self, limit: Duration, turn: Duration) -> Result<(), String> {
        let path = self.path.display();
        let current = match ioctl_int(&self.file, WDIOC_GETTIMEOUT, 0) {
            Err(e) if e.raw_os_error() == Some(libc::ENOTTY) => {
                log::warn!(
                    "hb.watchdog_device {path} is not a watchdog driver (a plain file or a \
                     FIFO?): pets are written, but no timeout is set; a real device must \
                     reset the host at most {} ms after the last pet",
                    limit.as_millis()
                );
                return Ok(());
            }
            other => other.ok(),
        };
        let Some(wanted) = wanted_secs(limit) else {
            return Err(format!(
                "hb.watchdog_device {path}: the timing allows a device timeout of at most {} ms \
                 (hb.takeover_ms - hb.renew_deadline_ms - slack), and a watchdog device counts \
                 whole seconds: raise hb.takeover_ms",
                limit.as_millis()
            ));
        };
        let secs = match ioctl_int(&self.file, WDIOC_SETTIMEOUT, wanted) {
            Ok(set) => set,
            // A driver with a fixed timeout: it must already be safe.
            Err(e) => current.ok_or_else(|| {
                format!("hb.watchdog_device {path}: cannot set or read its timeout: {e}")
            })?,
        };
        judge(&self.path, secs, limit, turn)?;
        log::info!("hb.watchdog_device {path}: armed with a timeout of {secs} s");
        Ok(())
    }

    /// Writes one pet; never blocks. A failure is logged once until a pet succeeds again;
    /// its text is returned that one time (for the incident).
    pub fn pet(&mut self) -> Option<String> {
        match (&self.file).write_all(&[PET]) {
            Ok(()) => {
                if self.failing {
                    log::info!(
                        "hb.watchdog_device {}: pets get through again",
                        self.path.display()
                    );
                    self.failing = false;
                }
                None
            }
            Err(e) => {
                if self.failing {
                    return None;
                }
                let hint = match e.raw_os_error() {
                    Some(libc::EAGAIN) => " (a FIFO that nobody reads?)",
                    Some(libc::EPIPE) => " (the FIFO's reader went away)",
                    _ => "",
                };
                let msg = format!(
                    "hb.watchdog_device {}: cannot pet it: {}{hint}",
                    self.path.display(),
                    super::incident::describe_io(&e)
                );
                log::error!("{msg}");
                self.failing = true;
                Some(msg)
            }
        }
    }

    /// The magic close, for an orderly shutdown once the application is gone.
    pub fn disarm(self) {
        match (&self.file).write_all(&[MAGIC_CLOSE]) {
            Ok(()) => log::info!(
                "hb.watchdog_device {}: disarmed (magic close)",
                self.path.display()
            ),
            Err(e) => log::error!(
                "hb.watchdog_device {}: cannot write the magic close: {e}; it stays armed",
                self.path.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn ioctl_numbers_are_those_of_linux_watchdog_h() {
        assert_eq!(WDIOC_SETTIMEOUT, 0xC004_5706);
        assert_eq!(WDIOC_GETTIMEOUT, 0x8004_5707);
    }

    #[test]
    fn no_pet_while_the_application_outlives_its_lease() {
        assert!(may_pet(false, 10, 5), "nothing runs: alive is enough");
        assert!(may_pet(true, 4, 5), "inside the lease");
        assert!(!may_pet(true, 5, 5), "at the deadline");
        assert!(!may_pet(true, 9, 5), "past it");
    }

    #[test]
    fn the_timeout_asked_for_is_whole_seconds_within_the_limit() {
        assert_eq!(wanted_secs(Duration::from_millis(31_853)), Some(31));
        assert_eq!(wanted_secs(Duration::from_millis(597)), None);
    }

    #[test]
    fn a_device_timeout_is_judged_against_the_limit_and_the_loop_turn() {
        let p = Path::new("/dev/watchdog");
        let (limit, turn) = (Duration::from_millis(31_853), Duration::from_secs(11));
        assert!(judge(p, 31, limit, turn).is_ok());
        let e = judge(p, 60, limit, turn).unwrap_err();
        assert!(
            e.starts_with("hb.watchdog_device /dev/watchdog: its timeout is 60 s"),
            "{e}"
        );
        let e = judge(p, 11, limit, turn).unwrap_err();
        assert!(e.contains("a healthy daemon would trip it"), "{e}");
    }

    #[test]
    fn a_plain_file_is_petted_and_closed_with_v() {
        let path = std::env::temp_dir().join(format!("hamon-wd-{}", std::process::id()));
        std::fs::write(&path, b"").unwrap();
        let mut d =
            WatchdogDevice::open(&path, Duration::from_secs(31), Duration::from_secs(11)).unwrap();
        d.pet();
        d.pet();
        d.disarm();
        assert_eq!(std::fs::read(&path).unwrap(), b"..V");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_missing_device_is_an_error_naming_the_key_and_path() {
        let e = WatchdogDevice::open(
            Path::new("/nonexistent/watchdog"),
            Duration::from_secs(31),
            Duration::from_secs(11),
        )
        .err()
        .unwrap();
        assert!(
            e.starts_with("hb.watchdog_device /nonexistent/watchdog: cannot open: "),
            "{e}"
        );
    }
}
