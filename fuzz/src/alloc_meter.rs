//! The counting global allocator every target binary links, so targets can check how much
//! memory a decoder takes.
//!
//! "Bound every allocation" is a property a crash-only fuzzer cannot see: a decoder that
//! allocates 16 MiB for a 10-byte input does not crash under libFuzzer's default limits. The
//! allocator is the tests' own ([`tilegame_testkit::alloc_meter`]); this module installs it and
//! re-exports [`peak_during`] (the fuzz targets are single-threaded, so the process's peak during
//! a closure is the closure's own).

pub use tilegame_testkit::alloc_meter::{peak_during, Meter};

#[global_allocator]
static GLOBAL: Meter = Meter;
