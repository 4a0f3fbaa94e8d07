//! Real etcd servers for the tests: one or three members on free loopback ports, data on
//! tmpfs, plain or TLS with certificates made here by `openssl`; every member is killed when
//! the cluster is dropped, also when a test fails. Members can also run elsewhere, each on
//! its own address through a command prefix such as `ip netns exec NS` ([`Host`]). Needs
//! Debian's etcd-server and etcd-client (scripts/test installs them; CI runs it).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hamon::heartbeat::etcd::api::{Client, Settings};
use hamon::heartbeat::etcd::tls::TlsFiles;

use super::child::{Running, wait_within};
use super::ports::free_port;
use super::{TempDir, prefixed};

/// etcd timing for the tests: quick elections on one machine (etcd's defaults are 100 ms and
/// 1000 ms). etcd's minimum lease TTL is then ceil(1.5 x 500 ms) = 1 s.
pub const HEARTBEAT_MS: u64 = 50;
pub const ELECTION_MS: u64 = 500;

/// The daemons' short heartbeat timing on these members: a 200 ms period, a 2 s lease.
pub fn short_timing() -> hamon::heartbeat::etcd::timing::EtcdTiming {
    hamon::heartbeat::etcd::timing::EtcdTiming {
        period: Duration::from_millis(200),
        io_timeout: Duration::from_millis(300),
        lease_ttl: Duration::from_secs(2),
        kill_budget: Duration::from_millis(200),
        election_timeout: Duration::from_millis(ELECTION_MS),
        heartbeat_interval: Duration::from_millis(HEARTBEAT_MS),
    }
}

/// The path of a program, or a failure that says what to install: CI installs it, so a
/// missing binary is an error, never a skip.
pub fn need(program: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join(program);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "{program} not found: these tests run real etcd servers; install Debian's {package} \
         (apt-get install {package}; scripts/test does it)"
    );
}

/// Certificates for one test: a CA, a server certificate for 127.0.0.1, a client one.
pub struct Certs {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new(need("openssl", "openssl"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Certs {
    pub fn make(dir: &Path) -> Certs {
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=hamon test CA"];
        ca.extend(ec);
        ca.extend(["-keyout", "ca.key", "-out", "ca.crt"]);
        openssl(dir, &ca);
        for (name, ext) in [
            (
                "server",
                "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n",
            ),
            ("client", "extendedKeyUsage=clientAuth\n"),
        ] {
            let subj = format!("/CN=hamon-{name}");
            let key = format!("{name}.key");
            let csr = format!("{name}.csr");
            let crt = format!("{name}.crt");
            let extfile = format!("{name}.ext");
            fs::write(dir.join(&extfile), ext).expect("write ext");
            let mut req = vec!["req", "-new", "-subj", &subj];
            req.extend(ec);
            req.extend(["-keyout", &key, "-out", &csr]);
            openssl(dir, &req);
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-days",
                    "2",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-extfile",
                    &extfile,
                    "-out",
                    &crt,
                ],
            );
        }
        Certs {
            ca: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
        }
    }

    /// The client side: CA plus client certificate (mutual TLS).
    pub fn client_files(&self) -> TlsFiles {
        TlsFiles {
            ca_file: Some(self.ca.clone()),
            cert_file: Some(self.client_cert.clone()),
            key_file: Some(self.client_key.clone()),
        }
    }
}

/// Where a member runs: the address it listens on and the command prefix that runs it there
/// (see [`prefixed`]).
#[derive(Clone)]
pub struct Host {
    pub ip: String,
    pub prefix: Vec<String>,
}

impl Host {
    pub fn loopback() -> Host {
        Host {
            ip: "127.0.0.1".into(),
            prefix: Vec::new(),
        }
    }
}

/// One member: how to start it again, and the running process.
pub struct Member {
    pub name: String,
    pub client_url: String,
    args: Vec<String>,
    /// The command it runs through (empty: here).
    pub prefix: Vec<String>,
    pub process: Option<Running>,
}

impl Member {
    fn start(&mut self) {
        let mut cmd = prefixed(&self.prefix, need("etcd", "etcd-server"));
        cmd.args(&self.args);
        self.process = Some(Running::spawn(&mut cmd));
    }

    /// SIGKILL; returns its stderr.
    pub fn kill(&mut self) -> String {
        self.process.take().map(Running::kill).unwrap_or_default()
    }

    /// Starts it again with the data it has.
    pub fn restart(&mut self) {
        assert!(self.process.is_none(), "{} is still running", self.name);
        self.start();
    }

    pub fn pid(&self) -> u32 {
        self.process.as_ref().expect("member is running").pid()
    }
}

pub struct EtcdCluster {
    pub members: Vec<Member>,
    pub certs: Option<Certs>,
    /// The command prefix through which the test reaches every member (empty: directly).
    /// With one, readiness and [`EtcdCluster::etcdctl`] go through `etcdctl` run with it; the
    /// in-process [`Client`] (`client`, `leader`) cannot reach the members.
    pub control: Vec<String>,
    /// Kept last: the data is removed after the members are dead.
    _dir: TempDir,
}

impl EtcdCluster {
    /// `size` members; with `tls`, clients must use https and present a client certificate.
    pub fn start(size: usize, tls: bool) -> EtcdCluster {
        EtcdCluster::start_on(&vec![Host::loopback(); size], tls, Vec::new())
    }

    /// One member on each host (TLS only on loopback: the certificate names 127.0.0.1);
    /// `control` as [`EtcdCluster::control`]. A port free here is free in a fresh network
    /// namespace too.
    pub fn start_on(hosts: &[Host], tls: bool, control: Vec<String>) -> EtcdCluster {
        assert!(
            !tls || hosts.iter().all(|h| h.ip == "127.0.0.1"),
            "TLS members listen on 127.0.0.1 only"
        );
        let dir = TempDir::on_fast_storage("etcd");
        let certs = tls.then(|| Certs::make(dir.path()));
        let scheme = if tls { "https" } else { "http" };
        let ports: Vec<(u16, u16)> = hosts.iter().map(|_| (free_port(), free_port())).collect();
        let initial: Vec<String> = ports
            .iter()
            .zip(hosts)
            .enumerate()
            .map(|(i, ((_, peer), h))| format!("m{i}=http://{}:{peer}", h.ip))
            .collect();
        let token = format!("hamon-{}", dir.path().display()).replace('/', "-");
        let mut members = Vec::new();
        for (i, ((client, peer), host)) in ports.iter().zip(hosts).enumerate() {
            let client_url = format!("{scheme}://{}:{client}", host.ip);
            let peer_url = format!("http://{}:{peer}", host.ip);
            let data = dir.path().join(format!("m{i}"));
            let mut args: Vec<String> = [
                "--name",
                &format!("m{i}"),
                "--data-dir",
                &data.to_string_lossy(),
                "--listen-client-urls",
                &client_url,
                "--advertise-client-urls",
                &client_url,
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
                "--initial-cluster",
                &initial.join(","),
                "--initial-cluster-state",
                "new",
                "--initial-cluster-token",
                &token,
                "--heartbeat-interval",
                &HEARTBEAT_MS.to_string(),
                "--election-timeout",
                &ELECTION_MS.to_string(),
                // As docs/heartbeat-etcd.md asks of every member: a member that rejoins
                // does not force an election.
                "--pre-vote",
                "--logger",
                "zap",
                "--log-level",
                "warn",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            if let Some(c) = &certs {
                for (flag, path) in [
                    ("--cert-file", &c.server_cert),
                    ("--key-file", &c.server_key),
                    ("--trusted-ca-file", &c.ca),
                ] {
                    args.push(flag.into());
                    args.push(path.to_string_lossy().into_owned());
                }
                args.push("--client-cert-auth".into());
            }
            members.push(Member {
                name: format!("m{i}"),
                client_url,
                args,
                prefix: host.prefix.clone(),
                process: None,
            });
        }
        for m in &mut members {
            m.start();
        }
        let cluster = EtcdCluster {
            members,
            certs,
            control,
            _dir: dir,
        };
        cluster.wait_ready();
        cluster
    }

    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(|m| m.client_url.clone()).collect()
    }

    /// Client settings for every member.
    pub fn settings(&self) -> Settings {
        Settings {
            endpoints: self.endpoints(),
            tls: self
                .certs
                .as_ref()
                .map(Certs::client_files)
                .unwrap_or_default(),
            user: None,
            timeout: Duration::from_secs(2),
        }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.settings()).expect("client settings")
    }

    /// Until every running member answers and a leader is elected.
    pub fn wait_ready(&self) {
        for m in self.members.iter().filter(|m| m.process.is_some()) {
            if !self.control.is_empty() {
                // `endpoint health` is a linearizable read: it needs an elected leader.
                let url = [m.client_url.clone()];
                wait_within(
                    Duration::from_secs(30),
                    &format!("etcd {} ready", m.name),
                    |last| match Self::etcdctl_via(&self.control, &url, &["endpoint", "health"]) {
                        Ok(_) => Some(()),
                        Err(e) => {
                            *last = e;
                            None
                        }
                    },
                );
                continue;
            }
            let mut settings = self.settings();
            settings.endpoints = vec![m.client_url.clone()];
            let mut client = Client::new(&settings).expect("client settings");
            wait_within(
                Duration::from_secs(30),
                &format!("etcd {} ready", m.name),
                |last| match client.status() {
                    Ok(s) if s.leader != 0 => Some(()),
                    Ok(s) => {
                        *last = format!("{s:?}");
                        None
                    }
                    Err(e) => {
                        *last = e.to_string();
                        None
                    }
                },
            );
        }
    }

    /// The index of the member that is raft leader now.
    pub fn leader(&self) -> usize {
        let mut client = self.client();
        let status = client.status().expect("status");
        for (i, m) in self.members.iter().enumerate() {
            if m.process.is_none() {
                continue;
            }
            let mut settings = self.settings();
            settings.endpoints = vec![m.client_url.clone()];
            let mut c = Client::new(&settings).expect("client settings");
            if c.status().is_ok_and(|s| s.member_id == status.leader) {
                return i;
            }
        }
        panic!("no running member is the leader {:x}", status.leader);
    }

    /// Runs etcdctl (plain http) through `prefix` against `endpoints` with a 2 s command
    /// timeout: stdout, or what failed.
    pub fn etcdctl_via(
        prefix: &[String],
        endpoints: &[String],
        args: &[&str],
    ) -> Result<String, String> {
        let out = prefixed(prefix, need("etcdctl", "etcd-client"))
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", endpoints.join(",")))
            .args(["--dial-timeout=1s", "--command-timeout=2s"])
            .args(args)
            .output()
            .map_err(|e| format!("cannot run etcdctl: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "etcdctl {args:?}: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Runs etcdctl against the cluster (as root when auth is on: `user`).
    pub fn etcdctl(&self, user: Option<&str>, args: &[&str]) -> String {
        let mut cmd = prefixed(&self.control, need("etcdctl", "etcd-client"));
        cmd.env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", self.endpoints().join(",")));
        if let Some(c) = &self.certs {
            cmd.arg(format!("--cacert={}", c.ca.display()))
                .arg(format!("--cert={}", c.client_cert.display()))
                .arg(format!("--key={}", c.client_key.display()));
        }
        if let Some(u) = user {
            cmd.arg(format!("--user={u}"));
        }
        let out = cmd.args(args).output().expect("run etcdctl");
        assert!(
            out.status.success(),
            "etcdctl {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
