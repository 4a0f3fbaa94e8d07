//! A Java `io.hamon.DetailedHealthCheck` (a `HealthCheck` arrives wrapped in one) as a hamon
//! check: called on the check's own hamon thread, which is attached to the JVM once as a
//! daemon thread. A check that throws is DOWN with
//! the exception's message as the reason; one that blocks is judged by the same timeout
//! rules as a C check (hamon never interrupts it).

use jni::objects::{JObject, JString, JThrowable};
use jni::refs::Global;
use jni::{Env, JavaVM, jni_sig, jni_str};

use crate::ffi::server::{HA_CHECK_DEGRADED, HA_CHECK_DOWN, check_result};
use crate::jni::attach::attach_daemon;
use crate::monitor::check::Outcome;

/// A global reference to the Java check object.
pub struct JavaCheck {
    check: Global<JObject<'static>>,
}

impl JavaCheck {
    pub fn new(env: &Env<'_>, check: &JObject<'_>) -> jni::errors::Result<JavaCheck> {
        Ok(JavaCheck {
            check: env.new_global_ref(check)?,
        })
    }

    /// Runs the check once; never fails: every problem is a DOWN with its reason.
    pub fn run(&self) -> (Outcome, String) {
        let (code, reason) = self.call().unwrap_or_else(|e| (HA_CHECK_DOWN, e));
        let reason = match code {
            // A check that is not UP and says nothing still tells clients where it came from.
            HA_CHECK_DOWN if reason.trim().is_empty() => "the check returned DOWN".to_string(),
            HA_CHECK_DEGRADED if reason.trim().is_empty() => {
                "the check returned DEGRADED".to_string()
            }
            _ => reason,
        };
        check_result(code, reason)
    }

    fn call(&self) -> Result<(u32, String), String> {
        let vm = JavaVM::singleton().map_err(|e| format!("no JVM: {e}"))?;
        attach_daemon(&vm)?;
        vm.attach_current_thread(|env| call_check(env, &self.check))
            .map_err(|e: jni::errors::Error| format!("cannot call the Java check: {e}"))
    }
}

impl Drop for JavaCheck {
    /// The global reference goes on this thread, which must be attached for it: a check
    /// closed before its first run never attached its thread, and a release there would make
    /// `jni` attach and detach an unnamed thread just for it.
    fn drop(&mut self) {
        if let Ok(vm) = JavaVM::singleton() {
            let _ = attach_daemon(&vm);
        }
    }
}

/// Calls `CheckResult check()` of a `DetailedHealthCheck` (a plain `HealthCheck` reaches
/// here wrapped in one); returns the `HA_CHECK_*` code and the reason.
fn call_check(env: &mut Env<'_>, check: &JObject<'_>) -> jni::errors::Result<(u32, String)> {
    let returned = env.call_method(
        check,
        jni_str!("check"),
        jni_sig!("()Lio/hamon/CheckResult;"),
        &[],
    );
    let result = match returned {
        Ok(value) => value.l()?,
        Err(jni::errors::Error::JavaException) => return Ok((HA_CHECK_DOWN, thrown(env)?)),
        Err(e) => return Err(e),
    };
    if result.is_null() {
        return Ok((HA_CHECK_DOWN, "the check returned null".to_string()));
    }
    let state = env
        .call_method(
            &result,
            jni_str!("state"),
            jni_sig!("()Lio/hamon/HealthState;"),
            &[],
        )?
        .l()?;
    // HealthState's ordinals are the HA_CHECK_* numbers.
    let code = env
        .call_method(&state, jni_str!("ordinal"), jni_sig!("()I"), &[])?
        .i()?;
    let reason = env
        .call_method(
            &result,
            jni_str!("reason"),
            jni_sig!("()Ljava/lang/String;"),
            &[],
        )?
        .l()
        .and_then(|o| env.cast_local::<JString>(o))?
        .try_to_string(env)?;
    Ok((u32::try_from(code).unwrap_or(u32::MAX), reason))
}

/// Clears the pending exception and describes it: its message, else its class name.
fn thrown(env: &mut Env<'_>) -> jni::errors::Result<String> {
    let Some(throwable) = env.exception_occurred() else {
        return Ok("the check failed".to_string());
    };
    env.exception_clear();
    let described = describe(env, &throwable);
    if env.exception_check() {
        // getMessage or toString threw in turn.
        env.exception_clear();
    }
    Ok(described.unwrap_or_else(|_| "the check threw an exception".to_string()))
}

fn describe(env: &mut Env<'_>, throwable: &JThrowable<'_>) -> jni::errors::Result<String> {
    let message = throwable.get_message(env)?;
    if !message.is_null() {
        let text = message.try_to_string(env)?;
        if !text.is_empty() {
            return Ok(text);
        }
    }
    let text: JString = env
        .call_method(
            throwable,
            jni_str!("toString"),
            jni_sig!("()Ljava/lang/String;"),
            &[],
        )?
        .l()
        .and_then(|o| env.cast_local::<JString>(o))?;
    text.try_to_string(env)
}
