//! Field-level items for code that builds or peeks at a body part by part.
//!
//! The generated types encode and decode whole bodies. A few places must work below that: the
//! server assembles each client's Snapshot from deltas encoded once and shared between viewers,
//! and recorders read a snapshot's tick without decoding its players. Without help they would
//! write the spec's bounds, prefixes and field order again by hand, and drift from it the day
//! the spec changes. This module emits, next to the generated types and from the same resolved
//! layout ([`crate::layout`]), an inherent `impl` per struct and packet with:
//!
//! - for every counted or length-prefixed field: `FIELD_MAX` (most items or bytes, the spec's
//!   bound, as `usize`) and `FIELD_PREFIX` (the runtime's `Len` in front of it); for an array,
//!   `FIELD_LEN`;
//! - `write_FIELD(value, out)` for every field whose encoding is a scalar, a shared type, or a
//!   list of those, and `write_FIELD_count(n, out)` for every list (the count prefix alone,
//!   checked against the bound), so a body can be written part by part with the spec's bytes;
//! - `peek_FIELD(body)` for each field of the leading run of fixed-size and varint fields (after
//!   an optional magic), which reads it from the start of an encoded body without decoding the
//!   rest.
//!
//! Everything goes through the same runtime codecs as the generated `#[br(parse_with)]` /
//! `#[bw(write_with)]` attributes (`rt::VarU32`, `rt::List<…>`, `rt::write_len`, ...), so a part
//! written here is byte for byte what the whole-body encoder writes. Hand-written code names these items, never a number of the spec.

use std::fmt::Write as _;

use crate::layout::{self, Body, Encoding, FieldLayout, Int, Layout, Prefix, TypeLayout};
use crate::names::{to_screaming_case, to_snake_case};
use crate::parse::SpecFile;

/// The field items of every struct and packet of `spec`, as unformatted Rust to place in the
/// generated module (where `rt` names the runtime).
pub fn generate_unformatted(spec: &SpecFile) -> String {
    let l = layout::resolve(&spec.protocol);
    let mut out = String::from(
        "// Field-level items (bounds, part writers, head readers): see `tilegame_codegen::fields`.\n",
    );
    for t in &l.types {
        if let TypeLayout::Struct(body) = &t.def {
            record(&mut out, &l, &t.name, &t.name, body);
        }
    }
    for dir in crate::model::Direction::ALL {
        for pk in l.every_state.packets(dir) {
            record(&mut out, &l, &pk.name, &pk.name, &pk.body);
        }
    }
    for state in &l.states {
        for dir in crate::model::Direction::ALL {
            for pk in state.packets(dir).iter().filter(|p| !p.shared) {
                let path = format!("{}::{}", state.module, pk.name);
                record(&mut out, &l, &path, &pk.name, &pk.body);
            }
        }
    }
    out
}

/// The field items of `spec`, formatted (appended to the generated module by
/// [`crate::Builder`]).
pub fn generate(spec: &SpecFile) -> Result<String, String> {
    let raw = generate_unformatted(spec);
    let file = syn::parse_file(&raw).map_err(|e| format!("{e} in the field items:\n{raw}"))?;
    Ok(prettyplease::unparse(&file))
}

/// `::binrw::Endian::Big` or `Little` for a field.
fn endian(l: &Layout, f: &FieldLayout) -> &'static str {
    if f.endian.unwrap_or(l.little) {
        "::binrw::Endian::Little"
    } else {
        "::binrw::Endian::Big"
    }
}

fn len_path(len: Prefix) -> &'static str {
    match len {
        Prefix::Var => "rt::Len::Var",
        Prefix::Fixed(Int { bytes: 1, .. }) => "rt::Len::U8",
        Prefix::Fixed(Int { bytes: 2, .. }) => "rt::Len::U16",
        Prefix::Fixed(_) => "rt::Len::U32",
    }
}

/// The Rust type and the runtime codec (`rt::Codec`, as an expression path) of a value
/// written as one piece, if it is one.
fn scalar(e: &Encoding) -> Option<(String, String)> {
    let ty = match e {
        Encoding::Int(i) => i.name(),
        Encoding::Var { signed, wide } => format!(
            "{}{}",
            if *signed { 'i' } else { 'u' },
            if *wide { 64 } else { 32 }
        ),
        Encoding::Bool => "bool".into(),
        Encoding::Named(n) => n.clone(),
        _ => return None,
    };
    Some((ty, crate::rust::codec_path(e)))
}

/// Whether a value is made only of fixed-size values and varints (integers, bools, magic,
/// enums, flags, and structs of those), so that fields after it are found by reading only the
/// values in front of them.
fn is_head(l: &Layout, e: &Encoding, depth: u32) -> bool {
    match e {
        Encoding::Int(_) | Encoding::Var { .. } | Encoding::Bool | Encoding::Magic(_) => true,
        Encoding::Named(n) if depth < 8 => match l.named(n).map(|t| &t.def) {
            Some(TypeLayout::Enum { .. } | TypeLayout::Flags { .. }) => true,
            Some(TypeLayout::Struct(b)) => {
                b.mask.is_none() && b.fields.iter().all(|f| is_head(l, &f.encoding, depth + 1))
            }
            _ => false,
        },
        _ => false,
    }
}

fn record(out: &mut String, l: &Layout, path: &str, name: &str, body: &Body) {
    let mut items = String::new();
    for f in &body.fields {
        let upper = to_screaming_case(&f.name);
        let snake = to_snake_case(&f.name);
        let e = endian(l, f);
        let words = f.encoding.words();
        match &f.encoding {
            Encoding::List { of, max, len } => {
                let _ = write!(
                    items,
                    "/// Most items `{0}` holds (the spec's bound).\npub const {upper}_MAX: usize = {max};\n\
                     /// The count in front of `{0}`.\npub const {upper}_PREFIX: rt::Len = {1};\n\
                     /// Writes the count in front of `{0}` ({words}), checked against its bound.\n\
                     pub fn write_{snake}_count(n: usize, out: &mut Vec<u8>) -> Result<(), rt::EncodeError> {{ \
                     rt::encode_part({name:?}, {0:?}, out, |w| rt::write_len(w, {e}, {1}, n, {max})) }}\n",
                    f.name,
                    len_path(*len),
                );
                if let Some((ty, _)) = scalar(of) {
                    let list = crate::rust::codec_path(&f.encoding);
                    let _ = write!(
                        items,
                        "/// Writes `{0}` ({words}): its count, then each item.\n\
                         pub fn write_{snake}(v: &[{ty}], out: &mut Vec<u8>) -> Result<(), rt::EncodeError> {{ \
                         rt::encode_part({name:?}, {0:?}, out, |w| {list}::write_slice(v, w, {e})) }}\n",
                        f.name,
                    );
                }
            }
            Encoding::Blob { max, len, .. } => {
                let _ = write!(
                    items,
                    "/// Most bytes `{0}` holds (the spec's bound).\npub const {upper}_MAX: usize = {max};\n\
                     /// The length in front of `{0}`.\npub const {upper}_PREFIX: rt::Len = {1};\n",
                    f.name,
                    len_path(*len),
                );
            }
            Encoding::Compressed { max, .. } => {
                let _ = write!(
                    items,
                    "/// Most bytes `{0}` inflates to (the spec's bound).\npub const {upper}_MAX: usize = {max};\n",
                    f.name,
                );
            }
            Encoding::Array { len, .. } => {
                let _ = write!(
                    items,
                    "/// Items in `{0}` (a fixed count).\npub const {upper}_LEN: usize = {len};\n",
                    f.name,
                );
            }
            other => {
                if let Some((ty, c)) = scalar(other) {
                    let _ = write!(
                        items,
                        "/// Writes `{0}` ({words}).\n\
                         pub fn write_{snake}(v: &{ty}, out: &mut Vec<u8>) -> Result<(), rt::EncodeError> {{ \
                         rt::encode_part({name:?}, {0:?}, out, |w| {c}::write(v, w, {e}, ())) }}\n",
                        f.name,
                    );
                }
            }
        }
    }
    // Head readers: the leading run of fixed-size and varint fields, when nothing (a presence
    // mask) comes before them.
    if body.mask.is_none() {
        let mut before = String::new();
        for f in body
            .fields
            .iter()
            .take_while(|f| is_head(l, &f.encoding, 0))
        {
            let e = endian(l, f);
            let read = match &f.encoding {
                Encoding::Magic(text) => {
                    let _ = write!(
                        before,
                        "rt::field({:?}, rt::read_magic(r, {e}, b{text:?}))?; ",
                        f.name
                    );
                    continue;
                }
                other => match scalar(other) {
                    Some((_, c)) => c,
                    None => break,
                },
            };
            let ty = scalar(&f.encoding).map_or_else(String::new, |s| s.0);
            let _ = write!(
                items,
                "/// Reads `{0}` from the start of an encoded body without decoding the rest.\n\
                 pub fn peek_{1}(body: &[u8]) -> Result<{ty}, rt::DecodeError> {{ \
                 rt::peek_part({name:?}, body, |r| {{ {before}rt::field({0:?}, {read}::parse(r, {e}, ())) }}) }}\n",
                f.name,
                to_snake_case(&f.name),
            );
            let _ = write!(
                before,
                "rt::field({:?}, {read}::parse(r, {e}, ()))?; ",
                f.name
            );
        }
    }
    if !items.is_empty() {
        let _ = writeln!(out, "impl {path} {{\n{items}}}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> SpecFile {
        crate::load_str("t.ron", text).unwrap_or_else(|e| panic!("{e}"))
    }

    const SPEC: &str = r#"Protocol(name: "t", version: 1, max_frame: 1000,
        types: [Struct(name: "P", doc: "p", fields: [(name: "x", ty: U16, doc: "x")])],
        states: [State(name: "Play", doc: "d", to_server: [], to_client: [
            Packet(id: 0, name: "Snap", doc: "d", fields: [
                (name: "tick", ty: VarU32, doc: "t"),
                (name: "flag", ty: Bool, doc: "f"),
                (name: "p", ty: Ref("P"), doc: "p"),
                (name: "items", ty: List(of: Ref("P"), max: 7), doc: "i"),
                (name: "after", ty: U8, doc: "a"),
            ]),
        ])])"#;

    #[test]
    fn bounds_writers_and_head_readers_follow_the_spec() {
        let code = generate_unformatted(&spec(SPEC));
        assert!(code.contains("impl play::Snap {"), "{code}");
        assert!(code.contains("pub const ITEMS_MAX: usize = 7;"), "{code}");
        assert!(code.contains("pub const ITEMS_PREFIX: rt::Len = rt::Len::Var;"));
        assert!(code.contains("pub fn write_items_count(n: usize"));
        assert!(code.contains("pub fn write_items(v: &[P]"));
        assert!(code.contains("pub fn write_tick(v: &u32"));
        assert!(code.contains("pub fn peek_tick(body: &[u8]) -> Result<u32"));
        assert!(code.contains("pub fn peek_flag(body: &[u8]) -> Result<bool"));
        // A struct of fixed-size values is part of the head.
        assert!(
            code.contains("pub fn peek_p(body: &[u8]) -> Result<P"),
            "{code}"
        );
        // Fields after the first list are not at a known place: no head reader for them.
        assert!(!code.contains("peek_after"), "{code}");
        syn::parse_file(&code).expect("the items parse");
    }

    #[test]
    fn a_changed_bound_changes_the_constant() {
        let code = generate_unformatted(&spec(&SPEC.replace("max: 7", "max: 9")));
        assert!(code.contains("pub const ITEMS_MAX: usize = 9;"), "{code}");
        assert!(code.contains("rt::Len::Var, n, 9)"), "{code}");
    }
}
