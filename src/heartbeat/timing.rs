//! The heartbeat's timing lives in [`crate::timing`], below both the settings that parse it
//! and the heartbeat that runs it; this path stays for the code that names it here.

pub use crate::timing::{RATE_ERROR, Timing, TimingError};
