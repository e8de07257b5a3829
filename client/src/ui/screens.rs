//! The client's screens as a pure state machine: no window, no network, no clock.
//!
//! Why it exists: every path a player can take (menu → join → connecting → error → Retry or
//! Back, pause → Options → Disconnect, …) must be testable without a display. The window's UI
//! layer turns clicks and keys into [`UiEvent`]s, the app turns network news into
//! [`UiEvent::Net`] / [`UiEvent::Joined`], and [`Ui::handle`] answers with [`Command`]s
//! (connect, disconnect, save settings, quit) that the app carries out.

use tilegame_game::normalize_name;

use super::address::{normalize_address, AddressError};
use super::settings::{HostSettings, Settings};
use crate::net::ConnectionState;

/// The host screen's fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostForm {
    /// Player name.
    pub name: String,
    /// World seed (empty: random).
    pub seed: String,
    /// `small`, `medium` or `large`.
    pub size: String,
    /// `default`, `hell`, `islands` or `hell_islands`.
    pub theme: String,
}

/// The join screen's fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinForm {
    /// `host[:port]` as typed.
    pub address: String,
    /// Player name as typed.
    pub name: String,
}

/// A field's problem, as a message key of the translations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldError {
    /// The address is empty.
    AddressEmpty,
    /// The address is malformed.
    AddressBad,
    /// The port is not 1..=65535.
    PortBad,
    /// The name is empty.
    NameEmpty,
    /// The name is longer than 16 characters.
    NameTooLong,
    /// The name has a character outside the alphabet of names (the server's rule).
    NameBadChar(char),
    /// The name has a character the game's fonts cannot draw (the server would take it, but
    /// every player would see a blank box).
    NameNoGlyph(char),
}

impl FieldError {
    /// The translation key.
    pub fn key(self) -> &'static str {
        match self {
            FieldError::AddressEmpty => "field-address-empty",
            FieldError::AddressBad => "field-address-bad",
            FieldError::PortBad => "field-port-bad",
            FieldError::NameEmpty => "field-name-empty",
            FieldError::NameTooLong => "field-name-too-long",
            FieldError::NameBadChar(_) => "field-name-bad-char",
            FieldError::NameNoGlyph(_) => "field-name-no-glyph",
        }
    }

    /// The character the message names, if any, as it is shown (`$char`) and as a code point
    /// (`$code`, e.g. "U+1F600", so that a character no font draws is still identified).
    pub fn character(self) -> Option<(String, String)> {
        match self {
            FieldError::NameBadChar(c) | FieldError::NameNoGlyph(c) => {
                Some((c.to_string(), format!("U+{:04X}", u32::from(c))))
            }
            _ => None,
        }
    }
}

/// Checks a name with the server's own rules, then that the game's fonts can draw every
/// character of it; returns the name as it is sent (NFC).
pub fn check_name(name: &str) -> Result<String, FieldError> {
    use tilegame_game::NameError;
    let name = normalize_name(name).map_err(|e| match e {
        NameError::Empty => FieldError::NameEmpty,
        NameError::TooLong(_) => FieldError::NameTooLong,
        NameError::BadChar(c) => FieldError::NameBadChar(c),
        // normalize_name checks its own NFC output: never refused for NFC.
        NameError::NotNfc => FieldError::NameBadChar('\u{fffd}'),
    })?;
    match name.chars().find(|c| !super::font::can_draw(*c)) {
        Some(c) => Err(FieldError::NameNoGlyph(c)),
        None => Ok(name),
    }
}

/// Checks and normalises an address (`host` gets the default port).
pub fn check_address(address: &str) -> Result<String, FieldError> {
    normalize_address(address).map_err(|e| match e {
        AddressError::Empty => FieldError::AddressEmpty,
        AddressError::BadPort(_) => FieldError::PortBad,
        AddressError::TooLong(_) | AddressError::BadHost(_) => FieldError::AddressBad,
    })
}

impl JoinForm {
    /// The address problem, if any.
    pub fn address_error(&self) -> Option<FieldError> {
        check_address(&self.address).err()
    }
    /// The name problem, if any.
    pub fn name_error(&self) -> Option<FieldError> {
        check_name(&self.name).err()
    }
    /// The first problem that blocks Join (address first), if any.
    pub fn blocker(&self) -> Option<FieldError> {
        self.address_error().or(self.name_error())
    }
}

impl HostForm {
    /// The name problem, if any.
    pub fn name_error(&self) -> Option<FieldError> {
        check_name(&self.name).err()
    }
}

/// One try at playing: where, as whom, and whether we host the server ourselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// `host:port` (normalised); empty when hosting (the app fills in the local address).
    pub address: String,
    /// Player name.
    pub name: String,
    /// Host a server with these settings first.
    pub host: Option<HostSettings>,
}

/// Why playing failed, as the network reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The state that ended it.
    pub state: ConnectionState,
    /// The OS's or server's own words (shown as a secondary line).
    pub detail: String,
}

/// Where Options returns to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionsFrom {
    /// The main menu.
    Menu,
    /// The pause menu (the game goes on behind).
    Pause,
}

/// The screen shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    /// Play on this computer / Join a server / Options / Quit.
    MainMenu,
    /// Name, seed, size, theme.
    Host(HostForm),
    /// Address and name.
    Join(JoinForm),
    /// Language, FPS limit, show FPS, vsync, fullscreen, debug info.
    Options(OptionsFrom),
    /// The authors and licences of the shipped fonts and crates; Back.
    Credits,
    /// Connecting and downloading the map; Cancel.
    Connecting {
        /// What is being tried.
        attempt: Attempt,
        /// Map download 0..=1, once it started.
        progress: Option<f32>,
    },
    /// A failure with Back, and Retry when trying again can help ([`can_retry`]).
    Failed {
        /// What was tried.
        attempt: Attempt,
        /// What went wrong.
        failure: Failure,
        /// The connection was lost while playing (not while connecting): its own title.
        in_play: bool,
    },
    /// In the world.
    Playing,
    /// Resume / Options / Disconnect / Quit, the world behind.
    Paused,
    /// The program is ending.
    Quit,
}

/// What the player did (or the network said).
#[derive(Debug, Clone, PartialEq)]
pub enum UiEvent {
    /// Main menu: Play on this computer.
    OpenHost,
    /// Main menu: Join a server.
    OpenJoin,
    /// Main menu or pause: Options.
    OpenOptions,
    /// Main menu: Credits.
    OpenCredits,
    /// Start (host or join form).
    Submit,
    /// Back (forms, options, failures).
    Back,
    /// Cancel while connecting.
    Cancel,
    /// Retry after a failure.
    Retry,
    /// Escape: pause in play, resume in pause, back elsewhere.
    Escape,
    /// Pause menu: Resume.
    Resume,
    /// Pause menu: Disconnect (back to the main menu).
    Disconnect,
    /// Quit the game.
    Quit,
    /// The connection changed state (detail: OS or server words).
    Net(ConnectionState, String),
    /// The join finished: the world is here.
    Joined,
}

/// What the app must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Start a connection (hosting a server first when asked).
    Connect(Attempt),
    /// Drop the current connection (and hosted server).
    Disconnect,
    /// Write the settings file.
    SaveSettings,
    /// Close the window.
    Exit,
}

/// The UI's state: the screen, the forms' remembered values, the settings.
#[derive(Debug, Clone)]
pub struct Ui {
    screen: Screen,
    /// Settings (the Options screen edits them in place).
    pub settings: Settings,
    /// Set after a Submit with invalid fields, so the form shows its errors.
    pub show_errors: bool,
    /// The most recent attempt (what Retry repeats after a failure in play).
    last_attempt: Attempt,
}

impl Ui {
    /// Starts at the main menu.
    pub fn new(settings: Settings) -> Ui {
        Ui {
            screen: Screen::MainMenu,
            settings,
            show_errors: false,
            last_attempt: Attempt {
                address: String::new(),
                name: String::new(),
                host: None,
            },
        }
    }

    /// Starts straight at `attempt` (command-line `--connect` / `--host`), connecting.
    pub fn connecting(settings: Settings, attempt: Attempt) -> (Ui, Vec<Command>) {
        let mut ui = Ui::new(settings);
        ui.screen = Screen::Connecting {
            attempt: attempt.clone(),
            progress: None,
        };
        ui.last_attempt = attempt.clone();
        (ui, vec![Command::Connect(attempt)])
    }

    /// The screen shown.
    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    /// Mutable access to the screen (the view edits form fields in place).
    pub fn screen_mut(&mut self) -> &mut Screen {
        &mut self.screen
    }

    /// Opens a screen directly (for `--screen`, screenshots and tests).
    pub fn open(&mut self, screen: Screen) {
        self.show_errors = false;
        self.screen = screen;
    }

    /// A join form with the remembered values.
    pub fn join_form(&self) -> JoinForm {
        JoinForm {
            address: self.settings.last_server.clone(),
            name: self.settings.name.clone(),
        }
    }

    /// A host form with the remembered values.
    pub fn host_form(&self) -> HostForm {
        HostForm {
            name: self.settings.name.clone(),
            seed: self.settings.host.seed.clone(),
            size: self.settings.host.size.clone(),
            theme: self.settings.host.theme.clone(),
        }
    }

    /// Whether the world is being played (shown, possibly paused).
    pub fn in_game(&self) -> bool {
        matches!(
            self.screen,
            Screen::Playing | Screen::Paused | Screen::Options(OptionsFrom::Pause)
        )
    }

    /// Reacts to one event; returns what the app must do, in order.
    pub fn handle(&mut self, event: UiEvent) -> Vec<Command> {
        use UiEvent as E;
        let screen = std::mem::replace(&mut self.screen, Screen::Quit);
        let (next, commands) = match (screen, event) {
            (_, E::Quit) => (Screen::Quit, vec![Command::Disconnect, Command::Exit]),

            (Screen::MainMenu, E::OpenHost) => (Screen::Host(self.host_form()), vec![]),
            (Screen::MainMenu, E::OpenJoin) => (Screen::Join(self.join_form()), vec![]),
            (Screen::MainMenu, E::OpenOptions) => (Screen::Options(OptionsFrom::Menu), vec![]),
            (Screen::MainMenu, E::OpenCredits) => (Screen::Credits, vec![]),
            (Screen::Credits, E::Back | E::Escape) => (Screen::MainMenu, vec![]),
            (Screen::MainMenu, E::Escape) => (Screen::MainMenu, vec![]),

            (Screen::Host(_) | Screen::Join(_), E::Back | E::Escape) => {
                self.show_errors = false;
                (Screen::MainMenu, vec![])
            }
            (Screen::Join(form), E::Submit) => {
                match (check_address(&form.address), check_name(&form.name)) {
                    (Ok(address), Ok(name)) => {
                        self.show_errors = false;
                        self.settings.last_server = form.address.trim().to_owned();
                        self.settings.name = name.clone();
                        let attempt = Attempt {
                            address,
                            name,
                            host: None,
                        };
                        (
                            Screen::Connecting {
                                attempt: attempt.clone(),
                                progress: None,
                            },
                            vec![Command::SaveSettings, Command::Connect(attempt)],
                        )
                    }
                    _ => {
                        self.show_errors = true;
                        (Screen::Join(form), vec![])
                    }
                }
            }
            (Screen::Host(form), E::Submit) => match check_name(&form.name) {
                Ok(name) => {
                    self.show_errors = false;
                    self.settings.name = name.clone();
                    let host = HostSettings {
                        seed: form.seed.clone(),
                        size: form.size.clone(),
                        theme: form.theme.clone(),
                    };
                    self.settings.host = host.clone();
                    let attempt = Attempt {
                        address: String::new(),
                        name,
                        host: Some(host),
                    };
                    (
                        Screen::Connecting {
                            attempt: attempt.clone(),
                            progress: None,
                        },
                        vec![Command::SaveSettings, Command::Connect(attempt)],
                    )
                }
                Err(_) => {
                    self.show_errors = true;
                    (Screen::Host(form), vec![])
                }
            },

            (Screen::Options(from), E::Back | E::Escape) => (
                match from {
                    OptionsFrom::Menu => Screen::MainMenu,
                    OptionsFrom::Pause => Screen::Paused,
                },
                vec![Command::SaveSettings],
            ),

            (Screen::Connecting { attempt, .. }, E::Cancel | E::Escape | E::Back) => {
                (back_to_form(self, &attempt), vec![Command::Disconnect])
            }
            (Screen::Connecting { attempt, .. }, E::Net(state, detail)) => match state {
                ConnectionState::GettingData(p) => (
                    Screen::Connecting {
                        attempt,
                        progress: Some(p.clamp(0.0, 1.0)),
                    },
                    vec![],
                ),
                s if s.is_terminal() => (
                    Screen::Failed {
                        attempt,
                        failure: Failure { state: s, detail },
                        in_play: false,
                    },
                    vec![Command::Disconnect],
                ),
                _ => (
                    Screen::Connecting {
                        attempt,
                        progress: None,
                    },
                    vec![],
                ),
            },
            (Screen::Connecting { .. }, E::Joined) => (Screen::Playing, vec![]),

            (
                Screen::Failed {
                    attempt, failure, ..
                },
                E::Retry,
            ) if can_retry(&failure.state) => (
                Screen::Connecting {
                    attempt: attempt.clone(),
                    progress: None,
                },
                vec![Command::Connect(attempt)],
            ),
            (Screen::Failed { attempt, .. }, E::Back | E::Escape) => {
                (back_to_form(self, &attempt), vec![])
            }

            (Screen::Playing, E::Escape) => (Screen::Paused, vec![]),
            (Screen::Paused, E::Escape | E::Resume) => (Screen::Playing, vec![]),
            (Screen::Paused, E::OpenOptions) => (Screen::Options(OptionsFrom::Pause), vec![]),
            (Screen::Paused, E::Disconnect) => (Screen::MainMenu, vec![Command::Disconnect]),
            // The connection ends while in the world (server gone, timeout, kicked).
            (
                Screen::Playing | Screen::Paused | Screen::Options(OptionsFrom::Pause),
                E::Net(state, detail),
            ) if state.is_terminal() => {
                let attempt = self.last_attempt.clone();
                (
                    Screen::Failed {
                        attempt,
                        failure: Failure { state, detail },
                        in_play: true,
                    },
                    vec![Command::Disconnect],
                )
            }

            (screen, _) => (screen, vec![]),
        };
        if let Screen::Connecting { attempt, .. } = &next {
            self.last_attempt = attempt.clone();
        }
        self.screen = next;
        commands
    }
}

/// Whether the same attempt can succeed if tried again: a taken name, another protocol
/// version or a ban cannot (the player must change the name, or the game, or wait out the ban),
/// so no Retry is offered.
pub fn can_retry(state: &ConnectionState) -> bool {
    !matches!(
        state,
        ConnectionState::NameTaken | ConnectionState::VersionMismatch | ConnectionState::Banned
    )
}

/// Where Back goes from a connection attempt: the form it came from, with its values.
fn back_to_form(ui: &Ui, attempt: &Attempt) -> Screen {
    match &attempt.host {
        Some(h) => Screen::Host(HostForm {
            name: attempt.name.clone(),
            seed: h.seed.clone(),
            size: h.size.clone(),
            theme: h.theme.clone(),
        }),
        None => Screen::Join(JoinForm {
            address: if attempt.address.is_empty() {
                ui.settings.last_server.clone()
            } else {
                attempt.address.clone()
            },
            name: attempt.name.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ui() -> Ui {
        Ui::new(Settings::default())
    }

    fn join(ui: &mut Ui, address: &str, name: &str) {
        match ui.screen_mut() {
            Screen::Join(f) => {
                f.address = address.into();
                f.name = name.into();
            }
            other => panic!("not on the join screen: {other:?}"),
        }
    }

    #[test]
    fn menu_join_connecting_error_retry_back() {
        let mut ui = ui();
        assert_eq!(ui.screen(), &Screen::MainMenu);
        assert!(ui.handle(UiEvent::OpenJoin).is_empty());
        join(&mut ui, "127.0.0.1", "alice");
        let cmds = ui.handle(UiEvent::Submit);
        let attempt = Attempt {
            address: "127.0.0.1:35000".into(),
            name: "alice".into(),
            host: None,
        };
        assert_eq!(
            cmds,
            vec![Command::SaveSettings, Command::Connect(attempt.clone())]
        );
        assert_eq!(ui.settings.name, "alice");
        assert_eq!(ui.settings.last_server, "127.0.0.1");
        assert!(ui
            .handle(UiEvent::Net(
                ConnectionState::GettingData(0.5),
                String::new()
            ))
            .is_empty());
        assert_eq!(
            ui.screen(),
            &Screen::Connecting {
                attempt: attempt.clone(),
                progress: Some(0.5)
            }
        );
        let cmds = ui.handle(UiEvent::Net(
            ConnectionState::Refused,
            "Connection refused (os error 111)".into(),
        ));
        assert_eq!(cmds, vec![Command::Disconnect]);
        assert!(matches!(
            ui.screen(),
            Screen::Failed { failure, .. } if failure.state == ConnectionState::Refused
        ));
        // Retry connects again with the same attempt.
        assert_eq!(
            ui.handle(UiEvent::Retry),
            vec![Command::Connect(attempt.clone())]
        );
        ui.handle(UiEvent::Net(ConnectionState::Timeout, String::new()));
        // Back returns to the join form with the values typed.
        assert!(ui.handle(UiEvent::Back).is_empty());
        assert_eq!(
            ui.screen(),
            &Screen::Join(JoinForm {
                address: "127.0.0.1:35000".into(),
                name: "alice".into()
            })
        );
        ui.handle(UiEvent::Back);
        assert_eq!(ui.screen(), &Screen::MainMenu);
    }

    #[test]
    fn invalid_fields_block_submit_and_show_errors() {
        let mut ui = ui();
        ui.handle(UiEvent::OpenJoin);
        join(&mut ui, "host:99999", "bad name!");
        assert!(ui.handle(UiEvent::Submit).is_empty());
        assert!(ui.show_errors);
        match ui.screen() {
            Screen::Join(f) => {
                assert_eq!(f.address_error(), Some(FieldError::PortBad));
                assert_eq!(f.name_error(), Some(FieldError::NameBadChar(' ')));
            }
            s => panic!("{s:?}"),
        }
        join(&mut ui, "", "");
        match ui.screen() {
            Screen::Join(f) => {
                assert_eq!(f.address_error(), Some(FieldError::AddressEmpty));
                assert_eq!(f.name_error(), Some(FieldError::NameEmpty));
            }
            s => panic!("{s:?}"),
        }
    }

    #[test]
    fn joined_play_pause_options_disconnect() {
        let mut ui = ui();
        ui.handle(UiEvent::OpenHost);
        let cmds = ui.handle(UiEvent::Submit);
        assert!(matches!(&cmds[1], Command::Connect(a) if a.host.is_some()));
        ui.handle(UiEvent::Net(ConnectionState::Success, String::new()));
        ui.handle(UiEvent::Joined);
        assert_eq!(ui.screen(), &Screen::Playing);
        assert!(ui.in_game());
        ui.handle(UiEvent::Escape);
        assert_eq!(ui.screen(), &Screen::Paused);
        ui.handle(UiEvent::OpenOptions);
        assert_eq!(ui.screen(), &Screen::Options(OptionsFrom::Pause));
        assert_eq!(ui.handle(UiEvent::Back), vec![Command::SaveSettings]);
        assert_eq!(ui.screen(), &Screen::Paused);
        ui.handle(UiEvent::Resume);
        assert_eq!(ui.screen(), &Screen::Playing);
        ui.handle(UiEvent::Escape);
        assert_eq!(ui.handle(UiEvent::Disconnect), vec![Command::Disconnect]);
        assert_eq!(ui.screen(), &Screen::MainMenu);
        assert_eq!(
            ui.handle(UiEvent::Quit),
            vec![Command::Disconnect, Command::Exit]
        );
        assert_eq!(ui.screen(), &Screen::Quit);
    }

    #[test]
    fn losing_the_server_in_play_offers_retry_and_back_to_the_host_form() {
        let (mut ui, cmds) = Ui::connecting(
            Settings::default(),
            Attempt {
                address: String::new(),
                name: "bob".into(),
                host: Some(HostSettings::default()),
            },
        );
        assert!(matches!(&cmds[..], [Command::Connect(_)]));
        ui.handle(UiEvent::Joined);
        ui.handle(UiEvent::Net(ConnectionState::Timeout, "no data".into()));
        assert!(matches!(ui.screen(), Screen::Failed { .. }));
        assert!(matches!(&ui.handle(UiEvent::Retry)[..], [Command::Connect(a)] if a.name == "bob"));
        ui.handle(UiEvent::Cancel);
        assert!(matches!(ui.screen(), Screen::Host(f) if f.name == "bob"));
    }

    #[test]
    fn a_taken_name_offers_no_retry_and_a_lost_game_says_so() {
        let mut ui = ui();
        ui.handle(UiEvent::OpenJoin);
        join(&mut ui, "127.0.0.1", "alice");
        ui.handle(UiEvent::Submit);
        ui.handle(UiEvent::Net(ConnectionState::NameTaken, String::new()));
        assert!(matches!(
            ui.screen(),
            Screen::Failed { failure, in_play: false, .. } if !can_retry(&failure.state)
        ));
        // Retry (Enter) cannot repeat an attempt that cannot succeed.
        assert!(ui.handle(UiEvent::Retry).is_empty());
        assert!(matches!(ui.screen(), Screen::Failed { .. }));
        ui.handle(UiEvent::Back);
        assert!(matches!(ui.screen(), Screen::Join(f) if f.name == "alice"));
        // In play, a lost server is not "could not play".
        ui.handle(UiEvent::Submit);
        ui.handle(UiEvent::Joined);
        ui.handle(UiEvent::Net(ConnectionState::Disconnected, String::new()));
        assert!(matches!(
            ui.screen(),
            Screen::Failed { failure, in_play: true, .. } if can_retry(&failure.state)
        ));
    }

    #[test]
    fn credits_open_from_the_main_menu_and_go_back() {
        let mut ui = ui();
        assert!(ui.handle(UiEvent::OpenCredits).is_empty());
        assert_eq!(ui.screen(), &Screen::Credits);
        ui.handle(UiEvent::Escape);
        assert_eq!(ui.screen(), &Screen::MainMenu);
        ui.handle(UiEvent::OpenCredits);
        ui.handle(UiEvent::Back);
        assert_eq!(ui.screen(), &Screen::MainMenu);
    }

    #[test]
    fn stray_events_change_nothing() {
        let mut ui = ui();
        for e in [
            UiEvent::Retry,
            UiEvent::Resume,
            UiEvent::Joined,
            UiEvent::Cancel,
            UiEvent::Net(ConnectionState::Refused, String::new()),
        ] {
            assert!(ui.handle(e).is_empty());
            assert_eq!(ui.screen(), &Screen::MainMenu);
        }
    }
}
