//! The text `ha-heartbeat status` prints: one line per node, the maintenance record, the
//! active node and the verdict with one line per problem.

use std::fmt::Write as _;

use super::model::{ClusterStatus, Liveness, NodeStatus, maint_name, state_name};
use super::verdict::verdict;

/// A record file's age as this host's clock sees its mtime.
fn age(ms: i64) -> String {
    let (ahead, ms) = (ms < 0, ms.unsigned_abs());
    let amount = match ms {
        0..120_000 => format!("{:.1} s", ms as f64 / 1000.0),
        120_000..7_200_000 => format!("{} min", ms / 60_000),
        _ => format!("{} h", ms / 3_600_000),
    };
    if ahead {
        format!("file modified {amount} ahead of this host's clock (clocks differ)")
    } else {
        format!("file modified {amount} ago by this host's clock")
    }
}

/// The LAST CHANGE column and the note that ends a node's line.
pub fn liveness_words(c: &ClusterStatus, n: &NodeStatus, seq: u64) -> (String, String) {
    let column = match (c.liveness, n.changed_within, n.lease) {
        (_, _, Some(_)) => "lease held".to_string(),
        (Liveness::NotWatched { .. }, _, _) => "not watched".to_string(),
        (_, Some(d), None) => format!("< {} ms ago", d.as_millis()),
        (_, None, None) => format!("> {} ms ago", c.observed.as_millis()),
    };
    let note = if n.lease.is_some() {
        "alive: its lease holds its status key".to_string()
    } else if seq == 0 {
        "never written (blank record from init)".to_string()
    } else if let Liveness::NotWatched { .. } = c.liveness {
        match n.modified_ago_ms {
            Some(ms) => format!("liveness unknown; {}", age(ms)),
            None => "liveness unknown".to_string(),
        }
    } else if n.changed() {
        "alive: the record changed".to_string()
    } else {
        "no change seen: stopped, paused or dead".to_string()
    };
    (column, note)
}

pub fn render(c: &ClusterStatus, self_node: &str) -> String {
    let mut out = String::new();
    let how = match (&c.etcd, c.liveness) {
        (Some(e), _) => format!(
            "one read of etcd at revision {}, {} ms",
            e.revision,
            c.observed.as_millis()
        ),
        (None, Liveness::NotWatched { window }) => format!(
            "read once in {} ms; --watch: up to {} ms to see which daemons are alive",
            c.observed.as_millis(),
            window.as_millis()
        ),
        (None, _) => format!("watched {} ms for changes", c.observed.as_millis()),
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
                let (column, note) = liveness_words(c, n, r.seq);
                let _ = writeln!(
                    out,
                    "{:<12} {:<9} {:>8} {:>10} {:<9} {:<14} {note}",
                    format!("{}{me}", n.name),
                    state_name(r.state),
                    r.epoch,
                    r.seq,
                    if r.preferred { "yes" } else { "no" },
                    column,
                );
            }
            Err(e) => {
                let leader = if c.leader() == Some(n.name.as_str()) {
                    "; it holds the leader key: alive"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "{:<12} unreadable: {e}{leader}",
                    format!("{}{me}", n.name)
                );
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
    let _ = writeln!(out, "{}", active_line(c));
    let v = verdict(c);
    let _ = writeln!(out, "verdict: {} (exit {})", v.word(), v.code);
    for p in &v.problems {
        let _ = writeln!(out, "  {p}");
    }
    out
}

fn active_line(c: &ClusterStatus) -> String {
    if let Liveness::NotWatched { .. } = c.liveness {
        let claims = c.record_actives();
        return match claims.len() {
            0 => "active: none (no record says ACTIVE)".to_string(),
            1 => format!("active: {} by its record (not watched)", claims[0]),
            _ => format!(
                "active: several records say ACTIVE ({}) (not watched: a stopped daemon's \
                 record keeps its last state)",
                claims.join(",")
            ),
        };
    }
    let actives = c.live_actives();
    match actives.len() {
        1 => format!("active: {}", actives[0]),
        0 => "active: none".to_string(),
        _ => format!("active: SEVERAL ({})", actives.join(",")),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hamon::heartbeat::record::{MaintMode, NodeState};

    use super::*;
    use crate::status::model::tests::{cluster, maint, node};

    fn line(out: &str, name: &str) -> String {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name}: {out}"))
            .to_string()
    }

    #[test]
    fn render_shows_how_long_ago_each_record_changed() {
        let c = cluster(vec![
            node("n1", NodeState::Active, 9, Some(80)),
            node("n2", NodeState::Standby, 4, None),
            node("n3", NodeState::Standby, 0, None),
        ]);
        let out = render(&c, "n2");
        assert!(out.contains("(watched 520 ms for changes)"), "{out}");
        assert!(line(&out, "n1 ").contains("< 80 ms ago"), "{out}");
        assert!(line(&out, "n1 ").contains("ACTIVE"), "{out}");
        assert!(line(&out, "n2*").contains("> 520 ms ago"), "{out}");
        assert!(
            line(&out, "n2*").contains("stopped, paused or dead"),
            "{out}"
        );
        assert!(line(&out, "n3").contains("never written"), "{out}");
        assert!(out.contains("maintenance: unreadable"), "{out}");
        assert!(out.contains("active: n1\n"), "{out}");
        // n2 is not seen changing, and the maintenance record cannot be read.
        assert!(out.contains("verdict: degraded (exit 1)"), "{out}");
    }

    #[test]
    fn read_once_says_what_the_records_say_and_what_it_cannot_know() {
        let mut c = cluster(vec![
            node("n1", NodeState::Active, 9, None),
            node("n2", NodeState::Standby, 4, None),
        ]);
        c.liveness = Liveness::NotWatched {
            window: Duration::from_millis(22000),
        };
        c.observed = Duration::from_millis(2);
        c.maint = maint(MaintMode::Off, &[]);
        c.nodes[1].modified_ago_ms = Some(-4_000);
        let out = render(&c, "n1");
        assert!(
            out.contains("(read once in 2 ms; --watch: up to 22000 ms to see which daemons"),
            "{out}"
        );
        let n1 = line(&out, "n1*");
        assert!(
            n1.contains("ACTIVE")
                && n1.contains("not watched")
                && n1.contains("file modified 1.5 s ago by this host's clock"),
            "{out}"
        );
        assert!(
            line(&out, "n2 ").contains("4.0 s ahead of this host's clock"),
            "{out}"
        );
        assert!(
            out.contains("active: n1 by its record (not watched)"),
            "{out}"
        );
        assert!(out.contains("verdict: unknown (exit 3)"), "{out}");
        assert!(out.contains("  liveness not watched"), "{out}");
    }

    #[test]
    fn ages_read_as_people_count() {
        assert_eq!(age(2_345), "file modified 2.3 s ago by this host's clock");
        assert_eq!(
            age(600_000),
            "file modified 10 min ago by this host's clock"
        );
        assert_eq!(
            age(3 * 3_600_000),
            "file modified 3 h ago by this host's clock"
        );
    }
}
