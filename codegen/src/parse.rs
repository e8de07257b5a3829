//! Reading a spec file into the [`crate::model`], with positions.
//!
//! Syntax and shape errors come from `ron` with a line and column; errors inside a list element
//! are re-based onto the whole file by [`crate::span`], so the reported position is always the
//! file's own.

use std::path::Path;

use crate::diagnostic::Diagnostic;
use crate::model::Protocol;
use crate::span::{offset_of_position, with_source};

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

/// Parses spec text; `name` is used in messages.
#[allow(
    clippy::result_large_err,
    reason = "a spec error is one Diagnostic that callers collect unboxed into SpecErrors; it is the rare path"
)]
pub fn parse_str(name: &str, source: &str) -> Result<SpecFile, Diagnostic> {
    let (result, nested) = with_source(source, || ron::from_str::<Protocol>(source));
    match result {
        Ok(protocol) => Ok(SpecFile {
            name: name.to_owned(),
            source: source.to_owned(),
            protocol,
        }),
        Err(err) => {
            let (offset, message) = match nested {
                Some(nested) => nested,
                None => (
                    offset_of_position(source, err.span.start.line, err.span.start.col),
                    err.code.to_string(),
                ),
            };
            let end = source[offset.min(source.len())..]
                .char_indices()
                .find(|(_, c)| c.is_whitespace() || matches!(c, ',' | ')' | ']'))
                .map_or(source.len(), |(i, _)| offset + i.max(1));
            Err(
                Diagnostic::new(name, offset..end.min(source.len()), "syntax", message)
                    .help("see protocol/spec/README.md for the spec language"),
            )
        }
    }
}

/// Reads and parses a spec file from disk.
#[allow(
    clippy::result_large_err,
    reason = "a spec error is one Diagnostic that callers collect unboxed into SpecErrors; it is the rare path"
)]
pub fn parse_file(path: &Path) -> Result<SpecFile, Diagnostic> {
    let name = path.display().to_string();
    let source = std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::new(&name, 0..0, "io", format!("cannot read spec file: {e}")))?;
    parse_str(&name, &source)
}
