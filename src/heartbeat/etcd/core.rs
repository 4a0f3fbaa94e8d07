//! The heartbeat on etcd as a state machine: events in, actions out, times from the node's
//! own monotonic clock; no I/O (the driver runs the etcd calls and reports their results).
//!
//! Each node keeps a lease alive every period. The active holds the leader key, created by a
//! transaction that succeeds only if the key does not exist and the epoch counter key is
//! unchanged since it was read; the same transaction writes the new epoch to the counter, so
//! epochs strictly increase across the cluster's life. The active stops its application at
//! F1 after the SEND of its last acknowledged keepalive (timing.rs): gone K later, still
//! before etcd can expire the lease and let anyone else in. A standby claims only when a
//! linearizable read shows no leader key. Every hand-over revokes the lease, which deletes the
//! leader key at once. One etcd call is in flight at a time.
//!
//! Which call comes next is in `core/drive.rs`, following a switchover in `core/switchover.rs`.

use std::time::Duration;

use super::timing::EtcdTiming;
use crate::heartbeat::observe::Time;
use crate::heartbeat::record::{MaintMode, MaintRecord};
use switchover::SwitchoverWatch;

mod drive;
mod switchover;

/// The leader key's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leader {
    pub node: String,
    pub epoch: u64,
    /// The lease the key is attached to.
    pub lease: i64,
}

/// What one linearizable read of the cluster's prefix showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    pub leader: Option<Leader>,
    /// The epoch counter: its value and its mod_revision (0: never written).
    pub epoch: u64,
    pub epoch_rev: i64,
    /// None: no maintenance key (OFF). Some(Err): one that cannot be decoded.
    pub maint: Option<Result<MaintRecord, String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Standby,
    Active,
    /// The application is being stopped.
    Stopping,
}

/// What happened. `sent`: when the driver started the call, before any byte went out.
#[derive(Clone, Debug)]
pub enum Event {
    Tick,
    /// `GrantLease` ended: (lease ID, TTL granted in seconds).
    Granted {
        sent: Time,
        result: Result<(i64, u64), String>,
    },
    /// `KeepAlive` ended: the TTL the lease was renewed to, 0 when the lease is gone.
    KeptAlive {
        sent: Time,
        lease: i64,
        result: Result<u64, String>,
    },
    Read {
        result: Result<View, String>,
    },
    /// `Claim` ended: whether the transaction's conditions held.
    Claimed {
        result: Result<bool, String>,
    },
    /// `Revoke` ended (a failure is reported, but the lease is forgotten either way).
    Revoked {
        result: Result<(), String>,
    },
    StatusPut {
        result: Result<(), String>,
    },
    /// The application started for `epoch` is gone.
    AppStopped {
        epoch: u64,
    },
    /// The application failed: hand over.
    AppFailed(String),
    /// Graceful hand-over requested (shutdown, operator): stop, revoke, and leave the others
    /// a lease's time to claim before claiming again.
    Release,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    GrantLease {
        ttl_s: u64,
    },
    KeepAlive {
        lease: i64,
    },
    /// Read every key under the cluster's prefix, linearizably.
    Read,
    /// Store the epoch durably on local disk; done before the claim that carries it.
    PersistEpoch(u64),
    /// Txn: if the leader key does not exist and the epoch key's mod_revision is
    /// `epoch_rev`, put the leader key (this node, `epoch`, attached to `lease`) and the
    /// epoch key (`epoch`).
    Claim {
        lease: i64,
        epoch: u64,
        epoch_rev: i64,
    },
    /// Revoke the lease: its leader and status keys go with it.
    Revoke {
        lease: i64,
    },
    /// Put this node's status key, attached to its lease.
    PutStatus {
        lease: i64,
        status: String,
    },
    StartApp {
        epoch: u64,
    },
    StopApp {
        reason: String,
        /// True when the lease is (or may be) lost: stop now.
        fence: bool,
    },
    Alarm(String),
    /// No claim is possible: the highest epoch known, `top`, is at the top of its range, so
    /// no epoch above it exists (`in_key`: the epoch key holds it, else this node's
    /// persisted or earlier-read epoch). Said once; the driver names the key in an alarm.
    EpochExhausted {
        top: u64,
        in_key: bool,
    },
}

#[derive(Clone, Debug)]
pub struct CoreConfig {
    pub node: String,
    pub preferred: bool,
    pub timing: EtcdTiming,
    /// Seeds the back-off jitter.
    pub incarnation: u64,
    /// The highest epoch persisted on local disk.
    pub persisted_epoch: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    Grant,
    KeepAlive,
    Read,
    Claim,
    Revoke,
    Status,
}

/// A lease this node holds. Its TTL is the one this node asked for (`timing.lease_ttl`),
/// never one an answer names: a reply can only confirm the request, not extend it.
#[derive(Clone, Copy, Debug)]
struct Lease {
    id: i64,
    /// Send time of the last acknowledged grant or keepalive.
    acked_send: Time,
}

/// A snapshot for status displays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreStatus {
    pub role: Role,
    pub epoch: u64,
    pub lease: Option<i64>,
    /// Nanoseconds until the active must stop its application.
    pub deadline_left: Option<u64>,
    pub app_running: bool,
}

pub struct Core {
    cfg: CoreConfig,
    role: Role,
    /// The term of the running (or last) application; also the highest epoch persisted.
    epoch: u64,
    max_epoch: u64,
    lease: Option<Lease>,
    /// A lease to revoke once the application is gone.
    revoke: Option<i64>,
    inflight: Option<Call>,
    /// The claim in flight: its epoch.
    claiming: Option<u64>,
    app_epoch: Option<u64>,
    /// The last read, while it can be trusted (cleared by anything that may change it).
    view: Option<View>,
    next_keepalive: Time,
    next_read: Time,
    next_grant: Time,
    backoff_until: Time,
    status_put: Option<String>,
    maint_bad_said: bool,
    /// The switchover the maintenance key names, as this node follows it.
    switchover: Option<SwitchoverWatch>,
    /// The epoch cannot grow (a counter at the top of its range) and that was said.
    epoch_top_said: bool,
    /// The `now` of the last step: a timer at or before it was due then, and either acted on
    /// or waiting for an event (a reply, the application gone), never for a time.
    last_step: Time,
    rng: u64,
}

fn nanos(d: Duration) -> u64 {
    d.as_nanos() as u64
}

impl Core {
    pub fn new(cfg: CoreConfig, now: Time) -> Core {
        let p = nanos(cfg.timing.period);
        let mut core = Core {
            role: Role::Standby,
            epoch: cfg.persisted_epoch,
            max_epoch: cfg.persisted_epoch,
            lease: None,
            revoke: None,
            inflight: None,
            claiming: None,
            app_epoch: None,
            view: None,
            next_keepalive: now,
            next_read: now,
            next_grant: now,
            backoff_until: now,
            status_put: None,
            maint_bad_said: false,
            switchover: None,
            epoch_top_said: false,
            last_step: now,
            rng: cfg.incarnation | 1,
            cfg,
        };
        // Nodes that are not preferred give the preferred one a head start on a cold start.
        if !core.cfg.preferred {
            core.backoff_until = now + 3 * p + core.jitter(p);
        }
        core
    }

    fn jitter(&mut self, below: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % below.max(1)
    }

    fn period(&self) -> u64 {
        nanos(self.cfg.timing.period)
    }

    /// When the active must have stopped its application's lease-dependent run: F1 after the
    /// send of the last acknowledged keepalive.
    fn deadline(&self) -> Option<Time> {
        let l = self.lease?;
        Some(l.acked_send + nanos(self.f1()))
    }

    /// F1 of the TTL this node asks for.
    fn f1(&self) -> Duration {
        let t = &self.cfg.timing;
        t.renew_deadline_for(t.lease_ttl).unwrap_or_default()
    }

    /// Why a TTL in an answer contradicts the request: etcd grants and renews a lease to
    /// the TTL asked for (more only below its minimum TTL, which the timing check excludes).
    /// An answer naming another TTL did not come from etcd as this node knows it (a proxy
    /// rewriting it, another service on the port, an etcd with a longer election timeout
    /// than configured): it is not trusted, and counts as a failed call.
    fn contradicts(&self, ttl_s: u64) -> Option<String> {
        let asked = self.cfg.timing.lease_ttl.as_secs();
        (ttl_s != asked).then(|| {
            format!(
                "the answer names a lease TTL of {ttl_s} s where this node asked for {asked} s \
                 (not etcd's answer, or an etcd whose election timeout exceeds \
                 hb.etcd.election_timeout_ms): not trusted"
            )
        })
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn status(&self, now: Time) -> CoreStatus {
        CoreStatus {
            role: self.role,
            epoch: self.epoch,
            lease: self.lease.map(|l| l.id),
            deadline_left: (self.role == Role::Active)
                .then(|| self.deadline().map(|d| d.saturating_sub(now)))
                .flatten(),
            app_running: self.app_epoch.is_some(),
        }
    }

    /// The instant the active must have stopped its application (the guard's deadline),
    /// while it is active.
    pub fn lease_deadline(&self) -> Option<Time> {
        (self.role == Role::Active)
            .then(|| self.deadline())
            .flatten()
    }

    /// The leader key as the last read showed it; None while no read can be trusted.
    pub fn leader_seen(&self) -> Option<Option<&Leader>> {
        self.view.as_ref().map(|v| v.leader.as_ref())
    }

    /// The maintenance mode of the last read, and whether its key was readable.
    pub fn maint_mode(&self) -> (MaintMode, bool) {
        match self.maint() {
            None => (MaintMode::Off, true),
            Some(Ok(m)) if self.switchover_over(m) => (MaintMode::Off, true),
            Some(Ok(m)) => (m.mode.clone(), true),
            Some(Err(_)) => (MaintMode::Freeze, false),
        }
    }

    /// The latest time the driver should call `step` with `Event::Tick`: the first timer
    /// still ahead of the last step, and no later than a period after it. A timer the last
    /// step already passed waits for an event (a reply, the application gone), so it never
    /// makes the driver wake at once again: without a lease, with etcd down, while fenced
    /// or backing off, the node sleeps until something is due.
    pub fn next_wakeup(&self) -> Time {
        let p = self.period();
        let after = self.last_step;
        let deadline = (self.role == Role::Active)
            .then(|| self.deadline())
            .flatten();
        [
            deadline,
            Some(self.next_grant),
            self.lease.map(|_| self.next_keepalive),
            Some(self.next_read),
            // The early read after a claim or a revoke (see `drive`).
            Some(self.next_read.saturating_sub(p / 2)),
            Some(self.backoff_until),
        ]
        .into_iter()
        .flatten()
        .filter(|t| *t > after)
        .fold(after + p, Time::min)
    }

    fn maint(&self) -> Option<&Result<MaintRecord, String>> {
        self.view.as_ref().and_then(|v| v.maint.as_ref())
    }

    /// Whether maintenance lets this node claim now (and whether it may skip the back-off).
    fn maint_allows_claim(&self) -> Option<bool> {
        match self.maint() {
            None => Some(false),
            Some(Err(_)) => None,
            Some(Ok(m)) if m.drained.contains(&self.cfg.node) => None,
            Some(Ok(m)) if self.switchover_over(m) => Some(false),
            Some(Ok(m)) => match &m.mode {
                MaintMode::Off => Some(false),
                MaintMode::Freeze => None,
                MaintMode::Switchover(to) if *to == self.cfg.node => Some(true),
                MaintMode::Switchover(_) => None,
            },
        }
    }

    pub fn step(&mut self, now: Time, ev: Event) -> Vec<Action> {
        self.last_step = self.last_step.max(now);
        let mut out = Vec::new();
        self.handle(now, ev, &mut out);
        self.drive(now, &mut out);
        out
    }

    fn done(&mut self, call: Call) {
        if self.inflight == Some(call) {
            self.inflight = None;
        }
    }

    fn handle(&mut self, now: Time, ev: Event, out: &mut Vec<Action>) {
        match ev {
            Event::Tick => {}
            Event::Granted { sent, result } => {
                self.done(Call::Grant);
                let result = result.and_then(|(id, ttl_s)| match self.contradicts(ttl_s) {
                    Some(why) => Err(why),
                    None if id == 0 => Err("the answer names no lease ID".into()),
                    None => Ok(id),
                });
                match result {
                    Ok(id) => {
                        self.lease = Some(Lease {
                            id,
                            acked_send: sent,
                        });
                        self.next_keepalive = now + self.period();
                        self.status_put = None;
                    }
                    Err(e) => {
                        self.next_grant = now + self.period();
                        out.push(Action::Alarm(format!("cannot get an etcd lease: {e}")));
                    }
                }
            }
            Event::KeptAlive {
                sent,
                lease,
                result,
            } => {
                self.done(Call::KeepAlive);
                if self.lease.is_none_or(|l| l.id != lease) {
                    return;
                }
                let result = result.and_then(|ttl_s| match self.contradicts(ttl_s) {
                    Some(why) if ttl_s != 0 => Err(why),
                    _ => Ok(ttl_s),
                });
                match result {
                    Ok(0) => {
                        self.lease = None;
                        self.view = None;
                        if self.role == Role::Active {
                            self.fence(format!("etcd says lease {lease:x} is gone"), out);
                        }
                    }
                    Ok(_) => {
                        if let Some(l) = self.lease.as_mut() {
                            l.acked_send = l.acked_send.max(sent);
                        }
                    }
                    Err(e) => {
                        // The deadline decides; the next keepalive is due a period later.
                        if self.role == Role::Active {
                            out.push(Action::Alarm(format!("lease keepalive failed: {e}")));
                        }
                    }
                }
            }
            Event::Read { result } => {
                self.done(Call::Read);
                match result {
                    Ok(view) => self.on_view(now, view, out),
                    Err(_) => self.view = None,
                }
            }
            Event::Claimed { result } => {
                self.done(Call::Claim);
                let epoch = self.claiming.take();
                // Whatever the outcome, only a fresh read tells the state now.
                self.view = None;
                match (result, epoch) {
                    (Ok(true), Some(epoch)) => self.become_active(now, epoch, out),
                    (Ok(false), _) => {
                        let p = self.period();
                        self.backoff_until = now + p + self.jitter(p);
                    }
                    // Unknown outcome: the next read shows whether the key is ours.
                    _ => {}
                }
            }
            Event::Revoked { result } => {
                self.done(Call::Revoke);
                if let Err(e) = result {
                    out.push(Action::Alarm(format!(
                        "cannot revoke the old etcd lease (it expires by itself): {e}"
                    )));
                }
                self.revoke = None;
                self.view = None;
                if self.role == Role::Stopping && self.app_epoch.is_none() {
                    self.role = Role::Standby;
                }
            }
            Event::StatusPut { result } => {
                self.done(Call::Status);
                if result.is_err() {
                    self.status_put = None;
                }
            }
            Event::AppStopped { epoch } => {
                if self.app_epoch == Some(epoch) {
                    self.app_epoch = None;
                    // Standby once the lease is revoked too (or its revoke failed): a
                    // standby's peers may claim at once, and its process may exit.
                    if self.role == Role::Stopping && self.revoke.is_none() {
                        self.role = Role::Standby;
                    }
                }
            }
            Event::AppFailed(why) => {
                if self.role == Role::Active {
                    out.push(Action::Alarm(format!("application failed: {why}")));
                    // Give the others a lease's time to take over before claiming again.
                    self.backoff_until = now + nanos(self.cfg.timing.lease_ttl) + self.period();
                    self.hand_over(format!("application failed: {why}"), out);
                }
            }
            Event::Release => {
                if self.role == Role::Active {
                    self.backoff_until = now + nanos(self.cfg.timing.lease_ttl) + self.period();
                    self.hand_over("released".into(), out);
                }
            }
        }
    }

    fn on_view(&mut self, now: Time, view: View, out: &mut Vec<Action>) {
        self.max_epoch = self.max_epoch.max(view.epoch);
        if let Some(Err(e)) = &view.maint {
            if !self.maint_bad_said {
                out.push(Action::Alarm(format!(
                    "maintenance key unreadable, behaving as FREEZE: {e}"
                )));
                self.maint_bad_said = true;
            }
        } else {
            self.maint_bad_said = false;
        }
        let lease = self.lease.map(|l| l.id);
        let ours = view
            .leader
            .as_ref()
            .is_some_and(|l| Some(l.lease) == lease && l.node == self.cfg.node);
        if let Some(l) = &view.leader {
            self.max_epoch = self.max_epoch.max(l.epoch);
        }
        self.follow_switchover(now, &view, out);
        let switch_away = matches!(&view.maint, Some(Ok(m)) if matches!(m.mode, MaintMode::Switchover(ref to) if *to != self.cfg.node) && !self.switchover_over(m));
        let leader_epoch = view.leader.as_ref().map(|l| l.epoch);
        self.view = Some(view);
        match self.role {
            Role::Active if !ours => {
                self.fence("the leader key is no longer this node's".into(), out);
            }
            Role::Active if switch_away => self.hand_over("switchover".into(), out),
            // A claim whose reply was lost, yet it succeeded.
            Role::Standby if ours && self.app_epoch.is_none() => {
                if let Some(epoch) = leader_epoch {
                    // Only an epoch this node persisted before claiming.
                    if epoch == self.epoch {
                        self.become_active(now, epoch, out);
                    }
                }
            }
            _ => {}
        }
    }
    fn become_active(&mut self, now: Time, epoch: u64, out: &mut Vec<Action>) {
        if self.deadline().is_none_or(|d| now >= d) {
            // The lease may be about to expire: let it go rather than start.
            if let Some(l) = self.lease.take() {
                self.revoke = Some(l.id);
            }
            return;
        }
        self.role = Role::Active;
        self.epoch = epoch;
        self.app_epoch = Some(epoch);
        self.status_put = None;
        out.push(Action::StartApp { epoch });
    }

    /// Stop now: the lease is or may be lost. The lease is revoked once the application is
    /// gone, so no later read can mistake its key for a live term.
    fn fence(&mut self, reason: String, out: &mut Vec<Action>) {
        self.stop_app(reason, true, out);
    }

    /// Stop, then revoke the lease so a peer can claim at once.
    fn hand_over(&mut self, reason: String, out: &mut Vec<Action>) {
        self.stop_app(reason, false, out);
    }

    /// Either way the node is stopping and its lease is revoked once the application is gone.
    fn stop_app(&mut self, reason: String, fence: bool, out: &mut Vec<Action>) {
        self.role = Role::Stopping;
        if let Some(l) = self.lease.take() {
            self.revoke = Some(l.id);
        }
        self.status_put = None;
        out.push(Action::StopApp { reason, fence });
    }
}

#[cfg(test)]
mod tests;
