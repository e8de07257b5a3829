//! Shared set-up of the headless-browser tests: the built bundle, Debian's `chromium` and
//! `chromedriver`, a WebDriver session on a page of `tilegame-server --web`, and bounded
//! WebDriver steps. Included by the browser test files with `#[path]` (a folder under `tests/`
//! is not a test target of its own), so `fantoccini` stays a dev-dependency.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder};
use tilegame_server::{ServerConfig, ServerHandle};
use tilegame_tests::{start_server, test_config};

/// The longest any one step may take (page load, a join, a WebDriver command).
pub const STEP: Duration = Duration::from_secs(60);

/// WebDriver's Tab key.
pub const TAB: char = '\u{e004}';
/// WebDriver's Enter key.
pub const ENTER: char = '\u{e007}';
/// WebDriver's Escape key.
pub const ESCAPE: char = '\u{e00c}';

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_owned()
}

/// `target/`, from this test's own path (`<target>/<profile>/deps/<test>`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    exe.ancestors()
        .nth(3)
        .expect("tests run from <target>/<profile>/deps")
        .to_owned()
}

/// The built bundle, or a failure that says how to build it.
pub fn bundle() -> PathBuf {
    let dist = repo_root().join("web/dist");
    for file in ["index.html", "tilegame.js", "tilegame_bg.wasm"] {
        assert!(
            dist.join(file).is_file(),
            "{} is missing: build the browser bundle first with web/build.sh (.ci/run does)",
            dist.join(file).display()
        );
    }
    dist
}

/// A test server whose web listener (an ephemeral loopback port) serves the built bundle, and
/// `replays` under `/replays/` when given; returns it with the web listener's address.
pub fn page_server(replays: Option<PathBuf>) -> (ServerHandle, SocketAddr) {
    let server = start_server(ServerConfig {
        web: Some("127.0.0.1:0".parse().expect("a loopback address")),
        web_root: bundle(),
        replays,
        ..test_config()
    });
    let web = server.web_addr().expect("the web listener is on");
    (server, web)
}

/// A PNG's pixels (the decoded frame) and the samples per pixel.
pub fn png_pixels(png_bytes: &[u8]) -> (Vec<u8>, usize) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a sized PNG")];
    let info = reader.next_frame(&mut buf).expect("a PNG frame");
    buf.truncate(info.buffer_size());
    (buf, info.color_type.samples())
}

/// A program on the PATH, or a failure naming the Debian package.
pub fn program(name: &str, package: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is not installed: apt-get install {package} (.ci/run does)")
        })
}

/// chromedriver on a free loopback port; killed when dropped.
pub struct Chromedriver {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Chromedriver {
    /// Starts chromedriver and waits (bounded) until it listens.
    pub fn start() -> Chromedriver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(program("chromedriver", "chromium-driver"))
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Chromedriver { child, port };
        let deadline = Instant::now() + STEP;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }

    /// A headless Chromium session (1280×720, software GL); downloads go to `downloads`
    /// without asking when it is given.
    pub async fn session(&self, downloads: Option<&Path>) -> Client {
        let mut options = serde_json::json!({
            "binary": program("chromium", "chromium"),
            "args": [
                "--headless=new", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,720",
            ],
        });
        if let Some(dir) = downloads {
            options["prefs"] = serde_json::json!({
                "download.default_directory": dir,
                "download.prompt_for_download": false,
                "download.directory_upgrade": true,
                "safebrowsing.enabled": false,
            });
        }
        let caps = serde_json::json!({ "goog:chromeOptions": options });
        let caps = caps.as_object().expect("an object").clone();
        bounded(
            "a Chromium session",
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{}", self.port)),
        )
        .await
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Bounds a WebDriver command.
pub async fn bounded<T, E: std::fmt::Debug>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> T {
    match tokio::time::timeout(STEP, f).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => panic!("{what}: {e:?}"),
        Err(_) => panic!("{what}: no answer within {STEP:?}"),
    }
}

/// Loads `http://{web}/{path}` and waits (bounded) until the page drew its first frame
/// (`<html data-tilegame="running">`); a start-up error shown on the page fails at once.
pub async fn open_page(client: &Client, web: SocketAddr, path: &str) {
    bounded(
        "load the page",
        client.goto(&format!("http://{web}/{path}")),
    )
    .await;
    wait_running(client).await;
    // Focus without a click (a click would press the menu button under the pointer).
    bounded(
        "focus the canvas",
        client.execute("document.getElementById('tilegame').focus();", vec![]),
    )
    .await;
    // egui shows a new screen's widgets from its second pass on, and the focus reaches winit
    // a frame later: keys sent at once can fall before the menu takes them.
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

/// Waits (bounded) until the loaded page drew its first frame (`<html
/// data-tilegame="running">`).
pub async fn wait_running(client: &Client) {
    let deadline = Instant::now() + STEP;
    loop {
        let state = bounded(
            "read the page state",
            client.execute(
                "return [document.documentElement.dataset.tilegame || '', \
                 (document.getElementById('tilegame-error') || {}).textContent || ''];",
                vec![],
            ),
        )
        .await;
        if state[0] == "running" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the page drew no frame within {STEP:?} (page state {state})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Presses and releases each key in turn, each in its own frames.
pub async fn press(client: &Client, keys: &str) {
    for key in keys.chars() {
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Pause {
                duration: Duration::from_millis(60),
            })
            .then(KeyAction::Up { value: key })
            .then(KeyAction::Pause {
                duration: Duration::from_millis(250),
            });
        bounded("key press", client.perform_actions(actions)).await;
    }
}

/// Holds `key` down for `held`.
pub async fn hold(client: &Client, key: char, held: Duration) {
    let actions = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Pause { duration: held })
        .then(KeyAction::Up { value: key });
    bounded("held key", client.perform_actions(actions)).await;
}

/// The Snapshots the page has received (its `data-snapshots`).
pub async fn snapshots(client: &Client) -> f64 {
    let v = bounded(
        "read the snapshot count",
        client.execute(
            "return document.documentElement.dataset.snapshots || '0';",
            vec![],
        ),
    )
    .await;
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0.0)
}

/// Waits (bounded) until the page has received at least `n` Snapshots.
pub async fn wait_snapshots(client: &Client, n: f64, what: &str) {
    let deadline = Instant::now() + STEP;
    loop {
        let got = snapshots(client).await;
        if got >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "waited {STEP:?} for {what}: the page received {got} snapshots, not {n}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
