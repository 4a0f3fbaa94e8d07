//! The status page in a real browser: Debian's headless Chromium renders a standby's page of
//! a two-node cluster, which must show both nodes and their roles; the active daemon is
//! killed (-9), and the page must show the new active and the takeover event within the
//! failover bound plus one refresh of the page; a hostile maintenance reason stays text (no
//! element is injected, nothing runs). A screenshot is kept under the target directory.
//!
//! Chromium reaches nothing but the page: every name resolves to nothing, every other
//! address goes to a proxy that does not exist, and its background services are off.
//!
//! Linux only; needs /bin/sh, /proc/uptime and chromium (`apt-get install chromium`;
//! scripts/test installs it).

#![cfg(target_os = "linux")]

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

use common::cluster::*;

const HOSTILE: &str = "<img src=x onerror=alert(1)>";
/// How often the page reloads itself (`<meta http-equiv="refresh">`).
const REFRESH: Duration = Duration::from_secs(2);
/// The longest one run of Chromium may take on a loaded two-core machine.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().unwrap().port()
}

fn chromium() -> PathBuf {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect(
            "Chromium is not installed: run `apt-get install chromium` (Debian's package; \
             scripts/test installs it)",
        )
}

/// One run of headless Chromium in a process group of its own, killed with its group when
/// dropped (on timeout or on a failed assertion).
struct Browser(Child);

impl Drop for Browser {
    fn drop(&mut self) {
        let pgid = self.0.id() as i32;
        signal(-pgid, libc::SIGKILL);
        let _ = self.0.wait();
    }
}

/// Runs Chromium on `url` with `extra` (`--dump-dom` or `--screenshot=...`); its stdout.
fn browse(profile: &Path, url: &str, extra: &[&str], tag: &Path) -> String {
    let out = profile.with_extension("out");
    let child = Command::new(chromium())
        .args([
            "--headless",
            // The tests run as root, where Chromium's sandbox cannot start.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--metrics-recording-only",
            // Nothing leaves the machine: no name resolves (only the page's own address is
            // left as it is), anything but loopback (which Chromium never proxies) goes to
            // a closed port.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--proxy-server=127.0.0.1:9",
            "--window-size=412,915",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .env(TAG, tag)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run chromium: {e}"));
    let mut b = Browser(child);
    let done = wait_until(BROWSER_TIMEOUT, || matches!(b.0.try_wait(), Ok(Some(_))));
    assert!(done, "chromium did not finish within {BROWSER_TIMEOUT:?}");
    drop(b);
    std::fs::read_to_string(&out).unwrap_or_default()
}

/// The rendered DOM of `url`.
fn dom(dir: &Path, url: &str) -> String {
    browse(&dir.join("chromium-profile"), url, &["--dump-dom"], dir)
}

/// The role the page shows for `node`.
fn role(dom: &str, node: &str) -> Option<String> {
    let at = dom.find(&format!("data-node=\"{node}\" data-role=\""))?;
    let rest = &dom[at..];
    let rest = &rest[rest.find("data-role=\"")? + 11..];
    Some(rest[..rest.find('"')?].to_string())
}

#[test]
fn the_page_in_a_browser_follows_a_failover_and_shows_a_hostile_reason_as_text() {
    let mut c = Cluster::new("browser", &["n1", "n2"], "");
    let port = free_port();
    c.add_conf("n2", &format!("hb.metrics_listen=127.0.0.1:{port}\n"));
    c.start("n1");
    c.wait_running_on(|i| i.node == "n1", failover_bound() * 2);
    c.start("n2");
    let (st, out) = c.cli("n2", &["maintenance", "off", "--reason", HOSTILE]);
    assert!(st.success(), "{out}");
    let url = format!("http://127.0.0.1:{port}/");
    let dir = c.dir.clone();

    let mut page = String::new();
    let shown = wait_until(failover_bound() * 3, || {
        page = dom(&dir, &url);
        role(&page, "n1").as_deref() == Some("ACTIVE")
            && role(&page, "n2").as_deref() == Some("STANDBY")
            && page.contains("&lt;img src=x onerror=alert(1)&gt;")
    });
    assert!(
        shown,
        "the page never showed n1 active and n2 standby:\n{page}"
    );
    assert!(page.contains("<b id=\"active\">n1</b>"), "{page}");
    // The reason is text: the DOM holds no element it would have made, and no script.
    assert!(
        !page.contains("<img") && !page.contains("onerror=\"") && !page.contains("<script"),
        "{page}"
    );

    let t_kill = Instant::now();
    // n1 lost as a whole: a takeover from a record that went stale.
    c.stop_node("n1", true);
    let bound = failover_bound() + REFRESH;
    let mut page = String::new();
    let mut seen_at = None;
    wait_until(bound + BROWSER_TIMEOUT, || {
        let asked = t_kill.elapsed();
        page = dom(&dir, &url);
        let ok = role(&page, "n2").as_deref() == Some("ACTIVE")
            && page.contains("<b id=\"active\">n2</b>")
            && page.contains("data-kind=\"takeover\"")
            && page.contains("took over from n1");
        if ok {
            seen_at = Some(asked);
        }
        ok
    });
    let seen_at = seen_at.unwrap_or_else(|| {
        panic!(
            "the page never showed n2 active with the takeover:\n{page}\n{}",
            c.logs()
        )
    });
    assert!(
        seen_at <= bound,
        "the page showed the takeover only {seen_at:?} after the kill (bound {bound:?})"
    );
    assert!(!page.contains("<img"), "{page}");
    c.wait_running_on(|i| i.node == "n2", failover_bound());

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hamon-status-page.png");
    let _ = std::fs::remove_file(&shot);
    browse(
        &dir.join("chromium-profile"),
        &url,
        &[&format!("--screenshot={}", shot.display())],
        &dir,
    );
    let png = std::fs::read(&shot).unwrap_or_default();
    assert!(
        png.starts_with(b"\x89PNG"),
        "no screenshot at {}",
        shot.display()
    );
    eprintln!("screenshot of the status page: {}", shot.display());
    c.assert_no_overlap();
}
