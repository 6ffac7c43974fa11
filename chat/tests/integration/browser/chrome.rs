//! Real headless Chromium, driven through chromedriver (WebDriver) with
//! fantoccini: one chromedriver per test, one WebDriver session per person,
//! each with its own fresh profile (so its own cookies: two people, two
//! browsers).
//!
//! Where Chromium or chromedriver is not installed, [`Chromedriver::start`]
//! says so and returns `None` so that the test can skip, unless
//! `REQUIRE_BROWSER=1`, which makes their absence a failure (CI sets it).

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// Debian's packages: `chromium` and `chromium-driver`.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long to wait for chromedriver to answer `/status` (not a performance bound).
const DRIVER_START: Duration = Duration::from_secs(30);

/// The desktop viewport every browser gets, and so the screenshot's size.
pub(crate) const WINDOW: (u32, u32) = (1280, 800);

/// Chromium's flags: headless, as root, on a machine without a network, with
/// nothing running in the background that could reach for one.
const FLAGS: &[&str] = &[
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
    "--password-store=basic",
    "--lang=en-US",
];

/// Whether the environment demands real browser tests (`REQUIRE_BROWSER=1`).
fn browser_required() -> bool {
    std::env::var("REQUIRE_BROWSER").is_ok_and(|value| value == "1" || value == "true")
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("its address").port()
}

/// A chromedriver process, with a scratch folder for its log and the
/// browsers' profiles. Dropping it kills chromedriver and every browser it
/// started (its process group), then removes the folder.
pub(crate) struct Chromedriver {
    /// `None` once killed.
    child: Option<Child>,
    /// `http://127.0.0.1:<port>/`.
    url: String,
    /// Log and profiles; removed on drop.
    dir: PathBuf,
}

impl Chromedriver {
    /// Starts chromedriver on a free port, or returns `None` (having said why
    /// on stderr) when the browser is not installed and not required.
    pub(crate) async fn start(test: &str) -> Option<Self> {
        let missing: Vec<&str> =
            [CHROMIUM, CHROMEDRIVER].into_iter().filter(|path| !Path::new(path).exists()).collect();
        if !missing.is_empty() {
            let what = missing.join(" and ");
            assert!(
                !browser_required(),
                "REQUIRE_BROWSER=1 but {what} is missing: apt-get install chromium chromium-driver"
            );
            eprintln!(
                "SKIPPED {test}: {what} not installed (apt-get install chromium chromium-driver); \
                 set REQUIRE_BROWSER=1 to make this a failure"
            );
            return None;
        }
        // The port can be taken between finding it and chromedriver binding
        // it: try a few.
        for _ in 0..5 {
            let driver = Self::spawn(free_port());
            if driver.wait_until_ready().await {
                return Some(driver);
            }
        }
        panic!("chromedriver did not start; see its log under {}", std::env::temp_dir().display());
    }

    fn spawn(port: u16) -> Self {
        let dir = std::env::temp_dir().join(format!("chat-browser-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("create the browser scratch folder");
        let log = File::create(dir.join("chromedriver.log")).expect("create the chromedriver log");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", dir.join("chromedriver-verbose.log").display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            // Its own process group, so that drop can kill the browsers too.
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        Self { child: Some(child), url: format!("http://127.0.0.1:{port}/"), dir }
    }

    /// Polls `/status` until chromedriver is ready; `false` if it exited.
    async fn wait_until_ready(&self) -> bool {
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + DRIVER_START;
        while tokio::time::Instant::now() < deadline {
            if let Ok(response) = http.get(format!("{}status", self.url)).send().await
                && let Ok(status) = response.json::<Value>().await
                && status["value"]["ready"] == true
            {
                return true;
            }
            if self.exited() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    fn exited(&self) -> bool {
        // `try_wait` needs `&mut`; a zero-signal `kill` tells the same.
        let Some(child) = &self.child else { return true };
        !Command::new("kill")
            .args(["-0", &child.id().to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// A new browser (a WebDriver session with a fresh profile) for `who`,
    /// opened on `url`.
    pub(crate) async fn browser(&self, who: &str, url: &str) -> Client {
        let profile = self.dir.join(format!("profile-{who}-{}", uuid::Uuid::new_v4()));
        let mut args: Vec<String> = FLAGS.iter().map(|flag| (*flag).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--window-size={},{}", WINDOW.0, WINDOW.1));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!("an object") };
        let capabilities: Capabilities = capabilities;
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|error| panic!("a WebDriver session for {who}: {error}"));
        // Make the viewport (not the window around it) the desktop size.
        client.set_window_size(WINDOW.0, WINDOW.1).await.expect("set the window size");
        let frame = client
            .execute("return [outerWidth - innerWidth, outerHeight - innerHeight];", vec![])
            .await
            .expect("measure the window frame");
        let extra = |i: usize| u32::try_from(frame[i].as_u64().unwrap_or(0)).unwrap_or(0);
        client
            .set_window_size(WINDOW.0 + extra(0), WINDOW.1 + extra(1))
            .await
            .expect("set the window size");
        client.goto(url).await.expect("open the page");
        client
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // The whole group: chromedriver and the browsers it started.
            let group = format!("-{}", child.id());
            let _ =
                Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Chrome DevTools Protocol command, sent through chromedriver's
/// `POST /session/{id}/goog/cdp/execute`.
#[derive(Debug)]
pub(crate) struct Cdp {
    /// E.g. `Network.emulateNetworkConditions`.
    pub(crate) method: &'static str,
    /// The command's parameters.
    pub(crate) params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.expect("a session is open");
        base_url.join(&format!("session/{session}/goog/cdp/execute"))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.method, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}
