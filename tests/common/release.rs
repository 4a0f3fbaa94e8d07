//! The release build hamon ships, as scripts/install, dist, package and build-java make it
//! (scripts/lib/build-release.sh): portable, linked against glibc 2.17. Built in this test
//! run's target directory, once per run: the helper holds a lock on that directory, so test
//! binaries running at once wait for one build and then find it fresh.

#![allow(dead_code)] // each test binary uses its own subset

use crate::common::child::run_to_end as run;
use crate::common::{profile_dir, root};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// A release build on a loaded machine, zig and cargo-zigbuild's installation included.
pub const BUILD_PATIENCE: Duration = Duration::from_secs(1800);

/// The newest glibc the shipped files may need.
pub const GLIBC_BASELINE: (u32, u32) = (2, 17);

/// The shipped programs linked statically (scripts/lib/build-release.sh): they need no glibc
/// on the host at all, only a kernel. Every other ELF file is held to the glibc baseline.
pub const STATIC_PROGRAMS: &[&str] = &["ha-probe"];

/// The oldest kernel a static program must run on: RHEL/CentOS 7's.
pub const KERNEL_BASELINE: (u32, u32, u32) = (3, 10, 0);

/// The target directory of this test run.
pub fn target_dir() -> PathBuf {
    profile_dir()
        .parent()
        .expect("target/<profile> has a parent")
        .to_path_buf()
}

/// `sh scripts/NAME` with this run's cargo and target directory, building the portable
/// release whatever HAMON_NATIVE_BUILD the caller has (every test of a run shares that one).
pub fn script(name: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg(root().join("scripts").join(name))
        .env("CARGO", env!("CARGO"))
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("HAMON_NATIVE_BUILD");
    cmd
}

pub struct Portable {
    /// `TARGET/hamon-portable`: libhamon.so (with its SONAME), libhamon.a, ha-probe and
    /// ha-heartbeat.
    pub dir: PathBuf,
    /// The zig the build used, for linking C programs against the same glibc.
    pub zig: PathBuf,
}

/// Builds (or finds fresh) the portable release, once per test process.
pub fn portable() -> &'static Portable {
    static BUILT: OnceLock<Portable> = OnceLock::new();
    BUILT.get_or_init(|| {
        let done = run(
            Command::new("sh")
                .arg("-c")
                .arg(
                    ". \"$1/scripts/lib/build-release.sh\" && \
                     hamon_build_release \"$1\" \"$2\" && \
                     printf '%s\\n%s\\n' \"$hamon_release_dir\" \"$hamon_zig\"",
                )
                .arg("sh")
                .arg(root())
                .arg(target_dir())
                .env("CARGO", env!("CARGO"))
                .env_remove("HAMON_NATIVE_BUILD"),
            BUILD_PATIENCE,
        );
        assert!(
            done.status.success(),
            "portable release build:\n{}",
            done.show()
        );
        let mut lines = done.stdout.lines().rev();
        let zig = PathBuf::from(lines.next().expect("zig path"));
        let dir = PathBuf::from(lines.next().expect("release dir"));
        for file in ["libhamon.so", "libhamon.a", "ha-probe", "ha-heartbeat"] {
            assert!(dir.join(file).is_file(), "no {file} in {}", dir.display());
        }
        assert!(zig.is_file(), "no zig at {}", zig.display());
        Portable { dir, zig }
    })
}

/// The GLIBC_ symbol versions an ELF file needs, from `objdump -T`: `(symbol, version)`,
/// the version as written after `GLIBC_` (`2.17`, or `PRIVATE`).
pub fn glibc_versions(file: &Path) -> Vec<(String, String)> {
    let done = run(Command::new("objdump").arg("-T").arg(file), BUILD_PATIENCE);
    assert!(
        done.status.success(),
        "objdump -T {} (Debian: binutils):\n{}",
        file.display(),
        done.show()
    );
    parse_glibc_versions(&done.stdout)
}

/// `objdump -T` prints `(GLIBC_2.17)  name` (binutils up to 2.39) or `GLIBC_2.17  name`.
pub fn parse_glibc_versions(objdump: &str) -> Vec<(String, String)> {
    objdump
        .lines()
        .filter_map(|line| {
            let at = line.find("GLIBC_")?;
            let version: String = line[at + "GLIBC_".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
                .collect();
            let symbol = line.split_whitespace().last()?.to_string();
            Some((symbol, version))
        })
        .collect()
}

/// Whether a `GLIBC_` version is newer than the baseline; anything but `MAJOR.MINOR[.PATCH]`
/// (GLIBC_PRIVATE) counts as newer: no other glibc is bound to have it.
pub fn newer_than_baseline(version: &str) -> bool {
    let mut parts = version.split('.').map(str::parse::<u32>);
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) > GLIBC_BASELINE,
        (Some(Ok(major)), None) => major > GLIBC_BASELINE.0,
        _ => true,
    }
}

/// Fails, listing every offending symbol of every file, when any of `files` needs a glibc
/// newer than the baseline. Each file must be an ELF that uses glibc at all, except the
/// [`STATIC_PROGRAMS`], which must be what [`static_program_faults`] accepts instead.
pub fn assert_glibc_baseline(files: &[PathBuf]) {
    let mut offending = Vec::new();
    for file in files {
        if file
            .file_name()
            .is_some_and(|name| STATIC_PROGRAMS.iter().any(|s| name == *s))
        {
            let faults = static_program_faults(file);
            assert!(
                faults.is_empty(),
                "{} must be linked statically, needing no glibc on the host: {}",
                file.display(),
                faults.join("; ")
            );
            continue;
        }
        let versions = glibc_versions(file);
        assert!(
            !versions.is_empty(),
            "{} needs no GLIBC_ symbol at all: not the dynamic ELF expected",
            file.display()
        );
        for (symbol, version) in versions {
            if newer_than_baseline(&version) {
                offending.push(format!("  {}: {symbol} (GLIBC_{version})", file.display()));
            }
        }
    }
    assert!(
        offending.is_empty(),
        "these shipped files need a glibc newer than {}.{} (RHEL/CentOS 7), the oldest hamon \
         supports:\n{}",
        GLIBC_BASELINE.0,
        GLIBC_BASELINE.1,
        offending.join("\n")
    );
}

/// Why `file` is not a program that runs on any Linux from [`KERNEL_BASELINE`] on without
/// the host's glibc, and safely so; empty when it is. Such a program names no interpreter
/// (ld.so) and needs no shared library or GLIBC_ symbol version; its C library's floor (the
/// ELF note's Linux ABI version) is at most the baseline kernel; and it holds no function of
/// the C library's resolver or NSS, which static glibc serves by loading the host's NSS
/// modules, built for another glibc.
pub fn static_program_faults(file: &Path) -> Vec<String> {
    let readelf = |flag: &str| {
        let done = run(
            Command::new("readelf").args([flag, "-W"]).arg(file),
            BUILD_PATIENCE,
        );
        assert!(
            done.status.success(),
            "readelf {flag} {} (Debian: binutils):\n{}",
            file.display(),
            done.show()
        );
        done.stdout
    };
    let mut faults = Vec::new();
    if readelf("-l").contains("INTERP") {
        faults.push("it names a program interpreter (ld.so)".to_string());
    }
    let dynamic = readelf("-d");
    let needed: Vec<&str> = dynamic
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    if !needed.is_empty() {
        faults.push(format!("it needs shared libraries {}", needed.join(" ")));
    }
    // Without a dynamic section (a static program that is not position-independent) there
    // is no symbol version to need, and objdump -T refuses the file.
    if !dynamic.contains("no dynamic section") {
        let versions = glibc_versions(file);
        if !versions.is_empty() {
            faults.push(format!(
                "it needs {} GLIBC_ symbol versions",
                versions.len()
            ));
        }
    }
    match linux_abi(&readelf("-n")) {
        Some(kernel) if kernel <= KERNEL_BASELINE => {}
        Some((a, b, c)) => faults.push(format!(
            "its C library needs Linux {a}.{b}.{c}, newer than {}.{}.{} (RHEL/CentOS 7)",
            KERNEL_BASELINE.0, KERNEL_BASELINE.1, KERNEL_BASELINE.2
        )),
        None => faults.push("it names no Linux ABI version (NT_GNU_ABI_TAG)".to_string()),
    }
    let nm = run(Command::new("nm").arg(file), BUILD_PATIENCE);
    assert!(nm.status.success(), "nm {}:\n{}", file.display(), nm.show());
    let resolver = resolver_functions(&nm.stdout);
    if !resolver.is_empty() {
        faults.push(format!(
            "it holds functions of the C library's resolver or NSS: {}",
            resolver.join(" ")
        ));
    }
    faults
}

/// The Linux version in `readelf -n`'s ABI tag note (`OS: Linux, ABI: 3.2.0`).
pub fn linux_abi(notes: &str) -> Option<(u32, u32, u32)> {
    let at = notes.find("OS: Linux, ABI: ")? + "OS: Linux, ABI: ".len();
    let mut parts = notes[at..]
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()?
        .split('.')
        .map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// The functions (defined code symbols) in `nm` output that belong to the C library's name
/// resolution: getaddrinfo, the get*by*/get*ent families that go through NSS, and NSS itself.
pub fn resolver_functions(nm: &str) -> Vec<String> {
    const FAMILIES: &[&str] = &[
        "getaddrinfo",
        "gethostby",
        "gethostent",
        "getnetby",
        "getnetent",
        "getpwent",
        "getpwuid",
        "getpwnam",
        "getgrent",
        "getgrgid",
        "getgrnam",
        "getgrouplist",
        "getspent",
        "getspnam",
        "getserv",
        "getproto",
        "getrpc",
        "initgroups",
        "nss_",
    ];
    nm.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace().rev();
            let (name, kind) = (fields.next()?, fields.next()?);
            let code = matches!(kind, "T" | "t" | "W" | "w" | "i");
            let bare = name.trim_start_matches('_');
            let bare = bare.strip_prefix("new_").unwrap_or(bare);
            (code && FAMILIES.iter().any(|f| bare.starts_with(f))).then(|| name.to_string())
        })
        .collect()
}

/// The ELF files under `dir`, recursively (by their magic number, not their name).
pub fn elf_files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        let meta = std::fs::symlink_metadata(&path).expect("stat");
        if meta.is_dir() {
            found.extend(elf_files_under(&path));
        } else if meta.is_file() {
            let mut magic = [0u8; 4];
            let is_elf = std::fs::File::open(&path)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
                .is_ok()
                && magic == *b"\x7fELF";
            if is_elf {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Unpacks the native library a jar carries (`io/hamon/native/linux-x86_64/libhamon.so`)
/// into `dir` with the JDK's `jar`, and returns its path.
pub fn library_in_jar(jar: &Path, dir: &Path) -> PathBuf {
    let entry = "io/hamon/native/linux-x86_64/libhamon.so";
    std::fs::create_dir_all(dir).expect("mkdir");
    let done = run(
        Command::new(crate::common::java::jdk_tool("jar"))
            .arg("xf")
            .arg(jar)
            .arg(entry)
            .current_dir(dir),
        BUILD_PATIENCE,
    );
    assert!(
        done.status.success(),
        "jar xf {}:\n{}",
        jar.display(),
        done.show()
    );
    let lib = dir.join(entry);
    assert!(lib.is_file(), "{} carries no {entry}", jar.display());
    lib
}
