//! The cluster's keys in etcd and their values (docs/heartbeat-etcd.md, "Keys"), and the
//! translation of the core's calls into etcd requests: the core says what, this says how.

use super::api::{Client, Compare, Error, KeyValue, Op};
use super::core::{Action, Event, Leader, View};
use crate::heartbeat::observe::Time;
use crate::heartbeat::record::{MaintRecord, NodeRecord, NodeState};

/// The keys of one cluster under its prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    /// Ends with `/`.
    pub prefix: String,
    /// The cluster name, checked in the maintenance record.
    pub cluster: String,
}

impl Keys {
    /// `prefix` defaults to `/hamon/<cluster>/`; a missing trailing `/` is added.
    pub fn new(cluster: &str, prefix: Option<&str>) -> Keys {
        let mut prefix = prefix.map_or_else(|| format!("/hamon/{cluster}/"), str::to_string);
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Keys {
            prefix,
            cluster: cluster.to_string(),
        }
    }

    pub fn leader(&self) -> Vec<u8> {
        format!("{}leader", self.prefix).into_bytes()
    }

    pub fn epoch(&self) -> Vec<u8> {
        format!("{}epoch", self.prefix).into_bytes()
    }

    pub fn maint(&self) -> Vec<u8> {
        format!("{}maint", self.prefix).into_bytes()
    }

    pub fn status(&self, node: &str) -> Vec<u8> {
        format!("{}status/{node}", self.prefix).into_bytes()
    }

    /// Where `node` publishes its last events (not on its lease: a dead node's history is
    /// what an operator wants to read).
    pub fn timeline(&self, node: &str) -> Vec<u8> {
        format!("{}timeline/{node}", self.prefix).into_bytes()
    }

    /// The start of the published events, which sort after every other key of the cluster:
    /// the reads that decide ([`read_records`](Self::read_records)) stop here, so the
    /// events never weigh on them.
    pub fn timeline_prefix(&self) -> Vec<u8> {
        format!("{}timeline/", self.prefix).into_bytes()
    }

    /// Every key of the cluster but the published events, and the revision of the read.
    pub fn read_records(&self, client: &mut Client) -> Result<(i64, Vec<KeyValue>), Error> {
        client.range(self.prefix.as_bytes(), &self.timeline_prefix())
    }

    /// A node's status key as a record for `status`: SEQ is the revision of the key's last
    /// write. The value is `status_value`'s; fields a newer version adds are skipped.
    pub fn parse_status(&self, name: &str, kv: &KeyValue) -> Result<NodeRecord, String> {
        let bad = |what: &str| format!("key {}status/{name}: {what}", self.prefix);
        let text = std::str::from_utf8(&kv.value).map_err(|_| bad("not text"))?;
        let mut r = NodeRecord::blank(&self.cluster, name);
        for field in text.split_whitespace() {
            let (k, v) = field
                .split_once('=')
                .ok_or_else(|| bad(&format!("bad field {field:?}")))?;
            let num = || {
                v.parse::<u64>()
                    .map_err(|_| bad(&format!("{k} is not a number")))
            };
            match k {
                "node" if v != name => return Err(bad(&format!("written by node {v}"))),
                "role" => {
                    r.state = match v {
                        "standby" => NodeState::Standby,
                        "active" => NodeState::Active,
                        "stopping" => NodeState::Stopping,
                        _ => return Err(bad(&format!("unknown role {v:?}"))),
                    }
                }
                "epoch" => r.epoch = num()?,
                "maint_ack" => r.maint_ack = num()?,
                "preferred" => r.preferred = v == "true",
                _ => {}
            }
        }
        r.seq = kv.mod_revision.max(0) as u64;
        Ok(r)
    }

    /// The View of one range over the prefix. Values that do not parse are errors naming
    /// the key (the maintenance record's is kept in the View: it counts as FREEZE).
    pub fn view(&self, kvs: &[KeyValue]) -> Result<View, String> {
        let mut view = View {
            leader: None,
            epoch: 0,
            epoch_rev: 0,
            maint: None,
        };
        for kv in kvs {
            if kv.key == self.leader() {
                let leader = parse_leader(&kv.value, kv.lease)
                    .ok_or_else(|| format!("key {}leader: bad value", self.prefix))?;
                view.leader = Some(leader);
            } else if kv.key == self.epoch() {
                view.epoch = std::str::from_utf8(&kv.value)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| format!("key {}epoch: not a number", self.prefix))?;
                view.epoch_rev = kv.mod_revision;
            } else if kv.key == self.maint() {
                view.maint = Some(
                    MaintRecord::decode(&kv.value, &self.cluster)
                        .map_err(|e| format!("key {}maint: {e:?}", self.prefix)),
                );
            }
        }
        Ok(view)
    }

    /// Performs one etcd call the core asked for and returns its result as the event to
    /// report. `now` reads the node's monotonic clock; `None` for actions that are not etcd
    /// calls.
    pub fn perform(
        &self,
        client: &mut Client,
        node: &str,
        action: &Action,
        now: impl Fn() -> Time,
    ) -> Option<Event> {
        let sent = now();
        let err = |e: super::api::Error| e.to_string();
        Some(match action {
            Action::GrantLease { ttl_s } => Event::Granted {
                sent,
                result: client
                    .lease_grant(*ttl_s as i64)
                    .map(|(id, ttl)| (id, ttl.max(0) as u64))
                    .map_err(err),
            },
            Action::KeepAlive { lease } => Event::KeptAlive {
                sent,
                lease: *lease,
                result: client
                    .lease_keepalive(*lease)
                    .map(|t| t.max(0) as u64)
                    .map_err(err),
            },
            Action::Read => Event::Read {
                result: self
                    .read_records(client)
                    .map_err(err)
                    .and_then(|(_, kvs)| self.view(&kvs)),
            },
            Action::Claim {
                lease,
                epoch,
                epoch_rev,
            } => Event::Claimed {
                result: client
                    .txn(
                        &[
                            Compare::CreateRevision(self.leader(), 0),
                            Compare::ModRevision(self.epoch(), *epoch_rev),
                        ],
                        &[
                            Op::Put {
                                key: self.leader(),
                                value: leader_value(node, *epoch),
                                lease: *lease,
                            },
                            Op::Put {
                                key: self.epoch(),
                                value: epoch.to_string().into_bytes(),
                                lease: 0,
                            },
                        ],
                        &[],
                    )
                    .map(|r| r.succeeded)
                    .map_err(err),
            },
            Action::Revoke { lease } => Event::Revoked {
                result: client.lease_revoke(*lease).map_err(err),
            },
            Action::PutStatus { lease, status } => Event::StatusPut {
                result: client
                    .put(&self.status(node), status.as_bytes(), *lease)
                    .map(|_| ())
                    .map_err(err),
            },
            _ => return None,
        })
    }
}

/// `node=<name> role=<standby|active|stopping> epoch=<n> maint_ack=<n> preferred=<bool>`:
/// what a node's status key holds (`Keys::parse_status` reads it).
pub fn status_value(node: &str, role: &str, epoch: u64, maint_ack: u64, preferred: bool) -> String {
    format!("node={node} role={role} epoch={epoch} maint_ack={maint_ack} preferred={preferred}")
}

/// `node=<name> epoch=<n>`.
pub fn leader_value(node: &str, epoch: u64) -> Vec<u8> {
    format!("node={node} epoch={epoch}").into_bytes()
}

fn parse_leader(value: &[u8], lease: i64) -> Option<Leader> {
    let s = std::str::from_utf8(value).ok()?;
    let (node, epoch) = s.split_once(' ')?;
    Some(Leader {
        node: node.strip_prefix("node=")?.to_string(),
        epoch: epoch.strip_prefix("epoch=")?.parse().ok()?,
        lease,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: Vec<u8>, value: &[u8], lease: i64, mod_revision: i64) -> KeyValue {
        KeyValue {
            key,
            value: value.to_vec(),
            create_revision: 1,
            mod_revision,
            version: 1,
            lease,
        }
    }

    #[test]
    fn a_range_becomes_a_view_and_bad_values_are_named() {
        let k = Keys::new("shop", None);
        assert_eq!(k.leader(), b"/hamon/shop/leader".to_vec());
        let v = k
            .view(&[
                kv(k.epoch(), b"12", 0, 40),
                kv(k.leader(), &leader_value("a", 12), 7, 40),
                kv(k.status("a"), b"node=a role=active", 7, 41),
            ])
            .unwrap();
        assert_eq!((v.epoch, v.epoch_rev), (12, 40));
        assert_eq!(
            v.leader,
            Some(Leader {
                node: "a".into(),
                epoch: 12,
                lease: 7
            })
        );
        assert!(v.maint.is_none());
        let err = k.view(&[kv(k.epoch(), b"x", 0, 1)]).unwrap_err();
        assert!(err.contains("/hamon/shop/epoch"), "{err}");
        let v = k.view(&[kv(k.maint(), b"garbage", 0, 1)]).unwrap();
        assert!(matches!(v.maint, Some(Err(_))));
        assert_eq!(Keys::new("c", Some("/x")).prefix, "/x/");
        // The published events sort after every key the decisions read.
        let t = k.timeline_prefix();
        for key in [k.leader(), k.epoch(), k.maint(), k.status("zzz")] {
            assert!(key < t, "{}", String::from_utf8_lossy(&key));
        }
        assert!(k.timeline("a").starts_with(&t));
    }
}
