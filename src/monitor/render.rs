//! Turns verdicts into the text clients read: `check` lines, `status` blocks, HAProxy agent
//! words and `/health` JSON. Pure string building.

use std::fmt::Write;
use std::time::Duration;

use crate::config::Importance;
use crate::monitor::check::CheckView;
use crate::monitor::counters::CounterView;
use crate::monitor::health::Verdict;
use crate::monitor::state::State;

/// The protocol version announced by `version` and `v=` in every state line.
pub const PROTO: u32 = 1;

/// What every reply needs besides the verdict.
#[derive(Clone, Debug)]
pub struct Identity {
    pub app_name: String,
    pub agent_degraded_weight: u8,
}

/// Quotes a value when it would not survive as one `key=value` token.
pub fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && c != '=');
    if plain {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn importance_word(i: Importance) -> &'static str {
    match i {
        Importance::Critical => "critical",
        Importance::Degrading => "degrading",
        Importance::Info => "info",
    }
}

/// `UP v=1 app=billing checks=3/3 age_ms=412`
pub fn check_line(v: &Verdict, id: &Identity) -> String {
    let mut s = format!("{} v={PROTO}", v.state);
    if !id.app_name.is_empty() {
        let _ = write!(s, " app={}", quote(&id.app_name));
    }
    let _ = write!(s, " checks={}/{}", v.checks_ok, v.checks_total);
    if let Some(age) = v.age_ms {
        let _ = write!(s, " age_ms={age}");
    }
    if v.op != v.state {
        let _ = write!(s, " op={}", v.op);
    }
    if !v.failed.is_empty() {
        let _ = write!(s, " failed={}", v.failed.join(","));
    }
    if !v.reason.is_empty() {
        let _ = write!(s, " reason={}", quote(&v.reason));
    }
    s
}

fn check_fields(c: &CheckView, s: &mut String) {
    let _ = write!(s, " importance={}", importance_word(c.importance));
    if let Some(l) = c.latency_ms {
        let _ = write!(s, " latency_ms={l}");
    }
    if let Some(a) = c.age_ms {
        let _ = write!(s, " age_ms={a}");
    }
    let _ = write!(
        s,
        " rise={}/{} fall={}/{}",
        c.ok_streak, c.rise, c.fail_streak, c.fall
    );
    let _ = write!(s, " runs={} failures={}", c.runs, c.failures);
    if !c.reason.is_empty() {
        let _ = write!(s, " reason={}", quote(&c.reason));
    }
}

/// The reply to `check NAME`: the check's own state first.
pub fn named_check_line(c: &CheckView) -> String {
    let mut s = format!("{} v={PROTO} check={}", c.state, c.name);
    check_fields(c, &mut s);
    s
}

/// The lines of `status` after the check line, without the final `.`.
pub fn status_lines(
    checks: &[CheckView],
    counters: &[CounterView],
    window: Duration,
) -> Vec<String> {
    let mut lines: Vec<String> = checks
        .iter()
        .map(|c| {
            let mut s = format!("CHECK {} {}", c.name, c.state);
            check_fields(c, &mut s);
            s
        })
        .collect();
    for c in counters {
        let mut s = format!(
            "COUNTER {} count={} total={} window_ms={}",
            c.name,
            c.count,
            c.total,
            window.as_millis()
        );
        if let Some(rule) = &c.rule {
            if let Some(min) = rule.min {
                let _ = write!(s, " min={min}");
            }
            if let Some(max) = rule.max {
                let _ = write!(s, " max={max}");
            }
            if let Some((gate, n)) = &rule.gate {
                let _ = write!(s, " gate={gate}>={n}");
            }
        }
        lines.push(s);
    }
    lines
}

/// A HAProxy agent-check reply (`agent-send "agent\n"`).
pub fn agent_line(v: &Verdict, id: &Identity) -> String {
    let short = |r: &str| r.chars().filter(|c| *c != '#').take(60).collect::<String>();
    match v.state {
        State::Up => "up ready 100%".to_string(),
        State::Degraded => format!("up ready {}%", id.agent_degraded_weight),
        State::Draining => "up drain".to_string(),
        State::Maint => "maint".to_string(),
        State::Starting => "down #starting".to_string(),
        State::Stopping => "stopped #shutdown".to_string(),
        State::Down => format!("down #{}", short(&v.reason)),
    }
}

/// `s` as a JSON string literal (quoted, escaped).
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `application/health+json` status word: pass and warn are served with 200.
pub fn health_status(state: State) -> &'static str {
    match state {
        State::Up => "pass",
        State::Degraded | State::Draining => "warn",
        _ => "fail",
    }
}

/// The `/health` document, in the shape of the IETF health-check draft.
pub fn health_json(
    v: &Verdict,
    id: &Identity,
    checks: &[CheckView],
    counters: &[CounterView],
    window: Duration,
) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "{{\"status\":\"{}\",\"state\":\"{}\",\"op\":\"{}\",\"version\":{},\"serviceId\":{}",
        health_status(v.state),
        v.state,
        v.op,
        json_str(env!("CARGO_PKG_VERSION")),
        json_str(&id.app_name),
    );
    if !v.reason.is_empty() {
        let _ = write!(s, ",\"output\":{}", json_str(&v.reason));
    }
    s.push_str(",\"checks\":{");
    for (i, c) in checks.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            "{}:[{{\"status\":\"{}\",\"state\":\"{}\",\"importance\":\"{}\",\"observedValue\":{},\"observedUnit\":\"ms\",\"ageMs\":{},\"runs\":{},\"failures\":{},\"output\":{}}}]",
            json_str(&c.name),
            health_status(c.state),
            c.state,
            importance_word(c.importance),
            c.latency_ms.map_or("null".to_string(), |l| l.to_string()),
            c.age_ms.map_or("null".to_string(), |a| a.to_string()),
            c.runs,
            c.failures,
            json_str(&c.reason),
        );
    }
    s.push_str("},\"counters\":{");
    for (i, c) in counters.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let opt = |o: Option<u64>| o.map_or("null".to_string(), |n| n.to_string());
        let rule = c.rule.as_ref();
        let _ = write!(
            s,
            "{}:{{\"count\":{},\"total\":{},\"windowMs\":{},\"min\":{},\"max\":{}}}",
            json_str(&c.name),
            c.count,
            c.total,
            window.as_millis(),
            opt(rule.and_then(|r| r.min)),
            opt(rule.and_then(|r| r.max)),
        );
    }
    s.push_str("}}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(state: State, reason: &str) -> Verdict {
        Verdict {
            state,
            op: if state.is_available() {
                state
            } else {
                State::Down
            },
            reason: reason.into(),
            checks_ok: 1,
            checks_total: 2,
            failed: vec!["db".into()],
            age_ms: Some(12),
            live: true,
        }
    }

    fn id() -> Identity {
        Identity {
            app_name: "billing".into(),
            agent_degraded_weight: 40,
        }
    }

    #[test]
    fn check_line_is_state_then_tokens() {
        let line = check_line(&verdict(State::Down, "db: refused \"x\""), &id());
        assert_eq!(
            line,
            r#"DOWN v=1 app=billing checks=1/2 age_ms=12 failed=db reason="db: refused \"x\"""#
        );
        let line = check_line(&verdict(State::Maint, "patching"), &id());
        assert!(
            line.starts_with("MAINT v=1 ") && line.contains(" op=DOWN "),
            "{line}"
        );
    }

    #[test]
    fn agent_words_follow_haproxy() {
        let words: Vec<String> = State::ALL
            .iter()
            .map(|s| agent_line(&verdict(*s, "db # gone"), &id()))
            .collect();
        assert_eq!(
            words,
            [
                "up ready 100%",
                "up ready 40%",
                "down #db  gone",
                "down #starting",
                "up drain",
                "maint",
                "stopped #shutdown"
            ]
        );
    }

    #[test]
    fn quoting_keeps_tokens_whole() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("a b=c\\"), "\"a b=c\\\\\"");
        assert_eq!(quote("x\ny"), "\"x y\"");
    }
}
