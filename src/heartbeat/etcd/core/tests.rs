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
