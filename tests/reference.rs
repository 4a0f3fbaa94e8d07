//! The reference pages and the bash completions name everything a user can call, set, read or
//! type, so they cannot drift from the code:
//!
//! - hamon(3): every function, callback type and constant of include/hamon.h, each status
//!   code with its number, every `ha.*` and `mz.ha.*` key of the key table, every metric the
//!   monitor server serves;
//! - ha-heartbeat(8): every `hb.*` key, with a default the configuration agrees with, and
//!   every metric the daemon serves;
//! - each program's page and completion: every command and option its `--help` names.
//!
//! Each failure lists everything missing and where; a name a page still gives but the
//! sources no longer have fails too. The pages also render without a groff warning, and both
//! programs print `--version` the same way.
//!
//! Needs groff and bash (scripts/test installs them). Linux only.

#![cfg(target_os = "linux")]

use crate::common;
#[path = "reference/roff.rs"]
mod roff;
#[path = "reference/sources.rs"]
mod sources;

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::child::run_to_end;
use common::root;
use hamon::config::{Config, ConfigErrorKind};
use roff::{Default, Page};
use sources::KeyKind;

const PATIENCE: Duration = Duration::from_secs(60);

fn read(path: &str) -> String {
    fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn page(file: &str) -> Page {
    Page::parse(file, &read(&format!("man/{file}")))
}

/// Fails with every problem found, one per line.
fn report(what: &str, problems: Vec<String>) {
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

fn words(text: &str) -> BTreeSet<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "_.-".contains(c)))
        .map(|w| w.trim_end_matches('.'))
        .collect()
}

#[test]
fn hamon_3_declares_every_function_of_the_header_as_the_header_does() {
    let header = sources::declarations(&read("include/hamon.h"));
    assert!(
        header.iter().any(|d| d.name == "ha_server_start"),
        "include/hamon.h read wrongly: {header:?}"
    );
    let page = page("hamon.3");
    // The synopsis is C: statements end in `;`; the `#include` line is not one.
    let synopsis: String = page
        .section("SYNOPSIS")
        .lines()
        .filter(|line| !line.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ");
    let shown: Vec<_> = synopsis
        .split(';')
        .filter_map(sources::declaration)
        .collect();
    let described: BTreeSet<&str> = page.entries_in("FUNCTIONS").map(|e| e.subject()).collect();
    let mut problems = Vec::new();
    for declared in &header {
        match shown.iter().find(|s| s.name == declared.name) {
            None => problems.push(format!("SYNOPSIS lacks {}", declared.text)),
            Some(s) if s.text != declared.text => problems.push(format!(
                "SYNOPSIS says {}\n    the header says {}",
                s.text, declared.text
            )),
            Some(_) => {}
        }
        let is_function = !declared.text.starts_with("typedef");
        if is_function && !described.contains(declared.name.as_str()) {
            problems.push(format!("FUNCTIONS has no entry for {}()", declared.name));
        }
    }
    let declared: BTreeSet<&str> = header.iter().map(|d| d.name.as_str()).collect();
    for s in &shown {
        if !declared.contains(s.name.as_str()) {
            problems.push(format!(
                "SYNOPSIS declares {}, which the header does not",
                s.name
            ));
        }
    }
    for name in &described {
        if !declared.contains(name) {
            problems.push(format!(
                "FUNCTIONS describes {name}(), which the header lacks"
            ));
        }
    }
    report("man/hamon.3 and include/hamon.h disagree", problems);
}

#[test]
fn hamon_3_names_every_constant_and_status_code_with_its_value() {
    let constants = sources::constants(&read("include/hamon.h"));
    let page = page("hamon.3");
    let text = page.text();
    let codes: BTreeSet<&str> = page.entries_in("ERRORS").map(|e| e.tag.as_str()).collect();
    let mut problems = Vec::new();
    let mut named = BTreeSet::new();
    for (name, value) in &constants {
        named.insert(name.as_str());
        if name.starts_with("HAMON_VERSION_") {
            // Their values are the version, which the page's title carries.
            if !words(&text).contains(name.as_str()) {
                problems.push(format!("{name} is not named"));
            }
            continue;
        }
        let shown = format!("{name} ({value})");
        if name == "HA_OK" || name.starts_with("HA_ERR_") || name.starts_with("HB_ERR_") {
            if !codes.contains(shown.as_str()) {
                problems.push(format!("ERRORS has no entry {shown}"));
            }
        } else if !text.contains(&shown) {
            problems.push(format!("{shown} is not named"));
        }
    }
    assert!(
        named.contains("HA_ERR_BIND"),
        "include/hamon.h read wrongly"
    );
    for code in &codes {
        let name = code.split_whitespace().next().unwrap_or_default();
        if !named.contains(name) {
            problems.push(format!("ERRORS lists {name}, which the header lacks"));
        }
    }
    report("man/hamon.3 and include/hamon.h disagree", problems);
}

/// Whether setting `key` to `value` on the defaults leaves every setting as it was.
fn changes_nothing(key: &str, value: &str) -> Result<(), String> {
    let defaults = Config::default();
    let mut set = defaults.clone();
    set.set(key, value)
        .map_err(|e| format!("{key}={value:?} is refused: {}", e.message))?;
    // Which timing keys were given is bookkeeping; the timing itself must be unchanged.
    set.heartbeat.timing_keys = defaults.heartbeat.timing_keys;
    if set == defaults {
        Ok(())
    } else {
        Err(format!("{key}={value:?} is not the default"))
    }
}

/// Each key of `kinds` has an entry in the sections of `page` whose names start with
/// `section`, with a default the configuration agrees with where the kind has defaults; the
/// page names no key the table lacks.
fn check_keys(page: &Page, section: &str, kinds: &[KeyKind], extra: &[String]) -> Vec<String> {
    let table = read("src/config/keys.rs");
    let keys = sources::keys(&table);
    // A key the reader missed would go unchecked: it must find every constructor.
    let constructors = ["Key::shown(", "Key::alias(", "Key::daemon("]
        .iter()
        .map(|c| table.matches(c).count())
        .sum::<usize>();
    assert_eq!(
        keys.len(),
        constructors,
        "src/config/keys.rs read wrongly: {keys:?}"
    );
    let entries: Vec<_> = page.entries_in(section).collect();
    let mut problems = Vec::new();
    for (key, kind) in keys.iter().filter(|(_, k)| kinds.contains(k)) {
        let known = Config::default()
            .set(key, "")
            .map_or_else(|e| e.kind != ConfigErrorKind::UnknownKey, |_| true);
        assert!(known, "{key} of the key table is unknown to Config::set");
        let Some(entry) = entries.iter().find(|e| e.subject() == key) else {
            problems.push(format!("{section} has no entry for {key}"));
            continue;
        };
        if *kind == KeyKind::Alias {
            continue;
        }
        let verdict = match &entry.default {
            None => Err(format!("{key}: no line `Default:`")),
            Some(Default::Literal(value)) => changes_nothing(key, value),
            Some(Default::Empty) => changes_nothing(key, ""),
            Some(Default::Described(_)) => Ok(()),
        };
        if let Err(problem) = verdict {
            problems.push(format!("{}: {problem}", page.file));
        }
    }
    for entry in &entries {
        let subject = entry.subject();
        if !keys.iter().any(|(k, _)| k == subject) && !extra.iter().any(|k| k == subject) {
            problems.push(format!(
                "{section} describes {subject}, which the key table lacks"
            ));
        }
    }
    problems
}

#[test]
fn ha_heartbeat_8_gives_every_hb_key_with_its_default() {
    let page = page("ha-heartbeat.8");
    let problems = check_keys(&page, "CONFIGURATION", &[KeyKind::Heartbeat], &[]);
    report(
        "man/ha-heartbeat.8 and src/config/keys.rs disagree",
        problems,
    );
}

#[test]
fn hamon_3_gives_every_ha_key_with_its_default() {
    let page = page("hamon.3");
    let table = read("src/config/keys.rs");
    let counters: Vec<String> = sources::counter_fields(&table)
        .iter()
        .map(|field| format!("ha.counter.NAME.{field}"))
        .collect();
    assert!(!counters.is_empty(), "COUNTER_FIELDS read wrongly");
    let mut problems = check_keys(
        &page,
        "PROPERTIES",
        &[KeyKind::Server, KeyKind::Alias],
        &counters,
    );
    let described: BTreeSet<&str> = page.entries_in("PROPERTIES").map(|e| e.subject()).collect();
    for key in &counters {
        if !described.contains(key.as_str()) {
            problems.push(format!("PROPERTIES has no entry for {key}"));
        }
    }
    report("man/hamon.3 and src/config/keys.rs disagree", problems);
}

/// The metric families of an exposition, with their types.
fn families(exposition: &str) -> Vec<(String, String)> {
    exposition
        .lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("# TYPE ")?.split_whitespace();
            Some((words.next()?.to_string(), words.next()?.to_string()))
        })
        .collect()
}

/// Each family has an entry in METRICS naming its type, and METRICS names no other.
fn check_metrics(page: &Page, families: &[(String, String)]) -> Vec<String> {
    assert!(families.len() > 3, "too few families: {families:?}");
    let entries: Vec<_> = page.entries_in("METRICS").collect();
    let mut problems = Vec::new();
    for (name, kind) in families {
        match entries.iter().find(|e| e.subject() == name) {
            None => problems.push(format!("METRICS has no entry for {name}")),
            Some(e) if !words(&e.tag).contains(kind.as_str()) => {
                problems.push(format!("METRICS: {} does not say {kind}", e.tag));
            }
            Some(_) => {}
        }
    }
    for entry in entries {
        if !families.iter().any(|(name, _)| name == entry.subject()) {
            problems.push(format!(
                "METRICS describes {}, which is not served",
                entry.subject()
            ));
        }
    }
    problems
}

#[test]
fn ha_heartbeat_8_names_every_metric_the_daemon_serves() {
    use hamon::heartbeat::core::Role;
    use hamon::heartbeat::observe::Liveness;
    use hamon::metrics::heartbeat::{Peer, Snapshot, exposition};
    // Everything present, so that no family is left out for want of a value.
    let text = exposition(&Snapshot {
        node: "dc1".into(),
        role: Role::Active,
        epoch: 3,
        lease_left: Some(Duration::from_secs(5)),
        last_write: Some(Duration::from_millis(2)),
        peers: vec![Peer {
            name: "dc2".into(),
            liveness: Liveness::Alive,
            changed_ago: Some(Duration::from_secs(1)),
        }],
        takeovers: 1,
        fences: 1,
        incidents: vec![("storage", 1)],
        uptime: Duration::from_secs(60),
    });
    let problems = check_metrics(&page("ha-heartbeat.8"), &families(&text));
    report(
        "man/ha-heartbeat.8 and the daemon's metrics disagree",
        problems,
    );
}

#[test]
fn hamon_3_names_every_metric_the_monitor_server_serves() {
    use hamon::monitor::Server;
    use hamon::monitor::check::Outcome;
    let mut cfg = Config::default();
    for (key, value) in [
        ("ha.port", "0"),
        ("ha.counter.tx.min", "1"),
        ("ha.counter.tx.max", "9"),
    ] {
        cfg.set(key, value).expect("settings");
    }
    let server = Server::start(&cfg).expect("the server starts on 127.0.0.1");
    server
        .add_check("db", Box::new(|| (Outcome::Up, String::new())), None)
        .expect("check");
    server.counter_add("tx", 1).expect("counter");
    let mut stream = TcpStream::connect(server.local_addr()).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    server.stop();
    assert!(reply.starts_with("HTTP/1.1 200 "), "{reply}");
    let problems = check_metrics(&page("hamon.3"), &families(&reply));
    report("man/hamon.3 and the server's metrics disagree", problems);
}

fn program(name: &str) -> Command {
    match name {
        "ha-probe" => Command::new(env!("CARGO_BIN_EXE_ha-probe")),
        "ha-heartbeat" => Command::new(env!("CARGO_BIN_EXE_ha-heartbeat")),
        other => panic!("no program {other}"),
    }
}

fn help(name: &str) -> String {
    let done = run_to_end(program(name).arg("--help"), PATIENCE);
    assert!(done.status.success(), "{}", done.show());
    done.stdout
}

/// Completes `words` (the last one being typed) with `completions/NAME.bash` in bash.
fn complete(name: &str, words: &[&str]) -> BTreeSet<String> {
    let function = format!("_{}", name.replace('-', "_"));
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source '{}' || exit 1\n\
         COMP_WORDS=({})\n\
         COMP_CWORD={}\n\
         {function}\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        root()
            .join("completions")
            .join(format!("{name}.bash"))
            .display(),
        quoted.join(" "),
        words.len() - 1
    );
    let done = run_to_end(
        Command::new("bash").args(["--norc", "-c", &script]),
        PATIENCE,
    );
    assert!(done.status.success(), "{}", done.show());
    done.stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn long(options: &BTreeSet<String>) -> BTreeSet<String> {
    options
        .iter()
        .filter(|o| o.starts_with("--"))
        .cloned()
        .collect()
}

/// The page has an entry for each option and command, and no entry for one the program
/// lacks; every choice of a list (`vcs|ocf|...`) is named.
fn check_page(name: &str, page: &Page, help: &str) -> Vec<String> {
    let options = sources::options(help);
    let commands = sources::commands(help);
    let mut problems = Vec::new();
    let tagged: BTreeSet<String> = page
        .entries
        .iter()
        .flat_map(|e| sources::options(&e.tag))
        .collect();
    for option in options.difference(&tagged) {
        problems.push(format!("no entry for {option}"));
    }
    for option in tagged.difference(&options) {
        problems.push(format!("an entry for {option}, which {name} --help lacks"));
    }
    let listed: BTreeSet<&str> = page.entries_in("COMMANDS").map(|e| e.subject()).collect();
    let known: BTreeSet<&str> = commands.iter().map(|(c, _)| c.as_str()).collect();
    for command in known.difference(&listed) {
        problems.push(format!("COMMANDS has no entry for {command}"));
    }
    for command in listed.difference(&known) {
        problems.push(format!(
            "COMMANDS lists {command}, which {name} --help lacks"
        ));
    }
    let text = page.text();
    for (_, choices) in sources::choices(help) {
        for choice in choices {
            if !words(&text).contains(choice.as_str()) {
                problems.push(format!("{choice} is not named"));
            }
        }
    }
    problems
}

#[test]
fn ha_probe_1_and_its_completion_name_every_option() {
    let help = help("ha-probe");
    let options = sources::options(&help);
    assert!(options.contains("--port"), "ha-probe --help read wrongly");
    let mut problems = check_page("ha-probe", &page("ha-probe.1"), &help);
    let offered = complete("ha-probe", &["ha-probe", ""]);
    if offered != long(&options) {
        problems.push(format!(
            "completion offers {offered:?}, --help names {:?}",
            long(&options)
        ));
    }
    for (option, choices) in sources::choices(&help) {
        let offered = complete("ha-probe", &["ha-probe", &option, ""]);
        let choices: BTreeSet<String> = choices.into_iter().collect();
        if offered != choices {
            problems.push(format!(
                "completion of {option} offers {offered:?}, --help names {choices:?}"
            ));
        }
    }
    report(
        "man/ha-probe.1 or completions/ha-probe.bash and --help disagree",
        problems,
    );
}

#[test]
fn ha_heartbeat_8_and_its_completion_name_every_command_and_option() {
    let help = help("ha-heartbeat");
    let commands = sources::commands(&help);
    assert!(
        commands.iter().any(|(c, _)| c == "switchover"),
        "ha-heartbeat --help read wrongly: {commands:?}"
    );
    let options = sources::options(&help);
    let mut problems = check_page("ha-heartbeat", &page("ha-heartbeat.8"), &help);
    // Options of no command are the program's own: --config, --help, --version.
    let per_command: BTreeSet<String> = commands.iter().flat_map(|(_, o)| o.clone()).collect();
    let global: BTreeSet<String> = long(&options).difference(&per_command).cloned().collect();
    let mut first: BTreeSet<String> = commands.iter().map(|(c, _)| c.clone()).collect();
    first.extend(global.iter().cloned());
    let offered = complete("ha-heartbeat", &["ha-heartbeat", ""]);
    if offered != first {
        problems.push(format!(
            "completion offers {offered:?} first, --help names {first:?}"
        ));
    }
    let choices = sources::choices(&help);
    for (command, own) in &commands {
        let mut expected = long(own);
        expected.insert("--config".to_string());
        let offered = complete("ha-heartbeat", &["ha-heartbeat", command, "--"]);
        if offered != expected {
            problems.push(format!(
                "completion after {command} offers {offered:?}, --help names {expected:?}"
            ));
        }
        for (_, list) in choices.iter().filter(|(word, _)| word == command) {
            let offered = complete("ha-heartbeat", &["ha-heartbeat", command, ""]);
            for choice in list {
                if !offered.contains(choice) {
                    problems.push(format!("completion after {command} lacks {choice}"));
                }
            }
        }
    }
    report(
        "man/ha-heartbeat.8 or completions/ha-heartbeat.bash and --help disagree",
        problems,
    );
}

#[test]
fn both_programs_print_their_name_and_the_version() {
    for name in ["ha-probe", "ha-heartbeat"] {
        let done = run_to_end(program(name).arg("--version"), PATIENCE);
        assert!(done.status.success(), "{}", done.show());
        assert_eq!(
            done.stdout,
            format!("{name} {}\n", env!("CARGO_PKG_VERSION")),
            "{name} --version"
        );
    }
}

#[test]
fn every_page_renders_without_a_warning_and_names_this_version() {
    let mut pages: Vec<_> = fs::read_dir(root().join("man"))
        .expect("man/")
        .map(|entry| entry.expect("entry").path())
        .collect();
    pages.sort();
    assert!(pages.len() >= 3, "{pages:?}");
    let mut problems = Vec::new();
    for path in pages {
        let done = run_to_end(
            Command::new("groff")
                .args(["-man", "-Tutf8", "-ww", "-z"])
                .arg(&path),
            PATIENCE,
        );
        if !done.status.success() || !done.stderr.is_empty() || !done.stdout.is_empty() {
            problems.push(format!("{}: {}", path.display(), done.show()));
        }
        let source = fs::read_to_string(&path).expect("page");
        let title = source.lines().next().unwrap_or_default();
        let version = format!("\"hamon {}\"", env!("CARGO_PKG_VERSION"));
        if !title.starts_with(".TH ") || !title.contains(&version) {
            problems.push(format!(
                "{}: title {title:?} lacks {version}",
                path.display()
            ));
        }
    }
    report("pages that do not render clean", problems);
}
