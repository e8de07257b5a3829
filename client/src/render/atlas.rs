//! The tile atlas and the texture sheet, painted procedurally at start-up.
//!
//! The project ships no third-party art: every tile texture is computed here from a small
//! integer hash (no RNG state, no clock), so the atlas is identical on every run and machine.
//! The tile atlas is 8×8 cells of 32×32 px; a tile's cell comes from its attributes
//! (`texture_x`, `texture_y`), so the atlas follows the game crate's tables. Row 7 holds the eight
//! crack overlays drawn over a tile being broken.
//!
//! The GPU gets one texture, the *sheet*: the tile atlas on the left (256×256), the bitmap font
//! and the hotbar icons on the right. This module is pure CPU code and must stay so (it is unit
//! tested without a GPU).

use std::sync::OnceLock;

use tilegame_game::{Tile, ALL_TILES};

use super::font;

/// Side of one atlas cell in pixels (= the game's tile size).
pub const CELL: u32 = 32;
/// Cells per atlas side.
pub const CELLS: u32 = 8;
/// Side of the tile atlas in pixels.
pub const ATLAS_SIZE: u32 = CELL * CELLS;
/// The atlas row that holds the crack overlays (stage 0..=7 in columns 0..=7).
pub const CRACK_ROW: u8 = 7;
/// Number of crack stages.
pub const CRACK_STAGES: u8 = 8;
/// Sheet width: the tile atlas plus a column of the same size for the font and icons.
pub const SHEET_WIDTH: u32 = ATLAS_SIZE * 2;
/// Sheet height.
pub const SHEET_HEIGHT: u32 = ATLAS_SIZE;
/// Where the font's glyph grid starts in the sheet.
pub const FONT_ORIGIN: (u32, u32) = (ATLAS_SIZE, 0);
/// Sheet rectangle (x, y, w, h) of the shovel icon.
pub const ICON_SHOVEL: [u32; 4] = [ATLAS_SIZE, 64, 32, 32];
/// Sheet rectangle (x, y, w, h) of the gun icon.
pub const ICON_GUN: [u32; 4] = [ATLAS_SIZE + 32, 64, 32, 32];

/// A simple RGBA8 image (row-major, 4 bytes per pixel, not premultiplied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// RGBA bytes, `width * height * 4` of them.
    pub data: Vec<u8>,
}

impl Image {
    /// A fully transparent image.
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            data: vec![0; (width * height * 4) as usize],
        }
    }

    /// The pixel at (`x`, `y`); panics outside the image (internal use with checked loops).
    pub fn get(&self, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * self.width + x) * 4) as usize;
        [
            self.data[i],
            self.data[i + 1],
            self.data[i + 2],
            self.data[i + 3],
        ]
    }

    /// Sets the pixel at (`x`, `y`); ignored outside the image.
    pub fn put(&mut self, x: u32, y: u32, rgba: [u8; 4]) {
        if x < self.width && y < self.height {
            let i = ((y * self.width + x) * 4) as usize;
            self.data[i..i + 4].copy_from_slice(&rgba);
        }
    }

    /// Copies `src` into this image with its top-left corner at (`x`, `y`).
    pub fn blit(&mut self, src: &Image, x: u32, y: u32) {
        for sy in 0..src.height {
            for sx in 0..src.width {
                self.put(x + sx, y + sy, src.get(sx, sy));
            }
        }
    }

    /// Average RGBA of the rectangle (x, y, w, h).
    pub fn average(&self, x: u32, y: u32, w: u32, h: u32) -> [u8; 4] {
        let mut sum = [0u64; 4];
        for py in y..y + h {
            for px in x..x + w {
                let p = self.get(px, py);
                for (s, v) in sum.iter_mut().zip(p) {
                    *s += u64::from(v);
                }
            }
        }
        let n = u64::from(w * h).max(1);
        sum.map(|s| (s / n) as u8)
    }
}

/// The atlas cell (column, row) of a tile, from the game's attribute table.
pub fn tile_cell(tile: Tile) -> (u8, u8) {
    let a = tile.attrs();
    (a.texture_x, a.texture_y)
}

/// The atlas cell of crack stage `stage` (clamped to 0..=7).
pub fn crack_cell(stage: u8) -> (u8, u8) {
    (stage.min(CRACK_STAGES - 1), CRACK_ROW)
}

/// The texture sheet (tile atlas + font + icons), generated once per process.
pub fn sheet() -> &'static Image {
    static SHEET: OnceLock<Image> = OnceLock::new();
    SHEET.get_or_init(build_sheet)
}

/// Average colour of a tile's atlas cell: what the tile looks like from afar (minimap, tests).
pub fn tile_average_color(tile: Tile) -> [u8; 3] {
    let (cx, cy) = tile_cell(tile);
    let a = sheet().average(u32::from(cx) * CELL, u32::from(cy) * CELL, CELL, CELL);
    [a[0], a[1], a[2]]
}

/// Builds the texture sheet from scratch (deterministic).
pub fn build_sheet() -> Image {
    let mut img = Image::new(SHEET_WIDTH, SHEET_HEIGHT);
    img.blit(&generate_atlas(), 0, 0);
    font::rasterize_into(&mut img, FONT_ORIGIN);
    paint_icons(&mut img);
    img
}

/// Paints the tile atlas: one cell per tile kind (at its attribute cell) and the crack row.
pub fn generate_atlas() -> Image {
    let mut img = Image::new(ATLAS_SIZE, ATLAS_SIZE);
    for tile in ALL_TILES {
        let (cx, cy) = tile_cell(tile);
        let cell = paint_tile(tile);
        img.blit(&cell, u32::from(cx) * CELL, u32::from(cy) * CELL);
    }
    for stage in 0..CRACK_STAGES {
        let (cx, cy) = crack_cell(stage);
        img.blit(
            &paint_crack(stage),
            u32::from(cx) * CELL,
            u32::from(cy) * CELL,
        );
    }
    img
}

// ---------------------------------------------------------------------------------------------
// Deterministic noise

/// A 32-bit integer hash of (x, y, seed) (lowbias32-style finaliser).
fn hash(x: u32, y: u32, seed: u32) -> u32 {
    let mut h = x
        .wrapping_mul(0x27d4_eb2d)
        .wrapping_add(y.wrapping_mul(0x1656_67b1))
        .wrapping_add(seed.wrapping_mul(0x9e37_79b9));
    h ^= h >> 16;
    h = h.wrapping_mul(0x7feb_352d);
    h ^= h >> 15;
    h = h.wrapping_mul(0x846c_a68b);
    h ^= h >> 16;
    h
}

/// Uniform value in [0, 1) from (x, y, seed).
fn rnd(x: u32, y: u32, seed: u32) -> f32 {
    (hash(x, y, seed) >> 8) as f32 / (1u32 << 24) as f32
}

/// Smooth value noise that wraps every `period` pixels (so cells tile seamlessly);
/// `scale` is the lattice spacing in pixels (must divide `period`).
fn tnoise(x: u32, y: u32, scale: u32, period: u32, seed: u32) -> f32 {
    let cells = period / scale;
    let (gx, gy) = (x / scale, y / scale);
    let fx = (x % scale) as f32 / scale as f32;
    let fy = (y % scale) as f32 / scale as f32;
    let s = |t: f32| t * t * (3.0 - 2.0 * t);
    let v = |ix: u32, iy: u32| rnd(ix % cells, iy % cells, seed);
    let a = v(gx, gy) + (v(gx + 1, gy) - v(gx, gy)) * s(fx);
    let b = v(gx, gy + 1) + (v(gx + 1, gy + 1) - v(gx, gy + 1)) * s(fx);
    a + (b - a) * s(fy)
}

/// Two octaves of tileable value noise, in [0, 1).
fn fbm(x: u32, y: u32, seed: u32) -> f32 {
    0.65 * tnoise(x, y, 8, CELL, seed) + 0.35 * tnoise(x, y, 4, CELL, seed ^ 0x5555)
}

fn shade(c: [u8; 3], f: f32) -> [u8; 3] {
    c.map(|v| (f32::from(v) * f).round().clamp(0.0, 255.0) as u8)
}

fn mix(a: [u8; 3], b: [u8; 3], t: f32) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0);
    let mut out = [0u8; 3];
    for i in 0..3 {
        out[i] = (f32::from(a[i]) + (f32::from(b[i]) - f32::from(a[i])) * t).round() as u8;
    }
    out
}

fn opaque(c: [u8; 3]) -> [u8; 4] {
    [c[0], c[1], c[2], 255]
}

/// Distances to the nearest and second-nearest of `n` wrapped feature points, and the nearest's
/// index: a tileable Voronoi pattern (stones, veins).
fn voronoi(x: u32, y: u32, n: u32, seed: u32) -> (f32, f32, u32) {
    let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
    let (mut d1, mut d2, mut best) = (f32::MAX, f32::MAX, 0);
    for i in 0..n {
        let fx = rnd(i, 0, seed) * CELL as f32;
        let fy = rnd(i, 1, seed) * CELL as f32;
        for ox in [-1.0f32, 0.0, 1.0] {
            for oy in [-1.0f32, 0.0, 1.0] {
                let dx = px - (fx + ox * CELL as f32);
                let dy = py - (fy + oy * CELL as f32);
                let d = (dx * dx + dy * dy).sqrt();
                if d < d1 {
                    d2 = d1;
                    d1 = d;
                    best = i;
                } else if d < d2 {
                    d2 = d;
                }
            }
        }
    }
    (d1, d2, best)
}

// ---------------------------------------------------------------------------------------------
// Tile painters

/// Paints one 32×32 tile texture.
pub fn paint_tile(tile: Tile) -> Image {
    let mut img = Image::new(CELL, CELL);
    let seed = u32::from(tile.id()) * 7919 + 17;
    match tile {
        Tile::Void => fill(&mut img, |x, y| {
            let n = fbm(x, y, seed);
            let star = hash(x, y, seed).is_multiple_of(97);
            if star {
                [70, 70, 90]
            } else {
                shade([18, 18, 26], 0.8 + 0.4 * n)
            }
        }),
        Tile::Grass => {
            fill(&mut img, |x, y| {
                shade([72, 146, 56], 0.82 + 0.3 * fbm(x, y, seed))
            });
            blades(&mut img, seed, 46, [112, 190, 78], [46, 108, 38]);
        }
        Tile::Plains => {
            fill(&mut img, |x, y| {
                shade([150, 174, 84], 0.88 + 0.22 * fbm(x, y, seed))
            });
            blades(&mut img, seed, 16, [176, 196, 104], [118, 140, 64]);
            for i in 0..4 {
                let fx = hash(i, 9, seed) % CELL;
                let fy = hash(i, 10, seed) % CELL;
                let petal = if i % 2 == 0 {
                    [240, 220, 90]
                } else {
                    [235, 235, 235]
                };
                img.put(fx, fy, opaque(petal));
                img.put((fx + 1) % CELL, fy, opaque(shade(petal, 0.85)));
            }
        }
        Tile::Dirt => {
            fill(&mut img, |x, y| {
                let n = fbm(x, y, seed);
                let speck = rnd(x, y, seed ^ 0xd1) < 0.06;
                if speck {
                    [88, 58, 34]
                } else {
                    shade([124, 86, 54], 0.8 + 0.35 * n)
                }
            });
            pebbles(&mut img, seed, 5, [156, 128, 96]);
        }
        Tile::Cobblestone => fill(&mut img, |x, y| {
            let (d1, d2, i) = voronoi(x, y, 9, seed);
            if d2 - d1 < 1.4 {
                [62, 62, 68]
            } else {
                let base = 112.0 + 40.0 * rnd(i, 7, seed);
                let edge = ((d2 - d1) / 6.0).min(1.0);
                let v = base * (0.78 + 0.22 * edge) * (0.92 + 0.16 * fbm(x, y, seed));
                let v = v.clamp(0.0, 255.0) as u8;
                [v, v, v.saturating_add(6)]
            }
        }),
        Tile::Sand => fill(&mut img, |x, y| {
            let grain = rnd(x, y, seed) * 0.12;
            let ripple = ((y as f32 * 0.8 + 2.0 * fbm(x, y, seed) * 6.0).sin() * 0.5 + 0.5) * 0.08;
            shade([222, 200, 140], 0.88 + grain - ripple)
        }),
        Tile::CobblestoneStairs => fill(&mut img, |x, y| {
            let step = y / 8;
            let yy = y % 8;
            let joint = (x + step * 11) % 16 == 0;
            let base = 122.0 + 18.0 * rnd(step, (x + step * 11) / 16, seed);
            let v = if yy == 7 || joint {
                64.0
            } else if yy <= 1 {
                base * 1.25
            } else {
                base * (0.9 + 0.15 * fbm(x, y, seed)) * (1.0 - 0.03 * yy as f32)
            };
            let v = v.clamp(0.0, 255.0) as u8;
            [v, v, v.saturating_add(4)]
        }),
        Tile::Firestone => fill(&mut img, |x, y| {
            // Dark basalt with thin crimson veins: a rock, nothing like lava's bright flow.
            let (d1, d2, i) = voronoi(x, y, 5, seed);
            let vein = d2 - d1;
            if vein < 0.6 {
                [214, 44, 52]
            } else if vein < 1.3 {
                [96, 26, 34]
            } else {
                let v = 0.8 + 0.3 * fbm(x, y, seed) + 0.12 * rnd(i, 3, seed);
                shade([54, 44, 52], v * (0.85 + 0.15 * (d1 / 10.0).min(1.0)))
            }
        }),
        Tile::Water => fill(&mut img, |x, y| {
            // Periodic in x (period 32) so the shader can scroll it.
            let base = shade([36, 90, 184], 0.9 + 0.18 * fbm(x, y, seed));
            let phase = (y / 8) as f32 * 1.7;
            let crest = 8.0 * (y / 8) as f32
                + 4.0
                + 2.0 * (std::f32::consts::TAU * x as f32 / CELL as f32 + phase).sin();
            let d = (y as f32 - crest).abs();
            if d < 0.6 {
                [132, 182, 238]
            } else if d < 1.4 {
                mix(base, [90, 144, 220], 0.6)
            } else {
                base
            }
        }),
        Tile::Lava => fill(&mut img, |x, y| {
            // Periodic in x (period 32) so the shader can scroll it.
            let n = tnoise(x, y, 16, CELL, seed) * 0.5
                + tnoise(x, y, 8, CELL, seed ^ 9) * 0.3
                + tnoise(x, y, 4, CELL, seed ^ 3) * 0.2;
            if n > 0.66 {
                mix([255, 170, 50], [255, 228, 128], (n - 0.66) / 0.2)
            } else if n < 0.3 {
                mix([150, 38, 10], [200, 66, 14], n / 0.3)
            } else {
                mix([226, 92, 20], [255, 150, 40], (n - 0.3) / 0.36)
            }
        }),
    }
    img
}

fn fill(img: &mut Image, f: impl Fn(u32, u32) -> [u8; 3]) {
    for y in 0..img.height {
        for x in 0..img.width {
            img.put(x, y, opaque(f(x, y)));
        }
    }
}

/// Short leaning vertical strokes (grass blades), wrapped at the cell edges.
fn blades(img: &mut Image, seed: u32, count: u32, light: [u8; 3], dark: [u8; 3]) {
    for i in 0..count {
        let bx = hash(i, 1, seed) % CELL;
        let by = hash(i, 2, seed) % CELL;
        let len = 2 + hash(i, 3, seed) % 3;
        let lean = (hash(i, 4, seed) % 3) as i32 - 1;
        let color = if hash(i, 5, seed).is_multiple_of(3) {
            dark
        } else {
            light
        };
        for k in 0..len {
            let x = (bx as i32 + if k == len - 1 { lean } else { 0 }).rem_euclid(CELL as i32);
            let y = (by + CELL - k) % CELL;
            let c = shade(color, 1.0 - 0.08 * k as f32);
            img.put(x as u32, y, opaque(c));
        }
    }
}

/// Small 2×2 pebbles with a highlight.
fn pebbles(img: &mut Image, seed: u32, count: u32, color: [u8; 3]) {
    for i in 0..count {
        let px = hash(i, 11, seed) % CELL;
        let py = hash(i, 12, seed) % CELL;
        for (dx, dy, f) in [(0, 0, 1.15), (1, 0, 1.0), (0, 1, 0.9), (1, 1, 0.75)] {
            img.put((px + dx) % CELL, (py + dy) % CELL, opaque(shade(color, f)));
        }
    }
}

/// A crack overlay: transparent, with dark cracks that grow with the stage.
pub fn paint_crack(stage: u8) -> Image {
    let mut img = Image::new(CELL, CELL);
    let stage = u32::from(stage.min(CRACK_STAGES - 1));
    let branches = 2 + stage;
    let length = 5 + stage * 3;
    let seed = 0xc4ac_0000;
    for b in 0..branches {
        // Start near the centre and walk outwards in the branch's general direction.
        let angle = std::f32::consts::TAU * (b as f32 + rnd(b, 0, seed) * 0.6) / branches as f32;
        let (mut x, mut y) = (15.5f32, 15.5f32);
        let mut dir = angle;
        for step in 0..length {
            dir += (rnd(b, step + 1, seed) - 0.5) * 0.9;
            x += dir.cos();
            y += dir.sin();
            if !(0.0..CELL as f32).contains(&x) || !(0.0..CELL as f32).contains(&y) {
                break;
            }
            img.put(x as u32, y as u32, [20, 16, 14, 220]);
            // A faint light edge beside the crack gives it depth.
            let (ex, ey) = ((x + 1.0) as u32, (y + 1.0) as u32);
            if ex < CELL && ey < CELL && img.get(ex, ey)[3] == 0 {
                img.put(ex, ey, [235, 235, 225, 70]);
            }
        }
    }
    img
}

// ---------------------------------------------------------------------------------------------
// Icons

fn paint_icons(img: &mut Image) {
    let [sx, sy, _, _] = ICON_SHOVEL;
    // Shovel: wooden handle on the diagonal, steel blade at the bottom left.
    for i in 6..24u32 {
        for t in 0..2u32 {
            let (x, y) = (sx + i + t, sy + 31 - i - 2);
            img.put(x, y, [140, 94, 52, 255]);
            img.put(x + 1, y, [104, 68, 36, 255]);
        }
    }
    for i in 0..5u32 {
        img.put(sx + 22 + i, sy + 3, [120, 80, 44, 255]);
        img.put(sx + 25, sy + 1 + i, [120, 80, 44, 255]);
    }
    for y in 0..10u32 {
        for x in 0..10u32 {
            // Rounded blade: a rotated square clipped to a circle.
            let (dx, dy) = (x as f32 - 4.5, y as f32 - 4.5);
            if dx * dx + dy * dy < 26.0 {
                let light = if x + (9 - y) < 8 { 210 } else { 168 };
                img.put(sx + 2 + x, sy + 20 + y, [light, light, light + 12, 255]);
            }
        }
    }
    let [gx, gy, _, _] = ICON_GUN;
    // Gun: barrel, body, grip, trigger guard.
    let metal = [70u8, 74, 82, 255];
    let dark = [40u8, 42, 48, 255];
    for x in 3..29u32 {
        for y in 10..15u32 {
            img.put(
                gx + x,
                gy + y,
                if y == 10 { [120, 124, 134, 255] } else { metal },
            );
        }
    }
    for x in 3..14u32 {
        for y in 15..18u32 {
            img.put(gx + x, gy + y, metal);
        }
    }
    for y in 18..28u32 {
        for x in 4..10u32 {
            let off = (y - 18) / 4;
            img.put(gx + x - off.min(3), gy + y, [110, 70, 40, 255]);
        }
    }
    for x in 11..16u32 {
        img.put(gx + x, gy + 22, dark);
    }
    img.put(gx + 15, gy + 19, dark);
    img.put(gx + 15, gy + 20, dark);
    img.put(gx + 15, gy + 21, dark);
    img.put(gx + 27, gy + 8, dark);
    img.put(gx + 27, gy + 9, dark);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(a: [u8; 3], b: [u8; 3]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(&x, y)| (f32::from(x) - f32::from(y)).powi(2))
            .sum::<f32>()
            .sqrt()
    }

    #[test]
    fn atlas_is_deterministic() {
        assert_eq!(generate_atlas(), generate_atlas());
        assert_eq!(build_sheet(), *sheet());
    }

    #[test]
    fn every_tile_has_its_own_opaque_cell() {
        let mut seen = Vec::new();
        for tile in ALL_TILES {
            let cell = tile_cell(tile);
            assert!(!seen.contains(&cell), "{tile:?} shares atlas cell {cell:?}");
            assert!(cell.0 < CELLS as u8 && cell.1 < CELLS as u8);
            assert_ne!(cell.1, CRACK_ROW, "{tile:?} uses the crack row");
            seen.push(cell);
            let img = paint_tile(tile);
            assert!(
                img.data.chunks(4).all(|p| p[3] == 255),
                "{tile:?} not opaque"
            );
        }
    }

    #[test]
    fn tile_cells_differ_in_colour_and_have_texture() {
        for (i, a) in ALL_TILES.iter().enumerate() {
            for b in &ALL_TILES[i + 1..] {
                let (ca, cb) = (tile_average_color(*a), tile_average_color(*b));
                assert!(
                    dist(ca, cb) > 12.0,
                    "{a:?} {ca:?} too close to {b:?} {cb:?}"
                );
            }
            // Not a flat colour: a pattern.
            let img = paint_tile(*a);
            let first = img.get(0, 0);
            let differing = (0..CELL * CELL)
                .filter(|i| img.get(i % CELL, i / CELL) != first)
                .count();
            assert!(differing > 100, "{a:?} looks flat");
        }
    }

    #[test]
    fn lava_and_firestone_are_clearly_different() {
        let (lava, fire) = (
            tile_average_color(Tile::Lava),
            tile_average_color(Tile::Firestone),
        );
        assert!(
            dist(lava, fire) > 120.0,
            "lava {lava:?} vs firestone {fire:?}"
        );
        // Lava is bright, firestone dark.
        let luma =
            |c: [u8; 3]| 0.3 * f32::from(c[0]) + 0.59 * f32::from(c[1]) + 0.11 * f32::from(c[2]);
        assert!(luma(lava) > 2.0 * luma(fire), "{lava:?} {fire:?}");
    }

    #[test]
    fn animated_tiles_wrap_horizontally() {
        // Water and lava scroll in the shader, so their cells must tile in x.
        for tile in [Tile::Water, Tile::Lava] {
            let img = paint_tile(tile);
            let mut diff = 0u32;
            for y in 0..CELL {
                let (a, b) = (img.get(0, y), img.get(CELL - 1, y));
                diff += a
                    .iter()
                    .zip(b)
                    .map(|(&p, q)| u32::from(p.abs_diff(q)))
                    .sum::<u32>();
            }
            assert!(diff / CELL < 90, "{tile:?} seam too visible: {diff}");
        }
    }

    #[test]
    fn cracks_grow_with_stage() {
        let coverage = |s| paint_crack(s).data.chunks(4).filter(|p| p[3] > 100).count();
        let mut last = 0;
        for s in 0..CRACK_STAGES {
            let c = coverage(s);
            assert!(c > last, "stage {s} covers {c} <= {last}");
            last = c;
        }
        // Cracks leave most of the tile visible.
        assert!(last < (CELL * CELL / 2) as usize);
        assert_eq!(crack_cell(200), (7, CRACK_ROW));
    }

    #[test]
    fn sheet_has_font_and_icons() {
        let s = sheet();
        assert_eq!((s.width, s.height), (SHEET_WIDTH, SHEET_HEIGHT));
        let [x, y, w, h] = ICON_SHOVEL;
        assert!(s.average(x, y, w, h)[3] > 20);
        let [x, y, w, h] = ICON_GUN;
        assert!(s.average(x, y, w, h)[3] > 20);
        let (gx, gy) = font::glyph_origin('A');
        assert!(s.average(gx, gy, font::GLYPH_W, font::GLYPH_H)[3] > 50);
    }
}
