//! The server's metrics as Prometheus sees them: a real `/usr/bin/prometheus` (Debian's
//! `prometheus` package; `.ci/run` installs it) scrapes a server with headless bots every
//! second, and its HTTP API must report the bots as players and tick durations in the
//! histogram. A plain scrape checks `/metrics`, `/healthz` and `/readyz` and that `promtool`
//! (from the same package) accepts the exposition text.

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tilegame_client::bots::{run_bot, BotOptions, BotStatus};
use tilegame_client::net::ConnectOptions;
use tilegame_server::ServerConfig;
use tilegame_tests::{start_server, test_config};
use tokio::sync::watch;

/// Bound on every wait here.
const BOUND: Duration = Duration::from_secs(90);
const BOTS: usize = 3;

fn metrics_config() -> ServerConfig {
    ServerConfig {
        metrics: Some("127.0.0.1:0".parse().expect("address")),
        ..test_config()
    }
}

/// `GET url`: status and body.
fn get(url: &str) -> (u16, String) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent();
    let mut response = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .unwrap_or_else(|e| panic!("GET {url}: body: {e}"));
    (status, body)
}

#[test]
fn metrics_health_and_readiness_are_served_and_promtool_accepts_the_text() {
    let server = start_server(metrics_config());
    let metrics = server.metrics_addr().expect("metrics listener");
    let _alice = tilegame_tests::TestClient::join(server.addr(), "alice").expect("join");
    // Wait (bounded) for a tick that counts alice.
    let deadline = Instant::now() + BOUND;
    let text = loop {
        let (status, text) = get(&format!("http://{metrics}/metrics"));
        assert_eq!(status, 200, "{text}");
        if text.lines().any(|l| l == "tilegame_players 1") {
            break text;
        }
        assert!(Instant::now() < deadline, "alice never counted:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    for want in [
        "# TYPE tilegame_tick_duration_seconds histogram",
        "tilegame_connections{state=\"play\"} 1",
        "# TYPE tilegame_network_bytes counter",
        "tilegame_network_bytes_total{direction=\"in\",packet=\"JoinRequest\"}",
        "tilegame_network_bytes_total{direction=\"out\",packet=\"MapChunk\"}",
        "tilegame_network_bytes_total{direction=\"out\",packet=\"Snapshot\"}",
    ] {
        assert!(text.contains(want), "{want:?} missing in\n{text}");
    }
    assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    // promtool parses it (and lints names, units and help texts).
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (apt-get install prometheus)");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("written");
    let out = promtool.wait_with_output().expect("promtool ends");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // promtool reads the classic text format: a parse error fails here. Its linter does not
    // know OpenMetrics' counters (HELP and TYPE name `x`, the sample is `x_total`), so the one
    // problem it may report is a `_total` sample "without" the help text its family has.
    for problem in report.lines().filter(|l| !l.trim().is_empty()) {
        let family = problem
            .strip_suffix(" no help text")
            .and_then(|sample| sample.strip_suffix("_total"));
        assert!(
            family.is_some_and(|f| text.contains(&format!("# HELP {f} "))),
            "promtool check metrics: {report}\n{text}"
        );
    }
    let (status, body) = get(&format!("http://{metrics}/healthz"));
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&format!("http://{metrics}/readyz"));
    assert_eq!(status, 200, "{body}");
    let (status, _) = get(&format!("http://{metrics}/nothing"));
    assert_eq!(status, 404);
}

/// A Prometheus server on a free loopback port, scraping `target` every second.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
}

impl Prometheus {
    fn start(target: SocketAddr, dir: &std::path::Path) -> Prometheus {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: tilegame\n    static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .expect("config written");
        let child = Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .spawn()
            .expect("/usr/bin/prometheus runs (apt-get install prometheus)");
        Prometheus { child, addr }
    }

    /// The single value of an instant query, if it has one.
    fn value(&self, query: &str) -> Option<f64> {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .new_agent();
        let mut response = agent
            .get(&format!("http://{}/api/v1/query", self.addr))
            .query("query", query)
            .call()
            .ok()?;
        let body = response.body_mut().read_to_string().ok()?;
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        let result = json["data"]["result"].as_array()?;
        match result.as_slice() {
            [one] => one["value"][1].as_str()?.parse().ok(),
            _ => None,
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_real_prometheus_scrapes_the_players_and_the_tick_histogram() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("prometheus");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("folder");
    let server = start_server(metrics_config());
    let prometheus = Prometheus::start(server.metrics_addr().expect("metrics"), &dir);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (stop_tx, stop_rx) = watch::channel(false);
    let statuses: Vec<_> = (0..BOTS)
        .map(|_| Arc::new(Mutex::new(BotStatus::default())))
        .collect();
    let bots: Vec<_> = statuses
        .iter()
        .enumerate()
        .map(|(i, status)| {
            let options = BotOptions::new(
                ConnectOptions::new(server.addr().to_string(), format!("bot{i}")),
                i as u64 + 1,
            );
            rt.spawn(run_bot(options, Arc::clone(status), stop_rx.clone(), None))
        })
        .collect();

    // Two scrapes at least, while the bots play, and the players Prometheus saw are the bots.
    let deadline = Instant::now() + BOUND;
    let (mut scrapes, mut players, mut ticks) = (None, None, None);
    while Instant::now() < deadline {
        scrapes = prometheus.value("count_over_time(up{job=\"tilegame\"}[5m])");
        players = prometheus.value("tilegame_players");
        ticks = prometheus.value("tilegame_tick_duration_seconds_count");
        let up = prometheus.value("up{job=\"tilegame\"}");
        if scrapes.is_some_and(|s| s >= 2.0) && players == Some(BOTS as f64) && up == Some(1.0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        scrapes.is_some_and(|s| s >= 2.0),
        "scrapes: {scrapes:?}, players {players:?}"
    );
    assert_eq!(
        players,
        Some(BOTS as f64),
        "tilegame_players as Prometheus saw it"
    );
    assert!(
        ticks.is_some_and(|t| t > 0.0),
        "tick histogram samples: {ticks:?}"
    );
    // The histogram's buckets are there too: a quantile can be computed from them.
    let p99 = prometheus
        .value("histogram_quantile(0.99, sum by (le) (tilegame_tick_duration_seconds_bucket))");
    assert!(p99.is_some_and(|v| v > 0.0), "p99 tick duration: {p99:?}");
    let bytes = prometheus
        .value("sum(tilegame_network_bytes_total{direction=\"out\",packet=\"Snapshot\"})");
    assert!(bytes.is_some_and(|b| b > 0.0), "snapshot bytes: {bytes:?}");

    let _ = stop_tx.send(true);
    rt.block_on(async {
        for bot in bots {
            let _ = tokio::time::timeout(BOUND, bot).await;
        }
    });
}
