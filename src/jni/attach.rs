//! Attaches hamon's check threads to the JVM once, as daemon threads, so that a JVM whose
//! `main` returns can exit while a server still runs (the JVM waits for non-daemon threads,
//! and the `jni` crate attaches only those). The thread detaches when it ends.

use std::cell::Cell;
use std::ffi::{CString, c_void};
use std::ptr;

use jni::JavaVM;
use jni::sys::{self, JNI_EDETACHED, JNI_OK, JNI_VERSION_1_8, JavaVMAttachArgs, jint};

thread_local! {
    /// Detaches this thread when it ends, if [`attach_daemon`] attached it.
    static DETACH: Cell<Option<DetachOnExit>> = const { Cell::new(None) };
}

struct DetachOnExit(*mut sys::JavaVM);

impl Drop for DetachOnExit {
    fn drop(&mut self) {
        // SAFETY: the VM pointer stays valid while the process runs; the thread is ending,
        // so no Java frame of it is on the stack.
        let rc = unsafe { ((**self.0).v1_1.DetachCurrentThread)(self.0) };
        if rc != JNI_OK {
            log::warn!("hamon: cannot detach a check thread from the JVM (JNI error {rc})");
        }
    }
}

/// Attaches the calling thread as a daemon thread named like the native thread, unless it is
/// attached already. Cheap once attached.
pub fn attach_daemon(vm: &JavaVM) -> Result<(), String> {
    let raw = vm.get_raw();
    let mut env: *mut c_void = ptr::null_mut();
    // SAFETY: a valid VM pointer; GetEnv only reads the thread's state.
    let rc = unsafe { ((**raw).v1_2.GetEnv)(raw, &mut env, JNI_VERSION_1_8) };
    match rc {
        JNI_OK => return Ok(()),
        JNI_EDETACHED => {}
        other => return Err(format!("JNI GetEnv failed with error {other}")),
    }
    // A thread that is ending (its thread-locals going away) could not detach again.
    if DETACH.try_with(|_| ()).is_err() {
        return Err("the thread is ending".to_string());
    }
    let name = std::thread::current()
        .name()
        .and_then(|n| CString::new(n).ok())
        .unwrap_or_else(|| c"hamon".to_owned());
    let mut args = JavaVMAttachArgs {
        version: JNI_VERSION_1_8,
        name: name.as_ptr().cast_mut(),
        group: ptr::null_mut(),
    };
    // SAFETY: a valid VM pointer; `args` and `name` live for the call.
    let rc: jint = unsafe {
        ((**raw).v1_4.AttachCurrentThreadAsDaemon)(raw, &mut env, (&raw mut args).cast::<c_void>())
    };
    if rc != JNI_OK {
        return Err(format!(
            "cannot attach the thread to the JVM (JNI error {rc})"
        ));
    }
    // A guard left from an attachment that other code undid must not detach this one.
    if let Ok(Some(stale)) = DETACH.try_with(|d| d.replace(Some(DetachOnExit(raw)))) {
        std::mem::forget(stale);
    }
    Ok(())
}
