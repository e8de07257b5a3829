//! The generated Rust API of a spec, and how it changes between two specs.
//!
//! A spec change that keeps every byte can still stop code compiling: a renamed packet, a
//! removed constant, a field whose type went from `u32` to `u64` (VarU32 → VarU64) or `String`.
//! [`changes`] lists the items the Rust emitter generates for each spec (types, fields, variants,
//! flag constants, packets and their direction-enum variants, constants, enum property methods)
//! with their Rust types, and reports each one removed, renamed, added or retyped. It reads the
//! spec, not the emitted code, so it follows the emitter's naming: packets of `every_state` are
//! generated once at the top level and re-exported into every state module.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::model::{Direction, Field, Protocol, Ty, TypeDef};
use crate::names::{to_screaming_case, to_snake_case};
use crate::span::Spanned;

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
    /// An item kept its path but its Rust type changed (a field, a constant, a property).
    Retyped {
        /// The item's path, e.g. `play::Pong.nonce`.
        path: String,
        /// The old Rust type.
        from: String,
        /// The new Rust type.
        to: String,
    },
    /// An item no longer exists.
    Removed(String),
    /// A new item.
    Added {
        /// The item's path.
        path: String,
        /// What kind of item it is, which decides whether old code still compiles.
        kind: ItemKind,
    },
}

/// What kind of generated item, for the changes that only some kinds make breaking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ItemKind {
    /// A struct field: struct literals and exhaustive patterns must name a new one.
    Field,
    /// An enum variant (of a shared enum or union, or a state's `ToServer`/`ToClient`): the
    /// generated enums are exhaustive, so `match`es must handle a new one.
    Variant,
    /// A type, module, constant, flag or method: adding one breaks no code.
    Other,
}

impl ApiChange {
    /// Whether code written against the old API may no longer compile.
    pub fn breaks_code(&self) -> bool {
        !matches!(
            self,
            ApiChange::Added {
                kind: ItemKind::Other,
                ..
            }
        )
    }
}

impl fmt::Display for ApiChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiChange::Renamed { from, to } => write!(f, "renamed `{from}` → `{to}`"),
            ApiChange::Retyped { path, from, to } => {
                write!(f, "changed type of `{path}`: {from} → {to}")
            }
            ApiChange::Removed(path) => write!(f, "removed `{path}`"),
            ApiChange::Added { path, kind } => match kind {
                ItemKind::Field => write!(f, "added `{path}` (struct literals must set it)"),
                ItemKind::Variant => {
                    write!(f, "added `{path}` (exhaustive matches must handle it)")
                }
                ItemKind::Other => write!(f, "added `{path}`"),
            },
        }
    }
}

/// The Rust type the emitter gives a spec type (the same mapping as [`crate::rust`]).
pub fn rust_type(ty: &Ty) -> String {
    match ty {
        Ty::U8 => "u8".into(),
        Ty::U16 => "u16".into(),
        Ty::U32 | Ty::VarU32 => "u32".into(),
        Ty::U64 | Ty::VarU64 => "u64".into(),
        Ty::I8 => "i8".into(),
        Ty::I16 => "i16".into(),
        Ty::I32 | Ty::VarI32 => "i32".into(),
        Ty::I64 | Ty::VarI64 => "i64".into(),
        Ty::F32 => "f32".into(),
        Ty::F64 => "f64".into(),
        Ty::Bool => "bool".into(),
        Ty::String { .. } => "String".into(),
        Ty::Bytes { .. } => "Vec<u8>".into(),
        Ty::List { of, .. } | Ty::Array { of, .. } => format!("Vec<{}>", rust_type(of)),
        Ty::Option(of) => format!("Option<{}>", rust_type(of)),
        Ty::Ref(name) => name.clone(),
        Ty::Magic(_) => "()".into(),
        Ty::Compressed { of, .. } => rust_type(of),
    }
}

/// One generated item: its parent (`""` for the crate module) and, for typed items, its type.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    parent: String,
    ty: Option<String>,
    kind: ItemKind,
}

/// The items of a spec as they are collected.
#[derive(Default)]
struct Items(BTreeMap<String, Item>);

impl Items {
    fn add(&mut self, path: String, parent: &str, ty: Option<String>, kind: ItemKind) {
        self.0.insert(
            path,
            Item {
                parent: parent.to_owned(),
                ty,
                kind,
            },
        );
    }

    /// The fields of a struct named `owner` (a magic has no field: it is checked on the wire).
    fn fields(&mut self, owner: &str, fs: &[Spanned<Field>]) {
        for f in fs.iter().filter(|f| !matches!(f.ty, Ty::Magic(_))) {
            self.add(
                format!("{owner}.{}", f.name),
                owner,
                Some(rust_type(&f.ty)),
                ItemKind::Field,
            );
        }
    }
}

/// Every generated Rust item of a spec, by path.
fn items(p: &Protocol) -> BTreeMap<String, Item> {
    use ItemKind::{Other as O, Variant as V};
    let mut items = Items::default();
    for c in &p.constants {
        let ty = crate::validate::int_range(&c.ty).map_or("i64", |(t, _, _)| t);
        items.add(c.name.clone(), "", Some(ty.to_owned()), O);
    }
    for t in &p.types {
        let name = t.name().to_owned();
        items.add(name.clone(), "", None, O);
        match &t.node {
            TypeDef::Struct { fields: fs, .. } => items.fields(&name, fs),
            TypeDef::Enum {
                variants,
                properties,
                ..
            } => {
                for v in variants {
                    items.add(format!("{name}::{}", v.name), &name, None, V);
                }
                for prop in properties {
                    items.add(
                        format!("{name}::{}()", prop.name),
                        &name,
                        Some(rust_type(&prop.ty)),
                        O,
                    );
                }
            }
            TypeDef::Flags { bits, .. } => {
                for b in bits {
                    items.add(
                        format!("{name}::{}", to_screaming_case(&b.name)),
                        &name,
                        None,
                        O,
                    );
                }
            }
            TypeDef::Union { variants, .. } => {
                for v in variants {
                    items.add(format!("{name}::{}", v.name), &name, None, V);
                    items.add(v.name.clone(), "", None, O);
                    items.fields(&v.name, &v.fields);
                }
            }
        }
    }
    for dir in Direction::ALL {
        for packet in super::every_state_packets(&p.every_state, dir) {
            items.add(packet.name.clone(), "", None, O);
            // One variant in every state's direction enum: named once.
            let enums = format!("<every state>::{}", dir.type_name());
            items.add(format!("{enums}::{}", packet.name), &enums, None, V);
            items.fields(&packet.name, &packet.fields);
        }
    }
    for s in &p.states {
        let module = to_snake_case(&s.name);
        items.add(format!("State::{}", s.name), "State", None, V);
        items.add(module.clone(), "", None, O);
        for dir in Direction::ALL {
            for packet in s.packets(dir).iter().filter(|p| !p.shared) {
                let path = format!("{module}::{}", packet.name);
                items.add(path.clone(), &module, None, O);
                items.add(
                    format!("{module}::{}::{}", dir.type_name(), packet.name),
                    &format!("{module}::{}", dir.type_name()),
                    None,
                    V,
                );
                items.fields(&path, &packet.fields);
            }
        }
    }
    items.0
}

/// The Rust items removed, renamed, retyped and added from `old` to `new`; an item whose parent
/// was itself removed or renamed is not listed again.
pub fn changes(old: &Protocol, new: &Protocol) -> Vec<ApiChange> {
    let (o, n) = (items(old), items(new));
    let gone: Vec<(&String, &Item)> = o.iter().filter(|(k, _)| !n.contains_key(*k)).collect();
    let came: Vec<(&String, &Item)> = n.iter().filter(|(k, _)| !o.contains_key(*k)).collect();
    let gone_set: BTreeSet<&str> = gone.iter().map(|(k, _)| k.as_str()).collect();
    let came_set: BTreeSet<&str> = came.iter().map(|(k, _)| k.as_str()).collect();
    let gone: Vec<_> = gone
        .into_iter()
        .filter(|(_, item)| !gone_set.contains(item.parent.as_str()))
        .collect();
    let came: Vec<_> = came
        .into_iter()
        .filter(|(_, item)| !came_set.contains(item.parent.as_str()))
        .collect();
    let mut out = Vec::new();
    let mut used = BTreeSet::new();
    for (path, item) in &gone {
        let same_parent_gone = gone.iter().filter(|(_, i)| i.parent == item.parent).count();
        let candidates: Vec<(&String, &Item)> = came
            .iter()
            .filter(|(_, i)| i.parent == item.parent)
            .copied()
            .collect();
        match candidates.as_slice() {
            [(to, new_item)] if same_parent_gone == 1 => {
                used.insert(to.as_str());
                out.push(ApiChange::Renamed {
                    from: (*path).clone(),
                    to: (*to).clone(),
                });
                if let (Some(a), Some(b)) = (&item.ty, &new_item.ty) {
                    if a != b {
                        out.push(ApiChange::Retyped {
                            path: (*to).clone(),
                            from: a.clone(),
                            to: b.clone(),
                        });
                    }
                }
            }
            _ => out.push(ApiChange::Removed((*path).clone())),
        }
    }
    for (path, old_item) in &o {
        if let Some(new_item) = n.get(path) {
            if let (Some(a), Some(b)) = (&old_item.ty, &new_item.ty) {
                if a != b {
                    out.push(ApiChange::Retyped {
                        path: path.clone(),
                        from: a.clone(),
                        to: b.clone(),
                    });
                }
            }
        }
    }
    for (path, item) in &came {
        if !used.contains(path.as_str()) {
            out.push(ApiChange::Added {
                path: (*path).clone(),
                kind: item.kind,
            });
        }
    }
    out
}
