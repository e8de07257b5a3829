//! The viewer: a recording played visually through the client's renderer, with pause, speed
//! and seek, as a [`FrameSource`] any window can host.
//!
//! Why it is apart from [`crate::view`]: the native `view` command opens a window of its own,
//! and the page (web/) hosts the same viewer on its canvas, with the recording's bytes in
//! memory ([`ReplayFile::from_bytes`]); this module opens no window, so it builds for
//! wasm32-unknown-unknown.
//!
//! The engine is fed on a virtual play-head: each frame advances it by the wall time since the
//! previous frame times the speed, and every record up to that recorded time goes through the
//! engine. The wall clock only paces the display; what is shown at recorded time T is exactly
//! the replayed state at T. Keys: Esc pauses, 1/2 step the speed down/up (0.1× to 8×), `.` or
//! → steps one tick forward and `,` or ← one tick back (pausing), R restarts, M skips 10
//! seconds ahead (through the nearest keyframe), Tab lists the players (in natural order).
//!
//! A timeline bar runs along the bottom of the window, drawn by the renderer's UI layer
//! ([`tilegame_client::render::timeline_bar`]): the track with its played part, a white mark
//! per keyframe, a green mark per join, the play-head, `mm:ss / mm:ss`, the tick, the speed.
//! Pressing the mouse on the bar seeks to the time under the pointer, and dragging scrubs
//! (playback holds while the button is down); clicks are hit-tested against the drawn bar and
//! mapped to time by the same [`BarLayout`] that placed it, so the play-head lands on the
//! clicked column. The tick shown (bar, HUD) is that of the latest snapshot replayed. The HUD
//! shows the recording's own ping and byte rates at the play-head ([`crate::timeline`]).

use tilegame_client::app::chat_views;
use tilegame_client::render;
use tilegame_client::render::timeline_bar::{self, BarLayout, TimelineBar};
use tilegame_client::render::{DrawPlayer, FrameSource, Hud, InputState, Key, Overlay, Scene};
use tilegame_client::ui::chat::ChatInput;
use tilegame_client::ui::i18n::Localizer;
use tilegame_client::ui::view;
use tilegame_game::{Map, Tile};
use tilegame_protocol::replay_format::{FileHeader, Record};

use crate::engine::{next_snapshot_tick, Engine, TickOutcome};
use crate::state::natural_cmp;
use crate::timeline::{self, Traffic, SPEEDS};
use crate::tool::{ReplayFile, ToolError};

/// A recording being viewed: its records, the engine at the play-head, and the controls.
pub struct Viewer {
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
    /// The last time a press or drag on the bar sought to.
    seek_target: Option<u64>,
    /// English texts for the chat's notices (the viewer has no language setting).
    i18n: Option<Localizer>,
    /// The left button went down on the bar and is still held: scrubbing.
    dragging: bool,
    /// Window size in physical pixels and pixels per point (from the last frame): where the
    /// bar is.
    window: [f32; 2],
    pixels_per_point: f32,
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

    /// Where the timeline bar is drawn (and hit-tested) now.
    fn bar_layout(&self) -> BarLayout {
        BarLayout::new(self.window, self.pixels_per_point)
    }

    /// The tick shown: the latest snapshot replayed (frames are stamped with the tick their
    /// client knew before reading them, one behind a snapshot's own).
    fn shown_tick(&self) -> u32 {
        self.engine
            .last_tick()
            .map_or(self.engine.clock().tick, |(t, _)| t)
    }

    /// The play-head, within the recording.
    fn cursor(&self) -> u64 {
        (self.playhead.max(0.0) as u64).min(self.total())
    }

    /// A press on the bar seeks to the time under the pointer; dragging with the button held
    /// keeps seeking (once per column crossed). Returns whether the bar holds the play-head.
    fn seek_by_pointer(&mut self, input: &InputState) -> bool {
        let layout = self.bar_layout();
        if input.mouse_left_pressed {
            self.dragging = input.mouse_screen.is_some_and(|p| layout.contains(p));
            self.seek_target = None;
        }
        let held = self.dragging;
        if self.dragging {
            if let Some([x, _]) = input.mouse_screen {
                let target = layout.time_at(x, self.total());
                if self.seek_target != Some(target) {
                    self.seek_target = Some(target);
                    self.seek_time(target);
                }
            }
        }
        if !input.mouse_left {
            self.dragging = false;
        }
        held
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

    /// Goes back to the previous snapshot (one tick back) and stops there: the play-head lands
    /// on the time that snapshot was recorded, as a step forward puts it on the next one's.
    fn step_back(&mut self) {
        let Some(tick) = self.engine.last_tick().map(|(t, _)| t.saturating_sub(1)) else {
            return;
        };
        self.seek(tick);
        let shown = self.shown_tick();
        let at = self.records[..self.next.min(self.records.len())]
            .iter()
            .zip(&self.times)
            .rev()
            .find_map(|(r, &t)| match r {
                Record::Frame(f) if next_snapshot_tick(f) == Some(shown) => Some(t),
                _ => None,
            });
        if let Some(at) = at {
            self.playhead = at as f64;
        }
    }

    /// Jumps to the recorded time `micros` (through the nearest keyframe).
    fn seek_time(&mut self, micros: u64) {
        // The tick announced by the last frame at or before that time (a frame's tick counts
        // the frame itself): the first frame after it may announce a snapshot not yet received
        // then. Before the first frame, the first frame's tick.
        let frame_tick = |r: &Record| match r {
            Record::Frame(f) => Some(f.tick),
            _ => None,
        };
        let upto = self.times.partition_point(|t| *t <= micros);
        let tick = self.records[..upto.min(self.records.len())]
            .iter()
            .rev()
            .find_map(frame_tick)
            .or_else(|| self.records.iter().find_map(frame_tick));
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
            self.step_back();
        }
        self.window = input.window_size.map(|v| v as f32);
        // A press or drag on the bar seeks; the play-head stays where it was put that frame.
        let on_bar = self.seek_by_pointer(input);
        if !self.paused && !on_bar {
            self.playhead += f64::from(dt) * SPEEDS[self.speed] * 1e6;
        }
        self.feed_until(self.playhead);
        self.exit |= input.close_requested;
    }

    fn ui(&mut self, ctx: &render::egui::Context) {
        self.pixels_per_point = ctx.pixels_per_point();
        let note = format!(
            "×{}{}",
            SPEEDS[self.speed],
            if self.paused { "  paused" } else { "" }
        );
        let bar = TimelineBar {
            total_micros: self.total(),
            cursor_micros: self.cursor(),
            tick: self.shown_tick(),
            keyframes: &self.keyframe_times,
            joins: self.traffic.joins(),
            note: &note,
        };
        let layout = self.bar_layout();
        timeline_bar::paint(ctx, &layout, &bar);
        // The recording's chat, as the player saw it, above the hotbar and the bar.
        if let (Some(play), Some(i18n)) = (self.engine.play(), &self.i18n) {
            let lines = chat_views(&play.chat, play.players.tick(), false, i18n);
            let bar_points =
                (self.window[1] - layout.panel[1]).max(0.0) / self.pixels_per_point.max(0.1);
            let mut closed = ChatInput::default();
            view::chat(
                ctx,
                &lines,
                &mut closed,
                view::CHAT_BOTTOM + bar_points,
                i18n,
            );
        }
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
        let cursor = self.cursor();
        let status = format!(
            "replay {} x{} tick {}{}",
            self.header.player_name,
            SPEEDS[self.speed],
            self.shown_tick(),
            if self.paused { " (paused)" } else { "" },
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
        // The followed player sits in the middle of what the timeline bar leaves free, not
        // behind the bar (zoom is 1: screen pixels are world pixels).
        let inset = self.bar_layout().height();
        if inset.is_finite() {
            camera[1] += inset / 2.0;
        }
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
                tick: self.shown_tick(),
                ping_ms: traffic.ping_ms,
                kb_in_per_min: traffic.kb_in_per_min,
                kb_out_per_min: traffic.kb_out_per_min,
                mb_in: traffic.mb_in,
                mb_out: traffic.mb_out,
                bottom_inset: self.bar_layout().height(),
                ..Hud::default()
            },
            overlay,
        }
    }

    fn should_exit(&self) -> bool {
        self.exit
    }
}

impl Viewer {
    /// Reads `file` (up to a crash cut) and stands at its start, or at tick `from`, playing at
    /// `speed` (the nearest of [`SPEEDS`]).
    pub fn open(file: &ReplayFile, speed: f64, from: Option<u32>) -> Result<Viewer, ToolError> {
        let mut reader = file.reader(true)?;
        let mut records = Vec::new();
        loop {
            match reader.try_next() {
                Ok(Some(r)) => records.push(r),
                Ok(None) => break,
                // A crash cut: play what was recorded, as `verify` and `info` read it.
                Err(e) if e.is_cut() => break,
                Err(e) => return Err(file.file_error(e)),
            }
        }
        Viewer::from_records(file, records, speed, from)
    }

    /// [`Viewer::open`] with the file's records already read (the page reads a file once to
    /// verify and play it: [`crate::cmd::verify::check_keeping`]).
    pub fn from_records(
        file: &ReplayFile,
        records: Vec<Record>,
        speed: f64,
        from: Option<u32>,
    ) -> Result<Viewer, ToolError> {
        let header = file.reader(true)?.header().clone();
        let mut now = 0u64;
        let times: Vec<u64> = records
            .iter()
            .map(|record| {
                if let Record::Frame(f) = record {
                    now = f.micros;
                }
                now
            })
            .collect();
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
            i18n: Localizer::new("en").ok(),
            dragging: false,
            window: [1280.0, 720.0],
            pixels_per_point: 1.0,
            engine: Engine::new(&header),
            header,
            file: file.clone(),
            records,
            times,
            next: 0,
            playhead: 0.0,
            speed: timeline::speed_index(speed),
            paused: false,
            list: false,
            error: None,
            placeholder: Map::new(1, 1, Tile::Void).expect("a 1x1 map is always valid"),
            exit: false,
        };
        if let Some(tick) = from {
            viewer.seek(tick);
        }
        Ok(viewer)
    }

    /// The recording's player (from its header).
    pub fn player_name(&self) -> &str {
        &self.header.player_name
    }

    /// The tick shown now (the latest snapshot replayed).
    pub fn tick(&self) -> u32 {
        self.shown_tick()
    }

    /// Recorded length in microseconds.
    pub fn length_micros(&self) -> u64 {
        self.total()
    }

    /// Whether playback is paused.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Why replaying stopped, if it did (a record the engine refused).
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packets::{self, AnyPacket};
    use tilegame_protocol::v1::play;

    const WINDOW: [u32; 2] = [1280, 720];

    fn fixture() -> Viewer {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/small.tgr");
        let file = ReplayFile::open(std::path::Path::new(path)).expect("the fixture");
        Viewer::open(&file, 1.0, None).expect("the fixture opens")
    }

    /// The pointer at `at`, the left button `held`, and `pressed` this frame.
    fn pointer(at: [f32; 2], held: bool, pressed: bool) -> InputState {
        InputState {
            mouse_screen: Some(at),
            mouse_left: held,
            mouse_left_pressed: pressed,
            window_size: WINDOW,
            ..InputState::default()
        }
    }

    fn typed(text: &str) -> InputState {
        InputState {
            text: text.into(),
            window_size: WINDOW,
            ..InputState::default()
        }
    }

    /// The tick of the last snapshot recorded at or before `micros`: what must be shown then.
    fn snapshot_at(v: &Viewer, micros: u64) -> Option<u32> {
        v.records.iter().rev().find_map(|r| match r {
            Record::Frame(f) if f.micros <= micros => match packets::decode(f) {
                Ok(AnyPacket::PlayToClient(play::ToClient::Snapshot(s))) => Some(s.tick),
                _ => None,
            },
            _ => None,
        })
    }

    #[test]
    fn pressing_and_dragging_on_the_bar_seek_to_the_time_drawn_there() {
        let mut v = fixture();
        let layout = BarLayout::new(WINDOW.map(|v| v as f32), 1.0);
        let total = v.total();
        let y = layout.track[1];
        // A press on the bar: the play-head is drawn on the pressed column, and the state shown
        // is the recording's at that time.
        v.update(&pointer([900.0, y], false, true), 0.1);
        assert_eq!(v.cursor(), layout.time_at(900.0, total));
        assert_eq!(layout.x_of(v.cursor(), total).round(), 900.0);
        assert_eq!(Some(v.shown_tick()), snapshot_at(&v, v.cursor()));
        // Not dragging (the button was released within the frame): playback goes on.
        v.update(&pointer([900.0, y], false, false), 0.1);
        assert!(v.cursor() > layout.time_at(900.0, total));
        // A drag: it follows the pointer and holds the play-head there, even off the bar.
        v.update(&pointer([200.0, layout.panel[1]], true, true), 0.1);
        assert_eq!(v.cursor(), layout.time_at(200.0, total));
        for x in [300.0, 650.0, 640.0] {
            v.update(&pointer([x, 100.0], true, false), 0.1);
            assert_eq!(v.cursor(), layout.time_at(x, total), "dragged to {x}");
            assert_eq!(Some(v.shown_tick()), snapshot_at(&v, v.cursor()));
        }
        // Released: the pointer hovering over the bar no longer seeks.
        v.update(&pointer([640.0, 100.0], false, false), 0.0);
        v.update(&pointer([100.0, y], false, false), 0.0);
        assert_eq!(v.cursor(), layout.time_at(640.0, total));
        // A press just above the bar is a press on the world: nothing moves.
        v.update(&pointer([100.0, layout.panel[1] - 1.0], true, true), 0.0);
        assert_eq!(v.cursor(), layout.time_at(640.0, total));
    }

    /// Keyframe records in the fixture.
    fn fixture_keyframes() -> usize {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/small.tgr");
        let file = ReplayFile::open(std::path::Path::new(path)).expect("the fixture");
        let records = file.open_reader().expect("a reader").records();
        records
            .iter()
            .filter(|r| matches!(r, Record::Keyframe(_)))
            .count()
    }

    /// Players already in the fixture's game when bot1 joined (its MapEnd's list).
    fn players_before_bot1() -> usize {
        use tilegame_protocol::v1::map_transfer;
        use tilegame_protocol::AnyPacket;
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/small.tgr");
        let file = ReplayFile::open(std::path::Path::new(path)).expect("the fixture");
        let records = file.open_reader().expect("a reader").records();
        records
            .iter()
            .find_map(|r| match r {
                Record::Frame(f) => match crate::packets::decode(f) {
                    Ok(AnyPacket::MapTransferToClient(map_transfer::ToClient::MapEnd(end))) => {
                        Some(end.players.len())
                    }
                    _ => None,
                },
                _ => None,
            })
            .expect("the fixture has a MapEnd")
    }

    #[test]
    fn the_bar_marks_keyframes_and_joins_of_the_recording() {
        let v = fixture();
        // Three bots joined within the first second (tests/fixtures/README.md): bot1's own
        // JoinAccepted is marked, and a PlayerJoined for each bot that came after it (which
        // ones did depends on the capture); a mark for every Keyframe record (every 40 ticks
        // from the first snapshot: 2, 42, … up to the capture's length).
        let joins = v.traffic.joins();
        assert_eq!(joins.len(), 3 - players_before_bot1(), "{joins:?}");
        assert!(
            joins.is_sorted() && joins.iter().all(|&t| t < 1_000_000),
            "{joins:?}"
        );
        assert_eq!(v.keyframe_times.len(), fixture_keyframes());
        assert!(v.keyframe_times.len() >= 2);
        assert!(v.keyframe_times.iter().all(|&t| t <= v.total()));
    }

    #[test]
    fn a_step_back_after_a_drag_moves_the_play_head_back() {
        let mut v = fixture();
        let layout = BarLayout::new(WINDOW.map(|v| v as f32), 1.0);
        let y = layout.track[1];
        v.update(&typed("."), 0.0);
        let [left, _, right] = layout.track;
        let to = (left + (right - left) * 0.6).round();
        v.update(&pointer([left + 100.0, y], true, true), 0.0);
        v.update(&pointer([to, y], true, false), 0.0);
        v.update(&pointer([to, y], false, false), 0.0);
        let dragged = v.cursor();
        v.update(&typed("."), 0.0);
        let forward = v.cursor();
        assert!(forward > dragged, "{forward} > {dragged}");
        let shown = v.shown_tick();
        v.update(&typed(","), 0.0);
        assert_eq!(v.shown_tick() + 1, shown);
        assert_eq!(Some(v.shown_tick()), snapshot_at(&v, v.cursor()));
        // A whole tick back: the play-head is on the earlier snapshot's own time.
        assert!(v.cursor() + 40_000 < forward, "{} < {forward}", v.cursor());
        v.update(&typed("."), 0.0);
        assert_eq!(v.shown_tick(), shown);
        assert_eq!(v.cursor(), forward);
    }

    #[test]
    fn steps_go_one_snapshot_forward_and_back() {
        let mut v = fixture();
        v.update(&typed(""), 0.25);
        v.update(&typed(""), 0.25);
        v.update(&typed("."), 0.0);
        assert!(v.paused, "a step pauses");
        let t0 = v.shown_tick();
        assert_eq!(Some(t0), snapshot_at(&v, v.cursor()));
        v.update(&typed("."), 0.25);
        assert_eq!(v.shown_tick(), t0 + 1);
        assert_eq!(Some(t0 + 1), snapshot_at(&v, v.cursor()));
        v.update(&typed("."), 0.25);
        v.update(&typed(","), 0.25);
        assert_eq!(v.shown_tick(), t0 + 1);
        assert_eq!(Some(t0 + 1), snapshot_at(&v, v.cursor()));
    }
}
