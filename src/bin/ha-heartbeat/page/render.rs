//! The status page's HTML: one self-contained document (inline CSS, no script, no external
//! load) that reloads itself every few seconds. Everything shown that came from a
//! configuration, an operator or a peer is escaped ([`html`]).

use std::fmt::Write as _;
use std::time::Duration;

use hamon::heartbeat::record::MaintMode;

use super::Own;
use super::escape::html;
use crate::journal::Event;
use crate::status::model::{ClusterStatus, state_name};
use crate::status::text::liveness_words;
use crate::status::verdict::verdict;

/// How often the page reloads itself, in seconds.
pub const REFRESH_S: u32 = 2;

const STYLE: &str = "body{font:15px/1.4 system-ui,sans-serif;margin:0.6em;color:#111}\
h1{font-size:1.25em;margin:0.2em 0}h2{font-size:1.1em;margin:0.8em 0 0.3em}\
table{border-collapse:collapse;width:100%;margin:0.4em 0}\
th,td{border-bottom:1px solid #ccc;padding:0.25em 0.4em;text-align:left;vertical-align:top}\
th{background:#eee}.ok{background:#d8f5d8}.degraded{background:#fff1c2}\
.critical,.unknown{background:#ffd6d6}.verdict{padding:0.5em;margin:0.4em 0;font-size:1.1em}\
.dead{color:#a00}small,.when{color:#555}ul.events{list-style:none;padding:0;margin:0}\
ul.events li{border-bottom:1px solid #ddd;padding:0.3em 0;word-break:break-word}\
.kind{font-weight:bold}.note{font-size:0.9em;color:#444}";

/// The page for `c` as seen by `self_node`, with the cluster's last `events` (newest first),
/// `notes` on the events (whose are not shown and why) and the backend described by
/// `backend`; `stale`: the read is this old, the storage does not answer.
pub fn page(
    c: Option<&ClusterStatus>,
    self_node: &str,
    backend: &str,
    events: &[Event],
    notes: &[String],
    stale: Option<Duration>,
    own: &Own,
) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_S}\">\
         <title>hamon: {}</title><style>{STYLE}</style></head><body>\n\
         <h1>hamon heartbeat, seen from <span id=\"self\">{}</span></h1>\n\
         <p><small>backend: <span id=\"backend\">{}</span>; this page reloads every {REFRESH_S} s; \
         the same data as JSON: <a href=\"/status.json\">/status.json</a></small></p>\n",
        html(self_node),
        html(self_node),
        html(backend)
    );
    if let Some(age) = stale {
        let _ = writeln!(
            out,
            "<p class=\"verdict critical\" id=\"stale\">the records were last read {} s ago: \
             the storage does not answer this node; what follows is that old</p>",
            age.as_secs()
        );
    }
    let ms = |d: Option<Duration>| d.map_or("none".into(), |d| format!("{} ms", d.as_millis()));
    let _ = writeln!(
        out,
        "<p id=\"daemon\">this daemon: <b>{}</b>; lease left: {}; last write took: {}</p>",
        html(own.role),
        ms(own.lease_left),
        ms(own.write_latency)
    );
    match c {
        Some(c) => cluster(&mut out, c, self_node, events),
        None => out.push_str(
            "<p class=\"verdict unknown\" id=\"verdict\">reading the records: the next reload \
             shows them</p>\n",
        ),
    }
    out.push_str("<h2>Last events of the cluster</h2>\n");
    if !notes.is_empty() {
        out.push_str("<ul class=\"note\" id=\"events-notes\">");
        for n in notes {
            let _ = write!(out, "<li>{}</li>", html(n));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<ul class=\"events\" id=\"events\">\n");
    for e in events {
        let peer = if e.peer.is_empty() {
            String::new()
        } else {
            format!(" (peer {})", html(&e.peer))
        };
        let _ = writeln!(
            out,
            "<li class=\"event\" data-kind=\"{}\" data-node=\"{}\"><span class=\"when\">{}</span> \
             <b>{}</b> <span class=\"kind\">{}</span> epoch {}{peer}: {}</li>",
            html(&e.kind),
            html(&e.node),
            html(&e.time()),
            html(&e.node),
            html(&e.kind),
            e.epoch,
            html(&e.text)
        );
    }
    if events.is_empty() {
        out.push_str("<li>none yet</li>\n");
    }
    out.push_str("</ul>\n</body></html>\n");
    out
}

/// " since TIME" when the events show when `node` became active.
fn since(node: &str, events: &[Event]) -> String {
    events
        .iter()
        .find(|e| e.node == node && e.kind == "role" && e.text.contains("-> active"))
        .map_or(String::new(), |e| format!(" since {} UTC", html(&e.time())))
}

fn cluster(out: &mut String, c: &ClusterStatus, self_node: &str, events: &[Event]) {
    let v = verdict(c);
    let actives = c.live_actives();
    let active = match actives.as_slice() {
        [one] => format!(
            "active: <b id=\"active\">{}</b>{}",
            html(one),
            since(one, events)
        ),
        [] => "<b id=\"active\">no node is active</b>".to_string(),
        many => format!(
            "<b id=\"active\">several nodes say they are active: {}</b>",
            html(&many.join(", "))
        ),
    };
    let _ = writeln!(
        out,
        "<div class=\"verdict {}\" id=\"verdict\">{active} &mdash; {}</div>",
        v.word(),
        html(v.word())
    );
    if !v.problems.is_empty() {
        out.push_str("<ul id=\"problems\">");
        for p in &v.problems {
            let _ = write!(out, "<li>{}</li>", html(p));
        }
        out.push_str("</ul>\n");
    }
    let drained: &[String] = c.maint.as_ref().map_or(&[], |m| &m.drained);
    out.push_str(
        "<table id=\"nodes\"><tr><th>node</th><th>role</th><th>epoch</th><th>last change</th></tr>\n",
    );
    for n in &c.nodes {
        let me = if n.name == self_node {
            " (this node)"
        } else {
            ""
        };
        let drained_note = if drained.contains(&n.name) {
            ", drained"
        } else {
            ""
        };
        match &n.record {
            Ok(r) => {
                let (column, note) = liveness_words(c, n, r.seq);
                // A record keeps its last role after its daemon stops: say so beside it.
                let dead = c.alive(n) == Some(false);
                let _ = writeln!(
                    out,
                    "<tr class=\"node\" data-node=\"{}\" data-role=\"{}\" data-alive=\"{}\">\
                     <td><b>{}</b>{me}{drained_note}</td><td class=\"role{}\">{}</td><td>{}</td>\
                     <td>{}<div class=\"note\">{}</div></td></tr>",
                    html(&n.name),
                    state_name(r.state),
                    c.alive(n)
                        .map_or("unknown", |a| if a { "yes" } else { "no" }),
                    html(&n.name),
                    if dead { " dead" } else { "" },
                    state_name(r.state),
                    r.epoch,
                    html(&column),
                    html(&note)
                );
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "<tr class=\"node\" data-node=\"{}\" data-role=\"\" data-alive=\"unknown\">\
                     <td><b>{}</b>{me}{drained_note}</td><td class=\"role\">?</td><td></td>\
                     <td><div class=\"note\">{}</div></td></tr>",
                    html(&n.name),
                    html(&n.name),
                    html(e)
                );
            }
        }
    }
    out.push_str("</table>\n");
    match &c.maint {
        Ok(m) => {
            let mode = match &m.mode {
                MaintMode::Off => "OFF".to_string(),
                MaintMode::Freeze => "FREEZE (nobody takes over or hands over)".to_string(),
                MaintMode::Switchover(t) => format!("SWITCHOVER to {t}"),
            };
            let _ = writeln!(
                out,
                "<p id=\"maintenance\">maintenance: <b>{}</b>; drained: {}; last set by {}: \
                 <span id=\"reason\">{}</span></p>",
                html(&mode),
                html(&if drained.is_empty() {
                    "none".to_string()
                } else {
                    drained.join(", ")
                }),
                html(&m.set_by),
                html(&m.reason)
            );
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "<p id=\"maintenance\">maintenance record: {}</p>",
                html(e)
            );
        }
    }
    if let Some(b) = &c.backing_off {
        let _ = writeln!(out, "<p id=\"damping\">{}</p>", html(&b.describe()));
    }
}

#[cfg(test)]
mod tests {
    use hamon::heartbeat::record::NodeState;

    use super::*;
    use crate::status::model::tests::{cluster, maint, node};

    #[test]
    fn hostile_strings_stay_text() {
        let mut c = cluster(vec![
            node("n1", NodeState::Active, 9, Some(80)),
            node("n2", NodeState::Standby, 4, Some(90)),
        ]);
        let mut m = maint(MaintMode::Freeze, &["n2"]).unwrap();
        m.reason = "<img src=x onerror=alert(1)>".into();
        c.maint = Ok(m);
        let ev = Event::new("n1", "operator", 3, None, "<script>alert(2)</script>");
        let p = page(
            Some(&c),
            "n2",
            "in /srv/<b>hb",
            &[ev],
            &["events of n3 not shown: <b>bad</b>".to_string()],
            None,
            &Own::default(),
        );
        assert!(
            !p.contains("<img") && !p.contains("<script") && !p.contains("<b>hb"),
            "{p}"
        );
        assert!(p.contains("&lt;img src=x onerror=alert(1)&gt;"), "{p}");
        assert!(p.contains("&lt;script&gt;alert(2)&lt;/script&gt;"), "{p}");
        assert!(p.contains("events of n3 not shown: &lt;b&gt;bad"), "{p}");
        assert!(p.contains("active: <b id=\"active\">n1</b>"), "{p}");
        assert!(p.contains("data-node=\"n2\" data-role=\"STANDBY\""), "{p}");
        assert!(p.contains("<b>n2</b> (this node), drained"), "{p}");
        assert!(p.contains("FREEZE") && p.contains("drained: n2"), "{p}");
        // Nothing is loaded from elsewhere.
        assert!(!p.contains("http://") && !p.contains("https://"), "{p}");
        let mut up = Event::new("n1", "role", 3, None, "claiming -> active (epoch 3)");
        up.time_ms = 1_796_688_113_999;
        let p = page(
            Some(&c),
            "n1",
            "in /srv/hb",
            &[up],
            &[],
            None,
            &Own::default(),
        );
        assert!(
            p.contains("<b id=\"active\">n1</b> since 2026-12-08T00:01:53.999Z UTC"),
            "{p}"
        );
    }

    #[test]
    fn before_the_first_read_and_when_the_storage_hangs_the_page_says_so() {
        let p = page(None, "n1", "in /srv/hb", &[], &[], None, &Own::default());
        assert!(
            p.contains("reading the records") && p.contains("none yet"),
            "{p}"
        );
        assert!(!p.contains("id=\"stale\""), "{p}");
        let c = cluster(vec![node("n1", NodeState::Active, 9, Some(80))]);
        let p = page(
            Some(&c),
            "n1",
            "in /srv/hb",
            &[],
            &[],
            Some(Duration::from_secs(95)),
            &Own {
                role: "active",
                lease_left: Some(Duration::from_millis(1234)),
                write_latency: Some(Duration::from_millis(7)),
            },
        );
        assert!(
            p.contains("this daemon: <b>active</b>; lease left: 1234 ms; last write took: 7 ms"),
            "{p}"
        );
        assert!(
            p.contains("last read 95 s ago: the storage does not answer"),
            "{p}"
        );
    }
}
