//! The node driver against a store with a hung file.

use super::*;
use crate::config::Config;
use std::fs;
use std::io;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// The file store, except that reads of node "b" hang (like a file on a stuck NFS server)
/// until released.
struct HungPeer {
    files: FileStore,
    released: Mutex<bool>,
    cv: Condvar,
}

impl HungPeer {
    fn release(&self) {
        *self.released.lock().unwrap() = true;
        self.cv.notify_all();
    }
}

impl Store for HungPeer {
    fn read_node(&self, node: &str) -> io::Result<Vec<u8>> {
        if node == "b" {
            let guard = self.released.lock().unwrap();
            // Bounded, so a failing test cannot leave the thread behind for ever.
            let _ = self
                .cv
                .wait_timeout_while(guard, Duration::from_secs(60), |r| !*r)
                .unwrap();
        }
        self.files.read_node(node)
    }
    fn write_node(&self, node: &str, block: &[u8]) -> io::Result<()> {
        self.files.write_node(node, block)
    }
    fn read_maint(&self) -> io::Result<Vec<u8>> {
        self.files.read_maint()
    }
    fn write_maint(&self, block: &[u8]) -> io::Result<()> {
        self.files.write_maint(block)
    }
    fn init_node(&self, node: &str, block: &[u8]) -> io::Result<()> {
        self.files.init_node(node, block)
    }
    fn init_maint(&self, block: &[u8]) -> io::Result<()> {
        self.files.init_maint(block)
    }
}

/// A new two-node cluster (a, b) in a temporary directory named after `tag`, initialised,
/// with the `timing` keys; the settings are node a's.
fn cluster(tag: &str, timing: &str) -> (std::path::PathBuf, NodeSettings) {
    let dir = std::env::temp_dir().join(format!("hamon-node-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("shared")).unwrap();
    let text = format!(
        "hb.dir={}\nhb.state_dir={}\nhb.node=a\nhb.nodes=a,b\n{timing}",
        dir.join("shared").display(),
        dir.join("state").display()
    );
    let mut config = Config::default();
    config.load_str(&text, "test").unwrap();
    let settings = NodeSettings::from_config(&config.heartbeat).unwrap();
    init_cluster(&settings).unwrap();
    (dir, settings)
}

#[test]
fn a_tick_waits_for_its_own_io_only_not_for_a_file_hung_since_an_earlier_tick() {
    // The fast profile stretched twenty times: an I/O timeout of 3 s.
    let (dir, settings) = cluster(
        "hung",
        "hb.period_ms=2000\nhb.io_timeout_ms=3000\nhb.renew_deadline_ms=16000\n\
         hb.kill_budget_ms=6000\nhb.takeover_ms=30000\nhb.confirm_ms=2000\n",
    );
    let store = Arc::new(HungPeer {
        files: FileStore::new(settings.dir.clone()),
        released: Mutex::new(false),
        cv: Condvar::new(),
    });
    let io_timeout = settings.timing.io_timeout;
    let mut node = Node::with_store(settings, store.clone()).unwrap();

    // The first tick reads b and waits for that read, at most the I/O timeout.
    node.tick();
    // The next one must not wait again for the read still hanging from the first.
    let started = Instant::now();
    let second = node.tick();
    let took = started.elapsed();
    store.release();
    let _ = fs::remove_dir_all(&dir);
    assert!(
        took < io_timeout,
        "the second tick took {took:?}, as long as the I/O timeout: it waited for an \
         operation it did not start ({second:?})"
    );
}

#[test]
fn records_carry_the_writer_s_wall_clock_for_display() {
    let (dir, settings) = cluster(
        "wall",
        "hb.period_ms=100\nhb.io_timeout_ms=150\nhb.renew_deadline_ms=800\n\
         hb.kill_budget_ms=300\nhb.takeover_ms=1500\nhb.confirm_ms=100\n",
    );
    let cluster = settings.cluster.clone();
    let store = FileStore::new(settings.dir.clone());
    let mut node = Node::new(settings).unwrap();
    let mut wall = 0;
    for _ in 0..50 {
        node.tick();
        if let Ok(r) = NodeRecord::decode(&store.read_node("a").unwrap(), &cluster) {
            wall = r.wall_ms;
            if wall != 0 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let _ = fs::remove_dir_all(&dir);
    assert!(
        wall <= now && now - wall < 60_000,
        "wall_ms {wall}, now {now}"
    );
}

#[test]
fn the_wait_in_whole_milliseconds_is_rounded_up_but_never_past_the_lease() {
    let us = Duration::from_micros;
    // A timer 0.3 ms away: a caller told 0 would call again and again until it is due.
    assert_eq!(whole_ms(us(300), None), 1);
    assert_eq!(whole_ms(us(49_001), None), 50);
    assert_eq!(whole_ms(us(50_000), None), 50);
    // Something due now: at once.
    assert_eq!(whole_ms(Duration::ZERO, None), 0);
    // The lease's end is never overslept: rounded down.
    assert_eq!(whole_ms(us(700_400), Some(us(700_400))), 700);
    assert_eq!(whole_ms(us(50_000), Some(us(12_900))), 12);
    assert_eq!(whole_ms(us(50_000), Some(us(800_000))), 50);
}
