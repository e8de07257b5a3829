//! Server settings: defaults, an optional RON file, and command-line flags on top.
//!
//! Everything a host may want to change lives in [`ServerConfig`]; `--config FILE` loads a RON
//! file (unknown keys are an error naming the key), and flags given on the command line override
//! what the file says.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use tilegame_game::{MapSize, Theme};
use tilegame_protocol::v1;
use tilegame_sim::settings::LoopSettings;

/// Seconds a stopping server waits for its connections by default (`--drain-secs`).
pub const DEFAULT_DRAIN_SECS: u64 = 10;

/// Everything the server can be told.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Human-readable server name shown to clients.
    pub name: String,
    /// Player limit (1..=4096, [`tilegame_sim::settings::MAX_PLAYERS`]; beyond 1,024 the join list and snapshots spill over to the
    /// next packets).
    pub max_players: u32,
    /// Simulation ticks per second (1..=120).
    pub tps: u32,
    /// World seed; empty = random.
    pub seed: String,
    /// World theme.
    pub theme: ThemeName,
    /// Map size: `small`, `medium`, `large` or `WxH`.
    pub size: String,
    /// Seconds a new connection has to finish the handshake and login.
    pub handshake_timeout_secs: u64,
    /// Seconds a playing client may stay silent before it is dropped.
    pub idle_timeout_secs: u64,
    /// Bytes a client may have waiting to be sent (queued or being written) before it is
    /// dropped as too slow.
    pub outbox_bytes: usize,
    /// Seconds a client has to take each batch of outgoing bytes before it is dropped.
    pub write_timeout_secs: u64,
    /// Seconds a playing client's Inputs may lag behind the Snapshots it was sent (their
    /// `ack_tick`) before it is dropped as not reading (the spec's `READ_TIMEOUT_MS`).
    pub read_timeout_secs: u64,
    /// Kernel send buffer per connection in bytes (0 = the system's default, which can grow
    /// to megabytes that a non-reading client would hold).
    pub socket_send_buffer: u32,
    /// Connections that have not joined yet, at most, from one address.
    pub max_pending_per_address: u32,
    /// Connections that have not joined yet, at most, in all.
    pub max_pending: u32,
    /// Stop this many seconds after the last player leaves (`None`: run until stopped).
    pub exit_when_empty_secs: Option<u64>,
    /// Send an (empty) snapshot at least this often, in ticks, so idle clients see the clock.
    pub heartbeat_ticks: u32,
    /// Replicate only players within this many tiles of each client (0 = everyone).
    pub view_radius_tiles: u32,
    /// Write one replay file per connection into this folder.
    pub record_dir: Option<std::path::PathBuf>,
    /// Record the whole simulation (configuration, commands, tick hashes) into this file, for
    /// `tilegame-replay verify` and `derive`.
    pub record: Option<std::path::PathBuf>,
    /// Ticks between the simulation recording's keyframes (0 = none), for seeking.
    pub keyframe_interval: u32,
    /// Seconds a stopping server waits for its connections to take their Kick and close
    /// before it exits anyway.
    pub drain_secs: u64,
    /// The message every connection's `Kick(ServerShutdown)` carries when the server stops.
    pub shutdown_message: String,
    /// Serve `/metrics` (Prometheus), `/healthz` and `/readyz` on this address (`None`: off).
    pub metrics: Option<SocketAddr>,
    /// Serve the browser client and the game over WebSocket on this address too (`None`: no).
    pub web: Option<SocketAddr>,
    /// The browser client's bundle folder, served by the web listener.
    pub web_root: std::path::PathBuf,
    /// A folder of recordings the web listener serves under `/replays/` (`.tgr` files only),
    /// for the page's `?replay=URL` (`None`: not served).
    pub replays: Option<std::path::PathBuf>,
    /// A file holding the admin API's bearer token (the API is off without a token; the
    /// environment variable `TILEGAME_ADMIN_TOKEN` is read when no file is given).
    pub admin_token_file: Option<std::path::PathBuf>,
    /// Keep bans in this file (JSON), read back at start (`None`: bans last until the stop).
    pub bans: Option<std::path::PathBuf>,
    /// Nice value (-20..=19, lower runs first) the simulation's thread asks for, so the tick
    /// runs ahead of socket I/O (`None`: the process's own). Asking for a value below the
    /// process's needs `CAP_SYS_NICE` or `RLIMIT_NICE`; without them the tick keeps the
    /// process's priority.
    pub tick_nice: Option<i32>,
    /// Real-time (`SCHED_FIFO`) priority, 1-99, the simulation's thread asks for after its nice
    /// value, so the tick takes a core the moment it wakes (0: none). Needs `CAP_SYS_NICE` or
    /// `RLIMIT_RTPRIO`; the thread leaves real time if it overruns its period (see
    /// `tick_thread`).
    pub tick_realtime: u8,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([0, 0, 0, 0], v1::DEFAULT_PORT)),
            name: "tilegame server".to_owned(),
            max_players: 10,
            tps: v1::TICK_RATE,
            seed: String::new(),
            theme: ThemeName::Default,
            size: "medium".to_owned(),
            handshake_timeout_secs: u64::from(v1::HANDSHAKE_TIMEOUT_MS / 1000),
            idle_timeout_secs: u64::from(v1::IDLE_TIMEOUT_MS / 1000),
            outbox_bytes: v1::OUTBOX_BYTES as usize,
            write_timeout_secs: u64::from(v1::WRITE_TIMEOUT_MS / 1000),
            read_timeout_secs: u64::from(v1::READ_TIMEOUT_MS / 1000),
            socket_send_buffer: 64 * 1024,
            max_pending_per_address: 16,
            max_pending: 256,
            exit_when_empty_secs: None,
            heartbeat_ticks: v1::HEARTBEAT_TICKS,
            view_radius_tiles: v1::VIEW_RADIUS_TILES,
            record_dir: None,
            record: None,
            keyframe_interval: tilegame_sim::simlog::DEFAULT_KEYFRAME_EVERY,
            drain_secs: DEFAULT_DRAIN_SECS,
            shutdown_message: "the server is shutting down".to_owned(),
            metrics: None,
            web: None,
            web_root: crate::web::DEFAULT_ROOT.into(),
            replays: None,
            admin_token_file: None,
            bans: None,
            tick_nice: Some(crate::tick_thread::DEFAULT_TICK_NICE),
            tick_realtime: crate::tick_thread::DEFAULT_TICK_REALTIME,
        }
    }
}

/// Theme names as written in configs and flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ThemeName {
    /// Water, sand, grass, stone hills.
    Default,
    /// Firestone and lava.
    Hell,
    /// Islands in water.
    Islands,
    /// Islands in lava.
    HellIslands,
}

impl From<ThemeName> for Theme {
    fn from(t: ThemeName) -> Theme {
        match t {
            ThemeName::Default => Theme::Default,
            ThemeName::Hell => Theme::Hell,
            ThemeName::Islands => Theme::Islands,
            ThemeName::HellIslands => Theme::HellIslands,
        }
    }
}

/// Problems with a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid RON for this schema.
    #[error("{path}:{position}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// line:column.
        position: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range.
    #[error("invalid {key}: {message}")]
    Invalid {
        /// The setting.
        key: &'static str,
        /// Why.
        message: String,
    },
}

impl ServerConfig {
    /// Loads a RON config file (missing keys take their defaults).
    pub fn load(path: &Path) -> Result<ServerConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        ron::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            position: format!("{}:{}", e.span.start.line, e.span.start.col),
            message: e.code.to_string(),
        })
    }

    /// Checks ranges (the loop's own with [`LoopSettings::validate`], which a re-simulation
    /// applies to a recording's settings too); returns the map size to generate.
    pub fn validate(&self) -> Result<MapSize, ConfigError> {
        if self.name.len() > 64 {
            return Err(ConfigError::Invalid {
                key: "name",
                message: "at most 64 bytes".into(),
            });
        }
        if self.write_timeout_secs == 0 {
            return Err(ConfigError::Invalid {
                key: "write_timeout_secs",
                message: "must be at least 1".into(),
            });
        }
        if !(1..=3600).contains(&self.read_timeout_secs) {
            return Err(ConfigError::Invalid {
                key: "read_timeout_secs",
                message: "must be 1 to 3600".into(),
            });
        }
        if self.max_pending_per_address == 0 || self.max_pending == 0 {
            return Err(ConfigError::Invalid {
                key: "max_pending",
                message: "pending limits must be at least 1".into(),
            });
        }
        if self.shutdown_message.len() > 256 || self.shutdown_message.contains(['\n', '\r']) {
            return Err(ConfigError::Invalid {
                key: "shutdown_message",
                message: "one line of at most 256 bytes".into(),
            });
        }
        if self.tick_nice.is_some_and(|n| !(-20..=19).contains(&n)) {
            return Err(ConfigError::Invalid {
                key: "tick_nice",
                message: "a nice value from -20 to 19".into(),
            });
        }
        if self.tick_realtime > 99 {
            return Err(ConfigError::Invalid {
                key: "tick_realtime",
                message: "a real-time priority from 1 to 99, or 0 for none".into(),
            });
        }
        if self.drain_secs > 3600 {
            return Err(ConfigError::Invalid {
                key: "drain_secs",
                message: "at most 3600".into(),
            });
        }
        let size = parse_size(&self.size).map_err(|message| ConfigError::Invalid {
            key: "size",
            message,
        })?;
        LoopSettings {
            max_players: self.max_players,
            tick_rate: self.tps,
            outbox_bytes: u64::try_from(self.outbox_bytes).unwrap_or(u64::MAX),
            seed: &self.seed,
            size,
        }
        .validate()
        .map_err(|e| ConfigError::Invalid {
            key: e.key,
            message: e.message,
        })?;
        Ok(size)
    }

    /// How long a stopping server waits for its connections.
    pub fn drain(&self) -> Duration {
        Duration::from_secs(self.drain_secs)
    }

    /// The tick period.
    pub fn tick_period(&self) -> Duration {
        Duration::from_nanos(1_000_000_000 / u64::from(self.tps.max(1)))
    }
}

/// Parses `small`, `medium`, `large` or `WxH`.
pub fn parse_size(text: &str) -> Result<MapSize, String> {
    match text.to_ascii_lowercase().as_str() {
        "small" => Ok(MapSize::Small),
        "medium" => Ok(MapSize::Medium),
        "large" => Ok(MapSize::Large),
        other => {
            let (w, h) = other
                .split_once('x')
                .ok_or_else(|| format!("{text:?} is not small, medium, large or WxH"))?;
            let w: u16 = w
                .trim()
                .parse()
                .map_err(|_| format!("bad width in {text:?}"))?;
            let h: u16 = h
                .trim()
                .parse()
                .map_err(|_| format!("bad height in {text:?}"))?;
            Ok(MapSize::Custom {
                width: w,
                height: h,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("small"), Ok(MapSize::Small));
        assert_eq!(
            parse_size("100x50"),
            Ok(MapSize::Custom {
                width: 100,
                height: 50
            })
        );
        assert!(parse_size("huge").is_err());
    }

    #[test]
    fn ron_config_with_unknown_key_names_it() {
        let err = ron::from_str::<ServerConfig>("(max_player: 3)").unwrap_err();
        assert!(err.to_string().contains("max_player"), "{err}");
        let ok: ServerConfig = ron::from_str("(max_players: 3, theme: hell_islands)").unwrap();
        assert_eq!(ok.max_players, 3);
        assert_eq!(ok.theme, ThemeName::HellIslands);
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let c = ServerConfig {
            tps: 0,
            ..ServerConfig::default()
        };
        assert!(c.validate().is_err());
        let c = ServerConfig {
            size: "2000x10".into(),
            ..ServerConfig::default()
        };
        assert!(c.validate().is_err());
        let c = ServerConfig {
            tick_nice: Some(-21),
            ..ServerConfig::default()
        };
        assert!(c.validate().is_err());
        let c = ServerConfig {
            tick_realtime: 100,
            ..ServerConfig::default()
        };
        assert!(c.validate().is_err());
    }
}
