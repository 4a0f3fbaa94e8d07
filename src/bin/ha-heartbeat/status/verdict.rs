//! How `status` judges the cluster, as a Nagios-style check reads its exit code. It claims
//! only what it saw: read once, the records show roles but not which daemons still run, so
//! the verdict is then `unknown` unless the records alone prove that no node is active.

use hamon::heartbeat::record::MaintMode;

use super::model::{ClusterStatus, Liveness, NodeStatus};

/// The verdict's exit code and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// 0 one node active and failover possible; 1 degraded (one active, but failover is
    /// held back or a node is not seen); 2 no node or several active; 3 cannot tell.
    pub code: u8,
    /// What is wrong, one line each (empty when the code is 0).
    pub problems: Vec<String>,
}

pub const OK: u8 = 0;
pub const DEGRADED: u8 = 1;
pub const CRITICAL: u8 = 2;
pub const UNKNOWN: u8 = 3;

/// The verdict's word for a code.
pub fn word(code: u8) -> &'static str {
    match code {
        OK => "ok",
        DEGRADED => "degraded",
        CRITICAL => "critical",
        _ => "unknown",
    }
}

impl Verdict {
    pub fn word(&self) -> &'static str {
        word(self.code)
    }

    fn new(code: u8, problems: Vec<String>) -> Verdict {
        Verdict { code, problems }
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

/// File backend: the nodes whose record cannot be read or decoded. Any of them may be the
/// active one. (On etcd a missing status key means its lease ended: that node is dead.)
fn unreadable(c: &ClusterStatus) -> Vec<&NodeStatus> {
    if c.etcd.is_some() {
        return Vec::new();
    }
    c.nodes.iter().filter(|n| n.record.is_err()).collect()
}

/// What the maintenance record holds back: FREEZE, drained nodes, or the record unreadable.
fn maintenance_problems(c: &ClusterStatus) -> Vec<String> {
    let mut problems = Vec::new();
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
    problems
}

fn nobody_active(c: &ClusterStatus, why: &str) -> Verdict {
    let mut problems = vec![why.to_string()];
    if let Some(b) = &c.backing_off {
        problems.push(format!(
            "the service is down everywhere: {}, and no other node runs it",
            b.describe()
        ));
    }
    Verdict::new(CRITICAL, problems)
}

fn unreadable_lines(unreadable: &[&NodeStatus]) -> Vec<String> {
    unreadable
        .iter()
        .filter_map(|n| n.record.as_ref().err().map(|e| (n, e)))
        .map(|(n, e)| format!("{}: record unreadable: {e}", n.name))
        .collect()
}

pub fn verdict(c: &ClusterStatus) -> Verdict {
    if let Some(e) = c.etcd.as_ref().and_then(|e| e.error.as_ref()) {
        return Verdict::new(UNKNOWN, vec![e.clone()]);
    }
    if let Some(e) = c.etcd.as_ref().filter(|_| not_initialised(c)) {
        return Verdict::new(
            UNKNOWN,
            vec![format!(
                "no keys under {} in etcd: run `ha-heartbeat init` first (or check hb.cluster \
                 and hb.etcd.prefix)",
                e.prefix
            )],
        );
    }
    if not_initialised(c) {
        return Verdict::new(
            UNKNOWN,
            vec!["no records in hb.dir: run `ha-heartbeat init` first".into()],
        );
    }
    let unreadable = unreadable(c);
    if unreadable.len() == c.nodes.len() {
        let mut problems = vec!["no record in hb.dir can be read: cannot tell".to_string()];
        problems.extend(unreadable_lines(&unreadable));
        return Verdict::new(UNKNOWN, problems);
    }
    if let Liveness::NotWatched { window } = c.liveness {
        return not_watched(c, &unreadable, window);
    }
    let actives = c.live_actives();
    match actives.len() {
        0 if !unreadable.is_empty() => {
            let mut problems = vec![
                "no node seen active, but a record that cannot be read may be the active's: \
                 cannot tell"
                    .to_string(),
            ];
            problems.extend(unreadable_lines(&unreadable));
            return Verdict::new(UNKNOWN, problems);
        }
        0 => return nobody_active(c, "no node is active"),
        1 => {}
        _ => {
            return Verdict::new(
                CRITICAL,
                vec![format!("several nodes are active: {}", actives.join(","))],
            );
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
    problems.extend(maintenance_problems(c));
    let code = if problems.is_empty() { OK } else { DEGRADED };
    Verdict::new(code, problems)
}

/// Read once: no record saying ACTIVE proves nobody is active (a live active rewrites ACTIVE
/// every period); any other picture needs a watch to tell a live daemon from a stopped one.
fn not_watched(
    c: &ClusterStatus,
    unreadable: &[&NodeStatus],
    window: std::time::Duration,
) -> Verdict {
    if c.record_actives().is_empty() && unreadable.is_empty() {
        return nobody_active(c, "no node is active: no record says ACTIVE");
    }
    let mut problems = vec![format!(
        "liveness not watched: a record keeps its last state after its daemon stops; \
         --watch reads the records for up to {} ms to see which daemons are alive",
        window.as_millis()
    )];
    if let Some(b) = &c.backing_off {
        problems.push(b.describe());
    }
    problems.extend(unreadable_lines(unreadable));
    problems.extend(maintenance_problems(c));
    Verdict::new(UNKNOWN, problems)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hamon::heartbeat::record::{NodeRecord, NodeState};

    use super::*;
    use crate::flap::FlapState;
    use crate::status::model::BackingOff;
    use crate::status::model::tests::{cluster, maint, node};

    fn gone() -> Result<NodeRecord, String> {
        Err("No such file or directory (os error 2)".to_string())
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
        c.nodes[1].record = gone();
        assert_eq!(verdict(&c).code, 1);
        c.nodes[0].changed_within = None;
        let v = verdict(&c);
        assert_eq!(v.code, 3, "nobody seen active, n2 unreadable: {v:?}");
        assert!(v.problems[1].starts_with("n2: record unreadable"), "{v:?}");
        c.nodes[1] = node("n2", NodeState::Standby, 4, Some(30));
        assert_eq!(verdict(&c).code, 2, "nobody active");
        let mut two = cluster(vec![
            node("n1", NodeState::Active, 9, Some(80)),
            node("n2", NodeState::Active, 4, Some(30)),
        ]);
        two.maint = maint(MaintMode::Off, &[]);
        assert_eq!(verdict(&two).code, 2);
        let mut blank = cluster(healthy());
        blank.nodes.iter_mut().for_each(|n| n.record = gone());
        blank.maint = Err("No such file or directory (os error 2)".into());
        assert_eq!(verdict(&blank).code, 3);
        assert!(verdict(&blank).problems[0].contains("run `ha-heartbeat init`"));
        // The records are there but this host cannot read them.
        let mut denied = cluster(healthy());
        denied
            .nodes
            .iter_mut()
            .for_each(|n| n.record = Err("Permission denied (os error 13)".into()));
        let v = verdict(&denied);
        assert_eq!(v.code, 3, "{v:?}");
        assert!(v.problems[0].contains("no record in hb.dir can be read"));
    }

    #[test]
    fn read_once_only_an_empty_claim_is_certain() {
        let once = Liveness::NotWatched {
            window: Duration::from_millis(22000),
        };
        let mut c = cluster(vec![
            node("n1", NodeState::Active, 9, None),
            node("n2", NodeState::Standby, 4, None),
        ]);
        c.liveness = once;
        c.maint = maint(MaintMode::Freeze, &[]);
        let v = verdict(&c);
        assert_eq!(v.code, 3, "{v:?}");
        assert!(
            v.problems[0].starts_with("liveness not watched")
                && v.problems[0].contains("--watch reads the records for up to 22000 ms"),
            "{v:?}"
        );
        assert!(v.problems.iter().any(|p| p.contains("FREEZE")), "{v:?}");
        c.nodes[0] = node("n1", NodeState::Released, 10, None);
        let v = verdict(&c);
        assert_eq!(v.code, 2, "{v:?}");
        assert_eq!(v.problems[0], "no node is active: no record says ACTIVE");
        c.backing_off = Some(BackingOff {
            node: "n2".into(),
            state: FlapState {
                failures: 1,
                until: 0,
                last: "died".into(),
            },
            left: Duration::from_millis(900),
        });
        assert!(verdict(&c).problems[1].starts_with("the service is down everywhere"));
        // An unreadable record may say ACTIVE.
        c.nodes[1].record = Err("invalid record: bad magic".into());
        let v = verdict(&c);
        assert_eq!(v.code, 3, "{v:?}");
        assert!(
            v.problems
                .iter()
                .any(|p| p == "n2: record unreadable: invalid record: bad magic"),
            "{v:?}"
        );
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
    }
}
