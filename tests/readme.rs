//! README's C and Java samples are whole programs, and this proves it: it takes each one
//! out of README.md (the fenced block whose first line is a comment naming the file), builds
//! it with the command README gives for it against this build of hamon, runs it with
//! README's sample properties, and asks it what an operator's probe would: healthy with its
//! check UP, DOWN with the check's reason when the spool directory goes away, and a clean
//! stop on SIGTERM.
//!
//! Needs `cc` (or `$CC`), a JDK and `kill` on the PATH; Unix only.

#![cfg(unix)]

mod common;

use common::TempDir;
use common::child::{PATIENCE, Running, run, run_to_end, sigterm, wait_for};
use common::{find_lib, lib_dir, root};
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const HA_PROBE: &str = env!("CARGO_BIN_EXE_ha-probe");

/// A compiler on a machine busy with parallel builds can take far longer than a probe.
const COMPILE_PATIENCE: Duration = Duration::from_secs(300);

// ---- README.md ---------------------------------------------------------------------------

fn readme() -> String {
    fs::read_to_string(root().join("README.md")).expect("read README.md")
}

/// The body of the one block fenced with ```` ```lang ```` whose first line starts with
/// `first`. None or two such blocks is a failure: a sample renamed or doubled must not go
/// untested.
fn block(readme: &str, lang: &str, first: &str) -> String {
    let fence = format!("```{lang}");
    let mut found = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line.trim_end() != fence {
            continue;
        }
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| l.trim_end() != "```")
            .collect();
        if body.first().is_some_and(|l| l.starts_with(first)) {
            found.push(body.join("\n") + "\n");
        }
    }
    assert_eq!(
        found.len(),
        1,
        "README.md should have exactly one ```{lang} block starting with {first:?}"
    );
    found.remove(0)
}

/// README's one line that starts with `start`, without its comment, split into words.
fn command_line(readme: &str, start: &str) -> Vec<String> {
    let lines: Vec<&str> = readme.lines().filter(|l| l.starts_with(start)).collect();
    assert_eq!(
        lines.len(),
        1,
        "README.md should have exactly one line starting with {start:?}: {lines:?}"
    );
    let command = lines[0].split(" #").next().unwrap_or_default();
    command.split_whitespace().map(str::to_string).collect()
}

/// README's sample properties, with the port it shows (7001) turned into a free one and a
/// fast check cadence (a check fails after one 200 ms run rather than after three 1 s runs),
/// so the test waits for the spool check less; the keys README shows stay as they are.
fn properties(readme: &str, dir: &Path) -> PathBuf {
    let sample = block(readme, "properties", "# ha.properties:");
    assert!(
        sample.lines().any(|l| l == "ha.port=7001"),
        "the sample properties should set ha.port=7001:\n{sample}"
    );
    let text = sample.replace("ha.port=7001\n", "ha.port=0\n")
        + "ha.check.interval_ms=200\nha.check.fall=1\n";
    let path = dir.join("ha.properties");
    fs::write(&path, text).expect("write ha.properties");
    path
}

// ---- asking the running sample -----------------------------------------------------------

/// Every reply line to `command` (then `quit`) before `BYE`, joined with " | ".
fn ask(port: u16, command: &str) -> String {
    let reply = (|| -> std::io::Result<String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(format!("{command}\r\nquit\r\n").as_bytes())?;
        let mut text = String::new();
        stream.read_to_string(&mut text)?; // the server closes after BYE
        Ok(text)
    })();
    match reply {
        Ok(text) => text
            .split("\r\n")
            .take_while(|l| *l != "BYE")
            .collect::<Vec<_>>()
            .join(" | "),
        Err(e) => format!("<{e}>"),
    }
}

/// Starts a sample and reads its port from its line `app: listening on port N`.
fn start(cmd: &mut Command) -> (Running, u16) {
    let mut app = Running::spawn(cmd);
    let line = loop {
        // The JVM may log to stdout before the sample prints its line; so may a C library.
        match app.next_line(PATIENCE) {
            Some(line) if line.starts_with("app: ") => break line,
            Some(_) => continue,
            None => {
                let (status, _, stderr) = app.finish(PATIENCE);
                panic!("the sample printed no port line ({status}); stderr:\n{stderr}");
            }
        }
    };
    let port = line
        .strip_prefix("app: listening on port ")
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("unexpected line from the sample: {line:?}"));
    (app, port)
}

/// What README promises of both samples: ha-probe says healthy (110), `status` shows the
/// spool check UP and the transactions counter; without the spool directory the instance is
/// DOWN with the check's reason; SIGTERM stops it with `app: stopped`.
fn exercise(app: Running, port: u16, spool: &Path, stop_code: i32) {
    wait_for("ha-probe exit code 110 (healthy)", |last| {
        let (status, out, err) = run(Command::new(HA_PROBE).args(["--port", &port.to_string()]));
        *last = format!("{status}: {out}{err}");
        (status.code() == Some(110)).then_some(())
    });
    let status = wait_for("status with the spool check and the counter", |last| {
        *last = ask(port, "status");
        (last.contains("CHECK spool UP ") && last.contains("COUNTER transactions count="))
            .then(|| last.clone())
    });
    assert!(
        status.starts_with("UP ") || status.starts_with("DEGRADED "),
        "{status}"
    );

    fs::remove_dir(spool).expect("remove the spool directory");
    let check = wait_for("check DOWN for the missing spool directory", |last| {
        *last = ask(port, "check");
        last.starts_with("DOWN ").then(|| last.clone())
    });
    let reason = format!("cannot write to {}", spool.display());
    assert!(
        check.contains("failed=spool") && check.contains(&reason),
        "the check line should name the check and its reason {reason:?}: {check}"
    );
    let (status, out, _) = run(Command::new(HA_PROBE).args(["--port", &port.to_string()]));
    assert_eq!(status.code(), Some(100), "ha-probe on DOWN: {out}");

    sigterm(app.pid());
    let (status, rest, stderr) = app.finish(PATIENCE);
    assert_eq!(
        status.code(),
        Some(stop_code),
        "exit status after SIGTERM: {status}; stderr:\n{stderr}"
    );
    assert_eq!(
        rest.last().map(String::as_str),
        Some("app: stopped"),
        "stdout after SIGTERM: {rest:?}; stderr:\n{stderr}"
    );
}

// ---- the tests ---------------------------------------------------------------------------

#[test]
fn c_sample_builds_with_readme_command_and_serves() {
    let readme = readme();
    let dir = TempDir::new("readme-c");
    let source = dir.path().join("app.c");
    fs::write(&source, block(&readme, "c", "/* app.c:")).expect("write app.c");
    let exe = dir.path().join("app");

    // README's line, word by word, pointed at this build; plus the warnings the C examples
    // are held to, so the sample stays clean C11.
    let words = command_line(&readme, "cc -Iinclude app.c ");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let mut cmd = Command::new(&cc);
    cmd.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-Wpedantic"]);
    let mut words = words.iter().skip(1);
    while let Some(word) = words.next() {
        match word.as_str() {
            "-Iinclude" => cmd.arg(format!("-I{}", root().join("include").display())),
            "app.c" => cmd.arg(&source),
            "target/release/libhamon.a" => cmd.arg(find_lib(&lib_dir(), "a").expect("libhamon.a")),
            "-o" => {
                assert_eq!(
                    words.next().map(String::as_str),
                    Some("app"),
                    "cc ... -o app"
                );
                cmd.arg("-o").arg(&exe)
            }
            w if w.starts_with("-l") => cmd.arg(w),
            other => panic!("README's cc line has {other:?}, which this test cannot place"),
        };
    }
    let built = run_to_end(&mut cmd, COMPILE_PATIENCE);
    assert!(
        built.status.success(),
        "README's cc line failed: {}",
        built.show()
    );

    let props = properties(&readme, dir.path());
    let spool = dir.path().join("spool");
    fs::create_dir(&spool).expect("create spool");
    let (app, port) = start(Command::new(&exe).arg(&props).arg(&spool));
    exercise(app, port, &spool, 0);
}

#[test]
fn java_sample_builds_for_java_8_and_serves() {
    let readme = readme();
    let java = common::java::java();
    let dir = TempDir::new("readme-java");
    let source = dir.path().join("App.java");
    fs::write(&source, block(&readme, "java", "// App.java:")).expect("write App.java");
    let classes = dir.path().join("classes");

    let words = command_line(&readme, "javac --release 8 ");
    let mut cmd = Command::new(common::java::jdk_tool("javac"));
    // -options: a JDK 21 or later warns that release 8 is obsolete, which is no fault of
    // the sample.
    cmd.args(["-Xlint:all,-options", "-Werror", "-d"])
        .arg(&classes);
    let mut words = words.iter().skip(1);
    while let Some(word) = words.next() {
        match word.as_str() {
            "--release" => {
                assert_eq!(words.next().map(String::as_str), Some("8"), "--release 8");
                cmd.args(["--release", "8"])
            }
            "-cp" => {
                assert_eq!(
                    words.next().map(String::as_str),
                    Some("target/java/hamon.jar"),
                    "javac -cp target/java/hamon.jar"
                );
                cmd.arg("-cp").arg(&java.shipped_jar)
            }
            "App.java" => cmd.arg(&source),
            other => panic!("README's javac line has {other:?}, which this test cannot place"),
        };
    }
    let built = run_to_end(&mut cmd, COMPILE_PATIENCE);
    assert!(
        built.status.success(),
        "README's javac line failed: {}",
        built.show()
    );

    let props = properties(&readme, dir.path());
    let spool = dir.path().join("spool");
    fs::create_dir(&spool).expect("create spool");
    let (app, port) = start(
        Command::new(&java.java)
            .arg(format!("-Dhamon.library.path={}", java.lib.display()))
            .arg("-cp")
            .arg(format!(
                "{}:{}",
                java.shipped_jar.display(),
                classes.display()
            ))
            .arg("App")
            .arg(&props)
            .arg(&spool)
            .env_remove("HAMON_LIB")
            .env_remove("JAVA_TOOL_OPTIONS"),
    );
    // The JVM's status for SIGTERM: 128 + 15.
    exercise(app, port, &spool, 143);
}
