//! Named counters over a sliding window, and the MediationZone-style thresholds on them.
//!
//! The window is kept as a ring of [`BUCKETS`] buckets, so a count covers between
//! (BUCKETS-1)/BUCKETS of the window and the whole window. Pure: time comes in as `now`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::config::CounterRule;

/// Resolution of the sliding window.
pub const BUCKETS: usize = 10;
/// Most distinct counter names one server keeps; protects the host from unbounded names.
pub const MAX_COUNTERS: usize = 256;

#[derive(Debug)]
struct Ring {
    buckets: [u64; BUCKETS],
    /// Absolute number of the bucket that `buckets[abs % BUCKETS]` last held.
    newest: u64,
    total: u64,
}

/// Counters plus the rules judged over them.
#[derive(Debug)]
pub struct Counters {
    window: Duration,
    epoch: Instant,
    rings: BTreeMap<String, Ring>,
    rules: BTreeMap<String, CounterRule>,
}

/// One counter as reported in `status` and `/health`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterView {
    pub name: String,
    pub count: u64,
    pub total: u64,
    pub rule: Option<CounterRule>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct TooManyCounters;

impl Counters {
    pub fn new(window: Duration, rules: BTreeMap<String, CounterRule>, now: Instant) -> Counters {
        let window = window.max(Duration::from_millis(BUCKETS as u64));
        Counters {
            window,
            epoch: now,
            rings: BTreeMap::new(),
            rules,
        }
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    fn bucket_of(&self, now: Instant) -> u64 {
        let width = self.window.as_nanos() / BUCKETS as u128;
        (now.saturating_duration_since(self.epoch).as_nanos() / width) as u64
    }

    pub fn add(&mut self, name: &str, n: u64, now: Instant) -> Result<(), TooManyCounters> {
        let bucket = self.bucket_of(now);
        if !self.rings.contains_key(name) && self.rings.len() >= MAX_COUNTERS {
            return Err(TooManyCounters);
        }
        let ring = self.rings.entry(name.to_string()).or_insert(Ring {
            buckets: [0; BUCKETS],
            newest: bucket,
            total: 0,
        });
        if bucket > ring.newest {
            let stale = (bucket - ring.newest).min(BUCKETS as u64);
            for k in 0..stale {
                ring.buckets[((bucket - k) % BUCKETS as u64) as usize] = 0;
            }
            ring.newest = bucket;
        }
        let slot = &mut ring.buckets[(bucket % BUCKETS as u64) as usize];
        *slot = slot.saturating_add(n);
        ring.total = ring.total.saturating_add(n);
        Ok(())
    }

    /// The count of `name` in the window ending at `now`.
    pub fn count(&self, name: &str, now: Instant) -> u64 {
        let Some(ring) = self.rings.get(name) else {
            return 0;
        };
        let current = self.bucket_of(now);
        let oldest = current.saturating_sub(BUCKETS as u64 - 1);
        (oldest..=current)
            .filter(|b| *b <= ring.newest && ring.newest - b < BUCKETS as u64)
            .map(|b| ring.buckets[(b % BUCKETS as u64) as usize])
            .sum()
    }

    /// The first rule breached at `now`, as a reason. Minimums are judged only once a whole
    /// window has passed since `judged_from` (the later of start and ready), because before
    /// that nobody had a fair chance to reach them.
    pub fn breach(&self, now: Instant, judged_from: Instant) -> Option<String> {
        let full_window = now.saturating_duration_since(judged_from) >= self.window;
        let secs = self.window.as_secs_f64();
        for (name, rule) in &self.rules {
            if let Some((gate, gate_min)) = &rule.gate
                && self.count(gate, now) < *gate_min
            {
                continue;
            }
            let count = self.count(name, now);
            if let Some(max) = rule.max
                && count > max
            {
                return Some(format!("{name}={count} > max {max} in {secs}s"));
            }
            if let Some(min) = rule.min
                && full_window
                && count < min
            {
                return Some(format!("{name}={count} < min {min} in {secs}s"));
            }
        }
        None
    }

    /// When a judgement can next change without new input: the next bucket boundary, while
    /// any rule exists.
    pub fn next_change(&self, now: Instant) -> Option<Instant> {
        if self.rules.is_empty() {
            return None;
        }
        let width = self.window / BUCKETS as u32;
        let next = self.bucket_of(now) + 1;
        Some(self.epoch + width * next as u32)
    }

    pub fn views(&self, now: Instant) -> Vec<CounterView> {
        let mut names: Vec<&String> = self.rings.keys().chain(self.rules.keys()).collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .map(|name| CounterView {
                name: name.clone(),
                count: self.count(name, now),
                total: self.rings.get(name).map_or(0, |r| r.total),
                rule: self.rules.get(name).cloned(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(list: &[(&str, CounterRule)]) -> BTreeMap<String, CounterRule> {
        list.iter()
            .map(|(n, r)| (n.to_string(), r.clone()))
            .collect()
    }

    #[test]
    fn counts_slide_out_of_the_window() {
        let t0 = Instant::now();
        let mut c = Counters::new(Duration::from_secs(10), BTreeMap::new(), t0);
        c.add("tx", 5, t0).unwrap();
        c.add("tx", 3, t0 + Duration::from_secs(4)).unwrap();
        assert_eq!(c.count("tx", t0 + Duration::from_secs(5)), 8);
        assert_eq!(c.count("tx", t0 + Duration::from_millis(10_500)), 3);
        assert_eq!(c.count("tx", t0 + Duration::from_secs(15)), 0);
        assert_eq!(c.count("other", t0), 0);
        assert_eq!(c.views(t0 + Duration::from_secs(15))[0].total, 8);
    }

    #[test]
    fn minimum_is_judged_only_after_a_full_window() {
        let t0 = Instant::now();
        let rule = CounterRule {
            min: Some(3),
            ..Default::default()
        };
        let mut c = Counters::new(Duration::from_secs(10), rules(&[("tx", rule)]), t0);
        assert_eq!(c.breach(t0 + Duration::from_secs(9), t0), None);
        let reason = c.breach(t0 + Duration::from_secs(10), t0).unwrap();
        assert!(reason.contains("tx=0 < min 3"), "{reason}");
        for _ in 0..3 {
            c.add("tx", 1, t0 + Duration::from_secs(11)).unwrap();
        }
        assert_eq!(c.breach(t0 + Duration::from_secs(12), t0), None);
        assert!(c.breach(t0 + Duration::from_secs(22), t0).is_some());
    }

    #[test]
    fn maximum_breaches_at_once_and_honours_its_gate() {
        let t0 = Instant::now();
        let rule = CounterRule {
            max: Some(2),
            gate: Some(("activations".into(), 5)),
            ..Default::default()
        };
        let mut c = Counters::new(Duration::from_secs(40), rules(&[("aborts", rule)]), t0);
        c.add("aborts", 3, t0).unwrap();
        assert_eq!(c.breach(t0, t0), None, "gate not reached yet");
        c.add("activations", 5, t0).unwrap();
        assert!(c.breach(t0, t0).unwrap().contains("aborts=3 > max 2"));
    }

    #[test]
    fn refuses_unbounded_names() {
        let t0 = Instant::now();
        let mut c = Counters::new(Duration::from_secs(1), BTreeMap::new(), t0);
        for i in 0..MAX_COUNTERS {
            c.add(&format!("c{i}"), 1, t0).unwrap();
        }
        assert_eq!(c.add("one-more", 1, t0), Err(TooManyCounters));
        assert!(c.add("c0", 1, t0).is_ok());
    }
}
