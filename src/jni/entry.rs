//! The one wrapper every `Java_*` function runs in. The body gets an [`Env`] and returns
//! `Result<T, Failure>`; an `Err` or a panic becomes a Java exception and the method returns
//! `T::default()`, which Java never sees because the exception is pending.
//!
//! Statuses map to exceptions as the Java API documents: `HA_ERR_NULL_ARG` ->
//! `NullPointerException`; `HA_ERR_INVALID_ARG`, `_INVALID_UTF8` and `_INVALID_NAME` ->
//! `IllegalArgumentException`; a closed handle -> `IllegalStateException`; any other status
//! -> `io.hamon.HamonException` carrying the code, the text `ha_status_str` gives and the
//! detail `ha_last_error` would give in C.

use std::any::Any;

use jni::errors::{Error as JniError, ErrorPolicy};
use jni::objects::{JString, JThrowable};
use jni::strings::{JNIStr, JNIString};
use jni::{Env, EnvUnowned, JValue, jni_sig, jni_str};

use crate::ffi::status::{
    HA_ERR_INVALID_ARG, HA_ERR_INVALID_NAME, HA_ERR_INVALID_UTF8, HA_ERR_NULL_ARG, HA_ERR_PANIC,
    ha_status, message,
};

/// Why a native method failed.
#[derive(Debug)]
pub enum Failure {
    /// A hamon status and its detail.
    Status(ha_status, String),
    /// The Java object was closed; names its class.
    Closed(&'static str),
    /// A JNI call failed. For [`JniError::JavaException`] the exception is already pending.
    Jni(JniError),
}

impl From<JniError> for Failure {
    fn from(e: JniError) -> Self {
        Failure::Jni(e)
    }
}

impl Failure {
    pub fn status(status: ha_status, detail: impl Into<String>) -> Failure {
        Failure::Status(status, detail.into())
    }

    pub fn invalid(detail: impl Into<String>) -> Failure {
        Failure::status(HA_ERR_INVALID_ARG, detail)
    }
}

/// Runs a native method's body; see the module documentation.
pub fn entry<'local, T: Default + 'local>(
    env: &mut EnvUnowned<'local>,
    body: impl FnOnce(&mut Env<'local>) -> Result<T, Failure>,
) -> T {
    env.with_env(body).resolve::<ThrowFailure>()
}

/// The error policy of [`entry`].
struct ThrowFailure;

impl<T: Default> ErrorPolicy<T, Failure> for ThrowFailure {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = ();

    fn on_error<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _captures: &mut (),
        failure: Failure,
    ) -> jni::errors::Result<T> {
        throw(env, failure)?;
        Ok(T::default())
    }

    fn on_panic<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _captures: &mut (),
        payload: Box<dyn Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        let detail = format!(
            "internal error (panic) inside hamon: {}",
            panic_message(payload.as_ref())
        );
        throw(env, Failure::Status(HA_ERR_PANIC, detail))?;
        Ok(T::default())
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}

/// Makes `failure` the pending exception; an exception already pending is left as it is.
/// `Ok` means an exception is pending now.
fn throw(env: &mut Env<'_>, failure: Failure) -> jni::errors::Result<()> {
    if env.exception_check() {
        return Ok(());
    }
    let result = match failure {
        Failure::Status(status, detail) => match standard_exception(status) {
            Some(class) => env.throw_new(class, JNIString::new(detail)),
            None => throw_hamon(env, status, &detail),
        },
        Failure::Closed(what) => env.throw_new(
            jni_str!("java/lang/IllegalStateException"),
            JNIString::new(format!("this {what} is closed")),
        ),
        Failure::Jni(JniError::JavaException) => return Ok(()),
        Failure::Jni(e) => throw_hamon(env, HA_ERR_PANIC, &format!("internal JNI error: {e}")),
    };
    match result {
        // Every throw ends in JavaException once the exception is pending.
        Ok(()) | Err(JniError::JavaException) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The standard Java exception for a status, when there is one.
fn standard_exception(status: ha_status) -> Option<&'static JNIStr> {
    match status {
        HA_ERR_NULL_ARG => Some(jni_str!("java/lang/NullPointerException")),
        HA_ERR_INVALID_ARG | HA_ERR_INVALID_UTF8 | HA_ERR_INVALID_NAME => {
            Some(jni_str!("java/lang/IllegalArgumentException"))
        }
        _ => None,
    }
}

fn throw_hamon(env: &mut Env<'_>, status: ha_status, detail: &str) -> jni::errors::Result<()> {
    let text = message(status).to_string_lossy();
    let text = JString::from_str(env, text)?;
    let detail = JString::from_str(env, detail)?;
    let exception = env.new_object(
        jni_str!("io/hamon/HamonException"),
        jni_sig!("(ILjava/lang/String;Ljava/lang/String;)V"),
        &[
            JValue::Int(status as i32),
            JValue::Object(&text),
            JValue::Object(&detail),
        ],
    )?;
    let exception = env.cast_local::<JThrowable>(exception)?;
    env.throw(exception)
}
