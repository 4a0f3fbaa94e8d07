//! The epoch file: the highest fencing epoch this host has seen, on local disk, so that a
//! restarted node never claims an epoch it knew of, even when every shared record that held
//! it is gone.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The highest epoch this host has seen, kept in `STATE_DIR/epoch` (write, fsync, rename).
pub struct EpochFile {
    path: PathBuf,
}

impl EpochFile {
    pub fn new(state_dir: &Path) -> EpochFile {
        EpochFile {
            path: state_dir.join("epoch"),
        }
    }

    /// 0 when the file does not exist yet; an unreadable or garbled file is an error: the
    /// node must not guess an epoch.
    pub fn load(&self) -> io::Result<u64> {
        match fs::read_to_string(&self.path) {
            Ok(text) => text.trim().parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} does not hold a number", self.path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
        }
    }

    pub fn store(&self, epoch: u64) -> io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        let mut f = fs::File::create(&tmp)?;
        writeln!(f, "{epoch}")?;
        f.sync_all()?;
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}
