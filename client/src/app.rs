//! The windowed game: the connection handler, the managers and the renderer, wired together.
//!
//! [`GameApp`] is the renderer's [`FrameSource`]. Each frame it drains network events into the
//! managers, runs local ticks at the server's rate (20 per second: input → prediction → send),
//! and describes the scene: the map, interpolated remote players, the predicted local player,
//! the HUD (health, ping, kB/min in and out, MB totals, players) and overlays (connecting,
//! dead, paused, player list, errors). The network never blocks a frame.

use std::path::PathBuf;
use std::time::Duration;

use tilegame_game::{self as game, Action, Item, Map, Tile};
use tilegame_protocol::v1::play;

use crate::keyframe::Keyframe;
use crate::net::recorder::SharedRecorder;
use crate::net::{
    ConnectOptions, ConnectionHandler, ConnectionState, FrameObserver, NetEvent, RateMeter,
};
use crate::play::PlayState;
use crate::render::{
    run_window, DrawPlayer, FrameSource, Hud, InputState, Key, Overlay, RenderError, Scene,
    WindowOptions,
};

/// Seconds per local tick.
const TICK: f32 = 1.0 / game::TICK_RATE as f32;

/// How the window runs.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Close after this many frames (tests and CI).
    pub frames: Option<u32>,
    /// Save a frame as PNG here.
    pub screenshot: Option<PathBuf>,
}

/// The game as the window sees it.
pub struct GameApp {
    name: String,
    handler: Option<ConnectionHandler>,
    recorder: Option<SharedRecorder>,
    play: PlayState,
    joined: bool,
    state: ConnectionState,
    detail: String,
    placeholder: Map,
    ping_ms: Option<u32>,
    meter: RateMeter,
    elapsed: f32,
    tick_clock: f32,
    since_snapshot: f32,
    was_active: bool,
    item: Item,
    breaking: Option<(u16, u16, u32)>,
    paused: bool,
    show_list: bool,
    exit: bool,
}

impl GameApp {
    /// Starts connecting with `options`; `recorder` records the session.
    pub fn new(options: ConnectOptions, recorder: Option<SharedRecorder>) -> GameApp {
        let name = options.name.clone();
        let observer = recorder
            .clone()
            .map(|r| Box::new(r) as Box<dyn FrameObserver>);
        GameApp {
            name,
            handler: Some(ConnectionHandler::spawn(options, observer)),
            recorder,
            play: PlayState::new(),
            joined: false,
            state: ConnectionState::Pending,
            detail: String::new(),
            placeholder: Map::new(1, 1, Tile::Void).expect("a 1x1 map is always valid"),
            ping_ms: None,
            meter: RateMeter::default(),
            elapsed: 0.0,
            tick_clock: 0.0,
            since_snapshot: 0.0,
            was_active: false,
            item: Item::Shovel,
            breaking: None,
            paused: false,
            show_list: false,
            exit: false,
        }
    }

    fn drain_network(&mut self) {
        let Some(handler) = &self.handler else { return };
        for event in handler.poll() {
            match event {
                NetEvent::State(state, detail) => {
                    self.state = state;
                    self.detail = detail;
                }
                NetEvent::Joined(joined) => {
                    self.play.join(&joined, &self.name);
                    self.joined = true;
                }
                NetEvent::Packet(packet) => {
                    self.play.apply(&packet);
                    if let play::ToClient::Snapshot(s) = &packet {
                        self.since_snapshot = 0.0;
                        if let Some(r) = &self.recorder {
                            let hashes = self.play.state_hash();
                            let play = &self.play;
                            r.with(|r| {
                                r.tick(s.tick, hashes, || {
                                    Keyframe::capture(play)
                                        .map(|k| k.to_bytes())
                                        .unwrap_or_default()
                                })
                            });
                        }
                    }
                }
                NetEvent::Ping(rtt) => {
                    self.ping_ms = Some(rtt.as_millis().min(u128::from(u32::MAX)) as u32)
                }
            }
        }
    }

    fn local_tick(&mut self, input: &InputState) {
        let Some(handler) = &self.handler else { return };
        let (mx, my) = if self.paused {
            (0, 0)
        } else {
            (
                i8::from(input.right) - i8::from(input.left),
                i8::from(input.down) - i8::from(input.up),
            )
        };
        // Hold the break action on the tile under the mouse while the button is down.
        let target = match (
            input.mouse_left && !self.paused && self.item == Item::Shovel,
            input.mouse_world,
            self.play.world.map(),
        ) {
            (true, Some([x, y]), Some(map)) => game::px_to_tile(
                map.width(),
                map.height(),
                x.floor() as i32,
                y.floor() as i32,
            ),
            _ => None,
        };
        self.play.hold_break(target);
        self.breaking = match (target, self.breaking) {
            (Some((x, y)), Some((bx, by, n))) if (x, y) == (bx, by) => Some((x, y, n + 1)),
            (Some((x, y)), _) => Some((x, y, 0)),
            (None, _) => None,
        };
        self.play.select_item(self.item);
        let input = self.play.next_input(mx, my);
        let active = PlayState::is_active(&input);
        if active || self.was_active {
            handler.send_input(input, self.play.players.tick());
        }
        self.was_active = active;
    }

    fn counters_sample(&mut self) {
        if let Some(h) = &self.handler {
            let c = h.counters();
            self.meter
                .sample(self.elapsed as u64, c.sent(), c.received());
        }
    }

    fn overlay(&self) -> Option<Overlay> {
        if !self.joined || self.state.is_terminal() {
            let message = if self.detail.is_empty() {
                self.state.message()
            } else {
                format!("{} ({})", self.state.message(), self.detail)
            };
            return Some(match &self.state {
                s if s.is_terminal() => Overlay::Error(message),
                ConnectionState::GettingData(p) => Overlay::Connecting {
                    message,
                    progress: Some(*p),
                },
                _ => Overlay::Connecting {
                    message,
                    progress: None,
                },
            });
        }
        if self.play.players.local().is_some_and(|p| p.health == 0) {
            return Some(Overlay::Dead);
        }
        if self.show_list {
            return Some(Overlay::PlayerList(
                self.play.players.iter().map(|p| p.name.clone()).collect(),
            ));
        }
        self.paused.then_some(Overlay::Paused)
    }
}

impl FrameSource for GameApp {
    fn update(&mut self, input: &InputState, dt: f32) {
        self.elapsed += dt;
        self.since_snapshot += dt;
        for key in &input.keys_pressed {
            match key {
                Key::Digit1 => self.item = Item::Shovel,
                Key::Digit2 => self.item = Item::Gun,
                Key::Tab => self.show_list = !self.show_list,
                Key::Escape => self.paused = !self.paused,
                Key::R if self.play.players.local().is_some_and(|p| p.health == 0) => {
                    self.play.actions.push(Action::Respawn);
                }
                _ => {}
            }
        }
        self.drain_network();
        if self.joined && !self.state.is_terminal() {
            self.tick_clock += dt;
            let mut steps = 0;
            while self.tick_clock >= TICK && steps < 5 {
                self.tick_clock -= TICK;
                steps += 1;
                self.local_tick(input);
            }
        }
        self.counters_sample();
        if input.close_requested {
            if let Some(h) = self.handler.take() {
                h.disconnect();
            }
            if let Some(r) = &self.recorder {
                r.with(|r| r.finish("the window was closed"));
            }
            self.exit = true;
        }
    }

    fn scene(&self) -> Scene<'_> {
        let map = self.play.world.map().unwrap_or(&self.placeholder);
        let alpha = (self.since_snapshot / TICK).clamp(0.0, 1.0);
        let local_id = self.play.players.local_id();
        let (lx, ly) = self.play.players.prediction().pos_px();
        let mut players: Vec<DrawPlayer> = self
            .play
            .players
            .iter()
            .filter(|p| p.placed && Some(p.id) != local_id)
            .map(|p| {
                let (x, y) = self
                    .play
                    .players
                    .interpolated(p.id, alpha)
                    .unwrap_or((p.pos.0 as f32, p.pos.1 as f32));
                DrawPlayer {
                    pos: [x, y],
                    name: p.name.clone(),
                    color: p.color,
                    health: p.health,
                    local: false,
                }
            })
            .collect();
        if let Some(me) = self.play.players.local() {
            players.push(DrawPlayer {
                pos: [lx, ly],
                name: me.name.clone(),
                color: if me.color == 0 { 0xe04040 } else { me.color },
                health: me.health,
                local: true,
            });
        }
        let breaking = self.breaking.and_then(|(x, y, n)| {
            let needed = map.get(x, y).and_then(game::break_ticks)?;
            Some((x, y, ((n * 8) / needed.max(1)).min(7) as u8))
        });
        let rates = self.meter.rates();
        let (mb_in, mb_out) = self.handler.as_ref().map_or((0.0, 0.0), |h| {
            (h.counters().mb_received(), h.counters().mb_sent())
        });
        let status = if self.detail.is_empty() {
            self.state.message()
        } else {
            format!("{}: {}", self.state.message(), self.detail)
        };
        Scene {
            map,
            camera: [lx, ly],
            zoom: 1.0,
            players,
            breaking,
            hud: Hud {
                health: self.play.players.local().map_or(0, |p| p.health),
                ping_ms: self.ping_ms,
                kb_in_per_min: rates.kb_received_per_min,
                kb_out_per_min: rates.kb_sent_per_min,
                mb_in,
                mb_out,
                players: self.play.players.len(),
                status,
                selected_item: if self.item == Item::Gun { 1 } else { 0 },
                tick: self.play.world.tick(),
            },
            overlay: self.overlay(),
        }
    }

    fn should_exit(&self) -> bool {
        self.exit
    }
}

/// Opens the window and plays until it is closed.
pub fn run(
    connect: ConnectOptions,
    recorder: Option<SharedRecorder>,
    options: AppOptions,
) -> Result<(), RenderError> {
    let mut app = GameApp::new(connect, recorder);
    let window = WindowOptions {
        title: "tilegame".into(),
        size: [1280, 720],
        exit_after_frames: options.frames,
        screenshot: options.screenshot,
        screenshot_frame: None,
    };
    let result = run_window(&mut app, window);
    if let Some(h) = app.handler.take() {
        h.disconnect();
    }
    if let Some(r) = &app.recorder {
        r.with(|r| r.finish("the game ended"));
    }
    // Give the hosted server a moment to see the goodbye.
    std::thread::sleep(Duration::from_millis(50));
    result
}
