//! Argument parsing for `ha-heartbeat` (no dependencies: the grammar is small).

use std::path::PathBuf;

pub const USAGE: &str = "\
usage: ha-heartbeat COMMAND --config FILE
commands:
  init                      create the records in hb.dir (once, before the first run)
  run                       run this node: supervise the application (the service)
  status                    print every node; exit 0 when exactly one is active
  maintenance on|off        FREEZE (nobody takes over or hands over) / back to normal
  drain [NODE]              NODE (default: this node) never takes over
  undrain [NODE]            undo drain
  switchover [--to NODE]    the active hands over to NODE (default: the other of two)";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Init,
    Run,
    Status,
    Maintenance(bool),
    Drain(Option<String>, bool),
    Switchover(Option<String>),
    /// Internal: the fencing backstop, spawned by `run`.
    Guard,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cli {
    pub command: Command,
    pub config: Option<PathBuf>,
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Cli, String> {
    let mut config = None;
    let mut to = None;
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
            "-h" | "--help" => return Err(USAGE.to_string()),
            s if s.starts_with("--config=") => config = Some(PathBuf::from(&s[9..])),
            s if s.starts_with("--to=") => to = Some(s[5..].to_string()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}\n{USAGE}")),
            _ => words.push(a.as_str()),
        }
    }
    let command = match words.as_slice() {
        ["guard"] => Command::Guard,
        ["init"] => Command::Init,
        ["run"] => Command::Run,
        ["status"] => Command::Status,
        ["maintenance", "on"] => Command::Maintenance(true),
        ["maintenance", "off"] => Command::Maintenance(false),
        ["drain"] => Command::Drain(None, true),
        ["drain", n] => Command::Drain(Some(n.to_string()), true),
        ["undrain"] => Command::Drain(None, false),
        ["undrain", n] => Command::Drain(Some(n.to_string()), false),
        ["switchover"] => Command::Switchover(to.take()),
        [] => return Err(USAGE.to_string()),
        _ => return Err(format!("cannot understand: {}\n{USAGE}", words.join(" "))),
    };
    if to.is_some() {
        return Err("--to belongs to switchover only".to_string());
    }
    if command != Command::Guard && config.is_none() {
        return Err(format!("--config FILE is required\n{USAGE}"));
    }
    Ok(Cli { command, config })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Cli, String> {
        parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
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
            Command::Switchover(Some("n1".into()))
        );
        assert_eq!(
            p("maintenance on -c x").unwrap().command,
            Command::Maintenance(true)
        );
        assert_eq!(p("guard").unwrap().command, Command::Guard);
        assert!(p("run").is_err());
        assert!(p("maintenance maybe -c x").is_err());
        assert!(p("status --to x -c x").is_err());
    }
}
