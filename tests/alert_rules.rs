//! contrib/prometheus/hamon-heartbeat.rules.yml, the alert rules shipped for the daemon's
//! metrics: `promtool check rules` accepts them and their unit tests
//! (hamon-heartbeat.rules.test.yml) pass under `promtool test rules`; every alert has a unit
//! test where it fires and one where it must not, a severity, a summary, a description and a
//! runbook line pointing at docs/heartbeat.md's "Alerting", which describes it; and every
//! metric, role and incident kind the rules read is one a real daemon serves.
//!
//! promtool comes from Debian's prometheus package: scripts/test extracts it into
//! `$CARGO_TARGET_DIR/test-tools/bin`. Without it these tests fail, saying how to get it.
//!
//! Linux only (the daemon); needs /bin/sh and /proc/uptime.

#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

mod common;

use common::cluster::*;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/prometheus");
const RULES: &str = "hamon-heartbeat.rules.yml";
const TESTS: &str = "hamon-heartbeat.rules.test.yml";

fn read(name: &str) -> String {
    let path = Path::new(DIR).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// promtool on PATH, else where scripts/test puts it: `TARGET/test-tools/bin/promtool`, TARGET
/// being this build's target directory (`CARGO_TARGET_DIR`) or the project's `target/`.
fn promtool() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("promtool"));
    // TARGET/debug/deps/alert_rules-HASH: TARGET is two directories above deps/.
    let exe = std::env::current_exe().expect("current_exe");
    let target = exe.ancestors().nth(3).map(Path::to_path_buf);
    let extracted = target
        .into_iter()
        .chain([Path::new(env!("CARGO_MANIFEST_DIR")).join("target")])
        .map(|t| t.join("test-tools/bin/promtool"));
    let mut looked = Vec::new();
    for candidate in on_path.chain(extracted) {
        if candidate.is_file() {
            return candidate;
        }
        looked.push(candidate);
    }
    panic!(
        "promtool not found (on PATH, or at {}): run scripts/test, which extracts it from \
         Debian's prometheus package, or install that package (apt-get install prometheus)",
        looked
            .iter()
            .rev()
            .take(2)
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" or ")
    )
}

/// Runs promtool with `args` in the rules' directory: its output, after asserting success.
fn run_promtool(args: &[&str]) -> String {
    let out = Command::new(promtool())
        .args(args)
        .current_dir(DIR)
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {}: {text}", args.join(" "));
    text
}

/// The alerts of the rules file, each with the text of its rule.
fn alerts(rules: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in rules.lines() {
        if let Some(name) = line.trim().strip_prefix("- alert: ") {
            out.push((name.trim().to_string(), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    assert!(!out.is_empty(), "no alert in {RULES}");
    out
}

#[test]
fn promtool_accepts_the_rules() {
    let rules = read(RULES);
    let text = run_promtool(&["check", "rules", RULES]);
    let n = alerts(&rules).len();
    assert!(
        text.contains(&format!("SUCCESS: {n} rules found")),
        "promtool check rules found another number of rules than the {n} alerts: {text}"
    );
}

#[test]
fn the_unit_tests_of_the_rules_pass() {
    let text = run_promtool(&["test", "rules", TESTS]);
    assert!(text.contains("SUCCESS"), "{text}");
}

#[test]
fn every_alert_is_tested_firing_and_not_firing() {
    let tests = read(TESTS);
    let lines: Vec<&str> = tests.lines().map(str::trim).collect();
    let mut problems = Vec::new();
    for (alert, _) in alerts(&read(RULES)) {
        let (mut fires, mut quiet) = (0, 0);
        for (i, line) in lines.iter().enumerate() {
            let named = line.contains(&format!("alertname: {alert},"))
                || line.ends_with(&format!("alertname: {alert}"))
                || line.contains(&format!("alertname: {alert}}}"));
            if !named {
                continue;
            }
            if line.contains("exp_alerts: []") {
                quiet += 1;
            } else if line.contains("exp_labels")
                || (lines.get(i + 1) == Some(&"exp_alerts:")
                    && lines
                        .get(i + 2)
                        .is_some_and(|l| l.starts_with("- exp_labels")))
            {
                fires += 1;
            }
        }
        if fires == 0 {
            problems.push(format!("{alert}: no unit test where it fires"));
        }
        if quiet == 0 {
            problems.push(format!("{alert}: no unit test where it must not fire"));
        }
    }
    assert!(problems.is_empty(), "{TESTS}:\n{}", problems.join("\n"));
}

#[test]
fn every_alert_has_a_severity_its_annotations_and_a_documented_runbook() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/heartbeat.md"))
        .expect("docs/heartbeat.md");
    let section = doc
        .split_once("\n### Alerting\n")
        .map(|(_, rest)| rest.split("\n### ").next().unwrap_or(rest))
        .expect("docs/heartbeat.md has a section \"### Alerting\"");
    let mut problems = Vec::new();
    for (alert, body) in alerts(&read(RULES)) {
        if !(body.contains("severity: critical") || body.contains("severity: warning")) {
            problems.push(format!("{alert}: no severity critical or warning"));
        }
        for key in ["summary:", "description:"] {
            if !body.contains(key) {
                problems.push(format!("{alert}: no {key}"));
            }
        }
        let runbook = format!("runbook: 'share/doc/hamon/heartbeat.md, \"Alerting\": {alert}'");
        if !body.contains(&runbook) {
            problems.push(format!("{alert}: no `{runbook}`"));
        }
        if !section.contains(&format!("`{alert}`")) {
            problems.push(format!(
                "{alert}: not described in docs/heartbeat.md, Alerting"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The metric names (`hamon_*`) and the `role`/`kind` values a text names.
fn references(text: &str) -> (Vec<String>, Vec<String>) {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("hamon_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    let mut labels = Vec::new();
    for label in ["role", "kind"] {
        let mut rest = text;
        let open = format!("{label}=\"");
        while let Some(at) = rest.find(&open) {
            let tail = &rest[at + open.len()..];
            let end = tail.find('"').expect("a closed label value");
            labels.push(format!("{label}=\"{}\"", &tail[..end]));
            rest = &tail[end..];
        }
    }
    names.sort();
    names.dedup();
    labels.sort();
    labels.dedup();
    (names, labels)
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().unwrap().port()
}

/// The body of `GET /metrics` on 127.0.0.1:`port`, when it answers.
fn scrape(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    resp.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

#[test]
fn the_rules_read_only_metrics_and_kinds_a_real_daemon_serves() {
    let (names, labels) = references(&read(RULES));
    assert!(
        names.iter().any(|n| n == "hamon_heartbeat_role")
            && labels.iter().any(|l| l.starts_with("kind=")),
        "the reference scan found nothing: {names:?} {labels:?}"
    );

    let mut c = Cluster::new("alert-rules", &["n1", "n2"], "");
    let port = free_port();
    c.add_conf("n1", &format!("hb.metrics_listen=127.0.0.1:{port}\n"));
    c.start("n1");
    c.wait_running_on(|i| i.node == "n1", failover_bound() * 2);
    // Active, with a lease and a renewal behind it: every family is there.
    let mut text = String::new();
    let complete = wait_until(failover_bound() * 2, || {
        text = scrape(port).unwrap_or_default();
        text.contains("hamon_heartbeat_role{role=\"active\"} 1")
            && text.contains("\nhamon_heartbeat_write_latency_seconds ")
            && text.contains("\nhamon_heartbeat_lease_remaining_seconds ")
    });
    assert!(complete, "n1 never served an active lease:\n{text}");

    let mut problems = Vec::new();
    for name in &names {
        if !text.contains(&format!("# TYPE {name} ")) {
            problems.push(format!("{name} is not served"));
        }
    }
    for label in &labels {
        if !text.contains(label.as_str()) {
            problems.push(format!("no series has {label}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{RULES} reads what the daemon does not serve:\n{}\n\nthe daemon serves:\n{text}",
        problems.join("\n")
    );
    c.assert_no_overlap();
}
