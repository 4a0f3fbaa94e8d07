//! Random numbers for spreading kills over a heartbeat period; no statistical quality needed.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// A number in `0..n` (0 when `n` is 0).
pub fn below(n: u64) -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    if n == 0 {
        return 0;
    }
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish() % n
}
