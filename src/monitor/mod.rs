//! The embedded HA monitor server.

pub mod check;
pub mod counters;
pub mod health;
pub mod http;
pub mod protocol;
pub mod render;
pub mod state;
pub mod telnet;
