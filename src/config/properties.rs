//! The Java `.properties` syntax: logical lines, separators, comments and escapes.

use super::error::{ConfigError, ConfigErrorKind};

/// One `key=value` assignment, unescaped, with the value trimmed.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Entry {
    /// 1-based line where the logical line starts.
    pub line: usize,
    pub key: String,
    pub value: String,
}

/// Splits a properties text into its assignments, in order. Errors carry the line.
pub(super) fn parse(text: &str) -> Result<Vec<Entry>, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(index, line)| (index + 1, line.strip_suffix('\r').unwrap_or(line)));
    let mut entries = Vec::new();
    while let Some((number, first)) = lines.next() {
        let first = trim_start(first);
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        // Each physical line's own trailing backslashes decide whether it continues (as in
        // Java); looking only at the new piece keeps a long run of them linear.
        let mut logical = first.to_string();
        let mut piece_continues = ends_in_odd_backslashes(first);
        while piece_continues {
            logical.pop();
            match lines.next() {
                Some((_, next)) => {
                    let next = trim_start(next);
                    logical.push_str(next);
                    piece_continues = ends_in_odd_backslashes(next);
                }
                None => break,
            }
        }
        let (raw_key, raw_value) = split_key_value(&logical);
        let syntax = |key: Option<&str>, message| {
            let mut error = ConfigError::new(ConfigErrorKind::Syntax, key, message);
            error.line = Some(number);
            error
        };
        let key = unescape(raw_key).map_err(|message| syntax(None, message))?;
        let value = unescape(raw_value).map_err(|message| syntax(Some(&key), message))?;
        entries.push(Entry {
            line: number,
            key,
            value: value.trim().to_string(),
        });
    }
    Ok(entries)
}

/// Whitespace as the properties format defines it (not newlines: lines are already split).
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{c}')
}

fn trim_start(s: &str) -> &str {
    s.trim_start_matches(is_blank)
}

fn ends_in_odd_backslashes(s: &str) -> bool {
    s.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// The key ends at the first unescaped `=`, `:` or blank; blanks and one `=`/`:` after it
/// separate it from the value.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut key_end = line.len();
    for (index, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || is_blank(c) {
            key_end = index;
            break;
        }
    }
    let key = &line[..key_end];
    let mut rest = trim_start(&line[key_end..]);
    let separated_by_sign = line[key_end..].starts_with(['=', ':']);
    if separated_by_sign {
        rest = trim_start(&rest[1..]);
    } else if let Some(after) = rest.strip_prefix(['=', ':']) {
        rest = trim_start(after);
    }
    (key, rest)
}

fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => out.push(unicode_escape(&mut chars)?),
            // As in Java, any other escaped character stands for itself (`\=`, `\ `, `\#`).
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

/// Decodes the digits after `\u`; a UTF-16 surrogate pair spans two escapes, as Java writes
/// characters outside the Basic Multilingual Plane.
fn unicode_escape(chars: &mut std::str::Chars<'_>) -> Result<char, String> {
    let high = hex4(chars)?;
    if !(0xD800..0xDC00).contains(&high) {
        return char::from_u32(high).ok_or_else(|| format!("unpaired surrogate \\u{high:04X}"));
    }
    let mut lookahead = chars.clone();
    if lookahead.next() == Some('\\') && lookahead.next() == Some('u') {
        let low = hex4(&mut lookahead)?;
        if (0xDC00..0xE000).contains(&low) {
            *chars = lookahead;
            let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
            return char::from_u32(code).ok_or_else(|| format!("bad escape \\u{high:04X}"));
        }
    }
    Err(format!("unpaired surrogate \\u{high:04X}"))
}

fn hex4(chars: &mut std::str::Chars<'_>) -> Result<u32, String> {
    let digits: String = chars.by_ref().take(4).collect();
    match u32::from_str_radix(&digits, 16) {
        Ok(code) if digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(code),
        _ => Err(format!(
            "bad escape \"\\u{digits}\": expected \\u and 4 hex digits"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(usize, String, String)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|e| (e.line, e.key, e.value))
            .collect()
    }

    fn one(line: usize, key: &str, value: &str) -> (usize, String, String) {
        (line, key.to_string(), value.to_string())
    }

    #[test]
    fn separators_equals_colon_and_whitespace() {
        let text = "a=1\nb: 2\nc 3\n  d  =  4  \ne\t:\t5\nf   6\ng==7\nh\n";
        assert_eq!(
            pairs(text),
            vec![
                one(1, "a", "1"),
                one(2, "b", "2"),
                one(3, "c", "3"),
                one(4, "d", "4"),
                one(5, "e", "5"),
                one(6, "f", "6"),
                one(7, "g", "=7"),
                one(8, "h", ""),
            ]
        );
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let text = "# comment\n   ! bang comment\n\n   \n\t\na=1\n  #x=2\n";
        assert_eq!(pairs(text), vec![one(6, "a", "1")]);
    }

    #[test]
    fn comment_characters_inside_a_value_are_kept() {
        assert_eq!(
            pairs("a=1 # not a comment"),
            vec![one(1, "a", "1 # not a comment")]
        );
    }

    #[test]
    fn continuation_joins_lines_and_reports_the_first_line() {
        let text = "x=1\nlist = a, \\\n      b, \\\n      c\ny=2\n";
        assert_eq!(
            pairs(text),
            vec![
                one(1, "x", "1"),
                one(2, "list", "a, b, c"),
                one(5, "y", "2")
            ]
        );
    }

    #[test]
    fn even_backslashes_do_not_continue() {
        assert_eq!(
            pairs("a=x\\\\\nb=y\n"),
            vec![one(1, "a", "x\\"), one(2, "b", "y")]
        );
    }

    #[test]
    fn continuation_line_starting_with_hash_is_not_a_comment() {
        assert_eq!(pairs("a=1\\\n  #2\n"), vec![one(1, "a", "1#2")]);
    }

    #[test]
    fn continuation_at_end_of_text_ends_the_value() {
        assert_eq!(pairs("a=1\\"), vec![one(1, "a", "1")]);
    }

    #[test]
    fn escapes() {
        assert_eq!(
            pairs(r"a\=b\:c\ d = t\tn\nr\rf\fbs\\eq\=co\:h\#u\u0041\u00e9"),
            vec![one(1, "a=b:c d", "t\tn\nr\rf\u{c}bs\\eq=co:h#uAé")]
        );
    }

    #[test]
    fn surrogate_pair_escape_is_one_character() {
        assert_eq!(pairs(r"a=\uD83D\uDE00"), vec![one(1, "a", "😀")]);
    }

    #[test]
    fn bad_unicode_escape_is_a_syntax_error_naming_the_line() {
        for text in [r"a=\u12G4", r"a=\u12", r"a=\uD83D", r"a=\uDE00x"] {
            let error = parse(&format!("ok=1\n\n{text}\n")).unwrap_err();
            assert_eq!(error.kind, ConfigErrorKind::Syntax, "{text}");
            assert_eq!(error.line, Some(3), "{text}");
            assert_eq!(error.key.as_deref(), Some("a"), "{text}");
        }
        let error = parse(r"k\u00zz=1").unwrap_err();
        assert_eq!(error.key, None);
        assert!(error.message.contains("\\u00zz"), "{}", error.message);
    }

    #[test]
    fn crlf_line_ends() {
        assert_eq!(
            pairs("a=1\r\nb = 2 \r\nc=3\\\r\n  4\r\n"),
            vec![one(1, "a", "1"), one(2, "b", "2"), one(3, "c", "34")]
        );
    }

    #[test]
    fn a_continued_line_ending_in_backslashes_counts_its_own() {
        // "\\\\" ends the second piece with an even run: the value ends there.
        assert_eq!(
            pairs("a=1\\\n\\\\\nb=2\n"),
            vec![one(1, "a", "1\\"), one(3, "b", "2")]
        );
    }

    #[test]
    fn long_runs_of_backslashes_load_in_linear_time() {
        // 800 KB of lines of three backslashes, each continuing the last: the run of
        // backslashes at the end of the joined line grows with every piece, but only the new
        // piece is scanned.
        let text = format!("a=\\\n{}b=1\n", "\\\\\\\n".repeat(200_000));
        let started = std::time::Instant::now();
        let entries = parse(&text).unwrap();
        assert_eq!(entries.len(), 1, "b=1 is part of a's value");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        let one_line = "\\".repeat(400_000);
        assert_eq!(parse(&one_line).unwrap().len(), 1);
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        assert_eq!(pairs("\u{feff}a=1\n"), vec![one(1, "a", "1")]);
    }

    #[test]
    fn values_are_trimmed_and_keys_end_at_whitespace() {
        assert_eq!(
            pairs("  key   value with spaces   "),
            vec![one(1, "key", "value with spaces")]
        );
    }
}
