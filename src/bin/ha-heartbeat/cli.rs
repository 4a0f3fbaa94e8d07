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
  maintenance on|off        FREEZE (nobody takes over or hands over) / back to normal
  drain [NODE]              NODE (default: this node) never takes over
  undrain [NODE]            undo drain
  switchover [--to NODE] [--force]
                            the active hands over to NODE (default: the other of two);
                            refused for a drained, dead or unknown NODE unless --force
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

/// `30s` or `30000ms`: a unit is required, since the `hb.*_ms` keys count milliseconds and
/// a bare number would be read one way or the other by mistake.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("--watch={s}: give a duration such as 30s or 30000ms");
    let (number, unit) = s
        .strip_suffix("ms")
        .map(|n| (n, 1))
        .or_else(|| s.strip_suffix('s').map(|n| (n, 1000)))
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
            "--json" => json = true,
            "--watch" => watch = Some(Watch::Full),
            s if s.starts_with("--watch=") => watch = Some(Watch::For(parse_duration(&s[8..])?)),
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
        return Err("--json belongs to status only".to_string());
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
    Ok(Parsed::Command(Cli { command, config }))
}

/// The exit code of a usage error: `status` answers as a Nagios-style check, which reads a
/// check it called wrongly as UNKNOWN (3); every other command exits 2.
pub fn usage_error_code(args: &[String]) -> u8 {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            // Their value is not the command.
            "--config" | "-c" | "--to" | "--log-file" => {
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
}
