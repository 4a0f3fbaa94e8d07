//! Where the records live: the [`Store`] trait and [`FileStore`], one file per record in the
//! shared directory.
//!
//! Layout (docs/heartbeat.md, "Storage layout"): `DIR/node.<name>` for each node (written only by that node)
//! and `DIR/maint` (written only by operator commands). Files are created once by
//! [`Store::init_node`] / [`Store::init_maint`] and afterwards only rewritten in place:
//! a whole [`BLOCK`] at offset 0, never truncated, renamed or deleted.
//!
//! Every read and write opens the file afresh (a fresh open survives ESTALE after a server
//! failover and revalidates NFS attributes), with `O_DIRECT` so reads go to the server or
//! device and not to the page cache, and writes with `O_DSYNC` so they are durable when the
//! call returns. File systems that refuse `O_DIRECT` (EINVAL, at open or at the I/O) get the
//! same operation again without it, plus `fdatasync` after a write; reads then depend on the
//! mount options (`actimeo=0`/`noac`, `lookupcache=none`) for freshness (docs/heartbeat.md,
//! "What it assumes").
//! [`FileStore::direct_io_used`] tells which way the last operation went, for an alarm.
//!
//! Nothing here creates a file on a write: a missing file is `NotFound`, because a missing
//! record usually means the share is not mounted and the mount point's underlying directory
//! must not grow records of its own.
//!
//! All calls block, possibly forever on a hung mount; [`IoPool`](super::io::IoPool) runs them on
//! worker threads with deadlines.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use super::codec::valid_name;
use super::published;
use super::record::BLOCK;

/// The storage boundary: a store of node records (each written by its node only) and one
/// maintenance record (written by operator commands). Blocking calls; the node and the
/// operator commands run them on an [`IoPool`](super::io::IoPool) with a timeout, so an
/// implementation may block as long as its storage does. [`FileStore`] is the shared
/// directory; docs/heartbeat.md ("Storage boundary") says what another backend must keep.
pub trait Store: Send + Sync + 'static {
    /// The whole [`BLOCK`] of `node`'s record (fewer bytes if the file is short).
    fn read_node(&self, node: &str) -> io::Result<Vec<u8>>;
    /// Writes `block` ([`BLOCK`] bytes) in place at offset 0; durable on return.
    fn write_node(&self, node: &str, block: &[u8]) -> io::Result<()>;
    /// The whole [`BLOCK`] of the maintenance record (fewer bytes if the file is short).
    fn read_maint(&self) -> io::Result<Vec<u8>>;
    /// Writes `block` ([`BLOCK`] bytes) in place at offset 0; durable on return.
    fn write_maint(&self, block: &[u8]) -> io::Result<()>;
    /// Creates `node`'s record holding `block` unless it exists; an existing record is left
    /// exactly as it is. Durable on return.
    fn init_node(&self, node: &str, block: &[u8]) -> io::Result<()>;
    /// Creates the maintenance record holding `block` unless it exists; see `init_node`.
    fn init_maint(&self, block: &[u8]) -> io::Result<()>;
}

/// A [`BLOCK`]-sized buffer aligned for `O_DIRECT` (4096 covers every logical block size in
/// use; NFS needs no alignment at all).
#[repr(C, align(4096))]
struct Aligned([u8; BLOCK]);

impl Aligned {
    fn boxed() -> Box<Aligned> {
        Box::new(Aligned([0; BLOCK]))
    }
}

/// A whole events file, aligned for `O_DIRECT`.
#[repr(C, align(4096))]
struct AlignedEvents([u8; published::SIZE]);

const MODE_UNKNOWN: u8 = 0;
const MODE_DIRECT: u8 = 1;
const MODE_BUFFERED: u8 = 2;

/// The records as files in one shared directory.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    /// Try `O_DIRECT` first (the default).
    direct: bool,
    /// How the last successful read or write went: `MODE_*`.
    last_mode: AtomicU8,
    /// The fall-back to buffered I/O has been logged.
    warned: AtomicBool,
}

impl FileStore {
    /// A store over `dir`. Touches nothing until the first call.
    pub fn new(dir: impl Into<PathBuf>) -> FileStore {
        FileStore {
            dir: dir.into(),
            direct: true,
            last_mode: AtomicU8::new(MODE_UNKNOWN),
            warned: AtomicBool::new(false),
        }
    }

    /// With `false`, never try `O_DIRECT` (for file systems that accept it but misbehave).
    pub fn with_direct_io(mut self, on: bool) -> FileStore {
        self.direct = on;
        self
    }

    /// The shared directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `DIR/node.<node>`. The name is not checked here; reads and writes refuse invalid
    /// names (see [`valid_name`]), which also keeps `/` out of the path.
    pub fn node_path(&self, node: &str) -> PathBuf {
        self.dir.join(format!("node.{node}"))
    }

    /// `DIR/maint`.
    pub fn maint_path(&self) -> PathBuf {
        self.dir.join("maint")
    }

    /// `DIR/events.<node>`: the last events `node` published (docs/heartbeat.md, "The
    /// cluster's events").
    pub fn events_path(&self, node: &str) -> PathBuf {
        self.dir.join(format!("events.{node}"))
    }

    /// Creates `node`'s events file holding `block` ([`published::SIZE`] bytes) unless it
    /// exists; an existing file is left exactly as it is. Durable on return.
    pub fn init_events(&self, node: &str, block: &[u8]) -> io::Result<()> {
        let path = self.checked_path(node, Self::events_path)?;
        self.create_once(&path, block, published::SIZE)
    }

    /// Writes `node`'s whole events file in place (never creates it: a missing file is
    /// `NotFound`); durable on return. Not counted in [`direct_io_used`](Self::direct_io_used):
    /// the events are for reading, never for a decision.
    pub fn write_events(&self, node: &str, block: &[u8]) -> io::Result<()> {
        let path = self.checked_path(node, Self::events_path)?;
        check_size(block, published::SIZE)?;
        let mut buf = Box::new(AlignedEvents([0; published::SIZE]));
        buf.0.copy_from_slice(block);
        direct_or_buffered(self.direct, |direct| {
            let file = open(&path, true, direct)?;
            let n = retry_eintr(|| file.write_at(&buf.0, 0))?;
            if n != published::SIZE {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("short write: {n} of {} bytes", published::SIZE),
                ));
            }
            if !direct {
                file.sync_data()?;
            }
            Ok(())
        })
        .0
    }

    /// `node`'s events file: at most [`published::SIZE`] bytes from offset 0.
    pub fn read_events(&self, node: &str) -> io::Result<Vec<u8>> {
        let path = self.checked_path(node, Self::events_path)?;
        direct_or_buffered(self.direct, |direct| {
            let file = open(&path, false, direct)?;
            let mut buf = Box::new(AlignedEvents([0; published::SIZE]));
            let mut got = 0;
            // A short read is not the end on every file system: read until EOF or full.
            while got < published::SIZE {
                let n = retry_eintr(|| file.read_at(&mut buf.0[got..], got as u64))?;
                if n == 0 {
                    break;
                }
                got += n;
                if direct {
                    // O_DIRECT reads end where the file does.
                    break;
                }
            }
            Ok(buf.0[..got].to_vec())
        })
        .0
    }

    /// Whether the last successful read or write used `O_DIRECT`; `None` before the first.
    /// `Some(false)` means reads may be served from a cache: worth an alarm.
    pub fn direct_io_used(&self) -> Option<bool> {
        match self.last_mode.load(Ordering::Relaxed) {
            MODE_DIRECT => Some(true),
            MODE_BUFFERED => Some(false),
            _ => None,
        }
    }

    fn checked_node_path(&self, node: &str) -> io::Result<PathBuf> {
        self.checked_path(node, Self::node_path)
    }

    fn checked_path(&self, node: &str, path: fn(&Self, &str) -> PathBuf) -> io::Result<PathBuf> {
        if valid_name(node) {
            Ok(path(self, node))
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid node name {node:?}"),
            ))
        }
    }

    fn init_file(&self, path: &Path, block: &[u8]) -> io::Result<()> {
        self.create_once(path, block, BLOCK)
    }

    /// Creates `path` holding `block` (`size` bytes) unless it exists.
    fn create_once(&self, path: &Path, block: &[u8], size: usize) -> io::Result<()> {
        check_size(block, size)?;
        let file = match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
            Err(e) => return Err(e),
        };
        let written = file
            .write_all_at(block, 0)
            .and_then(|()| file.sync_all())
            .and_then(|()| sync_dir(&self.dir));
        if written.is_err() {
            // Do not leave a short file that the next init would keep.
            drop(file);
            let _ = std::fs::remove_file(path);
        }
        written
    }

    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        let r = direct_or_buffered(self.direct, |direct| {
            let file = open(path, false, direct)?;
            let mut buf = Aligned::boxed();
            let n = retry_eintr(|| file.read_at(&mut buf.0, 0))?;
            Ok(buf.0[..n].to_vec())
        });
        self.note(r)
    }

    fn write_file(&self, path: &Path, block: &[u8]) -> io::Result<()> {
        check_block(block)?;
        let mut buf = Aligned::boxed();
        buf.0.copy_from_slice(block);
        let r = direct_or_buffered(self.direct, |direct| {
            let file = open(path, true, direct)?;
            let n = retry_eintr(|| file.write_at(&buf.0, 0))?;
            if n != BLOCK {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("short write: {n} of {BLOCK} bytes"),
                ));
            }
            if !direct {
                file.sync_data()?;
            }
            Ok(())
        });
        self.note(r)
    }

    fn note<T>(&self, r: (io::Result<T>, bool)) -> io::Result<T> {
        let (r, direct) = r;
        if r.is_ok() {
            let mode = if direct { MODE_DIRECT } else { MODE_BUFFERED };
            self.last_mode.store(mode, Ordering::Relaxed);
            // Refused O_DIRECT: reads may now come from the client's cache, so freshness
            // rests on the mount options. Said once, so an operator can check them.
            if self.direct && !direct && !self.warned.swap(true, Ordering::Relaxed) {
                log::warn!(
                    "hamon heartbeat: {} refuses O_DIRECT: using buffered I/O with fdatasync; \
                     mount it with actimeo=0 (or noac) and lookupcache=none so reads see \
                     other nodes' writes",
                    self.dir.display()
                );
            }
        }
        r
    }
}

impl Store for FileStore {
    fn read_node(&self, node: &str) -> io::Result<Vec<u8>> {
        self.read_file(&self.checked_node_path(node)?)
    }

    fn write_node(&self, node: &str, block: &[u8]) -> io::Result<()> {
        self.write_file(&self.checked_node_path(node)?, block)
    }

    fn read_maint(&self) -> io::Result<Vec<u8>> {
        self.read_file(&self.maint_path())
    }

    fn write_maint(&self, block: &[u8]) -> io::Result<()> {
        self.write_file(&self.maint_path(), block)
    }

    /// `O_CREAT|O_EXCL`, write, fsync of file and directory. A crash between creating and
    /// syncing can leave a short file, which then reads short (and never decodes) until
    /// removed by hand and initialised again.
    fn init_node(&self, node: &str, block: &[u8]) -> io::Result<()> {
        self.init_file(&self.checked_node_path(node)?, block)
    }

    fn init_maint(&self, block: &[u8]) -> io::Result<()> {
        self.init_file(&self.maint_path(), block)
    }
}

fn check_block(block: &[u8]) -> io::Result<()> {
    check_size(block, BLOCK)
}

fn check_size(block: &[u8], size: usize) -> io::Result<()> {
    if block.len() == size {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("record block is {} bytes, not {size}", block.len()),
        ))
    }
}

/// Opens an existing file (never creates): read-only, or read-write with `O_DSYNC`; with
/// `O_DIRECT` if `direct`.
fn open(path: &Path, write: bool, direct: bool) -> io::Result<File> {
    let mut flags = 0;
    if write {
        flags |= libc::O_DSYNC;
    }
    if direct {
        flags |= libc::O_DIRECT;
    }
    OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(flags)
        .open(path)
}

/// Runs `op(true)` (with `O_DIRECT`) unless `try_direct` is false, and `op(false)` if that was
/// not tried or failed with EINVAL: the file system's way of refusing `O_DIRECT`, at open or at
/// the I/O (when nothing has been transferred). Returns the result and whether it came from the
/// direct attempt.
fn direct_or_buffered<T>(
    try_direct: bool,
    mut op: impl FnMut(bool) -> io::Result<T>,
) -> (io::Result<T>, bool) {
    if try_direct {
        match op(true) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            r => return (r, true),
        }
    }
    (op(false), false)
}

fn retry_eintr(mut f: impl FnMut() -> io::Result<usize>) -> io::Result<usize> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Makes a new directory entry durable. File systems that cannot fsync a directory (EINVAL)
/// are let through: there is nothing more to do on them.
fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir).and_then(|d| d.sync_all()) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heartbeat::record::{NodeRecord, NodeState};
    use std::sync::atomic::AtomicU64;

    /// A fresh directory, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn under(base: &Path) -> TempDir {
            static N: AtomicU64 = AtomicU64::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir = base.join(format!("hamon-hbstore-{}-{n}-{nanos}", std::process::id()));
            std::fs::create_dir(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Directories to test on: the system temp dir, a tmpfs if there is one, and the build's
    /// target dir (often a different file system from /tmp).
    fn bases() -> Vec<PathBuf> {
        let mut v = vec![std::env::temp_dir()];
        let shm = Path::new("/dev/shm");
        if shm.is_dir() {
            v.push(shm.to_owned());
        }
        if let Some(deps) = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_owned))
        {
            v.push(deps);
        }
        v
    }

    fn stores() -> Vec<(TempDir, FileStore)> {
        let mut v = Vec::new();
        for base in bases() {
            for direct in [true, false] {
                let tmp = TempDir::under(&base);
                let store = FileStore::new(&tmp.0).with_direct_io(direct);
                v.push((tmp, store));
            }
        }
        v
    }

    fn block(fill: u8) -> Vec<u8> {
        let mut b = vec![fill; BLOCK];
        b[0] = 0xa5;
        b[BLOCK - 1] = fill.wrapping_add(1);
        b
    }

    #[test]
    fn init_creates_and_keeps_existing() {
        for (_tmp, s) in stores() {
            assert!(!s.node_path("a").exists());
            s.init_node("a", &block(1)).unwrap();
            assert_eq!(
                std::fs::metadata(s.node_path("a")).unwrap().len(),
                BLOCK as u64
            );
            assert_eq!(s.read_node("a").unwrap(), block(1));
            // A second init (say, another node's installer) changes nothing.
            s.init_node("a", &block(2)).unwrap();
            assert_eq!(s.read_node("a").unwrap(), block(1));

            s.init_maint(&block(3)).unwrap();
            s.init_maint(&block(4)).unwrap();
            assert_eq!(s.read_maint().unwrap(), block(3));
            assert_eq!(s.maint_path(), s.dir().join("maint"));
            assert_eq!(s.node_path("a"), s.dir().join("node.a"));
        }
    }

    #[test]
    fn an_events_file_is_created_once_written_in_place_and_never_created_by_a_write() {
        for (_tmp, s) in stores() {
            let ev = |seq, text: &str| published::encode_block("c", "a", seq, text).unwrap();
            let e = s.write_events("a", &ev(1, "x\n")).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotFound);
            assert!(!s.events_path("a").exists());
            s.init_events("a", &ev(0, "")).unwrap();
            s.init_events("a", &ev(5, "init again\n")).unwrap();
            assert_eq!(s.read_events("a").unwrap(), ev(0, ""));
            s.write_events("a", &ev(2, "y\n")).unwrap();
            let back = s.read_events("a").unwrap();
            assert_eq!(back, ev(2, "y\n"));
            assert_eq!(published::decode(&back, "c", "a").unwrap().payload, "y\n");
            assert!(s.write_events("a", &[0; 10]).is_err());
            assert!(s.init_events("../x", &ev(0, "")).is_err());
            // A file grown by someone else is read only as far as an events file goes.
            std::fs::write(s.events_path("a"), vec![7u8; 3 * published::SIZE]).unwrap();
            assert_eq!(s.read_events("a").unwrap().len(), published::SIZE);
            assert_eq!(s.events_path("a"), s.dir().join("events.a"));
        }
    }

    #[test]
    fn write_then_read_round_trips_in_place() {
        for (_tmp, s) in stores() {
            s.init_node("n1", &vec![0; BLOCK]).unwrap();
            s.init_maint(&vec![0; BLOCK]).unwrap();
            for seq in 1..=3 {
                let rec = NodeRecord {
                    cluster: "c".into(),
                    node: "n1".into(),
                    incarnation: 5,
                    seq,
                    state: NodeState::Active,
                    epoch: 1,
                    max_epoch: 1,
                    maint_ack: 0,
                    period_ms: 1000,
                    renew_deadline_ms: 4000,
                    takeover_ms: 9000,
                    kill_budget_ms: 2000,
                    preferred: false,
                    wall_ms: 0,
                };
                s.write_node("n1", &rec.encode()).unwrap();
                let back = s.read_node("n1").unwrap();
                assert_eq!(back.len(), BLOCK);
                assert_eq!(NodeRecord::decode(&back, "c"), Ok(rec));
            }
            s.write_maint(&block(9)).unwrap();
            assert_eq!(s.read_maint().unwrap(), block(9));
            assert_eq!(
                std::fs::metadata(s.node_path("n1")).unwrap().len(),
                BLOCK as u64
            );
            assert!(s.direct_io_used().is_some());
        }
    }

    #[test]
    fn missing_files_are_not_found_and_never_created() {
        for (tmp, s) in stores() {
            let e = s.write_node("ghost", &block(1)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotFound);
            assert!(!s.node_path("ghost").exists());
            let e = s.write_maint(&block(1)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotFound);
            assert!(!s.maint_path().exists());
            assert_eq!(
                s.read_node("ghost").unwrap_err().kind(),
                io::ErrorKind::NotFound
            );
            assert_eq!(s.read_maint().unwrap_err().kind(), io::ErrorKind::NotFound);
            assert_eq!(std::fs::read_dir(&tmp.0).unwrap().count(), 0);
            // The whole directory gone (share not mounted at all).
            let gone = FileStore::new(tmp.0.join("not-there"));
            let e = gone.write_node("a", &block(1)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotFound);
            let e = gone.init_node("a", &block(1)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotFound);
            assert!(!tmp.0.join("not-there").exists());
            assert_eq!(s.direct_io_used(), None);
        }
    }

    #[test]
    fn bad_arguments_are_refused() {
        for (tmp, s) in stores() {
            s.init_node("a", &block(1)).unwrap();
            for bad in [0, 1, BLOCK - 1, BLOCK + 1] {
                let e = s.write_node("a", &vec![0; bad]).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
                let e = s.init_node("b", &vec![0; bad]).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            }
            assert_eq!(s.read_node("a").unwrap(), block(1));
            for bad in ["", "../a", "a/b", "x".repeat(33).as_str()] {
                let e = s.read_node(bad).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
                let e = s.write_node(bad, &block(1)).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
                let e = s.init_node(bad, &block(1)).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
            }
            assert_eq!(std::fs::read_dir(&tmp.0).unwrap().count(), 1);
        }
    }

    #[test]
    fn a_short_file_reads_short() {
        for (_tmp, s) in stores() {
            std::fs::write(s.node_path("s"), [7u8; 100]).unwrap();
            assert_eq!(s.read_node("s").unwrap(), vec![7u8; 100]);
            std::fs::write(s.maint_path(), []).unwrap();
            assert_eq!(s.read_maint().unwrap(), Vec::<u8>::new());
        }
    }

    #[test]
    fn direct_io_is_reported() {
        for (_tmp, s) in stores() {
            s.init_maint(&block(1)).unwrap();
            assert_eq!(s.direct_io_used(), None);
            s.read_maint().unwrap();
            let used = s.direct_io_used().unwrap();
            if !s.direct {
                assert!(!used);
            }
        }
    }

    fn einval() -> io::Error {
        io::Error::from_raw_os_error(libc::EINVAL)
    }

    #[test]
    fn einval_from_direct_falls_back_to_buffered() {
        let mut calls = Vec::new();
        let (r, direct) = direct_or_buffered(true, |d| {
            calls.push(d);
            if d { Err(einval()) } else { Ok(1) }
        });
        assert_eq!((r.unwrap(), direct, calls), (1, false, vec![true, false]));
    }

    #[test]
    fn other_errors_are_not_retried_and_buffered_only_is_honoured() {
        let mut calls = Vec::new();
        let (r, direct) = direct_or_buffered::<()>(true, |d| {
            calls.push(d);
            Err(io::Error::from_raw_os_error(libc::EIO))
        });
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EIO));
        assert_eq!((direct, calls), (true, vec![true]));

        let mut calls = Vec::new();
        let (r, direct) = direct_or_buffered(false, |d| {
            calls.push(d);
            Ok(2)
        });
        assert_eq!((r.unwrap(), direct, calls), (2, false, vec![false]));

        // EINVAL without O_DIRECT is a real error.
        let (r, _) = direct_or_buffered::<()>(true, |_| Err(einval()));
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn aligned_buffer_is_aligned() {
        let b = Aligned::boxed();
        assert_eq!(b.0.as_ptr() as usize % 4096, 0);
        assert_eq!(b.0.len(), BLOCK);
    }
}
