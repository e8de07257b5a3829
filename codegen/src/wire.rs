//! The wire encoding of each spec type in prose, and the few numbers it is built from.
//!
//! [`crate::layout`] resolves every type and field of a spec to its encoding (widths, byte
//! orders, prefixes, bounds, presence bits, sizes, the words that describe it) using these
//! numbers; the emitters read that layout, never this module's rules again.
//!
//! - Fixed-width integers: two's complement, in the field's byte order (else the protocol's).
//! - `VarU32`/`VarU64`: LEB128 (7 bits per byte, low groups first, high bit = more follows),
//!   at most 5 / 10 bytes. `VarI32`/`VarI64`: zigzag, then LEB128.
//! - `Bool`: one byte, 0 or 1.
//! - `String`/`Bytes`: length prefix (see [`crate::model::LenTy`]) then the bytes; strings are UTF-8.
//! - `List`: count prefix then the items. `Array`: the items, no prefix.
//! - `Option`: one byte 0/1 then the value; in a struct with `presence: true`, a mask at the
//!   start of the struct holds one bit per option field instead (bit i = i-th option field,
//!   least significant first; the mask is the smallest of u8/u16/u32/u64 that fits).
//! - `Ref`: the named type. An enum is its tag; flags are their integer; a union is its tag then
//!   the variant's fields.
//! - `Magic`: the ASCII bytes, verbatim.
//! - `Compressed`: a `VarU32` length, then that many bytes of a zlib stream (RFC 1950) that
//!   inflates to the inner value's encoding, at most `max` bytes.

use crate::model::IntTy;

/// Largest number of compressed bytes accepted for a `Compressed` value inflating to `max`.
pub fn compressed_limit(max: u32) -> u64 {
    u64::from(max) + u64::from(max) / 64 + 64
}

/// Bytes LEB128 needs for `value`.
pub fn varint_len(value: u64) -> u64 {
    let bits = 64 - u64::from(value.leading_zeros());
    bits.div_ceil(7).max(1)
}

/// Width in bytes of the presence mask for `options` option fields.
pub fn presence_width(options: usize) -> Option<IntTy> {
    match options {
        0 => None,
        1..=8 => Some(IntTy::U8),
        9..=16 => Some(IntTy::U16),
        17..=32 => Some(IntTy::U32),
        _ => Some(IntTy::U64),
    }
}
