//! The local copy of the world map, kept in step with the server's tile changes.
//!
//! The state hash is maintained incrementally: a wrapping sum of a mix of (cell index, tile,
//! changed bit) over every cell, updated in O(1) per tile change. Equal maps give equal hashes
//! whatever the order of changes, and replay can hash every tick of an hour-long session cheaply.

use tilegame_game::{Map, Theme, Tile};
use tilegame_protocol::convert::tile_from_wire;
use tilegame_protocol::v1::{play, TileChange};

/// The map as the server has described it.
#[derive(Debug, Clone, Default)]
pub struct WorldManager {
    map: Option<Map>,
    seed: String,
    theme: Option<Theme>,
    tick: u32,
    cells_sum: u64,
    changes_applied: u64,
    changes_rejected: u64,
}

fn mix(index: usize, tile: Tile, changed: bool) -> u64 {
    // SplitMix64 finaliser over the cell's identity: independent-looking terms for the sum.
    let mut z = (index as u64) << 9 | u64::from(tile.id()) << 1 | u64::from(changed);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl WorldManager {
    /// An empty world (no map yet).
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs the map received at join.
    pub fn load(&mut self, map: Map, seed: &str, theme: Theme, tick: u32) {
        let mut sum = 0u64;
        for (i, tile) in map.tiles().iter().enumerate() {
            let changed = map.dynatiles().get(i).unwrap_or(false);
            sum = sum.wrapping_add(mix(i, *tile, changed));
        }
        self.cells_sum = sum;
        self.map = Some(map);
        seed.clone_into(&mut self.seed);
        self.theme = Some(theme);
        self.tick = tick;
    }

    /// Applies one server packet.
    pub fn apply(&mut self, packet: &play::ToClient) {
        if let play::ToClient::Snapshot(s) = packet {
            self.tick = s.tick;
            for change in &s.tiles {
                self.apply_tile(change);
            }
        }
    }

    fn apply_tile(&mut self, change: &TileChange) {
        let (Some(map), Some(tile)) = (self.map.as_mut(), Some(tile_from_wire(change.tile))) else {
            self.changes_rejected += 1;
            return;
        };
        let (x, y) = (change.pos.x, change.pos.y);
        let Some(index) = map.index(x, y) else {
            self.changes_rejected += 1;
            return;
        };
        let old = (map.get(x, y), map.is_dynamic(x, y));
        if map.change(x, y, tile).is_err() {
            self.changes_rejected += 1;
            return;
        }
        if let (Some(old_tile), Some(old_changed)) = old {
            self.cells_sum = self
                .cells_sum
                .wrapping_sub(mix(index, old_tile, old_changed))
                .wrapping_add(mix(index, tile, true));
        }
        self.changes_applied += 1;
    }

    /// The map, once received.
    pub fn map(&self) -> Option<&Map> {
        self.map.as_ref()
    }

    /// The world seed.
    pub fn seed(&self) -> &str {
        &self.seed
    }

    /// The theme, once received.
    pub fn theme(&self) -> Option<Theme> {
        self.theme
    }

    /// The latest server tick applied.
    pub fn tick(&self) -> u32 {
        self.tick
    }

    /// Tile changes applied and rejected (out of the map or unknown tile).
    pub fn change_counts(&self) -> (u64, u64) {
        (self.changes_applied, self.changes_rejected)
    }

    /// Stable hash of the map state (size, every tile and changed bit) and the tick.
    pub fn state_hash(&self) -> u64 {
        let mut h = tilegame_game::StableHasher::default();
        if let Some(m) = &self.map {
            h.write_u16(m.width());
            h.write_u16(m.height());
        }
        h.write_u64(self.cells_sum);
        h.write_u32(self.tick);
        h.finish()
    }

    /// The map part of the hash alone (without the tick), for diffs.
    pub fn map_digest(&self) -> u64 {
        self.cells_sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilegame_protocol::v1::TilePos;

    fn snapshot(tick: u32, tiles: Vec<TileChange>) -> play::ToClient {
        play::ToClient::Snapshot(play::Snapshot {
            tick,
            ack_seq: 0,
            players: vec![],
            tiles,
            gone: vec![],
        })
    }

    #[test]
    fn incremental_hash_equals_a_fresh_load() {
        let map =
            tilegame_game::generate("h", Theme::Default, tilegame_game::MapSize::Small).unwrap();
        let mut live = WorldManager::new();
        live.load(map.clone(), "h", Theme::Default, 0);
        live.apply(&snapshot(
            5,
            vec![TileChange {
                pos: TilePos { x: 3, y: 4 },
                tile: tilegame_protocol::v1::Tile::Dirt,
            }],
        ));
        let mut changed = map;
        changed.change(3, 4, Tile::Dirt).unwrap();
        let mut fresh = WorldManager::new();
        fresh.load(changed, "h", Theme::Default, 5);
        assert_eq!(live.state_hash(), fresh.state_hash());
        assert_eq!(live.change_counts(), (1, 0));
    }

    #[test]
    fn hostile_changes_are_counted_not_applied() {
        let mut w = WorldManager::new();
        w.load(
            tilegame_game::Map::new(4, 4, Tile::Grass).unwrap(),
            "",
            Theme::Default,
            0,
        );
        let before = w.map_digest();
        w.apply(&snapshot(
            1,
            vec![
                TileChange {
                    pos: TilePos { x: 40, y: 4 },
                    tile: tilegame_protocol::v1::Tile::Dirt,
                },
                TileChange {
                    pos: TilePos { x: 1, y: 400 },
                    tile: tilegame_protocol::v1::Tile::Lava,
                },
            ],
        ));
        assert_eq!(w.map_digest(), before);
        assert_eq!(w.change_counts(), (0, 2));
    }
}
