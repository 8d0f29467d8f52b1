//! A headless Chromium driven over WebDriver (`fantoccini` → `chromedriver`), for the
//! browser tests of the web client and the admin console.
//!
//! [`Browser::start`] makes sure Debian's `chromium` and `chromedriver` are installed
//! (installing them with `apt-get` once, under a lock, when they are missing), starts
//! its own `chromedriver` on a free loopback port in a process group of its own, and
//! opens one session with a fresh profile. Dropping the [`Browser`] kills that process
//! group (chromedriver and the Chromium it started), also when a test panics.
//!
//! The helpers poll with a timeout ([`DEFAULT_TIMEOUT`]) instead of sleeping; when one
//! times out it saves a screenshot (`target/screenshots/FAILED-…png`) and panics with
//! the selector, the page URL and the start of the page's text. The harness knows
//! nothing about Palaver's UI: UI-level steps belong in the test modules.

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::net::free_port;
use crate::process::{die_with_parent, log_tail, target_dir};

/// How long the `wait_*` helpers poll before failing.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const POLL: Duration = Duration::from_millis(50);

/// One headless Chromium session; chromedriver and Chromium are killed on drop.
pub struct Browser {
    client: Client,
    /// Kills chromedriver and Chromium on drop; declared before `dir` so they are
    /// gone before their profile is removed.
    _driver: DriverGuard,
    /// The Chromium profile and chromedriver's log; removed on drop.
    dir: TempDir,
    timeout: Duration,
}

/// Where [`Browser::screenshot`] writes: `target/screenshots/`.
pub fn screenshots_dir() -> PathBuf {
    target_dir().join("screenshots")
}

fn installed() -> bool {
    Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
}

pub(crate) fn run_apt(args: &[&str]) -> Result<(), String> {
    let as_root = unsafe { libc::geteuid() } == 0;
    let mut cmd = if as_root {
        Command::new("apt-get")
    } else {
        let mut c = Command::new("sudo");
        c.args(["-n", "apt-get"]);
        c
    };
    let out = cmd
        // dpkg takes one install at a time: wait for another's (a peer's install
        // in another test thread) rather than fail.
        .args(["-o", "DPkg::Lock::Timeout=600"])
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run apt-get: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: String = stderr
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        Err(format!(
            "apt-get {} failed ({}):\n{tail}",
            args.join(" "),
            out.status
        ))
    }
}

/// Installs `chromium` and `chromium-driver` with apt-get when they are missing. Test
/// threads and concurrent test processes serialize on a lock file under `target/`.
/// Never skips: without a browser the browser tests fail, with apt's complaint.
pub fn ensure_chromium() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        if installed() {
            return;
        }
        let target = target_dir();
        std::fs::create_dir_all(&target).expect("create the target directory");
        let lock_path = target.join("chromium-install.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .unwrap_or_else(|e| panic!("open {}: {e}", lock_path.display()));
        use std::os::fd::AsRawFd;
        // Blocks until another installer (thread or process) is done.
        let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "lock {}", lock_path.display());
        if installed() {
            return;
        }
        eprintln!("browser tests: installing chromium and chromium-driver with apt-get");
        let packages = ["install", "-y", "chromium", "chromium-driver"];
        if let Err(first) = run_apt(&packages) {
            eprintln!("browser tests: {first}\nretrying after apt-get update");
            if let Err(e) = run_apt(&["update"]) {
                panic!("the browser tests need chromium: {first}\n{e}");
            }
            if let Err(e) = run_apt(&packages) {
                panic!("the browser tests need chromium and chromedriver: {e}");
            }
        }
        assert!(
            installed(),
            "apt-get installed chromium but {CHROMIUM} or {CHROMEDRIVER} is missing"
        );
        // The lock is released when `lock` is dropped here.
    });
}

fn chrome_args(profile: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--window-size=1280,900",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args
}

impl Browser {
    /// Starts chromedriver and opens a session (1280×900, headless).
    pub async fn start() -> Browser {
        ensure_chromium();
        let dir = tempfile::Builder::new()
            .prefix("palaver-browser-")
            .tempdir()
            .expect("create the browser's temporary directory");
        let profile = dir.path().join("profile");
        std::fs::create_dir_all(&profile).expect("create the Chromium profile directory");
        let log_path = dir.path().join("chromedriver.log");
        let log = File::create(&log_path).expect("create chromedriver.log");
        let port = free_port();
        let mut cmd = Command::new(CHROMEDRIVER);
        cmd.arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg(format!("--log-path={}", log_path.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            // Its own process group: Drop kills chromedriver and every Chromium
            // process it started in one go.
            .process_group(0);
        die_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {CHROMEDRIVER}: {e}"));
        // From here on, a panic (chromedriver not answering, no session) still kills
        // chromedriver and whatever Chromium it started.
        let mut driver = DriverGuard {
            child,
            profile: profile.clone(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("build an HTTP client");
        loop {
            if let Ok(r) = http.get(format!("{url}/status")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!(
                    "chromedriver exited ({status}):\n{}",
                    log_tail(&log_path, 4000)
                );
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {url} within 30 s:\n{}",
                log_tail(&log_path, 4000)
            );
            tokio::time::sleep(POLL).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": chrome_args(&profile) }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = match ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&url)
            .await
        {
            Ok(c) => c,
            Err(e) => panic!(
                "open a chromedriver session: {e}\n{}",
                log_tail(&log_path, 4000)
            ),
        };
        Browser {
            client,
            _driver: driver,
            dir,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The WebDriver client, for anything the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Changes how long the `wait_*` helpers (and those built on them) poll.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Navigates to `url` and waits for the page load.
    pub async fn goto(&self, url: &str) {
        if let Err(e) = self.client.goto(url).await {
            panic!("{}", self.failure(&format!("goto {url}: {e}")).await);
        }
    }

    /// Opens the web client at `base_url` and logs in with the form; returns once
    /// the chat shell shows.
    pub async fn log_in(&self, base_url: &str, username: &str, password: &str) {
        self.goto(&format!("{base_url}/")).await;
        self.fill("[data-testid=login-username]", username).await;
        self.fill("[data-testid=login-password]", password).await;
        self.click("[data-testid=login-submit]").await;
        self.wait_for("[data-testid=app-shell]").await;
    }

    /// The page's URL.
    pub async fn url(&self) -> String {
        match self.client.current_url().await {
            Ok(u) => u.to_string(),
            Err(e) => panic!(
                "{}",
                self.failure(&format!("read the current URL: {e}")).await
            ),
        }
    }

    /// Runs `script` (a function body: `return …`, arguments in `arguments[i]`).
    pub async fn exec(&self, script: &str, args: Vec<Value>) -> Value {
        match self.client.execute(script, args).await {
            Ok(v) => v,
            Err(e) => panic!(
                "{}",
                self.failure(&format!("execute script {script:?}: {e}"))
                    .await
            ),
        }
    }

    /// All elements matching `css` right now (possibly none).
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        match self.client.find_all(Locator::Css(css)).await {
            Ok(v) => v,
            Err(e) => panic!("{}", self.failure(&format!("find {css:?}: {e}")).await),
        }
    }

    async fn first_displayed(&self, css: &str) -> Option<Element> {
        for el in self.client.find_all(Locator::Css(css)).await.ok()? {
            if el.is_displayed().await.unwrap_or(false) {
                return Some(el);
            }
        }
        None
    }

    /// Runs `attempt` every [`POLL`] until it succeeds; after the timeout, panics
    /// with the last attempt's account of what it saw (plus the page, see
    /// [`Browser::failure`]).
    async fn poll<T, F, Fut>(&self, mut attempt: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, String>>,
    {
        let deadline = Instant::now() + self.timeout;
        loop {
            let what = match attempt().await {
                Ok(done) => return done,
                Err(what) => what,
            };
            if Instant::now() >= deadline {
                panic!("{}", self.failure(&what).await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The visible elements matching `css` right now.
    async fn visible(&self, css: &str) -> Vec<Element> {
        let mut visible = Vec::new();
        for el in self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_default()
        {
            if el.is_displayed().await.unwrap_or(false) {
                visible.push(el);
            }
        }
        visible
    }

    /// Waits for the first *visible* element matching `css`.
    pub async fn wait_for(&self, css: &str) -> Element {
        let timeout = self.timeout;
        self.poll(|| async move {
            self.first_displayed(css)
                .await
                .ok_or_else(|| format!("no visible element matches {css:?} after {timeout:?}"))
        })
        .await
    }

    /// Waits for an element matching `css` to be in the document, visible or not.
    pub async fn wait_present(&self, css: &str) -> Element {
        let timeout = self.timeout;
        self.poll(|| async move {
            self.client
                .find(Locator::Css(css))
                .await
                .map_err(|_| format!("no element matches {css:?} after {timeout:?}"))
        })
        .await
    }

    /// Waits until no visible element matches `css`.
    pub async fn wait_gone(&self, css: &str) {
        let timeout = self.timeout;
        self.poll(|| async move {
            match self.first_displayed(css).await {
                None => Ok(()),
                Some(_) => Err(format!("{css:?} is still visible after {timeout:?}")),
            }
        })
        .await
    }

    /// Waits until `count` visible elements match `css`; returns them.
    pub async fn wait_count(&self, css: &str, count: usize) -> Vec<Element> {
        let timeout = self.timeout;
        self.poll(|| async move {
            let visible = self.visible(css).await;
            if visible.len() == count {
                return Ok(visible);
            }
            Err(format!(
                "{css:?} matches {} visible elements, not {count}, after {timeout:?}",
                visible.len()
            ))
        })
        .await
    }

    /// Polls `script` (a function body) until it returns something truthy; returns it.
    pub async fn wait_js(&self, what: &str, script: &str) -> Value {
        let timeout = self.timeout;
        self.poll(|| async move {
            let v = self
                .client
                .execute(script, vec![])
                .await
                .unwrap_or(Value::Null);
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                Ok(v)
            } else {
                Err(format!("waited {timeout:?} for {what}"))
            }
        })
        .await
    }

    /// Clicks the first visible element matching `css`, retrying while it is covered,
    /// disabled for a moment, or replaced by a re-render.
    pub async fn click(&self, css: &str) {
        self.poll(|| async move {
            let el = self.wait_for(css).await;
            let err = match el.is_enabled().await {
                Ok(true) => match el.click().await {
                    Ok(()) => return Ok(()),
                    Err(e) => e.to_string(),
                },
                Ok(false) => "it is disabled".to_string(),
                Err(e) => e.to_string(),
            };
            Err(format!("click {css:?}: {err}"))
        })
        .await
    }

    /// Replaces the value of the input matching `css` with `text` (typed as keys, so
    /// the page sees input events).
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.wait_for(css).await;
        let result: Result<(), CmdError> = async {
            el.clear().await?;
            el.send_keys(text).await
        }
        .await;
        if let Err(e) = result {
            panic!("{}", self.failure(&format!("fill {css:?}: {e}")).await);
        }
    }

    /// Chooses the option with `value` in the `<select>` matching `css`.
    pub async fn select(&self, css: &str, value: &str) {
        let el = self.wait_for(css).await;
        if let Err(e) = el.select_by_value(value).await {
            panic!(
                "{}",
                self.failure(&format!("select {value:?} in {css:?}: {e}"))
                    .await
            );
        }
    }

    /// The visible text of the first visible element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        let el = self.wait_for(css).await;
        match el.text().await {
            Ok(t) => t,
            Err(e) => panic!(
                "{}",
                self.failure(&format!("read the text of {css:?}: {e}"))
                    .await
            ),
        }
    }

    /// The `value` property of the first visible element matching `css`.
    pub async fn value(&self, css: &str) -> String {
        let el = self.wait_for(css).await;
        match el.prop("value").await {
            Ok(v) => v.unwrap_or_default(),
            Err(e) => panic!(
                "{}",
                self.failure(&format!("read the value of {css:?}: {e}"))
                    .await
            ),
        }
    }

    /// Waits until a visible element matching `css` contains `needle` in its text;
    /// returns that text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let timeout = self.timeout;
        self.poll(|| async move {
            let mut seen = Vec::new();
            for el in self.visible(css).await {
                if let Ok(t) = el.text().await {
                    if t.contains(needle) {
                        return Ok(t);
                    }
                    seen.push(t);
                }
            }
            Err(format!(
                "no visible {css:?} contains {needle:?} after {timeout:?}; saw {seen:?}"
            ))
        })
        .await
    }

    /// Saves a PNG of the viewport to `target/screenshots/<name>.png`; returns the path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        match self.try_screenshot(name).await {
            Ok(p) => p,
            Err(e) => panic!("screenshot {name}: {e}"),
        }
    }

    async fn try_screenshot(&self, name: &str) -> Result<PathBuf, String> {
        let png = self.client.screenshot().await.map_err(|e| e.to_string())?;
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{safe}.png"));
        std::fs::write(&path, png).map_err(|e| format!("write {}: {e}", path.display()))?;
        Ok(path)
    }

    /// Describes a failed step for a panic message: `what`, the page's URL and
    /// text, and a screenshot saved as `target/screenshots/FAILED-<ms>.png`.
    pub async fn failure(&self, what: &str) -> String {
        let url = self
            .client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_else(|e| format!("(unknown: {e})"));
        let text = self
            .client
            .execute(
                "return document.body ? document.body.innerText.slice(0, 2000) : ''",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let shot = match self.try_screenshot(&format!("FAILED-{stamp}")).await {
            Ok(p) => p.display().to_string(),
            Err(e) => format!("(no screenshot: {e})"),
        };
        format!("browser: {what}\n  page: {url}\n  screenshot: {shot}\n  page text:\n{text}")
    }

    /// The chromedriver log so far (its last 8 KiB), for debugging.
    pub fn driver_log(&self) -> String {
        log_tail(&self.dir.path().join("chromedriver.log"), 8192)
    }
}

/// chromedriver and every Chromium process it started, killed on drop: when the
/// [`Browser`] goes away, and also when [`Browser::start`] fails half-way.
struct DriverGuard {
    child: Child,
    /// Chromium's profile directory: its `--user-data-dir` marks the helpers that
    /// left chromedriver's process group.
    profile: PathBuf,
}

impl Drop for DriverGuard {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: killpg(2) on the group chromedriver leads (`process_group(0)` made
        // its pid the group id); the child is not reaped yet, so the id is ours.
        unsafe {
            libc::killpg(pid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Chromium may have moved some helpers to groups of their own; they are
        // recognised by this browser's private profile directory.
        let marker = format!("--user-data-dir={}", self.profile.display());
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<libc::pid_t>().ok())
            else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            if cmdline
                .split(|b| *b == 0)
                .any(|arg| arg == marker.as_bytes())
            {
                // SAFETY: kill(2) with a pid read from /proc; at worst it has exited.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
}
