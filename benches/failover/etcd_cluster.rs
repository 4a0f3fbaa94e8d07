//! One two-node hamon cluster on etcd, as scripts/demo --etcd runs it: real `ha-heartbeat`
//! daemons, dc1 (preferred) and dc2, each supervising the example pico on its own port, on a
//! local three-member etcd (dc1, dc2, witness), each listing its own site's member first.
//! dc1 starts first and takes the leader key; once dc2 stands by, dc1's daemon is killed with
//! -9 at a random point of the period, alone or with its whole node, and dc2's takeover is
//! watched from outside. Runs share one etcd, each under its own prefix (`hb.cluster`).

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use hamon::heartbeat::etcd::settings::timing_settings;
use hamon::heartbeat::etcd::timing::EtcdTiming;

use crate::daemons::{Daemons, Kill};
use crate::support::etcd::{self, ELECTION_MS, Etcd, HEARTBEAT_MS};
use crate::support::{pico, ports, random};
use crate::watch::{self, Failover};

/// Short but realistic: etcd's default H and E (a few ms between sites), P 500 ms, T_io
/// 500 ms, K 1 s, TTL 6 s. It passes the timing check and rides through an etcd leader
/// election (F1 = 3490 ms >= 2E + P + T_io = 3000 ms); failover bound 11.5 s. The other
/// series runs hamon's defaults (`EtcdTiming::default_profile`, bound 20.5 s).
pub fn short_timing() -> EtcdTiming {
    EtcdTiming {
        period: Duration::from_millis(500),
        io_timeout: Duration::from_millis(500),
        lease_ttl: Duration::from_secs(6),
        kill_budget: Duration::from_millis(1000),
        election_timeout: Duration::from_millis(ELECTION_MS),
        heartbeat_interval: Duration::from_millis(HEARTBEAT_MS),
    }
}

pub struct EtcdHamonCluster<'a> {
    etcd: &'a Etcd,
    timing: EtcdTiming,
    cluster: String,
    ports: [u16; 2],
    daemons: Daemons,
}

struct Node<'a> {
    name: &'a str,
    port: u16,
}

fn config(
    dir: &Path,
    cluster: &str,
    node: Node,
    t: &EtcdTiming,
    pico: &Path,
    eps: &[String],
) -> String {
    let Node { name: node, port } = node;
    // Its own site's member first (docs/heartbeat-etcd.md, "Three sites").
    let own = etcd::MEMBERS.iter().position(|m| *m == node).unwrap_or(0);
    let mut endpoints = vec![eps[own].clone()];
    endpoints.extend(
        eps.iter()
            .enumerate()
            .filter(|(i, _)| *i != own)
            .map(|(_, e)| e.clone()),
    );
    format!(
        "hb.backend=etcd\nhb.etcd.endpoints={}\nhb.cluster={cluster}\nhb.node={node}\n\
         hb.nodes=dc1,dc2\nhb.preferred={preferred}\nhb.state_dir={state}\n\
         hb.start_cmd=exec env HA_HOST=127.0.0.1 HA_PORT={port} {pico}\nhb.app_port={port}\n{}",
        endpoints.join(","),
        timing_settings(t),
        preferred = node == "dc1",
        state = dir.join(format!("state-{node}")).display(),
        pico = pico.display(),
    )
}

impl<'a> EtcdHamonCluster<'a> {
    pub fn new(
        etcd: &'a Etcd,
        dir: &Path,
        cluster: &str,
        pico: &Path,
        timing: EtcdTiming,
    ) -> EtcdHamonCluster<'a> {
        fs::create_dir_all(dir).expect("create the cluster's directory");
        let ports = [ports::free_port(), ports::free_port()];
        for (name, port) in ["dc1", "dc2"].into_iter().zip(ports) {
            let node = Node { name, port };
            let conf = config(dir, cluster, node, &timing, pico, &etcd.endpoints());
            fs::write(dir.join(format!("{name}.conf")), conf).expect("write a config");
        }
        EtcdHamonCluster {
            etcd,
            timing,
            cluster: cluster.to_string(),
            ports,
            daemons: Daemons::new(dir),
        }
    }

    /// Until dc2's status key says it stands by (it holds a lease and has read the keys).
    fn wait_standby(&self, limit: Duration) -> bool {
        let Ok(mut client) = etcd::client(&self.etcd.endpoints()) else {
            return false;
        };
        let key = format!("/hamon/{}/status/dc2", self.cluster);
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Ok(Some(kv)) = client.get(key.as_bytes())
                && String::from_utf8_lossy(&kv.value).contains("role=standby")
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Starts dc1 and waits for its pico, starts dc2 and waits until it stands by, lets the
    /// cluster settle, kills dc1's daemon (or its whole node) and watches dc2 take over.
    pub fn failover(mut self, every: Duration, kill: Kill) -> Failover {
        let t = self.timing;
        let limit = t.failover_bound() * 2 + Duration::from_secs(30);
        self.daemons.start("dc1");
        if pico::wait_healthy(self.ports[0], every, limit).is_none() {
            return self.problem("dc1's application never came up");
        }
        self.daemons.start("dc2");
        if !self.wait_standby(limit) {
            return self.problem("dc2 never stood by");
        }
        let phase = random::below(t.period.as_millis() as u64);
        std::thread::sleep(t.period * 3 + Duration::from_millis(phase));
        let killed = self.daemons.kill_first(kill);
        let mut f = watch::watch(killed, self.ports[0], self.ports[1], every, limit);
        if let Some(problem) = f.problem.take() {
            f.problem = Some(format!("{problem}: {}", self.daemons.log_tail()));
        }
        f
    }

    fn problem(&self, what: &str) -> Failover {
        Failover {
            problem: Some(format!("{what}: {}", self.daemons.log_tail())),
            ..Failover::default()
        }
    }
}

/// `runs` failovers with timing `t` for each way of killing dc1 (`KILLS`), one after another
/// on one local etcd started in `dir`; Err when etcd cannot run here (named in the report).
pub fn runs(
    dir: &Path,
    pico: &Path,
    runs: usize,
    every: Duration,
    t: EtcdTiming,
) -> Result<Vec<Vec<Failover>>, String> {
    etcd::available()?;
    t.check()
        .map_err(|e| format!("the benchmark's etcd timing: {e}"))?;
    if let Some(w) = t.election_warning() {
        return Err(format!("the benchmark's etcd timing: {w}"));
    }
    let etcd = Etcd::start(dir)?;
    Ok(crate::KILLS
        .iter()
        .enumerate()
        .map(|(k, &kill)| {
            (0..runs)
                .map(|i| {
                    let cluster = format!("bench{k}x{i}");
                    EtcdHamonCluster::new(&etcd, &dir.join(&cluster), &cluster, pico, t)
                        .failover(every, kill)
                })
                .collect()
        })
        .collect())
}
