//! Probing the application's HA port (`hb.app_port`): one long-lived thread asks the port,
//! one question at a time, and the daemon's loop reads its answers without waiting. A probe
//! that hangs holds only that thread, bounded by its timeout. The counting of failures is
//! `Tally`, pure.

use std::io;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::time::{Duration, Instant};

use hamon::monitor::state::State;
use hamon::probe::{ProbeCommand, ProbeRequest, probe};

/// An answer, tagged with the run of the application it was asked for.
type Answer = (u64, Result<(), String>);

/// Counts failed answers of one application run.
#[derive(Debug, Default)]
pub struct Tally {
    fails: u32,
    ok_once: bool,
    last_fail: String,
}

/// Enough failed answers in a row: the application is unhealthy.
#[derive(Debug, PartialEq, Eq)]
pub struct Unhealthy {
    pub fails: u32,
    /// The last failed answer or error.
    pub last: String,
}

impl Tally {
    /// Takes one answer. Before the first healthy answer a failure counts only once the
    /// application has been up for `grace` (its time to start). Some once `limit` failures
    /// follow each other.
    pub fn answer(
        &mut self,
        verdict: Result<(), String>,
        uptime: Option<Duration>,
        grace: Duration,
        limit: u32,
    ) -> Option<Unhealthy> {
        match verdict {
            Ok(()) => {
                self.fails = 0;
                self.ok_once = true;
                None
            }
            Err(answer) => {
                self.last_fail = answer;
                if self.ok_once || uptime.is_some_and(|u| u >= grace) {
                    self.fails += 1;
                }
                (self.fails >= limit).then(|| Unhealthy {
                    fails: self.fails,
                    last: self.last_fail.clone(),
                })
            }
        }
    }
}

/// The prober of one HA port.
pub struct HaPort {
    port: u16,
    period: Duration,
    questions: Sender<u64>,
    answers: Receiver<Answer>,
    /// The application run answers are counted for; older answers are dropped.
    run: u64,
    /// A question is out and not answered yet.
    asked: bool,
    last_asked: Option<Instant>,
    tally: Tally,
}

impl HaPort {
    /// Starts the probing thread: one probe per `period` at most, each within `timeout`.
    /// The thread ends when the prober is dropped (after its probe in flight, if any).
    pub fn spawn(port: u16, period: Duration, timeout: Duration) -> io::Result<HaPort> {
        let (questions, asked) = channel::<u64>();
        let (answer, answers) = channel();
        std::thread::Builder::new()
            .name("hamon-hbprobe".into())
            .spawn(move || {
                for run in asked {
                    if answer.send((run, ask(port, timeout))).is_err() {
                        return;
                    }
                }
            })?;
        Ok(HaPort {
            port,
            period,
            questions,
            answers,
            run: 0,
            asked: false,
            last_asked: None,
            tally: Tally::default(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new application run: counts start over, the first probe follows a period from now,
    /// and an answer still out is not counted.
    pub fn restart(&mut self) {
        self.forget();
        self.tally = Tally::default();
        self.last_asked = Some(Instant::now());
    }

    /// The application does not serve: an answer still out is not counted.
    pub fn forget(&mut self) {
        if self.asked {
            self.run += 1;
            self.asked = false;
        }
    }

    /// Reads an answer if one came (counting it with the application's `uptime` and the
    /// `grace`/`limit` of `Tally::answer`), and asks again once a period has passed.
    pub fn poll(
        &mut self,
        uptime: Option<Duration>,
        grace: Duration,
        limit: u32,
    ) -> Option<Unhealthy> {
        let mut verdict = None;
        loop {
            match self.answers.try_recv() {
                Ok((run, v)) if run == self.run => {
                    self.asked = false;
                    verdict = self.tally.answer(v, uptime, grace, limit);
                }
                Ok(_) => {}
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        if verdict.is_none()
            && !self.asked
            && self.last_asked.is_none_or(|t| t.elapsed() >= self.period)
        {
            self.last_asked = Some(Instant::now());
            // The thread only ends when this prober is dropped.
            self.asked = self.questions.send(self.run).is_ok();
        }
        verdict
    }
}

/// One probe: Ok when the HA port says UP or DEGRADED.
fn ask(port: u16, timeout: Duration) -> Result<(), String> {
    let req = ProbeRequest {
        host: "127.0.0.1".into(),
        port,
        timeout,
        command: ProbeCommand::Check,
    };
    match probe(&req) {
        Ok(r) if matches!(r.state, State::Up | State::Degraded) => Ok(()),
        Ok(r) => Err(format!("the HA port answered {:?}", r.state)),
        Err(e) => Err(format!("probe of 127.0.0.1:{port}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(5);

    fn fail() -> Result<(), String> {
        Err("the HA port answered Down".into())
    }

    #[test]
    fn failures_count_after_the_grace_or_a_healthy_answer_and_ok_resets_them() {
        let mut t = Tally::default();
        let young = Some(Duration::from_secs(1));
        for _ in 0..5 {
            assert_eq!(t.answer(fail(), young, GRACE, 2), None, "starting up");
        }
        assert_eq!(t.answer(Ok(()), young, GRACE, 2), None);
        assert_eq!(t.answer(fail(), young, GRACE, 2), None);
        assert_eq!(
            t.answer(fail(), young, GRACE, 2),
            Some(Unhealthy {
                fails: 2,
                last: "the HA port answered Down".into()
            }),
            "counted once it answered healthy"
        );
        let mut t = Tally::default();
        let old = Some(GRACE);
        assert_eq!(t.answer(fail(), old, GRACE, 2), None);
        assert_eq!(t.answer(Ok(()), old, GRACE, 2), None);
        assert_eq!(
            t.answer(fail(), old, GRACE, 2),
            None,
            "reset by the healthy one"
        );
        assert!(t.answer(fail(), old, GRACE, 2).is_some());
    }

    #[test]
    fn a_closed_port_is_probed_on_one_thread_once_per_period_and_old_answers_are_dropped() {
        // A port nothing listens on: bound, then closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let period = Duration::from_millis(20);
        let mut p = HaPort::spawn(port, period, Duration::from_secs(1)).unwrap();
        let old = Some(GRACE);
        let started = Instant::now();
        let mut verdicts = 0;
        while verdicts < 3 {
            assert!(started.elapsed() < Duration::from_secs(10), "no answers");
            if let Some(u) = p.poll(old, GRACE, 1) {
                assert!(u.last.contains(&format!("127.0.0.1:{port}")), "{}", u.last);
                verdicts += 1;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            started.elapsed() >= period * 2,
            "at most one probe per period"
        );
        // An answer asked for before a restart is not counted for the new run.
        while !p.asked {
            p.poll(old, GRACE, 1);
        }
        p.restart();
        let quiet = Instant::now() + period / 2;
        while Instant::now() < quiet {
            assert_eq!(p.poll(old, GRACE, 1), None);
        }
    }
}
