//! The embedded HA monitor server.

pub mod state;
