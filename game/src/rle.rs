//! Run-length codecs for the two map layers.
//!
//! Generated maps have long runs of the same tile and the dynatile layer is almost all zeros, so
//! run-length coding shrinks both a lot before the protocol compresses them further. The decoders
//! read bytes from the network: they never panic, never allocate more than the caller's expected
//! cell count, and report every malformation as a typed [`RleError`].
//!
//! Formats (counts are unsigned LEB128 varints of at most 5 bytes, i.e. at most `u32::MAX`):
//! - **Tile layer**: a sequence of `(tile id: u8, count: varint ≥ 1)` pairs in row-major order;
//!   the counts add up to exactly the layer's cell count.
//! - **Dynatile layer**: a sequence of varint run lengths alternating between clear and set
//!   bits, starting with clear bits; only the first run may be 0; the runs add up to exactly the
//!   layer's cell count.

use thiserror::Error;

use crate::dynatile::DynLayer;
use crate::tile::Tile;

/// The largest layer the decoders accept (a 1024 × 1024 map).
pub const MAX_CELLS: usize = crate::spec::MAX_MAP_CELLS as usize;

/// What is wrong with run-length data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RleError {
    /// The data ended inside a pair or a varint.
    #[error("run-length data is truncated at byte {offset}")]
    Truncated {
        /// Byte offset where more data was needed.
        offset: usize,
    },
    /// A tile id that names no tile.
    #[error("unknown tile id {id} at byte {offset}")]
    UnknownTile {
        /// The offending byte.
        id: u8,
        /// Its offset.
        offset: usize,
    },
    /// A run of length zero where runs must be non-empty.
    #[error("zero-length run at byte {offset}")]
    ZeroRun {
        /// Offset of the count.
        offset: usize,
    },
    /// A run that goes past the end of the layer.
    #[error("run at byte {offset} overflows the layer of {expected} cells")]
    Overflow {
        /// Offset of the count.
        offset: usize,
        /// The layer's cell count.
        expected: usize,
    },
    /// The runs end before the layer is full.
    #[error("run-length data covers {got} of {expected} cells")]
    TooShort {
        /// Cells covered.
        got: usize,
        /// The layer's cell count.
        expected: usize,
    },
    /// Bytes left after the layer is full.
    #[error("{extra} trailing bytes after the layer at byte {offset}")]
    TrailingBytes {
        /// Offset of the first extra byte.
        offset: usize,
        /// How many bytes are left.
        extra: usize,
    },
    /// A varint longer than 5 bytes or above `u32::MAX`.
    #[error("run length at byte {offset} does not fit in 32 bits")]
    VarintOverflow {
        /// Offset of the varint.
        offset: usize,
    },
    /// The caller asked for a layer larger than [`MAX_CELLS`].
    #[error("a layer of {len} cells exceeds the maximum of {MAX_CELLS}")]
    TooLarge {
        /// The requested cell count.
        len: usize,
    },
}

/// Appends `v` as an unsigned LEB128 varint.
fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A cursor over untrusted bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn u8(&mut self) -> Result<u8, RleError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or(RleError::Truncated { offset: self.pos })?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u32, RleError> {
        let start = self.pos;
        let mut v: u32 = 0;
        for i in 0..5 {
            let b = self.u8()?;
            let bits = u32::from(b & 0x7f);
            if i == 4 && bits > 0x0f {
                return Err(RleError::VarintOverflow { offset: start });
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(RleError::VarintOverflow { offset: start })
    }
}

/// Splits a run length into chunks that fit a `u32` varint (only matters above 4 Gi cells).
fn put_run(out: &mut Vec<u8>, prefix: Option<u8>, mut n: usize) {
    loop {
        let chunk = u32::try_from(n).unwrap_or(u32::MAX);
        if let Some(p) = prefix {
            out.push(p);
        }
        put_varint(out, chunk);
        n -= chunk as usize;
        if n == 0 {
            return;
        }
        if prefix.is_none() {
            // Alternating runs: an empty opposite run keeps the parity.
            put_varint(out, 0);
        }
    }
}

/// Encodes a tile layer.
pub fn encode_tiles(tiles: &[Tile]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&t) = tiles.get(i) {
        let run = tiles[i..].iter().take_while(|&&u| u == t).count();
        put_run(&mut out, Some(t.id()), run);
        i += run;
    }
    out
}

/// Decodes a tile layer of exactly `len` cells.
pub fn decode_tiles(bytes: &[u8], len: usize) -> Result<Vec<Tile>, RleError> {
    if len > MAX_CELLS {
        return Err(RleError::TooLarge { len });
    }
    let mut r = Reader { bytes, pos: 0 };
    let mut tiles = Vec::with_capacity(len);
    while tiles.len() < len {
        if r.at_end() {
            return Err(RleError::TooShort {
                got: tiles.len(),
                expected: len,
            });
        }
        let offset = r.pos;
        let id = r.u8()?;
        let tile = Tile::from_u8(id).ok_or(RleError::UnknownTile { id, offset })?;
        let count_at = r.pos;
        let count = r.varint()? as usize;
        if count == 0 {
            return Err(RleError::ZeroRun { offset: count_at });
        }
        if count > len - tiles.len() {
            return Err(RleError::Overflow {
                offset: count_at,
                expected: len,
            });
        }
        tiles.resize(tiles.len() + count, tile);
    }
    if !r.at_end() {
        return Err(RleError::TrailingBytes {
            offset: r.pos,
            extra: bytes.len() - r.pos,
        });
    }
    Ok(tiles)
}

/// Encodes a dynatile layer.
pub fn encode_dynatiles(layer: &DynLayer) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut value = false;
    let len = layer.len();
    if len == 0 {
        put_varint(&mut out, 0);
        return out;
    }
    while i < len {
        let next = layer.next_change(i, value);
        put_run(&mut out, None, next - i);
        i = next;
        value = !value;
    }
    out
}

/// Decodes a dynatile layer of exactly `len` cells.
pub fn decode_dynatiles(bytes: &[u8], len: usize) -> Result<DynLayer, RleError> {
    if len > MAX_CELLS {
        return Err(RleError::TooLarge { len });
    }
    let mut r = Reader { bytes, pos: 0 };
    let mut layer = DynLayer::new(len);
    let mut filled = 0usize;
    let mut value = false;
    let mut first = true;
    while filled < len || first {
        if r.at_end() {
            return Err(if first {
                RleError::Truncated { offset: 0 }
            } else {
                RleError::TooShort {
                    got: filled,
                    expected: len,
                }
            });
        }
        let offset = r.pos;
        let count = r.varint()? as usize;
        if count == 0 && !first {
            return Err(RleError::ZeroRun { offset });
        }
        if count > len - filled {
            return Err(RleError::Overflow {
                offset,
                expected: len,
            });
        }
        if value {
            layer.set_range(filled, filled + count, true);
        }
        filled += count;
        value = !value;
        first = false;
    }
    if !r.at_end() {
        return Err(RleError::TrailingBytes {
            offset: r.pos,
            extra: bytes.len() - r.pos,
        });
    }
    Ok(layer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tile::ALL_TILES;
    use proptest::prelude::*;

    #[test]
    fn tiles_round_trip_and_are_compact() {
        let mut tiles = vec![Tile::Grass; 1000];
        tiles[500] = Tile::Lava;
        let bytes = encode_tiles(&tiles);
        assert_eq!(bytes, vec![1, 0xf4, 0x03, 9, 1, 1, 0xf3, 0x03]);
        assert_eq!(decode_tiles(&bytes, 1000), Ok(tiles));
    }

    #[test]
    fn dynatiles_round_trip() {
        let mut d = DynLayer::new(100);
        assert_eq!(encode_dynatiles(&d), vec![100]);
        d.set(0, true);
        d.set(99, true);
        let bytes = encode_dynatiles(&d);
        assert_eq!(bytes, vec![0, 1, 98, 1]);
        assert_eq!(decode_dynatiles(&bytes, 100), Ok(d));
        assert_eq!(encode_dynatiles(&DynLayer::new(0)), vec![0]);
        assert_eq!(decode_dynatiles(&[0], 0), Ok(DynLayer::new(0)));
    }

    #[test]
    fn hostile_tile_input_is_rejected() {
        // A count that overflows W*H.
        assert_eq!(
            decode_tiles(&[1, 11], 10),
            Err(RleError::Overflow {
                offset: 1,
                expected: 10
            })
        );
        // A huge count (u32::MAX) must not allocate.
        assert!(matches!(
            decode_tiles(&[1, 0xff, 0xff, 0xff, 0xff, 0x0f], 10),
            Err(RleError::Overflow { .. })
        ));
        // Varint beyond 32 bits / 5 bytes.
        assert_eq!(
            decode_tiles(&[1, 0xff, 0xff, 0xff, 0xff, 0x1f], 10),
            Err(RleError::VarintOverflow { offset: 1 })
        );
        assert_eq!(
            decode_tiles(&[1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], 10),
            Err(RleError::VarintOverflow { offset: 1 })
        );
        // Truncated pair and truncated varint.
        assert_eq!(
            decode_tiles(&[1], 10),
            Err(RleError::Truncated { offset: 1 })
        );
        assert_eq!(
            decode_tiles(&[1, 0x85], 10),
            Err(RleError::Truncated { offset: 2 })
        );
        // Too few cells.
        assert_eq!(
            decode_tiles(&[1, 4], 10),
            Err(RleError::TooShort {
                got: 4,
                expected: 10
            })
        );
        assert_eq!(
            decode_tiles(&[], 10),
            Err(RleError::TooShort {
                got: 0,
                expected: 10
            })
        );
        // Unknown tile byte.
        assert_eq!(
            decode_tiles(&[1, 5, 200, 5], 10),
            Err(RleError::UnknownTile { id: 200, offset: 2 })
        );
        // Zero run, trailing bytes, oversized layer.
        assert_eq!(
            decode_tiles(&[1, 0, 1, 10], 10),
            Err(RleError::ZeroRun { offset: 1 })
        );
        assert_eq!(
            decode_tiles(&[1, 10, 1], 10),
            Err(RleError::TrailingBytes {
                offset: 2,
                extra: 1
            })
        );
        assert_eq!(
            decode_tiles(&[1, 10], MAX_CELLS + 1),
            Err(RleError::TooLarge { len: MAX_CELLS + 1 })
        );
    }

    #[test]
    fn hostile_dynatile_input_is_rejected() {
        assert_eq!(
            decode_dynatiles(&[5, 6], 10),
            Err(RleError::Overflow {
                offset: 1,
                expected: 10
            })
        );
        assert_eq!(
            decode_dynatiles(&[5, 0, 5], 10),
            Err(RleError::ZeroRun { offset: 1 })
        );
        assert_eq!(
            decode_dynatiles(&[5], 10),
            Err(RleError::TooShort {
                got: 5,
                expected: 10
            })
        );
        assert_eq!(
            decode_dynatiles(&[], 10),
            Err(RleError::Truncated { offset: 0 })
        );
        assert_eq!(
            decode_dynatiles(&[0x8a], 10),
            Err(RleError::Truncated { offset: 1 })
        );
        assert_eq!(
            decode_dynatiles(&[10, 1], 10),
            Err(RleError::TrailingBytes {
                offset: 1,
                extra: 1
            })
        );
        assert_eq!(
            decode_dynatiles(&[0xff, 0xff, 0xff, 0xff, 0x7f], 10),
            Err(RleError::VarintOverflow { offset: 0 })
        );
    }

    fn tiles_strategy() -> impl Strategy<Value = Vec<Tile>> {
        // Runs of random tiles, so that both long and short runs appear.
        prop::collection::vec((0..ALL_TILES.len(), 1usize..300), 0..40).prop_map(|runs| {
            runs.into_iter()
                .flat_map(|(t, n)| std::iter::repeat_n(ALL_TILES[t], n))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn prop_tiles_round_trip(tiles in tiles_strategy()) {
            let bytes = encode_tiles(&tiles);
            prop_assert_eq!(decode_tiles(&bytes, tiles.len()), Ok(tiles));
        }

        #[test]
        fn prop_dynatiles_round_trip(len in 0usize..2000, ones in prop::collection::vec(0usize..2000, 0..200), ranges in prop::collection::vec((0usize..2000, 0usize..300), 0..5)) {
            let mut d = DynLayer::new(len);
            for i in ones { d.set(i, true); }
            for (s, n) in ranges { d.set_range(s, s + n, true); }
            let bytes = encode_dynatiles(&d);
            prop_assert_eq!(decode_dynatiles(&bytes, len), Ok(d));
        }

        #[test]
        fn prop_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64), len in 0usize..5000) {
            let _ = decode_tiles(&bytes, len);
            let _ = decode_dynatiles(&bytes, len);
        }
    }
}
