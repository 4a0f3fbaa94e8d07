//! The etcd gateway client against real etcd servers (tests/common/etcd.rs): the
//! create-if-absent transaction, lease keepalive and expiry, failover when a member dies,
//! TLS with client certificates, user authentication, and a hostile server that must neither
//! hold a call past its timeout nor make it buffer without bound.
#![cfg(feature = "etcd")]

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::child::wait_within;
use common::etcd::EtcdCluster;
use hamon::heartbeat::etcd::api::{Client, Compare, Op, Settings};

fn claim(c: &mut Client, key: &[u8], value: &[u8], lease: i64) -> (bool, i64) {
    let r = c
        .txn(
            &[Compare::CreateRevision(key.to_vec(), 0)],
            &[Op::Put {
                key: key.to_vec(),
                value: value.to_vec(),
                lease,
            }],
            &[Op::Get(key.to_vec())],
        )
        .expect("txn");
    (r.succeeded, r.revision)
}

#[test]
fn create_if_absent_keepalive_and_expiry_on_one_member() {
    let etcd = EtcdCluster::start(1, false);
    let mut a = etcd.client();
    let mut b = etcd.client();
    let (lease_a, ttl) = a.lease_grant(2).expect("grant");
    assert_eq!(ttl, 2);
    let (lease_b, _) = b.lease_grant(2).expect("grant");

    let (won, rev) = claim(&mut a, b"/t/leader", b"a", lease_a);
    assert!(won, "the first claim of an absent key succeeds");
    let (won_b, _) = claim(&mut b, b"/t/leader", b"b", lease_b);
    assert!(!won_b, "a second claim while the key exists fails");
    let kv = b.get(b"/t/leader").expect("get").expect("key exists");
    assert_eq!(
        (kv.value.as_slice(), kv.lease, kv.create_revision),
        (&b"a"[..], lease_a, rev)
    );

    // Kept alive past its TTL, the key stays.
    let until = Instant::now() + Duration::from_millis(3500);
    while Instant::now() < until {
        assert_eq!(a.lease_keepalive(lease_a).expect("keepalive"), 2);
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        b.get(b"/t/leader").expect("get").is_some(),
        "kept-alive key survived"
    );

    // Not kept alive, the lease expires and takes the key with it; then b can claim.
    let gone = wait_within(Duration::from_secs(6), "lease expiry", |last| {
        let kv = b.get(b"/t/leader").expect("get");
        *last = format!("{kv:?}");
        kv.is_none().then_some(Instant::now())
    });
    assert!(gone >= until, "the key went while kept alive");
    assert_eq!(
        a.lease_keepalive(lease_a)
            .expect("keepalive of a dead lease"),
        0
    );
    // b's first lease expired too (never kept alive): a claim with it is refused.
    assert!(
        b.txn(
            &[],
            &[Op::Put {
                key: b"/t/leader".to_vec(),
                value: b"b".to_vec(),
                lease: lease_b
            }],
            &[]
        )
        .is_err()
    );
    let (lease_b, _) = b.lease_grant(2).expect("grant");
    let (won_b, rev_b) = claim(&mut b, b"/t/leader", b"b", lease_b);
    assert!(
        won_b && rev_b > rev,
        "b claims after a's lease expired, with a higher revision"
    );

    // Revoke deletes the key at once; revoking again is not an error.
    b.lease_revoke(lease_b).expect("revoke");
    assert!(b.get(b"/t/leader").expect("get").is_none());
    b.lease_revoke(lease_b).expect("revoke of a gone lease");

    // A prefix range sees exactly the keys under it.
    a.put(b"/t/x/1", b"one", 0).expect("put");
    a.put(b"/t/x/2", b"two", 0).expect("put");
    a.put(b"/t/y", b"other", 0).expect("put");
    let (_, kvs) = a.range_prefix(b"/t/x/").expect("range");
    let keys: Vec<_> = kvs.iter().map(|k| k.key.clone()).collect();
    assert_eq!(keys, vec![b"/t/x/1".to_vec(), b"/t/x/2".to_vec()]);
    assert_eq!(a.delete(b"/t/y").expect("delete"), 1);
}

#[test]
fn fails_over_to_the_next_member_when_one_is_killed_or_stopped() {
    let mut etcd = EtcdCluster::start(3, false);
    let mut c = etcd.client();
    let (lease, _) = c.lease_grant(5).expect("grant");
    c.put(b"/f/k", b"v", lease).expect("put");
    // The client starts with member 0: kill it; every call still succeeds, on another one.
    let first = c.current_endpoint().to_string();
    assert_eq!(first, etcd.members[0].client_url);
    etcd.members[0].kill();
    for _ in 0..5 {
        assert_eq!(c.lease_keepalive(lease).expect("keepalive with m0 dead"), 5);
        assert!(c.get(b"/f/k").expect("get with m0 dead").is_some());
    }
    assert_ne!(c.current_endpoint(), first);

    // A stopped (SIGSTOP) member accepts connections but never answers: the call moves on
    // within its timeout.
    let stuck = etcd
        .members
        .iter()
        .position(|m| m.client_url == c.current_endpoint())
        .unwrap();
    let pid = etcd.members[stuck].pid();
    let stop = std::process::Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(stop.success());
    let t = Instant::now();
    let r = c.get(b"/f/k");
    let took = t.elapsed();
    let _ = std::process::Command::new("kill")
        .args(["-CONT", &pid.to_string()])
        .status();
    // With one of three members dead and one stopped there is no quorum: the call fails, but
    // within its timeout, and the error names every endpoint tried.
    assert!(took < Duration::from_millis(2500), "call took {took:?}");
    let err = r.expect_err("no quorum");
    let text = err.to_string();
    assert!(text.contains(&etcd.members[stuck].client_url), "{text}");
    assert!(text.contains(&etcd.members[0].client_url), "{text}");

    // Member 0 back with its data: it rejoins and serves.
    etcd.members[0].restart();
    etcd.wait_ready();
    let mut only0 = Client::new(&Settings {
        endpoints: vec![etcd.members[0].client_url.clone()],
        ..etcd.settings()
    })
    .unwrap();
    wait_within(
        Duration::from_secs(10),
        "m0 serves again",
        |last| match only0.get(b"/f/k") {
            Ok(kv) => kv.map(|_| ()),
            Err(e) => {
                *last = e.to_string();
                None
            }
        },
    );
}

#[test]
fn tls_with_client_certificates_and_failover() {
    let mut etcd = EtcdCluster::start(3, true);
    let mut c = etcd.client();
    assert!(etcd.endpoints()[0].starts_with("https://"));
    let (lease, _) = c.lease_grant(3).expect("grant over TLS");
    c.put(b"/tls/k", b"v", lease).expect("put over TLS");
    assert_eq!(c.get(b"/tls/k").unwrap().unwrap().value, b"v");
    // Fails over to another member, with a new TLS session, when the one in use dies.
    etcd.members[0].kill();
    assert_eq!(
        c.lease_keepalive(lease)
            .expect("keepalive over TLS, m0 dead"),
        3
    );
    assert_eq!(c.get(b"/tls/k").unwrap().unwrap().value, b"v");

    // Without a client certificate the server refuses the handshake; with the wrong CA the
    // client refuses the server. Both name the endpoint.
    let certs = etcd.certs.as_ref().unwrap();
    let mut no_cert = etcd.settings();
    no_cert.tls.cert_file = None;
    no_cert.tls.key_file = None;
    let err = Client::new(&no_cert).unwrap().get(b"/tls/k").unwrap_err();
    assert!(err.to_string().contains(&etcd.endpoints()[1]), "{err}");
    let mut wrong_ca = etcd.settings();
    wrong_ca.tls.ca_file = Some(certs.client_cert.clone());
    let err = Client::new(&wrong_ca).unwrap().get(b"/tls/k").unwrap_err();
    assert!(err.to_string().contains("TLS"), "{err}");
    // Missing files are named at construction.
    let mut missing = etcd.settings();
    missing.tls.ca_file = Some("/nonexistent/ca.pem".into());
    let err = Client::new(&missing).err().expect("missing CA file");
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}

#[test]
fn user_authentication() {
    let etcd = EtcdCluster::start(1, false);
    etcd.etcdctl(None, &["user", "add", "root:rootpw"]);
    etcd.etcdctl(None, &["auth", "enable"]);
    let mut anon = etcd.client();
    let err = anon.put(b"/auth/k", b"v", 0).unwrap_err();
    assert!(err.refused.is_some(), "anonymous write refused: {err}");
    let mut settings = etcd.settings();
    settings.user = Some(("root".into(), "rootpw".into()));
    let mut c = Client::new(&settings).unwrap();
    c.put(b"/auth/k", b"v", 0).expect("authenticated put");
    let (lease, _) = c.lease_grant(2).expect("authenticated grant");
    assert_eq!(
        c.lease_keepalive(lease).expect("authenticated keepalive"),
        2
    );
    settings.user = Some(("root".into(), "wrong".into()));
    let err = Client::new(&settings).unwrap().get(b"/auth/k").unwrap_err();
    assert!(err.to_string().contains("sign in as \"root\""), "{err}");
}

/// A server that accepts and then trickles bytes forever, or floods them: the call ends
/// within its timeout with an error, and never holds more than the reply cap.
#[test]
fn a_hostile_server_cannot_hold_or_flood_a_call() {
    for flood in [false, true] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            let chunk = format!("{:x}\r\n{}\r\n", 60000, "x".repeat(60000));
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(5) {
                let r = if flood {
                    s.write_all(chunk.as_bytes())
                } else {
                    std::thread::sleep(Duration::from_millis(100));
                    s.write_all(b"1\r\nx\r\n")
                };
                if r.is_err() {
                    break;
                }
            }
        });
        let mut c = Client::new(&Settings {
            endpoints: vec![url.clone()],
            tls: Default::default(),
            user: None,
            timeout: Duration::from_millis(700),
        })
        .unwrap();
        let t = Instant::now();
        let err = c.get(b"k").unwrap_err().to_string();
        assert!(
            t.elapsed() < Duration::from_millis(1200),
            "took {:?}",
            t.elapsed()
        );
        assert!(err.contains(&url), "{err}");
        let why = if flood { "larger than" } else { "timed out" };
        assert!(err.contains(why), "flood={flood}: {err}");
        drop(c);
        server.join().unwrap();
    }
}
