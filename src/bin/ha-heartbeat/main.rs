//! `ha-heartbeat`: keeps exactly one instance of an application running over a shared
//! directory. See docs/heartbeat.md ("The daemon").

use std::io;
use std::os::fd::RawFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

mod account;
mod admin;
mod cli;
mod daemon;
mod events;
mod flap;
mod gather;
mod guard;
mod guard_handover;
mod guard_held;
mod incident;
mod journal;
mod logging;
mod metrics;
mod notify;
mod page;
mod pause;
mod publish;
mod run_lock;
mod status;
mod supervise;
mod watchdog_device;

/// The write end of the self-pipe, for the signal handler.
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(_sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = 1u8;
        // SAFETY: write is async-signal-safe; the pipe is non-blocking.
        unsafe {
            libc::write(fd, (&b as *const u8).cast(), 1);
        }
    }
}

/// SIGTERM and SIGINT make the returned descriptor readable.
fn signal_fd() -> io::Result<RawFd> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    SIGNAL_PIPE.store(fds[1], Ordering::Relaxed);
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed sigaction with a valid handler; the handler only calls write.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(fds[0])
}

/// The guard ends only when its daemon's pipe closes: a SIGTERM (systemd sends one to the whole
/// cgroup when the daemon dies or stops) must neither leave the application unguarded nor cut
/// a hand-over short, which is bounded by the kill budget and the I/O timeouts (within the
/// unit's TimeoutStopSec). Then what it needs to hand a term over: the daemon's settings.
fn guard_settings(config: Option<&std::path::Path>) -> Option<guard_handover::HandOver> {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: SIG_IGN installs no handler.
        unsafe {
            libc::signal(sig, libc::SIG_IGN);
        }
    }
    let path = config?;
    match admin::load(path) {
        Ok((cfg, settings)) => Some(guard_handover::HandOver::new(
            settings,
            cfg.heartbeat.incident_cmd,
        )),
        Err(e) => {
            log::warn!(
                "cannot read {}: {e}; this guard cannot hand a term over",
                path.display()
            );
            None
        }
    }
}

/// Prints an error the way every `ha-heartbeat` error looks.
fn fail(msg: &str, code: u8) -> ExitCode {
    eprintln!("ha-heartbeat: {msg}");
    ExitCode::from(code)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cli = match cli::parse(&args) {
        Ok(cli::Parsed::Help) => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(cli::Parsed::Version) => {
            println!("{}", cli::version());
            return ExitCode::SUCCESS;
        }
        Ok(cli::Parsed::Command(c)) => c,
        Err(msg) => return fail(&msg, cli::usage_error_code(&args)),
    };
    if let cli::Command::Guard(log_file) = &cli.command {
        logging::init(log_file.as_deref(), "guard: ");
        return ExitCode::from(
            guard::guard_main(0, 1, guard_settings(cli.config.as_deref())) as u8,
        );
    }
    let path = cli.config.clone().unwrap_or_default();
    let (cfg, settings) = match admin::load(&path) {
        Ok(x) => x,
        Err(e) => match cli.command {
            cli::Command::Status { json, .. } => return status::cannot_look(&e, json),
            _ => return fail(&e, 2),
        },
    };
    match cli.command {
        cli::Command::Run => {
            logging::init(cfg.heartbeat.log_file.as_deref(), "");
            let fd = match signal_fd() {
                Ok(fd) => fd,
                Err(e) => {
                    log::error!("cannot install signal handlers: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let exe = std::env::current_exe().ok();
            // The guard reads the same file, from wherever it runs.
            let config = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
            let r = daemon::run(&cfg, &config, fd, exe.as_deref());
            // The application is stopped and the lease given up: the last events (why it
            // stopped) reach the other nodes' pages, if the storage answers at once.
            publish::flush(Duration::from_secs(1));
            match r {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    log::error!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        cli::Command::Init => match hamon::heartbeat::node::init_cluster(&settings) {
            Ok(()) => {
                println!(
                    "initialised {} for {}",
                    settings.storage(),
                    settings.nodes.join(",")
                );
                println!("{}", settings.timing_line());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&format!("init: {e}"), 1),
        },
        cli::Command::Status { json, watch } => status::command(&settings, &path, json, watch),
        cli::Command::Events {
            since,
            json,
            cluster,
        } => events::command(&settings, since, json, cluster),
        cmd => match admin::maintenance(&settings, &cmd, cli.reason.as_deref()) {
            Ok(msg) => {
                println!("{msg}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e, 1),
        },
    }
}
