//! `hb_tick` callers (C, Java, Rust) have no guard: the node driver itself must hand them
//! FENCE by the lease deadline, even when storage is slow. Two in-process nodes over a real
//! directory; node a's writes start failing with ENOSPC while its reads of b's record take
//! 950 ms, with a timing whose takeover time is at the edge of the safety inequality
//! (P 100, T_io 1000, F1 4200, K 100, D 4410, C 50 ms). The caller kills its application at
//! once on FENCE; b starts its own when told. FENCE must come by the deadline and the two
//! lifetimes must never overlap.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use hamon::config::Config;
use hamon::heartbeat::clock::boottime;
use hamon::heartbeat::node::{Node, NodeSettings, TickAction, init_cluster};
use hamon::heartbeat::store::{FileStore, Store};

const MS: u64 = 1_000_000;
/// How late FENCE may reach the caller: the slack the safety inequality keeps for it (one
/// period), which also absorbs thread wake-ups on a loaded machine.
const FENCE_LATE_MS: u64 = 100;

/// The file store; once `broken`, writes fail with ENOSPC and reads of the peer's record
/// take 950 ms.
struct Faulty {
    files: FileStore,
    broken: AtomicBool,
}

impl Store for Faulty {
    fn read_node(&self, node: &str) -> io::Result<Vec<u8>> {
        if self.broken.load(Ordering::SeqCst) && node == "b" {
            thread::sleep(Duration::from_millis(950));
        }
        self.files.read_node(node)
    }
    fn write_node(&self, node: &str, block: &[u8]) -> io::Result<()> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
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

fn settings(dir: &Path, node: &str) -> NodeSettings {
    let text = format!(
        "hb.dir={}\nhb.state_dir={}\nhb.node={node}\nhb.nodes=a,b\nhb.preferred={}\n\
         hb.period_ms=100\nhb.io_timeout_ms=1000\nhb.renew_deadline_ms=4200\n\
         hb.kill_budget_ms=100\nhb.takeover_ms=4410\nhb.confirm_ms=50\n",
        dir.join("shared").display(),
        dir.join(format!("state-{node}")).display(),
        node == "a"
    );
    let mut config = Config::default();
    config.load_str(&text, "test").unwrap();
    NodeSettings::from_config(&config.heartbeat).unwrap()
}

/// One application lifetime, on CLOCK_BOOTTIME.
#[derive(Clone, Copy, Debug)]
struct Life {
    start: u64,
    end: Option<u64>,
}

#[derive(Default)]
struct Seen {
    lives: Vec<(&'static str, Life)>,
    /// (when FENCE reached a's caller, the lease deadline a's caller last knew).
    fence: Option<(u64, u64)>,
}

/// Drives `node` like an `hb_tick` caller: ticks when told, starts and kills an (imaginary,
/// instantly killed) application as told, and reports it stopped.
fn drive(name: &'static str, mut node: Node, seen: Arc<Mutex<Seen>>, stop: Arc<AtomicBool>) {
    let mut running: Option<usize> = None;
    let mut deadline: Option<u64> = None;
    while !stop.load(Ordering::SeqCst) {
        let r = node.tick();
        let now = boottime();
        if let Some(left) = r.deadline_left {
            deadline = Some(now.saturating_sub(0) + left.as_nanos() as u64);
        }
        match r.action {
            TickAction::Start => {
                let mut s = seen.lock().unwrap();
                assert!(running.is_none(), "{name}: START while running");
                s.lives.push((
                    name,
                    Life {
                        start: now,
                        end: None,
                    },
                ));
                running = Some(s.lives.len() - 1);
            }
            TickAction::Stop | TickAction::Fence => {
                if let Some(i) = running.take() {
                    let mut s = seen.lock().unwrap();
                    s.lives[i].1.end = Some(now);
                    if r.action == TickAction::Fence && name == "a" && s.fence.is_none() {
                        s.fence = Some((now, deadline.unwrap_or(0)));
                    }
                }
                node.app_stopped();
            }
            _ => {}
        }
        thread::sleep(node.next_tick_in());
    }
    if let Some(i) = running {
        seen.lock().unwrap().lives[i].1.end = Some(boottime());
    }
}

fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < until {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    cond()
}

fn one_run(run: usize) {
    let base = if Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("hamon-tickfence-{}-{run}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("shared")).unwrap();
    let (sa, sb) = (settings(&dir, "a"), settings(&dir, "b"));
    sa.timing.check().expect("the timing is accepted");
    init_cluster(&sa).unwrap();
    let faulty = Arc::new(Faulty {
        files: FileStore::new(sa.dir.clone()),
        broken: AtomicBool::new(false),
    });
    let a = Node::with_store(sa, faulty.clone()).unwrap();
    let b = Node::new(sb).unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = [("a", a), ("b", b)]
        .into_iter()
        .map(|(name, node)| {
            let (seen, stop) = (seen.clone(), stop.clone());
            thread::spawn(move || drive(name, node, seen, stop))
        })
        .collect();
    let a_runs = || {
        let s = seen.lock().unwrap();
        s.lives.iter().any(|(n, l)| *n == "a" && l.end.is_none())
    };
    let up = wait_for(Duration::from_secs(30), a_runs);
    if up {
        // Let a renew a few times, then break its storage.
        thread::sleep(Duration::from_millis(500));
        faulty.broken.store(true, Ordering::SeqCst);
    }
    let b_took_over = || {
        let s = seen.lock().unwrap();
        s.lives.iter().any(|(n, _)| *n == "b")
    };
    let over = up && wait_for(Duration::from_secs(40), b_took_over);
    if over {
        // Watch a little longer for a late second start anywhere.
        thread::sleep(Duration::from_millis(500));
    }
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().expect("a driver thread panicked");
    }
    let _ = std::fs::remove_dir_all(&dir);
    let s = seen.lock().unwrap();
    assert!(up, "run {run}: a never became active: {:?}", s.lives);
    assert!(over, "run {run}: b never took over: {:?}", s.lives);
    let (fenced, deadline) = s.fence.expect("a was fenced");
    assert!(
        fenced <= deadline + FENCE_LATE_MS * MS,
        "run {run}: FENCE reached the caller {} ms after the deadline",
        (fenced - deadline) / MS
    );
    let lives: Vec<&(&str, Life)> = s.lives.iter().collect();
    for (i, (na, la)) in lives.iter().enumerate() {
        for (nb, lb) in &lives[i + 1..] {
            let a_end = la.end.unwrap_or(u64::MAX);
            let b_end = lb.end.unwrap_or(u64::MAX);
            assert!(
                na == nb || a_end <= lb.start || b_end <= la.start,
                "run {run}: {na} {la:?} and {nb} {lb:?} overlap"
            );
        }
    }
    println!(
        "run {run}: FENCE {:.0} ms before the deadline; b started {:.0} ms after a's end",
        (deadline as f64 - fenced as f64) / 1e6,
        {
            let a_end = lives
                .iter()
                .find(|(n, _)| *n == "a")
                .and_then(|(_, l)| l.end);
            let b_start = lives.iter().find(|(n, _)| *n == "b").map(|(_, l)| l.start);
            (b_start.unwrap_or(0) as f64 - a_end.unwrap_or(0) as f64) / 1e6
        }
    );
}

#[test]
fn fence_reaches_the_tick_caller_by_the_deadline_with_failing_writes_and_slow_reads() {
    for run in 0..3 {
        one_run(run);
    }
}
