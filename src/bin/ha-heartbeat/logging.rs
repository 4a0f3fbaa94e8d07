//! The log of `ha-heartbeat run` and of its guard: one line per record,
//! `TIMESTAMP ha-heartbeat[PID] LEVEL: message`, to stderr and appended to `hb.log_file`.
//! When stderr is the journal (`$JOURNAL_STREAM` names stderr's device and inode), each line
//! on stderr starts with its syslog priority (`<3>` error, `<4>` warn, `<6>` info, `<7>`
//! debug and trace), so journald files it at that level; the file never gets the prefix.

use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// stderr, and the log file when there is one.
struct Tee {
    file: Option<Arc<Mutex<std::fs::File>>>,
    journal: bool,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(f) = &self.file
            && let Ok(mut f) = f.lock()
        {
            let plain = if self.journal {
                strip_priority(buf)
            } else {
                buf.to_vec()
            };
            let _ = f.write_all(&plain);
        }
        io::stderr().write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// `buf` without the `<N>` at the start of each line.
fn strip_priority(buf: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(buf.len());
    for line in buf.split_inclusive(|&b| b == b'\n') {
        let rest = match line {
            [b'<', d, b'>', rest @ ..] if d.is_ascii_digit() => rest,
            _ => line,
        };
        out.extend_from_slice(rest);
    }
    out
}

/// The syslog priority journald reads at the start of a line.
pub fn priority(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

/// `$JOURNAL_STREAM` ("DEV:INODE") names what stderr is connected to.
pub fn stderr_is_journal() -> bool {
    let Ok(v) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = v.split_once(':') else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.trim().parse::<u64>(), ino.trim().parse::<u64>()) else {
        return false;
    };
    // SAFETY: fstat fills a zeroed stat for a descriptor we hold.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(io::stderr().as_raw_fd(), &mut st) } != 0 {
        return false;
    }
    st.st_dev == dev && st.st_ino == ino
}

/// Sets up the process's logger (`RUST_LOG`, default info). `who` follows the program name
/// in every line, e.g. `guard: ` for the guard's.
pub fn init(log_file: Option<&Path>, who: &'static str) {
    let file = log_file.and_then(|p| {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            Ok(f) => Some(Arc::new(Mutex::new(f))),
            Err(e) => {
                eprintln!("ha-heartbeat: cannot open hb.log_file {}: {e}", p.display());
                None
            }
        }
    });
    let journal = stderr_is_journal();
    let pid = std::process::id();
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(move |buf, record| {
            let level = record.level();
            let prio = if journal {
                format!("<{}>", priority(level))
            } else {
                String::new()
            };
            writeln!(
                buf,
                "{prio}{} ha-heartbeat[{pid}] {level}: {who}{}",
                hamon::monitor::ha_log::utc_timestamp(std::time::SystemTime::now()),
                record.args()
            )
        })
        .target(env_logger::Target::Pipe(Box::new(Tee { file, journal })))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_gets_lines_without_priority() {
        assert_eq!(strip_priority(b"<3>a\n<6>b\nc\n"), b"a\nb\nc\n");
        assert_eq!(strip_priority(b"<x>a\n"), b"<x>a\n");
    }

    #[test]
    fn priorities_follow_syslog() {
        assert_eq!(priority(log::Level::Error), 3);
        assert_eq!(priority(log::Level::Warn), 4);
        assert_eq!(priority(log::Level::Info), 6);
        assert_eq!(priority(log::Level::Debug), 7);
    }
}
