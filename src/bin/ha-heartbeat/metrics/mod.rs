//! `hb.metrics_listen`: the daemon's `GET /metrics` (docs/heartbeat.md, "Metrics"), and its
//! status page at `/` and `/status.json` (`crate::page`). Read-only: GET and HEAD only.
//!
//! The loop publishes the exposition text once a turn; a thread of its own answers requests
//! with the latest text, so a slow or hostile client never holds up the loop. That thread is
//! one `mio` event loop serving every client at once: each connection has a second to send
//! its request and a second to take its reply (`conn`), whatever bytes trickle in, so idle
//! or slow clients cannot keep a scrape waiting. The connections are capped well below the
//! daemon's descriptor limit (the heartbeat's own storage I/O opens files too); at the cap,
//! and when the process runs out of descriptors, the oldest connection still waiting for its
//! request is closed to make room, so holding connections open cannot lock a scrape out.

mod conn;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use conn::{Conn, Next};
use hamon::metrics::CONTENT_TYPE;

use crate::page::Page;

const LISTENER: Token = Token(0);
/// The most connections served at once, whatever the descriptor limit allows.
const MAX_CONNECTIONS: usize = 256;
/// The fewest, however low the descriptor limit.
const MIN_CONNECTIONS: usize = 8;
/// Out of descriptors with nothing to close: how long accepting rests (the pending
/// connections wait in the backlog), instead of retrying in a busy loop.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

pub struct MetricsServer {
    latest: Arc<Mutex<String>>,
}

impl MetricsServer {
    /// Binds `addr` and serves in a thread of its own; an error names the address.
    pub fn start(addr: SocketAddr, page: Arc<Page>) -> Result<MetricsServer, String> {
        let fail = |what: &str, e: io::Error| format!("hb.metrics_listen={addr}: {what}{e}");
        let listener = std::net::TcpListener::bind(addr).map_err(|e| fail("", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| fail("cannot make it non-blocking: ", e))?;
        let mut listener = TcpListener::from_std(listener);
        let poll = Poll::new().map_err(|e| fail("cannot create its event loop: ", e))?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(|e| fail("cannot watch it: ", e))?;
        let latest = Arc::new(Mutex::new(String::new()));
        let server = Server {
            poll,
            listener,
            conns: HashMap::new(),
            max_connections: connection_cap(nofile_limit()),
            next_token: 1,
            next_seq: 0,
            accept_paused: None,
            accept_failing: false,
            latest: latest.clone(),
            page,
        };
        std::thread::Builder::new()
            .name("hb-metrics".into())
            .spawn(move || server.run())
            .map_err(|e| fail("cannot start its thread: ", e))?;
        log::info!("metrics on http://{addr}/metrics, status page on http://{addr}/");
        Ok(MetricsServer { latest })
    }

    /// The text the next request gets.
    pub fn publish(&self, text: String) {
        if let Ok(mut latest) = self.latest.lock() {
            *latest = text;
        }
    }
}

/// The soft limit on open descriptors of this process (None: unknown).
#[allow(clippy::unnecessary_cast)] // rlim_t is 32 bits wide on some targets
fn nofile_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid out-pointer.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    (rc == 0 && lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur as u64)
}

/// How many metrics clients are served at once under a descriptor limit of `nofile`: a
/// quarter of it at most, so that the heartbeat's own files, pipes and sockets always have
/// descriptors left.
fn connection_cap(nofile: Option<u64>) -> usize {
    let quarter = nofile.map_or(MAX_CONNECTIONS as u64, |n| n / 4);
    (quarter as usize).clamp(MIN_CONNECTIONS, MAX_CONNECTIONS)
}

/// What a path serves: its content type and body.
type Body = (&'static str, String);

/// The answer to a request's head: the one place that knows what this listener serves.
/// `page` makes the status page's bodies (None in tests of the metrics alone).
fn route(head: &[u8], latest: &Mutex<String>, page: Option<&Arc<Page>>) -> Vec<u8> {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let (method, path) = (words.next(), words.next());
    let head_only = match method {
        Some("GET") => false,
        Some("HEAD") => true,
        _ => {
            return response(
                "405 Method Not Allowed",
                "text/plain",
                "read-only: GET or HEAD only\n",
                false,
            );
        }
    };
    // A query string changes nothing.
    let path = path.map(|p| p.split('?').next().unwrap_or(p));
    let body: Option<Body> = match (path, page) {
        (Some("/metrics"), _) => Some((
            CONTENT_TYPE,
            latest.lock().map(|t| t.clone()).unwrap_or_default(),
        )),
        (Some("/" | "/index.html"), Some(p)) => Some(("text/html; charset=utf-8", p.html())),
        (Some("/status.json"), Some(p)) => Some(("application/json", p.json())),
        _ => None,
    };
    match body {
        Some((content_type, body)) => response("200 OK", content_type, &body, head_only),
        None => response(
            "404 Not Found",
            "text/plain",
            "/ (status page), /status.json, /metrics\n",
            head_only,
        ),
    }
}

/// `head_only`: the headers a GET would get, without its body.
fn response(status: &str, content_type: &str, body: &str, head_only: bool) -> Vec<u8> {
    // The page is served to whoever reaches the listener: it never asks a browser to load
    // or run anything, and never lets itself be framed.
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; \
         frame-ancestors 'none'\r\nAllow: GET, HEAD\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if !head_only {
        out.push_str(body);
    }
    out.into_bytes()
}

struct Server {
    poll: Poll,
    listener: TcpListener,
    conns: HashMap<Token, Conn>,
    max_connections: usize,
    next_token: usize,
    next_seq: u64,
    /// Accepting rests until then (out of descriptors).
    accept_paused: Option<Instant>,
    /// Accepting failed last time (it was logged).
    accept_failing: bool,
    latest: Arc<Mutex<String>>,
    page: Arc<Page>,
}

impl Server {
    fn run(mut self) {
        let mut events = Events::with_capacity(256);
        loop {
            let timeout = self.timeout(Instant::now());
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    log::warn!("metrics listener: {e}");
                    // Whatever broke, never spin on it.
                    std::thread::sleep(ACCEPT_PAUSE);
                }
                continue;
            }
            let now = Instant::now();
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept(now),
                    token => self.serve(token, now),
                }
            }
            if self.accept_paused.is_some_and(|t| now >= t) {
                self.accept_paused = None;
                self.accept(now);
            }
            self.expire(now);
        }
    }

    /// Until the next deadline of a connection, or the end of a rest from accepting.
    fn timeout(&self, now: Instant) -> Option<Duration> {
        self.conns
            .values()
            .map(|c| c.deadline)
            .chain(self.accept_paused)
            .min()
            .map(|t| {
                // Rounded up to a millisecond: a shorter wait would be a busy poll.
                let left = t.saturating_duration_since(now);
                Duration::from_millis(left.as_micros().div_ceil(1000) as u64)
            })
    }

    /// Takes every pending connection (the listener reports readiness once per change).
    fn accept(&mut self, now: Instant) {
        if self.accept_paused.is_some() {
            return;
        }
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    self.accept_failing = false;
                    self.admit(stream, now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The client gave up before it was taken: take the next one.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) if out_of_descriptors(&e) && self.make_room() => {}
                Err(e) => {
                    // Said once per run of failures, not every pause.
                    if !self.accept_failing {
                        log::warn!(
                            "metrics listener: cannot accept ({e}); trying again every {} ms",
                            ACCEPT_PAUSE.as_millis()
                        );
                    }
                    self.accept_failing = true;
                    self.accept_paused = Some(now + ACCEPT_PAUSE);
                    return;
                }
            }
        }
    }

    /// Serves a new connection; at the cap, the oldest one still waiting makes room (or, when
    /// every one is being answered, the new one is closed).
    fn admit(&mut self, mut stream: TcpStream, now: Instant) {
        if self.conns.len() >= self.max_connections && !self.make_room() {
            return;
        }
        let token = Token(self.next_token);
        // Token 0 is the listener; 2^64 connections never come.
        self.next_token += 1;
        let interest = Interest::READABLE | Interest::WRITABLE;
        if self
            .poll
            .registry()
            .register(&mut stream, token, interest)
            .is_err()
        {
            return;
        }
        self.next_seq += 1;
        self.conns
            .insert(token, Conn::new(stream, self.next_seq, now));
        // A request that came with the connection is answered now: under a flood of new
        // connections a scrape does not wait for its turn to be read.
        self.serve(token, now);
    }

    /// Closes the oldest connection still waiting for its request; false when there is none.
    fn make_room(&mut self) -> bool {
        let oldest = self
            .conns
            .iter()
            .filter(|(_, c)| c.waiting())
            .min_by_key(|(_, c)| c.seq)
            .map(|(t, _)| *t);
        match oldest {
            Some(token) => {
                self.close(token);
                true
            }
            None => false,
        }
    }

    fn serve(&mut self, token: Token, now: Instant) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let (latest, page) = (&self.latest, &self.page);
        if conn.turn(now, |head| route(head, latest, Some(page))) == Next::Close {
            self.close(token);
        }
    }

    /// Closes every connection past its deadline.
    fn expire(&mut self, now: Instant) {
        let late: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| now >= c.deadline)
            .map(|(t, _)| *t)
            .collect();
        for token in late {
            self.close(token);
        }
    }

    fn close(&mut self, token: Token) {
        if let Some(mut conn) = self.conns.remove(&token) {
            let _ = self.poll.registry().deregister(&mut conn.stream);
        }
    }
}

/// The process (EMFILE) or the system (ENFILE) has no descriptor left, or no memory for a
/// socket.
fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_most_descriptors_to_the_heartbeat() {
        assert_eq!(connection_cap(Some(1024)), 256);
        assert_eq!(connection_cap(Some(20_000)), MAX_CONNECTIONS);
        assert_eq!(connection_cap(Some(128)), 32);
        assert_eq!(connection_cap(Some(16)), MIN_CONNECTIONS);
        assert_eq!(connection_cap(None), MAX_CONNECTIONS);
    }

    #[test]
    fn requests_are_routed_by_method_and_path() {
        let latest = Mutex::new("hamon_heartbeat_epoch 3\n".to_string());
        let text = |head: &str| String::from_utf8(route(head.as_bytes(), &latest, None)).unwrap();
        let ok = text("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains(CONTENT_TYPE), "{ok}");
        assert!(ok.ends_with("\r\n\r\nhamon_heartbeat_epoch 3\n"), "{ok}");
        assert!(ok.contains("Content-Length: 24\r\n"), "{ok}");
        assert!(text("GET /other HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
        assert!(text("POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
        assert!(text("PUT / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
        assert!(text("DELETE /status.json HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
        assert!(text("\r\n\r\n").starts_with("HTTP/1.1 405 "));
        let head = text("HEAD /metrics?x=1 HTTP/1.1\r\n\r\n");
        assert!(
            head.starts_with("HTTP/1.1 200 OK\r\n")
                && head.contains("Content-Length: 24\r\n")
                && head.ends_with("\r\n\r\n"),
            "{head}"
        );
    }
}
