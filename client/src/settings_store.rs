//! Where the player's settings are kept: `settings.ron` in a folder natively, the page's
//! `localStorage` in the browser.
//!
//! Why it exists: the windowed game loads and saves settings the same way on both platforms;
//! only the place differs. A missing store means defaults; an unreadable or broken one is
//! reported as a warning and replaced by defaults (never a panic).

#[cfg(not(target_arch = "wasm32"))]
use std::path::{Path, PathBuf};

use crate::ui::settings::Settings;

/// The place settings are read from and written to.
#[derive(Debug, Clone)]
pub struct SettingsStore {
    /// The settings folder (`None`: none could be found; saving does nothing).
    #[cfg(not(target_arch = "wasm32"))]
    dir: Option<PathBuf>,
}

impl SettingsStore {
    /// Opens the settings folder (`explicit`, else the default, see
    /// [`crate::ui::settings::config_dir`]) and reads the settings. Returns the store, the
    /// settings, and any warning for the player.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn open(explicit: Option<&Path>) -> (SettingsStore, Settings, Option<String>) {
        let mut warning = None;
        let dir = match crate::ui::settings::config_dir(explicit) {
            Ok(d) => Some(d),
            Err(e) => {
                warning = Some(e.to_string());
                None
            }
        };
        let settings = match dir.as_deref().map(Settings::load) {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                warning = Some(format!("settings ignored: {e}"));
                Settings::default()
            }
            None => Settings::default(),
        };
        (SettingsStore { dir }, settings, warning)
    }

    /// Reads the settings from the page's `localStorage` (the folder argument is ignored).
    #[cfg(target_arch = "wasm32")]
    pub fn open(_explicit: Option<&std::path::Path>) -> (SettingsStore, Settings, Option<String>) {
        #[cfg(feature = "web")]
        {
            let (settings, warning) = crate::web::storage::load();
            (SettingsStore {}, settings, warning)
        }
        #[cfg(not(feature = "web"))]
        (SettingsStore {}, Settings::default(), None)
    }

    /// Writes the settings.
    pub fn save(&self, settings: &Settings) -> Result<(), String> {
        #[cfg(not(target_arch = "wasm32"))]
        return match &self.dir {
            Some(dir) => settings.save(dir).map_err(|e| e.to_string()),
            None => Ok(()),
        };
        #[cfg(all(target_arch = "wasm32", feature = "web"))]
        return crate::web::storage::save(settings);
        #[cfg(all(target_arch = "wasm32", not(feature = "web")))]
        {
            let _ = settings;
            Ok(())
        }
    }
}
