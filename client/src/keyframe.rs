//! Keyframes: the managers' whole state, serialized, so a replay viewer can seek.
//!
//! The recorder stores one every N ticks (default 1,200 = one minute at 20 ticks/s). The format
//! is JSON of [`Keyframe`] (then zlib-compressed by the replay container): the map as its two
//! run-length layers, and every player as the server last described it. Restoring a keyframe
//! gives managers whose state hashes equal the recorded ones, which the replay tests check.

use serde::{Deserialize, Serialize};
use tilegame_game::{Map, Theme};

use crate::managers::{PlayerManager, RemotePlayer, WorldManager};
use crate::play::PlayState;

/// The serialized state of both managers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keyframe {
    /// Server tick of the state.
    pub tick: u32,
    /// Map width in tiles.
    pub width: u16,
    /// Map height in tiles.
    pub height: u16,
    /// World seed.
    pub seed: String,
    /// Theme id.
    pub theme: u8,
    /// Tile layer, run-length encoded.
    pub tiles: Vec<u8>,
    /// Dynatile layer, run-length encoded.
    pub dynatiles: Vec<u8>,
    /// Tick of the latest snapshot the player manager applied.
    pub players_tick: u32,
    /// The local player's id.
    pub local_id: Option<u32>,
    /// Last acknowledged input.
    pub ack_seq: u32,
    /// Players in id order.
    pub players: Vec<RemotePlayer>,
}

/// Why a keyframe could not be restored.
#[derive(Debug, thiserror::Error)]
pub enum KeyframeError {
    /// Not valid keyframe JSON.
    #[error("keyframe is not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// The map inside is invalid.
    #[error("keyframe map is invalid: {0}")]
    Map(String),
    /// There was no map to save.
    #[error("no map has been received yet")]
    NoMap,
}

impl Keyframe {
    /// Captures the managers' state.
    pub fn capture(play: &PlayState) -> Result<Keyframe, KeyframeError> {
        let map = play.world.map().ok_or(KeyframeError::NoMap)?;
        let rle = map.to_rle();
        Ok(Keyframe {
            tick: play.world.tick(),
            width: map.width(),
            height: map.height(),
            seed: play.world.seed().to_owned(),
            theme: play.world.theme().unwrap_or(Theme::Default).id(),
            tiles: rle.tiles,
            dynatiles: rle.dynatiles,
            players_tick: play.players.tick(),
            local_id: play.players.local_id(),
            ack_seq: play.players.ack_seq(),
            players: play.players.iter().cloned().collect(),
        })
    }

    /// Serializes to bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Keyframe, KeyframeError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// Rebuilds managers from the keyframe.
    pub fn restore(&self) -> Result<PlayState, KeyframeError> {
        let map = Map::from_rle(self.width, self.height, &self.tiles, &self.dynatiles)
            .map_err(|e| KeyframeError::Map(e.to_string()))?;
        let theme = Theme::from_u8(self.theme)
            .ok_or_else(|| KeyframeError::Map(format!("unknown theme {}", self.theme)))?;
        let mut world = WorldManager::new();
        world.load(map, &self.seed, theme, self.tick);
        let players = PlayerManager::restore(
            self.players.clone(),
            self.local_id,
            self.players_tick,
            self.ack_seq,
        );
        Ok(PlayState::from_managers(world, players))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restored_keyframe_hashes_the_same() {
        let mut play = PlayState::new();
        let map =
            tilegame_game::generate("kf", Theme::Hell, tilegame_game::MapSize::Small).unwrap();
        play.world.load(map, "kf", Theme::Hell, 7);
        play.players.set_local(3, "me", (10, -4));
        play.players.add_listed(9, "other");
        let k = Keyframe::capture(&play).unwrap();
        let back = Keyframe::from_bytes(&k.to_bytes())
            .unwrap()
            .restore()
            .unwrap();
        assert_eq!(back.state_hash(), play.state_hash());
    }
}
