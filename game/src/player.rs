//! Players and the inputs they send.
//!
//! The server binds each connection to one [`PlayerId`]; everything a client can ask for is an
//! [`Input`], which the simulation never trusts: movement components are clamped, unknown
//! targets refused, stale sequence numbers ignored.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use unicode_normalization::{is_nfc, UnicodeNormalization};
use unicode_script::{Script, UnicodeScript};

use crate::hash::StableWrite;
use crate::movement::MoveState;

/// Full health.
pub const MAX_HEALTH: u8 = crate::spec::MAX_HEALTH;
/// The longest player name, in characters.
pub const NAME_MAX_CHARS: usize = crate::spec::NAME_MAX_CHARS as usize;
/// The longest player name in UTF-8 bytes: the wire bound of every name field (four bytes for
/// each of [`NAME_MAX_CHARS`] characters).
pub const NAME_MAX_BYTES: usize = crate::spec::NAME_MAX_BYTES as usize;

/// A player's identity, assigned by the server.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct PlayerId(pub u32);

/// The item a player holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[repr(u8)]
pub enum Item {
    /// The shovel (strength 16): breaks breakable tiles.
    #[default]
    Shovel = 0,
    /// The gun (no effect yet).
    Gun = 1,
}

/// What a player does this tick besides moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Action {
    /// Nothing.
    #[default]
    None,
    /// Keep breaking the tile at these tile coordinates (must be held every tick).
    Break {
        /// Column.
        x: u16,
        /// Row.
        y: u16,
    },
    /// Come back to life at the spawn (only while dead).
    Respawn,
}

/// One tick's worth of a player's intent.
///
/// Sequence numbers start at 1 and increase; an input whose `seq` is not above the player's last
/// processed one is stale and ignored. Movement components outside -1..=1 are clamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Input {
    /// Sequence number (acknowledged back for client reconciliation).
    pub seq: u32,
    /// Horizontal intent: -1 left, 0, 1 right.
    pub move_x: i8,
    /// Vertical intent: -1 up, 0, 1 down.
    pub move_y: i8,
    /// The held item.
    pub item: Item,
    /// The action.
    pub action: Action,
}

/// Progress on breaking one tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Breaking {
    /// Column of the target.
    pub x: u16,
    /// Row of the target.
    pub y: u16,
    /// Ticks the break action has been held on it.
    pub ticks: u32,
    /// Ticks needed to break it.
    pub needed: u32,
}

impl Breaking {
    /// The crack animation stage, 0..=7.
    pub fn stage(&self) -> u8 {
        (u64::from(self.ticks) * 8 / u64::from(self.needed.max(1))).min(7) as u8
    }
}

/// Why a name is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    /// Empty name.
    #[error("the name is empty")]
    Empty,
    /// More than 16 characters.
    #[error("the name has {0} characters; at most {NAME_MAX_CHARS} are allowed")]
    TooLong(usize),
    /// A character outside the alphabet of names (see [`name_char_allowed`]).
    #[error(
        "the name contains {0:?} (U+{code:04X}); only letters and marks of the Latin, Cyrillic, \
         Hiragana, Katakana and Han scripts, the digits 0-9, '_' and '-' are allowed",
        code = u32::from(*.0)
    )]
    BadChar(char),
    /// The name is not in Unicode normalisation form C (see [`normalize_name`]).
    #[error("the name is not in Unicode normalisation form C (NFC)")]
    NotNfc,
}

/// The scripts whose letters a name may hold: those of the game's seven languages.
const NAME_SCRIPTS: [Script; 5] = [
    Script::Latin,
    Script::Cyrillic,
    Script::Hiragana,
    Script::Katakana,
    Script::Han,
];

/// Whether `c` may appear in a name: `_`, `-`, an ASCII digit, or a letter (L*), mark (M*) or
/// decimal digit (Nd) of the Latin, Cyrillic, Hiragana, Katakana or Han script — by the
/// character's Unicode script, or for a character shared between scripts (such as the
/// prolonged sound mark "ー") by its script extensions; combining marks (script Inherited)
/// count with the letter they follow.
pub fn name_char_allowed(c: char) -> bool {
    use unicode_general_category::{get_general_category, GeneralCategory as G};
    if c == '_' || c == '-' || c.is_ascii_digit() {
        return true;
    }
    let category = get_general_category(c);
    let mark = matches!(
        category,
        G::NonspacingMark | G::SpacingMark | G::EnclosingMark
    );
    let letter = matches!(
        category,
        G::UppercaseLetter
            | G::LowercaseLetter
            | G::TitlecaseLetter
            | G::ModifierLetter
            | G::OtherLetter
            | G::DecimalNumber
    );
    if !(letter || mark) {
        return false;
    }
    match c.script() {
        Script::Inherited => mark,
        Script::Common => {
            let ext = c.script_extension();
            !(ext.is_common() || ext.is_inherited())
                && NAME_SCRIPTS.iter().any(|s| ext.contains_script(*s))
        }
        s => NAME_SCRIPTS.contains(&s),
    }
}

/// Checks a player name as it travels: 1..=16 characters (Unicode scalar values) for which
/// [`name_char_allowed`] holds, in normalisation form C, not starting with a combining mark.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    let n = name.chars().count();
    if n == 0 {
        return Err(NameError::Empty);
    }
    if n > NAME_MAX_CHARS {
        return Err(NameError::TooLong(n));
    }
    if let Some(c) = name.chars().find(|c| !name_char_allowed(*c)) {
        return Err(NameError::BadChar(c));
    }
    if let Some(first) = name
        .chars()
        .next()
        .filter(|c| c.script() == Script::Inherited)
    {
        return Err(NameError::BadChar(first));
    }
    if !is_nfc(name) {
        return Err(NameError::NotNfc);
    }
    Ok(())
}

/// The name in normalisation form C, checked with [`validate_name`]: what a server admits and
/// what a client sends (so that "e" + combining acute and "é" are one name).
pub fn normalize_name(name: &str) -> Result<String, NameError> {
    let nfc: String = name.nfc().collect();
    validate_name(&nfc)?;
    Ok(nfc)
}

/// A player in the world.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Player {
    /// Identity.
    pub id: PlayerId,
    /// Display name (validated).
    pub name: String,
    /// Position (centre) and velocity.
    pub motion: MoveState,
    /// Position at the start of the last tick, for interpolation.
    pub prev_x: i32,
    /// Position at the start of the last tick, for interpolation.
    pub prev_y: i32,
    /// Health, 0..=100.
    pub health: u8,
    /// Whether the player is alive (false from death until respawn).
    pub alive: bool,
    /// The sequence number of the last input applied.
    pub last_input_seq: u32,
    /// The held item.
    pub item: Item,
    /// Progress on the tile being broken, if any.
    pub breaking: Option<Breaking>,
    /// Consecutive ticks spent on a damaging tile since the last damage.
    pub damage_ticks: u32,
}

impl Player {
    /// A fresh player at the spawn (the map centre, world origin) with full health.
    pub fn new(id: PlayerId, name: &str) -> Result<Player, NameError> {
        validate_name(name)?;
        Ok(Player {
            id,
            name: name.to_owned(),
            motion: MoveState::default(),
            prev_x: 0,
            prev_y: 0,
            health: MAX_HEALTH,
            alive: true,
            last_input_seq: 0,
            item: Item::Shovel,
            breaking: None,
            damage_ticks: 0,
        })
    }

    /// Feeds the player's canonical bytes into `h`.
    ///
    /// Order: id (u32), name (u32 length + UTF-8), x, y, vx, vy, prev_x, prev_y (i32 each),
    /// health (u8), alive (u8), last_input_seq (u32), item (u8), breaking (u8 0, or u8 1 then
    /// x, y (u16), ticks, needed (u32)), damage_ticks (u32); all big-endian.
    pub fn hash_into<H: StableWrite>(&self, h: &mut H) {
        h.write_u32(self.id.0);
        h.write_str(&self.name);
        let m = &self.motion;
        for v in [m.x, m.y, m.vx, m.vy, self.prev_x, self.prev_y] {
            h.write_i32(v);
        }
        h.write_u8(self.health);
        h.write_bool(self.alive);
        h.write_u32(self.last_input_seq);
        h.write_u8(self.item as u8);
        match self.breaking {
            None => h.write_u8(0),
            Some(b) => {
                h.write_u8(1);
                h.write_u16(b.x);
                h.write_u16(b.y);
                h.write_u32(b.ticks);
                h.write_u32(b.needed);
            }
        }
        h.write_u32(self.damage_ticks);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(validate_name("Bob_the-2nd"), Ok(()));
        assert_eq!(validate_name("abcdefghijklmnop"), Ok(()));
        assert_eq!(validate_name(""), Err(NameError::Empty));
        assert_eq!(
            validate_name("abcdefghijklmnopq"),
            Err(NameError::TooLong(17))
        );
        assert_eq!(validate_name("a b"), Err(NameError::BadChar(' ')));
    }

    #[test]
    fn names_in_the_players_own_scripts() {
        // One name in each script of the seven languages, and kana with the prolonged sound mark.
        for name in [
            "Zoë",
            "Łukasz",
            "José",
            "François",
            "Дмитрий",
            "さくら",
            "サクラ-ー",
            "王小明",
            "é",
            "Ünal_2",
        ] {
            assert_eq!(validate_name(name), Ok(()), "{name}");
        }
        // 16 Han characters are 48 bytes: within NAME_MAX_BYTES.
        let han = "漢".repeat(NAME_MAX_CHARS);
        assert_eq!(validate_name(&han), Ok(()));
        assert!(han.len() <= NAME_MAX_BYTES);
        assert_eq!(validate_name(&"漢".repeat(17)), Err(NameError::TooLong(17)));
        // Emoji, Arabic, Greek, symbols, spaces, controls and fullwidth digits are refused.
        for (name, bad) in [
            ("a😀", '😀'),
            ("سلام", 'س'),
            ("Ωmega", 'Ω'),
            ("a+b", '+'),
            ("a\u{200b}b", '\u{200b}'),
            ("a\u{7}", '\u{7}'),
            ("x１", '１'),
            ("\u{301}a", '\u{301}'),
        ] {
            assert_eq!(
                validate_name(name),
                Err(NameError::BadChar(bad)),
                "{name:?}"
            );
        }
        // "e" + combining acute is refused on the wire until normalised to "é".
        assert_eq!(validate_name("Zoe\u{308}"), Err(NameError::NotNfc));
        assert_eq!(normalize_name("Zoe\u{308}").as_deref(), Ok("Zoë"));
        assert_eq!(normalize_name(""), Err(NameError::Empty));
        let message = NameError::BadChar('😀').to_string();
        assert!(
            message.contains("U+1F600") && message.contains("Cyrillic"),
            "{message}"
        );
    }

    #[test]
    fn new_player_and_stage() {
        let p = Player::new(PlayerId(3), "ann").unwrap();
        assert_eq!(
            (p.health, p.alive, p.motion),
            (100, true, MoveState::default())
        );
        let b = Breaking {
            x: 0,
            y: 0,
            ticks: 13,
            needed: 13,
        };
        assert_eq!(b.stage(), 7);
        assert_eq!(Breaking { ticks: 2, ..b }.stage(), 1);
    }
}
