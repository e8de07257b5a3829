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

    /// `file:line:column` of the span's start.
    pub fn location(&self, source: &str) -> String {
        let (line, col) = line_col(source, self.span.start);
        format!("{}:{}:{}", self.file, line, col)
    }

    /// Renders the diagnostic with the source line and a caret underline.
    pub fn render(&self, source: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {}: {}",
            self.location(source),
            self.rule,
            self.message
        );
        let (line, col) = line_col(source, self.span.start);
        if let Some(text) = source.lines().nth(line - 1) {
            let gutter = line.to_string().len();
            let pad = " ".repeat(gutter);
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{line} | {text}");
            let start_chars = col - 1;
            let line_chars = text.chars().count();
            let span_chars = source
                .get(self.span.clone())
                .map_or(1, |s| s.lines().next().unwrap_or("").chars().count())
                .clamp(1, line_chars.saturating_sub(start_chars).max(1));
            let _ = write!(
                out,
                "{pad} | {}{}",
                " ".repeat(start_chars),
                "^".repeat(span_chars)
            );
            if !self.label.is_empty() {
                let _ = write!(out, " {}", self.label);
            }
            out.push('\n');
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "  = help: {help}");
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
