//! Compatibility between two versions of a spec.
//!
//! A spec edit can silently split the player base: a renumbered packet or a raised bound decodes
//! fine on one build and fails on the other. [`diff`] compares two specs and classifies every
//! change as [`Compatibility::Compatible`] (peers built from either spec still understand each
//! other byte for byte) or [`Compatibility::Breaking`], with the reason. Layouts are compared
//! structurally: references to shared types are resolved in each spec, so renaming a type, a
//! packet, a field or a variant is compatible as long as the bytes stay the same (the resolved
//! encodings of [`crate::layout`] are compared with [`Layout::same_wire`]), while any change
//! to the bytes is breaking. The wire format has no optional trailing fields, so adding a field
//! is breaking too.

use std::collections::BTreeSet;
use std::fmt;

use crate::layout::{self, Encoding, Layout, Prefix, TypeLayout};
use crate::model::{Direction, Endian, Field, Protocol, State, Ty, TypeDef};
use crate::names::to_snake_case;
use crate::parse::SpecFile;
use crate::span::Spanned;

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
        old_l: layout::resolve(&old.protocol),
        new_l: layout::resolve(&new.protocol),
        changes: Vec::new(),
        type_pairs: Vec::new(),
    };
    d.protocol();
    d.types();
    d.states();
    d.changes
}

fn find_type<'p>(p: &'p Protocol, name: &str) -> Option<&'p TypeDef> {
    p.types.iter().find(|t| t.name() == name).map(|t| &**t)
}

/// A byte order in words.
fn order(little: bool) -> &'static str {
    if little {
        "little-endian"
    } else {
        "big-endian"
    }
}

/// How a value of `ty` travels, in words ([`Encoding::words`]), for messages.
fn words(p: &Protocol, ty: &Ty) -> String {
    layout::encoding(p, ty, false).words()
}

// ---------------------------------------------------------------------------------------------

struct Differ<'a> {
    old: &'a Protocol,
    new: &'a Protocol,
    /// `old`, resolved.
    old_l: Layout,
    /// `new`, resolved.
    new_l: Layout,
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

impl Differ<'_> {
    /// The resolved encoding of a field type of the old (`old` true) or new spec.
    fn encoding(&self, old: bool, ty: &Ty, little: bool) -> Encoding {
        layout::encoding(if old { self.old } else { self.new }, ty, little)
    }

    /// Whether an old and a new encoding put the same bytes on the wire.
    fn same(&self, old: &Encoding, new: &Encoding) -> bool {
        self.old_l.same_wire(old, &self.new_l, new)
    }

    /// Whether an old and a new field list put the same bytes on the wire.
    fn same_body(&self, old: (&[Spanned<Field>], bool), new: (&[Spanned<Field>], bool)) -> bool {
        self.old_l.same_body(
            &layout::body(self.old, old.0, old.1),
            &self.new_l,
            &layout::body(self.new, new.0, new.1),
        )
    }

    /// Whether an old and a new shared type put the same bytes on the wire.
    fn same_type(&self, old: &str, new: &str) -> bool {
        match (self.old_l.named(old), self.new_l.named(new)) {
            (Some(o), Some(n)) => self.old_l.same_type(&o.def, &self.new_l, &n.def),
            _ => false,
        }
    }

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
            && layout::field_little(old.endian, Endian::Big)
                != layout::field_little(new.endian, Endian::Big)
        {
            self.breaking(
                "protocol",
                format!(
                    "default byte order changed {} → {}: every multi-byte integer without its own `endian` changes",
                    order(layout::field_little(old.endian, Endian::Big)),
                    order(layout::field_little(new.endian, Endian::Big)),
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
            let renamed = added
                .iter()
                .position(|n| n.kind() == t.kind() && self.same_type(t.name(), n.name()));
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
                            && self.same_body((&op.fields, op.presence), (&np.fields, np.presence))
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
                        let same = self.same_body((&o.fields, o.presence), (&n.fields, n.presence));
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
        let old_mask = layout::body(self.old, old, op).mask.is_some();
        let new_mask = layout::body(self.new, new, np).mask.is_some();
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
                let same = self.same(
                    &self.encoding(true, &o.ty, layout::field_little(o.endian, self.old.endian)),
                    &self.encoding(
                        false,
                        &n.ty,
                        layout::field_little(n.endian, self.new.endian),
                    ),
                );
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
                            words(self.old, &o.ty),
                            words(self.new, &n.ty)
                        ),
                    );
                }
            } else {
                self.breaking(
                    &fpath,
                    format!(
                        "field removed ({}): the wire format has no optional fields, so every later byte moves",
                        words(self.old, &o.ty)
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
                    words(self.new, &n.ty)
                ),
            );
        }
    }

    fn field_ty(&mut self, path: &str, old: &Field, new: &Field) {
        let eo = self.encoding(
            true,
            &old.ty,
            layout::field_little(old.endian, self.old.endian),
        );
        let en = self.encoding(
            false,
            &new.ty,
            layout::field_little(new.endian, self.new.endian),
        );
        self.ty(path, "", &eo, &en, 0);
    }

    /// Whether `old` and `new` (names of shared types) were matched by [`Differ::types`].
    fn paired(&self, old: &str, new: &str) -> bool {
        self.type_pairs.iter().any(|(o, n)| o == old && n == new)
    }

    /// The tag (enum, union) or bits (flags) integer of a shared type.
    fn tag(l: &Layout, name: &str) -> Option<layout::Int> {
        match &l.named(name)?.def {
            TypeLayout::Enum { tag, .. } | TypeLayout::Union { tag, .. } => Some(*tag),
            TypeLayout::Flags { repr, .. } => Some(*repr),
            TypeLayout::Struct(_) => None,
        }
    }

    /// Compares the resolved encodings of a value in the old and the new spec.
    fn ty(&mut self, path: &str, ctx: &str, old: &Encoding, new: &Encoding, depth: u32) {
        if depth > 32 {
            return;
        }
        let same = self.same(old, new);
        match (old, new) {
            (Encoding::Named(a), Encoding::Named(b)) if self.paired(a, b) => {
                // Reported once, under types/, unless the tag's byte order changed with the
                // protocol's.
                if let (Some(t), Some(u)) = (Self::tag(&self.old_l, a), Self::tag(&self.new_l, b)) {
                    if t.bytes == u.bytes && t.little != u.little {
                        self.breaking(path, format!("{ctx}byte order of the `{b}` tag changed"));
                    }
                }
            }
            _ if same => {
                let (o, n) = (old.words(), new.words());
                if o != n {
                    self.compatible(path, format!("{ctx}type {o} → {n} (wire-identical)"));
                }
            }
            (
                Encoding::Blob {
                    utf8,
                    max: om,
                    len: olen,
                },
                Encoding::Blob {
                    utf8: nu,
                    max: nm,
                    len: nlen,
                },
            ) if utf8 == nu => {
                self.prefix(path, ctx, "length", *olen, *nlen);
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
                Encoding::List {
                    of: oo,
                    max: om,
                    len: olen,
                },
                Encoding::List {
                    of: no,
                    max: nm,
                    len: nlen,
                },
            ) => {
                self.prefix(path, ctx, "count", *olen, *nlen);
                if om != nm {
                    self.breaking(
                        path,
                        format!(
                            "{ctx}{}",
                            bound_reason("list", "lists of more than {} items", *om, *nm)
                        ),
                    );
                }
                self.ty(path, &format!("{ctx}list item: "), oo, no, depth + 1);
            }
            (Encoding::Array { of: oo, len: olen }, Encoding::Array { of: no, len: nlen }) => {
                if olen != nlen {
                    self.breaking(path, format!("{ctx}array length changed {olen} → {nlen}"));
                }
                self.ty(path, &format!("{ctx}array item: "), oo, no, depth + 1);
            }
            (Encoding::Option { of: oi, .. }, Encoding::Option { of: ni, .. }) => {
                self.ty(path, &format!("{ctx}optional value: "), oi, ni, depth + 1);
            }
            (
                Encoding::Compressed {
                    of: oo, max: om, ..
                },
                Encoding::Compressed {
                    of: no, max: nm, ..
                },
            ) => {
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
                self.ty(path, &format!("{ctx}inflated value: "), oo, no, depth + 1);
            }
            (Encoding::Magic(a), Encoding::Magic(b)) => {
                self.breaking(
                    path,
                    format!(
                        "{ctx}magic changed \"{a}\" → \"{b}\": peers reject each other's bytes"
                    ),
                );
            }
            _ => {
                let why = match (old, new) {
                    (Encoding::Int(a), Encoding::Int(b))
                        if a.signed == b.signed && a.bytes == b.bytes =>
                    {
                        format!(
                            "{ctx}byte order changed {} → {}",
                            order(a.little),
                            order(b.little)
                        )
                    }
                    _ => format!("{ctx}type changed from {} to {}", old.words(), new.words()),
                };
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
                    old.describe(),
                    new.describe()
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
