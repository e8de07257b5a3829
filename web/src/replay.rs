//! A recording opened in the page: `tilegame-replay view`'s viewer on the canvas, with the
//! result of `verify` on the same bytes.
//!
//! Why it exists: a recording shared as a file or a link should open where the game does, with
//! no tool to build. The viewer is the replay crate's own ([`tilegame_replay::viewer`]: the
//! timeline, seek, speed, step and players list) and the check is its `verify`
//! ([`tilegame_replay::cmd::verify`]), whose report is shown on screen and published on
//! `<html>` for scripts and tests:
//!
//! - `data-replay`: `loading` (the bytes are on their way), `verifying` (they arrived; the page
//!   draws "Verifying…" before it starts, since verify holds the page's thread while it runs),
//!   then `ok` (every recorded tick hash matched), `cut` (matched, but the file is cut short),
//!   `diverged`, `damaged` (the file cannot be read: the error names the offset) or `error` (no
//!   bytes: a refused fetch, a file too large); removed when the page goes back to the game;
//! - `data-replay-verified`: the tick hashes verified; `data-replay-ticks`: first..last tick;
//! - `data-replay-report`: `verify`'s report (as `tilegame-replay verify --no-timing` prints
//!   it), or the error; `data-replay-name`: the file or URL.
//!
//! The file is inflated and decoded once: [`tilegame_replay::cmd::verify::check_keeping`]
//! verifies the records from memory and hands them to the viewer. A damaged file never panics
//! the page: the error is shown on the canvas and in the page's error box, and another file can
//! be opened. The page's "Back to the game" button closes the recording and returns to the
//! game where it was (the main menu when no game was joined), without reloading.

use tilegame_client::render::{egui, FrameSource, Hud, InputState, Overlay, Scene};
use tilegame_game::{Map, Tile};
use tilegame_replay::cmd::verify::{check_keeping, Checked, Playable, VerifyOptions};
use tilegame_replay::cmd::Tail;
use tilegame_replay::viewer::Viewer;
use tilegame_replay::{ReplayFile, ToolError};

use crate::open::{Arrival, Opened};

/// The page's button that closes the recording (`web/index.html`).
pub const CLOSE_ID: &str = "tilegame-close-replay";

/// What `verify` (or reading the file) found, as shown and published.
struct Verdict {
    /// `ok`, `cut`, `diverged`, `damaged` or `error` (see the module's documentation).
    state: &'static str,
    /// Tick hashes verified.
    verified: u64,
    /// First..last tick replayed (empty when none).
    ticks: String,
    /// The report, or the error.
    report: String,
}

/// The opened recording: its viewer (when the file could be played) and the verdict.
pub struct ReplayPage {
    name: String,
    viewer: Option<Viewer>,
    /// Why there is no viewer.
    no_viewer: Option<String>,
    verdict: Verdict,
    /// The bytes waiting for verify, and the frames drawn since they arrived: "Verifying…" is
    /// on screen once the second is being drawn (the page also updates between frames).
    waiting: Option<(Opened, u32)>,
    /// Drawn when there is no viewer.
    placeholder: Map,
}

impl ReplayPage {
    /// Takes what arrived: an error is shown at once; a file is verified and opened by
    /// [`ReplayPage::update`] once a frame saying so has been drawn.
    pub fn open(arrival: Arrival) -> ReplayPage {
        show_close_button(true);
        let mut page = ReplayPage {
            name: String::new(),
            viewer: None,
            no_viewer: None,
            verdict: Verdict {
                state: "verifying",
                verified: 0,
                ticks: String::new(),
                report: String::new(),
            },
            waiting: None,
            placeholder: Map::new(1, 1, Tile::Void).expect("a 1x1 map is always valid"),
        };
        match arrival {
            Err(why) => {
                page.verdict = Verdict {
                    state: "error",
                    verified: 0,
                    ticks: String::new(),
                    report: why.clone(),
                };
                page.no_viewer = Some(why);
                page.publish();
            }
            Ok(opened) => {
                page.name = opened.name.clone();
                publish_state("verifying", &page.name);
                hide_error();
                page.waiting = Some((opened, 0));
            }
        }
        page
    }

    /// Verifies the file and opens the viewer (the page's thread is busy meanwhile; the frame
    /// before shows "Verifying…").
    fn verify_now(&mut self, opened: Opened) {
        let file = ReplayFile::from_bytes(opened.name, opened.bytes);
        let options = VerifyOptions {
            out_dir: None,
            no_timing: true,
        };
        let (checked, playable) = check_keeping(&file, &options);
        self.verdict = verdict(checked);
        match open_viewer(&file, playable) {
            Ok(v) => self.viewer = Some(v),
            Err(why) => self.no_viewer = Some(why),
        }
        self.publish();
    }

    /// Publishes the verdict, and shows why nothing plays, if so.
    fn publish(&self) {
        publish(&self.name, &self.verdict);
        match &self.no_viewer {
            Some(why) => tilegame_client::web::show_error(why),
            None => hide_error(),
        }
    }

    /// Advances the viewer, or verifies the file once "Verifying…" has been drawn.
    pub fn update(&mut self, input: &InputState, dt_seconds: f32) {
        if let Some((opened, frames)) = self.waiting.take() {
            if frames < 2 {
                self.waiting = Some((opened, frames));
            } else {
                self.verify_now(opened);
            }
            return;
        }
        if let Some(v) = &mut self.viewer {
            v.update(input, dt_seconds);
        }
    }

    /// The viewer's timeline and chat, and the panel with the verdict.
    pub fn ui(&mut self, ctx: &egui::Context) {
        if let Some((_, frames)) = &mut self.waiting {
            *frames += 1;
        }
        if let Some(v) = &mut self.viewer {
            v.ui(ctx);
        }
        let colour = match self.verdict.state {
            "ok" => egui::Color32::from_rgb(120, 220, 120),
            "cut" => egui::Color32::from_rgb(230, 200, 90),
            _ => egui::Color32::from_rgb(240, 110, 110),
        };
        egui::Window::new("Replay")
            .anchor(egui::Align2::LEFT_TOP, [12.0, 12.0])
            .collapsible(true)
            .resizable(false)
            .default_width(440.0)
            .show(ctx, |ui| {
                ui.label(egui::RichText::new(&self.name).strong());
                ui.label(
                    egui::RichText::new(format!("verify: {}", self.verdict.state.to_uppercase()))
                        .color(colour)
                        .strong(),
                );
                ui.label(egui::RichText::new(&self.verdict.report).monospace());
                if let Some(v) = &self.viewer {
                    ui.separator();
                    ui.label(format!(
                        "{} · tick {} · {:.1} s",
                        v.player_name(),
                        v.tick(),
                        v.length_micros() as f64 / 1e6
                    ));
                    ui.label(
                        "Esc pause · 1/2 speed · . , or → ← step · Tab players · R restart · \
                         click or drag the bar to seek",
                    );
                }
                ui.label(
                    "Open another: the Open replay button, or drop a .tgr on the page. \
                     Back to the game: the button at the top right.",
                );
            });
    }

    /// What the viewer shows, or the reason there is nothing to play.
    pub fn scene(&self) -> Scene<'_> {
        if let Some(v) = &self.viewer {
            return v.scene();
        }
        let overlay = if self.waiting.is_some() {
            Overlay::Connecting {
                message: format!("Verifying {}…", self.name),
                progress: None,
            }
        } else {
            Overlay::Error(
                self.no_viewer
                    .clone()
                    .unwrap_or_else(|| self.verdict.report.clone()),
            )
        };
        Scene {
            map: &self.placeholder,
            camera: [0.0, 0.0],
            zoom: 1.0,
            players: Vec::new(),
            breaking: None,
            hud: Hud::default(),
            overlay: Some(overlay),
        }
    }
}

/// The verdict on what `verify` (as `tilegame-replay verify --no-timing`) found.
fn verdict(checked: Result<Checked, ToolError>) -> Verdict {
    match checked {
        Ok(Checked::Player(report)) => Verdict {
            state: if report.divergence.is_some() {
                "diverged"
            } else if matches!(report.tail, Tail::Cut { .. } | Tail::Unfinished { .. }) {
                "cut"
            } else {
                "ok"
            },
            verified: report.verified,
            ticks: report
                .ticks
                .map_or(String::new(), |(a, b)| format!("{a}..{b}")),
            report: report.render(),
        },
        Ok(sim @ Checked::Simulation { .. }) => Verdict {
            state: if sim.exit_code() == 0 {
                "ok"
            } else {
                "diverged"
            },
            verified: 0,
            ticks: String::new(),
            report: sim.render(),
        },
        Err(e) => Verdict {
            state: "damaged",
            verified: 0,
            ticks: String::new(),
            report: e.to_string(),
        },
    }
}

/// The viewer on the records `verify` read, or why there is none.
fn open_viewer(file: &ReplayFile, playable: Playable) -> Result<Viewer, String> {
    Viewer::from_records(file, playable?, 1.0, None).map_err(|e| e.to_string())
}

fn root() -> Option<web_sys::Element> {
    web_sys::window()?.document()?.document_element()
}

/// Publishes a state with no verdict yet (`loading`) on `<html>`.
pub fn publish_state(state: &str, name: &str) {
    if let Some(root) = root() {
        let _ = root.set_attribute("data-replay", state);
        let _ = root.set_attribute("data-replay-name", name);
    }
}

fn publish(name: &str, verdict: &Verdict) {
    if let Some(root) = root() {
        let _ = root.set_attribute("data-replay-name", name);
        let _ = root.set_attribute("data-replay-verified", &verdict.verified.to_string());
        let _ = root.set_attribute("data-replay-ticks", &verdict.ticks);
        let _ = root.set_attribute("data-replay-report", &verdict.report);
        // Last: a test waiting on it reads the others complete.
        let _ = root.set_attribute("data-replay", verdict.state);
    }
}

/// Removes what [`publish`] put on `<html>` (the page went back to the game).
pub fn unpublish() {
    if let Some(root) = root() {
        for name in [
            "data-replay",
            "data-replay-name",
            "data-replay-verified",
            "data-replay-ticks",
            "data-replay-report",
        ] {
            let _ = root.remove_attribute(name);
        }
    }
    hide_error();
    show_close_button(false);
}

/// Shows or hides the page's "Back to the game" button.
fn show_close_button(shown: bool) {
    let element = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(CLOSE_ID));
    if let Some(e) = element {
        let _ = if shown {
            e.remove_attribute("hidden")
        } else {
            e.set_attribute("hidden", "")
        };
    }
}

/// Hides the page's error box (a good file opened after a bad one).
fn hide_error() {
    let element = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(tilegame_client::web::ERROR_ID));
    if let Some(e) = element {
        let _ = e.set_attribute("hidden", "");
    }
}
