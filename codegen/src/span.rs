//! Source positions for spec elements.
//!
//! `ron` reports syntax and type errors with line and column, but rules checked after parsing
//! (duplicate ids, unknown types, ...) need to know where each element came from. [`Spanned`]
//! deserializes an element as a borrowed [`ron::value::RawValue`], records its byte range in the
//! original source, then parses it. Because nested raw values borrow from the same source
//! string, their offsets are absolute too. Errors inside an element are re-based onto the whole
//! file so that every message carries the file's own line and column.

use std::cell::{Cell, RefCell};
use std::ops::Range;

use serde::de::{Deserialize, Deserializer, Error as _};

/// A value together with the byte range of its text in the spec file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The parsed value.
    pub node: T,
    /// Byte range of the value's text in the source.
    pub span: Range<usize>,
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.node
    }
}

impl<T> Spanned<T> {
    /// Wraps a value with a span.
    pub fn new(value: T, span: Range<usize>) -> Self {
        Spanned { node: value, span }
    }
}

thread_local! {
    /// Start address and length of the source being parsed on this thread.
    static SOURCE: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// The innermost parse error seen while parsing nested elements: (byte offset, error).
    static NESTED_ERROR: RefCell<Option<(usize, ron::Error)>> = const { RefCell::new(None) };
}

/// Marks `source` as the text being parsed for the duration of `f`, so that spans can be computed.
pub(crate) fn with_source<R>(
    source: &str,
    f: impl FnOnce() -> R,
) -> (R, Option<(usize, ron::Error)>) {
    let previous = SOURCE.with(|s| s.replace((source.as_ptr() as usize, source.len())));
    NESTED_ERROR.with(|e| e.borrow_mut().take());
    let result = f();
    SOURCE.with(|s| s.set(previous));
    let nested = NESTED_ERROR.with(|e| e.borrow_mut().take());
    (result, nested)
}

/// Byte offset of `inner` within the source registered by [`with_source`], if it lies inside it.
fn offset_in_source(inner: &str) -> Option<usize> {
    let (base, len) = SOURCE.with(|s| s.get());
    let ptr = inner.as_ptr() as usize;
    (ptr >= base && ptr + inner.len() <= base + len && len > 0).then(|| ptr - base)
}

/// Converts a 1-based line/column inside `text` to a byte offset into `text`.
pub fn offset_of_position(text: &str, line: usize, col: usize) -> usize {
    let mut offset = 0;
    for (index, l) in text.split_inclusive('\n').enumerate() {
        if index + 1 == line {
            let col_bytes: usize = l
                .chars()
                .take(col.saturating_sub(1))
                .map(char::len_utf8)
                .sum();
            return offset + col_bytes;
        }
        offset += l.len();
    }
    text.len()
}

/// 1-based line and column (in characters) of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Skips whitespace and `//` / `/* */` comments at the start of `text`; returns the bytes skipped.
fn leading_trivia(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes[i..].starts_with(b"//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if bytes[i..].starts_with(b"/*") {
            match text[i + 2..].find("*/") {
                Some(end) => i += end + 4,
                None => return bytes.len(),
            }
        } else {
            return i;
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw: &'de ron::value::RawValue = Deserialize::deserialize(deserializer)?;
        let text = raw.get_ron();
        let start_in_text = leading_trivia(text);
        let base = offset_in_source(text);
        match raw.into_rust::<T>() {
            Ok(value) => {
                let span = match base {
                    Some(base) => {
                        base + start_in_text..base + text.trim_end().len().max(start_in_text)
                    }
                    None => 0..0,
                };
                Ok(Spanned { node: value, span })
            }
            Err(err) => {
                let message = err.code.to_string();
                if let Some(base) = base {
                    let rel = offset_of_position(text, err.span.start.line, err.span.start.col);
                    NESTED_ERROR.with(|e| {
                        let mut slot = e.borrow_mut();
                        if slot.is_none() {
                            *slot = Some((base + rel, err.code.clone()));
                        }
                    });
                }
                Err(D::Error::custom(message))
            }
        }
    }
}

/// Finds the span of `key: value`'s key inside the element at `span` (top nesting level only).
pub fn key_span(source: &str, span: &Range<usize>, key: &str) -> Option<Range<usize>> {
    let text = source.get(span.clone())?;
    let bytes = text.as_bytes();
    let mut depth = 0i32;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            c if depth == 1 && (c.is_ascii_alphabetic() || c == b'_') => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let word = &text[start..i];
                let rest = text[i..].trim_start();
                if word == key && rest.starts_with(':') {
                    return Some(span.start + start..span.start + i);
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The span of the value that follows `key:` inside the element at `span`, up to the next comma
/// or closing bracket at the same level.
pub fn value_span(source: &str, span: &Range<usize>, key: &str) -> Option<Range<usize>> {
    let key = key_span(source, span, key)?;
    let after = source.get(key.end..span.end)?;
    let colon = after.find(':')?;
    let value_start = key.end + colon + 1;
    let value_text = &source[value_start..span.end];
    let skip = value_text.len() - value_text.trim_start().len();
    let value_text = value_text.trim_start();
    let mut depth = 0i32;
    let mut in_string = false;
    let mut escaped = false;
    let mut end = value_text.len();
    for (i, c) in value_text.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => {
                end = i;
                break;
            }
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let trimmed = value_text[..end].trim_end().len();
    Some(value_start + skip..value_start + skip + trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let text = "ab\ncd\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 4), (2, 2));
        assert_eq!(offset_of_position(text, 2, 2), 4);
    }

    #[test]
    fn finds_keys_at_top_level_only() {
        let src = r#"Packet(id: 3, name: "x", fields: [(name: "id", ty: U8)])"#;
        let span = 0..src.len();
        let k = key_span(src, &span, "id").unwrap();
        assert_eq!(&src[k], "id");
        let v = value_span(src, &span, "name").unwrap();
        assert_eq!(&src[v], "\"x\"");
        let v = value_span(src, &span, "id").unwrap();
        assert_eq!(&src[v], "3");
    }
}
