//! `hb.profile`: `ha-heartbeat init` and `status` name the profile and the failover bound it
//! gives, and the `hb.*_ms` keys change it.
//!
//! Linux only.

#![cfg(target_os = "linux")]

use std::fs;
use std::process::Command;

use crate::common;

use common::cluster::BIN;

/// Runs `ha-heartbeat ARGS --config CONF`; returns the exit code and stdout with stderr.
fn run(conf: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(conf)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn init_and_status_name_the_profile_and_its_failover_bound() {
    let dir = common::fast_storage().join(format!("hamon-hb-profile-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("shared")).unwrap();
    let base = format!(
        "hb.dir={}\nhb.state_dir={}\nhb.node=n1\nhb.nodes=n1,n2\n",
        dir.join("shared").display(),
        dir.join("state").display()
    );
    let conf = dir.join("n1.conf");
    // local: D 10 s + 2P 1 s + 6 T_io 6 s + C 0.5 s.
    fs::write(&conf, format!("{base}hb.profile=local\n")).unwrap();
    let (code, out) = run(&conf, &["init"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "initialised in {} for n1",
            dir.join("shared").display()
        )) && out.contains("timing: profile local (period 500 ms")
            && out.contains("failover within 17.5 s"),
        "{out}"
    );
    let (_, out) = run(&conf, &["status"]);
    assert!(out.contains("failover within 17.5 s"), "{out}");
    // The default, and a key given over a profile (init again leaves the records alone).
    fs::write(&conf, &base).unwrap();
    let (_, out) = run(&conf, &["init"]);
    assert!(
        out.contains("timing: profile nfs (") && out.contains("failover within 132.0 s"),
        "{out}"
    );
    fs::write(
        &conf,
        format!("{base}hb.takeover_ms=40000\nhb.profile=san\n"),
    )
    .unwrap();
    let (_, out) = run(&conf, &["init"]);
    assert!(
        out.contains("profile san changed by hb.*_ms keys") && out.contains("within 61.0 s"),
        "{out}"
    );
    fs::write(&conf, format!("{base}hb.profile=tape\n")).unwrap();
    let (code, out) = run(&conf, &["init"]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("hb.profile"), "{out}");
    let _ = fs::remove_dir_all(&dir);
}
