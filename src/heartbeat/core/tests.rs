//! The core against scripted storage: claims, takeovers, fencing, maintenance.

use super::*;

const MS: u64 = 1_000_000;

fn cfg(node: &str, preferred: bool) -> CoreConfig {
    CoreConfig {
        cluster: "c".into(),
        node: node.into(),
        nodes: vec!["a".into(), "b".into()],
        preferred,
        timing: Timing::fast(),
        incarnation: 7,
        persisted_epoch: 0,
    }
}

fn peer(node: &str, state: NodeState, epoch: u64, seq: u64) -> Vec<u8> {
    NodeRecord {
        cluster: "c".into(),
        node: node.into(),
        incarnation: 9,
        seq,
        state,
        epoch,
        max_epoch: epoch,
        maint_ack: 0,
        period_ms: 100,
        renew_deadline_ms: 800,
        takeover_ms: 1500,
        kill_budget_ms: 300,
        preferred: false,
        wall_ms: 0,
    }
    .encode()
}

fn maint_off() -> Result<Option<MaintRecord>, String> {
    Ok(Some(MaintRecord {
        cluster: "c".into(),
        token: 1,
        mode: MaintMode::Off,
        drained: vec![],
        set_by: "t".into(),
        reason: String::new(),
        wall_ms: 0,
    }))
}

/// Completes everything a node asked for, one millisecond each, in order: reads
/// return `b`'s bytes, writes succeed. Returns the actions and the time reached.
fn serve(
    core: &mut Core,
    now: Time,
    actions: Vec<Action>,
    b: &[u8],
) -> (Vec<(Time, Action)>, Time) {
    let mut all = Vec::new();
    let mut queue: std::collections::VecDeque<Action> = actions.into();
    let mut t = now;
    while let Some(a) = queue.pop_front() {
        assert!(all.len() < 10_000, "the core keeps asking for I/O");
        let (started, ended) = (t, t + MS);
        let ev = match &a {
            Action::ReadNode(n) if n == "b" => Some(Event::NodeRead {
                node: "b".into(),
                started,
                ended,
                result: Ok(b.to_vec()),
            }),
            Action::ReadNode(n) => Some(Event::NodeRead {
                node: n.clone(),
                started,
                ended,
                result: Err("x".into()),
            }),
            Action::ReadMaint => Some(Event::MaintRead {
                started,
                ended,
                result: maint_off(),
            }),
            Action::Write(_) => Some(Event::Written {
                started,
                ended,
                ok: true,
            }),
            _ => None,
        };
        all.push((t, a));
        if let Some(ev) = ev {
            t = ended;
            queue.extend(core.handle(t, ev));
        }
    }
    (all, t)
}

fn run(core: &mut Core, from: Time, to: Time, b: impl Fn(Time) -> Vec<u8>) -> Vec<(Time, Action)> {
    let mut log = Vec::new();
    let mut t = from;
    while t < to {
        let actions = core.handle(t, Event::Tick);
        let (done, reached) = serve(core, t, actions, &b(t));
        log.extend(done);
        t = reached.max(t) + 20 * MS;
    }
    log
}

fn started(log: &[(Time, Action)]) -> Option<(Time, u64)> {
    log.iter().find_map(|(t, a)| match a {
        Action::StartApp { epoch } => Some((*t, *epoch)),
        _ => None,
    })
}

#[test]
fn claims_when_the_peer_is_standby_persisting_the_epoch_first() {
    let mut core = Core::new(cfg("a", true), 0);
    let log = run(&mut core, 0, 1000 * MS, |t| {
        peer("b", NodeState::Standby, 0, t / (100 * MS))
    });
    let (_, epoch) = started(&log).expect("a becomes active");
    assert_eq!(epoch, 1);
    let persist = log
        .iter()
        .position(|(_, a)| *a == Action::PersistEpoch(1))
        .unwrap();
    let claim = log
        .iter()
        .position(|(_, a)| matches!(a, Action::Write(r) if r.state == NodeState::Claiming))
        .unwrap();
    assert!(
        persist < claim,
        "the epoch reaches local disk before the shared one"
    );
    assert_eq!(core.role(), Role::Active);
}

#[test]
fn a_live_active_peer_is_never_challenged() {
    let mut core = Core::new(cfg("a", true), 0);
    // The peer's record changes every period: alive.
    let log = run(&mut core, 0, 10_000 * MS, |t| {
        peer("b", NodeState::Active, 4, t / (100 * MS))
    });
    assert_eq!(started(&log), None);
    assert!(
        !log.iter()
            .any(|(_, a)| matches!(a, Action::Write(r) if r.state != NodeState::Standby))
    );
}

#[test]
fn a_dead_active_peer_is_taken_over_after_the_takeover_time_with_a_higher_epoch() {
    let mut core = Core::new(cfg("a", true), 0);
    let frozen = peer("b", NodeState::Active, 4, 99);
    let log = run(&mut core, 0, 5000 * MS, |_| frozen.clone());
    let (t, epoch) = started(&log).expect("takeover");
    assert!(t >= 1500 * MS, "not before the takeover time: {t}");
    assert_eq!(epoch, 5);
}

#[test]
fn an_unreadable_peer_is_never_taken_for_dead() {
    let mut core = Core::new(cfg("a", true), 0);
    let mut t = 0;
    while t < 10_000 * MS {
        let actions = core.handle(t, Event::Tick);
        for a in actions {
            let ev = match a {
                Action::ReadNode(n) => Event::NodeRead {
                    node: n,
                    started: t,
                    ended: t,
                    result: Err("ESTALE".into()),
                },
                Action::ReadMaint => Event::MaintRead {
                    started: t,
                    ended: t,
                    result: maint_off(),
                },
                Action::Write(_) => Event::Written {
                    started: t,
                    ended: t,
                    ok: true,
                },
                Action::StartApp { .. } => panic!("started with an unreadable peer"),
                _ => continue,
            };
            core.handle(t, ev);
        }
        t += 50 * MS;
    }
    assert_eq!(core.role(), Role::Standby);
}

#[test]
fn the_active_fences_itself_at_its_deadline_and_a_late_write_does_not_revive_it() {
    let mut core = Core::new(cfg("a", true), 0);
    run(&mut core, 0, 1000 * MS, |t| {
        peer("b", NodeState::Standby, 0, t / (100 * MS))
    });
    assert_eq!(core.role(), Role::Active);
    let deadline = core.deadline().unwrap();
    // Storage hangs: writes never come back.
    let mut t = 1000 * MS;
    let mut stopped = None;
    while t < deadline + 100 * MS {
        for a in core.handle(t, Event::Tick) {
            if let Action::StopApp { fence, .. } = a {
                stopped = Some((t, fence));
            }
        }
        t += 10 * MS;
    }
    let (at, fence) = stopped.expect("self-fencing");
    assert!(at >= deadline && at < deadline + 20 * MS);
    assert!(fence);
    // The hung write finally reports success, after the deadline: nothing revives.
    let actions = core.handle(
        t,
        Event::Written {
            started: deadline - 300 * MS,
            ended: t,
            ok: true,
        },
    );
    assert!(!actions.iter().any(|a| matches!(a, Action::StartApp { .. })));
    assert_ne!(core.role(), Role::Active);
    assert_eq!(core.deadline(), None);
}

#[test]
fn freeze_blocks_a_takeover() {
    let mut core = Core::new(cfg("a", true), 0);
    let frozen = peer("b", NodeState::Active, 4, 99);
    let mut t = 0;
    while t < 5000 * MS {
        for a in core.handle(t, Event::Tick) {
            let ev = match a {
                Action::ReadNode(n) if n == "b" => Event::NodeRead {
                    node: n,
                    started: t,
                    ended: t,
                    result: Ok(frozen.clone()),
                },
                Action::ReadNode(n) => Event::NodeRead {
                    node: n,
                    started: t,
                    ended: t,
                    result: Err("x".into()),
                },
                Action::ReadMaint => {
                    let mut m = maint_off().unwrap().unwrap();
                    m.mode = MaintMode::Freeze;
                    Event::MaintRead {
                        started: t,
                        ended: t,
                        result: Ok(Some(m)),
                    }
                }
                Action::Write(_) => Event::Written {
                    started: t,
                    ended: t,
                    ok: true,
                },
                Action::StartApp { .. } => panic!("took over while frozen"),
                _ => continue,
            };
            core.handle(t, ev);
        }
        t += 50 * MS;
    }
}

#[test]
fn two_claimers_that_see_each_other_both_back_off() {
    let mut core = Core::new(cfg("a", true), 0);
    // b claims at the same time: its record says CLAIMING and changes.
    let log = run(&mut core, 0, 300 * MS, |t| {
        if t < 20 * MS {
            peer("b", NodeState::Standby, 0, 1)
        } else {
            peer("b", NodeState::Claiming, 1, t / (20 * MS))
        }
    });
    assert_eq!(started(&log), None);
    assert!(
        log.iter()
            .any(|(_, a)| matches!(a, Action::Alarm(m) if m.contains("contended")))
    );
}

fn timed_peer(state: NodeState, epoch: u64, seq: u64, f1: u32, k: u32) -> Vec<u8> {
    let mut r = NodeRecord::decode(&peer("b", state, epoch, seq), "c").unwrap();
    r.renew_deadline_ms = f1;
    r.kill_budget_ms = k;
    r.encode()
}

fn alarms(log: &[(Time, Action)]) -> Vec<String> {
    log.iter()
        .filter_map(|(_, a)| match a {
            Action::Alarm(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_holder_with_a_longer_fence_is_waited_for_by_its_own_timing_loudly() {
    // b: F1 4000 ms, K 1000 ms (period 100 ms); a: the fast profile, D 1500 ms.
    let need = Timing::takeover_needed(
        Duration::from_millis(4000),
        Duration::from_millis(1000),
        Duration::from_millis(100),
    );
    assert!(need > Duration::from_millis(5000), "{need:?}");
    let mut core = Core::new(cfg("a", true), 0);
    let frozen = timed_peer(NodeState::Active, 4, 99, 4000, 1000);
    let log = run(&mut core, 0, 9000 * MS, |_| frozen.clone());
    let (t, epoch) = started(&log).expect("takeover once b's own fence is over");
    assert!(
        t >= need.as_nanos() as u64,
        "took over at {} ms, before b's application is surely gone ({need:?})",
        t / MS
    );
    assert_eq!(epoch, 5);
    let said = alarms(&log);
    assert!(
        said.iter().any(|m| m.contains("hb.renew_deadline_ms=4000")
            && m.contains("hb.kill_budget_ms=1000")
            && m.contains(&format!("{} ms", need.as_millis()))),
        "{said:?}"
    );
}

#[test]
fn a_stale_application_report_of_an_earlier_term_is_ignored() {
    // The daemon learns late that the application of an earlier epoch stopped, after
    // the application of the current epoch started: nothing may be released.
    let mut c = cfg("a", true);
    c.persisted_epoch = 2;
    let mut core = Core::new(c, 0);
    run(&mut core, 0, 1000 * MS, |t| {
        peer("b", NodeState::Standby, 0, t / (100 * MS))
    });
    assert_eq!((core.role(), core.app_epoch()), (Role::Active, Some(3)));
    let out = core.handle(1000 * MS, Event::AppStopped { epoch: 2 });
    assert!(
        !out.iter()
            .any(|a| matches!(a, Action::StopApp { .. } | Action::Write(_))),
        "{out:?}"
    );
    assert!(alarms(&out.into_iter().map(|a| (0, a)).collect::<Vec<_>>())[0].contains("stale"));
    assert_eq!(core.role(), Role::Active);
    assert!(core.app_running());
    // The report about this term's application is acted on.
    core.handle(1001 * MS, Event::AppStopped { epoch: 3 });
    assert_ne!(core.role(), Role::Active);
    assert!(!core.app_running());
}

#[test]
fn a_record_garbled_before_it_was_ever_read_blocks_a_claim_its_epoch_being_unknown() {
    // b claimed epoch 7 and its record was garbled in the used part before a started.
    let mut bytes = peer("b", NodeState::Active, 7, 3);
    bytes[100] ^= 0xff;
    let mut core = Core::new(cfg("a", true), 0);
    let log = run(&mut core, 0, 6000 * MS, |_| bytes.clone());
    assert_eq!(started(&log), None, "claimed over an unknown epoch");
    assert!(
        alarms(&log)
            .iter()
            .any(|m| m.contains("its epoch is unknown")),
        "{:?}",
        alarms(&log)
    );
}

#[test]
fn a_record_damaged_only_after_its_crc_still_tells_the_epoch() {
    // Garbage in the zero tail: the record is not trusted, but the epoch its checked
    // part holds is learned, so the takeover uses a higher one.
    let mut bytes = peer("b", NodeState::Active, 7, 3);
    bytes[3000] ^= 0xff;
    let mut core = Core::new(cfg("a", true), 0);
    let log = run(&mut core, 0, 6000 * MS, |_| bytes.clone());
    let (_, epoch) = started(&log).expect("takeover of a dead node");
    assert_eq!(epoch, 8);
}

/// Ticks every 20 ms from `from` to `to`, answering every action at once with
/// `answer` (None: nothing comes back), and logs every action.
fn drive(
    core: &mut Core,
    from: Time,
    to: Time,
    mut answer: impl FnMut(Time, &Action) -> Option<Event>,
) -> Vec<(Time, Action)> {
    let mut log = Vec::new();
    let mut t = from;
    while t < to {
        let mut queue: std::collections::VecDeque<Action> = core.handle(t, Event::Tick).into();
        while let Some(a) = queue.pop_front() {
            assert!(log.len() < 1_000_000, "the core keeps asking");
            if let Some(ev) = answer(t, &a) {
                queue.extend(core.handle(t, ev));
            }
            log.push((t, a));
        }
        t += 20 * MS;
    }
    log
}

fn read_ok(node: &str, t: Time, bytes: Vec<u8>) -> Option<Event> {
    Some(Event::NodeRead {
        node: node.into(),
        started: t,
        ended: t,
        result: Ok(bytes),
    })
}

fn written(t: Time) -> Option<Event> {
    Some(Event::Written {
        started: t,
        ended: t,
        ok: true,
    })
}

#[test]
fn an_unreadable_maintenance_record_readable_again_restarts_the_window() {
    let mut core = Core::new(cfg("a", true), 0);
    let frozen = peer("b", NodeState::Active, 4, 99);
    // Unreadable (FREEZE) for the first 2 s, then OFF.
    let log = drive(&mut core, 0, 6000 * MS, |t, a| match a {
        Action::ReadNode(n) if n == "b" => read_ok(n, t, frozen.clone()),
        Action::ReadNode(n) => Some(Event::NodeRead {
            node: n.clone(),
            started: t,
            ended: t,
            result: Err("x".into()),
        }),
        Action::ReadMaint => Some(Event::MaintRead {
            started: t,
            ended: t,
            result: if t < 2000 * MS {
                Err("EIO".into())
            } else {
                maint_off()
            },
        }),
        Action::Write(_) => written(t),
        _ => None,
    });
    let (at, _) = started(&log).expect("takeover after a whole window");
    assert!(
        at >= 3500 * MS,
        "took over {} ms after the record became readable: frozen time counted",
        (at - 2000 * MS) / MS
    );
}

#[test]
fn a_node_that_saw_another_writer_claims_again_once_it_is_gone_for_the_takeover_time() {
    let mut core = Core::new(cfg("a", true), 0);
    let mut own: Option<Vec<u8>> = None;
    let mut stopped = None;
    let foreign = peer("a", NodeState::Standby, 0, 1);
    // b is a live standby throughout; a second writer owns a's record from 300 ms to
    // 1500 ms. a claims at once, stops when it sees the other writer, and may claim again
    // only once its record has been its own for the takeover time (1500 ms).
    let log = drive(&mut core, 0, 6000 * MS, |t, a| match a {
        Action::ReadNode(n) if n == "b" => {
            read_ok(n, t, peer("b", NodeState::Standby, 0, t / (100 * MS)))
        }
        Action::ReadNode(n) if (300 * MS..1500 * MS).contains(&t) => read_ok(n, t, foreign.clone()),
        Action::ReadNode(n) => Some(Event::NodeRead {
            node: n.clone(),
            started: t,
            ended: t,
            result: own.clone().ok_or_else(|| "ENOENT".to_string()),
        }),
        Action::ReadMaint => Some(Event::MaintRead {
            started: t,
            ended: t,
            result: maint_off(),
        }),
        Action::Write(r) => {
            own = Some(r.encode());
            written(t)
        }
        Action::StopApp { .. } => {
            stopped = Some(t);
            Some(Event::AppStopped { epoch: 1 })
        }
        _ => None,
    });
    let said = alarms(&log);
    assert!(
        said.iter().any(|m| m.contains("another writer")),
        "{said:?}"
    );
    assert!(stopped.is_some_and(|t| t < 1500 * MS), "{stopped:?}");
    assert!(
        said.iter().any(|m| m.contains("claiming is allowed again")),
        "{said:?}"
    );
    let again: Vec<Time> = log
        .iter()
        .filter_map(|(t, a)| matches!(a, Action::StartApp { .. }).then_some(*t))
        .collect();
    assert!(
        again.len() == 2 && again[1] >= 3000 * MS,
        "starts at {again:?}"
    );
}

fn maint(token: u64, mode: MaintMode) -> Result<Option<MaintRecord>, String> {
    Ok(Some(MaintRecord {
        cluster: "c".into(),
        token,
        mode,
        drained: vec![],
        set_by: "t".into(),
        reason: String::new(),
        wall_ms: 0,
    }))
}

/// `b`'s record as it acted on maintenance token `ack`.
fn peer_acked(state: NodeState, epoch: u64, seq: u64, ack: u64) -> Vec<u8> {
    let mut r = NodeRecord::decode(&peer("b", state, epoch, seq), "c").unwrap();
    r.maint_ack = ack;
    r.encode()
}

/// Node a, active from the start, is asked at 1 s to switch over to b (token 2); `b_at`
/// gives b's record over time. Returns the log.
fn switch_over_to_b(to: Time, b_at: impl Fn(Time) -> Vec<u8>) -> Vec<(Time, Action)> {
    let mut core = Core::new(cfg("a", true), 0);
    drive(&mut core, 0, to, |t, a| match a {
        Action::ReadNode(n) if n == "b" => read_ok(n, t, b_at(t)),
        Action::ReadNode(n) => Some(Event::NodeRead {
            node: n.clone(),
            started: t,
            ended: t,
            result: Err("x".into()),
        }),
        Action::ReadMaint => Some(Event::MaintRead {
            started: t,
            ended: t,
            result: if t < 1000 * MS {
                maint_off()
            } else {
                maint(2, MaintMode::Switchover("b".into()))
            },
        }),
        Action::Write(_) => written(t),
        Action::StopApp { .. } => Some(Event::AppStopped { epoch: 1 }),
        _ => None,
    })
}

fn starts(log: &[(Time, Action)]) -> Vec<(Time, u64)> {
    log.iter()
        .filter_map(|(t, a)| match a {
            Action::StartApp { epoch } => Some((*t, *epoch)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_switchover_ends_once_its_node_is_active_so_its_death_is_failed_over() {
    // b: standby until 1.5 s, then active under the switchover until it dies at 3 s.
    let log = switch_over_to_b(8000 * MS, |t| match t {
        t if t < 1500 * MS => peer_acked(NodeState::Standby, 0, t / (100 * MS), 1),
        t if t < 3000 * MS => peer_acked(NodeState::Active, 2, t / (100 * MS), 2),
        _ => peer_acked(NodeState::Active, 2, 30, 2),
    });
    let said = alarms(&log);
    assert!(
        said.iter().any(|m| m.starts_with("switchover to b done")),
        "{said:?}"
    );
    let starts = starts(&log);
    assert_eq!(starts.len(), 2, "{starts:?}\n{said:?}");
    let (t, epoch) = starts[1];
    // b's record unchanged since 3 s: a takes over after the takeover time, not before.
    assert!(t >= 4500 * MS && t < 3000 * MS + Timing::fast().failover_bound().as_nanos() as u64);
    assert_eq!(epoch, 3);
}

#[test]
fn a_switchover_whose_node_never_becomes_active_is_abandoned_after_the_failover_bound() {
    // b stays a live standby that never claims (drained, say).
    let log = switch_over_to_b(8000 * MS, |t| {
        peer_acked(NodeState::Standby, 0, t / (100 * MS), 2)
    });
    let said = alarms(&log);
    let bound = Timing::fast().failover_bound().as_nanos() as u64;
    let abandoned = log
        .iter()
        .find_map(|(t, a)| {
            matches!(a, Action::Alarm(m) if m.starts_with("switchover to b abandoned"))
                .then_some(*t)
        })
        .unwrap_or_else(|| panic!("never abandoned: {said:?}"));
    assert!(abandoned >= 1000 * MS + bound, "abandoned at {abandoned}");
    assert!(
        abandoned <= 1000 * MS + bound + 200 * MS,
        "abandoned at {abandoned}"
    );
    let starts = starts(&log);
    assert_eq!(starts.len(), 2, "{starts:?}\n{said:?}");
    assert!(
        starts[1].0 >= abandoned && starts[1].0 < abandoned + 1000 * MS,
        "{starts:?}"
    );
}

/// Two nodes, neither preferred, start together and draw the same back-off jitter (same
/// incarnation): every claim they make collides, each reading the other's CLAIMING record.
/// The rank of a collision lets the first one through on its next claim; equal back-offs
/// alone would keep them colliding for ever. I/O takes 30 ms; reads see the other's record
/// as it is when they end.
#[test]
fn two_claims_that_keep_colliding_are_resolved_by_rank_not_by_luck() {
    const IO: Time = 30 * MS;
    let names = ["a", "b"];
    let mut cores = names.map(|n| Core::new(cfg(n, false), 0));
    let mut records = [0, 1].map(|i| peer(names[i], NodeState::Standby, 0, 0));
    // Per node: I/O in flight, (ends, what it was).
    let mut inflight: [Vec<(Time, Action)>; 2] = [Vec::new(), Vec::new()];
    let mut started: [Option<(Time, u64)>; 2] = [None, None];
    let mut t = 0;
    while t < 3000 * MS && started.iter().all(Option::is_none) {
        for i in 0..2 {
            let mut actions = cores[i].handle(t, Event::Tick);
            let (done, busy): (Vec<_>, Vec<_>) = std::mem::take(&mut inflight[i])
                .into_iter()
                .partition(|(end, _)| *end <= t);
            inflight[i] = busy;
            for (_, a) in done {
                let ev = match a {
                    Action::ReadNode(node) => Event::NodeRead {
                        node,
                        started: t - IO,
                        ended: t,
                        result: Ok(records[1 - i].clone()),
                    },
                    Action::ReadMaint => Event::MaintRead {
                        started: t - IO,
                        ended: t,
                        result: maint_off(),
                    },
                    Action::Write(r) => {
                        records[i] = r.encode();
                        Event::Written {
                            started: t - IO,
                            ended: t,
                            ok: true,
                        }
                    }
                    _ => unreachable!(),
                };
                actions.extend(cores[i].handle(t, ev));
            }
            for a in actions {
                match a {
                    Action::ReadNode(_) | Action::ReadMaint | Action::Write(_) => {
                        inflight[i].push((t + IO, a))
                    }
                    Action::StartApp { epoch } => started[i] = Some((t, epoch)),
                    _ => {}
                }
            }
        }
        t += 10 * MS;
    }
    let collided = records
        .iter()
        .all(|r| NodeRecord::decode(r, "c").unwrap().epoch >= 1);
    assert!(
        collided,
        "the claims did not collide: the test proves nothing"
    );
    match started {
        [Some((_, epoch)), None] => assert!(epoch >= 2, "a won its first claim: no collision"),
        other => panic!("a, first by name, should have started alone within 3 s: {other:?}"),
    }
}

#[test]
fn an_epoch_at_the_top_of_its_range_is_never_claimed_past_and_said_once() {
    // A standby peer whose record holds the top epoch: no claim, one alarm naming it.
    let mut core = Core::new(cfg("a", true), 0);
    let log = run(&mut core, 0, 5000 * MS, |t| {
        peer("b", NodeState::Standby, u64::MAX, t / (100 * MS))
    });
    assert_eq!(started(&log), None);
    // (The epoch read is persisted, as every epoch seen is; no record ever claims.)
    assert!(
        !log.iter()
            .any(|(_, a)| matches!(a, Action::Write(r) if r.state != NodeState::Standby)),
        "{log:?}"
    );
    let said: Vec<String> = alarms(&log)
        .into_iter()
        .filter(|m| m.contains("epoch exhausted"))
        .collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("node b") && said[0].contains("18446744073709551615"),
        "{said:?}"
    );
    // The top persisted by this node itself.
    let mut c = cfg("a", true);
    c.persisted_epoch = u64::MAX;
    let mut core = Core::new(c, 0);
    let log = run(&mut core, 0, 2000 * MS, |t| {
        peer("b", NodeState::Standby, 0, t / (100 * MS))
    });
    assert_eq!(started(&log), None);
    assert!(
        alarms(&log)
            .iter()
            .any(|m| m.contains("epoch exhausted: this node's")),
        "{log:?}"
    );
    // One below the top: the top itself is still claimed.
    let mut core = Core::new(cfg("a", true), 0);
    let log = run(&mut core, 0, 2000 * MS, |t| {
        peer("b", NodeState::Standby, u64::MAX - 1, t / (100 * MS))
    });
    assert_eq!(started(&log).map(|s| s.1), Some(u64::MAX));
}
