//! The report fragment a benchmark writes for BENCHMARKS.md: `OUT/NAME.md` (its section:
//! headings, tables, notes) and `OUT/NAME.targets.md` (one table row per target, met or
//! missed, which scripts/bench gathers into the summary). It is printed as well.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        assert_eq!(
            cells.len(),
            self.header.len(),
            "a row has one cell per column"
        );
        self.rows.push(cells);
    }

    fn render(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut out = line(&self.header);
        out += &line(&vec!["---".to_string(); self.header.len()]);
        for row in &self.rows {
            out += &line(row);
        }
        out
    }
}

pub struct Report {
    name: String,
    body: String,
    targets: String,
}

impl Report {
    pub fn new(name: &str) -> Report {
        Report {
            name: name.to_string(),
            body: String::new(),
            targets: String::new(),
        }
    }

    pub fn heading(&mut self, text: &str) {
        let _ = writeln!(self.body, "### {text}\n");
    }

    pub fn paragraph(&mut self, text: &str) {
        let _ = writeln!(self.body, "{text}\n");
    }

    pub fn table(&mut self, table: &Table) {
        let _ = writeln!(self.body, "{}", table.render());
    }

    /// One target: what it asks, what was measured, and whether it was met.
    pub fn target(&mut self, what: &str, measured: &str, met: bool) {
        let verdict = if met { "met" } else { "**missed**" };
        let _ = writeln!(self.targets, "| {what} | {measured} | {verdict} |");
    }

    /// A target this run did not measure, and why.
    pub fn not_run(&mut self, what: &str, why: &str) {
        let _ = writeln!(self.targets, "| {what} | {why} | not run |");
    }

    /// Writes both files into `out` and prints the section.
    pub fn write(&self, out: &Path) {
        fs::create_dir_all(out).unwrap_or_else(|e| panic!("cannot create {}: {e}", out.display()));
        let section = out.join(format!("{}.md", self.name));
        fs::write(&section, &self.body)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", section.display()));
        let targets = out.join(format!("{}.targets.md", self.name));
        fs::write(&targets, &self.targets)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", targets.display()));
        println!("{}", self.body);
        print!("{}", self.targets);
        println!("({} and {} written)", section.display(), targets.display());
    }
}
