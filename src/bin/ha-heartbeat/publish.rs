//! Publishes this node's last events where every node reads them (`hb.dir/events.<node>`,
//! or the key `<prefix>timeline/<node>` on etcd; docs/heartbeat.md, "The cluster's events"),
//! so that any node's status page shows the cluster's recent history.
//!
//! Best-effort and off the heartbeat's path: one thread of its own, which looks at the
//! journal at most once a period (never less than [`MIN_INTERVAL`]) and writes only when the
//! journal changed. While a write has not returned (a hung share, an etcd that does not
//! answer) the thread waits on it: nothing queues behind it, and the records, the lease and
//! its renewals never wait on it. A failing publish is logged when it starts failing and
//! when it recovers, and shown on the page; it never changes what the node does.
//!
//! When the daemon ends, [`flush`] asks the thread for one last publish and waits for it a
//! moment at most, so that a node stopped on purpose shows why on the other nodes' pages.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hamon::heartbeat::node::NodeSettings;
use hamon::heartbeat::published;
use hamon::heartbeat::store::FileStore;

use crate::journal::{self, Event};

/// The most events published.
pub const EVENTS: usize = 20;
/// The longest text of a published event (longer text is cut).
pub const TEXT: usize = 300;
/// Never publish more often than this, however short the period.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// How publishing goes, for the page.
#[derive(Clone, Debug, Default)]
struct State {
    /// The write under way, since when.
    pending_since: Option<Instant>,
    /// Why the last publish failed (None: it succeeded, or none was tried yet).
    failing: Option<String>,
}

static STATE: Mutex<State> = Mutex::new(State {
    pending_since: None,
    failing: None,
});

/// What the page says about this node's publishing, if anything is wrong with it.
pub fn problem(period: Duration) -> Option<String> {
    let s = STATE.lock().ok()?.clone();
    if let Some(since) = s.pending_since
        && since.elapsed() > period.max(MIN_INTERVAL) * 2
    {
        return Some(format!(
            "publishing this node's events: the write has not returned for {} s",
            since.elapsed().as_secs()
        ));
    }
    s.failing
        .map(|why| format!("publishing this node's events failed: {why}"))
}

/// Publishes asked for and done, counted; whether the thread runs.
struct Rounds {
    asked: u64,
    done: u64,
    running: bool,
}

static ROUNDS: Mutex<Rounds> = Mutex::new(Rounds {
    asked: 0,
    done: 0,
    running: false,
});
/// Wakes the thread for a flush, and the flush when its round is done.
static WAKE: Condvar = Condvar::new();

/// Asks the publishing thread for a publish now and waits for it at most `limit`; at once
/// when the thread does not run. Does not write itself: the file or key keeps one writer and
/// one write at a time.
pub fn flush(limit: Duration) {
    let Ok(mut r) = ROUNDS.lock() else {
        return;
    };
    if !r.running {
        return;
    }
    r.asked += 1;
    let want = r.asked;
    WAKE.notify_all();
    let until = Instant::now() + limit;
    while r.done < want {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        r = match WAKE.wait_timeout(r, left) {
            Ok((r, _)) => r,
            Err(_) => return,
        };
    }
}

/// Waits `interval`, or less when a flush asks; returns the round this turn serves.
fn next_round(interval: Duration) -> u64 {
    let Ok(mut r) = ROUNDS.lock() else {
        std::thread::sleep(interval);
        return 0;
    };
    let until = Instant::now() + interval;
    while r.asked == r.done {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        r = match WAKE.wait_timeout(r, left) {
            Ok((r, _)) => r,
            Err(_) => return 0,
        };
    }
    r.asked
}

/// The round `round` is done (published, failed or nothing new).
fn round_done(round: u64) {
    if let Ok(mut r) = ROUNDS.lock() {
        r.done = r.done.max(round);
        WAKE.notify_all();
    }
}

fn set(f: impl FnOnce(&mut State)) {
    if let Ok(mut s) = STATE.lock() {
        f(&mut s);
    }
}

/// The events to publish from the journal's last ones (newest first): texts cut, as many
/// as fit, as JSON lines oldest first.
pub fn payload(last: &[Event]) -> String {
    let lines: Vec<String> = last
        .iter()
        .take(EVENTS)
        .map(|e| {
            let mut e = e.clone();
            e.text = journal::cut(&e.text, TEXT).to_string();
            e.to_json()
        })
        .collect();
    published::fit(lines.iter().map(String::as_str), published::CAPACITY)
}

/// Where the events go.
enum Target {
    File(FileStore),
    #[cfg(feature = "etcd")]
    Etcd(
        Box<hamon::heartbeat::etcd::api::Client>,
        hamon::heartbeat::etcd::keys::Keys,
    ),
}

impl Target {
    fn new(s: &NodeSettings) -> Result<Target, String> {
        #[cfg(feature = "etcd")]
        if let Some(e) = &s.etcd {
            let client = hamon::heartbeat::etcd::api::Client::new(&e.client)
                .map_err(|m| format!("hb.etcd: {m}"))?;
            return Ok(Target::Etcd(Box::new(client), e.keys.clone()));
        }
        Ok(Target::File(FileStore::new(s.dir.clone())))
    }

    fn write(&mut self, s: &NodeSettings, seq: u64, payload: &str) -> Result<(), String> {
        match self {
            Target::File(store) => {
                let block = published::encode_block(&s.cluster, &s.node, seq, payload)?;
                store.write_events(&s.node, &block).map_err(|e| {
                    let path = store.events_path(&s.node);
                    if e.kind() == std::io::ErrorKind::NotFound {
                        format!(
                            "{} is missing (run `ha-heartbeat init` again: it creates only \
                             the files that are missing)",
                            path.display()
                        )
                    } else {
                        format!("{}: {e}", path.display())
                    }
                })
            }
            #[cfg(feature = "etcd")]
            Target::Etcd(client, keys) => {
                let value = published::encode(&s.cluster, &s.node, seq, payload)?;
                client
                    .put(&keys.timeline(&s.node), &value, 0)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        }
    }
}

/// The journal's size and modification time: it changed when they did.
fn journal_stamp(s: &NodeSettings) -> Option<(u64, SystemTime)> {
    let m = std::fs::metadata(journal::path(&s.state_dir)).ok()?;
    Some((m.len(), m.modified().ok()?))
}

/// Starts the publishing thread. A thread that cannot start is logged: the node goes on
/// without publishing.
pub fn start(s: &NodeSettings) {
    let s = s.clone();
    let spawned = std::thread::Builder::new()
        .name("hb-publish".into())
        .spawn(move || run(&s));
    if let Err(e) = spawned {
        log::warn!("this node's events will not be published: cannot start a thread: {e}");
    }
}

fn run(s: &NodeSettings) {
    let target = match Target::new(s) {
        Ok(t) => t,
        Err(e) => {
            log::warn!("this node's events will not be published: {e}");
            set(|st| st.failing = Some(e));
            return;
        }
    };
    if let Ok(mut r) = ROUNDS.lock() {
        r.running = true;
    }
    let interval = s.timing.period.max(MIN_INTERVAL);
    let mut p = Publisher {
        target,
        stamp: None,
        published: None,
        unpublished: None,
        seq: 0,
    };
    loop {
        let round = next_round(interval);
        p.once(s);
        round_done(round);
    }
}

/// The thread's memory of what it published.
struct Publisher {
    target: Target,
    /// The journal's stamp when it was last read.
    stamp: Option<(u64, SystemTime)>,
    /// The last payload published.
    published: Option<String>,
    /// A payload not published yet (the last write failed): written again next round
    /// without reading the journal again.
    unpublished: Option<String>,
    seq: u64,
}

impl Publisher {
    /// Publishes the journal's last events if they changed since the last publish.
    fn once(&mut self, s: &NodeSettings) {
        let now = journal_stamp(s);
        if now.is_none() || now != self.stamp {
            self.stamp = now;
            let p = payload(&journal::last(&s.state_dir, EVENTS));
            self.unpublished = (self.published.as_ref() != Some(&p)).then_some(p);
        }
        let Some(payload) = self.unpublished.take() else {
            return;
        };
        self.seq += 1;
        set(|st| st.pending_since = Some(Instant::now()));
        let r = self.target.write(s, self.seq, &payload);
        let was_failing = STATE.lock().map(|st| st.failing.is_some()).unwrap_or(false);
        match r {
            Ok(()) => {
                if was_failing {
                    log::info!("this node's events are published again");
                }
                set(|st| {
                    st.pending_since = None;
                    st.failing = None;
                });
                self.published = Some(payload);
            }
            Err(e) => {
                // Logged once until it works again; tried again next round (the file may
                // have been created since).
                if !was_failing {
                    log::warn!("cannot publish this node's events: {e}");
                }
                set(|st| {
                    st.pending_since = None;
                    st.failing = Some(e);
                });
                self.unpublished = Some(payload);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_holds_the_newest_events_cut_oldest_first() {
        let mut last: Vec<Event> = (0..30)
            .rev()
            .map(|i| Event::new("n1", "role", i, None, &"é".repeat(400)))
            .collect();
        last[0].text = "newest".into();
        let p = payload(&last);
        let read: Vec<Event> = p.lines().map(|l| Event::from_json(l).unwrap()).collect();
        assert_eq!(read.len(), EVENTS);
        assert_eq!(read.last().unwrap().text, "newest");
        assert_eq!(read[0].epoch, 29 - (EVENTS as u64 - 1));
        assert!(read[..EVENTS - 1].iter().all(|e| e.text.len() <= TEXT
            && e.text.len() >= TEXT - 1
            && e.text.chars().all(|c| c == 'é')));
        assert!(p.len() <= published::CAPACITY);
        assert_eq!(payload(&[]), "");
    }
}
