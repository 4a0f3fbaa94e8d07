//! The Maven build of the Java wrapper (java/pom.xml), offline against Debian's packaged Maven
//! and plugins as java/pom.xml says: it compiles, runs the test groups of java/tests and
//! installs into a scratch local repository a jar equivalent to scripts/build-java's (the same
//! entries, Java 8 class files, this build's libhamon.so inside, the same manifest entries),
//! which loads its own library, and the same sources and javadoc jars; the installed pom carries the project's metadata; Debian's
//! repository is left untouched; and a failing group or a missing library fails the build.
//!
//! Runs when `mvn` and Debian's /usr/share/maven-repo are installed (scripts/test installs
//! maven and the plugin packages); otherwise each test says so and returns. Needs a JDK 17 or
//! later, as tests/java.rs. Linux only.

#![cfg(target_os = "linux")]

mod common;

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::TempDir;
use common::cluster::signal;
use common::java::{java, jdk_tool, run};

/// Maven's first run copies its plugins into the scratch repository; a loaded CI machine is
/// slow at it. Every wait ends as soon as Maven does.
const PATIENCE: Duration = Duration::from_secs(600);

/// Debian's Maven repository: the packaged plugins, read only.
const DEBIAN_REPO: &str = "/usr/share/maven-repo";

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `mvn` from PATH with Debian's repository beside it, or why the tests cannot run.
fn maven() -> Result<PathBuf, String> {
    let mvn = std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("mvn"))
                .find(|p| p.is_file())
        })
        .ok_or("mvn is not installed (Debian: apt-get install maven and the plugin packages; scripts/test installs them)")?;
    if !Path::new(DEBIAN_REPO).is_dir() {
        return Err(format!(
            "{DEBIAN_REPO} is missing: this Maven is not Debian's, whose packaged plugins the \
             offline build uses"
        ));
    }
    Ok(mvn)
}

/// One scratch Maven setup: the local repository, the build directory and the directory
/// holding the libhamon.so to put in the jar.
struct Scratch {
    dir: TempDir,
}

impl Scratch {
    /// With this build's library as `native/libhamon.so` (the pom takes that name).
    fn new(label: &str) -> Scratch {
        let scratch = Scratch {
            dir: TempDir::new(label),
        };
        fs::create_dir_all(scratch.native()).expect("mkdir native");
        fs::copy(&java().lib, scratch.native().join("libhamon.so")).expect("copy libhamon.so");
        scratch
    }

    fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn build(&self) -> PathBuf {
        self.dir.path().join("build")
    }

    fn native(&self) -> PathBuf {
        self.dir.path().join("native")
    }

    /// The installed file `hamon-X.Y.Z{suffix}` (`.jar`, `-sources.jar`, `.pom`).
    fn installed(&self, suffix: &str) -> PathBuf {
        self.repo()
            .join(format!("io/hamon/hamon/{VERSION}/hamon-{VERSION}{suffix}"))
    }

    /// `mvn` offline as java/pom.xml documents it, with `args` (phases, -D settings) last.
    fn mvn(&self, mvn: &Path, args: &[&str]) -> Outcome {
        let root = common::root();
        let mut cmd = Command::new(mvn);
        cmd.arg("-B")
            .arg("-o")
            .arg("-s")
            .arg(root.join("java/debian-maven-settings.xml"))
            .arg("-Daether.offline.protocols=file")
            .arg(format!("-Dmaven.repo.local={}", self.repo().display()))
            .arg(format!("-Dhamon.native.dir={}", self.native().display()))
            .arg(format!("-Dhamon.build.dir={}", self.build().display()))
            .arg("-f")
            .arg(root.join("java/pom.xml"))
            .args(args)
            .current_dir(self.dir.path())
            // The library must come from the class path, as in the jar: cargo test puts
            // target/debug on LD_LIBRARY_PATH, and the JVM that on java.library.path.
            .env_remove("LD_LIBRARY_PATH")
            .env_remove("HAMON_LIB")
            .env_remove("JAVA_TOOL_OPTIONS")
            .env_remove("MAVEN_OPTS")
            .env("RUST_BACKTRACE", "0");
        Outcome::of(cmd, self.dir.path())
    }
}

/// A finished Maven run: its status and its output (stdout and stderr together).
struct Outcome {
    status: ExitStatus,
    output: String,
}

impl Outcome {
    /// Runs `cmd` in a process group of its own, so that the JVMs Maven forks are stopped with
    /// it, also when the test fails or Maven outlives [`PATIENCE`].
    fn of(mut cmd: Command, dir: &Path) -> Outcome {
        let log = dir.join("mvn.log");
        let file = File::create(&log).expect("create mvn.log");
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone().expect("dup mvn.log"))
            .stderr(file)
            .process_group(0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let group = ProcessGroup(child.id() as i32);
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for mvn") {
                break status;
            }
            if started.elapsed() > PATIENCE {
                drop(group);
                let _ = child.wait();
                panic!(
                    "{cmd:?} still ran after {PATIENCE:?}; stopped\n{}",
                    fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        drop(group);
        Outcome {
            status,
            output: fs::read_to_string(&log).expect("read mvn.log"),
        }
    }
}

/// Kills the whole process group on drop: Maven and every JVM it forked.
struct ProcessGroup(i32);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        signal(-self.0, libc::SIGKILL);
    }
}

/// The entries of a jar that are files (not directories), sorted.
fn jar_files(jar: &Path) -> Vec<String> {
    let done = run(
        Command::new(jdk_tool("jar"))
            .arg("--list")
            .arg("--file")
            .arg(jar),
        PATIENCE,
    );
    assert!(done.status.success(), "{}", done.show());
    let mut files: Vec<String> = done
        .stdout
        .lines()
        .filter(|l| !l.ends_with('/'))
        .map(str::to_string)
        .collect();
    files.sort();
    files
}

/// Extracts `jar` into `into`.
fn extract(jar: &Path, into: &Path) {
    fs::create_dir_all(into).expect("mkdir");
    let done = run(
        Command::new(jdk_tool("jar"))
            .current_dir(into)
            .arg("--extract")
            .arg("--file")
            .arg(jar),
        PATIENCE,
    );
    assert!(done.status.success(), "{}", done.show());
}

#[test]
fn maven_builds_tests_and_installs_the_jar_offline() {
    let mvn = match maven() {
        Ok(mvn) => mvn,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    let debian_hamon = Path::new(DEBIAN_REPO).join("io/hamon");
    let debian_hamon_before = debian_hamon.exists();
    let scratch = Scratch::new("maven-install");
    let done = scratch.mvn(&mvn, &["install"]);
    assert!(
        done.status.success(),
        "the offline Maven build failed (scripts/test installs maven and Debian's plugin \
         packages; java/pom.xml names them):\n{}",
        done.output
    );
    assert_eq!(
        debian_hamon.exists(),
        debian_hamon_before,
        "the build wrote hamon into {DEBIAN_REPO}"
    );

    // `mvn install` ran every group of java/tests but the etcd one, and all passed.
    let mut groups: Vec<String> = fs::read_dir(common::root().join("java/tests/io/hamon/tests"))
        .expect("read java/tests")
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix("Test.java"))
                .map(|n| format!("{n}Test"))
        })
        .filter(|g| g != "HeartbeatEtcdTest")
        .collect();
    groups.push("InternalTest".to_string());
    for group in &groups {
        assert!(
            done.output
                .lines()
                .any(|l| l.starts_with(&format!("{group}: "))
                    && l.ends_with(" passed, 0 failed")
                    && !l.ends_with(": 0 passed, 0 failed")),
            "Maven did not run {group}, or it failed:\n{}",
            done.output
        );
    }
    assert!(
        done.output
            .lines()
            .any(|l| l.starts_with("all: ") && l.ends_with(" passed, 0 failed")),
        "{}",
        done.output
    );

    // The same files as scripts/build-java's jar, this build's library among them.
    let jar = scratch.installed(".jar");
    let files = jar_files(&jar);
    assert_eq!(
        files,
        jar_files(&java().shipped_jar),
        "the Maven jar and scripts/build-java's differ"
    );
    // Its sources and documentation too.
    for suffix in ["-sources.jar", "-javadoc.jar"] {
        let built = java()
            .shipped_jar
            .with_file_name(format!("hamon-{VERSION}{suffix}"));
        assert_eq!(
            jar_files(&scratch.installed(suffix)),
            jar_files(&built),
            "the Maven hamon-{VERSION}{suffix} and scripts/build-java's differ"
        );
    }
    let unpacked = scratch.dir.path().join("unpacked");
    extract(&jar, &unpacked);
    assert_eq!(
        fs::read(unpacked.join("io/hamon/native/linux-x86_64/libhamon.so")).expect("the library"),
        fs::read(&java().lib).expect("this build's libhamon.so"),
        "the jar carries another libhamon.so"
    );
    let classes: Vec<&String> = files.iter().filter(|f| f.ends_with(".class")).collect();
    assert!(classes.len() >= 20, "too few classes: {files:?}");
    for class in classes {
        let bytes = fs::read(unpacked.join(class)).expect("class file");
        assert_eq!(
            bytes.get(..4),
            Some(&[0xCA, 0xFE, 0xBA, 0xBE][..]),
            "{class} is no class file"
        );
        let major = u16::from_be_bytes([bytes[6], bytes[7]]);
        assert_eq!(major, 52, "{class} is not a Java 8 class file");
    }
    let manifest = fs::read_to_string(unpacked.join("META-INF/MANIFEST.MF")).expect("the manifest");
    for line in [
        "Automatic-Module-Name: io.hamon".to_string(),
        "Implementation-Title: hamon".to_string(),
        format!("Implementation-Version: {VERSION}"),
        "Specification-Title: hamon".to_string(),
        format!("Specification-Version: {VERSION}"),
    ] {
        assert!(
            manifest.lines().any(|l| l == line),
            "{line} missing:\n{manifest}"
        );
    }
    let pom = fs::read_to_string(common::root().join("java/pom.xml")).expect("java/pom.xml");
    assert_eq!(
        fs::read_to_string(unpacked.join("META-INF/maven/io.hamon/hamon/pom.xml"))
            .expect("the jar's pom"),
        pom
    );

    // The jar alone loads its own copy of the library, extracted and deleted.
    let tmp = TempDir::new("maven-jar-alone");
    let alone = run(
        Command::new(&java().java)
            .arg("-Xcheck:jni")
            .arg(format!("-Djava.io.tmpdir={}", tmp.path().display()))
            .arg("-cp")
            .arg(format!(
                "{}:{}",
                jar.display(),
                scratch.build().join("test-classes").display()
            ))
            .arg("io.hamon.tests.WhichLibrary")
            .env_remove("HAMON_LIB")
            .env_remove("LD_LIBRARY_PATH")
            .env_remove("JAVA_TOOL_OPTIONS"),
        PATIENCE,
    );
    assert!(alone.status.success(), "{}", alone.show());
    let loaded = alone.stdout.trim();
    assert!(
        loaded.starts_with(&format!("loaded {}/hamon-native-", tmp.path().display()))
            && loaded.ends_with("/libhamon.so (deleted)"),
        "not the jar's copy: {loaded}\n{}",
        alone.show()
    );
    alone.assert_no_jvm_warnings();

    // The installed pom is java/pom.xml, with the project's identity and metadata.
    let installed = fs::read_to_string(scratch.installed(".pom")).expect("the installed pom");
    assert_eq!(installed, pom);
    for element in [
        "<groupId>io.hamon</groupId>".to_string(),
        "<artifactId>hamon</artifactId>".to_string(),
        format!("<version>{VERSION}</version>"),
        "<name>hamon</name>".to_string(),
        "<description>Keeps one instance of a critical application available".to_string(),
        "<name>Apache-2.0</name>".to_string(),
        "<url>https://www.apache.org/licenses/LICENSE-2.0</url>".to_string(),
    ] {
        assert!(installed.contains(&element), "the pom lacks {element}");
    }
}

/// The text of the first `<tag>...</tag>` in `xml`.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..end])
}

/// What a public repository (Maven Central) requires of a pom besides the coordinates: name,
/// description, url, licenses, developers and scm, the addresses being Cargo.toml's.
#[test]
fn the_pom_carries_the_metadata_a_public_repository_requires() {
    let pom = fs::read_to_string(common::root().join("java/pom.xml")).expect("java/pom.xml");
    // The project's own elements come before <properties> and <build>.
    let head = &pom[..pom.find("<properties>").expect("the pom's <properties>")];
    let top = &head[..head.find("<licenses>").expect("the pom's <licenses>")];
    assert_eq!(element(top, "name"), Some("hamon"));
    assert!(element(top, "description").is_some_and(|d| !d.trim().is_empty()));
    assert_eq!(element(top, "url"), Some(env!("CARGO_PKG_HOMEPAGE")));
    let license = element(head, "licenses").expect("<licenses>");
    assert_eq!(element(license, "name"), Some(env!("CARGO_PKG_LICENSE")));
    let developer = element(head, "developers")
        .and_then(|d| element(d, "developer"))
        .expect("<developers> with a <developer>");
    for tag in ["name", "email", "organizationUrl"] {
        assert!(
            element(developer, tag).is_some_and(|v| !v.trim().is_empty()),
            "the developer has no <{tag}>"
        );
    }
    let scm = element(head, "scm").expect("<scm>");
    let repository = env!("CARGO_PKG_REPOSITORY");
    assert_eq!(element(scm, "url"), Some(repository));
    assert_eq!(
        element(scm, "connection"),
        Some(format!("scm:git:{repository}.git").as_str())
    );
    assert!(element(scm, "developerConnection").is_some_and(|c| c.starts_with("scm:git:")));
}

#[test]
fn a_failing_group_or_a_missing_library_fails_the_maven_build() {
    let mvn = match maven() {
        Ok(mvn) => mvn,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    let scratch = Scratch::new("maven-failures");

    // Runner counts a class without tests as a failure, and exits 1.
    let failed = scratch.mvn(&mvn, &["test", "-Dhamon.test.groups=io.hamon.tests.Runner"]);
    assert!(!failed.status.success(), "{}", failed.output);
    assert!(
        failed
            .output
            .contains("FAIL io.hamon.tests.Runner has no test")
            && failed.output.contains("(hamon-tests)"),
        "{}",
        failed.output
    );
    assert!(failed.output.contains("BUILD FAILURE"), "{}", failed.output);

    // No library: the build stops before compiling, saying what to do.
    fs::remove_file(scratch.native().join("libhamon.so")).expect("remove the library");
    fs::remove_dir_all(scratch.build()).expect("remove the first build");
    let missing = scratch.mvn(&mvn, &["package", "-DskipTests"]);
    assert!(!missing.status.success(), "{}", missing.output);
    assert!(
        missing.output.contains(&format!(
            "hamon: no {}/libhamon.so to put in the jar: run cargo build --release first",
            scratch.native().display()
        )),
        "{}",
        missing.output
    );
    assert!(
        !scratch.build().join("classes").exists(),
        "the build went on without the library:\n{}",
        missing.output
    );
}
