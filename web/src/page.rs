//! The page's frame source: the game, or a recording opened in the page.
//!
//! Why it exists: a page has one canvas and one event loop, so the replay viewer cannot open a
//! window of its own; this source hands each frame to the game until a recording is opened
//! ([`crate::open`]), then to the replay ([`crate::replay`]). Opening another recording
//! replaces the one shown; "Back to the game" closes it and hands the frames back to the game,
//! as it was left (the main menu when none was joined), without reloading the page.

use tilegame_client::app::ClientApp;
use tilegame_client::render::window::spawn_window;
use tilegame_client::render::{
    egui, FrameSource, InputState, Scene, WindowOptions, WindowSettings,
};

use crate::replay::ReplayPage;

/// The game, and the recording shown instead of it once one is opened.
struct Page {
    game: ClientApp,
    replay: Option<ReplayPage>,
}

/// Starts the page: the game on the canvas, and the ways to open a recording.
pub fn start() {
    let game = tilegame_client::web::new_app();
    crate::open::install();
    // The page lives as long as the document: the browser's event loop owns it from here.
    let page: &'static mut Page = Box::leak(Box::new(Page { game, replay: None }));
    if let Err(e) = spawn_window(page, WindowOptions::default()) {
        tilegame_client::web::show_error(&e.to_string());
    }
}

impl FrameSource for Page {
    fn update(&mut self, input: &InputState, dt_seconds: f32) {
        if let Some(opened) = crate::open::take() {
            self.replay = Some(ReplayPage::open(opened));
        }
        if crate::open::take_close() && self.replay.take().is_some() {
            crate::replay::unpublish();
        }
        match &mut self.replay {
            Some(r) => r.update(input, dt_seconds),
            None => self.game.update(input, dt_seconds),
        }
    }

    fn scene(&self) -> Scene<'_> {
        match &self.replay {
            Some(r) => r.scene(),
            None => self.game.scene(),
        }
    }

    fn should_exit(&self) -> bool {
        self.replay.is_none() && self.game.should_exit()
    }

    fn ui(&mut self, ctx: &egui::Context) {
        match &mut self.replay {
            Some(r) => r.ui(ctx),
            None => self.game.ui(ctx),
        }
    }

    fn ready(&self) -> bool {
        self.replay.is_some() || self.game.ready()
    }

    fn window_settings(&self) -> WindowSettings {
        self.game.window_settings()
    }
}
