//! `native` methods about the library itself.

use jni::EnvUnowned;
use jni::objects::{JClass, JString};
use jni::sys::jint;

use crate::ffi::status::message;
use crate::jni::entry::entry;

/// The text `ha_status_str` gives for a status code.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_statusText<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    status: jint,
) -> JString<'local> {
    entry(&mut env, |env| {
        Ok(JString::from_str(
            env,
            message(status as u32).to_string_lossy(),
        )?)
    })
}

/// Panics on purpose inside the entry wrapper, so tests can show that a panic reaches Java as
/// a `HamonException` (`HA_ERR_PANIC`) instead of bringing the JVM down.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_panicForTest<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
) {
    entry(&mut env, |_| -> Result<(), _> {
        panic!("panicForTest was called");
    })
}
