//! The heartbeat: keeps exactly one node of a cluster active, over a shared directory or on
//! etcd. [`Node`](crate::heartbeat::node::Node) is what callers drive; behind it the file backend's pure core
//! (`core`), observation rules, record codec, storage boundary (`store`), bounded I/O and
//! driver (`file_node`), or the etcd backend (`etcd`). Docs: docs/heartbeat.md and
//! docs/heartbeat-etcd.md.

pub mod admin;
pub mod clock;
pub mod codec;
pub mod core;
pub mod epoch;
#[cfg(feature = "etcd")]
pub mod etcd;
pub(crate) mod file_node;
pub mod handover;
pub mod io;
pub mod node;
pub mod observe;
pub mod published;
pub mod record;
pub mod settings;
#[cfg(test)]
pub mod sim;
pub(crate) mod stop;
pub mod store;
pub mod timing;
