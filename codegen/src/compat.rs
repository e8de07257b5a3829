//! Compatibility between two versions of a spec, and what each change means.
//!
//! A spec edit can silently split the player base: a renumbered packet or a lowered bound decodes
//! fine on one build and fails on the other. [`diff`] compares two specs and gives every change
//! a [`Class`]: `compatible` (the bytes do not change: renames, wire-identical spellings),
//! `widening` (the new reader accepts everything the old one did and more: a raised bound, a new
//! enum variant or packet, VarU32 → VarU64; old frames still decode and the side that reads the
//! new values must upgrade first), `breaking` (narrowing or incompatible: old frames may no
//! longer decode), `constant`, `property` and `rules` (no byte changes, but what peers agree on
//! changes), and `docs`. Layouts are compared structurally: references to shared types are
//! resolved in each spec (the resolved encodings of [`crate::layout`], compared with
//! [`Layout::same_wire`]), so renaming a type, packet, field or variant is compatible on the wire
//! as long as the bytes stay the same. The wire format has no optional trailing fields, so adding
//! a field is breaking. Packets declared under `every_state` are compared once, not per state.
//!
//! [`consequences`] adds what the wire class does not say: the spec hash (handshake and
//! recordings), the generated Rust items renamed, removed, added or retyped ([`api`]), and per
//! change whether old recordings replay as-is, only with the widened reader, or no longer open
//! ([`report`]).

pub mod api;
mod contract;
pub mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::layout::{self, Encoding, Layout, Prefix, TypeLayout};
use crate::model::{
    Direction, Endian, EveryState, Field, IntTy, Packet, Protocol, State, Ty, TypeDef,
};
use crate::names::to_snake_case;
use crate::parse::SpecFile;
use crate::span::Spanned;

pub use api::{ApiChange, ItemKind};
pub use report::{consequences, Consequences, Recordings};

/// What kind of change: decides what it means for peers, recordings and `diff`'s exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Documentation text only: no byte, API or hash change.
    Docs,
    /// The bytes do not change (renames, wire-identical spellings, new unused types).
    Compatible,
    /// The new reader accepts every old value and more: old frames still decode; old readers
    /// reject what new writers may now send.
    Widening,
    /// A constant's value, type or name changed: no byte changes, but peers built from either
    /// spec disagree on it.
    Constant,
    /// An enum property (e.g. a tile's resistance) changed: no byte changes, but the rules that
    /// use it (the simulation) change.
    Property,
    /// The rules' prose changed: no byte or hash change, but what a peer must do changed.
    Rules,
    /// Narrowing or incompatible: some old/new pairing misreads or rejects the other's bytes, and
    /// old frames may no longer decode.
    Breaking,
}

impl Class {
    /// Every class, in the order the summary counts them.
    pub const ALL: [Class; 7] = [
        Class::Breaking,
        Class::Widening,
        Class::Compatible,
        Class::Constant,
        Class::Property,
        Class::Rules,
        Class::Docs,
    ];

    /// The class's name as printed.
    pub fn name(self) -> &'static str {
        match self {
            Class::Docs => "docs",
            Class::Compatible => "compatible",
            Class::Widening => "widening",
            Class::Constant => "constant",
            Class::Property => "property",
            Class::Rules => "rules",
            Class::Breaking => "breaking",
        }
    }

    /// Whether a change of this class changes the spec hash (docs and rules prose do not).
    pub fn changes_hash(self) -> bool {
        !matches!(self, Class::Docs | Class::Rules)
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One classified difference between two specs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What kind of change.
    pub class: Class,
    /// Where: `protocol`, `constants/NAME`, `rules/Title`, `types/Name.field`,
    /// `state/direction/Packet.field`, `every_state/direction/Packet.field`, ...
    pub path: String,
    /// What changed and what it means on the wire.
    pub message: String,
    /// What it does to recordings made before it (by default, what its class implies).
    pub recordings: Recordings,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.class, self.path, self.message)
    }
}

/// Whether any change is breaking.
pub fn is_breaking(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.class == Class::Breaking)
}

/// `diff`'s exit code for these changes: 0 none, 1 changes none of which is breaking, 2 at
/// least one breaking change (3, "could not compare", is the command line's).
pub fn exit_code(changes: &[Change]) -> u8 {
    if is_breaking(changes) {
        2
    } else if changes.is_empty() {
        0
    } else {
        1
    }
}

/// One line counting the changes per class, e.g. `3 change(s): 1 breaking, 2 widening`.
pub fn summary(changes: &[Change]) -> String {
    let counts: Vec<String> = Class::ALL
        .iter()
        .filter_map(|&class| {
            let n = changes.iter().filter(|c| c.class == class).count();
            (n > 0).then(|| format!("{n} {class}"))
        })
        .collect();
    if counts.is_empty() {
        "0 change(s)".to_owned()
    } else {
        format!("{} change(s): {}", changes.len(), counts.join(", "))
    }
}

/// Every difference between `old` and `new`, in spec order (protocol, constants, rules, types,
/// every-state packets, states). A hash change that no other entry explains is reported as a
/// breaking `unclassified` change, so `diff` never says "0 change(s)" while the hash moved.
pub fn diff(old: &SpecFile, new: &SpecFile) -> Vec<Change> {
    let mut d = Differ::new(old, new);
    d.protocol();
    d.constants();
    d.rules();
    d.types();
    d.every_state();
    d.states();
    d.unclassified();
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

/// For each shared type of `p`, the directions of the packets that carry it (directly or
/// inside other types): who reads it.
fn type_readers(p: &Protocol) -> BTreeMap<String, BTreeSet<Direction>> {
    fn mark(
        p: &Protocol,
        ty: &Ty,
        dir: Direction,
        out: &mut BTreeMap<String, BTreeSet<Direction>>,
    ) {
        match ty {
            Ty::Ref(name) if out.entry(name.clone()).or_default().insert(dir) => {
                for f in find_type(p, name).map(type_fields).unwrap_or_default() {
                    mark(p, &f.ty, dir, out);
                }
            }
            Ty::List { of, .. }
            | Ty::Array { of, .. }
            | Ty::Option(of)
            | Ty::Compressed { of, .. } => mark(p, of, dir, out),
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    for state in &p.states {
        for dir in Direction::ALL {
            for packet in state.packets(dir) {
                for f in &packet.fields {
                    mark(p, &f.ty, dir, &mut out);
                }
            }
        }
    }
    out
}

/// The packets one side may send in every state.
fn every_state_packets(e: &EveryState, dir: Direction) -> &[Spanned<Packet>] {
    match dir {
        Direction::ToServer => &e.to_server,
        Direction::ToClient => &e.to_client,
    }
}

/// Whether the every-state packet `name` is, in `other` (the other spec), not an every-state
/// packet but some state's own packet: it moved.
fn moved(name: &str, other: &Protocol, dir: Direction) -> bool {
    !every_state_packets(&other.every_state, dir)
        .iter()
        .any(|p| p.name == name)
        && other
            .states
            .iter()
            .any(|s| s.packets(dir).iter().any(|p| !p.shared && p.name == name))
}

/// The packets of state `s` for one side that are compared per state: its own, and the
/// every-state ones that are a state's own packet in `other` (the other spec).
fn compared_in_state<'s>(s: &'s State, dir: Direction, other: &Protocol) -> Vec<&'s Packet> {
    s.packets(dir)
        .iter()
        .filter(|p| !p.shared || moved(&p.name, other, dir))
        .map(|p| &**p)
        .collect()
}

/// Every field a shared type declares (struct fields, union variants' fields).
fn type_fields(t: &TypeDef) -> Vec<&Field> {
    match t {
        TypeDef::Struct { fields, .. } => fields.iter().map(|f| &**f).collect(),
        TypeDef::Union { variants, .. } => variants
            .iter()
            .flat_map(|v| v.fields.iter().map(|f| &**f))
            .collect(),
        TypeDef::Enum { .. } | TypeDef::Flags { .. } => Vec::new(),
    }
}

/// Who reads the values being compared, which decides who must upgrade first for a widening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readers {
    /// Client-to-server packets: the server reads them.
    Server,
    /// Server-to-client packets: clients read them.
    Clients,
    /// Both directions (or a shared type not carried by any packet).
    Both,
    /// A file format: readers of the files.
    Files,
}

impl Readers {
    fn of(dir: Direction) -> Self {
        match dir {
            Direction::ToServer => Readers::Server,
            Direction::ToClient => Readers::Clients,
        }
    }

    /// How a widening reads: old bytes still decode; old readers reject `excess`.
    fn widening(self, excess: &str) -> String {
        match self {
            Readers::Server => format!(
                "old frames still decode; an old server rejects {excess}, which new clients may send: upgrade the server first"
            ),
            Readers::Clients => format!(
                "old frames still decode; old clients reject {excess}, which a new server may send: upgrade the clients first"
            ),
            Readers::Both => format!(
                "old frames still decode; old peers reject {excess}, which new peers may send: upgrade both sides together"
            ),
            Readers::Files => format!(
                "old files still read; old readers reject {excess}, which new writers may write: upgrade the readers first"
            ),
        }
    }

    /// How a narrowing reads: new readers reject `excess`, which old bytes may hold.
    fn narrowing(self, excess: &str) -> String {
        match self {
            Readers::Files => format!(
                "new readers reject {excess}, which old files may hold: old files no longer read"
            ),
            Readers::Server => format!(
                "a new server rejects {excess}, which old clients may still send and old recordings may hold: old frames no longer decode"
            ),
            Readers::Clients => format!(
                "new clients reject {excess}, which an old server may still send and old recordings may hold: old frames no longer decode"
            ),
            Readers::Both => format!(
                "new peers reject {excess}, which old peers may still send and old recordings may hold: old frames no longer decode"
            ),
        }
    }
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
    /// Who reads each shared type of the new spec.
    readers_of: BTreeMap<String, BTreeSet<Direction>>,
    /// Both specs are file formats (no states).
    file_format: bool,
    /// Who reads what is being compared now.
    readers: Readers,
}

impl<'a> Differ<'a> {
    /// A differ with no changes found yet.
    fn new(old: &'a SpecFile, new: &'a SpecFile) -> Self {
        let file_format = old.protocol.states.is_empty() && new.protocol.states.is_empty();
        Differ {
            old: &old.protocol,
            new: &new.protocol,
            old_l: layout::resolve(&old.protocol),
            new_l: layout::resolve(&new.protocol),
            changes: Vec::new(),
            type_pairs: Vec::new(),
            readers_of: type_readers(&new.protocol),
            file_format,
            readers: if file_format {
                Readers::Files
            } else {
                Readers::Both
            },
        }
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

    /// Who reads the new spec's shared type `name`.
    fn readers_of_type(&self, name: &str) -> Readers {
        if self.file_format {
            return Readers::Files;
        }
        match self.readers_of.get(name) {
            Some(dirs) if dirs.len() == 1 => dirs
                .iter()
                .next()
                .map_or(Readers::Both, |&d| Readers::of(d)),
            _ => Readers::Both,
        }
    }

    fn push(&mut self, class: Class, path: impl Into<String>, message: impl Into<String>) {
        self.changes.push(Change {
            class,
            path: path.into(),
            message: message.into(),
            recordings: Recordings::of(class),
        });
    }

    fn breaking(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(Class::Breaking, path, message);
    }

    fn compatible(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(Class::Compatible, path, message);
    }

    /// A widening: `head` says what changed, `excess` what old readers now reject.
    fn widened(&mut self, path: impl Into<String>, head: String, excess: &str) {
        let tail = self.readers.widening(excess);
        self.push(Class::Widening, path, format!("{head}: {tail}"));
    }

    /// A narrowing: `head` says what changed, `excess` what new readers now reject.
    fn narrowed(&mut self, path: impl Into<String>, head: String, excess: &str) {
        let tail = self.readers.narrowing(excess);
        self.breaking(path, format!("{head}: {tail}"));
    }

    /// A bound that changed from `old` to `new`; `excess` describes what exceeds a bound, with
    /// `{}` for it.
    fn bound(&mut self, path: &str, head: &str, excess: &str, old: u32, new: u32) {
        if new > old {
            let excess = excess.replace("{}", &old.to_string());
            self.widened(path, format!("{head} bound raised {old} → {new}"), &excess);
        } else if new < old {
            let excess = excess.replace("{}", &new.to_string());
            self.narrowed(path, format!("{head} bound lowered {old} → {new}"), &excess);
        }
    }

    /// Declarations present in both specs (by name) that were reordered: compatible, since ids,
    /// tags and bit numbers are explicit (field and state order, which do matter, are checked
    /// where they are compared).
    fn reordered<'n>(
        &mut self,
        path: &str,
        what: &str,
        old: impl IntoIterator<Item = &'n str>,
        new: impl IntoIterator<Item = &'n str>,
    ) {
        let (old, new): (Vec<&str>, Vec<&str>) =
            (old.into_iter().collect(), new.into_iter().collect());
        let common_old: Vec<&str> = old.iter().copied().filter(|n| new.contains(n)).collect();
        let common_new: Vec<&str> = new.iter().copied().filter(|n| old.contains(n)).collect();
        if common_old != common_new {
            self.compatible(
                path,
                format!("{what} reordered (their ids, tags and bit numbers are explicit: no byte changes)"),
            );
        }
    }

    fn doc(&mut self, path: &str, old: &str, new: &str) {
        if old.trim() != new.trim() {
            self.push(Class::Docs, path, "documentation changed");
        }
    }

    /// A record's `floats` flag, which changes no byte by itself (float fields are compared
    /// where they appear).
    fn floats(&mut self, path: &str, old: bool, new: bool) {
        if old != new {
            self.compatible(
                path,
                format!(
                    "`floats` turned {} (no byte changes)",
                    if new { "on" } else { "off" }
                ),
            );
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
        let (ol, nl) = (
            layout::field_little(old.endian, Endian::Big),
            layout::field_little(new.endian, Endian::Big),
        );
        if ol != nl {
            self.breaking(
                "protocol",
                format!(
                    "default byte order changed {} → {}: every multi-byte integer without its own `endian` changes",
                    order(ol),
                    order(nl),
                ),
            );
        } else if old.endian != new.endian {
            self.compatible(
                "protocol",
                format!(
                    "default byte order spelled {:?} → {:?} (both {}: no byte changes)",
                    old.endian,
                    new.endian,
                    order(nl)
                ),
            );
        }
        self.bound(
            "protocol",
            "max_frame",
            "frames longer than {} bytes",
            old.max_frame,
            new.max_frame,
        );
        self.doc("protocol", &old.doc, &new.doc);
    }

    fn types(&mut self) {
        let (old, new) = (self.old, self.new);
        self.reordered(
            "types",
            "types",
            old.types.iter().map(|t| t.name()),
            new.types.iter().map(|t| t.name()),
        );
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
                self.readers = self.readers_of_type(n.name());
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
                    self.readers = self.readers_of_type(n.name());
                    self.typedef(&format!("types/{}", n.name()), t, n);
                }
                None => self.breaking(
                    &path,
                    format!(
                        "{} removed: whatever encoded it can no longer be read by new peers, nor from old recordings",
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
                    floats: ofl,
                    fields: of,
                    ..
                },
                TypeDef::Struct {
                    presence: np,
                    floats: nfl,
                    fields: nf,
                    ..
                },
            ) => {
                self.floats(path, *ofl, *nfl);
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
                self.variants(path, (*ot, *nt), ov, nv, |v| {
                    (v.name.as_str(), v.value, v.doc.as_str())
                });
                self.properties(path, old, new);
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
                self.reordered(
                    path,
                    "bits",
                    ob.iter().map(|b| b.name.as_str()),
                    nb.iter().map(|b| b.name.as_str()),
                );
                for b in ob {
                    let bpath = format!("{path}.{}", b.name);
                    match nb.iter().find(|n| n.name == b.name) {
                        Some(n) if n.bit != b.bit => self.breaking(
                            &bpath,
                            format!(
                                "bit moved {} → {}: old and new peers read different flags",
                                b.bit, n.bit
                            ),
                        ),
                        Some(n) => self.doc(&bpath, &b.doc, &n.doc),
                        None => match nb
                            .iter()
                            .find(|n| n.bit == b.bit && !ob.iter().any(|o| o.name == n.name))
                        {
                            Some(n) => self.compatible(
                                &bpath,
                                format!("bit {} renamed to `{}`", b.bit, n.name),
                            ),
                            None => self.narrowed(
                                &bpath,
                                format!("bit {} removed", b.bit),
                                &format!("a value with bit {} set", b.bit),
                            ),
                        },
                    }
                }
                for n in nb {
                    let known = ob.iter().any(|o| o.name == n.name || o.bit == n.bit);
                    if !known {
                        self.widened(
                            format!("{path}.{}", n.name),
                            format!("bit {} added", n.bit),
                            &format!("a value with bit {} set", n.bit),
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
                let pairs = self.variants(path, (*ot, *nt), ov, nv, |v| {
                    (v.name.as_str(), v.value, v.doc.as_str())
                });
                for (o, n) in pairs {
                    if let (Some(o), Some(n)) = (
                        ov.iter().find(|v| v.name == o),
                        nv.iter().find(|v| v.name == n),
                    ) {
                        let vpath = format!("{path}::{}", n.name);
                        self.floats(&vpath, o.floats, n.floats);
                        self.fields(&vpath, &o.fields, o.presence, &n.fields, n.presence);
                    }
                }
            }
            _ => self.breaking(
                path,
                format!("changed from {} to {}", old.kind(), new.kind()),
            ),
        }
    }

    /// Compares the variants of an enum or a union: the tag type, each variant's name, value and
    /// doc, and their order; returns each (old name, new name) pair that denotes the same tag.
    fn variants<V>(
        &mut self,
        path: &str,
        (old_tag, new_tag): (IntTy, IntTy),
        old: &[Spanned<V>],
        new: &[Spanned<V>],
        key: impl Fn(&V) -> (&str, u64, &str),
    ) -> Vec<(String, String)> {
        if old_tag != new_tag {
            self.breaking(
                path,
                format!("tag type changed {} → {}", old_tag.rust(), new_tag.rust()),
            );
        }
        let old_vs: Vec<(&str, u64, &str)> = old.iter().map(|v| key(&v.node)).collect();
        let new_vs: Vec<(&str, u64, &str)> = new.iter().map(|v| key(&v.node)).collect();
        let pairs = self.tags(path, "variant", &old_vs, &new_vs);
        self.reordered(
            path,
            "variants",
            old_vs.iter().map(|v| v.0),
            new_vs.iter().map(|v| v.0),
        );
        pairs
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
                        format!("{word} renumbered {value} → {nv}: old and new peers disagree on its tag, and old frames no longer decode as written"),
                    );
                } else {
                    self.doc(&vpath, doc, ndoc);
                    pairs.push((name.to_owned(), n.to_owned()));
                }
                continue;
            }
            match new
                .iter()
                .find(|n| n.1 == value && !old.iter().any(|o| o.0 == n.0))
            {
                Some(&(n, _, _)) => {
                    self.compatible(
                        &vpath,
                        format!("{word} {value} renamed to `{n}` (same tag)"),
                    );
                    pairs.push((name.to_owned(), n.to_owned()));
                }
                None => self.narrowed(
                    &vpath,
                    format!("{word} {value} removed"),
                    &format!("the tag {value}"),
                ),
            }
        }
        for &(name, value, _) in new {
            let known = old.iter().any(|o| o.0 == name || o.1 == value);
            if !known {
                self.widened(
                    format!("{path}::{name}"),
                    format!("{word} {value} added"),
                    &format!("the unknown tag {value}"),
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

    /// The packets declared under `every_state`, compared once (not in each state).
    ///
    /// A packet that moved between `every_state` and the states' own lists is compared in each
    /// state instead (it is then added or removed where the states differ).
    fn every_state(&mut self) {
        let (old, new) = (&self.old.every_state, &self.new.every_state);
        self.doc("every_state", &old.doc, &new.doc);
        for dir in Direction::ALL {
            let op: Vec<&Packet> = every_state_packets(old, dir)
                .iter()
                .filter(|p| !moved(&p.name, self.new, dir))
                .map(|p| &**p)
                .collect();
            let np: Vec<&Packet> = every_state_packets(new, dir)
                .iter()
                .filter(|p| !moved(&p.name, self.old, dir))
                .map(|p| &**p)
                .collect();
            self.packets(&format!("every_state/{}", dir.key()), dir, &op, &np);
        }
    }

    /// A state's own packets, and the every-state packets that moved in or out of its list
    /// (the others are compared once by [`Differ::every_state`]).
    fn state(&mut self, path: &str, old: &State, new: &State) {
        self.doc(path, &old.doc, &new.doc);
        for dir in Direction::ALL {
            let (op, np) = (
                compared_in_state(old, dir, self.new),
                compared_in_state(new, dir, self.old),
            );
            self.packets(&format!("{path}/{}", dir.key()), dir, &op, &np);
        }
    }

    /// Compares the packets one side sends (in a state, or in every state).
    fn packets(&mut self, dpath: &str, dir: Direction, op: &[&Packet], np: &[&Packet]) {
        // Every-state packets moved into a state come last in the old list: not a reordering.
        self.reordered(
            dpath,
            "packets",
            op.iter().filter(|p| !p.shared).map(|p| p.name.as_str()),
            np.iter().filter(|p| !p.shared).map(|p| p.name.as_str()),
        );
        let mut matched_new = BTreeSet::new();
        for o in op {
            self.readers = Readers::of(dir);
            let ppath = format!("{dpath}/{}", o.name);
            if let Some((i, n)) = np.iter().enumerate().find(|(_, n)| n.name == o.name) {
                matched_new.insert(i);
                if n.id != o.id {
                    self.breaking(
                        &ppath,
                        format!("packet renumbered 0x{:02x} → 0x{:02x}: old and new peers disagree on its id, and old frames no longer decode as written", o.id, n.id),
                    );
                }
                self.doc(&ppath, &o.doc, &n.doc);
                self.floats(&ppath, o.floats, n.floats);
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
                    let npath = format!("{dpath}/{}", n.name);
                    self.doc(&npath, &o.doc, &n.doc);
                    self.floats(&npath, o.floats, n.floats);
                    self.fields(&npath, &o.fields, o.presence, &n.fields, n.presence);
                }
                None => self.narrowed(
                    &ppath,
                    format!("packet 0x{:02x} removed", o.id),
                    &format!("packet 0x{:02x} (unknown id)", o.id),
                ),
            }
        }
        self.readers = Readers::of(dir);
        for (i, n) in np.iter().enumerate() {
            if !matched_new.contains(&i) {
                self.widened(
                    format!("{dpath}/{}", n.name),
                    format!("packet 0x{:02x} added", n.id),
                    &format!("packet 0x{:02x} (unknown id)", n.id),
                );
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
        } else if op != np {
            self.compatible(
                path,
                format!(
                    "`presence` turned {} (no `Option` fields: no byte changes)",
                    if np { "on" } else { "off" }
                ),
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
                    "field order changed ({}) → ({}): old frames no longer decode",
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
                            "field replaced by `{}`: {} → {}: old frames no longer decode",
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
                        "field removed ({}): the wire format has no optional fields, so every later byte moves and old frames no longer decode",
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
                    "field added ({}): the wire format has no optional trailing fields, so old peers misread or reject the body and old frames no longer decode",
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
        if old.endian != new.endian && self.same(&eo, &en) && eo.words() == en.words() {
            self.compatible(
                path,
                format!(
                    "`endian` spelled {:?} → {:?} (no byte changes)",
                    old.endian, new.endian
                ),
            );
        }
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
                self.bound(
                    path,
                    &format!("{ctx}length"),
                    "values longer than {} bytes",
                    *om,
                    *nm,
                );
            }
            (
                Encoding::Blob {
                    utf8: true,
                    max: om,
                    len: olen,
                },
                Encoding::Blob {
                    utf8: false,
                    max: nm,
                    len: nlen,
                },
            ) if om == nm && olen == nlen => {
                self.widened(
                    path,
                    format!("{ctx}type {} → {}", old.words(), new.words()),
                    "bytes that are not UTF-8",
                );
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
                self.bound(
                    path,
                    &format!("{ctx}list"),
                    "lists of more than {} items",
                    *om,
                    *nm,
                );
                self.ty(path, &format!("{ctx}list item: "), oo, no, depth + 1);
            }
            (Encoding::Array { of: oo, len: olen }, Encoding::Array { of: no, len: nlen }) => {
                if olen != nlen {
                    self.breaking(
                        path,
                        format!("{ctx}array length changed {olen} → {nlen}: old frames no longer decode"),
                    );
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
                self.bound(
                    path,
                    &format!("{ctx}inflated size"),
                    "data inflating to more than {} bytes",
                    *om,
                    *nm,
                );
                self.ty(path, &format!("{ctx}inflated value: "), oo, no, depth + 1);
            }
            (Encoding::Magic(a), Encoding::Magic(b)) => {
                self.breaking(
                    path,
                    format!(
                        "{ctx}magic changed \"{a}\" → \"{b}\": peers reject each other's bytes, and old frames no longer decode"
                    ),
                );
            }
            (
                Encoding::Var {
                    signed: os,
                    wide: ow,
                },
                Encoding::Var {
                    signed: ns,
                    wide: nw,
                },
            ) if os == ns && ow != nw => {
                let range = if *os {
                    "outside the i32 range"
                } else {
                    "above u32::MAX"
                };
                let head = format!("{ctx}type {} → {}", old.words(), new.words());
                let excess = format!("values {range}");
                if *nw {
                    self.widened(path, head, &excess);
                } else {
                    self.narrowed(path, head, &excess);
                }
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
                self.breaking(path, format!("{why}: old frames no longer decode"));
            }
        }
    }

    fn prefix(&mut self, path: &str, ctx: &str, what: &str, old: Prefix, new: Prefix) {
        if old != new {
            self.breaking(
                path,
                format!(
                    "{ctx}{what} prefix changed {} → {}: old frames no longer decode",
                    old.describe(),
                    new.describe()
                ),
            );
        }
    }
}
