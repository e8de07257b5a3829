//! Helpers shared by the replay tests: the fixture, recording live sessions, running commands,
//! and rewriting recordings (to tamper with them).
#![allow(dead_code, unused_imports)]

pub mod sim_script;
pub mod x11;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tilegame_client::headless::{self, HeadlessOptions};
use tilegame_protocol::replay_file::{ReplayReader, ReplayWriter};
use tilegame_protocol::replay_format::Record;
use tilegame_replay::ReplayFile;

pub use tilegame_testkit::{client_binary, ServerProcess};

/// The committed fixture.
pub fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small.tgr")
}

/// The fixture, refusing clearly when it was recorded with another protocol.
pub fn fixture() -> ReplayFile {
    let path = fixture_path();
    let file = ReplayFile::open(&path).expect("the fixture exists");
    let stale = file
        .open_reader()
        .expect("the fixture has a header")
        .check_protocol();
    if let Err(e) = stale {
        panic!(
            "tests/fixtures/small.tgr is stale ({e}); regenerate it as tests/fixtures/README.md says"
        );
    }
    file
}

/// Runs the `tilegame-replay` binary with `args`: its exit code, stdout and stderr.
pub fn replay_tool<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tilegame-replay"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tgr-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// Starts a `tilegame-server` process on a free loopback port (small map, 16 players).
pub fn server(seed: &str, record_dir: Option<PathBuf>) -> ServerProcess {
    let mut args: Vec<std::ffi::OsString> =
        ["--seed", seed, "--size", "small", "--max-players", "16"]
            .iter()
            .map(Into::into)
            .collect();
    if let Some(dir) = record_dir {
        args.push("--record-dir".into());
        args.push(dir.into());
    }
    ServerProcess::start(&args)
}

/// Records bot 1 of `bots` headless bots playing for `seconds` against `address`.
pub fn record_bots(
    address: String,
    path: &Path,
    bots: usize,
    seconds: f64,
    keyframe_interval: u32,
) {
    record_bots_saying(address, path, bots, seconds, keyframe_interval, &[]);
}

/// [`record_bots`], each bot saying `say` (one line a second).
pub fn record_bots_saying(
    address: String,
    path: &Path,
    bots: usize,
    seconds: f64,
    keyframe_interval: u32,
    say: &[String],
) {
    let recorder = tilegame_client::net::recorder::create(path, "bot1", keyframe_interval)
        .expect("the recording opens");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let statuses = runtime.block_on(headless::run(HeadlessOptions {
        address,
        name: "bot".into(),
        bots,
        seconds: Some(seconds),
        seed: 1,
        print_status: false,
        recorder: Some(recorder),
        connect_timeout: Duration::from_secs(30),
        play_timeout: Duration::from_secs(10),
        say: say.to_vec(),
    }));
    assert_eq!(statuses.len(), bots.max(1));
    assert!(
        statuses.iter().all(|s| s.snapshots > 0),
        "every bot played: {statuses:?}"
    );
}

/// Records a whole session against a fresh embedded server (the fixture's recipe).
pub fn record_session(path: &Path, seed: &str, bots: usize, seconds: f64, keyframe_interval: u32) {
    let server = server(seed, None);
    record_bots(
        server.addr().to_string(),
        path,
        bots,
        seconds,
        keyframe_interval,
    );
    server.shutdown();
}

/// Reads every record of a file (which must be whole).
pub fn records(data: &[u8]) -> (tilegame_protocol::replay_format::FileHeader, Vec<Record>) {
    let mut reader = ReplayReader::new(data).expect("a header");
    let records = reader.records();
    assert!(
        reader.stopped_early().is_none(),
        "{:?}",
        reader.stopped_early()
    );
    (reader.header().clone(), records)
}

/// Reads the records of a file that may be cut (a killed recorder's): those before the cut.
pub fn records_kept(data: &[u8]) -> (tilegame_protocol::replay_format::FileHeader, Vec<Record>) {
    let mut reader = ReplayReader::new(data).expect("a header");
    let records = reader.records();
    (reader.header().clone(), records)
}

/// Writes records back into a file, one chunk per record.
pub fn rewrite(
    header: &tilegame_protocol::replay_format::FileHeader,
    records: &[Record],
) -> Vec<u8> {
    let mut w = ReplayWriter::new(Vec::new(), header).expect("header");
    for r in records {
        w.push(r).expect("record");
        w.flush().expect("flush");
    }
    w.finish().expect("finish")
}

/// Runs a command function and returns (exit code or error, stdout).
pub fn output(
    f: impl FnOnce(&mut Vec<u8>) -> Result<u8, tilegame_replay::ToolError>,
) -> (Result<u8, tilegame_replay::ToolError>, String) {
    let mut out = Vec::new();
    let r = f(&mut out);
    (r, String::from_utf8(out).expect("utf-8 output"))
}

/// Polls `f` until it gives a value (an event seen in a file or a process), failing after
/// `limit` (a generous upper bound, never the expected time).
pub fn wait_for<T>(what: &str, limit: Duration, f: impl FnMut() -> Option<T>) -> T {
    wait_for_or(what, limit, f, String::new)
}

/// [`wait_for`], adding `context()` to the failure message.
pub fn wait_for_or<T>(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let started = std::time::Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
