//! The network thread: one `mio` event loop that accepts clients, feeds their bytes to a
//! [`Session`] each and writes the answers. It sleeps in `poll` until a client does
//! something or an idle deadline comes, so an idle server never wakes.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::monitor::protocol::Session;
use crate::monitor::shared::Shared;

const LISTENER: Token = Token(0);
pub const WAKER: Token = Token(1);
/// A client that does not read its answers is dropped past this much pending output.
const MAX_PENDING: usize = 64 * 1024;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
    pub max_line: usize,
}

struct Conn {
    stream: TcpStream,
    session: Session,
    out: Vec<u8>,
    last_active: Instant,
    /// The peer closed its side or the session ended: flush, then drop.
    closing: bool,
    writable_interest: bool,
}

enum Next {
    Keep,
    Drop,
}

impl Conn {
    fn on_ready(&mut self, shared: &Shared) -> Next {
        let mut buf = [0u8; 4096];
        loop {
            if self.closing {
                break;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => self.closing = true,
                Ok(n) => {
                    self.last_active = Instant::now();
                    let out = self.session.feed(&buf[..n], shared);
                    self.out.extend_from_slice(&out.bytes);
                    self.closing |= out.close;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Next::Drop,
            }
        }
        self.flush()
    }

    fn flush(&mut self) -> Next {
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(0) => return Next::Drop,
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Next::Drop,
            }
        }
        if self.out.len() > MAX_PENDING || (self.closing && self.out.is_empty()) {
            return Next::Drop;
        }
        Next::Keep
    }
}

fn close(mut conn: Conn, poll: &Poll) {
    let _ = poll.registry().deregister(&mut conn.stream);
    let _ = conn.stream.shutdown(Shutdown::Write);
}

/// Runs until `shared.stopping` is set and the waker fires.
pub fn serve(shared: Arc<Shared>, mut listener: TcpListener, mut poll: Poll, limits: Limits) {
    if let Err(e) = poll
        .registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
    {
        log::error!("hamon: cannot watch the listening socket: {e}");
        return;
    }
    let mut conns: HashMap<Token, Conn> = HashMap::new();
    let mut next_token = WAKER.0 + 1;
    let mut events = Events::with_capacity(256);
    while !shared.is_stopping() {
        let now = Instant::now();
        let timeout = conns
            .values()
            .map(|c| (c.last_active + limits.idle_timeout).saturating_duration_since(now))
            .min();
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            log::error!("hamon: poll failed, monitor server stops answering: {e}");
            break;
        }
        for event in events.iter() {
            match event.token() {
                LISTENER => accept(&mut listener, &poll, &mut conns, &mut next_token, limits),
                WAKER => {}
                token => {
                    let Some(conn) = conns.get_mut(&token) else {
                        continue;
                    };
                    let next = conn.on_ready(&shared);
                    update(token, next, &mut conns, &poll);
                }
            }
        }
        let now = Instant::now();
        let idle: Vec<Token> = conns
            .iter()
            .filter(|(_, c)| now >= c.last_active + limits.idle_timeout)
            .map(|(t, _)| *t)
            .collect();
        for token in idle {
            if let Some(mut conn) = conns.remove(&token) {
                let _ = conn.stream.write(b"ERR idle-timeout\r\n");
                close(conn, &poll);
            }
        }
    }
    for (_, conn) in conns.drain() {
        close(conn, &poll);
    }
}

fn update(token: Token, next: Next, conns: &mut HashMap<Token, Conn>, poll: &Poll) {
    match next {
        Next::Drop => {
            if let Some(conn) = conns.remove(&token) {
                close(conn, poll);
            }
        }
        Next::Keep => {
            let Some(conn) = conns.get_mut(&token) else {
                return;
            };
            let want = !conn.out.is_empty();
            if want != conn.writable_interest {
                let interest = if want {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                if poll
                    .registry()
                    .reregister(&mut conn.stream, token, interest)
                    .is_err()
                {
                    if let Some(conn) = conns.remove(&token) {
                        close(conn, poll);
                    }
                    return;
                }
                conn.writable_interest = want;
            }
        }
    }
}

fn accept(
    listener: &mut TcpListener,
    poll: &Poll,
    conns: &mut HashMap<Token, Conn>,
    next_token: &mut usize,
    limits: Limits,
) {
    loop {
        let (mut stream, peer) = match listener.accept() {
            Ok(pair) => pair,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // Out of descriptors and the like: leave the backlog for the next wake-up.
                log::warn!("hamon: accept failed: {e}");
                return;
            }
        };
        if conns.len() >= limits.max_connections {
            log::debug!(
                "hamon: connection cap {} reached, {peer} gets BUSY",
                limits.max_connections
            );
            let _ = stream.write(b"BUSY\r\n");
            let _ = stream.shutdown(Shutdown::Write);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let token = Token(*next_token);
        *next_token += 1;
        if poll
            .registry()
            .register(&mut stream, token, Interest::READABLE)
            .is_err()
        {
            continue;
        }
        let conn = Conn {
            stream,
            session: Session::new(limits.max_line),
            out: Vec::new(),
            last_active: Instant::now(),
            closing: false,
            writable_interest: false,
        };
        conns.insert(token, conn);
    }
}

/// Creates the poll and its waker before the thread starts, so that stop can always wake it.
pub fn prepare() -> io::Result<(Poll, Arc<Waker>)> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    Ok((poll, waker))
}
