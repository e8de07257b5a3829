//! Compatibility between two versions of a spec.
//!
//! Encodings come from the resolved layout ([`crate::layout`]); this module erases their names
//! into a `Shape` and compares shapes.
//!
//! A spec edit can silently split the player base: a renumbered packet or a raised bound decodes
//! fine on one build and fails on the other. [`diff`] compares two specs and classifies every
//! change as [`Compatibility::Compatible`] (peers built from either spec still understand each
//! other byte for byte) or [`Compatibility::Breaking`], with the reason. Layouts are compared
//! structurally: references to shared types are resolved in each spec, so renaming a type, a
//! packet, a field or a variant is compatible as long as the bytes stay the same, while any change
//! to the bytes is breaking. The wire format has no optional trailing fields, so adding a field
//! is breaking too.

use std::collections::BTreeSet;
use std::fmt;

use crate::layout::{self, Encoding};
use crate::model::{Direction, Endian, Field, LenTy, Protocol, State, Ty, TypeDef};
use crate::names::to_snake_case;
use crate::parse::SpecFile;
use crate::span::Spanned;
use crate::wire;

/// Whether peers built from the old and the new spec still interoperate after a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Compatibility {
    /// Old and new peers still understand each other.
    Compatible,
    /// Some old/new pairing misreads or rejects the other's bytes.
    Breaking,
}

impl fmt::Display for Compatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compatibility::Compatible => "compatible",
            Compatibility::Breaking => "breaking",
        })
    }
}

/// One classified difference between two specs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Compatible or breaking.
    pub kind: Compatibility,
    /// Where: `protocol`, `types/Name.field`, `state/direction/Packet.field`, ...
    pub path: String,
    /// What changed and, for breaking changes, why it breaks.
    pub message: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.kind, self.path, self.message)
    }
}

/// Whether any change is breaking.
pub fn is_breaking(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.kind == Compatibility::Breaking)
}

/// Every difference between `old` and `new`, in spec order (protocol, types, states).
pub fn diff(old: &SpecFile, new: &SpecFile) -> Vec<Change> {
    let mut d = Differ {
        old: &old.protocol,
        new: &new.protocol,
        changes: Vec::new(),
        type_pairs: Vec::new(),
    };
    d.protocol();
    d.types();
    d.states();
    d.changes
}

// ---------------------------------------------------------------------------------------------
// Wire shapes: a spec type with every name and reference resolved away.

/// A length or count prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    Var,
    Fixed { bytes: u8, little: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Int {
        signed: bool,
        bytes: u8,
        little: bool,
    },
    Float {
        bytes: u8,
        little: bool,
    },
    Bool,
    Var {
        signed: bool,
        wide: bool,
    },
    Blob {
        utf8: bool,
        max: u32,
        len: Prefix,
    },
    List {
        of: Box<Shape>,
        max: u32,
        len: Prefix,
    },
    Array {
        of: Box<Shape>,
        len: u32,
    },
    Option(Box<Shape>),
    Magic(String),
    Compressed {
        of: Box<Shape>,
        max: u32,
    },
    Enum {
        tag: Prefix,
        values: Vec<u64>,
    },
    Flags {
        repr: Prefix,
        bits: Vec<u32>,
    },
    Struct(Body),
    Union {
        tag: Prefix,
        variants: Vec<(u64, Body)>,
    },
    Unknown(String),
}

/// A field list: whether options use a mask, and the field shapes in order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Body {
    mask: bool,
    fields: Vec<Shape>,
}

fn is_little(field: Endian, protocol: Endian) -> bool {
    layout::field_little(field, protocol)
}

fn len_prefix(len: LenTy, little: bool) -> Prefix {
    prefix_shape(layout::prefix(len, little))
}

fn prefix_shape(p: layout::Prefix) -> Prefix {
    match p {
        layout::Prefix::Var => Prefix::Var,
        layout::Prefix::Fixed(i) => Prefix::Fixed {
            bytes: i.bytes,
            little: i.little,
        },
    }
}

fn find_type<'p>(p: &'p Protocol, name: &str) -> Option<&'p TypeDef> {
    p.types.iter().find(|t| t.name() == name).map(|t| &**t)
}

/// The shape of one value of `ty`: its resolved encoding ([`layout::encoding`]) with names erased.
fn shape(p: &Protocol, ty: &Ty, little: bool, depth: u32) -> Shape {
    encoding_shape(p, &layout::encoding(p, ty, little), depth)
}

fn encoding_shape(p: &Protocol, e: &Encoding, depth: u32) -> Shape {
    if depth > 32 {
        return Shape::Unknown("too deep".into());
    }
    let inner = |of: &Encoding| Box::new(encoding_shape(p, of, depth + 1));
    match e {
        Encoding::Int(i) => Shape::Int {
            signed: i.signed,
            bytes: i.bytes,
            little: i.little,
        },
        Encoding::Float { bytes, little } => Shape::Float {
            bytes: *bytes,
            little: *little,
        },
        Encoding::Bool => Shape::Bool,
        Encoding::Var { signed, wide } => Shape::Var {
            signed: *signed,
            wide: *wide,
        },
        Encoding::Blob { utf8, max, len } => Shape::Blob {
            utf8: *utf8,
            max: *max,
            len: prefix_shape(*len),
        },
        Encoding::List { of, max, len } => Shape::List {
            of: inner(of),
            max: *max,
            len: prefix_shape(*len),
        },
        Encoding::Array { of, len } => Shape::Array {
            of: inner(of),
            len: *len,
        },
        // Presence byte or mask bit is the body's business (`Body::mask`).
        Encoding::Option { of, .. } => Shape::Option(inner(of)),
        Encoding::Magic(text) => Shape::Magic(text.clone()),
        Encoding::Compressed { of, max, .. } => Shape::Compressed {
            of: inner(of),
            max: *max,
        },
        Encoding::Named(name) => match find_type(p, name) {
            None => Shape::Unknown(name.clone()),
            Some(def) => def_shape(p, def, depth + 1),
        },
        Encoding::Unknown(name) => Shape::Unknown(name.clone()),
    }
}

/// The shape of a type definition, from its [`layout::TypeLayout`].
fn def_shape(p: &Protocol, def: &TypeDef, depth: u32) -> Shape {
    let int = |i: layout::Int| Prefix::Fixed {
        bytes: i.bytes,
        little: i.little,
    };
    match layout::type_layout(p, def) {
        layout::TypeLayout::Struct(b) => Shape::Struct(body_shape(p, &b, depth)),
        layout::TypeLayout::Enum { tag, variants } => {
            let mut values: Vec<u64> = variants.iter().map(|v| v.0).collect();
            values.sort_unstable();
            Shape::Enum {
                tag: int(tag),
                values,
            }
        }
        layout::TypeLayout::Flags { repr, bits } => {
            let mut bits: Vec<u32> = bits.iter().map(|b| b.0).collect();
            bits.sort_unstable();
            Shape::Flags {
                repr: int(repr),
                bits,
            }
        }
        layout::TypeLayout::Union { tag, variants } => {
            let mut vs: Vec<(u64, Body)> = variants
                .iter()
                .map(|v| (v.value, body_shape(p, &v.body, depth)))
                .collect();
            vs.sort_by_key(|(value, _)| *value);
            Shape::Union {
                tag: int(tag),
                variants: vs,
            }
        }
    }
}

fn body_shape(p: &Protocol, b: &layout::Body, depth: u32) -> Body {
    Body {
        mask: b.mask.is_some(),
        fields: b
            .fields
            .iter()
            .map(|f| encoding_shape(p, &f.encoding, depth + 1))
            .collect(),
    }
}

fn body(p: &Protocol, fields: &[Spanned<Field>], presence: bool, depth: u32) -> Body {
    body_shape(p, &layout::body(p, fields, presence), depth)
}

fn field_shape(p: &Protocol, f: &Field) -> Shape {
    shape(p, &f.ty, is_little(f.endian, p.endian), 0)
}

// ---------------------------------------------------------------------------------------------

struct Differ<'a> {
    old: &'a Protocol,
    new: &'a Protocol,
    changes: Vec<Change>,
    /// Shared types matched between the specs (same name, or renamed and wire-identical).
    type_pairs: Vec<(String, String)>,
}

/// Why changing a bound breaks; `excess` describes what exceeds a bound, with `{}` for it.
fn bound_reason(what: &str, excess: &str, old: u32, new: u32) -> String {
    if new > old {
        format!(
            "{what} bound raised {old} → {new}: breaking, because old peers reject {} that new peers may now send",
            excess.replace("{}", &old.to_string())
        )
    } else {
        format!(
            "{what} bound lowered {old} → {new}: breaking, because new peers reject {} that old peers may still send",
            excess.replace("{}", &new.to_string())
        )
    }
}

fn prefix_words(p: Prefix) -> String {
    match p {
        Prefix::Var => "varint".into(),
        Prefix::Fixed { bytes, little } if bytes > 1 => {
            format!(
                "u{} {}",
                u32::from(bytes) * 8,
                if little {
                    "little-endian"
                } else {
                    "big-endian"
                }
            )
        }
        Prefix::Fixed { bytes, .. } => format!("u{}", u32::from(bytes) * 8),
    }
}

impl Differ<'_> {
    fn push(&mut self, kind: Compatibility, path: impl Into<String>, message: impl Into<String>) {
        self.changes.push(Change {
            kind,
            path: path.into(),
            message: message.into(),
        });
    }

    fn breaking(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(Compatibility::Breaking, path, message);
    }

    fn compatible(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(Compatibility::Compatible, path, message);
    }

    fn doc(&mut self, path: &str, old: &str, new: &str) {
        if old.trim() != new.trim() {
            self.compatible(path, "documentation changed");
        }
    }

    fn protocol(&mut self) {
        let (old, new) = (self.old, self.new);
        if old.name != new.name {
            self.compatible(
                "protocol",
                format!(
                    "renamed `{}` → `{}` (names the generated module; not on the wire)",
                    old.name, new.name
                ),
            );
        }
        if old.version != new.version {
            self.compatible(
                "protocol",
                format!(
                    "version {} → {} (informational; the handshake compares versions, so peers of different \
                     versions refuse each other cleanly)",
                    old.version, new.version
                ),
            );
        }
        if old.endian != new.endian
            && is_little(old.endian, Endian::Big) != is_little(new.endian, Endian::Big)
        {
            self.breaking(
                "protocol",
                format!(
                    "default byte order changed {} → {}: every multi-byte integer without its own `endian` changes",
                    if is_little(old.endian, Endian::Big) { "little-endian" } else { "big-endian" },
                    if is_little(new.endian, Endian::Big) { "little-endian" } else { "big-endian" },
                ),
            );
        }
        if old.max_frame != new.max_frame {
            self.breaking(
                "protocol",
                bound_reason(
                    "max_frame",
                    "frames longer than {} bytes",
                    old.max_frame,
                    new.max_frame,
                ),
            );
        }
        self.doc("protocol", &old.doc, &new.doc);
    }

    fn types(&mut self) {
        let (old, new) = (self.old, self.new);
        let old_names: BTreeSet<&str> = old.types.iter().map(|t| t.name()).collect();
        let mut added: Vec<&TypeDef> = new
            .types
            .iter()
            .filter(|t| !old_names.contains(t.name()))
            .map(|t| &**t)
            .collect();
        for t in &old.types {
            let path = format!("types/{}", t.name());
            if let Some(n) = find_type(new, t.name()) {
                self.type_pairs
                    .push((t.name().to_owned(), n.name().to_owned()));
                self.typedef(&path, t, n);
                continue;
            }
            let old_shape = def_shape(old, t, 0);
            let renamed = added
                .iter()
                .position(|n| n.kind() == t.kind() && def_shape(new, n, 0) == old_shape);
            match renamed {
                Some(i) => {
                    let n = added.remove(i);
                    self.type_pairs
                        .push((t.name().to_owned(), n.name().to_owned()));
                    self.compatible(
                        &path,
                        format!("{} renamed to `{}` (wire-identical)", t.kind(), n.name()),
                    );
                    self.typedef(&format!("types/{}", n.name()), t, n);
                }
                None => self.breaking(
                    &path,
                    format!(
                        "{} removed: whatever encoded it can no longer be read by new peers",
                        t.kind()
                    ),
                ),
            }
        }
        for n in added {
            self.compatible(
                format!("types/{}", n.name()),
                format!(
                    "{} added (its uses are reported where they appear)",
                    n.kind()
                ),
            );
        }
    }

    fn typedef(&mut self, path: &str, old: &TypeDef, new: &TypeDef) {
        self.doc(path, old.doc(), new.doc());
        match (old, new) {
            (
                TypeDef::Struct {
                    presence: op,
                    fields: of,
                    ..
                },
                TypeDef::Struct {
                    presence: np,
                    fields: nf,
                    ..
                },
            ) => {
                self.fields(path, of, *op, nf, *np);
            }
            (
                TypeDef::Enum {
                    tag: ot,
                    variants: ov,
                    ..
                },
                TypeDef::Enum {
                    tag: nt,
                    variants: nv,
                    ..
                },
            ) => {
                if ot != nt {
                    self.breaking(
                        path,
                        format!("tag type changed {} → {}", ot.rust(), nt.rust()),
                    );
                }
                let old_vs: Vec<(&str, u64, &str)> = ov
                    .iter()
                    .map(|v| (v.name.as_str(), v.value, v.doc.as_str()))
                    .collect();
                let new_vs: Vec<(&str, u64, &str)> = nv
                    .iter()
                    .map(|v| (v.name.as_str(), v.value, v.doc.as_str()))
                    .collect();
                self.tags(path, "variant", &old_vs, &new_vs);
            }
            (
                TypeDef::Flags {
                    repr: or, bits: ob, ..
                },
                TypeDef::Flags {
                    repr: nr, bits: nb, ..
                },
            ) => {
                if or != nr {
                    self.breaking(
                        path,
                        format!("representation changed {} → {}", or.rust(), nr.rust()),
                    );
                }
                for b in ob {
                    let bpath = format!("{path}.{}", b.name);
                    match nb.iter().find(|n| n.name == b.name) {
                        Some(n) if n.bit != b.bit => self.breaking(
                            &bpath,
                            format!("bit moved {} → {}: old and new peers read different flags", b.bit, n.bit),
                        ),
                        Some(n) => self.doc(&bpath, &b.doc, &n.doc),
                        None => match nb.iter().find(|n| n.bit == b.bit && !ob.iter().any(|o| o.name == n.name)) {
                            Some(n) => self.compatible(&bpath, format!("bit {} renamed to `{}`", b.bit, n.name)),
                            None => self.breaking(
                                &bpath,
                                format!("bit {} removed: old peers may still set it and new peers reject it", b.bit),
                            ),
                        },
                    }
                }
                for n in nb {
                    let known = ob.iter().any(|o| o.name == n.name || o.bit == n.bit);
                    if !known {
                        self.breaking(
                            format!("{path}.{}", n.name),
                            format!("bit {} added: breaking, because old peers reject a value with an unknown bit set", n.bit),
                        );
                    }
                }
            }
            (
                TypeDef::Union {
                    tag: ot,
                    variants: ov,
                    ..
                },
                TypeDef::Union {
                    tag: nt,
                    variants: nv,
                    ..
                },
            ) => {
                if ot != nt {
                    self.breaking(
                        path,
                        format!("tag type changed {} → {}", ot.rust(), nt.rust()),
                    );
                }
                let old_vs: Vec<(&str, u64, &str)> = ov
                    .iter()
                    .map(|v| (v.name.as_str(), v.value, v.doc.as_str()))
                    .collect();
                let new_vs: Vec<(&str, u64, &str)> = nv
                    .iter()
                    .map(|v| (v.name.as_str(), v.value, v.doc.as_str()))
                    .collect();
                for (o, n) in self.tags(path, "variant", &old_vs, &new_vs) {
                    if let (Some(o), Some(n)) = (
                        ov.iter().find(|v| v.name == o),
                        nv.iter().find(|v| v.name == n),
                    ) {
                        self.fields(
                            &format!("{path}::{}", n.name),
                            &o.fields,
                            o.presence,
                            &n.fields,
                            n.presence,
                        );
                    }
                }
            }
            _ => self.breaking(
                path,
                format!("changed from {} to {}", old.kind(), new.kind()),
            ),
        }
    }

    /// Compares tagged values (enum variants, union variants) by name and value; returns each
    /// (old name, new name) pair that denotes the same tag.
    fn tags(
        &mut self,
        path: &str,
        word: &str,
        old: &[(&str, u64, &str)],
        new: &[(&str, u64, &str)],
    ) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        for &(name, value, doc) in old {
            let vpath = format!("{path}::{name}");
            if let Some(&(n, nv, ndoc)) = new.iter().find(|n| n.0 == name) {
                if nv != value {
                    self.breaking(
                        &vpath,
                        format!("{word} renumbered {value} → {nv}: old and new peers disagree on its tag"),
                    );
                } else {
                    self.doc(&vpath, doc, ndoc);
                    pairs.push((name.to_owned(), n.to_owned()));
                }
                continue;
            }
            match new.iter().find(|n| n.1 == value && !old.iter().any(|o| o.0 == n.0)) {
                Some(&(n, _, _)) => {
                    self.compatible(&vpath, format!("{word} {value} renamed to `{n}` (same tag)"));
                    pairs.push((name.to_owned(), n.to_owned()));
                }
                None => self.breaking(
                    &vpath,
                    format!("{word} {value} removed: new peers reject the tag that old peers may still send"),
                ),
            }
        }
        for &(name, value, _) in new {
            let known = old.iter().any(|o| o.0 == name || o.1 == value);
            if !known {
                self.breaking(
                    format!("{path}::{name}"),
                    format!("{word} {value} added: breaking, because old peers reject the unknown tag {value}"),
                );
            }
        }
        pairs
    }

    fn states(&mut self) {
        let (old, new) = (self.old, self.new);
        let old_names: Vec<&str> = old.states.iter().map(|s| s.name.as_str()).collect();
        let new_names: Vec<&str> = new.states.iter().map(|s| s.name.as_str()).collect();
        let mut added: Vec<&State> = new
            .states
            .iter()
            .filter(|s| !old_names.contains(&s.name.as_str()))
            .map(|s| &**s)
            .collect();
        for s in &old.states {
            let path = to_snake_case(&s.name);
            if let Some(n) = new.states.iter().find(|n| n.name == s.name) {
                self.state(&path, s, n);
                continue;
            }
            let same = added.iter().position(|n| self.same_packets(s, n));
            match same {
                Some(i) => {
                    let n = added.remove(i);
                    self.compatible(
                        &path,
                        format!("state renamed to `{}` (same packets)", n.name),
                    );
                    self.doc(&path, &s.doc, &n.doc);
                }
                None => self.breaking(
                    &path,
                    "state removed: old peers expect it in the connection sequence",
                ),
            }
        }
        for n in added {
            self.breaking(
                to_snake_case(&n.name),
                "state added: old peers never enter it and reject its packets",
            );
        }
        let common_old: Vec<&str> = old_names
            .iter()
            .copied()
            .filter(|n| new_names.contains(n))
            .collect();
        let common_new: Vec<&str> = new_names
            .iter()
            .copied()
            .filter(|n| old_names.contains(n))
            .collect();
        if common_old != common_new {
            self.breaking(
                "states",
                format!(
                    "state order changed [{}] → [{}]: connections go through the states in declaration order",
                    common_old.join(", "),
                    common_new.join(", ")
                ),
            );
        }
    }

    fn same_packets(&self, old: &State, new: &State) -> bool {
        Direction::ALL.iter().all(|&dir| {
            let (o, n) = (old.packets(dir), new.packets(dir));
            o.len() == n.len()
                && o.iter().all(|op| {
                    n.iter().any(|np| {
                        np.id == op.id
                            && body(self.old, &op.fields, op.presence, 0)
                                == body(self.new, &np.fields, np.presence, 0)
                    })
                })
        })
    }

    fn state(&mut self, path: &str, old: &State, new: &State) {
        self.doc(path, &old.doc, &new.doc);
        for dir in Direction::ALL {
            let dpath = format!("{path}/{}", dir.key());
            let (op, np) = (old.packets(dir), new.packets(dir));
            let mut matched_new = BTreeSet::new();
            for o in op {
                let ppath = format!("{dpath}/{}", o.name);
                if let Some((i, n)) = np.iter().enumerate().find(|(_, n)| n.name == o.name) {
                    matched_new.insert(i);
                    if n.id != o.id {
                        self.breaking(
                            &ppath,
                            format!("packet renumbered 0x{:02x} → 0x{:02x}: old and new peers disagree on its id", o.id, n.id),
                        );
                    }
                    self.doc(&ppath, &o.doc, &n.doc);
                    self.fields(&ppath, &o.fields, o.presence, &n.fields, n.presence);
                    continue;
                }
                let renamed = np.iter().enumerate().find(|(i, n)| {
                    n.id == o.id && !matched_new.contains(i) && !op.iter().any(|x| x.name == n.name)
                });
                match renamed {
                    Some((i, n)) => {
                        matched_new.insert(i);
                        let same = body(self.old, &o.fields, o.presence, 0)
                            == body(self.new, &n.fields, n.presence, 0);
                        let note = if same {
                            "same id, same layout"
                        } else {
                            "same id; layout changes follow"
                        };
                        self.compatible(
                            &ppath,
                            format!("packet 0x{:02x} renamed to `{}` ({note})", o.id, n.name),
                        );
                        self.doc(&format!("{dpath}/{}", n.name), &o.doc, &n.doc);
                        self.fields(
                            &format!("{dpath}/{}", n.name),
                            &o.fields,
                            o.presence,
                            &n.fields,
                            n.presence,
                        );
                    }
                    None => self.breaking(
                        &ppath,
                        format!(
                            "packet 0x{:02x} removed: new peers reject it when old peers send it",
                            o.id
                        ),
                    ),
                }
            }
            for (i, n) in np.iter().enumerate() {
                if !matched_new.contains(&i) {
                    self.compatible(
                        format!("{dpath}/{}", n.name),
                        format!(
                            "packet 0x{:02x} added (old peers never send it; new peers must not send it to old ones)",
                            n.id
                        ),
                    );
                }
            }
        }
    }

    /// Compares two field lists (packet bodies, struct fields, union variant fields).
    fn fields(
        &mut self,
        path: &str,
        old: &[Spanned<Field>],
        op: bool,
        new: &[Spanned<Field>],
        np: bool,
    ) {
        let old_mask = op && old.iter().any(|f| matches!(f.ty, Ty::Option(_)));
        let new_mask = np && new.iter().any(|f| matches!(f.ty, Ty::Option(_)));
        if old_mask != new_mask {
            self.breaking(
                path,
                if new_mask {
                    "presence mask turned on: optional fields move from a byte each to a bit in a leading mask"
                } else {
                    "presence mask turned off: optional fields move from a bit in a leading mask to a byte each"
                },
            );
        }
        let old_names: Vec<&str> = old.iter().map(|f| f.name.as_str()).collect();
        let new_names: Vec<&str> = new.iter().map(|f| f.name.as_str()).collect();
        // Renames: same position, neither name on the other side.
        let mut renames: Vec<(usize, usize)> = Vec::new();
        for (i, (o, n)) in old.iter().zip(new.iter()).enumerate() {
            if o.name != n.name
                && !new_names.contains(&o.name.as_str())
                && !old_names.contains(&n.name.as_str())
            {
                renames.push((i, i));
            }
        }
        let common_old: Vec<&str> = old_names
            .iter()
            .copied()
            .filter(|n| new_names.contains(n))
            .collect();
        let common_new: Vec<&str> = new_names
            .iter()
            .copied()
            .filter(|n| old_names.contains(n))
            .collect();
        if common_old != common_new {
            self.breaking(
                path,
                format!(
                    "field order changed ({}) → ({})",
                    common_old.join(", "),
                    common_new.join(", ")
                ),
            );
        }
        for (i, o) in old.iter().enumerate() {
            let fpath = format!("{path}.{}", o.name);
            if let Some(n) = new.iter().find(|n| n.name == o.name) {
                self.doc(&fpath, &o.doc, &n.doc);
                self.field_ty(&fpath, o, n);
            } else if let Some(&(_, j)) = renames.iter().find(|(oi, _)| *oi == i) {
                let n = &new[j];
                let same = field_shape(self.old, o) == field_shape(self.new, n);
                if same {
                    self.compatible(
                        &fpath,
                        format!("field renamed to `{}` (same type, same position)", n.name),
                    );
                    self.doc(&fpath, &o.doc, &n.doc);
                } else {
                    self.breaking(
                        &fpath,
                        format!(
                            "field replaced by `{}`: {} → {}",
                            n.name,
                            wire::describe(&o.ty),
                            wire::describe(&n.ty)
                        ),
                    );
                }
            } else {
                self.breaking(
                    &fpath,
                    format!(
                        "field removed ({}): the wire format has no optional fields, so every later byte moves",
                        wire::describe(&o.ty)
                    ),
                );
            }
        }
        for (j, n) in new.iter().enumerate() {
            if old_names.contains(&n.name.as_str()) || renames.iter().any(|(_, nj)| *nj == j) {
                continue;
            }
            self.breaking(
                format!("{path}.{}", n.name),
                format!(
                    "field added ({}): the wire format has no optional trailing fields, so old peers misread or reject the body",
                    wire::describe(&n.ty)
                ),
            );
        }
    }

    fn field_ty(&mut self, path: &str, old: &Field, new: &Field) {
        let (ol, nl) = (
            is_little(old.endian, self.old.endian),
            is_little(new.endian, self.new.endian),
        );
        self.ty(path, "", &old.ty, ol, &new.ty, nl, 0);
    }

    /// Whether `old` and `new` (names of shared types) were matched by [`Differ::types`].
    fn paired(&self, old: &str, new: &str) -> bool {
        self.type_pairs.iter().any(|(o, n)| o == old && n == new)
    }

    #[allow(clippy::too_many_arguments)]
    fn ty(&mut self, path: &str, ctx: &str, old: &Ty, ol: bool, new: &Ty, nl: bool, depth: u32) {
        if depth > 32 {
            return;
        }
        let (so, sn) = (shape(self.old, old, ol, 0), shape(self.new, new, nl, 0));
        match (old, new) {
            (Ty::Ref(a), Ty::Ref(b)) if self.paired(a, b) => {
                // Reported once, under types/, unless only the referring field's byte order changed.
                let tagged = |p: &Protocol, n: &str| {
                    matches!(
                        find_type(p, n),
                        Some(TypeDef::Enum { .. } | TypeDef::Flags { .. } | TypeDef::Union { .. })
                    )
                };
                if ol != nl && tagged(self.old, a) && tagged(self.new, b) && so != sn {
                    self.breaking(path, format!("{ctx}byte order of the `{b}` tag changed"));
                }
            }
            _ if so == sn => {
                if wire::describe(old) != wire::describe(new) {
                    self.compatible(
                        path,
                        format!(
                            "{ctx}type {} → {} (wire-identical)",
                            wire::describe(old),
                            wire::describe(new)
                        ),
                    );
                }
            }
            (Ty::String { max: om, len: olen }, Ty::String { max: nm, len: nlen })
            | (Ty::Bytes { max: om, len: olen }, Ty::Bytes { max: nm, len: nlen }) => {
                self.prefix(
                    path,
                    ctx,
                    "length",
                    len_prefix(*olen, ol),
                    len_prefix(*nlen, nl),
                );
                if om != nm {
                    self.breaking(
                        path,
                        format!(
                            "{ctx}{}",
                            bound_reason("length", "values longer than {} bytes", *om, *nm)
                        ),
                    );
                }
            }
            (
                Ty::List {
                    of: oo,
                    max: om,
                    len: olen,
                },
                Ty::List {
                    of: no,
                    max: nm,
                    len: nlen,
                },
            ) => {
                self.prefix(
                    path,
                    ctx,
                    "count",
                    len_prefix(*olen, ol),
                    len_prefix(*nlen, nl),
                );
                if om != nm {
                    self.breaking(
                        path,
                        format!(
                            "{ctx}{}",
                            bound_reason("list", "lists of more than {} items", *om, *nm)
                        ),
                    );
                }
                self.ty(
                    path,
                    &format!("{ctx}list item: "),
                    oo,
                    ol,
                    no,
                    nl,
                    depth + 1,
                );
            }
            (Ty::Array { of: oo, len: olen }, Ty::Array { of: no, len: nlen }) => {
                if olen != nlen {
                    self.breaking(path, format!("{ctx}array length changed {olen} → {nlen}"));
                }
                self.ty(
                    path,
                    &format!("{ctx}array item: "),
                    oo,
                    ol,
                    no,
                    nl,
                    depth + 1,
                );
            }
            (Ty::Option(oi), Ty::Option(ni)) => {
                self.ty(
                    path,
                    &format!("{ctx}optional value: "),
                    oi,
                    ol,
                    ni,
                    nl,
                    depth + 1,
                );
            }
            (Ty::Compressed { of: oo, max: om }, Ty::Compressed { of: no, max: nm }) => {
                if om != nm {
                    self.breaking(
                        path,
                        format!(
                            "{ctx}{}",
                            bound_reason(
                                "inflated size",
                                "data inflating to more than {} bytes",
                                *om,
                                *nm
                            )
                        ),
                    );
                }
                self.ty(
                    path,
                    &format!("{ctx}inflated value: "),
                    oo,
                    ol,
                    no,
                    nl,
                    depth + 1,
                );
            }
            (Ty::Magic(a), Ty::Magic(b)) => {
                self.breaking(
                    path,
                    format!(
                        "{ctx}magic changed \"{a}\" → \"{b}\": peers reject each other's bytes"
                    ),
                );
            }
            _ => {
                let mut why = format!(
                    "{ctx}type changed from {} to {}",
                    wire::describe(old),
                    wire::describe(new)
                );
                if let (
                    Shape::Int {
                        signed: s1,
                        bytes: b1,
                        little: l1,
                    },
                    Shape::Int {
                        signed: s2,
                        bytes: b2,
                        little: l2,
                    },
                ) = (&so, &sn)
                {
                    if s1 == s2 && b1 == b2 && l1 != l2 {
                        why = format!(
                            "{ctx}byte order changed {} → {}",
                            if *l1 { "little-endian" } else { "big-endian" },
                            if *l2 { "little-endian" } else { "big-endian" }
                        );
                    }
                }
                self.breaking(path, why);
            }
        }
    }

    fn prefix(&mut self, path: &str, ctx: &str, what: &str, old: Prefix, new: Prefix) {
        if old != new {
            self.breaking(
                path,
                format!(
                    "{ctx}{what} prefix changed {} → {}",
                    prefix_words(old),
                    prefix_words(new)
                ),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Consequences: what a change means beyond the wire bytes.

/// One change to the generated Rust API.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ApiChange {
    /// An item disappeared and one appeared in its place (same parent, one of each).
    Renamed {
        /// The old path, e.g. `play::Input.dir`.
        from: String,
        /// The new path.
        to: String,
    },
    /// An item no longer exists.
    Removed(String),
    /// A new item.
    Added(String),
}

impl fmt::Display for ApiChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiChange::Renamed { from, to } => write!(f, "renamed `{from}` → `{to}`"),
            ApiChange::Removed(path) => write!(f, "removed `{path}`"),
            ApiChange::Added(path) => write!(f, "added `{path}`"),
        }
    }
}

/// What a spec change means for deployed peers, code and recordings, besides the wire class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consequences {
    /// The old spec's hash (exchanged in the handshake, stored in recordings).
    pub old_hash: u64,
    /// The new spec's hash.
    pub new_hash: u64,
    /// Whether any wire change is breaking.
    pub wire_breaking: bool,
    /// Changes to the generated Rust items (and so to their serde/JSON names).
    pub api: Vec<ApiChange>,
    /// The spec declares a file format (no connection states, like `replay.ron`), not a
    /// connection protocol: no handshake exchanges its hash, and "recordings" means its files.
    pub file_format: bool,
}

impl Consequences {
    /// Whether the spec hash changed.
    pub fn hash_changed(&self) -> bool {
        self.old_hash != self.new_hash
    }
}

impl fmt::Display for Consequences {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file_format && self.hash_changed() {
            writeln!(
                f,
                "spec hash: {:#018x} → {:#018x} (a file format: no handshake exchanges it)",
                self.old_hash, self.new_hash
            )?;
        } else if self.hash_changed() {
            writeln!(
                f,
                "spec hash: {:#018x} → {:#018x}: peers built from the old spec are refused at the \
                 handshake (SpecMismatch); deploy the server and the clients together",
                self.old_hash, self.new_hash
            )?;
        } else {
            writeln!(
                f,
                "spec hash: unchanged ({:#018x}): old and new peers accept each other",
                self.old_hash
            )?;
        }
        if self.api.is_empty() {
            writeln!(f, "Rust API: unchanged")?;
        } else {
            let removed = self
                .api
                .iter()
                .filter(|c| !matches!(c, ApiChange::Added(_)))
                .count();
            writeln!(
                f,
                "Rust API: {} change(s){}:",
                self.api.len(),
                if removed > 0 {
                    "; code naming a renamed or removed item no longer compiles, and serde/JSON \
                     names follow the Rust names (replay `dump --format json` output changes)"
                } else {
                    ""
                }
            )?;
            for change in &self.api {
                writeln!(f, "  {change}")?;
            }
        }
        if self.file_format {
            let files = if self.wire_breaking {
                "files written in the old format no longer read as written; bump the format \
                 version so that readers refuse them with a clear error"
            } else {
                "files written in the old format still read byte for byte"
            };
            return writeln!(f, "files: {files}");
        }
        let recordings = match (self.hash_changed(), self.wire_breaking) {
            (false, _) => "old .tgr files replay as before".to_owned(),
            (true, false) => format!(
                "old .tgr files record spec hash {:#018x} and are refused by `tilegame-replay` \
                 (WrongProtocol), although their frames would still decode byte for byte",
                self.old_hash
            ),
            (true, true) => format!(
                "old .tgr files record spec hash {:#018x} and are refused by `tilegame-replay` \
                 (WrongProtocol); their frames would no longer decode either",
                self.old_hash
            ),
        };
        writeln!(f, "recordings: {recordings}")
    }
}

/// The consequences of going from `old` to `new`, given their wire `changes` (from [`diff`]).
pub fn consequences(old: &SpecFile, new: &SpecFile, changes: &[Change]) -> Consequences {
    Consequences {
        old_hash: crate::hash::spec_hash(&old.protocol),
        new_hash: crate::hash::spec_hash(&new.protocol),
        wire_breaking: is_breaking(changes),
        api: api_changes(&old.protocol, &new.protocol),
        file_format: old.protocol.states.is_empty() && new.protocol.states.is_empty(),
    }
}

/// Every generated Rust item of a spec, as `path → parent path` (`""` for the crate module).
fn api_items(p: &Protocol) -> std::collections::BTreeMap<String, String> {
    let mut items = std::collections::BTreeMap::new();
    let fields = |items: &mut std::collections::BTreeMap<String, String>,
                  owner: &str,
                  fs: &[Spanned<Field>]| {
        for f in fs {
            items.insert(format!("{owner}.{}", f.name), owner.to_owned());
        }
    };
    for t in &p.types {
        let name = t.name().to_owned();
        items.insert(name.clone(), String::new());
        match &t.node {
            TypeDef::Struct { fields: fs, .. } => fields(&mut items, &name, fs),
            TypeDef::Enum { variants, .. } => {
                for v in variants {
                    items.insert(format!("{name}::{}", v.name), name.clone());
                }
            }
            TypeDef::Flags { bits, .. } => {
                for b in bits {
                    let konst = crate::names::to_screaming_case(&b.name);
                    items.insert(format!("{name}::{konst}"), name.clone());
                }
            }
            TypeDef::Union { variants, .. } => {
                for v in variants {
                    items.insert(format!("{name}::{}", v.name), name.clone());
                    items.insert(v.name.clone(), String::new());
                    fields(&mut items, &v.name, &v.fields);
                }
            }
        }
    }
    for s in &p.states {
        let module = to_snake_case(&s.name);
        items.insert(format!("State::{}", s.name), "State".into());
        items.insert(module.clone(), String::new());
        for dir in Direction::ALL {
            for packet in s.packets(dir) {
                let path = format!("{module}::{}", packet.name);
                items.insert(path.clone(), module.clone());
                items.insert(
                    format!("{module}::{}::{}", dir.type_name(), packet.name),
                    format!("{module}::{}", dir.type_name()),
                );
                fields(&mut items, &path, &packet.fields);
            }
        }
    }
    items
}

/// The Rust items removed, renamed and added from `old` to `new`; an item whose parent was
/// itself removed or renamed is not listed again.
fn api_changes(old: &Protocol, new: &Protocol) -> Vec<ApiChange> {
    let (o, n) = (api_items(old), api_items(new));
    let gone: Vec<(&String, &String)> = o.iter().filter(|(k, _)| !n.contains_key(*k)).collect();
    let came: Vec<(&String, &String)> = n.iter().filter(|(k, _)| !o.contains_key(*k)).collect();
    let gone_set: BTreeSet<&str> = gone.iter().map(|(k, _)| k.as_str()).collect();
    let came_set: BTreeSet<&str> = came.iter().map(|(k, _)| k.as_str()).collect();
    let gone: Vec<_> = gone
        .into_iter()
        .filter(|(_, parent)| !gone_set.contains(parent.as_str()))
        .collect();
    let came: Vec<_> = came
        .into_iter()
        .filter(|(_, parent)| !came_set.contains(parent.as_str()))
        .collect();
    let mut out = Vec::new();
    let mut used = BTreeSet::new();
    for (path, parent) in &gone {
        let same_parent_gone = gone.iter().filter(|(_, p)| p == parent).count();
        let candidates: Vec<&&String> = came
            .iter()
            .filter(|(_, p)| p == parent)
            .map(|(k, _)| k)
            .collect();
        if same_parent_gone == 1 && candidates.len() == 1 {
            used.insert(candidates[0].as_str());
            out.push(ApiChange::Renamed {
                from: (*path).clone(),
                to: (**candidates[0]).clone(),
            });
        } else {
            out.push(ApiChange::Removed((*path).clone()));
        }
    }
    for (path, _) in &came {
        if !used.contains(path.as_str()) {
            out.push(ApiChange::Added((*path).clone()));
        }
    }
    out
}
