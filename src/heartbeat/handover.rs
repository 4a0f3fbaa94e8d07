//! Handing over the term of a daemon that died while its host lives: what its guard does once
//! the application's group is confirmed gone (docs/heartbeat.md, "The guard's hand-over").
//!
//! On the file backend the hand-over is the record a clean release writes: this node's own
//! record again, RELEASED, with the epoch it held and seq + 1, so that a peer claims at once.
//! [`decide`] says whether that write is safe, from the records as read: it is pure (records
//! in, a verdict out) so that every refusal is unit-tested. [`release_file_term`] does the
//! reads and the write through the [`Store`] the node itself uses.
//!
//! Only a term the daemon held and told its guard about is handed over, and only while this
//! node's record still shows exactly that term (the same incarnation and epoch, CLAIMING,
//! ACTIVE or STOPPING): a record a restarted daemon rewrote, a term already released, or any
//! record that shows a higher epoch is left alone. A record that cannot be read or trusted
//! is never guessed at: no hand-over, and the peers wait out the lease as when the host is
//! lost.

use super::record::{NodeRecord, NodeState};
use super::store::Store;

/// The term a daemon held, as it told its guard: this node's epoch and the incarnation that
/// wrote it (a restarted daemon writes under another incarnation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldTerm {
    pub epoch: u64,
    pub incarnation: u64,
}

impl HeldTerm {
    /// A term worth handing over: both numbers are set (neither is ever 0 for a real term).
    pub fn is_some(&self) -> bool {
        self.epoch != 0 && self.incarnation != 0
    }
}

/// What a guard hands over, per backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// The file backend: this node's epoch and incarnation (see [`decide`]).
    File(HeldTerm),
    /// etcd: the lease the leader key is attached to; revoking it deletes the key.
    Etcd { epoch: u64, lease: i64 },
}

impl Term {
    /// The term as one line of the daemon-to-guard protocol, without its newline:
    /// `term file EPOCH INCARNATION` or `term etcd EPOCH LEASE` (hexadecimal ids).
    pub fn to_line(&self) -> String {
        match self {
            Term::File(t) => format!("term file {} {:x}", t.epoch, t.incarnation),
            Term::Etcd { epoch, lease } => format!("term etcd {epoch} {lease:x}"),
        }
    }

    /// Parses [`to_line`](Term::to_line); `Some(None)` for `term none` (the daemon holds no
    /// term any more), None when the line is no term line.
    pub fn parse_line(line: &str) -> Option<Option<Term>> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let hex = |s: &str| u64::from_str_radix(s, 16).ok();
        match words.as_slice() {
            ["term", "none"] => Some(None),
            ["term", "file", e, inc] => {
                let t = HeldTerm {
                    epoch: e.parse().ok()?,
                    incarnation: hex(inc)?,
                };
                t.is_some().then_some(Some(Term::File(t)))
            }
            ["term", "etcd", e, lease] => {
                let epoch: u64 = e.parse().ok()?;
                let lease = i64::from_str_radix(lease, 16).ok()?;
                (epoch != 0 && lease != 0).then_some(Some(Term::Etcd { epoch, lease }))
            }
            _ => None,
        }
    }
}

/// A record as read: decoded, or why it could not be.
pub type Read = Result<NodeRecord, String>;

/// Whether the guard may write RELEASED for `term`, given this node's own record `own` and
/// every peer's record `peers` (name, record), all read after the application's group was
/// confirmed gone. The record to write, or why not.
pub fn decide(term: &HeldTerm, own: &Read, peers: &[(String, Read)]) -> Result<NodeRecord, String> {
    if !term.is_some() {
        return Err("the daemon held no term".to_string());
    }
    let own = own
        .as_ref()
        .map_err(|e| format!("this node's record cannot be read: {e}"))?;
    if own.incarnation != term.incarnation {
        return Err(format!(
            "this node's record was written by another run (incarnation {:x}, not {:x})",
            own.incarnation, term.incarnation
        ));
    }
    if own.epoch != term.epoch {
        return Err(format!(
            "this node's record shows epoch {}, not the held {}",
            own.epoch, term.epoch
        ));
    }
    if !matches!(
        own.state,
        NodeState::Claiming | NodeState::Active | NodeState::Stopping
    ) {
        return Err(format!(
            "this node's record says {:?}: nothing to hand over",
            own.state
        ));
    }
    if own.max_epoch > term.epoch {
        return Err(format!(
            "this node had seen epoch {}, above the held {}",
            own.max_epoch, term.epoch
        ));
    }
    for (name, read) in peers {
        let peer = read
            .as_ref()
            .map_err(|e| format!("the record of {name} cannot be read: {e}"))?;
        let highest = peer.epoch.max(peer.max_epoch);
        if highest > term.epoch {
            return Err(format!(
                "the record of {name} shows epoch {highest}, above the held {}",
                term.epoch
            ));
        }
    }
    Ok(NodeRecord {
        state: NodeState::Released,
        seq: own.seq.wrapping_add(1),
        ..own.clone()
    })
}

/// Reads this node's record and every peer's from `store`, and writes RELEASED for `term`
/// when [`decide`] allows it. `wall_ms` is the writer's wall clock (display only). Blocks as
/// long as the store does: the caller bounds it. Ok with the epoch released, or why not.
pub fn release_file_term(
    store: &dyn Store,
    cluster: &str,
    node: &str,
    nodes: &[String],
    term: &HeldTerm,
    wall_ms: u64,
) -> Result<u64, String> {
    let read = |name: &str| -> Read {
        let bytes = store.read_node(name).map_err(|e| e.to_string())?;
        NodeRecord::decode(&bytes, cluster).map_err(|e| format!("{e:?}"))
    };
    let own = read(node);
    let peers: Vec<(String, Read)> = nodes
        .iter()
        .filter(|n| n.as_str() != node)
        .map(|n| (n.clone(), read(n)))
        .collect();
    let mut released = decide(term, &own, &peers)?;
    released.wall_ms = wall_ms;
    store
        .write_node(node, &released.encode())
        .map_err(|e| format!("cannot write this node's record: {e}"))?;
    Ok(released.epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_lines_round_trip_and_refuse_junk() {
        let file = Term::File(HeldTerm {
            epoch: 12,
            incarnation: 0xdead_beef_0000_0001,
        });
        let etcd = Term::Etcd {
            epoch: 3,
            lease: 0x694d_7b2c_1a2b_3c4d,
        };
        for t in [file, etcd] {
            assert_eq!(Term::parse_line(&t.to_line()), Some(Some(t.clone())));
        }
        assert_eq!(Term::parse_line("term none\n"), Some(None));
        for junk in [
            "term file 0 1",
            "term file 1 0",
            "term etcd 1 0",
            "term file x 1",
            "term file 1 2 3",
            "term",
            "123 456",
        ] {
            assert_eq!(Term::parse_line(junk), None, "{junk}");
        }
    }

    fn rec(state: NodeState, epoch: u64, max_epoch: u64, incarnation: u64) -> NodeRecord {
        NodeRecord {
            state,
            epoch,
            max_epoch,
            incarnation,
            seq: 41,
            ..NodeRecord::blank("c", "a")
        }
    }

    const TERM: HeldTerm = HeldTerm {
        epoch: 7,
        incarnation: 0xabc,
    };

    fn peer(state: NodeState, epoch: u64, max_epoch: u64) -> (String, Read) {
        ("b".to_string(), Ok(rec(state, epoch, max_epoch, 9)))
    }

    #[test]
    fn the_held_term_is_released_with_its_epoch_and_the_next_seq() {
        let own = Ok(rec(NodeState::Active, 7, 7, 0xabc));
        let got = decide(&TERM, &own, &[peer(NodeState::Standby, 6, 7)]).unwrap();
        assert_eq!(got.state, NodeState::Released);
        assert_eq!((got.epoch, got.incarnation, got.seq), (7, 0xabc, 42));
        // A claim or a stop in progress is handed over the same way.
        for s in [NodeState::Claiming, NodeState::Stopping] {
            let own = Ok(rec(s, 7, 7, 0xabc));
            assert!(decide(&TERM, &own, &[peer(NodeState::Standby, 0, 0)]).is_ok());
        }
    }

    #[test]
    fn no_term_no_hand_over() {
        let own = Ok(rec(NodeState::Active, 7, 7, 0xabc));
        for t in [
            HeldTerm {
                epoch: 0,
                incarnation: 0xabc,
            },
            HeldTerm {
                epoch: 7,
                incarnation: 0,
            },
        ] {
            assert!(decide(&t, &own, &[]).unwrap_err().contains("no term"));
        }
    }

    #[test]
    fn a_record_another_run_rewrote_is_left_alone() {
        let own = Ok(rec(NodeState::Standby, 7, 7, 0xdef));
        let e = decide(&TERM, &own, &[]).unwrap_err();
        assert!(e.contains("another run"), "{e}");
        let own = Ok(rec(NodeState::Active, 8, 8, 0xabc));
        assert!(decide(&TERM, &own, &[]).unwrap_err().contains("epoch 8"));
    }

    #[test]
    fn a_term_already_over_is_not_released_again() {
        for s in [NodeState::Standby, NodeState::Released] {
            let own = Ok(rec(s, 7, 7, 0xabc));
            let e = decide(&TERM, &own, &[]).unwrap_err();
            assert!(e.contains("nothing to hand over"), "{e}");
        }
    }

    #[test]
    fn any_higher_epoch_refuses() {
        let own = Ok(rec(NodeState::Active, 7, 8, 0xabc));
        assert!(
            decide(&TERM, &own, &[])
                .unwrap_err()
                .contains("seen epoch 8")
        );
        let own = Ok(rec(NodeState::Active, 7, 7, 0xabc));
        let e = decide(&TERM, &own, &[peer(NodeState::Claiming, 8, 8)]).unwrap_err();
        assert!(e.contains("record of b shows epoch 8"), "{e}");
        let e = decide(&TERM, &own, &[peer(NodeState::Standby, 3, 9)]).unwrap_err();
        assert!(e.contains("epoch 9"), "{e}");
    }

    /// Through a real `FileStore`: the held term becomes RELEASED in place; a refusal leaves
    /// every record as it was.
    #[test]
    fn release_file_term_writes_only_what_decide_allows() {
        let dir = std::env::temp_dir().join(format!("hamon-handover-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = super::super::store::FileStore::new(&dir);
        let nodes = ["a".to_string(), "b".to_string()];
        let own = NodeRecord {
            state: NodeState::Active,
            epoch: 7,
            max_epoch: 7,
            incarnation: 0xabc,
            seq: 41,
            ..NodeRecord::blank("c", "a")
        };
        store.init_node("a", &own.encode()).unwrap();
        let peer = NodeRecord {
            epoch: 8,
            ..NodeRecord::blank("c", "b")
        };
        store.init_node("b", &peer.encode()).unwrap();
        let read = |n: &str| NodeRecord::decode(&store.read_node(n).unwrap(), "c").unwrap();
        // The peer holds a higher epoch: nothing is written.
        let e = release_file_term(&store, "c", "a", &nodes, &TERM, 1).unwrap_err();
        assert!(e.contains("epoch 8"), "{e}");
        assert_eq!(read("a"), own);
        // Without it, the own record becomes RELEASED with the held epoch.
        store
            .write_node("b", &NodeRecord::blank("c", "b").encode())
            .unwrap();
        assert_eq!(release_file_term(&store, "c", "a", &nodes, &TERM, 1), Ok(7));
        let got = read("a");
        assert_eq!(
            (got.state, got.epoch, got.seq),
            (NodeState::Released, 7, 42)
        );
        // Once released, a second hand-over finds nothing to do.
        assert!(release_file_term(&store, "c", "a", &nodes, &TERM, 1).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unreadable_record_refuses() {
        let own: Read = Err("EIO".into());
        assert!(
            decide(&TERM, &own, &[])
                .unwrap_err()
                .contains("cannot be read")
        );
        let own = Ok(rec(NodeState::Active, 7, 7, 0xabc));
        let peers = [
            peer(NodeState::Standby, 0, 0),
            ("c".to_string(), Err("timed out".to_string())),
        ];
        let e = decide(&TERM, &own, &peers).unwrap_err();
        assert!(e.contains("record of c cannot be read"), "{e}");
    }
}
