//! Whole-spec rules, all checked in one pass.
//!
//! Parsing only checks a spec's shape. These rules need the whole spec: unique ids and names,
//! known and acyclic types, bounds that fit their prefixes, names that are valid Rust, values that
//! fit their tags. Every problem is reported (not just the first) with the span of the offending
//! text, so a maintainer fixes a spec in one round.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use crate::diagnostic::Diagnostic;
use crate::model::{Direction, Endian, Field, IntTy, LenTy, Protocol, Ty, TypeDef};
use crate::names::{is_keyword, is_pascal_case, is_snake_case, GENERATED_NAMES};
use crate::parse::{Recovery, SpecFile};
use crate::span::{key_span, value_span, Spanned};

mod tables;

pub use tables::int_range;

/// The largest bound any length may declare (64 MiB).
pub const MAX_BOUND: u64 = 64 << 20;

/// The largest frame a protocol may declare (16 MiB).
pub const MAX_FRAME: u32 = 16 << 20;

/// Checks every rule; returns every problem found, in source order.
pub fn validate(spec: &SpecFile) -> Vec<Diagnostic> {
    validate_recovered(spec, &Recovery::default())
}

/// Like [`validate`], for a spec parsed with errors: what parsing dropped (see
/// [`Recovery`]) is not reported again as missing.
pub fn validate_recovered(spec: &SpecFile, recovery: &Recovery) -> Vec<Diagnostic> {
    let mut v = Validator {
        file: &spec.name,
        source: &spec.source,
        protocol: &spec.protocol,
        recovery,
        out: Vec::new(),
    };
    v.protocol_header();
    v.types();
    v.states();
    v.constants();
    v.properties();
    v.cycles();
    v.out.sort_by_key(|d| (d.span.start, d.rule));
    v.out.dedup();
    v.out
}

struct Validator<'a> {
    file: &'a str,
    source: &'a str,
    protocol: &'a Protocol,
    recovery: &'a Recovery,
    out: Vec<Diagnostic>,
}

impl<'a> Validator<'a> {
    fn push(
        &mut self,
        span: Range<usize>,
        rule: &'static str,
        message: String,
        label: &str,
        help: Option<String>,
    ) {
        let mut d = Diagnostic::new(self.file, span, rule, message).label(label);
        d.help = help;
        self.out.push(d);
    }

    /// Adds a secondary label to the diagnostic pushed last.
    fn also(&mut self, span: Range<usize>, label: &str) {
        if let Some(d) = self.out.last_mut() {
            d.secondary.push((span, label.to_owned()));
        }
    }

    /// The span of `key`'s value inside `element`, else the element's own span.
    fn at(&self, element: &Range<usize>, key: &str) -> Range<usize> {
        value_span(self.source, element, key).unwrap_or_else(|| element.clone())
    }

    /// The span of the value of a top-level `key:` of the whole file (else of the key).
    fn top(&self, key: &str) -> Range<usize> {
        // The first `Protocol` that is not inside a `//` comment opens the top-level struct.
        let start = self
            .source
            .match_indices("Protocol")
            .map(|(i, _)| i)
            .find(|&i| {
                let line_start = self.source[..i].rfind('\n').map_or(0, |n| n + 1);
                !self.source[line_start..i].contains("//")
            })
            .unwrap_or(0);
        let whole = start..self.source.len();
        value_span(self.source, &whole, key)
            .or_else(|| key_span(self.source, &whole, key))
            .unwrap_or(0..0)
    }

    fn protocol_header(&mut self) {
        let p = self.protocol;
        if !is_snake_case(&p.name) || is_keyword(&p.name) {
            let span = self.top("name");
            self.push(
                span,
                "invalid-name",
                format!(
                    "protocol name `{}` must be snake_case and not a Rust keyword",
                    p.name
                ),
                "not a module name",
                Some("use lowercase letters, digits and underscores, e.g. \"tilegame\"".into()),
            );
        }
        if p.version == 0 {
            let span = self.top("version");
            self.push(
                span,
                "invalid-version",
                "protocol version must be at least 1".into(),
                "zero",
                None,
            );
        }
        if p.max_frame == 0 {
            let span = self.top("max_frame");
            self.push(
                span,
                "bound-zero",
                "max_frame 0 allows no frame at all; every frame holds at least a packet id".into(),
                "zero",
                Some(format!("set the largest frame either side accepts, 1 to {MAX_FRAME} bytes (default {})", 1 << 20)),
            );
        } else if p.max_frame > MAX_FRAME {
            let span = self.top("max_frame");
            self.push(
                span,
                "bound-too-large",
                format!(
                    "max_frame {} is more than the limit of {MAX_FRAME} bytes (16 MiB)",
                    p.max_frame
                ),
                "too large",
                Some(format!(
                    "frames are buffered whole before decoding; use at most {MAX_FRAME}"
                )),
            );
        }
    }

    fn type_name_ok(&mut self, name: &str, span: Range<usize>, what: &str) {
        if is_keyword(name) || (what != "variant" && GENERATED_NAMES.contains(&name)) {
            self.push(
                span,
                "reserved-word",
                format!("{what} name `{name}` is reserved"),
                "reserved",
                Some("pick another name; the generated code uses this one".into()),
            );
        } else if !is_pascal_case(name) {
            self.push(
                span,
                "invalid-name",
                format!("{what} name `{name}` must be PascalCase"),
                "not PascalCase",
                Some(format!(
                    "e.g. `{}`",
                    crate::names::to_pascal_case(&crate::names::to_snake_case(name))
                )),
            );
        }
    }

    fn types(&mut self) {
        let mut seen: BTreeMap<&str, Range<usize>> = BTreeMap::new();
        for def in &self.protocol.types {
            let name_span = self.at(&def.span, "name");
            let name = def.name();
            self.type_name_ok(name, name_span.clone(), def.kind());
            if let Some(first) = seen.get(name).cloned() {
                self.push(
                    name_span.clone(),
                    "duplicate-name",
                    format!("type `{name}` is declared twice"),
                    "declared again here",
                    Some("rename one of them".into()),
                );
                self.also(first, "first declared here");
            } else {
                seen.insert(name, name_span.clone());
            }
            let lost_variants = self.recovery.dropped_inside(&def.span);
            match &def.node {
                TypeDef::Struct {
                    fields,
                    presence,
                    floats,
                    ..
                } => {
                    self.fields(name, fields, *presence, *floats);
                }
                TypeDef::Enum { tag, variants, .. } => {
                    let items: Vec<_> = variants
                        .iter()
                        .map(|v| (v.span.clone(), v.name.as_str(), v.value))
                        .collect();
                    self.tagged(name, "enum", name_span, *tag, &items, lost_variants);
                }
                TypeDef::Union { tag, variants, .. } => {
                    let items: Vec<_> = variants
                        .iter()
                        .map(|v| (v.span.clone(), v.name.as_str(), v.value))
                        .collect();
                    self.tagged(name, "union", name_span, *tag, &items, lost_variants);
                    for var in variants {
                        let clash = self
                            .protocol
                            .types
                            .iter()
                            .find(|t| t.name() == var.name)
                            .map(|t| self.at(&t.span, "name"));
                        if let Some(other) = clash {
                            let span = self.at(&var.span, "name");
                            self.push(
                                span,
                                "duplicate-name",
                                format!(
                                    "union variant `{}` clashes with a type of the same name",
                                    var.name
                                ),
                                "clashes",
                                Some("each union variant becomes a struct of its name".into()),
                            );
                            self.also(other, "the type is declared here");
                        }
                        self.fields(&var.name, &var.fields, var.presence, var.floats);
                    }
                }
                TypeDef::Flags { repr, bits, .. } => {
                    let mut names: BTreeMap<&str, Range<usize>> = BTreeMap::new();
                    let mut used: BTreeMap<u32, (String, Range<usize>)> = BTreeMap::new();
                    for bit in bits {
                        let span = self.at(&bit.span, "name");
                        self.field_name_ok(&bit.name, span.clone(), "flag");
                        if let Some(first) = names.get(bit.name.as_str()).cloned() {
                            self.push(
                                span,
                                "duplicate-name",
                                format!("flag `{}` is declared twice in `{name}`", bit.name),
                                "again",
                                None,
                            );
                            self.also(first, "first declared here");
                        } else {
                            names.insert(bit.name.as_str(), span);
                        }
                        let bit_span = self.at(&bit.span, "bit");
                        if bit.bit >= repr.bits() {
                            self.push(
                                bit_span,
                                "value-overflow",
                                format!(
                                    "bit {} does not fit in {} ({} bits)",
                                    bit.bit,
                                    repr.rust(),
                                    repr.bits()
                                ),
                                "too large",
                                Some(format!("use a bit below {} or a wider repr", repr.bits())),
                            );
                        } else if let Some((other, first)) = used.get(&bit.bit).cloned() {
                            self.push(
                                bit_span,
                                "duplicate-value",
                                format!("bit {} is already used by `{other}`", bit.bit),
                                "again",
                                None,
                            );
                            self.also(first, &format!("used by `{other}` here"));
                        } else {
                            used.insert(bit.bit, (bit.name.clone(), bit_span));
                        }
                    }
                }
            }
        }
    }

    /// The rules shared by enums and unions: at least one variant, unique names and values
    /// that fit the tag.
    fn tagged(
        &mut self,
        owner: &str,
        kind: &str,
        name_span: Range<usize>,
        tag: IntTy,
        items: &[(Range<usize>, &str, u64)],
        lost_variants: bool,
    ) {
        // A variant that did not parse was reported already; the list is not really empty.
        if items.is_empty() && !lost_variants {
            self.push(
                name_span,
                "empty-type",
                format!("{kind} `{owner}` has no variants"),
                "empty",
                None,
            );
        }
        let mut names = BTreeMap::new();
        let mut values = BTreeMap::new();
        for (span, name, value) in items {
            self.variant(owner, span, name, *value, tag, &mut names, &mut values);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn variant<'s>(
        &mut self,
        owner: &str,
        span: &Range<usize>,
        name: &'s str,
        value: u64,
        tag: IntTy,
        names: &mut BTreeMap<&'s str, Range<usize>>,
        values: &mut BTreeMap<u64, (String, Range<usize>)>,
    ) {
        let name_span = self.at(span, "name");
        self.type_name_ok(name, name_span.clone(), "variant");
        if let Some(first) = names.get(name).cloned() {
            self.push(
                name_span,
                "duplicate-name",
                format!("variant `{name}` is declared twice in `{owner}`"),
                "again",
                None,
            );
            self.also(first, "first declared here");
        } else {
            names.insert(name, name_span);
        }
        let value_span = self.at(span, "value");
        if value > tag.max() {
            self.push(
                value_span,
                "value-overflow",
                format!(
                    "value {value} of `{owner}::{name}` does not fit its tag type {}",
                    tag.rust()
                ),
                "too large",
                Some(format!("values must be at most {}", tag.max())),
            );
        } else if let Some((other, first)) = values.get(&value).cloned() {
            self.push(
                value_span,
                "duplicate-value",
                format!("value {value} of `{owner}::{name}` is already used by `{other}`"),
                "again",
                None,
            );
            self.also(first, &format!("used by `{other}` here"));
        } else {
            values.insert(value, (name.to_owned(), value_span));
        }
    }

    fn field_name_ok(&mut self, name: &str, span: Range<usize>, what: &str) {
        if is_keyword(name) {
            self.push(
                span,
                "reserved-word",
                format!("{what} name `{name}` is a Rust keyword"),
                "keyword",
                Some(format!("try a descriptive name such as `{name}_kind`")),
            );
        } else if !is_snake_case(name) {
            self.push(
                span,
                "invalid-name",
                format!("{what} name `{name}` must be snake_case"),
                "not snake_case",
                Some(format!(
                    "e.g. `{}`",
                    crate::names::to_snake_case(name).replace("__", "_")
                )),
            );
        }
    }

    fn fields(&mut self, owner: &str, fields: &[Spanned<Field>], presence: bool, floats: bool) {
        let mut names: BTreeMap<&str, Range<usize>> = BTreeMap::new();
        let mut options = 0usize;
        for (index, field) in fields.iter().enumerate() {
            let name_span = self.at(&field.span, "name");
            self.field_name_ok(&field.name, name_span.clone(), "field");
            if let Some(first) = names.get(field.name.as_str()).cloned() {
                self.push(
                    name_span,
                    "duplicate-name",
                    format!("field `{}` is declared twice in `{owner}`", field.name),
                    "again",
                    Some("rename one of them".into()),
                );
                self.also(first, "first declared here");
            } else {
                names.insert(field.name.as_str(), name_span);
            }
            let ty_span = self.at(&field.span, "ty");
            if let Ty::Magic(text) = &field.ty {
                if index != 0 {
                    self.push(
                        ty_span.clone(),
                        "magic-position",
                        format!("magic in `{owner}.{}` must be the first field", field.name),
                        "not first",
                        Some("move it to the top of the field list".into()),
                    );
                }
                if text.is_empty() || text.len() > 16 || !text.bytes().all(|b| b.is_ascii_graphic())
                {
                    self.push(
                        ty_span.clone(),
                        "magic-invalid",
                        format!(
                            "magic {text:?} in `{owner}.{}` must be 1..=16 ASCII characters \
                             without spaces or control characters",
                            field.name
                        ),
                        "here",
                        None,
                    );
                }
            }
            if let Ty::Option(inner) = &field.ty {
                options += 1;
                if matches!(**inner, Ty::Option(_)) {
                    self.push(
                        ty_span.clone(),
                        "nested-option",
                        "an option of an option is ambiguous".into(),
                        "here",
                        None,
                    );
                }
            }
            if field.endian != Endian::Default && !endian_applies(&field.ty) {
                let span = self.at(&field.span, "endian");
                let (why, help) = match &field.ty {
                    Ty::Ref(name) => (
                        format!("`{name}` is a named type with its own byte order"),
                        "remove `endian:`; a named type uses the protocol's `endian:` (a struct's \
                         fields may set their own)",
                    ),
                    other => (
                        format!("{} has no byte order", crate::layout::encoding(self.protocol, other, false).words()),
                        "remove `endian:`; it applies only to U16..I64, F32/F64 and U16/U32 length \
                         prefixes, and to lists, arrays, options and compressed values of them",
                    ),
                };
                self.push(
                    span,
                    "endian-not-applicable",
                    format!(
                        "`endian: {:?}` has no effect on `{owner}.{}`: {why}",
                        field.endian, field.name
                    ),
                    "no byte order here",
                    Some(help.into()),
                );
            }
            self.ty(owner, &field.name, &field.ty, ty_span, floats);
        }
        if presence && options > 64 {
            self.push(
                fields[0].span.clone(),
                "presence-overflow",
                format!("`{owner}` has {options} option fields; a presence mask holds at most 64"),
                "too many",
                None,
            );
        }
    }

    /// Magic is a fixed header: it may only be a field of its own, never inside another type.
    fn nested_magic(&mut self, inner: &Ty, what: &str, span: &Range<usize>) {
        if matches!(inner, Ty::Magic(_)) {
            self.push(
                span.clone(),
                "magic-position",
                format!("magic cannot be {what}"),
                "here",
                Some("make the magic the first field of the struct or packet".into()),
            );
        }
    }

    fn ty(&mut self, owner: &str, field: &str, ty: &Ty, span: Range<usize>, floats: bool) {
        // `limit` completes "… but {limit} at most {prefix_max}".
        let bound = |s: &mut Self, max: u64, prefix_max: u64, limit: &str| {
            if max == 0 && limit == ARRAY_LIMIT {
                s.push(
                    span.clone(),
                    "bound-zero",
                    format!("`{owner}.{field}` is an array of 0 items"),
                    "zero length",
                    Some("an array needs `len:` of at least 1; remove the field if it carries nothing".into()),
                );
            } else if max == 0 {
                s.push(
                    span.clone(),
                    "bound-zero",
                    format!("`{owner}.{field}` has a maximum of 0"),
                    "zero",
                    Some("a bound must allow at least one element".into()),
                );
            } else if max > prefix_max {
                s.push(
                    span.clone(),
                    "bound-overflow",
                    format!("`{owner}.{field}` allows {max} but {limit} at most {prefix_max}"),
                    "does not fit",
                    Some(if limit.starts_with("its") {
                        "lower the bound or use a wider `len:`".into()
                    } else {
                        "lower the length, or use a List with a count prefix".into()
                    }),
                );
            } else if max > MAX_BOUND {
                s.push(
                    span.clone(),
                    "bound-too-large",
                    format!("`{owner}.{field}` allows {max}, more than the limit of {MAX_BOUND}"),
                    "too large",
                    None,
                );
            }
        };
        match ty {
            Ty::F32 | Ty::F64 if !floats => self.push(
                span,
                "float-not-allowed",
                format!("`{owner}.{field}` is a float, but `{owner}` does not allow floats"),
                "float",
                Some(
                    "use fixed-point integers, or set `floats: true` on the struct if you must"
                        .into(),
                ),
            ),
            Ty::String { max, len } | Ty::Bytes { max, len } => {
                bound(self, u64::from(*max), len.max(), &prefix_words(*len))
            }
            Ty::List { of, max, len } => {
                bound(self, u64::from(*max), len.max(), &prefix_words(*len));
                self.nested_magic(of, "a list item", &span);
                self.ty(owner, field, of, span, floats);
            }
            Ty::Array { of, len } => {
                bound(self, u64::from(*len), u64::from(u16::MAX), ARRAY_LIMIT);
                self.nested_magic(of, "an array item", &span);
                self.ty(owner, field, of, span, floats);
            }
            Ty::Option(inner) => {
                self.nested_magic(inner, "optional", &span);
                self.ty(owner, field, inner, span, floats)
            }
            Ty::Compressed { of, max } => {
                // The inflated size has no prefix of its own: only the global limit applies.
                bound(self, u64::from(*max), u64::MAX, "");
                self.nested_magic(of, "compressed", &span);
                self.ty(owner, field, of, span, floats);
            }
            Ty::Ref(name)
                if !self.protocol.types.iter().any(|t| t.name() == name)
                    && !self.recovery.dropped_names.contains(name) =>
            {
                let known: Vec<&str> = self.protocol.types.iter().map(|t| t.name()).collect();
                let close = crate::diagnostic::closest(name, &known)
                    .or_else(|| crate::diagnostic::closest(name, BUILTINS));
                self.push(
                    span,
                    "unknown-type",
                    format!("`{owner}.{field}` refers to unknown type `{name}`"),
                    "not declared",
                    Some(match close {
                        Some(k) if BUILTINS.contains(&k) => {
                            format!("did you mean the builtin `{k}` (written `ty: {k}`, without `Ref`)?")
                        }
                        Some(k) => format!("did you mean `{k}`?"),
                        None => "declare it under `types:`".into(),
                    }),
                );
            }
            _ => {}
        }
    }

    fn states(&mut self) {
        let mut state_names: BTreeMap<&str, Range<usize>> = BTreeMap::new();
        for state in &self.protocol.states {
            let name_span = self.at(&state.span, "name");
            self.type_name_ok(&state.name, name_span.clone(), "state");
            if let Some(first) = state_names.get(state.name.as_str()).cloned() {
                self.push(
                    name_span,
                    "duplicate-name",
                    format!("state `{}` is declared twice", state.name),
                    "again",
                    None,
                );
                self.also(first, "first declared here");
            } else {
                state_names.insert(&state.name, name_span);
            }
            let mut packet_names: BTreeMap<&str, Range<usize>> = BTreeMap::new();
            for direction in Direction::ALL {
                let mut ids: BTreeMap<u32, (&str, Range<usize>)> = BTreeMap::new();
                for packet in state.packets(direction) {
                    let id_span = self.at(&packet.span, "id");
                    if packet.id > 255 {
                        self.push(
                            id_span.clone(),
                            "value-overflow",
                            format!(
                                "packet id {} of `{}` does not fit in one byte",
                                packet.id, packet.name
                            ),
                            "too large",
                            Some("packet ids are 0..=255 per state and direction".into()),
                        );
                    } else if let Some((other, first)) = ids.get(&packet.id).cloned() {
                        self.push(
                            id_span,
                            "duplicate-id",
                            format!("packet id {:#04x} is already used by {other}", packet.id),
                            "duplicate id",
                            Some(format!(
                                "pick an id that is not used in {}/{}",
                                crate::names::to_snake_case(&state.name),
                                direction.key()
                            )),
                        );
                        self.also(first, &format!("used by {other} here"));
                    } else {
                        ids.insert(packet.id, (&packet.name, id_span));
                    }
                    let pname_span = self.at(&packet.span, "name");
                    self.type_name_ok(&packet.name, pname_span.clone(), "packet");
                    if let Some(first) = packet_names.get(packet.name.as_str()).cloned() {
                        self.push(
                            pname_span.clone(),
                            "duplicate-name",
                            format!(
                                "packet `{}` is declared twice in state `{}`",
                                packet.name, state.name
                            ),
                            "again",
                            None,
                        );
                        self.also(first, "first declared here");
                    } else {
                        packet_names.insert(&packet.name, pname_span.clone());
                    }
                    let clash = self
                        .protocol
                        .types
                        .iter()
                        .find(|t| t.name() == packet.name)
                        .map(|t| self.at(&t.span, "name"));
                    if let Some(other) = clash {
                        self.push(
                            pname_span,
                            "duplicate-name",
                            format!("packet `{}` has the name of a shared type", packet.name),
                            "clashes",
                            Some(
                                "packets and shared types share one namespace per state module"
                                    .into(),
                            ),
                        );
                        self.also(other, "the shared type is declared here");
                    }
                    self.fields(&packet.name, &packet.fields, packet.presence, packet.floats);
                }
            }
        }
    }

    /// Struct and union types must not contain themselves, directly or through other types:
    /// such a type has no finite Rust layout and lets hostile input recurse without bound.
    fn cycles(&mut self) {
        let graph: BTreeMap<&str, Vec<&str>> = self
            .protocol
            .types
            .iter()
            .map(|t| {
                let mut refs = Vec::new();
                match &t.node {
                    TypeDef::Struct { fields, .. } => {
                        fields.iter().for_each(|f| collect_refs(&f.ty, &mut refs))
                    }
                    TypeDef::Union { variants, .. } => variants
                        .iter()
                        .flat_map(|v| v.fields.iter())
                        .for_each(|f| collect_refs(&f.ty, &mut refs)),
                    _ => {}
                }
                (t.name(), refs)
            })
            .collect();
        let mut reported = BTreeSet::new();
        for def in &self.protocol.types {
            let start = def.name();
            let mut path = vec![start];
            if let Some(cycle) = find_cycle(&graph, start, &mut path, &mut BTreeSet::new()) {
                let mut members: Vec<&str> = cycle.clone();
                // The path ends where it starts; dedup so every rotation of a cycle is one key.
                members.sort_unstable();
                members.dedup();
                if reported.insert(members) {
                    let span = self.at(&def.span, "name");
                    self.push(
                        span,
                        "cyclic-type",
                        format!("type `{start}` contains itself: {}", cycle.join(" → ")),
                        "recursive",
                        Some(
                            "wire types must be finite; break the cycle (e.g. refer by id)".into(),
                        ),
                    );
                }
            }
        }
    }
}

/// The `limit` words for an array's length, which also tell the bound check it is an array.
const ARRAY_LIMIT: &str = "an array holds";

/// The builtin wire types, for "did you mean" hints on a `Ref` to one of them.
const BUILTINS: &[&str] = &[
    "U8",
    "U16",
    "U32",
    "U64",
    "I8",
    "I16",
    "I32",
    "I64",
    "F32",
    "F64",
    "Bool",
    "VarU32",
    "VarU64",
    "VarI32",
    "VarI64",
    "String",
    "Bytes",
    "List",
    "Array",
    "Option",
    "Magic",
    "Compressed",
];

/// How a length prefix limits a bound, for messages: "its U8 prefix holds".
fn prefix_words(len: LenTy) -> String {
    format!("its {} prefix holds", len.name())
}

/// Whether a field's `endian:` changes any bytes of `ty`: fixed-width integers and floats wider
/// than a byte, and U16/U32 length prefixes, directly or inside a list, array, option or
/// compressed value. A named type keeps its own byte order, so `Ref` is not affected.
fn endian_applies(ty: &Ty) -> bool {
    match ty {
        Ty::U16 | Ty::U32 | Ty::U64 | Ty::I16 | Ty::I32 | Ty::I64 | Ty::F32 | Ty::F64 => true,
        Ty::String { len, .. } | Ty::Bytes { len, .. } => matches!(len, LenTy::U16 | LenTy::U32),
        Ty::List { of, len, .. } => matches!(len, LenTy::U16 | LenTy::U32) || endian_applies(of),
        Ty::Array { of, .. } | Ty::Option(of) | Ty::Compressed { of, .. } => endian_applies(of),
        Ty::U8
        | Ty::I8
        | Ty::Bool
        | Ty::VarU32
        | Ty::VarU64
        | Ty::VarI32
        | Ty::VarI64
        | Ty::Ref(_)
        | Ty::Magic(_) => false,
    }
}

fn collect_refs<'t>(ty: &'t Ty, out: &mut Vec<&'t str>) {
    match ty {
        Ty::Ref(name) => out.push(name),
        Ty::List { of, .. } | Ty::Array { of, .. } | Ty::Option(of) | Ty::Compressed { of, .. } => {
            collect_refs(of, out)
        }
        _ => {}
    }
}

fn find_cycle<'g>(
    graph: &BTreeMap<&'g str, Vec<&'g str>>,
    target: &'g str,
    path: &mut Vec<&'g str>,
    visited: &mut BTreeSet<&'g str>,
) -> Option<Vec<&'g str>> {
    let current = *path.last()?;
    for &next in graph.get(current).map(Vec::as_slice).unwrap_or(&[]) {
        if next == target {
            let mut cycle = path.clone();
            cycle.push(next);
            return Some(cycle);
        }
        if visited.insert(next) {
            path.push(next);
            if let Some(c) = find_cycle(graph, target, path, visited) {
                return Some(c);
            }
            path.pop();
        }
    }
    None
}
