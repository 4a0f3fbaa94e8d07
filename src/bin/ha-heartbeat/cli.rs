//! Argument parsing for `ha-heartbeat` (no dependencies: the grammar is small).

use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "\
usage: ha-heartbeat COMMAND --config FILE
       ha-heartbeat --help | --version
commands:
  init                      create the records in hb.dir, or the maintenance key on etcd
                            (once, before the first run)
  run                       run this node: supervise the application (the service)
  status [--json] [--watch[=DURATION]]
                            print every node at once from the records (--json: one JSON
                            object, for monitoring); --watch: read them again until each
                            has changed, up to 2 periods + 2 I/O timeouts (or DURATION, such
                            as 30s or 30000ms), to see which daemons are alive; exit 0 one
                            active and healthy, 1 degraded, 2 none or several active, 3
                            cannot tell (not watched, not initialised, bad configuration)
  maintenance on|off [--reason TEXT]
                            FREEZE (nobody takes over or hands over) / back to normal
  drain [NODE] [--reason TEXT]
                            NODE (default: this node) never takes over
  undrain [NODE] [--reason TEXT]
                            undo drain
  switchover [--to NODE] [--force] [--reason TEXT]
                            the active hands over to NODE (default: the other of two);
                            refused for a drained, dead or unknown NODE unless --force;
                            --reason: why, kept in the maintenance record (status, the
                            status page) and in this node's journal (events)
  events [--since DURATION] [--json] [--cluster]
                            this node's journal of decisions, oldest first (--since: only
                            the last DURATION, such as 90s, 30m or 2h; --json: JSON lines;
                            --cluster: with the events the other nodes published)
options:
  -c, --config FILE         the properties file with the hb.* keys
  -h, --help                this text
  -V, --version             the version
See docs/heartbeat.md.";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Init,
    Run,
    Status {
        json: bool,
        /// None: read the records once.
        watch: Option<Watch>,
    },
    Maintenance(bool),
    Drain(Option<String>, bool),
    /// The node to hand over to, and `--force`.
    Switchover(Option<String>, bool),
    /// The journal: only the last `since`, as JSON lines, with the other nodes' published
    /// events (`cluster`).
    Events {
        since: Option<Duration>,
        json: bool,
        cluster: bool,
    },
    /// Internal: the fencing backstop, spawned by `run`, logging to the file given.
    Guard(Option<PathBuf>),
}

/// `status --watch[=DURATION]`: how long to watch the records for changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Watch {
    /// Until each has changed, or 2 periods + 2 I/O timeouts passed.
    Full,
    /// Until each has changed, or this long passed.
    For(Duration),
}

/// `30s` or `30000ms` (and, when `long` allows it, `30m` or `2h`): a unit is required,
/// since the `hb.*_ms` keys count milliseconds and a bare number would be read one way or
/// the other by mistake. `opt` names the option in the error.
fn parse_duration(opt: &str, s: &str, long: bool) -> Result<Duration, String> {
    let bad = || {
        let example = if long {
            "90s, 30m or 2h"
        } else {
            "30s or 30000ms"
        };
        format!("{opt}={s}: give a duration such as {example}")
    };
    let mut units = vec![("ms", 1), ("s", 1000)];
    if long {
        units.extend([("m", 60_000), ("h", 3_600_000)]);
    }
    let (number, unit) = units
        .iter()
        .find_map(|(suffix, unit)| s.strip_suffix(suffix).map(|n| (n, *unit)))
        .ok_or_else(bad)?;
    let n: u64 = number.parse().map_err(|_| bad())?;
    n.checked_mul(unit)
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .ok_or_else(bad)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cli {
    pub command: Command,
    pub config: Option<PathBuf>,
    /// `--reason TEXT` of an operator's command.
    pub reason: Option<String>,
}

/// What the arguments ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// `--help`: the usage on stdout, exit 0.
    Help,
    /// `--version`: the version on stdout, exit 0.
    Version,
    Command(Cli),
}

/// `ha-heartbeat VERSION`.
pub fn version() -> String {
    format!("ha-heartbeat {}", env!("CARGO_PKG_VERSION"))
}

/// Parses the arguments after the program name. An error is one line without the program
/// name (the caller prefixes `ha-heartbeat: `).
pub fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut config = None;
    let mut to = None;
    let mut log_file = None;
    let mut json = false;
    let mut watch = None;
    let mut force = false;
    let mut since = None;
    let mut cluster = false;
    let mut reason = None;
    let mut words = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config" | "-c" => {
                config = Some(PathBuf::from(
                    it.next().ok_or("--config needs a file")?.as_str(),
                ))
            }
            "--to" => to = Some(it.next().ok_or("--to needs a node name")?.clone()),
            "--log-file" => {
                log_file = Some(PathBuf::from(
                    it.next().ok_or("--log-file needs a file")?.as_str(),
                ))
            }
            "--reason" => reason = Some(it.next().ok_or("--reason needs a text")?.clone()),
            s if s.starts_with("--reason=") => reason = Some(s[9..].to_string()),
            "--since" => {
                let d = it.next().ok_or("--since needs a duration")?;
                since = Some(parse_duration("--since", d, true)?);
            }
            s if s.starts_with("--since=") => {
                since = Some(parse_duration("--since", &s[8..], true)?)
            }
            "--json" => json = true,
            "--cluster" => cluster = true,
            "--watch" => watch = Some(Watch::Full),
            s if s.starts_with("--watch=") => {
                watch = Some(Watch::For(parse_duration("--watch", &s[8..], false)?))
            }
            "--force" => force = true,
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            s if s.starts_with("--config=") => config = Some(PathBuf::from(&s[9..])),
            s if s.starts_with("--to=") => to = Some(s[5..].to_string()),
            s if s.starts_with("--log-file=") => log_file = Some(PathBuf::from(&s[11..])),
            s if s.starts_with('-') => {
                return Err(format!("unknown option {s} (see ha-heartbeat --help)"));
            }
            _ => words.push(a.as_str()),
        }
    }
    let command = match words.as_slice() {
        ["guard"] => Command::Guard(log_file.take()),
        ["init"] => Command::Init,
        ["run"] => Command::Run,
        ["status"] => Command::Status {
            json: std::mem::take(&mut json),
            watch: watch.take(),
        },
        ["maintenance", "on"] => Command::Maintenance(true),
        ["maintenance", "off"] => Command::Maintenance(false),
        ["drain"] => Command::Drain(None, true),
        ["drain", n] => Command::Drain(Some(n.to_string()), true),
        ["undrain"] => Command::Drain(None, false),
        ["undrain", n] => Command::Drain(Some(n.to_string()), false),
        ["switchover"] => Command::Switchover(to.take(), std::mem::take(&mut force)),
        ["events"] => Command::Events {
            since: since.take(),
            json: std::mem::take(&mut json),
            cluster: std::mem::take(&mut cluster),
        },
        [] => return Err("no command given (see ha-heartbeat --help)".to_string()),
        _ => {
            return Err(format!(
                "cannot understand: {} (see ha-heartbeat --help)",
                words.join(" ")
            ));
        }
    };
    if to.is_some() {
        return Err("--to belongs to switchover only".to_string());
    }
    if json {
        return Err("--json belongs to status and events only".to_string());
    }
    if since.is_some() {
        return Err("--since belongs to events only".to_string());
    }
    if cluster {
        return Err("--cluster belongs to events only".to_string());
    }
    let operator = matches!(
        command,
        Command::Maintenance(_) | Command::Drain(..) | Command::Switchover(..)
    );
    if reason.is_some() && !operator {
        return Err(
            "--reason belongs to maintenance, drain, undrain and switchover only".to_string(),
        );
    }
    if let Some(r) = &reason
        && (r.trim().is_empty() || r.chars().any(char::is_control))
    {
        return Err("--reason needs a text on one line".to_string());
    }
    if watch.is_some() {
        return Err("--watch belongs to status only".to_string());
    }
    if force {
        return Err("--force belongs to switchover only".to_string());
    }
    if log_file.is_some() {
        return Err("--log-file is for the guard only".to_string());
    }
    if !matches!(command, Command::Guard(_)) && config.is_none() {
        return Err("--config FILE is required (see ha-heartbeat --help)".to_string());
    }
    Ok(Parsed::Command(Cli {
        command,
        config,
        reason,
    }))
}

/// The exit code of a usage error: `status` answers as a Nagios-style check, which reads a
/// check it called wrongly as UNKNOWN (3); every other command exits 2.
pub fn usage_error_code(args: &[String]) -> u8 {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            // Their value is not the command.
            "--config" | "-c" | "--to" | "--log-file" | "--reason" | "--since" => {
                it.next();
            }
            s if s.starts_with('-') => {}
            "status" => return 3,
            _ => return 2,
        }
    }
    2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Cli, String> {
        match parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())? {
            Parsed::Command(c) => Ok(c),
            other => Err(format!("{other:?}")),
        }
    }

    fn raw(s: &str) -> Result<Parsed, String> {
        parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn help_version_and_json() {
        assert_eq!(raw("--help"), Ok(Parsed::Help));
        assert_eq!(raw("status -h -c x"), Ok(Parsed::Help));
        assert_eq!(raw("--version"), Ok(Parsed::Version));
        assert_eq!(
            p("status --json -c x").unwrap().command,
            Command::Status {
                json: true,
                watch: None
            }
        );
        assert!(p("run --json -c x").is_err());
        assert_eq!(
            p("guard --log-file /x").unwrap().command,
            Command::Guard(Some("/x".into()))
        );
        assert_eq!(
            p("guard --log-file=/x").unwrap().command,
            Command::Guard(Some("/x".into()))
        );
        assert!(p("run --log-file /x -c y").is_err());
        assert!(raw("").unwrap_err().contains("--help"));
    }

    #[test]
    fn watch_and_its_duration() {
        let watch = |s: &str| match p(s)?.command {
            Command::Status { watch, .. } => Ok(watch),
            other => Err(format!("{other:?}")),
        };
        assert_eq!(watch("status -c x"), Ok(None));
        assert_eq!(watch("status --watch -c x"), Ok(Some(Watch::Full)));
        assert_eq!(
            watch("status --watch=30s -c x"),
            Ok(Some(Watch::For(Duration::from_secs(30))))
        );
        assert_eq!(
            watch("status --json --watch=2500ms -c x"),
            Ok(Some(Watch::For(Duration::from_millis(2500))))
        );
        for bad in ["30", "s", "0s", "-5s", "1.5s", "30m"] {
            let e = watch(&format!("status --watch={bad} -c x")).unwrap_err();
            assert!(
                e.contains(&format!("--watch={bad}: give a duration")),
                "{e}"
            );
        }
        assert!(p("run --watch -c x").unwrap_err().contains("status only"));
    }

    #[test]
    fn a_status_used_wrongly_is_unknown_to_a_check() {
        let code =
            |s: &str| usage_error_code(&s.split_whitespace().map(String::from).collect::<Vec<_>>());
        assert_eq!(code("status --bogus -c x"), 3);
        assert_eq!(code("-c status run --bogus"), 2);
        assert_eq!(code("--config=x status --watch=1"), 3);
        assert_eq!(code("switchover --to status"), 2);
        assert_eq!(code(""), 2);
    }

    #[test]
    fn commands() {
        assert_eq!(p("run --config a").unwrap().command, Command::Run);
        assert_eq!(
            p("-c a drain n2").unwrap().command,
            Command::Drain(Some("n2".into()), true)
        );
        assert_eq!(
            p("switchover --to n1 --config=x").unwrap().command,
            Command::Switchover(Some("n1".into()), false)
        );
        assert_eq!(
            p("switchover --force -c x").unwrap().command,
            Command::Switchover(None, true)
        );
        assert!(p("status --force -c x").is_err());
        assert_eq!(
            p("maintenance on -c x").unwrap().command,
            Command::Maintenance(true)
        );
        assert_eq!(p("guard").unwrap().command, Command::Guard(None));
        assert!(p("run").is_err());
        assert!(p("maintenance maybe -c x").is_err());
        assert!(p("status --to x -c x").is_err());
    }

    #[test]
    fn events_and_reasons() {
        assert_eq!(
            p("events -c x").unwrap().command,
            Command::Events {
                since: None,
                json: false,
                cluster: false
            }
        );
        assert_eq!(
            p("events --since 2h --json -c x").unwrap().command,
            Command::Events {
                since: Some(Duration::from_secs(7200)),
                json: true,
                cluster: false
            }
        );
        assert_eq!(
            p("events --since=90s -c x").unwrap().command,
            Command::Events {
                since: Some(Duration::from_secs(90)),
                json: false,
                cluster: false
            }
        );
        assert_eq!(
            p("events --cluster -c x").unwrap().command,
            Command::Events {
                since: None,
                json: false,
                cluster: true
            }
        );
        assert!(
            p("status --cluster -c x")
                .unwrap_err()
                .contains("--cluster belongs to events only")
        );
        let e = p("events --since 5x -c x").unwrap_err();
        assert!(
            e.contains("--since=5x: give a duration such as 90s, 30m or 2h"),
            "{e}"
        );
        assert!(
            p("status --since 1h -c x")
                .unwrap_err()
                .contains("events only")
        );
        let c = parse(&[
            "maintenance".to_string(),
            "on".to_string(),
            "--reason".to_string(),
            "kernel update, ticket 42".to_string(),
            "-c".to_string(),
            "x".to_string(),
        ])
        .unwrap();
        match c {
            Parsed::Command(c) => assert_eq!(c.reason.as_deref(), Some("kernel update, ticket 42")),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            p("drain n2 --reason=disk -c x").unwrap().reason.as_deref(),
            Some("disk")
        );
        assert!(
            p("run --reason x -c x")
                .unwrap_err()
                .contains("--reason belongs")
        );
        assert!(p("status --reason x -c x").is_err());
        assert!(
            p("drain --reason")
                .unwrap_err()
                .contains("--reason needs a text")
        );
    }
}
