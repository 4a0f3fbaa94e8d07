//! The `native` methods behind `io.hamon.HaServer`. The handle is a boxed [`Server`];
//! `io.hamon.NativeHandle` keeps it from being stopped while another call uses it.

use jni::objects::{JClass, JObject, JObjectArray, JString};
use jni::sys::{jint, jlong};
use jni::{Env, EnvUnowned};

use crate::config::Config;
use crate::ffi::config::config_code;
use crate::ffi::server::{admin_state, check_options, from_options, pushed_outcome, server_code};
use crate::ffi::status::HA_ERR_NULL_ARG;
use crate::jni::check::JavaCheck;
use crate::jni::convert::{
    handle_ref, into_handle, string, string_or_empty, string_pairs, take_handle, u32_arg, u64_arg,
};
use crate::jni::entry::{Failure, entry};
use crate::monitor::{Server, ServerError};

const CLASS: &str = "HaServer";

fn failed(e: ServerError) -> Failure {
    Failure::status(server_code(&e), e.to_string())
}

/// Runs `body` inside [`entry`] on the server behind `handle`.
fn on_server<'local, T: Default + 'local>(
    env: &mut EnvUnowned<'local>,
    handle: jlong,
    body: impl FnOnce(&mut Env<'local>, &Server) -> Result<T, Failure>,
) -> T {
    entry(env, |env| {
        // SAFETY: the handle comes from serverStart, and io.hamon.NativeHandle holds its read
        // lock during the call.
        let server = unsafe { handle_ref(handle, CLASS)? };
        body(env, server)
    })
}

/// Settings from Java: `keys[i]=values[i]`, applied like a properties file.
pub fn config_from(
    env: &mut Env<'_>,
    keys: &JObjectArray<'_, JString<'_>>,
    values: &JObjectArray<'_, JString<'_>>,
    origin: &JString<'_>,
) -> Result<Config, Failure> {
    let origin = string(env, origin, "origin")?;
    let pairs = string_pairs(env, keys, values)?;
    let mut config = Config::default();
    config
        .load_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())), &origin)
        .map_err(|e| Failure::status(config_code(&e), e.to_string()))?;
    Ok(config)
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_serverStart<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    keys: JObjectArray<'local, JString<'local>>,
    values: JObjectArray<'local, JString<'local>>,
    origin: JString<'local>,
) -> jlong {
    entry(&mut env, |env| {
        let config = config_from(env, &keys, &values, &origin)?;
        let server = Server::start(&config).map_err(failed)?;
        Ok(into_handle(server))
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_serverPort<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jint {
    on_server(&mut env, handle, |_, server| Ok(jint::from(server.port())))
}

/// Registers a Java check. Each option is -1 when the caller left it to the server's
/// `ha.check.*` defaults; the result is checked like C's `ha_check_options`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)] // one per field of ha_check_options
pub extern "system" fn Java_io_hamon_Native_serverAddCheck<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    name: JString<'local>,
    check: JObject<'local>,
    interval_ms: jlong,
    timeout_ms: jlong,
    rise: jint,
    fall: jint,
    importance: jint,
    latency_warn_ms: jlong,
    latency_crit_ms: jlong,
) {
    on_server(&mut env, handle, |env, server| {
        let name = string(env, &name, "name")?;
        if check.is_null() {
            return Err(Failure::status(HA_ERR_NULL_ARG, "check is null"));
        }
        let mut opts = from_options(server.check_defaults());
        let set = |field: &mut u32, value: jlong, what: &str| -> Result<(), Failure> {
            if value != -1 {
                *field = u32_arg(value, what)?;
            }
            Ok(())
        };
        set(&mut opts.interval_ms, interval_ms, "interval_ms")?;
        set(&mut opts.timeout_ms, timeout_ms, "timeout_ms")?;
        set(&mut opts.rise, rise.into(), "rise")?;
        set(&mut opts.fall, fall.into(), "fall")?;
        set(&mut opts.importance, importance.into(), "importance")?;
        set(
            &mut opts.latency_warn_ms,
            latency_warn_ms,
            "latency_warn_ms",
        )?;
        set(
            &mut opts.latency_crit_ms,
            latency_crit_ms,
            "latency_crit_ms",
        )?;
        let opts = check_options(&opts).map_err(Failure::invalid)?;
        let check = JavaCheck::new(env, &check)?;
        server
            .add_check(&name, Box::new(move || check.run()), Some(opts))
            .map_err(failed)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_serverReady<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    on_server(&mut env, handle, |_, server| {
        server.ready();
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_serverHeartbeat<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    on_server(&mut env, handle, |_, server| {
        server.heartbeat();
        Ok(())
    })
}

/// `state` is an `HA_STATE_*` code (UP, DEGRADED or DOWN).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_serverSetState<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    state: jint,
    reason: JString<'local>,
) {
    on_server(&mut env, handle, |env, server| {
        let outcome = pushed_outcome(state as u32).map_err(Failure::invalid)?;
        let reason = string_or_empty(env, &reason, "reason")?;
        server.set_state(outcome, &reason);
        Ok(())
    })
}

/// `admin` is an `HA_ADMIN_*` code.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_serverSetAdmin<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    admin: jint,
    reason: JString<'local>,
) {
    on_server(&mut env, handle, |env, server| {
        let admin = admin_state(admin as u32).map_err(Failure::invalid)?;
        let reason = string_or_empty(env, &reason, "reason")?;
        server.set_admin(admin, &reason);
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_serverCounterAdd<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    name: JString<'local>,
    n: jlong,
) {
    on_server(&mut env, handle, |env, server| {
        let name = string(env, &name, "name")?;
        let n = u64_arg(n, "n")?;
        server.counter_add(&name, n).map_err(failed)
    })
}

/// The `HA_STATE_*` code a client would be told now.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_serverState<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jint {
    on_server(&mut env, handle, |_, server| {
        Ok(server.state().code() as jint)
    })
}

/// Stops the server and frees the handle; 0 (closed already) does nothing.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_serverStop<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    entry(&mut env, |_| {
        // SAFETY: NativeHandle passes each handle here once, holding its write lock.
        if let Some(server) = unsafe { take_handle::<Server>(handle) } {
            server.stop();
        }
        Ok(())
    })
}
