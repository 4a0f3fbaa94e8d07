//! The guard's hand-over: when its daemon died and the host lives, the guard (which survives
//! it) hands the term the daemon held over as a clean release does, so that a peer claims at
//! once instead of waiting out the lease (docs/heartbeat.md, "The guard's hand-over").
//!
//! The steps, each a reason to stop and hand nothing over (the peers then wait out the lease
//! exactly as when the host is lost):
//! 1. the daemon told the guard a term, and the guard could read the configuration at its
//!    start (the settings the daemon runs with);
//! 2. the daemon is gone, not merely its pipe: the guard was re-parented (its parent, the
//!    daemon, has no thread left), within the kill budget (a daemon that lives closed its
//!    pipe on purpose: nothing more happens);
//! 3. the guard takes `STATE_DIR/run.lock` (free once the daemon is gone; taken means a new
//!    daemon already runs, and that one waits out the lease itself);
//! 4. the application's group is empty (SIGKILL again until it is), within the kill budget;
//! 5. the file backend writes RELEASED with the held epoch when the records allow it
//!    (`hamon::heartbeat::handover::decide`), etcd revokes the held lease; each bounded by the
//!    I/O timeouts.
//!
//! A daemon that died holding a term is an incident (`guard`, through `hb.incident_cmd`) on
//! this node, whatever the guard could do: its peers see only a release, or a record going
//! stale.

use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use hamon::heartbeat::admin::wall_ms;
use hamon::heartbeat::handover::{Term, release_file_term};
use hamon::heartbeat::node::NodeSettings;
use hamon::heartbeat::store::FileStore;

use crate::incident::{Incident, Incidents, Kind};
use crate::supervise::signal_group;
use crate::{pause, run_lock};

/// How long the guard lets its page (`hb.incident_cmd`) run before it exits.
const PAGE_FOR: Duration = Duration::from_secs(10);

/// What the guard needs to hand a term over: the daemon's settings, read when it started.
pub struct HandOver {
    settings: NodeSettings,
    /// `hb.incident_cmd`: a daemon that died holding a term is paged from here, since its
    /// peers see a release.
    incidents: Incidents,
    /// The daemon's pid: the guard's parent when it started.
    daemon: i32,
}

impl HandOver {
    pub fn new(settings: NodeSettings, incident_cmd: Option<String>) -> HandOver {
        // SAFETY: plain syscall.
        let daemon = unsafe { libc::getppid() };
        let incidents = Incidents::new(incident_cmd, &settings.node);
        HandOver {
            settings,
            incidents,
            daemon,
        }
    }

    /// The daemon's pipe closed while it held `term`; `group` is the application's last
    /// group the guard held (0: none). When the daemon is gone, hands the term over if every
    /// step allows it, and pages (incident `guard`) what it did or why not.
    pub fn run(&mut self, term: &Term, group: i32) {
        if !wait_until(self.settings.timing.kill_budget, || {
            // SAFETY: plain syscall.
            unsafe { libc::getppid() != self.daemon }
        }) {
            log::info!(
                "the daemon (pid {}) closed its pipe and is still there: nothing to hand over",
                self.daemon
            );
            return;
        }
        let epoch = match term {
            Term::File(t) => t.epoch,
            Term::Etcd { epoch, .. } => *epoch,
        };
        let reason = format!("the daemon died holding epoch {epoch}");
        let text = match self.steps(term, group) {
            Ok(what) => format!(
                "{reason}: its guard stopped the application and handed the term over \
                 ({what}); another node takes over at once"
            ),
            Err(why) => format!(
                "{reason}: its guard hands nothing over ({why}); the other nodes wait out the \
                 lease"
            ),
        };
        let incident = Incident {
            kind: Kind::Guard,
            peer: None,
            reason: &reason,
            text: &text,
        };
        self.incidents.raise(&incident, epoch);
        self.incidents.finish(PAGE_FOR);
    }

    fn steps(&self, term: &Term, group: i32) -> Result<String, String> {
        let kill_budget = self.settings.timing.kill_budget;
        let state_dir = &self.settings.state_dir;
        match run_lock::try_take(state_dir) {
            // Held until this process ends, not just this function: a read or write that
            // outlived its bound on a hung share keeps the process, and so the lock, until it
            // returns, and a new daemon of this node waits for it.
            Ok(Some(lock)) => std::mem::forget(lock),
            Ok(None) => {
                return Err(format!(
                    "{} is held: a new daemon runs here",
                    run_lock::path(state_dir).display()
                ));
            }
            Err(e) => {
                return Err(format!(
                    "cannot lock {}: {e}",
                    run_lock::path(state_dir).display()
                ));
            }
        }
        if group > 1
            && !wait_until(kill_budget, || {
                !signal_group(group, libc::SIGKILL) || only_zombies_in(group)
            })
        {
            return Err(format!(
                "the application's process group {group} is still there {} ms after SIGKILL",
                kill_budget.as_millis()
            ));
        }
        pause::point("handover");
        match term {
            Term::File(held) => {
                let s = self.settings.clone();
                let held = held.clone();
                // Reads of every record and one write, each within the I/O timeout.
                let bound = s.timing.io_timeout * (s.nodes.len() as u32 + 1);
                bounded(bound, move || {
                    let store = FileStore::new(s.dir.clone());
                    release_file_term(&store, &s.cluster, &s.node, &s.nodes, &held, wall_ms())
                        .map(|e| format!("wrote RELEASED with epoch {e}"))
                })
            }
            Term::Etcd { epoch, lease } => self.revoke(*epoch, *lease),
        }
    }

    #[cfg(feature = "etcd")]
    fn revoke(&self, epoch: u64, lease: i64) -> Result<String, String> {
        let Some(etcd) = self.settings.etcd.clone() else {
            return Err("the daemon held an etcd lease, the configuration names no etcd".into());
        };
        // The client's own bound covers every endpoint; a little more for the TLS set-up.
        let bound = etcd.client.timeout * 2;
        bounded(bound, move || {
            let mut client = hamon::heartbeat::etcd::api::Client::new(&etcd.client)?;
            client
                .lease_revoke(lease)
                .map_err(|e| e.to_string())
                .map(|()| format!("revoked the etcd lease {lease:x} of epoch {epoch}"))
        })
    }

    #[cfg(not(feature = "etcd"))]
    fn revoke(&self, _epoch: u64, _lease: i64) -> Result<String, String> {
        Err("this build has no etcd backend".into())
    }
}

/// Every process of group `pgid` has exited and only waits to be reaped (its reaper, once
/// the daemon is gone, is whatever adopts orphans here, which may never reap): each thread of
/// each member is a zombie, so nothing of the application runs or holds a file. A member
/// that cannot be read counts as running.
fn only_zombies_in(pgid: i32) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    for e in procs.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Some((state, pgrp)) = stat_of(&format!("/proc/{pid}/stat")) else {
            continue;
        };
        if pgrp != pgid {
            continue;
        }
        if state != 'Z' {
            return false;
        }
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return false;
        };
        for t in tasks.flatten() {
            let path = t.path().join("stat");
            if !stat_of(&path.to_string_lossy()).is_some_and(|(s, _)| matches!(s, 'Z' | 'X')) {
                return false;
            }
        }
    }
    true
}

/// State and process group from a `stat` file of /proc.
fn stat_of(path: &str) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut rest = text[text.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let pgrp = rest.nth(1)?.parse().ok()?;
    Some((state, pgrp))
}

/// Polls `done` every millisecond until it holds or `bound` passes; whether it held.
fn wait_until(bound: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + bound;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `f` on a thread and waits at most `bound` for its answer. A call that hangs on a dead
/// share keeps its thread (and with it the process and the run lock) until it returns.
fn bounded(
    bound: Duration,
    f: impl FnOnce() -> Result<String, String> + Send + 'static,
) -> Result<String, String> {
    let (tx, rx) = channel();
    std::thread::Builder::new()
        .name("hamon-handover".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    rx.recv_timeout(bound)
        .map_err(|_| format!("no answer from storage within {} ms", bound.as_millis()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_of_zombies_is_gone_and_a_live_one_is_not() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id() as i32;
        assert_eq!(
            stat_of(&format!("/proc/{pgid}/stat")).map(|s| s.1),
            Some(pgid)
        );
        assert!(!only_zombies_in(pgid));
        signal_group(pgid, libc::SIGKILL);
        // Not reaped yet: a zombie, which still counts for kill(2).
        assert!(wait_until(Duration::from_secs(5), || only_zombies_in(pgid)));
        assert!(signal_group(pgid, 0));
        child.wait().unwrap();
    }

    #[test]
    fn waits_are_bounded() {
        let t = Instant::now();
        assert!(!wait_until(Duration::from_millis(30), || false));
        assert!(t.elapsed() >= Duration::from_millis(30));
        let mut n = 0;
        assert!(wait_until(Duration::from_secs(5), || {
            n += 1;
            n == 3
        }));
        let e = bounded(Duration::from_millis(20), || {
            std::thread::sleep(Duration::from_millis(500));
            Ok(String::new())
        })
        .unwrap_err();
        assert!(e.contains("within 20 ms"), "{e}");
        assert_eq!(
            bounded(Duration::from_secs(5), || Ok("x".into())),
            Ok("x".into())
        );
    }
}
