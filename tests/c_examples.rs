//! Builds the C programs in c-examples/ with a C compiler against the library that cargo
//! built for this very test run, and runs them: the ABI misuse suite, and the embedding
//! application `pico` driven over TCP the way a cluster manager would. Once more against the
//! portable release build that ships (linked against glibc 2.17, with its SONAME).
//!
//! Needs `cc` (or `$CC`) and `kill` on the PATH; Unix only; the portable run Linux x86-64 only.

#![cfg(unix)]

use crate::common;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
use crate::common::release;

use common::TempDir;
use common::cc::{Link, compile, compile_against};
use common::child::{PATIENCE, Running, run, sigterm, wait_for};
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

// ---- talking to the monitor server -------------------------------------------------------

/// Sends one line-protocol command (then `quit`) and returns every reply line before `BYE`.
fn ask(port: u16, command: &str) -> std::io::Result<Vec<String>> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(format!("{command}\r\nquit\r\n").as_bytes())?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?; // the server closes after BYE
    let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    assert_eq!(
        lines.pop().as_deref(),
        Some(""),
        "replies end in CRLF: {text:?}"
    );
    assert_eq!(
        lines.pop().as_deref(),
        Some("BYE"),
        "quit answers BYE: {text:?}"
    );
    Ok(lines)
}

/// The single reply line to `command`, or the error text.
fn ask_line(port: u16, command: &str) -> String {
    match ask(port, command) {
        Ok(lines) => lines.join(" | "),
        Err(e) => format!("<{e}>"),
    }
}

/// Starts pico and reads its port from `pico: listening on port N pid P`.
fn start_pico(exe: &Path, envs: &[(&str, &Path)]) -> (Running, u16) {
    let mut cmd = Command::new(exe);
    cmd.env_remove("HA_HOST")
        .env_remove("PICO_READY_DELAY_MS")
        .env_remove("PICO_FLAG_FILE")
        .env_remove("PICO_PID_FILE")
        .env("HA_PORT", "0");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut pico = Running::spawn(&mut cmd);
    let Some(line) = pico.next_line(PATIENCE) else {
        let (status, _, stderr) = pico.finish(PATIENCE);
        panic!("pico printed no port line ({status}); stderr:\n{stderr}");
    };
    let expected_tail = format!(" pid {}", pico.pid());
    let port = line
        .strip_prefix("pico: listening on port ")
        .and_then(|rest| rest.strip_suffix(&expected_tail))
        .and_then(|port| port.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("unexpected first line from pico: {line:?}"));
    assert_ne!(port, 0);
    (pico, port)
}

fn stop_pico(pico: Running) {
    sigterm(pico.pid());
    let (status, lines, stderr) = pico.finish(Duration::from_secs(5));
    assert!(status.success(), "pico exit: {status}; stderr:\n{stderr}");
    assert_eq!(lines, ["pico: stopped"], "stderr:\n{stderr}");
}

// ---- the tests ---------------------------------------------------------------------------

#[test]
fn abi_misuse_is_refused_without_crashing() {
    let dir = TempDir::new("abi");
    let exe = compile(&[("abi_misuse", Link::Static)], dir.path());
    let (status, stdout, stderr) = run(Command::new(&exe[0]).env("TMPDIR", dir.path()));
    assert!(
        status.success(),
        "abi_misuse failed ({status}):\n{stdout}\n{stderr}"
    );
    let passed: u32 = stdout
        .strip_prefix("abi_misuse: ")
        .and_then(|s| s.strip_suffix(" checks passed"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected summary: {stdout:?}\n{stderr}"));
    assert!(passed >= 200, "only {passed} checks ran");
    assert!(stderr.is_empty(), "abi_misuse wrote to stderr:\n{stderr}");
}

#[test]
fn pico_serves_and_flips() {
    let dir = TempDir::new("pico");
    let exes = compile(
        &[("pico", Link::Static), ("probe", Link::Static)],
        dir.path(),
    );
    let (pico_exe, probe_exe) = (&exes[0], &exes[1]);
    let flag = dir.path().join("flag");
    let pid_file = dir.path().join("pico.pid");
    let (pico, port) = start_pico(
        pico_exe,
        &[("PICO_FLAG_FILE", &flag), ("PICO_PID_FILE", &pid_file)],
    );
    let pid_text = fs::read_to_string(&pid_file).expect("pico wrote its pid file");
    assert_eq!(pid_text.trim(), pico.pid().to_string());

    // STARTING until the first check result and ha_server_ready: poll, never sleep blindly.
    wait_for("ping OK", |last| {
        *last = ask_line(port, "ping");
        (last == "OK").then_some(())
    });
    let check = ask_line(port, "check");
    assert!(check.starts_with("UP "), "{check}");

    // pico counts its first transaction just after it declares itself ready.
    let status = wait_for("status with the transactions counter", |last| {
        let status = ask(port, "status").expect("status");
        *last = format!("{status:?}");
        status
            .iter()
            .any(|l| l.starts_with("COUNTER transactions count="))
            .then_some(status)
    });
    assert_eq!(status.last().map(String::as_str), Some("."), "{status:?}");
    assert!(
        status.iter().any(|l| l.starts_with("CHECK app UP ")),
        "{status:?}"
    );

    fs::write(&flag, "down\n").expect("write flag");
    let reason = format!("flag file {} says down", flag.display());
    let check = wait_for("ping FAILED and check DOWN", |last| {
        let ping = ask_line(port, "ping");
        let check = ask_line(port, "check");
        *last = format!("ping {ping:?}, check {check:?}");
        (ping == "FAILED" && check.starts_with("DOWN ")).then_some(check)
    });
    assert!(check.contains(&reason), "{check}");
    let named = ask_line(port, "check app");
    assert!(
        named.starts_with("DOWN ") && named.contains(&reason),
        "{named}"
    );

    let (code, out, err) = run(Command::new(probe_exe).args(["127.0.0.1", &port.to_string()]));
    assert_eq!(code.code(), Some(1), "probe on DOWN: {out}\n{err}");
    assert!(out.starts_with("state=DOWN rtt_us="), "{out}");
    assert!(out.contains("checks=0/1 line=DOWN "), "{out}");

    fs::write(&flag, "degraded\n").expect("write flag");
    wait_for("check DEGRADED", |last| {
        *last = ask_line(port, "check");
        last.starts_with("DEGRADED ").then_some(())
    });
    assert_eq!(ask_line(port, "ping"), "OK", "DEGRADED is still available");

    let (code, out, err) = run(Command::new(probe_exe).args(["127.0.0.1", &port.to_string()]));
    assert_eq!(code.code(), Some(0), "probe on DEGRADED: {out}\n{err}");
    assert!(out.starts_with("state=DEGRADED rtt_us="), "{out}");
    assert!(out.contains("says degraded"), "{out}");

    let (code, out, err) =
        run(Command::new(probe_exe).args(["127.0.0.1", &port.to_string(), "2000", "app"]));
    assert_eq!(code.code(), Some(0), "probe of check app: {out}\n{err}");
    assert!(out.starts_with("state=DEGRADED "), "{out}");
    assert!(out.contains("line=DEGRADED v=1 check=app "), "{out}");

    let (code, out, _) =
        run(Command::new(probe_exe).args(["127.0.0.1", &port.to_string(), "2000", "nope"]));
    assert_eq!(code.code(), Some(2), "probe of an unknown check: {out}");
    assert!(
        out.starts_with("error: unknown check name (4007): "),
        "{out}"
    );

    let (code, _, err) = run(Command::new(probe_exe).arg("127.0.0.1"));
    assert_eq!(code.code(), Some(3), "probe usage: {err}");

    stop_pico(pico);
    assert!(
        !pid_file.exists(),
        "pico removes its pid file on a clean stop"
    );

    let (code, out, _) = run(Command::new(probe_exe).args(["127.0.0.1", &port.to_string()]));
    assert_eq!(code.code(), Some(2), "probe after stop: {out}");
    assert!(
        out.starts_with("error: connection refused (4002): "),
        "{out}"
    );
}

#[test]
fn pico_reports_bind_failure() {
    let dir = TempDir::new("bind");
    let exe = compile(&[("pico", Link::Static)], dir.path());
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = taken.local_addr().expect("local addr").port();
    let pico = Running::spawn(
        Command::new(&exe[0])
            .env("HA_HOST", "127.0.0.1")
            .env("HA_PORT", port.to_string())
            .env_remove("PICO_PID_FILE"),
    );
    let (status, stdout, stderr) = pico.finish(PATIENCE);
    drop(taken);
    assert!(!status.success(), "pico must fail: {status}");
    assert!(
        stdout.is_empty(),
        "no port line when start fails: {stdout:?}"
    );
    assert!(
        stderr.contains("ha_server_start: cannot listen on the configured address (3002)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[test]
fn pico_shared_library_build_runs() {
    let dir = TempDir::new("shared");
    let exe = compile(&[("pico", Link::Shared)], dir.path());
    let (pico, port) = start_pico(&exe[0], &[]);
    // Linux shows which file the code came from.
    let maps = PathBuf::from(format!("/proc/{}/maps", pico.pid()));
    if let Ok(maps) = fs::read_to_string(&maps) {
        assert!(maps.contains("libhamon"), "libhamon.so is not mapped");
    }
    wait_for("ping OK", |last| {
        *last = ask_line(port, "ping");
        (last == "OK").then_some(())
    });
    stop_pico(pico);
}

/// The examples against the portable release build, laid out as scripts/install does: the
/// shared library under its SONAME (libhamon.so.0), libhamon.so linking to it.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn the_examples_run_against_the_portable_release_build() {
    let built = release::portable();
    let dir = TempDir::new("portable");
    let lib = dir.path().join("lib");
    fs::create_dir(&lib).expect("mkdir lib");
    fs::copy(built.dir.join("libhamon.so"), lib.join("libhamon.so.0")).expect("copy .so");
    std::os::unix::fs::symlink("libhamon.so.0", lib.join("libhamon.so")).expect("link .so");
    fs::copy(built.dir.join("libhamon.a"), lib.join("libhamon.a")).expect("copy .a");
    let exes = compile_against(
        &lib,
        &[("abi_misuse", Link::Static), ("pico", Link::Shared)],
        dir.path(),
    );

    let (status, stdout, stderr) = run(Command::new(&exes[0]).env("TMPDIR", dir.path()));
    assert!(
        status.success() && stdout.ends_with(" checks passed") && stderr.is_empty(),
        "abi_misuse against the portable libhamon.a ({status}):\n{stdout}\n{stderr}"
    );

    let (pico, port) = start_pico(&exes[1], &[]);
    let maps = fs::read_to_string(format!("/proc/{}/maps", pico.pid())).expect("maps");
    assert!(
        maps.contains(&lib.join("libhamon.so.0").display().to_string()),
        "pico did not load the portable libhamon.so.0:\n{maps}"
    );
    wait_for("ping OK", |last| {
        *last = ask_line(port, "ping");
        (last == "OK").then_some(())
    });
    let check = ask_line(port, "check");
    assert!(check.starts_with("UP "), "{check}");
    stop_pico(pico);
}
