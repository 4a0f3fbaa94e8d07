//! The status page and `/status.json` of real daemons, over real sockets: both nodes with
//! their roles, the maintenance record and the last events; a hostile reason stays text;
//! anything but GET and HEAD is refused.
//!
//! Linux only; needs /bin/sh and /proc/uptime.

#![cfg(target_os = "linux")]

use std::net::TcpListener;
use std::time::Duration;

use crate::common;

use common::cluster::*;
use common::http::ask;
use serde_json::Value;

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().unwrap().port()
}

fn get(port: u16, path: &str) -> Option<(String, String)> {
    ask(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
    )
}

#[test]
fn the_page_and_its_json_show_the_cluster_and_refuse_writes() {
    let mut c = Cluster::new("page", &["n1", "n2"], "");
    let port = free_port();
    c.add_conf("n1", &format!("hb.metrics_listen=127.0.0.1:{port}\n"));
    c.start("n1");
    c.wait_running_on(|i| i.node == "n1", failover_bound() * 2);
    c.start("n2");
    let (st, out) = c.cli("n1", &["maintenance", "off", "--reason", HOSTILE]);
    assert!(st.success(), "{out}");

    let mut json = Value::Null;
    let seen = wait_until(failover_bound() * 2, || {
        let Some((head, body)) = get(port, "/status.json") else {
            return false;
        };
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert!(head.contains("Content-Type: application/json"), "{head}");
        json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        json["active"] == "n1"
            && json["nodes"][1]["alive"] == true
            && json["nodes"][1]["state"] == "STANDBY"
            && json["maintenance"]["reason"] == HOSTILE
    });
    assert!(
        seen,
        "the JSON never showed n1 active and n2 standby: {json}"
    );
    assert_eq!(json["node"], "n1");
    assert_eq!(json["backend"], "file");
    assert!(json["read_age_ms"].is_null(), "a fresh read: {json}");
    assert_eq!(json["daemon"]["role"], "active", "{json}");
    let left = json["daemon"]["lease_left_ms"].as_u64().expect("a lease");
    assert!(left > 0 && left <= F1, "{json}");
    assert!(json["daemon"]["write_latency_ms"].is_u64(), "{json}");
    assert_eq!(json["nodes"][0]["state"], "ACTIVE", "{json}");
    assert!(
        json["storage"]
            .as_str()
            .unwrap()
            .contains(&c.dir.join("shared").display().to_string()),
        "{json}"
    );
    let events = json["events"].as_array().expect("events");
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "operator" && e["text"].as_str().unwrap().contains(HOSTILE)),
        "{json}"
    );
    assert!(events.iter().any(|e| e["kind"] == "role"), "{json}");

    let (head, page) = get(port, "/").expect("the page");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(
        head.contains("Content-Type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(
        head.contains("Content-Security-Policy: default-src 'none'"),
        "{head}"
    );
    assert!(
        page.contains(r#"data-node="n1" data-role="ACTIVE""#),
        "{page}"
    );
    assert!(
        page.contains(r#"data-node="n2" data-role="STANDBY""#),
        "{page}"
    );
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
    assert!(
        !page.contains("<img") && !page.contains("<script"),
        "{page}"
    );

    let (head, body) = ask(port, "HEAD / HTTP/1.1\r\n\r\n").expect("an answer");
    assert!(
        head.starts_with("HTTP/1.1 200 ") && body.is_empty(),
        "{head}\n{body}"
    );
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("a length")
        .parse()
        .unwrap();
    assert!(length > 500, "{head}");
    for req in [
        "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        "PUT /status.json HTTP/1.1\r\n\r\n",
        "DELETE /metrics HTTP/1.1\r\n\r\n",
    ] {
        let (head, _) = ask(port, req).expect("an answer");
        assert!(head.starts_with("HTTP/1.1 405 "), "{req}: {head}");
        assert!(head.contains("Allow: GET, HEAD"), "{head}");
    }
    let (head, _) = get(port, "/etc/passwd").expect("an answer");
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
    c.assert_no_overlap();
}

/// On etcd the page reads the cluster's keys as `status` does: one read, leases judge.
#[cfg(feature = "etcd")]
#[test]
fn on_etcd_the_json_shows_the_leader_and_the_maintenance_reason() {
    use common::etcd::{EtcdCluster, short_timing};
    use hamon::heartbeat::etcd::settings::timing_settings;

    let etcd = EtcdCluster::start(1, false);
    let t = short_timing();
    let settings = format!(
        "hb.backend=etcd\nhb.etcd.endpoints={}\n{}",
        etcd.endpoints().join(","),
        timing_settings(&t)
    );
    let mut c = Cluster::new("page-etcd", &["n1", "n2"], &settings);
    let port = free_port();
    c.add_conf("n2", &format!("hb.metrics_listen=127.0.0.1:{port}\n"));
    c.start("n1");
    c.wait_running_on(|i| i.node == "n1", Duration::from_secs(15));
    c.start("n2");
    let (st, out) = c.cli("n1", &["drain", "n2", "--reason", HOSTILE]);
    assert!(st.success(), "{out}");
    let mut json = Value::Null;
    let seen = wait_until(Duration::from_secs(15), || {
        let Some((_, body)) = get(port, "/status.json") else {
            return false;
        };
        json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        json["active"] == "n1"
            && json["nodes"][1]["alive"] == true
            && json["maintenance"]["reason"] == HOSTILE
    });
    assert!(seen, "the JSON never showed n1 active on etcd: {json}");
    assert_eq!(json["backend"], "etcd", "{json}");
    assert_eq!(json["etcd"]["leader"]["node"], "n1", "{json}");
    assert_eq!(json["maintenance"]["drained"][0], "n2", "{json}");
    assert!(
        json["storage"]
            .as_str()
            .unwrap()
            .starts_with("on etcd http://127.0.0.1:"),
        "{json}"
    );
    let (_, page) = get(port, "/").expect("the page");
    assert!(page.contains("<b id=\"active\">n1</b>"), "{page}");
    assert!(page.contains("<b>n2</b> (this node), drained"), "{page}");
    assert!(!page.contains("<img"), "{page}");
    c.assert_no_overlap();
}
