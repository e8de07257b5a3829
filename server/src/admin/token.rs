//! The admin bearer token: read from a file or the environment (never a flag, which `ps` shows),
//! and compared in constant time.
//!
//! The comparison pads both sides to [`MAX_LEN`] bytes and compares lengths and bytes with
//! `subtle`, so neither where a wrong token differs nor how long the right one is shows in the
//! time an answer takes.

use std::path::{Path, PathBuf};

use subtle::ConstantTimeEq;

/// The environment variable read when no token file is configured.
pub const ENV: &str = "TILEGAME_ADMIN_TOKEN";
/// The longest token accepted.
pub const MAX_LEN: usize = 256;
/// The shortest token accepted (a guessable token is refused at start).
pub const MIN_LEN: usize = 16;

/// Why the token could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file could not be read.
    #[error("cannot read admin token file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The token is too short, too long or not printable ASCII.
    #[error("admin token from {from}: {message}")]
    Invalid {
        /// Where it came from.
        from: String,
        /// What is wrong.
        message: String,
    },
}

/// A secret bearer token (its `Debug` does not show it).
#[derive(Clone)]
pub struct Token {
    bytes: [u8; MAX_LEN],
    len: u64,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// Checks `text` (surrounding whitespace trimmed) from `from`.
    pub fn new(text: &str, from: &str) -> Result<Token, TokenError> {
        let text = text.trim();
        let invalid = |message: String| TokenError::Invalid {
            from: from.to_owned(),
            message,
        };
        if text.len() < MIN_LEN || text.len() > MAX_LEN {
            return Err(invalid(format!(
                "must be {MIN_LEN} to {MAX_LEN} bytes, is {}",
                text.len()
            )));
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid("must be printable ASCII without spaces".into()));
        }
        let mut bytes = [0; MAX_LEN];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Ok(Token {
            bytes,
            len: text.len() as u64,
        })
    }

    /// The token in `file` if given, else in the environment variable [`ENV`] if set.
    pub fn configured(file: Option<&Path>) -> Result<Option<Token>, TokenError> {
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
                path: path.to_owned(),
                source,
            })?;
            return Token::new(&text, &path.display().to_string()).map(Some);
        }
        match std::env::var(ENV) {
            Ok(text) => Token::new(&text, ENV).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Whether `presented` is this token, in time independent of both.
    pub fn matches(&self, presented: &[u8]) -> bool {
        if presented.len() > MAX_LEN {
            return false;
        }
        let mut padded = [0; MAX_LEN];
        padded[..presented.len()].copy_from_slice(presented);
        let same_len = (presented.len() as u64).ct_eq(&self.len);
        let same_bytes = padded.ct_eq(&self.bytes);
        (same_len & same_bytes).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        let t = Token::new("  correct-horse-battery\n", "test").unwrap();
        assert!(t.matches(b"correct-horse-battery"));
        assert!(!t.matches(b"correct-horse-batter"));
        assert!(!t.matches(b"correct-horse-battery\0"));
        assert!(!t.matches(b""));
        assert!(!t.matches(&[b'x'; 1000]));
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    }

    #[test]
    fn short_or_spaced_tokens_are_refused() {
        let e = Token::new("short", "FILE").unwrap_err().to_string();
        assert_eq!(e, "admin token from FILE: must be 16 to 256 bytes, is 5");
        assert!(Token::new("has a space in it!!", "FILE").is_err());
    }
}
