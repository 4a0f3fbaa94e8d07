//! `STATE_DIR/run.lock`: held (flock) by the running daemon for its whole run, and by its
//! guard while it hands over the term of a daemon that died. A daemon that starts while an
//! earlier run's guard still hands over (started by hand; systemd waits for the guard, which
//! is in the unit's cgroup) finds the lock taken and claims nothing until it is free, so the
//! guard's write never lands beside the new run's records; a guard that finds it taken (a new
//! daemon already runs) hands nothing over. The lock goes with the last thread of the process
//! that holds it: a guard stuck in a write to a hung share keeps it, so its write can land
//! only while no daemon of this node runs.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The lock's path in the state directory.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("run.lock")
}

/// The held lock (released when dropped or when the process ends).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Takes the lock without waiting: None while another process holds it. The descriptor is
/// close-on-exec, so nothing the daemon starts inherits it.
pub fn try_take(state_dir: &Path) -> io::Result<Option<RunLock>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path(state_dir))?;
    // SAFETY: flock on a descriptor we hold.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(Some(RunLock { _file: file }));
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(None)
    } else {
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_free_again_when_dropped() {
        let dir = std::env::temp_dir().join(format!("hamon-runlock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = try_take(&dir).unwrap();
        assert!(first.is_some());
        // flock conflicts between open file descriptions, also within one process.
        assert!(try_take(&dir).unwrap().is_none());
        drop(first);
        assert!(try_take(&dir).unwrap().is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
