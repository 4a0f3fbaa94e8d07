//! The status page on the metrics listener (docs/heartbeat.md, "The status page"): `/`
//! is HTML for a person, `/status.json` the same data for a program (the fields of
//! `status --json`, plus `events`). Both are read-only and come from what the daemon already
//! knows plus one read of the records at a time:
//!
//! - the records and the maintenance record are read the way `ha-heartbeat status` reads
//!   them, one read at a time on a thread of its own, at most once a period and only while
//!   someone looks (never on the daemon's loop, never on the listener's thread: a hung
//!   share cannot hold up either, and holds only that thread; a request gets the last read,
//!   and is told its age when it is old);
//! - on the file backend, whether a daemon is alive is what this daemon saw its record do
//!   (it reads them every period anyway), published by the loop each turn;
//! - the last events are the cluster's: this node's journal and what the other nodes
//!   published (`gather`), read with the records, on the same thread.

pub mod escape;
pub mod render;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hamon::heartbeat::node::NodeSettings;
use hamon::monitor::render::json_str;

use crate::gather;
use crate::journal::{self, Event};
use crate::publish;
use crate::status::model::{BackingOff, ClusterStatus, Liveness};
use crate::status::{self, json};

/// A read of the records older than this (or a period, when longer) is read again.
const FRESH: Duration = Duration::from_millis(500);
/// The events the page shows.
const EVENTS: usize = 40;

/// What this daemon knows of itself that no record says.
#[derive(Clone, Debug, Default)]
pub struct Own {
    /// Its role (`standby`, `claiming`, `active`, `stopping`).
    pub role: &'static str,
    /// Time left on its lease, while it holds one.
    pub lease_left: Option<Duration>,
    /// How long its last renewal (record write; on etcd the keepalive) took.
    pub write_latency: Option<Duration>,
}

impl Own {
    fn json(&self) -> String {
        let ms = |d: Option<Duration>| d.map_or("null".into(), |d| d.as_millis().to_string());
        format!(
            "{{\"role\":{},\"lease_left_ms\":{},\"write_latency_ms\":{}}}",
            json_str(self.role),
            ms(self.lease_left),
            ms(self.write_latency)
        )
    }
}

/// What a request gets: the last read, judged, and how old it is.
struct Seen {
    cluster: ClusterStatus,
    events: Vec<Event>,
    /// Whose events are not shown and why; what goes wrong publishing this node's.
    notes: Vec<String>,
    /// Some(age): the read is older than a few periods (the storage does not answer).
    stale: Option<Duration>,
}

/// One read: the records and the last events.
#[derive(Clone)]
struct Read {
    at: Instant,
    cluster: ClusterStatus,
    events: Vec<Event>,
    notes: Vec<String>,
}

pub struct Page {
    settings: NodeSettings,
    /// File backend: per node, how long ago this daemon saw its record change (None: not
    /// within the takeover time), published every turn.
    seen: Mutex<Vec<(String, Option<Duration>)>>,
    /// This daemon's own view, published every turn.
    own: Mutex<Own>,
    last: Mutex<Option<Read>>,
    /// A read is under way (at most one at a time).
    reading: AtomicBool,
}

impl Page {
    pub fn new(settings: NodeSettings) -> Arc<Page> {
        Arc::new(Page {
            settings,
            seen: Mutex::new(Vec::new()),
            own: Mutex::new(Own::default()),
            last: Mutex::new(None),
            reading: AtomicBool::new(false),
        })
    }

    /// What the loop saw of the records this turn.
    pub fn publish_seen(&self, seen: Vec<(String, Option<Duration>)>, own: Own) {
        if let Ok(mut s) = self.seen.lock() {
            *s = seen;
        }
        if let Ok(mut o) = self.own.lock() {
            *o = own;
        }
    }

    fn own(&self) -> Own {
        self.own.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// The last read, judged with what the daemon saw; starts a new read when it is old.
    fn status(self: &Arc<Self>) -> Option<Seen> {
        let last = self.last.lock().ok()?.clone();
        let fresh = FRESH.max(self.settings.timing.period);
        if last.as_ref().is_none_or(|r| r.at.elapsed() >= fresh)
            && !self.reading.swap(true, Ordering::AcqRel)
        {
            let page = self.clone();
            let spawned = std::thread::Builder::new()
                .name("hb-page-read".into())
                .spawn(move || {
                    let cluster = page.read();
                    let s = &page.settings;
                    let h = gather::gather(s, journal::last(&s.state_dir, EVENTS), EVENTS);
                    let read = Read {
                        cluster,
                        events: h.events,
                        notes: h.notes,
                        at: Instant::now(),
                    };
                    if let Ok(mut l) = page.last.lock() {
                        *l = Some(read);
                    }
                    page.reading.store(false, Ordering::Release);
                });
            if spawned.is_err() {
                self.reading.store(false, Ordering::Release);
            }
        }
        let Read {
            cluster: mut c,
            events,
            mut notes,
            at,
        } = last?;
        notes.extend(publish::problem(self.settings.timing.period));
        let age = at.elapsed();
        let stale = (age > fresh * 3 + self.settings.timing.io_timeout).then_some(age);
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
        Some(Seen {
            cluster: c,
            events,
            notes,
            stale,
        })
    }

    fn read(&self) -> ClusterStatus {
        let s = &self.settings;
        let full = status::full_window(s);
        if s.on_etcd() {
            status::observe_backend(s, full)
        } else {
            // On this reader's own thread: while the share hangs, the reader waits and no
            // new read starts; requests get the last read, with its age.
            status::file::read_once_here(s, full)
        }
    }

    pub fn html(self: &Arc<Self>) -> String {
        let seen = self.status();
        render::page(
            seen.as_ref().map(|s| &s.cluster),
            &self.settings.node,
            &self.settings.storage(),
            seen.as_ref().map_or(&[], |s| &s.events),
            seen.as_ref().map_or(&[], |s| &s.notes),
            seen.as_ref().and_then(|s| s.stale),
            &self.own(),
        )
    }

    /// `status --json`'s object with `storage`, `daemon` (this daemon's role, lease left and
    /// last write latency), `read_age_ms` (null while the last read is
    /// fresh), `events` (the cluster's, newest first) and `events_notes` (whose events are
    /// not shown and why) added.
    pub fn json(self: &Arc<Self>) -> String {
        let (base, events, notes, stale) = match self.status() {
            Some(seen) => (
                json::render_json(&seen.cluster, &self.settings.node),
                seen.events,
                seen.notes,
                seen.stale,
            ),
            None => (
                json::render_json_unknown("the records have not been read yet"),
                Vec::new(),
                Vec::new(),
                None,
            ),
        };
        let notes: Vec<String> = notes.iter().map(|n| json_str(n)).collect();
        let events: Vec<String> = events
            .iter()
            .map(|e| e.to_json().trim_end().to_string())
            .collect();
        let base = base.trim_end();
        let base = base.strip_suffix('}').unwrap_or(base);
        format!(
            "{base},\"storage\":{},\"daemon\":{},\"read_age_ms\":{},\"events\":[{}],\
             \"events_notes\":[{}]}}\n",
            json_str(&self.settings.storage()),
            self.own().json(),
            stale.map_or("null".into(), |d| d.as_millis().to_string()),
            events.join(","),
            notes.join(",")
        )
    }
}
