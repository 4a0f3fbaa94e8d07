//! `ha-heartbeat`: keeps exactly one instance of an application running over a shared
//! directory. See docs/heartbeat.md ("The daemon").

use std::io::{self, Write};
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use hamon::heartbeat::daemon::{self, cli, status};

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

/// stderr, and the hb.log_file when set.
struct Tee(Option<Arc<Mutex<std::fs::File>>>);

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(f) = &self.0
            && let Ok(mut f) = f.lock()
        {
            let _ = f.write_all(buf);
        }
        io::stderr().write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

fn init_logging(log_file: Option<&PathBuf>) {
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
    let pid = std::process::id();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(move |buf, record| {
            writeln!(
                buf,
                "{} ha-heartbeat[{pid}] {}: {}",
                hamon::monitor::translog::utc_timestamp(std::time::SystemTime::now()),
                record.level(),
                record.args()
            )
        })
        .target(env_logger::Target::Pipe(Box::new(Tee(file))))
        .init();
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cli = match cli::parse(&args) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    if cli.command == cli::Command::Guard {
        return ExitCode::from(daemon::guard::guard_main(0, 1) as u8);
    }
    let path = cli.config.clone().unwrap_or_default();
    let (cfg, settings) = match daemon::load(&path) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("ha-heartbeat: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        cli::Command::Run => {
            init_logging(cfg.heartbeat.log_file.as_ref());
            let fd = match signal_fd() {
                Ok(fd) => fd,
                Err(e) => {
                    log::error!("cannot install signal handlers: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let exe = std::env::current_exe().ok();
            match daemon::run(&cfg, fd, exe.as_deref()) {
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
                    settings.dir.display(),
                    settings.nodes.join(",")
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ha-heartbeat init: {e}");
                ExitCode::FAILURE
            }
        },
        cli::Command::Status => {
            let c = status::observe(
                &settings,
                settings.timing.period * 2 + settings.timing.io_timeout * 2,
            );
            print!("{}", status::render(&c, &settings.node));
            if c.live_actives().len() == 1 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        cmd => match daemon::maintenance(&settings, &cmd) {
            Ok(msg) => {
                println!("{msg}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ha-heartbeat: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
