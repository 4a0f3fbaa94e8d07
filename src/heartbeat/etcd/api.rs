//! etcd's v3 API through its gRPC JSON gateway (`/v3/...`, etcd 3.4 and later): the calls the
//! heartbeat needs, with keys and values as bytes (base64 on the wire) and int64s parsed from
//! the strings the gateway sends. Reads are linearizable (etcd's default; `serializable` is
//! never set). Endpoints are tried in turn, starting with the one that last answered, and the
//! first one again 30 s after leaving it; an answer that is not etcd's moves on like a
//! timeout (docs/heartbeat-etcd.md, "What a node trusts from etcd").

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::http::{Conn, Endpoint};
use super::tls::{TlsFiles, client_config};

/// gRPC status codes etcd answers with that say "try another member" rather than "no".
const UNAVAILABLE: i64 = 14;
const UNAUTHENTICATED: i64 = 16;
const DEADLINE_EXCEEDED: i64 = 4;

/// How to reach the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `http://host:port` or `https://host:port`, in the order to try.
    pub endpoints: Vec<String>,
    pub tls: TlsFiles,
    /// etcd user name and password (etcd's `auth enable`).
    pub user: Option<(String, String)>,
    /// The longest one call may take, all endpoints tried included.
    pub timeout: Duration,
}

/// Why a call failed: every endpoint tried, each with what went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The call (`/v3/kv/txn`).
    pub call: &'static str,
    /// (endpoint, what failed) per attempt, in order.
    pub attempts: Vec<(String, String)>,
    /// etcd answered, and the answer was no (not a reason to try another member): its gRPC
    /// code and message.
    pub refused: Option<(i64, String)>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "etcd {}:", self.call)?;
        if self.attempts.is_empty() {
            return f.write_str(" no time left to try any endpoint");
        }
        for (i, (ep, what)) in self.attempts.iter().enumerate() {
            write!(f, "{} {ep}: {what}", if i == 0 { "" } else { ";" })?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// One key as etcd stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    /// 0: no lease.
    pub lease: i64,
}

/// A condition of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Compare {
    /// The key's create_revision equals this (0: the key does not exist).
    CreateRevision(Vec<u8>, i64),
    /// The key's mod_revision equals this (0: the key does not exist).
    ModRevision(Vec<u8>, i64),
    /// The key is attached to this lease.
    Lease(Vec<u8>, i64),
}

/// An operation of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
        lease: i64,
    },
    Delete(Vec<u8>),
    Get(Vec<u8>),
}

/// What a transaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnReply {
    pub succeeded: bool,
    /// The store's revision after the transaction (the revision of its writes, if any).
    pub revision: i64,
    /// The keys the `Get`s of the branch taken returned, in order.
    pub got: Vec<Vec<KeyValue>>,
}

/// A member's view, from `/v3/maintenance/status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStatus {
    pub version: String,
    pub member_id: u64,
    pub leader: u64,
    pub raft_term: u64,
}

fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// An int64 as the gateway sends it: a JSON string (or number); absent means 0.
fn int(v: &Value, name: &str) -> i64 {
    match &v[name] {
        Value::String(s) => s.parse().unwrap_or(0),
        Value::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

fn uint(v: &Value, name: &str) -> u64 {
    match &v[name] {
        Value::String(s) => s.parse().unwrap_or(0),
        Value::Number(n) => n.as_u64().unwrap_or(0),
        _ => 0,
    }
}

fn bytes(v: &Value, name: &str) -> Result<Vec<u8>, String> {
    match &v[name] {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => B64
            .decode(s)
            .map_err(|e| format!("field {name}: not base64: {e}")),
        other => Err(format!("field {name}: expected a string, got {other}")),
    }
}

fn kvs(v: &Value) -> Result<Vec<KeyValue>, String> {
    let Some(list) = v["kvs"].as_array() else {
        return Ok(Vec::new());
    };
    list.iter()
        .map(|kv| {
            Ok(KeyValue {
                key: bytes(kv, "key")?,
                value: bytes(kv, "value")?,
                create_revision: int(kv, "create_revision"),
                mod_revision: int(kv, "mod_revision"),
                version: int(kv, "version"),
                lease: int(kv, "lease"),
            })
        })
        .collect()
}

fn compare_json(c: &Compare) -> Value {
    match c {
        Compare::CreateRevision(k, r) => json!({"key": b64(k), "target": "CREATE",
            "result": "EQUAL", "create_revision": r.to_string()}),
        Compare::ModRevision(k, r) => json!({"key": b64(k), "target": "MOD",
            "result": "EQUAL", "mod_revision": r.to_string()}),
        Compare::Lease(k, l) => json!({"key": b64(k), "target": "LEASE",
            "result": "EQUAL", "lease": l.to_string()}),
    }
}

fn op_json(op: &Op) -> Value {
    match op {
        Op::Put { key, value, lease } => {
            json!({"request_put": {"key": b64(key), "value": b64(value), "lease": lease.to_string()}})
        }
        Op::Delete(k) => json!({"request_delete_range": {"key": b64(k)}}),
        Op::Get(k) => json!({"request_range": {"key": b64(k)}}),
    }
}

/// The end of the key range holding every key that starts with `prefix`.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xff (or empty): to the end of the key space.
    vec![0]
}

/// After this long on another endpoint, a call tries the first (preferred) one again: a
/// member that was down or stalled, or an endpoint that answered with something that was not
/// etcd's, is given another chance, so the node does not stay on a worse path for good.
pub const RETURN_TO_FIRST: Duration = Duration::from_secs(30);

/// What one endpoint answered.
#[derive(Debug)]
enum Answer {
    /// etcd's JSON answer (status 200).
    Etcd(Value),
    /// etcd said no: its gRPC code and what it said.
    Refused(i64, String),
    /// Not etcd's answer: another status, not JSON, not the shape of etcd's answers (a
    /// proxy's error page, another service on the port). Like a timeout, the next endpoint
    /// is tried.
    Foreign(String),
}

/// A client of one etcd cluster. Blocking; not shared between threads (own one per thread).
///
/// What it trusts in an answer, and what moves it to the next endpoint: docs/heartbeat-etcd.md,
/// "What a node trusts from etcd". In short, an answer counts only if it is etcd's JSON of
/// the expected shape, from the cluster this client first reached (`header.cluster_id`),
/// and, for the key-value calls (linearizable), at a store revision no older than one it
/// already saw.
pub struct Client {
    conns: Vec<Conn>,
    current: usize,
    /// When the client moved off the first endpoint (None: it is on it).
    moved_at: Option<Instant>,
    timeout: Duration,
    user: Option<(String, String)>,
    token: Option<String>,
    /// The cluster_id of the first answer accepted; every later answer must carry it.
    cluster: Option<u64>,
    /// The highest store revision a key-value call answered with.
    revision: i64,
}

impl Client {
    /// Checks the settings and loads the TLS files; connects lazily, on the first call.
    pub fn new(settings: &Settings) -> Result<Client, String> {
        if settings.endpoints.is_empty() {
            return Err("no etcd endpoint given".into());
        }
        let endpoints = settings
            .endpoints
            .iter()
            .map(|e| Endpoint::parse(e.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        let tls = if endpoints.iter().any(|e| e.tls) {
            Some(client_config(&settings.tls)?)
        } else {
            None
        };
        if settings.timeout.is_zero() {
            return Err("the etcd request timeout must be > 0".into());
        }
        Ok(Client {
            conns: endpoints
                .into_iter()
                .map(|e| Conn::new(e, tls.as_ref().map(Arc::clone)))
                .collect(),
            current: 0,
            moved_at: None,
            timeout: settings.timeout,
            user: settings.user.clone(),
            token: None,
            cluster: None,
            revision: 0,
        })
    }

    /// The endpoint the next call tries first.
    pub fn current_endpoint(&self) -> &str {
        &self.conns[self.current].endpoint.url
    }

    /// The cluster this client is pinned to (`header.cluster_id` of its first accepted
    /// answer).
    pub fn cluster_id(&self) -> Option<u64> {
        self.cluster
    }

    fn move_on(&mut self, from: usize) {
        self.conns[from].close();
        self.current = (from + 1) % self.conns.len();
        if self.current != 0 {
            self.moved_at.get_or_insert_with(Instant::now);
        } else {
            self.moved_at = None;
        }
    }

    /// POSTs to the endpoints in turn until one gives etcd's answer, all within one timeout.
    /// Each endpoint gets an equal share of the time left, so one that hangs (a stopped
    /// member) leaves time for the others. `parse` takes the answer apart; an answer it
    /// refuses is not etcd's, and the next endpoint is tried.
    fn call<T>(
        &mut self,
        path: &'static str,
        body: &Value,
        parse: impl Fn(&Value) -> Result<T, String>,
    ) -> Result<T, Error> {
        let deadline = Instant::now() + self.timeout;
        let body = body.to_string().into_bytes();
        let mut err = Error {
            call: path,
            attempts: Vec::new(),
            refused: None,
        };
        let n = self.conns.len();
        if self.current != 0
            && self
                .moved_at
                .is_some_and(|t| t.elapsed() >= RETURN_TO_FIRST)
        {
            self.current = 0;
            self.moved_at = None;
        }
        let mut reauthed = false;
        let mut tried = 0;
        while tried < n {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let share = deadline.saturating_duration_since(now) / (n - tried) as u32;
            let attempt_deadline = now + share;
            let i = self.current;
            let url = self.conns[i].endpoint.url.clone();
            if self.user.is_some()
                && self.token.is_none()
                && let Err(e) = self.authenticate(i, attempt_deadline)
            {
                err.attempts.push((url, e));
                self.move_on(i);
                tried += 1;
                continue;
            }
            let token = self.token.clone();
            let reply = self.conns[i].post(path, &body, token.as_deref(), attempt_deadline);
            // etcd's refusal: (its gRPC code, message); anything else that is not etcd's
            // answer: (None, what it was).
            let (code, msg) = match reply.map(|r| answer(&r.body, r.status)) {
                Ok(Answer::Etcd(v)) => {
                    match parse(&v).and_then(|t| self.trust(path, &v).map(|()| t)) {
                        Ok(t) => {
                            if i == 0 {
                                self.moved_at = None;
                            }
                            return Ok(t);
                        }
                        Err(e) => (None, format!("not etcd's answer: {e}")),
                    }
                }
                Ok(Answer::Refused(code, msg)) => (Some(code), msg),
                Ok(Answer::Foreign(e)) | Err(e) => (None, e),
            };
            match code {
                Some(UNAUTHENTICATED) if !reauthed && self.user.is_some() => {
                    // Tokens expire (etcd's --auth-token-ttl): sign in again, once.
                    err.attempts
                        .push((url, format!("{msg} (signing in again)")));
                    self.token = None;
                    reauthed = true;
                }
                Some(code) if code != UNAVAILABLE && code != DEADLINE_EXCEEDED => {
                    err.attempts.push((url, msg.clone()));
                    err.refused = Some((code, msg));
                    return Err(err);
                }
                // etcd's "try another member", a timeout, a broken connection, an answer that
                // is not etcd's: the next endpoint.
                _ => {
                    err.attempts.push((url, msg));
                    self.move_on(i);
                    tried += 1;
                }
            }
        }
        Err(err)
    }

    /// Whether an answer of etcd's shape comes from the cluster this client reached first, at a
    /// store revision no older than one already seen (key-value calls, which are
    /// linearizable: a later one never shows an older store). Pins the cluster on the first.
    fn trust(&mut self, path: &str, v: &Value) -> Result<(), String> {
        let header = if path == "/v3/lease/keepalive" {
            &v["result"]["header"]
        } else {
            &v["header"]
        };
        if !header.is_object() {
            return Err("no response header".into());
        }
        let cluster = uint(header, "cluster_id");
        if cluster == 0 {
            return Err("no cluster_id in the response header".into());
        }
        if let Some(pinned) = self.cluster.filter(|c| *c != cluster) {
            return Err(format!(
                "answers for etcd cluster {cluster:x}, not {pinned:x}, the cluster this node \
                 reached first"
            ));
        }
        let kv = path.starts_with("/v3/kv/");
        let revision = int(header, "revision");
        if kv && revision < self.revision {
            return Err(format!(
                "store revision {revision} is older than {} already seen",
                self.revision
            ));
        }
        self.cluster = Some(cluster);
        if kv {
            self.revision = revision;
        }
        Ok(())
    }

    fn authenticate(&mut self, i: usize, deadline: Instant) -> Result<(), String> {
        let (name, password) = self.user.clone().expect("only called with a user");
        let body = json!({"name": name, "password": password}).to_string();
        let r = self.conns[i].post("/v3/auth/authenticate", body.as_bytes(), None, deadline)?;
        let v = match answer(&r.body, r.status) {
            Answer::Etcd(v) => v,
            Answer::Refused(_, m) | Answer::Foreign(m) => {
                return Err(format!("sign in as {name:?}: {m}"));
            }
        };
        match v["token"].as_str() {
            Some(t) if !t.is_empty() && !t.contains(['\r', '\n']) => {
                self.token = Some(t.to_string());
                Ok(())
            }
            _ => Err(format!("sign in as {name:?}: no token in the reply")),
        }
    }

    /// Every key starting with `prefix`, and the store's revision at the read.
    pub fn range_prefix(&mut self, prefix: &[u8]) -> Result<(i64, Vec<KeyValue>), Error> {
        self.range(prefix, &prefix_end(prefix))
    }

    /// Every key from `key` up to (not including) `end`, and the store's revision at the
    /// read.
    pub fn range(&mut self, key: &[u8], end: &[u8]) -> Result<(i64, Vec<KeyValue>), Error> {
        let body = json!({"key": b64(key), "range_end": b64(end)});
        self.call("/v3/kv/range", &body, |v| {
            Ok((int(&v["header"], "revision"), kvs(v)?))
        })
    }

    /// One key, if it exists.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<KeyValue>, Error> {
        self.call("/v3/kv/range", &json!({"key": b64(key)}), |v| {
            Ok(kvs(v)?.pop())
        })
    }

    /// Writes a key (attached to `lease` unless 0); returns the revision of the write.
    pub fn put(&mut self, key: &[u8], value: &[u8], lease: i64) -> Result<i64, Error> {
        let body = json!({"key": b64(key), "value": b64(value), "lease": lease.to_string()});
        self.call("/v3/kv/put", &body, |v| Ok(int(&v["header"], "revision")))
    }

    /// Deletes a key; returns how many were deleted (0 or 1).
    pub fn delete(&mut self, key: &[u8]) -> Result<i64, Error> {
        self.call("/v3/kv/deleterange", &json!({"key": b64(key)}), |v| {
            Ok(int(v, "deleted"))
        })
    }

    /// If every compare holds, runs `success`, else `failure`, atomically.
    pub fn txn(
        &mut self,
        compare: &[Compare],
        success: &[Op],
        failure: &[Op],
    ) -> Result<TxnReply, Error> {
        let body = json!({
            "compare": compare.iter().map(compare_json).collect::<Vec<_>>(),
            "success": success.iter().map(op_json).collect::<Vec<_>>(),
            "failure": failure.iter().map(op_json).collect::<Vec<_>>(),
        });
        self.call("/v3/kv/txn", &body, |v| {
            let succeeded = match &v["succeeded"] {
                Value::Bool(b) => *b,
                // The gateway leaves false out.
                Value::Null => false,
                other => return Err(format!("succeeded is {other}")),
            };
            let mut got = Vec::new();
            if let Some(list) = v["responses"].as_array() {
                for r in list {
                    if r.get("response_range").is_some() {
                        got.push(kvs(&r["response_range"])?);
                    }
                }
            }
            Ok(TxnReply {
                succeeded,
                revision: int(&v["header"], "revision"),
                got,
            })
        })
    }

    /// A new lease of `ttl_s` seconds: (its ID, the TTL etcd granted). etcd grants the TTL
    /// asked for, or more below its minimum TTL; the caller decides what it trusts.
    pub fn lease_grant(&mut self, ttl_s: i64) -> Result<(i64, i64), Error> {
        let body = json!({"TTL": ttl_s.to_string(), "ID": "0"});
        self.call("/v3/lease/grant", &body, |v| {
            if let Some(e) = v["error"].as_str().filter(|e| !e.is_empty()) {
                return Err(e.to_string());
            }
            let id = int(v, "ID");
            if id == 0 {
                return Err("no lease ID in the reply".into());
            }
            Ok((id, int(v, "TTL")))
        })
    }

    /// Renews a lease to its full TTL; returns that TTL, or 0 when the lease is gone
    /// (expired or revoked). An answer about another lease is not etcd's answer to this.
    pub fn lease_keepalive(&mut self, id: i64) -> Result<i64, Error> {
        self.call("/v3/lease/keepalive", &json!({"ID": id.to_string()}), |v| {
            // A streaming call: the gateway wraps each message as {"result": ...} or
            // {"error": ...}.
            if let Some(e) = v.get("error") {
                return Err(e["message"].as_str().unwrap_or("error").to_string());
            }
            let r = &v["result"];
            if !r.is_object() {
                return Err("no result".into());
            }
            let answered = int(r, "ID");
            if answered != id {
                return Err(format!(
                    "the answer is about lease {answered:x}, not {id:x}"
                ));
            }
            Ok(int(r, "TTL"))
        })
    }

    /// Ends a lease now: its keys are deleted. A lease already gone is not an error.
    pub fn lease_revoke(&mut self, id: i64) -> Result<(), Error> {
        match self.call("/v3/lease/revoke", &json!({"ID": id.to_string()}), |_| {
            Ok(())
        }) {
            Err(e)
                if e.refused
                    .as_ref()
                    .is_some_and(|(_, m)| m.contains("lease not found")) =>
            {
                Ok(())
            }
            r => r,
        }
    }

    /// The status of the member that answers.
    pub fn status(&mut self) -> Result<MemberStatus, Error> {
        self.call("/v3/maintenance/status", &json!({}), |v| {
            Ok(MemberStatus {
                version: v["version"].as_str().unwrap_or("").to_string(),
                member_id: uint(&v["header"], "member_id"),
                leader: uint(v, "leader"),
                raft_term: uint(v, "raftTerm").max(uint(v, "raft_term")),
            })
        })
    }
}

/// What an endpoint's reply is: etcd's answer, etcd's refusal (its JSON error with a gRPC
/// code), or anything else.
fn answer(body: &[u8], status: u16) -> Answer {
    // A streaming call may answer with several newline-separated messages: the first counts.
    let first = body
        .split(|b| *b == b'\n')
        .find(|l| !l.iter().all(u8::is_ascii_whitespace))
        .unwrap_or(b"");
    let v: Value = match serde_json::from_slice(first) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return Answer::Foreign(format!("HTTP {status}, JSON but not an object")),
        Err(e) => {
            let start = String::from_utf8_lossy(&first[..first.len().min(60)]).into_owned();
            return Answer::Foreign(format!("HTTP {status}, not JSON ({e}): {start:?}"));
        }
    };
    if status == 200 {
        return Answer::Etcd(v);
    }
    // etcd's gateway: {"error": "...", "code": N} (3.5 adds "message").
    let msg = v["error"].as_str().or(v["message"].as_str());
    match (v["code"].as_i64(), msg) {
        (Some(code @ 1..=16), Some(msg)) => {
            Answer::Refused(code, format!("HTTP {status}: {msg} (code {code})"))
        }
        _ => Answer::Foreign(format!("HTTP {status}, not etcd's error: {v}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_next_key_after_the_prefix() {
        assert_eq!(prefix_end(b"/a/"), b"/a0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
    }

    #[test]
    fn refusals_carry_code_and_message_and_anything_else_is_not_etcds() {
        let body = br#"{"error":"etcdserver: requested lease not found","code":5}"#;
        let Answer::Refused(code, msg) = answer(body, 404) else {
            panic!("a refusal");
        };
        assert_eq!(code, 5);
        assert!(msg.contains("lease not found"), "{msg}");
        let stream = b"{\"result\":{\"TTL\":\"5\"}}\n{\"result\":{}}\n";
        let Answer::Etcd(v) = answer(stream, 200) else {
            panic!("an answer");
        };
        assert_eq!(int(&v["result"], "TTL"), 5);
        for (body, status) in [
            (&b"404 page not found\n"[..], 404),
            (b"<html><body>Bad Gateway</body></html>", 502),
            (b"<html>", 200),
            (b"{\"header\":", 200),
            (b"[1,2]", 200),
            (b"{\"error\":\"no such route\"}", 404),
            (b"{\"code\":99,\"error\":\"x\"}", 400),
        ] {
            let a = answer(body, status);
            assert!(matches!(a, Answer::Foreign(_)), "{body:?}: {a:?}");
        }
    }
}
