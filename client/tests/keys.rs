//! Keys through the real event path: a window under Xvfb, keys typed by `xdotool`, winit and
//! egui-winit in between, and the game's [`InputState`] at the end. The window shows egui
//! buttons (focusable widgets, as the menus and the HUD do), which is when egui-winit claims
//! Tab for focus cycling.
//!
//! winit wants its event loop on the main thread and once per process, so this test has no
//! harness (`harness = false`): `main` re-runs the binary under `xvfb-run` and the child (it
//! sees `TILEGAME_KEYS_CHILD`) opens the window. Needs xvfb, xauth and xdotool (`.ci/run`
//! installs them).

use std::process::Command;

use tilegame_client::render::{
    egui, run_window, FrameSource, InputState, Key, Scene, WindowOptions,
};
use tilegame_game::{Map, Tile};

const CHILD: &str = "TILEGAME_KEYS_CHILD";
const TITLE: &str = "tilegame-keys-test";
/// Frames after which the child gives up (the keys never came).
const FRAME_LIMIT: u64 = 3000;

struct Probe {
    map: Map,
    keys: Vec<Key>,
    frame: u64,
    typist: Option<std::thread::JoinHandle<bool>>,
    done: bool,
}

impl FrameSource for Probe {
    fn update(&mut self, input: &InputState, _dt: f32) {
        self.frame = input.frame;
        self.keys.extend(input.keys_pressed.iter().copied());
        if self.keys.contains(&Key::Escape) || input.frame >= FRAME_LIMIT {
            self.done = true;
        }
        if input.frame == 5 {
            // Tab pressed once, then held (auto-repeat), then Escape as the end mark.
            self.typist = Some(std::thread::spawn(|| {
                Command::new("sh")
                    .arg("-c")
                    .arg(format!(
                        "W=$(xdotool search --sync --name {TITLE} | head -1) && \
                         xdotool windowfocus --sync $W && sleep 0.3 && \
                         xdotool key Tab && sleep 0.3 && \
                         xdotool keydown Tab && sleep 0.8 && xdotool keyup Tab && sleep 0.3 && \
                         xdotool key Escape"
                    ))
                    .status()
                    .is_ok_and(|s| s.success())
            }));
        }
    }

    fn scene(&self) -> Scene<'_> {
        Scene {
            map: &self.map,
            camera: [0.0, 0.0],
            zoom: 1.0,
            players: Vec::new(),
            breaking: None,
            hud: Default::default(),
            overlay: Some(tilegame_client::render::Overlay::UiLayer),
        }
    }

    fn should_exit(&self) -> bool {
        self.done
    }

    fn ui(&mut self, ctx: &egui::Context) {
        egui::Area::new(egui::Id::unique("buttons")).show(ctx, |ui| {
            let _ = ui.button("Resume");
            let _ = ui.button("Options");
        });
    }
}

fn child() {
    let mut probe = Probe {
        map: Map::new(8, 8, Tile::Dirt).expect("a small map"),
        keys: Vec::new(),
        frame: 0,
        typist: None,
        done: false,
    };
    let options = WindowOptions {
        title: TITLE.into(),
        size: [640, 360],
        ..WindowOptions::default()
    };
    run_window(&mut probe, options).expect("the window runs");
    let typed = probe
        .typist
        .take()
        .map(|t| t.join().unwrap_or(false))
        .unwrap_or(false);
    assert!(typed, "xdotool could not type into the window");
    let tabs = probe.keys.iter().filter(|k| **k == Key::Tab).count();
    assert_eq!(
        tabs, 2,
        "one Tab press and one held Tab reach the game (repeats do not): {:?} after {} frames",
        probe.keys, probe.frame
    );
    assert_eq!(probe.keys.last(), Some(&Key::Escape));
}

fn main() {
    // `cargo test -- --list` and filters: one test, named like the others.
    let name = "tab_reaches_the_game_pressed_and_held_while_egui_shows_buttons";
    if std::env::args().any(|a| a == "--list") {
        println!("{name}: test");
        return;
    }
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    if Command::new("xdotool").arg("version").output().is_err() {
        if std::env::var_os("TILEGAME_SKIP_GPU_TESTS").is_some() {
            eprintln!("skipped: xdotool is not installed (TILEGAME_SKIP_GPU_TESTS is set)");
            return;
        }
        panic!("xdotool is missing: apt-get install xvfb xauth xdotool (see .ci/run)");
    }
    let dir = std::env::temp_dir().join(format!("tilegame-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let output = Command::new("timeout")
        .args(["120", "xvfb-run", "-a", "-s", "-screen 0 1280x800x24"])
        .arg(std::env::current_exe().expect("the test binary"))
        .env(CHILD, "1")
        .env("XDG_RUNTIME_DIR", &dir)
        .output()
        .expect("run the test under xvfb-run");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "the window test failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("test {name} ... ok");
}
