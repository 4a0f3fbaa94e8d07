//! What every benchmark program shares: its command line, the cleanup of every process it
//! starts, latency statistics, /proc readers, the example pico, free ports, the seed script
//! and the report it writes for BENCHMARKS.md.

#![allow(dead_code)] // each benchmark uses its own subset

pub mod cleanup;
pub mod cli;
pub mod etcd;
pub mod pico;
pub mod ports;
pub mod procfs;
pub mod random;
pub mod report;
pub mod seed;
pub mod stats;
