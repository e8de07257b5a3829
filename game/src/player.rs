//! Players and the inputs they send.
//!
//! The server binds each connection to one [`PlayerId`]; everything a client can ask for is an
//! [`Input`], which the simulation never trusts: movement components are clamped, unknown
//! targets refused, stale sequence numbers ignored.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::hash::StableHasher;
use crate::movement::MoveState;

/// Full health.
pub const MAX_HEALTH: u8 = crate::spec::MAX_HEALTH;
/// The longest player name, in characters.
pub const NAME_MAX_CHARS: usize = crate::spec::NAME_MAX_CHARS as usize;

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
    /// A character outside `[0-9A-Za-z_-]`.
    #[error("the name contains {0:?}; only letters, digits, '_' and '-' are allowed")]
    BadChar(char),
}

/// Checks a player name: 1..=16 characters from `[0-9A-Za-z_-]`.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    let n = name.chars().count();
    if n == 0 {
        return Err(NameError::Empty);
    }
    if n > NAME_MAX_CHARS {
        return Err(NameError::TooLong(n));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        Some(c) => Err(NameError::BadChar(c)),
        None => Ok(()),
    }
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
    pub fn hash_into(&self, h: &mut StableHasher) {
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
        assert_eq!(validate_name("é"), Err(NameError::BadChar('é')));
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
