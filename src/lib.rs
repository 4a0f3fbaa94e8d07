//! hamon: keeps exactly one instance of a critical application available and tells cluster
//! software the truth about it.
//!
//! The crate is a Rust library with a C ABI (`include/hamon.h`, generated from [`ffi`]) and,
//! with the `jni` feature (on by default), the native side of the Java wrapper in `java/`.
//! Protocol cores are pure and tested without I/O; sockets, threads and clocks live at the
//! edges.

/// cbindgen:ignore
pub mod config;
pub mod ffi;
/// cbindgen:ignore
pub mod heartbeat;
/// cbindgen:ignore
#[cfg(feature = "jni")]
mod jni;
/// cbindgen:ignore
mod log_forward;
/// cbindgen:ignore
pub mod metrics;
/// cbindgen:ignore
pub mod monitor;
/// cbindgen:ignore
pub mod name;
/// cbindgen:ignore
pub mod probe;
/// cbindgen:ignore
pub mod timing;
