//! `ha-heartbeat status`: what the records say, at once. On the file backend a record keeps
//! its last state after its daemon stops, so liveness shows only in records changing: the
//! records are read once unless `--watch` asks to read them again until each has changed
//! (file.rs). On etcd one read of the cluster's keys is enough: a node's status key lives
//! only as long as its daemon's lease (etcd.rs). verdict.rs judges, text.rs and json.rs
//! print.

#[cfg(feature = "etcd")]
pub mod etcd;
pub mod file;
pub mod json;
pub mod model;
pub mod text;
pub mod verdict;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use hamon::heartbeat::node::NodeSettings;

use crate::cli::Watch;
pub use model::{ClusterStatus, maint_name, state_name};

/// The watch that judges every node on the file backend: 2 periods + 2 I/O timeouts, in
/// which a live daemon writes its record at least once.
pub fn full_window(s: &NodeSettings) -> Duration {
    s.timing.period * 2 + s.timing.io_timeout * 2
}

/// What the node's backend shows with liveness judged: one read of etcd, or the records
/// watched for `window`.
pub fn observe_backend(s: &NodeSettings, window: Duration) -> ClusterStatus {
    #[cfg(feature = "etcd")]
    if let Some(e) = &s.etcd {
        return etcd::observe(s, e);
    }
    file::watch(s, window)
}

/// `status` could not look: its options or its configuration are wrong. A Nagios-style
/// check reads that as UNKNOWN, not as a verdict on the cluster.
pub fn cannot_look(why: &str, json: bool) -> ExitCode {
    eprintln!("ha-heartbeat: {why}");
    if json {
        print!("{}", json::render_json_unknown(why));
    }
    ExitCode::from(verdict::UNKNOWN)
}

/// Says at once what a watch waits for, when someone watches the terminal (a check run
/// over ssh reads anything on stderr as a failure, and has no terminal).
fn announce_watch(window: Duration) {
    // SAFETY: isatty only inspects the descriptor.
    if unsafe { libc::isatty(2) } == 1 {
        eprintln!(
            "ha-heartbeat: watching the records for up to {} ms to see which daemons are alive",
            window.as_millis()
        );
    }
}

/// Runs `ha-heartbeat status`; `config` names the file in messages.
pub fn command(s: &NodeSettings, config: &Path, json: bool, watch: Option<Watch>) -> ExitCode {
    let full = full_window(s);
    let c = if s.on_etcd() {
        // Leases already judge liveness: --watch adds nothing.
        observe_backend(s, full)
    } else {
        match watch {
            None => file::read_once(s, full),
            Some(Watch::Full) => {
                announce_watch(full);
                file::watch(s, full)
            }
            Some(Watch::For(d)) if d < full => {
                return cannot_look(
                    &format!(
                        "--watch={}ms is shorter than 2 x hb.period_ms + 2 x hb.io_timeout_ms \
                         = {} ms: a live daemon may not write its record in that time (--watch \
                         alone watches that long)",
                        d.as_millis(),
                        full.as_millis()
                    ),
                    json,
                );
            }
            Some(Watch::For(d)) => {
                announce_watch(d);
                file::watch(s, d)
            }
        }
    };
    let v = verdict::verdict(&c);
    if json {
        print!("{}", json::render_json(&c, &s.node));
    } else if s.on_etcd() && v.code == verdict::UNKNOWN {
        eprintln!("ha-heartbeat: {}", v.problems.join("; "));
    } else if !s.on_etcd() && verdict::not_initialised(&c) {
        eprintln!(
            "ha-heartbeat: hb.dir {} holds no records: run `ha-heartbeat init --config {}` \
             first (once, on one node)",
            s.dir.display(),
            config.display()
        );
    } else {
        print!("{}", text::render(&c, &s.node));
        println!("{}", s.timing_line());
    }
    ExitCode::from(v.code)
}
