//! The glibc baseline of what hamon ships: every ELF file of the release build needs no
//! GLIBC_ symbol version newer than 2.17, so it runs on RHEL/CentOS 7 and every newer glibc
//! (RHEL 8, SLES 12/15, Amazon Linux 2, Ubuntu 18.04, Debian 10 ...), not only on the build
//! machine's.
//!
//! Checked here: libhamon.so, ha-probe and ha-heartbeat as the release build leaves them,
//! ha-probe inside ha.tar (scripts/dist), and libhamon.a through a C program linked
//! statically against it for glibc 2.17 with the build's own zig (a static archive's
//! references carry no versions: what counts is what a program linked on an old host
//! needs). tests/packaging.rs checks the installed prefix, the .deb and the jars' native
//! library the same way.
//!
//! Needs objdump (binutils), tar, python3 with pip and PyPI once (zig and cargo-zigbuild,
//! scripts/lib/build-release.sh). Linux x86-64 only.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use crate::common;
use crate::common::release;

use common::TempDir;
use common::child::run_to_end as run;
use release::{
    BUILD_PATIENCE, assert_glibc_baseline, elf_files_under, newer_than_baseline,
    parse_glibc_versions, portable, script,
};
use std::process::Command;

#[test]
fn the_release_build_needs_at_most_glibc_2_17() {
    let built = portable();
    assert_glibc_baseline(&[
        built.dir.join("libhamon.so"),
        built.dir.join("ha-probe"),
        built.dir.join("ha-heartbeat"),
    ]);
    // The one build carries the SONAME that scripts/install's links name.
    let dynamic = run(
        Command::new("readelf")
            .arg("-d")
            .arg(built.dir.join("libhamon.so")),
        BUILD_PATIENCE,
    );
    assert!(
        dynamic.stdout.contains("Library soname: [libhamon.so.0]"),
        "{}",
        dynamic.show()
    );
    // As the release profile promises with strip = "debuginfo": no DWARF, but the symbol
    // table stays (backtraces name functions), and a build-id for crash tools.
    for file in ["libhamon.so", "ha-probe", "ha-heartbeat"] {
        let path = built.dir.join(file);
        let elf = run(
            Command::new("readelf").args(["-S", "-n", "-W"]).arg(&path),
            BUILD_PATIENCE,
        );
        assert!(elf.status.success(), "{}", elf.show());
        assert!(
            elf.stdout.contains(" .symtab ") && !elf.stdout.contains(".debug_info"),
            "{file}: a symbol table and no DWARF expected:\n{}",
            elf.stdout
        );
        assert!(
            elf.stdout.contains("Build ID: "),
            "{file} has no build-id:\n{}",
            elf.stdout
        );
    }
}

#[test]
fn ha_probe_in_the_dist_kit_needs_at_most_glibc_2_17() {
    let scratch = TempDir::new("glibc-dist");
    let out = scratch.path().join("out");
    let done = run(script("dist").arg(&out), BUILD_PATIENCE);
    assert!(done.status.success(), "scripts/dist:\n{}", done.show());
    let kit = scratch.path().join("kit");
    std::fs::create_dir(&kit).expect("mkdir");
    let unpacked = run(
        Command::new("tar")
            .arg("-xf")
            .arg(out.join("ha.tar"))
            .arg("-C")
            .arg(&kit),
        BUILD_PATIENCE,
    );
    assert!(unpacked.status.success(), "{}", unpacked.show());
    let elves = elf_files_under(&kit);
    assert_eq!(elves, [kit.join("ha-probe")], "the ELF files of ha.tar");
    assert_glibc_baseline(&elves);
    let version = run(
        Command::new(kit.join("ha-probe")).arg("--version"),
        BUILD_PATIENCE,
    );
    assert!(version.status.success(), "{}", version.show());
}

#[test]
fn a_program_linked_with_libhamon_a_for_glibc_2_17_needs_nothing_newer_and_runs() {
    let built = portable();
    let scratch = TempDir::new("glibc-static");
    let exe = scratch.path().join("abi_misuse");
    // What a user on an old host does with libhamon.a and hamon-static.pc's flags, done
    // here with zig's glibc 2.17 in place of that host's. gcc brings its unwinder (libgcc_s)
    // by itself; zig's is its libunwind, named here.
    let linked = run(
        Command::new(&built.zig)
            .args(["cc", "-target", "x86_64-linux-gnu.2.17", "-std=c11"])
            .args(["-Wall", "-Wextra", "-Werror", "-Wpedantic"])
            .arg(format!("-I{}", common::root().join("include").display()))
            .arg(common::root().join("c-examples/abi_misuse.c"))
            .arg(built.dir.join("libhamon.a"))
            .args(["-lpthread", "-ldl", "-lm", "-lunwind", "-o"])
            .arg(&exe),
        BUILD_PATIENCE,
    );
    assert!(
        linked.status.success(),
        "zig cc against libhamon.a:\n{}",
        linked.show()
    );
    assert_glibc_baseline(std::slice::from_ref(&exe));
    let ran = run(
        Command::new(&exe).env("TMPDIR", scratch.path()),
        BUILD_PATIENCE,
    );
    assert!(
        ran.status.success() && ran.stdout.ends_with(" checks passed\n"),
        "{}",
        ran.show()
    );
}

#[test]
fn the_check_reads_both_objdump_formats_and_flags_newer_versions() {
    // binutils 2.39 and older put the version in parentheses; 2.40 and newer do not.
    let objdump = "\
/x/ha-probe:     file format elf64-x86-64

DYNAMIC SYMBOL TABLE:
0000000000000000      DF *UND*\t0000000000000000 (GLIBC_2.2.5) free
0000000000000000      DF *UND*\t0000000000000000  GLIBC_2.34  __libc_start_main
0000000000000000  w   DF *UND*\t0000000000000000 (GLIBC_2.17) clock_gettime
0000000000000000      DF *UND*\t0000000000000000  GLIBC_PRIVATE _dl_x
0000000000000000  w   D  *UND*\t0000000000000000  Base        __gmon_start__
";
    let versions = parse_glibc_versions(objdump);
    let pairs: Vec<(&str, &str)> = versions
        .iter()
        .map(|(s, v)| (s.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("free", "2.2.5"),
            ("__libc_start_main", "2.34"),
            ("clock_gettime", "2.17"),
            ("_dl_x", "PRIVATE")
        ]
    );
    let newer: Vec<&str> = pairs
        .iter()
        .filter(|(_, v)| newer_than_baseline(v))
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(newer, ["__libc_start_main", "_dl_x"]);
    assert!(newer_than_baseline("2.18") && newer_than_baseline("3.0"));
    assert!(!newer_than_baseline("2.3.4") && !newer_than_baseline("2"));
}

#[test]
fn the_native_build_switch_takes_only_1_or_0() {
    let scratch = TempDir::new("glibc-switch");
    let done = run(
        script("dist")
            .arg(scratch.path())
            .env("HAMON_NATIVE_BUILD", "yes"),
        BUILD_PATIENCE,
    );
    assert_eq!(done.status.code(), Some(2), "{}", done.show());
    assert!(
        done.stderr.contains("HAMON_NATIVE_BUILD must be 1") && done.stderr.contains("'yes'"),
        "{}",
        done.show()
    );
    assert!(!scratch.path().join("ha.tar").exists(), "{}", done.show());
}
