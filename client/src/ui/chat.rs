//! The chat line as a pure state machine: `T` or Enter opens it, Enter sends (a line the
//! server's rules would refuse stays open with the reason), Esc cancels; and how long received
//! lines stay on screen ([`line_alpha`]). The egui view draws it; this module has no egui.

use tilegame_game::{self as game, LineError};
use tilegame_protocol::v1::ChatRefusal;

/// Ticks a received line stays fully visible (8 s at 20 ticks/s).
pub const SHOW_TICKS: u32 = 160;
/// Ticks it then takes to fade out (2 s).
pub const FADE_TICKS: u32 = 40;
/// Lines shown at most.
pub const SHOWN_LINES: usize = 8;

/// What the player did with the chat line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatKey {
    /// `T` or Enter while closed.
    Open,
    /// Enter while open.
    Submit,
    /// Esc while open.
    Cancel,
}

/// What follows from a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatOutcome {
    /// Nothing changes.
    Nothing,
    /// The line opened: focus the text field.
    Opened,
    /// Send this line (already NFC and within the rules); the line closed.
    Send(String),
    /// The line closed without sending.
    Closed,
    /// The line breaks a rule: it stays open, showing [`ChatInput::error`].
    Refused,
}

/// The chat line being typed.
#[derive(Debug, Clone, Default)]
pub struct ChatInput {
    open: bool,
    /// The text typed so far (the egui field edits it).
    pub text: String,
    error: Option<&'static str>,
}

impl ChatInput {
    /// Whether the line is open (it takes the keyboard).
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// The translation key of why the typed line cannot be sent, after a refused Enter.
    pub fn error(&self) -> Option<&'static str> {
        self.error
    }

    /// Applies a key.
    pub fn key(&mut self, key: ChatKey) -> ChatOutcome {
        match (self.open, key) {
            (false, ChatKey::Open) => {
                self.open = true;
                self.error = None;
                ChatOutcome::Opened
            }
            (false, _) | (true, ChatKey::Open) => ChatOutcome::Nothing,
            (true, ChatKey::Cancel) => {
                self.close();
                ChatOutcome::Closed
            }
            (true, ChatKey::Submit) => {
                if self.text.trim().is_empty() {
                    self.close();
                    return ChatOutcome::Closed;
                }
                match game::check_line(&self.text) {
                    Ok(line) => {
                        self.close();
                        ChatOutcome::Send(line)
                    }
                    Err(e) => {
                        self.error = Some(line_error_key(&e));
                        ChatOutcome::Refused
                    }
                }
            }
        }
    }

    /// Edits the text (typing): clears a shown error.
    pub fn edited(&mut self) {
        self.error = None;
    }

    fn close(&mut self) {
        self.open = false;
        self.text.clear();
        self.error = None;
    }
}

/// The translation key of a rule a typed line breaks.
pub fn line_error_key(e: &LineError) -> &'static str {
    match e {
        LineError::Empty => "chat-refused-empty",
        LineError::TooLong { .. } => "chat-refused-too-long",
        LineError::ControlCharacter(_) => "chat-refused-control",
    }
}

/// The translation key of the server's refusal.
pub fn refusal_key(r: ChatRefusal) -> &'static str {
    match r {
        ChatRefusal::Empty => "chat-refused-empty",
        ChatRefusal::TooLong => "chat-refused-too-long",
        ChatRefusal::ControlCharacter => "chat-refused-control",
        ChatRefusal::RateLimited => "chat-refused-rate",
    }
}

/// Opacity 0..=1 of a line received at `at` when the tick is `now`; lines are fully shown
/// while the chat line is open.
pub fn line_alpha(at: u32, now: u32, open: bool) -> f32 {
    if open {
        return 1.0;
    }
    let age = now.saturating_sub(at);
    if age <= SHOW_TICKS {
        1.0
    } else if age >= SHOW_TICKS + FADE_TICKS {
        0.0
    } else {
        (SHOW_TICKS + FADE_TICKS - age) as f32 / FADE_TICKS as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_type_send_closes_and_clears() {
        let mut c = ChatInput::default();
        assert_eq!(c.key(ChatKey::Submit), ChatOutcome::Nothing, "closed");
        assert_eq!(c.key(ChatKey::Open), ChatOutcome::Opened);
        assert!(c.is_open());
        assert_eq!(
            c.key(ChatKey::Open),
            ChatOutcome::Nothing,
            "T typed while open"
        );
        c.text.push_str("Zoe\u{308} says hi");
        assert_eq!(
            c.key(ChatKey::Submit),
            ChatOutcome::Send("Zoë says hi".into())
        );
        assert!(!c.is_open());
        assert!(c.text.is_empty());
    }

    #[test]
    fn escape_cancels_and_an_empty_enter_closes() {
        let mut c = ChatInput::default();
        c.key(ChatKey::Open);
        c.text.push_str("never sent");
        assert_eq!(c.key(ChatKey::Cancel), ChatOutcome::Closed);
        assert!(!c.is_open() && c.text.is_empty());
        assert_eq!(c.key(ChatKey::Cancel), ChatOutcome::Nothing);
        c.key(ChatKey::Open);
        c.text.push_str("   ");
        assert_eq!(c.key(ChatKey::Submit), ChatOutcome::Closed);
    }

    #[test]
    fn a_line_over_the_rules_stays_open_with_the_reason() {
        let mut c = ChatInput::default();
        c.key(ChatKey::Open);
        c.text = "x".repeat(game::CHAT_MAX_CHARS + 1);
        assert_eq!(c.key(ChatKey::Submit), ChatOutcome::Refused);
        assert!(c.is_open());
        assert_eq!(c.error(), Some("chat-refused-too-long"));
        c.edited();
        assert_eq!(c.error(), None);
        c.text = "bell\u{7}".into();
        assert_eq!(c.key(ChatKey::Submit), ChatOutcome::Refused);
        assert_eq!(c.error(), Some("chat-refused-control"));
        c.text.pop();
        assert_eq!(c.key(ChatKey::Submit), ChatOutcome::Send("bell".into()));
    }

    #[test]
    fn lines_show_then_fade_then_hide_and_show_while_open() {
        assert_eq!(line_alpha(100, 100, false), 1.0);
        assert_eq!(line_alpha(100, 100 + SHOW_TICKS, false), 1.0);
        let half = line_alpha(100, 100 + SHOW_TICKS + FADE_TICKS / 2, false);
        assert!((half - 0.5).abs() < 1e-6, "{half}");
        assert_eq!(line_alpha(100, 100 + SHOW_TICKS + FADE_TICKS, false), 0.0);
        assert_eq!(line_alpha(100, 100 + 10_000, true), 1.0);
        // A replay seeking backwards never shows a line as from the future.
        assert_eq!(line_alpha(500, 100, false), 1.0);
    }
}
