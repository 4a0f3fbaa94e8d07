//! The heartbeat: keeps exactly one node of a cluster active over a shared directory.

pub mod codec;
pub mod io;
pub mod record;
pub mod store;
