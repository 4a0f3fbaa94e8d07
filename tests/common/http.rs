//! One plain HTTP/1.x exchange with a server on 127.0.0.1, as a scraper or a browser makes it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The response to `request` (written as given): head and body; None when the connection
/// fails or the reply has no head.
pub fn ask(port: u16, request: &str) -> Option<(String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let (head, body) = resp.split_once("\r\n\r\n")?;
    Some((head.to_string(), body.to_string()))
}
