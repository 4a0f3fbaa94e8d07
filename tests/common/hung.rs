//! Shared storage that hangs, for process-level tests of the file backend: each named file of
//! the directory is replaced by a FIFO. A read opens it and waits for a writer that never
//! comes (as a read of a hung NFS mount waits for its server); a write, which opens it
//! read-write, fails at once (a FIFO cannot be written at an offset). `restore` puts the files
//! back and lets every waiting read go (it then fails), as a server that answers again.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub struct HungStorage {
    dir: PathBuf,
    names: Vec<String>,
    restored: bool,
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o600) },
        0,
        "mkfifo {path:?}"
    );
}

impl HungStorage {
    /// Hangs the files `names` of `dir` (each must exist).
    pub fn hang(dir: &Path, names: &[&str]) -> HungStorage {
        for n in names {
            let path = dir.join(n);
            fs::rename(&path, dir.join(format!("{n}.saved"))).unwrap();
            mkfifo(&path);
            // A second name, so the reads waiting on it can be let go once the file is back.
            fs::hard_link(&path, dir.join(format!("{n}.fifo"))).unwrap();
        }
        HungStorage {
            dir: dir.to_path_buf(),
            names: names.iter().map(|s| s.to_string()).collect(),
            restored: false,
        }
    }

    /// Puts every file back, then opens each FIFO for writing and closes it at once: the reads
    /// waiting in their open return, and fail.
    pub fn restore(mut self) {
        self.put_back();
    }

    fn put_back(&mut self) {
        if self.restored {
            return;
        }
        self.restored = true;
        for n in &self.names {
            let _ = fs::rename(
                self.dir.join(format!("{n}.saved")),
                self.dir.join(n.as_str()),
            );
            let fifo = self.dir.join(format!("{n}.fifo"));
            let c = CString::new(fifo.as_os_str().as_bytes()).unwrap();
            // SAFETY: a valid C string; the descriptor, when there is one, is closed at once.
            unsafe {
                let fd = libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_NONBLOCK);
                if fd >= 0 {
                    libc::close(fd);
                }
            }
            let _ = fs::remove_file(fifo);
        }
    }
}

impl Drop for HungStorage {
    fn drop(&mut self) {
        self.put_back();
    }
}
