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
    let mut pairs = Vec::with_capacity(n);
    for i in 0..n {
        // One frame per entry, so a large Properties does not pile up local references.
        let pair = env.with_local_frame(2, |env| -> Result<_, Failure> {
            let key = keys.get_element(env, i)?;
            let value = values.get_element(env, i)?;
            let key = string(env, &key, "a settings key")?;
            let value = string(env, &value, &format!("the value of {key}"))?;
            Ok((key, value))
        })?;
        pairs.push(pair);
    }
    Ok(pairs)
}

/// A Java `String[]` holding `items`.
pub fn string_array<'local, 'a>(
    env: &mut Env<'local>,
    items: impl ExactSizeIterator<Item = &'a str>,
) -> Result<JObjectArray<'local, JString<'local>>, Failure> {
    let array = JObjectArray::<JString>::new(env, items.len(), JString::null())?;
    for (i, item) in items.enumerate() {
        env.with_local_frame(1, |env| -> Result<(), Failure> {
            let item = JString::from_str(env, item)?;
            array.set_element(env, i, item)?;
            Ok(())
        })?;
    }
    Ok(array)
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
