//! `status --json`: one object on one line; the field names are documented in
//! docs/heartbeat.md ("status --json") and stay stable.

use hamon::heartbeat::record::MaintMode;
use hamon::monitor::render::json_str;

use super::model::{ClusterStatus, Liveness, state_name};
use super::verdict::{UNKNOWN, verdict, word};

fn json_opt(s: Option<&str>) -> String {
    s.map_or("null".into(), json_str)
}

fn json_list(items: &[&str]) -> String {
    let v: Vec<String> = items.iter().map(|s| json_str(s)).collect();
    format!("[{}]", v.join(","))
}

fn liveness_word(l: Liveness) -> &'static str {
    match l {
        Liveness::Watched => "watched",
        Liveness::NotWatched { .. } => "not watched",
        Liveness::Leases => "leases",
    }
}

pub fn render_json(c: &ClusterStatus, self_node: &str) -> String {
    let v = verdict(c);
    let actives = c.live_actives();
    let nodes: Vec<String> = c
        .nodes
        .iter()
        .map(|n| {
            let common = format!(
                "\"name\":{},\"self\":{},\"alive\":{},\"changed_within_ms\":{},\"lease\":{},\"modified_ago_ms\":{}",
                json_str(&n.name),
                n.name == self_node,
                c.alive(n).map_or("null".into(), |a| a.to_string()),
                n.changed_within
                    .map_or("null".into(), |d| d.as_millis().to_string()),
                n.lease.map_or("null".into(), |l| json_str(&format!("{l:x}"))),
                n.modified_ago_ms.map_or("null".into(), |m| m.to_string())
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
    let watch_ms = match c.liveness {
        Liveness::NotWatched { window } => window.as_millis().to_string(),
        _ => "null".into(),
    };
    format!(
        "{{\"node\":{},{backend},\"code\":{},\"verdict\":{},\"problems\":{},\"active\":{},\"actives\":{},\"liveness\":{},\"watch_ms\":{watch_ms},\"observed_ms\":{},\"maintenance\":{maint},\"nodes\":[{}]}}\n",
        json_str(self_node),
        v.code,
        json_str(v.word()),
        json_list(&problems),
        json_opt((actives.len() == 1).then(|| actives[0])),
        json_list(&actives),
        json_str(liveness_word(c.liveness)),
        c.observed.as_millis(),
        nodes.join(",")
    )
}

/// The object for a `status` that could not look at all (its configuration or its options
/// are wrong): only `code`, `verdict` and `problems` say something.
pub fn render_json_unknown(why: &str) -> String {
    format!(
        "{{\"node\":null,\"backend\":null,\"code\":{UNKNOWN},\"verdict\":{},\"problems\":[{}],\"active\":null,\"actives\":[],\"liveness\":null,\"watch_ms\":null,\"observed_ms\":0,\"maintenance\":null,\"nodes\":[]}}\n",
        json_str(word(UNKNOWN)),
        json_str(why)
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hamon::heartbeat::record::NodeState;

    use super::*;
    use crate::status::model::tests::{cluster, maint, node};

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
        assert!(j.contains(r#""liveness":"watched","watch_ms":null"#), "{j}");
        assert!(
            j.contains(
                r#""alive":false,"changed_within_ms":null,"lease":null,"modified_ago_ms":1500"#
            ),
            "{j}"
        );
        assert!(j.ends_with("}\n") && !j.trim_end().contains('\n'), "{j}");
    }

    #[test]
    fn read_once_leaves_alive_unknown() {
        let mut c = cluster(vec![
            node("n1", NodeState::Active, 9, None),
            node("n2", NodeState::Standby, 4, None),
        ]);
        c.liveness = Liveness::NotWatched {
            window: Duration::from_millis(22000),
        };
        let j = render_json(&c, "n2");
        assert!(
            j.contains(r#""code":3,"verdict":"unknown""#)
                && j.contains(r#""active":null,"actives":[]"#)
                && j.contains(r#""liveness":"not watched","watch_ms":22000"#)
                && j.contains(r#""name":"n1","self":false,"alive":null"#),
            "{j}"
        );
        let u = render_json_unknown("cannot read /etc/hamon/hb.properties");
        assert!(
            u.starts_with(r#"{"node":null,"backend":null,"code":3,"verdict":"unknown","problems":["cannot read /etc/hamon/hb.properties"]"#),
            "{u}"
        );
    }
}
