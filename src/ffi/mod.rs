#![allow(non_camel_case_types)]
//! The C ABI, declared in `include/hamon.h` (`jni/` holds the Java wrapper's native methods,
//! the other `#[no_mangle]` exports). Every export
//! runs inside [`boundary::panic_boundary`], checks its pointers, and translates to the safe modules.

// cbindgen writes include/hamon.h in this order: the monitor server, the main use, first.
pub mod server;

pub mod config;
pub mod probe;

pub mod log;
pub mod status;

pub mod heartbeat;

pub mod boundary;
