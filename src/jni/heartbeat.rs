//! The `native` methods behind `io.hamon.Heartbeat`. The handle is a boxed [`Node`]; the
//! Java class serialises every call, as the node needs (one caller at a time).

use jni::objects::{JClass, JObject, JObjectArray, JString};
use jni::sys::{jboolean, jint, jlong};
use jni::{Env, EnvUnowned, JValue, jni_sig, jni_str};

use crate::ffi::heartbeat::{
    action_code, failure_reason, liveness_code, maint_code, maint_mode, maint_parts, millis_i64,
    node_code, role_code, state_code,
};
use crate::heartbeat::node::{Node, NodeError, NodeSettings, NodeView, TickResult, init_cluster};
use crate::heartbeat::record::MaintMode;
use crate::jni::convert::{
    each_in_frame, handle_mut, into_handle, optional_string, string, string_array, string_or_empty,
    take_handle,
};
use crate::jni::entry::{Failure, entry};
use crate::jni::server::config_from;

const CLASS: &str = "Heartbeat";

fn failed(e: NodeError) -> Failure {
    Failure::status(node_code(&e), e.to_string())
}

fn maint_failed(e: NodeError) -> Failure {
    Failure::status(maint_code(&e), e.to_string())
}

fn settings(
    env: &mut Env<'_>,
    keys: &JObjectArray<'_, JString<'_>>,
    values: &JObjectArray<'_, JString<'_>>,
    origin: &JString<'_>,
) -> Result<NodeSettings, Failure> {
    let config = config_from(env, keys, values, origin)?;
    NodeSettings::from_config(&config.heartbeat).map_err(failed)
}

/// Runs `body` inside [`entry`] on the node behind `handle`.
fn on_node<'local, T: Default + 'local>(
    env: &mut EnvUnowned<'local>,
    handle: jlong,
    body: impl FnOnce(&mut Env<'local>, &mut Node) -> Result<T, Failure>,
) -> T {
    entry(env, |env| {
        // SAFETY: the handle comes from hbOpen, and io.hamon.Heartbeat holds its lock for the
        // whole call, so the node is this call's alone.
        let node = unsafe { handle_mut(handle, CLASS)? };
        body(env, node)
    })
}

/// An operator's change to the maintenance record (see [`Node::set_maintenance`]).
fn set_maintenance(
    node: &Node,
    mode: Option<MaintMode>,
    drain: Option<(&str, bool)>,
    reason: &str,
) -> Result<(), Failure> {
    node.set_maintenance(mode, drain, reason)
        .map(drop)
        .map_err(maint_failed)
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_hbInit<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    keys: JObjectArray<'local, JString<'local>>,
    values: JObjectArray<'local, JString<'local>>,
    origin: JString<'local>,
) {
    entry(&mut env, |env| {
        let settings = settings(env, &keys, &values, &origin)?;
        init_cluster(&settings).map_err(failed)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_hbOpen<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    keys: JObjectArray<'local, JString<'local>>,
    values: JObjectArray<'local, JString<'local>>,
    origin: JString<'local>,
) -> jlong {
    entry(&mut env, |env| {
        let settings = settings(env, &keys, &values, &origin)?;
        Ok(into_handle(Node::new(settings).map_err(failed)?))
    })
}

/// Runs one step of the node and returns what it says as an `io.hamon.HeartbeatTick`.
fn ticked<'local>(
    env: &mut EnvUnowned<'local>,
    handle: jlong,
    step: impl FnOnce(&mut Env<'local>, &mut Node) -> Result<TickResult, Failure>,
) -> JObject<'local> {
    on_node(env, handle, |env, node| {
        let result = step(env, node)?;
        tick_object(env, node, &result)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_hbTick<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JObject<'local> {
    ticked(&mut env, handle, |_, node| Ok(node.tick()))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_hbAppStopped<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JObject<'local> {
    ticked(&mut env, handle, |_, node| Ok(node.app_stopped()))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_hbAppFailed<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    reason: JString<'local>,
) -> JObject<'local> {
    ticked(&mut env, handle, |env, node| {
        let reason = string_or_empty(env, &reason, "reason")?;
        Ok(node.app_failed(failure_reason(&reason)))
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_hbRelease<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JObject<'local> {
    ticked(&mut env, handle, |_, node| Ok(node.release()))
}

/// `mode` is an `HB_MAINT_*` code; `target` names the node for SWITCHOVER, else is null.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_hbSetMaintenance<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    mode: jint,
    target: JString<'local>,
    reason: JString<'local>,
) {
    on_node(&mut env, handle, |env, node| {
        let reason = string_or_empty(env, &reason, "reason")?;
        let target = optional_string(env, &target, "target")?;
        let mode = maint_mode(mode as u32, target.as_deref()).map_err(Failure::invalid)?;
        set_maintenance(node, Some(mode), None, &reason)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_hbSetDrain<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    name: JString<'local>,
    drained: jboolean,
) {
    on_node(&mut env, handle, |env, node| {
        let name = string(env, &name, "node")?;
        let reason = format!("{} {name}", if drained { "drain" } else { "undrain" });
        set_maintenance(node, None, Some((&name, drained)), &reason)
    })
}

/// Every node of `hb.nodes` as an `io.hamon.NodeStatus[]` (typed `Object[]` in Java).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_hbStatus<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JObject<'local> {
    on_node(&mut env, handle, |env, node| {
        let views = node.status();
        let array = JObjectArray::<JObject>::new(env, views.len(), JObject::null())?;
        each_in_frame(env, &views, 4, |env, i, view| {
            let status = status_object(env, view)?;
            Ok(array.set_element(env, i, status)?)
        })?;
        Ok(JObject::from(array))
    })
}

/// Frees the node; 0 (closed already) does nothing.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_hamon_Native_hbClose<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    entry(&mut env, |_| {
        // SAFETY: io.hamon.Heartbeat passes each handle here once.
        drop(unsafe { take_handle::<Node>(handle) });
        Ok(())
    })
}

fn tick_object<'local>(
    env: &mut Env<'local>,
    node: &Node,
    r: &TickResult,
) -> Result<JObject<'local>, Failure> {
    let (maint, target) = maint_parts(&r.maint);
    let target = JString::from_str(env, target)?;
    let alarms = string_array(env, r.alarms.iter().map(String::as_str))?;
    Ok(env.new_object(
        jni_str!("io/hamon/HeartbeatTick"),
        jni_sig!("(IIJJIZLjava/lang/String;[Ljava/lang/String;J)V"),
        &[
            JValue::Int(role_code(r.role) as jint),
            JValue::Int(action_code(r.action) as jint),
            JValue::Long(r.epoch as jlong),
            JValue::Long(r.deadline_left.map_or(-1, millis_i64)),
            JValue::Int(maint as jint),
            JValue::Bool(r.maint_ok),
            JValue::Object(&target),
            JValue::Object(&alarms),
            JValue::Long(i64::try_from(node.next_tick_ms()).unwrap_or(i64::MAX)),
        ],
    )?)
}

fn status_object<'local>(env: &mut Env<'local>, v: &NodeView) -> Result<JObject<'local>, Failure> {
    let rec = v.record.as_ref();
    let name = JString::from_str(env, &v.name)?;
    Ok(env.new_object(
        jni_str!("io/hamon/NodeStatus"),
        jni_sig!("(Ljava/lang/String;ZZIJJIJZ)V"),
        &[
            JValue::Object(&name),
            JValue::Bool(v.is_self),
            JValue::Bool(rec.is_some()),
            JValue::Int(rec.map_or(0, |r| state_code(r.state)) as jint),
            JValue::Long(rec.map_or(0, |r| r.epoch) as jlong),
            JValue::Long(rec.map_or(0, |r| r.seq) as jlong),
            JValue::Int(liveness_code(v.liveness) as jint),
            JValue::Long(v.changed_ago.map_or(-1, millis_i64)),
            JValue::Bool(rec.is_some_and(|r| r.preferred)),
        ],
    )?)
}
