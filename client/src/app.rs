//! The windowed game: menus, connection, world and HUD wired together.
//!
//! [`ClientApp`] is the renderer's [`FrameSource`]. It owns the screen state machine
//! ([`crate::ui::screens::Ui`]), the translations and settings, and at most one [`Session`] (a
//! connection, the managers and local prediction, plus the server it hosts for "Play on this
//! computer"). Each frame it turns keys and clicks into UI events, drains network events into
//! the managers and the state machine, carries out the machine's commands (connect, disconnect,
//! save settings, quit), runs local ticks at the server's rate while in the world, and describes
//! the frame: the world through the instanced renderer, menus and HUD through egui. The network
//! never blocks a frame.

use std::path::PathBuf;
use std::time::Duration;

use tilegame_game::{self as game, Action, Item, Map, Tile};
use tilegame_protocol::v1::play;

use crate::keyframe::Keyframe;
use crate::managers::ChatEntry;
use crate::net::recorder::SharedRecorder;
use crate::net::{
    ConnectOptions, ConnectionHandler, ConnectionState, FrameObserver, NetEvent, RateMeter,
};
use crate::play::PlayState;
#[cfg(not(target_arch = "wasm32"))]
use crate::render::{run_window, RenderError, WindowOptions};
use crate::render::{
    DrawPlayer, FrameSource, Hud, InputState, Key, Overlay, Scene, WindowSettings,
};
use crate::settings_store::SettingsStore;
use crate::ui::chat::{line_alpha, refusal_key, ChatInput, ChatKey, ChatOutcome, SHOWN_LINES};
use crate::ui::i18n::{pick_language, system_language, Localizer};
use crate::ui::messages::natural_cmp;
use crate::ui::screens::{Attempt, Command, Screen, Ui, UiEvent};
use crate::ui::view::{self, ChatLineView, HudView, MapView, HOTBAR_SLOTS};

/// Seconds per local tick.
const TICK: f32 = 1.0 / game::TICK_RATE as f32;
/// The version shown in the main menu.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub use crate::hosting::HOSTED_MAX_PLAYERS;
/// Seconds a damage number floats.
const DAMAGE_NUMBER_SECS: f32 = 1.2;
/// Seconds the damage flash lasts.
const FLASH_SECS: f32 = 0.35;

/// What the window opens on.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Start {
    /// The main menu (no flags).
    #[default]
    Menu,
    /// A given screen of the menus (`--screen host|join|options`).
    Screen(Screen),
    /// Straight into a game (`--connect`, `--host`), then optionally an in-game view.
    Play(Attempt, InGameView),
}

/// An in-game view to open once joined (`--screen pause|map|players`), for screenshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InGameView {
    /// Just the world and the HUD.
    #[default]
    World,
    /// The pause menu.
    Pause,
    /// The map screen.
    Map,
    /// The player list.
    Players,
}

/// How the window runs.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Close after this many frames once the start screen is shown (tests and CI).
    pub frames: Option<u32>,
    /// Save a frame as PNG here.
    pub screenshot: Option<PathBuf>,
    /// The settings folder (`--config-dir`); default: see [`crate::ui::settings::config_dir`].
    pub config_dir: Option<PathBuf>,
    /// Language from the command line (`--lang`), over the settings and the system.
    pub language: Option<String>,
    /// What to open.
    pub start: Start,
    /// Connection timeouts (`None`: the defaults).
    pub connect_timeout: Option<Duration>,
    /// Silence allowed in play (`None`: the default).
    pub play_timeout: Option<Duration>,
    /// The window's initial size in pixels (`[0, 0]`: 1280×720).
    pub window_size: [u32; 2],
}

/// One connection and the game played over it.
struct Session {
    handler: ConnectionHandler,
    name: String,
    play: PlayState,
    joined: bool,
    ping_ms: Option<u32>,
    meter: RateMeter,
    tick_clock: f32,
    since_snapshot: f32,
    was_active: bool,
    breaking: Option<(u16, u16, u32)>,
    max_players: Option<u32>,
    last_health: Option<u8>,
}

impl Session {
    fn drain(&mut self, recorder: Option<&SharedRecorder>, events: &mut Vec<UiEvent>) {
        for event in self.handler.poll() {
            match event {
                NetEvent::State(state, detail) => events.push(UiEvent::Net(state, detail)),
                NetEvent::Joined(joined) => {
                    self.max_players = Some(joined.max_players);
                    self.play.join(&joined, &self.name);
                    self.joined = true;
                    events.push(UiEvent::Joined);
                }
                NetEvent::Packet(packet) => {
                    self.play.apply(&packet);
                    if let play::ToClient::Snapshot(s) = &packet {
                        self.since_snapshot = 0.0;
                        if let Some(r) = recorder {
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

    fn local_tick(&mut self, input: &InputState, moving: bool, item: Item) {
        let (mx, my) = if moving {
            (
                i8::from(input.right) - i8::from(input.left),
                i8::from(input.down) - i8::from(input.up),
            )
        } else {
            (0, 0)
        };
        // Hold the break action on the tile under the mouse while the button is down.
        let target = match (
            input.mouse_left && moving && item == Item::Shovel,
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
        self.play.select_item(item);
        let input = self.play.next_input(mx, my);
        let active = PlayState::is_active(&input);
        if active || self.was_active {
            self.handler.send_input(input, self.play.players.tick());
        }
        self.was_active = active;
    }

    fn health(&self) -> Option<u8> {
        self.play.players.local().map(|p| p.health)
    }
}

/// The game as the window sees it.
pub struct ClientApp {
    ui: Ui,
    i18n: Localizer,
    cli_language: Option<String>,
    /// The language setting at start: once Options changes it, it wins over `--lang`.
    language_at_start: Option<String>,
    store: SettingsStore,
    session: Option<Session>,
    hosted: Option<crate::hosting::Hosted>,
    recorder: Option<SharedRecorder>,
    connect_timeout: Option<Duration>,
    play_timeout: Option<Duration>,
    after_join: InGameView,
    menu_map: Map,
    pending: Vec<UiEvent>,
    elapsed: f32,
    fps: f32,
    /// Seconds since the last drawn frame, and that frame's number.
    since_frame: f32,
    last_drawn: u64,
    hotbar_slot: usize,
    show_list: bool,
    show_map: bool,
    /// The chat line being typed.
    chat: ChatInput,
    map_texture: Option<(egui::TextureHandle, u32)>,
    flash: f32,
    damage_numbers: Vec<(u8, f32)>,
    respawn_clicked: bool,
    style_applied: bool,
    /// UI passes since the screen last changed (egui shows a new panel on its second pass).
    screen_frames: u32,
    last_screen: Option<std::mem::Discriminant<Screen>>,
    exit: bool,
}

impl ClientApp {
    /// Builds the app from the options (reads the settings file; a broken one is reported and
    /// replaced by defaults). Returns the app and any warning for the player.
    pub fn new(
        options: &AppOptions,
        recorder: Option<SharedRecorder>,
    ) -> (ClientApp, Option<String>) {
        let (store, settings, warning) = SettingsStore::open(options.config_dir.as_deref());
        let (ui, commands, after_join) = match &options.start {
            Start::Menu => (Ui::new(settings), vec![], InGameView::World),
            Start::Screen(screen) => {
                let mut ui = Ui::new(settings);
                let screen = match screen {
                    Screen::Join(_) => Screen::Join(ui.join_form()),
                    Screen::Host(_) => Screen::Host(ui.host_form()),
                    other => other.clone(),
                };
                ui.open(screen);
                (ui, vec![], InGameView::World)
            }
            Start::Play(attempt, view) => {
                let (ui, commands) = Ui::connecting(settings, attempt.clone());
                (ui, commands, *view)
            }
        };
        let code = pick_language(
            options.language.as_deref(),
            ui.settings.language.as_deref(),
            system_language(),
        );
        let i18n = Localizer::new(code).unwrap_or_else(|_| Localizer::english());
        let menu_map = game::generate(
            "tilegame menu",
            game::Theme::Default,
            game::MapSize::Custom {
                width: 64,
                height: 40,
            },
        )
        .unwrap_or_else(|_| Map::new(1, 1, Tile::Void).expect("a 1x1 map is always valid"));
        let language_at_start = ui.settings.language.clone();
        let mut app = ClientApp {
            ui,
            i18n,
            cli_language: options.language.clone(),
            language_at_start,
            store,
            session: None,
            hosted: None,
            recorder,
            connect_timeout: options.connect_timeout,
            play_timeout: options.play_timeout,
            after_join,
            menu_map,
            pending: Vec::new(),
            elapsed: 0.0,
            fps: 0.0,
            since_frame: 0.0,
            last_drawn: 0,
            hotbar_slot: 0,
            show_list: false,
            show_map: false,
            chat: ChatInput::default(),
            map_texture: None,
            flash: 0.0,
            damage_numbers: Vec::new(),
            respawn_clicked: false,
            style_applied: false,
            screen_frames: 0,
            last_screen: None,
            exit: false,
        };
        for c in commands {
            app.execute(c);
        }
        (app, warning)
    }

    /// The screen state machine (tests drive it).
    pub fn ui_state(&self) -> &Ui {
        &self.ui
    }

    /// Mutable access to the state machine (tests type into forms through it).
    pub fn ui_state_mut(&mut self) -> &mut Ui {
        &mut self.ui
    }

    /// Queues an event as if the player had clicked it.
    pub fn push_event(&mut self, event: UiEvent) {
        self.pending.push(event);
    }

    /// The translations in use.
    pub fn localizer(&self) -> &Localizer {
        &self.i18n
    }

    /// Whether the local player is in the world with a map (joined and playing).
    pub fn joined(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.joined)
    }

    /// The local player's name and tile position, once joined.
    pub fn local_player(&self) -> Option<(String, (i32, i32))> {
        let s = self.session.as_ref()?;
        let p = s.play.players.local()?;
        let (x, y) = s.play.players.prediction().pos_px();
        Some((
            p.name.clone(),
            ((x / 32.0).floor() as i32, (y / 32.0).floor() as i32),
        ))
    }

    fn item(&self) -> Item {
        // Slot 1 holds the shovel; the other five are empty (the gun is unfinished).
        Item::Shovel
    }

    fn drop_session(&mut self) {
        if let Some(mut s) = self.session.take() {
            s.handler.disconnect();
            // A recording (--record) covers the first session only. What the socket received
            // before it closed is applied first, so that every snapshot in the recording is
            // followed by its tick hash.
            if let Some(r) = self.recorder.take() {
                s.drain(Some(&r), &mut Vec::new());
                r.with(|r| r.finish("the session ended"));
            }
        }
        self.hosted = None;
        self.map_texture = None;
        self.show_map = false;
        self.show_list = false;
        self.flash = 0.0;
        self.damage_numbers.clear();
    }

    fn connect(&mut self, attempt: &Attempt) {
        self.drop_session();
        let (address, max_players) = match &attempt.host {
            Some(h) => match crate::hosting::start(h) {
                Ok(handle) => {
                    let a = handle.addr().to_string();
                    self.hosted = Some(handle);
                    (a, Some(HOSTED_MAX_PLAYERS))
                }
                Err(e) => {
                    self.pending.push(UiEvent::Net(
                        ConnectionState::ServerFailure,
                        format!("cannot host a server: {e}"),
                    ));
                    return;
                }
            },
            None => (attempt.address.clone(), None),
        };
        let mut options = ConnectOptions::new(address, attempt.name.clone());
        if let Some(t) = self.connect_timeout {
            options.connect_timeout = t;
        }
        if let Some(t) = self.play_timeout {
            options.play_timeout = t;
        }
        // The page records every session into memory, for "Download recording".
        #[cfg(all(target_arch = "wasm32", feature = "web"))]
        if self.recorder.is_none() {
            self.recorder = crate::web::recording::start(&attempt.name);
        }
        let observer = self
            .recorder
            .clone()
            .map(|r| Box::new(r) as Box<dyn FrameObserver>);
        self.session = Some(Session {
            handler: ConnectionHandler::spawn(options, observer),
            name: attempt.name.clone(),
            play: PlayState::new(),
            joined: false,
            ping_ms: None,
            meter: RateMeter::default(),
            tick_clock: 0.0,
            since_snapshot: 0.0,
            was_active: false,
            breaking: None,
            max_players,
            last_health: None,
        });
    }

    fn execute(&mut self, command: Command) {
        match command {
            Command::Connect(attempt) => self.connect(&attempt),
            Command::Disconnect => self.drop_session(),
            Command::SaveSettings => self.save_settings(),
            Command::Exit => self.exit = true,
        }
    }

    fn save_settings(&self) {
        if let Err(e) = self.store.save(&self.ui.settings) {
            tracing::warn!("cannot save the settings: {e}");
        }
    }

    /// Runs queued events through the state machine until none are left.
    fn process_events(&mut self) {
        for _ in 0..32 {
            if self.pending.is_empty() {
                break;
            }
            for event in std::mem::take(&mut self.pending) {
                let joined = event == UiEvent::Joined;
                for c in self.ui.handle(event) {
                    self.execute(c);
                }
                if joined && self.ui.screen() == &Screen::Playing {
                    match self.after_join {
                        InGameView::World => {}
                        InGameView::Pause => self.pending.push(UiEvent::Escape),
                        InGameView::Map => self.show_map = true,
                        InGameView::Players => self.show_list = true,
                    }
                }
            }
        }
    }

    fn language_code(&self) -> &'static str {
        // --lang wins until the player picks a language in Options.
        let cli = self
            .cli_language
            .as_deref()
            .filter(|_| self.ui.settings.language == self.language_at_start);
        pick_language(cli, self.ui.settings.language.as_deref(), system_language())
    }

    fn feedback(&mut self, dt: f32) {
        self.flash = (self.flash - dt / FLASH_SECS).max(0.0);
        for n in &mut self.damage_numbers {
            n.1 += dt / DAMAGE_NUMBER_SECS;
        }
        self.damage_numbers.retain(|n| n.1 < 1.0);
        let Some(s) = &mut self.session else { return };
        let health = s.health();
        if let (Some(before), Some(now)) = (s.last_health, health) {
            if now < before {
                self.flash = 1.0;
                if self.damage_numbers.len() < 8 {
                    self.damage_numbers.push((before - now, 0.0));
                }
            }
        }
        s.last_health = health;
    }

    /// Applies a chat key: a line to send goes to the server.
    fn chat_key(&mut self, key: ChatKey) {
        match self.chat.key(key) {
            ChatOutcome::Send(text) => {
                if let Some(s) = &self.session {
                    s.handler.say(text);
                }
            }
            ChatOutcome::Opened
            | ChatOutcome::Nothing
            | ChatOutcome::Closed
            | ChatOutcome::Refused => {}
        }
    }

    /// The last chat entries with their opacity now.
    fn chat_lines(&self) -> Vec<ChatLineView> {
        let Some(s) = &self.session else {
            return Vec::new();
        };
        chat_views(
            &s.play.chat,
            s.play.players.tick(),
            self.chat.is_open(),
            &self.i18n,
        )
    }

    fn hud_view(&mut self, ctx: &egui::Context) -> HudView {
        let Some(s) = &self.session else {
            return HudView::default();
        };
        let rates = s.meter.rates();
        let (x, y) = s.play.players.prediction().pos_px();
        let mut names: Vec<String> = s.play.players.iter().map(|p| p.name.clone()).collect();
        names.sort_by(|a, b| natural_cmp(a, b));
        let dead = s.health() == Some(0);
        let map = if self.show_map {
            s.play.world.map().map(|m| {
                let version = s.play.world.tick() / 10;
                let stale = self.map_texture.as_ref().is_none_or(|(_, v)| *v != version);
                if stale {
                    let image = map_image(m);
                    let handle = ctx.load_texture("map", image, egui::TextureOptions::NEAREST);
                    self.map_texture = Some((handle, version));
                }
                let (w, h) = (f32::from(m.width()) * 32.0, f32::from(m.height()) * 32.0);
                let players = s
                    .play
                    .players
                    .iter()
                    .filter(|p| p.placed)
                    .map(|p| {
                        let local = Some(p.id) == s.play.players.local_id();
                        let (px, py) = if local {
                            (x, y)
                        } else {
                            (p.pos.0 as f32, p.pos.1 as f32)
                        };
                        // World pixels are centred on the map: the origin is the map centre.
                        ([(px + w / 2.0) / w, (py + h / 2.0) / h], p.color, local)
                    })
                    .collect();
                let id = self
                    .map_texture
                    .as_ref()
                    .map(|(t, _)| t.id())
                    .unwrap_or_default();
                MapView {
                    texture: id,
                    size: [usize::from(m.width()), usize::from(m.height())],
                    players,
                }
            })
        } else {
            None
        };
        HudView {
            health: s.health().unwrap_or(0),
            online: s.play.players.len(),
            max_players: s.max_players,
            player_list: self.show_list.then_some(names),
            tile: ((x / 32.0).floor() as i32, (y / 32.0).floor() as i32),
            tick: s.play.world.tick(),
            ping_ms: s.ping_ms,
            kb_per_min: (rates.kb_received_per_min, rates.kb_sent_per_min),
            fps: self.ui.settings.show_fps.then_some(self.fps),
            debug: self.ui.settings.debug_info,
            hotbar_slot: self.hotbar_slot,
            // Lava is the only tile that hurts (tilegame_game::damage_period_ticks).
            dead: dead.then_some("dead-cause-lava"),
            flash: self.flash,
            damage_numbers: self.damage_numbers.clone(),
            map,
        }
    }
}

/// The last [`SHOWN_LINES`] chat entries as the HUD shows them at tick `now` (shared with the
/// replay viewer).
pub fn chat_views(
    log: &crate::managers::ChatLog,
    now: u32,
    open: bool,
    i18n: &Localizer,
) -> Vec<ChatLineView> {
    let mut lines: Vec<ChatLineView> = log
        .items()
        .rev()
        .take(SHOWN_LINES)
        .map(|item| {
            let (name, text) = match &item.entry {
                ChatEntry::Line { from, name, text } => {
                    // The operator's broadcast: named as the server, in the player's language.
                    let name = if *from == tilegame_protocol::v1::CHAT_FROM_SERVER {
                        i18n.text("chat-server")
                    } else if name.is_empty() {
                        format!("#{from}")
                    } else {
                        name.clone()
                    };
                    (name, text.clone())
                }
                ChatEntry::Refused(r) => (String::new(), i18n.text(refusal_key(*r))),
            };
            ChatLineView {
                name,
                text,
                alpha: line_alpha(item.tick, now, open),
            }
        })
        .collect();
    lines.reverse();
    lines
}

/// The whole map, one pixel per tile, in the renderer's tile colours.
fn map_image(map: &Map) -> egui::ColorImage {
    let (w, h) = (usize::from(map.width()), usize::from(map.height()));
    let colors = game::ALL_TILES.map(crate::render::layout::tile_color);
    let mut rgba = Vec::with_capacity(w * h * 4);
    for &tile in map.tiles() {
        let [r, g, b] = colors[tile as usize];
        rgba.extend_from_slice(&[r, g, b, 255]);
    }
    egui::ColorImage::from_rgba_unmultiplied([w, h], &rgba)
}

impl FrameSource for ClientApp {
    fn update(&mut self, input: &InputState, dt: f32) {
        self.elapsed += dt;
        // Frames per second from the frames drawn (in the page the source is also updated
        // between frames, at the tick rate).
        self.since_frame += dt;
        let frame_dt = if input.frame != self.last_drawn {
            self.last_drawn = input.frame;
            std::mem::take(&mut self.since_frame)
        } else {
            0.0
        };
        if frame_dt > 0.0 {
            let f = 1.0 / frame_dt;
            self.fps = if self.fps == 0.0 {
                f
            } else {
                self.fps * 0.9 + f * 0.1
            };
        }
        let playing = self.ui.screen() == &Screen::Playing;
        let dead = self.session.as_ref().and_then(Session::health) == Some(0);
        for key in &input.keys_pressed {
            match key {
                Key::Escape if self.show_map || self.show_list => {
                    self.show_map = false;
                    self.show_list = false;
                }
                Key::Escape => self.pending.push(UiEvent::Escape),
                Key::ToggleFullscreen => {
                    self.ui.settings.fullscreen = !self.ui.settings.fullscreen;
                    self.save_settings();
                }
                Key::Digit1 if playing => self.hotbar_slot = 0,
                Key::Digit2 if playing => self.hotbar_slot = 1,
                Key::Digit3 if playing => self.hotbar_slot = 2,
                Key::Digit4 if playing => self.hotbar_slot = 3,
                Key::Digit5 if playing => self.hotbar_slot = 4,
                Key::Digit6 if playing => self.hotbar_slot = 5,
                Key::Tab if playing => self.show_list = !self.show_list,
                Key::Space if playing => self.show_map = !self.show_map,
                Key::R if playing && dead => self.respawn_clicked = true,
                Key::T | Key::Enter if playing && !self.show_map => self.chat_key(ChatKey::Open),
                _ => {}
            }
        }
        if !playing && self.chat.is_open() {
            self.chat_key(ChatKey::Cancel);
        }
        if playing && input.scroll != 0.0 {
            let step = if input.scroll > 0.0 {
                HOTBAR_SLOTS - 1
            } else {
                1
            };
            self.hotbar_slot = (self.hotbar_slot + step) % HOTBAR_SLOTS;
        }
        if let Some(s) = &mut self.session {
            s.drain(self.recorder.as_ref(), &mut self.pending);
        }
        self.process_events();
        if std::mem::take(&mut self.respawn_clicked) {
            if let Some(s) = &mut self.session {
                s.play.actions.push(Action::Respawn);
            }
        }
        let in_game = self.ui.in_game();
        let moving = self.ui.screen() == &Screen::Playing && !self.show_map;
        let item = self.item();
        let slot_holds_tool = self.hotbar_slot == 0;
        if let Some(s) = &mut self.session {
            s.since_snapshot += dt;
            if s.joined && in_game {
                s.tick_clock += dt;
                let mut steps = 0;
                while s.tick_clock >= TICK && steps < 5 {
                    s.tick_clock -= TICK;
                    steps += 1;
                    let mut held = input.clone();
                    held.mouse_left &= slot_holds_tool;
                    s.local_tick(&held, moving, item);
                }
            }
            let c = s.handler.counters();
            s.meter.sample(self.elapsed as u64, c.sent(), c.received());
        }
        self.feedback(dt);
        if input.close_requested {
            self.drop_session();
            self.exit = true;
        }
    }

    fn ui(&mut self, ctx: &egui::Context) {
        if !self.style_applied {
            view::apply_style(ctx);
            self.style_applied = true;
        }
        let code = self.language_code();
        if code != self.i18n.code() {
            if let Ok(l) = Localizer::new(code) {
                self.i18n = l;
            }
        }
        let screen = std::mem::discriminant(self.ui.screen());
        if self.last_screen != Some(screen) {
            self.last_screen = Some(screen);
            self.screen_frames = 0;
        }
        self.screen_frames = self.screen_frames.saturating_add(1);
        view::screens(ctx, &mut self.ui, &self.i18n, VERSION, &mut self.pending);
        #[cfg(all(target_arch = "wasm32", feature = "web"))]
        crate::web::recording::frame(ctx, &self.i18n, self.ui.screen(), self.ui.in_game());
        if self.ui.screen() == &Screen::MainMenu {
            view::controls_hint(ctx, &self.i18n);
        }
        if self.ui.in_game() {
            // This pass is drawn over the map (the frame presents right after it).
            #[cfg(all(target_arch = "wasm32", feature = "web"))]
            if self.session.as_ref().is_some_and(|s| s.joined) {
                crate::web::map_frame();
            }
            let hud = self.hud_view(ctx);
            if view::hud(ctx, &hud, &self.i18n) {
                self.respawn_clicked = true;
            }
            let lines = self.chat_lines();
            if let Some(key) =
                view::chat(ctx, &lines, &mut self.chat, view::CHAT_BOTTOM, &self.i18n)
            {
                self.chat_key(key);
            }
        }
    }

    fn scene(&self) -> Scene<'_> {
        let session = self.session.as_ref().filter(|s| s.joined);
        let Some(s) = session else {
            let map = &self.menu_map;
            return Scene {
                map,
                camera: [0.0, 0.0],
                zoom: 1.0,
                players: Vec::new(),
                breaking: None,
                hud: Hud {
                    tick: (self.elapsed * game::TICK_RATE as f32) as u32,
                    ..Hud::default()
                },
                overlay: Some(Overlay::UiLayer),
            };
        };
        let map = s.play.world.map().unwrap_or(&self.menu_map);
        let alpha = (s.since_snapshot / TICK).clamp(0.0, 1.0);
        let local_id = s.play.players.local_id();
        let (lx, ly) = s.play.players.prediction().pos_px();
        let mut players: Vec<DrawPlayer> = s
            .play
            .players
            .iter()
            .filter(|p| p.placed && Some(p.id) != local_id)
            .map(|p| {
                let (x, y) = s
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
        if let Some(me) = s.play.players.local() {
            players.push(DrawPlayer {
                pos: [lx, ly],
                name: me.name.clone(),
                color: if me.color == 0 { 0xe04040 } else { me.color },
                health: me.health,
                local: true,
            });
        }
        let breaking = s.breaking.and_then(|(x, y, n)| {
            let needed = map.get(x, y).and_then(game::break_ticks)?;
            Some((x, y, ((n * 8) / needed.max(1)).min(7) as u8))
        });
        Scene {
            map,
            camera: [lx, ly],
            zoom: 1.0,
            players,
            breaking,
            hud: Hud {
                health: s.health().unwrap_or(0),
                tick: s.play.world.tick(),
                players: s.play.players.len(),
                ..Hud::default()
            },
            overlay: Some(Overlay::UiLayer),
        }
    }

    fn should_exit(&self) -> bool {
        self.exit
    }

    fn ready(&self) -> bool {
        if self.screen_frames < 2 {
            return false;
        }
        match self.ui.screen() {
            Screen::Connecting { .. } => false,
            Screen::Playing => match self.after_join {
                InGameView::Pause => false,
                _ => self
                    .session
                    .as_ref()
                    .is_some_and(|s| s.joined && s.play.players.local().is_some()),
            },
            _ => true,
        }
    }

    fn window_settings(&self) -> WindowSettings {
        let s = &self.ui.settings;
        WindowSettings {
            fullscreen: s.fullscreen,
            vsync: s.vsync,
            fps_limit: s.fps_limit,
        }
    }
}

/// Opens the window and runs until it is closed or Quit is chosen.
#[cfg(not(target_arch = "wasm32"))]
pub fn run(options: AppOptions, recorder: Option<SharedRecorder>) -> Result<(), RenderError> {
    let (mut app, warning) = ClientApp::new(&options, recorder);
    if let Some(w) = warning {
        eprintln!("tilegame: {w}");
    }
    let window = WindowOptions {
        title: "tilegame".into(),
        size: if options.window_size.contains(&0) {
            [1280, 720]
        } else {
            options.window_size
        },
        exit_after_frames: options.frames,
        screenshot: options.screenshot.clone(),
        screenshot_frame: None,
    };
    let result = run_window(&mut app, window);
    app.drop_session();
    // Give the hosted server a moment to see the goodbye.
    std::thread::sleep(Duration::from_millis(50));
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managers::{ChatLog, PlayerManager};

    #[test]
    fn the_operators_broadcast_is_named_as_the_server_in_every_language() {
        let players = PlayerManager::restore(Vec::new(), None, 40, 0);
        let mut log = ChatLog::default();
        log.apply(
            &play::ToClient::Chat(play::Chat {
                from: tilegame_protocol::v1::CHAT_FROM_SERVER,
                text: "restart at noon".into(),
            }),
            &players,
        );
        for code in crate::ui::i18n::codes() {
            let i18n = Localizer::new(code).expect("a language");
            let lines = chat_views(&log, 40, true, &i18n);
            assert_eq!(lines.len(), 1);
            assert_eq!(lines[0].name, i18n.text("chat-server"), "{code}");
            assert!(!lines[0].name.is_empty() && lines[0].name != "chat-server");
            assert_eq!(lines[0].text, "restart at noon");
        }
    }
}
