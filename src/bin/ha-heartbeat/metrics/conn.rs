//! One client of the metrics listener: its request, bounded in size and in time from the
//! moment it was accepted (bytes that trickle in do not extend it), then its reply, bounded
//! in time too, then the connection is closed.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use mio::net::TcpStream;

/// The longest request read: a scrape's head is a few hundred bytes.
pub const MAX_REQUEST: usize = 4096;
/// From its acceptance, a client has this long to send its whole request.
pub const REQUEST_TIME: Duration = Duration::from_secs(1);
/// From its request, a client has this long to take the whole reply.
pub const REPLY_TIME: Duration = Duration::from_secs(1);

enum State {
    /// The request so far.
    Reading(Vec<u8>),
    /// The reply and how much of it went out.
    Writing { reply: Vec<u8>, sent: usize },
}

/// What the listener does with a connection after its turn.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Wait for the socket to become ready again (or for the deadline).
    Wait,
    /// Close it: answered, gone, or misbehaving.
    Close,
}

pub struct Conn {
    pub stream: TcpStream,
    /// The order of acceptance: at the connection cap, the oldest one still waiting for its
    /// request makes room.
    pub seq: u64,
    /// When it is closed whatever it does.
    pub deadline: Instant,
    state: State,
}

impl Conn {
    pub fn new(stream: TcpStream, seq: u64, now: Instant) -> Conn {
        Conn {
            stream,
            seq,
            deadline: now + REQUEST_TIME,
            state: State::Reading(Vec::new()),
        }
    }

    /// It has not sent its whole request yet.
    pub fn waiting(&self) -> bool {
        matches!(self.state, State::Reading(_))
    }

    /// Reads what arrived; once the request is whole, `answer` makes the reply from it, and
    /// the reply goes out as far as the socket takes it.
    pub fn turn(&mut self, now: Instant, answer: impl FnOnce(&[u8]) -> Vec<u8>) -> Next {
        let mut answer = Some(answer);
        loop {
            match &mut self.state {
                State::Reading(request) => {
                    let mut chunk = [0u8; 1024];
                    match self.stream.read(&mut chunk) {
                        Ok(0) => return Next::Close,
                        Ok(n) => request.extend_from_slice(&chunk[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => return Next::Close,
                    }
                    if let Some(end) = head_end(request) {
                        let Some(answer) = answer.take() else {
                            return Next::Close;
                        };
                        let reply = answer(&request[..end]);
                        self.state = State::Writing { reply, sent: 0 };
                        self.deadline = now + REPLY_TIME;
                    } else if request.len() >= MAX_REQUEST {
                        return Next::Close;
                    }
                }
                State::Writing { reply, sent } => {
                    if *sent == reply.len() {
                        let _ = self.stream.shutdown(Shutdown::Write);
                        return Next::Close;
                    }
                    match self.stream.write(&reply[*sent..]) {
                        Ok(0) => return Next::Close,
                        Ok(n) => *sent += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => return Next::Close,
                    }
                }
            }
        }
    }
}

/// Where the head of a request ends (after its blank line), once it is whole.
fn head_end(request: &[u8]) -> Option<usize> {
    request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_ends_after_the_blank_line() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\n"), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody"), Some(27));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(head_end(b""), None);
    }
}
