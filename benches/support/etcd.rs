//! A local three-member etcd cluster for the benchmarks, as scripts/demo --etcd runs it:
//! members dc1, dc2 and witness on free loopback ports, their data in the benchmark's scratch
//! directory (a real file system: etcd syncs its log), killed when dropped. Also what the
//! members report: their CPU time and the requests they served (their `/metrics`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use hamon::heartbeat::etcd::api::{Client, Settings};

use super::{cleanup, ports, procfs};

/// etcd's own defaults, the first row of docs/heartbeat-etcd.md's three-site table.
pub const HEARTBEAT_MS: u64 = 100;
pub const ELECTION_MS: u64 = 1000;
pub const MEMBERS: [&str; 3] = ["dc1", "dc2", "witness"];

pub struct Member {
    pub name: &'static str,
    pub client_url: String,
    child: Option<Child>,
}

pub struct Etcd {
    pub members: Vec<Member>,
}

/// Whether the etcd binary is on PATH (Debian: etcd-server).
pub fn available() -> Result<(), String> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("etcd").is_file()))
        .unwrap_or(false);
    if found {
        Ok(())
    } else {
        Err("etcd not found (Debian: etcd-server)".into())
    }
}

impl Etcd {
    /// Starts the three members in `dir` and waits (at most 30 s) until each answers and
    /// a leader is elected.
    pub fn start(dir: &Path) -> Result<Etcd, String> {
        let ports: Vec<(u16, u16)> = MEMBERS
            .iter()
            .map(|_| (ports::free_port(), ports::free_port()))
            .collect();
        let initial: Vec<String> = MEMBERS
            .iter()
            .zip(&ports)
            .map(|(m, (_, peer))| format!("{m}=http://127.0.0.1:{peer}"))
            .collect();
        let token = format!("hamon-bench-{}", std::process::id());
        let mut etcd = Etcd {
            members: Vec::new(),
        };
        for (name, (client, peer)) in MEMBERS.iter().zip(&ports) {
            let client_url = format!("http://127.0.0.1:{client}");
            let peer_url = format!("http://127.0.0.1:{peer}");
            let log = std::fs::File::create(dir.join(format!("etcd-{name}.log")))
                .map_err(|e| format!("etcd log: {e}"))?;
            let child = cleanup::command("etcd")
                .arg("--name")
                .arg(name)
                .arg("--data-dir")
                .arg(dir.join(format!("etcd-{name}")))
                .args(["--listen-client-urls", &client_url])
                .args(["--advertise-client-urls", &client_url])
                .args(["--listen-peer-urls", &peer_url])
                .args(["--initial-advertise-peer-urls", &peer_url])
                .args(["--initial-cluster", &initial.join(",")])
                .args(["--initial-cluster-state", "new"])
                .args(["--initial-cluster-token", &token])
                .args(["--heartbeat-interval", &HEARTBEAT_MS.to_string()])
                .args(["--election-timeout", &ELECTION_MS.to_string()])
                .arg("--pre-vote")
                .args(["--logger", "zap", "--log-level", "warn"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .map_err(|e| format!("cannot start etcd: {e}"))?;
            etcd.members.push(Member {
                name,
                client_url,
                child: Some(child),
            });
        }
        etcd.wait_ready()?;
        Ok(etcd)
    }

    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(|m| m.client_url.clone()).collect()
    }

    fn wait_ready(&self) -> Result<(), String> {
        let until = Instant::now() + Duration::from_secs(30);
        for m in &self.members {
            let mut client = client(std::slice::from_ref(&m.client_url))?;
            loop {
                match client.status() {
                    Ok(s) if s.leader != 0 => break,
                    _ if Instant::now() >= until => {
                        return Err(format!("etcd member {} not ready within 30 s", m.name));
                    }
                    _ => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        Ok(())
    }

    /// CPU time (user + system) of every running member so far.
    pub fn cpu(&self) -> Duration {
        self.members
            .iter()
            .filter_map(|m| m.child.as_ref())
            .map(|c| procfs::cpu(&c.id().to_string()))
            .sum()
    }

    /// Client requests the running members received so far for `method` (a gRPC method of
    /// etcd's API: Range, LeaseKeepAlive, Txn, Put, ...), summed over the members.
    pub fn requests(&self, method: &str) -> Result<u64, String> {
        let needle = format!("grpc_method=\"{method}\"");
        let mut total = 0;
        for m in self.members.iter().filter(|m| m.child.is_some()) {
            let text = metrics(&m.client_url)?;
            total += text
                .lines()
                .filter(|l| l.starts_with("grpc_server_msg_received_total{") && l.contains(&needle))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>() as u64;
        }
        Ok(total)
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        for m in &mut self.members {
            if let Some(mut c) = m.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

pub fn client(endpoints: &[String]) -> Result<Client, String> {
    Client::new(&Settings {
        endpoints: endpoints.to_vec(),
        tls: Default::default(),
        user: None,
        timeout: Duration::from_secs(2),
    })
}

/// GET /metrics of one member (plain HTTP/1.0 on loopback: the reply ends with the
/// connection).
fn metrics(url: &str) -> Result<String, String> {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).map_err(|e| format!("{url}/metrics: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok();
    write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n")
        .map_err(|e| format!("{url}/metrics: {e}"))?;
    let mut body = String::new();
    s.read_to_string(&mut body)
        .map_err(|e| format!("{url}/metrics: {e}"))?;
    Ok(body)
}
