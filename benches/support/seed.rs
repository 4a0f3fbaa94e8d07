//! The seed heartbeat script (`shared/baselines/seed-heartbeat.sh` beside the checkout), the
//! baseline the heartbeat is measured against. It is copied byte for byte into a scratch
//! directory and run there unchanged, with what it expects beside it in its working
//! directory: a `heartbeat` directory and the application it supervises,
//! `./exmapleApplication.sh` (its spelling), which it finds again with `pgrep -f`.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

/// The seed script: `$HAMON_SEED_SCRIPT`, else `../shared/baselines/seed-heartbeat.sh` from
/// the checkout. Err says what is missing.
pub fn source() -> Result<PathBuf, String> {
    let path = std::env::var_os("HAMON_SEED_SCRIPT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/baselines/seed-heartbeat.sh")
        });
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "the seed script {} is missing (set HAMON_SEED_SCRIPT)",
            path.display()
        ))
    }
}

/// Prepares `dir` as the seed's working directory: the script, copied unchanged (the copy
/// is compared with the original), `heartbeat` (a link to `shared`, the directory the
/// instances share) and `exmapleApplication.sh` running `app_body` under /bin/sh. Returns
/// the script's path.
pub fn install(dir: &Path, script: &Path, shared: &Path, app_body: &str) -> PathBuf {
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let original = fs::read(script).expect("read the seed script");
    let copy = dir.join("seed-heartbeat.sh");
    fs::write(&copy, &original).expect("copy the seed script");
    assert_eq!(
        fs::read(&copy).expect("read the copy"),
        original,
        "copied unchanged"
    );
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).expect("chmod");
    symlink(shared, dir.join("heartbeat")).expect("link heartbeat to the shared directory");
    let app = dir.join("exmapleApplication.sh");
    fs::write(&app, format!("#!/bin/sh\n{app_body}\n")).expect("write the application");
    fs::set_permissions(&app, fs::Permissions::from_mode(0o755)).expect("chmod");
    copy
}
