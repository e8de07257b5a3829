//! `view`: plays a recording visually through the client's renderer, with pause, speed and seek.
//!
//! The engine is fed on a virtual play-head: each frame advances it by the wall time since the
//! previous frame times the speed, and every record up to that recorded time goes through the
//! engine. The wall clock only paces the display; what is shown at recorded time T is exactly
//! the replayed state at T. Keys: Esc pauses, 1 halves the speed, 2 doubles it, R restarts,
//! M skips 10 seconds ahead (through the nearest keyframe), Tab lists the players.

use std::path::PathBuf;

use tilegame_client::render::{
    run_window, DrawPlayer, FrameSource, Hud, InputState, Key, Overlay, RenderError, Scene,
    WindowOptions,
};
use tilegame_game::{Map, Tile};
use tilegame_protocol::replay_format::{FileHeader, Record};

use crate::engine::Engine;
use crate::tool::{ReplayFile, ToolError};

/// How to view.
#[derive(Debug, Clone)]
pub struct ViewOptions {
    /// Playback speed (1.0 = real time).
    pub speed: f64,
    /// Start at this tick (seeking through keyframes).
    pub from: Option<u32>,
    /// Close after this many frames (tests, CI).
    pub frames: Option<u32>,
    /// Save a frame as PNG.
    pub screenshot: Option<PathBuf>,
}

struct Viewer {
    header: FileHeader,
    file: ReplayFile,
    records: Vec<Record>,
    /// Recorded micros of each record (the last frame's time for non-frame records).
    times: Vec<u64>,
    next: usize,
    engine: Engine,
    playhead: f64,
    speed: f64,
    paused: bool,
    list: bool,
    error: Option<String>,
    placeholder: Map,
    exit: bool,
}

impl Viewer {
    fn feed_until(&mut self, micros: f64) {
        while self.next < self.records.len() && (self.times[self.next] as f64) <= micros {
            if let Err(e) = self.engine.feed(&self.records[self.next]) {
                self.error = Some(e.to_string());
                self.next = self.records.len();
                return;
            }
            self.next += 1;
        }
    }

    fn restart(&mut self) {
        self.engine = Engine::new(&self.header);
        self.next = 0;
        self.playhead = 0.0;
        self.error = None;
    }

    /// Jumps to `tick` through the nearest keyframe.
    fn seek(&mut self, tick: u32) {
        match Engine::seek(|| self.file.open_reader(), tick) {
            Ok((engine, _)) => {
                let clock = engine.clock();
                let seq = engine.next_seq();
                self.engine = engine;
                self.playhead = clock.micros as f64;
                self.next = self
                    .records
                    .iter()
                    .position(|r| matches!(r, Record::Frame(f) if f.seq >= seq))
                    .unwrap_or(self.records.len());
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }
}

impl FrameSource for Viewer {
    fn update(&mut self, input: &InputState, dt: f32) {
        for key in &input.keys_pressed {
            match key {
                Key::Escape => self.paused = !self.paused,
                Key::Digit1 => self.speed = (self.speed / 2.0).max(1.0 / 16.0),
                Key::Digit2 => self.speed = (self.speed * 2.0).min(64.0),
                Key::R => self.restart(),
                Key::M => {
                    let tick = self.engine.clock().tick.saturating_add(200);
                    self.seek(tick);
                }
                Key::Tab => self.list = !self.list,
                _ => {}
            }
        }
        if !self.paused {
            self.playhead += f64::from(dt) * self.speed * 1e6;
        }
        self.feed_until(self.playhead);
        self.exit |= input.close_requested;
    }

    fn scene(&self) -> Scene<'_> {
        let play = self.engine.play();
        let map = play
            .and_then(|p| p.world.map())
            .unwrap_or(&self.placeholder);
        let mut players = Vec::new();
        let mut camera = [0.0, 0.0];
        let mut health = 0;
        if let Some(p) = play {
            let local = p.players.local_id();
            for r in p.players.iter().filter(|r| r.placed) {
                let pos = [r.pos.0 as f32, r.pos.1 as f32];
                if Some(r.id) == local {
                    camera = pos;
                    health = r.health;
                }
                players.push(DrawPlayer {
                    pos,
                    name: r.name.clone(),
                    color: r.color,
                    health: r.health,
                    local: Some(r.id) == local,
                });
            }
        }
        let clock = self.engine.clock();
        let total = self.times.last().copied().unwrap_or(0);
        let status = format!(
            "replay {} x{} tick {} at {:.1}/{:.1} s{}",
            self.header.player_name,
            self.speed,
            clock.tick,
            clock.micros as f64 / 1e6,
            total as f64 / 1e6,
            if self.paused { " (paused)" } else { "" }
        );
        let overlay = match (&self.error, self.list, play) {
            (Some(e), _, _) => Some(Overlay::Error(e.clone())),
            (None, true, Some(p)) => Some(Overlay::PlayerList(
                p.players.iter().map(|r| r.name.clone()).collect(),
            )),
            (None, _, None) => Some(Overlay::Connecting {
                message: "replaying the join…".into(),
                progress: None,
            }),
            _ => self.paused.then_some(Overlay::Paused),
        };
        Scene {
            map,
            camera,
            zoom: 1.0,
            players,
            breaking: None,
            hud: Hud {
                health,
                players: play.map_or(0, |p| p.players.len()),
                status,
                tick: clock.tick,
                ..Hud::default()
            },
            overlay,
        }
    }

    fn should_exit(&self) -> bool {
        self.exit
    }
}

/// Opens the viewer window on `file`.
pub fn run(file: &ReplayFile, options: ViewOptions) -> Result<u8, ToolError> {
    let mut reader = file.reader(true)?;
    let header = reader.header().clone();
    let mut records = Vec::new();
    let mut times = Vec::new();
    let mut now = 0u64;
    loop {
        let record = match reader.try_next() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            // A crash cut: play what was recorded, as `verify` and `info` read it.
            Err(e) if e.is_cut() => break,
            Err(e) => return Err(file.file_error(e)),
        };
        if let Record::Frame(f) = &record {
            now = f.micros;
        }
        times.push(now);
        records.push(record);
    }
    let mut viewer = Viewer {
        engine: Engine::new(&header),
        header,
        file: file.clone(),
        records,
        times,
        next: 0,
        playhead: 0.0,
        speed: options.speed.clamp(1.0 / 16.0, 64.0),
        paused: false,
        list: false,
        error: None,
        placeholder: Map::new(1, 1, Tile::Void).expect("a 1x1 map is always valid"),
        exit: false,
    };
    if let Some(tick) = options.from {
        viewer.seek(tick);
    }
    let window = WindowOptions {
        title: format!("tilegame replay — {}", file.path.display()),
        size: [1280, 720],
        exit_after_frames: options.frames,
        screenshot: options.screenshot,
        screenshot_frame: None,
    };
    match run_window(&mut viewer, window) {
        Ok(()) => Ok(0),
        Err(RenderError::NoDisplay(detail)) => Err(ToolError::Usage(format!(
            "no display to open the viewer on ({detail})"
        ))),
        Err(e) => Err(ToolError::Usage(format!("the viewer failed: {e}"))),
    }
}
