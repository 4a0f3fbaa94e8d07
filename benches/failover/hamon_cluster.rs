//! One two-node hamon cluster as scripts/demo runs it: real `ha-heartbeat` daemons, dc1
//! (preferred) and dc2, over their own shared directory, each supervising the example pico
//! on its own port. dc1 becomes active; after it has settled, its daemon is killed with -9
//! at a random point of the heartbeat period, alone (its guard kills its pico at once and
//! hands the term over) or with its whole node (guard and pico too), and dc2's takeover is
//! watched from outside.

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use hamon::heartbeat::timing::Timing;

use crate::daemons::{DAEMON, Daemons, Kill};
use crate::support::{cleanup, pico, ports, random};
use crate::watch::{self, Failover};

pub struct HamonCluster {
    ports: [u16; 2],
    daemons: Daemons,
}

fn config(dir: &Path, node: &str, port: u16, pico: &Path, t: &Timing) -> String {
    let ms = |d: Duration| d.as_millis();
    format!(
        "hb.dir={shared}\nhb.node={node}\nhb.nodes=dc1,dc2\nhb.preferred={preferred}\n\
         hb.state_dir={state}\nhb.start_cmd=exec env HA_HOST=127.0.0.1 HA_PORT={port} {pico}\n\
         hb.app_port={port}\nhb.period_ms={}\nhb.io_timeout_ms={}\nhb.renew_deadline_ms={}\n\
         hb.kill_budget_ms={}\nhb.takeover_ms={}\nhb.confirm_ms={}\n",
        ms(t.period),
        ms(t.io_timeout),
        ms(t.renew_deadline),
        ms(t.kill_budget),
        ms(t.takeover),
        ms(t.confirm),
        shared = dir.join("shared").display(),
        preferred = node == "dc1",
        state = dir.join(format!("state-{node}")).display(),
        pico = pico.display(),
    )
}

impl HamonCluster {
    pub fn new(dir: &Path, pico: &Path, timing: &Timing) -> HamonCluster {
        fs::create_dir_all(dir.join("shared")).expect("create the shared directory");
        let ports = [ports::free_port(), ports::free_port()];
        for (node, port) in ["dc1", "dc2"].iter().zip(ports) {
            let conf = config(dir, node, port, pico, timing);
            fs::write(dir.join(format!("{node}.conf")), conf).expect("write a config");
        }
        let init = cleanup::command(DAEMON)
            .args(["init", "--config"])
            .arg(dir.join("dc1.conf"))
            .output()
            .expect("run ha-heartbeat init");
        assert!(init.status.success(), "ha-heartbeat init: {init:?}");
        HamonCluster {
            ports,
            daemons: Daemons::new(dir),
        }
    }

    /// Starts both daemons, waits for dc1's pico, lets the cluster settle, kills dc1's
    /// daemon (or its whole node) and watches dc2 take over.
    pub fn failover(mut self, timing: &Timing, every: Duration, kill: Kill) -> Failover {
        self.daemons.start("dc1");
        self.daemons.start("dc2");
        let limit = timing.failover_bound() * 2 + Duration::from_secs(30);
        if pico::wait_healthy(self.ports[0], every, limit).is_none() {
            return Failover {
                problem: Some(format!(
                    "dc1's application never came up: {}",
                    self.daemons.log_tail()
                )),
                ..Failover::default()
            };
        }
        let phase = random::below(timing.period.as_millis() as u64);
        std::thread::sleep(timing.period * 3 + Duration::from_millis(phase));
        let killed = self.daemons.kill_first(kill);
        let mut f = watch::watch(killed, self.ports[0], self.ports[1], every, limit);
        if let Some(problem) = f.problem.take() {
            f.problem = Some(format!("{problem}: {}", self.daemons.log_tail()));
        }
        f
    }
}

/// How long pico takes from exec to answering healthy: the application start time S of the
/// failover bound. Measured `runs` times; the largest is returned.
pub fn pico_start_time(pico: &Path, runs: u32) -> Duration {
    (0..runs)
        .map(|_| {
            let port = ports::free_port();
            let mut child = cleanup::command(pico)
                .env("HA_HOST", "127.0.0.1")
                .env("HA_PORT", port.to_string())
                .stdout(Stdio::null())
                .spawn()
                .expect("start pico");
            let took = pico::wait_healthy(port, Duration::from_millis(1), Duration::from_secs(10));
            let _ = child.kill();
            let _ = child.wait();
            took.expect("pico answers healthy")
        })
        .max()
        .unwrap_or_default()
}
