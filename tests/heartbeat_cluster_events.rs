//! Every node publishes its last events, and any node's page and `/status.json` show the
//! cluster's: real daemons on the shared directory and on a real etcd. A takeover on one
//! node shows on the other's page; a peer's hostile text stays text; a corrupt, foreign or
//! missing events file (or key) is left out with a note; a node whose own events file is
//! missing says so once and publishes again once `init` has created it.
//!
//! Linux only; needs /bin/sh and /proc/uptime.

#![cfg(target_os = "linux")]

use std::net::TcpListener;
use std::time::Duration;

use crate::common;
use crate::common::hung;

use common::cluster::*;
use common::http::ask;
use hamon::heartbeat::published;
use serde_json::Value;

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().unwrap().port()
}

fn get(port: u16, path: &str) -> Option<String> {
    ask(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
    )
    .filter(|(head, _)| head.starts_with("HTTP/1.1 200 "))
    .map(|(_, body)| body)
}

fn status_json(port: u16) -> Value {
    get(port, "/status.json")
        .and_then(|b| serde_json::from_str(&b).ok())
        .unwrap_or(Value::Null)
}

/// Whether `json` shows an event of `node` of kind `kind`.
fn shows(json: &Value, node: &str, kind: &str) -> bool {
    json["events"]
        .as_array()
        .is_some_and(|a| a.iter().any(|e| e["node"] == node && e["kind"] == kind))
}

fn notes(json: &Value) -> String {
    json["events_notes"].to_string()
}

/// n1 active, n2 standby; n1's host is lost (daemon, guard and application killed at once,
/// so nothing hands over), n2 takes over; n1 comes back as standby and its page shows n2's
/// takeover, read from n2's events file, with the node named.
#[test]
fn a_takeover_on_one_node_shows_on_the_others_page() {
    let mut c = Cluster::new("cev-file", &["n1", "n2"], "hb.cluster=evc\n");
    for n in ["n1", "n2"] {
        assert!(c.dir.join(format!("shared/events.{n}")).exists(), "init");
    }
    let port = free_port();
    c.add_conf("n1", &format!("hb.metrics_listen=127.0.0.1:{port}\n"));
    c.start("n1");
    c.wait_running_on(|i| i.node == "n1", failover_bound() * 2);
    c.start("n2");
    // n2 standing by has published what it found at its start.
    assert!(
        wait_until(failover_bound() * 2, || shows(
            &status_json(port),
            "n2",
            "maintenance"
        )),
        "n1's page never showed n2's events: {}",
        status_json(port)
    );
    c.stop_node("n1", true);
    c.wait_running_on(|i| i.node == "n2", failover_bound() * 3);
    c.start("n1");
    let mut json = Value::Null;
    let seen = wait_until(failover_bound() * 3, || {
        json = status_json(port);
        json["active"] == "n2" && shows(&json, "n2", "takeover")
    });
    assert!(
        seen,
        "n1's JSON never showed n2's takeover: {json}\n{}",
        c.logs()
    );
    assert_eq!(json["node"], "n1");
    let events = json["events"].as_array().unwrap();
    // Newest first, both nodes' events, each named.
    let times: Vec<u64> = events
        .iter()
        .map(|e| e["time_ms"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{json}");
    assert!(events.iter().any(|e| e["node"] == "n1"), "{json}");
    assert_eq!(notes(&json), "[]", "{json}");
    let page = get(port, "/").expect("the page");
    assert!(
        page.contains(r#"data-kind="takeover" data-node="n2""#),
        "{page}"
    );
    assert!(page.contains("<b id=\"active\">n2</b> since "), "{page}");
    // The command line shows the same history, oldest first.
    let (st, out) = c.cli("n1", &["events", "--cluster"]);
    assert!(st.success(), "{out}");
    let takeover = out.find(" n2 takeover epoch=").expect(&out);
    let n1_start = out.find(" n1 app_start epoch=1").expect(&out);
    assert!(n1_start < takeover, "{out}");
    let (_, own) = c.cli("n1", &["events"]);
    assert!(!own.contains(" n2 "), "{own}");

    // Stopped on purpose, n2 publishes its last events on its way out: its file ends as
    // its journal does.
    let i = c.idx("n2");
    signal(c.pid("n2"), libc::SIGTERM);
    let exited = wait_until(failover_bound() * 2, || {
        c.daemons[i]
            .as_mut()
            .is_some_and(|d| d.try_wait().ok().flatten().is_some())
    });
    assert!(exited, "n2 did not stop: {}", c.log("n2"));
    let journal = std::fs::read_to_string(c.dir.join("state-n2/events.jsonl")).unwrap();
    let last = journal.lines().last().unwrap();
    let file = std::fs::read(c.dir.join("shared/events.n2")).unwrap();
    let p = published::decode(&file, "evc", "n2").unwrap();
    assert_eq!(p.payload.lines().last(), Some(last), "{}", c.log("n2"));
    c.assert_no_overlap();
}

/// One daemon (n1) and three silent peers: n2's file is valid but hostile, n3's garbage,
/// n4's missing, and n1's own file is missing too. Nothing crashes; the hostile text is
/// text; each problem is named once; `init` run again creates only the missing files.
#[test]
fn corrupt_hostile_and_missing_events_files_are_named_and_left_out() {
    let mut c = Cluster::new("cev-bad", &["n1", "n2", "n3", "n4"], "hb.cluster=evc\n");
    let shared = c.dir.join("shared");
    let mut payload = String::new();
    for (node, text) in [
        ("n2", format!("drained by {HOSTILE}")),
        // Claims to be n1's: never shown as n1's, nor as n2's.
        ("n1", "forged".to_string()),
    ] {
        payload.push_str(&format!(
            "{{\"time_ms\":{},\"node\":\"{node}\",\"kind\":\"operator\",\"epoch\":1,\
             \"peer\":\"\",\"text\":{}}}\n",
            hamon::heartbeat::admin::wall_ms(),
            serde_json::to_string(&text).unwrap()
        ));
    }
    payload.push_str("<script>alert(1)</script>\n");
    let hostile = published::encode_block("evc", "n2", 9, &payload).unwrap();
    std::fs::write(shared.join("events.n2"), &hostile).unwrap();
    let mut garbage = published::encode_block("evc", "n3", 1, "{}\n").unwrap();
    garbage[published::HEADER] ^= 0xff;
    std::fs::write(shared.join("events.n3"), &garbage).unwrap();
    std::fs::remove_file(shared.join("events.n4")).unwrap();
    std::fs::remove_file(shared.join("events.n1")).unwrap();

    let port = free_port();
    c.add_conf("n1", &format!("hb.metrics_listen=127.0.0.1:{port}\n"));
    c.start("n1");
    c.wait_running_on(|i| i.node == "n1", failover_bound() * 3);
    let mut json = Value::Null;
    let seen = wait_until(failover_bound() * 2, || {
        json = status_json(port);
        shows(&json, "n2", "operator")
            && notes(&json).contains("publishing this node's events failed")
    });
    assert!(seen, "{json}\n{}", c.log("n1"));
    let n = notes(&json);
    assert!(n.contains("events of n3 not shown: CRC mismatch"), "{n}");
    assert!(n.contains("events.n4 is missing"), "{n}");
    assert!(n.contains("events.n1 is missing"), "{n}");
    assert!(!n.contains("events of n2"), "{n}");
    let events = json["events"].as_array().unwrap();
    assert!(
        events.iter().all(|e| e["text"] != "forged"),
        "a peer published an event as n1: {json}"
    );
    let page = get(port, "/").expect("the page");
    assert!(
        page.contains("drained by &lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
    assert!(
        !page.contains("<img") && !page.contains("<script"),
        "{page}"
    );
    assert!(page.contains("id=\"events-notes\""), "{page}");
    let (st, out) = c.cli("n1", &["events", "--cluster", "--json"]);
    assert!(st.success(), "{out}");
    assert!(
        out.contains("events of n3 not shown: CRC mismatch"),
        "{out}"
    );
    assert!(out.contains(&format!("drained by {HOSTILE}")), "{out}");
    assert!(!out.contains("forged"), "{out}");
    // Said once in the log, however many periods it fails.
    std::thread::sleep(ms(2500));
    let log = c.log("n1");
    assert_eq!(
        log.matches("cannot publish this node's events").count(),
        1,
        "{log}"
    );
    assert!(
        !shared.join("events.n1").exists(),
        "the daemon created its file"
    );

    // The upgrade step: init again creates what is missing and leaves the rest.
    let (st, out) = c.cli("n1", &["init"]);
    assert!(st.success(), "{out}");
    assert_eq!(std::fs::read(shared.join("events.n2")).unwrap(), hostile);
    assert_eq!(std::fs::read(shared.join("events.n3")).unwrap(), garbage);
    let published_n1 = wait_until(failover_bound() * 2, || {
        std::fs::read(shared.join("events.n1"))
            .ok()
            .and_then(|b| published::decode(&b, "evc", "n1").ok())
            .is_some_and(|p| p.seq > 0 && p.payload.contains("\"node\":\"n1\""))
    });
    assert!(
        published_n1,
        "n1 never published after init: {}",
        c.log("n1")
    );
    let cleared = wait_until(failover_bound() * 2, || {
        json = status_json(port);
        let n = notes(&json);
        !n.contains("events.n4") && !n.contains("publishing") && n.contains("n3")
    });
    assert!(cleared, "{json}");
    assert!(c.log("n1").contains("events are published again"));
    // Exactly the layout's files, each its fixed size.
    for n in ["n1", "n2", "n3", "n4"] {
        let len = std::fs::metadata(shared.join(format!("events.{n}")))
            .unwrap()
            .len();
        assert_eq!(len, published::SIZE as u64, "events.{n}");
    }
}

/// The events files fail and hang: n1's write of its own fails at once, the read of n2's
/// never returns. Neither touches the heartbeat: n1 stays active, nothing else starts, n1's
/// page still answers, says its publishing fails and that its read is old, and is fresh again
/// once the storage answers.
#[test]
fn failing_or_hung_events_files_never_touch_the_heartbeat() {
    let mut c = Cluster::new("cev-hung", &["n1", "n2"], "hb.cluster=evc\n");
    let port = free_port();
    c.add_conf("n1", &format!("hb.metrics_listen=127.0.0.1:{port}\n"));
    c.start("n1");
    let active = c.wait_running_on(|i| i.node == "n1", failover_bound() * 2);
    c.start("n2");
    assert!(
        wait_until(failover_bound() * 2, || shows(
            &status_json(port),
            "n2",
            "maintenance"
        )),
        "{}",
        status_json(port)
    );
    let hung = hung::HungStorage::hang(&c.dir.join("shared"), &["events.n1", "events.n2"]);
    // Something new for n1 to publish.
    let (st, out) = c.cli("n1", &["maintenance", "off", "--reason", "publish this"]);
    assert!(st.success(), "{out}");
    let mut json = Value::Null;
    let seen = wait_until(failover_bound() * 2, || {
        json = status_json(port);
        notes(&json).contains("publishing this node's events failed")
            && json["read_age_ms"].is_u64()
    });
    assert!(seen, "{json}\n{}", c.log("n1"));
    assert_eq!(json["daemon"]["role"], "active", "{json}");
    c.assert_no_failover(active.pid, "the events files fail and hang");
    hung.restore();
    let fresh = wait_until(failover_bound() * 2, || {
        json = status_json(port);
        json["read_age_ms"].is_null() && !notes(&json).contains("publishing")
    });
    assert!(fresh, "{json}\n{}", c.log("n1"));
    assert!(c.log("n1").contains("events are published again"));
}

/// On etcd: n2 taking over shows on n1's page, read from n2's key, which outlives n2's lease;
/// a garbage key, another cluster's and a hostile one are handled as files are.
#[cfg(feature = "etcd")]
#[test]
fn on_etcd_a_takeover_shows_on_the_other_nodes_page() {
    use common::etcd::{EtcdCluster, short_timing};
    use hamon::heartbeat::etcd::settings::timing_settings;

    let etcd = EtcdCluster::start(1, false);
    let t = short_timing();
    let settings = format!(
        "hb.backend=etcd\nhb.cluster=evc\nhb.etcd.prefix=/cev/\nhb.etcd.endpoints={}\n{}",
        etcd.endpoints().join(","),
        timing_settings(&t)
    );
    let mut c = Cluster::new("cev-etcd", &["n1", "n2", "n3", "n4", "n5"], &settings);
    let mut client = etcd.client();
    let hostile = format!(
        "{{\"time_ms\":{},\"node\":\"n3\",\"kind\":\"operator\",\"epoch\":1,\"peer\":\"\",\
         \"text\":\"{HOSTILE}\"}}\n",
        hamon::heartbeat::admin::wall_ms()
    );
    client
        .put(
            b"/cev/timeline/n3",
            &published::encode("evc", "n3", 1, &hostile).unwrap(),
            0,
        )
        .unwrap();
    // Garbage, and more than any reply the client takes (1 MiB): it costs only n4's events.
    client
        .put(
            b"/cev/timeline/n4",
            "<b>garbage</b>".repeat(80_000).as_bytes(),
            0,
        )
        .unwrap();
    // Another cluster's, under this prefix by mistake.
    client
        .put(
            b"/cev/timeline/n5",
            &published::encode("bank", "n5", 1, "").unwrap(),
            0,
        )
        .unwrap();
    let port = free_port();
    c.add_conf("n1", &format!("hb.metrics_listen=127.0.0.1:{port}\n"));
    c.start("n1");
    c.wait_running_on(|i| i.node == "n1", Duration::from_secs(15));
    c.start("n2");
    assert!(
        wait_until(Duration::from_secs(15), || shows(
            &status_json(port),
            "n2",
            "maintenance"
        )),
        "n1's page never showed n2's events: {}",
        status_json(port)
    );
    c.kill9("n1");
    c.wait_running_on(|i| i.node == "n2", Duration::from_secs(20));
    c.start("n1");
    let mut json = Value::Null;
    // On etcd the lease decides: n2 takes the free leader key, and says so.
    let took_over = |json: &Value| {
        json["events"].as_array().is_some_and(|a| {
            a.iter().any(|e| {
                e["node"] == "n2"
                    && e["kind"] == "role"
                    && e["text"].as_str().unwrap_or("").contains("-> active")
            })
        })
    };
    let seen = wait_until(Duration::from_secs(20), || {
        json = status_json(port);
        json["active"] == "n2" && took_over(&json)
    });
    assert!(
        seen,
        "n1's JSON never showed n2 taking over: {json}\n{}",
        c.logs()
    );
    assert!(shows(&json, "n3", "operator"), "{json}");
    let n = notes(&json);
    assert!(
        n.contains("events of n4 not shown: etcd /v3/kv/range:") && n.contains("larger than"),
        "{n}"
    );
    assert!(
        n.contains("events of n5 not shown: record belongs to another cluster"),
        "{n}"
    );
    assert!(!n.contains("n2") && !n.contains("n3"), "{n}");
    let page = get(port, "/").expect("the page");
    assert!(
        page.contains(r#"data-kind="role" data-node="n2""#),
        "{page}"
    );
    assert!(page.contains("<b id=\"active\">n2</b> since "), "{page}");
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
    assert!(
        !page.contains("<img") && !page.contains("<b>garbage"),
        "{page}"
    );
    // Not on a lease: n1's key outlived the daemon killed above and was rewritten since.
    let kv = client.get(b"/cev/timeline/n1").unwrap().expect("n1's key");
    assert_eq!(kv.lease, 0);
    let p = published::decode(&kv.value, "evc", "n1").unwrap();
    assert!(p.payload.contains("\"node\":\"n1\""), "{p:?}");
    c.assert_no_overlap();
}
