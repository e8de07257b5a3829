//! Reading a spec file into the [`crate::model`], with positions, recovering after errors.
//!
//! `ron` stops at its first error, so parsing runs in rounds. First [`crate::cst::scan`] finds
//! every syntax error and repairs what it can in place (a missing `,` or `)` written into the
//! whitespace where it belongs). Then `ron` parses the repaired text; when it rejects an element
//! (an unknown key, an unknown type, a missing key), that problem is reported and the element is
//! blanked out, and `ron` runs again, until the file parses. Every repair keeps the text's length,
//! so each span is a span in the maintainer's file, and the rules in [`crate::validate`] still
//! run on everything that did parse. [`Recovery`] says what was dropped, so that validation does
//! not complain about its absence.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

use crate::cst::{blank, scan};
use crate::diagnostic::{closest, Diagnostic};
use crate::model::Protocol;
use crate::span::{offset_of_position, with_source};

/// How many elements one file may lose to errors before parsing gives up.
const MAX_ROUNDS: usize = 200;

/// A parsed spec together with its source text, for diagnostics.
#[derive(Debug, Clone)]
pub struct SpecFile {
    /// The file's name as shown in messages.
    pub name: String,
    /// The file's text.
    pub source: String,
    /// The parsed declarations.
    pub protocol: Protocol,
}

/// What recovery dropped from a broken file.
#[derive(Debug, Clone, Default)]
pub struct Recovery {
    /// Byte ranges blanked out because they did not parse.
    pub dropped: Vec<Range<usize>>,
    /// Names declared by dropped elements (a type that did not parse is still "known").
    pub dropped_names: BTreeSet<String>,
}

impl Recovery {
    /// Whether anything inside `span` was dropped.
    pub fn dropped_inside(&self, span: &Range<usize>) -> bool {
        self.dropped
            .iter()
            .any(|d| d.start >= span.start && d.end <= span.end)
    }
}

/// The result of parsing with recovery.
#[derive(Debug)]
pub struct Parsed {
    /// The spec, if enough of it parsed to validate the rest.
    pub spec: Option<SpecFile>,
    /// Every parse problem, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// What was dropped to get this far.
    pub recovery: Recovery,
}

/// Parses spec text, reporting every syntax and shape problem; `name` is used in messages.
pub fn parse_recovering(name: &str, source: &str) -> Parsed {
    let scanned = scan(name, source);
    let mut diagnostics = scanned.diagnostics.clone();
    let mut text = scanned.repaired(source);
    let mut recovery = Recovery {
        dropped: scanned.blanks.clone(),
        dropped_names: BTreeSet::new(),
    };
    // Where a misspelt key was dropped (the list element holding it, or the whole file).
    let mut misspelt_in: Vec<Range<usize>> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        // Repairs and blanks only write ASCII over ASCII or whole characters with spaces.
        let Ok(current) = std::str::from_utf8(&text) else {
            break;
        };
        let (result, nested) = with_source(current, || ron::from_str::<Protocol>(current));
        let (offset, code) = match result {
            Ok(protocol) => {
                diagnostics.sort_by_key(|d| d.span.start);
                return Parsed {
                    spec: Some(SpecFile {
                        name: name.to_owned(),
                        source: source.to_owned(),
                        protocol,
                    }),
                    diagnostics,
                    recovery,
                };
            }
            Err(err) => nested.unwrap_or_else(|| {
                (
                    offset_of_position(current, err.span.start.line, err.span.start.col),
                    err.code,
                )
            }),
        };
        // An unknown key is dropped alone; anything else drops the list element holding it.
        let unknown_key = matches!(code, ron::Error::NoSuchStructField { .. });
        let target = scanned
            .innermost(offset, !unknown_key)
            .or_else(|| scanned.innermost(offset, false))
            .filter(|item| !recovery.dropped.contains(&item.blank))
            .cloned();
        // A later error in an element already reported is a consequence of the first one.
        let region = scanned
            .innermost(offset, true)
            .or_else(|| scanned.innermost(offset, false))
            .map_or(offset..offset + 1, |i| i.span.clone());
        let already = diagnostics
            .iter()
            .any(|d| region.contains(&d.span.start) || d.span.start == region.end);
        // ron's own syntax complaints after the scan found syntax errors come from repairs that
        // did not fit; the scan already reported the cause.
        let consequence = (is_syntax(&code) && !scanned.diagnostics.is_empty())
            || (matches!(code, ron::Error::MissingStructField { .. })
                && misspelt_in
                    .iter()
                    .any(|r| r.contains(&offset) || r.end == offset));
        if unknown_key {
            // A misspelt key leaves its struct without the right one: expect a missing key.
            misspelt_in.push(
                scanned
                    .innermost(offset, true)
                    .map_or(0..source.len(), |i| i.span.clone()),
            );
        }
        if !already && !consequence {
            diagnostics.push(shape_diagnostic(name, current, offset, &code));
        }
        match target {
            Some(item) => {
                blank(&mut text, item.blank.clone());
                if let Some(n) = &item.name {
                    recovery.dropped_names.insert(n.clone());
                }
                recovery.dropped.push(item.blank);
            }
            None => break,
        }
    }
    diagnostics.sort_by_key(|d| d.span.start);
    Parsed {
        spec: None,
        diagnostics,
        recovery,
    }
}

/// Whether `ron` rejected the text itself (rather than a value's shape).
fn is_syntax(code: &ron::Error) -> bool {
    !matches!(
        code,
        ron::Error::NoSuchStructField { .. }
            | ron::Error::NoSuchEnumVariant { .. }
            | ron::Error::MissingStructField { .. }
            | ron::Error::DuplicateStructField { .. }
            | ron::Error::InvalidValueForType { .. }
            | ron::Error::IntegerOutOfBounds
            | ron::Error::Message(_)
    )
}

/// A diagnostic for an error `ron` reported at `offset`.
fn shape_diagnostic(file: &str, text: &str, offset: usize, code: &ron::Error) -> Diagnostic {
    let offset = offset.min(text.len());
    let end = text[offset..]
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || matches!(c, ',' | ')' | ']' | ':' | '('))
        .map_or(text.len(), |(i, _)| offset + i.max(1));
    let span = offset..end.min(text.len());
    let readme = "see protocol/spec/README.md for the spec language";
    let list = |expected: &[&str]| {
        expected
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match code {
        ron::Error::NoSuchStructField {
            expected,
            found,
            outer,
        } => {
            let owner = outer.as_deref().unwrap_or("this element");
            let help = match closest(found, expected) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!("`{owner}` takes {}", list(expected)),
            };
            Diagnostic::new(
                file,
                span,
                "unknown-key",
                format!("`{found}` is not a key of `{owner}`"),
            )
            .label("unknown key")
            .help(help)
        }
        ron::Error::NoSuchEnumVariant {
            expected,
            found,
            outer,
        } if outer.as_deref() == Some("Ty") => {
            let help = match closest(found, expected) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!(
                    "a shared type is written `Ref(\"{found}\")`; the builtin types are {}",
                    list(expected)
                ),
            };
            Diagnostic::new(
                file,
                span,
                "unknown-type",
                format!("unknown type `{found}`"),
            )
            .label("not a type")
            .help(help)
        }
        ron::Error::NoSuchEnumVariant {
            expected,
            found,
            outer,
        } => {
            let owner = outer.as_deref().unwrap_or("value");
            let help = match closest(found, expected) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!("expected one of {}", list(expected)),
            };
            Diagnostic::new(
                file,
                span,
                "unknown-variant",
                format!("`{found}` is not a `{owner}`"),
            )
            .label("unknown")
            .help(help)
        }
        ron::Error::MissingStructField { field, outer } => {
            let owner = outer.as_deref().unwrap_or("this element");
            Diagnostic::new(
                file,
                span,
                "missing-key",
                format!("`{owner}` needs `{field}:`"),
            )
            .label(format!("`{field}` missing"))
            .help(readme)
        }
        ron::Error::DuplicateStructField { field, outer } => {
            let owner = outer.as_deref().unwrap_or("this element");
            Diagnostic::new(
                file,
                span,
                "duplicate-key",
                format!("`{field}` is given twice in `{owner}`"),
            )
            .label("again")
        }
        other => Diagnostic::new(file, span, "syntax", other.to_string()).help(readme),
    }
}

/// Parses spec text; every problem found on failure.
pub fn parse_str(name: &str, source: &str) -> Result<SpecFile, Vec<Diagnostic>> {
    let parsed = parse_recovering(name, source);
    match parsed.spec {
        Some(spec) if parsed.diagnostics.is_empty() => Ok(spec),
        _ => Err(parsed.diagnostics),
    }
}

/// Reads and parses a spec file from disk.
pub fn parse_file(path: &Path) -> Result<SpecFile, Vec<Diagnostic>> {
    let name = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::new(
            &name,
            0..0,
            "io",
            format!("cannot read spec file: {e}"),
        )]
    })?;
    parse_str(&name, &source)
}
