//! Arguments from Java: strings, string arrays, numbers and handles, each refused with the
//! status C gives for the same mistake.

use jni::Env;
use jni::objects::{JObjectArray, JString};
use jni::sys::jlong;

use crate::ffi::status::HA_ERR_NULL_ARG;
use crate::jni::entry::Failure;

/// A required string; `what` names it in the `NullPointerException`.
pub fn string(env: &Env<'_>, s: &JString<'_>, what: &str) -> Result<String, Failure> {
    if s.is_null() {
        return Err(Failure::status(HA_ERR_NULL_ARG, format!("{what} is null")));
    }
    Ok(s.try_to_string(env)?)
}

/// A string where null means empty, as NULL does in C (reasons).
pub fn string_or_empty(env: &Env<'_>, s: &JString<'_>, what: &str) -> Result<String, Failure> {
    if s.is_null() {
        Ok(String::new())
    } else {
        string(env, s, what)
    }
}

/// A string where null means absent.
pub fn optional_string(
    env: &Env<'_>,
    s: &JString<'_>,
    what: &str,
) -> Result<Option<String>, Failure> {
    if s.is_null() {
        Ok(None)
    } else {
        string(env, s, what).map(Some)
    }
}

/// Parallel arrays of keys and values, as `io.hamon.Settings` passes a `Properties`.
pub fn string_pairs(
    env: &mut Env<'_>,
    keys: &JObjectArray<'_, JString<'_>>,
    values: &JObjectArray<'_, JString<'_>>,
) -> Result<Vec<(String, String)>, Failure> {
    if keys.is_null() || values.is_null() {
        return Err(Failure::status(HA_ERR_NULL_ARG, "settings are null"));
    }
    let n = keys.len(env)?;
    if values.len(env)? != n {
        return Err(Failure::invalid(
            "settings: as many keys as values are needed",
        ));
    }
    each_in_frame(env, 0..n, 2, |env, _, i| {
        let key = keys.get_element(env, i)?;
        let value = values.get_element(env, i)?;
        let key = string(env, &key, "a settings key")?;
        let value = string(env, &value, &format!("the value of {key}"))?;
        Ok((key, value))
    })
}

/// A Java `String[]` holding `items`.
pub fn string_array<'local, 'a>(
    env: &mut Env<'local>,
    items: impl ExactSizeIterator<Item = &'a str>,
) -> Result<JObjectArray<'local, JString<'local>>, Failure> {
    let array = JObjectArray::<JString>::new(env, items.len(), JString::null())?;
    each_in_frame(env, items, 1, |env, i, item| {
        let item = JString::from_str(env, item)?;
        Ok(array.set_element(env, i, item)?)
    })?;
    Ok(array)
}

/// Runs `each` on every item and its index, each in a local frame with room for `capacity`
/// references, so that a long list does not pile up local references; returns what each
/// gave.
pub fn each_in_frame<I, T>(
    env: &mut Env<'_>,
    items: impl IntoIterator<Item = I>,
    capacity: usize,
    mut each: impl FnMut(&mut Env<'_>, usize, I) -> Result<T, Failure>,
) -> Result<Vec<T>, Failure> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| env.with_local_frame(capacity, |env| each(env, i, item)))
        .collect()
}

/// A count or duration in milliseconds that C takes as `uint32_t`.
pub fn u32_arg(value: jlong, what: &str) -> Result<u32, Failure> {
    u32::try_from(value).map_err(|_| Failure::invalid(format!("{what} ({value}) is out of range")))
}

/// A value that C takes as `uint64_t`.
pub fn u64_arg(value: jlong, what: &str) -> Result<u64, Failure> {
    u64::try_from(value).map_err(|_| Failure::invalid(format!("{what} ({value}) must be >= 0")))
}

/// Turns a boxed object into the `long` handle Java keeps.
pub fn into_handle<T>(object: T) -> jlong {
    Box::into_raw(Box::new(object)) as jlong
}

/// Borrows the object behind a handle; 0 is the handle of a closed object.
///
/// # Safety
/// `handle` is 0 or came from [`into_handle`] with the same `T`, has not been given to
/// [`take_handle`], and the Java side keeps it from being taken during the borrow.
pub unsafe fn handle_ref<'a, T>(handle: jlong, class: &'static str) -> Result<&'a T, Failure> {
    if handle == 0 {
        return Err(Failure::Closed(class));
    }
    // SAFETY: per the contract.
    Ok(unsafe { &*(handle as *const T) })
}

/// Like [`handle_ref`], for a call that needs the object to itself.
///
/// # Safety
/// As for [`handle_ref`], and no other borrow of the object exists during this one.
pub unsafe fn handle_mut<'a, T>(handle: jlong, class: &'static str) -> Result<&'a mut T, Failure> {
    if handle == 0 {
        return Err(Failure::Closed(class));
    }
    // SAFETY: per the contract.
    Ok(unsafe { &mut *(handle as *mut T) })
}

/// Takes back the object behind a handle, to drop it; 0 (closed already) gives `None`.
///
/// # Safety
/// `handle` is 0 or came from [`into_handle`] with the same `T` and is never used again.
pub unsafe fn take_handle<T>(handle: jlong) -> Option<Box<T>> {
    // SAFETY: per the contract.
    (handle != 0).then(|| unsafe { Box::from_raw(handle as *mut T) })
}
