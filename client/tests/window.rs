//! The real game in a real window: `tilegame --host` hosts a server, joins it, renders frames
//! under Xvfb, saves a screenshot and exits by itself.

use std::process::Command;

fn skip(reason: &str) -> bool {
    if std::env::var_os("TILEGAME_SKIP_GPU_TESTS").is_some() {
        eprintln!("skipped: {reason} (TILEGAME_SKIP_GPU_TESTS is set)");
        return true;
    }
    panic!(
        "{reason}: install xvfb, xauth and Mesa (see .ci/run), or set TILEGAME_SKIP_GPU_TESTS=1"
    );
}

#[test]
fn the_game_opens_a_window_joins_its_own_server_and_draws_the_world() {
    if Command::new("xvfb-run").arg("--help").output().is_err() && skip("xvfb-run is not installed")
    {
        return;
    }
    let dir = std::env::temp_dir().join(format!("tilegame-window-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let shot = dir.join("shot.png");
    let output = Command::new("timeout")
        .args(["120", "xvfb-run", "-a", "-s", "-screen 0 1280x1024x24"])
        .arg(env!("CARGO_BIN_EXE_tilegame"))
        .args(["--host", "--config-dir"])
        .arg(&dir)
        .args([
            "--size",
            "small",
            "--seed",
            "windowtest",
            "--name",
            "tester",
            "--frames",
            "90",
            "--screenshot",
        ])
        .arg(&shot)
        .env("XDG_RUNTIME_DIR", &dir)
        .output()
        .expect("run the game under xvfb-run");
    assert!(
        output.status.success(),
        "the game failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&shot).expect("screenshot written"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("pixels");
    let pixels = &buf[..info.buffer_size()];
    let distinct: std::collections::BTreeSet<&[u8]> = pixels.chunks(4).take(200_000).collect();
    assert!(
        distinct.len() > 50,
        "the window shows a picture, not a blank screen ({} colours)",
        distinct.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
