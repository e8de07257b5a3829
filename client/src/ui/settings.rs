//! The player's settings (language, name, last server, options), kept as RON in the user's
//! configuration folder.
//!
//! Why it exists: a player should not retype their name and server every time, and options
//! should stick. The folder is `--config-dir`, else `$TILEGAME_CONFIG_DIR`, else the platform's
//! config folder (`~/.config/tilegame` on Linux), so tests never touch the real home. A missing
//! file means defaults; an unreadable, oversized or malformed file is reported and ignored.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The environment variable that overrides the settings folder.
pub const CONFIG_DIR_ENV: &str = "TILEGAME_CONFIG_DIR";
/// The settings file's name inside the folder.
pub const FILE_NAME: &str = "settings.ron";
/// Larger settings files are refused (a real one is a few hundred bytes).
pub const MAX_FILE_BYTES: u64 = 64 * 1024;
/// The FPS limits offered in Options (0 = unlimited).
pub const FPS_LIMITS: [u32; 5] = [0, 30, 60, 120, 144];

/// What the host screen remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostSettings {
    /// World seed (empty: random).
    pub seed: String,
    /// `small`, `medium` or `large`.
    pub size: String,
    /// `default`, `hell`, `islands` or `hell_islands`.
    pub theme: String,
}

impl Default for HostSettings {
    fn default() -> Self {
        HostSettings {
            seed: String::new(),
            size: "medium".into(),
            theme: "default".into(),
        }
    }
}

/// Everything remembered between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Language code (`en`, `fr`, …); `None`: follow the system.
    pub language: Option<String>,
    /// Player name last used.
    pub name: String,
    /// Server address last joined.
    pub last_server: String,
    /// Frames per second at most (0 = unlimited).
    pub fps_limit: u32,
    /// Show the frame rate in a corner.
    pub show_fps: bool,
    /// Wait for the display's refresh (Fifo) instead of presenting at once.
    pub vsync: bool,
    /// Borderless fullscreen.
    pub fullscreen: bool,
    /// Show coordinates, tick, ping and byte rates.
    pub debug_info: bool,
    /// The host screen's last values.
    pub host: HostSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            language: None,
            name: "player".into(),
            last_server: format!("127.0.0.1:{}", super::address::DEFAULT_PORT),
            fps_limit: 0,
            show_fps: true,
            vsync: true,
            fullscreen: false,
            debug_info: false,
            host: HostSettings::default(),
        }
    }
}

/// Why settings could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("{path}: {size} bytes is too large for a settings file (at most {MAX_FILE_BYTES})")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// The file is not valid settings RON.
    #[error("{path}: {detail}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message with the position.
        detail: String,
    },
    /// No configuration folder could be found.
    #[error("no configuration folder: set {CONFIG_DIR_ENV} or pass --config-dir")]
    NoConfigDir,
}

/// The settings folder: `explicit`, else [`CONFIG_DIR_ENV`], else the platform's config folder.
pub fn config_dir(explicit: Option<&Path>) -> Result<PathBuf, SettingsError> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    if let Some(p) = std::env::var_os(CONFIG_DIR_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    // The page keeps its settings in localStorage (crate::settings_store), not in a folder.
    #[cfg(target_arch = "wasm32")]
    return Err(SettingsError::NoConfigDir);
    #[cfg(not(target_arch = "wasm32"))]
    directories::ProjectDirs::from("", "", "tilegame")
        .map(|d| d.config_dir().to_owned())
        .ok_or(SettingsError::NoConfigDir)
}

impl Settings {
    /// Reads `dir/settings.ron`; a missing file gives the defaults.
    pub fn load(dir: &Path) -> Result<Settings, SettingsError> {
        let path = dir.join(FILE_NAME);
        let io = |source| SettingsError::Io {
            path: path.clone(),
            source,
        };
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => return Err(io(e)),
        };
        if meta.len() > MAX_FILE_BYTES {
            return Err(SettingsError::TooLarge {
                path,
                size: meta.len(),
            });
        }
        let text = std::fs::read_to_string(&path).map_err(io)?;
        Self::parse(&text).map_err(|detail| SettingsError::Parse { path, detail })
    }

    /// Parses settings RON (unknown fields are ignored, so older clients read newer files; missing ones take defaults).
    pub fn parse(text: &str) -> Result<Settings, String> {
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(format!("{} bytes is too large", text.len()));
        }
        ron::from_str(text).map_err(|e| e.to_string())
    }

    /// Writes `dir/settings.ron` (creating the folder), atomically through a temporary file.
    pub fn save(&self, dir: &Path) -> Result<(), SettingsError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| SettingsError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let text =
            ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default()).map_err(|e| {
                SettingsError::Parse {
                    path: dir.join(FILE_NAME),
                    detail: e.to_string(),
                }
            })?;
        let tmp = dir.join(format!("{FILE_NAME}.tmp"));
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        let path = dir.join(FILE_NAME);
        std::fs::rename(&tmp, &path).map_err(io(&path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("tilegame-settings-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn missing_file_gives_defaults_and_saved_settings_load_back() {
        let dir = temp_dir("roundtrip");
        assert_eq!(Settings::load(&dir).unwrap(), Settings::default());
        let s = Settings {
            language: Some("ja".into()),
            name: "alice".into(),
            last_server: "example.org:4000".into(),
            fps_limit: 60,
            show_fps: true,
            vsync: false,
            fullscreen: true,
            debug_info: false,
            host: HostSettings {
                seed: "abc".into(),
                size: "large".into(),
                theme: "islands".into(),
            },
        };
        s.save(&dir).unwrap();
        assert_eq!(Settings::load(&dir).unwrap(), s);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_new_player_sees_the_frame_rate_and_no_debug_lines() {
        let s = Settings::default();
        assert!(s.show_fps, "Show FPS is on by default");
        assert!(
            !s.debug_info,
            "debug info (tick, ping, kB/min) is off by default"
        );
    }

    #[test]
    fn partial_files_fill_in_defaults() {
        let s = Settings::parse("(name: \"bob\")").unwrap();
        assert_eq!(s.name, "bob");
        assert_eq!(s.fps_limit, Settings::default().fps_limit);
    }

    #[test]
    fn hostile_files_are_errors_not_panics() {
        assert!(Settings::parse("(name: 5)").is_err());
        assert!(Settings::parse(&"[".repeat(100_000)).is_err());
        let dir = temp_dir("large");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(FILE_NAME), vec![b' '; MAX_FILE_BYTES as usize + 1]).unwrap();
        assert!(matches!(
            Settings::load(&dir),
            Err(SettingsError::TooLarge { .. })
        ));
        std::fs::write(dir.join(FILE_NAME), "(fps_limit: \"fast\")").unwrap();
        assert!(matches!(
            Settings::load(&dir),
            Err(SettingsError::Parse { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn explicit_dir_wins() {
        let p = Path::new("/tmp/x");
        assert_eq!(config_dir(Some(p)).unwrap(), p);
    }
}
