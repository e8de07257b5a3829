//! Playing on this computer: the embedded server behind the `host` feature.
//!
//! Native builds host a full `tilegame-server` on 127.0.0.1 for "Play on this computer" and
//! `--host`. Builds without the feature (the web page, tools that only need the client's
//! managers) link no server and no server runtime: [`start`] then says hosting is not available,
//! and the player joins a server instead.

use crate::ui::settings::HostSettings;

/// Players a hosted server admits.
pub const HOSTED_MAX_PLAYERS: u32 = 64;

/// A server hosted by this client (stopped, kicking everyone, when dropped).
#[cfg(feature = "host")]
pub struct Hosted(tilegame_server::ServerHandle);

/// A server hosted by this client: none can exist in a build without the `host` feature.
#[cfg(not(feature = "host"))]
pub enum Hosted {}

impl Hosted {
    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        #[cfg(feature = "host")]
        {
            self.0.addr()
        }
        #[cfg(not(feature = "host"))]
        match *self {}
    }
}

/// Starts a server on 127.0.0.1 (an ephemeral port) with the host screen's settings.
#[cfg(feature = "host")]
pub fn start(h: &HostSettings) -> Result<Hosted, String> {
    use tilegame_server::config::ThemeName;
    let theme = match h.theme.as_str() {
        "hell" => ThemeName::Hell,
        "islands" => ThemeName::Islands,
        "hell_islands" => ThemeName::HellIslands,
        _ => ThemeName::Default,
    };
    let config = tilegame_server::ServerConfig {
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        seed: h.seed.clone(),
        size: h.size.clone(),
        theme,
        max_players: HOSTED_MAX_PLAYERS,
        exit_when_empty_secs: Some(5),
        ..tilegame_server::ServerConfig::default()
    };
    tilegame_server::ServerHandle::start(config)
        .map(Hosted)
        .map_err(|e| e.to_string())
}

/// Hosting needs the `host` feature; this build joins servers only.
#[cfg(not(feature = "host"))]
pub fn start(_: &HostSettings) -> Result<Hosted, String> {
    Err("this build of tilegame cannot host a server: join one instead".into())
}
