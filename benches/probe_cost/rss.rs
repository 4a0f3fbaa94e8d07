//! Peak resident set of a client process, measured through maxrss.c (see there why a
//! launcher is needed for an honest ru_maxrss).

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::support::cleanup;

pub struct RssMeter {
    launcher: PathBuf,
    report: PathBuf,
}

/// A peak RSS, and the launcher's own resident set, below which nothing can be told apart.
pub struct Peak {
    pub kib: u64,
    pub floor_kib: u64,
}

impl RssMeter {
    /// Compiles the launcher into `dir`, statically when the C library allows it.
    pub fn build(dir: &Path) -> RssMeter {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/probe_cost/maxrss.c");
        let launcher = dir.join("maxrss");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
        let compile = |extra: &[&str]| {
            cleanup::command(&cc)
                .args(["-O2", "-Wall", "-Wextra", "-Werror"])
                .args(extra)
                .arg(&source)
                .arg("-o")
                .arg(&launcher)
                .status()
                .is_ok_and(|s| s.success())
        };
        assert!(
            compile(&["-static"]) || compile(&[]),
            "cannot compile {}",
            source.display()
        );
        RssMeter {
            launcher,
            report: dir.join("maxrss.out"),
        }
    }

    /// The words to put before a client's program and arguments.
    pub fn prefix(&self) -> Vec<OsString> {
        vec![
            self.launcher.clone().into_os_string(),
            self.report.clone().into_os_string(),
        ]
    }

    /// Reads what the launcher wrote after the last run.
    pub fn last(&self) -> Peak {
        let text = fs::read_to_string(&self.report).expect("the launcher's report");
        let mut words = text
            .split_whitespace()
            .map(|w| w.parse::<u64>().unwrap_or(0));
        Peak {
            kib: words.next().unwrap_or(0),
            floor_kib: words.next().unwrap_or(0),
        }
    }
}
