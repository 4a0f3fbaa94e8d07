//! include/hamon.h as C programs of every age meet it: it compiles as C89 and GNU89 with
//! `-pedantic -Werror` (and as C++98), and its compile-time version macros agree with the
//! version the linked library reports at run time.
//!
//! Needs `cc` (or `$CC`) and `c++` (or `$CXX`); Unix only.

#![cfg(unix)]

use crate::common;

use common::{TempDir, find_lib, lib_dir, root};
use std::fs;
use std::path::Path;
use std::process::Command;

/// Checks the macros against each other and against `ha_version()`; prints the version.
const PROGRAM: &str = r#"#include <hamon.h>
#include <stdio.h>
#include <string.h>

#define STR2(x) #x
#define STR(x) STR2(x)

int main(void) {
    const char *runtime = ha_version();
    const char *parts = STR(HAMON_VERSION_MAJOR) "." STR(HAMON_VERSION_MINOR) "." STR(HAMON_VERSION_PATCH);
    if (strcmp(HAMON_VERSION_STRING, parts) != 0) {
        fprintf(stderr, "HAMON_VERSION_STRING %s but the parts say %s\n", HAMON_VERSION_STRING, parts);
        return 1;
    }
    if (strcmp(HAMON_VERSION_STRING, runtime) != 0) {
        fprintf(stderr, "header %s, library %s\n", HAMON_VERSION_STRING, runtime);
        return 1;
    }
    printf("%s\n", runtime);
    return 0;
}
"#;

fn build_and_run(compiler: &str, flags: &[&str], dir: &Path, name: &str) {
    let source = dir.join(format!("{name}.c"));
    fs::write(&source, PROGRAM).expect("write the C program");
    let exe = dir.join(name);
    let lib = find_lib(&lib_dir(), "a").expect("libhamon.a");
    let out = Command::new(compiler)
        .args(flags)
        .args(["-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg(format!("-I{}", root().join("include").display()))
        .arg(&source)
        .args(["-x", "none"]) // the library is no source file, whatever the language
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    assert!(
        out.status.success(),
        "{compiler} {flags:?} rejects a program that includes hamon.h:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ran = Command::new(&exe).output().expect("run the program");
    assert!(
        ran.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout).trim(),
        env!("CARGO_PKG_VERSION"),
        "{name}: ha_version() is Cargo.toml's version"
    );
}

fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_string())
}

#[test]
fn the_header_is_c89_and_its_version_macros_match_ha_version() {
    let dir = TempDir::new("c89");
    build_and_run(&cc(), &["-std=c89"], dir.path(), "c89");
    build_and_run(&cc(), &["-std=gnu89"], dir.path(), "gnu89");
    build_and_run(&cc(), &["-std=c11"], dir.path(), "c11");
}

#[test]
fn the_header_is_cxx98_clean() {
    let dir = TempDir::new("cxx98");
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".to_string());
    build_and_run(&cxx, &["-std=c++98", "-x", "c++"], dir.path(), "cxx98");
}
