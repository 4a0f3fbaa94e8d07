//! A minimal blocking HTTP/1.1 client for one etcd endpoint: POST a JSON body, read a JSON
//! reply. Every request is bounded by one deadline covering connect, TLS handshake, write and
//! read; replies are capped in size, so a hostile or broken server cannot make it wait or grow
//! without bound. One connection is kept open per endpoint and reused while it stays healthy.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

/// The largest reply accepted (headers and body). etcd's replies to what the heartbeat asks
/// are a few KiB: a range of the cluster's prefix holds a handful of small keys.
pub const MAX_REPLY: usize = 1 << 20;
/// The largest header block accepted.
const MAX_HEAD: usize = 16 << 10;

/// `http://host:port` or `https://host:port`, as the user wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// Parses `http://host:port` or `https://host:port` (IPv6 as `[::1]:port`); no path.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else {
            return Err(format!(
                "etcd endpoint {url:?}: must start with http:// or https://"
            ));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = if let Some(r) = rest.strip_prefix('[') {
            let (h, p) = r
                .split_once("]:")
                .ok_or_else(|| format!("etcd endpoint {url:?}: expected [v6-address]:port"))?;
            (h.to_string(), p)
        } else {
            let (h, p) = rest
                .rsplit_once(':')
                .ok_or_else(|| format!("etcd endpoint {url:?}: the port is missing"))?;
            (h.to_string(), p)
        };
        if host.is_empty() || host.contains('/') || host.contains(':') && !rest.starts_with('[') {
            return Err(format!("etcd endpoint {url:?}: bad host"));
        }
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("etcd endpoint {url:?}: bad port {port:?}"))?;
        Ok(Endpoint {
            url: url.to_string(),
            tls,
            host,
            port,
        })
    }

    fn server_name(&self) -> Result<ServerName<'static>, String> {
        ServerName::try_from(self.host.clone())
            .map_err(|e| format!("{}: not a valid TLS server name: {e}", self.url))
    }
}

/// A reply: the HTTP status and the body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Sets the socket's timeouts to what is left before `deadline`; an error once it passed.
fn arm(tcp: &TcpStream, deadline: Instant) -> io::Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left < Duration::from_millis(1) {
        return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
    }
    tcp.set_read_timeout(Some(left))?;
    tcp.set_write_timeout(Some(left))
}

/// One endpoint's connection, opened on demand.
pub struct Conn {
    pub endpoint: Endpoint,
    tls: Option<Arc<ClientConfig>>,
    stream: Option<Stream>,
}

impl Conn {
    pub fn new(endpoint: Endpoint, tls: Option<Arc<ClientConfig>>) -> Conn {
        Conn {
            endpoint,
            tls,
            stream: None,
        }
    }

    /// Drops the connection (after an error, or to force a fresh one).
    pub fn close(&mut self) {
        self.stream = None;
    }

    /// A host name goes through the system resolver, which no deadline bounds (std has no
    /// resolver with a timeout): the docs ask for IP addresses or names in /etc/hosts.
    fn connect(&self, deadline: Instant) -> Result<Stream, String> {
        let ep = &self.endpoint;
        let addrs: Vec<SocketAddr> = (ep.host.as_str(), ep.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", ep.host))?
            .collect();
        let mut last = format!("{}: no address", ep.host);
        for addr in addrs {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("connect to {addr}: timed out"));
            }
            match TcpStream::connect_timeout(&addr, left) {
                Ok(tcp) => {
                    let _ = tcp.set_nodelay(true);
                    return self.wrap(tcp, deadline);
                }
                Err(e) => last = format!("connect to {addr}: {e}"),
            }
        }
        Err(last)
    }

    fn wrap(&self, tcp: TcpStream, deadline: Instant) -> Result<Stream, String> {
        if !self.endpoint.tls {
            return Ok(Stream::Plain(tcp));
        }
        let config = self.tls.clone().ok_or_else(|| {
            format!(
                "{}: https endpoint but no TLS configuration",
                self.endpoint.url
            )
        })?;
        let name = self.endpoint.server_name()?;
        let conn = ClientConnection::new(config, name).map_err(|e| format!("TLS setup: {e}"))?;
        let mut tls = StreamOwned::new(conn, tcp);
        arm(&tls.sock, deadline).map_err(|e| format!("TLS handshake: {e}"))?;
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(|e| format!("TLS handshake: {e}"))?;
        }
        Ok(Stream::Tls(Box::new(tls)))
    }

    /// POSTs `body` (JSON) to `path`, with `auth` as the Authorization header when given.
    /// Errors say what failed, without the endpoint (the caller adds it).
    pub fn post(
        &mut self,
        path: &str,
        body: &[u8],
        auth: Option<&str>,
        deadline: Instant,
    ) -> Result<Reply, String> {
        // A kept connection may have been closed by the server meanwhile: a request that fails
        // on it before any reply byte is retried once on a fresh one.
        let reused = self.stream.is_some();
        match self.try_post(path, body, auth, deadline) {
            Err((e, false)) if reused && Instant::now() < deadline => {
                self.close();
                self.try_post(path, body, auth, deadline)
                    .map_err(|(e2, _)| format!("{e2} (after a kept connection failed: {e})"))
            }
            r => r.map_err(|(e, _)| e),
        }
    }

    /// The error's flag: whether any byte of a reply had arrived.
    fn try_post(
        &mut self,
        path: &str,
        body: &[u8],
        auth: Option<&str>,
        deadline: Instant,
    ) -> Result<Reply, (String, bool)> {
        if self.stream.is_none() {
            self.stream = Some(self.connect(deadline).map_err(|e| (e, true))?);
        }
        let stream = self.stream.as_mut().expect("just set");
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n",
            self.endpoint.host,
            self.endpoint.port,
            body.len()
        );
        if let Some(token) = auth {
            req.push_str("Authorization: ");
            req.push_str(token);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        let mut msg = req.into_bytes();
        msg.extend_from_slice(body);
        let sent = arm(stream.tcp(), deadline)
            .and_then(|()| stream.write_all(&msg))
            .and_then(|()| stream.flush());
        if let Err(e) = sent {
            self.close();
            return Err((format!("send: {e}"), false));
        }
        let mut reader = Reader {
            stream,
            buf: Vec::new(),
            pos: 0,
            deadline,
            total: 0,
        };
        match reader.reply() {
            Ok((reply, keep)) => {
                if !keep {
                    self.close();
                }
                Ok(reply)
            }
            Err((e, any)) => {
                self.close();
                Err((e, any))
            }
        }
    }
}

struct Reader<'a> {
    stream: &'a mut Stream,
    buf: Vec<u8>,
    pos: usize,
    deadline: Instant,
    total: usize,
}

impl Reader<'_> {
    /// Reads more bytes into the buffer; the error's flag says whether any byte came before.
    fn fill(&mut self) -> Result<(), (String, bool)> {
        let any = self.total > 0;
        arm(self.stream.tcp(), self.deadline).map_err(|e| (format!("read: {e}"), any))?;
        let mut chunk = [0u8; 8192];
        let n = loop {
            match self.stream.read(&mut chunk) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(("read: timed out".into(), any));
                }
                Err(e) => return Err((format!("read: {e}"), any)),
            }
        };
        if n == 0 {
            return Err((
                "connection closed before the reply was complete".into(),
                any,
            ));
        }
        self.total += n;
        if self.total > MAX_REPLY {
            return Err((format!("reply larger than {MAX_REPLY} bytes"), true));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// The next line (without CRLF), at most `max` bytes.
    fn line(&mut self, max: usize) -> Result<String, (String, bool)> {
        loop {
            if let Some(i) = self.buf[self.pos..].windows(2).position(|w| w == b"\r\n") {
                let line = &self.buf[self.pos..self.pos + i];
                let s = String::from_utf8_lossy(line).into_owned();
                self.pos += i + 2;
                return Ok(s);
            }
            if self.buf.len() - self.pos > max {
                return Err(("reply header line too long".into(), true));
            }
            self.fill()?;
        }
    }

    fn take(&mut self, n: usize) -> Result<Vec<u8>, (String, bool)> {
        if n > MAX_REPLY {
            return Err((format!("reply body of {n} bytes is over {MAX_REPLY}"), true));
        }
        while self.buf.len() - self.pos < n {
            self.fill()?;
        }
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(out)
    }

    fn reply(&mut self) -> Result<(Reply, bool), (String, bool)> {
        let bad = |m: String| (m, true);
        let status_line = self.line(MAX_HEAD)?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .filter(|_| version.starts_with("HTTP/1."))
            .ok_or_else(|| bad(format!("not an HTTP reply: {status_line:?}")))?;
        let mut length: Option<usize> = None;
        let mut chunked = false;
        let mut keep = version == "HTTP/1.1";
        let mut head = status_line.len();
        loop {
            let line = self.line(MAX_HEAD)?;
            head += line.len() + 2;
            if head > MAX_HEAD {
                return Err(bad("reply headers too large".into()));
            }
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(bad(format!("bad reply header {line:?}")));
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => {
                    length = Some(
                        value
                            .parse()
                            .map_err(|_| bad(format!("bad Content-Length {value:?}")))?,
                    );
                }
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => keep = !value.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let body = if chunked {
            let mut body = Vec::new();
            loop {
                let size_line = self.line(64)?;
                let hex = size_line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(hex, 16)
                    .map_err(|_| bad(format!("bad chunk size {size_line:?}")))?;
                if size == 0 {
                    // Trailers, up to the empty line.
                    while !self.line(MAX_HEAD)?.is_empty() {}
                    break;
                }
                if body.len() + size > MAX_REPLY {
                    return Err(bad(format!("reply larger than {MAX_REPLY} bytes")));
                }
                body.extend(self.take(size)?);
                if !self.line(2)?.is_empty() {
                    return Err(bad("chunk not followed by CRLF".into()));
                }
            }
            body
        } else if let Some(n) = length {
            self.take(n)?
        } else {
            // Delimited by the connection's end.
            keep = false;
            loop {
                match self.fill() {
                    Ok(()) => {}
                    Err((m, _)) if m.starts_with("connection closed") => break,
                    Err(e) => return Err(e),
                }
            }
            self.buf.split_off(self.pos)
        };
        Ok((Reply { status, body }, keep))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_and_refuse_clearly() {
        let e = Endpoint::parse("http://127.0.0.1:2379").unwrap();
        assert_eq!((e.tls, e.host.as_str(), e.port), (false, "127.0.0.1", 2379));
        let e = Endpoint::parse("https://[::1]:2379/").unwrap();
        assert_eq!((e.tls, e.host.as_str(), e.port), (true, "::1", 2379));
        for (bad, says) in [
            ("127.0.0.1:2379", "http:// or https://"),
            ("http://127.0.0.1", "port is missing"),
            ("http://127.0.0.1:0", "bad port"),
            ("http://127.0.0.1:x", "bad port"),
            ("http://:2379", "bad host"),
            ("http://::1:2379", "bad host"),
        ] {
            let err = Endpoint::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
