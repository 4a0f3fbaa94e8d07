//! `status` on the file backend: reads the records straight from hb.dir (never writes, never
//! joins the cluster). Read once, they say each node's last role and epoch and the
//! maintenance mode; whether a daemon still runs shows only in its record changing, so a
//! watch reads them again every half period until each has changed or the window passed.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hamon::heartbeat::node::NodeSettings;
use hamon::heartbeat::record::{MaintRecord, NodeRecord};
use hamon::heartbeat::store::{FileStore, Store};

use super::model::{BackingOff, ClusterStatus, Liveness, NodeStatus};

/// Runs `f` on its own thread and waits at most `timeout`: a hung NFS mount must not hang
/// `status` (the thread is left behind; the process exits soon after). `timeout` None: runs
/// `f` on the caller's thread, which a hung mount then holds (the status page's reader,
/// which lives as long as the daemon and must not leave a thread behind on every read).
fn read_bounded<T: Send + 'static>(
    timeout: Option<Duration>,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, String> {
    let Some(timeout) = timeout else {
        return f().map_err(|e| e.to_string());
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(timeout) {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

/// A record's bytes and its file's mtime.
type Read = Result<(Vec<u8>, Option<SystemTime>), String>;

fn read_all(store: &Arc<FileStore>, s: &NodeSettings, timeout: Option<Duration>) -> Vec<Read> {
    s.nodes
        .iter()
        .map(|n| {
            let (st, n) = (store.clone(), n.clone());
            read_bounded(timeout, move || {
                let bytes = st.read_node(&n)?;
                let mtime = std::fs::metadata(st.node_path(&n))
                    .and_then(|m| m.modified())
                    .ok();
                Ok((bytes, mtime))
            })
        })
        .collect()
}

/// This host's clock minus `t`, in ms; negative when `t` is ahead.
fn ago_ms(now: SystemTime, t: SystemTime) -> i64 {
    match now.duration_since(t) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Reads every record once: roles, epochs and maintenance at once, liveness not judged
/// (`window`: how long the watch that would judge it takes).
pub fn read_once(s: &NodeSettings, window: Duration) -> ClusterStatus {
    look(s, None, window, true)
}

/// As [`read_once`], on the caller's thread only: a hung mount holds that thread until the
/// reads return, and no other.
pub fn read_once_here(s: &NodeSettings, window: Duration) -> ClusterStatus {
    look(s, None, window, false)
}

/// Reads every record, then again every half period until each has changed or `window`
/// passed (2 periods + 2 I/O timeouts: a live node writes at least once in that time).
pub fn watch(s: &NodeSettings, window: Duration) -> ClusterStatus {
    look(s, Some(window), window, true)
}

fn look(s: &NodeSettings, watch: Option<Duration>, full: Duration, bounded: bool) -> ClusterStatus {
    let store = Arc::new(FileStore::new(s.dir.clone()));
    let timeout = bounded.then(|| s.timing.io_timeout.max(Duration::from_secs(1)));
    let window = watch.unwrap_or_default();
    let t0 = Instant::now();
    let mut last = read_all(&store, s, timeout);
    // Per node: the bytes of its last good read and when that read started; when a read shows
    // other bytes, the change happened after that start.
    let mut seen: Vec<Option<(Vec<u8>, Instant)>> = last
        .iter()
        .map(|r| r.as_ref().ok().map(|(b, _)| (b.clone(), t0)))
        .collect();
    let mut changed_after: Vec<Option<Instant>> = vec![None; last.len()];
    while t0.elapsed() < window && changed_after.iter().any(Option::is_none) {
        std::thread::sleep((s.timing.period / 2).min(window.saturating_sub(t0.elapsed())));
        let round = Instant::now();
        for (i, r) in read_all(&store, s, timeout).into_iter().enumerate() {
            if let Ok((bytes, _)) = &r {
                if let Some((before, at)) = &seen[i]
                    && before != bytes
                {
                    changed_after[i] = Some(*at);
                }
                seen[i] = Some((bytes.clone(), round));
            }
            last[i] = r;
        }
    }
    let end = Instant::now();
    let now = SystemTime::now();
    let nodes = s
        .nodes
        .iter()
        .zip(last.into_iter().zip(changed_after))
        .map(|(name, (read, after))| {
            let modified_ago_ms = read
                .as_ref()
                .ok()
                .and_then(|(_, m)| *m)
                .map(|m| ago_ms(now, m));
            let record = read.and_then(|(bytes, _)| {
                NodeRecord::decode(&bytes, &s.cluster).map_err(|e| format!("invalid record: {e}"))
            });
            NodeStatus {
                name: name.clone(),
                record,
                changed_within: after.map(|t| end - t),
                lease: None,
                modified_ago_ms,
            }
        })
        .collect();
    let st = store.clone();
    let maint = read_bounded(timeout, move || st.read_maint()).and_then(|b| {
        MaintRecord::decode(&b, &s.cluster).map_err(|e| format!("invalid record: {e}"))
    });
    ClusterStatus {
        nodes,
        maint,
        observed: end - t0,
        liveness: match watch {
            Some(_) => Liveness::Watched,
            None => Liveness::NotWatched { window: full },
        },
        backing_off: BackingOff::load(s),
        etcd: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_signed_by_this_hosts_clock() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(ago_ms(t + Duration::from_millis(2500), t), 2500);
        assert_eq!(ago_ms(t, t + Duration::from_secs(3)), -3000);
    }
}
