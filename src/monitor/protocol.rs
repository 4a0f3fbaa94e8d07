//! One client connection as a pure state machine: bytes in, bytes out. It strips telnet
//! negotiation, splits lines (`\n`, `\r\n`, `\r\0`, `\r`), tells HTTP from the line protocol
//! by the first line, enforces the line cap, and answers from an [`Oracle`] that reads the
//! cached health state (no application callback ever runs on this path).

use crate::monitor::check::CheckView;
use crate::monitor::counters::CounterView;
use crate::monitor::health::Verdict;
use crate::monitor::http;
use crate::monitor::metrics::NetCounts;
use crate::monitor::render::{self, Identity};
use crate::monitor::telnet::Telnet;
use std::time::Duration;

/// Read access to the current health, as the connection needs it.
pub trait Oracle {
    fn verdict(&self) -> Verdict;
    fn check(&self, name: &str) -> Option<CheckView>;
    /// Every check and counter, and the counter window.
    fn details(&self) -> (Vec<CheckView>, Vec<CounterView>, Duration);
    fn identity(&self) -> &Identity;
    /// The network thread's counts and the uptime.
    fn net(&self) -> NetCounts;
}

/// The most header bytes an HTTP request may carry.
pub const MAX_HTTP_HEAD: usize = 8192;

pub const HELP: &[&str] = &[
    "help            this list",
    "ping            OK or FAILED: is the instance available?",
    "check [NAME]    STATE key=value ... for the instance, or for one check",
    "status          the check line, one CHECK and COUNTER line each, then .",
    "version         VERSION hamon/<version> proto=1",
    "agent           a HAProxy agent-check reply, then close",
    "quit | exit     close the connection",
];

#[derive(Debug)]
enum Mode {
    /// No complete line yet: the first line decides.
    First,
    Line,
    /// An HTTP request line has been read; headers follow until an empty line.
    Http {
        method: String,
        path: String,
        head_bytes: usize,
    },
}

/// What the connection must do after a feed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub bytes: Vec<u8>,
    /// Close once `bytes` are written; further input is ignored.
    pub close: bool,
    /// Commands completed in this feed (a command line, or a whole HTTP request); empty
    /// lines, HTTP header lines and telnet negotiation do not count.
    pub commands: u32,
}

/// How much one [`Session::feed_bounded`] call may do before it hands control back.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Lines (empty ones included) handled per call.
    pub max_lines: usize,
    /// No further line is handled once the replies reach this many bytes.
    pub max_output: usize,
}

impl Budget {
    pub const UNLIMITED: Budget = Budget {
        max_lines: usize::MAX,
        max_output: usize::MAX,
    };
}

#[derive(Debug)]
pub struct Session {
    max_line: usize,
    telnet: Telnet,
    line: Vec<u8>,
    /// Telnet negotiation bytes swallowed since the last line ended: they count against the
    /// line cap, so an endless `IAC SB` cannot bypass it.
    swallowed: usize,
    after_cr: bool,
    mode: Mode,
    closed: bool,
}

fn reply(out: &mut Vec<u8>, line: &str) {
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

impl Session {
    pub fn new(max_line: usize) -> Session {
        Session {
            max_line,
            telnet: Telnet::default(),
            line: Vec::new(),
            swallowed: 0,
            after_cr: false,
            mode: Mode::First,
            closed: false,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Handles all of `input`.
    pub fn feed(&mut self, input: &[u8], oracle: &dyn Oracle) -> Output {
        let (used, out) = self.feed_bounded(input, oracle, Budget::UNLIMITED);
        debug_assert_eq!(used, input.len());
        out
    }

    /// Handles `input` until it ends or `budget` is spent, and says how many bytes it took;
    /// the caller feeds the rest later. Once the session is closed all input is taken.
    pub fn feed_bounded(
        &mut self,
        input: &[u8],
        oracle: &dyn Oracle,
        budget: Budget,
    ) -> (usize, Output) {
        let mut out = Output::default();
        let mut lines = 0;
        for (index, &raw) in input.iter().enumerate() {
            if self.closed {
                break;
            }
            if lines >= budget.max_lines || out.bytes.len() >= budget.max_output {
                return (index, out);
            }
            let Some(b) = self.telnet.filter(raw) else {
                self.swallowed += 1;
                if self.line.len() + self.swallowed > self.limit() {
                    self.on_overflow(&mut out.bytes);
                }
                continue;
            };
            let after_cr = std::mem::replace(&mut self.after_cr, false);
            match b {
                b'\n' | b'\0' if after_cr => {}
                b'\r' | b'\n' => {
                    lines += 1;
                    self.after_cr = b == b'\r';
                    self.swallowed = 0;
                    let line = std::mem::take(&mut self.line);
                    if self.on_line(&line, oracle, &mut out.bytes) {
                        out.commands += 1;
                    }
                }
                _ => {
                    self.line.push(b);
                    if self.line.len() + self.swallowed > self.limit() {
                        self.on_overflow(&mut out.bytes);
                    }
                }
            }
        }
        out.close = self.closed;
        (input.len(), out)
    }

    /// What a connection is told when a deadline closes it: `ERR <what>`, or a 408 response
    /// to a client that started an HTTP request.
    pub fn timeout_reply(&self, what: &str) -> Vec<u8> {
        if self.speaks_http() {
            http::error_response(408, "request timeout")
        } else {
            let mut out = Vec::new();
            reply(&mut out, &format!("ERR {what}"));
            out
        }
    }

    fn speaks_http(&self) -> bool {
        matches!(self.mode, Mode::Http { .. })
            || (matches!(self.mode, Mode::First) && http::looks_like_method(&self.line))
    }

    fn limit(&self) -> usize {
        match self.mode {
            Mode::Http { head_bytes, .. } => MAX_HTTP_HEAD.saturating_sub(head_bytes),
            _ => self.max_line,
        }
    }

    fn on_overflow(&mut self, out: &mut Vec<u8>) {
        if self.speaks_http() {
            out.extend_from_slice(&http::error_response(431, "request too large"));
        } else {
            reply(out, "ERR line-too-long");
        }
        self.closed = true;
    }

    /// Handles one line; true when it completed a command (or an HTTP request).
    fn on_line(&mut self, line: &[u8], oracle: &dyn Oracle, out: &mut Vec<u8>) -> bool {
        match &mut self.mode {
            Mode::First => {
                if let Some((method, path)) = http::parse_request_line(line) {
                    self.mode = Mode::Http {
                        method,
                        path,
                        head_bytes: line.len(),
                    };
                    false
                } else {
                    self.mode = Mode::Line;
                    self.command(line, oracle, out)
                }
            }
            Mode::Line => self.command(line, oracle, out),
            Mode::Http {
                method,
                path,
                head_bytes,
            } => {
                *head_bytes += line.len() + 2;
                if line.is_empty() {
                    out.extend_from_slice(&http::respond(method, path, oracle));
                    self.closed = true;
                }
                line.is_empty()
            }
        }
    }

    /// Answers one command line; false for a blank line, which is not a command.
    fn command(&mut self, line: &[u8], oracle: &dyn Oracle, out: &mut Vec<u8>) -> bool {
        let text = String::from_utf8_lossy(line);
        let mut words = text.split_whitespace();
        let Some(cmd) = words.next() else {
            return false;
        };
        let arg = words.next();
        let extra = words.next().is_some();
        match (cmd.to_ascii_lowercase().as_str(), arg, extra) {
            ("help", None, _) => {
                for l in HELP {
                    reply(out, l);
                }
                reply(out, ".");
            }
            ("ping", None, _) => reply(
                out,
                if oracle.verdict().state.is_available() {
                    "OK"
                } else {
                    "FAILED"
                },
            ),
            ("check", None, _) => reply(
                out,
                &render::check_line(&oracle.verdict(), oracle.identity()),
            ),
            ("check", Some(name), false) => match oracle.check(name) {
                Some(view) => reply(out, &render::named_check_line(&view)),
                None => reply(
                    out,
                    &format!("ERR unknown-check name={}", render::quote(name)),
                ),
            },
            ("status" | "details", None, _) => {
                reply(
                    out,
                    &render::check_line(&oracle.verdict(), oracle.identity()),
                );
                let (checks, counters, window) = oracle.details();
                for l in render::status_lines(&checks, &counters, window) {
                    reply(out, &l);
                }
                reply(out, ".");
            }
            ("version", None, _) => {
                reply(
                    out,
                    &format!(
                        "VERSION hamon/{} proto={}",
                        env!("CARGO_PKG_VERSION"),
                        render::PROTO
                    ),
                );
            }
            ("agent", None, _) => {
                reply(
                    out,
                    &render::agent_line(&oracle.verdict(), oracle.identity()),
                );
                self.closed = true;
            }
            ("quit" | "exit", None, _) => {
                reply(out, "BYE");
                self.closed = true;
            }
            (
                "help" | "ping" | "check" | "status" | "details" | "version" | "agent" | "quit"
                | "exit",
                _,
                _,
            ) => {
                reply(out, "ERR bad-arguments (try help)");
            }
            _ => reply(out, "ERR unknown-command (try help)"),
        }
        true
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::Importance;
    use crate::monitor::state::State;

    pub struct Fixed {
        pub verdict: Verdict,
        pub checks: Vec<CheckView>,
        pub id: Identity,
    }

    pub fn fixed(state: State) -> Fixed {
        Fixed {
            verdict: Verdict {
                state,
                op: state,
                reason: if state == State::Up {
                    String::new()
                } else {
                    "db: refused".into()
                },
                checks_ok: 1,
                checks_total: 1,
                failed: vec![],
                age_ms: Some(5),
                live: state != State::Down,
            },
            checks: vec![CheckView {
                name: "db".into(),
                state: State::Up,
                importance: Importance::Critical,
                latency_ms: Some(2),
                age_ms: Some(5),
                fail_streak: 0,
                fall: 3,
                ok_streak: 4,
                rise: 2,
                runs: 4,
                failures: 0,
                reason: String::new(),
            }],
            id: Identity {
                app_name: "billing".into(),
                agent_degraded_weight: 50,
            },
        }
    }

    impl Oracle for Fixed {
        fn verdict(&self) -> Verdict {
            self.verdict.clone()
        }
        fn check(&self, name: &str) -> Option<CheckView> {
            self.checks.iter().find(|c| c.name == name).cloned()
        }
        fn details(&self) -> (Vec<CheckView>, Vec<CounterView>, Duration) {
            (self.checks.clone(), vec![], Duration::from_secs(40))
        }
        fn identity(&self) -> &Identity {
            &self.id
        }
        fn net(&self) -> NetCounts {
            NetCounts {
                accepted: 1,
                open: 1,
                ..NetCounts::default()
            }
        }
    }

    fn talk(input: &[u8], state: State) -> (String, bool) {
        let mut s = Session::new(512);
        let out = s.feed(input, &fixed(state));
        (String::from_utf8(out.bytes).unwrap(), out.close)
    }

    #[test]
    fn ping_says_ok_or_failed() {
        assert_eq!(talk(b"ping\r\n", State::Up), ("OK\r\n".into(), false));
        assert_eq!(talk(b"PING\n", State::Degraded), ("OK\r\n".into(), false));
        assert_eq!(talk(b"ping\n", State::Down).0, "FAILED\r\n");
        assert_eq!(talk(b"ping\n", State::Starting).0, "FAILED\r\n");
    }

    #[test]
    fn line_endings_of_every_kind() {
        let (out, _) = talk(b"ping\rping\r\0ping\r\nping\n", State::Up);
        assert_eq!(out, "OK\r\n".repeat(4));
    }

    #[test]
    fn help_ends_with_a_dot_and_quit_closes() {
        let (out, close) = talk(b"help\nquit\nping\n", State::Up);
        assert!(out.contains("ping "));
        assert!(out.contains("\r\n.\r\nBYE\r\n"), "{out}");
        assert!(out.ends_with("BYE\r\n"), "input after quit is ignored");
        assert!(close);
    }

    #[test]
    fn unknown_commands_and_checks_keep_the_connection() {
        let (out, close) = talk(b"frobnicate\r\ncheck nope\r\ncheck db\r\n", State::Up);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "ERR unknown-command (try help)");
        assert_eq!(lines[1], "ERR unknown-check name=nope");
        assert!(
            lines[2].starts_with("UP v=1 check=db importance=critical latency_ms=2"),
            "{}",
            lines[2]
        );
        assert!(!close);
    }

    #[test]
    fn over_long_line_is_refused_and_closes() {
        let (out, close) = talk(&[b'a'; 600], State::Up);
        assert_eq!((out.as_str(), close), ("ERR line-too-long\r\n", true));
    }

    #[test]
    fn telnet_negotiation_is_ignored() {
        let (out, _) = talk(b"\xff\xfd\x01\xff\xfb\x03pi\xff\xf1ng\r\n", State::Up);
        assert_eq!(out, "OK\r\n");
    }

    #[test]
    fn split_input_is_reassembled() {
        let mut s = Session::new(512);
        let o = fixed(State::Up);
        assert!(s.feed(b"ch", &o).bytes.is_empty());
        assert!(
            s.feed(b"eck\r", &o)
                .bytes
                .starts_with(b"UP v=1 app=billing checks=1/1")
        );
        assert!(
            s.feed(b"\n", &o).bytes.is_empty(),
            "the LF of a CRLF split across reads"
        );
    }

    #[test]
    fn agent_replies_once_and_closes() {
        assert_eq!(
            talk(b"agent\n", State::Up),
            ("up ready 100%\r\n".into(), true)
        );
    }

    #[test]
    fn status_lists_checks_then_a_dot() {
        let (out, _) = talk(b"status\n", State::Up);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("UP v=1"));
        assert!(lines[1].starts_with("CHECK db UP importance=critical"));
        assert_eq!(lines[2], ".");
    }

    #[test]
    fn endless_subnegotiation_counts_against_the_line_cap() {
        let mut s = Session::new(512);
        let mut input = b"\xff\xfa\x18".to_vec();
        input.extend(std::iter::repeat_n(b'a', 600));
        let out = s.feed(&input, &fixed(State::Up));
        assert_eq!(out.bytes, b"ERR line-too-long\r\n");
        assert!(out.close);
        // Negotiation that ends is forgotten at the end of the line.
        let mut s = Session::new(512);
        let nop_line = [&b"\xff\xf1".repeat(200)[..], b"ping\r\n"].concat();
        let o = fixed(State::Up);
        for _ in 0..3 {
            assert_eq!(s.feed(&nop_line, &o).bytes, b"OK\r\n");
        }
    }

    #[test]
    fn a_bounded_feed_stops_and_resumes_where_it_stopped() {
        let o = fixed(State::Up);
        let input = b"ping\n\nhelp\nping\r\nping\n".repeat(50);
        let whole = Session::new(512).feed(&input, &o);
        let mut s = Session::new(512);
        let mut bytes = Vec::new();
        let mut commands = 0;
        let mut rest = &input[..];
        let budget = Budget {
            max_lines: 3,
            max_output: 100,
        };
        while !rest.is_empty() {
            let (used, out) = s.feed_bounded(rest, &o, budget);
            assert!(used > 0, "progress on every call");
            assert!(
                out.bytes.len() < 100 + 500,
                "stops once the output budget is spent"
            );
            bytes.extend(out.bytes);
            commands += out.commands;
            rest = &rest[used..];
        }
        assert_eq!(bytes, whole.bytes);
        assert_eq!(
            (commands, whole.commands),
            (200, 200),
            "blank lines are no commands"
        );
    }

    #[test]
    fn only_complete_commands_count() {
        let o = fixed(State::Up);
        let mut s = Session::new(512);
        assert_eq!(s.feed(b"\r\n\n pi", &o).commands, 0);
        assert_eq!(s.feed(b"ng\nnope\n", &o).commands, 2);
        let mut h = Session::new(512);
        assert_eq!(h.feed(b"GET / HTTP/1.1\r\nHost: x\r\n", &o).commands, 0);
        assert_eq!(h.feed(b"\r\n", &o).commands, 1);
        assert_eq!(h.timeout_reply("idle-timeout")[..12], *b"HTTP/1.1 408");
        assert_eq!(s.timeout_reply("idle-timeout"), b"ERR idle-timeout\r\n");
    }

    #[test]
    fn version_and_empty_lines() {
        let (out, _) = talk(b"\r\n\r\nversion\r\n", State::Up);
        assert_eq!(
            out,
            format!("VERSION hamon/{} proto=1\r\n", env!("CARGO_PKG_VERSION"))
        );
    }
}
