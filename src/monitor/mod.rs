//! The embedded HA monitor server.

pub mod check;
pub mod counters;
pub mod ha_log;
pub mod health;
pub mod http;
pub mod listener;
pub mod metrics;
pub mod protocol;
pub mod render;
pub mod runner;
pub mod server;
pub mod shared;
pub mod state;
pub mod telnet;

pub use server::{Server, ServerError};
