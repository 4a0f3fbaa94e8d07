//! `hb.user` / `hb.group` (docs/heartbeat.md, "The daemon"): the application runs as that
//! user and group while the daemon stays root; names the local passwd/group files do not
//! know stop `run` with an error naming the key. The first test needs root (skipped with a
//! message otherwise).
//!
//! Linux only; needs /bin/sh and /proc.

#![cfg(target_os = "linux")]

use std::fs;
use std::process::Command;

use crate::common;

use common::cluster::*;

/// nobody/nogroup on Debian; numeric so that no name lookup is involved.
const NOBODY: u32 = 65534;

/// The real, effective, saved and filesystem ids of a `Uid:`/`Gid:` line of /proc/PID/status.
fn ids(status: &str, key: &str) -> Vec<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|rest| {
            rest.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_application_runs_as_hb_user_and_hb_group_and_the_daemon_as_itself() {
    // SAFETY: plain syscall.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED the_application_runs_as_hb_user: needs root to change users");
        return;
    }
    let mut c = Cluster::new(
        "user",
        &["n1", "n2"],
        &format!("hb.user={NOBODY}\nhb.group={NOBODY}\nhb.start_cmd=exec sleep 600\n"),
    );
    c.start("n1");
    let pgid_file = c.dir.join("state-n1").join("app.pgid");
    let mut status = String::new();
    let started = wait_until(ms(D + 5000), || {
        let Some(pid) = fs::read_to_string(&pgid_file)
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse::<i32>().ok())
        else {
            return false;
        };
        status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        // Past its gate: the leader became `sleep`.
        status.lines().next() == Some("Name:\tsleep")
    });
    assert!(started, "the application did not start\n{}", c.logs());
    assert_eq!(ids(&status, "Uid:"), [NOBODY; 4], "{status}");
    assert_eq!(ids(&status, "Gid:"), [NOBODY; 4], "{status}");
    assert_eq!(
        ids(&status, "Groups:"),
        Vec::<u32>::new(),
        "no groups of root: {status}"
    );
    let daemon = fs::read_to_string(format!("/proc/{}/status", c.pid("n1"))).unwrap();
    assert_eq!(
        ids(&daemon, "Uid:"),
        [0; 4],
        "the daemon stays root: {daemon}"
    );
}

#[test]
fn an_unknown_user_or_group_stops_run_naming_the_key() {
    for (key, value) in [
        ("hb.user", "no-such-user-hamon"),
        ("hb.group", "no-such-group-hamon"),
    ] {
        let c = Cluster::new("nouser", &["n1", "n2"], &format!("{key}={value}\n"));
        let out = Command::new(BIN)
            .args(["run", "--config"])
            .arg(c.conf("n1"))
            .env(TAG, &c.dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(&format!("{key} {value}: no such")), "{err}");
    }
}
