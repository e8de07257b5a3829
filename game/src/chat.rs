//! The chat rules of the spec's "Chat" section, with no I/O: what makes a line acceptable
//! ([`check_line`]: NFC, bounds in characters and bytes, no control characters) and the
//! per-player rate limit ([`ChatLimiter`]: a bucket refilled over time, and a flood verdict).
//!
//! The server's sessions apply them to what their clients say; the client applies
//! [`check_line`] before sending, so that a player sees why a line would be refused. The limiter
//! reads no clock: the caller passes the time in milliseconds from any fixed origin.

use unicode_normalization::UnicodeNormalization;

use crate::spec;

/// Longest line in characters (Unicode scalar values, after NFC).
pub const CHAT_MAX_CHARS: usize = spec::CHAT_MAX_CHARS as usize;
/// Longest line in UTF-8 bytes.
pub const CHAT_MAX_BYTES: usize = spec::CHAT_MAX_BYTES as usize;
/// Lines a player may send at once.
pub const CHAT_BURST: u32 = spec::CHAT_BURST;
/// One more line is allowed every this many milliseconds, up to [`CHAT_BURST`].
pub const CHAT_REFILL_MS: u64 = spec::CHAT_REFILL_MS as u64;
/// Rate-limited lines in a row that make a flood.
pub const CHAT_FLOOD_LINES: u32 = spec::CHAT_FLOOD_LINES;

/// Why a line is not acceptable (the wire's `ChatRefusal`, less the rate limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// Empty or only white space.
    #[error("the line is empty")]
    Empty,
    /// Over [`CHAT_MAX_CHARS`] characters or [`CHAT_MAX_BYTES`] bytes.
    #[error("the line has {chars} characters and {bytes} bytes; at most {CHAT_MAX_CHARS} characters and {CHAT_MAX_BYTES} bytes are allowed")]
    TooLong {
        /// Characters after NFC.
        chars: usize,
        /// UTF-8 bytes after NFC.
        bytes: usize,
    },
    /// Holds a control character.
    #[error("the line holds the control character U+{:04X}", u32::from(*.0))]
    ControlCharacter(char),
}

/// Whether `c` is refused in a chat line: category Cc, the line and paragraph separators, and
/// the bidirectional embeddings, overrides and isolates.
pub fn is_chat_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Normalises a line to NFC and checks it; the accepted line is what is broadcast.
pub fn check_line(text: &str) -> Result<String, LineError> {
    // A line far over the byte bound is refused before normalising it (NFC can grow it).
    if text.len() > CHAT_MAX_BYTES.saturating_mul(4) {
        return Err(LineError::TooLong {
            chars: text.chars().count(),
            bytes: text.len(),
        });
    }
    if let Some(c) = text.chars().find(|c| is_chat_control(*c)) {
        return Err(LineError::ControlCharacter(c));
    }
    let line: String = text.nfc().collect();
    if line.trim().is_empty() {
        return Err(LineError::Empty);
    }
    let chars = line.chars().count();
    if chars > CHAT_MAX_CHARS || line.len() > CHAT_MAX_BYTES {
        return Err(LineError::TooLong {
            chars,
            bytes: line.len(),
        });
    }
    Ok(line)
}

/// What the limiter decides about one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it.
    Accept,
    /// Refuse it (`ChatRefused(RateLimited)`).
    Limited,
    /// Refuse it and end the connection (`Kick(ChatFlood)`).
    Flood,
}

/// One player's chat rate limit: a bucket of [`CHAT_BURST`] lines refilled by one every
/// [`CHAT_REFILL_MS`], and the rate-limited lines since the last accepted one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLimiter {
    /// Lines available now, in thousandths of a line (so the refill is exact in whole ms).
    milli_tokens: u64,
    /// When the bucket was last refilled (ms).
    at_ms: u64,
    /// Lines refused as rate-limited since the last accepted line.
    limited_in_a_row: u32,
}

impl ChatLimiter {
    /// A full bucket at time `now_ms`.
    pub fn new(now_ms: u64) -> ChatLimiter {
        ChatLimiter {
            milli_tokens: u64::from(CHAT_BURST) * 1000,
            at_ms: now_ms,
            limited_in_a_row: 0,
        }
    }

    /// Decides about a line that passed [`check_line`], sent at `now_ms` (a time before the
    /// last one counts as the same time).
    pub fn offer(&mut self, now_ms: u64) -> Verdict {
        let elapsed = now_ms.saturating_sub(self.at_ms);
        self.at_ms = self.at_ms.max(now_ms);
        let refill = elapsed.saturating_mul(1000) / CHAT_REFILL_MS.max(1);
        self.milli_tokens = self
            .milli_tokens
            .saturating_add(refill)
            .min(u64::from(CHAT_BURST) * 1000);
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            self.limited_in_a_row = 0;
            Verdict::Accept
        } else {
            self.limited_in_a_row = self.limited_in_a_row.saturating_add(1);
            if self.limited_in_a_row >= CHAT_FLOOD_LINES {
                Verdict::Flood
            } else {
                Verdict::Limited
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_normalised_to_nfc() {
        // "e" + combining acute becomes the precomposed é.
        assert_eq!(check_line("caf\u{65}\u{301}").as_deref(), Ok("café"));
        assert_eq!(
            check_line("Дмитрий: привет さくら").as_deref(),
            Ok("Дмитрий: привет さくら")
        );
    }

    #[test]
    fn empty_control_and_oversize_lines_are_refused() {
        assert_eq!(check_line(""), Err(LineError::Empty));
        assert_eq!(check_line(" \t"), Err(LineError::ControlCharacter('\t')));
        assert_eq!(check_line("   "), Err(LineError::Empty));
        assert_eq!(check_line("a\nb"), Err(LineError::ControlCharacter('\n')));
        assert_eq!(
            check_line("a\u{7}"),
            Err(LineError::ControlCharacter('\u{7}'))
        );
        assert_eq!(
            check_line("x\u{202E}y"),
            Err(LineError::ControlCharacter('\u{202E}'))
        );
        assert!(check_line(&"a".repeat(CHAT_MAX_CHARS)).is_ok());
        assert_eq!(
            check_line(&"a".repeat(CHAT_MAX_CHARS + 1)),
            Err(LineError::TooLong {
                chars: CHAT_MAX_CHARS + 1,
                bytes: CHAT_MAX_CHARS + 1
            })
        );
        // The longest line of four-byte characters is exactly the byte bound.
        let emoji = "😀".repeat(CHAT_MAX_CHARS);
        assert_eq!(emoji.len(), CHAT_MAX_BYTES);
        assert!(check_line(&emoji).is_ok());
        let msg = check_line("a\u{1b}[2J").unwrap_err().to_string();
        assert_eq!(msg, "the line holds the control character U+001B");
    }

    #[test]
    fn a_burst_passes_then_the_rate_is_limited_and_a_flood_is_called() {
        let mut l = ChatLimiter::new(0);
        for _ in 0..CHAT_BURST {
            assert_eq!(l.offer(0), Verdict::Accept);
        }
        for _ in 1..CHAT_FLOOD_LINES {
            assert_eq!(l.offer(0), Verdict::Limited);
        }
        assert_eq!(l.offer(0), Verdict::Flood);
    }

    #[test]
    fn the_bucket_refills_and_an_accepted_line_resets_the_flood_count() {
        let mut l = ChatLimiter::new(1000);
        for _ in 0..CHAT_BURST {
            assert_eq!(l.offer(1000), Verdict::Accept);
        }
        for _ in 1..CHAT_FLOOD_LINES {
            assert_eq!(l.offer(1000), Verdict::Limited);
        }
        // One refill later a line passes, and the count of refusals starts again.
        assert_eq!(l.offer(1000 + CHAT_REFILL_MS), Verdict::Accept);
        assert_eq!(l.offer(1000 + CHAT_REFILL_MS), Verdict::Limited);
        // A clock that goes back counts as no time passing.
        assert_eq!(l.offer(0), Verdict::Limited);
        // Long silence refills no more than the burst.
        let later = 1000 + CHAT_REFILL_MS * 100;
        for _ in 0..CHAT_BURST {
            assert_eq!(l.offer(later), Verdict::Accept);
        }
        assert_eq!(l.offer(later), Verdict::Limited);
    }
}
