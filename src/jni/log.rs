//! Forwards hamon's log records to Java: to the java.util.logging logger `io.hamon` through
//! `io.hamon.NativeLog.publish`, on whichever hamon thread logs (attached once as a daemon
//! thread, like the check threads).

use std::sync::{Arc, OnceLock};

use jni::objects::{JClass, JString};
use jni::refs::Global;
use jni::sys::{jboolean, jint};
use jni::{EnvUnowned, JValue, JavaVM, jni_sig, jni_str};

use crate::ffi::log::level_filter;
use crate::jni::attach::attach_daemon;
use crate::jni::entry::entry;
use crate::log_forward::set_sink;

/// `io.hamon.NativeLog`, found once on a Java thread: a hamon thread has no class loader of
/// its own to find it with.
static NATIVE_LOG: OnceLock<Global<JClass<'static>>> = OnceLock::new();

/// Sends hamon's records up to `max_level` (`HA_LOG_*`) to Java; false when the process has
/// another Rust logger already (hamon then logs through that one).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_logToJava<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    max_level: jint,
) -> jboolean {
    entry(&mut env, |env| {
        if NATIVE_LOG.get().is_none() {
            let class = env.find_class(jni_str!("io/hamon/NativeLog"))?;
            let _ = NATIVE_LOG.set(env.new_global_ref(class)?);
        }
        let level = u32::try_from(max_level).unwrap_or(0);
        let filter = level_filter(level).unwrap_or(log::LevelFilter::Off);
        Ok(set_sink(Some(Arc::new(to_java)), filter).is_ok())
    })
}

/// The log sink. Never unwinds into hamon, and never leaves a Java exception pending on the
/// logging thread: a record that cannot be delivered is dropped.
fn to_java(level: log::Level, text: &str) {
    let _ = std::panic::catch_unwind(|| publish(level, text));
}

fn publish(level: log::Level, text: &str) {
    let (Some(class), Ok(vm)) = (NATIVE_LOG.get(), JavaVM::singleton()) else {
        return;
    };
    if attach_daemon(&vm).is_err() {
        return;
    }
    let _ = vm.attach_current_thread(|env| -> jni::errors::Result<()> {
        // An exception pending here belongs to the code that logged: leave it alone.
        if env.exception_check() {
            return Ok(());
        }
        let message = JString::from_str(env, text)?;
        let sent = env.call_static_method(
            class,
            jni_str!("publish"),
            jni_sig!("(ILjava/lang/String;)V"),
            &[JValue::Int(level as jint), JValue::Object(&message)],
        );
        if env.exception_check() {
            env.exception_clear();
        }
        sent.map(|_| ())
    });
}
