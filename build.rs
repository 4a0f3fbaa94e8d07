//! The shared library's SONAME, for the release builds that ship: scripts/lib/build-release.sh
//! sets HAMON_SONAME=1, and libhamon.so then names itself libhamon.so.MAJOR, the name programs
//! linked against it ask the loader for (a later incompatible libhamon.so.1 can sit beside
//! it). Other builds leave it unset: programs linked against target/*/deps/libhamon.so, as the
//! tests do, must find that very file, and no libhamon.so.0 lives there.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=HAMON_SONAME");
    if std::env::var_os("HAMON_SONAME").is_some_and(|v| v == "1") {
        let major =
            std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libhamon.so.{major}");
    }
}
