//! The page's settings, kept as RON under one `localStorage` key.
//!
//! Why it exists: a page has no configuration folder. The value is the same RON as the native
//! `settings.ron` and is read with the same bounded parser, so a broken or oversized value is
//! reported and replaced by defaults. A first visit joins the server the page came from.

use crate::ui::settings::Settings;

/// The `localStorage` key.
pub const KEY: &str = "tilegame.settings";

fn local_storage() -> Result<web_sys::Storage, String> {
    web_sys::window()
        .ok_or("no window")?
        .local_storage()
        .map_err(|_| "localStorage is not allowed on this page".to_string())?
        .ok_or_else(|| "this browser has no localStorage".to_string())
}

/// The stored settings (defaults when none), and a warning when the stored value was unusable.
/// Without stored settings, the last server is the page's own.
pub fn load() -> (Settings, Option<String>) {
    let fresh = || {
        let mut s = Settings::default();
        if let Some(host) = super::page_host() {
            s.last_server = host;
        }
        s
    };
    let storage = match local_storage() {
        Ok(s) => s,
        Err(e) => return (fresh(), Some(format!("settings not kept: {e}"))),
    };
    match storage.get_item(KEY) {
        Ok(Some(text)) => match Settings::parse(&text) {
            Ok(s) => (s, None),
            Err(e) => (fresh(), Some(format!("settings ignored: {KEY}: {e}"))),
        },
        Ok(None) => (fresh(), None),
        Err(_) => (
            fresh(),
            Some(format!("settings ignored: {KEY} cannot be read")),
        ),
    }
}

/// Stores the settings.
pub fn save(settings: &Settings) -> Result<(), String> {
    let text = ron::ser::to_string(settings).map_err(|e| e.to_string())?;
    local_storage()?
        .set_item(KEY, &text)
        .map_err(|_| format!("{KEY} cannot be written (storage full or not allowed)"))
}
