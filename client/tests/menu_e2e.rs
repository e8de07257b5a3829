//! End to end through the menus: the app starts with no flags (main menu), and synthetic input
//! events (pointer clicks on the drawn labels, key presses, typed text, fed to egui exactly as
//! `egui-winit` feeds window events) go Join → type the address and the name → play, against a
//! real server on 127.0.0.1 (an ephemeral port). The failure path (refused → Retry → Back) is
//! driven the same way, and so is the chat between two players (T, typing, Enter, Esc). No
//! window is needed: the app's UI runs on a headless egui context.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui::{Event, Modifiers, PointerButton, Pos2};
use tilegame_client::app::{AppOptions, ClientApp, Start};
use tilegame_client::render::{FrameSource, InputState};
use tilegame_client::ui::screens::Screen;

/// Upper bound for anything to happen (the tests wait on events, not on time).
const PATIENCE: Duration = Duration::from_secs(60);

struct Driver {
    app: ClientApp,
    ctx: egui::Context,
    shapes: Vec<egui::epaint::ClippedShape>,
    time: f64,
    input: InputState,
}

impl Driver {
    fn new(config: PathBuf) -> Driver {
        let options = AppOptions {
            config_dir: Some(config),
            language: Some("en".into()),
            start: Start::Menu,
            ..AppOptions::default()
        };
        let mut d = Driver::with_options(&options);
        // egui measures a new area on its first frame and shows it on the next.
        d.frame(vec![]);
        d.frame(vec![]);
        d
    }

    /// A client started with `options` in a 1280×720 window; no frame run yet.
    fn with_options(options: &AppOptions) -> Driver {
        let (app, warning) = ClientApp::new(options, None);
        assert_eq!(warning, None);
        let ctx = egui::Context::default();
        tilegame_client::ui::font::install(&ctx);
        Driver {
            app,
            ctx,
            shapes: Vec::new(),
            time: 0.0,
            input: InputState {
                window_size: [1280, 720],
                focused: true,
                ..InputState::default()
            },
        }
    }

    /// One frame: the game update, then the UI with these input events.
    fn frame(&mut self, events: Vec<Event>) {
        let dt = 1.0 / 60.0;
        self.time += f64::from(dt);
        self.input.frame += 1;
        self.app.update(&self.input, dt);
        let raw = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                Pos2::ZERO,
                egui::vec2(1280.0, 720.0),
            )),
            time: Some(self.time),
            events,
            ..egui::RawInput::default()
        };
        let app = &mut self.app;
        let mut out = self.ctx.run_pass(raw, |ctx| app.ui(ctx));
        out.textures_delta.clear();
        self.shapes = out.shapes;
    }

    /// Where the text `label` is drawn, if it is.
    fn find(&self, label: &str) -> Option<Pos2> {
        fn visit(shape: &egui::Shape, label: &str) -> Option<Pos2> {
            match shape {
                egui::Shape::Text(t) if t.galley.text() == label => {
                    Some(t.pos + t.galley.rect.center().to_vec2())
                }
                egui::Shape::Vec(v) => v.iter().find_map(|s| visit(s, label)),
                _ => None,
            }
        }
        self.shapes.iter().find_map(|s| visit(&s.shape, label))
    }

    /// All text drawn this frame.
    fn texts(&self) -> Vec<String> {
        fn visit(shape: &egui::Shape, out: &mut Vec<String>) {
            match shape {
                egui::Shape::Text(t) => out.push(t.galley.text().to_owned()),
                egui::Shape::Vec(v) => v.iter().for_each(|s| visit(s, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        self.shapes.iter().for_each(|s| visit(&s.shape, &mut out));
        out
    }

    /// Clicks where `label` is drawn (press, then release on the next frame).
    fn click(&mut self, label: &str) {
        let pos = self
            .find(label)
            .unwrap_or_else(|| panic!("{label:?} is not on screen; drawn: {:?}", self.texts()));
        let button = |pressed| Event::PointerButton {
            pos,
            button: PointerButton::Primary,
            pressed,
            modifiers: Modifiers::NONE,
        };
        self.frame(vec![Event::PointerMoved(pos), button(true)]);
        self.frame(vec![button(false)]);
        // The app handles the click on the next update; a new screen shows one frame later.
        self.frame(vec![]);
        self.frame(vec![]);
    }

    /// Replaces the content of the focused text field by `text` (select all, then type).
    fn type_over(&mut self, text: &str) {
        let key = |pressed| Event::Key {
            key: egui::Key::A,
            physical_key: None,
            pressed,
            repeat: false,
            modifiers: Modifiers::COMMAND,
        };
        self.frame(vec![key(true), key(false)]);
        self.frame(vec![Event::Text(text.to_owned())]);
    }

    /// Runs frames until `done` holds (at most [`PATIENCE`]).
    fn until(&mut self, what: &str, done: impl Fn(&Driver) -> bool) {
        let start = Instant::now();
        while !done(self) {
            assert!(
                start.elapsed() < PATIENCE,
                "{what}: still {:?}",
                self.app.ui_state().screen()
            );
            std::thread::sleep(Duration::from_millis(5));
            self.frame(vec![]);
        }
    }
}

fn temp_config(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tilegame-e2e-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn menu_join_type_address_and_name_then_play() {
    let server = tilegame_server::ServerHandle::start(tilegame_server::ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        seed: "menue2e".into(),
        size: "small".into(),
        ..tilegame_server::ServerConfig::default()
    })
    .expect("a server on an ephemeral port");
    let address = server.addr().to_string();
    let config = temp_config("join");
    let mut d = Driver::new(config.clone());
    assert_eq!(d.app.ui_state().screen(), &Screen::MainMenu);

    d.click("Join a server");
    assert!(matches!(d.app.ui_state().screen(), Screen::Join(_)));
    // The address field shows the remembered default; click into it and replace it.
    d.click("127.0.0.1:35000");
    d.type_over(&address);
    d.click("player");
    d.type_over("bad name!");
    assert!(
        d.texts()
            .iter()
            .any(|t| t.contains("(U+0020) is not allowed: only letters")),
        "the name is checked as it is typed: {:?}",
        d.texts()
    );
    d.click("bad name!");
    d.type_over("alice_e2e");
    // The refusal's reason leaves the form and Join is enabled: the panel shrinks and is centred
    // again, so look at it before clicking (as a player would).
    d.frame(vec![]);
    d.frame(vec![]);
    d.click("Join");
    d.until("joining", |d| {
        d.app.ui_state().screen() == &Screen::Playing && d.app.local_player().is_some()
    });
    let (name, start) = d.app.local_player().unwrap();
    assert_eq!(name, "alice_e2e");
    d.until("the server counts the player", |_| {
        server.stats().players == 1
    });
    // The HUD is up: online count out of the limit the server sent at the handshake, and health.
    d.frame(vec![]);
    let limit = format!(
        "ONLINE 1/{}",
        tilegame_server::ServerConfig::default().max_players
    );
    assert!(
        d.texts().contains(&limit) && d.texts().iter().any(|t| t == "HP 100"),
        "{:?}",
        d.texts()
    );

    // Walk right for a while (D held, as the window would report it).
    d.input.right = true;
    d.until("walking", |d| {
        d.app.local_player().is_some_and(|(_, p)| p.0 > start.0)
    });
    d.input.right = false;

    // The name and server are remembered for next time.
    let saved = std::fs::read_to_string(config.join("settings.ron")).expect("settings saved");
    assert!(
        saved.contains("alice_e2e") && saved.contains(&address),
        "{saved}"
    );

    // Escape pauses; Disconnect goes back to the main menu and leaves the server.
    d.input.keys_pressed = vec![tilegame_client::render::Key::Escape];
    d.frame(vec![]);
    d.input.keys_pressed.clear();
    d.frame(vec![]);
    assert_eq!(d.app.ui_state().screen(), &Screen::Paused);
    d.click("Disconnect");
    assert_eq!(d.app.ui_state().screen(), &Screen::MainMenu);
    d.until("the server sees the player leave", |_| {
        server.stats().players == 0
    });
    let _ = std::fs::remove_dir_all(&config);
}

#[test]
fn refused_then_retry_then_back() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let config = temp_config("refused");
    let mut d = Driver::new(config.clone());
    d.click("Join a server");
    d.click("127.0.0.1:35000");
    d.type_over(&address);
    d.click("Join");
    d.until("failing", |d| {
        matches!(d.app.ui_state().screen(), Screen::Failed { .. })
    });
    d.frame(vec![]);
    let texts = d.texts();
    assert!(
        texts
            .iter()
            .any(|t| t.contains(&address) && t.contains("refused")),
        "the failure names the address: {texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.starts_with("Detail:")),
        "the OS detail is a second line: {texts:?}"
    );
    d.click("Retry");
    d.until("failing again", |d| {
        matches!(d.app.ui_state().screen(), Screen::Failed { .. })
    });
    d.frame(vec![]);
    d.click("Back");
    match d.app.ui_state().screen() {
        Screen::Join(form) => assert_eq!(form.address, address),
        s => panic!("Back should return to the join form, not {s:?}"),
    }
    d.click("Back");
    assert_eq!(d.app.ui_state().screen(), &Screen::MainMenu);
    let _ = std::fs::remove_dir_all(&config);
}

#[test]
fn lava_hurts_with_a_flash_and_numbers_then_kills_and_the_death_screen_says_so() {
    let seed = "lavawalk";
    let server = tilegame_server::ServerHandle::start(tilegame_server::ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        seed: seed.into(),
        size: "small".into(),
        theme: tilegame_server::config::ThemeName::HellIslands,
        ..tilegame_server::ServerConfig::default()
    })
    .expect("a server");
    // The same map the server generates: find the first lava tile east of the spawn.
    let map = tilegame_game::generate(
        seed,
        tilegame_game::Theme::HellIslands,
        tilegame_game::MapSize::Small,
    )
    .unwrap();
    let (cx, cy) = (map.width() / 2, map.height() / 2);
    let lava_x = (cx..map.width())
        .find(|&x| map.get(x, cy) == Some(tilegame_game::Tile::Lava))
        .expect("lava east of the spawn in a lava sea");
    let lava_world_x = i32::from(lava_x) - i32::from(cx);

    let config = temp_config("lava");
    let mut d = Driver::new(config.clone());
    d.click("Join a server");
    d.click("127.0.0.1:35000");
    d.type_over(&server.addr().to_string());
    d.click("Join");
    d.until("joining", |d| d.app.local_player().is_some());
    d.input.right = true;
    d.until("reaching the lava", |d| {
        d.app
            .local_player()
            .is_some_and(|(_, p)| p.0 > lava_world_x)
    });
    d.input.right = false;
    d.until("a damage number floats", |d| {
        d.texts()
            .iter()
            .any(|t| t.starts_with('-') && t[1..].parse::<u8>().is_ok())
    });
    d.until("the death screen names lava", |d| {
        d.texts().iter().any(|t| t == "You burned in lava.")
    });
    assert!(d.texts().iter().any(|t| t == "You died"), "{:?}", d.texts());
    d.click("Respawn");
    d.until("alive again at the spawn", |d| {
        d.app.local_player().is_some_and(|(_, p)| p.0.abs() <= 1)
            && !d.texts().iter().any(|t| t == "You died")
    });
    let _ = std::fs::remove_dir_all(&config);
}

#[test]
fn lang_flag_beats_the_saved_language_until_options_change_it() {
    let config = temp_config("lang");
    tilegame_client::ui::settings::Settings {
        language: Some("fr".into()),
        ..Default::default()
    }
    .save(&config)
    .unwrap();
    let saved = AppOptions {
        config_dir: Some(config.clone()),
        ..AppOptions::default()
    };
    assert_eq!(ClientApp::new(&saved, None).0.localizer().code(), "fr");
    let options = AppOptions {
        config_dir: Some(config.clone()),
        language: Some("ja".into()),
        start: Start::Screen(Screen::Options(
            tilegame_client::ui::screens::OptionsFrom::Menu,
        )),
        ..AppOptions::default()
    };
    let (app, _) = ClientApp::new(&options, None);
    let mut d = Driver {
        app,
        ctx: egui::Context::default(),
        shapes: Vec::new(),
        time: 0.0,
        input: InputState::default(),
    };
    tilegame_client::ui::font::install(&d.ctx);
    d.frame(vec![]);
    d.frame(vec![]);
    assert_eq!(d.app.localizer().code(), "ja");
    assert!(d.texts().iter().any(|t| t == "設定"), "{:?}", d.texts());
    // Pick Русский in the language list.
    d.click("Français");
    d.click("Русский");
    assert_eq!(d.app.localizer().code(), "ru");
    d.click("Назад");
    let saved = std::fs::read_to_string(config.join("settings.ron")).unwrap();
    assert!(saved.contains("\"ru\""), "{saved}");
    let _ = std::fs::remove_dir_all(&config);
}

/// A driver already in play on `address` as `name` (`--connect`).
fn playing(address: &str, name: &str) -> Driver {
    let options = AppOptions {
        config_dir: Some(temp_config(name)),
        language: Some("en".into()),
        start: Start::Play(
            tilegame_client::ui::screens::Attempt {
                address: address.to_owned(),
                name: name.to_owned(),
                host: None,
            },
            tilegame_client::app::InGameView::World,
        ),
        ..AppOptions::default()
    };
    let mut d = Driver::with_options(&options);
    d.until("joining", |d| {
        d.app.ui_state().screen() == &Screen::Playing && d.app.local_player().is_some()
    });
    d
}

fn enter(pressed: bool) -> Event {
    Event::Key {
        key: egui::Key::Enter,
        physical_key: None,
        pressed,
        repeat: false,
        modifiers: Modifiers::NONE,
    }
}

#[test]
fn t_opens_the_chat_enter_sends_esc_cancels_and_the_other_player_sees_the_line() {
    let server = tilegame_server::ServerHandle::start(tilegame_server::ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        seed: "chate2e".into(),
        size: "small".into(),
        ..tilegame_server::ServerConfig::default()
    })
    .expect("a server on an ephemeral port");
    let address = server.addr().to_string();
    let mut alice = playing(&address, "alice");
    let mut bob = playing(&address, "bob");
    let shows = |d: &Driver, text: &str| d.texts().iter().any(|t| t.contains(text));

    // T opens the line (the key reaches the game, as the window passes it on), typing fills it,
    // Esc cancels: nothing is sent and the game is not paused.
    alice.input.keys_pressed = vec![tilegame_client::render::Key::T];
    alice.frame(vec![]);
    alice.input.keys_pressed.clear();
    alice.frame(vec![]);
    alice.frame(vec![]);
    alice.frame(vec![]);
    alice.frame(vec![Event::Text("never sent".into())]);
    alice.frame(vec![]);
    assert!(shows(&alice, "never sent"), "{:?}", alice.texts());
    let esc = |pressed| Event::Key {
        key: egui::Key::Escape,
        physical_key: None,
        pressed,
        repeat: false,
        modifiers: Modifiers::NONE,
    };
    alice.frame(vec![esc(true), esc(false)]);
    alice.frame(vec![]);
    assert!(!shows(&alice, "never sent"), "{:?}", alice.texts());
    assert_eq!(alice.app.ui_state().screen(), &Screen::Playing);

    // Enter opens it too; Enter sends; bob's HUD shows the line with alice's name.
    alice.input.keys_pressed = vec![tilegame_client::render::Key::Enter];
    alice.frame(vec![]);
    alice.input.keys_pressed.clear();
    alice.frame(vec![]);
    alice.frame(vec![Event::Text("hello from Zoë".into())]);
    alice.frame(vec![enter(true), enter(false)]);
    bob.until("bob sees the line", |d| shows(d, "alice: hello from Zoë"));
    alice.until("alice sees her own line", |d| {
        shows(d, "alice: hello from Zoë")
    });
    assert!(!shows(&bob, "never sent"));

    // Enter on a blank line closes it without sending anything.
    alice.input.keys_pressed = vec![tilegame_client::render::Key::T];
    alice.frame(vec![]);
    alice.input.keys_pressed.clear();
    alice.frame(vec![]);
    alice.frame(vec![Event::Text("   ".into())]);
    alice.frame(vec![]);
    assert!(
        alice.texts().iter().any(|t| t == "   "),
        "open: {:?}",
        alice.texts()
    );
    alice.frame(vec![enter(true), enter(false)]);
    alice.frame(vec![]);
    assert!(
        !alice
            .texts()
            .iter()
            .any(|t| t == "   " || t.contains("Enter: send")),
        "closed: {:?}",
        alice.texts()
    );
    assert_eq!(alice.app.ui_state().screen(), &Screen::Playing);
    let _ = std::fs::remove_dir_all(temp_config("alice"));
    let _ = std::fs::remove_dir_all(temp_config("bob"));
}
