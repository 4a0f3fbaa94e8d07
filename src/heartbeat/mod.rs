//! The heartbeat: keeps exactly one node of a cluster active over a shared directory.

pub mod core;
pub mod observe;
pub mod record;
pub mod timing;
