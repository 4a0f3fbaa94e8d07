//! A strict reader of the Prometheus text format 0.0.4, enough to check what hamon writes
//! without promtool: every family has HELP then TYPE before its samples and appears once;
//! every sample belongs to the open family; label values unescape; values parse.

/// One sample: name, labels (unescaped), value.
pub type Sample = (String, Vec<(String, String)>, f64);

fn valid_name(name: &str, colon: bool) -> bool {
    let ok = |c: char, first: bool| {
        c.is_ascii_alphabetic() || c == '_' || (colon && c == ':') || (!first && c.is_ascii_digit())
    };
    let mut chars = name.chars();
    chars.next().is_some_and(|c| ok(c, true)) && chars.all(|c| ok(c, false))
}

/// The value of the sample `name` with exactly `labels`, if there is one.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && l.len() == labels.len()
                && labels
                    .iter()
                    .zip(l)
                    .all(|((a, b), (c, d))| a == c && b == d)
        })
        .map(|s| s.2)
}

/// Reads a whole exposition.
pub fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    let mut families: Vec<String> = Vec::new();
    let mut open: Option<(String, bool)> = None;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("no final newline".into());
    }
    for (n, line) in text.lines().enumerate() {
        let err = |what: &str| format!("line {}: {what}: {line:?}", n + 1);
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or("");
            if !valid_name(name, true) || families.iter().any(|f| f == name) {
                return Err(err("bad or repeated family"));
            }
            families.push(name.to_string());
            open = Some((name.to_string(), false));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split(' ');
            let (name, kind) = (words.next(), words.next());
            match (&mut open, kind) {
                (Some((f, typed)), Some("gauge" | "counter"))
                    if Some(f.as_str()) == name && !*typed =>
                {
                    *typed = true
                }
                _ => return Err(err("TYPE without its HELP")),
            }
        } else {
            let Some((f, true)) = &open else {
                return Err(err("sample outside a typed family"));
            };
            let (name, rest) = line.split_at(line.find(['{', ' ']).ok_or(err("no value"))?);
            if name != f {
                return Err(err("sample of another family"));
            }
            let mut labels = Vec::new();
            let mut rest = rest;
            if let Some(mut r) = rest.strip_prefix('{') {
                loop {
                    if let Some(after) = r.strip_prefix('}') {
                        rest = after;
                        break;
                    }
                    r = r.strip_prefix(',').unwrap_or(r);
                    let eq = r.find("=\"").ok_or(err("label without value"))?;
                    let label = &r[..eq];
                    if !valid_name(label, false) {
                        return Err(err("bad label name"));
                    }
                    let mut value = String::new();
                    let mut chars = r[eq + 2..].char_indices();
                    let end = loop {
                        match chars.next().ok_or(err("unterminated label value"))? {
                            (i, '"') => break i,
                            (_, '\\') => match chars.next() {
                                Some((_, '\\')) => value.push('\\'),
                                Some((_, '"')) => value.push('"'),
                                Some((_, 'n')) => value.push('\n'),
                                _ => return Err(err("bad escape")),
                            },
                            (_, '\n') => return Err(err("raw newline")),
                            (_, c) => value.push(c),
                        }
                    };
                    labels.push((label.to_string(), value));
                    r = &r[eq + 2 + end + 1..];
                }
            }
            let v = rest.strip_prefix(' ').ok_or(err("no space before value"))?;
            let v: f64 = match v {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().map_err(|_| err("bad value"))?,
            };
            samples.push((name.to_string(), labels, v));
        }
    }
    Ok(samples)
}
