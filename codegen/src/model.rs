//! The spec language: what a maintainer writes in `protocol/spec/*.ron`.
//!
//! These types are the schema of a spec file; `protocol/spec/README.md` documents them with a
//! worked example. Parsing only checks shape; the rules that need the whole spec (unique ids,
//! known types, bounds, names) live in [`crate::validate`]. Every list element is [`Spanned`]
//! so that those rules can point at the offending text.

use serde::Deserialize;

use crate::span::Spanned;

/// One spec file: a protocol (or a file format) with its shared types and connection states.
///
/// Packets declared under `every_state` are copied into every state's lists when the file is
/// read (marked [`Packet::shared`]), so every rule and every emitter sees them where they can
/// travel; the Rust emitter generates each of them once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, from = "RawProtocol")]
pub struct Protocol {
    /// Name of the protocol, e.g. `"tilegame"`; also names the generated module.
    pub name: String,
    /// Protocol version, exchanged in the handshake.
    pub version: u32,
    /// What this protocol is for.
    pub doc: String,
    /// Byte order of integers unless a field says otherwise.
    pub endian: Endian,
    /// Largest frame (packet id + body) either side accepts, in bytes.
    pub max_frame: u32,
    /// Named numbers both sides must agree on (tick rate, limits, timeouts).
    pub constants: Vec<Spanned<Constant>>,
    /// The protocol's rules in prose: what a peer must do beyond the byte layout.
    pub rules: Vec<Spanned<Rule>>,
    /// Shared types: structs, enums, flag sets and tagged unions.
    pub types: Vec<Spanned<TypeDef>>,
    /// Packets valid in every state, as declared (also copied into each state).
    pub every_state: EveryState,
    /// Connection states in the order a connection goes through them.
    pub states: Vec<Spanned<State>>,
}

/// The spec file as written, before `every_state` packets are copied into each state.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Protocol")]
struct RawProtocol {
    /// Name of the protocol, e.g. `"tilegame"`; also names the generated module.
    pub name: String,
    /// Protocol version, exchanged in the handshake.
    pub version: u32,
    /// What this protocol is for.
    #[serde(default)]
    pub doc: String,
    /// Byte order of integers unless a field says otherwise.
    #[serde(default)]
    pub endian: Endian,
    /// Largest frame (packet id + body) either side accepts, in bytes.
    #[serde(default = "default_max_frame")]
    pub max_frame: u32,
    /// Named numbers both sides must agree on.
    #[serde(default)]
    pub constants: Vec<Spanned<Constant>>,
    /// The protocol's rules in prose.
    #[serde(default)]
    pub rules: Vec<Spanned<Rule>>,
    /// Shared types: structs, enums, flag sets and tagged unions.
    #[serde(default)]
    pub types: Vec<Spanned<TypeDef>>,
    /// Packets valid in every state.
    #[serde(default)]
    pub every_state: EveryState,
    /// Connection states in the order a connection goes through them.
    #[serde(default)]
    pub states: Vec<Spanned<State>>,
}

impl From<RawProtocol> for Protocol {
    fn from(raw: RawProtocol) -> Self {
        let mut states = raw.states;
        for state in &mut states {
            for (list, shared) in [
                (&mut state.node.to_server, &raw.every_state.to_server),
                (&mut state.node.to_client, &raw.every_state.to_client),
            ] {
                list.extend(shared.iter().map(|p| {
                    let mut p = p.clone();
                    p.node.shared = true;
                    p
                }));
            }
        }
        Protocol {
            name: raw.name,
            version: raw.version,
            doc: raw.doc,
            endian: raw.endian,
            max_frame: raw.max_frame,
            constants: raw.constants,
            rules: raw.rules,
            types: raw.types,
            every_state: raw.every_state,
            states,
        }
    }
}

/// Packets that exist in every connection state, with the same id and layout in each.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EveryState {
    /// Why these packets exist everywhere.
    #[serde(default)]
    pub doc: String,
    /// Packets the client may send in any state.
    #[serde(default)]
    pub to_server: Vec<Spanned<Packet>>,
    /// Packets the server may send in any state.
    #[serde(default)]
    pub to_client: Vec<Spanned<Packet>>,
}

/// A named number of the protocol, generated as a Rust `const` and printed in the reference.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constant {
    /// Name in SCREAMING_SNAKE_CASE.
    pub name: String,
    /// Integer type: one of `U8`, `U16`, `U32`, `U64`, `I32`, `I64`.
    pub ty: Ty,
    /// The value.
    pub value: i64,
    /// Unit of the value, for the reference (e.g. `"ms"`, `"px"`, `"ticks"`).
    #[serde(default)]
    pub unit: String,
    /// Documentation.
    #[serde(default)]
    pub doc: String,
}

/// A rule of the protocol in prose: a titled section of the reference.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Section title.
    pub title: String,
    /// The rule's text (Markdown).
    pub text: String,
}

/// A per-value property of an enum (e.g. a tile's resistance), generated as a `const fn`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Property {
    /// Property name (snake_case); the generated method's name.
    pub name: String,
    /// Its type: `Bool`, an integer type, or `Ref` to an enum (often the enum itself).
    pub ty: Ty,
    /// Documentation.
    #[serde(default)]
    pub doc: String,
}

/// A property value given on an enum variant.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum PropValue {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A variant name of the property's enum type.
    Name(String),
}

impl std::fmt::Display for PropValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PropValue::Bool(b) => write!(f, "{b}"),
            PropValue::Int(n) => write!(f, "{n}"),
            PropValue::Name(n) => f.write_str(n),
        }
    }
}

fn default_max_frame() -> u32 {
    1 << 20
}

/// Byte order of a fixed-width integer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Endian {
    /// The protocol's default (big-endian unless the protocol says otherwise).
    #[default]
    Default,
    /// Most significant byte first.
    Big,
    /// Least significant byte first.
    Little,
}

/// A shared type declaration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum TypeDef {
    /// A record of fields, in wire order.
    Struct {
        /// Type name (PascalCase).
        name: String,
        /// Documentation copied into the generated code.
        #[serde(default)]
        doc: String,
        /// Encode `Option` fields as one presence bit each in a mask before the first field.
        #[serde(default)]
        presence: bool,
        /// Allow `F32`/`F64` fields.
        #[serde(default)]
        floats: bool,
        /// Fields in wire order.
        fields: Vec<Spanned<Field>>,
    },
    /// A closed set of named values with an explicit tag type.
    Enum {
        /// Type name (PascalCase).
        name: String,
        /// Documentation.
        #[serde(default)]
        doc: String,
        /// Integer type of the tag on the wire.
        tag: IntTy,
        /// Per-value properties every variant gives (a table in the reference).
        #[serde(default)]
        properties: Vec<Spanned<Property>>,
        /// The values.
        variants: Vec<Spanned<Variant>>,
    },
    /// A set of independent bits packed into one integer.
    Flags {
        /// Type name (PascalCase).
        name: String,
        /// Documentation.
        #[serde(default)]
        doc: String,
        /// Integer type holding the bits.
        repr: IntTy,
        /// The named bits.
        bits: Vec<Spanned<Bit>>,
    },
    /// A tagged union: a tag value followed by that variant's fields.
    Union {
        /// Type name (PascalCase).
        name: String,
        /// Documentation.
        #[serde(default)]
        doc: String,
        /// Integer type of the tag on the wire.
        tag: IntTy,
        /// The variants; each becomes a struct of the same name.
        variants: Vec<Spanned<UnionVariant>>,
    },
}

impl TypeDef {
    /// The declared name.
    pub fn name(&self) -> &str {
        match self {
            TypeDef::Struct { name, .. }
            | TypeDef::Enum { name, .. }
            | TypeDef::Flags { name, .. }
            | TypeDef::Union { name, .. } => name,
        }
    }

    /// The declared documentation.
    pub fn doc(&self) -> &str {
        match self {
            TypeDef::Struct { doc, .. }
            | TypeDef::Enum { doc, .. }
            | TypeDef::Flags { doc, .. }
            | TypeDef::Union { doc, .. } => doc,
        }
    }

    /// A word for the kind of declaration, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            TypeDef::Struct { .. } => "struct",
            TypeDef::Enum { .. } => "enum",
            TypeDef::Flags { .. } => "flags",
            TypeDef::Union { .. } => "union",
        }
    }
}

/// One value of an [`TypeDef::Enum`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Variant name (PascalCase).
    pub name: String,
    /// Tag value on the wire.
    pub value: u64,
    /// Documentation.
    #[serde(default)]
    pub doc: String,
    /// Values of the enum's properties, by property name.
    #[serde(default)]
    pub props: std::collections::BTreeMap<String, PropValue>,
}

/// One bit of a [`TypeDef::Flags`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bit {
    /// Bit name (snake_case); becomes an associated constant in SCREAMING_CASE.
    pub name: String,
    /// Bit index, 0 = least significant.
    pub bit: u32,
    /// Documentation.
    #[serde(default)]
    pub doc: String,
}

/// One variant of a [`TypeDef::Union`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnionVariant {
    /// Variant name (PascalCase); also the name of the generated struct.
    pub name: String,
    /// Tag value on the wire.
    pub value: u64,
    /// Documentation.
    #[serde(default)]
    pub doc: String,
    /// See [`TypeDef::Struct`].
    #[serde(default)]
    pub presence: bool,
    /// See [`TypeDef::Struct`].
    #[serde(default)]
    pub floats: bool,
    /// Fields in wire order.
    #[serde(default)]
    pub fields: Vec<Spanned<Field>>,
}

/// A connection state and the packets each side may send in it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// State name (PascalCase); the generated module is its snake_case form.
    pub name: String,
    /// Documentation.
    #[serde(default)]
    pub doc: String,
    /// Packets the client sends.
    #[serde(default)]
    pub to_server: Vec<Spanned<Packet>>,
    /// Packets the server sends.
    #[serde(default)]
    pub to_client: Vec<Spanned<Packet>>,
}

/// Which way a packet travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Client to server.
    ToServer,
    /// Server to client.
    ToClient,
}

impl Direction {
    /// Both directions in declaration order.
    pub const ALL: [Direction; 2] = [Direction::ToServer, Direction::ToClient];

    /// The spec's key for this direction (`to_server` / `to_client`).
    pub fn key(self) -> &'static str {
        match self {
            Direction::ToServer => "to_server",
            Direction::ToClient => "to_client",
        }
    }

    /// The generated enum's name (`ToServer` / `ToClient`).
    pub fn type_name(self) -> &'static str {
        match self {
            Direction::ToServer => "ToServer",
            Direction::ToClient => "ToClient",
        }
    }
}

impl State {
    /// The packets sent in one direction.
    pub fn packets(&self, direction: Direction) -> &[Spanned<Packet>] {
        match direction {
            Direction::ToServer => &self.to_server,
            Direction::ToClient => &self.to_client,
        }
    }
}

/// A packet: a numeric id and a body of fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Packet {
    /// Packet id, unique within its state and direction (0..=255).
    pub id: u32,
    /// Packet name (PascalCase), unique within its state.
    pub name: String,
    /// Documentation.
    #[serde(default)]
    pub doc: String,
    /// See [`TypeDef::Struct`].
    #[serde(default)]
    pub presence: bool,
    /// See [`TypeDef::Struct`].
    #[serde(default)]
    pub floats: bool,
    /// Fields in wire order.
    #[serde(default)]
    pub fields: Vec<Spanned<Field>>,
    /// Declared under `every_state` (set when the file is read, never written in a spec).
    #[serde(skip)]
    pub shared: bool,
}

/// A named, typed field.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Field name (snake_case).
    pub name: String,
    /// Wire type.
    pub ty: Ty,
    /// Documentation.
    #[serde(default)]
    pub doc: String,
    /// Byte order override for fixed-width integers.
    #[serde(default)]
    pub endian: Endian,
}

/// Integer types usable as enum tags and flag sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum IntTy {
    /// 8-bit unsigned.
    U8,
    /// 16-bit unsigned.
    U16,
    /// 32-bit unsigned.
    U32,
    /// 64-bit unsigned.
    U64,
}

impl IntTy {
    /// Width in bits.
    pub fn bits(self) -> u32 {
        match self {
            IntTy::U8 => 8,
            IntTy::U16 => 16,
            IntTy::U32 => 32,
            IntTy::U64 => 64,
        }
    }

    /// The Rust type name.
    pub fn rust(self) -> &'static str {
        match self {
            IntTy::U8 => "u8",
            IntTy::U16 => "u16",
            IntTy::U32 => "u32",
            IntTy::U64 => "u64",
        }
    }

    /// Largest value the type holds.
    pub fn max(self) -> u64 {
        match self {
            IntTy::U64 => u64::MAX,
            other => (1u64 << other.bits()) - 1,
        }
    }
}

/// The integer in front of a variable-length value that gives its length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum LenTy {
    /// LEB128 variable-length u32 (1..=5 bytes).
    #[default]
    Var,
    /// One byte.
    U8,
    /// Two bytes in the field's byte order.
    U16,
    /// Four bytes in the field's byte order.
    U32,
}

impl LenTy {
    /// Largest length the prefix can express.
    pub fn max(self) -> u64 {
        match self {
            LenTy::Var | LenTy::U32 => u32::MAX as u64,
            LenTy::U8 => u8::MAX as u64,
            LenTy::U16 => u16::MAX as u64,
        }
    }

    /// The spec's spelling.
    pub fn name(self) -> &'static str {
        match self {
            LenTy::Var => "Var",
            LenTy::U8 => "U8",
            LenTy::U16 => "U16",
            LenTy::U32 => "U32",
        }
    }
}

/// A field's wire type.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub enum Ty {
    /// Unsigned 8-bit integer.
    U8,
    /// Unsigned 16-bit integer.
    U16,
    /// Unsigned 32-bit integer.
    U32,
    /// Unsigned 64-bit integer.
    U64,
    /// Signed 8-bit integer.
    I8,
    /// Signed 16-bit integer.
    I16,
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer.
    I64,
    /// IEEE 754 single precision; only where the struct sets `floats: true`.
    F32,
    /// IEEE 754 double precision; only where the struct sets `floats: true`.
    F64,
    /// One byte, 0 or 1 (anything else is a decode error).
    Bool,
    /// LEB128 unsigned, up to 5 bytes.
    VarU32,
    /// LEB128 unsigned, up to 10 bytes.
    VarU64,
    /// Zigzag + LEB128 signed, up to 5 bytes.
    VarI32,
    /// Zigzag + LEB128 signed, up to 10 bytes.
    VarI64,
    /// UTF-8 text of at most `max` bytes behind a length prefix.
    String {
        /// Largest length in bytes.
        max: u32,
        /// Length prefix.
        #[serde(default)]
        len: LenTy,
    },
    /// Raw bytes, at most `max`, behind a length prefix.
    Bytes {
        /// Largest length in bytes.
        max: u32,
        /// Length prefix.
        #[serde(default)]
        len: LenTy,
    },
    /// A list of at most `max` items behind a count prefix.
    List {
        /// Item type.
        of: Box<Ty>,
        /// Largest item count.
        max: u32,
        /// Count prefix.
        #[serde(default)]
        len: LenTy,
    },
    /// Exactly `len` items, no prefix.
    Array {
        /// Item type.
        of: Box<Ty>,
        /// Item count.
        len: u32,
    },
    /// An optional value: a presence byte (or a presence bit, see `presence`) then the value.
    Option(Box<Ty>),
    /// A shared type by name.
    Ref(String),
    /// Fixed ASCII bytes that must appear verbatim; must be the first field.
    Magic(String),
    /// A value deflated with zlib behind a length prefix; inflates to at most `max` bytes.
    Compressed {
        /// The type of the inflated content.
        of: Box<Ty>,
        /// Largest inflated size in bytes.
        max: u32,
    },
}
