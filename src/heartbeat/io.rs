//! Storage I/O with deadlines: the node never blocks on the shared directory.
//!
//! [`IoPool`] runs [`Store`] calls on worker threads, one per file (each node record, the
//! maintenance record), and hands back [`Completion`]s through one queue that the caller polls
//! with a deadline ([`IoPool::next`]). A call stuck in a hung mount keeps only its own worker
//! busy: [`IoPool::submit`] refuses further operations on that file until it returns, so a
//! hung file never piles up threads and writes to a file never overtake each other (docs/heartbeat.md,
//! "Storage layout": at most one operation outstanding per file). Other files go on working. When the stuck call
//! finally returns, its completion is delivered like any other, with its real end time.
//!
//! Times are CLOCK_BOOTTIME ([`boottime`]), the clock of every heartbeat decision: a
//! suspend between an operation's start and its completion shows as time passed.
//! `started` is taken on the worker just before the store call and `ended` just after it
//! returns, so the interval always contains the real I/O: right for "changed by `ended`" and
//! "unchanged since before `started`" (docs/heartbeat.md, "Observation: alive means
//! changing").

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Instant;

use super::clock::boottime;
use super::observe::Time;
use super::store::Store;

/// One record file: the unit of serialisation (one operation at a time per file).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FileKey {
    Node(String),
    Maint,
}

/// An operation to run against the [`Store`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    ReadNode(String),
    /// Node name and the full block to write.
    WriteNode(String, Vec<u8>),
    ReadMaint,
    /// The full block to write.
    WriteMaint(Vec<u8>),
    /// Creates a node's record with this block unless it exists (`ha-heartbeat init`).
    InitNode(String, Vec<u8>),
    /// Creates the maintenance record with this block unless it exists.
    InitMaint(Vec<u8>),
}

/// What an operation was, without its data: which file, read or write.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    ReadNode(String),
    WriteNode(String),
    ReadMaint,
    WriteMaint,
    InitNode(String),
    InitMaint,
}

impl Op {
    /// The operation without its data.
    pub fn kind(&self) -> OpKind {
        match self {
            Op::ReadNode(n) => OpKind::ReadNode(n.clone()),
            Op::WriteNode(n, _) => OpKind::WriteNode(n.clone()),
            Op::ReadMaint => OpKind::ReadMaint,
            Op::WriteMaint(_) => OpKind::WriteMaint,
            Op::InitNode(n, _) => OpKind::InitNode(n.clone()),
            Op::InitMaint(_) => OpKind::InitMaint,
        }
    }

    /// The file it touches.
    pub fn file(&self) -> FileKey {
        self.kind().file()
    }
}

impl OpKind {
    /// The file it touches.
    pub fn file(&self) -> FileKey {
        match self {
            OpKind::ReadNode(n) | OpKind::WriteNode(n) | OpKind::InitNode(n) => {
                FileKey::Node(n.clone())
            }
            OpKind::ReadMaint | OpKind::WriteMaint | OpKind::InitMaint => FileKey::Maint,
        }
    }

    /// True for writes (creating a record included).
    pub fn is_write(&self) -> bool {
        !matches!(self, OpKind::ReadNode(_) | OpKind::ReadMaint)
    }
}

/// A finished operation.
#[derive(Debug)]
pub struct Completion {
    /// As returned by [`IoPool::submit`].
    pub id: u64,
    pub op_kind: OpKind,
    /// The bytes read; empty for writes.
    pub result: io::Result<Vec<u8>>,
    /// Just before the store call (CLOCK_BOOTTIME, ns).
    pub started: Time,
    /// Just after it returned (CLOCK_BOOTTIME, ns).
    pub ended: Time,
}

struct Job {
    id: u64,
    op: Op,
}

struct Worker {
    jobs: Sender<Job>,
    /// Set by `submit`, cleared by the worker before it sends the completion, so whoever
    /// has received a completion can submit the next operation on that file at once.
    busy: Arc<AtomicBool>,
}

struct PoolState {
    next_id: u64,
    /// One worker per file and direction: a read never waits behind a write of the same
    /// file (a node reads its own record back while renewing), and writes stay in order.
    workers: HashMap<OpKind, Worker>,
}

/// Runs [`Store`] operations on per-file worker threads; see the module docs.
///
/// Meant for one consumer: [`IoPool::next`] takes an internal lock for as long as it waits.
/// Dropping the pool never waits for workers: idle ones exit at once, stuck ones when their
/// call returns (the result is then discarded).
pub struct IoPool {
    store: Arc<dyn Store>,
    state: Mutex<PoolState>,
    done_tx: Sender<Completion>,
    done_rx: Mutex<Receiver<Completion>>,
}

/// Numbers worker thread names across all pools of the process.
static THREAD_SEQ: AtomicU64 = AtomicU64::new(0);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl IoPool {
    pub fn new(store: Arc<dyn Store>) -> IoPool {
        let (done_tx, done_rx) = mpsc::channel();
        IoPool {
            store,
            state: Mutex::new(PoolState {
                next_id: 1,
                workers: HashMap::new(),
            }),
            done_tx,
            done_rx: Mutex::new(done_rx),
        }
    }

    /// Submits unless an op of the same kind on the same file is still running (then
    /// returns None): one outstanding read and one outstanding write per file, so a hung
    /// file never piles up threads and writes never reorder.
    ///
    /// The returned id is that of the [`Completion`] to come. If no worker thread can be
    /// started, the failure arrives as that completion's error.
    pub fn submit(&self, op: Op) -> Option<u64> {
        let mut st = lock(&self.state);
        let key = op.kind();
        if st
            .workers
            .get(&key)
            .is_some_and(|w| w.busy.load(Ordering::Acquire))
        {
            return None;
        }
        let id = st.next_id;
        st.next_id += 1;
        let op_kind = op.kind();
        let worker = match st.workers.entry(key) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => match self.spawn_worker() {
                Ok(w) => e.insert(w),
                Err(err) => {
                    self.fail(id, op_kind, err);
                    return Some(id);
                }
            },
        };
        worker.busy.store(true, Ordering::Release);
        if worker.jobs.send(Job { id, op }).is_err() {
            // The worker is gone; it only exits when its job channel closes, so this is not
            // expected. Forget it (the next submit starts a new one) and report.
            st.workers.remove(&op_kind);
            self.fail(id, op_kind, io::Error::other("I/O worker thread exited"));
        }
        Some(id)
    }

    /// Waits until `deadline` for the next completion; None when the deadline passed. A
    /// completion already queued is returned even if the deadline has passed.
    pub fn next(&self, deadline: Instant) -> Option<Completion> {
        let rx = lock(&self.done_rx);
        let timeout = deadline.saturating_duration_since(Instant::now());
        rx.recv_timeout(timeout).ok()
    }

    /// True while an operation of this kind has been submitted and its store call has not
    /// returned.
    pub fn busy(&self, kind: &OpKind) -> bool {
        lock(&self.state)
            .workers
            .get(kind)
            .is_some_and(|w| w.busy.load(Ordering::Acquire))
    }

    /// How many worker threads this pool has started (one per file ever used).
    pub fn threads(&self) -> usize {
        lock(&self.state).workers.len()
    }

    fn spawn_worker(&self) -> io::Result<Worker> {
        let (jobs, job_rx) = mpsc::channel();
        let busy = Arc::new(AtomicBool::new(false));
        let n = THREAD_SEQ.fetch_add(1, Ordering::Relaxed);
        let store = Arc::clone(&self.store);
        let done = self.done_tx.clone();
        let worker_busy = Arc::clone(&busy);
        // The handle is dropped: the thread is detached, nobody ever waits for it.
        thread::Builder::new()
            .name(format!("hamon-hbio-{n}"))
            .spawn(move || run_worker(&*store, job_rx, &worker_busy, done))?;
        Ok(Worker { jobs, busy })
    }

    fn fail(&self, id: u64, op_kind: OpKind, err: io::Error) {
        let now = boottime();
        // The receiver lives in `self`, so this cannot fail.
        let _ = self.done_tx.send(Completion {
            id,
            op_kind,
            result: Err(err),
            started: now,
            ended: now,
        });
    }
}

fn run_worker(store: &dyn Store, jobs: Receiver<Job>, busy: &AtomicBool, done: Sender<Completion>) {
    while let Ok(Job { id, op }) = jobs.recv() {
        let op_kind = op.kind();
        let started = boottime();
        let result = catch_unwind(AssertUnwindSafe(|| run_op(store, op)))
            .unwrap_or_else(|_| Err(io::Error::other("store call panicked")));
        let ended = boottime();
        busy.store(false, Ordering::Release);
        let c = Completion {
            id,
            op_kind,
            result,
            started,
            ended,
        };
        if done.send(c).is_err() {
            return; // The pool is gone.
        }
    }
}

fn run_op(store: &dyn Store, op: Op) -> io::Result<Vec<u8>> {
    match op {
        Op::ReadNode(n) => store.read_node(&n),
        Op::WriteNode(n, block) => store.write_node(&n, &block).map(|()| Vec::new()),
        Op::ReadMaint => store.read_maint(),
        Op::WriteMaint(block) => store.write_maint(&block).map(|()| Vec::new()),
        Op::InitNode(n, block) => store.init_node(&n, &block).map(|()| Vec::new()),
        Op::InitMaint(block) => store.init_maint(&block).map(|()| Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Condvar;
    use std::time::Duration;

    /// A gate the fake store's calls on "hung" wait at until opened.
    #[derive(Default)]
    struct Gate {
        open: Mutex<bool>,
        entered: Mutex<u32>,
        cv: Condvar,
    }

    impl Gate {
        fn pass(&self) {
            *lock(&self.entered) += 1;
            self.cv.notify_all();
            let mut open = lock(&self.open);
            while !*open {
                open = self.cv.wait(open).unwrap();
            }
        }

        fn wait_entered(&self, n: u32) {
            let mut e = lock(&self.entered);
            let until = Instant::now() + Duration::from_secs(10);
            while *e < n {
                let left = until.saturating_duration_since(Instant::now());
                assert!(!left.is_zero(), "worker never entered the store");
                e = self.cv.wait_timeout(e, left).unwrap().0;
            }
        }

        fn release(&self) {
            *lock(&self.open) = true;
            self.cv.notify_all();
        }
    }

    #[derive(Default)]
    struct Fake {
        gate: Gate,
        log: Mutex<Vec<String>>,
    }

    impl Store for Fake {
        fn read_node(&self, node: &str) -> io::Result<Vec<u8>> {
            match node {
                "hung" => {
                    self.gate.pass();
                    Ok(b"late".to_vec())
                }
                "panic" => panic!("fake store panics on purpose"),
                "missing" => Err(io::ErrorKind::NotFound.into()),
                _ => Ok(node.as_bytes().to_vec()),
            }
        }

        fn write_node(&self, node: &str, block: &[u8]) -> io::Result<()> {
            if node == "hung" {
                self.gate.pass();
            }
            lock(&self.log).push(format!("{node}:{}", block[0]));
            Ok(())
        }

        fn read_maint(&self) -> io::Result<Vec<u8>> {
            Ok(b"maint".to_vec())
        }

        fn write_maint(&self, _block: &[u8]) -> io::Result<()> {
            Err(io::Error::other("read-only"))
        }

        fn init_node(&self, _node: &str, _block: &[u8]) -> io::Result<()> {
            Err(io::Error::other("read-only"))
        }

        fn init_maint(&self, _block: &[u8]) -> io::Result<()> {
            Err(io::Error::other("read-only"))
        }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    fn node(n: &str) -> FileKey {
        FileKey::Node(n.to_owned())
    }

    #[test]
    fn a_read_does_not_wait_behind_a_write_of_the_same_file() {
        let fake = Arc::new(Fake::default());
        let pool = IoPool::new(fake.clone());
        pool.submit(Op::ReadNode("hung".into())).unwrap();
        fake.gate.wait_entered(1);
        assert!(pool.busy(&OpKind::ReadNode("hung".into())));
        assert!(pool.submit(Op::ReadNode("hung".into())).is_none());
        // The write of the same file starts while the read still hangs.
        pool.submit(Op::WriteNode(
            "hung".into(),
            vec![7; crate::heartbeat::record::BLOCK],
        ))
        .unwrap();
        fake.gate.wait_entered(2);
        fake.gate.release();
        let a = pool.next(soon()).unwrap();
        let b = pool.next(soon()).unwrap();
        assert!(a.result.is_ok() && b.result.is_ok());
    }

    #[test]
    fn a_hung_file_times_out_blocks_only_itself_and_completes_late() {
        let fake = Arc::new(Fake::default());
        let pool = IoPool::new(fake.clone());
        let hung = pool.submit(Op::ReadNode("hung".into())).unwrap();
        fake.gate.wait_entered(1);

        // The deadline passes with nothing to report, and not before.
        let deadline = Instant::now() + Duration::from_millis(50);
        assert!(pool.next(deadline).is_none());
        assert!(Instant::now() >= deadline);

        // The hung read takes no second read of that file.
        assert!(pool.busy(&OpKind::ReadNode("hung".into())));
        assert_eq!(pool.submit(Op::ReadNode("hung".into())), None);

        // Other files still work.
        assert!(!pool.busy(&OpKind::ReadNode("b".into())));
        let b = pool.submit(Op::ReadNode("b".into())).unwrap();
        let c = pool.next(soon()).unwrap();
        assert_eq!((c.id, &c.op_kind), (b, &OpKind::ReadNode("b".into())));
        assert_eq!(c.result.unwrap(), b"b");
        assert!(!pool.busy(&OpKind::ReadNode("b".into())));
        let m = pool.submit(Op::ReadMaint).unwrap();
        let c = pool.next(soon()).unwrap();
        assert_eq!((c.id, c.result.unwrap()), (m, b"maint".to_vec()));
        assert!(
            pool.next(Instant::now() + Duration::from_millis(10))
                .is_none()
        );

        // Released: the late completion arrives with its real times.
        thread::sleep(Duration::from_millis(20));
        let released = boottime();
        fake.gate.release();
        let c = pool.next(soon()).unwrap();
        assert_eq!((c.id, &c.op_kind), (hung, &OpKind::ReadNode("hung".into())));
        assert_eq!(c.result.unwrap(), b"late");
        assert!(c.started < released && c.ended >= released);
        assert!(c.ended - c.started >= 70_000_000);

        // Having seen the completion, the file is free again at once.
        assert!(!pool.busy(&OpKind::ReadNode("hung".into())));
        let again = pool.submit(Op::ReadNode("hung".into())).unwrap();
        assert!(again > hung);
        assert_eq!(pool.next(soon()).unwrap().id, again);
        assert_eq!(pool.threads(), 3);
    }

    #[test]
    fn dropping_the_pool_does_not_wait_for_a_stuck_worker() {
        let fake = Arc::new(Fake::default());
        let pool = IoPool::new(fake.clone());
        pool.submit(Op::WriteNode("hung".into(), vec![7])).unwrap();
        pool.submit(Op::ReadNode("idle".into())).unwrap();
        fake.gate.wait_entered(1);
        let t = Instant::now();
        drop(pool);
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "{:?}",
            t.elapsed()
        );

        // Once the call returns, the worker exits and lets go of the store.
        fake.gate.release();
        let until = soon();
        while Arc::strong_count(&fake) > 1 {
            assert!(Instant::now() < until, "worker threads never exited");
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(*lock(&fake.log), ["hung:7"]);
    }

    #[test]
    fn writes_pass_data_through_in_order_and_errors_come_back() {
        let fake = Arc::new(Fake::default());
        fake.gate.release();
        let pool = IoPool::new(fake.clone());
        for i in 0..5u8 {
            let id = pool.submit(Op::WriteNode("a".into(), vec![i])).unwrap();
            let c = pool.next(soon()).unwrap();
            assert_eq!(c.id, id);
            assert_eq!(c.op_kind, OpKind::WriteNode("a".into()));
            assert!(c.op_kind.is_write());
            assert_eq!(c.result.unwrap(), Vec::<u8>::new());
            assert!(c.started <= c.ended);
        }
        assert_eq!(*lock(&fake.log), ["a:0", "a:1", "a:2", "a:3", "a:4"]);

        pool.submit(Op::WriteMaint(vec![0])).unwrap();
        let c = pool.next(soon()).unwrap();
        assert_eq!(c.op_kind, OpKind::WriteMaint);
        assert_eq!(c.result.unwrap_err().to_string(), "read-only");

        pool.submit(Op::ReadNode("missing".into())).unwrap();
        let e = pool.next(soon()).unwrap().result.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn a_panicking_store_call_is_an_error_and_the_worker_survives() {
        let pool = IoPool::new(Arc::new(Fake::default()));
        pool.submit(Op::ReadNode("panic".into())).unwrap();
        let c = pool.next(soon()).unwrap();
        assert_eq!(c.result.unwrap_err().to_string(), "store call panicked");
        pool.submit(Op::ReadNode("panic".into())).unwrap();
        assert!(pool.next(soon()).unwrap().result.is_err());
        assert_eq!(pool.threads(), 1);
    }

    #[test]
    fn a_past_deadline_still_returns_a_queued_completion() {
        let pool = IoPool::new(Arc::new(Fake::default()));
        assert!(pool.next(Instant::now()).is_none());
        let past = Instant::now();
        let id = pool.submit(Op::ReadMaint).unwrap();
        // Never waits, yet picks up the completion once it is queued.
        let until = soon();
        let c = loop {
            if let Some(c) = pool.next(past) {
                break c;
            }
            assert!(Instant::now() < until, "completion never came");
            thread::sleep(Duration::from_millis(1));
        };
        assert_eq!(c.id, id);
        assert!(pool.next(past).is_none());
    }

    #[test]
    fn workers_are_named() {
        struct Named;
        impl Store for Named {
            fn read_node(&self, _: &str) -> io::Result<Vec<u8>> {
                Ok(thread::current().name().unwrap_or("").as_bytes().to_vec())
            }
            fn write_node(&self, _: &str, _: &[u8]) -> io::Result<()> {
                Ok(())
            }
            fn read_maint(&self) -> io::Result<Vec<u8>> {
                Ok(Vec::new())
            }
            fn write_maint(&self, _: &[u8]) -> io::Result<()> {
                Ok(())
            }
            fn init_node(&self, _: &str, _: &[u8]) -> io::Result<()> {
                Ok(())
            }
            fn init_maint(&self, _: &[u8]) -> io::Result<()> {
                Ok(())
            }
        }
        let pool = IoPool::new(Arc::new(Named));
        pool.submit(Op::ReadNode("x".into())).unwrap();
        let name = String::from_utf8(pool.next(soon()).unwrap().result.unwrap()).unwrap();
        assert!(name.starts_with("hamon-hbio-"), "{name}");
    }

    #[test]
    fn runs_a_real_file_store() {
        use crate::heartbeat::record::BLOCK;
        use crate::heartbeat::store::FileStore;
        let dir = std::env::temp_dir().join(format!("hamon-hbio-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = FileStore::new(&dir);
        store.init_node("a", &[0; BLOCK]).unwrap();
        let pool = IoPool::new(Arc::new(store));
        let block = vec![0x5a; BLOCK];
        pool.submit(Op::WriteNode("a".into(), block.clone()))
            .unwrap();
        pool.next(soon()).unwrap().result.unwrap();
        pool.submit(Op::ReadNode("a".into())).unwrap();
        let read = pool.next(soon()).unwrap().result;
        pool.submit(Op::WriteMaint(block.clone())).unwrap();
        let missing = pool.next(soon()).unwrap().result;
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(read.unwrap(), block);
        assert_eq!(missing.unwrap_err().kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn op_kinds_and_files() {
        let w = Op::WriteNode("n".into(), vec![1]);
        assert_eq!(w.kind(), OpKind::WriteNode("n".into()));
        assert_eq!(w.file(), node("n"));
        assert_eq!(Op::ReadNode("n".into()).file(), node("n"));
        assert_eq!(Op::ReadMaint.file(), FileKey::Maint);
        assert_eq!(Op::WriteMaint(vec![]).file(), FileKey::Maint);
        assert!(!OpKind::ReadMaint.is_write());
        assert!(!OpKind::ReadNode("n".into()).is_write());
        assert!(OpKind::WriteMaint.is_write());
    }
}
