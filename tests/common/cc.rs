//! Compiling the programs in c-examples/ against the library this test run built, with the
//! warnings the examples are held to.

use super::{find_lib, lib_dir, root};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

#[derive(Clone, Copy)]
pub enum Link {
    /// `libhamon.a -lpthread -ldl -lm`: the program needs nothing at run time.
    Static,
    /// `-lhamon` with an rpath to the library directory.
    Shared,
}

/// Starts compiling `c-examples/NAME.c` into `dir` (so several compile at once), linked
/// against the library in `lib`.
fn start_compile(name: &str, link: Link, lib: &Path, dir: &Path) -> (PathBuf, Child) {
    let out = dir.join(match link {
        Link::Static => name.to_string(),
        Link::Shared => format!("{name}-shared"),
    });
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let mut cmd = Command::new(&cc);
    cmd.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-Wpedantic"])
        .arg(format!("-I{}", root().join("include").display()))
        .arg(root().join("c-examples").join(format!("{name}.c")))
        .arg("-o")
        .arg(&out);
    match link {
        Link::Static => {
            cmd.arg(find_lib(lib, "a").expect("libhamon.a"));
            cmd.args(["-lpthread", "-ldl", "-lm"]);
        }
        Link::Shared => {
            cmd.arg(format!("-L{}", lib.display()))
                .arg("-lhamon")
                .arg(format!("-Wl,-rpath,{}", lib.display()));
        }
    }
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?}: {e}"));
    (out, child)
}

/// Compiles each `(name, link)` into `dir`, in parallel; returns the executables in order.
pub fn compile(programs: &[(&str, Link)], dir: &Path) -> Vec<PathBuf> {
    compile_against(&lib_dir(), programs, dir)
}

/// [`compile`] against the libhamon.a and libhamon.so in `lib`.
pub fn compile_against(lib: &Path, programs: &[(&str, Link)], dir: &Path) -> Vec<PathBuf> {
    let started: Vec<_> = programs
        .iter()
        .map(|&(name, link)| (name, start_compile(name, link, lib, dir)))
        .collect();
    started
        .into_iter()
        .map(|(name, (out, child))| {
            let output = child.wait_with_output().expect("wait for cc");
            assert!(
                output.status.success(),
                "compiling c-examples/{name}.c failed ({}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            out
        })
        .collect()
}
