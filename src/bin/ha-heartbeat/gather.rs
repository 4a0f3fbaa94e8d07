//! The cluster's recent history: this node's journal and what every other node published
//! (`publish`), merged newest first with the node named on each event. What a peer wrote is
//! checked before it is shown (CRC, cluster, node; each event must be that node's) and cut
//! to the journal's bounds; a file or key that fails is left out with a note saying why.
//! Whatever a peer wrote, at most [`published::SIZE`] bytes of it are decoded (on etcd a
//! reply is bounded by the client).

use hamon::heartbeat::node::NodeSettings;
use hamon::heartbeat::published;
use hamon::heartbeat::store::FileStore;

use crate::journal::{self, Event};

/// The longest node, kind or peer name kept from a peer's event.
const NAME: usize = 64;

/// Every node's events, newest first, and what could not be read.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub events: Vec<Event>,
    pub notes: Vec<String>,
}

/// The events `node` published in `bytes` (a file's content or an etcd value), or why none
/// are shown.
pub fn decode(bytes: &[u8], cluster: &str, node: &str) -> Result<Vec<Event>, String> {
    let p = published::decode(bytes, cluster, node).map_err(|e| e.to_string())?;
    let mut events = Vec::new();
    let mut foreign = 0;
    for line in p.payload.lines() {
        match Event::from_json(line) {
            Some(mut e) if e.node == node => {
                e.kind = journal::cut(&e.kind, NAME).to_string();
                e.peer = journal::cut(&e.peer, NAME).to_string();
                e.text = journal::cut(&e.text, journal::MAX_TEXT).to_string();
                events.push(e);
            }
            _ => foreign += 1,
        }
    }
    if foreign > 0 && events.is_empty() {
        return Err(format!("{foreign} line(s), none an event of {node}"));
    }
    Ok(events)
}

/// Reads what the other nodes published (one read at a time, on the caller's thread) and
/// merges it with `local` (this node's last events, newest first); at most `n` events.
pub fn gather(s: &NodeSettings, local: Vec<Event>, n: usize) -> History {
    let mut h = History {
        events: local,
        notes: Vec::new(),
    };
    let peers: Vec<&String> = s.nodes.iter().filter(|p| **p != s.node).collect();
    read_peers(s, &peers, &mut h);
    // Newest first; the sort is stable, so one node's events keep their order on a tie.
    h.events.sort_by_key(|e| std::cmp::Reverse(e.time_ms));
    h.events.truncate(n);
    h
}

fn add(h: &mut History, node: &str, r: Result<Vec<u8>, String>, s: &NodeSettings) {
    match r.and_then(|b| decode(&b, &s.cluster, node)) {
        Ok(mut events) => h.events.append(&mut events),
        Err(why) => h.notes.push(format!("events of {node} not shown: {why}")),
    }
}

fn read_peers(s: &NodeSettings, peers: &[&String], h: &mut History) {
    #[cfg(feature = "etcd")]
    if let Some(e) = &s.etcd {
        // One key per node, each read on its own (each within the client's timeout): a huge
        // or broken key costs only its node.
        let mut client = match hamon::heartbeat::etcd::api::Client::new(&e.client) {
            Ok(c) => c,
            Err(m) => {
                h.notes
                    .push(format!("the other nodes' events not shown: hb.etcd: {m}"));
                return;
            }
        };
        for p in peers {
            let key = e.keys.timeline(p);
            match client.get(&key) {
                Ok(Some(kv)) => add(h, p, Ok(kv.value), s),
                Ok(None) => h.notes.push(format!(
                    "{p} has published no events yet (no key {})",
                    String::from_utf8_lossy(&key)
                )),
                Err(err) => add(h, p, Err(err.to_string()), s),
            }
        }
        return;
    }
    let store = FileStore::new(s.dir.clone());
    for p in peers {
        let r = store.read_events(p).map_err(|e| {
            let path = store.events_path(p);
            if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "{} is missing (`ha-heartbeat init` run again creates the files that are \
                     missing)",
                    path.display()
                )
            } else {
                format!("{}: {e}", path.display())
            }
        });
        add(h, p, r, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peers_events_are_shown_only_when_they_are_its_own_and_intact() {
        let mut mine = Event::new("n2", "role", 4, Some("n1"), &"x".repeat(5000));
        mine.kind = "k".repeat(500);
        let other = Event::new("n1", "role", 5, None, "n1 claims to be n2's");
        let payload = format!("{}not json\n{}", mine.to_json(), other.to_json());
        let b = published::encode_block("shop", "n2", 1, &payload).unwrap();
        let events = decode(&b, "shop", "n2").unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].text.len(), journal::MAX_TEXT);
        assert_eq!(events[0].kind.len(), NAME);
        let only_foreign = published::encode_block("shop", "n2", 1, &other.to_json()).unwrap();
        let e = decode(&only_foreign, "shop", "n2").unwrap_err();
        assert!(e.contains("none an event of n2"), "{e}");
        let e = decode(&b, "bank", "n2").unwrap_err();
        assert!(e.contains("another cluster"), "{e}");
        let mut torn = b.clone();
        torn[published::HEADER + 1] ^= 4;
        let e = decode(&torn, "shop", "n2").unwrap_err();
        assert!(e.contains("CRC"), "{e}");
        assert!(decode(b"garbage", "shop", "n2").is_err());
        // A clock far off on the peer: shown as it says, never a panic.
        let mut far = Event::new("n2", "role", 1, None, "x");
        far.time_ms = u64::MAX;
        let b = published::encode_block("shop", "n2", 1, &far.to_json()).unwrap();
        let events = decode(&b, "shop", "n2").unwrap();
        assert!(events[0].time().ends_with('Z') && !events[0].line().is_empty());
    }
}
