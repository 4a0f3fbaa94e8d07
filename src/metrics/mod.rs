//! Prometheus text exposition format 0.0.4, written by hand: the monitor server's `/metrics`
//! and the heartbeat daemon's metrics both go through [`Writer`], so escaping, grouping and
//! number formatting are decided once.
//!
//! A family is opened with its HELP and TYPE lines and then takes samples; opening it again
//! is a bug (the format wants each family's samples together), caught in debug builds.

pub mod heartbeat;

use std::fmt::Write as _;

/// The `Content-Type` of an exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metric types hamon exposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Goes up and down.
    Gauge,
    /// Only goes up, from the start of the process; the name ends in `_total`.
    Counter,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        }
    }
}

/// A sample value: counts stay exact integers, durations are seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Int(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Int(n)
    }
}

impl From<usize> for Value {
    fn from(n: usize) -> Value {
        Value::Int(n as u64)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Int(u64::from(b))
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Float(x)
    }
}

impl From<std::time::Duration> for Value {
    fn from(d: std::time::Duration) -> Value {
        Value::Float(d.as_secs_f64())
    }
}

/// Whether `name` is a valid metric or label name (`[a-zA-Z_:][a-zA-Z0-9_:]*`; labels
/// without `:`).
fn valid_name(name: &str, colon: bool) -> bool {
    let ok = |c: char, first: bool| {
        c.is_ascii_alphabetic() || c == '_' || (colon && c == ':') || (!first && c.is_ascii_digit())
    };
    let mut chars = name.chars();
    chars.next().is_some_and(|c| ok(c, true)) && chars.all(|c| ok(c, false))
}

/// Appends `value` escaped for a label value: `\`, `"` and newline.
fn escape_label(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends `text` escaped for a HELP line: `\` and newline.
fn escape_help(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn write_value(out: &mut String, v: Value) {
    match v {
        Value::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Float(x) if x.is_nan() => out.push_str("NaN"),
        Value::Float(x) if x.is_infinite() => out.push_str(if x > 0.0 { "+Inf" } else { "-Inf" }),
        // Rust prints the shortest form that reads back exactly, never with an exponent.
        Value::Float(x) => {
            let _ = write!(out, "{x}");
        }
    }
}

/// Builds one exposition.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
    #[cfg(debug_assertions)]
    seen: Vec<String>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    /// Opens the family `name` with its HELP and TYPE lines; its samples follow.
    pub fn family(&mut self, name: &'static str, kind: Kind, help: &str) -> Family<'_> {
        debug_assert!(valid_name(name, true), "metric name {name:?}");
        debug_assert!(
            kind != Kind::Counter || name.ends_with("_total"),
            "counter {name} must end in _total"
        );
        #[cfg(debug_assertions)]
        {
            debug_assert!(!self.seen.iter().any(|n| n == name), "{name} opened twice");
            self.seen.push(name.to_string());
        }
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        escape_help(&mut self.out, help);
        let _ = writeln!(self.out, "\n# TYPE {name} {}", kind.word());
        Family {
            out: &mut self.out,
            name,
        }
    }

    /// The exposition so far.
    pub fn finish(self) -> String {
        self.out
    }
}

/// `hamon_build_info{version="..."} 1`, the same in every hamon exposition.
pub fn build_info(w: &mut Writer) {
    w.family(
        "hamon_build_info",
        Kind::Gauge,
        "The hamon version serving these metrics (always 1).",
    )
    .sample(&[("version", env!("CARGO_PKG_VERSION"))], 1u64);
}

/// An open family: takes its samples.
#[derive(Debug)]
pub struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl Family<'_> {
    /// One sample; `labels` are name/value pairs, values escaped here.
    pub fn sample(
        &mut self,
        labels: &[(&'static str, &str)],
        value: impl Into<Value>,
    ) -> &mut Self {
        self.out.push_str(self.name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, v)) in labels.iter().enumerate() {
                debug_assert!(valid_name(label, false) && !label.starts_with("__"));
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(label);
                self.out.push_str("=\"");
                escape_label(self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        write_value(self.out, value.into());
        self.out.push('\n');
        self
    }
}

/// The strict reader the tests check expositions with (shared with tests/metrics.rs).
#[cfg(test)]
#[path = "../../tests/common/prom.rs"]
pub(crate) mod prom;

#[cfg(test)]
mod tests {
    use super::prom::parse;
    use super::*;
    use std::time::Duration;

    #[test]
    fn families_have_help_type_and_escaped_labels() {
        let mut w = Writer::new();
        w.family("hamon_x_seconds", Kind::Gauge, "a \\ help\nline")
            .sample(&[("check", "a\"b\\c\nd")], Duration::from_millis(1500))
            .sample(&[("check", "plain"), ("state", "UP")], 0.25);
        w.family("hamon_y_total", Kind::Counter, "runs")
            .sample(&[], 7u64)
            .sample(&[], f64::NAN);
        let text = w.finish();
        assert_eq!(
            text,
            "# HELP hamon_x_seconds a \\\\ help\\nline\n# TYPE hamon_x_seconds gauge\n\
             hamon_x_seconds{check=\"a\\\"b\\\\c\\nd\"} 1.5\n\
             hamon_x_seconds{check=\"plain\",state=\"UP\"} 0.25\n\
             # HELP hamon_y_total runs\n# TYPE hamon_y_total counter\n\
             hamon_y_total 7\nhamon_y_total NaN\n"
        );
        let samples = parse(&text).unwrap();
        assert_eq!(samples[0].1, vec![("check".into(), "a\"b\\c\nd".into())]);
        assert_eq!(samples[0].2, 1.5);
        assert!(samples[3].2.is_nan());
    }

    #[test]
    fn values_never_use_exponents() {
        let mut s = String::new();
        for (v, want) in [
            (Value::Float(1e-7), "0.0000001"),
            (Value::Float(1e21), "1000000000000000000000"),
            (Value::Float(f64::INFINITY), "+Inf"),
            (Value::Float(f64::NEG_INFINITY), "-Inf"),
            (Value::Int(u64::MAX), "18446744073709551615"),
            (Value::from(true), "1"),
        ] {
            s.clear();
            write_value(&mut s, v);
            assert_eq!(s, want);
        }
    }

    #[test]
    fn the_test_reader_refuses_what_the_format_forbids() {
        for bad in [
            "hamon_a 1\n",
            "# HELP hamon_a x\nhamon_a 1\n",
            "# HELP hamon_a x\n# TYPE hamon_a gauge\nhamon_b 1\n",
            "# HELP hamon_a x\n# TYPE hamon_a gauge\nhamon_a{l=\"x} 1\n",
            "# HELP hamon_a x\n# TYPE hamon_a gauge\nhamon_a{l=\"\\t\"} 1\n",
            "# HELP hamon_a x\n# TYPE hamon_a gauge\nhamon_a one\n",
            "# HELP hamon_a x\n# TYPE hamon_a gauge\n# HELP hamon_a x\n",
            "# HELP hamon_a x\n# TYPE hamon_a gauge\nhamon_a 1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_follow_the_data_model() {
        assert!(valid_name("hamon_up", true) && valid_name("a:b", true));
        assert!(!valid_name("a:b", false) && !valid_name("1a", true) && !valid_name("", true));
        assert!(!valid_name("a-b", false));
    }
}
