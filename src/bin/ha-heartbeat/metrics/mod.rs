//! `hb.metrics_listen`: the daemon's `GET /metrics` (docs/heartbeat.md, "Metrics").
//!
//! The loop publishes the exposition text once a turn; a thread of its own answers
//! requests with the latest text, so a slow or hostile client never holds up the loop.
//! One connection at a time, each bounded: 4 KiB of request, one second to send it, one
//! second to take the reply, then the connection is closed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hamon::metrics::CONTENT_TYPE;

const MAX_REQUEST: usize = 4096;
const CLIENT_TIME: Duration = Duration::from_secs(1);

pub struct MetricsServer {
    latest: Arc<Mutex<String>>,
}

impl MetricsServer {
    /// Binds `addr` and serves in a thread of its own; an error names the address.
    pub fn start(addr: SocketAddr) -> Result<MetricsServer, String> {
        let listener =
            TcpListener::bind(addr).map_err(|e| format!("hb.metrics_listen={addr}: {e}"))?;
        let latest = Arc::new(Mutex::new(String::new()));
        let shared = latest.clone();
        std::thread::Builder::new()
            .name("hb-metrics".into())
            .spawn(move || serve(listener, shared))
            .map_err(|e| format!("hb.metrics_listen={addr}: cannot start its thread: {e}"))?;
        log::info!("metrics on http://{addr}/metrics");
        Ok(MetricsServer { latest })
    }

    /// The text the next request gets.
    pub fn publish(&self, text: String) {
        if let Ok(mut latest) = self.latest.lock() {
            *latest = text;
        }
    }
}

fn serve(listener: TcpListener, latest: Arc<Mutex<String>>) {
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => answer(stream, &latest),
            // Out of descriptors and the like: do not spin.
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn answer(mut stream: TcpStream, latest: &Mutex<String>) {
    let deadline = Instant::now() + CLIENT_TIME;
    let _ = stream.set_write_timeout(Some(CLIENT_TIME));
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || request.len() >= MAX_REQUEST {
            return;
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let line = request.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let reply = match (words.next(), words.next()) {
        (Some("GET"), Some("/metrics")) => {
            let body = latest.lock().map(|t| t.clone()).unwrap_or_default();
            response("200 OK", CONTENT_TYPE, &body)
        }
        (Some("GET"), Some(_)) => response("404 Not Found", "text/plain", "only /metrics\n"),
        _ => response("405 Method Not Allowed", "text/plain", "GET /metrics\n"),
    };
    let _ = stream.write_all(reply.as_bytes());
}

fn response(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
}
