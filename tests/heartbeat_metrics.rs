//! `hb.metrics_listen`: a real daemon serves `GET /metrics` with what it knows of the lease
//! and its peers, read back by the strict reader and by promtool; other requests and slow
//! clients get nothing that holds the daemon up.
//!
//! Linux only; needs /bin/sh and /proc/uptime.

#![cfg(target_os = "linux")]

use std::io::Write;
use std::net::{TcpListener, TcpStream};

use crate::common;
use crate::common::prom;
use crate::common::promtool;

use common::cluster::*;
use common::http::ask;
use prom::value;
use promtool::validate;

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().unwrap().port()
}

#[test]
fn the_daemon_serves_its_lease_and_peers_as_metrics() {
    let mut c = Cluster::new("metrics", &["n1", "n2"], "");
    let port = free_port();
    c.add_conf("n1", &format!("hb.metrics_listen=127.0.0.1:{port}\n"));
    c.start("n1");
    let inst = c.wait_running_on(|i| i.node == "n1", failover_bound() * 2);
    c.start("n2");

    // A slow client that never finishes its request holds nothing up.
    let mut idle = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    idle.write_all(b"GET /met").unwrap();

    let mut text = String::new();
    let seen = wait_until(failover_bound() * 2, || {
        let Some((head, body)) = ask(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n") else {
            return false;
        };
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert!(
            head.contains("Content-Type: text/plain; version=0.0.4"),
            "{head}"
        );
        text = body;
        // n2 has started and been seen changing.
        text.contains(r#"hamon_heartbeat_peer_state{peer="n2",state="alive"} 1"#)
    });
    assert!(seen, "n2 never seen alive in the metrics:\n{text}");
    let samples = validate(&text);
    let get = |name: &str, labels: &[(&str, &str)]| {
        value(&samples, name, labels).unwrap_or_else(|| panic!("{name} {labels:?} in\n{text}"))
    };
    assert_eq!(get("hamon_heartbeat_role", &[("role", "active")]), 1.0);
    assert_eq!(get("hamon_heartbeat_role", &[("role", "standby")]), 0.0);
    assert_eq!(get("hamon_heartbeat_epoch", &[]), inst.epoch as f64);
    let left = get("hamon_heartbeat_lease_remaining_seconds", &[]);
    assert!(left > 0.0 && left < 60.0, "lease left {left}");
    assert!(get("hamon_heartbeat_write_latency_seconds", &[]) >= 0.0);
    assert_eq!(get("hamon_heartbeat_fences_total", &[]), 0.0);
    assert!(get("hamon_heartbeat_uptime_seconds", &[]) > 0.0);

    let (head, _) = ask(port, "GET /other HTTP/1.1\r\n\r\n").expect("an answer");
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
    let (head, _) = ask(port, "POST /metrics HTTP/1.1\r\n\r\n").expect("an answer");
    assert!(head.starts_with("HTTP/1.1 405 "), "{head}");
    drop(idle);
    c.assert_no_overlap();
}

#[test]
fn a_metrics_address_that_is_not_numeric_is_refused_naming_the_key() {
    let c = Cluster::new("metrics-bad", &["n1"], "");
    c.add_conf("n1", "hb.metrics_listen=localhost:9464\n");
    let (status, out) = c.cli("n1", &["status"]);
    assert!(!status.success(), "{out}");
    assert!(out.contains("hb.metrics_listen"), "{out}");
}
