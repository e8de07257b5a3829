//! The page player's own recording: every session is recorded into memory, and "Download
//! recording" saves it as a `.tgr` file that native `tilegame-replay verify` checks.
//!
//! Why it exists: a browser has no files to record into and no threads to flush from, so the
//! page records each session into memory ([`crate::net::recorder::create_in_memory`]), flushes
//! it on its own frame clock ([`frame`]), and hands the bytes to the browser as a Blob saved
//! through a temporary `<a download>`. The button shows on the pause menu while playing, and on
//! the menus after a session (the recording is then finished, with its End record). The page
//! also exposes `window.tilegameDownloadRecording()` (the button's action; returns the bytes
//! saved) and `window.tilegameRecording()` (the bytes, as a `Uint8Array`) for tests and tools.

use std::cell::RefCell;

use egui::Align2;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_time::Instant;

use crate::net::recorder::{
    self, RecordingBytes, SharedRecorder, DEFAULT_KEYFRAME_INTERVAL, MAX_MEMORY_RECORDING,
};
use crate::ui::i18n::Localizer;
use crate::ui::screens::Screen;
use tilegame_protocol::replay_file::FLUSH_INTERVAL_MS;

/// The session being (or last) recorded.
struct Current {
    recorder: SharedRecorder,
    bytes: RecordingBytes,
    name: String,
    last_flush: Instant,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// Starts recording a new session for `player_name` (the previous recording is dropped): the
/// returned recorder goes to the session like a native `--record` one.
pub fn start(player_name: &str) -> Option<SharedRecorder> {
    install_hooks();
    match recorder::create_in_memory(player_name, DEFAULT_KEYFRAME_INTERVAL, MAX_MEMORY_RECORDING) {
        Ok((recorder, bytes)) => {
            let shared = recorder.clone();
            CURRENT.with(|c| {
                *c.borrow_mut() = Some(Current {
                    recorder,
                    bytes,
                    name: player_name.to_owned(),
                    last_flush: Instant::now(),
                })
            });
            Some(shared)
        }
        Err(e) => {
            super::log(&format!("tilegame: this session is not recorded: {e}"));
            None
        }
    }
}

/// Called every UI frame: flushes the recording on the page's clock and shows the button
/// where it belongs.
pub fn frame(ctx: &egui::Context, i18n: &Localizer, screen: &Screen, in_game: bool) {
    let any = CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        let Some(cur) = c.as_mut() else {
            return false;
        };
        if cur.last_flush.elapsed().as_millis() >= u128::from(FLUSH_INTERVAL_MS) {
            cur.last_flush = Instant::now();
            cur.recorder.with(|r| r.flush());
        }
        true
    });
    let offered = matches!(screen, Screen::Paused) || (!in_game && !screen_busy(screen));
    if !any || !offered {
        return;
    }
    egui::Area::new(egui::Id::unique("web-download-recording"))
        .anchor(Align2::CENTER_TOP, [0.0, 12.0])
        .show(ctx, |ui| {
            if ui.button(i18n.text("web-download-recording")).clicked() {
                download();
            }
        });
}

/// Screens with their own controls at the bottom (forms and progress): no button there.
fn screen_busy(screen: &Screen) -> bool {
    !matches!(screen, Screen::MainMenu | Screen::Failed { .. })
}

/// The recording so far (everything gathered is written first).
pub fn bytes() -> Option<(String, Vec<u8>)> {
    CURRENT.with(|c| {
        let c = c.borrow();
        let cur = c.as_ref()?;
        cur.recorder.with(|r| r.flush());
        if let Some(e) = cur.recorder.with(|r| r.error()).flatten() {
            super::log(&format!("tilegame: the recording stopped: {e}"));
        }
        Some((cur.name.clone(), cur.bytes.snapshot()))
    })
}

/// Saves the recording so far as `tilegame-NAME-DATE.tgr`; returns the bytes saved (0 when
/// there is no recording or the browser refused).
pub fn download() -> usize {
    let Some((name, data)) = bytes() else {
        return 0;
    };
    match save(&file_name(&name), &data) {
        Ok(()) => data.len(),
        Err(e) => {
            super::show_error(&format!("cannot save the recording: {e:?}"));
            0
        }
    }
}

/// A file name from the player's name (letters and digits only) and the date.
fn file_name(player: &str) -> String {
    let safe: String = player
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
        .take(16)
        .collect();
    let date = js_sys::Date::new_0();
    format!(
        "tilegame-{}-{:04}{:02}{:02}-{:02}{:02}{:02}.tgr",
        if safe.is_empty() { "player" } else { &safe },
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    )
}

/// Hands `data` to the browser as a download named `name` (a Blob through `<a download>`).
fn save(name: &str, data: &[u8]) -> Result<(), JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let document = window.document().ok_or("no document")?;
    let parts = js_sys::Array::new();
    parts.push(&js_sys::Uint8Array::from(data));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let anchor: web_sys::HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    anchor.set_href(&url);
    anchor.set_download(name);
    anchor.set_attribute("hidden", "")?;
    let body = document.body().ok_or("no body")?;
    body.append_child(&anchor)?;
    anchor.click();
    anchor.remove();
    // The browser has the Blob's bytes once the click started the download; the URL is
    // released on the next turn of the event loop.
    let revoke = Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    window.set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 1000)?;
    Ok(())
}

/// Puts `tilegameDownloadRecording()` and `tilegameRecording()` on `window` (once).
fn install_hooks() {
    thread_local! {
        static INSTALLED: RefCell<bool> = const { RefCell::new(false) };
    }
    if INSTALLED.with(|i| i.replace(true)) {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let download = Closure::<dyn Fn() -> f64>::new(|| download() as f64).into_js_value();
    let read = Closure::<dyn Fn() -> JsValue>::new(|| match bytes() {
        Some((_, data)) => js_sys::Uint8Array::from(data.as_slice()).into(),
        None => JsValue::NULL,
    })
    .into_js_value();
    let _ = js_sys::Reflect::set(&window, &"tilegameDownloadRecording".into(), &download);
    let _ = js_sys::Reflect::set(&window, &"tilegameRecording".into(), &read);
}
