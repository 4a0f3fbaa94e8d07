//! hamon as users get it from `scripts/install` and `scripts/package`: a C program built
//! against the installed prefix with pkg-config, dynamically and statically, starts and
//! talks to the library; `--uninstall` leaves nothing behind; the Debian packages
//! (libhamon0, libhamon-dev, hamon, libhamon-java) are split the Debian way, lintian-clean,
//! and unpack into a root where ha-probe runs; the man pages are clean roff and the bash
//! completions complete. The RPM packages: tests/rpm.rs.
//!
//! What they install and package is the portable release build, and every ELF file in the
//! prefix, the package and their jars needs at most glibc 2.17 (tests/glibc_baseline.rs
//! checks the rest of what ships).
//!
//! Needs cc, pkg-config, groff, bash, dpkg-deb, binutils and lintian (scripts/test installs
//! them; lintian's checks are skipped, saying so, without it);
//! scripts/install and scripts/package share the test run's one portable release build
//! (tests/common/release.rs). Linux only.

#![cfg(target_os = "linux")]

use crate::common;
use crate::common::release;

use common::child::run_to_end as run;
use common::{TempDir, root};
use release::{BUILD_PATIENCE, assert_glibc_baseline, elf_files_under, library_in_jar, script};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(120);

/// Starts a server on an ephemeral loopback port, probes it, stops it; prints the version.
const PROGRAM: &str = r#"#include <hamon.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    ha_config *cfg = NULL;
    ha_server *srv = NULL;
    ha_status rc;
    if (strcmp(ha_version(), HAMON_VERSION_STRING) != 0) {
        fprintf(stderr, "header %s, library %s\n", HAMON_VERSION_STRING, ha_version());
        return 1;
    }
    rc = ha_config_new(&cfg);
    if (rc == HA_OK) rc = ha_config_set(cfg, "ha.port", "0");
    if (rc == HA_OK) rc = ha_config_set(cfg, "ha.host", "127.0.0.1");
    if (rc == HA_OK) rc = ha_server_start(cfg, &srv);
    ha_config_free(cfg);
    if (rc != HA_OK) {
        char detail[256];
        ha_last_error(detail, sizeof detail, NULL);
        fprintf(stderr, "%s: %s\n", ha_status_str(rc), detail);
        return 1;
    }
    ha_server_stop(srv);
    printf("hamon %s\n", ha_version());
    return 0;
}
"#;

/// `cc app.c $(pkg-config --cflags --libs PACKAGE) EXTRA`, with PKG_CONFIG_PATH on the prefix.
fn build_with_pkg_config(prefix: &Path, package: &str, extra: &[String], out: &Path) {
    let pc_path = prefix.join("lib/pkgconfig");
    let flags = run(
        Command::new("pkg-config")
            .env("PKG_CONFIG_PATH", &pc_path)
            .args(["--cflags", "--libs", package]),
        PATIENCE,
    );
    assert!(
        flags.status.success(),
        "pkg-config {package}:\n{}",
        flags.show()
    );
    let src = out.with_extension("c");
    fs::write(&src, PROGRAM).expect("write app.c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let built = run(
        Command::new(&cc)
            .args(["-std=c89", "-Wall", "-Wextra", "-Werror", "-pedantic"])
            .arg(&src)
            .args(flags.stdout.split_whitespace())
            .args(extra)
            .arg("-o")
            .arg(out),
        BUILD_PATIENCE,
    );
    assert!(
        built.status.success(),
        "cc with {package}:\n{}",
        built.show()
    );
}

fn needed(program: &Path) -> String {
    let done = run(Command::new("readelf").arg("-d").arg(program), PATIENCE);
    assert!(done.status.success(), "readelf:\n{}", done.show());
    done.stdout
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn run_program(program: &Path) {
    let done = run(
        Command::new(program).env_remove("LD_LIBRARY_PATH"),
        PATIENCE,
    );
    assert!(
        done.status.success(),
        "{}:\n{}",
        program.display(),
        done.show()
    );
    assert_eq!(
        done.stdout.trim(),
        format!("hamon {}", env!("CARGO_PKG_VERSION")),
        "{}",
        done.show()
    );
}

fn entries_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries {
            let path = e.expect("dir entry").path();
            if path.is_dir() && !path.is_symlink() {
                found.extend(entries_under(&path));
            }
            found.push(path);
        }
    }
    found
}

#[test]
fn c_programs_build_against_the_installed_prefix_both_ways_and_uninstall_removes_all() {
    let scratch = TempDir::new("install");
    let prefix = scratch.path().join("prefix");
    let done = run(script("install").arg(&prefix), BUILD_PATIENCE);
    assert!(done.status.success(), "scripts/install:\n{}", done.show());
    for file in [
        "lib/libhamon.so.0",
        "lib/libhamon.a",
        "include/hamon.h",
        "bin/ha-probe",
        "bin/ha-heartbeat",
        "share/hamon/scripts/monitor",
        "share/man/man1/ha-probe.1",
        "share/man/man8/ha-heartbeat.8",
        "share/man/man3/hamon.3",
        "share/bash-completion/completions/ha-probe",
        "lib/systemd/system/ha-heartbeat.service",
        &format!("share/java/hamon-{}.jar", env!("CARGO_PKG_VERSION")),
    ] {
        assert!(prefix.join(file).exists(), "{file} not installed");
    }
    // Every ELF file installed, and the jar's library, runs on glibc 2.17.
    let mut elves = elf_files_under(&prefix);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        elves,
        [
            prefix.join("bin/ha-heartbeat"),
            prefix.join("bin/ha-probe"),
            prefix.join(format!("lib/libhamon.so.{version}")),
        ],
        "the ELF files installed"
    );
    elves.push(library_in_jar(
        &prefix.join(format!("share/java/hamon-{version}.jar")),
        &scratch.path().join("jar"),
    ));
    assert_glibc_baseline(&elves);
    let unit =
        fs::read_to_string(prefix.join("lib/systemd/system/ha-heartbeat.service")).expect("unit");
    assert!(
        unit.contains(&format!(
            "ExecStart={}/bin/ha-heartbeat run",
            prefix.display()
        )),
        "the unit runs the installed daemon:\n{unit}"
    );

    // Dynamic: pkg-config hamon, with the library directory recorded as the rpath.
    let libdir = run(
        Command::new("pkg-config")
            .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
            .args(["--variable=libdir", "hamon"]),
        PATIENCE,
    );
    assert!(libdir.status.success(), "{}", libdir.show());
    let dynamic = scratch.path().join("app-dynamic");
    build_with_pkg_config(
        &prefix,
        "hamon",
        &[format!("-Wl,-rpath,{}", libdir.stdout.trim())],
        &dynamic,
    );
    assert!(
        needed(&dynamic).contains("[libhamon.so.0]"),
        "linked against the SONAME:\n{}",
        needed(&dynamic)
    );
    run_program(&dynamic);

    // Static: pkg-config hamon-static; nothing of hamon needed at run time. With
    // --gc-sections, as README shows: only what the program reaches is kept.
    let fixed = scratch.path().join("app-static");
    build_with_pkg_config(
        &prefix,
        "hamon-static",
        &["-Wl,--gc-sections".to_string()],
        &fixed,
    );
    assert!(
        !needed(&fixed).contains("libhamon"),
        "the static program needs no libhamon:\n{}",
        needed(&fixed)
    );
    run_program(&fixed);

    // The installed static library carries no debug information.
    let sections = run(
        Command::new("readelf")
            .args(["-S", "-W"])
            .arg(prefix.join("lib/libhamon.a")),
        PATIENCE,
    );
    assert!(
        sections.status.success() && !sections.stdout.contains(".debug_info"),
        "libhamon.a has debug sections"
    );

    // The installed jar loads its own (release, stripped) library with no setting, and a
    // panic inside it still unwinds into a Java exception.
    let java = common::java::java();
    let internal = run(
        Command::new(&java.java)
            .arg("-cp")
            .arg(format!(
                "{}:{}",
                prefix.join("share/java/hamon.jar").display(),
                java.tests.display()
            ))
            .env_remove("LD_LIBRARY_PATH")
            .env_remove("HAMON_LIB")
            .env_remove("JAVA_TOOL_OPTIONS")
            .args(["io.hamon.tests.Runner", "io.hamon.InternalTest"]),
        BUILD_PATIENCE,
    );
    assert!(
        internal.status.success()
            && internal
                .stdout
                .contains("ok   testAPanicInNativeCodeBecomesAHamonException"),
        "{}",
        internal.show()
    );

    let done = run(script("install").arg("--uninstall").arg(&prefix), PATIENCE);
    assert!(done.status.success(), "--uninstall:\n{}", done.show());
    let left = entries_under(&prefix);
    assert!(left.is_empty(), "left after --uninstall: {left:?}");

    // A second uninstall has nothing to remove and says so.
    let again = run(script("install").arg("--uninstall").arg(&prefix), PATIENCE);
    assert!(!again.status.success(), "{}", again.show());
    assert!(
        again.stderr.contains("install-manifest"),
        "{}",
        again.show()
    );
}

#[test]
fn uninstall_removes_only_what_the_manifest_lists() {
    // A prefix that holds other files too: only the manifest's entries go.
    let scratch = TempDir::new("uninstall");
    let prefix = scratch.path();
    fs::create_dir_all(prefix.join("share/hamon")).expect("mkdir");
    fs::create_dir_all(prefix.join("lib")).expect("mkdir");
    fs::write(prefix.join("lib/libhamon.a"), b"ours").expect("write");
    fs::write(prefix.join("lib/libother.a"), b"not ours").expect("write");
    fs::write(
        prefix.join("share/hamon/install-manifest"),
        "lib/libhamon.a\nshare/hamon/install-manifest\n",
    )
    .expect("manifest");
    let done = run(script("install").arg("--uninstall").arg(prefix), PATIENCE);
    assert!(done.status.success(), "{}", done.show());
    assert!(!prefix.join("lib/libhamon.a").exists());
    assert!(
        prefix.join("lib/libother.a").exists(),
        "another file was removed"
    );
    assert!(
        !prefix.join("share").exists(),
        "the emptied share/hamon stays"
    );

    // An entry that leaves the prefix makes it refuse, removing nothing.
    fs::create_dir_all(prefix.join("share/hamon")).expect("mkdir");
    fs::write(
        prefix.join("share/hamon/install-manifest"),
        "lib/libother.a\n../outside\n",
    )
    .expect("manifest");
    let done = run(script("install").arg("--uninstall").arg(prefix), PATIENCE);
    assert!(!done.status.success(), "{}", done.show());
    assert!(done.stderr.contains("../outside"), "{}", done.show());
    assert!(
        prefix.join("lib/libother.a").exists(),
        "removed despite refusing"
    );
}

#[test]
fn the_man_pages_are_clean_roff() {
    for page in ["ha-probe.1", "ha-heartbeat.8", "hamon.3"] {
        let path = root().join("man").join(page);
        let done = run(
            Command::new("groff").args(["-man", "-ww", "-z"]).arg(&path),
            PATIENCE,
        );
        assert!(
            done.status.success() && done.stderr.is_empty(),
            "groff warns about man/{page}:\n{}",
            done.show()
        );
        let text = fs::read_to_string(&path).expect("read page");
        assert!(
            text.contains(&format!("\"hamon {}\"", env!("CARGO_PKG_VERSION"))),
            "man/{page} names another version"
        );
    }
    // Every option ha-probe --help lists is in its page.
    let help = run(
        Command::new(env!("CARGO_BIN_EXE_ha-probe")).arg("--help"),
        PATIENCE,
    );
    let page = fs::read_to_string(root().join("man/ha-probe.1"))
        .expect("page")
        .replace("\\-", "-");
    for option in help
        .stdout
        .split(|c: char| !(c.is_ascii_lowercase() || c == '-'))
        .filter(|w| w.starts_with("--") && *w != "--opt")
    {
        assert!(page.contains(option), "man/ha-probe.1 lacks {option}");
    }
}

/// Sources a completion in bash and completes COMP_WORDS; returns `complete -p` and the
/// candidates, one per line.
fn complete(file: &str, function: &str, words: &[&str]) -> (String, Vec<String>) {
    let words_quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source '{}' || exit 1\n\
         complete -p {} || exit 1\n\
         COMP_WORDS=({})\n\
         COMP_CWORD={}\n\
         {function}\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        root().join("completions").join(file).display(),
        words[0],
        words_quoted.join(" "),
        words.len() - 1
    );
    let done = run(
        Command::new("bash").arg("--norc").arg("-c").arg(script),
        PATIENCE,
    );
    assert!(done.status.success(), "{}", done.show());
    let mut lines = done.stdout.lines();
    let spec = lines.next().unwrap_or_default().to_string();
    (
        spec,
        lines
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

#[test]
fn bash_completes_ha_probe_and_ha_heartbeat() {
    let (spec, formats) = complete("ha-probe.bash", "_ha_probe", &["ha-probe", "--format", ""]);
    assert_eq!(spec, "complete -F _ha_probe ha-probe");
    assert_eq!(formats, ["vcs", "ocf", "lsb", "nagios", "plain"]);
    let (_, options) = complete("ha-probe.bash", "_ha_probe", &["ha-probe", "--ti"]);
    assert_eq!(options, ["--timeout-ms", "--timeout"]);
    let (_, commands) = complete(
        "ha-probe.bash",
        "_ha_probe",
        &["ha-probe", "--command", "p"],
    );
    assert_eq!(commands, ["ping"]);

    let (spec, commands) = complete("ha-heartbeat.bash", "_ha_heartbeat", &["ha-heartbeat", "s"]);
    assert_eq!(spec, "complete -F _ha_heartbeat ha-heartbeat");
    assert_eq!(commands, ["status", "switchover"]);
    let (_, on_off) = complete(
        "ha-heartbeat.bash",
        "_ha_heartbeat",
        &["ha-heartbeat", "maintenance", ""],
    );
    assert_eq!(on_off, ["on", "off"]);
    let (_, config) = complete(
        "ha-heartbeat.bash",
        "_ha_heartbeat",
        &["ha-heartbeat", "run", "--c"],
    );
    assert_eq!(config, ["--config"]);
}

const DEBS: [&str; 4] = ["libhamon0", "libhamon-dev", "libhamon-java", "hamon"];

fn deb_path(out: &Path, package: &str) -> PathBuf {
    out.join(format!("{package}_{}_amd64.deb", env!("CARGO_PKG_VERSION")))
}

/// `dpkg-deb -e`: a package's control files, in `dir`.
fn control_files(deb: &Path, dir: &Path) -> PathBuf {
    let done = run(
        Command::new("dpkg-deb").arg("-e").arg(deb).arg(dir),
        PATIENCE,
    );
    assert!(done.status.success(), "dpkg-deb -e:\n{}", done.show());
    dir.to_path_buf()
}

#[test]
fn the_debian_packages_are_split_the_debian_way_and_unpack_into_a_root_where_ha_probe_runs() {
    let scratch = TempDir::new("deb");
    let out = scratch.path().join("out");
    let done = run(script("package").arg(&out), BUILD_PATIENCE);
    assert!(done.status.success(), "scripts/package:\n{}", done.show());
    let version = env!("CARGO_PKG_VERSION");
    for package in DEBS {
        let deb = deb_path(&out, package);
        assert!(deb.is_file(), "no {}:\n{}", deb.display(), done.show());
        let info = run(Command::new("dpkg-deb").arg("--info").arg(&deb), PATIENCE);
        assert!(info.status.success(), "{}", info.show());
        for field in [
            format!("Package: {package}"),
            format!("Version: {version}"),
            "Architecture: amd64".to_string(),
        ] {
            assert!(info.stdout.contains(&field), "{field}:\n{}", info.stdout);
        }
    }
    let field = |package: &str, wanted: &str| {
        let info = run(
            Command::new("dpkg-deb")
                .arg("--field")
                .arg(deb_path(&out, package))
                .arg(wanted),
            PATIENCE,
        );
        info.stdout.trim().to_string()
    };
    // The newest GLIBC_ version the files use: the baseline's.
    for package in DEBS {
        assert_eq!(
            field(package, "Homepage"),
            env!("CARGO_PKG_HOMEPAGE"),
            "{package}"
        );
    }
    assert_eq!(field("libhamon0", "Depends"), "libc6 (>= 2.17)");
    // The static ha-probe holds glibc's code: the package names the glibc it came from.
    assert!(
        field("hamon", "Built-Using").starts_with("glibc (= "),
        "hamon has no Built-Using for the static ha-probe"
    );
    assert_eq!(field("hamon", "Depends"), "libc6 (>= 2.17)");
    assert_eq!(
        field("libhamon-dev", "Depends"),
        format!("libhamon0 (= {version})")
    );
    assert_eq!(field("libhamon0", "Multi-Arch"), "same");

    // Control files: libhamon0's shlibs and ldconfig trigger; hamon's conffile and
    // maintainer scripts, which reload systemd and never enable, start or restart the unit.
    let lib_control = control_files(
        &deb_path(&out, "libhamon0"),
        &scratch.path().join("control-lib"),
    );
    assert_eq!(
        fs::read_to_string(lib_control.join("shlibs")).expect("shlibs"),
        format!("libhamon 0 libhamon0 (>= {version})\n")
    );
    assert!(
        fs::read_to_string(lib_control.join("triggers"))
            .expect("triggers")
            .contains("ldconfig")
    );
    let control = control_files(&deb_path(&out, "hamon"), &scratch.path().join("control"));
    assert_eq!(
        fs::read_to_string(control.join("conffiles")).expect("conffiles"),
        "/etc/hamon/heartbeat.properties\n"
    );
    for script in ["postinst", "prerm", "postrm"] {
        let text = fs::read_to_string(control.join(script)).expect(script);
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            !code.contains("restart") && !code.contains(" enable") && !code.contains(" start"),
            "{script} enables, starts or restarts the unit:\n{text}"
        );
        let sh = run(
            Command::new("sh").arg("-n").arg(control.join(script)),
            PATIENCE,
        );
        assert!(sh.status.success(), "{script}:\n{}", sh.show());
    }
    // The maintainer scripts are POSIX sh, shellcheck-clean.
    let check = run(
        Command::new("shellcheck")
            .args(["-s", "sh"])
            .args(["postinst", "prerm", "postrm"].map(|s| control.join(s))),
        PATIENCE,
    );
    assert!(check.status.success(), "shellcheck:\n{}", check.show());
    let postinst = fs::read_to_string(control.join("postinst")).expect("postinst");
    assert!(postinst.contains("daemon-reload"), "{postinst}");

    // lintian finds no error, and no warning: each one accepted is overridden, with its
    // reason, in packaging/debian/PACKAGE.lintian-overrides.
    if Command::new("lintian").arg("--version").output().is_ok() {
        // lintian leaves its ELF caches (mldbm-elf-*) in TMPDIR: this test's scratch dir.
        let lintian_tmp = scratch.path().join("lintian-tmp");
        fs::create_dir_all(&lintian_tmp).expect("mkdir lintian-tmp");
        let lint = run(
            Command::new("lintian")
                .env("TMPDIR", &lintian_tmp)
                .args(["--allow-root", "--tag-display-limit", "0"])
                .args(DEBS.map(|p| deb_path(&out, p))),
            BUILD_PATIENCE,
        );
        let findings: Vec<&str> = lint
            .stdout
            .lines()
            .filter(|l| l.starts_with("E: ") || l.starts_with("W: "))
            .collect();
        assert!(
            findings.is_empty(),
            "lintian errors and warnings:\n{}",
            lint.show()
        );
    } else {
        println!("lintian not installed (Debian: apt-get install lintian): not run");
    }

    let root_dir = scratch.path().join("root");
    for package in DEBS {
        let done = run(
            Command::new("dpkg-deb")
                .arg("-x")
                .arg(deb_path(&out, package))
                .arg(&root_dir),
            PATIENCE,
        );
        assert!(done.status.success(), "dpkg-deb -x:\n{}", done.show());
    }
    let lib = "usr/lib/x86_64-linux-gnu";
    let contents = |package: &str| {
        let done = run(
            Command::new("dpkg-deb")
                .arg("-c")
                .arg(deb_path(&out, package))
                .env("TZ", "UTC"),
            PATIENCE,
        );
        assert!(done.status.success(), "{}", done.show());
        done.stdout
    };
    for (package, files) in [
        (
            "libhamon0",
            vec![
                format!("{lib}/libhamon.so.0"),
                format!("{lib}/libhamon.so.{version}"),
                "usr/share/doc/libhamon0/copyright".to_string(),
            ],
        ),
        (
            "libhamon-dev",
            vec![
                format!("{lib}/libhamon.so"),
                format!("{lib}/libhamon.a"),
                format!("{lib}/pkgconfig/hamon.pc"),
                format!("{lib}/pkgconfig/hamon-static.pc"),
                "usr/include/hamon.h".to_string(),
                "usr/share/man/man3/hamon.3.gz".to_string(),
            ],
        ),
        (
            "libhamon-java",
            vec![
                "usr/share/java/hamon.jar".to_string(),
                format!("usr/share/java/hamon-{version}.jar"),
            ],
        ),
        (
            "hamon",
            vec![
                "usr/bin/ha-probe".to_string(),
                "usr/bin/ha-heartbeat".to_string(),
                "usr/lib/systemd/system/ha-heartbeat.service".to_string(),
                "usr/lib/ocf/resource.d/hamon/hamon".to_string(),
                "usr/share/hamon/scripts/monitor".to_string(),
                "usr/share/hamon/scripts/ocf/hamon".to_string(),
                "usr/share/man/man1/ha-probe.1.gz".to_string(),
                "usr/share/man/man8/ha-heartbeat.8.gz".to_string(),
                "usr/share/bash-completion/completions/ha-heartbeat".to_string(),
                "usr/share/doc/hamon/copyright".to_string(),
                "usr/share/doc/hamon/README.md".to_string(),
                "usr/share/doc/hamon/heartbeat.md".to_string(),
                "usr/share/doc/hamon/heartbeat-etcd.md".to_string(),
                "usr/share/doc/hamon/monitor-server.md".to_string(),
                "usr/share/doc/hamon/cluster-managers.md".to_string(),
                "usr/share/doc/hamon/prometheus/hamon-heartbeat.rules.yml".to_string(),
                "etc/hamon/heartbeat.properties".to_string(),
            ],
        ),
    ] {
        let listing = contents(package);
        for file in files {
            assert!(
                listing.contains(&format!(" ./{file}")),
                "{file} not in {package}:\n{listing}"
            );
        }
    }
    assert!(
        !root_dir.join("usr/share/hamon/install-manifest").exists(),
        "the package ships scripts/install's manifest"
    );
    // Every ELF file of the packages, and the jar's library, runs on glibc 2.17.
    let mut elves = elf_files_under(&root_dir);
    assert_eq!(
        elves,
        [
            root_dir.join("usr/bin/ha-heartbeat"),
            root_dir.join("usr/bin/ha-probe"),
            root_dir.join(format!("{lib}/libhamon.so.{version}")),
        ],
        "the ELF files of the packages"
    );
    elves.push(library_in_jar(
        &root_dir.join("usr/share/java/hamon.jar"),
        &scratch.path().join("jar"),
    ));
    assert_glibc_baseline(&elves);
    let pc = fs::read_to_string(root_dir.join(lib).join("pkgconfig/hamon.pc")).expect("pc");
    assert!(
        pc.contains("prefix=/usr\n") && pc.contains("libdir=${exec_prefix}/lib/x86_64-linux-gnu\n"),
        "hamon.pc does not say the multiarch directory:\n{pc}"
    );

    // The example configuration configures nothing: the daemon refuses it, naming a key.
    let refused = run(
        Command::new(root_dir.join("usr/bin/ha-heartbeat"))
            .args(["status", "--config"])
            .arg(root_dir.join("etc/hamon/heartbeat.properties")),
        PATIENCE,
    );
    assert!(
        !refused.status.success() && refused.stderr.contains("hb."),
        "{}",
        refused.show()
    );

    // Pacemaker's agent, where Pacemaker looks: its link reaches the scripts it needs.
    let agent = run(
        Command::new(root_dir.join("usr/lib/ocf/resource.d/hamon/hamon")).arg("meta-data"),
        PATIENCE,
    );
    assert!(
        agent.status.success() && agent.stdout.contains("<resource-agent name=\"hamon\""),
        "{}",
        agent.show()
    );

    let probe = root_dir.join("usr/bin/ha-probe");
    let probe_version = run(Command::new(&probe).arg("--version"), PATIENCE);
    assert!(probe_version.status.success(), "{}", probe_version.show());
    assert!(
        probe_version
            .stdout
            .contains(&format!("ha-probe {version}")),
        "{}",
        probe_version.show()
    );
    // And it probes, failing closed on a loopback port where nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let down = run(
        Command::new(&probe).args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--timeout-ms",
            "2000",
        ]),
        PATIENCE,
    );
    assert_eq!(down.status.code(), Some(100), "{}", down.show());
    // The package's monitor script uses the package's ha-probe (next to it), not one on PATH.
    let monitor = run(
        Command::new(root_dir.join("usr/share/hamon/scripts/monitor"))
            .args([
                "/jdk",
                "/mz",
                "mz",
                &port.to_string(),
                "127.0.0.1",
                "2",
                "debug",
            ])
            .env("PATH", "/usr/bin:/bin")
            .env_remove("HA_PROBE"),
        PATIENCE,
    );
    assert_eq!(monitor.status.code(), Some(100), "{}", monitor.show());
    assert!(
        monitor.stdout.contains(&format!(
            "monitor: {} --host 127.0.0.1",
            root_dir.join("usr/share/hamon/scripts/ha-probe").display()
        )),
        "{}",
        monitor.show()
    );
}
