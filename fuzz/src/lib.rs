//! What the fuzz targets share: a fixed view of health for the session and HTTP targets.

use std::time::Duration;

use hamon::config::Importance;
use hamon::monitor::check::CheckView;
use hamon::monitor::counters::CounterView;
use hamon::monitor::health::Verdict;
use hamon::monitor::protocol::Oracle;
use hamon::monitor::render::Identity;
use hamon::monitor::state::State;

/// A DOWN instance with one failing check, so replies carry quoted reasons.
pub struct Fixed {
    verdict: Verdict,
    check: CheckView,
    id: Identity,
}

impl Fixed {
    pub fn new() -> Fixed {
        Fixed {
            verdict: Verdict {
                state: State::Down,
                op: State::Down,
                reason: "db: \"refused\" \\ now".into(),
                checks_ok: 0,
                checks_total: 1,
                failed: vec!["db".into()],
                age_ms: Some(5),
                live: false,
            },
            check: CheckView {
                name: "db".into(),
                state: State::Down,
                importance: Importance::Critical,
                latency_ms: Some(2),
                age_ms: Some(5),
                fail_streak: 3,
                fall: 3,
                ok_streak: 0,
                rise: 2,
                runs: 4,
                failures: 3,
                reason: "refused".into(),
            },
            id: Identity {
                app_name: "billing".into(),
                agent_degraded_weight: 50,
            },
        }
    }
}

impl Default for Fixed {
    fn default() -> Self {
        Fixed::new()
    }
}

impl Oracle for Fixed {
    fn verdict(&self) -> Verdict {
        self.verdict.clone()
    }
    fn check(&self, name: &str) -> Option<CheckView> {
        (name == self.check.name).then(|| self.check.clone())
    }
    fn details(&self) -> (Vec<CheckView>, Vec<CounterView>, Duration) {
        (vec![self.check.clone()], vec![], Duration::from_secs(40))
    }
    fn identity(&self) -> &Identity {
        &self.id
    }
}
