//! A tolerant reader of RON's syntax, so that one mistake does not hide the others.
//!
//! `ron` stops at the first error it meets. This pass tokenizes the whole file, matches
//! brackets, and parses the RON that specs use (named and unnamed structs, lists, maps, strings,
//! numbers, identifiers) with recovery: after an error it resumes at the next `,` or closing
//! bracket of the same level, so every syntax error in the file is found in one run.
//!
//! Besides the diagnostics it returns what [`crate::parse`] needs to parse the rest of a broken
//! file with `ron`: same-length repairs (a missing `,` or `)` written into the whitespace where it
//! belongs) and the byte ranges of every list element and `key: value` pair, so that an element
//! `ron` rejects can be blanked out and the file parsed again. Repairs never change a byte
//! offset, so spans computed on the repaired text are spans in the maintainer's file.

use std::ops::Range;

use crate::diagnostic::Diagnostic;

/// What one scan of a spec's text found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Every syntax error, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// Single-byte replacements of whitespace that make the text parse (offset, byte).
    pub repairs: Vec<(usize, u8)>,
    /// Ranges to blank out because no repair fits (a stray closing bracket, an unparsable item).
    pub blanks: Vec<Range<usize>>,
    /// Every list element and every `key: value` pair, innermost last within each parent.
    pub items: Vec<Item>,
}

/// A list element or a `key: value` pair of a struct.
#[derive(Debug, Clone)]
pub struct Item {
    /// The element's own text.
    pub span: Range<usize>,
    /// The element with its trailing comma: what to blank to drop it from its list.
    pub blank: Range<usize>,
    /// Whether this is a list element (else a `key: value` pair).
    pub element: bool,
    /// The element's `name: "…"`, when it declares one.
    pub name: Option<String>,
}

impl Scan {
    /// `source` with every repair and blank applied; same length, same line breaks.
    pub fn repaired(&self, source: &str) -> Vec<u8> {
        let mut bytes = source.as_bytes().to_vec();
        for &(at, byte) in &self.repairs {
            if let Some(b) = bytes.get_mut(at) {
                *b = byte;
            }
        }
        for range in &self.blanks {
            blank(&mut bytes, range.clone());
        }
        bytes
    }

    /// The innermost list element (or, if `element` is false, the innermost item of either
    /// kind) containing `offset`.
    pub fn innermost(&self, offset: usize, element: bool) -> Option<&Item> {
        self.items
            .iter()
            .filter(|i| (i.element || !element) && i.span.start <= offset && offset < i.span.end)
            .min_by_key(|i| i.span.len())
    }
}

/// Replaces every byte of `range` except line breaks with a space.
pub fn blank(bytes: &mut [u8], range: Range<usize>) {
    let end = range.end.min(bytes.len());
    for b in &mut bytes[range.start.min(end)..end] {
        if *b != b'\n' {
            *b = b' ';
        }
    }
}

/// Deepest bracket nesting the scan follows (ron's own limit is 128).
const MAX_DEPTH: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Open(u8),
    Close(u8),
    Comma,
    Colon,
    Ident,
    Str,
    Num,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Tok,
    span: Range<usize>,
}

fn closer(open: u8) -> u8 {
    match open {
        b'(' => b')',
        b'[' => b']',
        _ => b'}',
    }
}

/// Scans `source` (named `file` in messages).
///
/// When brackets do not match, the file is scanned a second time trusting its indentation,
/// the way rustc places an unclosed delimiter: a closing bracket that starts a line left of the
/// line that opened the innermost group closes an outer group, so the inner ones are unclosed.
/// (Valid files never take this path, so an unusual layout is never an error by itself.)
pub fn scan(file: &str, source: &str) -> Scan {
    let (first, trouble) = scan_with(file, source, false);
    if trouble {
        scan_with(file, source, true).0
    } else {
        first
    }
}

fn scan_with(file: &str, source: &str, indent_mode: bool) -> (Scan, bool) {
    let mut scan = Scan::default();
    let (tokens, trivia_ok, swallowed) = lex(file, source, &mut scan);
    let mut p = Parser {
        file,
        source,
        tokens,
        pos: 0,
        stack: Vec::new(),
        scan,
        usable: trivia_ok,
        comma_after_repair: None,
        indent_mode,
        bracket_trouble: false,
        eof_reported: false,
        swallowed,
        dedent_reported: Vec::new(),
    };
    if p.peek().is_some() {
        p.value();
        if let Some(t) = p.peek().cloned() {
            p.error(
                t.span.clone(),
                format!("unexpected {} after the end of the spec", p.describe(&t)),
                "nothing may follow the closing `)`",
            );
            let end = source.len();
            p.scan.blanks.push(t.span.start..end);
        }
    } else {
        p.error(0..0, "the spec is empty".into(), "expected `Protocol(…)`");
    }
    let trouble = p.bracket_trouble;
    let mut scan = p.scan;
    scan.diagnostics.sort_by_key(|d| d.span.start);
    (scan, trouble)
}

/// The indentation (in bytes) of the line holding `offset`.
fn indent_of(source: &str, offset: usize) -> usize {
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    source[line_start..]
        .bytes()
        .take_while(|b| *b == b' ' || *b == b'\t')
        .count()
}

/// Splits `source` into tokens; returns them and, per byte, whether a repair may overwrite it
/// (whitespace outside comments that does not end a line comment).
fn lex(file: &str, source: &str, scan: &mut Scan) -> (Vec<Token>, Vec<bool>, bool) {
    let mut swallowed = false;
    let bytes = source.as_bytes();
    let mut usable = vec![false; bytes.len()];
    let mut tokens = Vec::new();
    let mut i = 0;
    let diag = |span: Range<usize>, message: String, label: &str| {
        Diagnostic::new(file, span, "syntax", message).label(label)
    };
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                usable[i] = true;
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                // The line break ends the comment: overwriting it would extend the comment.
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                loop {
                    if i >= bytes.len() {
                        swallowed = true;
                        scan.diagnostics.push(diag(
                            start..start + 2,
                            "unterminated block comment".into(),
                            "this comment is never closed",
                        ));
                        break;
                    }
                    if bytes[i..].starts_with(b"/*") {
                        depth += 1;
                        i += 2;
                    } else if bytes[i..].starts_with(b"*/") {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'(' | b'[' | b'{' => {
                tokens.push(Token {
                    kind: Tok::Open(c),
                    span: i..i + 1,
                });
                i += 1;
            }
            b')' | b']' | b'}' => {
                tokens.push(Token {
                    kind: Tok::Close(c),
                    span: i..i + 1,
                });
                i += 1;
            }
            b',' => {
                tokens.push(Token {
                    kind: Tok::Comma,
                    span: i..i + 1,
                });
                i += 1;
            }
            b':' => {
                tokens.push(Token {
                    kind: Tok::Colon,
                    span: i..i + 1,
                });
                i += 1;
            }
            b'"' | b'\'' => {
                i += 1;
                let mut closed = false;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 2,
                        q if q == c => {
                            i += 1;
                            closed = true;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                i = i.min(bytes.len());
                if !closed {
                    swallowed = true;
                    scan.diagnostics.push(diag(
                        start..start + 1,
                        "unterminated string".into(),
                        "this string is never closed",
                    ));
                }
                tokens.push(Token {
                    kind: Tok::Str,
                    span: start..i,
                });
            }
            b'r' if matches!(bytes.get(i + 1), Some(b'"' | b'#'))
                && bytes[i + 1..]
                    .iter()
                    .find(|&&b| b != b'#')
                    .is_some_and(|&b| b == b'"') =>
            {
                // Raw string r#"…"#.
                i += 1;
                let hashes = bytes[i..].iter().take_while(|&&b| b == b'#').count();
                i += hashes + 1;
                let mut end = None;
                while i < bytes.len() {
                    if bytes[i] == b'"'
                        && bytes[i + 1..]
                            .iter()
                            .take(hashes)
                            .filter(|&&b| b == b'#')
                            .count()
                            == hashes
                    {
                        end = Some(i + 1 + hashes);
                        break;
                    }
                    i += 1;
                }
                match end {
                    Some(e) => i = e,
                    None => {
                        swallowed = true;
                        i = bytes.len();
                        scan.diagnostics.push(diag(
                            start..start + 1,
                            "unterminated raw string".into(),
                            "this string is never closed",
                        ));
                    }
                }
                tokens.push(Token {
                    kind: Tok::Str,
                    span: start..i,
                });
            }
            c if c.is_ascii_digit()
                || ((c == b'-' || c == b'+' || c == b'.')
                    && bytes.get(i + 1).is_some_and(|b| b.is_ascii_digit())) =>
            {
                i += 1;
                while i < bytes.len() {
                    let b = bytes[i];
                    let digit = b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
                    // An exponent's sign: `1e-5` (not in hex, where `e` is a digit).
                    let exponent_sign = (b == b'-' || b == b'+')
                        && matches!(bytes[i - 1], b'e' | b'E')
                        && !source[start..i].starts_with("0x");
                    if !(digit || exponent_sign) {
                        break;
                    }
                    i += 1;
                }
                tokens.push(Token {
                    kind: Tok::Num,
                    span: start..i,
                });
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                if bytes[i..].starts_with(b"r#") {
                    i += 2;
                }
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                tokens.push(Token {
                    kind: Tok::Ident,
                    span: start..i,
                });
            }
            b'#' if bytes[i..].starts_with(b"#![") => {
                // An extension attribute `#![enable(…)]`: skip it whole.
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            _ => {
                let len = source[i..].chars().next().map_or(1, char::len_utf8);
                let ch = &source[i..i + len];
                scan.diagnostics.push(diag(
                    i..i + len,
                    format!("unexpected character `{ch}`"),
                    "not part of RON",
                ));
                scan.blanks.push(i..i + len);
                i += len;
            }
        }
    }
    (tokens, usable, swallowed)
}

struct Parser<'a> {
    file: &'a str,
    source: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    /// Open brackets enclosing the current position: (bracket, token index).
    stack: Vec<(u8, usize)>,
    scan: Scan,
    usable: Vec<bool>,
    /// A token before which a closing bracket was inserted: the `,` that must follow it is
    /// repaired silently (the unclosed bracket was reported).
    comma_after_repair: Option<usize>,
    /// Whether to trust indentation to place unclosed brackets (second pass).
    indent_mode: bool,
    /// Whether brackets did not match (then a second pass trusts indentation).
    bracket_trouble: bool,
    /// Whether an unterminated string or comment ran to the end of the file (reported already).
    swallowed: bool,
    /// Whether the unclosed brackets at the end of the file were reported (once, innermost).
    eof_reported: bool,
    /// Closing tokens already blamed on an unclosed group (one diagnostic per closer).
    dedent_reported: Vec<usize>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_kind(&self, ahead: usize) -> Option<Tok> {
        self.tokens.get(self.pos + ahead).map(|t| t.kind)
    }

    fn prev_end(&self) -> usize {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map_or(0, |t| t.span.end)
    }

    fn error(&mut self, span: Range<usize>, message: String, label: &str) -> &mut Diagnostic {
        self.scan.diagnostics.push(
            Diagnostic::new(self.file, span, "syntax", message)
                .label(label)
                .help("see protocol/spec/README.md for the spec language"),
        );
        let last = self.scan.diagnostics.len() - 1;
        &mut self.scan.diagnostics[last]
    }

    fn describe(&self, t: &Token) -> String {
        let text = &self.source[t.span.clone()];
        match t.kind {
            Tok::Ident => format!("identifier `{text}`"),
            Tok::Str => "a string".into(),
            Tok::Num => format!("number `{text}`"),
            _ => format!("`{text}`"),
        }
    }

    /// Writes `byte` into the first usable whitespace between the previous token and the next.
    fn repair_insert(&mut self, byte: u8) -> bool {
        let from = self.prev_end();
        let to = self.peek().map_or(self.source.len(), |t| t.span.start);
        match (from..to).find(|&i| self.usable.get(i) == Some(&true)) {
            Some(at) => {
                self.usable[at] = false;
                self.scan.repairs.push((at, byte));
                true
            }
            None => false,
        }
    }

    /// Skips to the next `,` or closing bracket at the current level (not consuming it).
    fn skip_item(&mut self) {
        let mut depth = 0usize;
        while let Some(t) = self.peek() {
            match t.kind {
                Tok::Open(_) => depth += 1,
                Tok::Close(_) if depth == 0 => return,
                Tok::Close(_) => depth -= 1,
                Tok::Comma if depth == 0 => return,
                _ => {}
            }
            self.pos += 1;
        }
    }

    /// Parses one value; false after reporting an error.
    fn value(&mut self) -> bool {
        let Some(t) = self.peek().cloned() else {
            let end = self.source.len();
            self.error(
                end..end,
                "the file ends where a value was expected".into(),
                "expected a value",
            );
            return false;
        };
        match t.kind {
            Tok::Ident => {
                self.pos += 1;
                if self.peek_kind(0) == Some(Tok::Open(b'(')) {
                    self.group(b'(');
                    return true;
                }
                true
            }
            Tok::Str | Tok::Num => {
                self.pos += 1;
                true
            }
            Tok::Open(c) => {
                // An unclosed group was reported and left the position where parsing goes on.
                self.group(c);
                true
            }
            Tok::Close(_) | Tok::Comma | Tok::Colon => {
                let what = self.describe(&t);
                self.error(
                    t.span.clone(),
                    format!("expected a value, found {what}"),
                    "expected a value here",
                );
                false
            }
        }
    }

    /// Parses a bracketed group starting at the current (opening) token; false if it did not
    /// close properly.
    fn group(&mut self, open: u8) -> bool {
        let open_index = self.pos;
        let open_span = self.tokens[open_index].span.clone();
        if self.stack.len() >= MAX_DEPTH {
            // Hostile nesting: report once, then skip the group without recursing.
            self.error(
                open_span,
                format!("brackets nested deeper than {MAX_DEPTH}"),
                "too deep",
            );
            let mut depth = 0usize;
            while let Some(t) = self.peek() {
                match t.kind {
                    Tok::Open(_) => depth += 1,
                    Tok::Close(_) => {
                        depth -= 1;
                        if depth == 0 {
                            self.pos += 1;
                            break;
                        }
                    }
                    _ => {}
                }
                self.pos += 1;
            }
            return false;
        }
        self.pos += 1;
        self.stack.push((open, open_index));
        let close = closer(open);
        let mut keyed_struct = false;
        let result = loop {
            let Some(t) = self.peek().cloned() else {
                let end = self.source.len();
                let o = open as char;
                let c = close as char;
                self.repair_insert(close);
                self.bracket_trouble = true;
                // An unterminated string or comment that ran to the end was reported already.
                if !self.eof_reported && !self.swallowed {
                    self.eof_reported = true;
                    let others: Vec<Range<usize>> = self
                        .stack
                        .iter()
                        .rev()
                        .skip(1)
                        .map(|&(_, i)| self.tokens[i].span.clone())
                        .collect();
                    let d = self.error(
                        open_span.clone(),
                        format!("unclosed `{o}`: the file ends before its `{c}`"),
                        &format!("this `{o}` is never closed"),
                    );
                    for other in others {
                        d.secondary.push((other, "also unclosed".into()));
                    }
                    let _ = end;
                }
                break false;
            };
            let first_on_line = self.source[self.prev_end()..t.span.start].contains('\n');
            match t.kind {
                Tok::Close(_)
                    if self.indent_mode
                        && first_on_line
                        && indent_of(self.source, t.span.start)
                            < indent_of(self.source, open_span.start) =>
                {
                    // A closer left of our opening line belongs to an outer group.
                    self.repair_insert(close);
                    if !self.dedent_reported.contains(&self.pos) {
                        self.dedent_reported.push(self.pos);
                        let o = open as char;
                        let d = self.error(
                            open_span.clone(),
                            format!("unclosed `{o}`: expected `{}`", close as char),
                            &format!("this `{o}` is never closed"),
                        );
                        d.secondary.push((
                            t.span.clone(),
                            "indentation says this closes an outer bracket".into(),
                        ));
                    }
                    break false;
                }
                Tok::Close(c) if c == close => {
                    self.pos += 1;
                    break true;
                }
                Tok::Close(c) => {
                    self.bracket_trouble = true;
                    let closes_outer = first_on_line
                        && self
                            .stack
                            .iter()
                            .rev()
                            .skip(1)
                            .any(|&(o, _)| closer(o) == c);
                    if closes_outer {
                        // Our bracket was never closed; the outer one closes here.
                        let o = open as char;
                        let cl = close as char;
                        self.repair_insert(close);
                        let d = self.error(
                            open_span.clone(),
                            format!("unclosed `{o}`: expected `{cl}` before `{}`", c as char),
                            &format!("this `{o}` is never closed"),
                        );
                        d.secondary.push((
                            t.span.clone(),
                            format!("`{}` closes an outer bracket here", c as char),
                        ));
                        break false;
                    }
                    self.error(
                        t.span.clone(),
                        format!(
                            "unexpected `{}`: nothing open here is closed by it",
                            c as char
                        ),
                        "unmatched closing bracket",
                    );
                    self.scan.blanks.push(t.span.clone());
                    self.pos += 1;
                    // The stray bracket stood between an item and its `,`.
                    if self.peek_kind(0) == Some(Tok::Comma) {
                        self.pos += 1;
                    }
                    continue;
                }
                _ => {}
            }
            // One item.
            let start = t.span.start;
            let mut element_name = None;
            let keyed =
                open == b'(' && t.kind == Tok::Ident && self.peek_kind(1) == Some(Tok::Colon);
            let on_new_line = self.source[self.prev_end()..start].contains('\n');
            if keyed_struct && !keyed && on_new_line {
                // `key: value` pairs cannot be followed by an unnamed item: the struct's `)` is
                // missing and this line starts the next element of the enclosing list.
                let o = open as char;
                self.repair_insert(close);
                self.comma_after_repair = Some(self.pos);
                let d = self.error(
                    open_span.clone(),
                    format!(
                        "unclosed `{o}`: expected `{}` before the next element",
                        close as char
                    ),
                    &format!("this `{o}` is never closed"),
                );
                d.secondary
                    .push((t.span.clone(), "the next element starts here".into()));
                break false;
            }
            keyed_struct |= keyed;
            let ok = if keyed {
                self.pos += 2;
                self.value()
            } else if open == b'{' {
                let mut ok = self.value();
                if ok {
                    if self.peek_kind(0) == Some(Tok::Colon) {
                        self.pos += 1;
                        ok = self.value();
                    } else {
                        let at = self.prev_end();
                        self.error(
                            at..at,
                            "expected `:` after a map key".into(),
                            "expected `:`",
                        );
                        ok = false;
                    }
                }
                ok
            } else if open == b'('
                && t.kind == Tok::Ident
                && self
                    .peek_kind(1)
                    .is_some_and(|k| matches!(k, Tok::Str | Tok::Num | Tok::Ident))
                && self
                    .tokens
                    .get(self.pos + 1)
                    .is_some_and(|n| !self.source[t.span.end..n.span.start].contains('\n'))
            {
                // `key value` on one line: a missing colon.
                let at = t.span.end;
                let key = self.source[t.span.clone()].to_owned();
                self.error(
                    at..at,
                    format!("expected `:` after `{key}`"),
                    "expected `:`",
                );
                if self.usable.get(at) == Some(&true) {
                    self.usable[at] = false;
                    self.scan.repairs.push((at, b':'));
                }
                self.pos += 1;
                self.value()
            } else {
                element_name = if t.kind == Tok::Ident || t.kind == Tok::Open(b'(') {
                    self.peek_named_group()
                } else {
                    None
                };
                let ok = self.value();
                if open != b'[' {
                    element_name = None;
                }
                ok
            };
            if !ok {
                self.skip_item();
            }
            let end = self.prev_end().max(start);
            let mut item = Item {
                span: start..end,
                blank: start..end,
                element: open == b'[',
                name: element_name,
            };
            match self.peek_kind(0) {
                Some(Tok::Comma) => {
                    item.blank.end = self.tokens[self.pos].span.end;
                    self.pos += 1;
                }
                Some(Tok::Close(_)) | None => {}
                Some(_) if self.comma_after_repair == Some(self.pos) => {
                    self.repair_insert(b',');
                }
                Some(_) => {
                    let next = self.peek().cloned().expect("peeked");
                    let what = self.describe(&next);
                    let at = end;
                    self.repair_insert(b',');
                    let d = self.error(
                        at..at,
                        format!("expected `,` or `{}`, found {what}", close as char),
                        "expected `,` here",
                    );
                    d.secondary
                        .push((next.span.clone(), "the next item starts here".into()));
                }
            }
            if keyed || open == b'[' {
                self.scan.items.push(item);
            }
        };
        self.stack.pop();
        result
    }

    /// The `name: "…"` directly inside the `(…)` group that starts at the current token (after
    /// an optional identifier), without consuming anything.
    fn peek_named_group(&self) -> Option<String> {
        let mut i = self.pos;
        if self.tokens.get(i)?.kind == Tok::Ident {
            i += 1;
        }
        if self.tokens.get(i)?.kind != Tok::Open(b'(') {
            return None;
        }
        let mut depth = 0;
        while let Some(t) = self.tokens.get(i) {
            match t.kind {
                Tok::Open(_) => depth += 1,
                Tok::Close(_) => {
                    depth -= 1;
                    if depth == 0 {
                        return None;
                    }
                }
                Tok::Ident if depth == 1 && &self.source[t.span.clone()] == "name" => {
                    let colon = self.tokens.get(i + 1)?;
                    let value = self.tokens.get(i + 2)?;
                    if colon.kind == Tok::Colon && value.kind == Tok::Str && value.span.len() >= 2 {
                        // `get`: an unterminated string may end inside a character.
                        return self
                            .source
                            .get(value.span.start + 1..value.span.end - 1)
                            .map(str::to_owned);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    }
}
