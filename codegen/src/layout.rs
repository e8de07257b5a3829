//! The resolved layout: every type, packet and field of a spec as it travels on the wire.
//!
//! The spec language leaves things implicit: a field's byte order comes from the protocol unless
//! the field overrides it, `len:` defaults to a varint, an `Option` is a presence byte or a bit
//! of a mask depending on its record, a compressed value has a limit derived from its bound, a
//! packet moves the connection to the next state by convention. Each emitter used to re-derive
//! these from [`crate::model::Ty`]; [`resolve`] derives them once, and the emitters read the
//! result: the compatibility checker ([`crate::compat`]) compares encodings, the dissector
//! ([`crate::dissector`]) decodes them, and the Rust and Markdown emitters can state them.
//!
//! Names are kept (a [`Encoding::Named`] points into [`Layout::types`]) so that emitters can
//! generate one decoder per shared type; [`Layout::named`] resolves a reference.
//!
//! **State transitions** (the convention, documented in `protocol/spec/README.md`): states are
//! entered in declaration order. In a state where the client sends something (a request and its
//! answers), the *first* `to_client` packet is the answer that moves the connection to the next
//! state; the others (rejections) end the connection. In a state where only the server sends (a
//! stream), the *last* `to_client` packet ends the stream and moves to the next state. The last
//! state is never left.

use crate::model::{Direction, Endian, Field, IntTy, LenTy, Protocol, Ty, TypeDef};
use crate::names::to_snake_case;
use crate::span::Spanned;
use crate::wire;

/// A spec with every encoding resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Protocol name.
    pub name: String,
    /// Protocol version.
    pub version: u32,
    /// Largest frame (packet id + body) in bytes.
    pub max_frame: u32,
    /// The protocol's default byte order (little-endian if true).
    pub little: bool,
    /// Shared types in declaration order.
    pub types: Vec<NamedType>,
    /// Connection states in the order a connection goes through them.
    pub states: Vec<StateLayout>,
}

/// A shared type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedType {
    /// Type name.
    pub name: String,
    /// Documentation.
    pub doc: String,
    /// What it is on the wire.
    pub def: TypeLayout,
}

/// The wire form of a shared type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeLayout {
    /// Fields in order.
    Struct(Body),
    /// A tag with named values.
    Enum {
        /// The tag integer.
        tag: Int,
        /// (value, name, doc), in declaration order.
        variants: Vec<(u64, String, String)>,
    },
    /// An integer of named bits.
    Flags {
        /// The integer holding the bits.
        repr: Int,
        /// (bit, name, doc), in declaration order.
        bits: Vec<(u32, String, String)>,
    },
    /// A tag, then that variant's fields.
    Union {
        /// The tag integer.
        tag: Int,
        /// The variants, in declaration order.
        variants: Vec<UnionVariantLayout>,
    },
}

/// One variant of a union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnionVariantLayout {
    /// Tag value.
    pub value: u64,
    /// Variant name (also the name of its generated struct).
    pub name: String,
    /// Documentation.
    pub doc: String,
    /// Its fields.
    pub body: Body,
}

/// A fixed-width integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Int {
    /// Width in bytes: 1, 2, 4 or 8.
    pub bytes: u8,
    /// Two's complement signed.
    pub signed: bool,
    /// Least significant byte first (always false for one byte).
    pub little: bool,
}

/// A length or count in front of a variable-length value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prefix {
    /// LEB128 u32, 1 to 5 bytes.
    Var,
    /// A fixed-width unsigned integer.
    Fixed(Int),
}

/// A field list: the presence mask (if its options use one), then the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// The presence mask in front of the fields, when the record sets `presence: true` and has
    /// options.
    pub mask: Option<Int>,
    /// The fields in wire order.
    pub fields: Vec<FieldLayout>,
}

/// One field, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldLayout {
    /// Field name.
    pub name: String,
    /// Documentation.
    pub doc: String,
    /// How the value travels.
    pub encoding: Encoding,
    /// How tools should show the value.
    pub display: Display,
    /// Smallest and largest encoded size in bytes (`None` = unbounded by the spec).
    pub size: (u64, Option<u64>),
}

/// How a value travels on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoding {
    /// A fixed-width integer.
    Int(Int),
    /// IEEE 754, 4 or 8 bytes.
    Float {
        /// Width in bytes.
        bytes: u8,
        /// Least significant byte first.
        little: bool,
    },
    /// One byte, 0 or 1.
    Bool,
    /// LEB128 (zigzag first when signed); `wide` = 64-bit (up to 10 bytes), else up to 5.
    Var {
        /// Zigzag-encoded signed value.
        signed: bool,
        /// 64-bit.
        wide: bool,
    },
    /// UTF-8 text (`utf8`) or raw bytes behind a length prefix.
    Blob {
        /// UTF-8 text.
        utf8: bool,
        /// Largest length in bytes.
        max: u32,
        /// The length prefix.
        len: Prefix,
    },
    /// A counted list.
    List {
        /// Item encoding.
        of: Box<Encoding>,
        /// Largest count.
        max: u32,
        /// The count prefix.
        len: Prefix,
    },
    /// Exactly `len` items.
    Array {
        /// Item encoding.
        of: Box<Encoding>,
        /// Item count.
        len: u32,
    },
    /// An optional value: present when its presence byte is 1, or (`bit: Some(i)`) when bit `i`
    /// of the record's presence mask is set.
    Option {
        /// The value's encoding.
        of: Box<Encoding>,
        /// The mask bit, when the record has a presence mask.
        bit: Option<u32>,
    },
    /// Fixed ASCII bytes.
    Magic(String),
    /// A zlib stream behind a varint length of at most `limit` bytes, inflating to at most `max`
    /// bytes that hold `of`.
    Compressed {
        /// The inflated content.
        of: Box<Encoding>,
        /// Largest inflated size.
        max: u32,
        /// Largest compressed size accepted.
        limit: u64,
    },
    /// A shared type, see [`Layout::named`].
    Named(String),
    /// A reference to a type the spec does not declare (an invalid spec).
    Unknown(String),
}

/// How a value is best shown to a person (dissector, docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Decimal.
    Dec,
    /// Hexadecimal (with decimal alongside where the tool can): hashes, checksums, ids, colours.
    Hex,
    /// Not a number (text, bytes, records, lists).
    Other,
}

/// A connection state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateLayout {
    /// State name.
    pub name: String,
    /// Its generated module (snake_case).
    pub module: String,
    /// Documentation.
    pub doc: String,
    /// Packets the client sends.
    pub to_server: Vec<PacketLayout>,
    /// Packets the server sends.
    pub to_client: Vec<PacketLayout>,
}

impl StateLayout {
    /// The packets sent in one direction.
    pub fn packets(&self, direction: Direction) -> &[PacketLayout] {
        match direction {
            Direction::ToServer => &self.to_server,
            Direction::ToClient => &self.to_client,
        }
    }
}

/// A packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketLayout {
    /// Packet id within its state and direction.
    pub id: u8,
    /// Packet name.
    pub name: String,
    /// Documentation.
    pub doc: String,
    /// Its fields.
    pub body: Body,
    /// The index (in [`Layout::states`]) of the state the connection enters once this packet
    /// is sent, if it moves the connection on (see the module docs for the convention).
    pub next_state: Option<usize>,
}

impl Layout {
    /// The shared type called `name`.
    pub fn named(&self, name: &str) -> Option<&NamedType> {
        self.types.iter().find(|t| t.name == name)
    }
}

/// Resolves every encoding of `p`.
pub fn resolve(p: &Protocol) -> Layout {
    let little = p.endian == Endian::Little;
    let types = p
        .types
        .iter()
        .map(|t| NamedType {
            name: t.name().to_owned(),
            doc: t.doc().to_owned(),
            def: type_layout(p, t),
        })
        .collect();
    let count = p.states.len();
    let states = p
        .states
        .iter()
        .enumerate()
        .map(|(index, s)| {
            let packets = |dir: Direction| -> Vec<PacketLayout> {
                let list = s.packets(dir);
                // Packets of every state (e.g. Kick) never move a connection on: the convention
                // counts only the state's own packets.
                let own = |l: &[crate::span::Spanned<crate::model::Packet>]| {
                    l.iter().filter(|pk| !pk.shared).count()
                };
                let transition = if index + 1 >= count || dir == Direction::ToServer {
                    None
                } else if own(&s.to_server) == 0 {
                    own(list).checked_sub(1)
                } else if own(list) == 0 {
                    None
                } else {
                    Some(0)
                };
                list.iter()
                    .enumerate()
                    .map(|(i, pk)| PacketLayout {
                        id: u8::try_from(pk.id).unwrap_or(u8::MAX),
                        name: pk.name.clone(),
                        doc: pk.doc.clone(),
                        body: body(p, &pk.fields, pk.presence),
                        next_state: (transition == Some(i)).then_some(index + 1),
                    })
                    .collect()
            };
            StateLayout {
                name: s.name.clone(),
                module: to_snake_case(&s.name),
                doc: s.doc.clone(),
                to_server: packets(Direction::ToServer),
                to_client: packets(Direction::ToClient),
            }
        })
        .collect();
    Layout {
        name: p.name.clone(),
        version: p.version,
        max_frame: p.max_frame,
        little,
        types,
        states,
    }
}

/// The layout of a shared type declaration.
pub fn type_layout(p: &Protocol, def: &TypeDef) -> TypeLayout {
    let little = p.endian == Endian::Little;
    match def {
        TypeDef::Struct {
            presence, fields, ..
        } => TypeLayout::Struct(body(p, fields, *presence)),
        TypeDef::Enum { tag, variants, .. } => TypeLayout::Enum {
            tag: int_ty(*tag, little),
            variants: variants
                .iter()
                .map(|v| (v.value, v.name.clone(), v.doc.clone()))
                .collect(),
        },
        TypeDef::Flags { repr, bits, .. } => TypeLayout::Flags {
            repr: int_ty(*repr, little),
            bits: bits
                .iter()
                .map(|b| (b.bit, b.name.clone(), b.doc.clone()))
                .collect(),
        },
        TypeDef::Union { tag, variants, .. } => TypeLayout::Union {
            tag: int_ty(*tag, little),
            variants: variants
                .iter()
                .map(|v| UnionVariantLayout {
                    value: v.value,
                    name: v.name.clone(),
                    doc: v.doc.clone(),
                    body: body(p, &v.fields, v.presence),
                })
                .collect(),
        },
    }
}

/// The layout of a field list; `presence` is the record's `presence:` flag.
pub fn body(p: &Protocol, fields: &[Spanned<Field>], presence: bool) -> Body {
    let options = fields
        .iter()
        .filter(|f| matches!(f.ty, Ty::Option(_)))
        .count();
    let mask = (presence && options > 0)
        .then(|| wire::presence_width(options))
        .flatten()
        .map(|t| int_ty(t, p.endian == Endian::Little));
    let mut bit = 0;
    let fields = fields
        .iter()
        .map(|f| {
            let little = field_little(f.endian, p.endian);
            let encoding = match (&f.ty, mask.is_some()) {
                (Ty::Option(inner), true) => {
                    bit += 1;
                    Encoding::Option {
                        of: Box::new(encoding(p, inner, little)),
                        bit: Some(bit - 1),
                    }
                }
                (ty, _) => encoding(p, ty, little),
            };
            FieldLayout {
                name: f.name.clone(),
                doc: f.doc.clone(),
                display: display_for(&f.name, &encoding),
                size: wire::size_range(p, &f.ty, mask.is_some()),
                encoding,
            }
        })
        .collect();
    Body { mask, fields }
}

/// Whether a field with byte order `field` is little-endian in a protocol with `protocol`.
pub fn field_little(field: Endian, protocol: Endian) -> bool {
    match field {
        Endian::Little => true,
        Endian::Big => false,
        Endian::Default => protocol == Endian::Little,
    }
}

fn int_ty(t: IntTy, little: bool) -> Int {
    let bytes = (t.bits() / 8) as u8;
    Int {
        bytes,
        signed: false,
        little: little && bytes > 1,
    }
}

/// The length prefix `len` in byte order `little`.
pub fn prefix(len: LenTy, little: bool) -> Prefix {
    let fixed = |bytes: u8| {
        Prefix::Fixed(Int {
            bytes,
            signed: false,
            little: little && bytes > 1,
        })
    };
    match len {
        LenTy::Var => Prefix::Var,
        LenTy::U8 => fixed(1),
        LenTy::U16 => fixed(2),
        LenTy::U32 => fixed(4),
    }
}

/// The encoding of one value of `ty` in byte order `little` (an `Option` here uses a presence
/// byte; [`body`] assigns mask bits).
pub fn encoding(p: &Protocol, ty: &Ty, little: bool) -> Encoding {
    let int = |signed: bool, bytes: u8| {
        Encoding::Int(Int {
            bytes,
            signed,
            little: little && bytes > 1,
        })
    };
    let inner = |of: &Ty| Box::new(encoding(p, of, little));
    match ty {
        Ty::U8 => int(false, 1),
        Ty::U16 => int(false, 2),
        Ty::U32 => int(false, 4),
        Ty::U64 => int(false, 8),
        Ty::I8 => int(true, 1),
        Ty::I16 => int(true, 2),
        Ty::I32 => int(true, 4),
        Ty::I64 => int(true, 8),
        Ty::F32 => Encoding::Float { bytes: 4, little },
        Ty::F64 => Encoding::Float { bytes: 8, little },
        Ty::Bool => Encoding::Bool,
        Ty::VarU32 => Encoding::Var {
            signed: false,
            wide: false,
        },
        Ty::VarU64 => Encoding::Var {
            signed: false,
            wide: true,
        },
        Ty::VarI32 => Encoding::Var {
            signed: true,
            wide: false,
        },
        Ty::VarI64 => Encoding::Var {
            signed: true,
            wide: true,
        },
        Ty::String { max, len } => Encoding::Blob {
            utf8: true,
            max: *max,
            len: prefix(*len, little),
        },
        Ty::Bytes { max, len } => Encoding::Blob {
            utf8: false,
            max: *max,
            len: prefix(*len, little),
        },
        Ty::List { of, max, len } => Encoding::List {
            of: inner(of),
            max: *max,
            len: prefix(*len, little),
        },
        Ty::Array { of, len } => Encoding::Array {
            of: inner(of),
            len: *len,
        },
        Ty::Option(of) => Encoding::Option {
            of: inner(of),
            bit: None,
        },
        Ty::Magic(text) => Encoding::Magic(text.clone()),
        Ty::Compressed { of, max } => Encoding::Compressed {
            of: inner(of),
            max: *max,
            limit: wire::compressed_limit(*max),
        },
        Ty::Ref(name) if p.types.iter().any(|t| t.name() == name) => Encoding::Named(name.clone()),
        Ty::Ref(name) => Encoding::Unknown(name.clone()),
    }
}

impl Int {
    /// `u16 big-endian`, `i8`, ...
    pub fn describe(&self) -> String {
        let bits = u32::from(self.bytes) * 8;
        let sign = if self.signed { 'i' } else { 'u' };
        match (self.bytes, self.little) {
            (1, _) => format!("{sign}{bits}"),
            (_, true) => format!("{sign}{bits} little-endian"),
            (_, false) => format!("{sign}{bits} big-endian"),
        }
    }
}

impl Prefix {
    /// `varint` or the integer's description.
    pub fn describe(&self) -> String {
        match self {
            Prefix::Var => "varint".to_owned(),
            Prefix::Fixed(i) => i.describe(),
        }
    }
}

impl Encoding {
    /// One line saying how the value travels, for generated docs: `VarU32 (LEB128, 1 to 5
    /// bytes)`, `UTF-8, at most 16 bytes, behind a u8 length`, ...
    pub fn describe(&self) -> String {
        match self {
            Encoding::Int(i) => i.describe(),
            Encoding::Float { bytes, little } => format!(
                "f{} {}",
                u32::from(*bytes) * 8,
                if *little {
                    "little-endian"
                } else {
                    "big-endian"
                }
            ),
            Encoding::Bool => "one byte, 0 or 1".to_owned(),
            Encoding::Var { signed, wide } => {
                let (name, most) = if *wide { ("64", 10) } else { ("32", 5) };
                if *signed {
                    format!("VarI{name} (zigzag, then LEB128, 1 to {most} bytes)")
                } else {
                    format!("VarU{name} (LEB128, 1 to {most} bytes)")
                }
            }
            Encoding::Blob { utf8, max, len } => format!(
                "{}, at most {max} bytes, behind a {} length",
                if *utf8 { "UTF-8" } else { "bytes" },
                len.describe()
            ),
            Encoding::List { of, max, len } => format!(
                "at most {max} items behind a {} count, each {}",
                len.describe(),
                of.describe()
            ),
            Encoding::Array { of, len } => format!("exactly {len} items, each {}", of.describe()),
            Encoding::Option { of, bit: None } => {
                format!("a presence byte (0 or 1), then {}", of.describe())
            }
            Encoding::Option { of, bit: Some(b) } => {
                format!(
                    "present when bit {b} of the presence mask is set: {}",
                    of.describe()
                )
            }
            Encoding::Magic(text) => format!("the ASCII bytes {text:?}"),
            Encoding::Compressed { of, max, limit } => format!(
                "a zlib stream behind a varint length (at most {limit} bytes), inflating to at \
                 most {max} bytes of {}",
                of.describe()
            ),
            Encoding::Named(name) | Encoding::Unknown(name) => format!("`{name}`"),
        }
    }
}

/// Hashes, checksums, ids and colours read best in hex; other numbers in decimal.
///
/// The rule goes by the field's name: a name that is or ends in `hash`, `checksum`, `id`,
/// `color` or `colour` (`spec_hash`, `player_id`, `color`) is shown in hex.
pub fn display_for(name: &str, encoding: &Encoding) -> Display {
    let numeric = |e: &Encoding| matches!(e, Encoding::Int(_) | Encoding::Var { .. });
    let target = match encoding {
        Encoding::Option { of, .. } | Encoding::List { of, .. } | Encoding::Array { of, .. } => of,
        other => other,
    };
    if !numeric(target) {
        return Display::Other;
    }
    let hexy = ["hash", "checksum", "id", "color", "colour"]
        .iter()
        .any(|w| name == *w || name.ends_with(&format!("_{w}")));
    if hexy {
        Display::Hex
    } else {
        Display::Dec
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(src: &str) -> Layout {
        resolve(&crate::load_str("t.ron", src).expect("valid").protocol)
    }

    #[test]
    fn transitions_follow_the_convention() {
        let l = layout(
            r#"Protocol(name: "t", version: 1, states: [
                State(name: "Hello", to_server: [Packet(id: 0, name: "Hi")],
                      to_client: [Packet(id: 0, name: "Welcome"), Packet(id: 1, name: "Go")]),
                State(name: "Stream", to_client: [Packet(id: 0, name: "Begin"), Packet(id: 1, name: "End")]),
                State(name: "Last", to_client: [Packet(id: 0, name: "Tick")]),
            ])"#,
        );
        let next: Vec<(&str, Option<usize>)> = l
            .states
            .iter()
            .flat_map(|s| s.to_client.iter().chain(&s.to_server))
            .map(|p| (p.name.as_str(), p.next_state))
            .collect();
        assert_eq!(
            next,
            [
                ("Welcome", Some(1)),
                ("Go", None),
                ("Hi", None),
                ("Begin", None),
                ("End", Some(2)),
                ("Tick", None),
            ]
        );
    }

    #[test]
    fn encodings_describe_themselves() {
        let l = layout(
            r#"Protocol(name: "t", version: 1, types: [
                Struct(name: "S", presence: true, fields: [
                    (name: "a", ty: VarU32),
                    (name: "b", ty: String(max: 16, len: U8)),
                    (name: "c", ty: Option(U16)),
                    (name: "d", ty: List(of: I32, max: 4, len: U16), endian: Little),
                ]),
            ])"#,
        );
        let TypeLayout::Struct(body) = &l.types[0].def else {
            panic!("struct")
        };
        let words: Vec<String> = body.fields.iter().map(|f| f.encoding.describe()).collect();
        assert_eq!(
            words,
            [
                "VarU32 (LEB128, 1 to 5 bytes)",
                "UTF-8, at most 16 bytes, behind a u8 length",
                "present when bit 0 of the presence mask is set: u16 big-endian",
                "at most 4 items behind a u16 little-endian count, each i32 little-endian",
            ]
        );
    }

    #[test]
    fn options_in_a_presence_record_take_mask_bits() {
        let l = layout(
            r#"Protocol(name: "t", version: 1, endian: Little, types: [
                Struct(name: "S", presence: true, fields: [
                    (name: "a", ty: Option(U16)), (name: "player_id", ty: U32), (name: "b", ty: Option(U8)),
                ]),
            ])"#,
        );
        let TypeLayout::Struct(body) = &l.types[0].def else {
            panic!("struct")
        };
        assert_eq!(
            body.mask,
            Some(Int {
                bytes: 1,
                signed: false,
                little: false
            })
        );
        let bits: Vec<Option<u32>> = body
            .fields
            .iter()
            .map(|f| match f.encoding {
                Encoding::Option { bit, .. } => bit,
                _ => None,
            })
            .collect();
        assert_eq!(bits, [Some(0), None, Some(1)]);
        assert_eq!(body.fields[1].display, Display::Hex);
        assert_eq!(
            body.fields[1].encoding,
            Encoding::Int(Int {
                bytes: 4,
                signed: false,
                little: true
            })
        );
    }
}
