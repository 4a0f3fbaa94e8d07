//! The text of a `/metrics` reply, read by the strict reader (prom.rs) and by `promtool
//! check metrics` when it is installed (Debian's prometheus package; scripts/test installs it).

use std::io::Write;
use std::process::{Command, Stdio};

use super::prom::{Sample, parse};

/// Reads `text` with the strict reader, then with promtool when it is installed.
pub fn validate(text: &str) -> Vec<Sample> {
    let samples = parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(mut child) => {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
                "promtool check metrics: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Err(e) => eprintln!(
            "promtool not run ({e}): install Debian's prometheus package (scripts/test does)"
        ),
    }
    samples
}
