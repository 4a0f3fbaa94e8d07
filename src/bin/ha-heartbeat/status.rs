//! `ha-heartbeat status`: reads the records straight from the shared directory (never
//! writes, never joins the cluster), again every half period until each has changed or the
//! window passed, and prints every node with how long ago its record last changed as seen.
//! On etcd the same picture comes from one read of the cluster's keys (status_etcd.rs).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hamon::heartbeat::node::{NodeSettings, boottime};
use hamon::heartbeat::record::{MaintMode, MaintRecord, NodeRecord, NodeState};
use hamon::heartbeat::store::{FileStore, Store};
use hamon::monitor::render::json_str;

use crate::flap::FlapState;

/// One node as the status command saw it.
#[derive(Clone, Debug)]
pub struct NodeStatus {
    pub name: String,
    /// The decoded record of the last read, or why there is none.
    pub record: Result<NodeRecord, String>,
    /// Some(d): the record changed while watched, last less than d before the watch ended
    /// (the read before the one that showed the change started d before the end).
    pub changed_within: Option<Duration>,
    /// etcd: the lease the node's status key is attached to (the key exists only while
    /// its daemon keeps that lease alive). None on the file backend.
    pub lease: Option<i64>,
}

impl NodeStatus {
    /// Its daemon is alive: the record changed while watched, or (etcd) its lease holds
    /// its status key.
    pub fn changed(&self) -> bool {
        self.changed_within.is_some() || self.lease.is_some()
    }
}

/// What one read of etcd showed besides the nodes' status keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdSeen {
    /// The cluster's prefix (`hb.etcd.prefix`).
    pub prefix: String,
    /// The store's revision at the read.
    pub revision: i64,
    /// The leader key: (node, epoch, lease); None when absent.
    pub leader: Option<(String, u64, i64)>,
    /// The epoch key: the last epoch claimed (0 when absent).
    pub epoch: u64,
    /// The read failed or a key made no sense: the picture cannot be trusted.
    pub error: Option<String>,
    /// No key at all under the prefix.
    pub empty: bool,
}

/// What `status` found.
#[derive(Clone, Debug)]
pub struct ClusterStatus {
    pub nodes: Vec<NodeStatus>,
    pub maint: Result<MaintRecord, String>,
    pub observed: Duration,
    /// The node `status` runs on backs off after its application failed (`STATE_DIR/flap`).
    pub backing_off: Option<BackingOff>,
    /// Read from etcd (`hb.backend=etcd`): `observed` is then how long the read took.
    pub etcd: Option<EtcdSeen>,
}

/// A node that claims nothing for now because its application failed on it.
#[derive(Clone, Debug)]
pub struct BackingOff {
    pub node: String,
    pub state: FlapState,
    /// How much longer.
    pub left: Duration,
}

impl BackingOff {
    /// Reads this node's damping state; Some while its back-off lasts.
    pub fn load(s: &NodeSettings) -> Option<BackingOff> {
        let state = FlapState::load(&s.state_dir)?;
        let now = boottime();
        (now < state.until).then(|| BackingOff {
            node: s.node.clone(),
            left: Duration::from_nanos(state.until - now),
            state,
        })
    }

    fn describe(&self) -> String {
        format!(
            "{} backs off for another {} ms after its application failed {} time(s) (last: {})",
            self.node,
            self.left.as_millis(),
            self.state.failures,
            self.state.last
        )
    }
}

impl ClusterStatus {
    /// Nodes whose record says ACTIVE and changed while observed; on etcd, also the node
    /// that holds the leader key (its status key may not say so yet).
    pub fn live_actives(&self) -> Vec<&str> {
        let leader = self
            .etcd
            .as_ref()
            .and_then(|e| e.leader.as_ref())
            .map(|l| l.0.as_str());
        self.nodes
            .iter()
            .filter(|n| {
                Some(n.name.as_str()) == leader
                    || n.changed() && matches!(&n.record, Ok(r) if r.state == NodeState::Active)
            })
            .map(|n| n.name.as_str())
            .collect()
    }
}

fn read_bounded<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(timeout) {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

fn read_all(
    store: &Arc<FileStore>,
    s: &NodeSettings,
    timeout: Duration,
) -> Vec<Result<Vec<u8>, String>> {
    s.nodes
        .iter()
        .map(|n| {
            let (st, n) = (store.clone(), n.clone());
            read_bounded(timeout, move || st.read_node(&n))
        })
        .collect()
}

/// What the node's backend shows: one read of etcd, or the records watched for `window`.
pub fn observe_backend(s: &NodeSettings, window: Duration) -> ClusterStatus {
    #[cfg(feature = "etcd")]
    if let Some(e) = &s.etcd {
        return crate::status_etcd::observe(s, e);
    }
    observe(s, window)
}

/// Reads every record, then again every half period until each has changed or `window`
/// passed (2 periods + 2 I/O timeouts: a live node writes at least once in that time).
pub fn observe(s: &NodeSettings, window: Duration) -> ClusterStatus {
    let store = Arc::new(FileStore::new(s.dir.clone()));
    let timeout = s.timing.io_timeout.max(Duration::from_secs(1));
    let t0 = Instant::now();
    let mut last = read_all(&store, s, timeout);
    // Per node: the bytes of its last good read and when that read started; when a read shows
    // other bytes, the change happened after that start.
    let mut seen: Vec<Option<(Vec<u8>, Instant)>> = last
        .iter()
        .map(|r| r.as_ref().ok().map(|b| (b.clone(), t0)))
        .collect();
    let mut changed_after: Vec<Option<Instant>> = vec![None; last.len()];
    while t0.elapsed() < window && changed_after.iter().any(Option::is_none) {
        std::thread::sleep((s.timing.period / 2).min(window.saturating_sub(t0.elapsed())));
        let round = Instant::now();
        for (i, r) in read_all(&store, s, timeout).into_iter().enumerate() {
            if let Ok(bytes) = &r {
                if let Some((before, at)) = &seen[i]
                    && before != bytes
                {
                    changed_after[i] = Some(*at);
                }
                seen[i] = Some((bytes.clone(), round));
            }
            last[i] = r;
        }
    }
    let end = Instant::now();
    let observed = end - t0;
    let nodes = s
        .nodes
        .iter()
        .zip(last.into_iter().zip(changed_after))
        .map(|(name, (b, after))| {
            let record = b.and_then(|bytes| {
                NodeRecord::decode(&bytes, &s.cluster).map_err(|e| format!("invalid record: {e}"))
            });
            NodeStatus {
                name: name.clone(),
                record,
                changed_within: after.map(|t| end - t),
                lease: None,
            }
        })
        .collect();
    let st = store.clone();
    let maint = read_bounded(timeout, move || st.read_maint()).and_then(|b| {
        MaintRecord::decode(&b, &s.cluster).map_err(|e| format!("invalid record: {e}"))
    });
    ClusterStatus {
        nodes,
        maint,
        observed,
        backing_off: BackingOff::load(s),
        etcd: None,
    }
}

pub fn state_name(s: NodeState) -> &'static str {
    match s {
        NodeState::Standby => "STANDBY",
        NodeState::Claiming => "CLAIMING",
        NodeState::Active => "ACTIVE",
        NodeState::Stopping => "STOPPING",
        NodeState::Released => "RELEASED",
    }
}

pub fn maint_name(m: &MaintMode) -> String {
    match m {
        MaintMode::Off => "OFF".into(),
        MaintMode::Freeze => "FREEZE".into(),
        MaintMode::Switchover(n) => format!("SWITCHOVER to {n}"),
    }
}

/// The text `ha-heartbeat status` prints.
pub fn render(c: &ClusterStatus, self_node: &str) -> String {
    let mut out = String::new();
    let how = match &c.etcd {
        None => format!("watched {} ms for changes", c.observed.as_millis()),
        Some(e) => format!(
            "one read of etcd at revision {}, {} ms",
            e.revision,
            c.observed.as_millis()
        ),
    };
    let _ = writeln!(
        out,
        "{:<12} {:<9} {:>8} {:>10} {:<9} {:<14} ({how})",
        "NODE", "STATE", "EPOCH", "SEQ", "PREFERRED", "LAST CHANGE",
    );
    for n in &c.nodes {
        let me = if n.name == self_node { "*" } else { "" };
        match &n.record {
            Ok(r) => {
                let last_change = match (n.changed_within, n.lease) {
                    (_, Some(_)) => "lease held".to_string(),
                    (Some(d), None) => format!("< {} ms ago", d.as_millis()),
                    (None, None) => format!("> {} ms ago", c.observed.as_millis()),
                };
                let _ = writeln!(
                    out,
                    "{:<12} {:<9} {:>8} {:>10} {:<9} {:<14} {}",
                    format!("{}{me}", n.name),
                    state_name(r.state),
                    r.epoch,
                    r.seq,
                    if r.preferred { "yes" } else { "no" },
                    last_change,
                    if n.lease.is_some() {
                        "alive: its lease holds its status key"
                    } else if n.changed() {
                        "alive: the record changed"
                    } else if r.seq == 0 {
                        "never written (blank record from init)"
                    } else {
                        "no change seen: stopped, paused or dead"
                    }
                );
            }
            Err(e) => {
                let _ = writeln!(out, "{:<12} unreadable: {e}", format!("{}{me}", n.name));
            }
        }
    }
    if let Some(e) = &c.etcd {
        let _ = match &e.leader {
            Some((node, epoch, lease)) => writeln!(
                out,
                "leader key: {node} epoch {epoch} (lease {lease:x}); epoch key: {}",
                e.epoch
            ),
            None => writeln!(out, "leader key: none; epoch key: {}", e.epoch),
        };
    }
    match &c.maint {
        Ok(m) => {
            let drained = if m.drained.is_empty() {
                "none".to_string()
            } else {
                m.drained.join(",")
            };
            let _ = writeln!(
                out,
                "maintenance: {} (token {}, set by {}: {}); drained: {drained}",
                maint_name(&m.mode),
                m.token,
                m.set_by,
                if m.reason.is_empty() { "-" } else { &m.reason }
            );
        }
        Err(e) => {
            let _ = writeln!(out, "maintenance: unreadable ({e}): nodes act as FREEZE");
        }
    }
    let actives = c.live_actives();
    let _ = match actives.len() {
        1 => writeln!(out, "active: {}", actives[0]),
        0 => writeln!(out, "active: none"),
        _ => writeln!(out, "active: SEVERAL ({})", actives.join(",")),
    };
    let v = verdict(c);
    let _ = writeln!(out, "verdict: {} (exit {})", v.word(), v.code);
    for p in &v.problems {
        let _ = writeln!(out, "  {p}");
    }
    out
}

/// How `status` judges the cluster, as a Nagios-style check reads its exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// 0 one node active and failover possible; 1 degraded (one active, but failover is
    /// held back or a node is not seen); 2 no node or several active; 3 cannot tell (the
    /// records are not there).
    pub code: u8,
    /// What is wrong, one line each (empty when the code is 0).
    pub problems: Vec<String>,
}

impl Verdict {
    pub fn word(&self) -> &'static str {
        match self.code {
            0 => "ok",
            1 => "degraded",
            2 => "critical",
            _ => "unknown",
        }
    }
}

/// No record is there at all: `init` has not been run on this directory (on etcd: no key
/// under the prefix).
pub fn not_initialised(c: &ClusterStatus) -> bool {
    if let Some(e) = &c.etcd {
        return e.empty && e.error.is_none();
    }
    let missing = |e: &String| e.contains("os error 2)");
    c.nodes
        .iter()
        .all(|n| n.record.as_ref().is_err_and(missing))
        && c.maint.as_ref().is_err_and(missing)
}

pub fn verdict(c: &ClusterStatus) -> Verdict {
    if let Some(e) = c.etcd.as_ref().and_then(|e| e.error.as_ref()) {
        return Verdict {
            code: 3,
            problems: vec![e.clone()],
        };
    }
    if let Some(e) = c.etcd.as_ref().filter(|_| not_initialised(c)) {
        return Verdict {
            code: 3,
            problems: vec![format!(
                "no keys under {} in etcd: run `ha-heartbeat init` first (or check hb.cluster \
                 and hb.etcd.prefix)",
                e.prefix
            )],
        };
    }
    if not_initialised(c) {
        return Verdict {
            code: 3,
            problems: vec!["no records in hb.dir: run `ha-heartbeat init` first".into()],
        };
    }
    let actives = c.live_actives();
    match actives.len() {
        0 => {
            let mut problems = vec!["no node is active".to_string()];
            if let Some(b) = &c.backing_off {
                problems.push(format!(
                    "the service is down everywhere: {}, and no other node runs it",
                    b.describe()
                ));
            }
            return Verdict { code: 2, problems };
        }
        1 => {}
        _ => {
            return Verdict {
                code: 2,
                problems: vec![format!("several nodes are active: {}", actives.join(","))],
            };
        }
    }
    let active = actives[0];
    let mut problems = Vec::new();
    if let Some(b) = c.backing_off.as_ref().filter(|b| b.node != active) {
        problems.push(format!("{}: no failover to it", b.describe()));
    }
    for n in c.nodes.iter().filter(|n| n.name != active) {
        match &n.record {
            Err(e) if c.etcd.is_some() => {
                problems.push(format!("{}: {e}: no failover to it", n.name))
            }
            Err(e) => problems.push(format!("{}: record unreadable: {e}", n.name)),
            Ok(_) if !n.changed() => problems.push(format!(
                "{}: no change seen (stopped, paused or dead): no failover to it",
                n.name
            )),
            Ok(_) => {}
        }
    }
    match &c.maint {
        Err(e) => problems.push(format!(
            "maintenance record unreadable ({e}): nodes act as FREEZE"
        )),
        Ok(m) => {
            match &m.mode {
                MaintMode::Off => {}
                MaintMode::Freeze => problems.push("maintenance FREEZE: no failover".into()),
                // One node is active: either the target (done), or the one handing over
                // (for a period or two), or one that took over after the switchover ended
                // or was abandoned (normal failover again). None of these is a problem.
                MaintMode::Switchover(_) => {}
            }
            if !m.drained.is_empty() {
                problems.push(format!("drained: {}", m.drained.join(",")));
            }
        }
    }
    Verdict {
        code: u8::from(!problems.is_empty()),
        problems,
    }
}

fn json_opt(s: Option<&str>) -> String {
    s.map_or("null".into(), json_str)
}

fn json_list(items: &[&str]) -> String {
    let v: Vec<String> = items.iter().map(|s| json_str(s)).collect();
    format!("[{}]", v.join(","))
}

/// `status --json`: one object on one line; the field names are documented in
/// docs/heartbeat.md ("status --json") and stay stable.
pub fn render_json(c: &ClusterStatus, self_node: &str) -> String {
    let v = verdict(c);
    let actives = c.live_actives();
    let nodes: Vec<String> = c
        .nodes
        .iter()
        .map(|n| {
            let common = format!(
                "\"name\":{},\"self\":{},\"alive\":{},\"changed_within_ms\":{},\"lease\":{}",
                json_str(&n.name),
                n.name == self_node,
                n.changed(),
                n.changed_within
                    .map_or("null".into(), |d| d.as_millis().to_string()),
                n.lease.map_or("null".into(), |l| json_str(&format!("{l:x}")))
            );
            match &n.record {
                Ok(r) => format!(
                    "{{{common},\"state\":{},\"epoch\":{},\"seq\":{},\"preferred\":{},\"error\":null}}",
                    json_str(state_name(r.state)),
                    r.epoch,
                    r.seq,
                    r.preferred
                ),
                Err(e) => format!(
                    "{{{common},\"state\":null,\"epoch\":null,\"seq\":null,\"preferred\":null,\"error\":{}}}",
                    json_str(e)
                ),
            }
        })
        .collect();
    let maint = match &c.maint {
        Ok(m) => {
            let (mode, target) = match &m.mode {
                MaintMode::Off => ("OFF", None),
                MaintMode::Freeze => ("FREEZE", None),
                MaintMode::Switchover(t) => ("SWITCHOVER", Some(t.as_str())),
            };
            let drained: Vec<&str> = m.drained.iter().map(String::as_str).collect();
            format!(
                "{{\"mode\":{},\"target\":{},\"token\":{},\"set_by\":{},\"reason\":{},\"drained\":{},\"error\":null}}",
                json_str(mode),
                json_opt(target),
                m.token,
                json_str(&m.set_by),
                json_str(&m.reason),
                json_list(&drained)
            )
        }
        Err(e) => format!(
            "{{\"mode\":null,\"target\":null,\"token\":null,\"set_by\":null,\"reason\":null,\"drained\":[],\"error\":{}}}",
            json_str(e)
        ),
    };
    let problems: Vec<&str> = v.problems.iter().map(String::as_str).collect();
    let backend = match &c.etcd {
        None => "\"backend\":\"file\"".to_string(),
        Some(e) => format!(
            "\"backend\":\"etcd\",\"etcd\":{{\"prefix\":{},\"revision\":{},\"leader\":{},\"epoch\":{},\"error\":{}}}",
            json_str(&e.prefix),
            e.revision,
            e.leader
                .as_ref()
                .map_or("null".into(), |(n, epoch, lease)| format!(
                    "{{\"node\":{},\"epoch\":{epoch},\"lease\":{}}}",
                    json_str(n),
                    json_str(&format!("{lease:x}"))
                )),
            e.epoch,
            json_opt(e.error.as_deref())
        ),
    };
    format!(
        "{{\"node\":{},{backend},\"code\":{},\"verdict\":{},\"problems\":{},\"active\":{},\"actives\":{},\"observed_ms\":{},\"maintenance\":{maint},\"nodes\":[{}]}}\n",
        json_str(self_node),
        v.code,
        json_str(v.word()),
        json_list(&problems),
        json_opt((actives.len() == 1).then(|| actives[0])),
        json_list(&actives),
        c.observed.as_millis(),
        nodes.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, state: NodeState, seq: u64, within: Option<u64>) -> NodeStatus {
        let mut r = NodeRecord::blank("hamon", name);
        r.state = state;
        r.seq = seq;
        r.epoch = 3;
        NodeStatus {
            name: name.into(),
            record: Ok(r),
            changed_within: within.map(Duration::from_millis),
            lease: None,
        }
    }

    fn cluster(nodes: Vec<NodeStatus>) -> ClusterStatus {
        ClusterStatus {
            nodes,
            maint: Err("gone".into()),
            observed: Duration::from_millis(520),
            backing_off: None,
            etcd: None,
        }
    }

    #[test]
    fn only_an_active_record_that_changed_counts_as_active() {
        let c = cluster(vec![
            node("n1", NodeState::Active, 9, Some(80)),
            node("n2", NodeState::Active, 4, None),
            node("n3", NodeState::Standby, 7, Some(60)),
        ]);
        assert_eq!(c.live_actives(), ["n1"]);
        let c = cluster(vec![
            node("n1", NodeState::Active, 9, Some(80)),
            node("n2", NodeState::Active, 4, Some(30)),
        ]);
        assert_eq!(c.live_actives(), ["n1", "n2"]);
    }

    #[test]
    fn render_shows_how_long_ago_each_record_changed() {
        let c = cluster(vec![
            node("n1", NodeState::Active, 9, Some(80)),
            node("n2", NodeState::Standby, 4, None),
            node("n3", NodeState::Standby, 0, None),
        ]);
        let out = render(&c, "n2");
        let line = |name: &str| {
            out.lines()
                .find(|l| l.starts_with(name))
                .unwrap()
                .to_string()
        };
        assert!(line("n1 ").contains("< 80 ms ago"), "{out}");
        assert!(line("n1 ").contains("ACTIVE"), "{out}");
        assert!(line("n2*").contains("> 520 ms ago"), "{out}");
        assert!(line("n2*").contains("stopped, paused or dead"), "{out}");
        assert!(line("n3").contains("never written"), "{out}");
        assert!(out.contains("maintenance: unreadable"), "{out}");
        assert!(out.contains("active: n1\n"), "{out}");
        // n2 is not seen changing, and the maintenance record cannot be read.
        assert!(out.contains("verdict: degraded (exit 1)"), "{out}");
    }

    #[test]
    fn a_node_backing_off_is_no_failover_and_with_no_active_the_service_is_down() {
        let mut c = cluster(vec![
            node("n1", NodeState::Active, 9, Some(80)),
            node("n2", NodeState::Standby, 4, Some(30)),
        ]);
        c.maint = maint(MaintMode::Off, &[]);
        c.backing_off = Some(BackingOff {
            node: "n2".into(),
            state: FlapState {
                failures: 2,
                until: 0,
                last: "unhealthy: the HA port answered Down".into(),
            },
            left: Duration::from_millis(3000),
        });
        let v = verdict(&c);
        assert_eq!(v.code, 1, "{v:?}");
        assert!(
            v.problems[0].contains("n2 backs off for another 3000 ms")
                && v.problems[0].contains("failed 2 time(s)")
                && v.problems[0].contains("no failover to it"),
            "{v:?}"
        );
        c.nodes[0].changed_within = None;
        let v = verdict(&c);
        assert_eq!(v.code, 2, "{v:?}");
        assert!(v.problems[1].starts_with("the service is down everywhere: n2 backs off"));
        assert!(render(&c, "n2").contains("the service is down everywhere"));
    }

    fn maint(mode: MaintMode, drained: &[&str]) -> Result<MaintRecord, String> {
        Ok(MaintRecord {
            cluster: "hamon".into(),
            token: 1,
            mode,
            drained: drained.iter().map(|s| s.to_string()).collect(),
            set_by: "n1".into(),
            reason: String::new(),
            wall_ms: 0,
        })
    }

    #[test]
    fn verdict_codes_follow_nagios() {
        let healthy = || {
            vec![
                node("n1", NodeState::Active, 9, Some(80)),
                node("n2", NodeState::Standby, 4, Some(30)),
            ]
        };
        let mut c = cluster(healthy());
        c.maint = maint(MaintMode::Off, &[]);
        assert_eq!(verdict(&c).code, 0, "{:?}", verdict(&c));
        c.maint = maint(MaintMode::Freeze, &[]);
        assert_eq!(verdict(&c).code, 1);
        c.maint = maint(MaintMode::Switchover("n1".into()), &[]);
        assert_eq!(verdict(&c).code, 0, "a finished switchover");
        c.maint = maint(MaintMode::Switchover("n2".into()), &[]);
        assert_eq!(verdict(&c).code, 0, "a switchover over: n1 took over again");
        c.maint = maint(MaintMode::Off, &["n2"]);
        assert_eq!(verdict(&c).code, 1);
        c.maint = maint(MaintMode::Off, &[]);
        c.nodes[1].changed_within = None;
        assert_eq!(verdict(&c).code, 1, "the standby is not seen");
        c.nodes[1].record = Err("No such file or directory (os error 2)".into());
        assert_eq!(verdict(&c).code, 1);
        c.nodes[0].changed_within = None;
        assert_eq!(verdict(&c).code, 2, "nobody active");
        let mut two = cluster(vec![
            node("n1", NodeState::Active, 9, Some(80)),
            node("n2", NodeState::Active, 4, Some(30)),
        ]);
        two.maint = maint(MaintMode::Off, &[]);
        assert_eq!(verdict(&two).code, 2);
        let gone = || Err::<NodeRecord, _>("No such file or directory (os error 2)".to_string());
        let mut blank = cluster(vec![
            NodeStatus {
                name: "n1".into(),
                record: gone(),
                changed_within: None,
                lease: None,
            },
            NodeStatus {
                name: "n2".into(),
                record: gone(),
                changed_within: None,
                lease: None,
            },
        ]);
        blank.maint = Err("No such file or directory (os error 2)".into());
        assert_eq!(verdict(&blank).code, 3);
    }

    #[test]
    fn json_escapes_and_names_its_fields() {
        let mut c = cluster(vec![
            node("n1", NodeState::Active, 9, Some(80)),
            node("n2", NodeState::Standby, 4, None),
        ]);
        let mut m = maint(MaintMode::Off, &[]).unwrap();
        m.reason = "say \"hi\"\n".into();
        c.maint = Ok(m);
        let j = render_json(&c, "n2");
        assert!(j.contains(r#""reason":"say \"hi\"\n""#), "{j}");
        assert!(j.contains(r#""active":"n1""#), "{j}");
        assert!(j.contains(r#""code":1"#), "{j}");
        assert!(j.ends_with("}\n") && !j.trim_end().contains('\n'), "{j}");
    }
}
