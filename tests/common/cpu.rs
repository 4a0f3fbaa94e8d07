//! How much CPU a process uses, from /proc/PID/stat (utime + stime, every thread of it).

use std::time::{Duration, Instant};

/// User and system time of `pid` so far, in clock ticks.
pub fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/stat: {e}"));
    // The command name may hold spaces: fields follow the last ')'. The first after it is
    // field 3 (state); utime and stime are fields 14 and 15.
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn ticks_per_second() -> f64 {
    // SAFETY: plain sysconf.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    assert!(hz > 0, "sysconf(_SC_CLK_TCK)");
    hz as f64
}

/// The share of one core each of `pids` used over `window` (0.05: 5 % of a core).
pub fn cpu_shares(pids: &[i32], window: Duration) -> Vec<f64> {
    let before: Vec<u64> = pids.iter().map(|&p| cpu_ticks(p)).collect();
    let start = Instant::now();
    // A measurement over a fixed window, not a wait for a condition.
    std::thread::sleep(window);
    let after: Vec<u64> = pids.iter().map(|&p| cpu_ticks(p)).collect();
    let secs = start.elapsed().as_secs_f64() * ticks_per_second();
    before
        .iter()
        .zip(&after)
        .map(|(b, a)| (a - b) as f64 / secs)
        .collect()
}
