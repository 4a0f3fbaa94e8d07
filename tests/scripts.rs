//! Drives the cluster-manager scripts for real: `scripts/monitor`, `online`, `offline`,
//! `clean`, the OCF agent `scripts/ocf/hamon`, `scripts/dist` and `scripts/install`,
//! against the example application `c-examples/pico.c` compiled against the library of
//! this very test run (as tests/c_examples.rs does). Every scenario runs under dash and
//! under bash (`dash scripts/online ...`, `bash scripts/online ...`).
//!
//! Needs `cc` (or `$CC`), dash, bash, shellcheck, ps, kill, tar; python3 or xmllint;
//! pkg-config and readelf for the install test. `scripts/test` installs what is missing.
//! Linux only: process groups and users are checked through /proc.
//!
//! Every process a test starts is killed when the test ends, also when it fails: each
//! scenario's start commands export a marker variable, and a guard kills every process
//! group holding a process with that marker in its environment.

#![cfg(target_os = "linux")]

mod common;

use common::{TempDir, find_lib, lib_dir, profile_dir, root};
use std::collections::BTreeSet;
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

/// Long enough for a loaded CI machine; every wait polls and ends as soon as it can.
const PATIENCE: Duration = Duration::from_secs(20);

/// For scripts/dist and scripts/install, which run release builds (the first time).
const BUILD_PATIENCE: Duration = Duration::from_secs(600);

fn scripts() -> PathBuf {
    root().join("scripts")
}

fn ha_probe() -> &'static str {
    env!("CARGO_BIN_EXE_ha-probe")
}

/// The example pico, compiled once per test process against this run's `libhamon.a`,
/// into `target/<profile>/scripts-test/` (a build product, not a temp file).
fn pico() -> &'static Path {
    static PICO: OnceLock<PathBuf> = OnceLock::new();
    PICO.get_or_init(|| {
        let dir = profile_dir().join("scripts-test");
        fs::create_dir_all(&dir).expect("create scripts-test dir");
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

// ---- temporary directories, ports, processes ----------------------------------------

/// A port nobody listens on right now: bound, read back, released.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// State and process group of a process, from /proc/PID/stat.
fn proc_stat(pid: u32) -> Option<(char, u32)> {
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
fn group_members(pgid: u32) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|&pid| matches!(proc_stat(pid), Some((s, g)) if g == pgid && s != 'Z' && s != 'X'))
        .collect()
}

/// Live processes whose environment holds `needle` (a `NAME=value` entry).
fn marked(needle: &str) -> Vec<u32> {
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

fn comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn signal(sig: &str, target: &str) {
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

/// What a finished command did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    fn show(&self) -> String {
        format!(
            "exit {:?} after {:?}\n--- stdout:\n{}--- stderr:\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Runs a command to completion (killing it after `PATIENCE`). Its stdout and stderr
/// must close when it exits: a cluster manager reading them would hang on a background
/// process that kept them open, so that is a test failure too.
fn run(cmd: &mut Command) -> Run {
    run_within(cmd, PATIENCE)
}

/// `run` with another limit (cargo builds take longer).
fn run_within(cmd: &mut Command, limit: Duration) -> Run {
    let done = common::child::run_to_end(cmd, limit);
    Run {
        code: done.status.code(),
        stdout: done.stdout,
        stderr: done.stderr,
        elapsed: done.elapsed,
    }
}

/// Polls `probe` until it gives `Some`, for at most `PATIENCE`; the panic shows `last`.
fn wait_for<T>(what: &str, probe: impl FnMut(&mut String) -> Option<T>) -> T {
    common::child::wait_within(PATIENCE, what, probe)
}

/// pico started directly (not through the scripts), killed on drop.
struct DirectPico {
    child: Child,
    port: u16,
}

impl DirectPico {
    fn start(flag: &Path) -> DirectPico {
        let port = free_port();
        let mut child = Command::new(pico())
            .env("HA_PORT", port.to_string())
            .env("PICO_FLAG_FILE", flag)
            .env_remove("HA_HOST")
            .env_remove("PICO_PID_FILE")
            .env_remove("PICO_READY_DELAY_MS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pico");
        let pid = child.id();
        wait_for("pico to answer UP", |last| {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("pico {pid} exited: {status}");
            }
            let r = run(Command::new(ha_probe()).args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--timeout",
                "1",
            ]));
            *last = r.show();
            (r.code == Some(110)).then_some(())
        });
        DirectPico { child, port }
    }
}

impl Drop for DirectPico {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- a site: a temporary MZ_HOME with an ha.conf -----------------------------------

const JAVA_HOME: &str = "/usr/lib/jvm/none";
const USERNAME: &str = "mz";

/// A temporary MZ_HOME holding ha.conf, log/, run/ and pico's flag file; the sweeper
/// kills whatever the scenario started.
struct Site {
    _sweeper: Sweeper,
    dir: TempDir,
    conf: PathBuf,
    flag: PathBuf,
    port: u16,
    mark: String,
}

impl Site {
    fn new(label: &str) -> Site {
        let dir = TempDir::new(label);
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

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A start or stop command line that exports the sweeper's marker first.
    fn cmd(&self, body: &str) -> String {
        format!("export '{}'; {body}", self.mark)
    }

    /// The usual start command: pico with its flag file, plus a `sleep` in the same
    /// process group, so that "the whole group" means more than one process.
    /// The pico runs from a copy in the site, which every user can reach (the checkout may
    /// sit in a directory only its owner can enter, and one test runs pico as nobody).
    fn pico_start(&self) -> String {
        let copy = self.path().join("pico");
        if !copy.exists() {
            fs::copy(pico(), &copy).expect("copy pico into the site");
        }
        self.cmd(&format!(
            "export PICO_FLAG_FILE='{}'; sleep 1000 & exec '{}'",
            self.flag.display(),
            copy.display()
        ))
    }

    /// Writes ha.conf: defaults (log and state under the site), then `sections`.
    fn write_conf(&self, sections: &str) {
        let text = format!(
            "# written by tests/scripts.rs\nlog_dir = $MZ_HOME/log\nstate_dir = {}/run\nprobe_timeout = 2\n\n{sections}",
            self.path().display()
        );
        fs::write(&self.conf, text).expect("write ha.conf");
        fs::set_permissions(&self.conf, fs::Permissions::from_mode(0o644)).expect("chmod ha.conf");
    }

    /// The usual instance: [ec1] running pico on this site's port.
    fn write_pico_conf(&self, extra: &str) {
        self.write_conf(&format!(
            "[ec1]\nstart = {}\nha_port = {}\nonline_timeout = 10\noffline_timeout = 10\n{extra}",
            self.pico_start(),
            self.port
        ));
    }

    fn pid_file(&self) -> PathBuf {
        self.path().join("run/ec1.pid")
    }

    /// The pid on the pid file's first line (the others identify the process).
    fn pid(&self) -> Option<u32> {
        fs::read_to_string(self.pid_file())
            .ok()?
            .lines()
            .next()?
            .parse()
            .ok()
    }

    /// Runs scripts/NAME under `shell` with JAVA_HOME MZ_HOME username first, and this
    /// site's HA_CONF and this build's HA_PROBE.
    fn script(&self, shell: &str, name: &str, args: &[&str]) -> Run {
        let mz_home = self.path().display().to_string();
        let mut cmd = Command::new(shell);
        cmd.arg(scripts().join(name))
            .args([JAVA_HOME, &mz_home, USERNAME])
            .args(args)
            .env("HA_CONF", &self.conf)
            .env("HA_PROBE", ha_probe());
        run(&mut cmd)
    }

    /// scripts/monitor for this site's port, with `extra` after the port.
    fn monitor(&self, shell: &str, extra: &[&str]) -> Run {
        let port = self.port.to_string();
        let mut args = vec![port.as_str()];
        args.extend_from_slice(extra);
        self.script(shell, "monitor", &args)
    }

    /// The OCF agent with its parameters in OCF_RESKEY_* (no HA_CONF, no HA_PROBE).
    fn ocf(&self, shell: &str, action: &str) -> Run {
        run(Command::new(shell)
            .arg(scripts().join("ocf/hamon"))
            .arg(action)
            .env_remove("HA_CONF")
            .env_remove("HA_PROBE")
            .env("OCF_RESKEY_instance", "ec1")
            .env("OCF_RESKEY_conf", &self.conf)
            .env("OCF_RESKEY_probe", ha_probe())
            .env("OCF_RESKEY_mz_home", self.path())
            .env("OCF_RESKEY_java_home", JAVA_HOME))
    }

    fn set_flag(&self, word: &str) {
        fs::write(&self.flag, format!("{word}\n")).expect("write flag");
    }

    /// The pico processes this site runs (live, carrying its marker).
    fn picos(&self) -> Vec<u32> {
        marked(&self.mark)
            .into_iter()
            .filter(|&p| comm(p) == "pico")
            .collect()
    }

    fn log(&self) -> String {
        fs::read_to_string(self.path().join("log/ec1.log")).unwrap_or_default()
    }
}

fn expect(r: &Run, code: i32, stdout_has: &str, what: &str) {
    assert_eq!(r.code, Some(code), "{what}:\n{}", r.show());
    assert!(
        r.stdout.contains(stdout_has),
        "{what}: stdout lacks {stdout_has:?}:\n{}",
        r.show()
    );
}

/// Runs `$name(shell)` as two tests, one per shell.
macro_rules! both_shells {
    ($scenario:ident, $dash:ident, $bash:ident) => {
        #[test]
        fn $dash() {
            $scenario("dash");
        }
        #[test]
        fn $bash() {
            $scenario("bash");
        }
    };
}

// ---- the scenarios -------------------------------------------------------------------

both_shells!(lifecycle, lifecycle_dash, lifecycle_bash);

/// online -> monitor 110 -> check fails -> 100 -> SIGSTOP -> 100 in time -> clean kills
/// the whole group -> offline and online are idempotent.
fn lifecycle(shell: &str) {
    let site = Site::new(&format!("life-{shell}"));
    site.write_pico_conf("");

    let r = site.script(shell, "online", &["ec1"]);
    expect(&r, 0, "Starting ec1...done.", "online");
    let pid = site.pid().expect("online wrote the pid file");
    let members = group_members(pid);
    assert!(
        members.len() >= 2,
        "pico and sleep in group {pid}: {members:?}"
    );
    assert_eq!(site.picos(), [pid], "pico leads its own process group");

    let r = site.monitor(shell, &[]);
    expect(
        &r,
        110,
        "OK",
        "monitor of a healthy pico (default host 127.0.0.1)",
    );
    assert_eq!(r.stdout, "OK\n", "{}", r.show());

    site.set_flag("down");
    let r = wait_for("monitor 100 after the check failed", |last| {
        let r = site.monitor(shell, &["127.0.0.1", "2"]);
        *last = r.show();
        (r.code == Some(100)).then_some(r)
    });
    assert_eq!(r.stdout, "FAILED\n", "{}", r.show());
    let r = site.monitor(shell, &["127.0.0.1", "2", "debug"]);
    expect(&r, 100, "DOWN v=1", "monitor debug shows the state line");
    assert!(
        r.stdout.contains("says down") && r.stdout.ends_with("FAILED\n"),
        "{}",
        r.show()
    );

    site.set_flag("up");
    wait_for("monitor 110 after the check recovered", |last| {
        let r = site.monitor(shell, &["", "2"]);
        *last = r.show();
        (r.code == Some(110)).then_some(())
    });

    // Hung with its port open: the kernel still accepts connections, nobody answers.
    signal("STOP", &pid.to_string());
    let r = site.monitor(shell, &["127.0.0.1", "1"]);
    expect(&r, 100, "FAILED", "monitor of a stopped (hung) pico");
    assert!(
        r.elapsed < Duration::from_secs(2),
        "sec_timeout 1 must bound the call: {:?}",
        r.elapsed
    );

    let r = site.script(shell, "clean", &["ec1", "5"]);
    expect(&r, 0, "Killing ec1...done.", "clean");
    assert!(
        group_members(pid).is_empty(),
        "left in group {pid}: {:?}",
        group_members(pid)
    );
    assert!(!site.pid_file().exists(), "clean removes the pid file");
    assert!(
        site.log().contains("clean, reason: 5 (monitor hung)"),
        "{}",
        site.log()
    );
    expect(
        &site.monitor(shell, &[]),
        100,
        "FAILED",
        "monitor after clean",
    );

    let r = site.script(shell, "clean", &["ec1"]);
    expect(&r, 0, "Killing ec1...done.", "clean of a stopped instance");
    let r = site.script(shell, "offline", &["ec1"]);
    expect(
        &r,
        0,
        "Shutting down ec1...done (not running).",
        "offline of a stopped instance",
    );

    let r = site.script(shell, "online", &["ec1"]);
    expect(&r, 0, "Starting ec1...done.", "online again");
    let pid = site.pid().expect("pid file");
    let r = site.script(shell, "online", &["ec1"]);
    expect(
        &r,
        0,
        &format!("Starting ec1...done (already running, pid {pid})."),
        "online twice",
    );
    assert_eq!(site.pid(), Some(pid), "the second online started nothing");
    assert_eq!(site.picos(), [pid], "exactly one pico runs");

    let r = site.script(shell, "offline", &["ec1"]);
    expect(&r, 0, "Shutting down ec1...done.", "offline");
    assert!(
        group_members(pid).is_empty(),
        "offline leaves nothing: {:?}",
        group_members(pid)
    );
    assert!(!site.pid_file().exists(), "offline removes the pid file");
    let out = fs::read_to_string(site.path().join("log/ec1.out")).expect("ec1.out");
    assert!(
        out.contains("pico: stopped"),
        "SIGTERM stopped pico cleanly:\n{out}"
    );
    let r = site.script(shell, "offline", &["ec1"]);
    expect(
        &r,
        0,
        "Shutting down ec1...done (not running).",
        "offline twice",
    );

    let log = site.log();
    for needle in [
        "online (JAVA_HOME=/usr/lib/jvm/none",
        "started process group",
        "sending SIGTERM",
    ] {
        assert!(log.contains(needle), "log lacks {needle:?}:\n{log}");
    }
    assert!(
        log.lines().all(|l| l.as_bytes().get(4) == Some(&b'-')),
        "timestamped:\n{log}"
    );
}

both_shells!(ocf_agent, ocf_agent_dash, ocf_agent_bash);

/// The OCF agent: meta-data, validate-all, monitor 7/0/1/7, start, stop, idempotence,
/// bad configuration, unknown actions.
fn ocf_agent(shell: &str) {
    let site = Site::new(&format!("ocf-{shell}"));
    site.write_pico_conf("");

    let r = site.ocf(shell, "meta-data");
    expect(&r, 0, "<resource-agent name=\"hamon\"", "meta-data");
    assert_valid_xml(&r.stdout);
    for needle in [
        "<parameter name=\"instance\" unique=\"1\" required=\"1\">",
        "<parameter name=\"conf\">",
        "<parameter name=\"probe\">",
        "<action name=\"monitor\"",
        "<action name=\"validate-all\"",
    ] {
        assert!(r.stdout.contains(needle), "meta-data lacks {needle}");
    }

    expect(&site.ocf(shell, "validate-all"), 0, "", "validate-all");
    expect(&site.ocf(shell, "monitor"), 7, "", "monitor before start");
    expect(
        &site.ocf(shell, "start"),
        0,
        "Starting ec1...done.",
        "start",
    );
    expect(&site.ocf(shell, "monitor"), 0, "", "monitor after start");
    expect(
        &site.ocf(shell, "start"),
        0,
        "already running",
        "start when running",
    );
    assert_eq!(site.picos().len(), 1, "one pico");

    site.set_flag("down");
    wait_for("monitor 1 (running but DOWN)", |last| {
        let r = site.ocf(shell, "monitor");
        *last = r.show();
        (r.code == Some(1)).then_some(())
    });
    site.set_flag("degraded");
    wait_for("monitor 0 (DEGRADED is running)", |last| {
        let r = site.ocf(shell, "monitor");
        *last = r.show();
        (r.code == Some(0)).then_some(())
    });

    let pid = site.pid().expect("pid");
    expect(
        &site.ocf(shell, "stop"),
        0,
        "Shutting down ec1...done.",
        "stop",
    );
    assert!(group_members(pid).is_empty(), "stop leaves nothing");
    expect(&site.ocf(shell, "monitor"), 7, "", "monitor after stop");
    expect(
        &site.ocf(shell, "stop"),
        0,
        "not running",
        "stop when stopped",
    );

    expect(&site.ocf(shell, "reload"), 3, "", "unimplemented action");
    let r = run(Command::new(shell).arg(scripts().join("ocf/hamon")));
    assert_eq!(r.code, Some(2), "no action: {}", r.show());

    // Misconfigured: bad port, unknown instance, no instance parameter.
    site.write_conf(&format!(
        "[ec1]\nstart = {}\nha_port = 99999\n",
        site.pico_start()
    ));
    let r = site.ocf(shell, "validate-all");
    assert_eq!(r.code, Some(6), "{}", r.show());
    assert!(
        r.stderr.contains("[ec1] ha_port: bad port \"99999\""),
        "{}",
        r.show()
    );
    assert_eq!(site.ocf(shell, "monitor").code, Some(6));
    site.write_pico_conf("");
    let r = run(Command::new(shell)
        .arg(scripts().join("ocf/hamon"))
        .arg("validate-all")
        .env("OCF_RESKEY_instance", "nope")
        .env("OCF_RESKEY_conf", &site.conf)
        .env("OCF_RESKEY_probe", ha_probe())
        .env("OCF_RESKEY_mz_home", site.path()));
    assert_eq!(r.code, Some(6), "{}", r.show());
    assert!(
        r.stderr.contains("no section [nope] (instances: ec1)"),
        "{}",
        r.show()
    );
    let r = run(Command::new(shell)
        .arg(scripts().join("ocf/hamon"))
        .arg("validate-all")
        .env_remove("OCF_RESKEY_instance"));
    assert_eq!(r.code, Some(6), "{}", r.show());
    assert!(
        r.stderr.contains("instance parameter is not set"),
        "{}",
        r.show()
    );
    let r = run(Command::new(shell)
        .arg(scripts().join("ocf/hamon"))
        .arg("validate-all")
        .env("OCF_RESKEY_instance", "ec1")
        .env("OCF_RESKEY_conf", &site.conf)
        .env("OCF_RESKEY_probe", site.path().join("no-such-probe"))
        .env("OCF_RESKEY_mz_home", site.path()));
    assert_eq!(
        r.code,
        Some(5),
        "missing ha-probe is not installed: {}",
        r.show()
    );
}

/// Parses `xml` with python3's minidom, else xmllint; fails when neither is installed.
fn assert_valid_xml(xml: &str) {
    let tools: [(&str, &[&str]); 2] = [
        (
            "python3",
            &[
                "-c",
                "import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.stdin)",
            ],
        ),
        ("xmllint", &["--noout", "-"]),
    ];
    for (tool, args) in tools {
        let child = Command::new(tool)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let Ok(mut child) = child else { continue };
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(xml.as_bytes()).expect("write xml");
        }
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{tool} rejects the meta-data:\n{}\n{xml}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    panic!("neither python3 nor xmllint is installed: install python3 to check the meta-data XML");
}

both_shells!(config_errors, config_errors_dash, config_errors_bash);

/// Each ha.conf mistake gives a message naming the file, line, instance or key, and a
/// non-zero exit, without starting anything.
fn config_errors(shell: &str) {
    let site = Site::new(&format!("conf-{shell}"));
    let conf = site.conf.display().to_string();
    let start = site.pico_start();
    let port = site.port;
    let cases: Vec<(String, &str, String)> = vec![
        (
            format!("[ec1]\nstart = {start}\nha_port = {port}\n"),
            "nope",
            format!("{conf}: no section [nope] (instances: ec1)"),
        ),
        (
            format!("[ec1]\nstart = {start}\nha_port = 70000\n"),
            "ec1",
            format!("{conf}:8: [ec1] ha_port: bad port \"70000\" (expected 1-65535)"),
        ),
        (
            format!("[ec1]\nstart = {start}\nha_port = http\n"),
            "ec1",
            format!("{conf}:8: [ec1] ha_port: bad port \"http\""),
        ),
        (
            format!("[ec1]\nha_port = {port}\n"),
            "ec1",
            format!("{conf}: [ec1]: no start command (add: start = COMMAND)"),
        ),
        (
            format!("[ec1]\nstart =\nha_port = {port}\n"),
            "ec1",
            format!("{conf}:7: [ec1] start: empty command"),
        ),
        (
            format!("[ec1]\nstart = {start}\n"),
            "ec1",
            format!("{conf}: [ec1]: no ha_port"),
        ),
        (
            format!("[ec1]\nstrat = {start}\nha_port = {port}\n"),
            "ec1",
            format!("{conf}:7: [ec1]: unknown key \"strat\""),
        ),
        (
            format!("[ec1]\nstart = {start}\nha_port = {port}\nonline_timeout = 10s\n"),
            "ec1",
            format!("{conf}:9: [ec1] online_timeout: \"10s\" is not a number of seconds"),
        ),
        (
            format!("[ec1]\nstart = {start}\nha_port = {port}\nha_port = 1\n"),
            "ec1",
            format!("{conf}:9: [ec1]: ha_port given twice (first on line 8)"),
        ),
        (
            format!("[ec1]\nstart = {start}\nthis is not a setting\nha_port = {port}\n"),
            "ec1",
            format!("{conf}:8: [ec1]: expected \"key = value\""),
        ),
        (
            format!("[ec1]\nstart = {start}\nha_port = {port}\nlog_dir = relative/log\n"),
            "ec1",
            "log_dir: \"relative/log\" must be an absolute path".to_string(),
        ),
        (
            format!("offline_timeout = soon\n[ec1]\nstart = {start}\nha_port = {port}\n"),
            "ec1",
            format!("{conf}:6: (defaults) offline_timeout: \"soon\""),
        ),
    ];
    for (text, instance, message) in &cases {
        site.write_conf(text);
        for script in ["online", "offline", "clean"] {
            let r = site.script(shell, script, &[instance]);
            assert_eq!(r.code, Some(6), "{script} with:\n{text}\n{}", r.show());
            assert!(
                r.stderr.contains(message.as_str()),
                "{script}: expected {message:?}:\n{}",
                r.show()
            );
            assert!(
                !r.stdout.contains("Starting"),
                "nothing is started:\n{}",
                r.show()
            );
        }
    }
    assert!(site.picos().is_empty());

    // A broken section of another instance does not block this one.
    site.write_conf(&format!(
        "[ec1]\nstart = {start}\nha_port = {port}\n[ec2]\nbogus\nha_port = x\n[ec3\n"
    ));
    expect(
        &site.script(shell, "offline", &["ec1"]),
        0,
        "Shutting down ec1...done (not running).",
        "other sections",
    );
    let r = site.script(shell, "offline", &["ec3"]);
    assert_eq!(r.code, Some(6), "{}", r.show());
    assert!(
        r.stderr.contains("unreadable section headers on lines 12"),
        "{}",
        r.show()
    );

    // World-writable: its commands would run as us.
    fs::set_permissions(&site.conf, fs::Permissions::from_mode(0o666)).expect("chmod");
    let r = site.script(shell, "online", &["ec1"]);
    assert_eq!(r.code, Some(6), "{}", r.show());
    assert!(
        r.stderr
            .contains(&format!("refusing the configuration {conf}: "))
            && r.stderr.contains("is writable by everyone (mode 666)"),
        "{}",
        r.show()
    );

    fs::remove_file(&site.conf).expect("rm ha.conf");
    let r = site.script(shell, "online", &["ec1"]);
    assert_eq!(r.code, Some(6), "{}", r.show());
    assert!(
        r.stderr.contains(&format!("cannot read {conf}")),
        "{}",
        r.show()
    );

    let r = site.script(shell, "online", &["ec1;reboot"]);
    assert_eq!(r.code, Some(2), "{}", r.show());
    assert!(r.stderr.contains("bad instance name"), "{}", r.show());
    let r = run(Command::new(shell)
        .arg(scripts().join("online"))
        .args(["a", "b"]));
    assert_eq!(r.code, Some(2), "{}", r.show());
    assert!(r.stderr.contains("usage:"), "{}", r.show());
    let r = run(Command::new(shell)
        .arg(scripts().join("clean"))
        .args(["a", "b", "c", "d", "e", "f"]));
    assert_eq!(r.code, Some(2), "{}", r.show());
}

both_shells!(
    monitor_contract,
    monitor_contract_dash,
    monitor_contract_bash
);

/// monitor: only 110 and 100, whatever the arguments; where ha-probe comes from; the
/// site hook.
fn monitor_contract(shell: &str) {
    let dir = TempDir::new(&format!("mon-{shell}"));
    let pico = DirectPico::start(&dir.path().join("flag"));
    let port = pico.port.to_string();
    let mon = |script: &Path, args: &[&str], probe: Option<&str>| {
        let mut cmd = Command::new(shell);
        cmd.arg(script).args(args).env("PATH", "/usr/bin:/bin");
        match probe {
            Some(p) => cmd.env("HA_PROBE", p),
            None => cmd.env_remove("HA_PROBE"),
        };
        run(&mut cmd)
    };
    let monitor = scripts().join("monitor");
    let j = JAVA_HOME;

    expect(
        &mon(&monitor, &[j, "/m", "u", &port], Some(ha_probe())),
        110,
        "OK",
        "healthy",
    );
    let r = mon(
        &monitor,
        &[j, "/m", "u", &port, "127.0.0.1", "0.5", "debug"],
        Some(ha_probe()),
    );
    expect(&r, 110, "UP v=1", "debug");
    assert!(
        r.stdout.contains("ha-probe: connected to") && r.stdout.ends_with("OK\n"),
        "{}",
        r.show()
    );

    let refused = free_port().to_string();
    let r = mon(
        &monitor,
        &[j, "/m", "u", &refused, "127.0.0.1", "1"],
        Some(ha_probe()),
    );
    expect(&r, 100, "FAILED", "refused");
    assert_eq!(r.stdout, "FAILED\n");

    for (args, message) in [
        (vec![j, "/m", "u"], "expected 4 to 7 arguments, got 3"),
        (
            vec![j, "/m", "u", &port, "h", "1", "debug", "x"],
            "expected 4 to 7 arguments, got 8",
        ),
        (
            vec![j, "/m", "u", "70o1"],
            "ha_port \"70o1\" is not a port number",
        ),
        (
            vec![j, "/m", "u", "0"],
            "ha_port \"0\" is not a port number",
        ),
        (
            vec![j, "/m", "u", "65536"],
            "ha_port \"65536\" is not a port number",
        ),
        (
            vec![j, "/m", "u", &port, "--port"],
            "host \"--port\" is not a host name",
        ),
        (
            vec![j, "/m", "u", &port, "h st"],
            "host \"h st\" is not a host name",
        ),
        (
            vec![j, "/m", "u", &port, "127.0.0.1", "soon"],
            "sec_timeout \"soon\" is not a number",
        ),
        (
            vec![j, "/m", "u", &port, "127.0.0.1", "0"],
            "sec_timeout \"0\" must be more than 0",
        ),
        (
            vec![j, "/m", "u", &port, "127.0.0.1", "99999"],
            "more than 3600 seconds",
        ),
        (
            vec![j, "/m", "u", &port, "127.0.0.1", "5", "verbose"],
            "must be the word debug",
        ),
    ] {
        let r = mon(&monitor, &args, Some(ha_probe()));
        expect(&r, 100, "FAILED", &format!("bad arguments {args:?}"));
        assert!(
            r.stderr.contains(message),
            "{args:?}: expected {message:?}:\n{}",
            r.show()
        );
    }

    // Where ha-probe comes from: a copy of monitor in a directory of its own.
    let kit = dir.path().join("kit");
    fs::create_dir(&kit).expect("mkdir kit");
    let copy = kit.join("monitor");
    fs::copy(&monitor, &copy).expect("copy monitor");
    let r = mon(&copy, &[j, "/m", "u", &port], None);
    expect(&r, 100, "FAILED", "no ha-probe anywhere");
    assert!(r.stderr.contains("ha-probe not found"), "{}", r.show());
    let r = mon(&copy, &[j, "/m", "u", &port], Some("/nonexistent/ha-probe"));
    expect(&r, 100, "FAILED", "HA_PROBE wrong");
    assert!(
        r.stderr
            .contains("HA_PROBE=/nonexistent/ha-probe is not an executable file"),
        "{}",
        r.show()
    );
    // Next to the script: a fake that always says "failed", so we see which one ran.
    write_exec(&kit.join("ha-probe"), "#!/bin/sh\nexit 100\n");
    expect(
        &mon(&copy, &[j, "/m", "u", &port], None),
        100,
        "FAILED",
        "the fake next to monitor",
    );
    expect(
        &mon(&copy, &[j, "/m", "u", &port], Some(ha_probe())),
        110,
        "OK",
        "HA_PROBE wins",
    );
    fs::remove_file(kit.join("ha-probe")).expect("rm fake");
    std::os::unix::fs::symlink(ha_probe(), kit.join("ha-probe")).expect("symlink");
    expect(
        &mon(&copy, &[j, "/m", "u", &port], None),
        110,
        "OK",
        "the real one next to monitor",
    );

    // The site hook sees the same arguments and can veto a healthy result only.
    let seen = dir.path().join("hook-args");
    write_exec(
        &kit.join("monitor.local"),
        &format!(
            "#!/bin/sh\nprintf '%s|' \"$@\" > '{}'\necho hook-says-no\nexit 3\n",
            seen.display()
        ),
    );
    let r = mon(&copy, &[j, "/m", "u", &port, "127.0.0.1"], None);
    expect(&r, 100, "FAILED", "a failing hook");
    assert_eq!(r.stdout, "FAILED\n", "hook output only with debug");
    assert_eq!(
        fs::read_to_string(&seen).expect("hook ran"),
        format!("{j}|/m|u|{port}|127.0.0.1|")
    );
    let r = mon(
        &copy,
        &[j, "/m", "u", &port, "127.0.0.1", "2", "debug"],
        None,
    );
    expect(&r, 100, "hook-says-no", "a failing hook, debug");
    assert!(
        r.stdout.contains("monitor.local exit code 3"),
        "{}",
        r.show()
    );
    fs::remove_file(&seen).expect("rm");
    expect(
        &mon(&copy, &[j, "/m", "u", &refused, "127.0.0.1", "1"], None),
        100,
        "FAILED",
        "hook after a failed probe",
    );
    assert!(!seen.exists(), "the hook runs only after a healthy probe");
    write_exec(&kit.join("monitor.local"), "#!/bin/sh\nexit 0\n");
    expect(
        &mon(&copy, &[j, "/m", "u", &port], None),
        110,
        "OK",
        "a passing hook",
    );

    // A broken edit of the script still gives VCS 100, never another code.
    let broken = kit.join("monitor-broken");
    let text = fs::read_to_string(&monitor).expect("read monitor");
    fs::write(
        &broken,
        text.replace("mon_port=$4", "mon_port=$4 $undefined_variable"),
    )
    .expect("write");
    let r = mon(&broken, &[j, "/m", "u", &port], Some(ha_probe()));
    assert_eq!(r.code, Some(100), "{}", r.show());
}

fn write_exec(path: &Path, text: &str) {
    fs::write(path, text).expect("write");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
}

both_shells!(edge_cases, edge_cases_dash, edge_cases_bash);

/// Stop commands, a stubborn instance that ignores SIGTERM, an instance that exits or
/// never answers during start, and a port already taken by a copy we did not start.
fn edge_cases(shell: &str) {
    let site = Site::new(&format!("edge-{shell}"));
    let pico_path = pico().display().to_string();
    let flag = site.flag.display().to_string();
    let stubborn = site.cmd(&format!(
        "trap '' TERM; PICO_FLAG_FILE='{flag}' '{pico_path}' & exec sleep 1000"
    ));
    let stop = site.cmd("echo \"stop-called $HA_INSTANCE $HA_PID $HA_PORT $MZ_HOME $HA_USERNAME\"; kill -s TERM -- \"-$HA_PID\"");
    let taken = DirectPico::start(&site.flag);
    site.write_conf(&format!(
        "[ec1]\nstart = {stubborn}\nha_port = {port}\noffline_timeout = 1\nclean_timeout = 5\n\
         [stop]\nstart = {start}\nstop = {stop}\nha_port = {port2}\n\
         [exits]\nstart = {exits}\nha_port = {port3}\n\
         [silent]\nstart = {silent}\nha_port = {port4}\nonline_timeout = 1\n\
         [taken]\nstart = {start}\nha_port = {taken}\n",
        port = site.port,
        start = site.pico_start(),
        port2 = free_port(),
        exits = site.cmd("echo boom; exit 3"),
        port3 = free_port(),
        silent = site.cmd("exec sleep 1000"),
        port4 = free_port(),
        taken = taken.port,
    ));

    // Ignores SIGTERM: offline fails and says so, clean kills the whole group.
    expect(
        &site.script(shell, "online", &["ec1"]),
        0,
        "Starting ec1...done.",
        "online stubborn",
    );
    let pid = site.pid().expect("pid");
    let r = site.script(shell, "offline", &["ec1"]);
    expect(
        &r,
        1,
        &format!("Shutting down ec1...failed: still running after 1s as pid {pid} (run clean)"),
        "offline stubborn",
    );
    assert!(!group_members(pid).is_empty(), "the sleep is still there");
    expect(
        &site.script(shell, "clean", &["ec1", "0"]),
        0,
        "Killing ec1...done.",
        "clean stubborn",
    );
    assert!(
        group_members(pid).is_empty(),
        "left: {:?}",
        group_members(pid)
    );

    // The OCF stop falls back to clean when offline fails.
    expect(
        &site.ocf(shell, "start"),
        0,
        "Starting ec1...done.",
        "ocf start stubborn",
    );
    let pid = site.pid().expect("pid");
    let r = site.ocf(shell, "stop");
    expect(&r, 0, "Killing ec1...done.", "ocf stop stubborn");
    assert!(
        r.stdout.contains("Shutting down ec1...failed"),
        "{}",
        r.show()
    );
    assert!(
        group_members(pid).is_empty(),
        "left: {:?}",
        group_members(pid)
    );

    // A stop command, with its environment.
    expect(
        &site.script(shell, "online", &["stop"]),
        0,
        "Starting stop...done.",
        "online stop",
    );
    let pid: u32 = fs::read_to_string(site.path().join("run/stop.pid"))
        .expect("pid")
        .lines()
        .next()
        .and_then(|l| l.parse().ok())
        .expect("pid");
    expect(
        &site.script(shell, "offline", &["stop"]),
        0,
        "Shutting down stop...done.",
        "offline with a stop command",
    );
    let out = fs::read_to_string(site.path().join("log/stop.out")).expect("stop.out");
    assert!(
        out.contains(&format!("stop-called stop {pid} "))
            && out.contains(&format!(" {} {USERNAME}", site.path().display())),
        "{out}"
    );

    // Exits during start: online says so, with the last line it wrote.
    let r = site.script(shell, "online", &["exits"]);
    expect(
        &r,
        1,
        "Starting exits...failed: the instance exited; last output: boom",
        "online of a failing start",
    );
    assert!(!site.path().join("run/exits.pid").exists());

    // Never answers: online gives up after online_timeout and leaves it to clean.
    let r = site.script(shell, "online", &["silent"]);
    expect(
        &r,
        1,
        "Starting silent...failed: not UP after 1s, last: no answer (",
        "online of a silent start",
    );
    assert!(
        r.stdout.contains("; still running as pid") && r.stdout.contains("(run clean)"),
        "{}",
        r.show()
    );
    assert!(r.elapsed < Duration::from_secs(5), "{:?}", r.elapsed);
    expect(
        &site.script(shell, "clean", &["silent", "2"]),
        0,
        "Killing silent...done.",
        "clean silent",
    );

    // Something we did not start holds the port: no second copy, and no false "done".
    let r = site.script(shell, "online", &["taken"]);
    expect(
        &r,
        1,
        "Starting taken...failed: nothing started: port",
        "online on a taken port",
    );
    let r = site.script(shell, "offline", &["taken"]);
    expect(
        &r,
        1,
        "Shutting down taken...failed: no process of ours runs",
        "offline on a taken port",
    );
    let r = site.script(shell, "clean", &["taken"]);
    expect(
        &r,
        1,
        "Killing taken...failed: port",
        "clean on a taken port",
    );
    assert!(live(taken.child.id()), "nobody killed the foreign copy");
}

// ---- static checks -------------------------------------------------------------------

/// Every shell script of the cluster-manager kit.
const SCRIPTS: [&str; 13] = [
    "monitor",
    "online",
    "offline",
    "clean",
    "lib/ha-common.sh",
    "ocf/hamon",
    "dist",
    "install",
    "test",
    "build-java",
    "bench",
    "fuzz",
    "package",
];

#[test]
fn shellcheck_and_syntax_of_every_script() {
    let paths: Vec<PathBuf> = SCRIPTS.iter().map(|s| scripts().join(s)).collect();
    let r = Command::new("shellcheck")
        .args(["-s", "sh", "-x"])
        .args(&paths)
        .current_dir(root())
        .output();
    let out = match r {
        Ok(out) => out,
        Err(e) => panic!(
            "shellcheck is not installed ({e}): install it (Debian: apt-get install shellcheck; \
             scripts/test does it)"
        ),
    };
    assert!(
        out.status.success(),
        "shellcheck -s sh -x found problems:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for shell in ["dash", "bash"] {
        for path in &paths {
            let r = run(Command::new(shell).arg("-n").arg(path));
            assert_eq!(
                r.code,
                Some(0),
                "{shell} -n {}: {}",
                path.display(),
                r.show()
            );
        }
    }
    for s in [
        "monitor",
        "online",
        "offline",
        "clean",
        "ocf/hamon",
        "dist",
        "install",
        "build-java",
    ] {
        let mode = fs::metadata(scripts().join(s))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "scripts/{s} is executable");
        let text = fs::read_to_string(scripts().join(s)).expect("read");
        assert!(
            text.starts_with("#!/bin/sh\n"),
            "scripts/{s} is a POSIX sh script"
        );
    }
    let ha_conf = fs::read_to_string(scripts().join("ha.conf")).expect("read ha.conf");
    assert!(ha_conf.contains("[ec1]"), "the example describes ec1");
}

/// The shipped example ha.conf parses: validate-all accepts its instances (ec1 runs as
/// user mz, which must exist and needs root: then that is the only complaint).
#[test]
fn example_ha_conf_is_valid() {
    let mz = TempDir::new("example");
    for instance in ["ec1", "pico", "java-pico"] {
        let r = run(Command::new("dash")
            .arg(scripts().join("ocf/hamon"))
            .arg("validate-all")
            .env("OCF_RESKEY_instance", instance)
            .env("OCF_RESKEY_conf", scripts().join("ha.conf"))
            .env("OCF_RESKEY_probe", ha_probe())
            .env("OCF_RESKEY_mz_home", mz.path()));
        let ok = r.code == Some(0) || (instance == "ec1" && r.stderr.contains("user = mz"));
        assert!(ok, "{instance}: {}", r.show());
        assert!(!r.stderr.contains("ha.conf:"), "{instance}: {}", r.show());
    }
}

// ---- running as another user ---------------------------------------------------------

#[test]
fn online_as_another_user() {
    let uid = Command::new("id").arg("-u").output().expect("id -u");
    let nobody = Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .expect("id -u nobody");
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" || !nobody.status.success() {
        eprintln!("online_as_another_user: skipped (needs root and a user nobody)");
        return;
    }
    let nobody_uid = String::from_utf8_lossy(&nobody.stdout).trim().to_string();
    let site = Site::new("user");
    site.write_pico_conf("user = nobody\n");
    let r = site.script("dash", "online", &["ec1"]);
    expect(&r, 0, "Starting ec1...done.", "online as nobody");
    let pid = site.pid().expect("pid");
    let picos = site.picos();
    assert_eq!(picos.len(), 1, "{picos:?}");
    let status = fs::read_to_string(format!("/proc/{}/status", picos[0])).expect("status");
    let uid_line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .expect("Uid line");
    assert!(
        uid_line.split_whitespace().nth(1) == Some(nobody_uid.as_str()),
        "pico runs as nobody: {uid_line}"
    );
    assert_eq!(
        proc_stat(picos[0]).map(|s| s.1),
        Some(pid),
        "pico leads the process group (setpriv execs it)"
    );
    expect(&site.monitor("bash", &[]), 110, "OK", "monitor");
    expect(
        &site.script("bash", "clean", &["ec1"]),
        0,
        "Killing ec1...done.",
        "clean",
    );
    assert!(
        group_members(pid).is_empty(),
        "left: {:?}",
        group_members(pid)
    );
}

// ---- packaging -----------------------------------------------------------------------

/// The release builds of scripts/dist and scripts/install go to this test run's own target
/// dir, as tests/packaging.rs's do (cargo's lock serializes them; cargo test has released it
/// by the time tests run): one release build serves every packaging test of a run.
fn release_target() -> PathBuf {
    profile_dir().parent().expect("target dir").to_path_buf()
}

#[test]
fn dist_kit_unpacks_and_works() {
    let out = TempDir::new("dist-out");
    let r = run_within(
        Command::new("dash")
            .arg(scripts().join("dist"))
            .arg(out.path())
            .env("CARGO_TARGET_DIR", release_target())
            .current_dir("/"),
        BUILD_PATIENCE,
    );
    assert_eq!(r.code, Some(0), "{}", r.show());
    let tar = out.path().join("ha.tar");
    assert!(
        r.stdout.contains(&format!("wrote {}", tar.display())),
        "{}",
        r.show()
    );

    let listing = run(Command::new("tar").arg("-tf").arg(&tar));
    let mut entries: Vec<&str> = listing.stdout.lines().collect();
    entries.sort_unstable();
    assert_eq!(
        entries,
        [
            "README",
            "clean",
            "ha-probe",
            "ha.conf.example",
            "lib/ha-common.sh",
            "monitor",
            "ocf/hamon",
            "offline",
            "online"
        ]
    );

    // Unpack in $MZ_HOME/ha as the documentation says, configure, and use it with no
    // HA_PROBE, no HA_CONF and no ha-probe on PATH.
    let site = Site::new("dist");
    let ha = site.path().join("ha");
    fs::create_dir(&ha).expect("mkdir ha");
    let r = run(Command::new("tar").arg("-xvf").arg(&tar).current_dir(&ha));
    assert_eq!(r.code, Some(0), "{}", r.show());
    let conf = format!(
        "[ec1]\nstart = {}\nha_port = {}\nonline_timeout = 10\n",
        site.pico_start(),
        site.port
    );
    fs::write(ha.join("ha.conf"), conf).expect("write ha.conf");
    let mz = site.path().display().to_string();
    let kit = |shell: &str, name: &str, last: &str| {
        run(Command::new(shell)
            .arg(ha.join(name))
            .args([JAVA_HOME, &mz, USERNAME, last])
            .env_remove("HA_PROBE")
            .env_remove("HA_CONF")
            .env("PATH", "/usr/bin:/bin")
            .current_dir("/"))
    };
    expect(
        &kit("dash", "online", "ec1"),
        0,
        "Starting ec1...done.",
        "unpacked online",
    );
    let port = site.port.to_string();
    expect(
        &kit("dash", "monitor", &port),
        110,
        "OK",
        "unpacked monitor, dash",
    );
    expect(
        &kit("bash", "monitor", &port),
        110,
        "OK",
        "unpacked monitor, bash",
    );
    assert!(ha.join("log/ec1.log").is_file(), "logs in $MZ_HOME/ha/log");
    assert!(
        ha.join("run/ec1.pid").is_file(),
        "pid file in $MZ_HOME/ha/run"
    );
    expect(
        &kit("bash", "offline", "ec1"),
        0,
        "Shutting down ec1...done.",
        "unpacked offline",
    );
    expect(
        &kit("dash", "monitor", &port),
        100,
        "FAILED",
        "unpacked monitor after offline",
    );
}

#[test]
fn install_prefix_builds_the_c_examples() {
    for (tool, package) in [("pkg-config", "pkg-config"), ("readelf", "binutils")] {
        assert!(
            Command::new(tool).arg("--version").output().is_ok(),
            "{tool} is not installed: install it (Debian: apt-get install {package}; scripts/test does it)"
        );
    }
    let tmp = TempDir::new("install");
    let prefix = tmp.path().join("prefix");
    let r = run_within(
        Command::new("dash")
            .arg(scripts().join("install"))
            .arg(&prefix)
            .env("CARGO_TARGET_DIR", release_target())
            .current_dir("/"),
        BUILD_PATIENCE,
    );
    assert_eq!(r.code, Some(0), "{}", r.show());

    let version = env!("CARGO_PKG_VERSION");
    let lib = prefix.join("lib");
    let real = format!("libhamon.so.{version}");
    assert!(lib.join(&real).is_file());
    assert_eq!(
        fs::read_link(lib.join("libhamon.so.0")).expect("link"),
        Path::new(&real)
    );
    assert_eq!(
        fs::read_link(lib.join("libhamon.so")).expect("link"),
        Path::new("libhamon.so.0")
    );
    for f in [
        "lib/libhamon.a",
        "include/hamon.h",
        "bin/ha-probe",
        "lib/pkgconfig/hamon.pc",
    ] {
        assert!(prefix.join(f).is_file(), "{f}");
    }
    for f in [
        "monitor",
        "online",
        "offline",
        "clean",
        "ocf/hamon",
        "lib/ha-common.sh",
        "ha.conf.example",
        "ha-probe",
    ] {
        assert!(
            prefix.join("share/hamon/scripts").join(f).is_file(),
            "share/hamon/scripts/{f}"
        );
    }
    let dynamic = run(Command::new("readelf").arg("-d").arg(lib.join(&real)));
    assert!(
        dynamic.stdout.contains("Library soname: [libhamon.so.0]"),
        "{}",
        dynamic.show()
    );

    let pc = run(Command::new("pkg-config")
        .args(["--cflags", "--libs", "hamon"])
        .env("PKG_CONFIG_PATH", lib.join("pkgconfig")));
    assert_eq!(pc.code, Some(0), "{}", pc.show());
    let flags: Vec<&str> = pc.stdout.split_whitespace().collect();
    assert!(
        flags.contains(&format!("-I{}", prefix.join("include").display()).as_str()),
        "{flags:?}"
    );
    let private = run(Command::new("pkg-config")
        .args(["--static", "--libs", "hamon"])
        .env("PKG_CONFIG_PATH", lib.join("pkgconfig")));
    assert!(
        private.stdout.contains("-lpthread -ldl -lm"),
        "{}",
        private.show()
    );

    let probe = tmp.path().join("probe");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let r = run(Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .arg(root().join("c-examples/probe.c"))
        .args(&flags)
        .arg("-o")
        .arg(&probe));
    assert_eq!(
        r.code,
        Some(0),
        "cc probe.c $(pkg-config --cflags --libs hamon): {}",
        r.show()
    );
    let needed = run(Command::new("readelf").arg("-d").arg(&probe));
    assert!(
        needed.stdout.contains("Shared library: [libhamon.so.0]"),
        "{}",
        needed.show()
    );

    let pico = DirectPico::start(&tmp.path().join("flag"));
    let port = pico.port.to_string();
    let r = run(Command::new(&probe)
        .args(["127.0.0.1", &port])
        .env("LD_LIBRARY_PATH", &lib));
    assert_eq!(r.code, Some(0), "{}", r.show());
    assert!(r.stdout.starts_with("state=UP "), "{}", r.show());

    // The installed monitor finds the installed ha-probe through its link.
    let r = run(Command::new("dash")
        .arg(prefix.join("share/hamon/scripts/monitor"))
        .args([JAVA_HOME, "/m", "u", &port])
        .env_remove("HA_PROBE")
        .env("PATH", "/usr/bin:/bin"));
    expect(&r, 110, "OK", "installed monitor");
}
