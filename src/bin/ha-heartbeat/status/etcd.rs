//! `ha-heartbeat status` on etcd: one linearizable range read of the cluster's prefix (the
//! status key of every node, the leader and epoch keys, the maintenance key), bounded by the
//! I/O timeout, turned into the same `ClusterStatus` the file backend's watch gives. A status
//! key exists only while its node's lease lives, so no watch is needed: present means alive.

use std::time::{Duration, Instant};

use hamon::heartbeat::etcd::api::{Client, KeyValue};
use hamon::heartbeat::etcd::backend::EtcdSettings;
use hamon::heartbeat::etcd::keys::Keys;
use hamon::heartbeat::node::NodeSettings;
use hamon::heartbeat::record::{MaintMode, MaintRecord, NodeRecord};

use super::model::{BackingOff, ClusterStatus, EtcdSeen, Liveness, NodeStatus};

/// Reads the cluster from etcd once.
pub fn observe(s: &NodeSettings, e: &EtcdSettings) -> ClusterStatus {
    let t0 = Instant::now();
    let read = Client::new(&e.client)
        .map_err(|m| format!("hb.etcd: {m}"))
        .and_then(|mut c| {
            e.keys.read_records(&mut c).map_err(|err| {
                format!(
                    "cannot read etcd (hb.etcd.endpoints={}) within {} ms: {err}",
                    e.client.endpoints.join(","),
                    e.client.timeout.as_millis()
                )
            })
        });
    let mut c = from_keys(&e.keys, &s.nodes, read, t0.elapsed());
    c.backing_off = BackingOff::load(s);
    c
}

/// The picture one range read gives: (revision, keys) or why the read failed.
pub fn from_keys(
    keys: &Keys,
    nodes: &[String],
    read: Result<(i64, Vec<KeyValue>), String>,
    took: Duration,
) -> ClusterStatus {
    let mut seen = EtcdSeen {
        prefix: keys.prefix.clone(),
        revision: 0,
        leader: None,
        epoch: 0,
        error: None,
        empty: false,
    };
    let (revision, kvs) = match read {
        Ok(r) => r,
        Err(why) => {
            seen.error = Some(why.clone());
            return ClusterStatus {
                nodes: nodes
                    .iter()
                    .map(|n| node(n, Err(why.clone()), None))
                    .collect(),
                maint: Err(why),
                observed: took,
                liveness: Liveness::Leases,
                backing_off: None,
                etcd: Some(seen),
            };
        }
    };
    seen.revision = revision;
    seen.empty = kvs.is_empty();
    let maint = match keys.view(&kvs) {
        Ok(view) => {
            seen.leader = view.leader.map(|l| (l.node, l.epoch, l.lease));
            seen.epoch = view.epoch;
            // No maintenance key: the nodes act as OFF (`init` writes one).
            view.maint.unwrap_or_else(|| {
                Ok(MaintRecord {
                    cluster: keys.cluster.clone(),
                    token: 0,
                    mode: MaintMode::Off,
                    drained: Vec::new(),
                    set_by: "-".into(),
                    reason: format!("no key {}maint", keys.prefix),
                    wall_ms: 0,
                })
            })
        }
        Err(why) => {
            seen.error = Some(why.clone());
            Err(why)
        }
    };
    let nodes = nodes
        .iter()
        .map(|n| {
            let key = keys.status(n);
            match kvs.iter().find(|kv| kv.key == key) {
                Some(kv) => node(n, keys.parse_status(n, kv), Some(kv.lease)),
                None => node(
                    n,
                    Err(format!(
                        "no key {}status/{n}: no daemon holds a lease for it (not running, or \
                         dead for longer than its lease)",
                        keys.prefix
                    )),
                    None,
                ),
            }
        })
        .collect();
    ClusterStatus {
        nodes,
        maint,
        observed: took,
        liveness: Liveness::Leases,
        backing_off: None,
        etcd: Some(seen),
    }
}

fn node(name: &str, record: Result<NodeRecord, String>, lease: Option<i64>) -> NodeStatus {
    NodeStatus {
        name: name.to_string(),
        // A key that does not parse says nothing about its node's life.
        lease: lease.filter(|_| record.is_ok()),
        record,
        changed_within: None,
        modified_ago_ms: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::json::render_json;
    use crate::status::text::render;
    use crate::status::verdict::verdict;
    use hamon::heartbeat::etcd::keys::leader_value;

    fn kv(key: Vec<u8>, value: &[u8], lease: i64, rev: i64) -> KeyValue {
        KeyValue {
            key,
            value: value.to_vec(),
            create_revision: 1,
            mod_revision: rev,
            version: 1,
            lease,
        }
    }

    fn names() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    fn maint(keys: &Keys, mode: MaintMode) -> KeyValue {
        let m = MaintRecord {
            cluster: "shop".into(),
            token: 4,
            mode,
            drained: Vec::new(),
            set_by: "a".into(),
            reason: "op".into(),
            wall_ms: 0,
        };
        kv(keys.maint(), &m.encode(), 0, 3)
    }

    /// A healthy two-node cluster: a active at epoch 7, b standby.
    fn healthy(keys: &Keys) -> Vec<KeyValue> {
        vec![
            maint(keys, MaintMode::Off),
            kv(keys.epoch(), b"7", 0, 20),
            kv(keys.leader(), &leader_value("a", 7), 0x11, 20),
            kv(
                keys.status("a"),
                b"node=a role=active epoch=7 maint_ack=4 preferred=true",
                0x11,
                21,
            ),
            kv(
                keys.status("b"),
                b"node=b role=standby epoch=0 maint_ack=4 preferred=false",
                0x22,
                15,
            ),
        ]
    }

    #[test]
    fn a_healthy_cluster_is_ok_with_its_leader_and_epoch() {
        let k = Keys::new("shop", None);
        let c = from_keys(
            &k,
            &names(),
            Ok((25, healthy(&k))),
            Duration::from_millis(3),
        );
        assert_eq!(c.live_actives(), ["a"]);
        assert_eq!(verdict(&c).code, 0, "{:?}", verdict(&c));
        let out = render(&c, "b");
        assert!(out.contains("one read of etcd at revision 25"), "{out}");
        assert!(
            out.contains("leader key: a epoch 7 (lease 11); epoch key: 7"),
            "{out}"
        );
        let a = out.lines().find(|l| l.starts_with("a ")).unwrap();
        assert!(a.contains("ACTIVE") && a.contains("lease held"), "{out}");
        assert!(out.contains("maintenance: OFF (token 4"), "{out}");
        let j = render_json(&c, "b");
        assert!(j.contains(r#""backend":"etcd""#), "{j}");
        assert!(
            j.contains(r#""leader":{"node":"a","epoch":7,"lease":"11"}"#),
            "{j}"
        );
        assert!(
            j.contains(r#""active":"a""#) && j.contains(r#""code":0"#),
            "{j}"
        );
    }

    #[test]
    fn a_missing_status_key_or_freeze_degrades_and_no_leader_is_critical() {
        let k = Keys::new("shop", None);
        let mut kvs = healthy(&k);
        kvs.retain(|kv| kv.key != k.status("b"));
        let c = from_keys(&k, &names(), Ok((25, kvs.clone())), Duration::ZERO);
        let v = verdict(&c);
        assert_eq!(v.code, 1, "{v:?}");
        assert!(
            v.problems[0].starts_with("b: no key /hamon/shop/status/b"),
            "{v:?}"
        );
        let mut frozen = healthy(&k);
        frozen[0] = maint(&k, MaintMode::Freeze);
        let c = from_keys(&k, &names(), Ok((25, frozen)), Duration::ZERO);
        assert_eq!(verdict(&c).code, 1);
        assert!(render(&c, "a").contains("maintenance: FREEZE"));
        // a's lease ended: its leader and status keys went with it.
        let mut kvs = healthy(&k);
        kvs.retain(|kv| kv.key != k.leader() && kv.key != k.status("a"));
        let c = from_keys(&k, &names(), Ok((25, kvs)), Duration::ZERO);
        assert!(c.live_actives().is_empty());
        assert_eq!(verdict(&c).code, 2);
        // A status key that says active beside another's leader key: two may run.
        let mut kvs = healthy(&k);
        kvs[2] = kv(k.leader(), &leader_value("b", 8), 0x22, 30);
        let c = from_keys(&k, &names(), Ok((30, kvs)), Duration::ZERO);
        assert_eq!(c.live_actives(), ["a", "b"]);
        assert_eq!(verdict(&c).code, 2);
        // The leader key makes a node active before its status key says so.
        let mut kvs = healthy(&k);
        kvs[3] = kv(k.status("a"), b"node=a role=standby epoch=7", 0x11, 21);
        let c = from_keys(&k, &names(), Ok((25, kvs)), Duration::ZERO);
        assert_eq!(c.live_actives(), ["a"]);
        // ... and before its status key is there at all: its lease holds the leader key.
        let mut kvs = healthy(&k);
        kvs.retain(|kv| kv.key != k.status("a"));
        let c = from_keys(&k, &names(), Ok((25, kvs)), Duration::ZERO);
        assert_eq!(c.live_actives(), ["a"]);
        assert_eq!(verdict(&c).code, 0, "{:?}", verdict(&c));
        assert_eq!(c.alive(&c.nodes[0]), Some(true));
        assert!(render_json(&c, "b").contains(r#""name":"a","self":false,"alive":true"#));
        let out = render(&c, "b");
        assert!(
            out.lines()
                .any(|l| l.starts_with("a ") && l.ends_with("it holds the leader key: alive")),
            "{out}"
        );
    }

    #[test]
    fn unreadable_etcd_or_no_keys_is_unknown_and_bad_values_are_named() {
        let k = Keys::new("shop", None);
        let why = "cannot read etcd (hb.etcd.endpoints=http://127.0.0.1:1)".to_string();
        let c = from_keys(&k, &names(), Err(why.clone()), Duration::ZERO);
        let v = verdict(&c);
        assert_eq!((v.code, v.problems.clone()), (3, vec![why]));
        let j = render_json(&c, "a");
        assert!(
            j.contains(r#""code":3"#) && j.contains("127.0.0.1:1"),
            "{j}"
        );
        let c = from_keys(&k, &names(), Ok((1, Vec::new())), Duration::ZERO);
        let v = verdict(&c);
        assert_eq!(v.code, 3, "{v:?}");
        assert!(
            v.problems[0].contains("no keys under /hamon/shop/"),
            "{v:?}"
        );
        let mut kvs = healthy(&k);
        kvs[4] = kv(k.status("b"), b"node=b role=boss", 0x22, 15);
        let c = from_keys(&k, &names(), Ok((25, kvs)), Duration::ZERO);
        let b = &c.nodes[1];
        assert!(b.lease.is_none(), "{b:?}");
        assert!(
            b.record
                .as_ref()
                .is_err_and(|e| e.contains("status/b: unknown role")),
            "{b:?}"
        );
        let mut kvs = healthy(&k);
        kvs[1] = kv(k.epoch(), b"seven", 0, 20);
        let v = verdict(&from_keys(&k, &names(), Ok((25, kvs)), Duration::ZERO));
        assert_eq!(v.code, 3, "{v:?}");
        assert!(v.problems[0].contains("/hamon/shop/epoch"), "{v:?}");
    }
}
