//! The cluster-manager kit as a site installs it, for tests/shells.rs and tests/pacemaker.rs:
//! a temporary MZ_HOME holding a copy of the scripts and `ha-probe` (owned by the test's
//! user, writable by nobody else, as the scripts demand), the example application `pico`
//! built once against this run's library, an ha.conf, and a sweeper that kills, also when
//! a test fails half-way, every process group the site's start commands left behind.
//!
//! Included with `#[path = "common/kit.rs"] mod kit;` beside `mod common;`.

#![allow(dead_code)] // each test binary uses its own subset

use crate::common::{TempDir, child, find_lib, lib_dir, profile_dir, root};
use std::collections::BTreeSet;
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

/// Long enough for a loaded CI machine; every wait polls and ends as soon as it can.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub fn ha_probe() -> &'static str {
    env!("CARGO_BIN_EXE_ha-probe")
}

/// The example pico, compiled once per test process against this run's `libhamon.a`,
/// into `target/<profile>/kit-test/` (a build product, not a temp file).
pub fn pico() -> &'static Path {
    static PICO: OnceLock<PathBuf> = OnceLock::new();
    PICO.get_or_init(|| {
        let dir = profile_dir().join("kit-test");
        fs::create_dir_all(&dir).expect("create kit-test dir");
        let out = dir.join("pico");
        let tmp = dir.join(format!("pico.tmp.{}", std::process::id()));
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
        let lib = find_lib(&lib_dir(), "a").expect("libhamon.a");
        let output = Command::new(&cc)
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-Wpedantic"])
            .arg(format!("-I{}", root().join("include").display()))
            .arg(root().join("c-examples/pico.c"))
            .arg(&lib)
            .args(["-lpthread", "-ldl", "-lm", "-o"])
            .arg(&tmp)
            .output()
            .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?}: {e}"));
        assert!(
            output.status.success(),
            "compiling c-examples/pico.c failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        fs::rename(&tmp, &out).expect("rename pico");
        out
    })
}

/// A port nobody listens on right now: bound, read back, released.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// State and process group of a process, from /proc/PID/stat.
pub fn proc_stat(pid: u32) -> Option<(char, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let pgrp = fields.nth(1)?.parse().ok()?;
    Some((state, pgrp))
}

fn all_pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .expect("read /proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

fn live(pid: u32) -> bool {
    matches!(proc_stat(pid), Some((state, _)) if state != 'Z' && state != 'X')
}

/// Live (not zombie) processes of process group `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|&pid| matches!(proc_stat(pid), Some((s, g)) if g == pgid && s != 'Z' && s != 'X'))
        .collect()
}

/// Live processes whose environment holds `needle` (a `NAME=value` entry).
pub fn marked(needle: &str) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|&pid| {
            live(pid)
                && fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                    env.split(|&b| b == 0)
                        .any(|entry| entry == needle.as_bytes())
                })
        })
        .collect()
}

pub fn comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

pub fn signal(sig: &str, target: &str) {
    let _ = Command::new("kill")
        .args(["-s", sig, "--", target])
        .stderr(Stdio::null())
        .status();
}

/// Kills, on drop, every process group holding a process with `needle` in its
/// environment: whatever the scenario started, also when it fails half-way.
struct Sweeper {
    needle: String,
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        for _ in 0..50 {
            let pids = marked(&self.needle);
            if pids.is_empty() {
                return;
            }
            let groups: BTreeSet<u32> = pids
                .iter()
                .filter_map(|&p| proc_stat(p))
                .map(|s| s.1)
                .collect();
            for g in groups {
                signal("KILL", &format!("-{g}"));
            }
            for p in pids {
                signal("KILL", &p.to_string());
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Runs a command to completion (failing after `PATIENCE`).
pub fn run(cmd: &mut Command) -> child::Finished {
    child::run_to_end(cmd, PATIENCE)
}

/// Polls `probe` until it gives `Some`, for at most `PATIENCE`; the panic shows `last`.
pub fn wait_for<T>(what: &str, probe: impl FnMut(&mut String) -> Option<T>) -> T {
    child::wait_within(PATIENCE, what, probe)
}

/// A temporary MZ_HOME: `kit/` (monitor, online, offline, clean, ocf/hamon,
/// lib/ha-common.sh, ha-probe), `pico`, `ha.conf`, pico's flag file, `log/` and `run/`.
pub struct Site {
    _sweeper: Sweeper,
    dir: TempDir,
    pub conf: PathBuf,
    pub flag: PathBuf,
    pub port: u16,
    pub mark: String,
}

impl Site {
    pub fn new(label: &str) -> Site {
        let dir = TempDir::new(label);
        let kit = dir.path().join("kit");
        for f in [
            "monitor",
            "online",
            "offline",
            "clean",
            "ocf/hamon",
            "lib/ha-common.sh",
        ] {
            let to = kit.join(f);
            fs::create_dir_all(to.parent().expect("parent")).expect("mkdir kit");
            fs::copy(root().join("scripts").join(f), &to).expect("copy a script");
            fs::set_permissions(&to, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        fs::copy(ha_probe(), kit.join("ha-probe")).expect("copy ha-probe");
        fs::copy(pico(), dir.path().join("pico")).expect("copy pico");
        for d in [kit.join("ocf"), kit.join("lib"), kit] {
            fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let mark = format!("HAMON_TEST_MARK={}", dir.path().display());
        Site {
            _sweeper: Sweeper {
                needle: mark.clone(),
            },
            conf: dir.path().join("ha.conf"),
            flag: dir.path().join("flag"),
            port: free_port(),
            mark,
            dir,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The copy of scripts/NAME (or of ha-probe) in the site's kit.
    pub fn kit(&self, name: &str) -> PathBuf {
        self.path().join("kit").join(name)
    }

    /// The start command: pico with its flag file and the sweeper's marker, plus a `sleep`
    /// in the same process group, so that "the whole group" means more than one process.
    pub fn pico_start(&self) -> String {
        format!(
            "export '{}' PICO_FLAG_FILE='{}'; sleep 1000 & exec '{}'",
            self.mark,
            self.flag.display(),
            self.path().join("pico").display()
        )
    }

    /// Writes ha.conf (mode 644): log and state under the site, probe_timeout 2 s, then
    /// instance ec1 running pico on the site's port with `extra` settings.
    pub fn write_pico_conf(&self, extra: &str) {
        self.write_conf_start(&self.pico_start(), extra);
    }

    /// `write_pico_conf` with another start command.
    pub fn write_conf_start(&self, start: &str, extra: &str) {
        let text = format!(
            "log_dir = $MZ_HOME/log\nstate_dir = $MZ_HOME/run\nprobe_timeout = 2\n\n\
             [ec1]\nstart = {start}\nha_port = {}\n{extra}",
            self.port
        );
        fs::write(&self.conf, text).expect("write ha.conf");
        fs::set_permissions(&self.conf, fs::Permissions::from_mode(0o644)).expect("chmod ha.conf");
    }

    /// The pid on the pid file's first line (the others identify the process).
    pub fn pid(&self) -> Option<u32> {
        fs::read_to_string(self.path().join("run/ec1.pid"))
            .ok()?
            .lines()
            .next()?
            .parse()
            .ok()
    }

    pub fn set_flag(&self, word: &str) {
        fs::write(&self.flag, format!("{word}\n")).expect("write flag");
    }

    /// The pico processes this site runs (live, carrying its marker).
    pub fn picos(&self) -> Vec<u32> {
        marked(&self.mark)
            .into_iter()
            .filter(|&p| comm(p) == "pico")
            .collect()
    }

    /// Every live process this site's start commands left (pico and its sleep).
    pub fn processes(&self) -> Vec<u32> {
        marked(&self.mark)
    }
}
