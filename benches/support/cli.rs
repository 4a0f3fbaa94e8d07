//! The command line of a benchmark program as `cargo bench` (and so scripts/bench) runs it:
//! `--bench`, added by cargo, then `--quick`, `--out DIR` and `--runs N` from after the `--`.

use std::path::PathBuf;

pub struct Options {
    /// A short smoke run: fewer samples and shorter windows; its figures are not to be quoted.
    pub quick: bool,
    /// Where the report fragments go (`NAME.md`, `NAME.targets.md`).
    pub out: PathBuf,
    /// Repetitions instead of the default, for benchmarks that repeat a slow run.
    pub runs: Option<usize>,
    /// Where scratch directories go: `$HAMON_BENCH_TMP`, else the system's temp directory.
    pub scratch_root: PathBuf,
}

/// The options, or None when the program was not started by `cargo bench`: `cargo test`
/// runs bench targets without `--bench` (and with its own arguments) only to prove they build.
pub fn parse(name: &str) -> Option<Options> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("{name}: built; `cargo bench --bench {name}` or scripts/bench runs it");
        return None;
    }
    let mut quick = false;
    let mut out = None;
    let mut runs = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bench" => {}
            "--quick" => quick = true,
            "--out" => match it.next() {
                Some(dir) => out = Some(PathBuf::from(dir)),
                None => usage(name, "--out needs a directory"),
            },
            "--runs" => match it.next().and_then(|n| n.parse().ok()).filter(|&n| n > 0) {
                Some(n) => runs = Some(n),
                None => usage(name, "--runs needs a number above 0"),
            },
            other => usage(name, &format!("unknown argument {other:?}")),
        }
    }
    Some(Options {
        quick,
        out: out.unwrap_or_else(default_out),
        runs,
        scratch_root: std::env::var_os("HAMON_BENCH_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir),
    })
}

fn usage(name: &str, problem: &str) -> ! {
    eprintln!("{name}: {problem}");
    eprintln!("usage: cargo bench --bench {name} -- [--quick] [--out DIR] [--runs N]");
    std::process::exit(2);
}

/// `<target dir>/bench-results`: the bench executable lives in `<target dir>/release/deps/`.
fn default_out() -> PathBuf {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    exe.ancestors()
        .nth(3)
        .map(|target| target.join("bench-results"))
        .unwrap_or_else(|| PathBuf::from("bench-results"))
}
