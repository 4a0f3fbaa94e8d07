//! The glibc baseline of what hamon ships: every ELF file of the release build needs no
//! GLIBC_ symbol version newer than 2.17, so it runs on RHEL/CentOS 7 and every newer glibc
//! (RHEL 8, SLES 12/15, Amazon Linux 2, Ubuntu 18.04, Debian 10 ...), not only on the build
//! machine's.
//!
//! Checked here: libhamon.so and ha-heartbeat as the release build leaves them, and
//! libhamon.a through a C program linked statically against it for glibc 2.17 with the
//! build's own zig (a static archive's references carry no versions: what counts is what a
//! program linked on an old host needs). ha-probe, as built and inside ha.tar
//! (scripts/dist), is linked statically: it needs no glibc on the host at all, only Linux
//! 3.10 (RHEL/CentOS 7's kernel), and holds none of the C library's resolver, whose NSS
//! modules it could not load safely. tests/packaging.rs and tests/rpm.rs check the installed
//! prefix, the packages and the jars' native library the same way.
//!
//! Needs objdump, readelf and nm (binutils), tar, cc with a static C library (libc.a),
//! python3 with pip and PyPI once (zig and cargo-zigbuild, scripts/lib/build-release.sh).
//! Linux x86-64 only.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use crate::common;
use crate::common::release;

use common::TempDir;
use common::child::run_to_end as run;
use release::{
    BUILD_PATIENCE, assert_glibc_baseline, elf_files_under, linux_abi, newer_than_baseline,
    parse_glibc_versions, portable, resolver_functions, script, static_program_faults,
};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::thread;
use std::time::Duration;

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

#[test]
fn the_shipped_probe_is_static_and_reads_names_from_etc_hosts_itself() {
    let probe = portable().dir.join("ha-probe");
    let faults = static_program_faults(&probe);
    assert!(
        faults.is_empty(),
        "{}: {}",
        probe.display(),
        faults.join("; ")
    );

    // It probes as the cargo-built one does (tests/probe_cli.rs runs all of that against it
    // with HAMON_TEST_PROBE), names included: localhost from the hosts file it reads itself.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener
        .local_addr()
        .expect("local addr")
        .port()
        .to_string();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).expect("read");
        (&stream).write_all(b"UP v=1\r\n").expect("write");
        line
    });
    let up = run(
        Command::new(&probe).args(["--host", "localhost", "--port", &port, "--debug"]),
        BUILD_PATIENCE,
    );
    assert_eq!(up.status.code(), Some(110), "{}", up.show());
    assert!(
        up.stderr.contains("resolving localhost from /etc/hosts"),
        "{}",
        up.show()
    );
    assert_eq!(server.join().expect("server"), "check\r\n");

    let unknown = run(
        Command::new(&probe).args(["--host", "no-such-host.invalid", "--port", "9"]),
        BUILD_PATIENCE,
    );
    assert_eq!(unknown.status.code(), Some(100), "{}", unknown.show());
    assert!(
        unknown
            .stdout
            .contains("no-such-host.invalid: not in /etc/hosts")
            && unknown.stdout.contains("give --host the server's address"),
        "{}",
        unknown.show()
    );
}

#[test]
fn the_static_check_names_what_a_shipped_static_program_must_not_have() {
    let built = portable();
    // A dynamic program: an interpreter, libraries, GLIBC_ versions.
    let faults = static_program_faults(&built.dir.join("ha-heartbeat")).join("; ");
    for part in [
        "program interpreter",
        "needs shared libraries",
        "libc.so.6",
        "GLIBC_ symbol versions",
    ] {
        assert!(faults.contains(part), "{part:?} in: {faults}");
    }
    // A static program that resolves through the C library: glibc's NSS code is inside.
    let scratch = TempDir::new("glibc-static-nss");
    let source = scratch.path().join("lookup.c");
    std::fs::write(
        &source,
        "#include <netdb.h>\n#include <stddef.h>\n\
         int main(void) {\n\
             struct addrinfo *ai = NULL;\n\
             return getaddrinfo(\"127.0.0.1\", NULL, NULL, &ai) != 0;\n\
         }\n",
    )
    .expect("write lookup.c");
    let exe = scratch.path().join("lookup");
    let linked = run(
        Command::new("cc")
            .args(["-static", "-o"])
            .arg(&exe)
            .arg(&source),
        BUILD_PATIENCE,
    );
    assert!(linked.status.success(), "cc -static:\n{}", linked.show());
    let faults = static_program_faults(&exe).join("; ");
    assert!(
        faults.starts_with("it holds functions of the C library's resolver or NSS: ")
            && faults.contains("getaddrinfo"),
        "{faults}"
    );
}

#[test]
fn the_static_check_reads_the_kernel_floor_and_resolver_symbols() {
    let notes = "\
Displaying notes found in: .note.ABI-tag
  Owner                Data size \tDescription
  GNU                  0x00000010\tNT_GNU_ABI_TAG (ABI version tag)\t    OS: Linux, ABI: 3.2.0
";
    assert_eq!(linux_abi(notes), Some((3, 2, 0)));
    assert_eq!(linux_abi("OS: Linux, ABI: 4.18.0\n"), Some((4, 18, 0)));
    assert_eq!(linux_abi("no note here"), None);
    let nm = "\
0000000000140800 t __gethostbyname2_r
0000000000140800 T __new_gethostbyname2_r
000000000013d220 t __getgroups
0000000000154360 T __nss_action_parse
0000000000345670 b __nss_have_localdomain
0000000000000000 n __evoke_link_warning_getaddrinfo
                 U getaddrinfo
000000000009efe0 t _RNCNvNtNtCsgEmfK2I1SDS_4core3str7pattern13simd_containss0_0
00000000000f0000 W getpwuid_r
";
    // Code only: not data, not link-warning notes, not undefined references; getgroups is
    // a system call, not NSS.
    assert_eq!(
        resolver_functions(nm),
        [
            "__gethostbyname2_r",
            "__new_gethostbyname2_r",
            "__nss_action_parse",
            "getpwuid_r"
        ]
    );
}
