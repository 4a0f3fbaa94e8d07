//! The load generator: N concurrent clients in one mio event loop. Closed loop (no pace):
//! each client sends its next `check` as soon as the reply is in, the most it can ask.
//! Paced: each client starts a probe every `pace`, starts spread over the first period; a
//! probe whose predecessor's reply came after it was due starts at once, and its latency
//! counts from when it was due (no coordinated omission); one started on time counts from
//! its start (the event loop's timer wakes up to 1 ms late, which is not the server's doing). Persistent clients keep one connection; connect-per-probe
//! clients open one for every probe, as a monitor script does, and close it with a reset
//! (SO_LINGER 0) so that tens of thousands of closed connections do not use up the loopback
//! ports in TIME_WAIT. Latency runs from the probe's start (connect, or send when
//! persistent) to the whole reply line.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::support::stats::Samples;

const REQUEST: &[u8] = b"check\r\n";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Persistent,
    ConnectPerProbe,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Persistent => "persistent",
            Mode::ConnectPerProbe => "connect per probe",
        }
    }
}

#[derive(Default)]
pub struct Outcome {
    pub latency: Samples,
    /// Replies that said UP.
    pub answered: u64,
    /// Anything else: refused or reset connections, BUSY, other replies.
    pub errors: u64,
    pub elapsed: Duration,
    /// Paced only: how late the generator started probes that were due while it slept
    /// (timer slack, or the generator itself not keeping up).
    pub start_lag: Samples,
}

struct Client {
    stream: Option<TcpStream>,
    /// When the probe in flight was due (closed loop: when it was sent).
    began: Instant,
    /// When the next probe is due, while none is in flight.
    due: Option<Instant>,
    connected: bool,
    reply: Vec<u8>,
}

struct Generator {
    addr: SocketAddr,
    mode: Mode,
    pace: Option<Duration>,
    poll: Poll,
    clients: Vec<Client>,
    outcome: Outcome,
}

fn send(stream: &mut TcpStream) -> io::Result<()> {
    // Seven bytes always fit an empty socket buffer; a short write means a broken peer.
    match stream.write(REQUEST)? {
        n if n == REQUEST.len() => Ok(()),
        _ => Err(io::Error::other("short write")),
    }
}

fn close_with_reset(stream: TcpStream, poll: &Poll) {
    let mut stream = stream;
    let _ = poll.registry().deregister(&mut stream);
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

impl Generator {
    /// A persistent client's connection, made once, blocking.
    fn connect_persistent(&self, token: Token) -> io::Result<TcpStream> {
        let std_stream = std::net::TcpStream::connect(self.addr)?;
        std_stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(std_stream);
        stream.set_nodelay(true)?;
        self.poll
            .registry()
            .register(&mut stream, token, Interest::READABLE)?;
        Ok(stream)
    }

    /// Starts client `i`'s probe that was due at `at`.
    fn start_probe(&mut self, i: usize, at: Instant) {
        let token = Token(i);
        let result = match self.mode {
            Mode::Persistent => match self.clients[i].stream.as_mut() {
                Some(stream) => send(stream),
                None => self.connect_persistent(token).and_then(|mut s| {
                    send(&mut s)?;
                    self.clients[i].stream = Some(s);
                    Ok(())
                }),
            },
            Mode::ConnectPerProbe => TcpStream::connect(self.addr).and_then(|mut s| {
                s.set_nodelay(true)?;
                let interest = Interest::READABLE | Interest::WRITABLE;
                self.poll.registry().register(&mut s, token, interest)?;
                self.clients[i].stream = Some(s);
                Ok(())
            }),
        };
        let client = &mut self.clients[i];
        client.began = at;
        client.due = None;
        client.connected = self.mode == Mode::Persistent;
        client.reply.clear();
        if result.is_err() {
            self.fail(i);
        }
    }

    /// Counts an error and tries again at once on a new connection.
    fn fail(&mut self, i: usize) {
        self.outcome.errors += 1;
        if let Some(stream) = self.clients[i].stream.take() {
            close_with_reset(stream, &self.poll);
        }
        self.clients[i].due = Some(Instant::now());
    }

    fn finish_probe(&mut self, i: usize) {
        let now = Instant::now();
        let client = &mut self.clients[i];
        self.outcome.latency.record(now - client.began);
        if client.reply.starts_with(b"UP ") {
            self.outcome.answered += 1;
        } else {
            self.outcome.errors += 1;
        }
        if self.mode == Mode::ConnectPerProbe
            && let Some(stream) = client.stream.take()
        {
            close_with_reset(stream, &self.poll);
        }
        let next = self.pace.map_or(now, |pace| client.began + pace);
        if next <= now {
            self.start_probe(i, next);
        } else {
            client.due = Some(next);
        }
    }

    fn on_event(&mut self, i: usize, writable: bool, readable: bool) {
        let poll = &self.poll;
        let client = &mut self.clients[i];
        let Some(stream) = client.stream.as_mut() else {
            return;
        };
        if writable && !client.connected {
            let connected = matches!(stream.take_error(), Ok(None)) && stream.peer_addr().is_ok();
            let sent = connected
                && poll
                    .registry()
                    .reregister(stream, Token(i), Interest::READABLE)
                    .and_then(|()| send(stream))
                    .is_ok();
            if !sent {
                return self.fail(i);
            }
            client.connected = true;
        }
        if !(readable && client.connected) {
            return;
        }
        let mut buf = [0u8; 512];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return self.fail(i),
                Ok(n) => client.reply.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return self.fail(i),
            }
        }
        if client.reply.ends_with(b"\r\n") {
            self.finish_probe(i);
        }
    }

    /// Starts every probe that is due; returns when the next one is.
    fn start_due(&mut self) -> Option<Instant> {
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        for i in 0..self.clients.len() {
            match self.clients[i].due {
                Some(due) if due <= now => {
                    self.outcome.start_lag.record(now - due);
                    self.start_probe(i, now);
                }
                Some(due) => next = Some(next.map_or(due, |n| n.min(due))),
                None => {}
            }
        }
        next
    }
}

/// Runs `clients` clients in `mode` (paced, or closed loop when `pace` is None) against
/// `addr` for `duration`; replies that arrive after it are not counted.
pub fn run(
    addr: SocketAddr,
    clients: usize,
    mode: Mode,
    pace: Option<Duration>,
    duration: Duration,
) -> Outcome {
    let start = Instant::now();
    let mut generator = Generator {
        addr,
        mode,
        pace,
        poll: Poll::new().expect("a poll instance"),
        clients: Vec::with_capacity(clients),
        outcome: Outcome::default(),
    };
    for i in 0..clients {
        let offset = pace.map_or(Duration::ZERO, |p| p * i as u32 / clients as u32);
        generator.clients.push(Client {
            stream: None,
            began: start,
            due: Some(start + offset),
            connected: false,
            reply: Vec::with_capacity(128),
        });
    }
    let end = start + duration;
    let mut events = Events::with_capacity(1024);
    loop {
        let next = generator.start_due();
        let now = Instant::now();
        if now >= end {
            break;
        }
        let wait = next
            .map_or(end, |n| n.min(end))
            .saturating_duration_since(now);
        if let Err(e) = generator.poll.poll(&mut events, Some(wait)) {
            assert_eq!(e.kind(), io::ErrorKind::Interrupted, "poll: {e}");
            continue;
        }
        for event in events.iter() {
            let writable = event.is_writable() || event.is_write_closed();
            let readable = event.is_readable() || event.is_read_closed();
            generator.on_event(event.token().0, writable, readable);
        }
    }
    generator.outcome.elapsed = start.elapsed();
    for client in &mut generator.clients {
        if let Some(stream) = client.stream.take() {
            close_with_reset(stream, &generator.poll);
        }
    }
    generator.outcome
}
