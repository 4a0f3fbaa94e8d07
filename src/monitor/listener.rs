//! The network thread: one `mio` event loop that accepts clients, feeds their bytes to a
//! [`Session`] each and writes the answers. It sleeps in `poll` until a client does
//! something or a deadline comes, so an idle server never wakes.
//!
//! No client can hold the loop or the process: each connection gets a bounded turn per
//! wake-up and goes to the back of the queue when it has more to do; it is not read while
//! its unread replies exceed a cap; deadlines that incoming bytes do not reset close it; and
//! at the connection cap the connection that has waited longest without completing a command
//! makes room for the newcomer, so a probe always gets in. docs/monitor-server.md has the
//! bounds. One connection and its turn are in `listener/conn.rs`; this file has the loop,
//! the table of connections and the admission rules.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::net::{IpAddr, Shutdown};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, UnixListener};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::config::Cidr;
use crate::config::cidr::canonical;
use crate::monitor::protocol::Session;
use crate::monitor::shared::{NetStats, Shared};

mod conn;

pub use conn::MAX_PENDING;
use conn::{Conn, Next, Peer, READ_CHUNK, Stream};

const LISTENER: Token = Token(0);
pub const WAKER: Token = Token(1);
const UNIX_LISTENER: Token = Token(2);

#[derive(Clone, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub max_per_source: usize,
    pub idle_timeout: Duration,
    pub first_command_timeout: Duration,
    pub lifetime: Duration,
    pub max_line: usize,
    /// Empty: every address. Loopback is always allowed.
    pub allow: Vec<Cidr>,
}

impl Limits {
    fn allows(&self, ip: IpAddr) -> bool {
        self.allow.is_empty() || ip.is_loopback() || self.allow.iter().any(|c| c.contains(ip))
    }
}

/// The connections and how many each client address holds.
struct Table {
    conns: HashMap<Token, Conn>,
    per_source: HashMap<Peer, usize>,
    /// Where the counts of `/metrics` are kept.
    shared: Arc<Shared>,
}

impl Table {
    fn insert(&mut self, token: Token, conn: Conn) {
        *self.per_source.entry(conn.peer).or_default() += 1;
        self.conns.insert(token, conn);
        NetStats::bump(&self.shared.net.open);
    }

    fn remove(&mut self, token: Token) -> Option<Conn> {
        let conn = self.conns.remove(&token)?;
        self.shared
            .net
            .open
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(n) = self.per_source.get_mut(&conn.peer) {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&conn.peer);
            }
        }
        Some(conn)
    }

    fn over_limits(&self, peer: Peer, limits: &Limits) -> bool {
        self.conns.len() > limits.max_connections
            || self
                .per_source
                .get(&peer)
                .is_some_and(|&n| n > limits.max_per_source)
    }

    /// The connection (of `peer`, if given) that has waited longest for a command.
    fn longest_waiting(&self, peer: Option<Peer>) -> Option<Token> {
        self.conns
            .iter()
            .filter(|(_, c)| peer.is_none_or(|p| c.peer == p))
            .min_by_key(|(_, c)| c.waiting_since())
            .map(|(t, _)| *t)
    }
}

fn close(mut conn: Conn, poll: &Poll) {
    let _ = poll.registry().deregister(conn.stream.source());
    let _ = conn.stream.shutdown(Shutdown::Write);
}

/// Runs until `shared.stopping` is set and the waker fires.
pub fn serve(
    shared: Arc<Shared>,
    mut listener: TcpListener,
    mut unix: Option<UnixListener>,
    mut poll: Poll,
    limits: Limits,
) {
    let registry = poll.registry();
    let watched = registry
        .register(&mut listener, LISTENER, Interest::READABLE)
        .and_then(|()| match unix.as_mut() {
            Some(u) => registry.register(u, UNIX_LISTENER, Interest::READABLE),
            None => Ok(()),
        });
    if let Err(e) = watched {
        log::error!("hamon: cannot watch the listening socket: {e}");
        return;
    }
    let mut table = Table {
        conns: HashMap::new(),
        per_source: HashMap::new(),
        shared: shared.clone(),
    };
    let mut ready: VecDeque<Token> = VecDeque::new();
    let mut next_token = UNIX_LISTENER.0 + 1;
    let mut events = Events::with_capacity(256);
    let mut scratch = Box::new([0u8; READ_CHUNK]);
    let mut next_deadline: Option<Instant> = None;
    while !shared.is_stopping() {
        let timeout = if ready.is_empty() {
            next_deadline.map(|at| at.saturating_duration_since(Instant::now()))
        } else {
            Some(Duration::ZERO)
        };
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            log::error!("hamon: poll failed, monitor server stops answering: {e}");
            break;
        }
        let (mut accepting, mut accepting_unix) = (false, false);
        for event in events.iter() {
            match event.token() {
                LISTENER => accepting = true,
                UNIX_LISTENER => accepting_unix = true,
                WAKER => {}
                token => {
                    if let Some(conn) = table.conns.get_mut(&token)
                        && !conn.queued
                    {
                        conn.queued = true;
                        ready.push_back(token);
                    }
                }
            }
        }
        // One turn each for the connections queued now; those with more to do go to the
        // back and wait for the next poll, so a newcomer is seen between two turns.
        for _ in 0..ready.len() {
            let Some(token) = ready.pop_front() else {
                break;
            };
            let Some(conn) = table.conns.get_mut(&token) else {
                continue;
            };
            conn.queued = false;
            let next = conn.on_ready(&shared, &mut scratch);
            if let Next::Again = next {
                conn.queued = true;
                ready.push_back(token);
            }
            update(token, next, &mut table, &poll);
        }
        // After the turns, so a client whose command is in is answered before a newcomer
        // can take its place.
        let mut turns = Turns {
            shared: &shared,
            scratch: &mut scratch,
            ready: &mut ready,
        };
        let mut admit = Admit {
            poll: &poll,
            table: &mut table,
            next_token: &mut next_token,
            limits: &limits,
        };
        if accepting {
            accept(&mut admit, &mut turns, || {
                listener
                    .accept()
                    .map(|(s, a)| (Stream::Tcp(s), Peer::Ip(canonical(a.ip()))))
            });
        }
        if accepting_unix && let Some(unix) = unix.as_mut() {
            accept(&mut admit, &mut turns, || {
                unix.accept().map(|(s, _)| (Stream::Unix(s), Peer::Local))
            });
        }
        next_deadline = expire(&mut table, &poll, &limits);
    }
    for token in table.conns.keys().copied().collect::<Vec<_>>() {
        if let Some(conn) = table.remove(token) {
            close(conn, &poll);
        }
    }
}

/// Closes the connections whose deadline has passed; returns the next deadline.
fn expire(table: &mut Table, poll: &Poll, limits: &Limits) -> Option<Instant> {
    let now = Instant::now();
    let mut next: Option<Instant> = None;
    let mut expired = Vec::new();
    for (token, conn) in &table.conns {
        let (at, why) = conn.deadline(limits);
        if at <= now {
            expired.push((*token, why));
        } else {
            next = Some(next.map_or(at, |n| n.min(at)));
        }
    }
    for (token, why) in expired {
        if let Some(mut conn) = table.remove(token) {
            NetStats::bump(&table.shared.net.expired[why as usize]);
            log::debug!("hamon: closing {} ({})", conn.peer, why.what());
            if conn.out.is_empty() {
                let _ = conn.stream.write(&conn.session.timeout_reply(why.what()));
            }
            close(conn, poll);
        }
    }
    next
}

fn update(token: Token, next: Next, table: &mut Table, poll: &Poll) {
    if let Next::Drop = next {
        if let Some(conn) = table.remove(token) {
            close(conn, poll);
        }
        return;
    }
    let Some(conn) = table.conns.get_mut(&token) else {
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
            .reregister(conn.stream.source(), token, interest)
            .is_err()
        {
            if let Some(conn) = table.remove(token) {
                close(conn, poll);
            }
            return;
        }
        conn.writable_interest = want;
    }
}

/// What giving a connection a turn outside the main loop needs.
struct Turns<'a> {
    shared: &'a Shared,
    scratch: &'a mut [u8; READ_CHUNK],
    ready: &'a mut VecDeque<Token>,
}

/// Brings the table back within the per-address share and the cap: past the share, that
/// address's longest-waiting connection goes; past the cap, the longest-waiting of all.
fn enforce(table: &mut Table, poll: &Poll, limits: &Limits, turns: &mut Turns) {
    loop {
        let over = table
            .per_source
            .iter()
            .find(|&(_, &n)| n > limits.max_per_source)
            .map(|(peer, _)| *peer);
        let changed = match over {
            Some(peer) => evict_one(table, Some(peer), poll, limits, turns),
            None if table.conns.len() > limits.max_connections => {
                evict_one(table, None, poll, limits, turns)
            }
            None => return,
        };
        if !changed {
            return;
        }
    }
}

/// Evicts the longest-waiting connection (of `peer`, if given). One that has completed no
/// command yet first gets a last turn instead: its command may be in its socket already (a
/// probe writes it right after connecting), and then it is not waiting any more. False when
/// there is nothing to evict.
fn evict_one(
    table: &mut Table,
    peer: Option<Peer>,
    poll: &Poll,
    limits: &Limits,
    turns: &mut Turns,
) -> bool {
    let Some(token) = table.longest_waiting(peer) else {
        return false;
    };
    let Some(conn) = table.conns.get_mut(&token) else {
        return false;
    };
    if conn.last_command.is_none() && !conn.last_chance {
        conn.last_chance = true;
        turn(table, token, poll, turns);
        return true;
    }
    if let Some(mut conn) = table.remove(token) {
        log::debug!(
            "hamon: over the connection limits ({} in all, {} from one address): {} makes room",
            limits.max_connections,
            limits.max_per_source,
            conn.peer
        );
        NetStats::bump(&table.shared.net.busy);
        let _ = conn.stream.write(b"BUSY\r\n");
        close(conn, poll);
    }
    true
}

/// Gives one connection a turn outside the main loop.
fn turn(table: &mut Table, token: Token, poll: &Poll, turns: &mut Turns) {
    let Some(conn) = table.conns.get_mut(&token) else {
        return;
    };
    let next = conn.on_ready(turns.shared, turns.scratch);
    if let Next::Again = next
        && !conn.queued
    {
        conn.queued = true;
        turns.ready.push_back(token);
    }
    update(token, next, table, poll);
}

/// Newcomers accepted before the limits are enforced again.
const ACCEPT_BATCH: usize = 64;

/// What accepting a client changes.
struct Admit<'a> {
    poll: &'a Poll,
    table: &'a mut Table,
    next_token: &'a mut usize,
    limits: &'a Limits,
}

/// Accepts every waiting client, then enforces the limits, so a newcomer is never refused:
/// someone who has waited longer without completing a command makes room. A newcomer past a
/// limit gets its first turn at once (a probe's command is usually there already); below the
/// limits its first event brings it, which saves a read per connection.
fn accept(
    admit: &mut Admit,
    turns: &mut Turns,
    mut next: impl FnMut() -> io::Result<(Stream, Peer)>,
) {
    let mut batch = 0;
    loop {
        let (mut stream, peer) = match next() {
            Ok(pair) => pair,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // Out of descriptors and the like: leave the backlog for the next wake-up.
                log::warn!("hamon: accept failed: {e}");
                break;
            }
        };
        NetStats::bump(&admit.table.shared.net.accepted);
        if let Peer::Ip(ip) = peer
            && !admit.limits.allows(ip)
        {
            NetStats::bump(&admit.table.shared.net.denied);
            log::debug!("hamon: {ip} is not in ha.allow; closed");
            let _ = stream.shutdown(Shutdown::Both);
            continue;
        }
        if let Stream::Tcp(s) = &stream {
            let _ = s.set_nodelay(true);
        }
        let token = Token(*admit.next_token);
        *admit.next_token += 1;
        if admit
            .poll
            .registry()
            .register(stream.source(), token, Interest::READABLE)
            .is_err()
        {
            continue;
        }
        let conn = Conn {
            stream,
            peer,
            session: Session::new(admit.limits.max_line),
            input: Vec::new(),
            out: Vec::new(),
            accepted: Instant::now(),
            last_command: None,
            closing: false,
            writable_interest: false,
            queued: false,
            last_chance: false,
        };
        admit.table.insert(token, conn);
        if admit.table.over_limits(peer, admit.limits) {
            // Someone must go: the newcomer's command, if in, counts before choosing who.
            turn(admit.table, token, admit.poll, turns);
        }
        batch += 1;
        if batch == ACCEPT_BATCH {
            enforce(admit.table, admit.poll, admit.limits, turns);
            batch = 0;
        }
    }
    enforce(admit.table, admit.poll, admit.limits, turns);
}

/// Creates the poll and its waker before the thread starts, so that stop can always wake it.
pub fn prepare() -> io::Result<(Poll, Arc<Waker>)> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    Ok((poll, waker))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(allow: &[&str]) -> Limits {
        Limits {
            max_connections: 16,
            max_per_source: 8,
            idle_timeout: Duration::from_secs(30),
            first_command_timeout: Duration::from_secs(10),
            lifetime: Duration::from_secs(600),
            max_line: 512,
            allow: allow.iter().map(|c| Cidr::parse(c).unwrap()).collect(),
        }
    }

    #[test]
    fn the_allow_list_never_locks_out_loopback() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let open = limits(&[]);
        assert!(open.allows(ip("203.0.113.9")));
        let lan = limits(&["10.0.0.0/8", "2001:db8::/32"]);
        assert!(lan.allows(ip("10.9.8.7")));
        assert!(lan.allows(ip("2001:db8::7")));
        assert!(!lan.allows(ip("192.168.1.1")));
        assert!(!lan.allows(ip("fe80::1")));
        assert!(lan.allows(ip("127.0.0.1")) && lan.allows(ip("127.8.0.1")));
        assert!(lan.allows(ip("::1")));
        assert!(lan.allows(canonical(ip("::ffff:10.1.1.1"))));
    }
}
