//! hamon: keeps exactly one instance of a critical application available and tells cluster
//! software the truth about it.
//!
//! The crate is a Rust library with a C ABI (`include/hamon.h`, generated from [`ffi`]).
//! Protocol cores are pure and tested without I/O; sockets, threads and clocks live at the
//! edges.

/// cbindgen:ignore
pub mod config;
pub mod ffi;
/// cbindgen:ignore
pub mod heartbeat;
/// cbindgen:ignore
pub mod monitor;
/// cbindgen:ignore
pub mod probe;
