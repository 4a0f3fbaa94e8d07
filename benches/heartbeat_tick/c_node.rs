//! A heartbeat node driven through the C ABI exactly as a C daemon drives it: `ha_config_*`,
//! `hb_init`, `hb_node_new`, `hb_tick`, `hb_status`, `hb_node_free`.

use std::ffi::CString;
use std::ptr;

use hamon::ffi::config::{ha_config, ha_config_free, ha_config_new, ha_config_set};
use hamon::ffi::heartbeat::{
    hb_init, hb_node, hb_node_free, hb_node_new, hb_node_status, hb_status, hb_tick, hb_tick_result,
};
use hamon::ffi::status::HA_OK;

pub struct CNode {
    node: *mut hb_node,
}

fn check(what: &str, rc: u32) {
    assert_eq!(rc, HA_OK, "{what} failed with status {rc}");
}

impl CNode {
    /// Creates the cluster's records (hb_init, with `init`: the file backend) and this node
    /// from `hb.*` settings.
    pub fn new(settings: &[(&str, String)], init: bool) -> CNode {
        let mut cfg: *mut ha_config = ptr::null_mut();
        let mut node: *mut hb_node = ptr::null_mut();
        // SAFETY: every pointer passed is valid for the call; cfg is freed once below.
        unsafe {
            check("ha_config_new", ha_config_new(&mut cfg));
            for (key, value) in settings {
                let (k, v) = (
                    CString::new(*key).unwrap(),
                    CString::new(value.as_str()).unwrap(),
                );
                check(key, ha_config_set(cfg, k.as_ptr(), v.as_ptr()));
            }
            if init {
                check("hb_init", hb_init(cfg));
            }
            check("hb_node_new", hb_node_new(cfg, &mut node));
            ha_config_free(cfg);
        }
        CNode { node }
    }

    pub fn tick(&mut self) -> hb_tick_result {
        // SAFETY: all-zero is a valid hb_tick_result (integers and a char array).
        let mut out: hb_tick_result = unsafe { std::mem::zeroed() };
        // SAFETY: a live node used by this thread only; out is writable.
        check("hb_tick", unsafe { hb_tick(self.node, &mut out) });
        out
    }

    /// The write counter of this node's own record: it grows by one with every heartbeat.
    pub fn own_seq(&self) -> u64 {
        // SAFETY: all-zero is a valid hb_node_status.
        let mut entries: [hb_node_status; 4] = unsafe { std::mem::zeroed() };
        let mut count = 0usize;
        // SAFETY: a live node; `entries` holds 4 writable entries; count is writable.
        check("hb_status", unsafe {
            hb_status(self.node, entries.as_mut_ptr(), entries.len(), &mut count)
        });
        entries[..count.min(entries.len())]
            .iter()
            .find(|e| e.is_self == 1)
            .map_or(0, |e| e.seq)
    }
}

impl Drop for CNode {
    fn drop(&mut self) {
        // SAFETY: the node came from hb_node_new and is freed once.
        unsafe { hb_node_free(self.node) };
    }
}
