//! The committed C header must be what cbindgen generates from the current sources, so C
//! users (and reviewers of ABI changes) can rely on include/hamon.h.
//!
//! Regenerate it with: HAMON_BLESS=1 cargo test --test header

use std::path::Path;

/// The compile-time version macros, from Cargo.toml's version (the one `ha_version()`
/// returns), so a stale header fails this test instead of lying about its version.
fn version_macros() -> String {
    [
        "",
        "/**",
        " * The version of hamon this header belongs to, at compile time; ha_version() gives the",
        " * library's at run time (the same string when header and library match).",
        " */",
        &format!(
            "#define HAMON_VERSION_MAJOR {}",
            env!("CARGO_PKG_VERSION_MAJOR")
        ),
        &format!(
            "#define HAMON_VERSION_MINOR {}",
            env!("CARGO_PKG_VERSION_MINOR")
        ),
        &format!(
            "#define HAMON_VERSION_PATCH {}",
            env!("CARGO_PKG_VERSION_PATCH")
        ),
        &format!(
            "#define HAMON_VERSION_STRING \"{}\"",
            env!("CARGO_PKG_VERSION")
        ),
        "",
        "",
    ]
    .join("\n")
}

#[test]
fn committed_header_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let rest = config.after_includes.take().unwrap_or_default();
    config.after_includes = Some(format!("{}{rest}", version_macros()));
    let bindings = cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen can read the crate");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = root.join("include/hamon.h");
    if std::env::var_os("HAMON_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/hamon.h");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/hamon.h is stale: the C ABI in src/ffi or the version in Cargo.toml changed.\n\
         Regenerate it with: HAMON_BLESS=1 cargo test --test header\n\
         and commit the result."
    );
}

/// `NAME VALUE` of every `#define PREFIX... VALUE` in `text`.
fn defines(text: &str, prefix: &str) -> Vec<(String, u32)> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("#define ")?.split_whitespace();
            let name = words.next()?.strip_prefix(prefix)?;
            Some((name.to_string(), words.next()?.parse().ok()?))
        })
        .collect()
}

/// The Java wrapper's codes (`HamonException`'s constants) are the header's error codes, one
/// for one: `HA_ERR_X` is `X`, `HB_ERR_X` is `HEARTBEAT_X`, with the same number.
#[test]
fn java_error_codes_are_the_headers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = std::fs::read_to_string(root.join("include/hamon.h")).expect("include/hamon.h");
    let mut wanted: Vec<(String, u32)> = defines(&header, "HA_ERR_");
    wanted.extend(
        defines(&header, "HB_ERR_")
            .into_iter()
            .map(|(name, value)| (format!("HEARTBEAT_{name}"), value)),
    );
    let java = std::fs::read_to_string(root.join("java/src/io/hamon/HamonException.java"))
        .expect("HamonException.java");
    let mut found: Vec<(String, u32)> = java
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("public static final int ")?;
            let (name, value) = rest.strip_suffix(';')?.split_once(" = ")?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect();
    wanted.sort();
    found.sort();
    assert!(
        wanted.len() > 20,
        "too few codes read from the header: {wanted:?}"
    );
    assert_eq!(
        found, wanted,
        "HamonException's codes differ from include/hamon.h's"
    );
}
