//! The dynatile layer: one bit per tile, set when the tile has changed since generation.
//!
//! A client that knows the seed can regenerate the map itself and then needs only the changed
//! tiles; this layer says which ones those are. It is a plain bitset so that a 1024² map costs
//! 128 KiB and run-finding is done a word at a time.

use serde::Serialize;

/// A fixed-length bitset, one bit per tile in row-major order.
///
/// Invariant: bits at and beyond `len` in the last word are always zero, so two layers with the
/// same bits compare and hash equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct DynLayer {
    len: usize,
    words: Vec<u64>,
}

impl DynLayer {
    /// Creates a layer of `len` cleared bits.
    pub fn new(len: usize) -> Self {
        Self {
            len,
            words: vec![0; len.div_ceil(64)],
        }
    }

    /// The number of bits.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the layer has no bits at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Returns bit `i`, or `None` when `i` is out of range.
    pub fn get(&self, i: usize) -> Option<bool> {
        if i < self.len {
            Some(
                self.words
                    .get(i / 64)
                    .is_some_and(|w| (w >> (i % 64)) & 1 == 1),
            )
        } else {
            None
        }
    }

    /// Sets bit `i` to `value`; returns `false` (and changes nothing) when `i` is out of range.
    pub fn set(&mut self, i: usize, value: bool) -> bool {
        if i >= self.len {
            return false;
        }
        match self.words.get_mut(i / 64) {
            Some(w) => {
                let bit = 1u64 << (i % 64);
                if value {
                    *w |= bit;
                } else {
                    *w &= !bit;
                }
                true
            }
            None => false,
        }
    }

    /// Sets every bit in `start..end` (clamped to the layer) to `value`.
    pub fn set_range(&mut self, start: usize, end: usize, value: bool) {
        let end = end.min(self.len);
        let mut i = start;
        while i < end {
            let word = i / 64;
            let lo = i % 64;
            let hi = (end - word * 64).min(64);
            let span = hi - lo;
            let mask = if span == 64 {
                u64::MAX
            } else {
                ((1u64 << span) - 1) << lo
            };
            if let Some(w) = self.words.get_mut(word) {
                if value {
                    *w |= mask;
                } else {
                    *w &= !mask;
                }
            }
            i = word * 64 + hi;
        }
    }

    /// The number of set bits.
    pub fn count_ones(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The raw 64-bit words: bit `i` of the layer is bit `i % 64` of word `i / 64`.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Iterates over the indices of the set bits, in increasing order.
    pub fn iter_ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(k, &w)| {
            let mut rest = w;
            std::iter::from_fn(move || {
                if rest == 0 {
                    None
                } else {
                    let b = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    Some(k * 64 + b)
                }
            })
        })
    }

    /// The first index `>= from` whose bit differs from `value`, or `len` if there is none.
    pub fn next_change(&self, from: usize, value: bool) -> usize {
        let flip = if value { u64::MAX } else { 0 };
        let mut k = from / 64;
        let mut mask = u64::MAX.checked_shl((from % 64) as u32).unwrap_or(0);
        while let Some(&w) = self.words.get(k) {
            let diff = (w ^ flip) & mask;
            if diff != 0 {
                return (k * 64 + diff.trailing_zeros() as usize).min(self.len);
            }
            k += 1;
            mask = u64::MAX;
        }
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_set_and_bounds() {
        let mut d = DynLayer::new(130);
        assert_eq!(d.get(129), Some(false));
        assert_eq!(d.get(130), None);
        assert!(d.set(129, true));
        assert!(!d.set(130, true));
        assert_eq!(d.get(129), Some(true));
        assert_eq!(d.count_ones(), 1);
        d.set(129, false);
        assert_eq!(d.count_ones(), 0);
    }

    #[test]
    fn ranges_and_changes() {
        let mut d = DynLayer::new(200);
        d.set_range(3, 150, true);
        assert_eq!(d.count_ones(), 147);
        assert_eq!(d.next_change(0, false), 3);
        assert_eq!(d.next_change(3, true), 150);
        assert_eq!(d.next_change(150, false), 200);
        d.set_range(190, 1000, true);
        assert_eq!(d.count_ones(), 157);
        assert_eq!(d.next_change(190, true), 200);
        assert_eq!(d.iter_ones().next(), Some(3));
        assert_eq!(d.iter_ones().last(), Some(199));
    }
}
