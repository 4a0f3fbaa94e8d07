//! `ha-heartbeat events [--since DURATION] [--json]`: this node's decision journal
//! (`journal`), oldest first, as lines for a person or as JSON lines for a program.

use std::process::ExitCode;
use std::time::Duration;

use hamon::heartbeat::admin::wall_ms;
use hamon::heartbeat::node::NodeSettings;

use crate::journal;

pub fn command(s: &NodeSettings, since: Option<Duration>, json: bool) -> ExitCode {
    let (events, bad) = match journal::read(&s.state_dir) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("ha-heartbeat: cannot read the journal: {e}");
            return ExitCode::FAILURE;
        }
    };
    let from = since.map_or(0, |d| wall_ms().saturating_sub(d.as_millis() as u64));
    for ev in events.iter().filter(|e| e.time_ms >= from) {
        if json {
            print!("{}", ev.to_json());
        } else {
            println!("{}", ev.line());
        }
    }
    if bad > 0 {
        eprintln!(
            "ha-heartbeat: {bad} line(s) of {} are not events (left out)",
            journal::path(&s.state_dir).display()
        );
    }
    if events.is_empty() && !json {
        eprintln!(
            "ha-heartbeat: no events yet in {}",
            journal::path(&s.state_dir).display()
        );
    }
    ExitCode::SUCCESS
}
