//! `view` plays the fixture in a real window under Xvfb, saves a frame and exits by itself.

#![cfg(feature = "view")]

use std::path::Path;
use std::process::Command;

#[test]
fn view_plays_the_fixture_in_a_window() {
    assert!(
        Command::new("xvfb-run").arg("--help").output().is_ok(),
        "xvfb-run is not installed: install xvfb and xauth (see .ci/run)"
    );
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small.tgr");
    let dir = std::env::temp_dir().join(format!("tilegame-view-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let shot = dir.join("view.png");
    let output = Command::new("timeout")
        .args(["120", "xvfb-run", "-a", "-s", "-screen 0 1280x1024x24"])
        .arg(env!("CARGO_BIN_EXE_tilegame-replay"))
        .arg("view")
        .arg(&fixture)
        .args(["--speed", "8", "--frames", "40", "--screenshot"])
        .arg(&shot)
        .env("XDG_RUNTIME_DIR", &dir)
        .output()
        .expect("run the viewer");
    assert!(
        output.status.success(),
        "viewer failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "a screenshot of the replayed world was written ({size} bytes)"
    );
    // A file cut mid-chunk, as a crash leaves it, plays up to the cut (from a keyframe too).
    let data = std::fs::read(&fixture).expect("the fixture");
    let cut = dir.join("cut.tgr");
    std::fs::write(&cut, &data[..data.len() * 2 / 3 + 7]).expect("a cut copy");
    let output = Command::new("timeout")
        .args(["120", "xvfb-run", "-a", "-s", "-screen 0 1280x1024x24"])
        .arg(env!("CARGO_BIN_EXE_tilegame-replay"))
        .arg("view")
        .arg(&cut)
        .args(["--from", "45", "--speed", "8", "--frames", "10"])
        .env("XDG_RUNTIME_DIR", &dir)
        .output()
        .expect("run the viewer");
    assert!(
        output.status.success(),
        "viewer on a cut file failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
