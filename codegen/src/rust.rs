//! The Rust emitter: one binrw type per shared type and packet, with serde derives, plus the
//! connection-state machinery every consumer of the protocol shares.
//!
//! Output shape (pulled in with `include!` from `OUT_DIR`):
//! - constants `PROTOCOL_NAME`, `PROTOCOL_VERSION`, `SPEC_HASH`, `MAX_FRAME`, and every constant
//!   the spec declares;
//! - shared types at the top level; enums with properties get a `const fn` per property;
//! - the connection states: a `State` enum, a marker type per state (`marker::Play`) that
//!   implements `StateMarker`, and the `ClientPacket<S>` / `ServerPacket<S>` traits that say which
//!   packets each side may send in state `S` — a connection typed by its state can only send
//!   those, so sending a packet outside its state does not compile;
//! - packets declared under `every_state` once at the top level (they implement the send traits
//!   for every state and `AnyStatePacket`), re-exported by every state module;
//! - one module per state with its packets, a `Packet` impl on each (`ID`, `NAME`, `DIRECTION`,
//!   `STATES`), and the `ToServer` / `ToClient` enums that decode a body by id;
//! - `AnyPacket` and `decode(state, direction, id, body)` for tools that pick the state at run time;
//! - every type is `#[binrw]` with `#[brw(big)]` (or the spec's byte order, so a reader given any
//!   `Endian` gets the declared layout); fixed-width integers and shared types are binrw's own,
//!   every other field names its bounded codec in the runtime (`crate::wire` by default, imported
//!   as `rt`) with `#[br(parse_with = rt::List::<…>::parse)]` / `#[bw(write_with = …)]`, so every
//!   length is checked before anything is allocated and every error keeps its typed cause and
//!   field path. Enums are `#[brw(repr = …)]`; flag sets read their integer and `try_map` it
//!   (an unknown tag or bit is a typed error); unions are enums whose variants start with their tag as `magic`;
//!   presence masks and magic are `temp` fields, checked on read and computed on write;
//! - under `cfg(test)`: a proptest strategy for every type and a write → read round-trip test for
//!   each (read back with `Endian::Little` too, which must change nothing), so every generated
//!   type is covered without hand-written tests.
//!
//! Everything about the bytes (widths, byte orders, bounds, prefixes, presence bits, flag masks,
//! the words in each field's doc) comes from the resolved layout ([`crate::layout`]); the spec
//! model supplies only what is not on the wire (constants, enum properties).
//!
//! The text is built as Rust source, parsed with `syn` and formatted with `prettyplease`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::layout::{
    self, Body, Encoding, FieldLayout, FlagBit, Int, Layout, PacketLayout, Prefix, TypeLayout,
};
use crate::model::{Constant, Direction, PropValue, Property, Protocol, Ty, TypeDef};
use crate::names::{to_screaming_case, to_snake_case};
use crate::parse::SpecFile;
use crate::span::Spanned;

/// Emitter options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Path of the runtime module with the bounded readers and writers.
    pub runtime: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            runtime: "crate::wire".to_owned(),
        }
    }
}

/// Generates the formatted Rust module for a validated spec.
pub fn generate(spec: &SpecFile, options: &Options) -> Result<String, String> {
    format_source(spec, &generate_unformatted(spec, options))
}

/// Generates only the spec's rules as plain Rust, with no wire code: its constants and its
/// enums that declare properties (e.g. the tile table), for crates such as `game` that must obey
/// the protocol's numbers without depending on the protocol crate.
pub fn generate_rules(spec: &SpecFile) -> Result<String, String> {
    let p = &spec.protocol;
    let l = layout::resolve(p);
    let mut out = String::new();
    constants(&mut out, &p.constants);
    for (t, resolved) in p.types.iter().zip(&l.types) {
        if let (
            TypeDef::Enum {
                name,
                doc,
                properties,
                variants,
                ..
            },
            TypeLayout::Enum { tag, .. },
        ) = (&t.node, &resolved.def)
        {
            if properties.is_empty() {
                continue;
            }
            let _ = write!(
                out,
                "{}#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]\n#[repr({})]\npub enum {name} {{",
                doc_attr(doc),
                tag.name()
            );
            for v in variants {
                let _ = write!(out, "{}{} = {},", doc_attr(&v.doc), v.name, v.value);
            }
            out.push_str("}\n");
            enum_methods(&mut out, name, *tag, properties, variants);
        }
    }
    format_source(spec, &out)
}

fn format_source(spec: &SpecFile, raw: &str) -> Result<String, String> {
    let file = syn::parse_file(raw).map_err(|e| format!("{e} in:\n{}", numbered(raw)))?;
    let body = prettyplease::unparse(&file);
    Ok(format!(
        "// @generated by tilegame-codegen from {} — do not edit.\n// Edit the spec and rebuild; see protocol/spec/README.md.\n\n{body}",
        spec.name.rsplit(['/', '\\']).next().unwrap_or(&spec.name)
    ))
}

fn numbered(text: &str) -> String {
    text.lines()
        .enumerate()
        .map(|(i, l)| format!("{:4} {l}\n", i + 1))
        .collect()
}

/// Generates the Rust text before formatting (useful when debugging the emitter).
pub fn generate_unformatted(spec: &SpecFile, options: &Options) -> String {
    let p = &spec.protocol;
    let l = layout::resolve(p);
    let mut e = Emitter {
        p,
        l: &l,
        out: String::new(),
        floats: float_types(&l),
    };
    e.header(spec, &options.runtime);
    for (t, resolved) in p.types.iter().zip(&l.types) {
        e.type_def(&t.node, &resolved.def);
    }
    if !l.states.is_empty() {
        e.states();
    }
    let mut out = std::mem::take(&mut e.out);
    out.push_str(&tests(&l));
    out
}

struct Emitter<'a> {
    p: &'a Protocol,
    l: &'a Layout,
    out: String,
    floats: BTreeSet<String>,
}

fn doc_attr(doc: &str) -> String {
    if doc.is_empty() {
        String::new()
    } else {
        doc.trim()
            .lines()
            .map(|line| format!("#[doc = {:?}]\n", format!(" {}", line.trim_end())))
            .collect()
    }
}

/// A field's doc plus a line saying how it travels ([`FieldLayout::wire_words`]), e.g.
/// "Wire: varint u32 (LEB128, 1–5 B)."
fn field_doc(field: &FieldLayout) -> String {
    let encoding = field.wire_words(&mut |name| name.to_owned());
    let text = if field.doc.is_empty() {
        format!("Wire: {encoding}.")
    } else {
        format!("{}\n\nWire: {encoding}.", field.doc.trim())
    };
    doc_attr(&text)
}

/// The byte-order attribute of a field with its own byte order (`#[brw(little)]`); fields
/// without one follow their type's `#[brw(big)]` / `#[brw(little)]`.
fn field_endian_attr(field: &FieldLayout) -> &'static str {
    match field.endian {
        None => "",
        Some(true) => "#[brw(little)]\n",
        Some(false) => "#[brw(big)]\n",
    }
}

/// The runtime's prefix type for a length prefix.
fn prefix_ty(len: Prefix) -> &'static str {
    match len {
        Prefix::Var => "rt::VarLen",
        Prefix::Fixed(Int { bytes: 1, .. }) => "rt::U8Len",
        Prefix::Fixed(Int { bytes: 2, .. }) => "rt::U16Len",
        Prefix::Fixed(_) => "rt::U32Len",
    }
}

/// Names of types that contain floats (no `Eq` for them).
fn float_types(l: &Layout) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    let floats =
        |b: &Body, set: &BTreeSet<String>| b.fields.iter().any(|f| has_float(&f.encoding, set));
    loop {
        let before = set.len();
        for t in &l.types {
            match &t.def {
                TypeLayout::Struct(b) if floats(b, &set) => {
                    set.insert(t.name.clone());
                }
                TypeLayout::Union { variants, .. } => {
                    for v in variants {
                        if floats(&v.body, &set) {
                            set.insert(t.name.clone());
                            set.insert(v.name.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

fn has_float(e: &Encoding, floats: &BTreeSet<String>) -> bool {
    match e {
        Encoding::Float { .. } => true,
        Encoding::Named(n) => floats.contains(n),
        Encoding::List { of, .. }
        | Encoding::Array { of, .. }
        | Encoding::Option { of, .. }
        | Encoding::Compressed { of, .. } => has_float(of, floats),
        _ => false,
    }
}

/// The Rust type of a value.
fn rust_ty(e: &Encoding) -> String {
    match e {
        Encoding::Int(i) => i.name(),
        Encoding::Var { signed, wide } => {
            format!(
                "{}{}",
                if *signed { 'i' } else { 'u' },
                if *wide { 64 } else { 32 }
            )
        }
        Encoding::Float { bytes, .. } => format!("f{}", u32::from(*bytes) * 8),
        Encoding::Bool => "bool".into(),
        Encoding::Blob { utf8: true, .. } => "String".into(),
        Encoding::Blob { utf8: false, .. } => "Vec<u8>".into(),
        Encoding::List { of, .. } | Encoding::Array { of, .. } => format!("Vec<{}>", rust_ty(of)),
        Encoding::Option { of, .. } => format!("Option<{}>", rust_ty(of)),
        Encoding::Named(name) | Encoding::Unknown(name) => name.clone(),
        Encoding::Magic(_) => "()".into(),
        Encoding::Compressed { of, .. } => rust_ty(of),
    }
}
/// Whether binrw reads and writes the value itself (fixed-width integers, floats, shared types).
fn is_plain(e: &Encoding) -> bool {
    matches!(
        e,
        Encoding::Int(_) | Encoding::Float { .. } | Encoding::Named(_) | Encoding::Unknown(_)
    )
}

/// The runtime codec type (`rt::Codec`) that reads and writes a value of `e`, e.g.
/// `rt::List<rt::Plain<PlayerDelta>, rt::VarLen, 1024>`. Masked options are
/// `rt::Present<…>`, read under the field's `#[br(if(…))]`.
pub(crate) fn codec(e: &Encoding) -> String {
    match e {
        Encoding::Int(_) | Encoding::Float { .. } | Encoding::Named(_) | Encoding::Unknown(_) => {
            format!("rt::Plain<{}>", rust_ty(e))
        }
        Encoding::Var { signed, wide } => format!(
            "rt::Var{}{}",
            if *signed { 'I' } else { 'U' },
            if *wide { 64 } else { 32 }
        ),
        Encoding::Bool => "rt::Bool".into(),
        Encoding::Blob { utf8, max, len } => format!(
            "rt::{}<{}, {max}>",
            if *utf8 { "Str" } else { "Bytes" },
            prefix_ty(*len)
        ),
        Encoding::List { of, max, len } => {
            format!("rt::List<{}, {}, {max}>", codec(of), prefix_ty(*len))
        }
        Encoding::Array { of, len } => format!("rt::Array<{}, {len}>", codec(of)),
        Encoding::Option { of, bit: None } => format!("rt::Optional<{}>", codec(of)),
        Encoding::Option { of, bit: Some(_) } => format!("rt::Present<{}>", codec(of)),
        Encoding::Compressed { of, max, .. } => format!("rt::Compressed<{}, {max}>", codec(of)),
        Encoding::Magic(text) => format!("rt::Magic<{}>", text.len()),
    }
}

/// A codec type as an expression path (`rt::List::<…>`), for `Codec::parse` / `Codec::write`.
pub(crate) fn codec_path(e: &Encoding) -> String {
    let ty = codec(e);
    match ty.find('<') {
        Some(i) => format!("{}::{}", &ty[..i], &ty[i..]),
        None => ty,
    }
}

/// The binrw attributes of one field: how it is read and written, from the resolved layout.
fn field_attrs(field: &FieldLayout) -> String {
    let mut out = String::from(field_endian_attr(field));
    match &field.encoding {
        Encoding::Option { of, bit: Some(bit) } => {
            let b = 1u64.checked_shl(*bit).unwrap_or(0);
            if is_plain(of) {
                let _ = writeln!(out, "#[br(if(presence_mask & {b:#x} != 0))]");
            } else {
                let c = codec_path(&field.encoding);
                let _ = write!(
                    out,
                    "#[br(if(presence_mask & {b:#x} != 0), parse_with = {c}::parse)]\n#[bw(write_with = {c}::write)]\n"
                );
            }
        }
        enc if is_plain(enc) => {}
        enc => {
            let c = codec_path(enc);
            let _ = write!(
                out,
                "#[br(parse_with = {c}::parse)]\n#[bw(write_with = {c}::write)]\n"
            );
        }
    }
    out
}

/// The `#[binrw]` attributes every generated type starts with: binrw, then the spec's byte
/// order, which the type keeps whatever `Endian` its reader or writer is given.
fn binrw_head(little: bool) -> String {
    format!(
        "#[::binrw::binrw]\n#[brw({})]\n",
        if little { "little" } else { "big" }
    )
}

fn constants(out: &mut String, list: &[Spanned<Constant>]) {
    for c in list {
        let ty = crate::validate::int_range(&c.ty).map_or("i64", |(t, _, _)| t);
        let doc = if c.unit.is_empty() {
            c.doc.clone()
        } else {
            format!("{}\n\nUnit: {}.", c.doc.trim(), c.unit)
        };
        let _ = writeln!(
            out,
            "{}pub const {}: {ty} = {};",
            doc_attr(&doc),
            c.name,
            c.value
        );
    }
}

/// `ALL`, `name`, `from_tag`, `tag` and one `const fn` per property of an enum.
fn enum_methods(
    out: &mut String,
    name: &str,
    tag: Int,
    properties: &[Spanned<Property>],
    variants: &[Spanned<crate::model::Variant>],
) {
    let all: Vec<String> = variants
        .iter()
        .map(|v| format!("{name}::{}", v.name))
        .collect();
    let names: Vec<String> = variants
        .iter()
        .map(|v| format!("{name}::{n} => \"{n}\",", n = v.name))
        .collect();
    let from: Vec<String> = variants
        .iter()
        .map(|v| format!("{:#x} => Some({name}::{}),", v.value, v.name))
        .collect();
    let t = tag.name();
    let _ = write!(
        out,
        "impl {name} {{\n/// Every value in declaration order.\npub const ALL: [{name}; {n}] = [{all}];\n\
         /// The value's name as in the spec.\npub const fn name(self) -> &'static str {{ match self {{ {names} }} }}\n\
         /// The value for a tag, if it is one.\npub const fn from_tag(tag: {t}) -> Option<Self> {{ match tag {{ {from} _ => None }} }}\n\
         /// The tag on the wire.\npub const fn tag(self) -> {t} {{ self as {t} }}\n",
        n = all.len(),
        all = all.join(", "),
        names = names.join(" "),
        from = from.join(" "),
    );
    for prop in properties {
        let ty = match &prop.ty {
            Ty::Bool => "bool".to_owned(),
            Ty::Ref(target) => target.clone(),
            other => crate::validate::int_range(other)
                .map_or("i64", |(t, _, _)| t)
                .to_owned(),
        };
        let arms: Vec<String> = variants
            .iter()
            .map(|v| {
                let value = match v.props.get(&prop.name) {
                    Some(PropValue::Name(n)) => match &prop.ty {
                        Ty::Ref(target) => format!("{target}::{n}"),
                        _ => n.clone(),
                    },
                    Some(other) => other.to_string(),
                    None => "Default::default()".into(),
                };
                format!("{name}::{} => {value},", v.name)
            })
            .collect();
        let _ = writeln!(
            out,
            "{}pub const fn {}(self) -> {ty} {{ match self {{ {} }} }}",
            doc_attr(&prop.doc),
            prop.name,
            arms.join(" ")
        );
    }
    out.push_str("}\n");
}

impl Emitter<'_> {
    fn derives(&self, name: &str, copy: bool) -> String {
        let eq = if self.floats.contains(name) {
            ""
        } else {
            ", Eq"
        };
        let copy = if copy {
            ", Copy, Hash, PartialOrd, Ord"
        } else {
            ""
        };
        format!("#[derive(Debug, Clone, PartialEq{eq}{copy}, ::serde::Serialize, ::serde::Deserialize)]\n")
    }

    fn header(&mut self, spec: &SpecFile, runtime: &str) {
        let p = self.p;
        let hash = crate::hash::spec_hash(p);
        let _ = write!(
            self.out,
            "/// Name of this protocol.\npub const PROTOCOL_NAME: &str = {:?};\n\
             /// Protocol version, exchanged in the handshake.\npub const PROTOCOL_VERSION: u32 = {};\n\
             /// Hash of the normalised spec ({}); both sides must agree.\npub const SPEC_HASH: u64 = {hash:#018x};\n\
             /// Largest frame (packet id + body) in bytes.\npub const MAX_FRAME: u32 = {};\n\
             #[allow(unused_imports)]\nuse {runtime} as rt;\n\
             #[allow(unused_imports)]\nuse rt::Codec as _;\n\
             #[allow(unused_imports)]\nuse ::binrw::{{BinRead, BinWrite, Endian}};\n",
            p.name,
            p.version,
            spec.name.rsplit(['/', '\\']).next().unwrap_or(&spec.name),
            p.max_frame,
        );
        constants(&mut self.out, &p.constants);
    }

    /// A shared type: `def` as declared (enum properties), `resolved` for everything else.
    fn type_def(&mut self, def: &TypeDef, resolved: &TypeLayout) {
        let name = def.name();
        let doc = def.doc();
        match resolved {
            TypeLayout::Struct(body) => self.record(name, doc, body),
            TypeLayout::Enum { tag, .. } => {
                let t = tag.name();
                let _ = write!(
                    self.out,
                    "{}{}#[brw(repr = {t})]\n{}#[repr({t})]\npub enum {name} {{",
                    doc_attr(doc),
                    binrw_head(self.l.little),
                    self.derives(name, true),
                );
                if let TypeDef::Enum {
                    properties,
                    variants,
                    ..
                } = def
                {
                    for v in variants {
                        let _ = write!(self.out, "{}{} = {},", doc_attr(&v.doc), v.name, v.value);
                    }
                    self.out.push_str("}\n");
                    enum_methods(&mut self.out, name, *tag, properties, variants);
                }
            }
            TypeLayout::Flags { repr, bits, known } => self.flags(name, doc, *repr, bits, *known),
            TypeLayout::Union { tag, variants } => {
                for v in variants.iter().filter(|v| !v.body.fields.is_empty()) {
                    self.record(&v.name, &v.doc, &v.body);
                }
                // A union is a binrw enum whose variants each start with their tag as magic.
                let t = tag.name();
                let _ = write!(
                    self.out,
                    "{}{}{}pub enum {name} {{",
                    doc_attr(doc),
                    binrw_head(self.l.little),
                    self.derives(name, false)
                );
                for v in variants {
                    let magic = format!("#[brw(magic = {:#x}{t})]", v.value);
                    if v.body.fields.is_empty() {
                        let _ = write!(self.out, "{}{magic}\n{},", doc_attr(&v.doc), v.name);
                    } else {
                        let _ = write!(
                            self.out,
                            "{}{magic}\n{n}({n}),",
                            doc_attr(&v.doc),
                            n = v.name
                        );
                    }
                }
                self.out.push_str("}\n");
                for v in variants.iter().filter(|v| !v.body.fields.is_empty()) {
                    let _ = writeln!(
                        self.out,
                        "impl From<{n}> for {name} {{ fn from(v: {n}) -> Self {{ {name}::{n}(v) }} }}",
                        n = v.name
                    );
                }
            }
        }
    }

    fn flags(&mut self, name: &str, doc: &str, repr: Int, bits: &[FlagBit], mask: u64) {
        let r = repr.name();
        let _ = write!(
            self.out,
            "{}{}#[br(try_map = |bits: {r}| Self::from_bits(bits).ok_or_else(|| rt::FieldError::unknown_bits(bits, {mask:#x})))]\n\
             #[bw(map = |v: &Self| v.bits)]\n\
             #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, ::serde::Serialize, ::serde::Deserialize)]\n#[serde(transparent)]\n\
             pub struct {name} {{ bits: {r} }}\nimpl {name} {{",
            doc_attr(doc),
            binrw_head(self.l.little),
        );
        for b in bits {
            let _ = writeln!(
                self.out,
                "{}pub const {}: Self = Self {{ bits: 1 << {} }};",
                doc_attr(&b.doc),
                to_screaming_case(&b.name),
                b.bit
            );
        }
        let _ = write!(
            self.out,
            "/// Every defined bit.\npub const ALL: Self = Self {{ bits: {mask:#x} }};\n\
             /// No bits set.\npub const fn empty() -> Self {{ Self {{ bits: 0 }} }}\n\
             /// The raw bits.\npub const fn bits(self) -> {r} {{ self.bits }}\n\
             /// The set from raw bits, if no unknown bit is set.\npub const fn from_bits(bits: {r}) -> Option<Self> {{ if bits & !Self::ALL.bits == 0 {{ Some(Self {{ bits }}) }} else {{ None }} }}\n\
             /// The set from raw bits, dropping unknown bits.\npub const fn from_bits_truncate(bits: {r}) -> Self {{ Self {{ bits: bits & Self::ALL.bits }} }}\n\
             /// Whether every bit of `other` is set.\npub const fn contains(self, other: Self) -> bool {{ self.bits & other.bits == other.bits }}\n\
             /// Sets or clears the bits of `other`.\npub fn set(&mut self, other: Self, on: bool) {{ if on {{ self.bits |= other.bits }} else {{ self.bits &= !other.bits }} }}\n\
             }}\nimpl ::core::ops::BitOr for {name} {{ type Output = Self; fn bitor(self, rhs: Self) -> Self {{ Self {{ bits: self.bits | rhs.bits }} }} }}\n"
        );
    }

    /// A struct (shared type, packet or union variant) as a `#[binrw]` struct: a presence mask
    /// and magic are `temp` fields (read and checked, computed on write), every other field
    /// carries the attributes that say how it travels.
    fn record(&mut self, name: &str, doc: &str, body: &Body) {
        let _ = write!(
            self.out,
            "{}{}{}pub struct {name} {{",
            doc_attr(doc),
            binrw_head(self.l.little),
            self.derives(name, false)
        );
        let masked = || {
            body.fields.iter().filter_map(|f| match &f.encoding {
                Encoding::Option { bit: Some(bit), .. } => Some((f, *bit)),
                _ => None,
            })
        };
        if let Some(mask) = body.mask {
            let m = mask.name();
            let known = masked().fold(0u64, |k, (_, bit)| k | 1u64.checked_shl(bit).unwrap_or(0));
            let bits: Vec<String> = masked()
                .map(|(f, bit)| format!("{m}::from({}.is_some()) << {bit}", f.name))
                .collect();
            let _ = write!(
                self.out,
                "/// Which optional fields follow (one bit each).\n\
                 #[br(temp, parse_with = rt::Bits::<{m}, {known:#x}>::parse)]\n\
                 #[bw(calc = {})]\npresence_mask: {m},",
                bits.join(" | ")
            );
        }
        for field in &body.fields {
            if let Encoding::Magic(text) = &field.encoding {
                let _ = write!(
                    self.out,
                    "{}{}#[br(temp, parse_with = rt::read_magic, args_raw = b{text:?})]\n\
                     #[bw(calc = rt::Magic(*b{text:?}))]\n{}: rt::Magic<{}>,",
                    field_doc(field),
                    field_endian_attr(field),
                    field.name,
                    text.len()
                );
                continue;
            }
            let _ = write!(
                self.out,
                "{}{} pub {}: {},",
                field_doc(field),
                field_attrs(field),
                field.name,
                rust_ty(&field.encoding)
            );
        }
        self.out.push_str("}\n");
    }

    /// The state machinery, every-state packets, state modules, `AnyPacket` and `decode`.
    fn states(&mut self) {
        let l = self.l;
        let states: Vec<&str> = l.states.iter().map(|s| s.name.as_str()).collect();
        // State enum.
        let _ = write!(
            self.out,
            "/// The connection states, in the order a connection goes through them.\n\
             #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]\n#[repr(u8)]\npub enum State {{"
        );
        for (i, s) in l.states.iter().enumerate() {
            let _ = write!(self.out, "{}{} = {i},", doc_attr(&s.doc), s.name);
        }
        let all: Vec<String> = states.iter().map(|s| format!("State::{s}")).collect();
        let names: Vec<String> = states
            .iter()
            .map(|s| format!("State::{s} => \"{s}\","))
            .collect();
        let from: Vec<String> = states
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{i} => Some(State::{s}),"))
            .collect();
        let _ = write!(
            self.out,
            "}}\nimpl State {{\n/// Every state in order.\npub const ALL: [State; {n}] = [{all}];\n\
             /// The state's name as in the spec.\npub const fn name(self) -> &'static str {{ match self {{ {names} }} }}\n\
             /// The state for its number (its position in the spec), if it is one.\npub const fn from_tag(tag: u8) -> Option<Self> {{ match tag {{ {from} _ => None }} }}\n\
             /// The state's number (its position in the spec).\npub const fn tag(self) -> u8 {{ self as u8 }}\n}}\n\
             impl ::core::fmt::Display for State {{ fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {{ f.write_str(self.name()) }} }}\n",
            n = all.len(),
            all = all.join(", "),
            names = names.join(" "),
            from = from.join(" "),
        );
        // Traits.
        let _ = write!(
            self.out,
            "/// Metadata every packet type carries.\n\
             pub trait Packet: for<'a> BinRead<Args<'a> = ()> + for<'a> BinWrite<Args<'a> = ()> {{\n\
             /// Packet id within its state and direction.\nconst ID: u8;\n\
             /// Packet name as in the spec.\nconst NAME: &'static str;\n\
             /// Which way it travels.\nconst DIRECTION: rt::Direction;\n\
             /// The states it may be sent in.\nconst STATES: &'static [State];\n}}\n\
             /// A connection state as a type: a connection typed by its state sends only that state's packets.\n\
             pub trait StateMarker: Copy + Default + Send + Sync + 'static {{\n\
             /// The state.\nconst STATE: State;\n\
             /// The packets the client sends in this state.\ntype ToServer: rt::PacketSet;\n\
             /// The packets the server sends in this state.\ntype ToClient: rt::PacketSet;\n}}\n\
             /// `Self` is a packet the client may send in state `S`.\npub trait ClientPacket<S: StateMarker>: Packet {{}}\n\
             /// `Self` is a packet the server may send in state `S`.\npub trait ServerPacket<S: StateMarker>: Packet {{}}\n\
             /// `Self` may be sent in every state (declared under `every_state`).\npub trait AnyStatePacket: Packet {{}}\n\
             /// The connection states as types, for connections typed by state.\npub mod marker {{\n#[allow(unused_imports)] use super::*;\n"
        );
        for s in &l.states {
            let module = to_snake_case(&s.name);
            let _ = write!(
                self.out,
                "/// The {n} state as a type.\n#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]\npub struct {n};\n\
                 impl StateMarker for {n} {{ const STATE: State = State::{n}; type ToServer = {module}::ToServer; type ToClient = {module}::ToClient; }}\n",
                n = s.name
            );
        }
        self.out.push_str("}\n");
        // Every-state packets, once.
        for d in Direction::ALL {
            for packet in l.every_state.packets(d) {
                self.record(&packet.name, &packet.doc, &packet.body);
                self.packet_impl(packet, d, None);
            }
        }
        // State modules.
        for state in &l.states {
            let module = to_snake_case(&state.name);
            let _ = writeln!(
                self.out,
                "{}pub mod {module} {{\n#[allow(unused_imports)] use super::*;",
                doc_attr(&state.doc)
            );
            for d in Direction::ALL {
                for packet in state.packets(d) {
                    if packet.shared {
                        let _ = writeln!(self.out, "pub use super::{};", packet.name);
                    } else {
                        self.record(&packet.name, &packet.doc, &packet.body);
                        self.packet_impl(packet, d, Some(&state.name));
                    }
                }
                self.direction_enum(&state.name, d, state.packets(d));
            }
            self.out.push_str("}\n");
        }
        self.any_packet();
    }

    /// `Packet` and the send-permission impls of one packet.
    fn packet_impl(&mut self, packet: &PacketLayout, d: Direction, state: Option<&str>) {
        let (states, marker) = match state {
            Some(s) => (format!("&[State::{s}]"), format!("marker::{s}")),
            None => ("&State::ALL".to_owned(), "S".to_owned()),
        };
        let send_trait = match d {
            Direction::ToServer => "ClientPacket",
            Direction::ToClient => "ServerPacket",
        };
        let _ = writeln!(
            self.out,
            "impl Packet for {name} {{ const ID: u8 = {id:#04x}; const NAME: &'static str = \"{name}\"; const DIRECTION: rt::Direction = rt::Direction::{dir}; const STATES: &'static [State] = {states}; }}",
            name = packet.name,
            id = packet.id,
            dir = d.type_name(),
        );
        match state {
            Some(_) => {
                let _ = writeln!(
                    self.out,
                    "impl {send_trait}<{marker}> for {} {{}}",
                    packet.name
                );
            }
            None => {
                let _ = writeln!(
                    self.out,
                    "impl<S: StateMarker> {send_trait}<S> for {n} {{}}\nimpl AnyStatePacket for {n} {{}}",
                    n = packet.name
                );
            }
        }
    }

    fn direction_enum(&mut self, state: &str, d: Direction, packets: &[PacketLayout]) {
        let enum_name = d.type_name();
        let floats = packets.iter().any(|p| {
            p.body
                .fields
                .iter()
                .any(|f| has_float(&f.encoding, &self.floats))
        });
        let eq = if floats { "" } else { ", Eq" };
        let who = match d {
            Direction::ToServer => "client sends",
            Direction::ToClient => "server sends",
        };
        let _ = write!(
            self.out,
            "/// Every packet the {who} in the {state} state.\n#[derive(Debug, Clone, PartialEq{eq}, ::serde::Serialize, ::serde::Deserialize)]\npub enum {enum_name} {{"
        );
        for p in packets {
            let _ = write!(self.out, "/// See [`{n}`].\n{n}({n}),", n = p.name);
        }
        self.out.push_str("}\n");
        let arms = |f: &dyn Fn(&str) -> String| -> String {
            if packets.is_empty() {
                "_ => match *self {},".to_owned()
            } else {
                packets
                    .iter()
                    .map(|p| f(&p.name))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        };
        let decode: String = packets
            .iter()
            .map(|p| {
                format!(
                    "{n}::ID => rt::decode_body::<{n}>({n}::NAME, body).map(Self::{n}),",
                    n = p.name
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        let ids = arms(&|n| format!("Self::{n}(_) => {n}::ID,"));
        let names = arms(&|n| format!("Self::{n}(_) => {n}::NAME,"));
        let encodes = arms(&|n| format!("Self::{n}(p) => rt::encode_body(p, {n}::NAME, out),"));
        let table: String = packets
            .iter()
            .map(|p| format!("({n}::ID, {n}::NAME),", n = p.name))
            .collect::<Vec<_>>()
            .join(" ");
        let (body, out) = if packets.is_empty() {
            ("_", "_")
        } else {
            ("body", "out")
        };
        let _ = write!(
            self.out,
            "impl {enum_name} {{\n\
             /// The state these packets belong to.\npub const STATE: State = State::{state};\n\
             /// Which way they travel.\npub const DIRECTION: rt::Direction = rt::Direction::{enum_name};\n\
             /// Every packet of the set as (id, name), in the spec's order.\npub const PACKETS: &'static [(u8, &'static str)] = &[{table}];\n\
             /// Decodes a packet body by id; the whole body must be consumed.\n\
             pub fn decode(id: u8, {body}: &[u8]) -> Result<Self, rt::DecodeError> {{ match id {{ {decode} _ => Err(rt::DecodeError::UnknownId {{ state: \"{state}\", direction: rt::Direction::{enum_name}, id }}) }} }}\n\
             /// The packet's id.\npub fn id(&self) -> u8 {{ match self {{ {ids} }} }}\n\
             /// The packet's name as in the spec.\npub fn name(&self) -> &'static str {{ match self {{ {names} }} }}\n\
             /// Appends the packet's body (without id) to `out`.\npub fn encode_body(&self, {out}: &mut Vec<u8>) -> Result<(), rt::EncodeError> {{ match self {{ {encodes} }} }}\n}}\n\
             impl rt::PacketSet for {enum_name} {{\n\
             fn decode(id: u8, body: &[u8]) -> Result<Self, rt::DecodeError> {{ Self::decode(id, body) }}\n\
             fn id(&self) -> u8 {{ self.id() }}\n\
             fn name(&self) -> &'static str {{ self.name() }}\n\
             fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), rt::EncodeError> {{ self.encode_body(out) }}\n}}\n"
        );
        for p in packets {
            let _ = writeln!(
                self.out,
                "impl From<{n}> for {enum_name} {{ fn from(p: {n}) -> Self {{ Self::{n}(p) }} }}",
                n = p.name
            );
        }
    }

    /// `AnyPacket` (every state × direction enum in one) and the run-time `decode`.
    fn any_packet(&mut self) {
        let mut variants = Vec::new();
        for s in &self.l.states {
            for d in Direction::ALL {
                variants.push((
                    format!("{}{}", s.name, d.type_name()),
                    format!("{}::{}", to_snake_case(&s.name), d.type_name()),
                    s.name.clone(),
                    d,
                ));
            }
        }
        let _ = write!(
            self.out,
            "/// Any packet of the protocol, by state and direction (for tools that pick the state at run time).\n\
             #[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize)]\npub enum AnyPacket {{"
        );
        for (v, ty, s, d) in &variants {
            let _ = write!(
                self.out,
                "/// A {s} packet {}.\n{v}({ty}),",
                match d {
                    Direction::ToServer => "from the client",
                    Direction::ToClient => "from the server",
                }
            );
        }
        self.out.push_str("}\n");
        let map = |f: &dyn Fn(&str) -> String| -> String {
            variants
                .iter()
                .map(|(v, ..)| format!("Self::{v}(p) => {},", f("p")))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let states: String = variants
            .iter()
            .map(|(v, _, s, _)| format!("Self::{v}(_) => State::{s},"))
            .collect::<Vec<_>>()
            .join(" ");
        let dirs: String = variants
            .iter()
            .map(|(v, _, _, d)| format!("Self::{v}(_) => rt::Direction::{},", d.type_name()))
            .collect::<Vec<_>>()
            .join(" ");
        let decode: String = variants
            .iter()
            .map(|(v, ty, s, d)| {
                format!(
                    "(State::{s}, rt::Direction::{}) => <{ty} as rt::PacketSet>::decode(id, body).map(AnyPacket::{v}),",
                    d.type_name()
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        let _ = write!(
            self.out,
            "impl AnyPacket {{\n\
             /// The packet's id.\npub fn id(&self) -> u8 {{ match self {{ {ids} }} }}\n\
             /// The packet's name as in the spec.\npub fn name(&self) -> &'static str {{ match self {{ {names} }} }}\n\
             /// The state it was decoded in.\npub fn state(&self) -> State {{ match self {{ {states} }} }}\n\
             /// Which way it travels.\npub fn direction(&self) -> rt::Direction {{ match self {{ {dirs} }} }}\n\
             /// Appends the packet's body (without id) to `out`.\npub fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), rt::EncodeError> {{ match self {{ {encodes} }} }}\n}}\n\
             /// Decodes packet `id` with `body` as sent in `state` travelling in `direction`.\n\
             pub fn decode(state: State, direction: rt::Direction, id: u8, body: &[u8]) -> Result<AnyPacket, rt::DecodeError> {{ match (state, direction) {{ {decode} }} }}\n",
            ids = map(&|p| format!("rt::PacketSet::id({p})")),
            names = map(&|p| format!("rt::PacketSet::name({p})")),
            encodes = map(&|p| format!("rt::PacketSet::encode_body({p}, out)")),
        );
        for (v, ty, ..) in &variants {
            let _ = writeln!(
                self.out,
                "impl From<{ty}> for AnyPacket {{ fn from(p: {ty}) -> Self {{ AnyPacket::{v}(p) }} }}"
            );
        }
    }
}

/// The `cfg(test)` strategies and round-trip tests for every type.
fn tests(l: &Layout) -> String {
    let mut out = String::from(
        "#[cfg(test)]\n#[allow(clippy::all, unused_imports)]\npub(crate) mod strategies {\nuse super::*;\nuse ::proptest::prelude::*;\n",
    );
    let mut roundtrips = Vec::new();
    for t in &l.types {
        let name = &t.name;
        match &t.def {
            TypeLayout::Struct(body) => {
                let _ = writeln!(
                    out,
                    "pub fn arb_{}() -> impl Strategy<Value = {name}> {{ {} }}",
                    to_snake_case(name),
                    struct_strategy(name, body)
                );
                roundtrips.push((name.clone(), format!("arb_{}", to_snake_case(name))));
            }
            TypeLayout::Enum { .. } => {
                let _ = writeln!(out, "pub fn arb_{}() -> impl Strategy<Value = {name}> {{ ::proptest::sample::select({name}::ALL.to_vec()) }}", to_snake_case(name));
                roundtrips.push((name.clone(), format!("arb_{}", to_snake_case(name))));
            }
            TypeLayout::Flags { repr, .. } => {
                let _ = writeln!(out, "pub fn arb_{}() -> impl Strategy<Value = {name}> {{ any::<{r}>().prop_map({name}::from_bits_truncate) }}", to_snake_case(name), r = repr.name());
                roundtrips.push((name.clone(), format!("arb_{}", to_snake_case(name))));
            }
            TypeLayout::Union { variants, .. } => {
                let mut arms = Vec::new();
                for v in variants {
                    if v.body.fields.is_empty() {
                        arms.push(format!("Just({name}::{}).boxed()", v.name));
                    } else {
                        let _ = writeln!(
                            out,
                            "pub fn arb_{}() -> impl Strategy<Value = {n}> {{ {} }}",
                            to_snake_case(&v.name),
                            struct_strategy(&v.name, &v.body),
                            n = v.name
                        );
                        arms.push(format!(
                            "arb_{}().prop_map({name}::{}).boxed()",
                            to_snake_case(&v.name),
                            v.name
                        ));
                    }
                }
                let _ = writeln!(out, "pub fn arb_{}() -> impl Strategy<Value = {name}> {{ ::proptest::strategy::Union::new(vec![{}]) }}", to_snake_case(name), arms.join(", "));
                roundtrips.push((name.clone(), format!("arb_{}", to_snake_case(name))));
            }
        }
    }
    let mut seen_shared = BTreeSet::new();
    for s in &l.states {
        let module = &s.module;
        for d in Direction::ALL {
            for pk in s.packets(d) {
                if pk.shared && !seen_shared.insert(pk.name.clone()) {
                    continue;
                }
                let path = if pk.shared {
                    pk.name.clone()
                } else {
                    format!("{module}::{}", pk.name)
                };
                let f = if pk.shared {
                    format!("arb_{}", to_snake_case(&pk.name))
                } else {
                    format!("arb_{module}_{}", to_snake_case(&pk.name))
                };
                let _ = writeln!(
                    out,
                    "pub fn {f}() -> impl Strategy<Value = {path}> {{ {} }}",
                    struct_strategy(&path, &pk.body),
                );
                roundtrips.push((path, f));
            }
        }
    }
    out.push_str(
        "}\n#[cfg(test)]\n#[allow(clippy::all)]\nmod roundtrip {\nuse super::*;\nuse ::proptest::prelude::*;\nuse ::proptest::test_runner::{Config, TestRunner};\n\
         /// Writes `v`, reads it back, and checks every byte was used and the value survived.\n\
         fn roundtrip<T: for<'a> BinRead<Args<'a> = ()> + for<'a> BinWrite<Args<'a> = ()> + PartialEq + ::core::fmt::Debug>(v: T) -> Result<(), ::proptest::test_runner::TestCaseError> {\n\
         let mut buf = Vec::new();\nv.write_options(&mut ::binrw::io::NoSeek::new(&mut buf), Endian::Big, ()).map_err(|e| ::proptest::test_runner::TestCaseError::fail(e.to_string()))?;\n\
         let mut c = ::std::io::Cursor::new(buf.as_slice());\nlet back = T::read_options(&mut c, Endian::Big, ()).map_err(|e| ::proptest::test_runner::TestCaseError::fail(e.to_string()))?;\n\
         prop_assert_eq!(c.position() as usize, buf.len());\nprop_assert_eq!(&v, &back);\n\
         // The type keeps its declared byte order whatever endian binrw is given.\n\
         let mut other = Vec::new();\nv.write_options(&mut ::binrw::io::NoSeek::new(&mut other), Endian::Little, ()).map_err(|e| ::proptest::test_runner::TestCaseError::fail(e.to_string()))?;\n\
         prop_assert_eq!(&other, &buf);\n\
         let mut c = ::std::io::Cursor::new(buf.as_slice());\nlet back = T::read_options(&mut c, Endian::Little, ()).map_err(|e| ::proptest::test_runner::TestCaseError::fail(e.to_string()))?;\n\
         prop_assert_eq!(v, back);\nOk(())\n}\n",
    );
    for (_, f) in &roundtrips {
        let test = f.trim_start_matches("arb_");
        let _ = writeln!(
            out,
            "#[test] fn {test}() {{ let mut runner = TestRunner::new(Config::with_cases(64)); if let Err(e) = runner.run(&strategies::{f}(), roundtrip) {{ panic!(\"{{e}}\"); }} }}"
        );
    }
    out.push_str("}\n");
    out
}

fn struct_strategy(path: &str, body: &Body) -> String {
    let fields: Vec<&FieldLayout> = body
        .fields
        .iter()
        .filter(|f| !matches!(f.encoding, Encoding::Magic(_)))
        .collect();
    if fields.is_empty() {
        return format!("Just({path} {{}})");
    }
    // Nest pairs so any field count fits proptest's tuple strategies.
    let mut strategy = String::new();
    let mut pattern = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i + 1 == fields.len() {
            strategy.push_str(&strategy_of(&f.encoding));
            pattern.push_str(&f.name);
        } else {
            let _ = write!(strategy, "({}, ", strategy_of(&f.encoding));
            let _ = write!(pattern, "({}, ", f.name);
        }
    }
    for _ in 1..fields.len() {
        strategy.push(')');
        pattern.push(')');
    }
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    format!(
        "{strategy}.prop_map(|{pattern}| {path} {{ {} }})",
        names.join(", ")
    )
}

fn strategy_of(e: &Encoding) -> String {
    match e {
        Encoding::Float { bytes: 4, .. } => "(-1.0e6f32..1.0e6f32)".into(),
        Encoding::Float { .. } => "(-1.0e9f64..1.0e9f64)".into(),
        Encoding::Blob {
            utf8: true, max, ..
        } => format!("\"[a-zA-Z0-9_ é]{{0,{}}}\"", (max / 2).min(24)),
        Encoding::Blob { max, .. } => format!(
            "::proptest::collection::vec(any::<u8>(), 0..={})",
            (*max).min(64)
        ),
        Encoding::List { of, max, .. } => format!(
            "::proptest::collection::vec({}, 0..={})",
            strategy_of(of),
            (*max).min(4)
        ),
        Encoding::Array { of, len } => format!(
            "::proptest::collection::vec({}, {len}..={len})",
            strategy_of(of)
        ),
        Encoding::Option { of, .. } => format!("::proptest::option::of({})", strategy_of(of)),
        Encoding::Named(name) | Encoding::Unknown(name) => {
            format!("arb_{}()", to_snake_case(name))
        }
        Encoding::Compressed { of, .. } => strategy_of(of),
        Encoding::Magic(_) => "Just(())".into(),
        other => format!("any::<{}>()", rust_ty(other)),
    }
}
