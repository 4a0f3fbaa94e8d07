//! The probe's sockets are non-blocking and it waits for them with poll(2) under its one
//! deadline: a connect, each write and each read cost a syscall and a wait, with no socket
//! options to set again before every call (SO_SNDTIMEO, SO_RCVTIMEO, O_NONBLOCK on and off
//! for a timed connect). A cluster manager starts the probe every few seconds on every
//! instance, so each syscall saved is saved on every one of those starts.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Waits until `fd` is ready for `events` (`libc::POLLIN`, `libc::POLLOUT`) or `left` has
/// passed. `Some(revents)` when ready (an error or hang-up counts as ready: the next call on
/// the socket reports it), `None` when the time is up. Interrupted is returned as an error
/// of that kind for the caller to retry.
pub(super) fn wait(
    fd: &impl AsRawFd,
    events: libc::c_short,
    left: Duration,
) -> io::Result<Option<libc::c_short>> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    // Rounded up: a wait that ends early would only be polled again.
    let ms = left
        .as_nanos()
        .div_ceil(1_000_000)
        .min(libc::c_int::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd, and its count.
    match unsafe { libc::poll(&mut pfd, 1, ms) } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        _ => Ok(Some(pfd.revents)),
    }
}

/// Connects to `addr` by `until`, returning a connected non-blocking stream. A connect
/// still pending at `until` is `TimedOut`.
pub(super) fn connect(addr: SocketAddr, until: Instant) -> io::Result<TcpStream> {
    // Non-blocking and close-on-exec from the socket call itself; the connect is under way.
    let stream = mio::net::TcpStream::connect(addr)?;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        match wait(&stream, libc::POLLOUT, left) {
            Ok(None) => return Err(io::ErrorKind::TimedOut.into()),
            Ok(Some(revents)) if revents & (libc::POLLERR | libc::POLLHUP) != 0 => {
                return Err(stream.take_error()?.unwrap_or_else(|| {
                    io::Error::new(io::ErrorKind::NotConnected, "connection failed")
                }));
            }
            Ok(Some(_)) => return Ok(TcpStream::from(OwnedFd::from(stream))),
            // A signal is no reason to give up; `until` still bounds the wait.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
