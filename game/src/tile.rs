//! The tile kinds and their attributes.
//!
//! Every rule that depends on what a player stands on or hits (speed, damage, breaking) reads it
//! from [`TileAttrs`]; the 3-byte packed form keeps the original game's layout of those
//! attributes so that they can be shown, compared and (later) exchanged with a legacy server.

use serde::{Deserialize, Serialize};

pub use crate::spec::Tile;

/// The number of tile kinds.
pub const TILE_COUNT: usize = Tile::ALL.len();

/// Every tile kind, in id order.
pub const ALL_TILES: [Tile; TILE_COUNT] = Tile::ALL;

/// A tile's attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TileAttrs {
    /// Column of the tile's cell in the texture atlas (0..=7).
    pub texture_x: u8,
    /// Row of the tile's cell in the texture atlas (0..=7).
    pub texture_y: u8,
    /// Resistance to breaking (0..=63); breaking takes resistance / tool strength seconds.
    pub resistance: u8,
    /// Damage dealt per period while standing on the tile (0..=127).
    pub damage: u8,
    /// Period of the damage in tenths of a second (1..=8; ignored when `damage` is 0).
    pub damage_delay_tenths: u8,
    /// Whether a shovel can break the tile.
    pub breakable: bool,
    /// Whether the tile hurts whoever stands on it.
    pub lethal: bool,
    /// The speed factor is `1 / speed_divisor` (1 = full speed, 2 = half, 3 = a third).
    pub speed_divisor: u8,
}

/// Bit widths of the packed form, most significant first.
const TEX_BITS: u32 = 3;
const RES_BITS: u32 = 6;
const DMG_BITS: u32 = 7;
const DELAY_BITS: u32 = 3;

impl TileAttrs {
    /// Packs into the original game's 3 bytes (big-endian 24-bit word).
    ///
    /// Layout, most significant bit first: texture x (3), texture y (3), resistance (6),
    /// damage (7), damage delay − 1 in tenths (3; so 0.1..=0.8 s), breakable (1), lethal (1).
    /// The speed factor is not part of the packed form. Out-of-range fields are masked.
    pub fn pack(&self) -> [u8; 3] {
        let mask = |v: u8, bits: u32| u32::from(v) & ((1 << bits) - 1);
        let mut w = mask(self.texture_x, TEX_BITS);
        w = (w << TEX_BITS) | mask(self.texture_y, TEX_BITS);
        w = (w << RES_BITS) | mask(self.resistance, RES_BITS);
        w = (w << DMG_BITS) | mask(self.damage, DMG_BITS);
        w = (w << DELAY_BITS) | mask(self.damage_delay_tenths.saturating_sub(1), DELAY_BITS);
        w = (w << 1) | u32::from(self.breakable);
        w = (w << 1) | u32::from(self.lethal);
        let [_, a, b, c] = w.to_be_bytes();
        [a, b, c]
    }

    /// Unpacks the 3-byte form; the speed factor, which it does not carry, comes back as 1.
    pub fn unpack(bytes: [u8; 3]) -> Self {
        let w = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        let field = |shift: u32, bits: u32| ((w >> shift) & ((1 << bits) - 1)) as u8;
        Self {
            texture_x: field(21, TEX_BITS),
            texture_y: field(18, TEX_BITS),
            resistance: field(12, RES_BITS),
            damage: field(5, DMG_BITS),
            damage_delay_tenths: field(2, DELAY_BITS) + 1,
            breakable: field(1, 1) == 1,
            lethal: field(0, 1) == 1,
            speed_divisor: 1,
        }
    }
}

impl Tile {
    /// Returns the tile with this id, or `None` for an unknown id.
    pub const fn from_u8(id: u8) -> Option<Tile> {
        Tile::from_tag(id)
    }

    /// Returns the tile's id.
    pub const fn id(self) -> u8 {
        self.tag()
    }

    /// Returns the tile's attributes, from the spec's tile table.
    pub const fn attrs(self) -> TileAttrs {
        TileAttrs {
            texture_x: self.texture_x(),
            texture_y: self.texture_y(),
            resistance: self.resistance(),
            damage: self.damage(),
            damage_delay_tenths: self.damage_period_tenths(),
            breakable: self.breakable(),
            lethal: self.lethal(),
            speed_divisor: self.speed_divisor(),
        }
    }

    /// Whether a shovel can break this tile.
    pub const fn is_breakable(self) -> bool {
        self.breakable()
    }

    /// Whether this tile hurts whoever stands on it.
    pub const fn is_lethal(self) -> bool {
        self.lethal()
    }

    /// Returns the tile whose packed attributes are exactly `bytes`, if any.
    pub fn from_packed(bytes: [u8; 3]) -> Option<Tile> {
        ALL_TILES.into_iter().find(|t| t.attrs().pack() == bytes)
    }

    /// A short lowercase name, for display and logs ("cobblestone stairs").
    pub fn label(self) -> String {
        let mut out = String::new();
        for (i, c) in self.name().chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push(' ');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(Tile::CobblestoneStairs.label(), "cobblestone stairs");
        assert_eq!(Tile::Lava.label(), "lava");
        assert_eq!(Tile::Cobblestone.becomes(), Tile::Dirt);
        assert_eq!(Tile::Grass.becomes(), Tile::Grass);
    }

    #[test]
    fn ids_round_trip() {
        for (i, t) in ALL_TILES.iter().enumerate() {
            assert_eq!(t.id() as usize, i);
            assert_eq!(Tile::from_u8(t.id()), Some(*t));
        }
        assert_eq!(Tile::from_u8(10), None);
        assert_eq!(Tile::from_u8(255), None);
    }

    #[test]
    fn attributes_from_the_original() {
        assert!(Tile::Cobblestone.is_breakable());
        assert_eq!(Tile::Cobblestone.attrs().resistance, 10);
        assert!(Tile::Firestone.is_breakable());
        assert_eq!(Tile::Firestone.attrs().resistance, 25);
        let lava = Tile::Lava.attrs();
        assert!(lava.lethal && !lava.breakable);
        assert_eq!((lava.damage, lava.damage_delay_tenths), (3, 5));
        assert_eq!(lava.speed_divisor, 3);
        assert_eq!(Tile::Water.attrs().speed_divisor, 2);
        for t in ALL_TILES {
            if !matches!(t, Tile::Cobblestone | Tile::Firestone) {
                assert!(!t.is_breakable(), "{t:?}");
            }
            assert_eq!(t.is_lethal(), t == Tile::Lava);
        }
    }

    #[test]
    fn packed_form_round_trips() {
        for t in ALL_TILES {
            let a = t.attrs();
            let back = TileAttrs::unpack(a.pack());
            assert_eq!(
                back,
                TileAttrs {
                    speed_divisor: 1,
                    ..a
                }
            );
            assert_eq!(Tile::from_packed(a.pack()), Some(t));
        }
        // Lava: tex (1,1), res 0, dmg 3, delay 5 → stored 4, not breakable, lethal.
        let w: u32 = (1 << 21) | (1 << 18) | (3 << 5) | (4 << 2) | 1;
        let [_, a, b, c] = w.to_be_bytes();
        assert_eq!(Tile::Lava.attrs().pack(), [a, b, c]);
        assert_eq!(Tile::from_packed([0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn texture_cells_are_distinct() {
        for a in ALL_TILES {
            for b in ALL_TILES {
                if a != b {
                    let (x, y) = (a.attrs(), b.attrs());
                    assert_ne!((x.texture_x, x.texture_y), (y.texture_x, y.texture_y));
                }
            }
        }
    }
}
