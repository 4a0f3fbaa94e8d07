//! The kit's whole cycle under every POSIX shell hamon supports: dash and bash (Debian's and
//! RHEL's /bin/sh), ksh93 and mksh (the /bin/sh of AIX and of many Unix hosts), busybox sh
//! and posh (strict POSIX). Each shell runs the scripts as `SHELL script ...`: online,
//! monitor, offline, clean, and the OCF agent's meta-data, validate-all, monitor, start and
//! stop, with the agent's exit reasons and warnings; against the example application pico.
//!
//! A shell that is not installed fails its test, naming the Debian package (scripts/test
//! installs them). Linux only: processes are checked through /proc.

#![cfg(target_os = "linux")]

mod common;
#[path = "common/kit.rs"]
mod kit;

use common::child::Finished;
use kit::{Site, group_members, run, wait_for};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Runs `$shell` (argv, Debian package) as one test.
macro_rules! shell_test {
    ($name:ident, [$($argv:expr),+], $package:expr) => {
        #[test]
        fn $name() {
            cycle(&[$($argv),+], $package);
        }
    };
}

shell_test!(cycle_dash, ["dash"], "dash");
shell_test!(cycle_bash, ["bash"], "bash");
shell_test!(cycle_ksh93, ["ksh93"], "ksh");
shell_test!(cycle_mksh, ["mksh"], "mksh");
shell_test!(cycle_busybox_sh, ["busybox", "sh"], "busybox");
shell_test!(cycle_posh, ["posh"], "posh");

const JAVA_HOME: &str = "/usr/lib/jvm/none";

fn code(r: &Finished) -> Option<i32> {
    r.status.code()
}

fn expect(r: &Finished, want: i32, stdout_has: &str, what: &str) {
    assert_eq!(code(r), Some(want), "{what}:\n{}", r.show());
    assert!(
        r.stdout.contains(stdout_has),
        "{what}: stdout lacks {stdout_has:?}:\n{}",
        r.show()
    );
}

/// The `ocf-exit-reason:` lines the agent wrote on stderr.
fn exit_reasons(r: &Finished) -> Vec<&str> {
    r.stderr
        .lines()
        .filter_map(|l| l.strip_prefix("ocf-exit-reason:"))
        .collect()
}

/// Asserts exactly one exit reason, containing `has`.
fn expect_reason(r: &Finished, has: &str, what: &str) {
    let reasons = exit_reasons(r);
    assert!(
        reasons.len() == 1 && reasons[0].contains(has),
        "{what}: expected one exit reason with {has:?}:\n{}",
        r.show()
    );
}

struct Shell<'a> {
    argv: &'a [&'a str],
    site: &'a Site,
}

impl Shell<'_> {
    fn command(&self, script: &Path) -> Command {
        let mut cmd = Command::new(self.argv[0]);
        cmd.args(&self.argv[1..]).arg(script);
        cmd
    }

    /// A kit script with JAVA_HOME MZ_HOME username first, the site's HA_CONF; ha-probe is
    /// found next to the scripts.
    fn script(&self, name: &str, args: &[&str]) -> Finished {
        run(self
            .command(&self.site.kit(name))
            .args([JAVA_HOME])
            .arg(self.site.path())
            .arg("mz")
            .args(args)
            .env("HA_CONF", &self.site.conf)
            .env_remove("HA_PROBE"))
    }

    /// The OCF agent with its parameters as Pacemaker passes them (`config`, `probe`),
    /// plus `env` (name, value) pairs.
    fn ocf(&self, action: &str, env: &[(&str, &str)]) -> Finished {
        let mut cmd = self.command(&self.site.kit("ocf/hamon"));
        cmd.arg(action)
            .env_remove("HA_CONF")
            .env_remove("HA_PROBE")
            .env("OCF_RESKEY_instance", "ec1")
            .env("OCF_RESKEY_config", &self.site.conf)
            .env("OCF_RESKEY_probe", self.site.kit("ha-probe"))
            .env("OCF_RESKEY_mz_home", self.site.path())
            .env("OCF_RESKEY_java_home", JAVA_HOME);
        for (name, value) in env {
            cmd.env(name, value);
        }
        run(&mut cmd)
    }
}

/// A recurring monitor, as Pacemaker runs it every 10 s.
const RECURRING: (&str, &str) = ("OCF_RESKEY_CRM_meta_interval", "10000");
/// A probe: the one-time monitor that learns what runs where.
const PROBE: (&str, &str) = ("OCF_RESKEY_CRM_meta_interval", "0");

fn cycle(argv: &[&str], package: &str) {
    let installed = Command::new(argv[0])
        .args(&argv[1..])
        .args(["-c", "exit 0"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed,
        "{} is not installed: apt-get install {package} (scripts/test does)",
        argv.join(" ")
    );
    let label = argv.join("-");
    let site = Site::new(&format!("shells-{label}"));
    // online_timeout well above what start takes when the instance answers DOWN.
    site.write_pico_conf("online_timeout = 30\noffline_timeout = 10\n");
    let sh = Shell { argv, site: &site };
    let port = site.port.to_string();

    // The kit's own cycle: online, monitor, online again, offline, online, clean.
    let r = sh.script("online", &["ec1"]);
    expect(&r, 0, "Starting ec1...done.", "online");
    let pid = site.pid().expect("online wrote the pid file");
    assert_eq!(site.picos(), [pid], "pico leads its own process group");
    assert!(
        group_members(pid).len() >= 2,
        "pico and sleep in group {pid}"
    );
    let r = sh.script("monitor", &[&port]);
    expect(&r, 110, "OK", "monitor of a healthy pico");
    let r = sh.script("online", &["ec1"]);
    expect(&r, 0, "already running", "online twice");
    assert_eq!(site.picos(), [pid], "the second online started nothing");
    let r = sh.script("offline", &["ec1"]);
    expect(&r, 0, "Shutting down ec1...done.", "offline");
    assert!(group_members(pid).is_empty(), "offline leaves nothing");
    let r = sh.script("monitor", &[&port]);
    expect(&r, 100, "FAILED", "monitor of a stopped pico");
    let r = sh.script("online", &["ec1"]);
    expect(&r, 0, "Starting ec1...done.", "online again");
    let pid = site.pid().expect("pid file");
    let r = sh.script("clean", &["ec1", "5"]);
    expect(&r, 0, "Killing ec1...done.", "clean");
    assert!(group_members(pid).is_empty(), "clean leaves nothing");
    assert!(site.processes().is_empty(), "nothing of the site runs");

    // The OCF agent.
    let r = sh.ocf("meta-data", &[]);
    expect(&r, 0, "<parameter name=\"config\">", "meta-data");
    expect(&sh.ocf("validate-all", &[]), 0, "", "validate-all");
    let r = sh.ocf("monitor", &[PROBE]);
    assert_eq!(
        code(&r),
        Some(7),
        "probe of a stopped instance:\n{}",
        r.show()
    );
    assert!(
        exit_reasons(&r).is_empty(),
        "a probe's 7 is an answer:\n{}",
        r.show()
    );
    let r = sh.ocf("start", &[]);
    expect(&r, 0, "Starting ec1...done.", "start");
    assert!(exit_reasons(&r).is_empty(), "{}", r.show());
    expect(
        &sh.ocf("monitor", &[RECURRING]),
        0,
        "",
        "monitor after start",
    );

    // Unhealthy: the application's own reason is the monitor's exit reason.
    site.set_flag("down");
    let r = wait_for("monitor 1 once pico's check fails", |last| {
        let r = sh.ocf("monitor", &[RECURRING]);
        *last = r.show();
        (code(&r) == Some(1)).then_some(r)
    });
    expect_reason(&r, "DOWN: app: flag file ", "monitor of a DOWN instance");
    assert!(r.stderr.contains("says down"), "{}", r.show());
    site.set_flag("up");
    wait_for("monitor 0 once pico recovers", |last| {
        let r = sh.ocf("monitor", &[RECURRING]);
        *last = r.show();
        (code(&r) == Some(0)).then_some(())
    });

    // Killed: the recurring monitor says why it fails.
    let pid = site.pid().expect("pid file");
    kit::signal("KILL", &pid.to_string());
    let r = wait_for("monitor 1 once pico is gone", |last| {
        let r = sh.ocf("monitor", &[RECURRING]);
        *last = r.show();
        (code(&r) == Some(1)).then_some(r)
    });
    expect_reason(&r, "refuses connections", "monitor of a killed pico");
    let r = sh.ocf("stop", &[]);
    expect(&r, 0, "Shutting down ec1...done.", "stop after kill -9");
    assert!(site.processes().is_empty(), "stop leaves nothing");
    let r = sh.ocf("monitor", &[RECURRING]);
    assert_eq!(code(&r), Some(7), "{}", r.show());
    expect_reason(
        &r,
        "not running",
        "a recurring monitor of a stopped instance",
    );

    // A start that answers DOWN fails in seconds with the application's reason, not after
    // online_timeout (30 s).
    site.set_flag("down");
    let r = sh.ocf("start", &[]);
    assert_eq!(code(&r), Some(1), "start of a DOWN instance:\n{}", r.show());
    expect_reason(&r, "DOWN: app: flag file ", "start of a DOWN instance");
    assert!(
        r.elapsed < Duration::from_secs(15),
        "start gave up after {:?}",
        r.elapsed
    );
    assert!(
        r.stdout.contains("the stop action kills it") && !r.stdout.contains("run clean"),
        "Pacemaker's words:\n{}",
        r.show()
    );
    let r = sh.ocf("stop", &[]);
    expect(
        &r,
        0,
        "Shutting down ec1...done.",
        "stop after a failed start",
    );
    assert!(site.processes().is_empty(), "stop leaves nothing");
    site.set_flag("up");

    // Timeouts that do not fit the operation's: a warning, and start waits what fits.
    let r = sh.ocf("validate-all", &[("OCF_RESKEY_CRM_meta_timeout", "20000")]);
    assert_eq!(code(&r), Some(0), "{}", r.show());
    assert!(
        r.stderr.contains(
            "warning: the validate-all operation's timeout (20s) is shorter than start needs"
        ) && r.stderr.contains("online_timeout (30s)")
            && r.stderr.contains("stop needs"),
        "{}",
        r.show()
    );
    site.set_flag("degraded");
    let r = sh.ocf("start", &[("OCF_RESKEY_CRM_meta_timeout", "60000")]);
    expect(&r, 0, "Starting ec1...done.", "start within its timeout");
    assert!(!r.stderr.contains("warning"), "{}", r.show());
    expect(&sh.ocf("stop", &[]), 0, "done", "stop");
    let r = sh.ocf("start", &[("OCF_RESKEY_CRM_meta_timeout", "20000")]);
    expect(&r, 0, "Starting ec1...done.", "start with a short timeout");
    assert!(
        r.stderr
            .contains("warning: the start operation's timeout (20s) is shorter than start needs")
            && r.stderr.contains("give the start operation timeout=37s"),
        "{}",
        r.show()
    );
    let r = sh.ocf("stop", &[("OCF_RESKEY_CRM_meta_timeout", "20000")]);
    expect(
        &r,
        0,
        "Shutting down ec1...done.",
        "stop with a short timeout",
    );
    assert!(
        r.stderr
            .contains("warning: the stop operation's timeout (20s) is shorter than stop needs")
            && r.stderr.contains("stop waits only 3s before clean"),
        "{}",
        r.show()
    );
    site.set_flag("up");

    // Never ready: start gives up within the operation's timeout, with the last answer,
    // rather than being killed by Pacemaker's timer after online_timeout.
    site.write_conf_start(
        &format!("export PICO_READY_DELAY_MS=600000; {}", site.pico_start()),
        "online_timeout = 30\noffline_timeout = 10\n",
    );
    let r = sh.ocf("start", &[("OCF_RESKEY_CRM_meta_timeout", "10000")]);
    assert_eq!(code(&r), Some(1), "start never ready:\n{}", r.show());
    expect_reason(
        &r,
        "not UP after 3s, last: STARTING: application not ready",
        "start never ready",
    );
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
    expect(&sh.ocf("stop", &[]), 0, "done", "stop a starting instance");
    assert!(site.processes().is_empty(), "nothing of the site runs");
    site.write_pico_conf("online_timeout = 30\noffline_timeout = 10\n");

    // A stop that cannot tell the instance from a stranger fails, and says why: the pid
    // file is gone while the port still answers.
    let r = sh.ocf("start", &[]);
    expect(&r, 0, "Starting ec1...done.", "start");
    let pid = site.pid().expect("pid file");
    std::fs::remove_file(site.path().join("run/ec1.pid")).expect("remove the pid file");
    let r = sh.ocf("stop", &[]);
    assert_eq!(code(&r), Some(1), "stop without a pid file:\n{}", r.show());
    expect_reason(
        &r,
        &format!("port {port} on 127.0.0.1 answers, but no process of ours runs"),
        "stop of a stranger",
    );
    assert_eq!(
        site.picos(),
        [pid],
        "stop signalled nothing it could not identify"
    );
    kit::signal("KILL", &format!("-{pid}"));

    // The older parameter name, and what is wrong named in the exit reason.
    let mut alias = sh.command(&site.kit("ocf/hamon"));
    alias
        .arg("validate-all")
        .env_remove("OCF_RESKEY_config")
        .env("OCF_RESKEY_instance", "ec1")
        .env("OCF_RESKEY_conf", &site.conf)
        .env("OCF_RESKEY_probe", site.kit("ha-probe"))
        .env("OCF_RESKEY_mz_home", site.path());
    let r = run(&mut alias);
    assert_eq!(code(&r), Some(0), "conf still works:\n{}", r.show());
    let r = sh.ocf("validate-all", &[("OCF_RESKEY_conf", "/elsewhere/ha.conf")]);
    assert_eq!(code(&r), Some(6), "{}", r.show());
    expect_reason(
        &r,
        "its older name conf (/elsewhere/ha.conf) differ",
        "config and conf",
    );
    let r = sh.ocf("validate-all", &[("OCF_RESKEY_instance", "nope")]);
    assert_eq!(code(&r), Some(6), "{}", r.show());
    expect_reason(&r, "no section [nope] (instances: ec1)", "unknown instance");
    let r = sh.ocf(
        "validate-all",
        &[("OCF_RESKEY_probe", "/nonexistent/ha-probe")],
    );
    assert_eq!(code(&r), Some(5), "{}", r.show());
    expect_reason(
        &r,
        "probe=/nonexistent/ha-probe is not an executable file",
        "missing ha-probe",
    );
    let r = sh.ocf("start", &[("OCF_RESKEY_config", "/nonexistent/ha.conf")]);
    assert_eq!(code(&r), Some(5), "{}", r.show());
    expect_reason(&r, "(set the config parameter)", "missing ha.conf");
    assert!(site.processes().is_empty(), "nothing of the site runs");
}
