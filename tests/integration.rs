//! The integration tests that need no binary of their own, as one test program: compiled and
//! linked once (with tests/common once), instead of once per file. Each file is a module named
//! after it; `cargo test --test integration NAME::` runs one file's tests, and scripts/test runs
//! each file in its own process (scripts/lib/test-lanes.sh), as separate programs did.
//!
//! The files the docs name in `cargo test --test NAME` stay programs of their own: Cargo.toml
//! lists them. The test
//! `every_test_file_runs` below fails when a file in tests/ is in neither.

mod common;

mod attack;
mod c_examples;
mod c_header;
mod c_heartbeat;
mod etcd_client;
mod etcd_daemon;
mod etcd_node;
mod etcd_partition;
mod etcd_protocol;
mod etcd_trust;
mod ffi;
mod ffi_heartbeat;
mod ffi_log;
mod glibc_baseline;
mod heartbeat_browser;
mod heartbeat_cluster_events;
mod heartbeat_cpu;
mod heartbeat_crash_handover;
mod heartbeat_daemon;
mod heartbeat_faults;
mod heartbeat_fence_kill;
mod heartbeat_flap;
mod heartbeat_journal;
mod heartbeat_metrics;
mod heartbeat_metrics_clients;
mod heartbeat_mixed;
mod heartbeat_ops;
mod heartbeat_page;
mod heartbeat_pause;
mod heartbeat_profiles;
mod heartbeat_status;
mod heartbeat_switchover;
mod heartbeat_tick_fence;
mod heartbeat_tick_loop;
mod heartbeat_user;
mod heartbeat_watchdog;
mod idle;
mod metrics;
mod packaging;
mod probe_cli;
mod reference;
mod rpm;
mod server;

/// Every tests/*.rs is a module here or a test program of its own in Cargo.toml: with
/// `autotests = false`, a file in neither would never run.
#[test]
fn every_test_file_runs() {
    let dir = common::root().join("tests");
    let here = std::fs::read_to_string(dir.join("integration.rs")).expect("tests/integration.rs");
    let manifest = std::fs::read_to_string(common::root().join("Cargo.toml")).expect("Cargo.toml");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/") {
        let name = entry.expect("tests/ entry").file_name();
        let name = name.to_string_lossy();
        let Some(stem) = name.strip_suffix(".rs") else {
            continue;
        };
        if stem == "integration" {
            continue;
        }
        let module = format!("\nmod {stem};\n");
        let program = format!("path = \"tests/{name}\"");
        if !here.contains(&module) && !manifest.contains(&program) {
            missing.push(name.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "tests/ files that never run: {missing:?}: add `mod NAME;` to tests/integration.rs \
         (or a [[test]] to Cargo.toml)"
    );
}
