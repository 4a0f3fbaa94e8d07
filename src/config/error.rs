//! The error returned when a setting, a properties text or a configuration is rejected.

use std::fmt;

/// What kind of problem a [`ConfigError`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConfigErrorKind {
    /// The key is in the `ha.`/`mz.ha.` namespace (or was given to `set`) but hamon does not
    /// know it.
    UnknownKey,
    /// The key is known but its value is not acceptable.
    BadValue,
    /// The properties text is malformed (a bad `\u` escape, invalid UTF-8).
    Syntax,
    /// The file could not be read, or is too large.
    File,
    /// A setting needed to start the server is missing or incomplete.
    Missing,
}

/// A rejected setting, properties text or configuration.
///
/// Displays as `origin:line: key: message`, each prefix only when known, for example
/// `/etc/app/ha.properties:7: ha.prot: unknown key (did you mean ha.port?)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub kind: ConfigErrorKind,
    /// The key as it was written (`mz.ha.port`, not its canonical name).
    pub key: Option<String>,
    /// Where the setting came from: a file path, or the origin given to `load_str`.
    pub origin: Option<String>,
    /// The 1-based line where the offending logical line starts.
    pub line: Option<usize>,
    /// What is wrong. For [`ConfigErrorKind::Missing`] a whole sentence that names the keys.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(kind: ConfigErrorKind, key: Option<&str>, message: String) -> Self {
        ConfigError {
            kind,
            key: key.map(str::to_string),
            origin: None,
            line: None,
            message,
        }
    }

    /// A known key with a value it does not accept.
    pub(crate) fn bad_value(key: &str, value: &str, expected: &str) -> Self {
        let message = format!("bad value {}: expected {expected}", quote(value));
        Self::new(ConfigErrorKind::BadValue, Some(key), message)
    }

    pub(crate) fn missing(key: &str, sentence: String) -> Self {
        Self::new(ConfigErrorKind::Missing, Some(key), sentence)
    }

    /// Fills in the location unless it is already known.
    pub(crate) fn at(mut self, origin: &str, line: Option<usize>) -> Self {
        if self.origin.is_none() && !origin.is_empty() {
            self.origin = Some(origin.to_string());
        }
        if self.line.is_none() {
            self.line = line;
        }
        self
    }
}

/// Quotes a value for a message; long values are cut so one bad line cannot flood a log.
pub(crate) fn quote(value: &str) -> String {
    const MAX_CHARS: usize = 80;
    match value.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{:?}...", &value[..cut]),
        None => format!("{value:?}"),
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.origin, self.line) {
            (Some(origin), Some(line)) => write!(f, "{origin}:{line}: ")?,
            (Some(origin), None) => write!(f, "{origin}: ")?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        match &self.key {
            Some(key) if self.kind != ConfigErrorKind::Missing => {
                write!(f, "{key}: {}", self.message)
            }
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(200);
        assert_eq!(quote(&long), format!("\"{}\"...", "x".repeat(80)));
        assert_eq!(quote("a\"b"), r#""a\"b""#);
    }

    #[test]
    fn location_prefix_only_when_known() {
        let error = ConfigError::bad_value("ha.port", "x", "a port number 0-65535");
        assert_eq!(
            error.clone().at("", None).to_string(),
            "ha.port: bad value \"x\": expected a port number 0-65535"
        );
        assert!(
            error
                .clone()
                .at("f", None)
                .to_string()
                .starts_with("f: ha.port: ")
        );
        assert!(
            error
                .at("f", Some(3))
                .to_string()
                .starts_with("f:3: ha.port: ")
        );
    }
}
