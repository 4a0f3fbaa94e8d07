//! The decision journal: what this node decided and why, one JSON object per line in
//! `STATE_DIR/events.jsonl` (docs/heartbeat.md, "The decision journal"). It survives
//! restarts and is bounded: when a line would take the file past [`ROTATE_AT`] bytes, the
//! file becomes `events.jsonl.1` (replacing the one before) and a new one starts, so the two
//! together never hold much more than twice that. Each line is written with one `write` on
//! a file opened for appending, so an operator's command and the daemon may both append.
//!
//! A journal that cannot be written never stops the daemon: the failure is logged once
//! until a write succeeds again.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use hamon::heartbeat::admin::wall_ms;
use hamon::monitor::ha_log::utc_timestamp;
use hamon::monitor::render::json_str;

/// The journal's file in the state directory.
pub const FILE: &str = "events.jsonl";
/// Past this size the journal rotates.
pub const ROTATE_AT: u64 = 1024 * 1024;
/// The longest text kept in one event (longer text is cut at a char boundary).
pub const MAX_TEXT: usize = 1000;
/// How much of the end of a journal file the status page reads: far more than the events it
/// shows, far less than the file.
const TAIL: u64 = 64 * 1024;

/// One decision, or one thing that happened to this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Wall clock, ms since the epoch: for reading only, never for a decision.
    pub time_ms: u64,
    pub node: String,
    /// Stable, lower case: an incident kind (`takeover`, `fence`, ...) or `role`,
    /// `app_start`, `app_exit`, `maintenance`, `operator`.
    pub kind: String,
    pub epoch: u64,
    /// The other node concerned; empty when none.
    pub peer: String,
    /// What happened and why, in one line.
    pub text: String,
}

impl Event {
    pub fn new(node: &str, kind: &str, epoch: u64, peer: Option<&str>, text: &str) -> Event {
        Event {
            time_ms: wall_ms(),
            node: node.to_string(),
            kind: kind.to_string(),
            epoch,
            peer: peer.unwrap_or("").to_string(),
            text: cut(text, MAX_TEXT).replace(['\n', '\r'], " "),
        }
    }

    /// The line in the journal (with its newline).
    pub fn to_json(&self) -> String {
        format!(
            "{{\"time_ms\":{},\"time\":{},\"node\":{},\"kind\":{},\"epoch\":{},\"peer\":{},\"text\":{}}}\n",
            self.time_ms,
            json_str(&self.time()),
            json_str(&self.node),
            json_str(&self.kind),
            self.epoch,
            json_str(&self.peer),
            json_str(&self.text)
        )
    }

    /// Reads a line of the journal; None when it is not one (a torn or foreign line).
    pub fn from_json(line: &str) -> Option<Event> {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        Some(Event {
            time_ms: v.get("time_ms")?.as_u64()?,
            node: s("node")?,
            kind: s("kind")?,
            epoch: v.get("epoch")?.as_u64()?,
            peer: s("peer").unwrap_or_default(),
            text: s("text")?,
        })
    }

    /// UTC, to the millisecond.
    pub fn time(&self) -> String {
        utc_timestamp(SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(self.time_ms))
    }

    /// One line for a terminal.
    pub fn line(&self) -> String {
        let peer = if self.peer.is_empty() {
            String::new()
        } else {
            format!(" peer={}", self.peer)
        };
        format!(
            "{} {} {} epoch={}{peer}: {}",
            self.time(),
            self.node,
            self.kind,
            self.epoch,
            self.text
        )
    }
}

/// `s` cut to at most `max` bytes at a char boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Whether a line of `line_len` bytes written to a journal of `len` bytes must go to a new
/// file: it would pass `max`, and the file holds something (a single long line is kept).
pub fn must_rotate(len: u64, line_len: u64, max: u64) -> bool {
    len > 0 && len + line_len > max
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

fn rotated(state_dir: &Path) -> PathBuf {
    state_dir.join(format!("{FILE}.1"))
}

/// Appends one event to the journal in `state_dir`, rotating it first when needed.
pub fn append(state_dir: &Path, ev: &Event, max: u64) -> std::io::Result<()> {
    let line = ev.to_json();
    let p = path(state_dir);
    let len = std::fs::metadata(&p).map_or(0, |m| m.len());
    if must_rotate(len, line.len() as u64, max) {
        std::fs::rename(&p, rotated(state_dir))?;
    }
    let existed = p.exists();
    let mut f = OpenOptions::new().create(true).append(true).open(&p)?;
    if !existed {
        give_to_dir_owner(state_dir, &p);
    }
    f.write_all(line.as_bytes())
}

/// A journal file root's command created belongs to the state directory's owner, so that a
/// daemon running as that user can still append to it.
fn give_to_dir_owner(state_dir: &Path, file: &Path) {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    if let Ok(m) = std::fs::metadata(state_dir)
        && m.uid() != 0
    {
        let _ = std::os::unix::fs::chown(file, Some(m.uid()), Some(m.gid()));
    }
}

/// Every event of the journal in `state_dir`, oldest first, and how many lines were not
/// events.
pub fn read(state_dir: &Path) -> std::io::Result<(Vec<Event>, usize)> {
    let mut events = Vec::new();
    let mut bad = 0;
    for p in [rotated(state_dir), path(state_dir)] {
        let text = match std::fs::read(&p) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("{}: {e}", p.display()),
                ));
            }
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match Event::from_json(line) {
                Some(ev) => events.push(ev),
                None => bad += 1,
            }
        }
    }
    Ok((events, bad))
}

/// The events at the end of the file at `p` (at most its last [`TAIL`] bytes), oldest
/// first.
fn tail_of(p: &Path) -> Vec<Event> {
    let Ok(mut f) = File::open(p) else {
        return Vec::new();
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let from = len.saturating_sub(TAIL);
    let mut bytes = Vec::new();
    if f.seek(SeekFrom::Start(from)).is_err() || f.read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = text.lines();
    if from > 0 {
        // Most likely the end of a line cut by the seek.
        lines.next();
    }
    lines.filter_map(Event::from_json).collect()
}

/// The last `n` events of the journal in `state_dir` (the daemon's and the operators'),
/// newest first: for the status page, which reads them while someone looks.
pub fn last(state_dir: &Path, n: usize) -> Vec<Event> {
    let mut events = tail_of(&path(state_dir));
    if events.len() < n {
        let mut older = tail_of(&rotated(state_dir));
        older.append(&mut events);
        events = older;
    }
    events.into_iter().rev().take(n).collect()
}

/// The daemon's journal, written to the state directory.
pub struct Journal {
    state_dir: PathBuf,
    node: String,
    failing: bool,
}

impl Journal {
    pub fn open(state_dir: &Path, node: &str) -> Journal {
        Journal {
            state_dir: state_dir.to_path_buf(),
            node: node.to_string(),
            failing: false,
        }
    }

    /// Records one event.
    pub fn note(&mut self, kind: &str, epoch: u64, peer: Option<&str>, text: &str) {
        let ev = Event::new(&self.node, kind, epoch, peer, text);
        match append(&self.state_dir, &ev, ROTATE_AT) {
            Ok(()) => self.failing = false,
            Err(e) => {
                if !self.failing {
                    log::warn!(
                        "cannot write the journal {}: {e}",
                        path(&self.state_dir).display()
                    );
                }
                self.failing = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hamon-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn an_event_reads_back_as_written() {
        let ev = Event::new(
            "n1",
            "maintenance",
            7,
            Some("n2"),
            "reason \"<img src=x onerror=alert(1)>\"\nsecond line é",
        );
        let line = ev.to_json();
        assert!(
            line.ends_with("}\n") && !line.trim_end().contains('\n'),
            "{line}"
        );
        assert_eq!(Event::from_json(&line), Some(ev.clone()));
        assert!(
            ev.line()
                .contains(" n1 maintenance epoch=7 peer=n2: reason")
        );
        assert_eq!(Event::from_json("{\"time_ms\":1"), None);
        assert_eq!(Event::from_json("not json"), None);
    }

    #[test]
    fn long_text_is_cut_at_a_char_boundary() {
        let ev = Event::new("n1", "fence", 1, None, &"é".repeat(MAX_TEXT));
        assert!(ev.text.len() <= MAX_TEXT && ev.text.chars().all(|c| c == 'é'));
    }

    #[test]
    fn rotation_bounds_the_journal() {
        assert!(!must_rotate(0, 5000, 100));
        assert!(!must_rotate(50, 50, 100));
        assert!(must_rotate(51, 50, 100));
        let d = temp_dir("rotate");
        let max = 2000;
        for i in 0..200 {
            let ev = Event::new("n1", "role", i, None, "standby -> active");
            append(&d, &ev, max).unwrap();
            let total: u64 = [path(&d), rotated(&d)]
                .iter()
                .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
                .sum();
            assert!(total <= 2 * max, "{total}");
        }
        let (events, bad) = read(&d).unwrap();
        assert_eq!(bad, 0);
        // The newest are kept, in order.
        assert_eq!(events.last().unwrap().epoch, 199);
        assert!(events.windows(2).all(|w| w[0].epoch + 1 == w[1].epoch));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn the_page_reads_the_last_events_newest_first_across_a_rotation() {
        let d = temp_dir("last");
        let mut j = Journal::open(&d, "n1");
        for i in 0..40 {
            j.note("role", i, None, "x");
        }
        let last = last(&d, 30);
        assert_eq!(last.len(), 30);
        assert_eq!(last[0].epoch, 39);
        assert_eq!(last[29].epoch, 10);
        // An operator's command appends to the same file.
        append(
            &d,
            &Event::new("n1", "operator", 0, None, "drain"),
            ROTATE_AT,
        )
        .unwrap();
        assert_eq!(super::last(&d, 1)[0].kind, "operator");
        // Right after a rotation the older file fills the page.
        std::fs::rename(path(&d), rotated(&d)).unwrap();
        j.note("role", 99, None, "y");
        let last = super::last(&d, 5);
        assert_eq!(
            last.iter().map(|e| e.epoch).collect::<Vec<_>>(),
            [99, 0, 39, 38, 37]
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}
