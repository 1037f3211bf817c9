//! The console under test: a real `migplan serve` process, and a real
//! headless Chromium driven through chromedriver (WebDriver).
//!
//! Without Chromium and chromedriver the browser tests print SKIPPED and
//! pass; under `CI=true` they fail (`.ci/run` installs both).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A `migplan serve` process, stopped when dropped.
pub struct Console {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub token: String,
}

impl Console {
    /// `migplan serve ARGS --bind 127.0.0.1:0 --token …` in `dir`, with
    /// `env` set; returned once it listens.
    pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Console {
        let token = "0123456789abcdef0123456789abcdef".to_string();
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("migplan"));
        cmd.current_dir(dir)
            .arg("serve")
            .args(args)
            .args(["--bind", "127.0.0.1:0", "--token", &token])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("migplan serve starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            match lines.next() {
                Some(Ok(l)) if l.starts_with("migplan console: ") => {
                    break l["migplan console: ".len()..].to_string();
                }
                Some(Ok(_)) => continue,
                _ => panic!(
                    "migplan serve ended before printing its URL: {:?}",
                    child.wait()
                ),
            }
        };
        // Keep reading so the pipe never fills.
        std::thread::spawn(move || lines.for_each(drop));
        let base = url.split("/?").next().unwrap().to_string();
        assert!(url.ends_with(&format!("token={token}")), "{url}");
        Console { child, base, token }
    }

    /// The URL that logs a browser in: the token, once.
    pub fn login_url(&self) -> String {
        format!("{}/?token={}", self.base, self.token)
    }

    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// A raw HTTP request (no browser): status and body.
    pub fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let (status, _, body) = self.http_full(method, path, headers, body);
        (status, body)
    }

    /// The session cookie a browser gets for the token (`name=value`).
    pub fn login_cookie(&self) -> String {
        let (status, head, _) = self.http_full("GET", &format!("/?token={}", self.token), &[], "");
        assert_eq!(status, 303, "{head}");
        let line = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
            .unwrap_or_else(|| panic!("no cookie: {head}"));
        line["set-cookie:".len()..]
            .trim()
            .split(';')
            .next()
            .unwrap()
            .to_string()
    }

    /// A raw HTTP request: status, head and body.
    pub fn http_full(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port())).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str(&format!("Host: 127.0.0.1:{}\r\n", self.port()));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        // A download's bytes are not text: only the head need be.
        let out = String::from_utf8_lossy(&raw).into_owned();
        let status = out
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
        (status, head.to_string(), dechunk(body))
    }

    /// GET `path` as a program would: the token as a bearer.
    pub fn api(&self, path: &str) -> serde_json::Value {
        let auth = format!("Bearer {}", self.token);
        let (status, body) = self.http("GET", path, &[("Authorization", &auth)], "");
        assert_eq!(status, 200, "{path}: {body}");
        let json = body;
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{path}: {e}: {json}"))
    }
}

/// The body of a chunked response, joined.
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else {
            return body.to_string();
        };
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_string();
        };
        if n == 0 {
            return out;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
}

impl Console {
    /// Ctrl-C, as a person stops it: the exit status once it has stopped
    /// (its jobs rolled back, its uploads removed).
    pub fn interrupt(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the console never stopped after Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // Stopped as a person stops it, so its upload folder goes too.
            let _ = Command::new("kill")
                .args(["-INT", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium, through its own chromedriver.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// Whether the browser tests can run here; under CI they must.
pub fn available() -> bool {
    let here = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !here {
        assert!(
            std::env::var("CI").ok().as_deref() != Some("true"),
            "CI=true but {CHROMIUM} or {CHROMEDRIVER} is missing: install Debian's chromium and chromium-driver (.ci/run does)"
        );
        eprintln!(
            "SKIPPED: no {CHROMIUM} and {CHROMEDRIVER}; the console's browser tests did not run"
        );
    }
    here
}

impl Browser {
    pub async fn start() -> Browser {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {
                    "download.default_directory": profile.path().join("downloads"),
                    "download.prompt_for_download": false,
                }
            }),
        );
        let client = ClientBuilder::native()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session on chromedriver");
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Where Chromium saves downloads.
    pub fn downloads(&self) -> PathBuf {
        self._profile.path().join("downloads")
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The text of the first element `css` matches, waiting for it.
    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css).await.text().await.unwrap()
    }

    /// The first element `css` matches, waiting up to 30 s for it. A look
    /// that lands while a submitted form navigates is refused by the driver
    /// ("aborted by navigation"): it is tried again on the page that comes.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self
                .client
                .wait()
                .at_most(left)
                .for_element(Locator::Css(css))
                .await
            {
                Ok(el) => return el,
                Err(e) if e.to_string().contains("aborted by navigation") && !left.is_zero() => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("no `{css}` on the page: {e}"),
            }
        }
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.unwrap();
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.wait_for(css).await;
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    /// Chooses the option `value` of the select `css`, firing its change.
    pub async fn select(&self, css: &str, value: &str) {
        let el = self.wait_for(css).await;
        el.select_by_value(value).await.unwrap();
    }

    /// How many elements `css` matches now.
    pub async fn client_rows(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map(|v| v.len())
            .unwrap_or(0)
    }

    /// Chooses `file` in the file input `css`, as a person picking it.
    pub async fn upload(&self, css: &str, file: &Path) {
        let el = self.wait_for(css).await;
        el.send_keys(&file.display().to_string()).await.unwrap();
    }

    /// Waits until `check` holds for the text of `css`.
    pub async fn wait_text(
        &self,
        css: &str,
        check: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(el) => el.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if check(&text) {
                return text;
            }
            if Instant::now() >= deadline {
                let page = self.page_text().await;
                panic!("`{css}` never matched; last: {text:?}; the page:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The page's whole text.
    pub async fn page_text(&self) -> String {
        self.text("body").await
    }

    /// Saves a screenshot as `target/console-screenshots/NAME.png`, and as
    /// `docs/console/NAME.png` when `MIGPLAN_SCREENSHOTS=docs` (to refresh
    /// the committed ones).
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let root = crate::support::repo_root();
        let dir = root.join("target/console-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
        if std::env::var("MIGPLAN_SCREENSHOTS").ok().as_deref() == Some("docs") {
            let docs = root.join("docs/console");
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::write(docs.join(format!("{name}.png")), &png).unwrap();
        }
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
