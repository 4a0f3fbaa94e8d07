//! Helpers shared by the integration tests that build and run C programs and scripts:
//! where this run's library is, and temporary directories.

#![allow(dead_code)] // each test binary uses its own subset

pub mod cc;
pub mod child;
pub mod cluster;
pub mod cpu;
#[cfg(feature = "etcd")]
pub mod etcd;
#[cfg(feature = "etcd")]
pub mod fake_etcd;
pub mod http;
pub mod hung;
pub mod java;
/// Free loopback ports below the ephemeral range, as the benchmarks take them.
#[path = "../../benches/support/ports.rs"]
pub mod ports;
pub mod prom;
pub mod promtool;
#[path = "../../benches/support/random.rs"]
mod random;
pub mod release;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `target/<profile>`, the directory above this test binary's `deps/`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("the test binary has a directory");
    deps.parent().expect("deps/ has a parent").to_path_buf()
}

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `program` run through `prefix`, a command that runs its arguments elsewhere (e.g.
/// `ip netns exec NS`, which execs them: the child's pid is the program's); empty: directly.
pub fn prefixed(prefix: &[String], program: impl AsRef<OsStr>) -> Command {
    match prefix.split_first() {
        None => Command::new(program),
        Some((first, rest)) => {
            let mut cmd = Command::new(first);
            cmd.args(rest).arg(program);
            cmd
        }
    }
}

// ---- where the library is --------------------------------------------------------------

/// The directory holding `libhamon.a` and `libhamon.so` for this build.
///
/// Cargo compiles the library target once, with every crate type of `[lib] crate-type`
/// (cdylib, staticlib, rlib), as the dependency of each integration test, and writes all three
/// into `target/<profile>/deps/`, where this test binary lives too (checked with cargo 1.95:
/// `cargo test --test c_examples` leaves `deps/libhamon.{a,so,rlib}`; only `cargo build`
/// copies them up to `target/<profile>/`). Taking them from there costs nothing and they are
/// exactly the sources under test. Because the crate has a cdylib, cargo gives these files no
/// hash suffix; a `libhamon-<hash>.a` is accepted too, newest first.
///
/// Should a cargo ever stop building the non-rlib types for tests, the fallback runs
/// `cargo build --lib` with the same target directory and profile (cargo releases its build
/// lock before it runs test binaries, so this does not deadlock; the lib is then fresh, so
/// it only links) and takes the files from `target/<profile>/`.
pub fn lib_dir() -> PathBuf {
    let profile_dir = profile_dir();
    let deps = profile_dir.join("deps");
    for dir in [&deps, &profile_dir] {
        if find_lib(dir, "a").is_some() && find_lib(dir, "so").is_some() {
            return dir.clone();
        }
    }
    let target_dir = profile_dir.parent().expect("target dir");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(other) => other,
        None => panic!("unexpected layout: {}", profile_dir.display()),
    };
    let status = Command::new(env!("CARGO"))
        .args(["build", "--lib", "--profile", profile, "--target-dir"])
        .arg(target_dir)
        .current_dir(root())
        .status()
        .expect("run cargo build --lib");
    assert!(status.success(), "cargo build --lib failed: {status}");
    assert!(
        find_lib(&profile_dir, "a").is_some() && find_lib(&profile_dir, "so").is_some(),
        "cargo build --lib left no libhamon.a/.so in {}",
        profile_dir.display()
    );
    profile_dir
}

/// `libhamon.EXT`, else the newest `libhamon-*.EXT`, in `dir`.
pub fn find_lib(dir: &Path, ext: &str) -> Option<PathBuf> {
    let exact = dir.join(format!("libhamon.{ext}"));
    if exact.is_file() {
        return Some(exact);
    }
    let suffix = format!(".{ext}");
    fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libhamon-") && name.ends_with(&suffix)
        })
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
}

/// Where heartbeat clusters live in tests: tmpfs when the machine has one. The fast profile
/// counts a write slower than T_io = 150 ms as failed, and a disk shared with parallel builds
/// stalls fsync for longer than that, so daemons would lose their leases to the disk rather than to the
/// faults under test. Slow storage is the simulation's subject (src/heartbeat/sim.rs).
/// (One test runs a copy of the daemon from there, so it must allow exec.)
pub fn fast_storage() -> PathBuf {
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    let usable = mounts.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3
            && f[1] == "/dev/shm"
            && f[2] == "tmpfs"
            && !f[3].split(',').any(|o| o == "noexec")
    });
    if usable {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    }
}

/// A fresh directory (0755), removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        TempDir::under(&std::env::temp_dir(), label)
    }

    /// For a heartbeat cluster with the fast timing profile: see [`fast_storage`].
    pub fn on_fast_storage(label: &str) -> TempDir {
        TempDir::under(&fast_storage(), label)
    }

    fn under(base: &Path, label: &str) -> TempDir {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = base.join(format!(
            "hamon-test-{label}-{}-{}-{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&path).expect("create temp dir");
        // Readable by other users: some tests run programs as an unprivileged user.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
