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
//! [`Perlin::sample`] evaluates one point, the definition. [`OctaveGrid`] (and
//! [`Perlin::add_octave`] on top of it) fills a whole grid row by row with per-column and
//! per-lattice-cell precomputation, and gives bit-identical results.

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
        let grid = OctaveGrid::new(self.clone(), w, x0, y0, step, shift);
        let mut rows = grid.rows();
        for (j, row) in out.chunks_exact_mut(w).enumerate() {
            rows.add_row(j, row);
        }
    }
}

/// The gradient `(gx, gy)` that [`grad`] dots with the offset, for hash `h & 7`.
const GRADIENTS: [(i32, i32); 8] = [
    (1, 1),
    (-1, 1),
    (1, -1),
    (-1, -1),
    (1, 0),
    (-1, 0),
    (0, 1),
    (0, -1),
];

/// `(d · t) >> 16` (floored) for `|d| < 2¹⁹` and `t` in `0..=ONE`, given `t` as
/// `th = t >> 8` and `tl = t & 255`: one lerp step in `i32` arithmetic.
///
/// Exact: `d·t = 256·d·th + d·tl`, so `⌊d·t / 2¹⁶⌋ = ⌊(d·th + d·tl / 256) / 256⌋ =
/// ⌊(d·th + ⌊d·tl / 256⌋) / 256⌋` (flooring inside a floor by an integer divisor changes
/// nothing), and both products stay below 2²⁸.
#[inline(always)]
fn mul_fade(d: i32, th: i32, tl: i32) -> i32 {
    (d * th + ((d * tl) >> 8)) >> 8
}

/// A run of grid columns that lie in one lattice cell, so share the permutation entries of
/// its two corner columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
    px0: usize,
    px1: usize,
}

/// One octave of a [`Perlin`] field laid over a `w`-wide grid whose point `(i, j)` is
/// `(x0 + i·step, y0 + j·step)` in 16.16: what is the same for every row. Rows are computed
/// by an [`OctaveRows`] cursor (one per thread).
#[derive(Debug, Clone)]
pub struct OctaveGrid {
    field: Perlin,
    /// Per column: fractional part of x in its lattice cell (16.16).
    frac: Vec<i32>,
    /// Per column: `fade(frac) >> 8`.
    fade_hi: Vec<i32>,
    /// Per column: `fade(frac) & 255`.
    fade_lo: Vec<i32>,
    /// The columns grouped by lattice cell, left to right, covering `0..w`.
    spans: Vec<Span>,
    y0: i64,
    step: i64,
    shift: u32,
}

impl OctaveGrid {
    /// Lays `field` over a `w`-wide grid whose point `(i, j)` is `(x0 + i·step, y0 + j·step)`
    /// in 16.16; rows are added with `>> shift`.
    pub fn new(field: Perlin, w: usize, x0: i64, y0: i64, step: i64, shift: u32) -> Self {
        let mut frac = Vec::with_capacity(w);
        let mut fade_hi = Vec::with_capacity(w);
        let mut fade_lo = Vec::with_capacity(w);
        let mut spans: Vec<Span> = Vec::new();
        for i in 0..w {
            let a = Axis::new(x0 + i as i64 * step);
            frac.push(a.frac as i32);
            fade_hi.push((a.fade >> 8) as i32);
            fade_lo.push((a.fade & 255) as i32);
            let px0 = usize::from(field.at(a.cell));
            let px1 = usize::from(field.at(a.cell + 1));
            match spans.last_mut() {
                Some(last) if last.px0 == px0 && last.px1 == px1 => last.end = i + 1,
                _ => spans.push(Span {
                    start: i,
                    end: i + 1,
                    px0,
                    px1,
                }),
            }
        }
        OctaveGrid {
            field,
            frac,
            fade_hi,
            fade_lo,
            spans,
            y0,
            step,
            shift,
        }
    }

    /// The grid's width.
    pub fn width(&self) -> usize {
        self.frac.len()
    }

    /// A cursor that computes this octave's rows.
    pub fn rows(&self) -> OctaveRows<'_> {
        let w = self.width();
        OctaveRows {
            grid: self,
            at: None,
            corners: [vec![0; w], vec![0; w], vec![0; w], vec![0; w]],
            deltas: [vec![0; w], vec![0; w], vec![0; w], vec![0; w]],
        }
    }
}

/// The same row loop compiled for the baseline CPU or, chosen at run time, for AVX2 (eight
/// 32-bit lanes and a native 32-bit multiply instead of emulated ones: about 1.7× faster).
/// Integer arithmetic only, so both give the same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Kernel {
    /// The fastest kernel this CPU runs (the check is cached by the standard library).
    fn best() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return Kernel::Avx2;
        }
        Kernel::Portable
    }
}

/// One row of one octave: carry the corner terms down a row, lerp, add into `row`. All
/// slices have the row's width.
struct RowArgs<'a> {
    /// `n00`, `n10 − n00`, `n01`, `n11 − n01` per column.
    corners: [&'a mut [i32]; 4],
    /// What `corners` grow by per row.
    deltas: [&'a [i32]; 4],
    tx_hi: &'a [i32],
    tx_lo: &'a [i32],
    ty_hi: i32,
    ty_lo: i32,
    shift: u32,
    row: &'a mut [i32],
}

impl RowArgs<'_> {
    #[inline(always)]
    fn run(self) {
        let [n00, da, n01, db] = self.corners;
        let [e00, ea, e01, eb] = self.deltas;
        let w = self.row.len();
        let (n00, da, n01, db) = (&mut n00[..w], &mut da[..w], &mut n01[..w], &mut db[..w]);
        let (e00, ea, e01, eb) = (&e00[..w], &ea[..w], &e01[..w], &eb[..w]);
        let (tx_hi, tx_lo) = (&self.tx_hi[..w], &self.tx_lo[..w]);
        let (ty_hi, ty_lo, shift, row) = (self.ty_hi, self.ty_lo, self.shift, self.row);
        for i in 0..w {
            n00[i] += e00[i];
            da[i] += ea[i];
            n01[i] += e01[i];
            db[i] += eb[i];
            let a = n00[i] + mul_fade(da[i], tx_hi[i], tx_lo[i]);
            let b = n01[i] + mul_fade(db[i], tx_hi[i], tx_lo[i]);
            row[i] += (a + mul_fade(b - a, ty_hi, ty_lo)) >> shift;
        }
    }

    /// [`RowArgs::run`] compiled for AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn run_avx2(self) {
        self.run();
    }
}

/// Computes an [`OctaveGrid`]'s rows; fastest when asked for consecutive rows.
///
/// Gives exactly `Perlin::sample(x, y) >> shift` at every grid point, for far less work:
/// per column the fractional part and its fade are computed once ([`OctaveGrid::new`]); per
/// lattice cell row, the four corner gradients of each column are looked up once and the
/// column's corner terms set up; from one row to the next in the same cell only `fy` grows,
/// by `step`, so every corner term grows by a per-column constant. A row is then a few adds
/// and three lerps per point over contiguous arrays, which the compiler vectorises.
///
/// Why this is exact: every intermediate of [`Perlin::sample`] fits in `i32` (corner dot
/// products are below 2¹⁷ in magnitude, lerps stay between their ends), the carried terms are
/// the same integers as the direct ones, and the lerps' products are floored exactly as there
/// (in `i32`, split in two; see `mul_fade`).
#[derive(Debug, Clone)]
pub struct OctaveRows<'a> {
    grid: &'a OctaveGrid,
    /// The row last computed and its lattice cell (the whole cell index, unmasked).
    at: Option<(usize, i64)>,
    /// Per column, for the row last computed: `n00`, `n10 − n00`, `n01`, `n11 − n01`.
    corners: [Vec<i32>; 4],
    /// Per column: what `corners` grow by from one row to the next within a cell.
    deltas: [Vec<i32>; 4],
}

impl OctaveRows<'_> {
    /// Adds row `j` of the octave to `row[i]` for each column `i` (columns past `row.len()`
    /// are skipped, entries past the grid's width are left alone).
    pub fn add_row(&mut self, j: usize, row: &mut [i32]) {
        self.add_row_with(j, row, Kernel::best());
    }

    /// [`OctaveRows::add_row`] with the given kernel.
    fn add_row_with(&mut self, j: usize, row: &mut [i32], kernel: Kernel) {
        let grid = self.grid;
        let y = grid.y0 + j as i64 * grid.step;
        let ya = Axis::new(y);
        let cell = y >> FRAC_BITS;
        let carried = matches!(self.at, Some((prev, c)) if prev + 1 == j && c == cell);
        if !carried {
            self.start_cell(&ya);
        }
        self.at = Some((j, cell));
        let w = grid.width().min(row.len());
        let [n00, da, n01, db] = &mut self.corners;
        let [e00, ea, e01, eb] = &self.deltas;
        let args = RowArgs {
            corners: [&mut n00[..w], &mut da[..w], &mut n01[..w], &mut db[..w]],
            deltas: [&e00[..w], &ea[..w], &e01[..w], &eb[..w]],
            tx_hi: &grid.fade_hi[..w],
            tx_lo: &grid.fade_lo[..w],
            ty_hi: (ya.fade >> 8) as i32,
            ty_lo: (ya.fade & 255) as i32,
            shift: grid.shift,
            row: &mut row[..w],
        };
        match kernel {
            Kernel::Portable => args.run(),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Kernel::best` picks `Avx2` only where the running CPU has AVX2, which
            // is all `run_avx2` needs; the tests ask for it only where the CPU has it too.
            Kernel::Avx2 => unsafe { args.run_avx2() },
        }
    }

    /// Sets up `corners` and `deltas` for a row in lattice cell row `ya.cell`, such that
    /// adding `deltas` once gives that row's corner terms.
    fn start_cell(&mut self, ya: &Axis) {
        let grid = self.grid;
        let one = ONE as i32;
        let fy = ya.frac as i32;
        // Only used while rows stay in one cell, which needs |step| < ONE.
        let step = if grid.step.abs() < ONE {
            grid.step as i32
        } else {
            0
        };
        let (y0, y1) = (ya.cell, (ya.cell + 1) & 255);
        let [n00, da, n01, db] = &mut self.corners;
        let [e00, ea, e01, eb] = &mut self.deltas;
        for span in &grid.spans {
            let g = |h: u8| GRADIENTS[usize::from(h & 7)];
            let (gx00, gy00) = g(grid.field.at(span.px0 + y0));
            let (gx10, gy10) = g(grid.field.at(span.px1 + y0));
            let (gx01, gy01) = g(grid.field.at(span.px0 + y1));
            let (gx11, gy11) = g(grid.field.at(span.px1 + y1));
            // n00 = gx00·fx + gy00·fy, n10 = gx10·(fx − ONE) + gy10·fy,
            // n01 = gx01·fx + gy01·(fy − ONE), n11 = gx11·(fx − ONE) + gy11·(fy − ONE).
            let d = [
                gy00 * step,
                (gy10 - gy00) * step,
                gy01 * step,
                (gy11 - gy01) * step,
            ];
            for i in span.start..span.end {
                let fx = grid.frac[i];
                n00[i] = gx00 * fx + gy00 * fy - d[0];
                da[i] = (gx10 - gx00) * fx - gx10 * one + (gy10 - gy00) * fy - d[1];
                n01[i] = gx01 * fx + gy01 * (fy - one) - d[2];
                db[i] = (gx11 - gx01) * fx - gx11 * one + (gy11 - gy01) * (fy - one) - d[3];
                e00[i] = d[0];
                ea[i] = d[1];
                e01[i] = d[2];
                eb[i] = d[3];
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
    fn rows_in_any_order_match_point_samples() {
        // Steps below and above one cell (rows carried within a cell, and a new cell every
        // row), rows visited out of order and repeated (the cursor sets up again).
        for (seed, step) in [(4, 1_365), (5, 10_920), (6, 70_000), (7, -3_000)] {
            let p = Perlin::new(&mut SplitMix64::new(seed));
            let (w, x0, y0) = (53, -7_777_777, 1 << 23);
            let grid = OctaveGrid::new(p.clone(), w, x0, y0, step, 2);
            let mut rows = grid.rows();
            for j in [0, 1, 2, 3, 40, 41, 41, 5, 99, 100, 101, 102, 103, 0] {
                let mut row = vec![7; w + 2];
                rows.add_row(j, &mut row);
                for (i, &v) in row[..w].iter().enumerate() {
                    let x = x0 + i as i64 * step;
                    let y = y0 + j as i64 * step;
                    assert_eq!(
                        v - 7,
                        p.sample(x, y) >> 2,
                        "seed {seed} step {step} ({i}, {j})"
                    );
                }
                assert_eq!(row[w..], [7, 7]);
            }
            let mut short = vec![0; 10];
            rows.add_row(3, &mut short);
            let mut full = vec![0; w];
            grid.rows().add_row(3, &mut full);
            assert_eq!(short, full[..10]);
        }
    }

    #[test]
    fn every_kernel_this_cpu_runs_gives_the_same_rows() {
        let p = Perlin::new(&mut SplitMix64::new(12));
        let grid = OctaveGrid::new(p, 301, -5_000_000, 3_000_000, 2_730, 1);
        let mut kernels = vec![Kernel::Portable];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            kernels.push(Kernel::Avx2);
        }
        let rows_with = |kernel| {
            let mut rows = grid.rows();
            let mut out = vec![0; 301 * 70];
            for (j, row) in out.chunks_exact_mut(301).enumerate() {
                rows.add_row_with(j, row, kernel);
            }
            out
        };
        let want = rows_with(Kernel::Portable);
        for kernel in kernels {
            assert_eq!(rows_with(kernel), want, "{kernel:?}");
        }
        assert!(want.iter().any(|&v| v != 0));
    }

    #[test]
    fn mul_fade_is_the_floored_product() {
        let mut r = SplitMix64::new(11);
        let ds = (0..2_000).map(|_| (r.next_u64() % (1 << 20)) as i32 - (1 << 19));
        for d in ds.chain([-(1 << 19) + 1, -1, 0, 1, (1 << 19) - 1]) {
            for t in [
                0,
                1,
                255,
                256,
                257,
                32_768,
                65_535,
                65_536,
                (d & 0xffff).abs(),
            ] {
                let want = ((i64::from(d) * i64::from(t)) >> FRAC_BITS) as i32;
                assert_eq!(mul_fade(d, t >> 8, t & 255), want, "{d} × {t}");
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
