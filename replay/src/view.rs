//! `view`: plays a recording visually through the client's renderer, with pause, speed and seek.
//!
//! The engine is fed on a virtual play-head: each frame advances it by the wall time since the
//! previous frame times the speed, and every record up to that recorded time goes through the
//! engine. The wall clock only paces the display; what is shown at recorded time T is exactly
//! the replayed state at T. Keys: Esc pauses, 1/2 step the speed down/up (0.1× to 8×), `.` or
//! → steps one tick forward and `,` or ← one tick back (pausing), R restarts, M skips 10
//! seconds ahead (through the nearest keyframe), Tab lists the players (in natural order).
//! The status line carries a timeline (keyframes `K`, the play-head `|`); clicking or dragging
//! along the bottom edge of the window seeks there. The HUD shows the recording's own ping and
//! byte rates at the play-head ([`crate::timeline`]).

use std::path::PathBuf;

use tilegame_client::render::{
    run_window, DrawPlayer, FrameSource, Hud, InputState, Key, Overlay, RenderError, Scene,
    WindowOptions,
};
use tilegame_game::{Map, Tile};
use tilegame_protocol::replay_format::{FileHeader, Record};

use crate::engine::{Engine, TickOutcome};
use crate::state::natural_cmp;
use crate::timeline::{self, Traffic, SPEEDS};
use crate::tool::{ReplayFile, ToolError};

/// Height of the strip along the bottom of the window that seeks when clicked, in pixels.
const SEEK_STRIP_PX: f32 = 48.0;

/// Columns of the text timeline.
const TIMELINE_COLUMNS: usize = 48;

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
    speed: usize,
    traffic: Traffic,
    keyframe_times: Vec<u64>,
    held: (bool, bool),
    seek_target: Option<u64>,
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

    /// Recorded length in microseconds.
    fn total(&self) -> u64 {
        self.times.last().copied().unwrap_or(0)
    }

    /// Plays to the next snapshot (one tick forward) and stops there.
    fn step_forward(&mut self) {
        while self.next < self.records.len() {
            let at = self.times[self.next];
            match self.engine.feed(&self.records[self.next]) {
                Ok(outcome) => {
                    self.next += 1;
                    self.playhead = at as f64;
                    if matches!(outcome, Some(TickOutcome::Snapshot { .. })) {
                        return;
                    }
                }
                Err(e) => {
                    self.error = Some(e.to_string());
                    self.next = self.records.len();
                    return;
                }
            }
        }
    }

    /// Jumps to the recorded time `micros` (through the nearest keyframe).
    fn seek_time(&mut self, micros: u64) {
        let i = self.times.partition_point(|t| *t < micros);
        let tick = self.records[i.min(self.records.len().saturating_sub(1))..]
            .iter()
            .find_map(|r| match r {
                Record::Frame(f) => Some(f.tick),
                _ => None,
            });
        if let Some(tick) = tick {
            self.seek(tick);
            self.feed_until(micros as f64);
            self.playhead = micros as f64;
        }
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
                Key::Digit1 => self.speed = self.speed.saturating_sub(1),
                Key::Digit2 => self.speed = (self.speed + 1).min(SPEEDS.len() - 1),
                Key::R => self.restart(),
                Key::M => {
                    let tick = self.engine.clock().tick.saturating_add(200);
                    self.seek(tick);
                }
                Key::Tab => self.list = !self.list,
                _ => {}
            }
        }
        // One tick forward or back: `.`/`,` typed, or → / ← pressed (edges, not held).
        let forward = input.text.contains('.') || (input.right && !self.held.1);
        let back = input.text.contains(',') || (input.left && !self.held.0);
        self.held = (input.left, input.right);
        if forward {
            self.paused = true;
            self.step_forward();
        } else if back {
            self.paused = true;
            let tick = self.engine.last_tick().map_or(0, |(t, _)| t);
            self.seek(tick.saturating_sub(1));
        }
        // Click or drag along the bottom edge: seek there.
        let [w, h] = input.window_size.map(|v| v as f32);
        match input.mouse_screen {
            Some([x, y]) if input.mouse_left && y >= h - SEEK_STRIP_PX => {
                let target = timeline::time_at(x, w, self.total());
                let moved = self
                    .seek_target
                    .is_none_or(|t| t.abs_diff(target) > self.total() / 400);
                if moved {
                    self.seek_target = Some(target);
                    self.seek_time(target);
                }
            }
            _ => self.seek_target = None,
        }
        if !self.paused {
            self.playhead += f64::from(dt) * SPEEDS[self.speed] * 1e6;
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
        let total = self.total();
        let cursor = (self.playhead.max(0.0) as u64).min(total);
        let status = format!(
            "replay {} x{} tick {} at {:.1}/{:.1} s{} [{}]",
            self.header.player_name,
            SPEEDS[self.speed],
            clock.tick,
            cursor as f64 / 1e6,
            total as f64 / 1e6,
            if self.paused { " (paused)" } else { "" },
            timeline::timeline(TIMELINE_COLUMNS, total, cursor, &self.keyframe_times)
        );
        let traffic = self.traffic.at(cursor);
        let overlay = match (&self.error, self.list, play) {
            (Some(e), _, _) => Some(Overlay::Error(e.clone())),
            (None, true, Some(p)) => Some(Overlay::PlayerList({
                let mut names: Vec<String> = p.players.iter().map(|r| r.name.clone()).collect();
                names.sort_by(|a, b| natural_cmp(a, b));
                names
            })),
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
                ping_ms: traffic.ping_ms,
                kb_in_per_min: traffic.kb_in_per_min,
                kb_out_per_min: traffic.kb_out_per_min,
                mb_in: traffic.mb_in,
                mb_out: traffic.mb_out,
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
    let keyframe_times = records
        .iter()
        .zip(&times)
        .filter(|(r, _)| matches!(r, Record::Keyframe(_)))
        .map(|(_, t)| *t)
        .collect();
    let mut viewer = Viewer {
        traffic: Traffic::of(&records),
        keyframe_times,
        held: (false, false),
        seek_target: None,
        engine: Engine::new(&header),
        header,
        file: file.clone(),
        records,
        times,
        next: 0,
        playhead: 0.0,
        speed: timeline::speed_index(options.speed),
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
