//! The client side of the monitor protocol: what `ha-probe` (and any other caller) uses to ask
//! a running monitor server whether the application is healthy.
//!
//! [`reply`] parses reply lines without I/O, [`client`] owns the socket and the deadline,
//! [`hosts`] reads names from /etc/hosts for `ha-probe`, and [`format`] maps an outcome to
//! the exit codes cluster managers expect.

pub mod client;
pub mod format;
pub mod hosts;
mod ready;
pub mod reply;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::monitor::state::State;

pub use client::{
    probe, probe_hosts_file_traced, probe_traced, probe_unix_traced, validate_check_name,
};
pub use format::Format;
pub use reply::parse_check_line;

/// Longest check name a hamon server registers (`ha_server_add_check`).
pub use crate::name::MAX_CHECK_NAME;

/// Longest reply line accepted, not counting the line ending. Anything longer is garbage.
pub const MAX_REPLY_LINE: usize = 4096;

/// What to ask the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeCommand {
    /// `check`: the aggregate state.
    Check,
    /// `check NAME`: the state of one named check.
    CheckNamed(String),
    /// `ping`: `OK` or `FAILED`; the only command legacy MediationZone servers know.
    Ping,
}

impl ProbeCommand {
    /// The request line as sent, including CRLF.
    pub fn request_line(&self) -> String {
        match self {
            ProbeCommand::Check => "check\r\n".to_string(),
            ProbeCommand::CheckNamed(name) => format!("check {name}\r\n"),
            ProbeCommand::Ping => "ping\r\n".to_string(),
        }
    }
}

/// One probe: where, how long at most, and what to ask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeRequest {
    pub host: String,
    pub port: u16,
    /// Hard limit over resolve, connect, write and read together.
    pub timeout: Duration,
    pub command: ProbeCommand,
}

/// A well-formed reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeReply {
    pub state: State,
    /// The reply line as received, without its line ending.
    pub line: String,
    /// `key=value` pairs in order of appearance, quotes and escapes removed.
    pub fields: Vec<(String, String)>,
    /// From the start of the successful connect to the complete reply line.
    pub rtt: Duration,
}

impl ProbeReply {
    /// The value of the first field named `key`.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The server's explanation (`reason=`), if any.
    pub fn reason(&self) -> Option<&str> {
        self.field("reason")
    }

    /// `checks=OK/TOTAL`: how many checks pass, of how many; `None` when absent or garbled.
    pub fn checks(&self) -> Option<(i32, i32)> {
        let (ok, total) = self.field("checks")?.split_once('/')?;
        Some((ok.parse().ok()?, total.parse().ok()?))
    }

    /// `age_ms=`: how old the server's check results are; `None` when absent or garbled.
    pub fn age_ms(&self) -> Option<i64> {
        self.field("age_ms")?.parse().ok()
    }
}

/// Why a probe produced no usable state. Every variant means "not healthy".
#[derive(Debug)]
pub enum ProbeError {
    /// The request itself is unusable (bad check name, port 0, zero timeout); nothing was sent.
    InvalidRequest(String),
    /// Name resolution failed: `host: reason`.
    Resolve(String),
    /// Every address that answered refused the connection (nothing listening there).
    Refused(Vec<SocketAddr>),
    /// The deadline passed; carries the configured timeout.
    Timeout(Duration),
    /// Connection-level failure other than refusal, e.g. a reset.
    Io(io::Error),
    /// The server answered with something that is not a valid reply to the command.
    BadReply(String),
    /// `check NAME` for a name the server does not know.
    UnknownCheck(String),
    /// The server is at its connection cap.
    Busy,
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::InvalidRequest(msg) => write!(f, "invalid request: {msg}"),
            ProbeError::Resolve(msg) => write!(f, "cannot resolve {msg}"),
            ProbeError::Refused(addrs) => {
                f.write_str("connection refused by ")?;
                for (i, a) in addrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                Ok(())
            }
            ProbeError::Timeout(t) => write!(f, "no reply within {} ms", t.as_millis()),
            ProbeError::Io(e) => write!(f, "I/O error: {e}"),
            ProbeError::BadReply(msg) => write!(f, "unparsable reply: {msg}"),
            ProbeError::UnknownCheck(name) => write!(f, "unknown check {name:?}"),
            ProbeError::Busy => f.write_str("server busy (at its connection cap)"),
        }
    }
}

impl std::error::Error for ProbeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProbeError::Io(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        assert_eq!(ProbeCommand::Check.request_line(), "check\r\n");
        assert_eq!(
            ProbeCommand::CheckNamed("db".into()).request_line(),
            "check db\r\n"
        );
        assert_eq!(ProbeCommand::Ping.request_line(), "ping\r\n");
    }

    #[test]
    fn field_and_reason() {
        let r = ProbeReply {
            state: State::Down,
            line: String::new(),
            fields: vec![
                ("v".into(), "1".into()),
                ("reason".into(), "db: timeout".into()),
                ("v".into(), "2".into()),
            ],
            rtt: Duration::ZERO,
        };
        assert_eq!(r.field("v"), Some("1"));
        assert_eq!(r.field("x"), None);
        assert_eq!(r.reason(), Some("db: timeout"));
    }

    #[test]
    fn checks_and_age() {
        let reply = |fields: &[(&str, &str)]| ProbeReply {
            state: State::Up,
            line: String::new(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            rtt: Duration::ZERO,
        };
        let r = reply(&[("checks", "2/3"), ("age_ms", "412")]);
        assert_eq!((r.checks(), r.age_ms()), (Some((2, 3)), Some(412)));
        let garbled = reply(&[("checks", "2-3"), ("age_ms", "soon")]);
        assert_eq!((garbled.checks(), garbled.age_ms()), (None, None));
        assert_eq!((reply(&[]).checks(), reply(&[]).age_ms()), (None, None));
    }

    #[test]
    fn error_messages() {
        let a: SocketAddr = "127.0.0.1:7777".parse().unwrap();
        let b: SocketAddr = "[::1]:7777".parse().unwrap();
        assert_eq!(
            ProbeError::Refused(vec![a]).to_string(),
            "connection refused by 127.0.0.1:7777"
        );
        assert_eq!(
            ProbeError::Refused(vec![b, a]).to_string(),
            "connection refused by [::1]:7777, 127.0.0.1:7777"
        );
        assert_eq!(
            ProbeError::Timeout(Duration::from_millis(5000)).to_string(),
            "no reply within 5000 ms"
        );
        assert_eq!(
            ProbeError::BadReply("\"junk\"".into()).to_string(),
            "unparsable reply: \"junk\""
        );
        assert_eq!(
            ProbeError::UnknownCheck("db".into()).to_string(),
            "unknown check \"db\""
        );
        let io = ProbeError::Io(io::Error::from(io::ErrorKind::ConnectionReset));
        assert!(std::error::Error::source(&io).is_some());
    }
}
