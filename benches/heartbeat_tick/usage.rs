//! CPU time from getrusage(2): this process (all its threads), and reaped children.

use std::time::Duration;

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
}

fn usage(who: i32) -> Duration {
    // SAFETY: rusage is plain data that getrusage fills in.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid `who` and a writable rusage.
    unsafe { libc::getrusage(who, &mut u) };
    timeval(u.ru_utime) + timeval(u.ru_stime)
}

/// User plus system time of this process so far.
pub fn process_cpu() -> Duration {
    usage(libc::RUSAGE_SELF)
}

/// User plus system time of every child reaped so far (and of their reaped children).
pub fn children_cpu() -> Duration {
    usage(libc::RUSAGE_CHILDREN)
}
