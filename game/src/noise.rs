//! Integer (fixed-point) Perlin gradient noise.
//!
//! World generation must produce the same bytes on every machine, so the noise uses only integer
//! arithmetic: no floats, no transcendental functions, nothing a compiler or libm could round
//! differently.
//!
//! Algorithm (classic 2D Perlin noise, Perlin 2002 "improved noise" fade curve):
//! - Coordinates are 16.16 fixed point (`ONE = 65536` is one lattice cell).
//! - A permutation of `0..=255` is made by a Fisher–Yates shuffle driven by
//!   [`SplitMix64::below`], doubled to 512 entries. A lattice point `(i, j)` hashes to
//!   `perm[perm[i & 255] + (j & 255)]`; the low 3 bits pick one of 8 gradients:
//!   (1,1), (−1,1), (1,−1), (−1,−1), (1,0), (−1,0), (0,1), (0,−1).
//! - Each corner contributes `gradient · (offset to the point)` (in 16.16).
//! - The contributions are blended with `fade(t) = 6t⁵ − 15t⁴ + 10t³`, evaluated exactly in
//!   `i128` and floored to 16.16 ([`fade`]), and linear interpolation `a + ((b − a)·t >> 16)`.
//! - The result lies in about `[-ONE, ONE]`.
//!
//! [`Perlin::sample`] evaluates one point; [`Perlin::add_octave`] fills a whole grid using per
//! row / per column precomputation and gives bit-identical results.

use crate::rng::SplitMix64;

/// Fractional bits of the fixed-point coordinates.
pub const FRAC_BITS: u32 = 16;
/// One lattice cell in fixed point.
pub const ONE: i64 = 1 << FRAC_BITS;

/// The quintic fade curve in 16.16: `t` in `0..=ONE` → `0..=ONE`, exact then floored.
pub const fn fade(t: i64) -> i64 {
    // 6t^5 - 15t^4 + 10t^3 in 16.16 = (6t^5 - 15t^4·ONE + 10t^3·ONE²) / ONE⁴, computed exactly in
    // i128 and floored once, so the curve is monotonic.
    let t = t as i128;
    let one = ONE as i128;
    let t3 = t * t * t;
    let num = t3 * (6 * t * t - 15 * t * one + 10 * one * one);
    (num >> (4 * FRAC_BITS)) as i64
}

/// Linear interpolation in 16.16.
#[inline(always)]
const fn lerp(a: i64, b: i64, t: i64) -> i64 {
    a + (((b - a) * t) >> FRAC_BITS)
}

/// The dot product of gradient `h & 7` with the offset (`dx`, `dy`).
#[inline(always)]
const fn grad(h: u8, dx: i64, dy: i64) -> i64 {
    match h & 7 {
        0 => dx + dy,
        1 => -dx + dy,
        2 => dx - dy,
        3 => -dx - dy,
        4 => dx,
        5 => -dx,
        6 => dy,
        _ => -dy,
    }
}

/// Per-coordinate precomputation: lattice cell, fractional part and its fade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Axis {
    cell: usize,
    frac: i64,
    fade: i64,
}

impl Axis {
    fn new(c: i64) -> Self {
        let frac = c & (ONE - 1);
        Axis {
            // Only the low 8 bits of the cell are used by the permutation.
            cell: ((c >> FRAC_BITS) & 255) as usize,
            frac,
            fade: fade(frac),
        }
    }
}

/// One seeded Perlin noise field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Perlin {
    perm: [u8; 512],
}

impl Perlin {
    /// Makes a field whose permutation is shuffled by `rng`.
    pub fn new(rng: &mut SplitMix64) -> Self {
        let mut p = [0u8; 256];
        for (i, v) in p.iter_mut().enumerate() {
            *v = i as u8;
        }
        for i in (1..256usize).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            p.swap(i, j);
        }
        let mut perm = [0u8; 512];
        for (i, v) in perm.iter_mut().enumerate() {
            *v = p[i & 255];
        }
        Perlin { perm }
    }

    #[inline(always)]
    fn at(&self, i: usize) -> u8 {
        self.perm[i & 511]
    }

    /// The noise at one row (`ya`), given the column's permutation entries (`px0`, `px1`).
    #[inline(always)]
    fn eval(&self, px0: usize, px1: usize, xa: &Axis, ya: &Axis) -> i64 {
        let y0 = ya.cell;
        let y1 = (ya.cell + 1) & 255;
        let h00 = self.at(px0 + y0);
        let h10 = self.at(px1 + y0);
        let h01 = self.at(px0 + y1);
        let h11 = self.at(px1 + y1);
        let (fx, fy) = (xa.frac, ya.frac);
        let n00 = grad(h00, fx, fy);
        let n10 = grad(h10, fx - ONE, fy);
        let n01 = grad(h01, fx, fy - ONE);
        let n11 = grad(h11, fx - ONE, fy - ONE);
        let a = lerp(n00, n10, xa.fade);
        let b = lerp(n01, n11, xa.fade);
        lerp(a, b, ya.fade)
    }

    /// The noise at the 16.16 fixed-point point (`x`, `y`), in about `[-ONE, ONE]`.
    pub fn sample(&self, x: i64, y: i64) -> i32 {
        let xa = Axis::new(x);
        let ya = Axis::new(y);
        let px0 = usize::from(self.at(xa.cell));
        let px1 = usize::from(self.at(xa.cell + 1));
        self.eval(px0, px1, &xa, &ya) as i32
    }

    /// Adds `sample(x0 + i·step, y0 + j·step) >> shift` to `out[j·w + i]` for a `w`-wide grid.
    ///
    /// `out.len()` must be a multiple of `w`; the rows are `out.len() / w`.
    pub fn add_octave(&self, out: &mut [i32], w: usize, x0: i64, y0: i64, step: i64, shift: u32) {
        if w == 0 {
            return;
        }
        let cols: Vec<(Axis, usize, usize)> = (0..w)
            .map(|i| {
                let a = Axis::new(x0 + i as i64 * step);
                let px0 = usize::from(self.at(a.cell));
                let px1 = usize::from(self.at(a.cell + 1));
                (a, px0, px1)
            })
            .collect();
        for (j, row) in out.chunks_exact_mut(w).enumerate() {
            let ya = Axis::new(y0 + j as i64 * step);
            for (cell, (xa, px0, px1)) in row.iter_mut().zip(cols.iter()) {
                *cell += (self.eval(*px0, *px1, xa, &ya) >> shift) as i32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fade_endpoints_and_midpoint() {
        assert_eq!(fade(0), 0);
        assert_eq!(fade(ONE), ONE);
        assert_eq!(fade(ONE / 2), ONE / 2);
        let mut prev = 0;
        for t in (0..=ONE).step_by(257) {
            let f = fade(t);
            assert!(f >= prev);
            prev = f;
        }
    }

    #[test]
    fn zero_at_lattice_points_and_bounded() {
        let p = Perlin::new(&mut SplitMix64::new(1));
        assert_eq!(p.sample(0, 0), 0);
        assert_eq!(p.sample(5 * ONE, -3 * ONE), 0);
        let mut r = SplitMix64::new(2);
        let mut nonzero = 0;
        for _ in 0..10_000 {
            let x = (r.next_u64() >> 40) as i64 - (1 << 23);
            let y = (r.next_u64() >> 40) as i64 - (1 << 23);
            let v = p.sample(x, y);
            assert!(v.abs() <= ONE as i32, "{v}");
            nonzero += i32::from(v != 0);
        }
        assert!(nonzero > 9_000);
    }

    #[test]
    fn grid_matches_point_samples() {
        let p = Perlin::new(&mut SplitMix64::new(9));
        let (w, h) = (37, 11);
        let (x0, y0, step) = (-123_456, 98_765, 3_000);
        let mut out = vec![0; w * h];
        p.add_octave(&mut out, w, x0, y0, step, 1);
        for j in 0..h {
            for i in 0..w {
                let x = x0 + i as i64 * step;
                let y = y0 + j as i64 * step;
                assert_eq!(out[j * w + i], p.sample(x, y) >> 1);
            }
        }
    }

    #[test]
    fn permutation_is_a_permutation() {
        let p = Perlin::new(&mut SplitMix64::new(3));
        let mut seen = [false; 256];
        for i in 0..256 {
            seen[usize::from(p.perm[i])] = true;
            assert_eq!(p.perm[i], p.perm[i + 256]);
        }
        assert!(seen.iter().all(|&s| s));
    }
}
