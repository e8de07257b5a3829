//! Themes: how generated heights become tiles.
//!
//! A theme is a list of height bands; the same height map looks like meadows, a volcanic hell or
//! an archipelago depending on the theme. Heights come from [`crate::worldgen`] and are roughly
//! normally distributed around 0 with a standard deviation of about 950.

use serde::{Deserialize, Serialize};

use crate::tile::Tile;

/// A world theme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Theme {
    /// Meadows with lakes, hills of cobblestone and the odd lava pool.
    Default = 0,
    /// Mostly firestone, cobblestone and lava.
    Hell = 1,
    /// Mostly water with sandy, grassy islands.
    Islands = 2,
    /// A lava sea with firestone and cobblestone islands.
    HellIslands = 3,
}

/// A height band: heights below `below` (and at or above the previous band's) become `tile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Band {
    /// Exclusive upper bound of the band (`i32::MAX` for the last band).
    pub below: i32,
    /// The tile of the band.
    pub tile: Tile,
}

const fn band(below: i32, tile: Tile) -> Band {
    Band { below, tile }
}

const DEFAULT: [Band; 8] = [
    band(-1500, Tile::Water),
    band(-1000, Tile::Sand),
    band(-600, Tile::Dirt),
    band(-300, Tile::Plains),
    band(100, Tile::Grass),
    band(500, Tile::Plains),
    band(2000, Tile::Cobblestone),
    band(i32::MAX, Tile::Lava),
];

const HELL: [Band; 6] = [
    band(-1300, Tile::Lava),
    band(-700, Tile::Firestone),
    band(-400, Tile::Dirt),
    band(600, Tile::Cobblestone),
    band(1500, Tile::Firestone),
    band(i32::MAX, Tile::Lava),
];

const ISLANDS: [Band; 5] = [
    band(400, Tile::Water),
    band(700, Tile::Sand),
    band(1400, Tile::Grass),
    band(2000, Tile::Plains),
    band(i32::MAX, Tile::Cobblestone),
];

const HELL_ISLANDS: [Band; 5] = [
    band(400, Tile::Lava),
    band(700, Tile::Dirt),
    band(1400, Tile::Cobblestone),
    band(2100, Tile::Firestone),
    band(i32::MAX, Tile::CobblestoneStairs),
];

/// The most bands a theme has (world generation's band lookup is sized by it).
pub const MAX_BANDS: usize = 8;

const _: () = assert!(
    DEFAULT.len() <= MAX_BANDS
        && HELL.len() <= MAX_BANDS
        && ISLANDS.len() <= MAX_BANDS
        && HELL_ISLANDS.len() <= MAX_BANDS
);

impl Theme {
    /// Every theme, in id order.
    pub const ALL: [Theme; 4] = [
        Theme::Default,
        Theme::Hell,
        Theme::Islands,
        Theme::HellIslands,
    ];

    /// Returns the theme with this id, or `None`.
    pub const fn from_u8(id: u8) -> Option<Theme> {
        match id {
            0 => Some(Theme::Default),
            1 => Some(Theme::Hell),
            2 => Some(Theme::Islands),
            3 => Some(Theme::HellIslands),
            _ => None,
        }
    }

    /// The theme's id.
    pub const fn id(self) -> u8 {
        self as u8
    }

    /// The theme's display name.
    pub const fn name(self) -> &'static str {
        match self {
            Theme::Default => "Default",
            Theme::Hell => "Hell",
            Theme::Islands => "Islands",
            Theme::HellIslands => "Hell Islands",
        }
    }

    /// The theme's height bands, in increasing order; the last one is unbounded.
    pub const fn bands(self) -> &'static [Band] {
        match self {
            Theme::Default => &DEFAULT,
            Theme::Hell => &HELL,
            Theme::Islands => &ISLANDS,
            Theme::HellIslands => &HELL_ISLANDS,
        }
    }

    /// The tile for a generated height.
    pub fn tile_for_height(self, height: i32) -> Tile {
        self.bands()
            .iter()
            .find(|b| height < b.below)
            .or(self.bands().last())
            .map_or(Tile::Void, |b| b.tile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_bands_from_the_original() {
        let t = |h| Theme::Default.tile_for_height(h);
        assert_eq!(t(-1501), Tile::Water);
        assert_eq!(t(-1500), Tile::Sand);
        assert_eq!(t(-1000), Tile::Dirt);
        assert_eq!(t(-600), Tile::Plains);
        assert_eq!(t(-300), Tile::Grass);
        assert_eq!(t(99), Tile::Grass);
        assert_eq!(t(100), Tile::Plains);
        assert_eq!(t(500), Tile::Cobblestone);
        assert_eq!(t(1999), Tile::Cobblestone);
        assert_eq!(t(2000), Tile::Lava);
        assert_eq!(t(i32::MAX), Tile::Lava);
        assert_eq!(t(i32::MIN), Tile::Water);
    }

    #[test]
    fn bands_are_increasing_and_ids_round_trip() {
        for th in Theme::ALL {
            assert_eq!(Theme::from_u8(th.id()), Some(th));
            let b = th.bands();
            assert!(b.windows(2).all(|w| w[0].below < w[1].below));
            assert_eq!(b.last().map(|b| b.below), Some(i32::MAX));
        }
        assert_eq!(Theme::from_u8(4), None);
    }
}
