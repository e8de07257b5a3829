//! The workspace's binaries, built by cargo into the running test's own target folder (same
//! profile), so a test runs exactly what a user runs. A failed build fails the test: nothing is
//! skipped.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `bin` of `package` into this test's target folder and returns its path.
pub fn cargo_binary(package: &str, bin: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    // <target>/<profile>/deps/<test> → <target>/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from <target>/<profile>/deps");
    let target_dir = profile_dir.parent().expect("a target folder");
    let path = profile_dir.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    let mut build = Command::new(env!("CARGO"));
    build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "-p", package, "--bin", bin, "--target-dir"])
        .arg(target_dir);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(
        status.success(),
        "`cargo build -p {package} --bin {bin}` failed ({status})"
    );
    assert!(path.exists(), "{} was built", path.display());
    path
}

/// The server binary `tilegame-server`.
pub fn server_binary() -> PathBuf {
    cargo_binary("tilegame-server", "tilegame-server")
}

/// The replay tool's binary `tilegame-replay` (`verify`, `diff`).
pub fn replay_binary() -> PathBuf {
    cargo_binary("tilegame-replay", "tilegame-replay")
}

/// The client binary `tilegame` (with its renderer).
pub fn client_binary() -> PathBuf {
    cargo_binary("tilegame-client", "tilegame")
}

/// Runs `tilegame-replay` with `args`: its exit code and its output (stdout then stderr).
pub fn replay(args: &[&OsStr]) -> (Option<i32>, String) {
    let out = Command::new(replay_binary())
        .args(args)
        .output()
        .expect("tilegame-replay runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}
