//! The embedded HA monitor server.

pub mod check;
pub mod counters;
pub mod health;
pub mod state;
