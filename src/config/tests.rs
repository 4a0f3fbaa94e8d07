//! The rules a hamon user relies on, key by key and file by file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn set_err(key: &str, value: &str) -> ConfigError {
    let mut config = Config::default();
    let error = config.set(key, value).unwrap_err();
    assert_eq!(
        config,
        Config::default(),
        "{key}={value} changed the config"
    );
    error
}

fn with(key: &str, value: &str) -> Config {
    let mut config = Config::default();
    config
        .set(key, value)
        .unwrap_or_else(|e| panic!("{key}={value}: {e}"));
    config
}

fn loaded(text: &str) -> Config {
    let mut config = Config::default();
    config
        .load_str(text, "test.properties")
        .unwrap_or_else(|e| panic!("{e}"));
    config
}

fn load_err(text: &str) -> ConfigError {
    let mut config = Config::default();
    let error = config.load_str(text, "test.properties").unwrap_err();
    assert_eq!(
        config,
        Config::default(),
        "a failed load changed the config"
    );
    error
}

/// A file in the temp directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &[u8]) -> TempFile {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = format!(
            "hamon-config-{}-{}-{name}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(unique);
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn defaults() {
    let config = Config::default();
    assert!(config.enabled);
    assert_eq!(config.host, "127.0.0.1");
    assert_eq!(config.port, None);
    assert_eq!(config.log_file, None);
    assert_eq!(config.app_name, "");
    assert_eq!(config.interval, Duration::from_secs(40));
    assert_eq!(config.max_connections, 16);
    assert_eq!(config.idle_timeout, ms(30_000));
    assert_eq!(config.max_line_bytes, 512);
    assert_eq!(config.stop_timeout, ms(2_000));
    assert_eq!(config.watchdog, None);
    assert_eq!(config.startup_grace, None);
    assert_eq!(config.stale_after, None);
    assert_eq!(config.agent_degraded_weight, 50);
    let check = &config.check_defaults;
    assert_eq!((check.interval, check.timeout), (ms(1000), ms(1000)));
    assert_eq!((check.rise, check.fall), (2, 3));
    assert_eq!(check.importance, Importance::Critical);
    assert_eq!((check.latency_warn, check.latency_crit), (None, None));
    assert!(config.counters.is_empty());
}

#[test]
fn every_key_accepts_its_good_values() {
    type Holds = fn(&Config) -> bool;
    let cases: &[(&str, &str, Holds)] = &[
        ("ha.enabled", "off", |c| !c.enabled),
        ("ha.enabled", "NO", |c| !c.enabled),
        ("ha.enabled", "0", |c| !c.enabled),
        ("ha.enabled", "False", |c| !c.enabled),
        ("ha.enabled", "TRUE", |c| c.enabled),
        ("mz.ha.enabled", "false", |c| !c.enabled),
        ("ha.host", "0.0.0.0", |c| c.host == "0.0.0.0"),
        ("mz.ha.host", "node1.example.com", |c| {
            c.host == "node1.example.com"
        }),
        ("ha.port", "9999", |c| c.port == Some(9999)),
        ("ha.port", "0", |c| c.port == Some(0)),
        ("ha.port", "65535", |c| c.port == Some(65535)),
        ("mz.ha.port", "8080", |c| c.port == Some(8080)),
        ("mz.ha.port", "", |c| c.port.is_none()),
        ("ha.log_file", "/var/log/app", |c| {
            c.log_file.as_deref() == Some(Path::new("/var/log/app"))
        }),
        ("ha.log_file", "", |c| c.log_file.is_none()),
        ("mz.ha.log_file", "/tmp/ha.log", |c| {
            c.log_file.as_deref() == Some(Path::new("/tmp/ha.log"))
        }),
        ("ha.app_name", "billing-EC_1.2", |c| {
            c.app_name == "billing-EC_1.2"
        }),
        ("ha.app_name", "", |c| c.app_name.is_empty()),
        ("ha.interval", "500ms", |c| c.interval == ms(500)),
        ("ha.interval", "100ms", |c| c.interval == ms(100)),
        ("ha.interval", "40", |c| c.interval == ms(40_000)),
        ("ha.interval", "15s", |c| c.interval == ms(15_000)),
        ("ha.interval", "2m", |c| c.interval == ms(120_000)),
        ("ha.interval", "1440m", |c| c.interval == ms(86_400_000)),
        ("mz.ha.interval", "60", |c| c.interval == ms(60_000)),
        ("ha.max_connections", "1", |c| c.max_connections == 1),
        ("ha.max_connections", "4096", |c| c.max_connections == 4096),
        ("ha.max_line_bytes", "64", |c| c.max_line_bytes == 64),
        ("ha.max_line_bytes", "65536", |c| c.max_line_bytes == 65536),
        ("ha.idle_timeout_ms", "1", |c| c.idle_timeout == ms(1)),
        ("ha.stop_timeout_ms", "86400000", |c| {
            c.stop_timeout == ms(86_400_000)
        }),
        ("ha.watchdog_ms", "5000", |c| c.watchdog == Some(ms(5000))),
        ("ha.watchdog_ms", "0", |c| c.watchdog.is_none()),
        ("ha.startup_grace_ms", "60000", |c| {
            c.startup_grace == Some(ms(60_000))
        }),
        ("ha.stale_ms", "7000", |c| c.stale_after == Some(ms(7000))),
        ("ha.agent_degraded_weight", "0", |c| {
            c.agent_degraded_weight == 0
        }),
        ("ha.agent_degraded_weight", "100", |c| {
            c.agent_degraded_weight == 100
        }),
        ("ha.check.interval_ms", "250", |c| {
            c.check_defaults.interval == ms(250)
        }),
        ("ha.check.timeout_ms", "800", |c| {
            c.check_defaults.timeout == ms(800)
        }),
        ("ha.check.rise", "1", |c| c.check_defaults.rise == 1),
        ("ha.check.fall", "100", |c| c.check_defaults.fall == 100),
        ("ha.check.importance", "Degrading", |c| {
            c.check_defaults.importance == Importance::Degrading
        }),
        ("ha.check.importance", "info", |c| {
            c.check_defaults.importance == Importance::Info
        }),
        ("ha.check.importance", "CRITICAL", |c| {
            c.check_defaults.importance == Importance::Critical
        }),
        ("ha.check.latency_warn_ms", "200", |c| {
            c.check_defaults.latency_warn == Some(ms(200))
        }),
        ("ha.check.latency_crit_ms", "0", |c| {
            c.check_defaults.latency_crit.is_none()
        }),
        ("ha.counter.tx.min", "10", |c| {
            c.counters["tx"].min == Some(10)
        }),
        ("ha.counter.tx.max", "0", |c| {
            c.counters["tx"].max == Some(0)
        }),
        ("ha.counter.tx.min", "-1", |c| c.counters.is_empty()),
    ];
    for (key, value, holds) in cases {
        assert!(holds(&with(key, value)), "{key}={value}");
    }
}

#[test]
fn every_key_rejects_bad_values_naming_key_and_value() {
    let cases: &[(&str, &[&str])] = &[
        ("ha.enabled", &["", "maybe", "2", "y"]),
        ("mz.ha.enabled", &["enabled"]),
        ("ha.host", &["", "two words"]),
        ("mz.ha.host", &[""]),
        (
            "ha.port",
            &[
                "",
                "70000",
                "65536",
                "-1",
                "+80",
                "0x50",
                "80.0",
                "99999999999999999999999",
            ],
        ),
        ("mz.ha.port", &["abc", "-1"]),
        ("ha.app_name", &["has space", "ü", &"a".repeat(65)]),
        (
            "ha.interval",
            &[
                "", "99ms", "0", "1441m", "86401", "1h", "5 s", "-5", "1.5s", "ms",
            ],
        ),
        (
            "ha.interval",
            &["999999999999999999999m", "99999999999999999m"],
        ),
        ("mz.ha.interval", &["", "40s", "-1", "86401"]),
        ("ha.max_connections", &["0", "4097"]),
        ("ha.max_line_bytes", &["63", "65537"]),
        ("ha.idle_timeout_ms", &["0", "86400001", "1s"]),
        ("ha.stop_timeout_ms", &["0", ""]),
        ("ha.watchdog_ms", &["-1", "86400001"]),
        ("ha.startup_grace_ms", &["soon"]),
        ("ha.stale_ms", &["1e3"]),
        ("ha.agent_degraded_weight", &["101", "-1"]),
        ("ha.check.interval_ms", &["0"]),
        ("ha.check.timeout_ms", &["0"]),
        ("ha.check.rise", &["0", "101"]),
        ("ha.check.fall", &["0"]),
        ("ha.check.importance", &["", "high"]),
        ("ha.check.latency_warn_ms", &["-1"]),
        ("ha.check.latency_crit_ms", &["86400001"]),
        (
            "ha.counter.tx.min",
            &["-2", "", "1.0", "9223372036854775808"],
        ),
        ("ha.counter.tx.gate", &["bad name", "a/b"]),
        ("ha.counter.tx.gate_min", &["x"]),
        ("mz.ha.max_aborts", &["-2", "many"]),
        ("mz.ha.min_activations_for_aborts", &[""]),
    ];
    for (key, values) in cases {
        for value in *values {
            let error = set_err(key, value);
            assert_eq!(error.kind, ConfigErrorKind::BadValue, "{key}={value}");
            assert_eq!(error.key.as_deref(), Some(*key));
            let shown = format!("{error}");
            assert!(shown.starts_with(&format!("{key}: bad value ")), "{shown}");
            assert!(shown.contains(&format!("{value:?}")), "{shown}");
            assert!(shown.contains("expected "), "{shown}");
        }
    }
}

#[test]
fn bad_value_message_reads_well() {
    assert_eq!(
        set_err("ha.port", "70000").to_string(),
        "ha.port: bad value \"70000\": expected a port number 0-65535"
    );
}

#[test]
fn set_trims_and_changes_nothing_on_error() {
    let mut config = with("ha.port", " 8080 ");
    assert_eq!(config.port, Some(8080));
    let before = config.clone();
    assert!(config.set("ha.port", "x").is_err());
    assert!(config.set("ha.counter.tx.gate", "no good").is_err());
    assert_eq!(config, before);
}

#[test]
fn set_rejects_unknown_and_foreign_keys() {
    let error = set_err("ha.prot", "1");
    assert_eq!(error.kind, ConfigErrorKind::UnknownKey);
    assert_eq!(
        error.to_string(),
        "ha.prot: unknown key (did you mean ha.port?)"
    );

    let error = set_err("pico.name", "ec1");
    assert_eq!(error.kind, ConfigErrorKind::UnknownKey);
    assert_eq!(error.key.as_deref(), Some("pico.name"));
    assert!(error.message.contains("ha., mz.ha. or hb."), "{error}");

    assert!(
        set_err("port", "1")
            .to_string()
            .contains("did you mean ha.port?")
    );
    assert!(
        set_err("ha.nothing_like_this", "1")
            .to_string()
            .ends_with("unknown key")
    );
}

#[test]
fn keys_are_case_sensitive() {
    let error = set_err("HA.PORT", "80");
    assert_eq!(error.kind, ConfigErrorKind::UnknownKey);
    assert!(
        error.to_string().contains("did you mean ha.port?"),
        "{error}"
    );
    // In a file too: a wrongly cased hamon key is an error, not a silently ignored foreign key.
    let error = load_err("Ha.Port=80\n");
    assert_eq!(error.kind, ConfigErrorKind::UnknownKey);
}

#[test]
fn file_error_names_origin_line_key_and_suggestion() {
    let text = "# HA monitor\nha.enabled=true\n\nha.host=0.0.0.0\n\n\nha.prot=8080\n";
    let mut config = Config::default();
    let error = config.load_str(text, "/etc/app/ha.properties").unwrap_err();
    assert_eq!(error.kind, ConfigErrorKind::UnknownKey);
    assert_eq!(error.origin.as_deref(), Some("/etc/app/ha.properties"));
    assert_eq!(error.line, Some(7));
    assert_eq!(error.key.as_deref(), Some("ha.prot"));
    assert_eq!(
        error.to_string(),
        "/etc/app/ha.properties:7: ha.prot: unknown key (did you mean ha.port?)"
    );
}

#[test]
fn suggestions_for_typical_typos() {
    for (typo, meant) in [
        ("ha.max_conections", "ha.max_connections"),
        ("ha.checks.interval_ms", "ha.check.interval_ms"),
        ("mz.ha.max_abort", "mz.ha.max_aborts"),
        ("ha.idle_timeout", "ha.idle_timeout_ms"),
        ("ha.counter.aborts.mx", "ha.counter.aborts.max"),
        ("ha.counter.aborts.gatemin", "ha.counter.aborts.gate_min"),
    ] {
        let error = set_err(typo, "1");
        assert_eq!(error.kind, ConfigErrorKind::UnknownKey, "{typo}");
        assert!(
            error.message.contains(&format!("did you mean {meant}?")),
            "{typo}: {error}"
        );
    }
}

#[test]
fn bad_number_in_file_names_the_line() {
    let error = load_err("ha.port=8080\n! comment\nha.max_connections = lots\n");
    assert_eq!(error.kind, ConfigErrorKind::BadValue);
    assert_eq!(
        error.to_string(),
        "test.properties:3: ha.max_connections: bad value \"lots\": expected an integer 1-4096"
    );
}

#[test]
fn line_of_a_continued_entry_is_where_it_starts() {
    let error = load_err("a=1\nha.port = \\\n   8\\\n   0000\n");
    assert_eq!(error.line, Some(2));
    assert!(error.to_string().contains("\"80000\""), "{error}");
}

#[test]
fn load_str_changes_nothing_on_error() {
    let mut config = with("ha.port", "1234");
    let before = config.clone();
    let text = "ha.host=0.0.0.0\nha.counter.tx.min=5\nha.interval=10s\nha.port=nope\n";
    assert!(config.load_str(text, "x").is_err());
    assert_eq!(config, before);
    assert!(config.load_str("ha.host=::1\nha.oops=1\n", "x").is_err());
    assert_eq!(config, before);
    assert!(config.load_str("ha.host=::1\nbad=\\u12\n", "x").is_err());
    assert_eq!(config, before);
}

#[test]
fn syntax_variants_all_apply() {
    let text = "\u{feff}# pico config\r\n\
                ha.port=8080\r\n\
                ha.host: 0.0.0.0\r\n\
                ha.app_name    billing\r\n\
                   ! indented comment\r\n\
                ha.log_file = /var/log/\\\r\n\
                \x20   ha\\u002dmonitor.log\r\n\
                ha.check.importance\t=\tinfo  \r\n\
                \r\n";
    let config = loaded(text);
    assert_eq!(config.port, Some(8080));
    assert_eq!(config.host, "0.0.0.0");
    assert_eq!(config.app_name, "billing");
    assert_eq!(
        config.log_file,
        Some(PathBuf::from("/var/log/ha-monitor.log"))
    );
    assert_eq!(config.check_defaults.importance, Importance::Info);
}

#[test]
fn escaped_separator_in_a_key_is_part_of_the_key() {
    let error = load_err("ha.po\\=rt=1\n");
    assert_eq!(error.key.as_deref(), Some("ha.po=rt"));
}

#[test]
fn bad_unicode_escape_is_a_syntax_error() {
    let error = load_err("ha.port=1\nha.app_name=\\uzzzz\n");
    assert_eq!(error.kind, ConfigErrorKind::Syntax);
    assert_eq!(error.line, Some(2));
    assert!(
        error
            .to_string()
            .starts_with("test.properties:2: ha.app_name: bad escape"),
        "{error}"
    );
}

#[test]
fn foreign_keys_are_ignored_in_files() {
    let config = loaded("pico.name=ec1\nmz.platform.port=6790\nhazard=1\nha.port=9000\n");
    assert_eq!(config, with("ha.port", "9000"));
}

#[test]
fn an_alias_after_its_key_wins_in_file_order() {
    let config = loaded("ha.port=1\nmz.ha.port=2\n");
    assert_eq!(config.port, Some(2));
}

#[test]
fn a_key_given_twice_in_one_file_names_both_lines() {
    let error = load_err("ha.port=1\n# x\nmz.ha.port=2\n\nha.port=3\n");
    assert_eq!(error.kind, ConfigErrorKind::Syntax);
    assert_eq!(error.line, Some(5));
    assert_eq!(
        error.to_string(),
        "test.properties:5: ha.port: set twice, on line 1 and on line 5: remove one"
    );
    // Foreign keys are the application's business, even when repeated.
    assert_eq!(loaded("x=1\nx=2\nha.port=4\n").port, Some(4));
    // Layered files may set the same key again.
    let mut config = loaded("ha.port=1\n");
    config.load_str("ha.port=2\n", "second").unwrap();
    assert_eq!(config.port, Some(2));
}

#[test]
fn connection_limits_and_allow_list() {
    let config = loaded(
        "ha.max_connections_per_source=4\nha.first_command_timeout_ms=2500\n\
         ha.connection_lifetime_ms=60000\nha.allow = 10.0.0.0/8, 2001:db8::/32 ,192.0.2.7\n",
    );
    assert_eq!(config.max_connections_per_source, 4);
    assert_eq!(config.first_command_timeout, ms(2500));
    assert_eq!(config.connection_lifetime, ms(60_000));
    let allow: Vec<String> = config.allow.iter().map(|c| c.to_string()).collect();
    assert_eq!(allow, ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"]);
    assert!(with("ha.allow", "10.0.0.0/8").allow.len() == 1);
    assert!(with("ha.allow", "").allow.is_empty());
    let error = set_err("ha.allow", "10.0.0.0/8,10.1.2.3/16");
    assert!(
        error.to_string().starts_with("ha.allow: bad value")
            && error.to_string().contains("did you mean 10.1.0.0/16?"),
        "{error}"
    );
    for (key, bad) in [
        ("ha.max_connections_per_source", "4097"),
        ("ha.first_command_timeout_ms", "0"),
        ("ha.connection_lifetime_ms", "0"),
        ("ha.allow", "everyone"),
        ("ha.unix_socket", "relative.sock"),
    ] {
        assert!(
            set_err(key, bad).to_string().starts_with(key),
            "{key}={bad}"
        );
    }
}

#[test]
fn mz_aliases_fill_the_same_fields() {
    let mz = loaded(
        "mz.ha.enabled=yes\n\
         mz.ha.host=10.0.0.5\n\
         mz.ha.port=9090\n\
         mz.ha.log_file=/var/log/mz\n\
         mz.ha.interval=120\n\
         mz.ha.min_number_of_transactions=100\n\
         mz.ha.max_aborts=5\n\
         mz.ha.min_activations=2\n\
         mz.ha.min_activations_for_aborts=10\n\
         mz.ha.min_consumes=7\n",
    );
    let ha = loaded(
        "ha.enabled=yes\n\
         ha.host=10.0.0.5\n\
         ha.port=9090\n\
         ha.log_file=/var/log/mz\n\
         ha.interval=2m\n\
         ha.counter.transactions.min=100\n\
         ha.counter.aborts.max=5\n\
         ha.counter.activations.min=2\n\
         ha.counter.aborts.gate=activations\n\
         ha.counter.aborts.gate_min=10\n\
         ha.counter.consumes.min=7\n",
    );
    assert_eq!(mz, ha);
    let aborts = &mz.counters["aborts"];
    assert_eq!(aborts.max, Some(5));
    assert_eq!(aborts.gate, Some(("activations".to_string(), 10)));
    assert_eq!(mz.validate_for_start(), Ok(()));
}

#[test]
fn mz_interval_is_raised_to_40_seconds() {
    assert_eq!(
        with("mz.ha.interval", "10").interval,
        Duration::from_secs(40)
    );
    assert_eq!(
        with("mz.ha.interval", "0").interval,
        Duration::from_secs(40)
    );
    assert_eq!(
        with("mz.ha.interval", "40").interval,
        Duration::from_secs(40)
    );
    assert_eq!(
        with("mz.ha.interval", "41").interval,
        Duration::from_secs(41)
    );
    // The hamon key is not raised.
    assert_eq!(with("ha.interval", "10").interval, Duration::from_secs(10));
}

#[test]
fn mz_defaults_disable_counters_and_leave_port_unset() {
    let config = loaded(
        "mz.ha.port=\n\
         mz.ha.min_number_of_transactions=-1\n\
         mz.ha.max_aborts=-1\n\
         mz.ha.min_activations=-1\n\
         mz.ha.min_activations_for_aborts=-1\n\
         mz.ha.min_consumes=-1\n",
    );
    assert_eq!(config, Config::default());
}

#[test]
fn counter_parts_are_removed_with_minus_one() {
    let mut config = loaded("ha.counter.tx.min=1\nha.counter.tx.max=9\n");
    config.set("ha.counter.tx.min", "-1").unwrap();
    assert_eq!(
        config.counters["tx"],
        CounterRule {
            min: None,
            max: Some(9),
            gate: None
        }
    );
    config.set("ha.counter.tx.max", "-1").unwrap();
    assert!(config.counters.is_empty(), "an empty rule is dropped");

    let mut config = with("mz.ha.min_activations_for_aborts", "3");
    config
        .set("mz.ha.min_activations_for_aborts", "-1")
        .unwrap();
    assert!(config.counters.is_empty());

    let mut config = loaded("ha.counter.a.gate=b\nha.counter.a.gate_min=2\nha.counter.a.max=1\n");
    config.set("ha.counter.a.gate_min", "-1").unwrap();
    assert_eq!(
        config.counters["a"],
        CounterRule {
            min: None,
            max: Some(1),
            gate: None
        }
    );
    config.set("ha.counter.a.gate", "b").unwrap();
    config.set("ha.counter.a.gate", "").unwrap();
    assert_eq!(config.counters["a"].gate, None);
}

#[test]
fn counter_name_is_everything_before_the_last_dot() {
    let config = loaded("ha.counter.mz.wf.aborts.max=3\nha.counter.x-1_y.min=0\n");
    let names: Vec<&String> = config.counters.keys().collect();
    assert_eq!(names, ["mz.wf.aborts", "x-1_y"]);
    assert_eq!(config.counters["mz.wf.aborts"].max, Some(3));
    assert_eq!(config.counters["x-1_y"].min, Some(0));
}

#[test]
fn malformed_counter_keys_are_unknown() {
    let too_long = format!("ha.counter.{}.min", "n".repeat(65));
    for key in [
        "ha.counter.tx",
        "ha.counter.tx.limit",
        "ha.counter..min",
        "ha.counter.a+b.min",
        &too_long,
    ] {
        let error = set_err(key, "1");
        assert_eq!(error.kind, ConfigErrorKind::UnknownKey, "{key}");
        assert_eq!(error.key.as_deref(), Some(key));
    }
}

#[test]
fn half_a_gate_is_reported_before_start() {
    let mut config = loaded("ha.port=1\nha.counter.aborts.max=3\nha.counter.aborts.gate_min=10\n");
    let error = config.validate_for_start().unwrap_err();
    assert_eq!(error.kind, ConfigErrorKind::Missing);
    assert_eq!(error.key.as_deref(), Some("ha.counter.aborts.gate"));
    assert_eq!(
        error.to_string(),
        "ha.counter.aborts.gate_min is set but ha.counter.aborts.gate is not"
    );
    config.set("ha.counter.aborts.gate", "activations").unwrap();
    assert_eq!(config.validate_for_start(), Ok(()));
    assert_eq!(
        config.counters["aborts"].gate,
        Some(("activations".to_string(), 10))
    );

    let config = loaded("ha.port=1\nha.counter.aborts.gate=activations\n");
    let error = config.validate_for_start().unwrap_err();
    assert_eq!(error.kind, ConfigErrorKind::Missing);
    assert_eq!(
        error.to_string(),
        "ha.counter.aborts.gate is set but ha.counter.aborts.gate_min is not"
    );
}

#[test]
fn validate_for_start_needs_a_port() {
    let error = Config::default().validate_for_start().unwrap_err();
    assert_eq!(error.kind, ConfigErrorKind::Missing);
    assert_eq!(error.key.as_deref(), Some("ha.port"));
    assert_eq!(error.to_string(), "ha.port is not set");
    assert_eq!(with("ha.port", "0").validate_for_start(), Ok(()));
}

#[test]
fn validate_for_start_checks_the_host() {
    for host in ["localhost", "::1", "0.0.0.0", "ha-node.example.org"] {
        let config = loaded(&format!("ha.port=1\nha.host={host}\n"));
        assert_eq!(config.validate_for_start(), Ok(()), "{host}");
    }
    for host in ["1.2.3.999", "bad_host", "-x.example.org", "[::1]"] {
        let config = loaded(&format!("ha.port=1\nha.host={host}\n"));
        let error = config.validate_for_start().unwrap_err();
        assert_eq!(error.kind, ConfigErrorKind::BadValue, "{host}");
        assert_eq!(error.key.as_deref(), Some("ha.host"));
        assert!(error.to_string().contains(host), "{error}");
    }
}

#[test]
fn validate_for_start_checks_fields_set_from_rust() {
    let mut config = with("ha.port", "1");
    config.check_defaults.timeout = Duration::ZERO;
    let error = config.validate_for_start().unwrap_err();
    assert_eq!(error.kind, ConfigErrorKind::BadValue);
    assert_eq!(
        error.to_string(),
        "ha.check.timeout_ms: bad value \"0\": expected milliseconds 1-86400000"
    );

    let mut config = with("ha.port", "1");
    config.agent_degraded_weight = 200;
    assert_eq!(
        config.validate_for_start().unwrap_err().key.as_deref(),
        Some("ha.agent_degraded_weight")
    );

    let mut config = with("ha.port", "1");
    config.watchdog = Some(Duration::from_micros(10));
    assert_eq!(
        config.validate_for_start().unwrap_err().key.as_deref(),
        Some("ha.watchdog_ms")
    );

    let mut config = with("ha.port", "1");
    config.counters.insert(
        "has space".to_string(),
        CounterRule {
            min: Some(1),
            ..Default::default()
        },
    );
    assert_eq!(
        config.validate_for_start().unwrap_err().kind,
        ConfigErrorKind::UnknownKey
    );
}

#[test]
fn validate_for_start_checks_contradictions() {
    let config = loaded("ha.port=1\nha.counter.tx.min=10\nha.counter.tx.max=5\n");
    let error = config.validate_for_start().unwrap_err();
    assert_eq!(error.kind, ConfigErrorKind::BadValue);
    assert_eq!(error.key.as_deref(), Some("ha.counter.tx.min"));
    assert!(
        error.to_string().contains("ha.counter.tx.max (5)"),
        "{error}"
    );
    assert_eq!(
        loaded("ha.port=1\nha.counter.tx.min=5\nha.counter.tx.max=5\n").validate_for_start(),
        Ok(())
    );

    let config = loaded("ha.port=1\nha.check.latency_warn_ms=500\nha.check.latency_crit_ms=500\n");
    let error = config.validate_for_start().unwrap_err();
    assert_eq!(error.key.as_deref(), Some("ha.check.latency_warn_ms"));
    let config = loaded("ha.port=1\nha.check.latency_warn_ms=100\nha.check.latency_crit_ms=500\n");
    assert_eq!(config.validate_for_start(), Ok(()));
}

#[test]
fn assignments_list_canonical_names() {
    let config = loaded(
        "mz.ha.port=9090\n\
         mz.ha.interval=60\n\
         ha.interval=1500ms\n\
         ha.watchdog_ms=3000\n\
         mz.ha.max_aborts=5\n\
         mz.ha.min_activations_for_aborts=10\n",
    );
    let pairs: BTreeMap<String, String> = config.assignments().into_iter().collect();
    assert!(pairs.keys().all(|key| key.starts_with("ha.")), "{pairs:?}");
    assert_eq!(pairs["ha.port"], "9090");
    assert_eq!(pairs["ha.interval"], "1500ms");
    assert_eq!(pairs["ha.watchdog_ms"], "3000");
    assert_eq!(pairs["ha.startup_grace_ms"], "0");
    assert_eq!(pairs["ha.host"], "127.0.0.1");
    assert_eq!(pairs["ha.check.importance"], "critical");
    assert_eq!(pairs["ha.counter.aborts.max"], "5");
    assert_eq!(pairs["ha.counter.aborts.gate"], "activations");
    assert_eq!(pairs["ha.counter.aborts.gate_min"], "10");
    assert!(!pairs.contains_key("ha.counter.aborts.min"));
}

#[test]
fn assignments_of_defaults_and_unset_port() {
    let pairs = Config::default().assignments();
    assert!(pairs.iter().all(|(key, _)| key != "ha.port"));
    assert_eq!(pairs[0], ("ha.enabled".to_string(), "true".to_string()));
    assert!(pairs.contains(&("ha.interval".to_string(), "40s".to_string())));
    assert!(pairs.contains(&("ha.log_file".to_string(), String::new())));
}

#[test]
fn assignments_read_back_to_the_same_config() {
    let config = loaded(
        "ha.enabled=off\nha.host=::\nha.port=0\nha.log_file=/tmp/x.log\nha.app_name=a.b\n\
         ha.interval=2m\nha.max_connections=3\nha.max_line_bytes=100\nha.idle_timeout_ms=5\n\
         ha.stop_timeout_ms=6\nha.watchdog_ms=7\nha.startup_grace_ms=8\nha.stale_ms=9\n\
         ha.agent_degraded_weight=10\nha.check.interval_ms=11\nha.check.timeout_ms=12\n\
         ha.check.rise=13\nha.check.fall=14\nha.check.importance=degrading\n\
         ha.check.latency_warn_ms=15\nha.check.latency_crit_ms=16\n\
         ha.max_connections_per_source=2\nha.first_command_timeout_ms=20\n\
         ha.connection_lifetime_ms=21\nha.allow=10.0.0.0/8,::1\nha.unix_socket=/run/a.sock\n\
         ha.counter.c.min=17\nha.counter.c.max=18\nha.counter.c.gate=d\nha.counter.c.gate_min=19\n",
    );
    let mut again = Config::default();
    for (key, value) in config.assignments() {
        again.set(&key, &value).unwrap();
    }
    assert_eq!(again, config);
}

#[test]
fn every_known_ha_key_is_in_the_assignments() {
    let listed: Vec<String> = with("ha.port", "1")
        .assignments()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for key in super::keys::known_keys().filter(|key| key.starts_with("ha.")) {
        assert!(
            listed.iter().any(|listed| listed == key),
            "{key} missing from assignments"
        );
    }
}

#[test]
fn load_file_reads_a_real_file() {
    let file = TempFile::new(
        "ok.properties",
        b"# app\nother.key=1\nha.port=7000\nha.app_name=svc\n",
    );
    let mut config = Config::default();
    config.load_file(&file.0).unwrap();
    assert_eq!(config.port, Some(7000));
    assert_eq!(config.app_name, "svc");
}

#[test]
fn load_file_errors_name_the_path_and_line() {
    let file = TempFile::new("bad.properties", b"ha.port=7000\nha.max_line_bytes=1\n");
    let mut config = Config::default();
    let error = config.load_file(&file.0).unwrap_err();
    assert_eq!(
        error.origin.as_deref(),
        Some(file.0.display().to_string().as_str())
    );
    assert_eq!(error.line, Some(2));
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}:2: ha.max_line_bytes:", file.0.display()))
    );
    assert_eq!(config, Config::default());
}

#[test]
fn load_file_of_a_missing_file_names_the_path_and_reason() {
    let path = std::env::temp_dir().join(format!(
        "hamon-config-{}-missing.properties",
        std::process::id()
    ));
    let mut config = Config::default();
    let error = config.load_file(&path).unwrap_err();
    assert_eq!(error.kind, ConfigErrorKind::File);
    assert_eq!(error.key, None);
    let shown = error.to_string();
    assert!(
        shown.starts_with(&format!("{}: ", path.display())),
        "{shown}"
    );
    #[cfg(unix)]
    assert!(shown.contains("No such file or directory"), "{shown}");
}

#[test]
fn load_file_refuses_more_than_one_mebibyte() {
    let mut text = b"ha.port=1\n".to_vec();
    text.resize(1024 * 1024 + 1, b'#');
    let file = TempFile::new("big.properties", &text);
    let error = Config::default().load_file(&file.0).unwrap_err();
    assert_eq!(error.kind, ConfigErrorKind::File);
    assert!(error.to_string().contains("larger than 1 MiB"), "{error}");

    text.truncate(1024 * 1024);
    let file = TempFile::new("just-fits.properties", &text);
    assert_eq!(Config::default().load_file(&file.0), Ok(()));
}

#[test]
fn load_file_reports_the_line_with_invalid_utf8() {
    let file = TempFile::new("latin1.properties", b"ha.port=1\nha.app_name=caf\xe9\n");
    let error = Config::default().load_file(&file.0).unwrap_err();
    assert_eq!(error.kind, ConfigErrorKind::Syntax);
    assert_eq!(error.line, Some(2));
}

#[test]
fn config_error_is_a_std_error() {
    let error: Box<dyn std::error::Error> = Box::new(set_err("ha.port", "x"));
    assert!(error.to_string().starts_with("ha.port: "));
}

#[test]
fn heartbeat_keys_fill_the_heartbeat_settings() {
    let mut c = Config::default();
    c.load_str(
        "hb.dir=/shared/hb\nhb.node=dc1\nhb.nodes=dc1, dc2,dc3\nhb.preferred=yes\n\
         hb.period_ms=200\nhb.takeover_ms=5000\nhb.state_dir=/var/lib/hamon\n",
        "hb.properties",
    )
    .unwrap();
    let hb = &c.heartbeat;
    assert_eq!(hb.dir.as_deref(), Some(std::path::Path::new("/shared/hb")));
    assert_eq!(hb.node.as_deref(), Some("dc1"));
    assert_eq!(hb.nodes, vec!["dc1", "dc2", "dc3"]);
    assert!(hb.preferred);
    assert_eq!(hb.timing.period, Duration::from_millis(200));
    assert_eq!(hb.timing.takeover, Duration::from_millis(5000));
    assert_eq!(hb.cluster, "hamon");

    let e = c.set("hb.nodes", "dc1,dc1").unwrap_err();
    assert!(e.to_string().contains("hb.nodes"), "{e}");
    assert!(c.set("hb.node", "has space").is_err());
    let e = c.load_str("hb.perod_ms=1\n", "x").unwrap_err();
    assert!(e.to_string().contains("did you mean hb.period_ms"), "{e}");
}

#[test]
fn daemon_keys_fill_the_heartbeat_settings() {
    let mut c = Config::default();
    assert_eq!(c.heartbeat.app_probe_fail, 3);
    assert_eq!(c.heartbeat.restart_limit, 0);
    c.load_str(
        "hb.start_cmd=exec /opt/app/bin/app --serve\nhb.stop_cmd=/opt/app/bin/stop\n\
         hb.app_port=9090\nhb.app_probe_fail=5\nhb.incident_cmd=logger -t hb\n\
         hb.log_file=/var/log/hb.log\nhb.app_log=/var/log/app.log\nhb.restart_limit=2\n\
         hb.watchdog_device=/dev/watchdog\n",
        "hb.properties",
    )
    .unwrap();
    let hb = &c.heartbeat;
    assert_eq!(
        hb.start_cmd.as_deref(),
        Some("exec /opt/app/bin/app --serve")
    );
    assert_eq!(hb.stop_cmd.as_deref(), Some("/opt/app/bin/stop"));
    assert_eq!(hb.app_port, Some(9090));
    assert_eq!(hb.app_probe_fail, 5);
    assert_eq!(hb.incident_cmd.as_deref(), Some("logger -t hb"));
    assert_eq!(
        hb.log_file.as_deref(),
        Some(std::path::Path::new("/var/log/hb.log"))
    );
    assert_eq!(
        hb.app_log.as_deref(),
        Some(std::path::Path::new("/var/log/app.log"))
    );
    assert_eq!(hb.restart_limit, 2);
    assert_eq!(
        hb.watchdog_device.as_deref(),
        Some(std::path::Path::new("/dev/watchdog"))
    );

    // 0 and empty switch the optional ones off.
    c.set("hb.app_port", "0").unwrap();
    assert_eq!(c.heartbeat.app_port, None);
    c.set("hb.stop_cmd", "").unwrap();
    assert_eq!(c.heartbeat.stop_cmd, None);
    c.set("hb.incident_cmd", "").unwrap();
    assert_eq!(c.heartbeat.incident_cmd, None);
    c.set("hb.log_file", "").unwrap();
    assert_eq!(c.heartbeat.log_file, None);
    c.set("hb.watchdog_device", "").unwrap();
    assert_eq!(c.heartbeat.watchdog_device, None);
}

#[test]
fn bad_daemon_values_name_their_key() {
    let mut c = Config::default();
    for (key, value) in [
        ("hb.start_cmd", ""),
        ("hb.start_cmd", "a\0b"),
        ("hb.stop_cmd", "a\0b"),
        ("hb.incident_cmd", "a\0b"),
        ("hb.app_port", "65536"),
        ("hb.app_port", "-1"),
        ("hb.app_port", "http"),
        ("hb.app_probe_fail", "0"),
        ("hb.app_probe_fail", "101"),
        ("hb.app_probe_fail", "three"),
        ("hb.restart_limit", "-1"),
        ("hb.restart_limit", "101"),
        ("hb.log_file", "a\0b"),
        ("hb.app_log", "a\0b"),
        ("hb.watchdog_device", "watchdog"),
        ("hb.watchdog_device", "/dev/a\0b"),
    ] {
        let e = c.set(key, value).unwrap_err();
        assert!(
            e.to_string().starts_with(&format!("{key}: ")),
            "{key}={value:?}: {e}"
        );
    }
    assert_eq!(c, Config::default(), "a refused value changes nothing");
    let e = c.load_str("hb.start_cmnd=x\n", "x").unwrap_err();
    assert!(e.to_string().contains("did you mean hb.start_cmd"), "{e}");
}

#[test]
fn pairs_apply_like_a_file_with_the_canonical_name_winning() {
    let mut config = Config::default();
    let pairs = [
        ("ha.port", " 7002 "),
        ("java.home", "/usr/lib/jvm"),
        ("mz.ha.port", "7001"),
        ("mz.ha.enabled", "false"),
        ("hb.node", "dc1"),
    ];
    config.load_pairs(pairs, "Properties").unwrap();
    assert_eq!(config.port, Some(7002));
    assert!(!config.enabled);
    assert_eq!(config.heartbeat.node.as_deref(), Some("dc1"));
}

#[test]
fn pairs_change_nothing_on_error_and_name_origin_and_key() {
    let mut config = Config::default();
    let error = config
        .load_pairs([("ha.port", "7002"), ("ha.prot", "1")], "system properties")
        .unwrap_err();
    assert_eq!(error.kind, ConfigErrorKind::UnknownKey);
    assert!(
        error
            .to_string()
            .starts_with("system properties: ha.prot: "),
        "{error}"
    );
    assert_eq!(config, Config::default());
}

#[test]
fn the_readme_heartbeat_example_is_a_valid_configuration() {
    let readme = include_str!("../../README.md");
    let section = &readme[readme.find("## Heartbeat").expect("a heartbeat section")..];
    let start = section
        .find("```properties\n")
        .expect("a properties example")
        + 14;
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let mut c = Config::default();
    c.load_str(example, "README.md").unwrap();
    let hb = &c.heartbeat;
    assert_eq!(
        hb.dir.as_deref(),
        Some(std::path::Path::new("/shared/billing/hb"))
    );
    assert_eq!(hb.nodes, ["dc1", "dc2"]);
    assert_eq!(hb.app_port, Some(9090));
    crate::heartbeat::node::NodeSettings::from_config(hb).unwrap();
    hb.timing.check_watchdog_device().unwrap();
}

#[test]
fn assignments_cover_the_monitor_server_and_leave_out_the_heartbeat() {
    // Found by the properties fuzz target: hb.* settings are the daemon's, not the server's,
    // so they are not in the server's HA log and do not read back from it.
    let config = loaded("hb.log_file = a.!a.\nha.port=1\n");
    assert!(
        config
            .assignments()
            .iter()
            .all(|(key, _)| key.starts_with("ha."))
    );
    let mut again = Config::default();
    for (key, value) in config.assignments() {
        again.set(&key, &value).unwrap();
    }
    assert_eq!(again.heartbeat, HeartbeatSettings::default());
    assert_eq!(
        Config {
            heartbeat: config.heartbeat.clone(),
            ..again
        },
        config
    );
}
