//! The cluster-manager scripts never signal, start or overwrite anything but their own
//! instance: malformed and reused pid files (inside a private pid namespace, with every
//! signal system call traced and blocked by strace, so a regression cannot reach a process
//! of this machine), concurrent operations, planted symbolic links, configuration owned by
//! someone else, a graceful stop with `user=`, the OCF agent on an unconfigured node,
//! sub-second deadlines. Every scenario runs under dash and under bash.
//!
//! Most scenarios need root (pid namespaces, chown, useradd) and say "skipped" otherwise;
//! the pid-namespace ones also need strace and unshare (util-linux). `scripts/test`
//! installs them.

#![cfg(target_os = "linux")]

mod common;

use common::cc::{self, Link};
use common::{TempDir, profile_dir, root};
use std::collections::BTreeSet;
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(60);
const JAVA_HOME: &str = "/usr/lib/jvm/none";

fn scripts() -> PathBuf {
    root().join("scripts")
}

fn ha_probe() -> &'static str {
    env!("CARGO_BIN_EXE_ha-probe")
}

/// The example pico, compiled once per test process.
fn pico() -> &'static Path {
    static PICO: OnceLock<PathBuf> = OnceLock::new();
    PICO.get_or_init(|| {
        let dir = profile_dir().join(format!("scripts-safety-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("mkdir");
        let built = cc::compile(&[("pico", Link::Static)], &dir).remove(0);
        let out = profile_dir().join("scripts-safety-pico");
        let tmp = profile_dir().join(format!("scripts-safety-pico.{}", std::process::id()));
        fs::copy(&built, &tmp).expect("copy pico");
        fs::rename(&tmp, &out).expect("rename pico");
        let _ = fs::remove_dir_all(&dir);
        out
    })
}

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        .unwrap_or(false)
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}

/// True when the scenario can run; else says why it is skipped.
fn needs_root(what: &str, tools: &[&str]) -> bool {
    if !is_root() {
        eprintln!("{what}: skipped (needs root)");
        return false;
    }
    for tool in tools {
        assert!(
            have(tool),
            "{what}: {tool} is not installed (scripts/test installs it)"
        );
    }
    true
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

// ---- processes -------------------------------------------------------------------------

/// State, process group and start time (fields 3, 5, 22) of a process.
fn proc_stat(pid: u32) -> Option<(char, u32, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let state = fields.first()?.chars().next()?;
    Some((
        state,
        fields.get(2)?.parse().ok()?,
        fields.get(19)?.parse().ok()?,
    ))
}

fn live(pid: u32) -> bool {
    matches!(proc_stat(pid), Some((s, _, _)) if s != 'Z' && s != 'X')
}

fn all_pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

fn marked(needle: &str) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|&pid| {
            live(pid)
                && fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|&b| b == 0).any(|e| e == needle.as_bytes()))
        })
        .collect()
}

fn comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn uid_of(pid: u32) -> Option<String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1).map(str::to_string)
}

/// Kills, on drop, every process group holding a process with `needle` in its
/// environment (this test's own marker, never anything else).
struct Sweeper(String);

impl Drop for Sweeper {
    fn drop(&mut self) {
        for _ in 0..50 {
            let pids = marked(&self.0);
            if pids.is_empty() {
                return;
            }
            let groups: BTreeSet<u32> = pids
                .iter()
                .filter_map(|&p| proc_stat(p))
                .map(|s| s.1)
                .collect();
            for target in groups
                .iter()
                .map(|g| format!("-{g}"))
                .chain(pids.iter().map(u32::to_string))
            {
                if target != "-0" && target != "-1" && target != "0" && target != "1" {
                    let _ = Command::new("kill")
                        .args(["-s", "KILL", "--", &target])
                        .stderr(Stdio::null())
                        .status();
                }
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    fn show(&self) -> String {
        format!(
            "exit {:?} after {:?}\n--- stdout:\n{}--- stderr:\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

fn run(cmd: &mut Command) -> Run {
    run_within(PATIENCE, cmd)
}

fn run_within(limit: Duration, cmd: &mut Command) -> Run {
    let done = common::child::run_to_end(cmd, limit);
    Run {
        code: done.status.code(),
        stdout: done.stdout,
        stderr: done.stderr,
        elapsed: done.elapsed,
    }
}

/// Output of a child started with `Command::spawn` (for concurrent runs).
fn finish(child: Child) -> Run {
    let started = Instant::now();
    let out = child.wait_with_output().expect("wait");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

fn expect(r: &Run, code: i32, stdout_has: &str, what: &str) {
    assert_eq!(r.code, Some(code), "{what}:\n{}", r.show());
    assert!(
        r.stdout.contains(stdout_has),
        "{what}: stdout lacks {stdout_has:?}:\n{}",
        r.show()
    );
}

// ---- a site ------------------------------------------------------------------------------

struct Site {
    _sweeper: Sweeper,
    dir: TempDir,
    conf: PathBuf,
    port: u16,
    mark: String,
}

impl Site {
    fn new(label: &str) -> Site {
        let dir = TempDir::new(label);
        let mark = format!("HAMON_TEST_MARK={}", dir.path().display());
        Site {
            _sweeper: Sweeper(mark.clone()),
            conf: dir.path().join("ha.conf"),
            port: free_port(),
            mark,
            dir,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// pico from a copy in the site (readable by every user), counting its starts.
    fn pico_start(&self) -> String {
        let copy = self.path().join("pico");
        if !copy.exists() {
            fs::copy(pico(), &copy).expect("copy pico");
        }
        format!(
            "export '{}'; echo started >> '{}'; export PICO_FLAG_FILE='{}'; exec '{}'",
            self.mark,
            self.path().join("starts").display(),
            self.path().join("flag").display(),
            copy.display()
        )
    }

    fn write_conf(&self, section: &str) {
        let text = format!(
            "log_dir = $MZ_HOME/log\nstate_dir = $MZ_HOME/run\nprobe_timeout = 2\n\n[ec1]\nha_port = {}\n{section}",
            self.port
        );
        fs::write(&self.conf, text).expect("write ha.conf");
        fs::set_permissions(&self.conf, fs::Permissions::from_mode(0o644)).expect("chmod");
    }

    fn write_pico_conf(&self, extra: &str) {
        self.write_conf(&format!(
            "start = {}\nonline_timeout = 20\noffline_timeout = 20\nclean_timeout = 10\n{extra}",
            self.pico_start()
        ));
    }

    fn pid_file(&self) -> PathBuf {
        self.path().join("run/ec1.pid")
    }

    fn pid(&self) -> Option<u32> {
        fs::read_to_string(self.pid_file())
            .ok()?
            .lines()
            .next()?
            .parse()
            .ok()
    }

    fn starts(&self) -> usize {
        fs::read_to_string(self.path().join("starts"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    fn picos(&self) -> Vec<u32> {
        marked(&self.mark)
            .into_iter()
            .filter(|&p| comm(p) == "pico")
            .collect()
    }

    fn command(&self, shell: &str, script: &Path, name: &str) -> Command {
        let mut cmd = Command::new(shell);
        cmd.arg(script.join(name))
            .args([JAVA_HOME, &self.path().display().to_string(), "mz", "ec1"])
            .env("HA_CONF", &self.conf)
            .env("HA_PROBE", ha_probe());
        cmd
    }

    fn script(&self, shell: &str, name: &str) -> Run {
        run(&mut self.command(shell, &scripts(), name))
    }

    fn spawn(&self, shell: &str, name: &str) -> Child {
        self.command(shell, &scripts(), name)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn script")
    }

    fn ocf(&self, shell: &str, action: &str, interval: Option<&str>, probe: &str) -> Run {
        let mut cmd = Command::new(shell);
        cmd.arg(scripts().join("ocf/hamon"))
            .arg(action)
            .env_remove("HA_CONF")
            .env_remove("HA_PROBE")
            .env("OCF_RESKEY_instance", "ec1")
            .env("OCF_RESKEY_conf", &self.conf)
            .env("OCF_RESKEY_probe", probe)
            .env("OCF_RESKEY_mz_home", self.path());
        if let Some(ms) = interval {
            cmd.env("OCF_RESKEY_CRM_meta_interval", ms);
        }
        run(&mut cmd)
    }
}

macro_rules! both_shells {
    ($scenario:ident, $dash:ident, $bash:ident) => {
        #[test]
        fn $dash() {
            $scenario("dash");
        }
        #[test]
        fn $bash() {
            $scenario("bash");
        }
    };
}

// ---- pid files inside a private pid namespace ------------------------------------------

/// Signal system calls: traced and failed with EPERM by strace, so none reaches a process.
const SIGNAL_CALLS: &str = "kill,tkill,tgkill,pidfd_send_signal,rt_sigqueueinfo,rt_tgsigqueueinfo";

/// Runs in `unshare --pid --kill-child --mount-proc setsid` (the namespace dies with the
/// test's unshare, whatever happens): pid 1 leads process group 1, as init does on a host. An innocent session leader runs; for each pid file, clean,
/// offline and the OCF monitor and stop run under strace; the results go to $R.
const NAMESPACE_DRIVER: &str = r#"
set -u
R=$1 SH=$2 S=$3 MZ=$4 CALLS=$5
trace() {
    name=$1
    shift
    strace -f -qq --seccomp-bpf -e signal=none -e trace="$CALLS" -e inject="$CALLS":error=EPERM \
        -o "$R/$name.trace" "$@" >"$R/$name.out" 2>"$R/$name.err" </dev/null
    echo "$?" >"$R/$name.rc"
}
ocf() {
    trace "$3" env OCF_RESKEY_instance=ec1 OCF_RESKEY_conf="$HA_CONF" OCF_RESKEY_probe="$HA_PROBE" \
        OCF_RESKEY_mz_home="$MZ" OCF_RESKEY_CRM_meta_interval="$1" "$SH" "$S/ocf/hamon" "$2"
}
setsid sleep 1000 </dev/null >/dev/null 2>&1 &
inn=$!
while [ "$(cat /proc/$inn/comm 2>/dev/null)" != sleep ]; do sleep 0.01; done
echo "$inn" >"$R/innocent"
boot=$(cat /proc/sys/kernel/random/boot_id)
start=$(sed 's/.*) //' /proc/$inn/stat | cut -d' ' -f20)
mkdir -p "$MZ/run"
n=0
while IFS= read -r case_line; do
    n=$((n + 1))
    name=${case_line%%|*}
    rest=${case_line#*|}
    steps=${rest%%|*}
    text=$(printf '%s' "${rest#*|}" | sed "s/INN/$inn/g; s/START/$start/g; s/BOOT/$boot/g")
    for step in $steps; do
        printf '%b\n' "$text" >"$MZ/run/ec1.pid"
        case $step in
            clean | offline) trace "$n-$step" "$SH" "$S/$step" /j "$MZ" mz ec1 ;;
            ocf-monitor) ocf 10000 monitor "$n-$step" ;;
            ocf-probe) ocf 0 monitor "$n-$step" ;;
            ocf-stop) ocf 0 stop "$n-$step" ;;
        esac
        echo "$name" >"$R/$n-$step.case"
        [ ! -e "$MZ/run/ec1.pid" ] || echo left >"$R/$n-$step.left"
        [ ! -e "$MZ/run/ec1.pid.bad" ] || cat "$MZ/run/ec1.pid.bad" >"$R/$n-$step.bad"
        rm -f "$MZ/run/ec1.pid.bad"
    done
done <"$R/cases"
# online with a reused pid in the pid file starts the instance (and signals nothing).
printf '%s\nstart_time=1\nboot_id=%s\ninstance_id=ec1:0c2e1b8e-0000-4000-8000-000000000000\n' "$inn" "$boot" >"$MZ/run/ec1.pid"
# strace waits for every traced process, the started instance too: it stays in the
# background, and the namespace ends them all when this script exits.
strace -f -qq --seccomp-bpf -e signal=none -e trace="$CALLS" -e inject="$CALLS":error=EPERM \
    -o "$R/online.trace" sh -c '"$0" "$1/online" /j "$2" mz ec1; echo "$?" >"$3/online.rc"' \
    "$SH" "$S" "$MZ" "$R" >"$R/online.out" 2>"$R/online.err" </dev/null &
while [ ! -s "$R/online.rc" ] && [ -d "$R" ]; do sleep 0.05; done
head -n 1 "$MZ/run/ec1.pid" >"$R/online.pid" 2>/dev/null
# Proof that the tracing works: a signal (0: none is delivered) shows up in the trace.
trace control "$SH" -c "kill -0 $inn"
state=$(cut -d' ' -f3 /proc/$inn/stat 2>/dev/null)
echo "${state:-gone}" >"$R/innocent.after"
"#;

/// (name, pid file text; INN = the innocent's pid, START its start time, BOOT the boot id).
/// Malformed ones go through clean and offline; the well-formed ones naming the innocent
/// (and a legacy one) through the OCF agent too.
const PID_FILES: [(&str, &str); 19] = [
    ("01", "01"),
    ("001", "001"),
    ("00", "00"),
    ("0", "0"),
    ("1", "1"),
    ("-1", "-1"),
    ("leading zero", "0INN"),
    ("sign", "+INN"),
    ("space before", " INN"),
    ("space after", "INN "),
    ("empty", ""),
    ("huge", "99999999999999999999"),
    ("legacy pid only", "INN"),
    (
        "stale start time",
        "INN\\nstart_time=1\\nboot_id=BOOT\\ninstance_id=ec1:0c2e1b8e-0000-4000-8000-000000000000",
    ),
    (
        "right start, no marker",
        "INN\\nstart_time=START\\nboot_id=BOOT\\ninstance_id=ec1:0c2e1b8e-0000-4000-8000-000000000000",
    ),
    (
        "before last boot",
        "INN\\nstart_time=START\\nboot_id=00000000-0000-4000-8000-000000000000\\ninstance_id=ec1:0c2e1b8e-0000-4000-8000-000000000000",
    ),
    (
        "other instance",
        "INN\\nstart_time=START\\nboot_id=BOOT\\ninstance_id=ec2:0c2e1b8e-0000-4000-8000-000000000000",
    ),
    (
        "group 1 with zeros",
        "0001\\nstart_time=1\\nboot_id=BOOT\\ninstance_id=ec1:0c2e1b8e-0000-4000-8000-000000000000",
    ),
    (
        "extra line",
        "INN\\nstart_time=START\\nboot_id=BOOT\\ninstance_id=ec1:0c2e1b8e-0000-4000-8000-000000000000\\nmore",
    ),
];

/// The operations a pid file goes through.
fn steps(text: &str) -> &'static [&'static str] {
    if text.starts_with("INN") {
        &["clean", "offline", "ocf-monitor", "ocf-probe", "ocf-stop"]
    } else {
        &["clean", "offline"]
    }
}

/// The signal system calls a trace file recorded.
fn signal_calls(trace: &Path) -> Vec<String> {
    let text = fs::read_to_string(trace).unwrap_or_else(|e| panic!("{}: {e}", trace.display()));
    text.lines()
        .filter(|l| {
            SIGNAL_CALLS
                .split(',')
                .any(|c| l.contains(&format!("{c}(")))
        })
        .map(str::to_string)
        .collect()
}

both_shells!(
    pid_files_in_namespace,
    pid_files_in_namespace_dash,
    pid_files_in_namespace_bash
);

/// Malformed pid files (01, 00, signs, blanks, huge, legacy) and reused pids (stale start
/// time, missing marker, before the last boot, another instance's marker): clean,
/// offline, the OCF monitor, probe and stop send no signal at all, say "not running"
/// (0 / 7), report what they refused and remove the file; online starts a new instance
/// instead of adopting the innocent one. Inside a pid namespace, with every signal
/// system call blocked.
fn pid_files_in_namespace(shell: &str) {
    if !needs_root("pid_files_in_namespace", &["unshare", "strace", "setsid"]) {
        return;
    }
    let site = Site::new(&format!("ns-{shell}"));
    site.write_conf(&format!(
        "start = {}\nonline_timeout = 20\nclean_timeout = 1\noffline_timeout = 1\n",
        site.pico_start()
    ));
    let results = site.path().join("results");
    fs::create_dir(&results).expect("mkdir results");
    let cases: String = PID_FILES
        .iter()
        .map(|(n, t)| format!("{n}|{}|{t}\n", steps(t).join(" ")))
        .collect();
    fs::write(results.join("cases"), cases).expect("cases");
    fs::write(site.path().join("driver.sh"), NAMESPACE_DRIVER).expect("driver");
    let r = run_within(
        PATIENCE * 3,
        Command::new("unshare")
            .args(["--pid", "--kill-child", "--mount-proc", "setsid", "sh"])
            .arg(site.path().join("driver.sh"))
            .arg(&results)
            .arg(shell)
            .arg(scripts())
            .arg(site.path())
            .arg(SIGNAL_CALLS)
            .env("HA_CONF", &site.conf)
            .env("HA_PROBE", ha_probe()),
    );
    assert_eq!(r.code, Some(0), "driver: {}", r.show());

    let read = |name: &str| fs::read_to_string(results.join(name)).unwrap_or_default();
    let control = signal_calls(&results.join("control.trace"));
    assert!(
        control
            .iter()
            .any(|l| l.contains("kill(") && l.contains("EPERM")),
        "strace must record and block the control kill: {control:?}"
    );
    let inn = read("innocent").trim().to_string();
    for (n, (name, _)) in PID_FILES.iter().enumerate() {
        for &step in steps(PID_FILES[n].1) {
            let base = format!("{}-{step}", n + 1);
            let what = format!("{step} with pid file {name:?} ({shell})");
            let calls = signal_calls(&results.join(format!("{base}.trace")));
            assert!(calls.is_empty(), "{what} signalled: {calls:?}");
            let rc = read(&format!("{base}.rc"));
            let out = read(&format!("{base}.out"));
            let err = read(&format!("{base}.err"));
            let want = match step {
                "clean" | "offline" | "ocf-stop" => "0",
                _ => "7",
            };
            assert_eq!(rc.trim(), want, "{what}:\n{out}\n{err}");
            // monitor only reads; clean, offline and stop remove what they refused.
            assert!(
                step.contains("monitor")
                    || step.contains("probe")
                    || !results.join(format!("{base}.left")).exists(),
                "{what} left the pid file behind"
            );
            // A file these scripts could not have written is kept aside, as it was; a
            // well-formed one naming a process that is not the instance is removed.
            let well_formed = [
                "stale start time",
                "right start, no marker",
                "before last boot",
            ]
            .contains(name);
            let aside = results.join(format!("{base}.bad"));
            if step.contains("monitor") || step.contains("probe") || well_formed {
                assert!(!aside.exists(), "{what} moved the file aside");
            } else {
                assert!(
                    aside.exists(),
                    "{what} keeps the unusable file as ec1.pid.bad"
                );
            }
            if step == "clean" {
                assert!(out.contains("Killing ec1...done."), "{what}: {out}");
                assert!(
                    err.contains("unusable pid file")
                        || err.contains("is not this instance")
                        || name == &"before last boot",
                    "{what} reports what it refused: {err}"
                );
            }
        }
    }
    let online_pid = read("online.pid").trim().to_string();
    assert_eq!(
        read("online.rc").trim(),
        "0",
        "online: {}\n{}",
        read("online.out"),
        read("online.err")
    );
    assert!(
        read("online.out").contains("Starting ec1...done."),
        "{}",
        read("online.out")
    );
    assert!(
        !online_pid.is_empty() && online_pid != inn,
        "online started its own: {online_pid} vs {inn}"
    );
    assert!(signal_calls(&results.join("online.trace")).is_empty());
    let after = read("innocent.after");
    assert!(
        matches!(after.trim(), "S" | "R"),
        "the innocent session leader survived: {after:?}"
    );
}

// ---- concurrent operations ---------------------------------------------------------------

both_shells!(
    concurrent_onlines,
    concurrent_onlines_dash,
    concurrent_onlines_bash
);

/// Two `online` at once (a retry racing the first), many times: one start each time,
/// both succeed, the pid file names the one running pico.
fn concurrent_onlines(shell: &str) {
    let site = Site::new(&format!("race-on-{shell}"));
    site.write_pico_conf("");
    let trials = 24;
    for trial in 0..trials {
        let before = site.starts();
        let a = site.spawn(shell, "online");
        if trial % 3 == 1 {
            thread::sleep(Duration::from_millis(3 * trial as u64));
        }
        let b = site.spawn(shell, "online");
        let (a, b) = (finish(a), finish(b));
        expect(
            &a,
            0,
            "Starting ec1...done",
            &format!("trial {trial}, first online"),
        );
        expect(
            &b,
            0,
            "Starting ec1...done",
            &format!("trial {trial}, second online"),
        );
        assert_eq!(
            site.starts(),
            before + 1,
            "trial {trial}: one start\n{}\n{}",
            a.show(),
            b.show()
        );
        assert!(
            a.stdout.contains("already running") != b.stdout.contains("already running"),
            "trial {trial}: one of them found it running\n{}\n{}",
            a.show(),
            b.show()
        );
        let picos = site.picos();
        assert_eq!(picos.len(), 1, "trial {trial}: {picos:?}");
        assert_eq!(
            site.pid(),
            Some(picos[0]),
            "trial {trial}: the pid file names it"
        );
        expect(
            &site.script(shell, "clean"),
            0,
            "Killing ec1...done.",
            "clean",
        );
        assert!(site.picos().is_empty());
    }
}

both_shells!(
    online_races_clean,
    online_races_clean_dash,
    online_races_clean_bash
);

/// `online` racing `clean`, many times: whatever order the lock gives them, a running
/// instance always has its pid file (and offline stops it), a stopped one has none.
fn online_races_clean(shell: &str) {
    let site = Site::new(&format!("race-clean-{shell}"));
    site.write_pico_conf("");
    let trials = 24;
    let mut ran = 0;
    for trial in 0..trials {
        // Either one first, the other a moment later.
        let pause = Duration::from_millis((trial * 37 % 120) as u64);
        let (online, clean) = if trial % 2 == 0 {
            let online = site.spawn(shell, "online");
            thread::sleep(pause);
            (online, site.spawn(shell, "clean"))
        } else {
            let clean = site.spawn(shell, "clean");
            thread::sleep(pause);
            (site.spawn(shell, "online"), clean)
        };
        let (online, clean) = (finish(online), finish(clean));
        expect(
            &online,
            0,
            "Starting ec1...done.",
            &format!("trial {trial}, online"),
        );
        expect(
            &clean,
            0,
            "Killing ec1...done.",
            &format!("trial {trial}, clean"),
        );
        let picos = site.picos();
        if picos.is_empty() {
            assert!(!site.pid_file().exists(), "trial {trial}: stale pid file");
        } else {
            ran += 1;
            assert_eq!(picos.len(), 1, "trial {trial}: {picos:?}");
            assert_eq!(
                site.pid(),
                Some(picos[0]),
                "trial {trial}: the running pico lost its pid file\n{}\n{}",
                online.show(),
                clean.show()
            );
            expect(
                &site.script(shell, "offline"),
                0,
                "Shutting down ec1...done.",
                "offline",
            );
            assert!(site.picos().is_empty(), "trial {trial}: offline stopped it");
        }
        assert!(
            !site.pid_file().exists(),
            "trial {trial}: pid file after the stop"
        );
    }
    eprintln!("online_races_clean({shell}): online last in {ran} of {trials} trials");
}

// ---- files ---------------------------------------------------------------------------------

both_shells!(planted_links, planted_links_dash, planted_links_bash);

/// Links planted where the scripts write (log, output, pid file, lock) are refused with
/// the path named, and their targets stay untouched; so are files and directories of
/// another user, group-writable directories. A link at the old temporary pid file name is
/// never followed.
fn planted_links(shell: &str) {
    if !needs_root("planted_links", &["chown"]) {
        return;
    }
    let site = Site::new(&format!("links-{shell}"));
    site.write_pico_conf("");
    let victim = site.path().join("victim");
    fs::write(&victim, "precious\n").expect("victim");
    let log = site.path().join("log");
    let run_dir = site.path().join("run");
    fs::create_dir(&log).expect("mkdir log");
    fs::create_dir(&run_dir).expect("mkdir run");
    for (path, what) in [
        (log.join("ec1.log"), "the scripts' log"),
        (log.join("ec1.out"), "the instance's output"),
        (run_dir.join("ec1.pid"), "the pid file"),
        (run_dir.join("ec1.lock"), "the lock file"),
    ] {
        symlink(&victim, &path).expect("plant link");
        for script in ["online", "offline", "clean"] {
            let r = site.script(shell, script);
            assert_eq!(
                r.code,
                Some(6),
                "{script} with {}:\n{}",
                path.display(),
                r.show()
            );
            assert!(
                r.stderr
                    .contains(&format!("{} ({what}) is a symbolic link", path.display())),
                "{}",
                r.show()
            );
        }
        fs::remove_file(&path).expect("rm link");
    }
    assert!(site.picos().is_empty(), "nothing started");

    // A file of another user where the log goes.
    fs::write(log.join("ec1.log"), "").expect("log");
    chown("nobody", &log.join("ec1.log"));
    let r = site.script(shell, "online");
    assert_eq!(r.code, Some(6), "{}", r.show());
    assert!(r.stderr.contains("belongs to nobody"), "{}", r.show());
    fs::remove_file(log.join("ec1.log")).expect("rm");

    // The state directory: group-writable, then another user's.
    fs::set_permissions(&run_dir, fs::Permissions::from_mode(0o775)).expect("chmod");
    let r = site.script(shell, "online");
    assert_eq!(r.code, Some(6), "{}", r.show());
    assert!(
        r.stderr.contains(&format!(
            "refusing the directory {} (state_dir",
            run_dir.display()
        )) && r.stderr.contains("writable by its group (mode 775)"),
        "{}",
        r.show()
    );
    fs::set_permissions(&run_dir, fs::Permissions::from_mode(0o755)).expect("chmod");
    chown("nobody", &run_dir);
    let r = site.script(shell, "clean");
    assert_eq!(r.code, Some(6), "{}", r.show());
    assert!(r.stderr.contains("belongs to nobody"), "{}", r.show());
    chown("root", &run_dir);

    // The old fixed temporary name: a link there is never written through.
    symlink(&victim, run_dir.join("ec1.pid.tmp")).expect("plant tmp link");
    expect(
        &site.script(shell, "online"),
        0,
        "Starting ec1...done.",
        "online",
    );
    expect(
        &site.script(shell, "offline"),
        0,
        "Shutting down ec1...done.",
        "offline",
    );
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "precious\n");
    let leftovers: Vec<String> = fs::read_dir(&run_dir)
        .expect("ls run")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n != "ec1.lock" && n != "ec1.pid.tmp")
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary files left: {leftovers:?}"
    );
}

fn chown(user: &str, path: &Path) {
    let r = run(Command::new("chown").arg(user).arg(path));
    assert_eq!(
        r.code,
        Some(0),
        "chown {user} {}: {}",
        path.display(),
        r.show()
    );
}

both_shells!(
    foreign_configuration,
    foreign_configuration_dash,
    foreign_configuration_bash
);

/// As root, ha.conf of another user or writable by its group, and scripts in a directory
/// of another user, are refused with the path and the reason; nothing runs.
fn foreign_configuration(shell: &str) {
    if !needs_root("foreign_configuration", &["chown"]) {
        return;
    }
    let site = Site::new(&format!("conf-{shell}"));
    let ran = site.path().join("ran");
    site.write_conf(&format!("start = touch '{}'\n", ran.display()));
    let conf = site.conf.display().to_string();

    chown("nobody", &site.conf);
    for script in ["online", "offline", "clean"] {
        let r = site.script(shell, script);
        assert_eq!(r.code, Some(6), "{}", r.show());
        assert!(
            r.stderr.contains(&format!(
                "refusing the configuration {conf}: {conf} belongs to nobody"
            )),
            "{}",
            r.show()
        );
    }
    let r = site.ocf(shell, "start", None, ha_probe());
    assert_eq!(r.code, Some(5), "{}", r.show());
    chown("root", &site.conf);

    fs::set_permissions(&site.conf, fs::Permissions::from_mode(0o664)).expect("chmod");
    let r = site.script(shell, "online");
    assert_eq!(r.code, Some(6), "{}", r.show());
    assert!(
        r.stderr.contains("is writable by its group (mode 664)"),
        "{}",
        r.show()
    );
    fs::set_permissions(&site.conf, fs::Permissions::from_mode(0o644)).expect("chmod");

    // A copy of the scripts in a directory another user owns.
    let kit = site.path().join("kit");
    fs::create_dir_all(kit.join("lib")).expect("mkdir kit");
    for f in ["online", "lib/ha-common.sh"] {
        fs::copy(scripts().join(f), kit.join(f)).expect("copy");
    }
    chown("nobody", &kit);
    let r = run(&mut site.command(shell, &kit, "online"));
    assert_eq!(r.code, Some(6), "{}", r.show());
    assert!(
        r.stderr.contains("refusing the scripts' library")
            && r.stderr
                .contains(&format!("{} belongs to nobody", kit.display())),
        "{}",
        r.show()
    );
    chown("root", &kit);
    chown("nobody", &kit.join("online"));
    let r = run(&mut site.command(shell, &kit, "online"));
    assert_eq!(r.code, Some(6), "{}", r.show());
    assert!(
        r.stderr
            .contains(&format!("refusing the script {}/online", kit.display())),
        "{}",
        r.show()
    );

    // An ha-probe that another user may replace.
    let probe = site.path().join("ha-probe");
    fs::copy(ha_probe(), &probe).expect("copy ha-probe");
    chown("nobody", &probe);
    let r = run(site
        .command(shell, &scripts(), "offline")
        .env("HA_PROBE", &probe));
    assert_eq!(r.code, Some(6), "{}", r.show());
    assert!(
        r.stderr.contains(&format!(
            "refusing ha-probe {}: {} belongs to nobody",
            probe.display(),
            probe.display()
        )),
        "{}",
        r.show()
    );
    assert!(!ran.exists(), "no start command ran");
}

both_shells!(lock_held, lock_held_dash, lock_held_bash);

/// While another operation holds the instance's lock, a script waits as long as the
/// longest operation may take, then fails without doing anything.
fn lock_held(shell: &str) {
    let site = Site::new(&format!("lock-{shell}"));
    let ran = site.path().join("ran");
    site.write_conf(&format!(
        "start = touch '{}'\nonline_timeout = 1\noffline_timeout = 1\nclean_timeout = 1\nprobe_timeout = 1\n",
        ran.display()
    ));
    fs::create_dir(site.path().join("run")).expect("mkdir run");
    let lock = site.path().join("run/ec1.lock");
    // One process that holds the lock: killing it frees it.
    let mut holder = Command::new("sh")
        .arg("-c")
        .arg("exec 9>>\"$0\" && flock 9 && exec sleep 60")
        .arg(&lock)
        .spawn()
        .expect("flock");
    let deadline = Instant::now() + PATIENCE;
    while !fs::read_to_string("/proc/locks")
        .unwrap_or_default()
        .contains(" FLOCK ")
        || !lock.exists()
    {
        assert!(Instant::now() < deadline, "the lock was not taken");
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(200));
    let r = site.script(shell, "online");
    let _ = holder.kill();
    let _ = holder.wait();
    expect(
        &r,
        1,
        "another operation on ec1 still holds",
        "online while locked",
    );
    // max(1, 1, 1) + 2 x 1 + 5 seconds
    assert!(
        r.elapsed >= Duration::from_secs(8),
        "waited {:?}",
        r.elapsed
    );
    assert!(!ran.exists(), "nothing started");
    expect(
        &site.script(shell, "online"),
        1,
        "the instance exited",
        "online once free",
    );
    assert!(ran.exists());
}

// ---- user=: the application leads its group and stops in its own time ------------------

/// A system user made for one test and removed afterwards.
struct TestUser(String);

impl TestUser {
    fn create(label: &str) -> TestUser {
        let name = format!("hamont{label}{}", std::process::id() % 100_000);
        let r = run(Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                "--home-dir",
                "/nonexistent",
            ])
            .arg(&name));
        assert_eq!(r.code, Some(0), "useradd {name}: {}", r.show());
        TestUser(name)
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel")
            .arg(&self.0)
            .stderr(Stdio::null())
            .status();
    }
}

both_shells!(
    user_graceful_stop,
    user_graceful_stop_dash,
    user_graceful_stop_bash
);

/// With `user=`, the application itself leads the process group (no root parent in
/// between), receives offline's SIGTERM and gets its 6 s of shutdown.
fn user_graceful_stop(shell: &str) {
    if !needs_root("user_graceful_stop", &["useradd", "userdel", "setpriv"]) {
        return;
    }
    let user = TestUser::create(&shell[..1]);
    let site = Site::new(&format!("user-{shell}"));
    let copy = site.path().join("pico");
    fs::copy(pico(), &copy).expect("copy pico");
    let start = format!(
        "export '{}'; trap 'sleep 6; echo graceful stop done; exit 0' TERM; '{}' & wait; wait",
        site.mark,
        copy.display()
    );
    site.write_conf(&format!(
        "start = {start}\nuser = {}\noffline_timeout = 20\n",
        user.0
    ));
    expect(
        &site.script(shell, "online"),
        0,
        "Starting ec1...done.",
        "online as a user",
    );
    let pid = site.pid().expect("pid file");
    assert_eq!(comm(pid), "sh", "the start command's shell leads the group");
    let uid = String::from_utf8_lossy(
        &Command::new("id")
            .args(["-u", &user.0])
            .output()
            .expect("id")
            .stdout,
    )
    .trim()
    .to_string();
    assert_eq!(
        uid_of(pid),
        Some(uid.clone()),
        "the leader runs as {}",
        user.0
    );
    let picos = site.picos();
    assert_eq!(picos.len(), 1);
    assert_eq!(uid_of(picos[0]), Some(uid));
    assert_eq!(
        proc_stat(picos[0]).map(|s| s.1),
        Some(pid),
        "pico is in the group"
    );

    let r = site.script(shell, "offline");
    expect(&r, 0, "Shutting down ec1...done.", "graceful offline");
    assert!(
        r.elapsed >= Duration::from_secs(6),
        "the 6 s shutdown was waited for: {:?}",
        r.elapsed
    );
    let out = fs::read_to_string(site.path().join("log/ec1.out")).expect("ec1.out");
    assert!(
        out.contains("graceful stop done"),
        "the application finished its stop:\n{out}"
    );
    assert!(!out.contains("Session terminated"), "{out}");
    assert!(!site.pid_file().exists());
}

// ---- the OCF agent on an unconfigured node ----------------------------------------------

both_shells!(
    ocf_unconfigured,
    ocf_unconfigured_dash,
    ocf_unconfigured_bash
);

/// Probes (interval 0) of a node without ha.conf, with an unusable log directory or
/// without ha-probe say 7, and stop says 0; recurring monitors keep 5. When the instance
/// does run there, the probe says 1 and stop fails instead.
fn ocf_unconfigured(shell: &str) {
    let site = Site::new(&format!("ocf-{shell}"));
    let missing = site.path().join("no-ha-probe").display().to_string();
    let probe = ha_probe();

    // No ha.conf.
    assert_eq!(site.ocf(shell, "monitor", Some("0"), probe).code, Some(7));
    assert_eq!(site.ocf(shell, "stop", Some("0"), probe).code, Some(0));
    assert_eq!(
        site.ocf(shell, "monitor", Some("10000"), probe).code,
        Some(5)
    );
    assert_eq!(site.ocf(shell, "start", Some("0"), probe).code, Some(5));

    // The log directory cannot be made (a file is in the way).
    site.write_pico_conf("");
    fs::write(site.path().join("log"), "").expect("block log dir");
    let r = site.ocf(shell, "monitor", Some("0"), probe);
    assert_eq!(r.code, Some(7), "{}", r.show());
    assert!(
        r.stderr.contains("cannot create the directory"),
        "{}",
        r.show()
    );
    assert_eq!(site.ocf(shell, "stop", Some("0"), probe).code, Some(0));
    assert_eq!(
        site.ocf(shell, "monitor", Some("10000"), probe).code,
        Some(5)
    );
    fs::remove_file(site.path().join("log")).expect("unblock");

    // No ha-probe.
    let r = site.ocf(shell, "monitor", Some("0"), &missing);
    assert_eq!(r.code, Some(7), "{}", r.show());
    assert_eq!(site.ocf(shell, "stop", Some("0"), &missing).code, Some(0));
    assert_eq!(
        site.ocf(shell, "monitor", Some("10000"), &missing).code,
        Some(5)
    );
    assert_eq!(
        site.ocf(shell, "validate-all", None, &missing).code,
        Some(5)
    );

    // It runs, and then ha-probe goes missing: never "not running".
    expect(
        &site.ocf(shell, "start", None, probe),
        0,
        "Starting ec1...done.",
        "start",
    );
    let pid = site.pid().expect("pid");
    let r = site.ocf(shell, "monitor", Some("0"), &missing);
    assert_eq!(r.code, Some(1), "{}", r.show());
    let r = site.ocf(shell, "stop", Some("0"), &missing);
    assert_eq!(r.code, Some(5), "{}", r.show());
    assert!(live(pid));
    expect(
        &site.ocf(shell, "stop", None, probe),
        0,
        "Shutting down ec1...done.",
        "stop",
    );
    assert_eq!(site.ocf(shell, "monitor", Some("0"), probe).code, Some(7));
}

/// resource-agents' ocf-tester accepts the agent (when it is installed).
#[test]
fn ocf_tester_passes() {
    if !have("ocf-tester") {
        eprintln!(
            "ocf_tester_passes: skipped (ocf-tester, Debian package resource-agents, is not installed)"
        );
        return;
    }
    let site = Site::new("ocf-tester");
    site.write_pico_conf("");
    // ocf-tester runs the agent as nobody too: a copy where every user may read it, since
    // the checkout may sit in a directory only root can enter.
    let kit = site.path().join("kit");
    for f in ["ocf/hamon", "lib/ha-common.sh"] {
        let to = kit.join(f);
        fs::create_dir_all(to.parent().unwrap()).expect("mkdir kit");
        fs::copy(scripts().join(f), &to).expect("copy");
        fs::set_permissions(&to, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    for d in [kit.join("ocf"), kit.join("lib"), kit.clone()] {
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let r = run(Command::new("ocf-tester")
        .args(["-n", "hamon-test"])
        .arg("-o")
        .arg("instance=ec1")
        .arg("-o")
        .arg(format!("conf={}", site.conf.display()))
        .arg("-o")
        .arg(format!("probe={}", ha_probe()))
        .arg("-o")
        .arg(format!("mz_home={}", site.path().display()))
        .arg(kit.join("ocf/hamon")));
    assert_eq!(r.code, Some(0), "{}", r.show());
    assert!(site.picos().is_empty(), "ocf-tester stopped it");
}

// ---- deadlines and the pid file after a stop ---------------------------------------------

both_shells!(
    deadlines_and_escapes,
    deadlines_and_escapes_dash,
    deadlines_and_escapes_bash
);

/// online_timeout is kept to the centisecond, not rounded down to whole seconds; clean
/// and offline remove the pid file once the group is gone, even when an escaped process
/// still answers the port (then they fail).
fn deadlines_and_escapes(shell: &str) {
    let site = Site::new(&format!("dead-{shell}"));
    site.write_conf(&format!(
        "start = export '{}'; exec sleep 1000\nonline_timeout = 2\nclean_timeout = 5\n",
        site.mark
    ));
    let r = site.script(shell, "online");
    expect(&r, 1, "failed: not UP after 2s", "silent online");
    assert!(
        r.elapsed >= Duration::from_secs(2) && r.elapsed < Duration::from_secs(8),
        "online_timeout 2 took {:?}",
        r.elapsed
    );
    expect(
        &site.script(shell, "clean"),
        0,
        "Killing ec1...done.",
        "clean",
    );

    // An escaped pico (a session of its own) answers after its group is gone.
    let copy = site.path().join("pico");
    fs::copy(pico(), &copy).expect("copy");
    site.write_conf(&format!(
        "start = export '{}'; setsid '{}' & exec sleep 1000\nonline_timeout = 20\nclean_timeout = 5\noffline_timeout = 5\n",
        site.mark,
        copy.display()
    ));
    for script in ["clean", "offline"] {
        expect(
            &site.script(shell, "online"),
            0,
            "Starting ec1...done.",
            "online",
        );
        assert!(site.pid_file().exists());
        let r = site.script(shell, script);
        expect(
            &r,
            1,
            "is gone, but port",
            &format!("{script} with an escaped process"),
        );
        assert!(
            !site.pid_file().exists(),
            "{script} removed the pid file of the gone group"
        );
        for p in site.picos() {
            let _ = Command::new("kill")
                .args(["-s", "KILL", &p.to_string()])
                .status();
        }
        let deadline = Instant::now() + PATIENCE;
        while !site.picos().is_empty() {
            assert!(Instant::now() < deadline, "the escaped pico did not go");
            thread::sleep(Duration::from_millis(20));
        }
    }
}
