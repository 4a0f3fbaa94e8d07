//! One client connection of the network thread: its stream (TCP or the Unix socket), where it
//! comes from, its deadlines, and one bounded turn of writing, feeding and reading.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown};
use std::time::Instant;

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};

use super::Limits;
use crate::monitor::protocol::{Budget, Session};
use crate::monitor::shared::{EXPIRIES, Shared};

/// Replies a client has not read yet; past this the connection is not read until it reads.
pub const MAX_PENDING: usize = 64 * 1024;
/// One read.
pub(super) const READ_CHUNK: usize = 4096;
/// Reads per connection per turn; a connection with more to read waits for the next turn.
const READS_PER_TURN: usize = 4;
/// What one feed may do: lines handled, and replies produced before it stops.
const FEED_BUDGET: Budget = Budget {
    max_lines: 64,
    max_output: 16 * 1024,
};

/// A client's connection: TCP, or the Unix domain socket (`ha.unix_socket`).
pub(super) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub(super) fn source(&mut self) -> &mut dyn Source {
        match self {
            Stream::Tcp(s) => s,
            Stream::Unix(s) => s,
        }
    }

    pub(super) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Where a client comes from, for the per-address limit: Unix socket clients count as one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Peer {
    Ip(IpAddr),
    Local,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Ip(ip) => write!(f, "{ip}"),
            Peer::Local => f.write_str("the Unix socket"),
        }
    }
}

pub(super) struct Conn {
    pub(super) stream: Stream,
    pub(super) peer: Peer,
    pub(super) session: Session,
    /// Bytes read but not fed yet, because the last feed spent its budget.
    pub(super) input: Vec<u8>,
    /// Replies not yet written.
    pub(super) out: Vec<u8>,
    pub(super) accepted: Instant,
    /// When the last command was completed.
    pub(super) last_command: Option<Instant>,
    /// The peer closed its side, or the session ended: flush, then drop.
    pub(super) closing: bool,
    pub(super) writable_interest: bool,
    /// In the ready queue.
    pub(super) queued: bool,
    /// Had its turn before it could be evicted.
    pub(super) last_chance: bool,
}

pub(super) enum Next {
    /// Wait for the next event.
    Wait,
    /// More to do: back of the queue.
    Again,
    Drop,
}

/// Why a deadline closes a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Expiry {
    // The index into EXPIRIES and the metrics' counts.
    FirstCommand = 0,
    Idle = 1,
    Lifetime = 2,
}

impl Expiry {
    pub(super) fn what(self) -> &'static str {
        EXPIRIES[self as usize]
    }
}

impl Conn {
    /// When this connection started waiting for its next command.
    pub(super) fn waiting_since(&self) -> Instant {
        self.last_command.unwrap_or(self.accepted)
    }

    pub(super) fn deadline(&self, limits: &Limits) -> (Instant, Expiry) {
        let waiting = match self.last_command {
            None => (
                self.accepted + limits.first_command_timeout,
                Expiry::FirstCommand,
            ),
            Some(at) => (at + limits.idle_timeout, Expiry::Idle),
        };
        let end = (self.accepted + limits.lifetime, Expiry::Lifetime);
        if end.0 < waiting.0 { end } else { waiting }
    }

    /// One turn: write what is pending, feed what was read, read more, within the budgets.
    pub(super) fn on_ready(&mut self, shared: &Shared, scratch: &mut [u8; READ_CHUNK]) -> Next {
        let mut reads = 0;
        loop {
            if !self.flush() {
                return Next::Drop;
            }
            if self.out.len() >= MAX_PENDING {
                // Not read again until the client reads: its writable event brings it back.
                return Next::Wait;
            }
            if !self.input.is_empty() {
                let input = std::mem::take(&mut self.input);
                let Some(used) = self.consume(&input, shared) else {
                    return Next::Drop;
                };
                if used < input.len() {
                    self.input = input;
                    self.input.drain(..used);
                    return if self.flush() {
                        Next::Again
                    } else {
                        Next::Drop
                    };
                }
                continue;
            }
            if self.closing {
                break;
            }
            if reads == READS_PER_TURN {
                return Next::Again;
            }
            match self.stream.read(scratch) {
                Ok(0) => self.closing = true,
                Ok(n) => {
                    reads += 1;
                    let Some(used) = self.consume(&scratch[..n], shared) else {
                        return Next::Drop;
                    };
                    if used < n {
                        self.input.extend_from_slice(&scratch[used..n]);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Next::Drop,
            }
        }
        if !self.flush() || (self.closing && self.out.is_empty()) {
            return Next::Drop;
        }
        Next::Wait
    }

    /// Feeds `bytes` within one feed budget; returns how many were taken, or None when the
    /// replies cannot be stored.
    fn consume(&mut self, bytes: &[u8], shared: &Shared) -> Option<usize> {
        if self.closing {
            return Some(bytes.len());
        }
        let (used, out) = self.session.feed_bounded(bytes, shared, FEED_BUDGET);
        if out.commands > 0 {
            self.last_command = Some(Instant::now());
        }
        self.closing |= out.close;
        if self.out.is_empty() {
            self.out = out.bytes;
        } else {
            // A failed reservation costs this connection, never the process.
            self.out.try_reserve(out.bytes.len()).ok()?;
            self.out.extend_from_slice(&out.bytes);
        }
        Some(used)
    }

    /// Writes what the socket takes; false when the connection is broken.
    fn flush(&mut self) -> bool {
        let mut written = 0;
        while written < self.out.len() {
            match self.stream.write(&self.out[written..]) {
                Ok(0) => return false,
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        if written == self.out.len() {
            self.out = Vec::new();
        } else {
            self.out.drain(..written);
        }
        true
    }
}
