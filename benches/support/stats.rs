//! Latency samples in an HdrHistogram (1 ns to 1 hour, 3 significant digits), and how
//! durations are written in the tables.

use std::time::Duration;

use hdrhistogram::Histogram;

pub struct Samples(Histogram<u64>);

impl Default for Samples {
    fn default() -> Self {
        const HOUR_NS: u64 = 3_600_000_000_000;
        Samples(Histogram::new_with_bounds(1, HOUR_NS, 3).expect("valid bounds and precision"))
    }
}

impl Samples {
    pub fn record(&mut self, d: Duration) {
        // Clamped to the bounds: nothing measured here comes near an hour.
        self.0.saturating_record(d.as_nanos() as u64);
    }

    pub fn add(&mut self, other: &Samples) {
        self.0
            .add(&other.0)
            .expect("auto-resizing histograms of the same precision add");
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    pub fn mean(&self) -> Duration {
        Duration::from_nanos(self.0.mean() as u64)
    }

    /// The value at quantile `q` (0.5 for the median, 0.99 for p99).
    pub fn quantile(&self, q: f64) -> Duration {
        Duration::from_nanos(self.0.value_at_quantile(q))
    }

    pub fn min(&self) -> Duration {
        Duration::from_nanos(self.0.min())
    }

    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.0.max())
    }
}

/// A duration as people read it: `850 µs`, `1.23 ms`, `81.2 s`.
pub fn human(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.0} µs", ns / 1e3)
    } else if ns < 10_000_000.0 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns < 1_000_000_000.0 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.1} s", ns / 1e9)
    }
}

/// `a / b` as `12.3x`.
pub fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.1}x", a.as_secs_f64() / b.as_secs_f64().max(1e-12))
}

/// KiB as `1.8 MiB` or `740 KiB`.
pub fn kib(k: u64) -> String {
    if k >= 1024 {
        format!("{:.1} MiB", k as f64 / 1024.0)
    } else {
        format!("{k} KiB")
    }
}
