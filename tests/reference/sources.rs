//! The sources of truth the pages are held to, read as users meet them: the declarations and
//! constants of include/hamon.h, the key table of src/config/keys.rs, and a program's
//! `--help` text.

use std::collections::BTreeSet;

/// One declaration of the header: a function or a callback type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declaration {
    pub name: String,
    /// The declaration on one line, as [`normalize`] writes it.
    pub text: String,
}

/// The functions and callback types the header declares, in its order.
pub fn declarations(header: &str) -> Vec<Declaration> {
    let code: String = strip_comments(header)
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    code.split(';').filter_map(declaration).collect()
}

/// A statement of C text (after its last brace, so a struct before it does not count), if it
/// declares a function or a callback type.
pub fn declaration(statement: &str) -> Option<Declaration> {
    let statement = statement.rsplit(['{', '}']).next().unwrap_or_default();
    let text = normalize(statement);
    let name = if let Some(rest) = text.strip_prefix("typedef ") {
        let start = rest.find("(*")? + 2;
        rest[start..].split(')').next()?.to_string()
    } else {
        let open = text.find('(')?;
        text[..open].rsplit([' ', '*']).next()?.to_string()
    };
    let ours = name.starts_with("ha_") || name.starts_with("hb_");
    ours.then_some(Declaration { name, text })
}

/// One line, single spaces, without the `struct` keyword (the header's typedefs make the
/// bare name the same type) and without spaces inside parentheses.
pub fn normalize(c: &str) -> String {
    let spaced = c.replace('(', "( ");
    let words: Vec<&str> = spaced
        .split_whitespace()
        .filter(|word| *word != "struct")
        .collect();
    words.join(" ").replace("( ", "(").replace(" )", ")")
}

fn strip_comments(c: &str) -> String {
    let mut out = String::new();
    let mut rest = c;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("*/")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    out.push_str(rest);
    out
}

/// Every `#define NAME VALUE` of the header but its include guard, with the value as written.
pub fn constants(header: &str) -> Vec<(String, String)> {
    header
        .lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("#define ")?.split_whitespace();
            let name = words.next()?;
            let value = words.collect::<Vec<_>>().join(" ");
            (!value.is_empty()).then(|| (name.to_string(), value))
        })
        .collect()
}

/// How the key table declares a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// `Key::shown`: an `ha.*` key of the monitor server.
    Server,
    /// `Key::alias`: a MediationZone name of one.
    Alias,
    /// `Key::daemon`: an `hb.*` key of the heartbeat.
    Heartbeat,
}

/// Every key of the table `KEYS` in src/config/keys.rs, in its order.
pub fn keys(table: &str) -> Vec<(String, KeyKind)> {
    let start = table
        .find("const KEYS: &[Key] = &[")
        .expect("src/config/keys.rs has the table KEYS");
    let end = start + table[start..].find("\n];").expect("KEYS ends with `];`");
    let mut keys = Vec::new();
    let mut rest = &table[start..end];
    let constructors = [
        ("Key::shown(", KeyKind::Server),
        ("Key::alias(", KeyKind::Alias),
        ("Key::daemon(", KeyKind::Heartbeat),
    ];
    while let Some((at, constructor, kind)) = constructors
        .iter()
        .filter_map(|(c, kind)| rest.find(c).map(|at| (at, *c, *kind)))
        .min_by_key(|(at, _, _)| *at)
    {
        rest = &rest[at + constructor.len()..];
        let name = first_string(rest).expect("a key constructor starts with the key's name");
        keys.push((name.to_string(), kind));
    }
    keys
}

/// The fields of `ha.counter.NAME.FIELD`, from `COUNTER_FIELDS` in src/config/keys.rs.
pub fn counter_fields(table: &str) -> Vec<String> {
    let line = table
        .lines()
        .find(|line| line.starts_with("const COUNTER_FIELDS"))
        .expect("src/config/keys.rs has COUNTER_FIELDS");
    let list = &line[line.find("= [").expect("COUNTER_FIELDS is an array")..];
    list.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn first_string(s: &str) -> Option<&str> {
    let open = s.find('"')? + 1;
    let close = open + s[open..].find('"')?;
    Some(&s[open..close])
}

/// Every option a help text names (`-c`, `--config`), wherever it stands.
pub fn options(help: &str) -> BTreeSet<String> {
    help.split(|c: char| c.is_whitespace() || "[]|(),".contains(c))
        .map(|word| word.trim_end_matches([':', ';', '.']))
        .filter(|word| is_option(word))
        .map(str::to_string)
        .collect()
}

fn is_option(word: &str) -> bool {
    let short =
        word.len() == 2 && word.starts_with('-') && word.as_bytes()[1].is_ascii_alphabetic();
    let long = word.strip_prefix("--").is_some_and(|rest| {
        rest.starts_with(|c: char| c.is_ascii_lowercase())
            && rest.chars().all(|c| c.is_ascii_lowercase() || c == '-')
    });
    short || long
}

/// `--format vcs|ocf|...` and `maintenance on|off`: each word before a list of choices, with
/// the choices.
pub fn choices(help: &str) -> Vec<(String, Vec<String>)> {
    let words: Vec<&str> = help
        .split(|c: char| c.is_whitespace() || "[]".contains(c))
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .filter(|pair| {
            pair[1].contains('|')
                && pair[1]
                    .split('|')
                    .all(|c| !c.is_empty() && c.chars().all(|c| c.is_ascii_lowercase()))
        })
        .map(|pair| {
            let list = pair[1].split('|').map(str::to_string).collect();
            (pair[0].to_string(), list)
        })
        .collect()
}

/// A help text's `commands:` block: each command with the options of its synopsis (the part
/// of its line before the description).
pub fn commands(help: &str) -> Vec<(String, BTreeSet<String>)> {
    let mut commands = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if !line.starts_with(' ') {
            inside = line == "commands:";
            continue;
        }
        let Some(entry) = line.strip_prefix("  ").filter(|e| !e.starts_with(' ')) else {
            continue;
        };
        if !inside {
            continue;
        }
        let synopsis = entry.split("  ").next().unwrap_or_default();
        let name = synopsis.split_whitespace().next().unwrap_or_default();
        commands.push((name.to_string(), options(synopsis)));
    }
    commands
}
