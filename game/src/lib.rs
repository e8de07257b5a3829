//! tilegame's rules: tiles, the map and its codecs, seeded world generation, players, movement
//! and the tick.
//!
//! This crate is the single source of truth for the game's simulation, shared by the server (which
//! is authoritative) and the client (which predicts and reconciles). It is deterministic: integer
//! and fixed-point arithmetic only, no I/O, no wall clock, no unseeded randomness, and no
//! `HashMap` iteration order in any state or hash. Same inputs → same bytes → same hashes, on
//! any machine.
//!
//! Modules, bottom-up: [`hash`] (FNV-1a 64), [`rng`] (SplitMix64, seeds), [`noise`] (integer
//! Perlin), [`tile`] (kinds and attributes), [`coords`] (units and conversions), [`dynatile`]
//! (changed-tile bits), [`map`] (with its layers as runs), [`theme`] (height bands),
//! [`worldgen`], [`movement`] (the shared movement step), [`player`] (players and inputs),
//! [`breaking`] (shovel rules), [`chat`] (chat lines and their rate limit) and [`world`] (the tick). The public API is re-exported here.

pub mod breaking;
pub mod chat;
pub mod coords;
pub mod dynatile;
pub mod hash;
pub mod map;
pub mod movement;
pub mod noise;
pub mod player;
pub mod rng;
pub mod spec;
pub mod theme;
pub mod tile;
pub mod world;
pub mod worldgen;

pub use breaking::{break_ticks, check_break, in_reach, BreakError, REACH_TILES, SHOVEL_STRENGTH};
pub use chat::{
    check_line, is_chat_control, ChatLimiter, LineError, Verdict, CHAT_BURST, CHAT_FLOOD_LINES,
    CHAT_MAX_BYTES, CHAT_MAX_CHARS, CHAT_REFILL_MS,
};
pub use coords::{
    map_origin_px, px_to_subpx, px_to_tile, subpx_to_px, subpx_to_tile, tile_center_px, tile_to_px,
    SUBPX, TICK_RATE, TILE_SIZE,
};
pub use dynatile::DynLayer;
pub use hash::{fnv1a64, PairHasher, StableHasher, StableWrite};
pub use map::{Map, MapError, MapSize, MAX_SIDE};
pub use movement::{
    clamp_intent, position_bounds, step_movement, top_speed_at, MoveState, ACCEL, ACCEL_TICKS,
    DECEL, DECEL_TICKS, DIAGONAL_NUM, PLAYER_HALF_SIZE_PX, TOP_SPEED, TOP_SPEED_PX_PER_S,
};
pub use noise::Perlin;
pub use player::{
    name_char_allowed, normalize_name, validate_name, Action, Breaking, Input, Item, NameError,
    Player, PlayerId, MAX_HEALTH, NAME_MAX_BYTES, NAME_MAX_CHARS,
};
pub use rng::{random_seed, SplitMix64, SEED_ALPHABET, SEED_LEN};
pub use theme::{Band, Theme};
pub use tile::{Tile, TileAttrs, ALL_TILES, TILE_COUNT};
pub use world::{damage_period_ticks, Event, World, WorldError, BROKEN_TILE};
pub use worldgen::{
    generate, height_map, is_land, shore_tile, spawn_area, spawn_has_room, BASE_PERIOD,
    HEIGHT_SCALE, OCTAVES, SPAWN_LAND_RADIUS, SPAWN_TILE,
};
