//! The parts of a spec that are not bytes: constants, enum properties (the tile table) and the
//! rules' prose.
//!
//! None of them moves a byte, so none is `compatible` or `breaking` on the wire; but peers built
//! from different specs disagree on them (a tick rate, a tile's resistance, what a client must do
//! on a Kick), so each is reported with its own class: `constant`, `property`, `rules`. Constants
//! and properties enter the spec hash; rules do not. Last, a hash change that no reported change
//! explains is reported as `breaking` (`unclassified`), so that `diff` never reports nothing
//! while the hash moved.

use super::{Class, Differ, Recordings};
use crate::model::{Constant, Rule, TypeDef};
use crate::span::Spanned;

/// What a constant or property change means for peers.
const DISAGREE: &str = "no byte changes, but peers built from either spec disagree on it";

impl Differ<'_> {
    /// Constants: value, type, name, added, removed (unit and doc text are documentation).
    pub(super) fn constants(&mut self) {
        let (old, new): (&[Spanned<Constant>], &[Spanned<Constant>]) =
            (&self.old.constants, &self.new.constants);
        let rust = |c: &Constant| crate::validate::int_range(&c.ty).map_or("i64", |(t, _, _)| t);
        let unit = |c: &Constant| {
            if c.unit.is_empty() {
                String::new()
            } else {
                format!(" {}", c.unit)
            }
        };
        self.reordered(
            "constants",
            "constants",
            old.iter().map(|c| c.name.as_str()),
            new.iter().map(|c| c.name.as_str()),
        );
        for (i, o) in old.iter().enumerate() {
            let path = format!("constants/{}", o.name);
            if let Some(n) = new.iter().find(|n| n.name == o.name) {
                if rust(o) != rust(n) {
                    self.push(
                        Class::Constant,
                        &path,
                        format!(
                            "type {} → {}: the Rust `const` changes type (same value, no byte changes)",
                            rust(o),
                            rust(n)
                        ),
                    );
                    self.same_simulation();
                }
                if o.value != n.value {
                    self.push(
                        Class::Constant,
                        &path,
                        format!(
                            "value {}{} → {}{}: {DISAGREE}",
                            o.value,
                            unit(o),
                            n.value,
                            unit(n)
                        ),
                    );
                }
                if o.unit != n.unit {
                    self.push(
                        Class::Docs,
                        &path,
                        format!("unit `{}` → `{}`", o.unit, n.unit),
                    );
                }
                self.doc(&path, &o.doc, &n.doc);
                continue;
            }
            let renamed = new.get(i).filter(|n| {
                n.value == o.value && rust(n) == rust(o) && !old.iter().any(|x| x.name == n.name)
            });
            match renamed {
                Some(n) => {
                    self.push(
                        Class::Constant,
                        &path,
                        format!(
                            "renamed to `{}` (same value {}, no byte changes)",
                            n.name, o.value
                        ),
                    );
                    self.same_simulation();
                }
                None => self.push(
                    Class::Constant,
                    &path,
                    format!("removed (was {}{}): {DISAGREE}", o.value, unit(o)),
                ),
            }
        }
        for (j, n) in new.iter().enumerate() {
            let known = old.iter().any(|o| o.name == n.name)
                || old.get(j).is_some_and(|o| {
                    o.value == n.value
                        && rust(o) == rust(n)
                        && !new.iter().any(|x| x.name == o.name)
                });
            if !known {
                self.push(
                    Class::Constant,
                    format!("constants/{}", n.name),
                    format!("added ({}{}): {DISAGREE}", n.value, unit(n)),
                );
            }
        }
    }

    /// Marks the last change as leaving recordings as they were (it changes a name or a type,
    /// not a value the simulation uses).
    fn same_simulation(&mut self) {
        if let Some(last) = self.changes.last_mut() {
            last.recordings = Recordings::AsIs;
        }
    }

    /// The rules' sections, by title (a section retitled in place with the same text is a
    /// rename).
    pub(super) fn rules(&mut self) {
        let (old, new): (&[Spanned<Rule>], &[Spanned<Rule>]) = (&self.old.rules, &self.new.rules);
        const CHECK: &str = "no byte or hash change, but what a peer must do changed: check that \
                             the server and the clients do what it now says";
        for (i, o) in old.iter().enumerate() {
            let path = format!("rules/{}", o.title);
            if let Some(n) = new.iter().find(|n| n.title == o.title) {
                if o.text.trim() != n.text.trim() {
                    self.push(Class::Rules, &path, format!("text changed: {CHECK}"));
                }
                continue;
            }
            match new.get(i).filter(|n| {
                n.text.trim() == o.text.trim() && !old.iter().any(|x| x.title == n.title)
            }) {
                Some(n) => self.push(
                    Class::Docs,
                    &path,
                    format!("section retitled `{}` (same text)", n.title),
                ),
                None => self.push(Class::Rules, &path, format!("section removed: {CHECK}")),
            }
        }
        for (j, n) in new.iter().enumerate() {
            let known = old.iter().any(|o| o.title == n.title)
                || old.get(j).is_some_and(|o| {
                    o.text.trim() == n.text.trim() && !new.iter().any(|x| x.title == o.title)
                });
            if !known {
                self.push(
                    Class::Rules,
                    format!("rules/{}", n.title),
                    format!("section added: {CHECK}"),
                );
            }
        }
    }

    /// An enum's declared properties and each variant's values (variants matched by name).
    pub(super) fn properties(&mut self, path: &str, old: &TypeDef, new: &TypeDef) {
        let (
            TypeDef::Enum {
                properties: op,
                variants: ov,
                ..
            },
            TypeDef::Enum {
                properties: np,
                variants: nv,
                ..
            },
        ) = (old, new)
        else {
            return;
        };
        const RULES: &str = "no byte changes, but the rules that use it (the simulation, the \
                             client's prediction) change: peers built from either spec disagree";
        self.reordered(
            path,
            "properties",
            op.iter().map(|p| p.name.as_str()),
            np.iter().map(|p| p.name.as_str()),
        );
        for o in op {
            let ppath = format!("{path}.{}()", o.name);
            match np.iter().find(|n| n.name == o.name) {
                Some(n) if n.ty != o.ty => self.push(
                    Class::Property,
                    &ppath,
                    format!(
                        "property type {} → {} (the `const fn` changes type); {RULES}",
                        super::api::rust_type(&o.ty),
                        super::api::rust_type(&n.ty)
                    ),
                ),
                Some(n) => self.doc(&ppath, &o.doc, &n.doc),
                None => self.push(
                    Class::Property,
                    &ppath,
                    format!("property removed: code calling it no longer compiles; {RULES}"),
                ),
            }
        }
        for n in np {
            if !op.iter().any(|o| o.name == n.name) {
                self.push(
                    Class::Property,
                    format!("{path}.{}()", n.name),
                    format!("property added; {RULES}"),
                );
            }
        }
        for o in ov {
            let Some(n) = nv.iter().find(|n| n.name == o.name) else {
                continue;
            };
            for (key, ovalue) in &o.props {
                match n.props.get(key) {
                    Some(nvalue) if nvalue != ovalue => self.push(
                        Class::Property,
                        format!("{path}::{}", o.name),
                        format!("`{key}` {ovalue} → {nvalue}: {RULES}"),
                    ),
                    _ => {}
                }
            }
        }
    }

    /// A hash change that no reported change explains: reported as breaking, with the first
    /// line of the normalised spec that differs, rather than passed over.
    pub(super) fn unclassified(&mut self) {
        let (o, n) = (
            crate::hash::normalized(self.old),
            crate::hash::normalized(self.new),
        );
        if o == n || self.changes.iter().any(|c| c.class.changes_hash()) {
            return;
        }
        let longest = o.lines().count().max(n.lines().count());
        let (a, b) = o
            .lines()
            .map(Some)
            .chain(std::iter::repeat(None))
            .zip(n.lines().map(Some).chain(std::iter::repeat(None)))
            .take(longest)
            .find(|(a, b)| a != b)
            .unwrap_or_default();
        self.breaking(
            "unclassified",
            format!(
                "the spec hash changed and `diff` cannot say why (first difference in the normalised spec: `{}` → `{}`); treat it as breaking",
                a.unwrap_or("").trim(),
                b.unwrap_or("").trim()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::compat::{diff, Class};
    use crate::load_str;

    const OLD: &str = r#"Protocol(name: "p", version: 1, types: [
        Struct(name: "A", fields: [(name: "a", ty: U8)]),
        Struct(name: "B", fields: [(name: "b", ty: U8)]),
    ])"#;

    #[test]
    fn a_hash_change_nothing_explains_is_breaking() {
        let (old, new) = (
            load_str("old", OLD).expect("old"),
            load_str("new", OLD).expect("new"),
        );
        let mut d = super::super::Differ::new(&old, &new);
        d.unclassified();
        assert!(d.changes.is_empty(), "same spec: {:?}", d.changes);
        let new = load_str(
            "new",
            &OLD.replace("name: \"b\", ty: U8", "name: \"b\", ty: U16"),
        )
        .expect("new");
        let mut d = super::super::Differ::new(&old, &new);
        // Only the safety net runs: it must not stay silent about the hash change.
        d.unclassified();
        assert_eq!(d.changes.len(), 1, "{:?}", d.changes);
        assert_eq!(d.changes[0].class, Class::Breaking);
        assert!(
            d.changes[0]
                .message
                .contains("`field b: U8 endian=Default` → `field b: U16 endian=Default`"),
            "{}",
            d.changes[0].message
        );
    }

    #[test]
    fn reordering_declarations_is_compatible_not_unclassified() {
        let old = load_str("old", OLD).expect("old");
        let swapped = r#"Protocol(name: "p", version: 1, types: [
        Struct(name: "B", fields: [(name: "b", ty: U8)]),
        Struct(name: "A", fields: [(name: "a", ty: U8)]),
    ])"#;
        let new = load_str("new", swapped).expect("new");
        let changes = diff(&old, &new);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].class, Class::Compatible);
        assert_eq!(changes[0].path, "types");
    }
}
