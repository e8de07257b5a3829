//! The wire encoding of each spec type, stated once for every emitter.
//!
//! The Rust emitter, the Markdown reference and the dissector all describe the same bytes; this
//! module is the single statement of what those bytes are and how many there can be.
//!
//! - Fixed-width integers: two's complement, in the field's byte order (else the protocol's).
//! - `VarU32`/`VarU64`: LEB128 (7 bits per byte, low groups first, high bit = more follows),
//!   at most 5 / 10 bytes. `VarI32`/`VarI64`: zigzag, then LEB128.
//! - `Bool`: one byte, 0 or 1.
//! - `String`/`Bytes`: length prefix (see [`LenTy`]) then the bytes; strings are UTF-8.
//! - `List`: count prefix then the items. `Array`: the items, no prefix.
//! - `Option`: one byte 0/1 then the value; in a struct with `presence: true`, a mask at the
//!   start of the struct holds one bit per option field instead (bit i = i-th option field,
//!   least significant first; the mask is the smallest of u8/u16/u32/u64 that fits).
//! - `Ref`: the named type. An enum is its tag; flags are their integer; a union is its tag then
//!   the variant's fields.
//! - `Magic`: the ASCII bytes, verbatim.
//! - `Compressed`: a `VarU32` length, then that many bytes of a zlib stream (RFC 1950) that
//!   inflates to the inner value's encoding, at most `max` bytes.

use crate::model::{IntTy, LenTy, Protocol, Ty, TypeDef};

/// Largest number of compressed bytes accepted for a `Compressed` value inflating to `max`.
pub fn compressed_limit(max: u32) -> u64 {
    u64::from(max) + u64::from(max) / 64 + 64
}

/// Bytes of a length prefix: (fewest, most).
pub fn len_size(len: LenTy, max: u64) -> (u64, u64) {
    match len {
        LenTy::Var => (1, varint_len(max)),
        LenTy::U8 => (1, 1),
        LenTy::U16 => (2, 2),
        LenTy::U32 => (4, 4),
    }
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

/// A short human description of a wire type, e.g. `list of PlayerDelta (≤ 1024, varint count)`.
pub fn describe(ty: &Ty) -> String {
    match ty {
        Ty::U8 => "u8".into(),
        Ty::U16 => "u16".into(),
        Ty::U32 => "u32".into(),
        Ty::U64 => "u64".into(),
        Ty::I8 => "i8".into(),
        Ty::I16 => "i16".into(),
        Ty::I32 => "i32".into(),
        Ty::I64 => "i64".into(),
        Ty::F32 => "f32".into(),
        Ty::F64 => "f64".into(),
        Ty::Bool => "bool (0 or 1)".into(),
        Ty::VarU32 => "varint u32 (LEB128, 1–5 B)".into(),
        Ty::VarU64 => "varint u64 (LEB128, 1–10 B)".into(),
        Ty::VarI32 => "varint i32 (zigzag LEB128, 1–5 B)".into(),
        Ty::VarI64 => "varint i64 (zigzag LEB128, 1–10 B)".into(),
        Ty::String { max, len } => format!("UTF-8 string (≤ {max} B, {} length)", len_word(*len)),
        Ty::Bytes { max, len } => format!("bytes (≤ {max} B, {} length)", len_word(*len)),
        Ty::List { of, max, len } => format!(
            "list of {} (≤ {max}, {} count)",
            describe(of),
            len_word(*len)
        ),
        Ty::Array { of, len } => format!("{len} × {}", describe(of)),
        Ty::Option(inner) => format!("optional {}", describe(inner)),
        Ty::Ref(name) => name.clone(),
        Ty::Magic(text) => format!("magic \"{text}\""),
        Ty::Compressed { of, max } => format!(
            "zlib-compressed {} (≤ {max} B inflated, varint length)",
            describe(of)
        ),
    }
}

fn len_word(len: LenTy) -> &'static str {
    match len {
        LenTy::Var => "varint",
        LenTy::U8 => "u8",
        LenTy::U16 => "u16",
        LenTy::U32 => "u32",
    }
}

/// Fewest and most bytes a value of `ty` takes on the wire (`None` = unbounded / too deep).
///
/// `in_presence_struct` says whether an `Option` is a presence bit (no byte of its own).
pub fn size_range(spec: &Protocol, ty: &Ty, in_presence_struct: bool) -> (u64, Option<u64>) {
    size_range_depth(spec, ty, in_presence_struct, 0)
}

fn size_range_depth(spec: &Protocol, ty: &Ty, presence: bool, depth: u32) -> (u64, Option<u64>) {
    if depth > 32 {
        return (0, None);
    }
    let fixed = |n: u64| (n, Some(n));
    match ty {
        Ty::U8 | Ty::I8 | Ty::Bool => fixed(1),
        Ty::U16 | Ty::I16 => fixed(2),
        Ty::U32 | Ty::I32 | Ty::F32 => fixed(4),
        Ty::U64 | Ty::I64 | Ty::F64 => fixed(8),
        Ty::VarU32 | Ty::VarI32 => (1, Some(5)),
        Ty::VarU64 | Ty::VarI64 => (1, Some(10)),
        Ty::String { max, len } | Ty::Bytes { max, len } => {
            let (lo, hi) = len_size(*len, u64::from(*max));
            (lo, Some(hi + u64::from(*max)))
        }
        Ty::List { of, max, len } => {
            let (lo, hi) = len_size(*len, u64::from(*max));
            let (_, item_hi) = size_range_depth(spec, of, false, depth + 1);
            (
                lo,
                item_hi
                    .and_then(|i| i.checked_mul(u64::from(*max)))
                    .and_then(|b| b.checked_add(hi)),
            )
        }
        Ty::Array { of, len } => {
            let (item_lo, item_hi) = size_range_depth(spec, of, false, depth + 1);
            (
                item_lo * u64::from(*len),
                item_hi.and_then(|i| i.checked_mul(u64::from(*len))),
            )
        }
        Ty::Option(inner) => {
            let (_, hi) = size_range_depth(spec, inner, false, depth + 1);
            let tag = if presence { 0 } else { 1 };
            (tag, hi.map(|h| h + tag))
        }
        Ty::Magic(text) => fixed(text.len() as u64),
        Ty::Compressed { max, .. } => (
            1,
            Some(varint_len(compressed_limit(*max)) + compressed_limit(*max)),
        ),
        Ty::Ref(name) => match spec.types.iter().find(|t| t.name() == name) {
            None => (0, None),
            Some(def) => match &def.node {
                TypeDef::Enum { tag, .. } | TypeDef::Flags { repr: tag, .. } => {
                    fixed(u64::from(tag.bits() / 8))
                }
                TypeDef::Struct {
                    presence, fields, ..
                } => fields_range(spec, fields, *presence, depth),
                TypeDef::Union { tag, variants, .. } => {
                    let tag_bytes = u64::from(tag.bits() / 8);
                    let mut lo = u64::MAX;
                    let mut hi = Some(0u64);
                    for v in variants {
                        let (l, h) = fields_range(spec, &v.fields, v.presence, depth);
                        lo = lo.min(l);
                        hi = match (hi, h) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            _ => None,
                        };
                    }
                    (
                        tag_bytes + if lo == u64::MAX { 0 } else { lo },
                        hi.map(|h| h + tag_bytes),
                    )
                }
            },
        },
    }
}

/// Fewest and most bytes of a list of fields (a struct, packet or union variant body).
pub fn fields_range(
    spec: &Protocol,
    fields: &[crate::span::Spanned<crate::model::Field>],
    presence: bool,
    depth: u32,
) -> (u64, Option<u64>) {
    let options = fields
        .iter()
        .filter(|f| matches!(f.ty, Ty::Option(_)))
        .count();
    let mask = if presence {
        presence_width(options).map_or(0, |t| u64::from(t.bits() / 8))
    } else {
        0
    };
    let mut lo = mask;
    let mut hi = Some(mask);
    for f in fields {
        let (l, h) = size_range_depth(spec, &f.ty, presence, depth + 1);
        lo += l;
        hi = hi.zip(h).map(|(a, b)| a + b);
    }
    (lo, hi)
}
