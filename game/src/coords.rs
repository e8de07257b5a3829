//! Units and conversions between world pixels, sub-pixels and tile coordinates.
//!
//! Everything that moves is simulated in integers so that every machine computes the same
//! result: positions are `i32` in 1/[`SUBPX`] of a pixel, velocities in sub-pixels per tick. The
//! map is centred on the origin: its top-left corner is at (−w·32/2, −h·32/2) world pixels, and
//! tile (0, 0) is the top-left tile. Pixel coordinates grow right and down.

pub use crate::spec::{TICK_RATE, TILE_SIZE};

/// Sub-pixels per pixel: positions are fixed-point `i32` in 1/256 px (the spec's `SUBPIXELS`).
pub const SUBPX: i32 = crate::spec::SUBPIXELS;

/// World-pixel position of the map's top-left corner for a `width` × `height` tile map.
pub const fn map_origin_px(width: u16, height: u16) -> (i32, i32) {
    (
        -(width as i32 * TILE_SIZE) / 2,
        -(height as i32 * TILE_SIZE) / 2,
    )
}

/// Converts pixels to sub-pixels.
pub const fn px_to_subpx(px: i32) -> i32 {
    px.saturating_mul(SUBPX)
}

/// Converts sub-pixels to whole pixels, rounding towards negative infinity.
pub const fn subpx_to_px(subpx: i32) -> i32 {
    subpx.div_euclid(SUBPX)
}

/// The tile that contains world pixel (`px_x`, `px_y`), or `None` outside the map.
pub fn px_to_tile(width: u16, height: u16, px_x: i32, px_y: i32) -> Option<(u16, u16)> {
    let (ox, oy) = map_origin_px(width, height);
    let tx = (i64::from(px_x) - i64::from(ox)).div_euclid(i64::from(TILE_SIZE));
    let ty = (i64::from(px_y) - i64::from(oy)).div_euclid(i64::from(TILE_SIZE));
    if (0..i64::from(width)).contains(&tx) && (0..i64::from(height)).contains(&ty) {
        Some((u16::try_from(tx).ok()?, u16::try_from(ty).ok()?))
    } else {
        None
    }
}

/// The tile that contains the sub-pixel position (`x`, `y`), or `None` outside the map.
pub fn subpx_to_tile(width: u16, height: u16, x: i32, y: i32) -> Option<(u16, u16)> {
    px_to_tile(width, height, subpx_to_px(x), subpx_to_px(y))
}

/// World-pixel position of the top-left corner of tile (`tx`, `ty`).
pub const fn tile_to_px(width: u16, height: u16, tx: u16, ty: u16) -> (i32, i32) {
    let (ox, oy) = map_origin_px(width, height);
    (ox + tx as i32 * TILE_SIZE, oy + ty as i32 * TILE_SIZE)
}

/// World-pixel position of the centre of tile (`tx`, `ty`).
pub const fn tile_center_px(width: u16, height: u16, tx: u16, ty: u16) -> (i32, i32) {
    let (x, y) = tile_to_px(width, height, tx, ty);
    (x + TILE_SIZE / 2, y + TILE_SIZE / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_is_centred() {
        assert_eq!(map_origin_px(64, 64), (-1024, -1024));
        assert_eq!(map_origin_px(3, 5), (-48, -80));
        assert_eq!(map_origin_px(1, 1), (-16, -16));
    }

    #[test]
    fn pixel_tile_round_trip() {
        assert_eq!(px_to_tile(64, 64, 0, 0), Some((32, 32)));
        assert_eq!(px_to_tile(64, 64, -1, -1), Some((31, 31)));
        assert_eq!(px_to_tile(64, 64, -1024, -1024), Some((0, 0)));
        assert_eq!(px_to_tile(64, 64, -1025, 0), None);
        assert_eq!(px_to_tile(64, 64, 1023, 1023), Some((63, 63)));
        assert_eq!(px_to_tile(64, 64, 1024, 0), None);
        assert_eq!(px_to_tile(64, 64, i32::MIN, i32::MAX), None);
        for (tx, ty) in [(0, 0), (5, 9), (63, 63)] {
            let (cx, cy) = tile_center_px(64, 64, tx, ty);
            assert_eq!(px_to_tile(64, 64, cx, cy), Some((tx, ty)));
            let (lx, ly) = tile_to_px(64, 64, tx, ty);
            assert_eq!(px_to_tile(64, 64, lx, ly), Some((tx, ty)));
        }
    }

    #[test]
    fn subpixels_floor() {
        assert_eq!(subpx_to_px(255), 0);
        assert_eq!(subpx_to_px(-1), -1);
        assert_eq!(px_to_subpx(-3), -768);
        assert_eq!(subpx_to_tile(2, 2, -1, 0), Some((0, 1)));
    }
}
