//! The probe clients compared: `ha-probe`, a JVM client (HaProbe.java, compiled here with
//! javac), bash with `/dev/tcp`, and `nc`. Each asks `check` on 127.0.0.1 (no name lookup for
//! anyone) and is judged healthy the way a monitor script would judge it. Beside them,
//! `true`: what starting any process at all costs on this machine.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::spawn::Run;
use crate::support::cleanup;

/// How a client says "healthy".
enum Verdict {
    /// By its exit code (110: the VCS convention).
    ExitCode(i32),
    /// By the reply it prints: a line starting with UP or DEGRADED.
    Reply,
}

pub struct Client {
    pub label: &'static str,
    program: PathBuf,
    args: Vec<OsString>,
    stdin: Option<PathBuf>,
    verdict: Verdict,
}

impl Client {
    pub fn command(&self) -> Command {
        self.command_under(&[])
    }

    /// The command run by `launcher` (a program and its first arguments), e.g. maxrss.
    pub fn command_under(&self, launcher: &[OsString]) -> Command {
        let mut words = launcher.to_vec();
        words.push(self.program.clone().into_os_string());
        words.extend(self.args.iter().cloned());
        let mut cmd = cleanup::command(&words[0]);
        cmd.args(&words[1..])
            .env_remove("BASH_ENV")
            .env_remove("JAVA_TOOL_OPTIONS")
            .env_remove("_JAVA_OPTIONS")
            .stderr(Stdio::null());
        if let Some(path) = &self.stdin {
            cmd.stdin(fs::File::open(path).expect("the request file"));
        }
        cmd
    }

    pub fn healthy(&self, run: &Run) -> bool {
        match self.verdict {
            Verdict::ExitCode(code) => run.code == Some(code),
            Verdict::Reply => run.stdout.starts_with("UP ") || run.stdout.starts_with("DEGRADED "),
        }
    }
}

const TIMEOUT_MS: &str = "2000";

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", "command -v \"$1\" >/dev/null", "sh", program])
        .status()
        .is_ok_and(|s| s.success())
}

pub const FLOOR_LABEL: &str = "true (no probe: process floor)";

/// The floor: a process that does nothing (`true` from PATH, as a script would run it).
pub fn process_floor() -> Client {
    Client {
        label: FLOOR_LABEL,
        program: PathBuf::from("true"),
        args: Vec::new(),
        stdin: None,
        verdict: Verdict::ExitCode(0),
    }
}

/// The ha-probe measured: `$HAMON_BENCH_PROBE` when set (e.g. `target/release/ha-probe`,
/// cargo's own dynamically linked build), else the one hamon ships, statically linked, as
/// scripts/lib/build-release.sh builds it (in this target directory, once per run).
pub fn ha_probe_binary() -> PathBuf {
    static CHOSEN: OnceLock<PathBuf> = OnceLock::new();
    CHOSEN
        .get_or_init(|| match std::env::var_os("HAMON_BENCH_PROBE") {
            Some(path) if !path.is_empty() => PathBuf::from(path),
            _ => shipped_probe(),
        })
        .clone()
}

/// Builds (or finds fresh) the shipped ha-probe with build-release.sh's `hamon_build_probe`.
fn shipped_probe() -> PathBuf {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    // The bench executable lives in `<target dir>/release/deps/`.
    let target = exe.ancestors().nth(3).expect("the target directory");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = cleanup::command("sh")
        .arg("-c")
        .arg(
            ". \"$1/scripts/lib/build-release.sh\" && hamon_build_probe \"$1\" \"$2\" && \
             printf '%s\\n' \"$hamon_probe\"",
        )
        .arg("sh")
        .arg(root)
        .arg(target)
        .env("CARGO", env!("CARGO"))
        .stderr(Stdio::inherit())
        .output()
        .expect("sh for scripts/lib/build-release.sh");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "building the shipped ha-probe (scripts/lib/build-release.sh) failed: {}",
        out.status
    );
    PathBuf::from(printed.lines().last().expect("the probe's path"))
}

/// How `binary` is linked: "statically linked" when it has no program interpreter (no
/// PT_INTERP program header: nothing to load before it runs), else "dynamically linked".
pub fn linking(binary: &Path) -> Result<&'static str, String> {
    let elf = fs::read(binary).map_err(|e| format!("{}: {e}", binary.display()))?;
    let field = |at: usize, len: usize| -> Result<u64, String> {
        let bytes = elf
            .get(at..at + len)
            .ok_or_else(|| format!("{}: not a 64-bit ELF file", binary.display()))?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0u64, |n, &b| (n << 8) | u64::from(b)))
    };
    // A little-endian ELF64 header: e_phoff at 32, e_phentsize at 54, e_phnum at 56.
    if elf.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return Err(format!(
            "{}: not a 64-bit little-endian ELF file",
            binary.display()
        ));
    }
    let (phoff, entsize, count) = (field(32, 8)?, field(54, 2)?, field(56, 2)?);
    for i in 0..count {
        let at = usize::try_from(phoff + i * entsize).map_err(|e| e.to_string())?;
        if field(at, 4)? == 3 {
            return Ok("dynamically linked");
        }
    }
    Ok("statically linked")
}

pub fn ha_probe(port: u16) -> Client {
    Client {
        label: "ha-probe",
        program: ha_probe_binary(),
        args: [
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--timeout-ms",
            TIMEOUT_MS,
        ]
        .map(OsString::from)
        .to_vec(),
        stdin: None,
        verdict: Verdict::ExitCode(110),
    }
}

/// Compiles HaProbe.java into `dir`; Err names what is missing.
pub fn jvm(dir: &Path, port: u16) -> Result<Client, String> {
    for tool in ["java", "javac"] {
        if !have(tool) {
            return Err(format!(
                "{tool} not installed (Debian: default-jdk-headless)"
            ));
        }
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/probe_cost/HaProbe.java");
    let out = cleanup::command("javac")
        .arg("-d")
        .arg(dir)
        .arg(&source)
        .output()
        .map_err(|e| format!("cannot run javac: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "javac failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let mut args = vec![OsString::from("-cp"), dir.as_os_str().to_owned()];
    args.extend(["HaProbe", "127.0.0.1", &port.to_string(), TIMEOUT_MS].map(OsString::from));
    Ok(Client {
        label: "JVM (java HaProbe)",
        program: PathBuf::from("java"),
        args,
        stdin: None,
        verdict: Verdict::ExitCode(110),
    })
}

/// What a monitor script without any helper does: bash's `/dev/tcp`, builtins only.
const BASH_PROBE: &str = r#"exec 3<>"/dev/tcp/$1/$2" || exit 100
printf 'check\r\n' >&3
IFS= read -r -t 2 line <&3 || exit 100
printf 'quit\r\n' >&3
printf '%s\n' "${line%$'\r'}"
case $line in UP\ *|DEGRADED\ *) exit 110 ;; *) exit 100 ;; esac"#;

pub fn bash(port: u16) -> Result<Client, String> {
    if !have("bash") {
        return Err("bash not installed".into());
    }
    Ok(Client {
        label: "bash /dev/tcp",
        program: PathBuf::from("bash"),
        args: [
            "-c",
            BASH_PROBE,
            "bash-probe",
            "127.0.0.1",
            &port.to_string(),
        ]
        .map(OsString::from)
        .to_vec(),
        stdin: None,
        verdict: Verdict::ExitCode(110),
    })
}

/// `nc 127.0.0.1 PORT < request`: the request ends with `quit`, so the server closes and nc
/// exits; the reply is judged from what nc printed.
pub fn nc(dir: &Path, port: u16) -> Result<Client, String> {
    if !have("nc") {
        return Err("nc not installed (Debian: netcat-openbsd)".into());
    }
    let request = dir.join("nc-request");
    fs::write(&request, "check\r\nquit\r\n").expect("write the nc request");
    Ok(Client {
        label: "nc",
        program: PathBuf::from("nc"),
        args: ["-w", "2", "127.0.0.1", &port.to_string()]
            .map(OsString::from)
            .to_vec(),
        stdin: Some(request),
        verdict: Verdict::Reply,
    })
}
