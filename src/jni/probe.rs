//! The `native` method behind `io.hamon.HaProbe`.

use std::time::Duration;

use jni::objects::{JClass, JObject, JString};
use jni::sys::{jint, jlong};
use jni::{Env, EnvUnowned, JValue, jni_sig, jni_str};

use crate::ffi::probe::probe_code;
use crate::jni::convert::{optional_string, string, string_array, u64_arg};
use crate::jni::entry::{Failure, entry};
use crate::probe::{ProbeCommand, ProbeReply, ProbeRequest, probe};

/// Sends `check` (or `check NAME` when `check_name` is not null) within `timeout_ms` and
/// returns an `io.hamon.ProbeResult`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_probe<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    host: JString<'local>,
    port: jint,
    timeout_ms: jlong,
    check_name: JString<'local>,
) -> JObject<'local> {
    entry(&mut env, |env| {
        let host = string(env, &host, "host")?;
        let port = u16::try_from(port)
            .map_err(|_| Failure::invalid(format!("port {port} is not 1-65535")))?;
        let timeout = Duration::from_millis(u64_arg(timeout_ms, "timeout")?);
        let command = match optional_string(env, &check_name, "checkName")? {
            Some(name) => ProbeCommand::CheckNamed(name),
            None => ProbeCommand::Check,
        };
        let request = ProbeRequest {
            host,
            port,
            timeout,
            command,
        };
        let reply = probe(&request).map_err(|e| Failure::status(probe_code(&e), e.to_string()))?;
        probe_result(env, &reply)
    })
}

fn probe_result<'local>(
    env: &mut Env<'local>,
    reply: &ProbeReply,
) -> Result<JObject<'local>, Failure> {
    let line = JString::from_str(env, &reply.line)?;
    let keys = string_array(env, reply.fields.iter().map(|(k, _)| k.as_str()))?;
    let values = string_array(env, reply.fields.iter().map(|(_, v)| v.as_str()))?;
    let (checks_ok, checks_total) = reply.checks().unwrap_or((-1, -1));
    let rtt_us = i64::try_from(reply.rtt.as_micros()).unwrap_or(i64::MAX);
    Ok(env.new_object(
        jni_str!("io/hamon/ProbeResult"),
        jni_sig!("(IJLjava/lang/String;IIJ[Ljava/lang/String;[Ljava/lang/String;)V"),
        &[
            JValue::Int(reply.state.code() as jint),
            JValue::Long(rtt_us),
            JValue::Object(&line),
            JValue::Int(checks_ok),
            JValue::Int(checks_total),
            JValue::Long(reply.age_ms().unwrap_or(-1)),
            JValue::Object(&keys),
            JValue::Object(&values),
        ],
    )?)
}
