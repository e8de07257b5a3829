//! A real `tilegame-server` process on a loopback port, for the tests and benchmarks that need a
//! live server: the replay crate links no server (it re-simulates through `tilegame-sim`), so it
//! runs the server's own binary, as an operator would.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a stopped server may take to kick everyone and seal its recordings.
const STOP_LIMIT: Duration = Duration::from_secs(30);

/// The server binary, built by cargo into this test's target folder (a failed build fails the
/// test: nothing is skipped).
pub fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    // <target>/<profile>/deps/<test> → <target>/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from <target>/<profile>/deps");
    let target_dir = profile_dir.parent().expect("a target folder");
    let bin = profile_dir.join(format!("tilegame-server{}", std::env::consts::EXE_SUFFIX));
    let mut build = Command::new(env!("CARGO"));
    build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "-p",
            "tilegame-server",
            "--bin",
            "tilegame-server",
            "--target-dir",
        ])
        .arg(target_dir);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(
        status.success(),
        "`cargo build -p tilegame-server --bin tilegame-server` failed ({status})"
    );
    assert!(bin.exists(), "{} was built", bin.display());
    bin
}

/// A running `tilegame-server`; stopped (SIGINT, as Ctrl-C) by [`ServerProcess::shutdown`], and
/// killed if dropped without it.
pub struct ServerProcess {
    child: Option<Child>,
    addr: SocketAddr,
}

impl ServerProcess {
    /// Starts the server on a free loopback port with `args` (flags of `tilegame-server`) and
    /// waits until it listens.
    pub fn start<S: AsRef<OsStr>>(args: &[S]) -> ServerProcess {
        let mut child = Command::new(server_binary())
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref().map_while(Result::ok) {
                // "tilegame-server listening on 127.0.0.1:PORT (seed ...)"
                let addr = line
                    .strip_prefix("tilegame-server listening on ")
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|a| a.parse::<SocketAddr>().ok());
                if let Some(addr) = addr {
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not say where it listens within 60 s");
            }
        };
        ServerProcess {
            child: Some(child),
            addr,
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops it as Ctrl-C does (everyone kicked, recordings sealed) and waits for it to exit.
    pub fn shutdown(mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "SIGINT sent");
        let deadline = Instant::now() + STOP_LIMIT;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                assert!(status.success(), "the server exited with {status}");
                return;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not stop within {STOP_LIMIT:?} of SIGINT");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
