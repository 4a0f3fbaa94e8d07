//! `ha-heartbeat events [--since DURATION] [--json] [--cluster]`: this node's decision
//! journal (`journal`), oldest first, as lines for a person or as JSON lines for a program;
//! with `--cluster`, merged with what the other nodes published (`gather`).

use std::process::ExitCode;
use std::time::Duration;

use hamon::heartbeat::admin::wall_ms;
use hamon::heartbeat::node::NodeSettings;

use crate::gather::{self, History};
use crate::journal::{self, Event};

pub fn command(s: &NodeSettings, since: Option<Duration>, json: bool, cluster: bool) -> ExitCode {
    let (mut events, bad) = match journal::read(&s.state_dir) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("ha-heartbeat: cannot read the journal: {e}");
            return ExitCode::FAILURE;
        }
    };
    if cluster {
        events.reverse();
        match with_peers(s, events) {
            Ok(h) => {
                for n in &h.notes {
                    eprintln!("ha-heartbeat: {n}");
                }
                events = h.events;
                events.reverse();
            }
            Err(e) => {
                eprintln!("ha-heartbeat: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
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

/// `local` (newest first) merged with the other nodes' published events, read on a thread
/// of its own and waited for at most the I/O timeout (never less than 2 s, as the other
/// commands wait): a hung share costs the command that, not a hang.
fn with_peers(s: &NodeSettings, local: Vec<Event>) -> Result<History, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let settings = s.clone();
    std::thread::Builder::new()
        .name("hb-events-read".into())
        .spawn(move || {
            let _ = tx.send(gather::gather(&settings, local, usize::MAX));
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    let wait = s.timing.io_timeout.max(Duration::from_secs(2));
    rx.recv_timeout(wait).map_err(|_| {
        format!(
            "the other nodes' events were not read within {} ms ({}): the storage does not \
             answer",
            wait.as_millis(),
            s.storage()
        )
    })
}
