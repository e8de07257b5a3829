//! Live sessions recorded end to end and verified: ten bots for a minute, a client killed with
//! SIGKILL mid-recording, and the server's own recordings of the same connections.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{output, scratch};
use tilegame_replay::cmd::{self, verify::VerifyOptions, Tail};
use tilegame_replay::ReplayFile;

fn quiet() -> VerifyOptions {
    VerifyOptions {
        out_dir: None,
        no_timing: true,
    }
}

#[test]
fn ten_bots_for_sixty_seconds_verify_end_to_end() {
    let dir = scratch("ten-bots");
    let path = dir.join("ten.tgr");
    let server = common::server("tenbots", None);
    common::record_bots(server.addr().to_string(), &path, 10, 60.0, 1200);
    server.shutdown();
    let file = ReplayFile::open(&path).unwrap();
    let a = cmd::verify::verify(&file, &quiet(), false).unwrap();
    let b = cmd::verify::verify(&file, &quiet(), false).unwrap();
    assert_eq!(a.exit_code(), 0, "{}", a.render());
    assert_eq!(a.render(), b.render());
    assert_eq!(a.digest, b.digest);
    assert!(a.tail.is_clean(), "{:?}", a.tail);
    // About 20 snapshots a second for a minute, every one hashed by the recorder.
    assert!(a.verified >= 1000, "{}", a.render());
    assert_eq!(a.verified, a.snapshots);
    assert!(a.keyframes >= 1);
    let info = cmd::info::gather(&file).unwrap();
    assert_eq!(info.players.len(), 10, "{:?}", info.players);
    eprintln!("{}{}", a.render(), a.throughput());
    let _ = std::fs::remove_dir_all(dir);
}

/// The client binary, built (without the renderer) into this test's target folder.
fn client_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // <target>/<profile>/deps/<test> → <target>/<profile>
    let profile_dir = exe.parent()?.parent()?;
    let target_dir = profile_dir.parent()?;
    let bin = profile_dir.join(format!("tilegame{}", std::env::consts::EXE_SUFFIX));
    let mut build = Command::new(env!("CARGO"));
    build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "-p",
            "tilegame-client",
            "--bin",
            "tilegame",
            "--no-default-features",
            "--target-dir",
        ])
        .arg(target_dir);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let built = build.status().map(|s| s.success()).unwrap_or(false);
    if !built {
        eprintln!("note: `cargo build -p tilegame-client --bin tilegame` failed");
    }
    bin.exists().then_some(bin)
}

fn verify_server_recordings(dir: &Path) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tgr"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "one file per connection: {files:?}");
    for path in files {
        let file = ReplayFile::open(&path).unwrap();
        let (r, text) = output(|out| cmd::verify::run(&file, &quiet(), out));
        assert_eq!(r.unwrap(), 0, "{}: {text}", path.display());
        assert!(
            text.starts_with("no recorded hashes to compare: "),
            "{}: {text}",
            path.display()
        );
        let (r, text) = output(|out| cmd::info::run(&file, out));
        assert_eq!(r.unwrap(), 0);
        assert!(text.contains("recorder:   server"), "{text}");
    }
}

#[test]
fn a_client_killed_mid_recording_leaves_a_verifiable_file() {
    let Some(bin) = client_binary() else {
        eprintln!("SKIPPED: the tilegame client binary is not available");
        return;
    };
    let dir = scratch("kill9");
    let server_dir = dir.join("server");
    std::fs::create_dir_all(&server_dir).unwrap();
    let server = common::server("kill9", Some(server_dir.clone()));
    let path = dir.join("killed.tgr");
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--bots",
            "2",
            "--keyframe-interval",
            "20",
            "--connect",
        ])
        .arg(server.addr().to_string())
        .arg("--record")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the client starts");
    std::thread::sleep(Duration::from_secs(3));
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let file = ReplayFile::open(&path).unwrap();
    let report = cmd::verify::verify(&file, &quiet(), false).unwrap();
    assert_eq!(report.exit_code(), 0, "{}", report.render());
    assert!(report.verified >= 20, "{}", report.render());
    assert!(!report.tail.is_clean(), "{:?}", report.tail);
    let (r, text) = output(|out| cmd::info::run(&file, out));
    assert_eq!(r.unwrap(), 0);
    assert!(text.contains("ended:      cut: "), "{text}");
    assert!(matches!(
        report.tail,
        Tail::Cut { .. } | Tail::Unfinished { .. }
    ));
    // The server noticed the dead connections and closed its own recordings of them.
    std::thread::sleep(Duration::from_millis(500));
    server.shutdown();
    verify_server_recordings(&server_dir);
    let _ = std::fs::remove_dir_all(dir);
}
