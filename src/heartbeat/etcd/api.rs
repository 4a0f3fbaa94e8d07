//! etcd's v3 API through its gRPC JSON gateway (`/v3/...`, etcd 3.4 and later): the calls the
//! heartbeat needs, with keys and values as bytes (base64 on the wire) and int64s parsed from
//! the strings the gateway sends. Reads are linearizable (etcd's default; `serializable` is
//! never set). Endpoints are tried in turn, starting with the one that last answered.

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

/// A client of one etcd cluster. Blocking; not shared between threads (own one per thread).
pub struct Client {
    conns: Vec<Conn>,
    current: usize,
    timeout: Duration,
    user: Option<(String, String)>,
    token: Option<String>,
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
            timeout: settings.timeout,
            user: settings.user.clone(),
            token: None,
        })
    }

    /// The endpoint the next call tries first.
    pub fn current_endpoint(&self) -> &str {
        &self.conns[self.current].endpoint.url
    }

    /// POSTs to the endpoints in turn until one answers, all within one timeout. Each
    /// endpoint gets an equal share of the time left, so one that hangs (a stopped member)
    /// leaves time for the others.
    fn call(&mut self, path: &'static str, body: &Value) -> Result<Value, Error> {
        let deadline = Instant::now() + self.timeout;
        let body = body.to_string().into_bytes();
        let mut err = Error {
            call: path,
            attempts: Vec::new(),
            refused: None,
        };
        let n = self.conns.len();
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
                self.current = (i + 1) % n;
                tried += 1;
                continue;
            }
            let token = self.token.clone();
            let reply = self.conns[i].post(path, &body, token.as_deref(), attempt_deadline);
            match reply.map(|r| answer(&r.body, r.status)) {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err((code, msg)))
                    if code == UNAUTHENTICATED && !reauthed && self.user.is_some() =>
                {
                    // Tokens expire (etcd's --auth-token-ttl): sign in again, once.
                    err.attempts
                        .push((url, format!("{msg} (signing in again)")));
                    self.token = None;
                    reauthed = true;
                }
                Ok(Err((code, msg))) if code == UNAVAILABLE || code == DEADLINE_EXCEEDED => {
                    err.attempts.push((url, msg));
                    self.conns[i].close();
                    self.current = (i + 1) % n;
                    tried += 1;
                }
                Ok(Err((code, msg))) => {
                    err.attempts.push((url, msg.clone()));
                    err.refused = Some((code, msg));
                    return Err(err);
                }
                Err(e) => {
                    err.attempts.push((url, e));
                    self.current = (i + 1) % n;
                    tried += 1;
                }
            }
        }
        Err(err)
    }

    fn authenticate(&mut self, i: usize, deadline: Instant) -> Result<(), String> {
        let (name, password) = self.user.clone().expect("only called with a user");
        let body = json!({"name": name, "password": password}).to_string();
        let r = self.conns[i].post("/v3/auth/authenticate", body.as_bytes(), None, deadline)?;
        let v = answer(&r.body, r.status).map_err(|(_, m)| format!("sign in as {name:?}: {m}"))?;
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
        let body = json!({"key": b64(prefix), "range_end": b64(&prefix_end(prefix))});
        let v = self.call("/v3/kv/range", &body)?;
        let list = kvs(&v).map_err(|e| self.bad("/v3/kv/range", e))?;
        Ok((int(&v["header"], "revision"), list))
    }

    /// One key, if it exists.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<KeyValue>, Error> {
        let v = self.call("/v3/kv/range", &json!({"key": b64(key)}))?;
        let mut list = kvs(&v).map_err(|e| self.bad("/v3/kv/range", e))?;
        Ok(list.pop())
    }

    /// Writes a key (attached to `lease` unless 0); returns the revision of the write.
    pub fn put(&mut self, key: &[u8], value: &[u8], lease: i64) -> Result<i64, Error> {
        let body = json!({"key": b64(key), "value": b64(value), "lease": lease.to_string()});
        let v = self.call("/v3/kv/put", &body)?;
        Ok(int(&v["header"], "revision"))
    }

    /// Deletes a key; returns how many were deleted (0 or 1).
    pub fn delete(&mut self, key: &[u8]) -> Result<i64, Error> {
        let v = self.call("/v3/kv/deleterange", &json!({"key": b64(key)}))?;
        Ok(int(&v, "deleted"))
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
        let v = self.call("/v3/kv/txn", &body)?;
        let succeeded = v["succeeded"].as_bool().unwrap_or(false);
        let mut got = Vec::new();
        if let Some(list) = v["responses"].as_array() {
            for r in list {
                if r.get("response_range").is_some() {
                    got.push(kvs(&r["response_range"]).map_err(|e| self.bad("/v3/kv/txn", e))?);
                }
            }
        }
        Ok(TxnReply {
            succeeded,
            revision: int(&v["header"], "revision"),
            got,
        })
    }

    /// A new lease of `ttl_s` seconds: (its ID, the TTL etcd granted, which may be longer).
    pub fn lease_grant(&mut self, ttl_s: i64) -> Result<(i64, i64), Error> {
        let v = self.call(
            "/v3/lease/grant",
            &json!({"TTL": ttl_s.to_string(), "ID": "0"}),
        )?;
        if let Some(e) = v["error"].as_str().filter(|e| !e.is_empty()) {
            return Err(self.bad("/v3/lease/grant", e.to_string()));
        }
        let id = int(&v, "ID");
        if id == 0 {
            return Err(self.bad("/v3/lease/grant", "no lease ID in the reply".into()));
        }
        Ok((id, int(&v, "TTL")))
    }

    /// Renews a lease to its full TTL; returns that TTL, or 0 when the lease is gone
    /// (expired or revoked).
    pub fn lease_keepalive(&mut self, id: i64) -> Result<i64, Error> {
        let v = self.call("/v3/lease/keepalive", &json!({"ID": id.to_string()}))?;
        // A streaming call: the gateway wraps each message as {"result": ...} or {"error": ...}.
        if let Some(e) = v.get("error") {
            let msg = e["message"].as_str().unwrap_or("error").to_string();
            return Err(self.bad("/v3/lease/keepalive", msg));
        }
        Ok(int(&v["result"], "TTL"))
    }

    /// Ends a lease now: its keys are deleted. A lease already gone is not an error.
    pub fn lease_revoke(&mut self, id: i64) -> Result<(), Error> {
        match self.call("/v3/lease/revoke", &json!({"ID": id.to_string()})) {
            Err(e)
                if e.refused
                    .as_ref()
                    .is_some_and(|(_, m)| m.contains("lease not found")) =>
            {
                Ok(())
            }
            r => r.map(|_| ()),
        }
    }

    /// The status of the member that answers.
    pub fn status(&mut self) -> Result<MemberStatus, Error> {
        let v = self.call("/v3/maintenance/status", &json!({}))?;
        Ok(MemberStatus {
            version: v["version"].as_str().unwrap_or("").to_string(),
            member_id: uint(&v["header"], "member_id"),
            leader: uint(&v, "leader"),
            raft_term: uint(&v, "raftTerm").max(uint(&v, "raft_term")),
        })
    }

    fn bad(&self, call: &'static str, what: String) -> Error {
        Error {
            call,
            attempts: vec![(
                self.current_endpoint().to_string(),
                format!("bad reply: {what}"),
            )],
            refused: None,
        }
    }
}

/// The JSON of a reply, or etcd's refusal as (gRPC code, message).
fn answer(body: &[u8], status: u16) -> Result<Value, (i64, String)> {
    // A streaming call may answer with several newline-separated messages: the first counts.
    let first = body
        .split(|b| *b == b'\n')
        .find(|l| !l.iter().all(u8::is_ascii_whitespace))
        .unwrap_or(b"");
    let v: Value = serde_json::from_slice(first).map_err(|e| {
        let code = if status >= 500 { UNAVAILABLE } else { 0 };
        (code, format!("HTTP {status}, not JSON: {e}"))
    })?;
    if status == 200 {
        return Ok(v);
    }
    let msg = v["error"]
        .as_str()
        .or(v["message"].as_str())
        .unwrap_or("no message")
        .to_string();
    let code = v["code"]
        .as_i64()
        .unwrap_or(if status >= 500 { UNAVAILABLE } else { 0 });
    Err((code, format!("HTTP {status}: {msg} (code {code})")))
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
    fn refusals_carry_code_and_message() {
        let body = br#"{"error":"etcdserver: requested lease not found","code":5}"#;
        let (code, msg) = answer(body, 404).unwrap_err();
        assert_eq!(code, 5);
        assert!(msg.contains("lease not found"), "{msg}");
        assert_eq!(answer(b"<html>", 502).unwrap_err().0, UNAVAILABLE);
        let stream = b"{\"result\":{\"TTL\":\"5\"}}\n{\"result\":{}}\n";
        assert_eq!(int(&answer(stream, 200).unwrap()["result"], "TTL"), 5);
    }
}
