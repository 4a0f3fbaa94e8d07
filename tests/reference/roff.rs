//! Just enough of man(7) to read hamon's own pages: sections, `.TP` entries (tag and body),
//! and the text the font macros and escapes stand for. The pages are written to this subset;
//! groff checks that they are also valid roff.

/// What an entry says its default is, from a line `Default:` in its body and the line after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Default {
    /// `.B VALUE` or `.BR VALUE ...`: a value the key accepts and that changes nothing.
    Literal(String),
    /// `none` or `empty`: the key's empty value, which must change nothing either.
    Empty,
    /// Anything else (`required`, a value derived from another key): described, not a value.
    Described(String),
}

/// One `.TP` entry: its tag line and the text up to the next entry, paragraph or heading.
#[derive(Clone, Debug)]
pub struct Entry {
    pub section: String,
    pub tag: String,
    pub body: String,
    pub default: Option<Default>,
}

impl Entry {
    /// The tag's first word: the key, function, metric or command the entry is about.
    pub fn subject(&self) -> &str {
        let word = self.tag.split_whitespace().next().unwrap_or_default();
        word.strip_suffix("()").unwrap_or(word)
    }
}

pub struct Page {
    pub file: String,
    /// Each `.SH` heading with its text.
    pub sections: Vec<(String, String)>,
    pub entries: Vec<Entry>,
}

impl Page {
    pub fn parse(file: &str, source: &str) -> Page {
        let mut page = Page {
            file: file.to_string(),
            sections: Vec::new(),
            entries: Vec::new(),
        };
        let mut section = String::new();
        let mut lines = source.lines().peekable();
        // An entry's tag is the line after `.TP`.
        let mut open: Option<Entry> = None;
        while let Some(line) = lines.next() {
            let macro_name = line.split_whitespace().next().unwrap_or_default();
            if matches!(macro_name, ".TP" | ".SH" | ".SS" | ".PP" | ".P" | ".LP") {
                page.entries.extend(open.take());
            }
            match macro_name {
                ".SH" => {
                    section = text(line);
                    page.sections.push((section.clone(), String::new()));
                    continue;
                }
                ".TP" => {
                    let tag = lines.next().map(text).unwrap_or_default();
                    append(&mut page.sections, &tag);
                    open = Some(Entry {
                        section: section.clone(),
                        tag,
                        body: String::new(),
                        default: None,
                    });
                    continue;
                }
                _ => {}
            }
            let words = text(line);
            append(&mut page.sections, &words);
            if let Some(entry) = open.as_mut() {
                if line == "Default:" {
                    entry.default = lines.peek().map(|next| default_of(next));
                }
                entry.body.push_str(&words);
                entry.body.push('\n');
            }
        }
        page.entries.extend(open);
        page
    }

    /// The text of section `name`; empty when the page has none.
    pub fn section(&self, name: &str) -> &str {
        self.sections
            .iter()
            .find(|(heading, _)| heading == name)
            .map_or("", |(_, body)| body.as_str())
    }

    /// The whole page as text.
    pub fn text(&self) -> String {
        let mut all = String::new();
        for (heading, body) in &self.sections {
            all.push_str(heading);
            all.push('\n');
            all.push_str(body);
        }
        all
    }

    pub fn entries_in<'a>(&'a self, section: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(move |e| e.section == section)
    }
}

fn append(sections: &mut [(String, String)], words: &str) {
    if let Some((_, body)) = sections.last_mut() {
        body.push_str(words);
        body.push('\n');
    }
}

fn default_of(line: &str) -> Default {
    if line.starts_with(".B ") || line.starts_with(".BR ") {
        return Default::Literal(arguments(line).into_iter().nth(1).unwrap_or_default());
    }
    let words = text(line);
    match words.split_whitespace().next() {
        Some("none" | "empty") => Default::Empty,
        _ => Default::Described(words),
    }
}

/// The text a source line shows: font macros' arguments joined as they render (`.B` and
/// `.I` with spaces, the alternating ones without), other requests dropped, escapes
/// resolved.
pub fn text(line: &str) -> String {
    let Some(request) = line.strip_prefix('.') else {
        return unescape(line);
    };
    let args = arguments(line);
    let joined = match request.split_whitespace().next().unwrap_or_default() {
        "B" | "I" | "SH" | "SS" => args[1..].join(" "),
        "BR" | "RB" | "BI" | "IB" | "IR" | "RI" => args[1..].concat(),
        _ => String::new(),
    };
    unescape(&joined)
}

/// A request line split into its name and arguments, double quotes grouping.
fn arguments(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut started) = (false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            ' ' | '\t' if !quoted => {
                if started {
                    args.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            _ => {
                current.push(c);
                started = true;
            }
        }
    }
    if started {
        args.push(current);
    }
    args
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('-') => out.push('-'),
            Some('e') => out.push('\\'),
            // `\ `: a space lines do not break at.
            Some(' ') => out.push(' '),
            // \fB, \fI, \fR, \fP: fonts show no text.
            Some('f') => {
                chars.next();
            }
            // \& and \%: zero-width.
            Some('&' | '%') | None => {}
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out
}
