//! `ha_config`: settings for a server, from `key=value` calls or a properties file.

use std::ffi::c_char;
use std::path::Path;

use crate::config::{Config, ConfigError, ConfigErrorKind};
use crate::ffi::boundary::{boundary_status, c_str, fail, non_null, panic_boundary};
use crate::ffi::status::*;

/// Settings for an HA monitor server (the `ha.*` / `mz.ha.*` keys) and for a heartbeat
/// node (the `hb.*` keys).
///
/// Create with `ha_config_new`, fill with `ha_config_set` / `ha_config_load_file`, pass to
/// `ha_server_start`, `hb_init` or `hb_node_new` (which copy what they need), free with
/// `ha_config_free`. Not thread-safe: use one
/// `ha_config` from one thread at a time.
///
/// Methods: ha_config_new, ha_config_set, ha_config_load_file, ha_config_free.
pub struct ha_config {
    pub(crate) inner: Config,
}

/// The status code of a configuration error.
pub(crate) fn config_code(e: &ConfigError) -> ha_status {
    match e.kind {
        ConfigErrorKind::UnknownKey => HA_ERR_CONFIG_UNKNOWN_KEY,
        ConfigErrorKind::BadValue => HA_ERR_CONFIG_BAD_VALUE,
        ConfigErrorKind::Syntax => HA_ERR_CONFIG_SYNTAX,
        ConfigErrorKind::File => HA_ERR_CONFIG_FILE,
        ConfigErrorKind::Missing => HA_ERR_CONFIG_MISSING,
    }
}

pub(crate) fn config_status(e: &ConfigError) -> ha_status {
    fail(config_code(e), e.to_string())
}

/// Creates a configuration with every default (bind 127.0.0.1, no port yet).
///
/// On success `*out` receives a new `ha_config` that the caller owns: to avoid a leak it must
/// be freed with `ha_config_free`. `*out` is written only on success.
///
/// # Safety
/// `out` is NULL or points to writable storage for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_config_new(out: *mut *mut ha_config) -> ha_status {
    boundary_status(|| {
        non_null(out, "out")?;
        let cfg = Box::new(ha_config {
            inner: Config::default(),
        });
        // SAFETY: out is non-NULL and writable per the contract.
        unsafe { *out = Box::into_raw(cfg) };
        Ok(())
    })
}

/// Sets one key, exactly as a properties-file line `key=value` would. Unknown keys, bad
/// values and keys outside `ha.`, `mz.ha.` and `hb.` are refused with a status
/// (`HA_ERR_CONFIG_UNKNOWN_KEY`, `HA_ERR_CONFIG_BAD_VALUE`) and leave the configuration
/// unchanged; `ha_last_error` then names the key and the problem.
///
/// # Safety
/// `cfg` is NULL or a live `ha_config`; `key` and `value` are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_config_set(
    cfg: *mut ha_config,
    key: *const c_char,
    value: *const c_char,
) -> ha_status {
    boundary_status(|| {
        non_null(cfg, "cfg")?;
        // SAFETY: per the contract.
        let (key, value) = unsafe { (c_str(key, "key")?, c_str(value, "value")?) };
        let cfg = unsafe { &mut *cfg };
        cfg.inner.set(key, value).map_err(|e| config_status(&e))
    })
}

/// Reads a Java-style properties file and applies its `ha.*`, `mz.ha.*` and `hb.*` keys; others
/// are ignored, so a shared application properties file can be used. All or nothing: on any
/// error (missing file, syntax, unknown key, bad value) the configuration is unchanged and
/// `ha_last_error` names the file, the line and the key.
///
/// # Safety
/// `cfg` is NULL or a live `ha_config`; `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_config_load_file(
    cfg: *mut ha_config,
    path: *const c_char,
) -> ha_status {
    boundary_status(|| {
        non_null(cfg, "cfg")?;
        // SAFETY: per the contract.
        let path = unsafe { c_str(path, "path")? };
        let cfg = unsafe { &mut *cfg };
        cfg.inner
            .load_file(Path::new(path))
            .map_err(|e| config_status(&e))
    })
}

/// Frees a configuration. NULL is a no-op. A server started from it keeps its own copy.
///
/// # Safety
/// `cfg` is NULL or came from `ha_config_new` and is not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ha_config_free(cfg: *mut ha_config) {
    panic_boundary(|| {
        if !cfg.is_null() {
            // SAFETY: cfg came from Box::into_raw in ha_config_new and is freed once.
            drop(unsafe { Box::from_raw(cfg) });
        }
    })
}
