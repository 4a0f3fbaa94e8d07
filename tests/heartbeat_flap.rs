//! Flap damping of `ha-heartbeat` (docs/heartbeat.md, "Flapping"), process level with the
//! harness of tests/common/cluster.rs: two nodes whose applications both fail their HA-port
//! probe. Each node backs off after a failure, doubling per failure; once no node has run the
//! application for longer than the failover bound, the `service_down` incident fires (once)
//! and `status` exits non-zero saying why.
//!
//! Linux only; needs /bin/sh and /proc/uptime.

#![cfg(target_os = "linux")]

use std::fs;

use crate::common;

use common::cluster::*;

/// The damping of this test: 3 s, 6 s, 12 s (the cap).
const BACKOFF_MS: u64 = 3000;
const BACKOFF_MAX_MS: u64 = 12_000;

/// The back-off after a node's `n`-th failure (1-based).
fn backoff_after(n: u32) -> u64 {
    (BACKOFF_MS << (n - 1)).min(BACKOFF_MAX_MS)
}

#[test]
fn two_failing_applications_hand_over_no_more_often_than_the_damping_allows() {
    let ports = [FakeHaPort::start(), FakeHaPort::start()];
    let mut c = Cluster::new(
        "flap",
        &["n1", "n2"],
        &format!(
            "hb.flap_backoff_ms={BACKOFF_MS}\nhb.flap_backoff_max_ms={BACKOFF_MAX_MS}\n\
             hb.failure_timeout_ms=60000\nhb.app_probe_fail=3\n"
        ),
    );
    let kinds = c.dir.join("kinds");
    for (port, n) in ports.iter().zip(["n1", "n2"]) {
        port.set(HaAnswer::Down);
        c.add_conf(
            n,
            &format!(
                "hb.app_port={}\nhb.incident_cmd=echo \
                 \"$HB_INCIDENT_KIND|$HB_NODE|$HB_EPOCH|$HB_PEER|$HB_REASON\" >> {}\n",
                port.port,
                kinds.display()
            ),
        );
    }
    c.start("n1");
    c.start("n2");
    let service_down = || -> Vec<String> {
        fs::read_to_string(&kinds)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("service_down|"))
            .map(str::to_string)
            .collect()
    };
    // Undamped, the two hand over every two seconds and no node ever stays down long enough.
    assert!(
        wait_until(ms(40_000), || !service_down().is_empty()),
        "no service_down incident\n{}\n{}",
        fs::read_to_string(&kinds).unwrap_or_default(),
        c.logs()
    );
    let first = service_down()[0].clone();
    let f: Vec<&str> = first.splitn(5, '|').collect();
    assert!(f[1] == "n1" || f[1] == "n2", "{first}");
    assert!(
        f[2].parse::<u64>().is_ok_and(|e| e > 0),
        "the epoch: {first}"
    );
    assert_eq!(f[3], "", "no peer: {first}");
    assert!(
        f[4].contains("no node seen active for")
            && f[4].contains("the application failed here")
            && f[4].contains("claims nothing for another"),
        "the reason: {first}"
    );
    // Neither node's status is OK, and one that backs off says so.
    let mut said = false;
    for node in ["n1", "n2"] {
        let (st, out) = c.cli(node, &["status"]);
        assert_ne!(st.code(), Some(0), "{out}");
        said |= out.contains(&format!("{node} backs off for another"));
    }
    assert!(said, "no status said a node backs off\n{}", c.logs());
    // Hand-overs: each node starts again only after the back-off of its latest failure.
    for node in ["n1", "n2"] {
        let starts: Vec<u64> = c
            .instances()
            .iter()
            .filter(|i| i.node == node)
            .map(|i| i.start)
            .collect();
        assert!(!starts.is_empty(), "{node} never ran\n{}", c.logs());
        for (k, pair) in starts.windows(2).enumerate() {
            let gap_ms = (pair[1] - pair[0]) / 1_000_000;
            let least = backoff_after(k as u32 + 1);
            assert!(
                gap_ms + 20 >= least,
                "{node} started again {gap_ms} ms after its start #{}, before the back-off of \
                 {least} ms\n{}",
                k + 1,
                c.logs()
            );
        }
    }
    c.assert_no_overlap();
    // Once per run of failures: not again from the same node while it goes on (watched for
    // half the longest back-off).
    wait_until(ms(BACKOFF_MAX_MS / 2), || service_down().len() > 2);
    for node in ["n1", "n2"] {
        let mine = service_down()
            .iter()
            .filter(|l| l.split('|').nth(1) == Some(node))
            .count();
        assert!(mine <= 1, "{node} paged service_down {mine} times");
    }
}
