//! The status page on the metrics listener (docs/heartbeat.md, "The status page"): `/`
//! is HTML for a person, `/status.json` the same data for a program (the fields of
//! `status --json`, plus `events`). Both are read-only and come from what the daemon already
//! knows plus one read of the records at a time:
//!
//! - the records and the maintenance record are read the way `ha-heartbeat status` reads
//!   them, on a thread of their own, at most once a period and only while someone looks
//!   (never on the daemon's loop, never on the listener's thread: a hung share cannot hold
//!   up either; a request gets the last read);
//! - on the file backend, whether a daemon is alive is what this daemon saw its record do
//!   (it reads them every period anyway), published by the loop each turn;
//! - the last events come from this node's journal.

pub mod escape;
pub mod render;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hamon::heartbeat::node::NodeSettings;
use hamon::monitor::render::json_str;

use crate::journal::Event;
use crate::status::model::{BackingOff, ClusterStatus, Liveness};
use crate::status::{self, json};

/// A read of the records older than this (or a period, when longer) is read again.
const FRESH: Duration = Duration::from_millis(500);

pub struct Page {
    settings: NodeSettings,
    events: Arc<Mutex<VecDeque<Event>>>,
    /// File backend: per node, how long ago this daemon saw its record change (None: not
    /// within the takeover time), published every turn.
    seen: Mutex<Vec<(String, Option<Duration>)>>,
    last: Mutex<Option<(Instant, ClusterStatus)>>,
    reading: Arc<AtomicBool>,
}

impl Page {
    pub fn new(settings: NodeSettings, events: Arc<Mutex<VecDeque<Event>>>) -> Arc<Page> {
        Arc::new(Page {
            settings,
            events,
            seen: Mutex::new(Vec::new()),
            last: Mutex::new(None),
            reading: Arc::new(AtomicBool::new(false)),
        })
    }

    /// What the loop saw of the records this turn.
    pub fn publish_seen(&self, seen: Vec<(String, Option<Duration>)>) {
        if let Ok(mut s) = self.seen.lock() {
            *s = seen;
        }
    }

    /// The last read, judged with what the daemon saw; starts a new read when it is old.
    fn status(self: &Arc<Self>) -> Option<ClusterStatus> {
        let last = self.last.lock().ok()?.clone();
        let fresh = FRESH.max(self.settings.timing.period);
        if last.as_ref().is_none_or(|(at, _)| at.elapsed() >= fresh)
            && !self.reading.swap(true, Ordering::AcqRel)
        {
            let page = self.clone();
            let spawned = std::thread::Builder::new()
                .name("hb-page-read".into())
                .spawn(move || {
                    let c = page.read();
                    if let Ok(mut l) = page.last.lock() {
                        *l = Some((Instant::now(), c));
                    }
                    page.reading.store(false, Ordering::Release);
                });
            if spawned.is_err() {
                self.reading.store(false, Ordering::Release);
            }
        }
        let (_, mut c) = last?;
        if c.etcd.is_none()
            && let Ok(seen) = self.seen.lock()
        {
            // The records were read once; the daemon has watched them all along.
            c.liveness = Liveness::Watched;
            c.observed = self.settings.timing.takeover;
            for n in &mut c.nodes {
                n.changed_within = seen
                    .iter()
                    .find(|(name, _)| *name == n.name)
                    .and_then(|(_, d)| *d);
            }
        }
        c.backing_off = BackingOff::load(&self.settings);
        Some(c)
    }

    fn read(&self) -> ClusterStatus {
        let s = &self.settings;
        let full = status::full_window(s);
        if s.on_etcd() {
            status::observe_backend(s, full)
        } else {
            status::file::read_once(s, full)
        }
    }

    /// The last events, newest first.
    fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .map(|e| e.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    pub fn html(self: &Arc<Self>) -> String {
        render::page(
            self.status().as_ref(),
            &self.settings.node,
            &self.settings.storage(),
            &self.events(),
        )
    }

    /// `status --json`'s object with `events` (newest first) added.
    pub fn json(self: &Arc<Self>) -> String {
        let base = match self.status() {
            Some(c) => json::render_json(&c, &self.settings.node),
            None => json::render_json_unknown("the records have not been read yet"),
        };
        let events: Vec<String> = self
            .events()
            .iter()
            .map(|e| e.to_json().trim_end().to_string())
            .collect();
        let base = base.trim_end();
        let base = base.strip_suffix('}').unwrap_or(base);
        format!(
            "{base},\"storage\":{},\"events\":[{}]}}\n",
            json_str(&self.settings.storage()),
            events.join(",")
        )
    }
}
