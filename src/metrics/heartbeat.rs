//! The heartbeat daemon's metrics: what one node knows of the lease and of its peers, in the
//! text format. Pure: the daemon fills a [`Snapshot`] from its node and counters and serves
//! the string. docs/heartbeat.md lists every name.

use std::time::Duration;

use crate::heartbeat::core::Role;
use crate::heartbeat::observe::Liveness;
use crate::metrics::{Kind, Writer, build_info};

/// One peer as this node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub name: String,
    pub liveness: Liveness,
    /// How long ago its record last changed, as observed here (None: not seen change yet).
    pub changed_ago: Option<Duration>,
}

/// What the daemon knows at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// This node's name (`hb.node`).
    pub node: String,
    pub role: Role,
    pub epoch: u64,
    /// Time left until this node's lease ends; None while it holds none.
    pub lease_left: Option<Duration>,
    /// How long the last write of this node's record took; None before the first.
    pub last_write: Option<Duration>,
    pub peers: Vec<Peer>,
    /// Times this node became active while a peer held or was taking the lease.
    pub takeovers: u64,
    /// Times this node stopped its application because the lease was lost.
    pub fences: u64,
    /// Incidents raised (each paged through `hb.incident_cmd`), per kind (`HB_INCIDENT_KIND`):
    /// every kind the daemon can raise, those never raised with 0, so that a rate or an
    /// increase sees the first one too (a series that appears at 1 shows no increase).
    pub incidents: Vec<(&'static str, u64)>,
    pub uptime: Duration,
}

const ROLES: [(Role, &str); 4] = [
    (Role::Standby, "standby"),
    (Role::Claiming, "claiming"),
    (Role::Active, "active"),
    (Role::Stopping, "stopping"),
];

const LIVENESS: [(Liveness, &str); 3] = [
    (Liveness::Alive, "alive"),
    (Liveness::Stale, "stale"),
    (Liveness::Unknown, "unknown"),
];

/// The whole exposition.
pub fn exposition(s: &Snapshot) -> String {
    let mut w = Writer::new();
    build_info(&mut w);
    w.family(
        "hamon_heartbeat_uptime_seconds",
        Kind::Gauge,
        "Time since the heartbeat daemon started.",
    )
    .sample(&[], s.uptime);
    w.family(
        "hamon_heartbeat_node_info",
        Kind::Gauge,
        "This node's name (hb.node); always 1.",
    )
    .sample(&[("node", &s.node)], 1u64);
    let mut f = w.family(
        "hamon_heartbeat_role",
        Kind::Gauge,
        "This node's role: 1 for the current one, 0 for the others.",
    );
    for (role, word) in ROLES {
        f.sample(&[("role", word)], role == s.role);
    }
    w.family(
        "hamon_heartbeat_epoch",
        Kind::Gauge,
        "The epoch (fencing token) this node last claimed or saw.",
    )
    .sample(&[], s.epoch);
    let mut f = w.family(
        "hamon_heartbeat_lease_remaining_seconds",
        Kind::Gauge,
        "Time left until this node's lease ends; absent while it holds none.",
    );
    if let Some(left) = s.lease_left {
        f.sample(&[], left);
    }
    let mut f = w.family(
        "hamon_heartbeat_write_latency_seconds",
        Kind::Gauge,
        "How long this node's last renewal took (the write of its record; on etcd, its lease's keepalive); absent before the first.",
    );
    if let Some(took) = s.last_write {
        f.sample(&[], took);
    }
    let mut f = w.family(
        "hamon_heartbeat_peer_state",
        Kind::Gauge,
        "Each peer's liveness as seen here (alive: its record changes; stale: it stopped changing for the takeover time; unknown: cannot tell yet or unreadable): 1 for the current one.",
    );
    for p in &s.peers {
        for (l, word) in LIVENESS {
            f.sample(&[("peer", &p.name), ("state", word)], l == p.liveness);
        }
    }
    let mut f = w.family(
        "hamon_heartbeat_peer_age_seconds",
        Kind::Gauge,
        "Time since each peer's record last changed, on this node's clock; absent until seen.",
    );
    for p in &s.peers {
        if let Some(ago) = p.changed_ago {
            f.sample(&[("peer", &p.name)], ago);
        }
    }
    for (name, help, n) in [
        (
            "hamon_heartbeat_takeovers_total",
            "Times this node became active while a peer held or was taking the lease.",
            s.takeovers,
        ),
        (
            "hamon_heartbeat_fences_total",
            "Times this node stopped its application at once because its lease was lost.",
            s.fences,
        ),
    ] {
        w.family(name, Kind::Counter, help).sample(&[], n);
    }
    let mut f = w.family(
        "hamon_heartbeat_incidents_total",
        Kind::Counter,
        "Incidents raised (logged and paged through hb.incident_cmd), per kind (HB_INCIDENT_KIND).",
    );
    for (kind, n) in &s.incidents {
        f.sample(&[("kind", kind)], *n);
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::prom::{parse, value};

    fn snapshot() -> Snapshot {
        Snapshot {
            node: "dc1".into(),
            role: Role::Active,
            epoch: 42,
            lease_left: Some(Duration::from_millis(7_250)),
            last_write: Some(Duration::from_micros(1_500)),
            peers: vec![
                Peer {
                    name: "dc2".into(),
                    liveness: Liveness::Stale,
                    changed_ago: Some(Duration::from_secs(31)),
                },
                Peer {
                    name: "odd \"node\"\\\n".into(),
                    liveness: Liveness::Unknown,
                    changed_ago: None,
                },
            ],
            takeovers: 2,
            fences: 1,
            incidents: vec![("storage", 5), ("fence", 0)],
            uptime: Duration::from_secs(3600),
        }
    }

    #[test]
    fn role_lease_peers_and_counts_are_exposed() {
        let text = exposition(&snapshot());
        let s = parse(&text).unwrap();
        let v = |n: &str, l: &[(&str, &str)]| value(&s, n, l);
        assert_eq!(
            v(
                "hamon_build_info",
                &[("version", env!("CARGO_PKG_VERSION"))]
            ),
            Some(1.0)
        );
        assert_eq!(
            v("hamon_heartbeat_node_info", &[("node", "dc1")]),
            Some(1.0)
        );
        assert_eq!(v("hamon_heartbeat_role", &[("role", "active")]), Some(1.0));
        assert_eq!(v("hamon_heartbeat_role", &[("role", "standby")]), Some(0.0));
        assert_eq!(v("hamon_heartbeat_epoch", &[]), Some(42.0));
        assert_eq!(
            v("hamon_heartbeat_lease_remaining_seconds", &[]),
            Some(7.25)
        );
        assert_eq!(
            v("hamon_heartbeat_write_latency_seconds", &[]),
            Some(0.0015)
        );
        assert_eq!(
            v(
                "hamon_heartbeat_peer_state",
                &[("peer", "dc2"), ("state", "stale")]
            ),
            Some(1.0)
        );
        assert_eq!(
            v(
                "hamon_heartbeat_peer_state",
                &[("peer", "odd \"node\"\\\n"), ("state", "unknown")]
            ),
            Some(1.0),
            "odd names survive escaping"
        );
        assert_eq!(
            v("hamon_heartbeat_peer_age_seconds", &[("peer", "dc2")]),
            Some(31.0)
        );
        assert_eq!(
            v(
                "hamon_heartbeat_peer_age_seconds",
                &[("peer", "odd \"node\"\\\n")]
            ),
            None
        );
        assert_eq!(v("hamon_heartbeat_takeovers_total", &[]), Some(2.0));
        assert_eq!(v("hamon_heartbeat_fences_total", &[]), Some(1.0));
        assert_eq!(
            v("hamon_heartbeat_incidents_total", &[("kind", "storage")]),
            Some(5.0)
        );
        assert_eq!(
            v("hamon_heartbeat_incidents_total", &[("kind", "fence")]),
            Some(0.0),
            "kinds never raised are there with 0"
        );
        assert_eq!(v("hamon_heartbeat_uptime_seconds", &[]), Some(3600.0));
    }

    #[test]
    fn a_standby_without_lease_leaves_the_lease_out() {
        let mut snap = snapshot();
        snap.role = Role::Standby;
        snap.lease_left = None;
        snap.last_write = None;
        let text = exposition(&snap);
        let s = parse(&text).unwrap();
        assert!(
            !s.iter()
                .any(|x| x.0 == "hamon_heartbeat_lease_remaining_seconds")
        );
        assert!(
            !s.iter()
                .any(|x| x.0 == "hamon_heartbeat_write_latency_seconds")
        );
        assert!(text.contains("# TYPE hamon_heartbeat_lease_remaining_seconds gauge\n"));
    }
}
