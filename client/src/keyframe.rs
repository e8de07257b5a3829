//! Keyframes: the managers' whole state, as the replay spec declares it, so a viewer can seek.
//!
//! The recorder stores one every N ticks (default 1,200 = one minute at 20 ticks/s). The format
//! is `KeyframeState` of `protocol/spec/replay.ron` (the map as runs of tiles and of dynamic
//! tiles, every player as the server last described it), read and written by generated code and
//! zlib-compressed by the replay container: a recording is fully described by the specs.
//! Restoring a keyframe gives managers whose state hashes equal the recorded ones, which the
//! replay tests check.

use tilegame_game::{DynLayer, Map, Theme, Tile};
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

/// Runs of equal tiles, row-major.
fn tile_runs(tiles: &[Tile]) -> Vec<TileRun> {
    let mut runs: Vec<TileRun> = Vec::new();
    for t in tiles {
        match runs.last_mut() {
            Some(r) if r.tile == t.id() => r.count += 1,
            _ => runs.push(TileRun {
                tile: t.id(),
                count: 1,
            }),
        }
    }
    runs
}

/// Lengths of alternating runs of the dynamic layer, starting with a static run.
fn dynamic_runs(layer: &DynLayer) -> Vec<u32> {
    let mut runs = vec![0u32];
    let mut current = false;
    for i in 0..layer.len() {
        let v = layer.get(i).unwrap_or(false);
        if v != current {
            runs.push(0);
            current = v;
        }
        if let Some(last) = runs.last_mut() {
            *last += 1;
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
            tiles: tile_runs(map.tiles()),
            dynamic: dynamic_runs(map.dynatiles()),
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
        let bad = |m: String| KeyframeError::Map(m);
        let n = usize::from(k.width) * usize::from(k.height);
        let mut tiles = Vec::with_capacity(n.min(1 << 20));
        for run in &k.tiles {
            let tile = Tile::from_u8(run.tile)
                .ok_or_else(|| bad(format!("unknown tile id {}", run.tile)))?;
            let count = run.count as usize;
            if count == 0 || tiles.len() + count > n {
                return Err(bad(format!(
                    "tile runs do not add up to {} × {}",
                    k.width, k.height
                )));
            }
            tiles.resize(tiles.len() + count, tile);
        }
        if tiles.len() != n {
            return Err(bad(format!("tile runs cover {} of {n} tiles", tiles.len())));
        }
        let mut layer = DynLayer::new(n);
        let (mut at, mut value) = (0usize, false);
        for &len in &k.dynamic {
            let end = at
                .checked_add(len as usize)
                .filter(|&e| e <= n)
                .ok_or_else(|| bad("dynamic runs exceed the map".into()))?;
            if value {
                layer.set_range(at, end, true);
            }
            at = end;
            value = !value;
        }
        if at != n {
            return Err(bad(format!("dynamic runs cover {at} of {n} tiles")));
        }
        let rle = (
            tilegame_game::encode_tiles(&tiles),
            tilegame_game::encode_dynatiles(&layer),
        );
        let map = Map::from_rle(k.width, k.height, &rle.0, &rle.1)
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
