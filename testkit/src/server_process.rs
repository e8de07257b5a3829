//! The real `tilegame-server` binary as an operator runs it: started with flags on a loopback
//! port, stopped with a signal, its exit status read back.
//!
//! The server's standard output says where it listens; its log (standard error) is kept, line by
//! line, so a test can wait for what the server says.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::binaries::server_binary;

/// How long the server may take to generate its world and listen.
const START_LIMIT: Duration = Duration::from_secs(120);

/// How long a stopped server may take to kick everyone and seal its recordings.
const STOP_LIMIT: Duration = Duration::from_secs(30);

/// A running `tilegame-server` process; killed if dropped while running.
pub struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    metrics: Option<SocketAddr>,
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts the server on a free loopback port with `args` (its flags) and waits until it
    /// listens. `RUST_LOG` is `info` unless the environment says otherwise.
    pub fn start<S: AsRef<OsStr>>(args: &[S]) -> ServerProcess {
        let mut child = Command::new(server_binary())
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        std::thread::spawn({
            let log = Arc::clone(&log);
            move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    eprintln!("server: {line}");
                    log.lock().expect("log").push(line);
                }
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + START_LIMIT;
        let (mut addr, mut metrics) = (None, None);
        let metrics_wanted = args.iter().any(|a| a.as_ref() == "--metrics");
        while addr.is_none() || (metrics_wanted && metrics.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not say where it listens within {START_LIMIT:?}");
            };
            // "tilegame-server listening on 127.0.0.1:PORT (seed ...)"
            let word = |prefix: &str| {
                line.strip_prefix(prefix)
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|a| a.parse::<SocketAddr>().ok())
            };
            addr = addr.or_else(|| word("tilegame-server listening on "));
            // "tilegame-server metrics on 127.0.0.1:PORT (/metrics /healthz /readyz)"
            metrics = metrics.or_else(|| word("tilegame-server metrics on "));
        }
        ServerProcess {
            child,
            addr: addr.expect("parsed"),
            metrics,
            log,
        }
    }

    /// The game's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The metrics listener's address (with `--metrics`).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
    }

    /// Sends the signal `name` (`TERM`, `INT`) to the server.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "SIG{name} sent");
    }

    /// Waits (bounded) until a log line contains `text`.
    pub fn wait_for_log(&self, text: &str, bound: Duration) {
        let deadline = Instant::now() + bound;
        loop {
            if self
                .log
                .lock()
                .expect("log")
                .iter()
                .any(|l| l.contains(text))
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not log {text:?} within {bound:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it as Ctrl-C does (everyone kicked, recordings sealed), waits for it to exit and
    /// checks that it exited successfully.
    pub fn shutdown(mut self) {
        self.signal("INT");
        let status = self.wait_exit(STOP_LIMIT);
        assert!(status.success(), "the server exited with {status}");
    }

    /// Waits for the process to exit, at most `bound` (then kills it and fails).
    pub fn wait_exit(&mut self, bound: Duration) -> ExitStatus {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the server did not exit within {bound:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
