//! `ha-probe`: asks a hamon monitor server whether the application is healthy and exits with
//! the code the cluster manager (VCS, Pacemaker, LSB, Nagios) expects.
//!
//! Only argument parsing and printing live here; the protocol and the exit-code table are in
//! `hamon::probe`.
//!
//! A cluster manager starts this program every few seconds on every instance, so it starts
//! the way a C program does (`main` called by the C library, see [`start`]), not through
//! the Rust runtime's start-up.

// Under `cargo test` the test harness brings its own `main`.
#![cfg_attr(not(test), no_main)]

mod start;

use std::ffi::OsString;
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Duration;

use hamon::probe::{
    Format, ProbeCommand, ProbeError, ProbeRequest, probe_hosts_file_traced, probe_unix_traced,
};

const USAGE: &str = "\
Usage: ha-probe [--host H] --port P | --unix PATH  [--timeout-ms T | --timeout S]
                [--command check|ping] [--check NAME]
                [--format vcs|ocf|lsb|nagios|plain] [--quiet] [--debug]
       ha-probe --help | --version

Asks a hamon monitor server whether the application is healthy and exits with
the code the cluster manager expects. Options also accept --opt=value.

  --host H        server address (default 127.0.0.1, the server's default), or
                  a name listed in /etc/hosts (never looked up in DNS: a
                  name server's outage must not fail the probe); a name's
                  addresses are tried IPv4 first, then IPv6, each in the
                  file's order (--debug shows which one answered)
  --port P        server TCP port, 1-65535 (required, unless --unix)
  --unix PATH     ask over the server's Unix domain socket (ha.unix_socket)
                  instead of TCP: nothing else can answer in its place
  --timeout-ms T  hard limit for the whole probe in milliseconds (default 5000)
  --timeout S     the same in seconds, fractions allowed (e.g. 0.5); max 3600
  --command C     check (default) or ping (legacy MediationZone servers)
  --check NAME    ask about one named check instead of the whole application
  --format F      exit codes to use (default vcs):
                    vcs     110 online, 100 offline or unknown
                    ocf     0 running, 1 failed, 7 not running, 2 bad arguments
                    lsb     0 running, 1 dead, 3 not running, 4 unknown
                    nagios  0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
                    plain   0 healthy, 1 not healthy, 2 bad arguments
  --quiet         print nothing on stdout
  --debug         trace the probe on stderr
";

const HINT: &str = "try 'ha-probe --help' for usage";
/// The server's default `ha.host`: an address, so nothing else can answer in its place.
const DEFAULT_HOST: &str = "127.0.0.1";
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

struct Options {
    request: ProbeRequest,
    /// `--unix PATH`: the request's host and port are unused.
    unix: Option<PathBuf>,
    format: Format,
    quiet: bool,
    debug: bool,
}

enum Action {
    Help,
    Version,
    Probe(Options),
}

/// Runs the probe for `args` (without the program name); returns the exit status, the code
/// the cluster manager reads.
fn probe_main(args: Vec<OsString>) -> u8 {
    // The format decides every exit code, so it is needed before anything can fail.
    let format = prescan_format(&args);
    let internal =
        |format: Format| format.error_code(&ProbeError::Io(io::Error::other("internal error")));
    if !start::prepare() {
        // Without the standard descriptors a socket could become stdout; say nothing.
        return internal(*format.as_ref().unwrap_or(&Format::Vcs));
    }
    let format = match format {
        Ok(f) => f,
        Err(msg) => return usage_error(&args, Format::Vcs, &msg),
    };
    // A panic must not exit 101: VCS would read that as "online, 10% confidence".
    panic::catch_unwind(AssertUnwindSafe(|| run(&args, format)))
        .unwrap_or_else(|_| internal(format))
}

fn run(args: &[OsString], format: Format) -> u8 {
    let opts = match parse(args) {
        Ok(Action::Help) => {
            out(USAGE.trim_end());
            return 0;
        }
        Ok(Action::Version) => {
            out(&format!("ha-probe {}", env!("CARGO_PKG_VERSION")));
            return 0;
        }
        Ok(Action::Probe(opts)) => opts,
        Err(msg) => return usage_error(args, format, &msg),
    };

    let req = &opts.request;
    if opts.debug {
        let target = match &opts.unix {
            Some(path) => path.display().to_string(),
            None => format!("{}:{}", req.host, req.port),
        };
        debug(&format!(
            "probing {target} command={:?} timeout={} ms format={}",
            req.command.request_line().trim_end(),
            req.timeout.as_millis(),
            opts.format
        ));
    }
    let mut trace = |line: std::fmt::Arguments<'_>| {
        if opts.debug {
            debug(&line.to_string());
        }
    };
    let outcome = match &opts.unix {
        Some(path) => probe_unix_traced(path, &req.command, req.timeout, &mut trace),
        None => probe_hosts_file_traced(req, &mut trace),
    };
    let code = opts.format.exit_code(&outcome);
    if opts.debug {
        match &outcome {
            Ok(r) => debug(&format!(
                "state {} rtt {:.3} ms",
                r.state,
                r.rtt.as_secs_f64() * 1000.0
            )),
            Err(e) => debug(&format!("failed: {e}")),
        }
        debug(&format!("exit code {code} ({})", opts.format));
    }
    if !opts.quiet {
        out(&opts.format.summary(&outcome));
    }
    code
}

/// Finds `--format` ahead of the real parse; a bad value is itself a usage error (code 100).
fn prescan_format(args: &[OsString]) -> Result<Format, String> {
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let value = if arg == "--format" {
            match it.next() {
                Some(v) => v,
                None => break,
            }
        } else {
            match arg.to_str().and_then(|a| a.strip_prefix("--format=")) {
                Some(v) => return parse_format(v),
                None => continue,
            }
        };
        return parse_format(&value.to_string_lossy());
    }
    Ok(Format::Vcs)
}

fn parse_format(v: &str) -> Result<Format, String> {
    v.parse().map_err(|e| format!("--format: {e}"))
}

/// Hand-written, not a parser crate such as lexopt: its rules differ from this command's
/// (it reads `-hx` as `-h -x`, `--` as the end of options, and `--host --port` as a host named
/// `--port`), so keeping the behaviour and messages cluster scripts rely on would take more
/// code around it than this loop.
fn parse(args: &[OsString]) -> Result<Action, String> {
    let mut host: Option<String> = None;
    let mut unix: Option<PathBuf> = None;
    let mut port: Option<u16> = None;
    let mut timeout_ms: Option<Duration> = None;
    let mut timeout_s: Option<Duration> = None;
    let mut command: Option<ProbeCommand> = None;
    let mut check: Option<String> = None;
    let mut format: Option<Format> = None;
    let mut quiet: Option<bool> = None;
    let mut debug: Option<bool> = None;

    let mut it = args.iter();
    while let Some(raw) = it.next() {
        let arg = raw
            .to_str()
            .ok_or_else(|| format!("argument {raw:?} is not valid UTF-8"))?;
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (arg, None),
        };
        let flag = |inline: Option<&str>| match inline {
            Some(_) => Err(format!("{name} takes no value")),
            None => Ok(true),
        };
        match name {
            "--help" | "-h" => {
                flag(inline)?;
                return Ok(Action::Help);
            }
            "--version" => {
                flag(inline)?;
                return Ok(Action::Version);
            }
            "--quiet" => once(&mut quiet, name, flag(inline)?)?,
            "--debug" => once(&mut debug, name, flag(inline)?)?,
            "--host" | "--port" | "--unix" | "--timeout-ms" | "--timeout" | "--command"
            | "--check" | "--format" => {
                let value = match inline {
                    Some(v) => v,
                    // `--host --port 1` is a forgotten value, not a host named "--port".
                    None => match it.next().and_then(|v| v.to_str()) {
                        Some(v) if !v.starts_with("--") => v,
                        _ => return Err(format!("{name} needs a value")),
                    },
                };
                match name {
                    "--host" => once(&mut host, name, parse_host(value)?)?,
                    "--port" => once(&mut port, name, parse_port(value)?)?,
                    "--unix" => once(&mut unix, name, parse_unix(value)?)?,
                    "--timeout-ms" => once(&mut timeout_ms, name, parse_timeout_ms(value)?)?,
                    "--timeout" => once(&mut timeout_s, name, parse_timeout_s(value)?)?,
                    "--command" => once(&mut command, name, parse_command(value)?)?,
                    "--check" => once(&mut check, name, parse_check(value)?)?,
                    _ => once(&mut format, name, parse_format(value)?)?,
                }
            }
            _ if name.starts_with('-') => return Err(format!("unknown option {name}")),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }

    let port = match (&unix, port) {
        (Some(_), None) if host.is_none() => 0,
        (Some(_), _) => return Err("--unix cannot be used with --host or --port".into()),
        (None, port) => port.ok_or("--port is required (or --unix)")?,
    };
    let timeout = match (timeout_ms, timeout_s) {
        (Some(_), Some(_)) => return Err("give --timeout-ms or --timeout, not both".into()),
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => DEFAULT_TIMEOUT,
    };
    let command = match (command, check) {
        (Some(ProbeCommand::Ping), Some(_)) => {
            return Err("--check cannot be used with --command ping".into());
        }
        (_, Some(name)) => ProbeCommand::CheckNamed(name),
        (command, None) => command.unwrap_or(ProbeCommand::Check),
    };
    Ok(Action::Probe(Options {
        request: ProbeRequest {
            host: host.unwrap_or_else(|| DEFAULT_HOST.into()),
            port,
            timeout,
            command,
        },
        unix,
        format: format.unwrap_or(Format::Vcs),
        quiet: quiet.unwrap_or(false),
        debug: debug.unwrap_or(false),
    }))
}

/// Stores an option's value; giving it twice is ambiguous in a cluster config, so refuse.
fn once<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("{name} given more than once"));
    }
    *slot = Some(value);
    Ok(())
}

fn parse_host(v: &str) -> Result<String, String> {
    if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("--host: invalid host {v:?}"));
    }
    Ok(v.to_string())
}

fn parse_unix(v: &str) -> Result<PathBuf, String> {
    if v.is_empty() || v.contains('\0') {
        return Err(format!("--unix: invalid socket path {v:?}"));
    }
    Ok(PathBuf::from(v))
}

fn parse_port(v: &str) -> Result<u16, String> {
    match v.parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(format!("--port: invalid port {v:?} (expected 1-65535)")),
    }
}

fn parse_timeout_ms(v: &str) -> Result<Duration, String> {
    match v.parse::<u64>() {
        Ok(ms) if ms > 0 && Duration::from_millis(ms) <= MAX_TIMEOUT => {
            Ok(Duration::from_millis(ms))
        }
        _ => Err(format!(
            "--timeout-ms: invalid timeout {v:?} (expected whole milliseconds, 1-{})",
            MAX_TIMEOUT.as_millis()
        )),
    }
}

fn parse_timeout_s(v: &str) -> Result<Duration, String> {
    match v.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= MAX_TIMEOUT.as_secs_f64() => {
            Ok(Duration::from_secs_f64(s))
        }
        _ => Err(format!(
            "--timeout: invalid timeout {v:?} (expected seconds, > 0 and <= {})",
            MAX_TIMEOUT.as_secs()
        )),
    }
}

fn parse_command(v: &str) -> Result<ProbeCommand, String> {
    match v {
        "check" => Ok(ProbeCommand::Check),
        "ping" => Ok(ProbeCommand::Ping),
        _ => Err(format!(
            "--command: unknown command {v:?} (expected check or ping)"
        )),
    }
}

fn parse_check(v: &str) -> Result<String, String> {
    hamon::probe::validate_check_name(v)
        .map(|()| v.to_string())
        .map_err(|e| format!("--check: {e}"))
}

fn usage_error(args: &[OsString], format: Format, msg: &str) -> u8 {
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "ha-probe: {msg}");
    let _ = writeln!(stderr, "{HINT}");
    // Nagios only shows stdout, so say why it is UNKNOWN there too.
    if format == Format::Nagios && !args.iter().any(|a| a == "--quiet") {
        out(&format!("HAMON UNKNOWN - {msg}"));
    }
    format.usage_error_code()
}

/// Writes a line to stdout; a closed stdout must not turn into a panic or another exit code.
/// Flushed here: nothing flushes it at exit when the C library calls `main`.
fn out(line: &str) {
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

fn debug(line: &str) {
    let _ = writeln!(io::stderr().lock(), "ha-probe: {line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn opts(list: &[&str]) -> Options {
        match parse(&args(list)) {
            Ok(Action::Probe(o)) => o,
            Ok(_) => panic!("{list:?}: not a probe"),
            Err(e) => panic!("{list:?}: {e}"),
        }
    }

    fn err(list: &[&str]) -> String {
        match parse(&args(list)) {
            Err(e) => e,
            Ok(_) => panic!("{list:?} accepted"),
        }
    }

    #[test]
    fn defaults() {
        let o = opts(&["--port", "7777"]);
        assert_eq!(o.request.host, "127.0.0.1");
        assert_eq!(o.request.port, 7777);
        assert_eq!(o.request.timeout, Duration::from_millis(5000));
        assert_eq!(o.request.command, ProbeCommand::Check);
        assert_eq!(o.format, Format::Vcs);
        assert!(!o.quiet && !o.debug);
    }

    #[test]
    fn all_options_both_spellings() {
        let o = opts(&[
            "--host=db1",
            "--port",
            "1",
            "--timeout=0.5",
            "--check=db",
            "--format",
            "nagios",
            "--quiet",
            "--debug",
        ]);
        assert_eq!(o.request.host, "db1");
        assert_eq!(o.request.timeout, Duration::from_millis(500));
        assert_eq!(o.request.command, ProbeCommand::CheckNamed("db".into()));
        assert_eq!(o.format, Format::Nagios);
        assert!(o.quiet && o.debug);

        let o = opts(&["--port=65535", "--timeout-ms=3600000", "--command=ping"]);
        assert_eq!(o.request.timeout, MAX_TIMEOUT);
        assert_eq!(o.request.command, ProbeCommand::Ping);
        assert_eq!(
            opts(&["--port=1", "--timeout=3600"]).request.timeout,
            MAX_TIMEOUT
        );
    }

    #[test]
    fn usage_errors_name_the_problem() {
        assert!(err(&[]).contains("--port"));
        assert!(err(&["--port", "70000"]).contains("70000"));
        assert!(err(&["--port", "0"]).contains("--port"));
        assert!(err(&["--port", "x"]).contains("--port"));
        assert!(err(&["--port"]).contains("--port needs a value"));
        assert!(err(&["--host", "--port", "1"]).contains("--host needs a value"));
        assert!(err(&["--port=1", "--timeout-ms=5", "--timeout=1"]).contains("not both"));
        for t in ["0", "-1", "3600001", "1.5", "x", ""] {
            assert!(
                err(&["--port=1", "--timeout-ms", t]).contains("--timeout-ms"),
                "{t}"
            );
        }
        for t in ["0", "-0.5", "3600.5", "nan", "inf", "x"] {
            assert!(
                err(&["--port=1", "--timeout", t]).contains("--timeout"),
                "{t}"
            );
        }
        assert!(err(&["--port=1", "--bogus"]).contains("unknown option --bogus"));
        assert!(err(&["--port=1", "stray"]).contains("unexpected argument"));
        assert!(err(&["--port=1", "--port=2"]).contains("more than once"));
        assert!(err(&["--port=1", "--quiet=yes"]).contains("takes no value"));
        assert!(err(&["--port=1", "--command=status"]).contains("--command"));
        assert!(err(&["--port=1", "--check=a b"]).contains("--check"));
        assert!(err(&["--port=1", "--check="]).contains("--check"));
        let long = format!("--check={}", "a".repeat(4096));
        assert_eq!(
            err(&["--port=1", &long]),
            "--check: check name is 4096 bytes long; a hamon server accepts at most 64"
        );
        assert!(err(&["--port=1", "--check=db/1"]).contains("A-Z a-z 0-9 _ . -"));
        assert_eq!(
            opts(&["--port=1", &format!("--check={}", "a".repeat(64))])
                .request
                .command,
            ProbeCommand::CheckNamed("a".repeat(64))
        );
        assert!(err(&["--port=1", "--command=ping", "--check=db"]).contains("--check"));
        assert!(err(&["--port=1", "--format=xml"]).contains("--format"));
        assert!(err(&["--port=1", "--host="]).contains("--host"));
        assert!(err(&["--unix=/s", "--port=1"]).contains("--unix cannot be used"));
        assert!(err(&["--unix=/s", "--host=h"]).contains("--unix cannot be used"));
        assert!(err(&["--unix="]).contains("--unix"));
        let o = opts(&["--unix", "/run/app/ha.sock"]);
        assert_eq!(o.unix, Some(PathBuf::from("/run/app/ha.sock")));
    }

    #[test]
    fn help_and_version() {
        assert!(matches!(parse(&args(&["--help"])), Ok(Action::Help)));
        assert!(matches!(
            parse(&args(&["--port=1", "-h"])),
            Ok(Action::Help)
        ));
        assert!(matches!(parse(&args(&["--version"])), Ok(Action::Version)));
    }

    #[test]
    fn entry_exit_codes() {
        assert_eq!(probe_main(args(&["--version"])), 0);
        // A bad --format is a usage error in the default (VCS) convention.
        assert_eq!(probe_main(args(&["--format=xml"])), 100);
        // Other usage errors follow the format asked for.
        assert_eq!(probe_main(args(&["--format=ocf"])), 2);
        assert_eq!(probe_main(args(&["--format=nagios", "--quiet"])), 3);
    }

    #[test]
    fn format_is_found_first() {
        assert_eq!(prescan_format(&args(&["--bogus"])), Ok(Format::Vcs));
        assert_eq!(
            prescan_format(&args(&["--bogus", "--format", "ocf"])),
            Ok(Format::Ocf)
        );
        assert_eq!(
            prescan_format(&args(&["--format=nagios", "--bogus"])),
            Ok(Format::Nagios)
        );
        assert!(prescan_format(&args(&["--format", "xml"])).is_err());
        assert_eq!(prescan_format(&args(&["--format"])), Ok(Format::Vcs));
    }
}
