//! The benches' seeded generator: xorshift64, so synthesised recordings are the same on every
//! run (no clock, no entropy).

/// xorshift64 from a nonzero seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
