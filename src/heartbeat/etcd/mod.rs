//! The heartbeat on etcd: a lease per node, a leader key created only if absent and attached
//! to the active's lease, the fencing token kept in a counter key (docs/heartbeat-etcd.md).
//! Talks to etcd's gRPC JSON gateway over a small blocking HTTP/1.1 client.

pub mod admin;
pub mod api;
pub mod backend;
pub mod core;
pub mod http;
pub mod keys;
pub mod settings;
#[cfg(test)]
mod sim;
pub mod timing;
pub mod tls;
