//! Free TCP ports on loopback for programs that must be told their port in advance (the
//! daemons' applications). Taken below the kernel's ephemeral range, so that the outgoing
//! connections of everything else on the machine do not land on them in the meantime, and
//! never handed out twice by one benchmark (clusters start concurrently).

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::Mutex;

use super::random;

const FIRST: u16 = 20_000;
const LAST: u16 = 32_000;

/// A port nothing listens on now and that this process has not handed out before.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut handed = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
    let handed = handed.get_or_insert_with(HashSet::new);
    for _ in 0..10_000 {
        let port = FIRST + random::below(u64::from(LAST - FIRST)) as u16;
        if !handed.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed.insert(port);
            return port;
        }
    }
    panic!("no free port between {FIRST} and {LAST}");
}
