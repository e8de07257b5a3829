//! A recording opened in the page: `tilegame-replay view`'s viewer on the canvas, with the
//! result of `verify` on the same bytes.
//!
//! Why it exists: a recording shared as a file or a link should open where the game does, with
//! no tool to build. The viewer is the replay crate's own ([`tilegame_replay::viewer`]: the
//! timeline, seek, speed, step and players list) and the check is its `verify`
//! ([`tilegame_replay::cmd::verify`]), whose report is shown on screen and published on
//! `<html>` for scripts and tests:
//!
//! - `data-replay`: `loading`, then `ok` (every recorded tick hash matched), `cut` (matched, but
//!   the file is cut short), `diverged`, `damaged` (the file cannot be read: the error names the
//!   offset) or `error` (no bytes: a refused fetch, a file too large);
//! - `data-replay-verified`: the tick hashes verified; `data-replay-ticks`: first..last tick;
//! - `data-replay-report`: `verify`'s report (as `tilegame-replay verify --no-timing` prints
//!   it), or the error; `data-replay-name`: the file or URL.
//!
//! A damaged file never panics the page: the error is shown on the canvas and in the page's
//! error box, and another file can be opened.

use tilegame_client::render::{egui, FrameSource, Hud, InputState, Overlay, Scene};
use tilegame_game::{Map, Tile};
use tilegame_replay::cmd::verify::{verify, VerifyOptions};
use tilegame_replay::cmd::{sim, Tail};
use tilegame_replay::viewer::Viewer;
use tilegame_replay::ReplayFile;

use crate::open::Arrival;

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
    /// Drawn when there is no viewer.
    placeholder: Map,
}

impl ReplayPage {
    /// Verifies and opens what arrived, and publishes the verdict.
    pub fn open(arrival: Arrival) -> ReplayPage {
        let (name, viewer, no_viewer, verdict) = match arrival {
            Err(why) => {
                let verdict = Verdict {
                    state: "error",
                    verified: 0,
                    ticks: String::new(),
                    report: why.clone(),
                };
                (String::new(), None, Some(why), verdict)
            }
            Ok(opened) => {
                let name = opened.name;
                let file = ReplayFile::from_bytes(name.clone(), opened.bytes);
                let verdict = check(&file);
                let (viewer, no_viewer) = match sim::is_simulation(&file) {
                    Ok(true) => (
                        None,
                        Some(format!(
                            "{name}: a server simulation recording; the viewer plays a player's recording"
                        )),
                    ),
                    Ok(false) => match Viewer::open(&file, 1.0, None) {
                        Ok(v) => (Some(v), None),
                        Err(e) => (None, Some(e.to_string())),
                    },
                    Err(e) => (None, Some(e.to_string())),
                };
                (name, viewer, no_viewer, verdict)
            }
        };
        publish(&name, &verdict);
        match &no_viewer {
            Some(why) => tilegame_client::web::show_error(why),
            None => hide_error(),
        }
        ReplayPage {
            name,
            viewer,
            no_viewer,
            verdict,
            placeholder: Map::new(1, 1, Tile::Void).expect("a 1x1 map is always valid"),
        }
    }

    /// Advances the viewer.
    pub fn update(&mut self, input: &InputState, dt_seconds: f32) {
        if let Some(v) = &mut self.viewer {
            v.update(input, dt_seconds);
        }
    }

    /// The viewer's timeline and chat, and the panel with the verdict.
    pub fn ui(&mut self, ctx: &egui::Context) {
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
                ui.label("Open another: the Open replay button, or drop a .tgr on the page.");
            });
    }

    /// What the viewer shows, or the reason there is nothing to play.
    pub fn scene(&self) -> Scene<'_> {
        if let Some(v) = &self.viewer {
            return v.scene();
        }
        Scene {
            map: &self.placeholder,
            camera: [0.0, 0.0],
            zoom: 1.0,
            players: Vec::new(),
            breaking: None,
            hud: Hud::default(),
            overlay: Some(Overlay::Error(
                self.no_viewer
                    .clone()
                    .unwrap_or_else(|| self.verdict.report.clone()),
            )),
        }
    }
}

/// Runs `verify` on the file as `tilegame-replay verify --no-timing` does (a server's
/// simulation recording is re-simulated).
fn check(file: &ReplayFile) -> Verdict {
    let damaged = |e: &dyn std::fmt::Display| Verdict {
        state: "damaged",
        verified: 0,
        ticks: String::new(),
        report: e.to_string(),
    };
    match sim::is_simulation(file) {
        Err(e) => return damaged(&e),
        Ok(true) => {
            let mut out = Vec::new();
            return match sim::verify(file, true, &mut out) {
                Ok(code) => Verdict {
                    state: if code == 0 { "ok" } else { "diverged" },
                    verified: 0,
                    ticks: String::new(),
                    report: String::from_utf8_lossy(&out).into_owned(),
                },
                Err(e) => damaged(&e),
            };
        }
        Ok(false) => {}
    }
    let options = VerifyOptions {
        out_dir: None,
        no_timing: true,
    };
    match verify(file, &options, false) {
        Ok(report) => Verdict {
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
        Err(e) => damaged(&e),
    }
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

/// Hides the page's error box (a good file opened after a bad one).
fn hide_error() {
    let element = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(tilegame_client::web::ERROR_ID));
    if let Some(e) = element {
        let _ = e.set_attribute("hidden", "");
    }
}
