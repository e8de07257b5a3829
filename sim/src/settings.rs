//! The loop's settings and their ranges, checked in one place: by the server on its
//! configuration and by the re-simulator on a recording's `SimStart`.
//!
//! A simulation recording is untrusted input, and the loop it rebuilds allocates in proportion to
//! these numbers (players, outbox budgets, the map); whatever the live server would refuse to
//! start with, a re-simulation refuses to rebuild, with the same message.

use tilegame_game::MapSize;

/// Players the loop admits at most (beyond 1,024 the join list and snapshots spill over to the
/// next packets).
pub const MAX_PLAYERS: u32 = 4096;

/// Ticks per second at most.
pub const MAX_TICK_RATE: u32 = 120;

/// Smallest outbox budget in bytes (a snapshot of a crowded view must fit).
pub const MIN_OUTBOX_BYTES: u64 = 4096;

/// Largest outbox budget in bytes.
pub const MAX_OUTBOX_BYTES: u64 = 64 << 20;

/// Longest seed in characters.
pub const MAX_SEED_LEN: usize = 64;

/// The settings the loop is built from (those the server's configuration and a recording's
/// `SimStart` both carry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopSettings<'a> {
    /// Player limit.
    pub max_players: u32,
    /// Ticks per second.
    pub tick_rate: u32,
    /// Bytes a client may have waiting before it is dropped.
    pub outbox_bytes: u64,
    /// World seed (empty: the server draws one).
    pub seed: &'a str,
    /// Map size.
    pub size: MapSize,
}

/// A setting out of its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {key}: {message}")]
pub struct InvalidSetting {
    /// The setting, as the server's configuration names it.
    pub key: &'static str,
    /// Why.
    pub message: String,
}

impl LoopSettings<'_> {
    /// Checks every range; the first setting out of range is the error.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let invalid = |key, message: String| Err(InvalidSetting { key, message });
        if !(1..=MAX_PLAYERS).contains(&self.max_players) {
            return invalid(
                "max_players",
                format!("must be 1..={MAX_PLAYERS} (is {})", self.max_players),
            );
        }
        if !(1..=MAX_TICK_RATE).contains(&self.tick_rate) {
            return invalid(
                "tps",
                format!("must be 1..={MAX_TICK_RATE} (is {})", self.tick_rate),
            );
        }
        if !(MIN_OUTBOX_BYTES..=MAX_OUTBOX_BYTES).contains(&self.outbox_bytes) {
            return invalid(
                "outbox_bytes",
                format!(
                    "must be {MIN_OUTBOX_BYTES}..={MAX_OUTBOX_BYTES} (is {})",
                    self.outbox_bytes
                ),
            );
        }
        if !self.seed.is_empty()
            && (self.seed.len() > MAX_SEED_LEN
                || !self.seed.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return invalid(
                "seed",
                format!("up to {MAX_SEED_LEN} characters of [0-9a-zA-Z]"),
            );
        }
        if let Err(e) = self.size.dimensions() {
            return invalid("size", e.to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> LoopSettings<'static> {
        LoopSettings {
            max_players: 10,
            tick_rate: 20,
            outbox_bytes: 1 << 20,
            seed: "abc",
            size: MapSize::Small,
        }
    }

    #[test]
    fn every_range_is_checked_and_named() {
        assert_eq!(ok().validate(), Ok(()));
        let key = |s: LoopSettings<'_>| s.validate().map_err(|e| e.key);
        assert_eq!(
            key(LoopSettings {
                max_players: u32::MAX,
                ..ok()
            }),
            Err("max_players")
        );
        assert_eq!(
            key(LoopSettings {
                max_players: 0,
                ..ok()
            }),
            Err("max_players")
        );
        assert_eq!(
            key(LoopSettings {
                tick_rate: 121,
                ..ok()
            }),
            Err("tps")
        );
        assert_eq!(
            key(LoopSettings {
                outbox_bytes: 1,
                ..ok()
            }),
            Err("outbox_bytes")
        );
        assert_eq!(
            key(LoopSettings {
                seed: "bad seed",
                ..ok()
            }),
            Err("seed")
        );
        assert_eq!(
            key(LoopSettings {
                size: MapSize::Custom {
                    width: 5000,
                    height: 1
                },
                ..ok()
            }),
            Err("size")
        );
        let e = LoopSettings {
            max_players: u32::MAX,
            ..ok()
        }
        .validate()
        .expect_err("refused");
        assert_eq!(
            e.to_string(),
            "invalid max_players: must be 1..=4096 (is 4294967295)"
        );
    }
}
