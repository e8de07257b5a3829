//! Rules for the spec's tables: constants, enum properties and the every-state packets.
//!
//! These declarations carry the parts of the contract that are not byte layouts — the numbers
//! both sides must agree on and per-value facts such as a tile's resistance — so they are
//! checked as strictly as the layouts: names, types, ranges, and every property given exactly
//! once on every variant with a value of its type.

use std::collections::{BTreeMap, BTreeSet};

use super::Validator;
use crate::model::{IntTy, PropValue, Ty, TypeDef};
use crate::names::{is_snake_case, to_screaming_case};

/// The Rust type and range of a constant's or property's integer type.
pub fn int_range(ty: &Ty) -> Option<(&'static str, i128, i128)> {
    Some(match ty {
        Ty::U8 => ("u8", 0, u8::MAX.into()),
        Ty::U16 => ("u16", 0, u16::MAX.into()),
        Ty::U32 => ("u32", 0, u32::MAX.into()),
        Ty::U64 => ("u64", 0, u64::MAX.into()),
        Ty::I8 => ("i8", i8::MIN.into(), i8::MAX.into()),
        Ty::I16 => ("i16", i16::MIN.into(), i16::MAX.into()),
        Ty::I32 => ("i32", i32::MIN.into(), i32::MAX.into()),
        Ty::I64 => ("i64", i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    })
}

fn is_screaming(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !name.ends_with('_')
        && !name.contains("__")
}

impl Validator<'_> {
    /// Constants: SCREAMING_CASE names, unique, integer types, values in range.
    pub(super) fn constants(&mut self) {
        let mut seen = BTreeSet::new();
        for c in &self.protocol.constants {
            let name_span = self.at(&c.span, "name");
            if !is_screaming(&c.name) {
                self.push(
                    name_span.clone(),
                    "invalid-name",
                    format!("constant name `{}` must be SCREAMING_SNAKE_CASE", c.name),
                    "not SCREAMING_SNAKE_CASE",
                    Some(format!("e.g. `{}`", to_screaming_case(&c.name))),
                );
            }
            if !seen.insert(c.name.as_str()) {
                self.push(
                    name_span,
                    "duplicate-name",
                    format!("constant `{}` is declared twice", c.name),
                    "declared again here",
                    None,
                );
            }
            let ty_span = self.at(&c.span, "ty");
            match int_range(&c.ty) {
                None => self.push(
                    ty_span,
                    "invalid-constant",
                    format!("constant `{}` must have an integer type", c.name),
                    "not an integer type",
                    Some("use U8, U16, U32, U64, I8, I16, I32 or I64".into()),
                ),
                Some((rust, lo, hi)) => {
                    let v = i128::from(c.value);
                    if v < lo || v > hi {
                        let span = self.at(&c.span, "value");
                        self.push(
                            span,
                            "value-overflow",
                            format!("constant `{}` = {} does not fit in {rust}", c.name, c.value),
                            "out of range",
                            None,
                        );
                    }
                }
            }
        }
    }

    /// Enum properties: declared once with a usable type, given on every variant, well typed.
    pub(super) fn properties(&mut self) {
        let enums: BTreeMap<&str, BTreeSet<&str>> = self
            .protocol
            .types
            .iter()
            .filter_map(|t| match &t.node {
                TypeDef::Enum { name, variants, .. } => Some((
                    name.as_str(),
                    variants.iter().map(|v| v.name.as_str()).collect(),
                )),
                _ => None,
            })
            .collect();
        for def in &self.protocol.types {
            let TypeDef::Enum {
                name,
                properties,
                variants,
                tag,
                ..
            } = &def.node
            else {
                continue;
            };
            let _: &IntTy = tag;
            let mut declared: BTreeMap<&str, &Ty> = BTreeMap::new();
            for prop in properties {
                let span = self.at(&prop.span, "name");
                if !is_snake_case(&prop.name) || crate::names::is_keyword(&prop.name) {
                    self.push(
                        span.clone(),
                        "invalid-name",
                        format!("property name `{}` must be snake_case", prop.name),
                        "not snake_case",
                        None,
                    );
                }
                if matches!(prop.name.as_str(), "name" | "tag" | "from_tag" | "doc") {
                    self.push(
                        span.clone(),
                        "reserved-word",
                        format!("property name `{}` is reserved", prop.name),
                        "generated already",
                        Some("the generated enum has a method of this name".into()),
                    );
                }
                if declared.insert(&prop.name, &prop.ty).is_some() {
                    self.push(
                        span,
                        "duplicate-name",
                        format!("property `{}` of `{name}` is declared twice", prop.name),
                        "declared again here",
                        None,
                    );
                }
                let ok = match &prop.ty {
                    Ty::Bool => true,
                    Ty::Ref(target) => enums.contains_key(target.as_str()),
                    other => int_range(other).is_some(),
                };
                if !ok {
                    let ty_span = self.at(&prop.span, "ty");
                    self.push(
                        ty_span,
                        "invalid-property",
                        format!(
                            "property `{}` of `{name}` must be Bool, an integer type or an enum",
                            prop.name
                        ),
                        "unsupported type",
                        None,
                    );
                }
            }
            for v in variants {
                let props_span = self.at(&v.span, "props");
                for (key, value) in &v.props {
                    let Some(ty) = declared.get(key.as_str()) else {
                        let names: Vec<&str> = declared.keys().copied().collect();
                        let close = crate::diagnostic::closest(key, &names);
                        self.push(
                            props_span.clone(),
                            "unknown-property",
                            format!("`{name}::{}` gives unknown property `{key}`", v.name),
                            "not declared",
                            Some(match close {
                                Some(k) => format!("did you mean `{k}`?"),
                                None => format!("declare it under `properties:` of `{name}`"),
                            }),
                        );
                        continue;
                    };
                    let fits = match (ty, value) {
                        (Ty::Bool, PropValue::Bool(_)) => true,
                        (Ty::Ref(target), PropValue::Name(n)) => enums
                            .get(target.as_str())
                            .is_some_and(|vs| vs.contains(n.as_str())),
                        (other, PropValue::Int(n)) => int_range(other)
                            .is_some_and(|(_, lo, hi)| (lo..=hi).contains(&i128::from(*n))),
                        _ => false,
                    };
                    if !fits {
                        self.push(
                            props_span.clone(),
                            "invalid-property",
                            format!(
                                "`{name}::{}` gives `{key}: {value}`, which is not a valid {}",
                                v.name,
                                crate::layout::encoding(self.protocol, ty, false).words()
                            ),
                            "wrong value",
                            None,
                        );
                    }
                }
                for key in declared.keys() {
                    if !v.props.contains_key(*key) {
                        let span = if v.props.is_empty() {
                            self.at(&v.span, "name")
                        } else {
                            props_span.clone()
                        };
                        self.push(
                            span,
                            "missing-property",
                            format!("`{name}::{}` does not give property `{key}`", v.name),
                            "missing",
                            Some(format!("add `\"{key}\": …` to its `props`")),
                        );
                    }
                }
            }
        }
    }
}
