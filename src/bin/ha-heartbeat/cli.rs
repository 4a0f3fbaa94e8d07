//! Argument parsing for `ha-heartbeat` (no dependencies: the grammar is small).

use std::path::PathBuf;

pub const USAGE: &str = "\
usage: ha-heartbeat COMMAND --config FILE
       ha-heartbeat --help | --version
commands:
  init                      create the records in hb.dir, or the maintenance key on etcd
                            (once, before the first run)
  run                       run this node: supervise the application (the service)
  status [--json]           print every node (--json: one JSON object, for monitoring);
                            exit 0 one active and healthy, 1 degraded, 2 none or several
                            active, 3 cannot tell (not initialised)
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
    },
    Maintenance(bool),
    Drain(Option<String>, bool),
    /// The node to hand over to, and `--force`.
    Switchover(Option<String>, bool),
    /// Internal: the fencing backstop, spawned by `run`, logging to the file given.
    Guard(Option<PathBuf>),
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
            Command::Status { json: true }
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
