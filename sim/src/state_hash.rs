//! `World::state_hash` without re-reading the map every tick.
//!
//! The world hash (FNV-1a 64, see `tilegame_game::hash`) feeds the tick, then every tile of the
//! map, then the players: a re-simulation checks it after every tick, and the map's bytes are
//! most of the work. FNV-1a has a property that makes the map's part nearly free while the map
//! does not change: one step is `s' = (s ^ b) · P`, and `s ^ b = s + ((s & 0xff) ^ b) − (s & 0xff)`,
//! so over a fixed byte string of length n the state goes from `s` to `Pⁿ·s + K(s & 0xff)`, where
//! `K` depends only on the bytes and the low byte of `s` (whose own sequence depends on nothing
//! else: the low bits of a product depend only on the low bits of its factors). [`WorldHasher`]
//! keeps `K` for each low byte it has met, computed from a full pass the first time (and, once
//! the map has stood still for a while, for every low byte in one pass with the chains side by
//! side), and forgets them when the map's bytes change. The result
//! is bit-identical to `World::state_hash` (a test compares them over changing maps).

use tilegame_game::hash::{FNV_OFFSET, FNV_PRIME};
use tilegame_game::{PairHasher, Player, StableHasher, World};

/// Chains [`WorldHasher::fill`] runs side by side.
const LANES: usize = 8;

/// Single passes over unchanged map bytes before the rest of `K` is filled at once (a fill
/// costs about as much as 64 single passes: worth it once a map has stood still this long; a
/// map that changes every few ticks never pays for one).
const FILL_AFTER: u32 = 32;

/// Computes world hashes as `World::state_hash` does, remembering the map's contribution.
#[derive(Default)]
pub struct WorldHasher {
    /// The map's canonical bytes the constants are for (dimensions, tile ids, dynamic words).
    tiles: Vec<u8>,
    dyn_words: Vec<u64>,
    dims: (u16, u16),
    /// `P` to the number of map bytes.
    power: u64,
    /// `K` per low byte of the state before the map, where known.
    k: Vec<Option<u64>>,
    /// Single passes since the map's bytes last changed.
    misses: u32,
}

impl WorldHasher {
    /// A hasher with nothing remembered.
    pub fn new() -> WorldHasher {
        WorldHasher::default()
    }

    /// Whether the constants are for this map's bytes (resets them when not).
    fn sync(&mut self, world: &World) {
        let map = &world.map;
        let tiles = map.tiles();
        let words = map.dynatiles().words();
        let dims = (map.width(), map.height());
        let same = self.dims == dims
            && self.tiles.len() == tiles.len()
            // No early exit: the whole map is compared in wide steps.
            && self
                .tiles
                .iter()
                .zip(tiles)
                .fold(0u8, |acc, (a, t)| acc | (a ^ t.id()))
                == 0
            && self.dyn_words == words;
        if same && !self.k.is_empty() {
            return;
        }
        self.dims = dims;
        self.tiles.clear();
        self.tiles.extend(tiles.iter().map(|t| t.id()));
        self.dyn_words.clear();
        self.dyn_words.extend_from_slice(words);
        let n = 4 + self.tiles.len() as u64 + 8 * self.dyn_words.len() as u64;
        self.power = pow(FNV_PRIME, n);
        self.k.clear();
        self.k.resize(256, None);
        self.misses = 0;
    }

    /// The map's part: the state after feeding the map's bytes from state `s`.
    fn map_part(&mut self, s: u64) -> u64 {
        let low = (s & 0xff) as usize;
        if let Some(k) = self.k[low] {
            return self.power.wrapping_mul(s).wrapping_add(k);
        }
        self.misses += 1;
        if self.misses > FILL_AFTER {
            // The map has stood still for a while: every other low byte at once is cheaper.
            self.fill();
            if let Some(k) = self.k[low] {
                return self.power.wrapping_mul(s).wrapping_add(k);
            }
        }
        let mut h = StableHasher::from_state(s);
        h.write_u16(self.dims.0);
        h.write_u16(self.dims.1);
        h.write_bytes(&self.tiles);
        for &w in &self.dyn_words {
            h.write_u64(w);
        }
        let out = h.finish();
        self.k[low] = Some(out.wrapping_sub(self.power.wrapping_mul(s)));
        out
    }

    /// Computes `K` for every low byte at once: one pass over the map's bytes with
    /// [`LANES`] independent chains side by side (FNV-1a's chain is one dependent
    /// multiplication per byte, so chains run in parallel on the CPU at little extra cost).
    /// `K` does not depend on the state's other bits, so the low byte itself is the state.
    fn fill(&mut self) {
        let mut bytes = Vec::with_capacity(4 + self.tiles.len() + 8 * self.dyn_words.len());
        bytes.extend_from_slice(&self.dims.0.to_be_bytes());
        bytes.extend_from_slice(&self.dims.1.to_be_bytes());
        bytes.extend_from_slice(&self.tiles);
        for &w in &self.dyn_words {
            bytes.extend_from_slice(&w.to_be_bytes());
        }
        for base in (0..256u64).step_by(LANES) {
            let mut lanes: [u64; LANES] = std::array::from_fn(|i| base + i as u64);
            for &b in &bytes {
                for v in &mut lanes {
                    *v = (*v ^ u64::from(b)).wrapping_mul(FNV_PRIME);
                }
            }
            for (i, out) in lanes.into_iter().enumerate() {
                let start = base + i as u64;
                self.k[start as usize] = Some(out.wrapping_sub(self.power.wrapping_mul(start)));
            }
        }
    }

    /// `world.state_hash()`, bit for bit.
    pub fn state_hash(&mut self, world: &World) -> u64 {
        self.state_hash_and_players(world, |_, _| {})
    }

    /// `world.state_hash()`, bit for bit, handing each player's own hash (`simlog::player_hash`:
    /// FNV-1a 64 of its canonical bytes, as a `u32`) to `each` in id order on the way: every
    /// player's bytes are read once for both (two independent chains in one loop).
    pub fn state_hash_and_players(
        &mut self,
        world: &World,
        mut each: impl FnMut(&Player, u32),
    ) -> u64 {
        self.sync(world);
        let mut h = StableHasher::new();
        h.write_u64(world.tick);
        let mut h = StableHasher::from_state(self.map_part(h.finish()));
        h.write_u32(u32::try_from(world.players.len()).unwrap_or(u32::MAX));
        let mut pair = PairHasher::new(h.finish(), FNV_OFFSET);
        for p in world.players.values() {
            pair.b = FNV_OFFSET;
            p.hash_into(&mut pair);
            each(p, pair.b as u32);
        }
        pair.a
    }
}

/// `base` to the power `exp`, modulo 2⁶⁴.
fn pow(mut base: u64, mut exp: u64) -> u64 {
    let mut out = 1u64;
    while exp > 0 {
        if exp & 1 == 1 {
            out = out.wrapping_mul(base);
        }
        base = base.wrapping_mul(base);
        exp >>= 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilegame_game::{self as game, PlayerId, Tile};

    #[test]
    fn equals_the_worlds_own_hash_over_ticks_and_map_changes() {
        let map =
            game::generate("hashcache", game::Theme::Default, game::MapSize::Small).expect("map");
        let mut world = World::new(map);
        for i in 1..=5 {
            world
                .add_player(PlayerId(i), &format!("p{i}"))
                .expect("added");
        }
        let mut hasher = WorldHasher::new();
        let mut seed = 0x1234_5678u64;
        for t in 0..1500u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let inputs: Vec<(PlayerId, game::Input)> = (1..=5)
                .map(|i| {
                    (
                        PlayerId(i),
                        game::Input {
                            seq: t,
                            move_x: ((seed >> i) % 3) as i8 - 1,
                            move_y: ((seed >> (i + 8)) % 3) as i8 - 1,
                            ..game::Input::default()
                        },
                    )
                })
                .collect();
            world.tick(&inputs);
            if t % 97 == 0 {
                // The map changes now and then: the constants must be dropped.
                let (x, y) = ((seed % 64) as u16, ((seed >> 20) % 64) as u16);
                let _ = world.map.change(x, y, Tile::Dirt);
            }
            assert_eq!(hasher.state_hash(&world), world.state_hash(), "tick {t}");
            let mut players = Vec::new();
            let both = hasher.state_hash_and_players(&world, |p, h| players.push((p.id, h)));
            assert_eq!(both, world.state_hash(), "tick {t}");
            let own: Vec<_> = world
                .players
                .values()
                .map(|p| (p.id, crate::simlog::player_hash(p)))
                .collect();
            assert_eq!(players, own, "tick {t}");
        }
        // Every low byte met by now, most of them from the constants.
        assert!(hasher.k.iter().filter(|k| k.is_some()).count() > 16);
    }

    #[test]
    fn pow_is_repeated_multiplication() {
        let mut p = 1u64;
        for n in 0..300 {
            assert_eq!(pow(FNV_PRIME, n), p);
            p = p.wrapping_mul(FNV_PRIME);
        }
    }
}
