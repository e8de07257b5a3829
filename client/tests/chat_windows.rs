//! Two real game windows chat under Xvfb: the `tilegame` binary runs twice against a server on
//! 127.0.0.1 (an ephemeral port), `xdotool` focuses the first window and types T, a line and
//! Enter through X11, winit and egui-winit, and the line comes back from the server to both
//! windows — each window's own recording (`--record`) holds the `Chat` packet with the sender's
//! id and the text, and each window saves its last frame under the target folder
//! (`chat_windows/`) for a person to look at.
//!
//! Needs xvfb, xauth and xdotool (`.ci/run` installs them): without them the test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tilegame_protocol::replay_file::ReplayReader;
use tilegame_protocol::replay_format::{FrameDirection, Record};
use tilegame_protocol::v1::play;

const LINE: &str = "hello from Zoe";
/// Frames each window draws before it closes by itself (about 25 s and 35 s at the default
/// 60 FPS cap; longer on a slow machine, which only makes the test slower).
const FRAMES: [u32; 2] = [1500, 2100];
/// Upper bound for anything to happen.
const PATIENCE: Duration = Duration::from_secs(240);

fn dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("chat_windows");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("a scratch folder");
    d
}

/// The `Chat` packets (sender id, text) a recording holds, from the server to its client.
fn chats(path: &Path) -> Vec<(u32, String)> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = ReplayReader::new(&bytes[..]).expect("a recording");
    reader
        .records()
        .into_iter()
        .filter_map(|r| match r {
            Record::Frame(f) if f.direction == FrameDirection::ToClient => match f.decode() {
                Ok(tilegame_protocol::AnyPacket::PlayToClient(play::ToClient::Chat(c))) => {
                    Some((c.from, c.text))
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Runs xdotool on the Xvfb display with its authority file.
fn xdotool(display: &str, xauth: &str, args: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("xdotool {args}"))
        .env("DISPLAY", display)
        .env("XAUTHORITY", xauth)
        .status()
        .is_ok_and(|s| s.success())
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < PATIENCE, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn two_windows_chat_through_xdotool() {
    for tool in ["xvfb-run", "xdotool"] {
        assert!(
            Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {tool}"))
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            "{tool} is missing: apt-get install xvfb xauth xdotool (see .ci/run)"
        );
    }
    let server = tilegame_server::ServerHandle::start(tilegame_server::ServerConfig {
        bind: "127.0.0.1:0".parse().expect("an address"),
        seed: "chatwindows".into(),
        size: "small".into(),
        ..tilegame_server::ServerConfig::default()
    })
    .expect("a server on an ephemeral port");
    let address = server.addr().to_string();
    let dir = dir();
    // The players are named in their own scripts (their tags are drawn with the UI fonts).
    let game = |file: &str, name: &str, frames: u32| {
        format!(
            "{bin} --connect {address} --name {name} --lang en --window-size 640x360 \
             --config-dir {d}/config-{file} --frames {frames} --record {d}/{file}.tgr \
             --screenshot {d}/{file}.png",
            bin = env!("CARGO_BIN_EXE_tilegame"),
            d = dir.display(),
        )
    };
    // Both windows on one Xvfb display; the script writes where the display is, starts the
    // two games and waits for them.
    let script = format!(
        "echo \"$DISPLAY\" > {d}/display; echo \"$XAUTHORITY\" > {d}/xauth; \
         {a} > {d}/alice.log 2>&1 & echo $! > {d}/alice.pid; \
         {b} > {d}/bob.log 2>&1 & wait",
        d = dir.display(),
        a = game("Alice", "Zoë", FRAMES[0]),
        b = game("Bob", "Дмитрий", FRAMES[1]),
    );
    let mut xvfb: Child = Command::new("timeout")
        .args([
            "300",
            "xvfb-run",
            "-a",
            "-s",
            "-screen 0 1280x800x24",
            "sh",
            "-c",
        ])
        .arg(&script)
        .env("XDG_RUNTIME_DIR", &dir)
        .spawn()
        .expect("xvfb-run");
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    };
    wait_for("the display", || {
        !read("display").is_empty() && !read("xauth").is_empty() && !read("alice.pid").is_empty()
    });
    let (display, xauth, pid) = (read("display"), read("xauth"), read("alice.pid"));
    // Both players in the game (the server says so), then Alice's window has the keyboard.
    wait_for("both windows in the game", || server.stats().players == 2);
    // Admitted is not yet playing: the map still has to arrive and be drawn (a few seconds on
    // a software renderer), and the game only takes T in play.
    std::thread::sleep(Duration::from_secs(8));
    wait_for("Alice's window", || {
        xdotool(
            &display,
            &xauth,
            &format!(
                "search --onlyvisible --pid {pid} > {}/alice.window",
                dir.display()
            ),
        )
    });
    let window = read("alice.window")
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(!window.is_empty(), "no window for Alice");
    assert!(
        xdotool(
            &display,
            &xauth,
            &format!(
                "windowfocus --sync {window} && sleep 0.5 && xdotool key t && sleep 0.8 && \
                 xdotool type --delay 60 '{LINE}' && sleep 0.5 && xdotool key Return"
            ),
        ),
        "xdotool could not type into Alice's window"
    );
    let status = xvfb.wait().expect("the games end");
    assert!(
        status.success(),
        "the games failed ({status}):\nAlice: {}\nBob: {}",
        read("alice.log"),
        read("bob.log")
    );
    server.shutdown();
    // Both windows got the line back from the server, with the same sender (Alice's id).
    let (alice, bob) = (chats(&dir.join("Alice.tgr")), chats(&dir.join("Bob.tgr")));
    let sent: Vec<&(u32, String)> = alice.iter().filter(|(_, t)| t == LINE).collect();
    assert_eq!(sent.len(), 1, "Alice's recording: {alice:?}");
    assert!(
        bob.contains(sent[0]),
        "Bob's window never got Alice's line: {bob:?}"
    );
    for name in ["Alice", "Bob"] {
        assert!(dir.join(format!("{name}.png")).exists(), "{name}'s picture");
    }
}
