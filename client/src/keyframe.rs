//! Keyframes: the managers' whole state, as the replay spec declares it, so a viewer can seek.
//!
//! The recorder stores one every N ticks (default 1,200 = one minute at 20 ticks/s). The format
//! is `KeyframeState` of `protocol/spec/replay.ron` (the map as runs of tiles and of dynamic
//! tiles, every player as the server last described it), read and written by generated code and
//! zlib-compressed by the replay container: a recording is fully described by the specs.
//! Restoring a keyframe gives managers whose state hashes equal the recorded ones, which the
//! replay tests check.

use tilegame_game::{Map, Theme, Tile};
use tilegame_protocol::replay_format::{KeyframePlayer, KeyframeState, TileRun};
use tilegame_protocol::wire::{decode_body, encode_body};

use crate::managers::{PlayerManager, RemotePlayer, WorldManager};
use crate::play::PlayState;

/// The managers' state, in the replay spec's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyframe(pub KeyframeState);

/// Why a keyframe could not be restored (or captured).
#[derive(Debug, thiserror::Error)]
pub enum KeyframeError {
    /// The bytes are not a `KeyframeState`.
    #[error("keyframe does not decode: {0}")]
    Decode(#[from] tilegame_protocol::DecodeError),
    /// The map inside is invalid.
    #[error("keyframe map is invalid: {0}")]
    Map(String),
    /// There was no map to save.
    #[error("no map has been received yet")]
    NoMap,
}

/// Lengths of alternating runs of the dynamic layer, starting with a static run (which may be
/// empty).
fn dynamic_runs(map: &Map) -> Vec<u32> {
    let mut runs = Vec::new();
    let mut current = false;
    for (changed, count) in map.dyn_runs() {
        if changed != current || runs.is_empty() {
            if changed && runs.is_empty() {
                runs.push(0);
            }
            runs.push(0);
            current = changed;
        }
        if let Some(last) = runs.last_mut() {
            *last += count;
        }
    }
    runs
}

impl Keyframe {
    /// Captures the managers' state.
    pub fn capture(play: &PlayState) -> Result<Keyframe, KeyframeError> {
        let map = play.world.map().ok_or(KeyframeError::NoMap)?;
        Ok(Keyframe(KeyframeState {
            tick: play.world.tick(),
            width: map.width(),
            height: map.height(),
            seed: play.world.seed().to_owned(),
            theme: play.world.theme().unwrap_or(Theme::Default).id(),
            tiles: map
                .tile_runs()
                .map(|(tile, count)| TileRun {
                    tile: tile.id(),
                    count,
                })
                .collect(),
            dynamic: dynamic_runs(map),
            players_tick: play.players.tick(),
            local_id: play.players.local_id(),
            ack_seq: play.players.ack_seq(),
            players: play
                .players
                .iter()
                .map(|p| KeyframePlayer {
                    id: p.id,
                    name: p.name.clone(),
                    color: p.color,
                    x: p.pos.0,
                    y: p.pos.1,
                    prev_x: p.prev_pos.0,
                    prev_y: p.prev_pos.1,
                    vel_x: p.vel.0,
                    vel_y: p.vel.1,
                    health: p.health,
                    placed: p.placed,
                    moved_at: p.moved_at,
                })
                .collect(),
        }))
    }

    /// The encoded `KeyframeState` (what the recorder takes; empty if a bound is broken).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        match encode_body(&self.0, "KeyframeState", &mut bytes) {
            Ok(()) => bytes,
            Err(_) => Vec::new(),
        }
    }

    /// Decodes an encoded `KeyframeState`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Keyframe, KeyframeError> {
        Ok(Keyframe(decode_body("KeyframeState", bytes)?))
    }

    /// Rebuilds managers from the keyframe (untrusted input: errors, never panics).
    pub fn restore(&self) -> Result<PlayState, KeyframeError> {
        let k = &self.0;
        let mut tiles = Vec::with_capacity(k.tiles.len());
        for run in &k.tiles {
            let tile = Tile::from_u8(run.tile)
                .ok_or_else(|| KeyframeError::Map(format!("unknown tile id {}", run.tile)))?;
            tiles.push((tile, run.count));
        }
        // The dynamic layer alternates unchanged and changed runs, starting unchanged; empty runs
        // carry nothing.
        let dynamic = k
            .dynamic
            .iter()
            .enumerate()
            .filter(|(_, &len)| len > 0)
            .map(|(i, &len)| (i % 2 == 1, len));
        let map = Map::from_runs(k.width, k.height, tiles, dynamic)
            .map_err(|e| KeyframeError::Map(e.to_string()))?;
        let theme = Theme::from_u8(k.theme)
            .ok_or_else(|| KeyframeError::Map(format!("unknown theme {}", k.theme)))?;
        let mut world = WorldManager::new();
        world.load(map, &k.seed, theme, k.tick);
        let players = k
            .players
            .iter()
            .map(|p| RemotePlayer {
                id: p.id,
                name: p.name.clone(),
                color: p.color,
                pos: (p.x, p.y),
                prev_pos: (p.prev_x, p.prev_y),
                vel: (p.vel_x, p.vel_y),
                health: p.health,
                placed: p.placed,
                moved_at: p.moved_at,
            })
            .collect();
        let players = PlayerManager::restore(players, k.local_id, k.players_tick, k.ack_seq);
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

    #[test]
    fn runs_that_do_not_cover_the_map_are_errors() {
        let mut play = PlayState::new();
        let map =
            tilegame_game::generate("kf", Theme::Default, tilegame_game::MapSize::Small).unwrap();
        play.world.load(map, "kf", Theme::Default, 7);
        let good = Keyframe::capture(&play).unwrap();
        let mut short = good.clone();
        short.0.tiles.pop();
        assert!(matches!(short.restore(), Err(KeyframeError::Map(_))));
        let mut long = good.clone();
        long.0.dynamic.push(5);
        assert!(matches!(long.restore(), Err(KeyframeError::Map(_))));
        let mut zero = good;
        zero.0.tiles[0].count = 0;
        assert!(matches!(zero.restore(), Err(KeyframeError::Map(_))));
    }
}
