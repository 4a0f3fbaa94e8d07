//! A small fake etcd endpoint on 127.0.0.1: an HTTP/1.1 server that answers what a broken or
//! hostile endpoint would (a 404 page, an HTML error page, JSON cut short), relays to a real
//! etcd member, with the lease TTL or the cluster_id of the answers rewritten, or relays
//! nothing at all (a cut-off). What it does can be switched while it runs. Stopped and its
//! threads joined when dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// What the endpoint does with each request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `404 page not found`, as Go's HTTP server answers a path it does not serve.
    NotFound,
    /// A proxy's HTML error page, status 200.
    Html,
    /// Status 200 and a JSON body cut short.
    Malformed,
    /// Relays to etcd and back unchanged.
    Relay,
    /// Relays, with every `"TTL":"n"` of the answer made `"TTL":"<ttl>"`.
    LyingTtl(u64),
    /// Relays, with every `"cluster_id":"n"` made `"cluster_id":"<id>"`.
    OtherCluster(u64),
    /// Relays, with every `"revision":"n"` made `"revision":"1"`: a store older than any
    /// written to (a member restored from an old backup).
    OldStore,
    /// Reads the request and answers nothing (the connection stays open).
    Silent,
}

struct Shared {
    mode: Mutex<Mode>,
    upstream: Option<SocketAddr>,
    stop: AtomicBool,
    /// Requests received, and lease grants among them.
    requests: AtomicUsize,
    grants: AtomicUsize,
}

pub struct FakeEtcd {
    pub url: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FakeEtcd {
    /// Starts the endpoint; `upstream` is the real member's `http://127.0.0.1:port` (needed
    /// by the relaying modes).
    pub fn start(mode: Mode, upstream: Option<&str>) -> FakeEtcd {
        let upstream = upstream.map(|u| {
            u.strip_prefix("http://")
                .expect("a plain http:// member")
                .parse::<SocketAddr>()
                .expect("a numeric loopback address")
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            mode: Mutex::new(mode),
            upstream,
            stop: AtomicBool::new(false),
            requests: AtomicUsize::new(0),
            grants: AtomicUsize::new(0),
        });
        let s = Arc::clone(&shared);
        let accept = thread::spawn(move || {
            let mut conns = Vec::new();
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = Arc::clone(&s);
                conns.push(thread::spawn(move || serve(conn, &s)));
            }
            for c in conns {
                let _ = c.join();
            }
        });
        FakeEtcd {
            url: format!("http://{addr}"),
            addr,
            shared,
            accept: Some(accept),
        }
    }

    pub fn set(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Lease grants received so far.
    pub fn grants(&self) -> usize {
        self.shared.grants.load(Ordering::SeqCst)
    }
}

impl Drop for FakeEtcd {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// One request: (path, the whole request as received).
fn read_request(conn: &mut TcpStream, s: &Shared) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let length: usize = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                buf.truncate(end + 4 + length);
                return Some((path, buf));
            }
        }
        match conn.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if s.stop.load(Ordering::SeqCst) {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
}

fn serve(mut conn: TcpStream, s: &Shared) {
    let _ = conn.set_read_timeout(Some(Duration::from_millis(100)));
    while let Some((path, request)) = read_request(&mut conn, s) {
        s.requests.fetch_add(1, Ordering::SeqCst);
        if path == "/v3/lease/grant" {
            s.grants.fetch_add(1, Ordering::SeqCst);
        }
        let mode = s.mode.lock().unwrap().clone();
        let reply = match mode {
            Mode::NotFound => reply(404, "text/plain", b"404 page not found\n"),
            Mode::Html => reply(
                200,
                "text/html",
                b"<html><head><title>Gateway</title></head><body>Service moved</body></html>",
            ),
            Mode::Malformed => reply(200, "application/json", b"{\"header\":{\"cluster_id\":"),
            Mode::Silent => {
                // Holds the connection, as a partition would, until the client gives up.
                while !s.stop.load(Ordering::SeqCst) {
                    match conn.read(&mut [0u8; 4096]) {
                        Ok(0) => return,
                        Ok(_) => {}
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) => {}
                        Err(_) => return,
                    }
                }
                return;
            }
            Mode::Relay | Mode::LyingTtl(_) | Mode::OtherCluster(_) | Mode::OldStore => {
                let Some((status, body)) = relay(s.upstream.expect("an upstream"), &request) else {
                    return;
                };
                let body = match mode {
                    Mode::LyingTtl(ttl) => rewrite(&body, "\"TTL\":\"", &ttl.to_string()),
                    Mode::OtherCluster(id) => rewrite(&body, "\"cluster_id\":\"", &id.to_string()),
                    Mode::OldStore => rewrite(&body, "\"revision\":\"", "1"),
                    _ => body,
                };
                reply(status, "application/json", &body)
            }
        };
        if conn.write_all(&reply).is_err() {
            return;
        }
    }
}

fn reply(status: u16, kind: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// Sends the request to etcd on a fresh connection that etcd closes after its answer;
/// returns (status, body with any chunking undone).
fn relay(upstream: SocketAddr, request: &[u8]) -> Option<(u16, Vec<u8>)> {
    let end = request.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&request[..end]).into_owned();
    let mut out = String::new();
    for line in head.split("\r\n") {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut msg = out.into_bytes();
    msg.extend_from_slice(&request[end + 4..]);
    let mut up = TcpStream::connect_timeout(&upstream, Duration::from_secs(2)).ok()?;
    up.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    up.write_all(&msg).ok()?;
    let mut raw = Vec::new();
    let started = Instant::now();
    let mut chunk = [0u8; 8192];
    while started.elapsed() < Duration::from_secs(5) {
        match up.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(_) => break,
        }
        if complete(&raw) {
            break;
        }
    }
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = &raw[end + 4..];
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Some((status, body))
}

/// A whole reply is in: by Content-Length, or a chunked body's last chunk.
fn complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let body = &raw[end + 4..];
    if head.contains("transfer-encoding: chunked") {
        return body.ends_with(b"0\r\n\r\n");
    }
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == "content-length")
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .is_some_and(|n| body.len() >= n)
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&body[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

/// Every `<field>digits"` made `<field><value>"`.
fn rewrite(body: &[u8], field: &str, value: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut rest: &str = &text;
    while let Some(i) = rest.find(field) {
        out.push_str(&rest[..i + field.len()]);
        rest = &rest[i + field.len()..];
        let digits = rest.find('"').unwrap_or(0);
        out.push_str(value);
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out.into_bytes()
}
