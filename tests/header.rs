//! The committed C header must be what cbindgen generates from the current sources, so C
//! users (and reviewers of ABI changes) can rely on include/hamon.h.
//!
//! Regenerate it with: HAMON_BLESS=1 cargo test --test header

use std::path::Path;

#[test]
fn committed_header_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml parses");
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
        "include/hamon.h is stale: the C ABI in src/ffi changed.\n\
         Regenerate it with: HAMON_BLESS=1 cargo test --test header\n\
         and commit the result."
    );
}
