//! The one clock of the heartbeat: CLOCK_BOOTTIME. Leases, I/O timestamps and the guard's
//! deadline all use it, so a suspend (which CLOCK_MONOTONIC does not count) can never make a
//! lease look younger than it is.

use crate::heartbeat::observe::Time;

/// Nanoseconds of CLOCK_BOOTTIME: monotonic, and it keeps counting through a suspend, so a
/// lease is never thought alive across one.
pub fn boottime() -> Time {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer; CLOCK_BOOTTIME exists on every supported Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
