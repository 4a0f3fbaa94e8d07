//! The OCF agent in a real single-node Pacemaker cluster: corosync on 127.0.0.1 and
//! pacemakerd, started by this test in the foreground (stonith off), the agent installed as
//! provider `hamon-test-<pid>`, a resource created with crmsh as an administrator would.
//! The scenarios, in sequence: start and monitor; kill -9 of the application and recovery,
//! with the reason in the CIB; an unhealthy instance, whose own reason shows as the
//! monitor's exit-reason, and whose start then fails within seconds with that reason;
//! migration-threshold; cleanup; stop; validate through crm_resource.
//!
//! Needs root and Debian's pacemaker, corosync and crmsh; skipped with a message when they
//! are not installed. A cluster already running on this host is never touched: the test
//! fails and says so. Everything it writes outside its temporary directory
//! (/var/lib/pacemaker/cib, pengine and blackbox, /var/lib/corosync, the agent's directory
//! under /usr/lib/ocf/resource.d) is removed or restored when it ends, also on failure.
//! One #[test]: it uses fixed system paths.

#![cfg(target_os = "linux")]

mod common;
#[path = "common/kit.rs"]
mod kit;

use common::child::Finished;
use kit::{Site, run, wait_for};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const TOOLS: [&str; 8] = [
    "corosync",
    "pacemakerd",
    "crm_mon",
    "cibadmin",
    "crm_resource",
    "crm_failcount",
    "crm_attribute",
    "crm",
];

/// The directories Pacemaker and corosync write to; restored when the test ends.
const STATE_DIRS: [&str; 4] = [
    "/var/lib/pacemaker/cib",
    "/var/lib/pacemaker/pengine",
    "/var/lib/pacemaker/blackbox",
    "/var/lib/corosync",
];

const CIB_DIR: &str = "/var/lib/pacemaker/cib";
/// The stop and start operations' timeouts together (the resource's `op` settings below).
const ROLE_PATIENCE: Duration = Duration::from_secs(120);

fn find_tool(tool: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|dir| Path::new(dir).join(tool))
        .find(|p| p.is_file())
}

fn tool(name: &str) -> PathBuf {
    find_tool(name).unwrap_or_else(|| panic!("{name} vanished"))
}

/// Live processes whose command name is `name`.
fn processes_named(name: &str) -> Vec<u32> {
    fs::read_dir("/proc")
        .expect("read /proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&pid: &u32| kit::comm(pid) == name)
        .collect()
}

/// A file as it was before the test: its bytes, owner and mode.
struct Saved {
    bytes: Vec<u8>,
    uid: u32,
    gid: u32,
    mode: u32,
}

/// The cluster this test runs; stopped, and the host's files restored, on drop.
struct Cluster {
    work: PathBuf,
    node: String,
    corosync: Child,
    pacemakerd: Option<Child>,
    agent_dir: PathBuf,
    saved: BTreeMap<PathBuf, Saved>,
}

impl Cluster {
    /// Saves the state directories, seeds the CIB, installs the agent, starts corosync and
    /// pacemakerd, and waits until the node is online with a DC.
    fn start(site: &Site) -> Cluster {
        let work = site.path().join("cluster");
        fs::create_dir_all(&work).expect("mkdir cluster");
        let node = fs::read_to_string("/proc/sys/kernel/hostname")
            .expect("hostname")
            .trim()
            .to_string();

        let mut saved = BTreeMap::new();
        for dir in STATE_DIRS {
            for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                let Ok(meta) = fs::symlink_metadata(&path) else {
                    continue;
                };
                if meta.is_file() {
                    let bytes = fs::read(&path).expect("read a state file");
                    saved.insert(
                        path,
                        Saved {
                            bytes,
                            uid: meta.uid(),
                            gid: meta.gid(),
                            mode: meta.mode() & 0o7777,
                        },
                    );
                }
            }
        }
        let agent_dir = PathBuf::from(format!(
            "/usr/lib/ocf/resource.d/hamon-test-{}",
            std::process::id()
        ));
        fs::create_dir_all(&agent_dir).expect("mkdir the agent's provider directory");
        let corosync_conf = work.join("corosync.conf");
        fs::write(&corosync_conf, corosync_conf_text(&node)).expect("write corosync.conf");

        // From here on, Drop cleans up whatever was started.
        let corosync = spawn_daemon(
            Command::new(tool("corosync"))
                .arg("-f")
                .arg("-c")
                .arg(&corosync_conf),
            &work.join("corosync.log"),
        );
        let mut cluster = Cluster {
            work,
            node,
            corosync,
            pacemakerd: None,
            agent_dir,
            saved,
        };
        std::os::unix::fs::symlink(site.kit("ocf/hamon"), cluster.agent_dir.join("hamon"))
            .expect("install the agent");
        cluster.seed_cib();
        let log = cluster.work.join("corosync.log");
        wait_for("corosync to provide service", |last| {
            *last = fs::read_to_string(&log).unwrap_or_default();
            last.contains("ready to provide service").then_some(())
        });
        cluster.pacemakerd = Some(spawn_daemon(
            Command::new(tool("pacemakerd"))
                .arg("-f")
                .env("PCMK_logfile", cluster.work.join("pacemaker.log"))
                .env("PCMK_logfacility", "none"),
            &cluster.work.join("pacemakerd.out"),
        ));
        let online = format!("Online: [ {} ]", cluster.node);
        wait_within(
            Duration::from_secs(60),
            "the node online with a DC",
            |last| {
                let r = run(Command::new(tool("crm_mon")).arg("-1"));
                *last = r.show();
                (r.stdout.contains(&online) && r.stdout.contains("Current DC:")).then_some(())
            },
        );
        cluster
    }

    /// An empty CIB with stonith off, no quorum policy, and a short DC election wait (the
    /// default, 20 s, would be most of this test's run time).
    fn seed_cib(&self) {
        for entry in fs::read_dir(CIB_DIR).into_iter().flatten().flatten() {
            let _ = fs::remove_file(entry.path());
        }
        let cib = Path::new(CIB_DIR).join("cib.xml");
        fs::write(
            &cib,
            r#"<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="opt-stonith" name="stonith-enabled" value="false"/>
        <nvpair id="opt-quorum" name="no-quorum-policy" value="ignore"/>
        <nvpair id="opt-dc-deadtime" name="dc-deadtime" value="2s"/>
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources/>
    <constraints/>
  </configuration>
  <status/>
</cib>
"#,
        )
        .expect("write cib.xml");
        let r = run(Command::new("chown").arg("hacluster:haclient").arg(&cib));
        assert!(r.status.success(), "chown cib.xml: {}", r.show());
        fs::set_permissions(&cib, fs::Permissions::from_mode(0o600)).expect("chmod cib.xml");
    }

    fn cib(&self) -> String {
        let r = run(Command::new(tool("cibadmin")).arg("-Q"));
        assert!(r.status.success(), "cibadmin -Q: {}", r.show());
        r.stdout
    }

    /// The resource's role in crm_mon's XML (Started, Stopped, Starting...), and on how
    /// many nodes it runs.
    fn role(&self) -> (String, String) {
        let r = run(Command::new(tool("crm_mon")).args(["-1", "--output-as=xml"]));
        let tag = r
            .stdout
            .lines()
            .find(|l| l.contains("<resource id=\"ec1\""))
            .unwrap_or_default()
            .to_string();
        (
            attr(&tag, "role").unwrap_or_default(),
            attr(&tag, "nodes_running_on").unwrap_or_default(),
        )
    }

    /// Waits for ec1's role as long as Pacemaker may take to reach it: a recovery is a stop
    /// then a start, each allowed its operation's timeout (60 s, as configured below).
    fn wait_role(&self, want: &str) {
        wait_within(ROLE_PATIENCE, &format!("ec1 {want}"), |last| {
            let (role, on) = self.role();
            *last = format!("role {role:?} on {on} nodes\n{}", self.mon());
            let running = if want == "Started" { "1" } else { "0" };
            (role == want && on == running).then_some(())
        });
    }

    fn mon(&self) -> String {
        run(Command::new(tool("crm_mon")).arg("-1")).stdout
    }

    fn fail_count(&self) -> String {
        let r = run(Command::new(tool("crm_failcount"))
            .args(["-G", "-r", "ec1", "-N"])
            .arg(&self.node));
        r.stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix("value="))
            .unwrap_or_default()
            .to_string()
    }

    fn crm_resource(&self, args: &[&str]) -> Finished {
        let r = run(Command::new(tool("crm_resource")).args(args));
        assert!(r.status.success(), "crm_resource {args:?}: {}", r.show());
        r
    }

    fn cleanup(&self) {
        self.crm_resource(&["--cleanup", "-r", "ec1"]);
    }

    /// The provider name the agent is installed under.
    fn provider(&self) -> String {
        self.agent_dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // pacemakerd stops the resource and its daemons on SIGTERM.
        if let Some(mut pcmk) = self.pacemakerd.take() {
            stop_daemon(&mut pcmk, Duration::from_secs(60));
        }
        stop_daemon(&mut self.corosync, Duration::from_secs(20));
        let _ = fs::remove_file(self.agent_dir.join("hamon"));
        let _ = fs::remove_dir(&self.agent_dir);
        for dir in STATE_DIRS {
            for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if !self.saved.contains_key(&path) && path.is_file() {
                    let _ = fs::remove_file(&path);
                }
            }
        }
        for (path, was) in &self.saved {
            if fs::write(path, &was.bytes).is_ok() {
                let _ = std::os::unix::fs::chown(path, Some(was.uid), Some(was.gid));
                let _ = fs::set_permissions(path, fs::Permissions::from_mode(was.mode));
            }
        }
    }
}

/// A daemon in the foreground, leading a process group of its own (so that its children
/// can be killed with it), output to `log`.
fn spawn_daemon(cmd: &mut Command, log: &Path) -> Child {
    let out = fs::File::create(log).expect("create a daemon log");
    let err = out.try_clone().expect("dup the log");
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"))
}

/// SIGTERM, then SIGKILL to its whole process group after `grace`; reaped.
fn stop_daemon(child: &mut Child, grace: Duration) {
    let pid = child.id();
    kit::signal("TERM", &pid.to_string());
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    kit::signal("KILL", &format!("-{pid}"));
    let _ = child.wait();
}

fn wait_within<T>(limit: Duration, what: &str, probe: impl FnMut(&mut String) -> Option<T>) -> T {
    common::child::wait_within(limit, what, probe)
}

fn corosync_conf_text(node: &str) -> String {
    format!(
        "totem {{
    version: 2
    cluster_name: hamontest
    transport: knet
    crypto_cipher: none
    crypto_hash: none
}}
logging {{
    to_stderr: yes
    to_logfile: no
    to_syslog: no
}}
quorum {{
    provider: corosync_votequorum
    expected_votes: 1
    two_node: 0
}}
nodelist {{
    node {{
        name: {node}
        nodeid: 1
        ring0_addr: 127.0.0.1
    }}
}}
"
    )
}

/// The value of attribute `name` in an XML tag (no entity decoding: our values have none).
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_string())
}

/// The `<lrm_rsc_op>` tag with id `id` in the CIB's status section.
fn op_tag(cib: &str, id: &str) -> Option<String> {
    let key = format!("<lrm_rsc_op id=\"{id}\"");
    let start = cib.find(&key)?;
    let len = cib[start..].find('>')?;
    Some(cib[start..start + len].to_string())
}

/// What the CIB holds as ec1's last failure: (operation, rc-code, exit-reason, exec-time).
fn last_failure(cib: &str) -> Option<(String, String, String, u64)> {
    let tag = op_tag(cib, "ec1_last_failure_0")?;
    Some((
        attr(&tag, "operation")?,
        attr(&tag, "rc-code")?,
        attr(&tag, "exit-reason").unwrap_or_default(),
        attr(&tag, "exec-time")?.parse().ok()?,
    ))
}

#[test]
fn pacemaker_single_node() {
    let missing: Vec<&str> = TOOLS
        .into_iter()
        .filter(|t| find_tool(t).is_none())
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "pacemaker_single_node: skipped ({} not installed: Debian packages pacemaker corosync crmsh)",
            missing.join(", ")
        );
        return;
    }
    let uid = fs::read_to_string("/proc/self/status")
        .expect("status")
        .lines()
        .find_map(|l| {
            l.strip_prefix("Uid:")
                .map(|v| v.split_whitespace().next() == Some("0"))
        })
        .unwrap_or(false);
    if !uid {
        eprintln!("pacemaker_single_node: skipped (Pacemaker's daemons need root)");
        return;
    }
    let running: Vec<u32> = ["corosync", "pacemakerd"]
        .into_iter()
        .flat_map(processes_named)
        .collect();
    assert!(
        running.is_empty(),
        "corosync or pacemakerd already runs on this host (pids {running:?}): this test starts \
         a single-node cluster of its own and never touches another; stop them first \
         (systemctl stop pacemaker corosync)"
    );

    let started = Instant::now();
    let site = Site::new("pacemaker");
    // online_timeout far above what a start takes once the instance answers DOWN.
    site.write_pico_conf("online_timeout = 30\noffline_timeout = 10\n");
    let cluster = Cluster::start(&site);
    eprintln!(
        "pacemaker_single_node: cluster up after {:?}",
        started.elapsed()
    );

    // The resource as an administrator creates it, with the advised timeouts: crmsh has
    // nothing to warn about them.
    let r = run(Command::new(tool("crm")).args([
        "configure",
        "primitive",
        "ec1",
        &format!("ocf:{}:hamon", cluster.provider()),
        "params",
        "instance=ec1",
        &format!("config={}", site.conf.display()),
        &format!("mz_home={}", site.path().display()),
        "op",
        "start",
        "timeout=60s",
        "interval=0",
        "op",
        "stop",
        "timeout=60s",
        "interval=0",
        "op",
        "monitor",
        "interval=2s",
        "timeout=20s",
        "meta",
        "migration-threshold=2",
    ]));
    assert!(r.status.success(), "crm configure primitive: {}", r.show());
    assert!(
        !r.stdout.contains("advised") && !r.stderr.contains("advised"),
        "crmsh warns about the advised timeouts:\n{}",
        r.show()
    );

    // Start and monitor.
    cluster.wait_role("Started");
    let pid = wait_for("the instance's pid file", |_| site.pid());
    assert_eq!(site.picos(), [pid], "one pico, leading its group");
    wait_for("a successful recurring monitor", |last| {
        let cib = cluster.cib();
        let tag = op_tag(&cib, "ec1_monitor_2000").unwrap_or_default();
        *last = tag.clone();
        (attr(&tag, "rc-code").as_deref() == Some("0")).then_some(())
    });

    // kill -9 of the application: the monitor fails with the reason, Pacemaker recovers.
    let t = Instant::now();
    kit::signal("KILL", &pid.to_string());
    let (op, rc, reason, _) = wait_for("the monitor failure in the CIB", |last| {
        let cib = cluster.cib();
        *last = cluster.mon();
        last_failure(&cib)
    });
    eprintln!(
        "pacemaker_single_node: kill -9 detected after {:?}",
        t.elapsed()
    );
    assert_eq!((op.as_str(), rc.as_str()), ("monitor", "1"), "{reason}");
    assert!(
        reason.contains(&format!(
            "process group {pid} lives, but port {}",
            site.port
        )) && reason.contains("refuses connections"),
        "exit-reason: {reason:?}"
    );
    let pid2 = wait_for("a new instance", |_| {
        site.pid().filter(|&p| p != pid && site.picos() == [p])
    });
    cluster.wait_role("Started");
    assert_eq!(cluster.fail_count(), "1");
    assert!(
        cluster.mon().contains("refuses connections"),
        "crm_mon shows the reason:\n{}",
        cluster.mon()
    );
    cluster.cleanup();
    wait_for("fail-count cleared", |last| {
        *last = cluster.fail_count();
        (last.is_empty() || last == "0").then_some(())
    });
    cluster.wait_role("Started");
    assert_eq!(
        site.pid(),
        Some(pid2),
        "cleanup left the running instance alone"
    );

    // Unhealthy: the application's own reason is the monitor's exit-reason; the restart
    // then fails within seconds with it (a failed start is fatal), and the instance is
    // stopped.
    site.set_flag("down");
    let (_, _, reason, _) = wait_for("the DOWN monitor in the CIB", |last| {
        let cib = cluster.cib();
        *last = cluster.mon();
        // (Once cleaned up, the probe that found it running is recorded as rc 0.)
        last_failure(&cib).filter(|f| f.0 == "monitor" && f.1 == "1")
    });
    assert!(
        reason.starts_with("DOWN: app: flag file ") && reason.contains("says down"),
        "exit-reason: {reason:?}"
    );
    let (_, rc, reason, exec_ms) = wait_for("the failed start in the CIB", |last| {
        let cib = cluster.cib();
        *last = cluster.mon();
        last_failure(&cib).filter(|f| f.0 == "start")
    });
    assert_eq!(rc, "1", "{reason}");
    assert!(
        reason.starts_with("DOWN: app: flag file "),
        "exit-reason: {reason:?}"
    );
    assert!(
        exec_ms < 15_000,
        "start gave up after {exec_ms} ms (online_timeout is 30 s)"
    );
    cluster.wait_role("Stopped");
    wait_for("nothing of the instance left", |last| {
        *last = format!("{:?}", site.processes());
        site.processes().is_empty().then_some(())
    });
    assert_eq!(cluster.fail_count(), "INFINITY");

    // Healthy again, cleanup: Pacemaker starts it.
    site.set_flag("up");
    cluster.cleanup();
    cluster.wait_role("Started");

    // migration-threshold=2: the second failure bans it from the only node.
    let pid = wait_for("the instance", |_| {
        site.pid().filter(|&p| site.picos() == [p])
    });
    kit::signal("KILL", &pid.to_string());
    let pid = wait_for("a new instance after the first kill", |_| {
        site.pid().filter(|&p| p != pid && site.picos() == [p])
    });
    cluster.wait_role("Started");
    assert_eq!(cluster.fail_count(), "1");
    kit::signal("KILL", &pid.to_string());
    wait_for("fail-count 2", |last| {
        *last = cluster.fail_count();
        (last == "2").then_some(())
    });
    cluster.wait_role("Stopped");
    wait_for("nothing of the instance left", |last| {
        *last = format!("{:?}", site.processes());
        site.processes().is_empty().then_some(())
    });

    // cleanup lifts the ban.
    cluster.cleanup();
    cluster.wait_role("Started");

    // Stop.
    cluster.crm_resource(&["-r", "ec1", "--meta", "-p", "target-role", "-v", "Stopped"]);
    cluster.wait_role("Stopped");
    let cib = cluster.cib();
    let last = op_tag(&cib, "ec1_last_0").unwrap_or_default();
    assert_eq!(attr(&last, "operation").as_deref(), Some("stop"), "{last}");
    assert_eq!(attr(&last, "rc-code").as_deref(), Some("0"), "{last}");
    assert!(site.processes().is_empty(), "stop leaves nothing");

    // validate-all's reason, as crm_resource reports it.
    let r = run(Command::new(tool("crm_resource"))
        .args([
            "--validate",
            "--class",
            "ocf",
            "--agent",
            "hamon",
            "--provider",
        ])
        .arg(cluster.provider())
        .args(["--output-as=xml", "--option", "instance=nope", "--option"])
        .arg(format!("config={}", site.conf.display())));
    assert!(
        r.stdout.contains("code=\"6\"")
            && r.stdout.contains(&format!(
                "reason=\"{}: no section [nope] (instances: ec1)\"",
                site.conf.display()
            )),
        "crm_resource --validate:\n{}",
        r.show()
    );
    eprintln!("pacemaker_single_node: done after {:?}", started.elapsed());
}
