//! The resolved layout: every type, packet and field of a spec as it travels on the wire.
//!
//! The spec language leaves things implicit: a field's byte order comes from the protocol unless
//! the field overrides it, `len:` defaults to a varint, an `Option` is a presence byte or a bit
//! of a mask depending on its record, a compressed value has a limit derived from its bound, a
//! packet moves the connection to the next state by convention. [`resolve`] derives all of it
//! once, and every emitter reads the result instead of the spec's [`crate::model::Ty`]: the Rust
//! emitter ([`crate::rust`]) generates readers, writers and field docs from it, the reference
//! ([`crate::docs`]) prints its sizes and words, the dissector ([`crate::dissector`]) decodes
//! it, and the compatibility checker ([`crate::compat`]) compares it ([`Layout::same_wire`]).
//! What people read about a value comes from here too: [`Encoding::words`] and
//! [`FieldLayout::wire_words`] (the Rust field docs and the reference's "Wire type" column), and
//! sizes from [`Layout::size`].
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
    /// Packets valid in every state (`every_state`), once; each state's lists also hold them,
    /// marked [`PacketLayout::shared`].
    pub every_state: EveryStateLayout,
    /// Connection states in the order a connection goes through them.
    pub states: Vec<StateLayout>,
}

/// The packets declared under `every_state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EveryStateLayout {
    /// Why these packets exist everywhere.
    pub doc: String,
    /// Packets the client may send in any state.
    pub to_server: Vec<PacketLayout>,
    /// Packets the server may send in any state.
    pub to_client: Vec<PacketLayout>,
}

impl EveryStateLayout {
    /// The packets sent in one direction.
    pub fn packets(&self, direction: Direction) -> &[PacketLayout] {
        match direction {
            Direction::ToServer => &self.to_server,
            Direction::ToClient => &self.to_client,
        }
    }
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
        /// The named bits, in declaration order.
        bits: Vec<FlagBit>,
        /// Every named bit set: a bit outside it is a decode error.
        known: u64,
    },
    /// A tag, then that variant's fields.
    Union {
        /// The tag integer.
        tag: Int,
        /// The variants, in declaration order.
        variants: Vec<UnionVariantLayout>,
    },
}

/// One named bit of a flag set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagBit {
    /// Bit index, 0 = least significant.
    pub bit: u32,
    /// The bit as a mask (`1 << bit`; 0 for an index past 63, which validation rejects).
    pub mask: u64,
    /// Bit name (snake_case).
    pub name: String,
    /// Documentation.
    pub doc: String,
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
    /// The field's own byte order (little-endian if true) when its `endian:` differs from the
    /// protocol's; `None` when it follows the protocol.
    pub endian: Option<bool>,
}

/// Smallest and largest encoded size in bytes (`None` = unbounded by the spec, or too deep).
pub type Size = (u64, Option<u64>);

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
    /// Declared under `every_state` (a copy in each state; [`Layout::every_state`] holds it once).
    pub shared: bool,
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
                        next_state: (transition == Some(i)).then_some(index + 1),
                        ..packet(p, pk)
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
    let shared = |list: &[Spanned<crate::model::Packet>]| {
        list.iter()
            .map(|pk| PacketLayout {
                shared: true,
                ..packet(p, pk)
            })
            .collect()
    };
    Layout {
        name: p.name.clone(),
        version: p.version,
        max_frame: p.max_frame,
        little,
        types,
        every_state: EveryStateLayout {
            doc: p.every_state.doc.clone(),
            to_server: shared(&p.every_state.to_server),
            to_client: shared(&p.every_state.to_client),
        },
        states,
    }
}

/// A packet's layout, moving the connection nowhere (`resolve` sets [`PacketLayout::next_state`]).
fn packet(p: &Protocol, pk: &crate::model::Packet) -> PacketLayout {
    PacketLayout {
        id: u8::try_from(pk.id).unwrap_or(u8::MAX),
        name: pk.name.clone(),
        doc: pk.doc.clone(),
        body: body(p, &pk.fields, pk.presence),
        next_state: None,
        shared: pk.shared,
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
        TypeDef::Flags { repr, bits, .. } => {
            let bits: Vec<FlagBit> = bits
                .iter()
                .map(|b| FlagBit {
                    bit: b.bit,
                    mask: 1u64.checked_shl(b.bit).unwrap_or(0),
                    name: b.name.clone(),
                    doc: b.doc.clone(),
                })
                .collect();
            TypeLayout::Flags {
                repr: int_ty(*repr, little),
                known: bits.iter().fold(0, |known, b| known | b.mask),
                bits,
            }
        }
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
                endian: (f.endian != Endian::Default && little != (p.endian == Endian::Little))
                    .then_some(little),
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
    /// The integer's name: `u16`, `i8`, ... (the Rust type of the same name).
    pub fn name(&self) -> String {
        let sign = if self.signed { 'i' } else { 'u' };
        format!("{sign}{}", u32::from(self.bytes) * 8)
    }

    /// `u16 big-endian`, `i8`, ...
    pub fn describe(&self) -> String {
        match (self.bytes, self.little) {
            (1, _) => self.name(),
            (_, true) => format!("{} little-endian", self.name()),
            (_, false) => format!("{} big-endian", self.name()),
        }
    }
}

impl Prefix {
    /// `varint` or the integer's description with its byte order.
    pub fn describe(&self) -> String {
        match self {
            Prefix::Var => "varint".to_owned(),
            Prefix::Fixed(i) => i.describe(),
        }
    }

    /// `varint` or the integer's name (the byte order is the field's).
    pub fn name(&self) -> String {
        match self {
            Prefix::Var => "varint".to_owned(),
            Prefix::Fixed(i) => i.name(),
        }
    }

    /// Fewest and most bytes of the prefix in front of a length or count up to `max`.
    pub fn size(&self, max: u64) -> (u64, u64) {
        match self {
            Prefix::Var => (1, wire::varint_len(max)),
            Prefix::Fixed(i) => (u64::from(i.bytes), u64::from(i.bytes)),
        }
    }
}

impl Encoding {
    /// How the value travels, in a few words for people (generated docs, the reference,
    /// messages): `u16`, `varint u32 (LEB128, 1–5 B)`, `list of PlayerDelta (≤ 1024, varint
    /// count)`. A field's own byte order and presence bit are added by
    /// [`FieldLayout::wire_words`].
    pub fn words(&self) -> String {
        self.words_with(&mut |name| name.to_owned())
    }

    /// [`Encoding::words`] with every shared type's name written by `name` (the reference links
    /// it to the type's section).
    pub fn words_with(&self, name: &mut dyn FnMut(&str) -> String) -> String {
        match self {
            Encoding::Int(i) => i.name(),
            Encoding::Float { bytes, .. } => format!("f{}", u32::from(*bytes) * 8),
            Encoding::Bool => "bool (0 or 1)".to_owned(),
            Encoding::Var { signed, wide } => {
                let (bits, most) = if *wide { (64, 10) } else { (32, 5) };
                if *signed {
                    format!("varint i{bits} (zigzag LEB128, 1–{most} B)")
                } else {
                    format!("varint u{bits} (LEB128, 1–{most} B)")
                }
            }
            Encoding::Blob { utf8, max, len } => format!(
                "{} (≤ {max} B, {} length)",
                if *utf8 { "UTF-8 string" } else { "bytes" },
                len.name()
            ),
            Encoding::List { of, max, len } => format!(
                "list of {} (≤ {max}, {} count)",
                of.words_with(name),
                len.name()
            ),
            Encoding::Array { of, len } => format!("{len} × {}", of.words_with(name)),
            Encoding::Option { of, .. } => format!("optional {}", of.words_with(name)),
            Encoding::Magic(text) => format!("magic \"{text}\""),
            Encoding::Compressed { of, max, .. } => format!(
                "zlib-compressed {} (≤ {max} B inflated, varint length)",
                of.words_with(name)
            ),
            Encoding::Named(type_name) | Encoding::Unknown(type_name) => name(type_name),
        }
    }
}

impl FieldLayout {
    /// How the field travels, in a few words: its encoding ([`Encoding::words_with`]), its own
    /// byte order where it differs from the protocol's, and its presence-mask bit: `optional
    /// u16, little-endian, mask bit 1`. The Rust field docs and the reference's "Wire type"
    /// column both say this.
    pub fn wire_words(&self, name: &mut dyn FnMut(&str) -> String) -> String {
        let mut words = self.encoding.words_with(name);
        match self.endian {
            Some(true) => words.push_str(", little-endian"),
            Some(false) => words.push_str(", big-endian"),
            None => {}
        }
        if let Encoding::Option { bit: Some(bit), .. } = self.encoding {
            words.push_str(&format!(", mask bit {bit}"));
        }
        words
    }
}

/// Deeper than this, sizes are unbounded and comparisons give up (validation rejects cycles).
const MAX_DEPTH: u32 = 32;

impl Layout {
    /// Fewest and most bytes a value takes on the wire. An option with a mask bit takes no
    /// byte of its own.
    pub fn size(&self, e: &Encoding) -> Size {
        self.size_at(e, 0)
    }

    /// Fewest and most bytes of a field list, presence mask included.
    pub fn body_size(&self, b: &Body) -> Size {
        self.body_size_at(b, 0)
    }

    /// Fewest and most bytes of a value of a shared type.
    pub fn type_size(&self, t: &TypeLayout) -> Size {
        self.type_size_at(t, 0)
    }

    fn size_at(&self, e: &Encoding, depth: u32) -> Size {
        if depth > MAX_DEPTH {
            return (0, None);
        }
        let fixed = |n: u64| (n, Some(n));
        match e {
            Encoding::Int(Int { bytes, .. }) | Encoding::Float { bytes, .. } => {
                fixed(u64::from(*bytes))
            }
            Encoding::Bool => fixed(1),
            Encoding::Var { wide: false, .. } => (1, Some(5)),
            Encoding::Var { wide: true, .. } => (1, Some(10)),
            Encoding::Blob { max, len, .. } => {
                let (lo, hi) = len.size(u64::from(*max));
                (lo, hi.checked_add(u64::from(*max)))
            }
            Encoding::List { of, max, len } => {
                let (lo, hi) = len.size(u64::from(*max));
                let (_, item) = self.size_at(of, depth + 1);
                (
                    lo,
                    item.and_then(|i| i.checked_mul(u64::from(*max)))
                        .and_then(|b| b.checked_add(hi)),
                )
            }
            Encoding::Array { of, len } => {
                let (lo, hi) = self.size_at(of, depth + 1);
                (
                    lo.saturating_mul(u64::from(*len)),
                    hi.and_then(|i| i.checked_mul(u64::from(*len))),
                )
            }
            Encoding::Option { of, bit } => {
                let (_, hi) = self.size_at(of, depth + 1);
                let tag = if bit.is_some() { 0 } else { 1 };
                (tag, hi.and_then(|h| h.checked_add(tag)))
            }
            Encoding::Magic(text) => fixed(text.len() as u64),
            Encoding::Compressed { limit, .. } => (1, wire::varint_len(*limit).checked_add(*limit)),
            Encoding::Named(name) => match self.named(name) {
                Some(t) => self.type_size_at(&t.def, depth),
                None => (0, None),
            },
            Encoding::Unknown(_) => (0, None),
        }
    }

    fn body_size_at(&self, b: &Body, depth: u32) -> Size {
        let mask = b.mask.map_or(0, |m| u64::from(m.bytes));
        b.fields.iter().fold((mask, Some(mask)), |(lo, hi), f| {
            let (l, h) = self.size_at(&f.encoding, depth + 1);
            (
                lo.saturating_add(l),
                hi.zip(h).and_then(|(a, b)| a.checked_add(b)),
            )
        })
    }

    fn type_size_at(&self, t: &TypeLayout, depth: u32) -> Size {
        match t {
            TypeLayout::Enum { tag: int, .. } | TypeLayout::Flags { repr: int, .. } => {
                (u64::from(int.bytes), Some(u64::from(int.bytes)))
            }
            TypeLayout::Struct(b) => self.body_size_at(b, depth),
            TypeLayout::Union { tag, variants } => {
                let tag = u64::from(tag.bytes);
                let mut lo: Option<u64> = None;
                let mut hi = Some(0u64);
                for v in variants {
                    let (l, h) = self.body_size_at(&v.body, depth);
                    lo = Some(lo.map_or(l, |lo| lo.min(l)));
                    hi = hi.zip(h).map(|(a, b)| a.max(b));
                }
                (
                    tag.saturating_add(lo.unwrap_or(0)),
                    hi.and_then(|h| h.checked_add(tag)),
                )
            }
        }
    }

    /// Whether `a` (in this layout) and `b` (in `other`) put the same bytes on the wire. Names
    /// do not count: shared types are compared by what they encode, enum values, flag bits and
    /// union variants as sets. A presence-mask bit is its body's business ([`Layout::same_body`]).
    pub fn same_wire(&self, a: &Encoding, other: &Layout, b: &Encoding) -> bool {
        Same { a: self, b: other }.encoding(a, b, 0)
    }

    /// [`Layout::same_wire`] for field lists: the same presence mask and the same fields in order.
    pub fn same_body(&self, a: &Body, other: &Layout, b: &Body) -> bool {
        Same { a: self, b: other }.body(a, b, 0)
    }

    /// [`Layout::same_wire`] for shared type declarations.
    pub fn same_type(&self, a: &TypeLayout, other: &Layout, b: &TypeLayout) -> bool {
        Same { a: self, b: other }.def(a, b, 0)
    }
}

/// Compares encodings across two layouts (see [`Layout::same_wire`]).
struct Same<'a> {
    a: &'a Layout,
    b: &'a Layout,
}

impl Same<'_> {
    fn encoding(&self, a: &Encoding, b: &Encoding, depth: u32) -> bool {
        if depth > MAX_DEPTH {
            return true;
        }
        let d = depth + 1;
        match (a, b) {
            (
                Encoding::List { of, max, len },
                Encoding::List {
                    of: o,
                    max: m,
                    len: l,
                },
            ) => max == m && len == l && self.encoding(of, o, d),
            (Encoding::Array { of, len }, Encoding::Array { of: o, len: l }) => {
                len == l && self.encoding(of, o, d)
            }
            (Encoding::Option { of, .. }, Encoding::Option { of: o, .. }) => {
                self.encoding(of, o, d)
            }
            (Encoding::Compressed { of, max, .. }, Encoding::Compressed { of: o, max: m, .. }) => {
                max == m && self.encoding(of, o, d)
            }
            (Encoding::Named(x), Encoding::Named(y)) => match (self.a.named(x), self.b.named(y)) {
                (Some(x), Some(y)) => self.def(&x.def, &y.def, d),
                _ => x == y,
            },
            (Encoding::Named(_) | Encoding::Unknown(_), _)
            | (_, Encoding::Named(_) | Encoding::Unknown(_)) => {
                matches!((a, b), (Encoding::Unknown(x), Encoding::Unknown(y)) if x == y)
            }
            _ => a == b,
        }
    }

    fn body(&self, a: &Body, b: &Body, depth: u32) -> bool {
        a.mask == b.mask
            && a.fields.len() == b.fields.len()
            && a.fields
                .iter()
                .zip(&b.fields)
                .all(|(x, y)| self.encoding(&x.encoding, &y.encoding, depth + 1))
    }

    fn def(&self, a: &TypeLayout, b: &TypeLayout, depth: u32) -> bool {
        fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
            v.sort_unstable();
            v
        }
        match (a, b) {
            (TypeLayout::Struct(x), TypeLayout::Struct(y)) => self.body(x, y, depth),
            (
                TypeLayout::Enum { tag, variants },
                TypeLayout::Enum {
                    tag: t,
                    variants: v,
                },
            ) => {
                tag == t
                    && sorted(variants.iter().map(|v| v.0).collect())
                        == sorted(v.iter().map(|v| v.0).collect())
            }
            (
                TypeLayout::Flags { repr, bits, .. },
                TypeLayout::Flags {
                    repr: r, bits: b, ..
                },
            ) => {
                repr == r
                    && sorted(bits.iter().map(|b| b.bit).collect())
                        == sorted(b.iter().map(|b| b.bit).collect())
            }
            (
                TypeLayout::Union { tag, variants },
                TypeLayout::Union {
                    tag: t,
                    variants: v,
                },
            ) => {
                fn by_value(vs: &[UnionVariantLayout]) -> Vec<&UnionVariantLayout> {
                    let mut vs: Vec<&UnionVariantLayout> = vs.iter().collect();
                    vs.sort_by_key(|v| v.value);
                    vs
                }
                let (x, y) = (by_value(variants), by_value(v));
                tag == t
                    && x.len() == y.len()
                    && x.iter()
                        .zip(&y)
                        .all(|(x, y)| x.value == y.value && self.body(&x.body, &y.body, depth))
            }
            _ => false,
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

    /// The single field `f` of a struct `S` (in a protocol with `endian`), its layout's size and
    /// its wire words.
    fn one(endian: &str, presence: bool, field: &str) -> (Layout, FieldLayout) {
        let l = layout(&format!(
            r#"Protocol(name: "t", version: 1, endian: {endian}, types: [
                Enum(name: "E", tag: U16, variants: [(name: "A", value: 0), (name: "B", value: 9)]),
                Struct(name: "S", presence: {presence}, floats: true, fields: [{field}]),
            ])"#
        ));
        let TypeLayout::Struct(body) = &l.named("S").expect("S").def else {
            panic!("struct")
        };
        let f = body.fields[0].clone();
        (l, f)
    }

    fn int(bytes: u8, signed: bool, little: bool) -> Encoding {
        Encoding::Int(Int {
            bytes,
            signed,
            little,
        })
    }

    fn words(f: &FieldLayout) -> String {
        f.wire_words(&mut |n| format!("<{n}>"))
    }

    #[test]
    fn fixed_integer_takes_the_protocol_byte_order_unless_the_field_differs() {
        let (l, f) = one("Little", false, r#"(name: "a", ty: I32)"#);
        assert_eq!(f.encoding, int(4, true, true));
        assert_eq!(
            (f.endian, words(&f), l.size(&f.encoding)),
            (None, "i32".into(), (4, Some(4)))
        );
        let (_, f) = one("Little", false, r#"(name: "a", ty: U16, endian: Big)"#);
        assert_eq!(f.encoding, int(2, false, false));
        assert_eq!(
            (f.endian, words(&f)),
            (Some(false), "u16, big-endian".into())
        );
        // Saying what the protocol says already is not an override.
        let (_, f) = one("Big", false, r#"(name: "a", ty: U16, endian: Big)"#);
        assert_eq!((f.endian, words(&f)), (None, "u16".into()));
        // One byte has no byte order.
        let (_, f) = one("Little", false, r#"(name: "a", ty: U8)"#);
        assert_eq!(f.encoding, int(1, false, false));
    }

    #[test]
    fn float() {
        let (l, f) = one("Big", false, r#"(name: "a", ty: F64, endian: Little)"#);
        assert_eq!(
            f.encoding,
            Encoding::Float {
                bytes: 8,
                little: true
            }
        );
        assert_eq!(
            (words(&f), l.size(&f.encoding)),
            ("f64, little-endian".into(), (8, Some(8)))
        );
    }

    #[test]
    fn bool_is_one_byte() {
        let (l, f) = one("Big", false, r#"(name: "a", ty: Bool)"#);
        assert_eq!(f.encoding, Encoding::Bool);
        assert_eq!(
            (words(&f), l.size(&f.encoding)),
            ("bool (0 or 1)".into(), (1, Some(1)))
        );
    }

    #[test]
    fn varints_take_one_to_five_or_ten_bytes() {
        let cases = [
            ("VarU32", false, false, "varint u32 (LEB128, 1–5 B)", 5),
            ("VarU64", false, true, "varint u64 (LEB128, 1–10 B)", 10),
            (
                "VarI32",
                true,
                false,
                "varint i32 (zigzag LEB128, 1–5 B)",
                5,
            ),
            (
                "VarI64",
                true,
                true,
                "varint i64 (zigzag LEB128, 1–10 B)",
                10,
            ),
        ];
        for (ty, signed, wide, text, most) in cases {
            let (l, f) = one("Big", false, &format!(r#"(name: "a", ty: {ty})"#));
            assert_eq!(f.encoding, Encoding::Var { signed, wide }, "{ty}");
            assert_eq!(
                (words(&f), l.size(&f.encoding)),
                (text.into(), (1, Some(most)))
            );
        }
    }

    #[test]
    fn strings_and_bytes_carry_their_bound_and_length_prefix() {
        let (l, f) = one(
            "Little",
            false,
            r#"(name: "a", ty: String(max: 16, len: U16))"#,
        );
        assert_eq!(
            f.encoding,
            Encoding::Blob {
                utf8: true,
                max: 16,
                len: Prefix::Fixed(Int {
                    bytes: 2,
                    signed: false,
                    little: true
                })
            }
        );
        assert_eq!(
            (words(&f), l.size(&f.encoding)),
            ("UTF-8 string (≤ 16 B, u16 length)".into(), (2, Some(18)))
        );
        // A varint length up to 300 takes one or two bytes.
        let (l, f) = one("Big", false, r#"(name: "a", ty: Bytes(max: 300))"#);
        assert_eq!(
            f.encoding,
            Encoding::Blob {
                utf8: false,
                max: 300,
                len: Prefix::Var
            }
        );
        assert_eq!(
            (words(&f), l.size(&f.encoding)),
            ("bytes (≤ 300 B, varint length)".into(), (1, Some(302)))
        );
    }

    #[test]
    fn lists_carry_their_bound_and_count_prefix() {
        let (l, f) = one(
            "Big",
            false,
            r#"(name: "a", ty: List(of: Ref("E"), max: 4, len: U8))"#,
        );
        assert_eq!(
            f.encoding,
            Encoding::List {
                of: Box::new(Encoding::Named("E".into())),
                max: 4,
                len: Prefix::Fixed(Int {
                    bytes: 1,
                    signed: false,
                    little: false
                })
            }
        );
        assert_eq!(
            (words(&f), l.size(&f.encoding)),
            ("list of <E> (≤ 4, u8 count)".into(), (1, Some(1 + 4 * 2)))
        );
    }

    #[test]
    fn arrays_have_no_prefix() {
        let (l, f) = one(
            "Big",
            false,
            r#"(name: "a", ty: Array(of: VarU32, len: 3))"#,
        );
        assert_eq!(
            f.encoding,
            Encoding::Array {
                of: Box::new(Encoding::Var {
                    signed: false,
                    wide: false
                }),
                len: 3
            }
        );
        assert_eq!(
            (words(&f), l.size(&f.encoding)),
            ("3 × varint u32 (LEB128, 1–5 B)".into(), (3, Some(15)))
        );
    }

    #[test]
    fn an_option_is_a_presence_byte_or_a_mask_bit() {
        let (l, f) = one("Big", false, r#"(name: "a", ty: Option(U16))"#);
        assert_eq!(
            f.encoding,
            Encoding::Option {
                of: Box::new(int(2, false, false)),
                bit: None
            }
        );
        assert_eq!(
            (words(&f), l.size(&f.encoding)),
            ("optional u16".into(), (1, Some(3)))
        );
        let (l, f) = one("Big", true, r#"(name: "a", ty: Option(U16))"#);
        assert_eq!(
            f.encoding,
            Encoding::Option {
                of: Box::new(int(2, false, false)),
                bit: Some(0)
            }
        );
        assert_eq!(
            (words(&f), l.size(&f.encoding)),
            ("optional u16, mask bit 0".into(), (0, Some(2)))
        );
    }

    #[test]
    fn magic_is_its_bytes() {
        let (l, f) = one("Big", false, r#"(name: "a", ty: Magic("TG|1"))"#);
        assert_eq!(f.encoding, Encoding::Magic("TG|1".into()));
        assert_eq!(
            (words(&f), l.size(&f.encoding)),
            ("magic \"TG|1\"".into(), (4, Some(4)))
        );
    }

    #[test]
    fn compressed_values_have_a_derived_limit() {
        let (l, f) = one(
            "Big",
            false,
            r#"(name: "a", ty: Compressed(of: Bytes(max: 1000), max: 1000))"#,
        );
        let limit = wire::compressed_limit(1000);
        assert_eq!(limit, 1079);
        assert_eq!(
            f.encoding,
            Encoding::Compressed {
                of: Box::new(Encoding::Blob {
                    utf8: false,
                    max: 1000,
                    len: Prefix::Var
                }),
                max: 1000,
                limit
            }
        );
        assert_eq!(
            (words(&f), l.size(&f.encoding)),
            (
                "zlib-compressed bytes (≤ 1000 B, varint length) (≤ 1000 B inflated, varint length)"
                    .into(),
                (1, Some(2 + 1079))
            )
        );
    }

    #[test]
    fn enums_are_their_tag() {
        let l = layout(
            r#"Protocol(name: "t", version: 1, endian: Little, types: [
                Enum(name: "E", tag: U32, variants: [(name: "A", value: 0), (name: "B", value: 9)]),
            ])"#,
        );
        let def = &l.named("E").expect("E").def;
        let TypeLayout::Enum { tag, variants } = def else {
            panic!("enum")
        };
        assert_eq!(
            *tag,
            Int {
                bytes: 4,
                signed: false,
                little: true
            }
        );
        assert_eq!(variants.iter().map(|v| v.0).collect::<Vec<_>>(), [0, 9]);
        assert_eq!(l.type_size(def), (4, Some(4)));
        assert_eq!(Encoding::Named("E".into()).words(), "E");
    }

    #[test]
    fn flags_know_their_masks() {
        let l = layout(
            r#"Protocol(name: "t", version: 1, types: [
                Flags(name: "F", repr: U16, bits: [(name: "a", bit: 0), (name: "b", bit: 9)]),
            ])"#,
        );
        let def = &l.named("F").expect("F").def;
        let TypeLayout::Flags { repr, bits, known } = def else {
            panic!("flags")
        };
        assert_eq!((repr.bytes, *known), (2, 0x201));
        assert_eq!(
            bits.iter().map(|b| b.mask).collect::<Vec<_>>(),
            [0x1, 0x200]
        );
        assert_eq!(l.type_size(def), (2, Some(2)));
    }

    #[test]
    fn unions_are_a_tag_then_the_variant() {
        let l = layout(
            r#"Protocol(name: "t", version: 1, types: [
                Union(name: "U", tag: U8, variants: [
                    (name: "Empty", value: 0),
                    (name: "Text", value: 1, fields: [(name: "s", ty: String(max: 10))]),
                ]),
            ])"#,
        );
        let def = &l.named("U").expect("U").def;
        let TypeLayout::Union { tag, variants } = def else {
            panic!("union")
        };
        assert_eq!(tag.bytes, 1);
        assert_eq!(variants.iter().map(|v| v.value).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(l.type_size(def), (1, Some(1 + 1 + 10)));
    }

    #[test]
    fn an_undeclared_type_stays_unknown() {
        let p = crate::load_str("t.ron", r#"Protocol(name: "t", version: 1)"#)
            .expect("valid")
            .protocol;
        let e = encoding(&p, &Ty::Ref("Nope".into()), false);
        assert_eq!(e, Encoding::Unknown("Nope".into()));
        assert_eq!(
            (e.words(), resolve(&p).size(&e)),
            ("Nope".into(), (0, None))
        );
    }

    #[test]
    fn every_state_packets_are_resolved_once_and_copied_into_each_state() {
        let l = layout(
            r#"Protocol(name: "t", version: 1,
                every_state: (to_client: [Packet(id: 0xff, name: "Kick", fields: [(name: "why", ty: String(max: 8))])]),
                states: [
                    State(name: "One", to_server: [Packet(id: 0, name: "Hi")], to_client: [Packet(id: 0, name: "Welcome")]),
                    State(name: "Two", to_client: [Packet(id: 0, name: "Tick")]),
                ])"#,
        );
        assert_eq!(l.every_state.to_client.len(), 1);
        assert!(l.every_state.to_client[0].shared);
        let kicks: Vec<(&str, bool, Option<usize>)> = l
            .states
            .iter()
            .flat_map(|s| &s.to_client)
            .map(|p| (p.name.as_str(), p.shared, p.next_state))
            .collect();
        assert_eq!(
            kicks,
            [
                ("Welcome", false, Some(1)),
                ("Kick", true, None),
                ("Tick", false, None),
                ("Kick", true, None)
            ]
        );
        assert_eq!(l.body_size(&l.every_state.to_client[0].body), (1, Some(9)));
    }

    #[test]
    fn same_wire_ignores_names_and_declaration_order() {
        let a = layout(
            r#"Protocol(name: "a", version: 1, types: [
                Enum(name: "E", tag: U8, variants: [(name: "A", value: 0), (name: "B", value: 1)]),
                Struct(name: "S", fields: [(name: "e", ty: Ref("E")), (name: "n", ty: String(max: 4))]),
            ])"#,
        );
        let b = layout(
            r#"Protocol(name: "b", version: 1, types: [
                Enum(name: "Kind", tag: U8, variants: [(name: "Y", value: 1), (name: "X", value: 0)]),
                Struct(name: "T", fields: [(name: "k", ty: Ref("Kind")), (name: "m", ty: String(max: 4))]),
                Struct(name: "Longer", fields: [(name: "k", ty: Ref("Kind")), (name: "m", ty: String(max: 5))]),
            ])"#,
        );
        let def = |l: &Layout, n: &str| l.named(n).expect("declared").def.clone();
        assert!(a.same_type(&def(&a, "S"), &b, &def(&b, "T")));
        assert!(!a.same_type(&def(&a, "S"), &b, &def(&b, "Longer")));
        assert!(a.same_wire(
            &Encoding::Named("E".into()),
            &b,
            &Encoding::Named("Kind".into())
        ));
        assert!(!a.same_wire(&Encoding::Named("E".into()), &b, &int(1, false, false)));
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
