//! The RPM packages for the RHEL family, as `scripts/package --rpm` builds them from the
//! portable release build: what each holds, what they require (nothing newer than glibc
//! 2.17, and no name a RHEL host cannot resolve), their scriptlets (the unit is never
//! restarted), rpmlint finds no error, and installed into a scratch root ha-probe runs and
//! pkg-config points at /usr/lib64.
//!
//! Needs rpm (rpmbuild) and rpmlint (scripts/test installs them); skipped, saying so, where
//! rpmbuild is missing (rpmlint's check alone where rpmlint is). Shares the test run's one
//! portable release build (tests/common/release.rs). Linux only.

#![cfg(target_os = "linux")]

use crate::common;
use crate::common::release;

use common::TempDir;
use common::child::run_to_end as run;
use release::{BUILD_PATIENCE, assert_glibc_baseline, elf_files_under, library_in_jar, script};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(120);
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

fn rpm_query(rpm: &Path, args: &[&str]) -> String {
    let done = run(Command::new("rpm").arg("-qp").args(args).arg(rpm), PATIENCE);
    assert!(
        done.status.success(),
        "rpm -qp {args:?} {}:\n{}",
        rpm.display(),
        done.show()
    );
    done.stdout
}

/// Whether one line of `rpm -qp --requires` is something every RHEL 7 host provides: rpm
/// itself, /bin/sh, ldconfig, glibc's libraries at a GLIBC_ version up to 2.17 (and its
/// loader's GNU hash support, which rpm asks of the static ha-probe for its .gnu.hash
/// section), or hamon's own packages.
fn requirement_is_fine(line: &str) -> bool {
    let glibc_libraries = [
        "libc.so.6",
        "libm.so.6",
        "libpthread.so.0",
        "libdl.so.2",
        "librt.so.1",
        "ld-linux-x86-64.so.2",
    ];
    if line.starts_with("rpmlib(")
        || line == "/bin/sh"
        || line == "/sbin/ldconfig"
        || line == "rtld(GNU_HASH)"
    {
        return true;
    }
    if line.starts_with("hamon-libs(x86-64)")
        || line.starts_with("config(hamon)")
        || line == "/usr/bin/pkg-config"
    {
        return true;
    }
    let Some(library) = glibc_libraries.iter().find(|l| line.starts_with(*l)) else {
        return false;
    };
    let rest = &line[library.len()..];
    if rest == "()(64bit)" {
        return true;
    }
    // libc.so.6(GLIBC_2.14)(64bit)
    let Some(version) = rest
        .strip_prefix("(GLIBC_")
        .and_then(|v| v.strip_suffix(")(64bit)"))
    else {
        return false;
    };
    !release::newer_than_baseline(version)
}

#[test]
fn the_rpms_hold_what_rhel_needs_and_install_into_a_root_where_ha_probe_runs() {
    if !have("rpmbuild") {
        println!("rpmbuild not installed (Debian: apt-get install rpm): the RPM is not built");
        return;
    }
    let scratch = TempDir::new("rpm");
    let out = scratch.path().join("out");
    let done = run(script("package").arg("--rpm").arg(&out), BUILD_PATIENCE);
    assert!(
        done.status.success(),
        "scripts/package --rpm:\n{}",
        done.show()
    );
    let rpm = |name: &str| -> PathBuf {
        let path = out.join(format!("{name}-{VERSION}-1.x86_64.rpm"));
        assert!(path.is_file(), "no {}:\n{}", path.display(), done.show());
        path
    };
    let (tools, libs, devel, java) = (
        rpm("hamon"),
        rpm("hamon-libs"),
        rpm("hamon-devel"),
        rpm("hamon-java"),
    );
    let all = [&tools, &libs, &devel, &java];

    // What each holds.
    let holds = |package: &Path, files: &[&str]| {
        let list = rpm_query(package, &["-l"]);
        for file in files {
            assert!(
                list.lines().any(|l| l == *file),
                "{file} not in {}:\n{list}",
                package.display()
            );
        }
        list
    };
    holds(
        &libs,
        &[
            "/usr/lib64/libhamon.so.0",
            &format!("/usr/lib64/libhamon.so.{VERSION}"),
        ],
    );
    holds(
        &devel,
        &[
            "/usr/lib64/libhamon.so",
            "/usr/lib64/libhamon.a",
            "/usr/lib64/pkgconfig/hamon.pc",
            "/usr/lib64/pkgconfig/hamon-static.pc",
            "/usr/include/hamon.h",
            "/usr/share/man/man3/hamon.3.gz",
        ],
    );
    holds(
        &java,
        &[
            "/usr/share/java/hamon.jar",
            &format!("/usr/share/java/hamon-{VERSION}.jar"),
        ],
    );
    let list = holds(
        &tools,
        &[
            "/usr/bin/ha-probe",
            "/usr/bin/ha-heartbeat",
            "/usr/lib/systemd/system/ha-heartbeat.service",
            "/usr/share/hamon/scripts/monitor",
            "/usr/share/hamon/scripts/ocf/hamon",
            "/usr/lib/ocf/resource.d/hamon/hamon",
            "/usr/share/man/man1/ha-probe.1.gz",
            "/usr/share/man/man8/ha-heartbeat.8.gz",
            "/usr/share/bash-completion/completions/ha-heartbeat",
            "/usr/share/doc/hamon/heartbeat.md",
            "/usr/share/doc/hamon/heartbeat-etcd.md",
            "/usr/share/doc/hamon/monitor-server.md",
            "/usr/share/doc/hamon/cluster-managers.md",
            "/etc/hamon/heartbeat.properties",
        ],
    );
    assert!(
        !list.contains("libhamon") && !list.contains("install-manifest"),
        "hamon holds a library or scripts/install's manifest:\n{list}"
    );
    // The example configuration is a configuration file an upgrade never replaces.
    let flags = rpm_query(&tools, &["--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]"]);
    assert!(
        flags
            .lines()
            .any(|l| l.starts_with("/etc/hamon/heartbeat.properties ") && l.contains('n')),
        "heartbeat.properties is not %config(noreplace):\n{flags}"
    );

    // The project's address, as Cargo.toml and the pom give it.
    for package in all {
        assert_eq!(
            rpm_query(package, &["--queryformat", "%{URL}"]),
            env!("CARGO_PKG_HOMEPAGE"),
            "{}",
            package.display()
        );
    }

    // Requirements: nothing newer than glibc 2.17, nothing a RHEL host cannot resolve.
    for package in all {
        let requires = rpm_query(package, &["--requires"]);
        let odd: Vec<&str> = requires
            .lines()
            .map(|l| l.split(' ').next().unwrap_or(l))
            .filter(|l| !requirement_is_fine(l))
            .collect();
        assert!(
            odd.is_empty(),
            "{} requires {odd:?}:\n{requires}",
            package.display()
        );
    }
    let requires = rpm_query(&tools, &["--requires"]);
    assert!(
        requires.contains("libc.so.6(GLIBC_2.17)(64bit)"),
        "ha-heartbeat needs glibc 2.17's symbols (ha-probe is static):\n{requires}"
    );
    assert!(
        rpm_query(&devel, &["--requires"]).contains(&format!("hamon-libs(x86-64) = {VERSION}-1")),
        "hamon-devel requires this hamon-libs"
    );

    // Scriptlets: systemd reloads; the unit is never started, enabled by force or restarted.
    let scripts = rpm_query(&tools, &["--scripts"]);
    assert!(scripts.contains("daemon-reload"), "{scripts}");
    let scripts: String = scripts
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !scripts.contains("restart")
            && !scripts.contains(" start ")
            && !scripts.contains(" enable "),
        "a scriptlet starts or restarts ha-heartbeat:\n{scripts}"
    );
    assert!(
        rpm_query(&libs, &["--scripts"]).contains("/sbin/ldconfig"),
        "hamon-libs runs ldconfig"
    );

    // rpmlint finds no error but those packaging/rpm/hamon.rpmlintrc accepts, with reasons.
    if have("rpmlint") {
        let lint = run(
            Command::new("rpmlint")
                .arg("-r")
                .arg(common::root().join("packaging/rpm/hamon.rpmlintrc"))
                .args(all),
            BUILD_PATIENCE,
        );
        assert!(
            lint.stdout.contains(" 0 errors"),
            "rpmlint errors:\n{}",
            lint.show()
        );
    } else {
        println!("rpmlint not installed (Debian: apt-get install rpmlint): not run");
    }

    // Installed into a scratch root (no glibc packages there: --nodeps; no systemd: no
    // scriptlets), ha-probe runs with the host's loader.
    let root_dir = scratch.path().join("root");
    fs::create_dir_all(&root_dir).expect("mkdir root");
    let done = run(
        Command::new("rpm")
            .arg("--root")
            .arg(&root_dir)
            .args(["--nodeps", "--noscripts", "-i"])
            .args(all),
        BUILD_PATIENCE,
    );
    assert!(done.status.success(), "rpm -i:\n{}", done.show());
    let mut elves = elf_files_under(&root_dir.join("usr"));
    assert_eq!(
        elves,
        [
            root_dir.join("usr/bin/ha-heartbeat"),
            root_dir.join("usr/bin/ha-probe"),
            root_dir.join(format!("usr/lib64/libhamon.so.{VERSION}")),
        ],
        "the ELF files of the packages"
    );
    elves.push(library_in_jar(
        &root_dir.join("usr/share/java/hamon.jar"),
        &scratch.path().join("jar"),
    ));
    assert_glibc_baseline(&elves);
    let pc = fs::read_to_string(root_dir.join("usr/lib64/pkgconfig/hamon.pc")).expect("pc");
    assert!(
        pc.contains("prefix=/usr\n") && pc.contains("libdir=${exec_prefix}/lib64\n"),
        "hamon.pc does not say /usr/lib64:\n{pc}"
    );
    let agent = fs::read_link(root_dir.join("usr/lib/ocf/resource.d/hamon/hamon")).expect("link");
    assert!(
        root_dir
            .join("usr/lib/ocf/resource.d/hamon")
            .join(&agent)
            .is_file(),
        "the OCF agent's link {} leads nowhere",
        agent.display()
    );

    let probe = root_dir.join("usr/bin/ha-probe");
    let version = run(Command::new(&probe).arg("--version"), PATIENCE);
    assert!(
        version.status.success() && version.stdout.contains(&format!("ha-probe {VERSION}")),
        "{}",
        version.show()
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
}
