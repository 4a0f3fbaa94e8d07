#![allow(non_camel_case_types)]
//! The C ABI, declared in `include/hamon.h`. The only place with `#[no_mangle]`. Every export
//! runs inside [`guard::guard`], checks its pointers, and translates to the safe modules.

pub mod config;
pub mod guard;
pub mod heartbeat;
pub mod log;
pub mod probe;
pub mod server;
pub mod status;
