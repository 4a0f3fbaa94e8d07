//! The monitor server's `GET /metrics`: the cached health state and the network thread's
//! counts in the Prometheus text format. Pure: everything comes in as arguments. Every name
//! is documented in docs/monitor-server.md.

use std::time::Duration;

use crate::metrics::{Kind, Writer, build_info};
use crate::monitor::check::CheckView;
use crate::monitor::counters::CounterView;
use crate::monitor::health::Verdict;
use crate::monitor::render::importance_word;
use crate::monitor::state::State;

/// What the network thread has counted since the server started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetCounts {
    pub uptime: Duration,
    /// Connections open now.
    pub open: u64,
    pub accepted: u64,
    /// Closed with `BUSY` to make room for a newcomer.
    pub busy: u64,
    /// Closed at once: the address is not in `ha.allow`.
    pub denied: u64,
    /// Closed by a deadline: first-command-timeout, idle-timeout, connection-lifetime.
    pub expired: [(&'static str, u64); 3],
}

/// The states a check can be in.
const CHECK_STATES: [State; 4] = [State::Up, State::Degraded, State::Down, State::Starting];
/// The operational states.
const OP_STATES: [State; 3] = [State::Up, State::Degraded, State::Down];

/// The whole exposition.
pub fn exposition(
    v: &Verdict,
    checks: &[CheckView],
    counters: &[CounterView],
    window: Duration,
    net: &NetCounts,
) -> String {
    let mut w = Writer::new();
    build_info(&mut w);
    w.family(
        "hamon_uptime_seconds",
        Kind::Gauge,
        "Time since the monitor server started.",
    )
    .sample(&[], net.uptime);
    instance(&mut w, v);
    per_check(&mut w, checks);
    per_counter(&mut w, counters, window);
    connections(&mut w, net);
    w.finish()
}

fn instance(w: &mut Writer, v: &Verdict) {
    let mut f = w.family(
        "hamon_state",
        Kind::Gauge,
        "The instance's state as clients are told it: 1 for the current state, 0 for the others.",
    );
    for s in State::ALL {
        f.sample(&[("state", s.as_str())], s == v.state);
    }
    let mut f = w.family(
        "hamon_operational_state",
        Kind::Gauge,
        "The operational state behind a lifecycle state (UP, DEGRADED or DOWN): 1 for the current one.",
    );
    for s in OP_STATES {
        f.sample(&[("state", s.as_str())], s == v.op);
    }
    w.family(
        "hamon_available",
        Kind::Gauge,
        "1 when ping answers OK (UP or DEGRADED), else 0.",
    )
    .sample(&[], v.state.is_available());
    w.family(
        "hamon_live",
        Kind::Gauge,
        "1 when /livez answers 200, 0 when the watchdog expired or the application pushed DOWN.",
    )
    .sample(&[], v.live);
}

fn per_check(w: &mut Writer, checks: &[CheckView]) {
    let mut f = w.family(
        "hamon_check_state",
        Kind::Gauge,
        "Each check's state: 1 for the current state, 0 for the others.",
    );
    for c in checks {
        for s in CHECK_STATES {
            f.sample(&[("check", &c.name), ("state", s.as_str())], s == c.state);
        }
    }
    let mut f = w.family(
        "hamon_check_info",
        Kind::Gauge,
        "Each check's importance (critical, degrading or info); always 1.",
    );
    for c in checks {
        f.sample(
            &[
                ("check", &c.name),
                ("importance", importance_word(c.importance)),
            ],
            1u64,
        );
    }
    let mut f = w.family(
        "hamon_check_latency_seconds",
        Kind::Gauge,
        "How long each check's last run took (for a run that timed out: until it was counted as failed); absent before the first run ends.",
    );
    for c in checks {
        if let Some(ms) = c.latency_ms {
            f.sample(&[("check", &c.name)], Duration::from_millis(ms));
        }
    }
    let mut f = w.family(
        "hamon_check_age_seconds",
        Kind::Gauge,
        "Time since each check's last result; absent before the first.",
    );
    for c in checks {
        if let Some(ms) = c.age_ms {
            f.sample(&[("check", &c.name)], Duration::from_millis(ms));
        }
    }
    let mut f = w.family(
        "hamon_check_runs_total",
        Kind::Counter,
        "Runs of each check that ended (returned or timed out).",
    );
    for c in checks {
        f.sample(&[("check", &c.name)], c.runs);
    }
    let mut f = w.family(
        "hamon_check_failures_total",
        Kind::Counter,
        "Runs of each check that failed (DOWN, too slow, timed out or panicked).",
    );
    for c in checks {
        f.sample(&[("check", &c.name)], c.failures);
    }
}

fn per_counter(w: &mut Writer, counters: &[CounterView], window: Duration) {
    w.family(
        "hamon_events_window_seconds",
        Kind::Gauge,
        "The sliding window the application's counters (ha_counter_add) are counted over (ha.interval).",
    )
    .sample(&[], window);
    let mut f = w.family(
        "hamon_events_in_window",
        Kind::Gauge,
        "Each application counter's count within the sliding window.",
    );
    for c in counters {
        f.sample(&[("counter", &c.name)], c.count);
    }
    let mut f = w.family(
        "hamon_events_total",
        Kind::Counter,
        "Each application counter's count since the server started.",
    );
    for c in counters {
        f.sample(&[("counter", &c.name)], c.total);
    }
    let mut f = w.family(
        "hamon_events_window_min",
        Kind::Gauge,
        "The least count in the window that a counter rule allows (ha.counter.NAME.min).",
    );
    for c in counters {
        if let Some(min) = c.rule.as_ref().and_then(|r| r.min) {
            f.sample(&[("counter", &c.name)], min);
        }
    }
    let mut f = w.family(
        "hamon_events_window_max",
        Kind::Gauge,
        "The most count in the window that a counter rule allows (ha.counter.NAME.max).",
    );
    for c in counters {
        if let Some(max) = c.rule.as_ref().and_then(|r| r.max) {
            f.sample(&[("counter", &c.name)], max);
        }
    }
}

fn connections(w: &mut Writer, net: &NetCounts) {
    w.family(
        "hamon_connections",
        Kind::Gauge,
        "Client connections open now (TCP and the Unix socket).",
    )
    .sample(&[], net.open);
    w.family(
        "hamon_connections_accepted_total",
        Kind::Counter,
        "Client connections accepted (refused ones included).",
    )
    .sample(&[], net.accepted);
    w.family(
        "hamon_connections_busy_total",
        Kind::Counter,
        "Connections closed with BUSY to make room for a newcomer (ha.max_connections, ha.max_connections_per_source).",
    )
    .sample(&[], net.busy);
    w.family(
        "hamon_connections_denied_total",
        Kind::Counter,
        "Connections closed at once because their address is not in ha.allow.",
    )
    .sample(&[], net.denied);
    let mut f = w.family(
        "hamon_connections_expired_total",
        Kind::Counter,
        "Connections closed by a deadline that bytes do not reset.",
    );
    for (deadline, n) in net.expired {
        f.sample(&[("deadline", deadline)], n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CounterRule, Importance};
    use crate::metrics::prom::{parse, value};
    use crate::monitor::server::MAX_CHECKS;

    fn check(name: &str, state: State) -> CheckView {
        CheckView {
            name: name.into(),
            state,
            importance: Importance::Critical,
            latency_ms: Some(1500),
            age_ms: Some(250),
            fail_streak: 0,
            fall: 3,
            ok_streak: 1,
            rise: 2,
            runs: 12,
            failures: 3,
            reason: String::new(),
        }
    }

    fn verdict(state: State) -> Verdict {
        Verdict {
            state,
            op: State::Down,
            reason: "db: refused".into(),
            checks_ok: 0,
            checks_total: 1,
            failed: vec!["db".into()],
            age_ms: Some(250),
            live: true,
        }
    }

    fn net() -> NetCounts {
        NetCounts {
            uptime: Duration::from_millis(61_500),
            open: 2,
            accepted: 40,
            busy: 3,
            denied: 1,
            expired: [
                ("first-command-timeout", 4),
                ("idle-timeout", 5),
                ("connection-lifetime", 6),
            ],
        }
    }

    #[test]
    fn the_state_the_checks_and_the_connections_are_exposed() {
        let mut no_run = check("cache", State::Starting);
        no_run.latency_ms = None;
        no_run.age_ms = None;
        no_run.importance = Importance::Info;
        let counters = [CounterView {
            name: "tx".into(),
            count: 9,
            total: 120,
            rule: Some(CounterRule {
                min: Some(5),
                ..Default::default()
            }),
        }];
        let text = exposition(
            &verdict(State::Maint),
            &[check("db", State::Down), no_run],
            &counters,
            Duration::from_secs(40),
            &net(),
        );
        let s = parse(&text).unwrap();
        let v = |n: &str, l: &[(&str, &str)]| value(&s, n, l);
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(v("hamon_build_info", &[("version", version)]), Some(1.0));
        assert_eq!(v("hamon_uptime_seconds", &[]), Some(61.5));
        assert_eq!(v("hamon_state", &[("state", "MAINT")]), Some(1.0));
        assert_eq!(v("hamon_state", &[("state", "UP")]), Some(0.0));
        assert_eq!(
            v("hamon_operational_state", &[("state", "DOWN")]),
            Some(1.0)
        );
        assert_eq!(v("hamon_available", &[]), Some(0.0));
        assert_eq!(v("hamon_live", &[]), Some(1.0));
        assert_eq!(
            v("hamon_check_state", &[("check", "db"), ("state", "DOWN")]),
            Some(1.0)
        );
        assert_eq!(
            v("hamon_check_state", &[("check", "db"), ("state", "UP")]),
            Some(0.0)
        );
        assert_eq!(
            v(
                "hamon_check_state",
                &[("check", "cache"), ("state", "STARTING")]
            ),
            Some(1.0)
        );
        assert_eq!(
            v(
                "hamon_check_info",
                &[("check", "cache"), ("importance", "info")]
            ),
            Some(1.0)
        );
        assert_eq!(
            v("hamon_check_latency_seconds", &[("check", "db")]),
            Some(1.5)
        );
        assert_eq!(
            v("hamon_check_latency_seconds", &[("check", "cache")]),
            None
        );
        assert_eq!(v("hamon_check_age_seconds", &[("check", "db")]), Some(0.25));
        assert_eq!(v("hamon_check_runs_total", &[("check", "db")]), Some(12.0));
        assert_eq!(
            v("hamon_check_failures_total", &[("check", "db")]),
            Some(3.0)
        );
        assert_eq!(v("hamon_events_window_seconds", &[]), Some(40.0));
        assert_eq!(v("hamon_events_in_window", &[("counter", "tx")]), Some(9.0));
        assert_eq!(v("hamon_events_total", &[("counter", "tx")]), Some(120.0));
        assert_eq!(
            v("hamon_events_window_min", &[("counter", "tx")]),
            Some(5.0)
        );
        assert_eq!(v("hamon_events_window_max", &[("counter", "tx")]), None);
        assert_eq!(v("hamon_connections", &[]), Some(2.0));
        assert_eq!(v("hamon_connections_accepted_total", &[]), Some(40.0));
        assert_eq!(v("hamon_connections_busy_total", &[]), Some(3.0));
        assert_eq!(v("hamon_connections_denied_total", &[]), Some(1.0));
        assert_eq!(
            v(
                "hamon_connections_expired_total",
                &[("deadline", "idle-timeout")]
            ),
            Some(5.0)
        );
    }

    /// The largest reply: every check and counter a server can hold, with the longest names
    /// and every rule. docs/monitor-server.md quotes this bound.
    #[test]
    fn the_reply_is_bounded_by_the_check_and_counter_caps() {
        let long = |prefix: &str, i: usize| format!("{prefix}{i:0>62}");
        let checks: Vec<CheckView> = (0..MAX_CHECKS)
            .map(|i| {
                let mut c = check(&long("c", i), State::Down);
                c.latency_ms = Some(u64::MAX);
                c.age_ms = Some(u64::MAX);
                c.runs = u64::MAX;
                c.failures = u64::MAX;
                c
            })
            .collect();
        let rule = CounterRule {
            min: Some(u64::MAX),
            max: Some(u64::MAX),
            ..Default::default()
        };
        let counters: Vec<CounterView> = (0..crate::monitor::counters::MAX_COUNTERS)
            .map(|i| CounterView {
                name: long("n", i),
                count: u64::MAX,
                total: u64::MAX,
                rule: Some(rule.clone()),
            })
            .collect();
        let widest = NetCounts {
            // f64 seconds print at most 17 significant digits and a point.
            uptime: Duration::from_nanos(u64::MAX),
            open: u64::MAX,
            accepted: u64::MAX,
            busy: u64::MAX,
            denied: u64::MAX,
            expired: net().expired.map(|(what, _)| (what, u64::MAX)),
        };
        let text = exposition(
            &verdict(State::Down),
            &checks,
            &counters,
            Duration::from_nanos(u64::MAX),
            &widest,
        );
        assert!(parse(&text).is_ok());
        assert!(text.len() <= MAX_REPLY, "{} bytes", text.len());
    }

    /// docs/monitor-server.md: the most a `/metrics` reply can be (every value above is at
    /// its widest, so this is the bound, not an estimate).
    const MAX_REPLY: usize = 186 * 1024;
}
