//! Spec problems, reported the way compilers do.
//!
//! Each [`Diagnostic`] names the file, line and column, the rule broken, and a message; rendering
//! adds the offending source line with the span underlined and a help hint where there is one:
//!
//! ```text
//! protocol/spec/tilegame.ron:41:17: duplicate-id: packet id 0x03 is already used by Input
//!    |
//! 41 |         Packet(id: 0x03, name: "Ping",
//!    |                ^^ duplicate id
//!    = help: pick an id that is not used in play/to_server
//! ```

use std::fmt::Write as _;
use std::ops::Range;

use crate::span::line_col;

/// One problem found in a spec file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file's name as given to the parser.
    pub file: String,
    /// Byte range of the offending text.
    pub span: Range<usize>,
    /// Short kebab-case name of the rule broken (e.g. `duplicate-id`).
    pub rule: &'static str,
    /// What is wrong.
    pub message: String,
    /// Text placed under the span.
    pub label: String,
    /// How to fix it, when there is an obvious way.
    pub help: Option<String>,
    /// Other places involved (the first declaration of a duplicate, an unclosed bracket's
    /// closer), each with its label; underlined with `-` where the primary span uses `^`.
    pub secondary: Vec<(Range<usize>, String)>,
}

impl Diagnostic {
    /// A diagnostic with no label or help yet.
    pub fn new(
        file: &str,
        span: Range<usize>,
        rule: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.to_owned(),
            span,
            rule,
            message: message.into(),
            label: String::new(),
            help: None,
            secondary: Vec::new(),
        }
    }

    /// Sets the label under the span.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Sets the help hint.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds another place involved, with its label.
    pub fn secondary(mut self, span: Range<usize>, label: impl Into<String>) -> Self {
        self.secondary.push((span, label.into()));
        self
    }

    /// `file:line:column` of the span's start.
    pub fn location(&self, source: &str) -> String {
        let (line, col) = line_col(source, self.span.start);
        format!("{}:{}:{}", self.file, line, col)
    }

    /// Renders the diagnostic with the source lines involved, the primary span underlined with
    /// `^` and the secondary spans with `-`, then the help hint.
    pub fn render(&self, source: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {}: {}",
            self.location(source),
            self.rule,
            self.message
        );
        out.push_str(&self.snippet(source));
        out
    }

    /// The source lines with the spans underlined, and the help hint (everything but the first
    /// line of [`Diagnostic::render`]).
    pub fn snippet(&self, source: &str) -> String {
        let mut out = String::new();
        // (line, column, underline width, marker, label), sorted by position.
        let mut marks: Vec<(usize, usize, usize, char, &str)> = Vec::new();
        let mark = |span: &Range<usize>| {
            let (line, col) = line_col(source, span.start);
            let text = source.lines().nth(line - 1)?;
            let line_chars = text.chars().count();
            let width = source
                .get(span.clone())
                .map_or(1, |s| s.lines().next().unwrap_or("").chars().count())
                .clamp(1, line_chars.saturating_sub(col - 1).max(1));
            Some((line, col, width))
        };
        if let Some((l, c, w)) = mark(&self.span) {
            marks.push((l, c, w, '^', self.label.as_str()));
        }
        for (span, label) in &self.secondary {
            if let Some((l, c, w)) = mark(span) {
                marks.push((l, c, w, '-', label.as_str()));
            }
        }
        marks.sort_by_key(|&(line, col, ..)| (line, col));
        if let Some(last) = marks.iter().map(|m| m.0).max() {
            let gutter = last.to_string().len();
            let pad = " ".repeat(gutter);
            let _ = writeln!(out, "{pad} |");
            let mut previous: Option<usize> = None;
            for &(line, col, width, marker, label) in &marks {
                if previous != Some(line) {
                    if previous.is_some_and(|p| line > p + 1) {
                        let _ = writeln!(out, "{}", ".".repeat(gutter.max(3)));
                    }
                    let text = source.lines().nth(line - 1).unwrap_or("");
                    let _ = writeln!(out, "{line:>gutter$} | {text}");
                    previous = Some(line);
                }
                let _ = write!(
                    out,
                    "{pad} | {}{}",
                    " ".repeat(col - 1),
                    marker.to_string().repeat(width)
                );
                if !label.is_empty() {
                    let _ = write!(out, " {label}");
                }
                out.push('\n');
            }
        }
        if let Some(help) = &self.help {
            let gutter = marks
                .iter()
                .map(|m| m.0)
                .max()
                .unwrap_or(1)
                .to_string()
                .len();
            let _ = writeln!(out, "{} = help: {help}", " ".repeat(gutter));
        }
        out
    }
}

/// Renders several diagnostics for one source, separated by blank lines.
pub fn render_all(diagnostics: &[Diagnostic], source: &str) -> String {
    diagnostics
        .iter()
        .map(|d| d.render(source))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The candidate closest to `found` for a "did you mean" hint: equal ignoring case and `_`, a
/// known alias of a builtin type (`Uint32` → `U32`), or at most two edits away.
pub fn closest<'c>(found: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('_', "");
    let f = norm(found);
    if let Some(c) = candidates.iter().find(|c| norm(c) == f) {
        return Some(c);
    }
    let alias = match f.as_str() {
        "uint8" | "ubyte" | "byte" | "uchar" => "U8",
        "uint16" | "ushort" | "word" => "U16",
        "uint32" | "uint" | "dword" => "U32",
        "uint64" | "ulong" | "usize" | "qword" => "U64",
        "int8" | "sbyte" | "char" => "I8",
        "int16" | "short" => "I16",
        "int32" | "int" | "integer" => "I32",
        "int64" | "long" | "isize" => "I64",
        "float" | "float32" | "single" => "F32",
        "double" | "float64" => "F64",
        "boolean" => "Bool",
        "varint" | "varuint" | "varint32" | "varuint32" | "leb128" => "VarU32",
        "varint64" | "varuint64" | "varlong" => "VarU64",
        "zigzag" | "zigzag32" | "svarint" | "varsint32" => "VarI32",
        "zigzag64" | "svarint64" | "varsint64" => "VarI64",
        "str" | "text" | "utf8" => "String",
        "blob" | "vec" | "bytearray" => "Bytes",
        "vector" | "seq" | "sequence" => "List",
        "optional" | "opt" | "maybe" | "nullable" => "Option",
        "zlib" | "deflate" | "compress" => "Compressed",
        _ => "",
    };
    if let Some(c) = candidates.iter().find(|c| **c == alias) {
        return Some(c);
    }
    candidates
        .iter()
        .map(|c| (edit_distance(&norm(c), &f), c))
        .filter(|&(d, c)| d <= 2.min(c.len().saturating_sub(1)))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| *c)
}

/// Levenshtein distance between two short names.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
