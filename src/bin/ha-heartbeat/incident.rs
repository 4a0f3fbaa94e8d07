//! Incidents: what pages the operator. Each is logged (ERROR) and, when `hb.incident_cmd` is
//! set, runs it with `/bin/sh -c` in its own process group with a structured environment:
//!
//! | variable            | value                                                          |
//! |---------------------|----------------------------------------------------------------|
//! | `HB_INCIDENT_KIND`  | one of [`Kind::name`] (stable, lower case)                     |
//! | `HB_NODE`           | this node                                                      |
//! | `HB_EPOCH`          | the epoch of this node's last tick                             |
//! | `HB_PEER`           | the other node concerned, empty when none                      |
//! | `HB_REASON`         | the underlying error, probe answer or observation              |
//! | `HB_INCIDENT`       | one readable line (kept for existing scripts)                  |
//! | `HB_SUPPRESSED`     | incidents of this kind left out by the rate limit since the last one run |
//!
//! The same kind runs the command at most once per [`RATE_LIMIT`]; the ones left out are
//! still logged (WARN, "rate limited") and counted in the next one's `HB_SUPPRESSED`.

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The same kind of incident runs `hb.incident_cmd` at most once in this time.
pub const RATE_LIMIT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The application exited; restarted locally.
    AppRestart,
    /// The application exited or failed its probes and this node hands over.
    AppFailed,
    /// The application cannot be started (no guard, spawn error, gate).
    AppStart,
    /// The application outlived SIGKILL, or a group of an earlier run survives it.
    AppUnkillable,
    /// This node lost its lease and stopped its application itself.
    Fence,
    /// This node took over from a peer whose record stopped changing.
    Takeover,
    /// No node has been seen active for longer than the failover bound.
    NoActive,
    /// This node backs off after its application failed here, and no node has run it for
    /// longer than the failover bound: no node can run it now (flapping, damped).
    ServiceDown,
    /// Reading or writing the shared records fails.
    Storage,
    /// Someone else writes this node's record (or the storage rolled it back).
    ForeignWriter,
    /// The guard cannot be started or reached.
    Guard,
    /// The watchdog device cannot be petted.
    Watchdog,
    /// A peer runs with another timing.
    Timing,
    /// A switchover's node did not become active in time: the switchover is abandoned.
    Switchover,
}

impl Kind {
    /// Every kind, for the metrics: each is counted from 0 so that an alert sees the first.
    pub const ALL: [Kind; 14] = [
        Kind::AppRestart,
        Kind::AppFailed,
        Kind::AppStart,
        Kind::AppUnkillable,
        Kind::Fence,
        Kind::Takeover,
        Kind::NoActive,
        Kind::ServiceDown,
        Kind::Storage,
        Kind::ForeignWriter,
        Kind::Guard,
        Kind::Watchdog,
        Kind::Timing,
        Kind::Switchover,
    ];

    /// The value of `HB_INCIDENT_KIND`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::AppRestart => "app_restart",
            Kind::AppFailed => "app_failed",
            Kind::AppStart => "app_start_failed",
            Kind::AppUnkillable => "app_unkillable",
            Kind::Fence => "fence",
            Kind::Takeover => "takeover",
            Kind::NoActive => "no_active",
            Kind::ServiceDown => "service_down",
            Kind::Storage => "storage",
            Kind::ForeignWriter => "foreign_writer",
            Kind::Guard => "guard",
            Kind::Watchdog => "watchdog",
            Kind::Timing => "timing_mismatch",
            Kind::Switchover => "switchover_abandoned",
        }
    }
}

/// One incident.
#[derive(Clone, Debug)]
pub struct Incident<'a> {
    pub kind: Kind,
    pub peer: Option<&'a str>,
    /// The underlying error or observation.
    pub reason: &'a str,
    /// What it means and what this node does: one line for the log and `HB_INCIDENT`.
    pub text: &'a str,
}

pub struct Incidents {
    cmd: Option<String>,
    node: String,
    /// Per kind: when the command last ran, and how many were left out since.
    last: HashMap<Kind, (Instant, u32)>,
    running: Vec<Child>,
    /// Process groups of finished commands that may still hold orphans.
    groups: Vec<i32>,
}

impl Incidents {
    pub fn new(cmd: Option<String>, node: &str) -> Incidents {
        Incidents {
            cmd,
            node: node.to_string(),
            last: HashMap::new(),
            running: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// Logs the incident and runs the command unless its kind ran less than [`RATE_LIMIT`]
    /// ago.
    pub fn raise(&mut self, i: &Incident, epoch: u64) {
        let peer = i.peer.unwrap_or("");
        let now = Instant::now();
        let suppressed = match self.last.get_mut(&i.kind) {
            Some((at, left_out)) if now.duration_since(*at) < RATE_LIMIT => {
                *left_out += 1;
                log::warn!(
                    "incident {} (rate limited, not paged: at most one per {} s): {}",
                    i.kind.name(),
                    RATE_LIMIT.as_secs(),
                    i.text
                );
                return;
            }
            Some((_, left_out)) => *left_out,
            None => 0,
        };
        log::error!(
            "incident {}{}: {}",
            i.kind.name(),
            if peer.is_empty() {
                String::new()
            } else {
                format!(" (peer {peer})")
            },
            i.text
        );
        self.last.insert(i.kind, (now, 0));
        let Some(cmd) = self.cmd.clone() else {
            return;
        };
        match Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd)
            .env("HB_INCIDENT", i.text)
            .env("HB_INCIDENT_KIND", i.kind.name())
            .env("HB_NODE", &self.node)
            .env("HB_EPOCH", epoch.to_string())
            .env("HB_PEER", peer)
            .env("HB_REASON", i.reason)
            .env("HB_SUPPRESSED", suppressed.to_string())
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
        {
            Ok(c) => self.running.push(c),
            Err(e) => log::error!("cannot run hb.incident_cmd: {e}"),
        }
    }

    /// Waits, at most `bound`, for the commands still running (a process about to exit, such
    /// as the guard after its hand-over, lets its page finish first).
    pub fn finish(&mut self, bound: Duration) {
        let until = Instant::now() + bound;
        while !self.running.is_empty() && Instant::now() < until {
            self.housekeeping();
            std::thread::sleep(Duration::from_millis(10));
        }
        self.housekeeping();
    }

    /// Reaps finished commands and the orphans they left in their groups.
    pub fn housekeeping(&mut self) {
        let mut done = Vec::new();
        self.running.retain_mut(|c| match c.try_wait() {
            Ok(None) => true,
            _ => {
                done.push(c.id() as i32);
                false
            }
        });
        self.groups.extend(done);
        self.groups.retain(|&pg| {
            super::supervise::reap_group(pg);
            super::supervise::signal_group(pg, 0)
        });
    }
}

/// `io::Error` text with the errno's symbolic name, e.g. "Read-only file system (os error
/// 30, EROFS)", so an operator can grep for it.
pub fn describe_io(e: &std::io::Error) -> String {
    let name = match e.raw_os_error() {
        Some(libc::EACCES) => "EACCES",
        Some(libc::EPERM) => "EPERM",
        Some(libc::EROFS) => "EROFS",
        Some(libc::ENOSPC) => "ENOSPC",
        Some(libc::EDQUOT) => "EDQUOT",
        Some(libc::EIO) => "EIO",
        Some(libc::ENOENT) => "ENOENT",
        Some(libc::ENOTDIR) => "ENOTDIR",
        Some(libc::EISDIR) => "EISDIR",
        Some(libc::ESTALE) => "ESTALE",
        Some(libc::ETIMEDOUT) => "ETIMEDOUT",
        Some(libc::ENOTCONN) => "ENOTCONN",
        Some(libc::EINVAL) => "EINVAL",
        _ => return e.to_string(),
    };
    format!("{e} [{name}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names_appear() {
        let e = std::io::Error::from_raw_os_error(libc::EROFS);
        assert!(describe_io(&e).contains("EROFS"), "{}", describe_io(&e));
        let e = std::io::Error::from_raw_os_error(libc::EACCES);
        assert!(describe_io(&e).contains("EACCES"));
    }

    #[test]
    fn every_kind_is_listed_once_with_its_own_name() {
        // The match fails to compile when a kind is added: add it to `Kind::ALL` too.
        let listed = |k: Kind| match k {
            Kind::AppRestart
            | Kind::AppFailed
            | Kind::AppStart
            | Kind::AppUnkillable
            | Kind::Fence
            | Kind::Takeover
            | Kind::NoActive
            | Kind::ServiceDown
            | Kind::Storage
            | Kind::ForeignWriter
            | Kind::Guard
            | Kind::Watchdog
            | Kind::Timing
            | Kind::Switchover => Kind::ALL.iter().filter(|&&x| x == k).count(),
        };
        for k in Kind::ALL {
            assert_eq!(listed(k), 1, "{k:?}");
        }
        let mut names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Kind::ALL.len());
    }

    #[test]
    fn a_kind_is_rate_limited_and_others_are_not() {
        let dir = std::env::temp_dir().join(format!("hamon-incident-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let cmd = format!(
            "echo \"$HB_INCIDENT_KIND $HB_SUPPRESSED\" >> {}",
            dir.display()
        );
        let mut inc = Incidents::new(Some(cmd), "n1");
        let i = |kind| Incident {
            kind,
            peer: None,
            reason: "r",
            text: "t",
        };
        inc.raise(&i(Kind::Storage), 1);
        inc.raise(&i(Kind::Storage), 1);
        inc.raise(&i(Kind::Fence), 1);
        let until = Instant::now() + Duration::from_secs(10);
        while !inc.running.is_empty() && Instant::now() < until {
            inc.housekeeping();
            std::thread::sleep(Duration::from_millis(10));
        }
        let text = std::fs::read_to_string(&dir).unwrap_or_default();
        let _ = std::fs::remove_file(&dir);
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort();
        assert_eq!(lines, ["fence 0", "storage 0"], "{text}");
        assert_eq!(inc.last[&Kind::Storage].1, 1);
    }
}
