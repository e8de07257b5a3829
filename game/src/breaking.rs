//! The rules of breaking tiles with the shovel.
//!
//! Kept apart from the tick so that the server can refuse a request up front and the client can
//! predict how long a break takes. Breaking takes `resistance / strength` seconds of holding the
//! action on the same tile, rounded up to whole ticks: cobblestone 10/16 s = 12.5 → 13 ticks,
//! firestone 25/16 s = 31.25 → 32 ticks.

use thiserror::Error;

use crate::coords::{tile_center_px, TICK_RATE, TILE_SIZE};
use crate::map::Map;
use crate::movement::MoveState;
use crate::tile::Tile;

pub use crate::spec::SHOVEL_STRENGTH;

/// How far a player reaches, in tiles, from its centre to the target tile's centre.
pub const REACH_TILES: i32 = crate::spec::BREAK_REACH_TILES;

/// Why a tile cannot be broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BreakError {
    /// No such player.
    #[error("no such player")]
    UnknownPlayer,
    /// Dead players cannot break tiles.
    #[error("the player is dead")]
    Dead,
    /// Only the shovel breaks tiles.
    #[error("only the shovel breaks tiles")]
    WrongItem,
    /// The target is outside the map.
    #[error("tile ({x}, {y}) is outside the map")]
    OutOfMap {
        /// Column.
        x: u16,
        /// Row.
        y: u16,
    },
    /// The target cannot be broken.
    #[error("{} cannot be broken", .0.label())]
    NotBreakable(Tile),
    /// The target is further than the reach.
    #[error("tile ({x}, {y}) is out of reach")]
    OutOfReach {
        /// Column.
        x: u16,
        /// Row.
        y: u16,
    },
}

/// Ticks of holding needed to break `tile` with the shovel, or `None` if it is unbreakable.
pub fn break_ticks(tile: Tile) -> Option<u32> {
    let a = tile.attrs();
    a.breakable.then(|| {
        (u32::from(a.resistance) * TICK_RATE)
            .div_ceil(SHOVEL_STRENGTH)
            .max(1)
    })
}

/// Whether tile (`x`, `y`)'s centre is within reach of a body centred at `pos`.
pub fn in_reach(map: &Map, pos: &MoveState, x: u16, y: u16) -> bool {
    let (cx, cy) = tile_center_px(map.width(), map.height(), x, y);
    let dx = i64::from(cx) * 256 - i64::from(pos.x);
    let dy = i64::from(cy) * 256 - i64::from(pos.y);
    let r = i64::from(REACH_TILES * TILE_SIZE) * 256;
    dx * dx + dy * dy <= r * r
}

/// Checks that a body at `pos` can break tile (`x`, `y`); returns the ticks it takes.
pub fn check_break(map: &Map, pos: &MoveState, x: u16, y: u16) -> Result<u32, BreakError> {
    let tile = map.get(x, y).ok_or(BreakError::OutOfMap { x, y })?;
    let ticks = break_ticks(tile).ok_or(BreakError::NotBreakable(tile))?;
    if in_reach(map, pos, x, y) {
        Ok(ticks)
    } else {
        Err(BreakError::OutOfReach { x, y })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn break_times() {
        assert_eq!(break_ticks(Tile::Cobblestone), Some(13));
        assert_eq!(break_ticks(Tile::Firestone), Some(32));
        assert_eq!(break_ticks(Tile::Grass), None);
        assert_eq!(break_ticks(Tile::Lava), None);
    }

    #[test]
    fn reach_and_refusals() {
        let mut map = Map::new(16, 16, Tile::Cobblestone).unwrap();
        map.set(8, 8, Tile::Grass).unwrap();
        let at_origin = MoveState::default();
        // Tile (8, 8) has its centre at (16, 16) px: in reach but not breakable.
        assert_eq!(
            check_break(&map, &at_origin, 8, 8),
            Err(BreakError::NotBreakable(Tile::Grass))
        );
        // (10, 8): centre (80, 16) px, distance ≈ 81.6 px ≤ 96.
        assert_eq!(check_break(&map, &at_origin, 10, 8), Ok(13));
        // (11, 8): centre (112, 16): out of reach.
        assert_eq!(
            check_break(&map, &at_origin, 11, 8),
            Err(BreakError::OutOfReach { x: 11, y: 8 })
        );
        // (10, 10): centre (80, 80): 113 px away, out of reach.
        assert!(!in_reach(&map, &at_origin, 10, 10));
        assert_eq!(
            check_break(&map, &at_origin, 16, 0),
            Err(BreakError::OutOfMap { x: 16, y: 0 })
        );
    }
}
