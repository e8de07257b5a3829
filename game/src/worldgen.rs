//! Seeded world generation: seed + theme + size → the same map, byte for byte, everywhere.
//!
//! Algorithm (all integer arithmetic, see [`crate::noise`] and [`crate::rng`]):
//! 1. `rng = SplitMix64(FNV-1a 64(seed bytes))`.
//! 2. For each of [`OCTAVES`] octaves `o = 0, 1, …`, in order: a [`Perlin`] field is shuffled
//!    from `rng`, then an x offset and a y offset are drawn as `rng.below(2^24)` (16.16 units,
//!    so up to 256 lattice cells; this moves the lattice points off the map centre).
//! 3. Tile `(x, y)` samples octave `o` at the tile's centre relative to the map centre:
//!    `X = ((x − w/2) · 2 + 1) · step_o / 2 + offset_x` (likewise `Y`), where
//!    `step_o = (ONE / BASE_PERIOD) << o`: the first octave's cells span [`BASE_PERIOD`] tiles.
//!    Because coordinates are relative to the centre, the same seed gives the same terrain
//!    around the spawn whatever the map size.
//! 4. `sum = Σ_o noise_o >> o` (persistence ½), `height = sum · HEIGHT_SCALE >> 16`.
//! 5. The theme maps each height to a tile ([`Theme::tile_for_height`]).
//! 6. The (up to) four tiles around the map centre become grass: a safe spawn, never breakable
//!    or lethal, whatever the theme.
//! 7. Room to move: every water, lava or void tile within [`SPAWN_LAND_RADIUS`] tiles of the
//!    centre becomes the theme's shore tile ([`shore_tile`]: sand, or cobblestone in the hell
//!    themes), so nobody spawns on a lone tile in an ocean or a lava sea. [`spawn_has_room`]
//!    checks the rule.
//!
//! Steps 3 to 5 run a row at a time ([`crate::noise::OctaveGrid`]: per-column fades, gradients
//! looked up once per lattice cell and carried down its rows), straight into tiles without a
//! whole-map height buffer; maps of [`PARALLEL_MIN_TILES`] or more split their rows between two
//! threads. Each row depends only on its index, so the output is the same for any split; a
//! test pins the hashes of the heights and maps of several seeds, sizes and every theme.

use crate::map::{Map, MapError, MapSize};
use crate::noise::{OctaveGrid, OctaveRows, Perlin, ONE};
use crate::rng::SplitMix64;
use crate::theme::{Theme, MAX_BANDS};
use crate::tile::Tile;

/// Number of noise octaves.
pub const OCTAVES: u32 = 4;
/// Tiles per lattice cell in the first (coarsest) octave.
pub const BASE_PERIOD: i64 = 48;
/// Multiplier from the 16.16 octave sum to height units.
pub const HEIGHT_SCALE: i64 = 3200;
/// The tile the spawn area is set to.
pub const SPAWN_TILE: Tile = Tile::Grass;
/// Tiles around the map centre (Euclidean distance from the centre point, in tiles) that are
/// always land: a 9-tile-wide disc on maps large enough to hold it.
pub const SPAWN_LAND_RADIUS: i32 = 4;

/// The land that replaces water, lava and void around the spawn.
pub const fn shore_tile(theme: Theme) -> Tile {
    match theme {
        Theme::Default | Theme::Islands => Tile::Sand,
        Theme::Hell | Theme::HellIslands => Tile::Cobblestone,
    }
}

/// Whether a tile is land a player can stand on without sinking, burning or falling.
pub const fn is_land(tile: Tile) -> bool {
    !matches!(tile, Tile::Water | Tile::Lava | Tile::Void)
}

/// The tiles within [`SPAWN_LAND_RADIUS`] of the map centre (the point between the four
/// spawn tiles on even sides), clipped to the map.
pub fn spawn_area(map: &Map) -> Vec<(u16, u16)> {
    let (w, h) = (i32::from(map.width()), i32::from(map.height()));
    // Centre point in half tiles: between tiles w/2 − 1 and w/2 on even sides.
    let (cx2, cy2) = (w - (1 - w % 2), h - (1 - h % 2));
    let r = SPAWN_LAND_RADIUS;
    let mut out = Vec::new();
    for y in (h / 2 - r - 1).max(0)..(h / 2 + r + 1).min(h) {
        for x in (w / 2 - r - 1).max(0)..(w / 2 + r + 1).min(w) {
            let (dx, dy) = (2 * x + 1 - cx2, 2 * y + 1 - cy2);
            if dx * dx + dy * dy <= 4 * r * r {
                out.push((x as u16, y as u16));
            }
        }
    }
    out
}

/// Whether the spawn is on land with room to move: every tile of [`spawn_area`] is land and
/// the spawn tiles themselves are [`SPAWN_TILE`].
pub fn spawn_has_room(map: &Map) -> bool {
    map.spawn_tiles()
        .iter()
        .all(|&(x, y)| map.get(x, y) == Some(SPAWN_TILE))
        && spawn_area(map)
            .iter()
            .all(|&(x, y)| map.get(x, y).is_some_and(is_land))
}

/// Maps with fewer tiles than this are generated on the calling thread alone; larger ones
/// split their rows between it and one more thread (rows are independent, so the output does
/// not depend on the split).
pub const PARALLEL_MIN_TILES: usize = 256 * 256;

/// The seed's noise octaves laid over a map's grid: turns a row index into that row's heights.
struct Heights {
    octaves: Vec<OctaveGrid>,
}

impl Heights {
    /// Steps 1 and 2 of the algorithm (and step 3's coordinates) for a `w` × `h` map.
    fn new(seed: &str, w: usize, h: usize) -> Self {
        let mut rng = SplitMix64::from_seed_str(seed);
        let octaves = (0..OCTAVES)
            .map(|o| {
                let field = Perlin::new(&mut rng);
                let off_x = rng.below(1 << 24) as i64;
                let off_y = rng.below(1 << 24) as i64;
                let step = (ONE / BASE_PERIOD) << o;
                let x0 = ((-((w / 2) as i64)) * 2 + 1) * step / 2 + off_x;
                let y0 = ((-((h / 2) as i64)) * 2 + 1) * step / 2 + off_y;
                OctaveGrid::new(field, w, x0, y0, step, o)
            })
            .collect();
        Heights { octaves }
    }

    /// Cursors over the octaves' rows, for one thread.
    fn cursors(&self) -> Vec<OctaveRows<'_>> {
        self.octaves.iter().map(OctaveGrid::rows).collect()
    }

    /// Writes row `j`'s heights (step 4) into `out`, which is one row wide.
    fn row(cursors: &mut [OctaveRows<'_>], j: usize, out: &mut [i32]) {
        out.fill(0);
        for octave in cursors {
            octave.add_row(j, out);
        }
        for v in out.iter_mut() {
            *v = ((i64::from(*v) * HEIGHT_SCALE) >> 16) as i32;
        }
    }
}

/// Calls `fill(first_row, rows)` on consecutive blocks of whole `w`-wide rows of `out` that
/// together cover it: one block, or two on two threads from [`PARALLEL_MIN_TILES`] up. Should
/// the second thread fail to start, the calling thread fills its block too.
fn for_row_blocks<T: Send>(out: &mut [T], w: usize, fill: impl Fn(usize, &mut [T]) + Sync) {
    let rows = out.len().checked_div(w).unwrap_or(0);
    if out.len() < PARALLEL_MIN_TILES || rows < 2 {
        fill(0, out);
        return;
    }
    let mid = rows / 2;
    let fill = &fill;
    let (top, bottom) = out.split_at_mut(mid * w);
    let spawned = std::thread::scope(|s| {
        let other = std::thread::Builder::new()
            .name("worldgen".into())
            .spawn_scoped(s, move || fill(mid, bottom));
        fill(0, top);
        match other {
            Ok(handle) => match handle.join() {
                Ok(()) => true,
                Err(panic) => std::panic::resume_unwind(panic),
            },
            Err(_) => false,
        }
    });
    if !spawned {
        fill(mid, &mut out[mid * w..]);
    }
}

/// The raw height of every tile, row-major, for a `width` × `height` map.
pub fn height_map(seed: &str, width: u16, height: u16) -> Result<Vec<i32>, MapError> {
    let (w, h) = MapSize::Custom { width, height }.dimensions()?;
    let (w, h) = (usize::from(w), usize::from(h));
    let heights = Heights::new(seed, w, h);
    let mut out = vec![0i32; w * h];
    for_row_blocks(&mut out, w, |first, rows| {
        let mut cursors = heights.cursors();
        for (k, row) in rows.chunks_exact_mut(w).enumerate() {
            Heights::row(&mut cursors, first + k, row);
        }
    });
    Ok(out)
}

/// Generates the map for `seed`, `theme` and `size`; errors on a side outside 1..=1024.
pub fn generate(seed: &str, theme: Theme, size: MapSize) -> Result<Map, MapError> {
    let (w, h) = size.dimensions()?;
    let (wu, hu) = (usize::from(w), usize::from(h));
    let heights = Heights::new(seed, wu, hu);
    let bands = BandLookup::new(theme);
    let mut tiles = vec![Tile::Void; wu * hu];
    for_row_blocks(&mut tiles, wu, |first, rows| {
        let mut cursors = heights.cursors();
        let mut row_heights = vec![0i32; wu];
        for (k, row) in rows.chunks_exact_mut(wu).enumerate() {
            Heights::row(&mut cursors, first + k, &mut row_heights);
            for (tile, &v) in row.iter_mut().zip(&row_heights) {
                *tile = bands.tile(v);
            }
        }
    });
    let mut map = Map::from_tiles(w, h, tiles)?;
    let shore = shore_tile(theme);
    for (x, y) in spawn_area(&map) {
        if !map.get(x, y).is_some_and(is_land) {
            map.set(x, y, shore)?;
        }
    }
    for (x, y) in map.spawn_tiles() {
        map.set(x, y, SPAWN_TILE)?;
    }
    Ok(map)
}

/// A theme's bands as a branch-free lookup that gives exactly [`Theme::tile_for_height`]:
/// the band index is the number of band bounds at or below the height.
#[derive(Debug, Clone, Copy)]
struct BandLookup {
    /// The bounds of every band but the last, padded with `i32::MAX`.
    below: [i32; MAX_BANDS - 1],
    /// The bands' tiles, padded with the last band's.
    tiles: [Tile; MAX_BANDS],
}

impl BandLookup {
    fn new(theme: Theme) -> Self {
        let bands = theme.bands();
        let last = bands.last().map_or(Tile::Void, |b| b.tile);
        let mut lookup = BandLookup {
            below: [i32::MAX; MAX_BANDS - 1],
            tiles: [last; MAX_BANDS],
        };
        let inner = bands.len().saturating_sub(1);
        for (slot, band) in lookup.below.iter_mut().zip(&bands[..inner]) {
            *slot = band.below;
        }
        for (slot, band) in lookup.tiles.iter_mut().zip(bands) {
            *slot = band.tile;
        }
        lookup
    }

    #[inline(always)]
    fn tile(&self, height: i32) -> Tile {
        let index = self.below.iter().filter(|&&b| height >= b).count();
        self.tiles[index.min(MAX_BANDS - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tile::ALL_TILES;

    const SEED: &str = "tilegameTESTseed0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL";

    fn histogram(map: &Map) -> Vec<(Tile, usize)> {
        ALL_TILES
            .iter()
            .map(|&t| (t, map.tiles().iter().filter(|&&u| u == t).count()))
            .filter(|&(_, n)| n > 0)
            .collect()
    }

    /// A one-character-per-tile picture of the map, for snapshots a person can read.
    fn picture(map: &Map) -> String {
        let mut s = String::new();
        for row in map.tiles().chunks(usize::from(map.width())) {
            for t in row {
                s.push(match t {
                    Tile::Void => ' ',
                    Tile::Grass => '"',
                    Tile::Plains => ',',
                    Tile::Dirt => '.',
                    Tile::Cobblestone => '#',
                    Tile::Sand => ':',
                    Tile::CobblestoneStairs => '=',
                    Tile::Firestone => '%',
                    Tile::Water => '~',
                    Tile::Lava => '^',
                });
            }
            s.push('\n');
        }
        s
    }

    #[test]
    fn same_seed_same_map() {
        for theme in Theme::ALL {
            let a = generate(SEED, theme, MapSize::Small).unwrap();
            let b = generate(SEED, theme, MapSize::Small).unwrap();
            assert_eq!(a, b);
            assert!(a.tile_runs().eq(b.tile_runs()));
        }
        let c = generate("other", Theme::Default, MapSize::Small).unwrap();
        assert_ne!(c, generate(SEED, Theme::Default, MapSize::Small).unwrap());
    }

    #[test]
    fn sizes_and_rejection() {
        let m = generate(
            SEED,
            Theme::Default,
            MapSize::Custom {
                width: 7,
                height: 3,
            },
        )
        .unwrap();
        assert_eq!((m.width(), m.height(), m.tiles().len()), (7, 3, 21));
        let m = generate(
            "",
            Theme::Hell,
            MapSize::Custom {
                width: 1,
                height: 1,
            },
        )
        .unwrap();
        assert_eq!(m.tiles(), &[SPAWN_TILE]);
        for (width, height) in [(0, 5), (5, 0), (1025, 5), (5, 1025)] {
            assert_eq!(
                generate(SEED, Theme::Default, MapSize::Custom { width, height }),
                Err(MapError::InvalidSize {
                    width: u32::from(width),
                    height: u32::from(height)
                })
            );
        }
    }

    #[test]
    fn spawn_is_safe_in_every_theme_and_many_seeds() {
        for i in 0..50u64 {
            let seed = crate::rng::random_seed(i);
            for theme in Theme::ALL {
                let size = MapSize::Custom {
                    width: 8 + (i as u16 % 5),
                    height: 8 + (i as u16 % 3),
                };
                let m = generate(&seed, theme, size).unwrap();
                assert!(m.spawn_tiles().len() == 4);
                for (x, y) in m.spawn_tiles() {
                    let t = m.get(x, y).unwrap();
                    assert!(!t.is_breakable() && !t.is_lethal(), "{seed} {theme:?}");
                }
                assert_eq!(m.tile_at_subpx(0, 0), Some(SPAWN_TILE));
            }
        }
    }

    #[test]
    fn centre_terrain_does_not_depend_on_map_size() {
        let small = height_map(SEED, 64, 64).unwrap();
        let large = height_map(SEED, 192, 192).unwrap();
        // Small tile (x, y) is large tile (x + 64, y + 64).
        for y in 0..64 {
            for x in 0..64 {
                assert_eq!(small[y * 64 + x], large[(y + 64) * 192 + x + 64]);
            }
        }
    }

    #[test]
    fn themes_look_like_their_names() {
        let share = |m: &Map, ts: &[Tile]| {
            m.tiles().iter().filter(|t| ts.contains(t)).count() * 100 / m.tiles().len()
        };
        let size = MapSize::Large;
        let d = generate(SEED, Theme::Default, size).unwrap();
        assert!(
            share(&d, &[Tile::Grass, Tile::Plains]) > 30,
            "{:?}",
            histogram(&d)
        );
        let h = generate(SEED, Theme::Hell, size).unwrap();
        assert!(
            share(&h, &[Tile::Firestone, Tile::Lava, Tile::Cobblestone]) > 70,
            "{:?}",
            histogram(&h)
        );
        let i = generate(SEED, Theme::Islands, size).unwrap();
        assert!(share(&i, &[Tile::Water]) > 50, "{:?}", histogram(&i));
        assert!(
            share(&i, &[Tile::Sand, Tile::Grass]) > 10,
            "{:?}",
            histogram(&i)
        );
        let hi = generate(SEED, Theme::HellIslands, size).unwrap();
        assert!(share(&hi, &[Tile::Lava]) > 50, "{:?}", histogram(&hi));
    }

    #[test]
    fn every_theme_and_size_spawns_on_land_with_room_to_move() {
        let sizes = [
            MapSize::Small,
            MapSize::Medium,
            MapSize::Large,
            MapSize::Custom {
                width: 1,
                height: 1,
            },
            MapSize::Custom {
                width: 3,
                height: 2,
            },
            MapSize::Custom {
                width: 9,
                height: 9,
            },
            MapSize::Custom {
                width: 1024,
                height: 16,
            },
        ];
        for theme in Theme::ALL {
            for size in sizes {
                for seed in ["", "a", "islands", "0", "lavalake", SEED, "zz9", "spawn42"] {
                    let m = generate(seed, theme, size).unwrap();
                    assert!(
                        spawn_has_room(&m),
                        "{theme:?} {size:?} {seed:?}:\n{}",
                        picture(&m)
                    );
                    // The area is the full disc when the map can hold it.
                    if m.width() >= 10 && m.height() >= 10 {
                        assert!(spawn_area(&m).len() >= 45, "{}", spawn_area(&m).len());
                    }
                }
            }
        }
    }

    #[test]
    fn the_rule_sees_a_lone_spawn_in_the_sea() {
        let mut m = Map::new(16, 16, Tile::Water).unwrap();
        for (x, y) in m.spawn_tiles() {
            m.set(x, y, SPAWN_TILE).unwrap();
        }
        assert!(!spawn_has_room(&m));
        let area = spawn_area(&m);
        assert!(area.contains(&(7, 7)) && area.contains(&(8, 8)) && area.contains(&(4, 7)));
        assert!(!area.contains(&(2, 2)));
        for (x, y) in area {
            m.set(x, y, Tile::Sand).unwrap();
        }
        for (x, y) in m.spawn_tiles() {
            m.set(x, y, SPAWN_TILE).unwrap();
        }
        assert!(spawn_has_room(&m));
    }

    /// The sizes, seeds and themes whose output [`generation_is_pinned`] fixes.
    const PIN_SIZES: [(u16, u16); 8] = [
        (1, 1),
        (7, 3),
        (64, 64),
        (130, 97),
        (192, 192),
        (1023, 17),
        (5, 1024),
        (1024, 1024),
    ];
    const PIN_SEEDS: [&str; 3] = ["", "a", SEED];

    /// FNV-1a 64 of the raw heights (each as i32 BE) and then of each theme's map
    /// ([`Map::hash`]), per size × seed, in the order of `PIN_SIZES` × `PIN_SEEDS`.
    fn pinned_hashes() -> Vec<String> {
        let mut out = Vec::new();
        for (w, h) in PIN_SIZES {
            for seed in PIN_SEEDS {
                let mut hh = crate::hash::StableHasher::new();
                for v in height_map(seed, w, h).unwrap() {
                    hh.write_i32(v);
                }
                let maps: Vec<String> = Theme::ALL
                    .iter()
                    .map(|&theme| {
                        let size = MapSize::Custom {
                            width: w,
                            height: h,
                        };
                        format!("{:016x}", generate(seed, theme, size).unwrap().hash())
                    })
                    .collect();
                out.push(format!(
                    "{w}x{h} {seed:?}: heights {:016x} maps {}",
                    hh.finish(),
                    maps.join(" ")
                ));
            }
        }
        out
    }

    /// Generation's output is fixed: these hashes were computed by the first (unoptimised)
    /// generator, so any faster one must give the same heights and maps bit for bit.
    #[test]
    fn generation_is_pinned() {
        let expected: &[&str] = &[
            "1x1 \"\": heights 995514653e2dfe79 maps 0c8d5fa4f6c1dcb4 0c8d5fa4f6c1dcb4 0c8d5fa4f6c1dcb4 0c8d5fa4f6c1dcb4",
            "1x1 \"a\": heights 4d2c9f7f9dd4784e maps 0c8d5fa4f6c1dcb4 0c8d5fa4f6c1dcb4 0c8d5fa4f6c1dcb4 0c8d5fa4f6c1dcb4",
            "1x1 \"tilegameTESTseed0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL\": heights 994eb6653e28f311 maps 0c8d5fa4f6c1dcb4 0c8d5fa4f6c1dcb4 0c8d5fa4f6c1dcb4 0c8d5fa4f6c1dcb4",
            "7x3 \"\": heights 4e4a7baf182c2055 maps 2d48f7fae69fb681 a8dbaa348787322e 5955297e08287f80 e82f76a013d8a067",
            "7x3 \"a\": heights 925697ebcebf91dd maps e82f76a013d8a067 dcc2581256f2d411 827ed4dcd05571a0 fa6f59be4c44160e",
            "7x3 \"tilegameTESTseed0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL\": heights b966e42749597b97 maps f0c21fd7f8db217b 2c611a7c3f7eb9d5 5955297e08287f80 e82f76a013d8a067",
            "64x64 \"\": heights 383ad59240da49e3 maps 4d1939d50811dd83 059125b5400759af fa4b00db9167afbc e92172eb8eae3c9e",
            "64x64 \"a\": heights 734a86aec9e1c20d maps fc7a912d6b035ff0 c170a41729eb0dc7 47cf8240c03935f3 5818f4c277505a21",
            "64x64 \"tilegameTESTseed0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL\": heights a0edd1c6f5561cc7 maps c04df4bb48eee0f3 b79eae32c260d7f2 cb1a0fbd5ee50a55 1a272d4858fc3973",
            "130x97 \"\": heights bba05d92ae9ca1ce maps 74664cd8b374f277 457ecdd1d9632bdf 5f03ea5171d1e9bb cd5e4e909d94f4ef",
            "130x97 \"a\": heights 9f2d28da597f4c32 maps 4bfa6e809e87cbc9 d313a2e15ac4d98a 4eed0dd01156ca1e ba7fc3a260dbadec",
            "130x97 \"tilegameTESTseed0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL\": heights 3ce44d44b9fe5cf1 maps b21e4a018c116a12 f93c48984332bc4b 1dd0af05aa75ce2b 684dea369abe867b",
            "192x192 \"\": heights 1be9b9a5f07f1c39 maps d21d157e55166b4c 13ecdb14c0655c92 0ce78e577eeee369 a3fe7d93d1cfe634",
            "192x192 \"a\": heights 867e0de91d3c3ac5 maps e519d8e9b71d8822 2486eae6318b73a5 0da8180f40daaa40 4434cb27f34b251d",
            "192x192 \"tilegameTESTseed0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL\": heights 35c571133b4b0e8a maps 948473d4242efe95 29c752bbfe73ca09 f65e3f5dbaee70c4 60df5d960ed958ff",
            "1023x17 \"\": heights 7b7319948fb44d46 maps 0d0bc404d058e857 1fa173c766acebad aee1c3b6751beb2e f1ee0f0f46715f60",
            "1023x17 \"a\": heights 1ddcbd2cb0663ed2 maps f9465f23cb9afeba 812be171b2edf411 14c0c459bebbc5d0 1bb0a1d1c9f10447",
            "1023x17 \"tilegameTESTseed0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL\": heights 441626ceec1599bb maps 27cf53b7b20380fe 10f88f01bca7e2b9 f33634262b530973 26405bf6c930990a",
            "5x1024 \"\": heights 0d6c588ce948460d maps 0b29caa3419e5df7 c3ac4cc1ab6743ed 1fb79718d9e262ea b7b66a7ced705405",
            "5x1024 \"a\": heights f9592766c94d9d8b maps 59676ff1e097a566 870f330e37781acc 7785d3e5c7b4f7f6 be0cf579954db4f2",
            "5x1024 \"tilegameTESTseed0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL\": heights 12d0ae518f51e70d maps e1671967b8559653 53078783e73b82fb b012024ab237ee38 9481f1118f3bb265",
            "1024x1024 \"\": heights 9bd042fb2a2b5bc7 maps 26b17b57e31dc182 300a069c887350f5 ba72002591f7b1cc 94c3f2fb4c1602dd",
            "1024x1024 \"a\": heights 7fc7c1724d4fc9ca maps 43363fc331fcb711 4a48f82beb38cef8 96d3b422b3b94c9d b35b657bbd466452",
            "1024x1024 \"tilegameTESTseed0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL\": heights dde096d969ead879 maps a7079cba1523361d 1604eb3976c294bf fcbfbd413773dc6d dc02b1451fbc025e",
        ];
        let got = pinned_hashes();
        assert_eq!(got, expected, "\n{}", got.join("\n"));
    }

    #[test]
    fn snapshot_hashes_per_theme() {
        for theme in Theme::ALL {
            let m = generate(SEED, theme, MapSize::Small).unwrap();
            let report = format!(
                "theme: {}\nsize: {}x{}\nmap_hash: {:016x}\ntile_runs: {}\ndyn_runs: {}\nhistogram: {:?}\n\n{}",
                theme.name(),
                m.width(),
                m.height(),
                m.hash(),
                m.tile_runs().count(),
                m.dyn_runs().count(),
                histogram(&m),
                picture(&m),
            );
            insta::assert_snapshot!(
                format!("worldgen_{}", theme.name().replace(' ', "_")),
                report
            );
        }
    }
}
