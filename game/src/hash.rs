//! Stable hashing for state comparison across machines.
//!
//! The server, the client and the replay tool compare world states by hash, so the hash must be
//! identical on every platform and every run. We use **FNV-1a 64** (offset basis
//! `0xcbf29ce484222325`, prime `0x100000001b3`) over an explicit, canonical byte serialisation:
//! integers are written big-endian with a fixed width, collections in a defined order (never a
//! `HashMap`'s iteration order). The same function also hashes seed strings for world generation.

/// FNV-1a 64 offset basis.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64 prime.
pub const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The constants the replay formats' product hashes mix in (wyhash's; any odd, dense 64-bit
/// values would do): client tick hashes from format 5, simulation tick hashes from format 6.
pub const PRODUCT_K: [u64; 4] = [
    0xa076_1d64_78bd_642f,
    0xe703_7ed1_a0b4_28db,
    0x8ebc_6af0_9c88_c6e3,
    0x5899_65cc_7537_4cc3,
];

/// The 128-bit product of `a` and `b`, folded to 64 bits (high half xor low half): the step of
/// the replay formats' product hashes.
#[inline]
pub fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Hashes a byte slice with FNV-1a 64.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h = StableHasher::new();
    h.write_bytes(bytes);
    h.finish()
}

/// An incremental FNV-1a 64 hasher with fixed-width big-endian integer writers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StableHasher {
    state: u64,
}

impl Default for StableHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl StableHasher {
    /// Starts a hash at the FNV offset basis.
    pub const fn new() -> Self {
        Self { state: FNV_OFFSET }
    }

    /// Goes on from a hash state `finish` returned (to hash a long prefix once and resume).
    pub const fn from_state(state: u64) -> Self {
        Self { state }
    }

    /// Feeds raw bytes.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        let mut s = self.state;
        for &b in bytes {
            s ^= u64::from(b);
            s = s.wrapping_mul(FNV_PRIME);
        }
        self.state = s;
    }

    /// Feeds one byte.
    pub fn write_u8(&mut self, v: u8) {
        self.write_bytes(&[v]);
    }

    /// Feeds a bool as one byte (0 or 1).
    pub fn write_bool(&mut self, v: bool) {
        self.write_u8(u8::from(v));
    }

    /// Feeds a `u16`, big-endian.
    pub fn write_u16(&mut self, v: u16) {
        self.write_bytes(&v.to_be_bytes());
    }

    /// Feeds a `u32`, big-endian.
    pub fn write_u32(&mut self, v: u32) {
        self.write_bytes(&v.to_be_bytes());
    }

    /// Feeds an `i32`, big-endian two's complement.
    pub fn write_i32(&mut self, v: i32) {
        self.write_bytes(&v.to_be_bytes());
    }

    /// Feeds a `u64`, big-endian.
    pub fn write_u64(&mut self, v: u64) {
        self.write_bytes(&v.to_be_bytes());
    }

    /// Feeds a string as a `u32` byte length followed by its UTF-8 bytes.
    pub fn write_str(&mut self, s: &str) {
        // Lengths are bounded far below u32::MAX by the callers (names ≤ 16 chars).
        self.write_u32(u32::try_from(s.len()).unwrap_or(u32::MAX));
        self.write_bytes(s.as_bytes());
    }

    /// Returns the hash so far.
    pub const fn finish(&self) -> u64 {
        self.state
    }
}

/// A sink for the canonical byte serialisation: what [`StableHasher`] and [`PairHasher`] take.
pub trait StableWrite {
    /// Feeds raw bytes.
    fn write_bytes(&mut self, bytes: &[u8]);

    /// Feeds one byte.
    fn write_u8(&mut self, v: u8) {
        self.write_bytes(&[v]);
    }

    /// Feeds a bool as one byte (0 or 1).
    fn write_bool(&mut self, v: bool) {
        self.write_u8(u8::from(v));
    }

    /// Feeds a `u16`, big-endian.
    fn write_u16(&mut self, v: u16) {
        self.write_bytes(&v.to_be_bytes());
    }

    /// Feeds a `u32`, big-endian.
    fn write_u32(&mut self, v: u32) {
        self.write_bytes(&v.to_be_bytes());
    }

    /// Feeds an `i32`, big-endian two's complement.
    fn write_i32(&mut self, v: i32) {
        self.write_bytes(&v.to_be_bytes());
    }

    /// Feeds a `u64`, big-endian.
    fn write_u64(&mut self, v: u64) {
        self.write_bytes(&v.to_be_bytes());
    }

    /// Feeds a string as a `u32` byte length followed by its UTF-8 bytes.
    fn write_str(&mut self, s: &str) {
        self.write_u32(u32::try_from(s.len()).unwrap_or(u32::MAX));
        self.write_bytes(s.as_bytes());
    }
}

impl StableWrite for StableHasher {
    #[inline]
    fn write_bytes(&mut self, bytes: &[u8]) {
        StableHasher::write_bytes(self, bytes);
    }
}

/// Two FNV-1a 64 hashes fed the same bytes in one pass, each from its own state.
///
/// FNV-1a is a chain of dependent multiplications, one per byte; two independent chains in the
/// same loop run side by side on the CPU, so hashing the same bytes into two states (a
/// player's own hash and the world's running hash) costs about what one does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairHasher {
    /// The first state.
    pub a: u64,
    /// The second state.
    pub b: u64,
}

impl PairHasher {
    /// Two hashes going on from states `a` and `b`.
    pub const fn new(a: u64, b: u64) -> Self {
        Self { a, b }
    }
}

impl StableWrite for PairHasher {
    #[inline]
    fn write_bytes(&mut self, bytes: &[u8]) {
        let (mut a, mut b) = (self.a, self.b);
        for &x in bytes {
            a = (a ^ u64::from(x)).wrapping_mul(FNV_PRIME);
            b = (b ^ u64::from(x)).wrapping_mul(FNV_PRIME);
        }
        self.a = a;
        self.b = b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_known_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn incremental_equals_one_shot() {
        let mut h = StableHasher::new();
        h.write_u16(0x0102);
        h.write_u8(3);
        assert_eq!(h.finish(), fnv1a64(&[1, 2, 3]));
    }

    #[test]
    fn a_pair_is_two_hashers_fed_the_same() {
        let mut one = StableHasher::from_state(0x1234);
        let mut two = StableHasher::new();
        let mut pair = PairHasher::new(0x1234, FNV_OFFSET);
        for h in [&mut one, &mut two] {
            h.write_u32(7);
            h.write_str("bob");
            h.write_i32(-5);
            h.write_bool(true);
            h.write_u64(u64::MAX - 3);
        }
        StableWrite::write_u32(&mut pair, 7);
        pair.write_str("bob");
        pair.write_i32(-5);
        pair.write_bool(true);
        pair.write_u64(u64::MAX - 3);
        assert_eq!((pair.a, pair.b), (one.finish(), two.finish()));
    }
}
