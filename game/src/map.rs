//! The tile map: a W×H grid of tiles plus the dynatile layer.
//!
//! All access is bounds-checked and returns `Option`/`Result`, because tile coordinates often
//! come from the network. The map also owns its canonical byte form for hashing and its
//! run-length form for transfer.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::coords::{subpx_to_tile, TILE_SIZE};
use crate::dynatile::DynLayer;
use crate::hash::StableHasher;
use crate::tile::Tile;

/// The largest map side, in tiles.
pub const MAX_SIDE: u16 = crate::spec::MAX_MAP_SIDE;

/// Errors from building or changing a map.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MapError {
    /// A side outside `1..=1024`.
    #[error("invalid map size {width}×{height}: each side must be 1..={MAX_SIDE} tiles")]
    InvalidSize {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
    },
    /// Tile coordinates outside the map.
    #[error("tile ({x}, {y}) is outside the map")]
    OutOfBounds {
        /// Column.
        x: u32,
        /// Row.
        y: u32,
    },
    /// A tile vector whose length is not width × height.
    #[error("expected {expected} tiles, got {got}")]
    LengthMismatch {
        /// width × height.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// A run of length zero.
    #[error("run {index} of the {layer} layer has a count of 0")]
    EmptyRun {
        /// Which layer ("tile" or "dynatile").
        layer: &'static str,
        /// The run's position in its layer.
        index: usize,
    },
    /// Runs that do not add up to width × height.
    #[error("the {layer} layer's runs cover {got} tiles, the map has {expected}")]
    RunTotal {
        /// Which layer ("tile" or "dynatile").
        layer: &'static str,
        /// width × height.
        expected: usize,
        /// What the runs add up to (stops counting past `expected`).
        got: u64,
    },
}

/// A map size preset, or a custom size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MapSize {
    /// 64 × 64 tiles.
    Small,
    /// 128 × 128 tiles.
    Medium,
    /// 192 × 192 tiles.
    Large,
    /// Any size with 1..=1024 tiles per side.
    Custom {
        /// Width in tiles.
        width: u16,
        /// Height in tiles.
        height: u16,
    },
}

impl MapSize {
    /// The size in tiles, checked to be 1..=1024 per side.
    pub fn dimensions(self) -> Result<(u16, u16), MapError> {
        let (w, h) = match self {
            MapSize::Small => (64, 64),
            MapSize::Medium => (128, 128),
            MapSize::Large => (192, 192),
            MapSize::Custom { width, height } => (width, height),
        };
        check_size(u32::from(w), u32::from(h))?;
        Ok((w, h))
    }
}

/// Checks that both sides are within 1..=1024.
fn check_size(width: u32, height: u32) -> Result<(), MapError> {
    let ok = |s: u32| (1..=u32::from(MAX_SIDE)).contains(&s);
    if ok(width) && ok(height) {
        Ok(())
    } else {
        Err(MapError::InvalidSize { width, height })
    }
}

/// A W×H tile map with its dynatile layer.
///
/// Serializable for display; not deserializable, so that its invariants (tile count =
/// width × height) hold: rebuild maps from untrusted data with [`Map::from_runs`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Map {
    width: u16,
    height: u16,
    tiles: Vec<Tile>,
    dynatiles: DynLayer,
}

impl Map {
    /// Creates a map filled with `fill`.
    pub fn new(width: u16, height: u16, fill: Tile) -> Result<Map, MapError> {
        check_size(u32::from(width), u32::from(height))?;
        let n = usize::from(width) * usize::from(height);
        Ok(Map {
            width,
            height,
            tiles: vec![fill; n],
            dynatiles: DynLayer::new(n),
        })
    }

    /// Creates a map from row-major tiles, with a clear dynatile layer.
    pub fn from_tiles(width: u16, height: u16, tiles: Vec<Tile>) -> Result<Map, MapError> {
        check_size(u32::from(width), u32::from(height))?;
        let n = usize::from(width) * usize::from(height);
        if tiles.len() != n {
            return Err(MapError::LengthMismatch {
                expected: n,
                got: tiles.len(),
            });
        }
        Ok(Map {
            width,
            height,
            tiles,
            dynatiles: DynLayer::new(n),
        })
    }

    /// Rebuilds a map from runs of (tile, count) and (changed, count) in row-major order
    /// (untrusted input: a zero count or runs that do not cover the map exactly are errors).
    pub fn from_runs(
        width: u16,
        height: u16,
        tile_runs: impl IntoIterator<Item = (Tile, u32)>,
        dyn_runs: impl IntoIterator<Item = (bool, u32)>,
    ) -> Result<Map, MapError> {
        check_size(u32::from(width), u32::from(height))?;
        let n = usize::from(width) * usize::from(height);
        let mut tiles = Vec::with_capacity(n);
        for (index, (tile, count)) in tile_runs.into_iter().enumerate() {
            let count = count as usize;
            if count == 0 {
                return Err(MapError::EmptyRun {
                    layer: "tile",
                    index,
                });
            }
            if count > n - tiles.len() {
                return Err(MapError::RunTotal {
                    layer: "tile",
                    expected: n,
                    got: (tiles.len() + count) as u64,
                });
            }
            tiles.resize(tiles.len() + count, tile);
        }
        if tiles.len() != n {
            return Err(MapError::RunTotal {
                layer: "tile",
                expected: n,
                got: tiles.len() as u64,
            });
        }
        let mut dynatiles = DynLayer::new(n);
        let mut at = 0usize;
        for (index, (changed, count)) in dyn_runs.into_iter().enumerate() {
            let count = count as usize;
            if count == 0 {
                return Err(MapError::EmptyRun {
                    layer: "dynatile",
                    index,
                });
            }
            if count > n - at {
                return Err(MapError::RunTotal {
                    layer: "dynatile",
                    expected: n,
                    got: (at + count) as u64,
                });
            }
            if changed {
                dynatiles.set_range(at, at + count, true);
            }
            at += count;
        }
        if at != n {
            return Err(MapError::RunTotal {
                layer: "dynatile",
                expected: n,
                got: at as u64,
            });
        }
        Ok(Map {
            width,
            height,
            tiles,
            dynatiles,
        })
    }

    /// The tile layer as runs of equal tiles, row-major.
    pub fn tile_runs(&self) -> impl Iterator<Item = (Tile, u32)> + '_ {
        let mut rest = self.tiles.as_slice();
        std::iter::from_fn(move || {
            let (&first, _) = rest.split_first()?;
            let len = rest.iter().position(|&t| t != first).unwrap_or(rest.len());
            rest = &rest[len..];
            Some((first, len as u32))
        })
    }

    /// The dynatile layer as runs of equal bits, row-major.
    pub fn dyn_runs(&self) -> impl Iterator<Item = (bool, u32)> + '_ {
        let n = self.dynatiles.len();
        let mut at = 0usize;
        std::iter::from_fn(move || {
            if at >= n {
                return None;
            }
            let value = self.dynatiles.get(at).unwrap_or(false);
            let end = self.dynatiles.next_change(at, value).min(n);
            let run = (value, (end - at) as u32);
            at = end;
            Some(run)
        })
    }

    /// Width in tiles.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Height in tiles.
    pub fn height(&self) -> u16 {
        self.height
    }

    /// The tiles in row-major order.
    pub fn tiles(&self) -> &[Tile] {
        &self.tiles
    }

    /// The dynatile layer.
    pub fn dynatiles(&self) -> &DynLayer {
        &self.dynatiles
    }

    /// Row-major index of tile (`x`, `y`), or `None` outside the map.
    pub fn index(&self, x: u16, y: u16) -> Option<usize> {
        (x < self.width && y < self.height)
            .then(|| usize::from(y) * usize::from(self.width) + usize::from(x))
    }

    /// The tile at (`x`, `y`), or `None` outside the map.
    pub fn get(&self, x: u16, y: u16) -> Option<Tile> {
        self.index(x, y).and_then(|i| self.tiles.get(i).copied())
    }

    /// Whether tile (`x`, `y`) has changed since generation, or `None` outside the map.
    pub fn is_dynamic(&self, x: u16, y: u16) -> Option<bool> {
        self.index(x, y).and_then(|i| self.dynatiles.get(i))
    }

    /// Sets a tile without marking it changed (used by generation); errors outside the map.
    pub fn set(&mut self, x: u16, y: u16, tile: Tile) -> Result<(), MapError> {
        let slot =
            self.index(x, y)
                .and_then(|i| self.tiles.get_mut(i))
                .ok_or(MapError::OutOfBounds {
                    x: u32::from(x),
                    y: u32::from(y),
                })?;
        *slot = tile;
        Ok(())
    }

    /// Changes a tile during play and marks it in the dynatile layer; returns the old tile.
    pub fn change(&mut self, x: u16, y: u16, tile: Tile) -> Result<Tile, MapError> {
        let i = self.index(x, y).ok_or(MapError::OutOfBounds {
            x: u32::from(x),
            y: u32::from(y),
        })?;
        let old = self.get(x, y).unwrap_or(Tile::Void);
        self.set(x, y, tile)?;
        self.dynatiles.set(i, true);
        Ok(old)
    }

    /// The tile under the sub-pixel world position (`x`, `y`), or `None` outside the map.
    pub fn tile_at_subpx(&self, x: i32, y: i32) -> Option<Tile> {
        let (tx, ty) = subpx_to_tile(self.width, self.height, x, y)?;
        self.get(tx, ty)
    }

    /// The safe spawn tiles: the (up to) four tiles around the map centre.
    pub fn spawn_tiles(&self) -> Vec<(u16, u16)> {
        let (cx, cy) = (self.width / 2, self.height / 2);
        let mut out = Vec::with_capacity(4);
        for y in [cy.saturating_sub(1), cy] {
            for x in [cx.saturating_sub(1), cx] {
                if !out.contains(&(x, y)) && self.index(x, y).is_some() {
                    out.push((x, y));
                }
            }
        }
        out
    }

    /// The map's extent in world pixels: (left, top, right, bottom), right/bottom exclusive.
    pub fn bounds_px(&self) -> (i32, i32, i32, i32) {
        let (ox, oy) = crate::coords::map_origin_px(self.width, self.height);
        (
            ox,
            oy,
            ox + i32::from(self.width) * TILE_SIZE,
            oy + i32::from(self.height) * TILE_SIZE,
        )
    }

    /// Feeds the map's canonical bytes into `h`.
    ///
    /// Canonical form: width (u16 BE), height (u16 BE), every tile id (u8) in row-major order,
    /// then the dynatile layer as its 64-bit words (u64 BE; bit `i % 64` of word `i / 64` is
    /// tile `i`, unused high bits zero).
    pub fn hash_into(&self, h: &mut StableHasher) {
        h.write_u16(self.width);
        h.write_u16(self.height);
        // Tile has repr(u8), so its ids are the bytes themselves.
        let ids: Vec<u8> = self.tiles.iter().map(|t| t.id()).collect();
        h.write_bytes(&ids);
        for &w in self.dynatiles.words() {
            h.write_u64(w);
        }
    }

    /// FNV-1a 64 of the canonical bytes (see [`Map::hash_into`]); stable across machines.
    pub fn hash(&self) -> u64 {
        let mut h = StableHasher::new();
        self.hash_into(&mut h);
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked() {
        assert_eq!(MapSize::Small.dimensions(), Ok((64, 64)));
        assert_eq!(MapSize::Large.dimensions(), Ok((192, 192)));
        assert_eq!(
            MapSize::Custom {
                width: 1024,
                height: 1
            }
            .dimensions(),
            Ok((1024, 1))
        );
        assert!(matches!(
            MapSize::Custom {
                width: 0,
                height: 5
            }
            .dimensions(),
            Err(MapError::InvalidSize { .. })
        ));
        assert!(matches!(
            Map::new(1025, 5, Tile::Grass),
            Err(MapError::InvalidSize { .. })
        ));
        assert!(matches!(
            Map::from_tiles(2, 2, vec![Tile::Grass; 3]),
            Err(MapError::LengthMismatch {
                expected: 4,
                got: 3
            })
        ));
    }

    #[test]
    fn access_is_bounds_checked() {
        let mut m = Map::new(3, 2, Tile::Grass).unwrap();
        assert_eq!(m.get(2, 1), Some(Tile::Grass));
        assert_eq!(m.get(3, 0), None);
        assert_eq!(m.get(0, 2), None);
        assert!(m.set(3, 0, Tile::Lava).is_err());
        assert_eq!(m.change(1, 1, Tile::Dirt), Ok(Tile::Grass));
        assert_eq!(m.is_dynamic(1, 1), Some(true));
        assert_eq!(m.is_dynamic(0, 0), Some(false));
        assert_eq!(m.is_dynamic(9, 9), None);
        assert_eq!(
            m.change(5, 5, Tile::Dirt),
            Err(MapError::OutOfBounds { x: 5, y: 5 })
        );
    }

    #[test]
    fn runs_round_trip_and_hash() {
        let mut m = Map::new(10, 7, Tile::Water).unwrap();
        m.set(3, 3, Tile::Lava).unwrap();
        m.change(4, 4, Tile::Dirt).unwrap();
        let back = Map::from_runs(10, 7, m.tile_runs(), m.dyn_runs()).unwrap();
        let runs = Map::from_runs(10, 7, m.tile_runs(), m.dyn_runs()).unwrap();
        assert_eq!(runs, m);
        assert!(matches!(
            Map::from_runs(10, 7, [(Tile::Grass, 0)], m.dyn_runs()),
            Err(MapError::EmptyRun { .. })
        ));
        assert!(matches!(
            Map::from_runs(10, 7, [(Tile::Grass, 69)], m.dyn_runs()),
            Err(MapError::RunTotal { got: 69, .. })
        ));
        assert!(matches!(
            Map::from_runs(10, 7, [(Tile::Grass, u32::MAX)], m.dyn_runs()),
            Err(MapError::RunTotal { .. })
        ));
        assert_eq!(back, m);
        assert_eq!(back.hash(), m.hash());
        let mut other = m.clone();
        other.change(0, 0, Tile::Water).unwrap();
        assert_ne!(other.hash(), m.hash());
        assert!(matches!(
            Map::from_runs(10, 8, m.tile_runs(), m.dyn_runs()),
            Err(MapError::RunTotal { .. })
        ));
        assert!(matches!(
            Map::from_runs(0, 8, m.tile_runs(), m.dyn_runs()),
            Err(MapError::InvalidSize { .. })
        ));
    }

    #[test]
    fn spawn_tiles_surround_the_centre() {
        let m = Map::new(64, 64, Tile::Grass).unwrap();
        assert_eq!(
            m.spawn_tiles(),
            vec![(31, 31), (32, 31), (31, 32), (32, 32)]
        );
        let m = Map::new(1, 1, Tile::Grass).unwrap();
        assert_eq!(m.spawn_tiles(), vec![(0, 0)]);
        let m = Map::new(5, 3, Tile::Grass).unwrap();
        assert_eq!(m.spawn_tiles(), vec![(1, 0), (2, 0), (1, 1), (2, 1)]);
        assert_eq!(m.tile_at_subpx(0, 0), Some(Tile::Grass));
        assert_eq!(m.bounds_px(), (-80, -48, 80, 48));
    }
}
