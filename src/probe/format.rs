//! What a probe outcome means to each kind of cluster manager: exit codes and the one line of
//! output. Pure, so the whole table is unit-tested.
//!
//! Fails closed: refused, timeout, garbage and BUSY never map to a healthy code.

use std::fmt;
use std::str::FromStr;

use crate::monitor::state::State;

use super::{ProbeError, ProbeReply};

/// The exit-code convention to follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Veritas VCS monitor entry point: 110 online, 100 offline.
    Vcs,
    /// Pacemaker OCF resource agent monitor action.
    Ocf,
    /// LSB init script `status`.
    Lsb,
    /// Nagios/Icinga plugin.
    Nagios,
    /// 0 healthy, 1 not.
    Plain,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Vcs,
        Format::Ocf,
        Format::Lsb,
        Format::Nagios,
        Format::Plain,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Vcs => "vcs",
            Format::Ocf => "ocf",
            Format::Lsb => "lsb",
            Format::Nagios => "nagios",
            Format::Plain => "plain",
        }
    }

    /// The exit code for a probe outcome.
    pub fn exit_code(self, outcome: &Result<ProbeReply, ProbeError>) -> u8 {
        match outcome {
            Ok(reply) => self.state_code(reply.state),
            Err(e) => self.error_code(e),
        }
    }

    /// The exit code for a state the server reported.
    pub fn state_code(self, state: State) -> u8 {
        use State::*;
        match self {
            Format::Vcs => match state {
                Up | Degraded => 110,
                Draining | Maint | Starting | Stopping | Down => 100,
            },
            Format::Ocf => match state {
                Up | Degraded | Draining | Maint => 0,
                Starting | Stopping | Down => 1,
            },
            Format::Lsb => match state {
                Up | Degraded | Draining => 0,
                Down => 1,
                Maint | Stopping => 3,
                Starting => 4,
            },
            Format::Nagios => match state {
                Up => 0,
                Degraded | Draining | Maint | Starting => 1,
                Stopping | Down => 2,
            },
            Format::Plain => match state {
                Up | Degraded => 0,
                Draining | Maint | Starting | Stopping | Down => 1,
            },
        }
    }

    /// The exit code when no state could be obtained.
    pub fn error_code(self, e: &ProbeError) -> u8 {
        match e {
            // Nothing was asked: the caller's arguments are wrong.
            ProbeError::InvalidRequest(_) => self.usage_error_code(),
            // Nothing listening is "not running", which OCF and LSB can say precisely.
            ProbeError::Refused(_) => match self {
                Format::Vcs => 100,
                Format::Ocf => 7,
                Format::Lsb => 3,
                Format::Nagios => 2,
                Format::Plain => 1,
            },
            ProbeError::Resolve(_)
            | ProbeError::Timeout(_)
            | ProbeError::Io(_)
            | ProbeError::BadReply(_)
            | ProbeError::UnknownCheck(_)
            | ProbeError::Busy => match self {
                Format::Vcs => 100,
                Format::Ocf => 1,
                Format::Lsb => 4,
                Format::Nagios => 2,
                Format::Plain => 1,
            },
        }
    }

    /// The exit code for bad arguments (OCF_ERR_ARGS, Nagios UNKNOWN, VCS offline).
    pub fn usage_error_code(self) -> u8 {
        match self {
            Format::Vcs => 100,
            Format::Ocf | Format::Lsb | Format::Plain => 2,
            Format::Nagios => 3,
        }
    }

    /// The single line `ha-probe` prints for an outcome.
    ///
    /// Nagios gets `HAMON <STATUS> - <text>` plus `rtt` perfdata; the others get the reply
    /// line as received, or `FAILED: <error>`.
    pub fn summary(self, outcome: &Result<ProbeReply, ProbeError>) -> String {
        if self != Format::Nagios {
            return match outcome {
                Ok(reply) => reply.line.clone(),
                Err(e) => format!("FAILED: {e}"),
            };
        }
        let status = nagios_status(self.exit_code(outcome));
        match outcome {
            Ok(reply) => format!(
                "HAMON {status} - {} | rtt={:.6}s;;;0",
                nagios_text(&reply.line),
                reply.rtt.as_secs_f64()
            ),
            Err(e) => format!("HAMON {status} - {}", nagios_text(&e.to_string())),
        }
    }
}

/// The Nagios status word for a plugin exit code.
pub fn nagios_status(code: u8) -> &'static str {
    match code {
        0 => "OK",
        1 => "WARNING",
        2 => "CRITICAL",
        _ => "UNKNOWN",
    }
}

/// `|` starts perfdata in Nagios output, so it must not appear in the text part.
fn nagios_text(s: &str) -> String {
    s.replace('|', "/")
}

/// Error for a word that is not a format name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFormat(pub String);

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown format {:?} (expected vcs, ocf, lsb, nagios or plain)",
            self.0
        )
    }
}

impl std::error::Error for UnknownFormat {}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::time::Duration;

    fn reply(state: State) -> Result<ProbeReply, ProbeError> {
        Ok(ProbeReply {
            state,
            line: format!("{} v=1", state.as_str()),
            fields: vec![("v".into(), "1".into())],
            rtt: Duration::from_micros(2500),
        })
    }

    fn codes(outcome: &Result<ProbeReply, ProbeError>) -> [u8; 5] {
        Format::ALL.map(|f| f.exit_code(outcome))
    }

    #[test]
    fn state_table() {
        //                               vcs  ocf lsb nagios plain
        let table = [
            (State::Up, [110, 0, 0, 0, 0]),
            (State::Degraded, [110, 0, 0, 1, 0]),
            (State::Draining, [100, 0, 0, 1, 1]),
            (State::Maint, [100, 0, 3, 1, 1]),
            (State::Starting, [100, 1, 4, 1, 1]),
            (State::Stopping, [100, 1, 3, 2, 1]),
            (State::Down, [100, 1, 1, 2, 1]),
        ];
        assert_eq!(table.len(), State::ALL.len());
        for (state, want) in table {
            assert_eq!(codes(&reply(state)), want, "{state}");
        }
    }

    #[test]
    fn error_table() {
        let refused = Err(ProbeError::Refused(vec!["127.0.0.1:1".parse().unwrap()]));
        assert_eq!(codes(&refused), [100, 7, 3, 2, 1]);
        let failures = [
            ProbeError::Timeout(Duration::from_secs(5)),
            ProbeError::BadReply("x".into()),
            ProbeError::Busy,
            ProbeError::Io(io::ErrorKind::ConnectionReset.into()),
            ProbeError::UnknownCheck("db".into()),
            ProbeError::Resolve("h: no".into()),
        ];
        for e in failures {
            let msg = e.to_string();
            assert_eq!(codes(&Err(e)), [100, 1, 4, 2, 1], "{msg}");
        }
        assert_eq!(
            codes(&Err(ProbeError::InvalidRequest("x".into()))),
            [100, 2, 2, 3, 2]
        );
    }

    #[test]
    fn never_healthy_without_a_state() {
        let healthy = |f: Format| f.state_code(State::Up);
        for f in Format::ALL {
            for e in [
                ProbeError::Refused(vec![]),
                ProbeError::Timeout(Duration::from_secs(1)),
                ProbeError::Busy,
                ProbeError::BadReply(String::new()),
                ProbeError::InvalidRequest(String::new()),
            ] {
                assert_ne!(f.error_code(&e), healthy(f), "{f} {e}");
            }
        }
    }

    #[test]
    fn usage_codes() {
        assert_eq!(Format::ALL.map(Format::usage_error_code), [100, 2, 2, 3, 2]);
    }

    #[test]
    fn parse_names() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>(), Ok(f));
            assert_eq!(f.to_string(), f.as_str());
        }
        assert!("VCS".parse::<Format>().is_err());
        assert!("".parse::<Format>().is_err());
        assert_eq!(
            "xml".parse::<Format>().unwrap_err().to_string(),
            "unknown format \"xml\" (expected vcs, ocf, lsb, nagios or plain)"
        );
    }

    #[test]
    fn summaries() {
        assert_eq!(Format::Vcs.summary(&reply(State::Up)), "UP v=1");
        assert_eq!(Format::Plain.summary(&reply(State::Down)), "DOWN v=1");
        let refused = Err(ProbeError::Refused(vec!["127.0.0.1:7777".parse().unwrap()]));
        assert_eq!(
            Format::Ocf.summary(&refused),
            "FAILED: connection refused by 127.0.0.1:7777"
        );
        assert_eq!(
            Format::Nagios.summary(&reply(State::Up)),
            "HAMON OK - UP v=1 | rtt=0.002500s;;;0"
        );
        assert_eq!(
            Format::Nagios.summary(&reply(State::Degraded)),
            "HAMON WARNING - DEGRADED v=1 | rtt=0.002500s;;;0"
        );
        assert_eq!(
            Format::Nagios.summary(&reply(State::Down)),
            "HAMON CRITICAL - DOWN v=1 | rtt=0.002500s;;;0"
        );
        assert_eq!(
            Format::Nagios.summary(&Err(ProbeError::Timeout(Duration::from_millis(300)))),
            "HAMON CRITICAL - no reply within 300 ms"
        );
        assert_eq!(
            Format::Nagios.summary(&Err(ProbeError::InvalidRequest("x".into()))),
            "HAMON UNKNOWN - invalid request: x"
        );
        let piped = Ok(ProbeReply {
            state: State::Down,
            line: "DOWN reason=\"a|b\"".into(),
            fields: vec![],
            rtt: Duration::ZERO,
        });
        assert_eq!(
            Format::Nagios.summary(&piped),
            "HAMON CRITICAL - DOWN reason=\"a/b\" | rtt=0.000000s;;;0"
        );
    }

    #[test]
    fn nagios_words() {
        assert_eq!(
            [0, 1, 2, 3, 4].map(nagios_status),
            ["OK", "WARNING", "CRITICAL", "UNKNOWN", "UNKNOWN"]
        );
    }
}
