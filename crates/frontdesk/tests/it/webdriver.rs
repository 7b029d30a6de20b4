//! A small W3C WebDriver client over HTTP, enough to drive headless Chromium through
//! ChromeDriver in tests: open pages, find elements, type, click, read text.

use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
    driver: tokio::process::Child,
    profile: std::path::PathBuf,
}

fn find_binary(candidates: &[&str]) -> Option<String> {
    candidates.iter().find(|c| std::path::Path::new(c).exists()).map(|c| c.to_string())
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium with a fresh profile and the network closed.
    pub async fn start() -> Browser {
        let driver_bin = find_binary(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])
            .expect("chromedriver is missing: scripts/test installs chromium and chromium-driver");
        let chrome_bin = find_binary(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]).expect("chromium is missing");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let driver = tokio::process::Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{base}/status")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = std::env::temp_dir().join(format!("frontdesk-chrome-{}", frontdesk_kernel::id::new_body()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chrome_bin,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                         "--disable-dev-shm-usage", "--window-size=1280,900",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("json");
        let session = res["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {res}")).to_owned();
        Browser { http, base, session, driver, profile }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut rb = self.http.request(method, url);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let v: Value = rb.send().await.expect("webdriver request").json().await.expect("webdriver json");
        v["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    pub async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or("").to_owned()
    }

    /// The first element matching `css`, waiting up to 10 s for it.
    pub async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v =
                self.cmd(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
            if let Some(id) = v[ELEMENT_KEY].as_str() {
                return id.to_owned();
            }
            if Instant::now() > deadline {
                let page = self.page_text().await;
                panic!("no element {css} on {}: {page}", self.url().await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn click(&self, css: &str) {
        self.on_element(css, reqwest::Method::POST, "click", Some(json!({}))).await;
    }

    pub async fn fill(&self, css: &str, text: &str) {
        self.on_element(css, reqwest::Method::POST, "clear", Some(json!({}))).await;
        self.on_element(css, reqwest::Method::POST, "value", Some(json!({"text": text}))).await;
    }

    pub async fn text(&self, css: &str) -> String {
        self.on_element(css, reqwest::Method::GET, "text", None).await.as_str().unwrap_or("").to_owned()
    }

    /// Runs one element command on the first element matching `css`. Live pages replace rows
    /// as updates arrive, so an element found a moment ago may be gone ("stale element
    /// reference"): it is then found again, for up to 10 s. Any other WebDriver error fails
    /// the test instead of being ignored.
    async fn on_element(&self, css: &str, method: reqwest::Method, command: &str, body: Option<Value>) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let el = self.find(css).await;
            let v = self.cmd(method.clone(), &format!("/element/{el}/{command}"), body.clone()).await;
            match v["error"].as_str() {
                None => return v,
                Some("stale element reference") if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Some(error) => panic!("{command} on {css} failed: {error}: {}", v["message"]),
            }
        }
    }

    pub async fn page_text(&self) -> String {
        let v =
            self.cmd(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": "body"}))).await;
        match v[ELEMENT_KEY].as_str() {
            Some(el) => self
                .cmd(reqwest::Method::GET, &format!("/element/{el}/text"), None)
                .await
                .as_str()
                .unwrap_or("")
                .to_owned(),
            None => String::new(),
        }
    }

    /// Waits until the page's text contains `needle`.
    pub async fn wait_for_text(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.page_text().await;
            if text.contains(needle) {
                return;
            }
            assert!(Instant::now() < deadline, "page {} never showed {needle:?}; it shows: {text}", self.url().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `script` in the page (`arguments[i]` are `args`) and returns its result; reaches
    /// what CSS selectors cannot, such as an open shadow root.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    pub async fn quit(mut self) {
        let _ = self.http.delete(format!("{}/session/{}", self.base, self.session)).send().await;
        let _ = self.driver.kill().await;
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
