//! The socket side of a probe: resolve, connect, send one command, read one line, all under a
//! single hard deadline.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::reply::{interpret, snippet_bytes};
use super::{MAX_CHECK_NAME, MAX_REPLY_LINE, ProbeCommand, ProbeError, ProbeReply, ProbeRequest};
use super::{hosts, ready};

/// Runs one probe. Never takes (much) longer than `req.timeout`, never panics.
pub fn probe(req: &ProbeRequest) -> Result<ProbeReply, ProbeError> {
    probe_traced(req, &mut |_| {})
}

/// [`probe`], reporting each step (addresses, connect, request, raw reply) to `trace`, one
/// line per call. Used by `ha-probe --debug`.
pub fn probe_traced(
    req: &ProbeRequest,
    trace: &mut dyn FnMut(fmt::Arguments<'_>),
) -> Result<ProbeReply, ProbeError> {
    probe_resolving_by(req, resolve, trace)
}

/// [`probe_traced`] with names looked up in /etc/hosts alone ([`hosts`](super::hosts)), never
/// through the C library's resolver: what `ha-probe` uses. Nothing of that resolver is
/// reached from here, so a statically linked program calling only this carries none of it.
pub fn probe_hosts_file_traced(
    req: &ProbeRequest,
    trace: &mut dyn FnMut(fmt::Arguments<'_>),
) -> Result<ProbeReply, ProbeError> {
    probe_resolving_by(req, resolve_from_hosts_file, trace)
}

/// The probe, with `resolve` turning a host that is not an address into addresses.
/// Generic rather than a function pointer: a program that never resolves through the C
/// library then links no code that could.
fn probe_resolving_by(
    req: &ProbeRequest,
    resolve: impl FnOnce(
        &str,
        u16,
        &Deadline,
        &mut dyn FnMut(fmt::Arguments<'_>),
    ) -> Result<Vec<SocketAddr>, ProbeError>,
    trace: &mut dyn FnMut(fmt::Arguments<'_>),
) -> Result<ProbeReply, ProbeError> {
    let start = Instant::now();
    validate(req)?;
    let deadline = Deadline::after(start, req.timeout)?;
    let addrs = match numeric(&req.host, req.port) {
        Some(addr) => vec![addr],
        None => resolve(&req.host, req.port, &deadline, trace)?,
    };
    with_busy_retries(&deadline, trace, |trace| {
        let (stream, connected_at) = connect(&addrs, &deadline, trace)?;
        talk(stream, connected_at, &req.command, &deadline, trace)
    })
}

/// [`probe_traced`] over the server's Unix domain socket (`ha.unix_socket`) at `path`
/// instead of TCP: no address, so nothing else can answer in the server's place.
pub fn probe_unix_traced(
    path: &Path,
    command: &ProbeCommand,
    timeout: Duration,
    trace: &mut dyn FnMut(fmt::Arguments<'_>),
) -> Result<ProbeReply, ProbeError> {
    let start = Instant::now();
    if timeout.is_zero() {
        return Err(ProbeError::InvalidRequest("timeout must be > 0".into()));
    }
    if path.as_os_str().is_empty() {
        return Err(ProbeError::InvalidRequest("empty socket path".into()));
    }
    if let ProbeCommand::CheckNamed(name) = command {
        validate_check_name(name).map_err(ProbeError::InvalidRequest)?;
    }
    let deadline = Deadline::after(start, timeout)?;
    with_busy_retries(&deadline, trace, |trace| {
        trace(format_args!("connecting to {}", path.display()));
        let started = Instant::now();
        // A local connect does not block on the network: it is accepted into the backlog
        // or refused at once.
        let stream = UnixStream::connect(path).map_err(|e| {
            trace(format_args!("connect to {} failed: {e}", path.display()));
            ProbeError::Io(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
        })?;
        // From here on the deadline is kept by poll(2), as over TCP.
        stream.set_nonblocking(true).map_err(ProbeError::Io)?;
        trace(format_args!("connected to {}", path.display()));
        talk(stream, started, command, &deadline, trace)
    })
}

/// Runs `attempt` again after a `BUSY` reply, while attempts and the deadline allow.
fn with_busy_retries(
    deadline: &Deadline,
    trace: &mut dyn FnMut(fmt::Arguments<'_>),
    mut attempt: impl FnMut(&mut dyn FnMut(fmt::Arguments<'_>)) -> Result<ProbeReply, ProbeError>,
) -> Result<ProbeReply, ProbeError> {
    let mut pause = FIRST_BUSY_PAUSE;
    for n in 1.. {
        match attempt(trace) {
            Err(ProbeError::Busy)
                if n < BUSY_ATTEMPTS && deadline.remaining().is_ok_and(|left| left > pause * 2) =>
            {
                trace(format_args!(
                    "server busy: it let in a newcomer in place of this connection; \
                     trying again in {} ms",
                    pause.as_millis()
                ));
                thread::sleep(pause);
                pause *= 2;
            }
            outcome => return outcome,
        }
    }
    unreachable!("the loop returns")
}

/// A server at its connection cap lets a newcomer in and closes the connection that has
/// waited longest with `BUSY`; that is worth another try while the deadline allows.
const BUSY_ATTEMPTS: u32 = 4;
const FIRST_BUSY_PAUSE: Duration = Duration::from_millis(10);

/// One connection: ask, read the reply line, say goodbye, interpret.
fn talk<S: Conn>(
    mut stream: S,
    connected_at: Instant,
    command: &ProbeCommand,
    deadline: &Deadline,
    trace: &mut dyn FnMut(fmt::Arguments<'_>),
) -> Result<ProbeReply, ProbeError> {
    let request = command.request_line();
    trace(format_args!("sending {request:?}"));
    let raw = match write_all_by(&mut stream, request.as_bytes(), deadline) {
        Ok(()) => read_line_by(&mut stream, deadline),
        // A server at its cap may say BUSY and close before reading; the reply can still be
        // waiting in our receive buffer, and it explains more than the write error does.
        Err(ProbeError::Io(e)) if peer_gone(&e) => {
            trace(format_args!(
                "write failed: {e}; reading what the server said"
            ));
            read_line_by(&mut stream, deadline).map_err(|_| ProbeError::Io(e))
        }
        Err(e) => Err(e),
    };
    let raw = match raw {
        Ok(raw) => raw,
        Err(e) => {
            trace(format_args!("no reply: {e}"));
            return Err(e);
        }
    };
    let rtt = connected_at.elapsed();
    // Lazy: quoting the reply and asking the kernel for the peer's name cost only when traced.
    trace(format_args!(
        "received {} from {} after {:.3} ms",
        Lazy(|| snippet_bytes(&raw)),
        Lazy(|| stream.peer_name()),
        rtt.as_secs_f64() * 1000.0
    ));
    quit(&mut stream);

    let (state, fields, line) = interpret(command, &raw)?;
    Ok(ProbeReply {
        state,
        line,
        fields,
        rtt,
    })
}

/// Text computed only when it is formatted.
struct Lazy<F>(F);

impl<F: Fn() -> String> fmt::Display for Lazy<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&(self.0)())
    }
}

/// The two kinds of connection a probe uses, both non-blocking (see [`ready`]).
trait Conn: Read + Write + AsRawFd {
    /// Who answered, for `--debug`.
    fn peer_name(&self) -> String;
}

impl Conn for TcpStream {
    fn peer_name(&self) -> String {
        self.peer_addr()
            .map_or_else(|_| "the server".to_string(), |a| a.to_string())
    }
}

impl Conn for UnixStream {
    fn peer_name(&self) -> String {
        match self
            .peer_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(Path::to_path_buf))
        {
            Some(path) => path.display().to_string(),
            None => "the server's socket".to_string(),
        }
    }
}

/// Why `name` cannot be sent as `check NAME`, if it cannot.
pub fn validate_check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("check name is empty".into());
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "check name {name:?} contains whitespace or control characters"
        ));
    }
    // A server registers only names it can send back unquoted; any other name can never
    // be found, and a long one would be refused as a line too long.
    if name.len() > MAX_CHECK_NAME {
        return Err(format!(
            "check name is {} bytes long; a hamon server accepts at most {MAX_CHECK_NAME}",
            name.len()
        ));
    }
    if !crate::name::valid_check_name(name) {
        return Err(format!(
            "check name {name:?} has characters a hamon server never gives a check: \
             use A-Z a-z 0-9 _ . -"
        ));
    }
    Ok(())
}

fn validate(req: &ProbeRequest) -> Result<(), ProbeError> {
    let bad = |m: String| Err(ProbeError::InvalidRequest(m));
    if req.host.is_empty() {
        return bad("empty host".into());
    }
    if req
        .host
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return bad(format!("host {:?} contains whitespace", req.host));
    }
    if req.port == 0 {
        return bad("port 0".into());
    }
    if req.timeout.is_zero() {
        return bad("timeout must be > 0".into());
    }
    if let ProbeCommand::CheckNamed(name) = &req.command {
        validate_check_name(name).map_err(ProbeError::InvalidRequest)?;
    }
    Ok(())
}

struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    fn after(start: Instant, timeout: Duration) -> Result<Deadline, ProbeError> {
        Ok(Deadline {
            // checked: a huge timeout must not panic on Instant overflow.
            at: start
                .checked_add(timeout)
                .ok_or_else(|| ProbeError::InvalidRequest("timeout too large".into()))?,
            timeout,
        })
    }

    /// Time left, or `Timeout` once there is none.
    fn remaining(&self) -> Result<Duration, ProbeError> {
        let left = self.at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(ProbeError::Timeout(self.timeout))
        } else {
            Ok(left)
        }
    }
}

/// `host` without the brackets an IPv6 address may come in (`[::1]`).
fn bare(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The address `host` spells, if it is one: parsed here, no resolver asked.
fn numeric(host: &str, port: u16) -> Option<SocketAddr> {
    let ip = bare(host).parse::<IpAddr>().ok()?;
    Some(SocketAddr::new(ip, port))
}

/// A name's addresses from /etc/hosts, tried IPv4 first as [`resolve`] tries them. Reading
/// a local file needs no deadline of its own, nor a thread to keep one.
fn resolve_from_hosts_file(
    host: &str,
    port: u16,
    _deadline: &Deadline,
    trace: &mut dyn FnMut(fmt::Arguments<'_>),
) -> Result<Vec<SocketAddr>, ProbeError> {
    trace(format_args!("resolving {host} from {}", hosts::HOSTS_FILE));
    let mut addrs: Vec<SocketAddr> = hosts::lookup(Path::new(hosts::HOSTS_FILE), bare(host))
        .map_err(ProbeError::Resolve)?
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect();
    let listed = join(&addrs);
    order(&mut addrs);
    trace(format_args!(
        "resolved {host} to {listed}; trying {}",
        join(&addrs)
    ));
    Ok(addrs)
}

/// A name's addresses from the C library's resolver (getaddrinfo: hosts file, DNS, NSS).
fn resolve(
    host: &str,
    port: u16,
    deadline: &Deadline,
    trace: &mut dyn FnMut(fmt::Arguments<'_>),
) -> Result<Vec<SocketAddr>, ProbeError> {
    let bare = bare(host);
    trace(format_args!("resolving {host}"));
    let left = deadline.remaining()?;
    // getaddrinfo cannot be interrupted; run it aside so the deadline still holds. A lookup
    // that outlives the deadline finishes on its own and its answer is dropped.
    let (tx, rx) = mpsc::channel();
    let name = bare.to_string();
    let spawned = thread::Builder::new()
        .name("hamon-probe-resolve".into())
        .spawn(move || {
            let _ = tx.send(lookup(&name, port));
        });
    let result = match spawned {
        Ok(_) => match rx.recv_timeout(left) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                trace(format_args!("resolving {host}: deadline passed"));
                return Err(ProbeError::Timeout(deadline.timeout));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(ProbeError::Resolve(format!("{host}: resolver thread died")));
            }
        },
        // No thread available: an unbounded lookup beats no probe at all.
        Err(_) => lookup(bare, port),
    };
    let mut addrs = result.map_err(|e| ProbeError::Resolve(format!("{host}: {e}")))?;
    if addrs.is_empty() {
        return Err(ProbeError::Resolve(format!("{host}: no addresses")));
    }
    let resolver_order = join(&addrs);
    order(&mut addrs);
    trace(format_args!(
        "resolved {host} to {resolver_order}; trying {}",
        join(&addrs)
    ));
    Ok(addrs)
}

/// The order a name's addresses are tried in: IPv4 first, then IPv6, each in the resolver's
/// order. A hamon server listens on 127.0.0.1 by default while stock hosts files list `::1`
/// first for `localhost`; trying IPv4 first means `localhost` reaches that server, not
/// whatever else listens on `[::1]` with the same port.
pub fn order(addrs: &mut [SocketAddr]) {
    addrs.sort_by_key(|a| !a.is_ipv4());
}

/// All addresses for `name`, first occurrence order kept (hosts files often repeat entries).
fn lookup(name: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for a in (name, port).to_socket_addrs()? {
        if !addrs.contains(&a) {
            addrs.push(a);
        }
    }
    Ok(addrs)
}

/// Connects to the first address that accepts, returning the stream and when that connect
/// started (the start of the round trip).
fn connect(
    addrs: &[SocketAddr],
    deadline: &Deadline,
    trace: &mut dyn FnMut(fmt::Arguments<'_>),
) -> Result<(TcpStream, Instant), ProbeError> {
    let mut refused = Vec::new();
    let mut other: Option<io::Error> = None;
    for &addr in addrs {
        let left = deadline.remaining()?;
        trace(format_args!(
            "connecting to {addr} ({} ms left)",
            left.as_millis()
        ));
        let started = Instant::now();
        match ready::connect(addr, deadline.at) {
            Ok(stream) => {
                trace(format_args!("connected to {addr}; it answers this probe"));
                return Ok((stream, started));
            }
            Err(e) => {
                trace(format_args!("connect to {addr} failed: {e}"));
                match e.kind() {
                    io::ErrorKind::ConnectionRefused => refused.push(addr),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {}
                    _ => other = Some(e),
                }
            }
        }
    }
    deadline.remaining()?;
    match other {
        // "Nothing listens" only when every other address was unusable anyway (e.g. ::1 on
        // a host without IPv6); a reset or similar is a different story.
        Some(e) if refused.is_empty() || !unusable_address(&e) => Err(ProbeError::Io(e)),
        _ if !refused.is_empty() => Err(ProbeError::Refused(refused)),
        _ => Err(ProbeError::Timeout(deadline.timeout)),
    }
}

fn unusable_address(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::AddrNotAvailable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::Unsupported
    )
}

fn peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

/// A socket call that would block or was interrupted is tried again once the socket is
/// ready, until the deadline says stop.
fn retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// Waits until `stream` is ready for `events` (or has an error or EOF to report).
fn ready_by(
    stream: &impl Conn,
    events: libc::c_short,
    deadline: &Deadline,
) -> Result<(), ProbeError> {
    loop {
        let left = deadline.remaining()?;
        match ready::wait(stream, events, left) {
            Ok(Some(_)) => return Ok(()),
            // Time is up: `remaining` says so on the next turn.
            Ok(None) => {}
            Err(e) if retry(&e) => {}
            Err(e) => return Err(ProbeError::Io(e)),
        }
    }
}

fn write_all_by(
    stream: &mut impl Conn,
    mut buf: &[u8],
    deadline: &Deadline,
) -> Result<(), ProbeError> {
    // Written at once: a new connection's send buffer has room for a request line.
    while !buf.is_empty() {
        deadline.remaining()?;
        match stream.write(buf) {
            Ok(0) => return Err(ProbeError::Io(io::ErrorKind::WriteZero.into())),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                ready_by(stream, libc::POLLOUT, deadline)?
            }
            Err(e) if retry(&e) => {}
            Err(e) => return Err(ProbeError::Io(e)),
        }
    }
    Ok(())
}

/// Reads up to the first `\n`; returns the line without `\n` or `\r\n`.
fn read_line_by(stream: &mut impl Conn, deadline: &Deadline) -> Result<Vec<u8>, ProbeError> {
    // Room for a maximal line plus CRLF; filling it without a newline means garbage.
    let mut buf = vec![0u8; MAX_REPLY_LINE + 2];
    let mut len = 0;
    loop {
        // Polled first: the reply is seldom in the moment the request has gone, and a read
        // that would block is a syscall for nothing.
        ready_by(stream, libc::POLLIN, deadline)?;
        match stream.read(&mut buf[len..]) {
            Ok(0) => {
                let mut msg = "connection closed before a full reply".to_string();
                if len > 0 {
                    msg += &format!(" (got {})", snippet_bytes(&buf[..len]));
                }
                return Err(ProbeError::BadReply(msg));
            }
            Ok(n) => {
                if let Some(pos) = buf[len..len + n].iter().position(|&b| b == b'\n') {
                    let mut line = &buf[..len + pos];
                    if let Some(l) = line.strip_suffix(b"\r") {
                        line = l;
                    }
                    if line.len() > MAX_REPLY_LINE {
                        break;
                    }
                    return Ok(line.to_vec());
                }
                len += n;
                if len == buf.len() {
                    break;
                }
            }
            Err(e) if retry(&e) => {}
            Err(e) => return Err(ProbeError::Io(e)),
        }
    }
    Err(ProbeError::BadReply(format!(
        "reply line longer than {MAX_REPLY_LINE} bytes (starts {})",
        snippet_bytes(&buf)
    )))
}

/// Says goodbye politely; the answer does not matter, and neither does a goodbye that does
/// not fit at once (it always does: the request was this connection's only other write).
/// Dropping the stream then closes it.
fn quit(stream: &mut impl Conn) {
    let _ = stream.write(b"quit\r\n");
}

fn join(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::state::State;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::thread::JoinHandle;

    /// A one-connection fake server; `serve` gets the accepted stream and returns what it saw.
    struct Fake {
        port: u16,
        handle: Option<JoinHandle<Vec<String>>>,
    }

    impl Fake {
        fn start(serve: impl FnOnce(TcpStream) -> Vec<String> + Send + 'static) -> Fake {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let handle = thread::spawn(move || match listener.accept() {
                Ok((s, _)) => {
                    // Safety net so a misbehaving client cannot keep the thread alive.
                    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    serve(s)
                }
                Err(_) => Vec::new(),
            });
            Fake {
                port,
                handle: Some(handle),
            }
        }

        /// Reads the request line, writes `reply` raw, then reads whatever follows.
        fn replying(reply: &'static [u8]) -> Fake {
            Fake::start(move |s| {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut seen = Vec::new();
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) > 0 {
                    seen.push(line.clone());
                    let _ = (&s).write_all(reply);
                    line.clear();
                    if r.read_line(&mut line).unwrap_or(0) > 0 {
                        seen.push(line);
                    }
                }
                seen
            })
        }

        fn req(&self, command: ProbeCommand, timeout_ms: u64) -> ProbeRequest {
            ProbeRequest {
                host: "127.0.0.1".into(),
                port: self.port,
                timeout: Duration::from_millis(timeout_ms),
                command,
            }
        }

        /// Joins the server thread, unblocking its accept if the client never came.
        fn seen(mut self) -> Vec<String> {
            let _ = TcpStream::connect(("127.0.0.1", self.port));
            self.handle.take().unwrap().join().unwrap()
        }
    }

    #[test]
    fn check_up_with_crlf_then_quit() {
        let f = Fake::replying(b"UP v=1 app=billing checks=3/3 age_ms=412\r\n");
        let r = probe(&f.req(ProbeCommand::Check, 2000)).unwrap();
        assert_eq!(r.state, State::Up);
        assert_eq!(r.line, "UP v=1 app=billing checks=3/3 age_ms=412");
        assert_eq!(r.field("app"), Some("billing"));
        assert!(r.rtt < Duration::from_secs(2));
        assert_eq!(f.seen(), vec!["check\r\n", "quit\r\n"]);
    }

    #[test]
    fn bare_lf_and_reason() {
        let f = Fake::replying(b"DOWN v=1 failed=db reason=\"db: timeout after 5000ms\"\n");
        let r = probe(&f.req(ProbeCommand::Check, 2000)).unwrap();
        assert_eq!(r.state, State::Down);
        assert_eq!(r.reason(), Some("db: timeout after 5000ms"));
        f.seen();
    }

    #[test]
    fn reply_split_across_segments() {
        let f = Fake::start(|s| {
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            for part in [&b"DEGR"[..], b"ADED v", b"=1\r", b"\n"] {
                (&s).write_all(part).unwrap();
                (&s).flush().unwrap();
            }
            vec![line]
        });
        let r = probe(&f.req(ProbeCommand::Check, 2000)).unwrap();
        assert_eq!(r.state, State::Degraded);
        assert_eq!(r.line, "DEGRADED v=1");
        f.seen();
    }

    #[test]
    fn named_check_and_unknown() {
        let f = Fake::replying(b"UP v=1 check=db\r\n");
        let r = probe(&f.req(ProbeCommand::CheckNamed("db".into()), 2000)).unwrap();
        assert_eq!(r.field("check"), Some("db"));
        assert_eq!(f.seen()[0], "check db\r\n");

        let f = Fake::replying(b"ERR unknown-check name=nope\r\n");
        match probe(&f.req(ProbeCommand::CheckNamed("nope".into()), 2000)) {
            Err(ProbeError::UnknownCheck(n)) => assert_eq!(n, "nope"),
            other => panic!("{other:?}"),
        }
        f.seen();
    }

    #[test]
    fn ping() {
        let f = Fake::replying(b"OK\r\n");
        let r = probe(&f.req(ProbeCommand::Ping, 2000)).unwrap();
        assert_eq!((r.state, r.line.as_str()), (State::Up, "OK"));
        assert_eq!(f.seen()[0], "ping\r\n");

        let f = Fake::replying(b"FAILED\r\n");
        assert_eq!(
            probe(&f.req(ProbeCommand::Ping, 2000)).unwrap().state,
            State::Down
        );
        f.seen();
    }

    /// A server that says BUSY to its first `busy` connections and UP to the next one.
    fn busy_then_up(busy: usize) -> (u16, JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = thread::spawn(move || {
            let mut served = 0;
            for s in listener.incoming().take(busy + 1) {
                let Ok(s) = s else { break };
                served += 1;
                // BUSY without reading, as the server does to a connection it evicts.
                let reply: &[u8] = if served <= busy {
                    b"BUSY\r\n"
                } else {
                    b"UP v=1\r\n"
                };
                let _ = (&s).write_all(reply);
                if served > busy {
                    let mut line = String::new();
                    let _ = BufReader::new(&s).read_line(&mut line);
                }
            }
            served
        });
        (port, handle)
    }

    fn local(port: u16, timeout_ms: u64) -> ProbeRequest {
        ProbeRequest {
            host: "127.0.0.1".into(),
            port,
            timeout: Duration::from_millis(timeout_ms),
            command: ProbeCommand::Check,
        }
    }

    #[test]
    fn busy_is_tried_again_within_the_deadline() {
        let (port, server) = busy_then_up(2);
        let mut lines = Vec::new();
        let r = probe_traced(&local(port, 2000), &mut |a| lines.push(a.to_string()));
        assert_eq!(r.unwrap().state, State::Up, "{lines:#?}");
        assert_eq!(server.join().unwrap(), 3);
        let retries = lines
            .iter()
            .filter(|l| l.starts_with("server busy"))
            .count();
        assert_eq!(retries, 2, "{lines:#?}");
    }

    #[test]
    fn busy_every_time_is_busy() {
        let (port, server) = busy_then_up(BUSY_ATTEMPTS as usize);
        let r = probe(&local(port, 2000));
        assert!(matches!(r, Err(ProbeError::Busy)), "{r:?}");
        // Unblock the last accept.
        let _ = TcpStream::connect(("127.0.0.1", port));
        assert_eq!(server.join().unwrap(), BUSY_ATTEMPTS as usize + 1);
    }

    #[test]
    fn too_long_line_is_bad() {
        static LONG: [u8; 5000] = [b'U'; 5000];
        let f = Fake::replying(&LONG);
        let r = probe(&f.req(ProbeCommand::Check, 2000));
        match r {
            Err(ProbeError::BadReply(m)) => assert!(m.contains("longer than 4096"), "{m}"),
            other => panic!("{other:?}"),
        }
        f.seen();
    }

    #[test]
    fn longest_line_is_accepted() {
        static LINE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let line = LINE.get_or_init(|| {
            let mut l = b"UP pad=".to_vec();
            l.resize(MAX_REPLY_LINE, b'x');
            l.extend_from_slice(b"\r\n");
            l
        });
        let f = Fake::replying(line);
        let r = probe(&f.req(ProbeCommand::Check, 2000)).unwrap();
        assert_eq!(r.line.len(), MAX_REPLY_LINE);
        f.seen();
    }

    #[test]
    fn eof_before_newline() {
        // Partial line, connection kept open: the deadline ends it, no state is guessed.
        let f = Fake::replying(b"UP v=1");
        match probe(&f.req(ProbeCommand::Check, 300)) {
            Err(ProbeError::Timeout(_)) => {}
            other => panic!("{other:?}"),
        }
        f.seen();

        let f = Fake::start(|s| {
            let mut r = BufReader::new(s);
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            r.get_mut().write_all(b"UP v=").unwrap();
            vec![line]
        });
        match probe(&f.req(ProbeCommand::Check, 2000)) {
            Err(ProbeError::BadReply(m)) => {
                assert!(
                    m.starts_with("connection closed before a full reply"),
                    "{m}"
                );
                assert!(m.contains("UP v="), "{m}");
            }
            other => panic!("{other:?}"),
        }
        f.seen();
    }

    #[test]
    fn silent_server_times_out_on_time() {
        let f = Fake::start(|mut s| {
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
            vec![String::from_utf8_lossy(&sink).into_owned()]
        });
        let t0 = Instant::now();
        let r = probe(&f.req(ProbeCommand::Check, 300));
        let took = t0.elapsed();
        assert!(matches!(r, Err(ProbeError::Timeout(t)) if t == Duration::from_millis(300)));
        assert!(took >= Duration::from_millis(290), "{took:?}");
        assert!(took < Duration::from_millis(1500), "{took:?}");
        assert_eq!(f.seen(), vec!["check\r\n"]);
    }

    #[test]
    fn refused_is_its_own_error() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let req = ProbeRequest {
            host: "127.0.0.1".into(),
            port,
            timeout: Duration::from_secs(2),
            command: ProbeCommand::Check,
        };
        match probe(&req) {
            Err(e @ ProbeError::Refused(_)) => {
                assert_eq!(
                    e.to_string(),
                    format!("connection refused by 127.0.0.1:{port}")
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn localhost_falls_through_to_a_working_address() {
        let f = Fake::replying(b"UP v=1\r\n");
        let mut req = f.req(ProbeCommand::Check, 2000);
        req.host = "localhost".into();
        let mut lines = Vec::new();
        let r = probe_traced(&req, &mut |a| lines.push(a.to_string()));
        assert_eq!(r.unwrap().state, State::Up, "{lines:#?}");
        assert!(lines.iter().any(|l| l.starts_with("resolved localhost to")));
        assert!(lines.iter().any(|l| l.contains("sending \"check\\r\\n\"")));
        assert!(lines.iter().any(|l| l.starts_with("received \"UP v=1\"")));
        f.seen();
    }

    #[test]
    fn bad_requests_fail_before_connecting() {
        let base = ProbeRequest {
            host: "127.0.0.1".into(),
            port: 9,
            timeout: Duration::from_secs(1),
            command: ProbeCommand::Check,
        };
        let cases = [
            ProbeRequest {
                command: ProbeCommand::CheckNamed("two words".into()),
                ..base.clone()
            },
            ProbeRequest {
                command: ProbeCommand::CheckNamed("nl\r\nquit".into()),
                ..base.clone()
            },
            ProbeRequest {
                command: ProbeCommand::CheckNamed(String::new()),
                ..base.clone()
            },
            ProbeRequest {
                port: 0,
                ..base.clone()
            },
            ProbeRequest {
                host: String::new(),
                ..base.clone()
            },
            ProbeRequest {
                timeout: Duration::ZERO,
                ..base.clone()
            },
            ProbeRequest {
                timeout: Duration::MAX,
                ..base.clone()
            },
        ];
        for req in cases {
            let mut traced = 0;
            let r = probe_traced(&req, &mut |_| traced += 1);
            assert!(matches!(r, Err(ProbeError::InvalidRequest(_))), "{r:?}");
            assert_eq!(traced, 0, "{req:?} got as far as the network");
        }
    }

    #[test]
    fn names_come_from_the_hosts_file_alone() {
        // localhost is in every hosts file, or else the loopback addresses.
        let f = Fake::replying(b"UP v=1\r\n");
        let mut req = f.req(ProbeCommand::Check, 2000);
        req.host = "localhost".into();
        let mut lines = Vec::new();
        let r = probe_hosts_file_traced(&req, &mut |a| lines.push(a.to_string()));
        assert_eq!(r.unwrap().state, State::Up, "{lines:#?}");
        assert!(lines.contains(&"resolving localhost from /etc/hosts".to_string()));
        assert!(lines.iter().any(|l| l.starts_with("resolved localhost to")));
        f.seen();

        // A name the hosts file does not list fails at once, naming what to give instead.
        req.host = "no-such-host.invalid".into();
        match probe_hosts_file_traced(&req, &mut |_| {}) {
            Err(e @ ProbeError::Resolve(_)) => {
                let msg = e.to_string();
                assert!(
                    msg.starts_with("cannot resolve no-such-host.invalid: not in /etc/hosts"),
                    "{msg}"
                );
                assert!(msg.contains("give --host the server's address"), "{msg}");
            }
            other => panic!("{other:?}"),
        }

        // An address is never looked up, bracketed or not.
        for host in ["127.0.0.1", "[127.0.0.1]"] {
            let f = Fake::replying(b"UP v=1\r\n");
            let mut req = f.req(ProbeCommand::Check, 2000);
            req.host = host.into();
            let mut lines = Vec::new();
            let r = probe_hosts_file_traced(&req, &mut |a| lines.push(a.to_string()));
            assert_eq!(r.unwrap().state, State::Up, "{lines:#?}");
            assert!(!lines.iter().any(|l| l.starts_with("resolv")), "{lines:#?}");
            f.seen();
        }
    }

    #[test]
    fn unresolvable_host() {
        let req = ProbeRequest {
            host: "no-such-host.invalid".into(),
            port: 7777,
            timeout: Duration::from_secs(3),
            command: ProbeCommand::Check,
        };
        // Either the resolver answers "no" or (in a sandbox without DNS) the deadline does.
        let r = probe(&req);
        assert!(
            matches!(r, Err(ProbeError::Resolve(_)) | Err(ProbeError::Timeout(_))),
            "{r:?}"
        );
    }
}
