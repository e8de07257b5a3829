//! Turning a request's path into a file path inside the bundle folder, or a refusal.
//!
//! This is the one place that decides which names a request may reach: the path is
//! percent-decoded once, split on `/`, and every segment must be a plain name (no `.` or `..`,
//! no backslash, drive colon, NUL or control character, no hidden `.name`). The result is a
//! relative path of plain names that cannot leave the folder it is joined to; symbolic links
//! that point out of the folder are caught later, when the file is opened (see
//! [`super::files`]). Pure and bounded, so it is fuzzed (`fuzz/fuzz_targets/web_input.rs`).

use std::path::PathBuf;

/// Longest request path accepted, in bytes (before decoding).
pub const MAX_PATH_BYTES: usize = 1024;
/// Most segments a request path may have.
pub const MAX_SEGMENTS: usize = 16;
/// The file served for a folder (and for `/`).
pub const INDEX: &str = "index.html";

/// Why a request path names no file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Not an absolute path (`/...`).
    #[error("the path does not start with /")]
    NotAbsolute,
    /// Longer than [`MAX_PATH_BYTES`] or deeper than [`MAX_SEGMENTS`].
    #[error("the path is too long")]
    TooLong,
    /// A `%` not followed by two hex digits, or bytes that are not UTF-8 once decoded.
    #[error("the path is not valid percent-encoded UTF-8")]
    BadEncoding,
    /// A `.` or `..` segment, or a backslash or colon that could name another folder.
    #[error("the path tries to leave the folder ({0:?})")]
    Escape(String),
    /// A NUL or control character.
    #[error("the path holds a control character")]
    Control,
    /// A segment starting with `.` (hidden files are not served).
    #[error("hidden files are not served")]
    Hidden,
}

impl PathError {
    /// Whether this is a malformed request (400) rather than a name that is simply not served
    /// (404).
    pub fn is_bad_request(&self) -> bool {
        !matches!(self, PathError::Hidden)
    }
}

/// The relative file path `path` (a request's path, without the query) names in the bundle;
/// a folder's path (ending in `/`, or `/` itself) names its [`INDEX`].
pub fn resolve(path: &str) -> Result<PathBuf, PathError> {
    if path.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong);
    }
    let rest = path.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
    let decoded = percent_decode(rest)?;
    let mut out = PathBuf::new();
    let mut segments = 0;
    let mut last_empty = true;
    for segment in decoded.split('/') {
        last_empty = segment.is_empty();
        if segment.is_empty() {
            continue;
        }
        segments += 1;
        if segments > MAX_SEGMENTS {
            return Err(PathError::TooLong);
        }
        check_segment(segment)?;
        out.push(segment);
    }
    if last_empty {
        out.push(INDEX);
    }
    Ok(out)
}

fn check_segment(segment: &str) -> Result<(), PathError> {
    if segment == "." || segment == ".." {
        return Err(PathError::Escape(segment.to_owned()));
    }
    if segment.chars().any(char::is_control) {
        return Err(PathError::Control);
    }
    if segment.contains(['\\', ':']) {
        return Err(PathError::Escape(segment.to_owned()));
    }
    if segment.starts_with('.') {
        return Err(PathError::Hidden);
    }
    Ok(())
}

/// Decodes `%XX` escapes once (a decoded `%` stays a `%`: `%252e` is the name `%2e`).
fn percent_decode(text: &str) -> Result<String, PathError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(PathError::BadEncoding)?;
            let hex = std::str::from_utf8(hex).map_err(|_| PathError::BadEncoding)?;
            let value = u8::from_str_radix(hex, 16).map_err(|_| PathError::BadEncoding)?;
            if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                return Err(PathError::BadEncoding); // from_str_radix accepts a leading '+'
            }
            out.push(value);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| PathError::BadEncoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_and_folders_resolve() {
        assert_eq!(resolve("/"), Ok(PathBuf::from("index.html")));
        assert_eq!(resolve("/app.wasm"), Ok(PathBuf::from("app.wasm")));
        assert_eq!(
            resolve("/assets//fonts/a%20b.ttf"),
            Ok(PathBuf::from("assets/fonts/a b.ttf"))
        );
        assert_eq!(resolve("/assets/"), Ok(PathBuf::from("assets/index.html")));
        assert_eq!(resolve("/%252e%252e"), Ok(PathBuf::from("%2e%2e")));
    }

    #[test]
    fn escapes_and_malformed_paths_are_refused() {
        for (path, want) in [
            ("/../etc/passwd", PathError::Escape("..".into())),
            ("/a/../../b", PathError::Escape("..".into())),
            ("/%2e%2e/etc/passwd", PathError::Escape("..".into())),
            ("/%2E%2e%2fetc", PathError::Escape("..".into())),
            ("/./index.html", PathError::Escape(".".into())),
            (
                "/..%5c..%5cwindows",
                PathError::Escape("..\\..\\windows".into()),
            ),
            ("/C:/x", PathError::Escape("C:".into())),
            ("/a%00b", PathError::Control),
            ("/%zz", PathError::BadEncoding),
            ("/%+1", PathError::BadEncoding),
            ("/%", PathError::BadEncoding),
            ("/%c3%28", PathError::BadEncoding),
            ("relative", PathError::NotAbsolute),
            ("/.git/config", PathError::Hidden),
        ] {
            assert_eq!(resolve(path), Err(want), "{path}");
        }
        assert_eq!(resolve(&"/a".repeat(17)), Err(PathError::TooLong));
        assert_eq!(
            resolve(&format!("/{}", "a".repeat(1100))),
            Err(PathError::TooLong)
        );
    }
}
