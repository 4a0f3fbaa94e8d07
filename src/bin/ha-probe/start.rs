//! Start-up the way a C program has it: the C library calls [`main`] once it has loaded the
//! program, without the Rust runtime's start-up in between. That start-up would, before the
//! first argument is read, read /proc/self/maps to find the main thread's stack guard,
//! allocate an alternate signal stack and install SIGSEGV and SIGBUS handlers (to name a
//! stack overflow in a message) and name the main thread. A probe that cluster managers start
//! every few seconds needs none of it: a stack overflow still ends it by SIGSEGV, never with
//! a healthy code. [`prepare`] keeps the two parts the probe does rely on.

use std::ffi::{CStr, OsString, c_char, c_int};
use std::io;
use std::os::unix::ffi::OsStrExt;

/// The program's entry, called by the C library's start-up.
#[cfg(not(test))]
#[unsafe(no_mangle)]
pub extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // SAFETY: the C library passes main its argument count and vector unchanged.
    let args = unsafe { arguments(argc, argv) };
    c_int::from(crate::probe_main(args))
}

/// The arguments after the program name. Read from `argv` itself rather than through
/// `std::env::args_os`, which some C libraries fill only in the Rust runtime's start-up.
///
/// # Safety
/// `argv` must hold `argc` pointers to NUL-terminated strings, as C's `main` receives.
unsafe fn arguments(argc: c_int, argv: *const *const c_char) -> Vec<OsString> {
    let count = usize::try_from(argc).unwrap_or(0);
    (1..count)
        .map(|i| {
            // SAFETY: i < argc, and each of the first argc entries is a C string.
            let arg = unsafe { CStr::from_ptr(*argv.add(i)) };
            std::ffi::OsStr::from_bytes(arg.to_bytes()).to_os_string()
        })
        .collect()
}

/// What the Rust runtime's start-up does that the probe relies on: SIGPIPE ignored, so that
/// writing to a closed stdout or to a server that went away is an error the probe handles
/// (and maps to its exit code), not death by a signal; and file descriptors 0, 1 and 2 open,
/// so that the probe's own socket can never be one of them and receive what is printed.
/// False when the descriptors cannot be made safe.
pub fn prepare() -> bool {
    // SAFETY: setting a signal's disposition to "ignore" installs no handler.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    standard_descriptors_open()
}

/// Opens /dev/null in place of any of descriptors 0, 1 and 2 that is closed.
fn standard_descriptors_open() -> bool {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // One poll asks about all three: a closed descriptor comes back as POLLNVAL.
    // SAFETY: three valid pollfds, and their count.
    while unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } == -1 {
        if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return fds.iter().all(|p| open_if_closed(p.fd, fcntl_closed(p.fd)));
        }
    }
    fds.iter()
        .all(|p| open_if_closed(p.fd, p.revents & libc::POLLNVAL != 0))
}

fn fcntl_closed(fd: c_int) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    let failed = unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1;
    failed && io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
}

/// Descriptors are checked in order, so the lowest free one, which open(2) returns, is `fd`.
fn open_if_closed(fd: c_int, closed: bool) -> bool {
    if !closed {
        return true;
    }
    // SAFETY: a NUL-terminated path and plain flags.
    let opened = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
    opened == fd
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn arguments_are_taken_byte_for_byte_after_the_program_name() {
        let owned = [&b"ha-probe"[..], b"--port", b"7777", b"--check=\xff"]
            .map(|a| CString::new(a).unwrap());
        let argv: Vec<*const c_char> = owned.iter().map(|a| a.as_ptr()).collect();
        // SAFETY: four valid C strings, and their count.
        let got = unsafe { arguments(4, argv.as_ptr()) };
        let got: Vec<Vec<u8>> = got.into_iter().map(OsString::into_vec).collect();
        assert_eq!(got, [&b"--port"[..], b"7777", b"--check=\xff"]);
        // SAFETY: a count of 0 reads nothing.
        assert!(unsafe { arguments(0, std::ptr::null()) }.is_empty());
    }
}
