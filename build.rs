//! Link settings for the release builds that ship, which scripts/lib/build-release.sh marks
//! with HAMON_RELEASE_LINK=1: the shared library names itself libhamon.so.MAJOR (its SONAME,
//! the name programs linked against it ask the loader for; a later incompatible
//! libhamon.so.1 can sit beside it), and every file gets a GNU build-id, which crash and
//! debug-symbol tools look files up by (zig's linker adds none unless asked). Other builds
//! leave it unset: programs linked against target/*/deps/libhamon.so, as the tests do, must
//! find that very file, and no libhamon.so.0 lives there.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=HAMON_RELEASE_LINK");
    if std::env::var_os("HAMON_RELEASE_LINK").is_some_and(|v| v == "1") {
        let major =
            std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libhamon.so.{major}");
        println!("cargo:rustc-cdylib-link-arg=-Wl,--build-id");
        println!("cargo:rustc-link-arg-bins=-Wl,--build-id");
    }
}
