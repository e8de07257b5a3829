//! The page: the browser build's entry point and its few browser-only services.
//!
//! Why it exists: everything else (managers, prediction, egui screens, translations, renderer)
//! is the native client's; this module only starts it on the page's canvas
//! ([`crate::render::window::spawn_window`]), keeps settings in `localStorage` ([`storage`]),
//! and reports errors on the page. Hosting a server is not offered (no `host` feature), and
//! the Join form starts on the server the page came from.

pub mod query;
pub mod recording;
pub mod storage;

use crate::app::{AppOptions, ClientApp};
use crate::render::WindowOptions;

/// The page's element that shows start-up errors (hidden until one happens).
pub const ERROR_ID: &str = "tilegame-error";

/// Starts the game on the page (called once by the bundle's start function).
pub fn start() {
    // The game lives as long as the page: the browser's event loop owns it from here.
    let app: &'static mut ClientApp = Box::leak(Box::new(new_app()));
    if let Err(e) = crate::render::window::spawn_window(app, WindowOptions::default()) {
        show_error(&e.to_string());
    }
}

/// The game as the page starts it (the page's query says where), for a host that wraps it in
/// a frame source of its own (the page's replay viewer, web/). Installs the panic hook.
pub fn new_app() -> ClientApp {
    console_error_panic_hook::set_once();
    let options = AppOptions {
        start: query::start(),
        ..AppOptions::default()
    };
    let (app, warning) = ClientApp::new(&options, None);
    if let Some(w) = warning {
        log(&format!("tilegame: {w}"));
    }
    app
}

/// The page's own address (`host:port`), where its server listens for WebSockets too.
pub fn page_host() -> Option<String> {
    web_sys::window()?
        .location()
        .host()
        .ok()
        .filter(|h| !h.is_empty())
}

/// Writes a line to the browser's console.
pub fn log(text: &str) {
    web_sys::console::log_1(&text.into());
}

/// Shows an error on the page (and in the console).
pub fn show_error(text: &str) {
    web_sys::console::error_1(&text.into());
    let element = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(ERROR_ID));
    if let Some(e) = element {
        e.set_text_content(Some(text));
        let _ = e.remove_attribute("hidden");
    }
}

/// Marks the page once the first frame is on screen (tests and the load-time figure read it):
/// `data-tilegame="running"` on `<html>`, and `data-first-frame-ms`, the milliseconds since
/// the page's navigation started.
pub fn first_frame() {
    let Some(w) = web_sys::window() else { return };
    let ms = w.performance().map_or(0.0, |p| p.now());
    if let Some(root) = w.document().and_then(|d| d.document_element()) {
        let _ = root.set_attribute("data-first-frame-ms", &format!("{ms:.0}"));
        let _ = root.set_attribute("data-tilegame", "running");
    }
}

/// Publishes the number of Snapshots this connection has received as `data-snapshots` on
/// `<html>` (the browser test reads the rate from it).
pub fn count_snapshots(total: u64) {
    let root = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element());
    if let Some(root) = root {
        let _ = root.set_attribute("data-snapshots", &total.to_string());
    }
}

/// Publishes the connection's latest state on `<html>`, where scripts and the browser test can
/// read why a join failed: `data-net-state` (the state's short name, e.g. "version mismatch")
/// and `data-net-detail` (the cause, e.g. the refusal and both protocol hashes).
pub fn net_status(state: &crate::net::ConnectionState, detail: &str) {
    let root = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element());
    if let Some(root) = root {
        let _ = root.set_attribute("data-net-state", state.name());
        let _ = root.set_attribute("data-net-detail", detail);
    }
}

/// Marks the first frame that draws the game's map (once; the load-time figure reads it):
/// `data-first-map-frame-ms` on `<html>`, the milliseconds since navigation started.
pub fn map_frame() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static MARKED: AtomicBool = AtomicBool::new(false);
    if MARKED.swap(true, Ordering::Relaxed) {
        return;
    }
    let Some(w) = web_sys::window() else { return };
    let ms = w.performance().map_or(0.0, |p| p.now());
    if let Some(root) = w.document().and_then(|d| d.document_element()) {
        let _ = root.set_attribute("data-first-map-frame-ms", &format!("{ms:.0}"));
    }
}
