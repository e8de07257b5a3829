//! The protocol's rules, generated from `protocol/spec/tilegame.ron` by `build.rs`: its
//! constants (tick rate, tile size, reach, limits) and the tile table with every tile's
//! properties. The spec is the one source; the game reads these instead of keeping copies.

#![allow(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/rules.rs"));
