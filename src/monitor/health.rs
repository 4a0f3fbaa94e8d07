//! The health model: checks, pushed state, lifecycle, watchdog and counters combine into the
//! one state a client is told. Pure: every judgement takes `now`.

use std::time::{Duration, Instant};

use crate::config::{Config, Importance};
use crate::monitor::check::{CheckState, CheckView, Outcome, clean_reason};
use crate::monitor::counters::{CounterView, Counters};
use crate::monitor::state::State;

/// The lifecycle state an application or operator sets on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admin {
    None,
    Draining,
    Maint,
    Stopping,
}

impl Admin {
    pub fn state(self) -> Option<State> {
        match self {
            Admin::None => None,
            Admin::Draining => Some(State::Draining),
            Admin::Maint => Some(State::Maint),
            Admin::Stopping => Some(State::Stopping),
        }
    }
}

/// What the health model says at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The state on the wire: the lifecycle state when one applies, else `op`.
    pub state: State,
    /// The operational state: UP, DEGRADED or DOWN.
    pub op: State,
    /// Why the state is not UP (empty when it is).
    pub reason: String,
    pub checks_ok: usize,
    pub checks_total: usize,
    /// Names of checks that are DOWN.
    pub failed: Vec<String>,
    /// Age of the oldest check result.
    pub age_ms: Option<u64>,
    /// False only for process-level failures a restart could cure: an expired watchdog or a
    /// DOWN pushed by the application (`/livez`).
    pub live: bool,
}

#[derive(Debug)]
pub struct Health {
    pub app_name: String,
    stale_after: Option<Duration>,
    watchdog: Option<Duration>,
    startup_grace: Option<Duration>,
    started: Instant,
    ready_at: Option<Instant>,
    checks: Vec<CheckState>,
    pushed: (Outcome, String),
    admin: (Admin, String),
    last_heartbeat: Option<Instant>,
    counters: Counters,
}

impl Health {
    pub fn new(cfg: &Config, now: Instant) -> Health {
        Health {
            app_name: cfg.app_name.clone(),
            stale_after: cfg.stale_after,
            watchdog: cfg.watchdog,
            startup_grace: cfg.startup_grace,
            started: now,
            ready_at: None,
            checks: Vec::new(),
            pushed: (Outcome::Up, String::new()),
            admin: (Admin::None, String::new()),
            last_heartbeat: None,
            counters: Counters::new(cfg.interval, cfg.counters.clone(), now),
        }
    }

    pub fn checks(&self) -> &[CheckState] {
        &self.checks
    }

    pub fn checks_mut(&mut self) -> &mut [CheckState] {
        &mut self.checks
    }

    pub fn has_check(&self, name: &str) -> bool {
        self.checks.iter().any(|c| c.name == name)
    }

    pub fn add_check(&mut self, check: CheckState) {
        self.checks.push(check);
    }

    pub fn set_ready(&mut self, now: Instant) {
        self.ready_at.get_or_insert(now);
    }

    pub fn set_pushed(&mut self, outcome: Outcome, reason: &str) {
        self.pushed = (outcome, clean_reason(reason));
    }

    pub fn set_admin(&mut self, admin: Admin, reason: &str) {
        self.admin = (admin, clean_reason(reason));
    }

    pub fn heartbeat(&mut self, now: Instant) {
        self.last_heartbeat = Some(now);
    }

    pub fn counters_mut(&mut self) -> &mut Counters {
        &mut self.counters
    }

    pub fn counter_views(&self, now: Instant) -> Vec<CounterView> {
        self.counters.views(now)
    }

    pub fn counter_window(&self) -> Duration {
        self.counters.window()
    }

    pub fn check_views(&self, now: Instant) -> Vec<CheckView> {
        self.checks
            .iter()
            .map(|c| c.view(now, self.stale_after))
            .collect()
    }

    pub fn check_view(&self, name: &str, now: Instant) -> Option<CheckView> {
        let check = self.checks.iter().find(|c| c.name == name)?;
        Some(check.view(now, self.stale_after))
    }

    fn watchdog_deadline(&self) -> Option<Instant> {
        let limit = self.watchdog?;
        let ready = self.ready_at?;
        let last = self.last_heartbeat.map_or(ready, |h| h.max(ready));
        Some(last + limit)
    }

    /// The next instant at which the verdict can change with no new input, so the scheduler
    /// sleeps until then instead of polling.
    pub fn next_change(&self, now: Instant) -> Option<Instant> {
        let grace = match (self.ready_at, self.startup_grace) {
            (None, Some(g)) => Some(self.started + g),
            _ => None,
        };
        let stale = self.checks.iter().filter_map(|c| {
            let end = c.last_end?;
            Some(end + c.stale_after(self.stale_after) + Duration::from_millis(1))
        });
        [
            self.watchdog_deadline(),
            grace,
            self.counters.next_change(now),
        ]
        .into_iter()
        .flatten()
        .chain(stale)
        .filter(|t| *t > now)
        .min()
    }

    /// The verdict at `now`: each source gives its finding, and `fold` combines them.
    pub fn verdict(&self, now: Instant) -> Verdict {
        let tally = self.tally_checks(now);
        let findings = [
            self.watchdog_finding(now),
            tally.finding,
            self.pushed_finding(),
            self.counter_finding(now),
        ];
        let operational = findings
            .iter()
            .fold(State::Up, |worst, f| worse(worst, f.operational));
        let lifecycle = self.lifecycle_finding(now, operational, &tally.pending);
        let folded = fold(findings.into_iter().chain([lifecycle]));
        Verdict {
            state: folded.state,
            op: folded.operational,
            reason: folded.reason,
            checks_ok: tally.ok,
            checks_total: self.checks.len(),
            failed: tally.failed,
            age_ms: tally.oldest_ms,
            live: folded.live,
        }
    }

    /// The checks' finding, plus the counts the verdict reports.
    fn tally_checks(&self, now: Instant) -> CheckTally<'_> {
        let mut tally = CheckTally {
            finding: Finding::none(Source::Service),
            pending: Vec::new(),
            ok: 0,
            failed: Vec::new(),
            oldest_ms: None,
        };
        for check in &self.checks {
            let (state, why) = check.judge(now, self.stale_after);
            if let Some(end) = check.last_end {
                let age = now.saturating_duration_since(end).as_millis() as u64;
                tally.oldest_ms = Some(tally.oldest_ms.map_or(age, |o| o.max(age)));
            }
            match state {
                State::Up | State::Degraded => tally.ok += 1,
                State::Down => tally.failed.push(check.name.clone()),
                _ => {}
            }
            let effect = match (check.opts.importance, state) {
                (Importance::Info, _) | (_, State::Up) => continue,
                (Importance::Critical, State::Starting) => {
                    tally.pending.push(&check.name);
                    continue;
                }
                (Importance::Degrading, State::Starting) => continue,
                (Importance::Critical, s) => s,
                (Importance::Degrading, _) => State::Degraded,
            };
            tally.finding.operational = worse(tally.finding.operational, effect);
            tally
                .finding
                .reasons
                .push(format!("{}: {}", check.name, why));
        }
        tally
    }

    /// What the application pushed: DOWN is a process-level failure, DEGRADED is not.
    fn pushed_finding(&self) -> Finding {
        let (operational, source) = match self.pushed.0 {
            Outcome::Up => return Finding::none(Source::Service),
            Outcome::Degraded => (State::Degraded, Source::Service),
            Outcome::Down => (State::Down, Source::Process),
        };
        Finding::new(source, operational, format!("app: {}", self.pushed.1))
    }

    /// DOWN once the application has been silent past `ha.watchdog_ms`.
    fn watchdog_finding(&self, now: Instant) -> Finding {
        match self.watchdog_deadline() {
            Some(deadline) if now > deadline => {
                let last = self
                    .last_heartbeat
                    .or(self.ready_at)
                    .unwrap_or(self.started);
                let silent = now.saturating_duration_since(last).as_millis();
                let why = format!("watchdog: no heartbeat for {silent} ms");
                Finding::new(Source::Process, State::Down, why)
            }
            _ => Finding::none(Source::Process),
        }
    }

    /// DOWN while a counter breaks its rule; counting starts when the application is ready.
    fn counter_finding(&self, now: Instant) -> Finding {
        let judged_from = self.ready_at.unwrap_or(self.started).max(self.started);
        match self.counters.breach(now, judged_from) {
            Some(breach) => Finding::new(Source::Service, State::Down, format!("counter {breach}")),
            None => Finding::none(Source::Service),
        }
    }

    /// The lifecycle: a state set on purpose, or STARTING until the application is ready and
    /// its critical checks have a first result (DOWN once the startup grace is over).
    /// `operational` is the other sources' combined state: a DOWN application is not "waiting".
    fn lifecycle_finding(&self, now: Instant, operational: State, pending: &[&str]) -> Finding {
        let mut finding = Finding::none(Source::Lifecycle);
        if let Some(admin) = self.admin.0.state() {
            finding.lifecycle = Some(admin);
            if !self.admin.1.is_empty() {
                finding.reasons.push(self.admin.1.clone());
            }
        } else if self.ready_at.is_none() {
            let since = now.saturating_duration_since(self.started);
            match self.startup_grace {
                Some(grace) if since > grace => {
                    finding.operational = State::Down;
                    finding
                        .reasons
                        .push(format!("not ready after {} ms", since.as_millis()));
                }
                _ => {
                    finding.lifecycle = Some(State::Starting);
                    finding.reasons.push("application not ready".to_string());
                }
            }
        } else if !pending.is_empty() && operational != State::Down {
            finding.lifecycle = Some(State::Starting);
            let why = format!("waiting for first result of {}", pending.join(","));
            finding.reasons.push(why);
        }
        finding
    }
}

/// Where a finding comes from, in the order its reasons are told: the lifecycle first, then
/// process-level failures (a restart could cure them), then the service's own state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Lifecycle,
    Process,
    Service,
}

/// What one source says at one instant.
#[derive(Debug, PartialEq, Eq)]
struct Finding {
    source: Source,
    /// The worst operational state this source allows (UP: no objection).
    operational: State,
    /// A lifecycle state this source imposes over the operational one.
    lifecycle: Option<State>,
    /// Why, in the source's own order.
    reasons: Vec<String>,
}

impl Finding {
    fn none(source: Source) -> Finding {
        Finding {
            source,
            operational: State::Up,
            lifecycle: None,
            reasons: Vec::new(),
        }
    }

    fn new(source: Source, operational: State, reason: String) -> Finding {
        Finding {
            operational,
            reasons: vec![reason],
            ..Finding::none(source)
        }
    }
}

/// The checks' finding and the counts beside it.
struct CheckTally<'a> {
    finding: Finding,
    /// Critical checks with no result yet.
    pending: Vec<&'a str>,
    ok: usize,
    failed: Vec<String>,
    oldest_ms: Option<u64>,
}

/// The findings combined: the parts of `Verdict` they decide.
#[derive(Debug, PartialEq, Eq)]
struct Folded {
    state: State,
    operational: State,
    reason: String,
    live: bool,
}

/// The worse of two operational states (UP < DEGRADED < anything else).
fn worse(a: State, b: State) -> State {
    let rank = |s: State| match s {
        State::Up => 0,
        State::Degraded => 1,
        _ => 2,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// Combines findings: the worst operational state; the first lifecycle state over it; the
/// reasons ordered by source (stable within one); not live when a process-level source objects.
fn fold(findings: impl IntoIterator<Item = Finding>) -> Folded {
    let mut findings: Vec<Finding> = findings.into_iter().collect();
    findings.sort_by_key(|f| f.source);
    let operational = findings
        .iter()
        .fold(State::Up, |worst, f| worse(worst, f.operational));
    let live = !findings
        .iter()
        .any(|f| f.source == Source::Process && f.operational != State::Up);
    let state = findings
        .iter()
        .find_map(|f| f.lifecycle)
        .unwrap_or(operational);
    let reason = if state == State::Up {
        String::new()
    } else {
        let reasons: Vec<&str> = findings
            .iter()
            .flat_map(|f| f.reasons.iter().map(String::as_str))
            .collect();
        match reasons.join("; ") {
            joined if joined.is_empty() => state.as_str().to_ascii_lowercase(),
            joined => joined,
        }
    };
    Folded {
        state,
        operational,
        reason: clean_reason(&reason),
        live,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CheckOptions, CounterRule};
    use crate::monitor::check::RunEnd;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn up(ms_: u64) -> RunEnd {
        RunEnd::Returned {
            outcome: Outcome::Up,
            reason: String::new(),
            latency: ms(ms_),
        }
    }

    fn down(why: &str) -> RunEnd {
        RunEnd::Returned {
            outcome: Outcome::Down,
            reason: why.into(),
            latency: ms(1),
        }
    }

    fn ready_health(cfg: &Config, t: Instant) -> Health {
        let mut h = Health::new(cfg, t);
        h.set_ready(t);
        h
    }

    fn check(name: &str, importance: Importance) -> CheckState {
        let opts = CheckOptions {
            rise: 1,
            fall: 1,
            importance,
            ..CheckOptions::default()
        };
        CheckState::new(name, opts)
    }

    #[test]
    fn starting_until_ready_then_up() {
        let t = Instant::now();
        let mut h = Health::new(&Config::default(), t);
        let v = h.verdict(t);
        assert_eq!(
            (v.state, v.reason.as_str()),
            (State::Starting, "application not ready")
        );
        h.set_ready(t);
        assert_eq!(h.verdict(t).state, State::Up);
        assert_eq!(h.verdict(t).reason, "");
    }

    #[test]
    fn startup_grace_turns_starting_into_down() {
        let t = Instant::now();
        let cfg = Config {
            startup_grace: Some(ms(500)),
            ..Config::default()
        };
        let h = Health::new(&cfg, t);
        assert_eq!(h.verdict(t + ms(400)).state, State::Starting);
        assert_eq!(h.next_change(t), Some(t + ms(500)));
        let v = h.verdict(t + ms(600));
        assert_eq!(v.state, State::Down);
        assert!(
            v.reason.starts_with("not ready after 600 ms"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn importance_decides_the_effect_of_a_failing_check() {
        let t = Instant::now();
        let mut h = ready_health(&Config::default(), t);
        h.add_check(check("db", Importance::Critical));
        h.add_check(check("cache", Importance::Degrading));
        h.add_check(check("disk", Importance::Info));
        let v = h.verdict(t);
        assert_eq!(v.state, State::Starting, "critical check has no result yet");
        assert!(
            v.reason.contains("waiting for first result of db"),
            "{}",
            v.reason
        );
        for c in h.checks_mut() {
            c.record(up(1), t);
        }
        assert_eq!(h.verdict(t).state, State::Up);
        h.checks_mut()[2].record(down("disk full"), t);
        let v = h.verdict(t);
        assert_eq!((v.state, v.checks_ok, v.checks_total), (State::Up, 2, 3));
        h.checks_mut()[1].record(down("cache gone"), t);
        let v = h.verdict(t);
        assert_eq!(v.state, State::Degraded);
        assert_eq!(v.reason, "cache: cache gone");
        h.checks_mut()[0].record(down("db refused"), t);
        let v = h.verdict(t);
        assert_eq!(v.state, State::Down);
        assert_eq!(v.failed, vec!["db", "cache", "disk"]);
        assert!(v.reason.contains("db: db refused"));
        assert!(v.live, "a failing check is not a reason to restart");
    }

    #[test]
    fn stale_results_are_down() {
        let t = Instant::now();
        let mut h = ready_health(&Config::default(), t);
        h.add_check(check("db", Importance::Critical));
        h.checks_mut()[0].record(up(1), t);
        assert_eq!(h.next_change(t), Some(t + ms(4001)));
        let v = h.verdict(t + ms(4001));
        assert_eq!(v.state, State::Down);
        assert!(v.reason.contains("stale"), "{}", v.reason);
    }

    #[test]
    fn pushed_states_and_watchdog() {
        let t = Instant::now();
        let cfg = Config {
            watchdog: Some(ms(1000)),
            ..Config::default()
        };
        let mut h = ready_health(&cfg, t);
        h.heartbeat(t + ms(500));
        assert_eq!(h.verdict(t + ms(1400)).state, State::Up);
        assert_eq!(h.next_change(t + ms(1400)), Some(t + ms(1500)));
        let v = h.verdict(t + ms(1600));
        assert_eq!((v.state, v.live), (State::Down, false));
        assert_eq!(v.reason, "watchdog: no heartbeat for 1100 ms");
        h.heartbeat(t + ms(1700));
        assert_eq!(h.verdict(t + ms(1700)).state, State::Up);

        h.set_pushed(Outcome::Degraded, "queue deep");
        assert_eq!(h.verdict(t + ms(1700)).state, State::Degraded);
        h.set_pushed(Outcome::Down, "lost db");
        let v = h.verdict(t + ms(1700));
        assert_eq!(
            (v.state, v.reason.as_str(), v.live),
            (State::Down, "app: lost db", false)
        );
        h.set_pushed(Outcome::Up, "");
        assert_eq!(h.verdict(t + ms(1700)).state, State::Up);
    }

    #[test]
    fn lifecycle_states_take_precedence_and_keep_the_operational_state() {
        let t = Instant::now();
        let mut h = ready_health(&Config::default(), t);
        h.set_pushed(Outcome::Down, "broken");
        h.set_admin(Admin::Maint, "patching");
        let v = h.verdict(t);
        assert_eq!((v.state, v.op), (State::Maint, State::Down));
        assert!(v.reason.starts_with("patching"));
        h.set_admin(Admin::None, "");
        assert_eq!(h.verdict(t).state, State::Down);
    }

    #[test]
    fn counter_breach_is_down() {
        let t = Instant::now();
        let mut rules = std::collections::BTreeMap::new();
        rules.insert(
            "aborts".to_string(),
            CounterRule {
                max: Some(1),
                ..Default::default()
            },
        );
        let cfg = Config {
            counters: rules,
            interval: Duration::from_secs(10),
            ..Config::default()
        };
        let mut h = ready_health(&cfg, t);
        h.counters_mut().add("aborts", 2, t).unwrap();
        let v = h.verdict(t);
        assert_eq!(v.state, State::Down);
        assert_eq!(v.reason, "counter aborts=2 > max 1 in 10s");
        assert_eq!(h.verdict(t + Duration::from_secs(11)).state, State::Up);
    }

    fn finding(source: Source, operational: State, reason: &str) -> Finding {
        Finding::new(source, operational, reason.to_string())
    }

    #[test]
    fn fold_of_no_objection_is_up_with_no_reason() {
        let folded = fold([
            Finding::none(Source::Process),
            Finding::none(Source::Service),
        ]);
        let up = Folded {
            state: State::Up,
            operational: State::Up,
            reason: String::new(),
            live: true,
        };
        assert_eq!(folded, up);
        assert_eq!(fold([]), up);
    }

    #[test]
    fn fold_takes_the_worst_state_and_orders_reasons_by_source() {
        let folded = fold([
            finding(Source::Service, State::Degraded, "cache: slow"),
            finding(Source::Process, State::Down, "watchdog: silent"),
            finding(Source::Service, State::Down, "db: refused"),
            finding(Source::Process, State::Down, "app: lost db"),
        ]);
        assert_eq!(folded.state, State::Down);
        assert_eq!(folded.operational, State::Down);
        assert_eq!(
            folded.reason,
            "watchdog: silent; app: lost db; cache: slow; db: refused"
        );
        assert!(!folded.live, "a process-level failure is not live");
    }

    #[test]
    fn fold_is_live_when_only_the_service_objects() {
        let folded = fold([
            Finding::none(Source::Process),
            finding(Source::Service, State::Down, "db: refused"),
        ]);
        assert_eq!((folded.state, folded.live), (State::Down, true));
    }

    #[test]
    fn fold_puts_the_lifecycle_over_the_operational_state() {
        let mut maint = Finding::none(Source::Lifecycle);
        maint.lifecycle = Some(State::Maint);
        maint.reasons.push("patching".into());
        let folded = fold([
            finding(Source::Service, State::Degraded, "cache: slow"),
            maint,
        ]);
        assert_eq!(
            (folded.state, folded.operational),
            (State::Maint, State::Degraded)
        );
        assert_eq!(folded.reason, "patching; cache: slow");
    }

    #[test]
    fn fold_names_the_state_when_no_source_says_why() {
        let mut draining = Finding::none(Source::Lifecycle);
        draining.lifecycle = Some(State::Draining);
        let folded = fold([draining]);
        assert_eq!(
            (folded.state, folded.operational),
            (State::Draining, State::Up)
        );
        assert_eq!(folded.reason, "draining");
    }
}
