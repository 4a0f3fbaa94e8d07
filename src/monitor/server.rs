//! The server handle an application holds: starts the network and scheduler threads, takes
//! checks, states, heartbeats and counters, and stops everything in bounded time.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use mio::Waker;

use crate::config::{CheckOptions, Config, ConfigError};
use crate::monitor::check::{CheckState, Outcome};
use crate::monitor::ha_log::TransitionLog;
use crate::monitor::health::{Admin, Health};
use crate::monitor::listener::{self, Limits};
use crate::monitor::render::Identity;
use crate::monitor::runner::{self, CheckFn, WorkerCount};
use crate::monitor::shared::{RunSlot, Shared};
use crate::monitor::state::State;

/// Most checks one server runs; each has its own worker thread.
pub const MAX_CHECKS: usize = 64;

/// Check threads started in this process so far.
static CHECK_THREADS: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug)]
pub enum ServerError {
    /// `ha.enabled` is false.
    Disabled,
    Config(ConfigError),
    /// The HA log could not be opened.
    LogFile(std::io::Error),
    Bind {
        addr: String,
        error: std::io::Error,
    },
    Thread(std::io::Error),
    DuplicateCheck(String),
    /// A check or counter name outside `[A-Za-z0-9_.-]{1,64}`.
    InvalidName(String),
    TooManyChecks,
    TooManyCounters,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Disabled => {
                write!(f, "the HA monitor server is disabled (ha.enabled=false)")
            }
            ServerError::Config(e) => write!(f, "{e}"),
            ServerError::LogFile(e) => write!(f, "cannot open the HA log (ha.log_file): {e}"),
            ServerError::Bind { addr, error } => write!(f, "cannot listen on {addr}: {error}"),
            ServerError::Thread(e) => write!(f, "cannot start a thread: {e}"),
            ServerError::DuplicateCheck(n) => {
                write!(f, "a check named {n:?} is already registered")
            }
            ServerError::InvalidName(n) => {
                write!(f, "invalid name {n:?}: use 1-64 of A-Z a-z 0-9 _ . -")
            }
            ServerError::TooManyChecks => {
                write!(f, "at most {MAX_CHECKS} checks can be registered")
            }
            ServerError::TooManyCounters => {
                write!(
                    f,
                    "at most {} counters can be kept",
                    crate::monitor::counters::MAX_COUNTERS
                )
            }
        }
    }
}

impl std::error::Error for ServerError {}

/// A running HA monitor server. Dropping it stops it.
pub struct Server {
    shared: Arc<Shared>,
    addr: SocketAddr,
    /// `ha.unix_socket`, removed at stop.
    unix_socket: Option<PathBuf>,
    check_defaults: CheckOptions,
    stop_timeout: std::time::Duration,
    waker: Arc<Waker>,
    threads: Vec<JoinHandle<()>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    worker_count: Arc<WorkerCount>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn bind(host: &str, port: u16) -> Result<std::net::TcpListener, ServerError> {
    let target = format!("{host}:{port}");
    let bind_err = |error| ServerError::Bind {
        addr: target.clone(),
        error,
    };
    let mut addrs: Vec<SocketAddr> = (host, port).to_socket_addrs().map_err(bind_err)?.collect();
    // The order ha-probe tries a name in: IPv4 first, so `localhost` means 127.0.0.1 here too.
    addrs.sort_by_key(|a| !a.is_ipv4());
    let mut last = None;
    for addr in addrs {
        match std::net::TcpListener::bind(addr) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(bind_err(last.unwrap_or_else(|| {
        std::io::Error::other("the name resolves to no address")
    })))
}

/// Listens on the Unix domain socket at `path`, mode 0660. A socket file left behind by a
/// process that is gone is replaced; one that a live server answers on is not.
fn bind_unix(path: &Path) -> Result<std::os::unix::net::UnixListener, ServerError> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    use std::os::unix::net::{UnixListener, UnixStream};
    let bind_err = |error| ServerError::Bind {
        addr: path.display().to_string(),
        error,
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(bind_err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a file that is not a socket is in the way",
            )));
        }
        match UnixStream::connect(path) {
            Ok(_) => {
                return Err(bind_err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    "another server is listening on it",
                )));
            }
            Err(_) => std::fs::remove_file(path).map_err(bind_err)?,
        }
    }
    let listener = UnixListener::bind(path).map_err(bind_err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    Ok(listener)
}

/// The one INFO line at start: where the server listens and the settings that differ from
/// the defaults (all of them are logged at DEBUG).
fn start_line(cfg: &Config, addr: SocketAddr) -> String {
    let defaults = Config::default().assignments();
    let changed: Vec<String> = cfg
        .assignments()
        .into_iter()
        .filter(|kv| !defaults.contains(kv))
        .map(|(key, value)| format!("{key}={}", crate::monitor::render::quote(&value)))
        .collect();
    format!(
        "hamon {}: monitor server listening on {addr}{}; settings: {}",
        env!("CARGO_PKG_VERSION"),
        cfg.unix_socket
            .as_ref()
            .map_or_else(String::new, |p| format!(" and {}", p.display())),
        if changed.is_empty() {
            "the defaults".to_string()
        } else {
            format!("{} (others default)", changed.join(" "))
        }
    )
}

fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, ServerError> {
    std::thread::Builder::new()
        .name(name)
        .spawn(f)
        .map_err(ServerError::Thread)
}

impl Server {
    pub fn start(cfg: &Config) -> Result<Server, ServerError> {
        if !cfg.enabled {
            return Err(ServerError::Disabled);
        }
        cfg.validate_for_start().map_err(ServerError::Config)?;
        let port = cfg.port.unwrap_or(0);
        let std_listener = bind(&cfg.host, port)?;
        let addr = std_listener.local_addr().map_err(ServerError::Thread)?;
        std_listener
            .set_nonblocking(true)
            .map_err(ServerError::Thread)?;
        let listener = mio::net::TcpListener::from_std(std_listener);
        let unix = match &cfg.unix_socket {
            Some(path) => Some(mio::net::UnixListener::from_std(bind_unix(path)?)),
            None => None,
        };
        let (poll, waker) = listener::prepare().map_err(ServerError::Thread)?;

        let ha_log = TransitionLog::open(cfg.log_file.as_deref()).map_err(ServerError::LogFile)?;
        ha_log.write(&start_line(cfg, addr));
        // Every setting goes to the HA log; the application's log gets them at DEBUG only.
        for (key, value) in cfg.assignments() {
            let line = format!("hamon: {key}={value}");
            log::debug!("{line}");
            ha_log.append(&line);
        }
        let identity = Identity {
            app_name: cfg.app_name.clone(),
            agent_degraded_weight: cfg.agent_degraded_weight,
        };
        let shared = Arc::new(Shared::new(
            Health::new(cfg, Instant::now()),
            identity,
            ha_log,
        ));
        // Logs the initial state before any thread can change it.
        shared.update(|_, _| {});
        if addr.ip().is_unspecified() {
            let warning = format!(
                "hamon: ha.host={} listens on every interface: any host that reaches port {} \
                 can connect{}",
                cfg.host,
                addr.port(),
                if cfg.allow.is_empty() {
                    " (set ha.allow to the addresses that may ask, or bind 127.0.0.1)"
                } else {
                    " from the blocks in ha.allow"
                }
            );
            log::warn!("{warning}");
            shared.ha_log.write(&warning);
        }
        let limits = Limits {
            max_connections: cfg.max_connections,
            max_per_source: cfg.connections_per_source(),
            idle_timeout: cfg.idle_timeout,
            first_command_timeout: cfg.first_command_timeout,
            lifetime: cfg.connection_lifetime,
            max_line: cfg.max_line_bytes,
            allow: cfg.allow.clone(),
        };

        let mut server = Server {
            shared: shared.clone(),
            addr,
            unix_socket: cfg.unix_socket.clone(),
            check_defaults: cfg.check_defaults.clone(),
            stop_timeout: cfg.stop_timeout,
            waker,
            threads: Vec::new(),
            workers: Mutex::new(Vec::new()),
            worker_count: Arc::new(WorkerCount::default()),
        };
        let net_shared = shared.clone();
        server.threads.push(spawn("hamon-net".into(), move || {
            listener::serve(net_shared, listener, unix, poll, limits)
        })?);
        server.threads.push(spawn("hamon-sched".into(), move || {
            runner::schedule(shared)
        })?);
        Ok(server)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn check_defaults(&self) -> &CheckOptions {
        &self.check_defaults
    }

    /// Registers a check; it first runs at once, then every `opts.interval`.
    pub fn add_check(
        &self,
        name: &str,
        check: CheckFn,
        opts: Option<CheckOptions>,
    ) -> Result<(), ServerError> {
        if !crate::name::valid_check_name(name) {
            return Err(ServerError::InvalidName(name.to_string()));
        }
        let opts = opts.unwrap_or_else(|| self.check_defaults.clone());
        let mut inner = self.shared.lock();
        if inner.health.has_check(name) {
            return Err(ServerError::DuplicateCheck(name.to_string()));
        }
        if inner.runs.len() >= MAX_CHECKS {
            return Err(ServerError::TooManyChecks);
        }
        let index = inner.runs.len();
        let (tx, rx) = mpsc::channel();
        let (shared, count) = (self.shared.clone(), self.worker_count.clone());
        // Numbered across the process, so two servers' check threads never share a name.
        let number = CHECK_THREADS.fetch_add(1, Ordering::Relaxed);
        let handle = spawn(format!("hamon-check-{number}"), move || {
            runner::work(shared, index, check, rx, count)
        })?;
        let now = Instant::now();
        inner.health.add_check(CheckState::new(name, opts));
        inner.runs.push(RunSlot {
            trigger: tx,
            next_due: now,
            in_flight: None,
            next_timeout: now,
            timed_out: false,
        });
        drop(inner);
        self.workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(handle);
        self.shared.wake.notify_all();
        Ok(())
    }

    /// Leaves STARTING.
    pub fn ready(&self) {
        self.shared.update(|h, now| h.set_ready(now));
    }

    /// Pushes the application's own view: UP clears a pushed DEGRADED or DOWN.
    pub fn set_state(&self, outcome: Outcome, reason: &str) {
        self.shared.update(|h, _| h.set_pushed(outcome, reason));
    }

    pub fn set_admin(&self, admin: Admin, reason: &str) {
        self.shared.update(|h, _| h.set_admin(admin, reason));
    }

    /// Feeds the application watchdog (`ha.watchdog_ms`).
    pub fn heartbeat(&self) {
        self.shared.update(|h, now| h.heartbeat(now));
    }

    pub fn counter_add(&self, name: &str, n: u64) -> Result<(), ServerError> {
        if !crate::name::valid_check_name(name) {
            return Err(ServerError::InvalidName(name.to_string()));
        }
        let mut added = Ok(());
        self.shared
            .update(|h, now| added = h.counters_mut().add(name, n, now));
        added.map_err(|_| ServerError::TooManyCounters)
    }

    /// The state a client would be told now.
    pub fn state(&self) -> State {
        self.shared.lock().health.verdict(Instant::now()).state
    }

    /// Stops the threads. Waits at most `ha.stop_timeout_ms` for checks still inside their
    /// callbacks, then leaves them behind: such a worker exits when its callback returns.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // Set under the lock: the scheduler checks the flag holding it, so it cannot miss
        // the wake-up between its check and its wait.
        let already = {
            let _inner = self.shared.lock();
            self.shared.stopping.swap(true, Ordering::AcqRel)
        };
        if already {
            return;
        }
        self.shared.wake.notify_all();
        if let Err(e) = self.waker.wake() {
            log::warn!("hamon: cannot wake the network thread: {e}");
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        // Dropping the triggers ends every worker that is waiting for its next run.
        self.shared.lock().runs.clear();
        // A check that stops its own server cannot wait for itself: it ends when it returns.
        let me = std::thread::current().id();
        let own = self
            .workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|w| w.thread().id() == me);
        let left = self
            .worker_count
            .wait_until(Instant::now() + self.stop_timeout, usize::from(own))
            .saturating_sub(usize::from(own));
        for w in self
            .workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            if w.is_finished() {
                let _ = w.join();
            }
        }
        if left > 0 {
            log::warn!("hamon: {left} check(s) still inside their callback at stop; left behind");
        }
        if let Some(path) = &self.unix_socket {
            let _ = std::fs::remove_file(path);
        }
        self.shared
            .ha_log
            .write(&format!("hamon: monitor server on {} stopped", self.addr));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}
