//! Parsing reply lines. Pure: no I/O, and no byte sequence makes it panic.
//!
//! Strict on purpose: a reply that does not parse is treated as "not healthy", so a garbled
//! answer can never be mistaken for UP.

use crate::monitor::state::State;

use super::{ProbeCommand, ProbeError};

type Fields = Vec<(String, String)>;

/// How much of an offending reply is quoted in error messages.
const SNIPPET_CHARS: usize = 80;

/// Parses a `check` reply line (without its line ending):
/// `STATE key=value key="quoted \"value\"" ...`.
///
/// STATE must be one of the seven upper-case wire words. Fields are separated by spaces;
/// quoted values may contain spaces and the escapes `\"` and `\\`. Unknown keys are kept (the
/// caller ignores what it does not know). Control characters anywhere are rejected.
pub fn parse_check_line(line: &str) -> Result<(State, Vec<(String, String)>), String> {
    if line.is_empty() {
        return Err("empty reply".to_string());
    }
    if let Some(c) = line.chars().find(|c| c.is_control()) {
        return Err(format!("control character {c:?} in reply"));
    }
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    if word.is_empty() || word.contains('=') {
        return Err("missing state".to_string());
    }
    let state = word
        .parse::<State>()
        .map_err(|_| format!("unknown state {}", snippet(word)))?;
    Ok((state, parse_fields(rest)?))
}

/// Parses space-separated `key=value` / `key="quoted"` fields.
fn parse_fields(s: &str) -> Result<Vec<(String, String)>, String> {
    let b = s.as_bytes();
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i == b.len() {
            return Ok(fields);
        }
        let key_start = i;
        while i < b.len() && !matches!(b[i], b'=' | b' ' | b'"') {
            i += 1;
        }
        if i == b.len() || b[i] != b'=' {
            return Err(format!(
                "expected key=value at {}",
                snippet(&s[key_start..])
            ));
        }
        if i == key_start {
            return Err(format!("empty key at {}", snippet(&s[key_start..])));
        }
        let key = &s[key_start..i];
        i += 1;
        let value = if b.get(i) == Some(&b'"') {
            i += 1;
            let mut v = String::new();
            loop {
                // All delimiters are ASCII, so every index used to slice is a char boundary.
                let run = i;
                while i < b.len() && !matches!(b[i], b'"' | b'\\') {
                    i += 1;
                }
                v.push_str(&s[run..i]);
                match b.get(i) {
                    None => return Err(format!("unterminated quoted value for {key}")),
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    _ => match b.get(i + 1) {
                        Some(&c @ (b'"' | b'\\')) => {
                            v.push(c as char);
                            i += 2;
                        }
                        _ => return Err(format!("bad escape in quoted value for {key}")),
                    },
                }
            }
            if i < b.len() && b[i] != b' ' {
                return Err(format!("garbage after quoted value for {key}"));
            }
            v
        } else {
            let start = i;
            while i < b.len() && b[i] != b' ' {
                if b[i] == b'"' {
                    return Err(format!("stray quote in value for {key}"));
                }
                i += 1;
            }
            s[start..i].to_string()
        };
        fields.push((key.to_string(), value));
    }
}

/// Turns the raw reply line (line ending removed) into a state, its fields and the line text,
/// according to what was asked.
pub(crate) fn interpret(
    command: &ProbeCommand,
    raw: &[u8],
) -> Result<(State, Fields, String), ProbeError> {
    let line = std::str::from_utf8(raw)
        .map_err(|_| ProbeError::BadReply(format!("not UTF-8: {}", snippet_bytes(raw))))?;
    if line == "BUSY" || line.starts_with("BUSY ") {
        return Err(ProbeError::Busy);
    }
    if line == "ERR" || line.starts_with("ERR ") {
        return Err(interpret_err(command, line));
    }
    match command {
        ProbeCommand::Ping => match line {
            "OK" => Ok((State::Up, Vec::new(), line.to_string())),
            "FAILED" => Ok((State::Down, Vec::new(), line.to_string())),
            _ => Err(ProbeError::BadReply(format!(
                "expected OK or FAILED, got {}",
                snippet(line)
            ))),
        },
        ProbeCommand::Check | ProbeCommand::CheckNamed(_) => match parse_check_line(line) {
            Ok((state, fields)) => Ok((state, fields, line.to_string())),
            Err(why) => Err(ProbeError::BadReply(format!("{why} in {}", snippet(line)))),
        },
    }
}

fn interpret_err(command: &ProbeCommand, line: &str) -> ProbeError {
    let rest = line.get(4..).unwrap_or("");
    let (code, args) = rest.split_once(' ').unwrap_or((rest, ""));
    if code == "unknown-check" {
        let named = parse_fields(args)
            .ok()
            .and_then(|f| f.into_iter().find(|(k, _)| k == "name").map(|(_, v)| v));
        let asked = match command {
            ProbeCommand::CheckNamed(n) => n.clone(),
            _ => String::new(),
        };
        return ProbeError::UnknownCheck(named.unwrap_or(asked));
    }
    ProbeError::BadReply(format!("server error {}", snippet(line)))
}

/// Debug-quoted, length-limited text for error messages (keeps messages on one line).
pub(crate) fn snippet(s: &str) -> String {
    match s.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{:?}...", &s[..cut]),
        None => format!("{s:?}"),
    }
}

pub(crate) fn snippet_bytes(b: &[u8]) -> String {
    snippet(&String::from_utf8_lossy(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> (State, Vec<(String, String)>) {
        parse_check_line(line).unwrap_or_else(|e| panic!("{line:?} rejected: {e}"))
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn all_seven_states() {
        for st in State::ALL {
            let (got, fields) = ok(&format!("{} v=1", st.as_str()));
            assert_eq!(got, st);
            assert_eq!(fields, kv(&[("v", "1")]));
            assert_eq!(ok(st.as_str()), (st, vec![]));
        }
    }

    #[test]
    fn documented_examples() {
        assert_eq!(
            ok("UP v=1 app=billing checks=3/3 age_ms=412"),
            (
                State::Up,
                kv(&[
                    ("v", "1"),
                    ("app", "billing"),
                    ("checks", "3/3"),
                    ("age_ms", "412")
                ])
            )
        );
        assert_eq!(
            ok(r#"DOWN v=1 checks=2/3 failed=db reason="db: timeout after 5000ms""#),
            (
                State::Down,
                kv(&[
                    ("v", "1"),
                    ("checks", "2/3"),
                    ("failed", "db"),
                    ("reason", "db: timeout after 5000ms")
                ])
            )
        );
    }

    #[test]
    fn quoted_values_and_escapes() {
        assert_eq!(
            ok(r#"DEGRADED reason="say \"hi\" to C:\\tmp" x="" y=z"#).1,
            kv(&[("reason", r#"say "hi" to C:\tmp"#), ("x", ""), ("y", "z")])
        );
        assert_eq!(ok(r#"UP a="ünïcödé = ok""#).1, kv(&[("a", "ünïcödé = ok")]));
        assert_eq!(ok(r#"UP a="\\""#).1, kv(&[("a", "\\")]));
        assert_eq!(ok("UP a=").1, kv(&[("a", "")]));
    }

    #[test]
    fn unknown_keys_are_kept_and_spacing_is_lenient() {
        assert_eq!(
            ok("MAINT  future_key=42   v=1 ").1,
            kv(&[("future_key", "42"), ("v", "1")])
        );
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "up",
            "Up v=1",
            "UPX",
            "UPX v=1",
            " UP",
            "v=1 app=x",
            "=1",
            "UP v",
            "UP =1",
            "UP v=1 flag",
            r#"UP reason="never closed"#,
            r#"UP reason="ends in backslash\"#,
            r#"UP reason="bad \n escape""#,
            r#"UP a="x"y"#,
            r#"UP a=x"y"#,
            "UP\tv=1",
            "UP v=1\r",
            "UP v=1\n",
            "UP v=\u{7f}",
            "\u{0}\u{1}\u{2}",
            "OK",
            "FAILED",
        ] {
            assert!(parse_check_line(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(parse_check_line("").unwrap_err(), "empty reply");
        assert_eq!(parse_check_line("v=1").unwrap_err(), "missing state");
        assert!(
            parse_check_line(r#"UP reason="x"#)
                .unwrap_err()
                .contains("unterminated")
        );
    }

    #[test]
    fn binary_junk_never_panics() {
        // A cheap deterministic generator; covers every byte value and many splits.
        let mut x: u32 = 0x1234_5678;
        let alphabet = b"UPDOWN =\"\\\r\n\0\xff\xc3\xa9ak";
        for len in 0..64 {
            for _ in 0..200 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        if x.is_multiple_of(3) {
                            x as u8
                        } else {
                            alphabet[(x as usize >> 8) % alphabet.len()]
                        }
                    })
                    .collect();
                let _ = interpret(&ProbeCommand::Check, &bytes);
                let _ = interpret(&ProbeCommand::Ping, &bytes);
                let _ = interpret(&ProbeCommand::CheckNamed("db".into()), &bytes);
                let _ = parse_check_line(&String::from_utf8_lossy(&bytes));
            }
        }
        assert!(matches!(
            interpret(&ProbeCommand::Check, b"\xff\xfe UP"),
            Err(ProbeError::BadReply(_))
        ));
    }

    #[test]
    fn interpret_by_command() {
        let (st, f, line) = interpret(&ProbeCommand::Check, b"UP v=1").unwrap();
        assert_eq!(
            (st, f, line.as_str()),
            (State::Up, kv(&[("v", "1")]), "UP v=1")
        );

        assert_eq!(interpret(&ProbeCommand::Ping, b"OK").unwrap().0, State::Up);
        assert_eq!(
            interpret(&ProbeCommand::Ping, b"FAILED").unwrap().0,
            State::Down
        );
        for bad in [&b"ok"[..], b"OK ", b"UP v=1", b"", b"OKAY"] {
            assert!(matches!(
                interpret(&ProbeCommand::Ping, bad),
                Err(ProbeError::BadReply(_))
            ));
        }
        // A legacy answer to `check` is not a state.
        assert!(matches!(
            interpret(&ProbeCommand::Check, b"OK"),
            Err(ProbeError::BadReply(_))
        ));
    }

    #[test]
    fn busy_and_err() {
        for cmd in [ProbeCommand::Check, ProbeCommand::Ping] {
            assert!(matches!(interpret(&cmd, b"BUSY"), Err(ProbeError::Busy)));
            assert!(matches!(
                interpret(&cmd, b"BUSY max=64"),
                Err(ProbeError::Busy)
            ));
        }
        assert!(matches!(
            interpret(&ProbeCommand::Check, b"BUSYX"),
            Err(ProbeError::BadReply(_))
        ));

        let named = ProbeCommand::CheckNamed("db".into());
        match interpret(&named, b"ERR unknown-check name=db") {
            Err(ProbeError::UnknownCheck(n)) => assert_eq!(n, "db"),
            other => panic!("{other:?}"),
        }
        // Without a usable name field, fall back to the name that was asked for.
        match interpret(&named, b"ERR unknown-check") {
            Err(ProbeError::UnknownCheck(n)) => assert_eq!(n, "db"),
            other => panic!("{other:?}"),
        }
        match interpret(&ProbeCommand::Check, b"ERR bad-command") {
            Err(ProbeError::BadReply(m)) => assert!(m.contains("ERR bad-command"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            interpret(&ProbeCommand::Check, b"ERR"),
            Err(ProbeError::BadReply(_))
        ));
    }

    #[test]
    fn snippets_are_bounded_and_single_line() {
        let long = "x\n".repeat(500);
        let s = snippet(&long);
        assert!(s.len() < 200, "{s}");
        assert!(!s.contains('\n'));
        assert!(s.ends_with("..."));
        assert_eq!(snippet("é"), "\"é\"");
    }
}
