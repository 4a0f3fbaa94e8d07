use super::*;

const MS: u64 = 1_000_000;

fn timing() -> EtcdTiming {
    EtcdTiming {
        period: Duration::from_millis(500),
        io_timeout: Duration::from_millis(400),
        lease_ttl: Duration::from_secs(3),
        kill_budget: Duration::from_millis(500),
        election_timeout: Duration::from_millis(500),
        heartbeat_interval: Duration::from_millis(50),
    }
}

fn core(node: &str, preferred: bool) -> Core {
    let cfg = CoreConfig {
        node: node.into(),
        preferred,
        timing: timing(),
        incarnation: 7,
        persisted_epoch: 4,
    };
    Core::new(cfg, 0)
}

fn view(leader: Option<Leader>, maint: Option<MaintRecord>) -> View {
    View {
        leader,
        epoch: 9,
        epoch_rev: 33,
        maint: maint.map(Ok),
    }
}

fn maint(mode: MaintMode, drained: &[&str]) -> MaintRecord {
    MaintRecord {
        cluster: "c".into(),
        token: 1,
        mode,
        drained: drained.iter().map(|s| s.to_string()).collect(),
        set_by: "op".into(),
        reason: "test".into(),
        wall_ms: 0,
    }
}

/// Grants a lease (sent at `now`), then answers the read with `v`; returns the actions
/// after the read.
fn granted_then_read(c: &mut Core, now: Time, v: View) -> Vec<Action> {
    assert_eq!(
        c.step(now, Event::Tick),
        vec![Action::GrantLease { ttl_s: 3 }]
    );
    let a = c.step(
        now + MS,
        Event::Granted {
            sent: now,
            result: Ok((0x11, 3)),
        },
    );
    assert_eq!(a, vec![Action::Read]);
    c.step(now + 2 * MS, Event::Read { result: Ok(v) })
}

#[test]
fn claims_an_absent_key_with_the_next_epoch_persisted_first_and_starts() {
    let mut c = core("a", true);
    let a = granted_then_read(&mut c, 0, view(None, None));
    // Epoch above both the counter (9) and what this node persisted (4).
    assert_eq!(
        a,
        vec![
            Action::PersistEpoch(10),
            Action::Claim {
                lease: 0x11,
                epoch: 10,
                epoch_rev: 33
            }
        ]
    );
    let a = c.step(3 * MS, Event::Claimed { result: Ok(true) });
    assert_eq!(a[0], Action::StartApp { epoch: 10 });
    assert_eq!(c.role(), Role::Active);
}

#[test]
fn the_active_fences_at_f1_after_the_send_of_its_last_acknowledged_keepalive() {
    let mut c = core("a", true);
    granted_then_read(&mut c, 0, view(None, None));
    c.step(3 * MS, Event::Claimed { result: Ok(true) });
    // A keepalive sent at 500 ms and acknowledged at 900 ms moves the deadline to
    // 500 + F1, not 900 + F1.
    let f1 = timing().renew_deadline_for(Duration::from_secs(3)).unwrap();
    let f1 = f1.as_nanos() as u64;
    c.step(500 * MS, Event::Tick);
    c.step(
        900 * MS,
        Event::KeptAlive {
            sent: 500 * MS,
            lease: 0x11,
            result: Ok(3),
        },
    );
    assert_eq!(
        c.status(900 * MS).deadline_left,
        Some(500 * MS + f1 - 900 * MS)
    );
    let before = c.step(500 * MS + f1 - 1, Event::Tick);
    assert!(
        !before.iter().any(|a| matches!(a, Action::StopApp { .. })),
        "{before:?}"
    );
    let at = c.step(500 * MS + f1, Event::Tick);
    assert!(
        at.iter()
            .any(|a| matches!(a, Action::StopApp { fence: true, .. })),
        "{at:?}"
    );
    // The lease is revoked only once the application is gone.
    assert!(!at.iter().any(|a| matches!(a, Action::Revoke { .. })));
    let a = c.step(500 * MS + f1 + MS, Event::Revoked { result: Ok(()) });
    assert!(!a.iter().any(|a| matches!(a, Action::Revoke { .. })));
}

#[test]
fn a_lease_etcd_calls_gone_fences_the_active_at_once() {
    let mut c = core("a", true);
    granted_then_read(&mut c, 0, view(None, None));
    c.step(3 * MS, Event::Claimed { result: Ok(true) });
    c.step(500 * MS, Event::Tick);
    let a = c.step(
        510 * MS,
        Event::KeptAlive {
            sent: 500 * MS,
            lease: 0x11,
            result: Ok(0),
        },
    );
    assert!(matches!(a[0], Action::StopApp { fence: true, .. }), "{a:?}");
}

#[test]
fn freeze_drain_and_a_switchover_to_another_node_keep_a_standby_from_claiming() {
    for m in [
        maint(MaintMode::Freeze, &[]),
        maint(MaintMode::Off, &["a"]),
        maint(MaintMode::Switchover("b".into()), &[]),
    ] {
        let mut c = core("a", true);
        let a = granted_then_read(&mut c, 0, view(None, Some(m.clone())));
        assert!(
            !a.iter().any(|a| matches!(a, Action::Claim { .. })),
            "{m:?}: {a:?}"
        );
    }
    // An unreadable maintenance key counts as FREEZE, with an alarm.
    let mut c = core("a", true);
    let mut v = view(None, None);
    v.maint = Some(Err("bad checksum".into()));
    let a = granted_then_read(&mut c, 0, v);
    assert!(
        matches!(&a[0], Action::Alarm(m) if m.contains("FREEZE")),
        "{a:?}"
    );
    assert!(!a.iter().any(|a| matches!(a, Action::Claim { .. })));
}

#[test]
fn the_switchover_target_claims_without_waiting_out_its_back_off() {
    let mut c = core("b", false);
    let a = granted_then_read(
        &mut c,
        0,
        view(None, Some(maint(MaintMode::Switchover("b".into()), &[]))),
    );
    assert!(a.iter().any(|a| matches!(a, Action::Claim { .. })), "{a:?}");
    // Without the switchover, a node that is not preferred waits its back-off.
    let mut c = core("b", false);
    let a = granted_then_read(&mut c, 0, view(None, None));
    assert!(
        !a.iter().any(|a| matches!(a, Action::Claim { .. })),
        "{a:?}"
    );
}

#[test]
fn the_active_hands_over_on_a_switchover_to_another_node_and_revokes_after_the_stop() {
    let mut c = core("a", true);
    granted_then_read(&mut c, 0, view(None, None));
    c.step(3 * MS, Event::Claimed { result: Ok(true) });
    let ours = Leader {
        node: "a".into(),
        epoch: 10,
        lease: 0x11,
    };
    c.step(500 * MS, Event::Tick); // keepalive
    c.step(
        510 * MS,
        Event::KeptAlive {
            sent: 500 * MS,
            lease: 0x11,
            result: Ok(3),
        },
    );
    let a = c.step(
        520 * MS,
        Event::Read {
            result: Ok(view(
                Some(ours),
                Some(maint(MaintMode::Switchover("b".into()), &[])),
            )),
        },
    );
    assert!(
        matches!(a[0], Action::StopApp { fence: false, .. }),
        "{a:?}"
    );
    let a = c.step(700 * MS, Event::AppStopped { epoch: 10 });
    assert_eq!(a, vec![Action::Revoke { lease: 0x11 }]);
    // Standby only once the lease is gone: its process may exit then, and the target claims.
    assert_eq!(c.role(), Role::Stopping);
    c.step(710 * MS, Event::Revoked { result: Ok(()) });
    assert_eq!(c.role(), Role::Standby);
}

#[test]
fn a_revoke_that_fails_still_ends_the_stop() {
    let mut c = core("a", true);
    granted_then_read(&mut c, 0, view(None, None));
    let a = c.step(3 * MS, Event::Claimed { result: Ok(true) });
    assert!(matches!(a[0], Action::StartApp { .. }), "{a:?}");
    let epoch = c.status(3 * MS).epoch;
    let a = c.step(4 * MS, Event::Release);
    assert!(
        matches!(a[0], Action::StopApp { fence: false, .. }),
        "{a:?}"
    );
    let a = c.step(5 * MS, Event::AppStopped { epoch });
    assert!(matches!(a[..], [Action::Revoke { .. }]), "{a:?}");
    assert_eq!(c.role(), Role::Stopping);
    let a = c.step(
        800 * MS,
        Event::Revoked {
            result: Err("timed out".into()),
        },
    );
    assert!(
        matches!(&a[0], Action::Alarm(m) if m.contains("expires by itself")),
        "{a:?}"
    );
    assert_eq!(c.role(), Role::Standby);
}

#[test]
fn a_claim_whose_reply_was_lost_is_adopted_only_with_this_nodes_lease_and_epoch() {
    let mut c = core("a", true);
    granted_then_read(&mut c, 0, view(None, None));
    let a = c.step(
        400 * MS,
        Event::Claimed {
            result: Err("timed out".into()),
        },
    );
    assert_eq!(a, vec![Action::Read]);
    // Another lease with this node's name (a previous run of it) is not ours.
    let old = Leader {
        node: "a".into(),
        epoch: 10,
        lease: 0x99,
    };
    let a = c.step(
        410 * MS,
        Event::Read {
            result: Ok(view(Some(old), None)),
        },
    );
    assert!(
        !a.iter().any(|a| matches!(a, Action::StartApp { .. })),
        "{a:?}"
    );
    let ours = Leader {
        node: "a".into(),
        epoch: 10,
        lease: 0x11,
    };
    let a = c.step(
        420 * MS,
        Event::Read {
            result: Ok(view(Some(ours), None)),
        },
    );
    assert_eq!(a[0], Action::StartApp { epoch: 10 });
}

#[test]
fn the_active_fences_when_the_leader_key_is_no_longer_its_own() {
    let mut c = core("a", true);
    granted_then_read(&mut c, 0, view(None, None));
    c.step(3 * MS, Event::Claimed { result: Ok(true) });
    let a = c.step(
        10 * MS,
        Event::Read {
            result: Ok(view(None, None)),
        },
    );
    assert!(matches!(a[0], Action::StopApp { fence: true, .. }), "{a:?}");
}

#[test]
fn an_answer_naming_another_ttl_grants_no_lease_and_extends_no_deadline() {
    // A grant "of 9000000000 s" is no lease: alarmed, asked again a period later.
    let mut c = core("a", true);
    c.step(0, Event::Tick);
    let a = c.step(
        MS,
        Event::Granted {
            sent: 0,
            result: Ok((0x11, 9_000_000_000)),
        },
    );
    assert!(
        matches!(&a[..], [Action::Alarm(m)] if m.contains("9000000000 s") && m.contains("not trusted")),
        "{a:?}"
    );
    assert_eq!(c.status(MS).lease, None);
    assert_eq!(c.next_wakeup(), MS + 500 * MS);
    // Nor is a grant without an ID.
    let a = c.step(
        501 * MS,
        Event::Granted {
            sent: 500 * MS,
            result: Ok((0, 3)),
        },
    );
    assert_eq!(c.status(501 * MS).lease, None, "{a:?}");

    // An active whose keepalives come back inflated keeps the deadline of its last
    // trustworthy acknowledgement, and fences there.
    let mut c = core("a", true);
    granted_then_read(&mut c, 0, view(None, None));
    c.step(3 * MS, Event::Claimed { result: Ok(true) });
    let f1 = timing().renew_deadline_for(Duration::from_secs(3)).unwrap();
    let f1 = f1.as_nanos() as u64;
    let mut t = 500 * MS;
    let mut fenced = None;
    while t < 10_000 * MS && fenced.is_none() {
        for a in c.step(t, Event::Tick) {
            match a {
                Action::KeepAlive { lease } => {
                    let a = c.step(
                        t + MS,
                        Event::KeptAlive {
                            sent: t,
                            lease,
                            result: Ok(9_000_000_000),
                        },
                    );
                    assert!(
                        a.iter()
                            .any(|a| matches!(a, Action::Alarm(m) if m.contains("not trusted"))),
                        "{a:?}"
                    );
                }
                Action::StopApp { fence: true, .. } => fenced = Some(t),
                _ => {}
            }
        }
        t = c.next_wakeup();
    }
    // Granted (sent at 0): the deadline is F1 after that send, whatever came since.
    assert_eq!(fenced, Some(f1), "fenced at {fenced:?}, F1 {f1}");
}

/// Drives `c` from `from` for `span` ns the way the backend does: a tick at each wake-up,
/// every etcd call failing 1 ms after it is sent, the application gone 1 ms after its stop.
/// Returns how many times the node woke.
fn wakeups_with_etcd_failing(c: &mut Core, from: Time, span: u64) -> usize {
    fn e<T>() -> Result<T, String> {
        Err("connect: refused".to_string())
    }
    let mut t = from;
    let mut wakes = 0;
    let mut pending = vec![Event::Tick];
    while t < from + span {
        for ev in std::mem::take(&mut pending) {
            for a in c.step(t, ev) {
                pending.push(match a {
                    Action::GrantLease { .. } => Event::Granted {
                        sent: t,
                        result: e(),
                    },
                    Action::KeepAlive { lease } => Event::KeptAlive {
                        sent: t,
                        lease,
                        result: e(),
                    },
                    Action::Read => Event::Read { result: e() },
                    Action::Claim { .. } => Event::Claimed { result: e() },
                    Action::Revoke { .. } => Event::Revoked { result: e() },
                    Action::PutStatus { .. } => Event::StatusPut { result: e() },
                    Action::StopApp { .. } => Event::AppStopped {
                        epoch: c.status(t).epoch,
                    },
                    _ => continue,
                });
            }
        }
        if pending.is_empty() {
            let next = c.next_wakeup();
            assert!(next > t, "woke at {t}, next wake-up {next}: a busy loop");
            t = next;
            wakes += 1;
            pending.push(Event::Tick);
        } else {
            t += MS;
        }
    }
    wakes
}

#[test]
fn without_etcd_a_standby_and_a_fenced_node_wake_a_few_times_a_period() {
    let p = timing().period.as_nanos() as u64;
    let span = 10_000 * MS;
    let most = 3 * (span / p) as usize;
    let mut c = core("b", false);
    let wakes = wakeups_with_etcd_failing(&mut c, 0, span);
    assert!(
        wakes <= most,
        "a standby without etcd woke {wakes} times in 10 s"
    );
    assert_eq!(c.status(span).lease, None);

    // An active cut off from etcd: it fences at its deadline, then neither its revoke nor
    // its grants get through.
    let mut c = core("a", true);
    granted_then_read(&mut c, 0, view(None, None));
    c.step(3 * MS, Event::Claimed { result: Ok(true) });
    let wakes = wakeups_with_etcd_failing(&mut c, 4 * MS, span);
    assert_eq!(c.role(), Role::Standby);
    assert!(
        wakes <= most,
        "a fenced node without etcd woke {wakes} times in 10 s"
    );
}

#[test]
fn an_epoch_at_the_top_of_its_range_is_never_claimed_past_and_said_once() {
    let mut c = core("a", true);
    let mut v = view(None, None);
    v.epoch = u64::MAX;
    let a = granted_then_read(&mut c, 0, v.clone());
    assert_eq!(
        a,
        vec![
            Action::EpochExhausted {
                top: u64::MAX,
                in_key: true
            },
            Action::PutStatus {
                lease: 0x11,
                status: c.status_text()
            }
        ]
    );
    c.step(3 * MS, Event::StatusPut { result: Ok(()) });
    // Later reads: no claim, no second alarm.
    for k in 1..5u64 {
        let t = k * 500 * MS;
        c.step(t, Event::Tick);
        c.step(
            t + MS,
            Event::KeptAlive {
                sent: t,
                lease: 0x11,
                result: Ok(3),
            },
        );
        let a = c.step(
            t + 2 * MS,
            Event::Read {
                result: Ok(v.clone()),
            },
        );
        assert!(
            !a.iter()
                .any(|a| matches!(a, Action::Claim { .. } | Action::EpochExhausted { .. })),
            "{a:?}"
        );
    }
    assert_eq!(c.role(), Role::Standby);

    // The top persisted on local disk: the key is not the source.
    let mut c = Core::new(
        CoreConfig {
            node: "a".into(),
            preferred: true,
            timing: timing(),
            incarnation: 7,
            persisted_epoch: u64::MAX,
        },
        0,
    );
    let a = granted_then_read(&mut c, 0, view(None, None));
    assert_eq!(
        a[0],
        Action::EpochExhausted {
            top: u64::MAX,
            in_key: false
        }
    );
    // One below the top still claims the top itself.
    let mut c = core("a", true);
    let mut v = view(None, None);
    v.epoch = u64::MAX - 1;
    let a = granted_then_read(&mut c, 0, v);
    assert!(a.contains(&Action::PersistEpoch(u64::MAX)), "{a:?}");
}
