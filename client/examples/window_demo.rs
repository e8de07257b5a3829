//! Opens a window on the demo map: WASD/arrows move, 1/2 pick an item, Tab lists players,
//! Esc pauses, hold the left mouse button to crack the tile under the cursor.
//!
//! `cargo run -p tilegame-client --example window_demo -- [--frames N] [--screenshot OUT.png]`
//! Under CI: `xvfb-run -a -s "-screen 0 1280x1024x24" target/debug/examples/window_demo --frames 30 --screenshot shot.png`

use std::path::PathBuf;

use tilegame_client::render::demo::{demo_map, demo_scene};
use tilegame_client::render::{
    run_window, FrameSource, InputState, Key, Overlay, Scene, WindowOptions,
};
use tilegame_game::{px_to_tile, Map};

struct Demo {
    map: Map,
    pos: [f32; 2],
    time: f32,
    item: u8,
    list: bool,
    paused: bool,
    breaking: Option<(u16, u16, f32)>,
    exit: bool,
}

impl FrameSource for Demo {
    fn update(&mut self, input: &InputState, dt: f32) {
        self.time += dt;
        for key in &input.keys_pressed {
            match key {
                Key::Digit1 => self.item = 0,
                Key::Digit2 => self.item = 1,
                Key::Tab => self.list = !self.list,
                Key::Escape => self.paused = !self.paused,
                _ => {}
            }
        }
        if input.close_requested {
            self.exit = true;
        }
        if self.paused {
            return;
        }
        let speed = 350.0 * dt;
        let dx = f32::from(u8::from(input.right)) - f32::from(u8::from(input.left));
        let dy = f32::from(u8::from(input.down)) - f32::from(u8::from(input.up));
        self.pos[0] += dx * speed;
        self.pos[1] += dy * speed;
        let hovered = input.mouse_world.and_then(|[x, y]| {
            px_to_tile(
                self.map.width(),
                self.map.height(),
                x.floor() as i32,
                y.floor() as i32,
            )
        });
        self.breaking = match (input.mouse_left && self.item == 0, hovered, self.breaking) {
            (true, Some((x, y)), Some((bx, by, t))) if (x, y) == (bx, by) => Some((x, y, t + dt)),
            (true, Some((x, y)), _) => Some((x, y, 0.0)),
            _ => None,
        };
    }

    fn scene(&self) -> Scene<'_> {
        let tick = (self.time * 20.0) as u32;
        let overlay = if self.paused {
            Some(Overlay::Paused)
        } else if self.list {
            Some(Overlay::PlayerList(vec!["you".into(), "Alice".into()]))
        } else {
            None
        };
        let mut s = demo_scene(&self.map, tick, overlay);
        s.camera = self.pos;
        s.players[0].pos = self.pos;
        s.hud.selected_item = self.item;
        s.breaking = self
            .breaking
            .map(|(x, y, t)| (x, y, ((t / 0.1) as u32).min(7) as u8));
        s
    }

    fn should_exit(&self) -> bool {
        self.exit
    }
}

fn main() {
    let mut options = WindowOptions {
        title: "tilegame render demo".into(),
        size: [1024, 768],
        ..WindowOptions::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--frames" => options.exit_after_frames = args.next().and_then(|n| n.parse().ok()),
            "--screenshot" => options.screenshot = args.next().map(PathBuf::from),
            other => {
                eprintln!("unknown argument {other:?}");
                std::process::exit(2);
            }
        }
    }
    let map = match demo_map() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("window_demo: {e}");
            std::process::exit(1);
        }
    };
    let mut demo = Demo {
        map,
        pos: [0.0, 0.0],
        time: 0.0,
        item: 0,
        list: false,
        paused: false,
        breaking: None,
        exit: false,
    };
    if let Err(e) = run_window(&mut demo, options) {
        eprintln!("window_demo: {e}");
        std::process::exit(1);
    }
    println!("window closed after {:.2} s", demo.time);
}
