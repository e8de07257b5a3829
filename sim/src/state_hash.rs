//! `World::state_hash` without re-reading the map every tick.
//!
//! A simulation recording's tick hashes follow one of two definitions, picked by the file's
//! format ([`HashDef::for_format`]). Formats 1 to 5 ([`HashDef::Fnv`]): the world hash is
//! `World::state_hash` (FNV-1a 64 over the tick, every tile of the map, then the players) and a
//! player's is FNV-1a 64 of its canonical bytes. Format 6 ([`HashDef::Products`], see
//! `spec/replay.ron`): each player's canonical bytes are hashed 16 at a time by folded 64x64->128
//! products ([`block_hash`]), independent of each other, and the world hash combines the tick,
//! the player count, the map's block hash (computed again only when the map's bytes change) and
//! the wrapping sum of the players' hashes, so no chain runs through 1,000 bytes a tick.
//!
//! For FNV-1a the map's bytes are most of the work. FNV-1a has a property that makes the map's part nearly free while the map
//! does not change: one step is `s' = (s ^ b) · P`, and `s ^ b = s + ((s & 0xff) ^ b) − (s & 0xff)`,
//! so over a fixed byte string of length n the state goes from `s` to `Pⁿ·s + K(s & 0xff)`, where
//! `K` depends only on the bytes and the low byte of `s` (whose own sequence depends on nothing
//! else: the low bits of a product depend only on the low bits of its factors). [`WorldHasher`]
//! keeps `K` for each low byte it has met, computed from a full pass the first time (and, once
//! the map has stood still for a while, for every low byte in one pass with the chains side by
//! side), and forgets them when the map's bytes change. The result
//! is bit-identical to `World::state_hash` (a test compares them over changing maps).

use tilegame_game::hash::{fold, FNV_OFFSET, FNV_PRIME, PRODUCT_K as K};
use tilegame_game::{PairHasher, Player, StableHasher, StableWrite, World};

/// Which definition a simulation recording's tick hashes (`SimTick`) follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashDef {
    /// Formats 1 to 5: FNV-1a 64 over the world's and each player's canonical bytes.
    Fnv,
    /// Format 6 on: folded 64-bit products over 16-byte blocks, players summed.
    #[default]
    Products,
}

impl HashDef {
    /// The definition a file of format `version` records.
    pub fn for_format(version: u16) -> HashDef {
        if version >= 6 {
            HashDef::Products
        } else {
            HashDef::Fnv
        }
    }
}

/// Block `i` (its two little-endian words) as format 6 sums it.
#[inline]
fn block(i: u64, block: u128) -> u64 {
    fold((block as u64) ^ K[1] ^ i, ((block >> 64) as u64) ^ K[2])
}

/// Format 6's hash of a byte string: with the bytes cut into 16-byte blocks (the last one
/// zero-padded), `fold(S ^ K3, n ^ K0)` where `n` is the length and `S` the wrapping sum over
/// blocks `i` of `fold(first word ^ K1 ^ i, second word ^ K2)`, the words little-endian.
pub fn block_hash(bytes: &[u8]) -> u64 {
    let mut h = BlockHasher::new();
    h.write_bytes(bytes);
    h.finish()
}

/// [`block_hash`] of the bytes written into it (a [`StableWrite`], as `Player::hash_into`
/// takes): equal to `block_hash` of their concatenation however they were split. The block
/// being filled is kept in a register, each field shifted into place (a field stored into a
/// buffer byte by byte and read back as a word would stall the load).
#[derive(Debug, Clone, Copy, Default)]
pub struct BlockHasher {
    /// The block being filled, its first byte in the low bits.
    acc: u128,
    /// Bytes in `acc`.
    fill: u32,
    /// Blocks folded into `sum` so far.
    blocks: u64,
    sum: u64,
}

impl BlockHasher {
    /// A hash of nothing yet.
    pub fn new() -> BlockHasher {
        BlockHasher::default()
    }

    /// Appends `n` bytes (1 to 8), given in stream order from the low byte of `x` up (the bytes
    /// of `x` above `n` are zero).
    #[inline(always)]
    fn push(&mut self, x: u64, n: u32) {
        self.acc |= u128::from(x) << (8 * self.fill);
        let room = 16 - self.fill;
        if n < room {
            self.fill += n;
        } else {
            self.sum = self.sum.wrapping_add(block(self.blocks, self.acc));
            self.blocks += 1;
            // What did not fit (n > room only when room < 8, so the shift stays below 64).
            self.acc = if n > room {
                u128::from(x >> (8 * room))
            } else {
                0
            };
            self.fill = n - room;
        }
    }

    /// The hash of every byte written.
    #[inline]
    pub fn finish(&self) -> u64 {
        let mut sum = self.sum;
        if self.fill > 0 {
            sum = sum.wrapping_add(block(self.blocks, self.acc));
        }
        let n = self.blocks * 16 + u64::from(self.fill);
        fold(sum ^ K[3], n ^ K[0])
    }
}

impl StableWrite for BlockHasher {
    #[inline]
    fn write_bytes(&mut self, bytes: &[u8]) {
        let (words, rest) = bytes.as_chunks::<8>();
        for w in words {
            self.push(u64::from_le_bytes(*w), 8);
        }
        if !rest.is_empty() {
            let x = rest
                .iter()
                .rev()
                .fold(0u64, |w, &b| (w << 8) | u64::from(b));
            self.push(x, rest.len() as u32);
        }
    }

    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.push(u64::from(v), 1);
    }

    #[inline]
    fn write_u16(&mut self, v: u16) {
        self.push(u64::from(v.swap_bytes()), 2);
    }

    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.push(u64::from(v.swap_bytes()), 4);
    }

    #[inline]
    fn write_i32(&mut self, v: i32) {
        self.push(u64::from((v as u32).swap_bytes()), 4);
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.push(v.swap_bytes(), 8);
    }
}

/// A player's format-6 hash: [`block_hash`] of its canonical bytes (`Player::hash_into`, the
/// bytes formats 1 to 5 feed FNV-1a). `SimTick` records its low 32 bits.
#[inline]
pub fn player_hash_products(p: &Player) -> u64 {
    let mut h = BlockHasher::new();
    p.hash_into(&mut h);
    h.finish()
}

/// Chains [`WorldHasher::fill`] runs side by side.
const LANES: usize = 8;

/// Single passes over unchanged map bytes before the rest of `K` is filled at once (a fill
/// costs about as much as 64 single passes: worth it once a map has stood still this long; a
/// map that changes every few ticks never pays for one).
const FILL_AFTER: u32 = 32;

/// Computes a recording's world hashes ([`HashDef`]), remembering the map's contribution.
#[derive(Default)]
pub struct WorldHasher {
    /// The definition computed.
    def: HashDef,
    /// Format 6's hash of the map's bytes (valid while `k` is not empty).
    map_blocks: u64,
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
    /// A hasher with nothing remembered, computing `World::state_hash` ([`HashDef::Fnv`]).
    pub fn new() -> WorldHasher {
        WorldHasher::with_def(HashDef::Fnv)
    }

    /// A hasher with nothing remembered, computing `def`.
    pub fn with_def(def: HashDef) -> WorldHasher {
        WorldHasher {
            def,
            ..WorldHasher::default()
        }
    }

    /// The definition it computes.
    pub fn def(&self) -> HashDef {
        self.def
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
        if self.def == HashDef::Products {
            let mut h = BlockHasher::new();
            h.write_u16(self.dims.0);
            h.write_u16(self.dims.1);
            h.write_bytes(&self.tiles);
            for &w in &self.dyn_words {
                h.write_u64(w);
            }
            self.map_blocks = h.finish();
        }
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

    /// The world's hash under the hasher's definition (`world.state_hash()`, bit for bit, for
    /// [`HashDef::Fnv`]).
    pub fn state_hash(&mut self, world: &World) -> u64 {
        self.state_hash_and_players(world, |_, _| {})
    }

    /// The world's hash under the hasher's definition, handing each player's own hash (as
    /// `SimTick` records it: the low 32 bits) to `each` in id order on the way: every player's
    /// bytes are read once for both.
    pub fn state_hash_and_players(&mut self, world: &World, each: impl FnMut(&Player, u32)) -> u64 {
        self.sync(world);
        match self.def {
            HashDef::Fnv => self.fnv(world, each),
            HashDef::Products => self.products(world, each),
        }
    }

    /// Format 6's world hash: `fold(fold(tick ^ K0, player count ^ K1) ^ M ^ K2, S ^ K3)`, `M`
    /// the map's [`block_hash`], `S` the wrapping sum of the players' [`player_hash_products`].
    fn products(&mut self, world: &World, mut each: impl FnMut(&Player, u32)) -> u64 {
        let mut sum = 0u64;
        for p in world.players.values() {
            let h = player_hash_products(p);
            each(p, h as u32);
            sum = sum.wrapping_add(h);
        }
        let head = fold(world.tick ^ K[0], world.players.len() as u64 ^ K[1]);
        fold(head ^ self.map_blocks ^ K[2], sum ^ K[3])
    }

    /// `world.state_hash()` and FNV-1a 64 of each player's canonical bytes (two independent
    /// chains in one loop).
    fn fnv(&mut self, world: &World, mut each: impl FnMut(&Player, u32)) -> u64 {
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
        let mut products = WorldHasher::with_def(HashDef::Products);
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
            // Format 6: the remembered map part equals a fresh computation.
            let mut new_players = Vec::new();
            let new = products.state_hash_and_players(&world, |p, h| new_players.push((p.id, h)));
            assert_eq!(
                new,
                WorldHasher::with_def(HashDef::Products).state_hash(&world)
            );
            let own: Vec<_> = world
                .players
                .values()
                .map(|p| (p.id, player_hash_products(p) as u32))
                .collect();
            assert_eq!(new_players, own, "tick {t}");
        }
        // Every low byte met by now, most of them from the constants.
        assert!(hasher.k.iter().filter(|k| k.is_some()).count() > 16);
    }

    /// A world with two players in known states, one breaking a tile.
    fn known_world() -> World {
        let map =
            game::generate("pinned", game::Theme::Default, game::MapSize::Small).expect("map");
        let mut world = World::new(map);
        world.add_player(PlayerId(3), "alice").expect("added");
        world
            .add_player(PlayerId(7), "bobbytables17ab")
            .expect("added");
        world.tick = 1234;
        let p = world.players.get_mut(&PlayerId(3)).expect("alice");
        p.motion.x = 1000;
        p.motion.y = -20;
        p.motion.vx = 5;
        p.motion.vy = -7;
        p.health = 42;
        p.last_input_seq = 99;
        p.breaking = Some(game::Breaking {
            x: 4,
            y: 9,
            ticks: 2,
            needed: 16,
        });
        world
    }

    #[test]
    fn both_definitions_are_pinned_on_a_known_state() {
        let world = known_world();
        let hashes = |def| {
            let mut players = Vec::new();
            let w = WorldHasher::with_def(def)
                .state_hash_and_players(&world, |p, h| players.push((p.id.0, h)));
            (w, players)
        };
        let (fnv, fnv_players) = hashes(HashDef::Fnv);
        assert_eq!(fnv, world.state_hash());
        let (new, new_players) = hashes(HashDef::Products);
        assert_eq!(
            (fnv, fnv_players),
            (
                0xc5d5_411b_101c_83fc,
                vec![(3, 0x2689_2bb8), (7, 0xf5d8_88a0)]
            ),
            "formats 1 to 5"
        );
        assert_eq!(
            (new, new_players),
            (
                0x2b03_ff8d_c14d_de0f,
                vec![(3, 0xf134_f0e1), (7, 0x0293_c4c6)]
            ),
            "format 6"
        );
        // Computed apart from this code, from the definition in spec/replay.ron.
        assert_eq!(block_hash(b""), 0x4988_d7ce_e8a7_bb8d);
        assert_eq!(block_hash(b"0123456789abcdefX"), 0x88db_3559_d872_2d07);
    }

    #[test]
    fn the_block_hasher_is_one_hash_of_the_bytes_however_they_are_written() {
        let bytes: Vec<u8> = (0..700u32).map(|i| (i * 31 + i / 7) as u8).collect();
        for n in [0, 1, 15, 16, 17, 127, 128, 129, 255, 256, 700] {
            let whole = block_hash(&bytes[..n]);
            for step in [1, 3, 16, 50, 200] {
                let mut h = BlockHasher::new();
                for piece in bytes[..n].chunks(step) {
                    h.write_bytes(piece);
                }
                assert_eq!(h.finish(), whole, "{n} bytes in pieces of {step}");
            }
            // Fields written whole are their big-endian bytes.
            let mut fields = BlockHasher::new();
            let mut flat = Vec::new();
            fields.write_bytes(&bytes[..n]);
            flat.extend_from_slice(&bytes[..n]);
            for i in 0..40u32 {
                let v = u64::from(bytes.get(i as usize).copied().unwrap_or(7));
                let v = v.wrapping_mul(0x0102_0304_0506_0709) ^ u64::from(i);
                match i % 6 {
                    0 => {
                        fields.write_u8(v as u8);
                        flat.push(v as u8);
                    }
                    1 => {
                        fields.write_u16(v as u16);
                        flat.extend_from_slice(&(v as u16).to_be_bytes());
                    }
                    2 => {
                        fields.write_u32(v as u32);
                        flat.extend_from_slice(&(v as u32).to_be_bytes());
                    }
                    3 => {
                        fields.write_i32(v as i32);
                        flat.extend_from_slice(&(v as i32).to_be_bytes());
                    }
                    4 => {
                        fields.write_u64(v);
                        flat.extend_from_slice(&v.to_be_bytes());
                    }
                    _ => {
                        fields.write_bool(v % 2 == 0);
                        flat.push(u8::from(v % 2 == 0));
                    }
                }
                assert_eq!(
                    fields.finish(),
                    block_hash(&flat),
                    "{n} bytes, then {i} fields"
                );
            }
            // Trailing zeros are not padding: the length is hashed.
            let mut longer = bytes[..n].to_vec();
            longer.push(0);
            assert_ne!(block_hash(&longer), whole, "{n} bytes and a zero");
        }
    }

    #[test]
    fn every_hashed_field_changes_the_format_6_hashes() {
        let base_world = known_world();
        let base = WorldHasher::with_def(HashDef::Products).state_hash(&base_world);
        let alice = |w: &mut World| w.players.get_mut(&PlayerId(3)).expect("alice").clone();
        type WorldEdit = Box<dyn Fn(&mut World)>;
        let edits: Vec<(&str, WorldEdit)> = vec![
            ("tick", Box::new(|w: &mut World| w.tick += 1)),
            (
                "tile",
                Box::new(|w: &mut World| {
                    let _ = w.map.change(1, 1, Tile::Dirt);
                }),
            ),
            (
                "name",
                Box::new(|w: &mut World| {
                    w.players.get_mut(&PlayerId(7)).expect("bob").name.push('!')
                }),
            ),
            (
                "a player more",
                Box::new(|w: &mut World| {
                    w.add_player(PlayerId(9), "carol").expect("added");
                }),
            ),
            (
                "a player less",
                Box::new(|w: &mut World| {
                    w.players.remove(&PlayerId(7));
                }),
            ),
        ];
        let mut edits = edits;
        type Edit = fn(&mut game::Player);
        let fields: [(&str, Edit); 14] = [
            ("id", |p| p.id.0 += 100),
            ("x", |p| p.motion.x += 1),
            ("y", |p| p.motion.y += 1),
            ("vx", |p| p.motion.vx += 1),
            ("vy", |p| p.motion.vy += 1),
            ("prev_x", |p| p.prev_x += 1),
            ("prev_y", |p| p.prev_y += 1),
            ("health", |p| p.health -= 1),
            ("alive", |p| p.alive = !p.alive),
            ("last_input_seq", |p| p.last_input_seq += 1),
            ("item", |p| p.item = game::Item::Gun),
            ("breaking", |p| {
                p.breaking.as_mut().expect("breaking").ticks += 1
            }),
            ("no breaking", |p| p.breaking = None),
            ("damage_ticks", |p| p.damage_ticks += 1),
        ];
        for (name, f) in fields {
            edits.push((
                name,
                Box::new(move |w: &mut World| {
                    let mut p = alice(w);
                    f(&mut p);
                    w.players.remove(&PlayerId(3));
                    w.players.insert(p.id, p);
                }),
            ));
        }
        let mut seen = vec![base];
        for (name, edit) in &edits {
            let mut w = known_world();
            edit(&mut w);
            let mut hasher = WorldHasher::with_def(HashDef::Products);
            let now = hasher.state_hash(&w);
            assert!(
                !seen.contains(&now),
                "{name}: the world hash did not change"
            );
            seen.push(now);
            // The player's own hash changes with each of its fields.
            if let Some(p) = w.players.get(&PlayerId(3)) {
                let before = player_hash_products(&base_world.players[&PlayerId(3)]);
                if !["tick", "tile", "name", "a player more", "a player less"].contains(name) {
                    assert_ne!(player_hash_products(p), before, "{name}");
                } else {
                    assert_eq!(player_hash_products(p), before, "{name}");
                }
            }
        }
    }

    #[test]
    fn format_picks_the_definition() {
        for v in 1..=5 {
            assert_eq!(HashDef::for_format(v), HashDef::Fnv);
        }
        assert_eq!(HashDef::for_format(6), HashDef::Products);
        assert_eq!(
            HashDef::for_format(tilegame_protocol::replay_file::FORMAT_VERSION),
            HashDef::Products
        );
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
