//! The panic boundary and the helpers every export shares: C strings in, errors out.

use std::cell::RefCell;
use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::ffi::status::{HA_ERR_INVALID_UTF8, HA_ERR_NULL_ARG, HA_ERR_PANIC, HA_OK, ha_status};

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Records the detail of a failure for `ha_last_error` on this thread, and logs it.
pub fn fail(status: ha_status, message: impl Into<String>) -> ha_status {
    let message = message.into();
    log::debug!("hamon: {message}");
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
    status
}

pub fn last_error() -> String {
    LAST_ERROR.with(|e| e.borrow().clone())
}

/// The value an export returns when its body panicked.
pub trait PanicDefault {
    fn on_panic() -> Self;
}

impl PanicDefault for ha_status {
    fn on_panic() -> Self {
        HA_ERR_PANIC
    }
}

impl PanicDefault for u16 {
    fn on_panic() -> Self {
        0
    }
}

impl PanicDefault for () {
    fn on_panic() -> Self {}
}

impl PanicDefault for *const c_char {
    fn on_panic() -> Self {
        std::ptr::null()
    }
}

/// Runs an export's body; a panic becomes the type's [`PanicDefault`] instead of unwinding
/// into C (which would abort the host process).
pub fn panic_boundary<R: PanicDefault>(body: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(r) => r,
        Err(_) => {
            LAST_ERROR
                .with(|e| *e.borrow_mut() = "internal error (panic) inside hamon".to_string());
            R::on_panic()
        }
    }
}

/// Runs a fallible body: `Err(status)` is returned as is, `Ok(())` as `HA_OK`.
pub fn boundary_status(body: impl FnOnce() -> Result<(), ha_status>) -> ha_status {
    panic_boundary(|| match body() {
        Ok(()) => HA_OK,
        Err(status) => status,
    })
}

/// Borrows a NUL-terminated UTF-8 argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for the call.
pub unsafe fn c_str<'a>(p: *const c_char, what: &str) -> Result<&'a str, ha_status> {
    if p.is_null() {
        return Err(fail(HA_ERR_NULL_ARG, format!("{what} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|_| fail(HA_ERR_INVALID_UTF8, format!("{what} is not valid UTF-8")))
}

/// Like [`c_str`], but NULL is allowed and read as an empty string.
///
/// # Safety
/// As for [`c_str`].
pub unsafe fn c_str_or_empty<'a>(p: *const c_char, what: &str) -> Result<&'a str, ha_status> {
    if p.is_null() {
        Ok("")
    } else {
        unsafe { c_str(p, what) }
    }
}

/// Fails with `HA_ERR_NULL_ARG` naming `what` when `p` is NULL.
pub fn non_null<T>(p: *const T, what: &str) -> Result<(), ha_status> {
    if p.is_null() {
        Err(fail(HA_ERR_NULL_ARG, format!("{what} is NULL")))
    } else {
        Ok(())
    }
}

/// Copies `text` into a caller's buffer as a NUL-terminated string, cut to fit.
///
/// # Safety
/// `buf` points to `cap` writable bytes; `cap` > 0.
pub unsafe fn copy_out(text: &str, buf: *mut c_char, cap: usize) -> usize {
    let mut n = text.len().min(cap - 1);
    while !text.is_char_boundary(n) {
        n -= 1;
    }
    // SAFETY: n + 1 <= cap bytes are writable.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr().cast::<c_char>(), buf, n);
        *buf.add(n) = 0;
    }
    n
}
