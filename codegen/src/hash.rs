//! The spec hash: a fingerprint of everything in a spec that affects the wire or the generated API.
//!
//! The handshake exchanges it so that two builds with different protocol definitions refuse each
//! other with a clear reason instead of misreading bytes. It is computed over a normalised form
//! of the parsed spec — names, ids, types, bounds, byte orders — so whitespace, comments, field
//! formatting and documentation text never change it. The hash is the first 8 bytes (big-endian)
//! of the SHA-256 of [`normalized`].

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::model::{Field, Protocol, TypeDef};
use crate::span::Spanned;

/// The canonical text the hash is computed over (one declaration per line).
pub fn normalized(p: &Protocol) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "protocol {} v{} endian={:?} max_frame={}",
        p.name, p.version, p.endian, p.max_frame
    );
    for c in &p.constants {
        let _ = writeln!(out, "const {}: {:?} = {}", c.name, c.ty, c.value);
    }
    for t in &p.types {
        match &t.node {
            TypeDef::Struct {
                name,
                presence,
                floats,
                fields,
                ..
            } => {
                let _ = writeln!(out, "struct {name} presence={presence} floats={floats}");
                write_fields(&mut out, fields);
            }
            TypeDef::Enum {
                name,
                tag,
                properties,
                variants,
                ..
            } => {
                let _ = writeln!(out, "enum {name} tag={tag:?}");
                for prop in properties {
                    let _ = writeln!(out, "  property {}: {:?}", prop.name, prop.ty);
                }
                for v in variants {
                    let _ = write!(out, "  variant {}={}", v.name, v.value);
                    for (key, value) in &v.props {
                        let _ = write!(out, " {key}={value}");
                    }
                    out.push('\n');
                }
            }
            TypeDef::Flags {
                name, repr, bits, ..
            } => {
                let _ = writeln!(out, "flags {name} repr={repr:?}");
                for b in bits {
                    let _ = writeln!(out, "  bit {}={}", b.name, b.bit);
                }
            }
            TypeDef::Union {
                name,
                tag,
                variants,
                ..
            } => {
                let _ = writeln!(out, "union {name} tag={tag:?}");
                for v in variants {
                    let _ = writeln!(
                        out,
                        "  variant {}={} presence={} floats={}",
                        v.name, v.value, v.presence, v.floats
                    );
                    write_fields(&mut out, &v.fields);
                }
            }
        }
    }
    for s in &p.states {
        let _ = writeln!(out, "state {}", s.name);
        for d in crate::model::Direction::ALL {
            for pk in s.packets(d) {
                let _ = writeln!(
                    out,
                    "  packet {} {}={} presence={} floats={}",
                    d.key(),
                    pk.name,
                    pk.id,
                    pk.presence,
                    pk.floats
                );
                write_fields(&mut out, &pk.fields);
            }
        }
    }
    out
}

fn write_fields(out: &mut String, fields: &[Spanned<Field>]) {
    for f in fields {
        let _ = writeln!(
            out,
            "    field {}: {:?} endian={:?}",
            f.name, f.ty, f.endian
        );
    }
}

/// The stable 64-bit spec hash.
pub fn spec_hash(p: &Protocol) -> u64 {
    let digest = Sha256::digest(normalized(p).as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use crate::parse::parse_str;

    const A: &str = r#"Protocol(name: "p", version: 1, types: [Struct(name: "A", doc: "x", fields: [(name: "a", ty: U8)])])"#;
    const B: &str = "// a comment\nProtocol(\n  name: \"p\",\n  version: 1,\n  types: [\n    Struct(name: \"A\", doc: \"other docs\", fields: [\n      (name: \"a\", ty: U8),\n    ]),\n  ],\n)\n";
    const C: &str = r#"Protocol(name: "p", version: 1, types: [Struct(name: "A", fields: [(name: "a", ty: U16)])])"#;

    #[test]
    fn whitespace_comments_and_docs_do_not_change_the_hash() {
        let a = parse_str("a", A).unwrap();
        let b = parse_str("b", B).unwrap();
        assert_eq!(super::spec_hash(&a.protocol), super::spec_hash(&b.protocol));
    }

    #[test]
    fn a_type_change_changes_the_hash() {
        let a = parse_str("a", A).unwrap();
        let c = parse_str("c", C).unwrap();
        assert_ne!(super::spec_hash(&a.protocol), super::spec_hash(&c.protocol));
    }
}
