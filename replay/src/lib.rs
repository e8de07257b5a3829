//! tilegame-replay: the deterministic replay engine and the `tilegame-replay` tool.
//!
//! A `.tgr` file (written by the recorder in `tilegame-protocol`) holds every frame of one
//! connection plus the recorder's state hashes and keyframes. This crate replays those frames
//! through the client's own join state machine and managers on a virtual clock ([`engine`]),
//! and builds the commands on top ([`cmd`]): `info`, `dump`, `stats`, `verify`, `diff`, `play`,
//! and (feature `view`, on by default) `view`, which plays a file in a window. A server's
//! simulation recording (`tilegame-server --record`) is re-simulated through the server's own
//! loop instead ([`cmd::sim`]: `verify`, `derive`, `diff` against a player's recording).
//!
//! Feature `cli` (on by default) adds the program's argument parser, progress bar and plots;
//! without it (`default-features = false`, plus `viewer` for the viewer) the library builds for
//! wasm32-unknown-unknown, where the page (web/) opens recordings from bytes
//! ([`ReplayFile::from_bytes`]) and runs [`cmd::verify`] and the [`viewer`] on its canvas.
//!
//! - [`engine`]: records in, managers' state out; verification of tick hashes; seeking;
//! - [`packets`]: decoding a frame by its recorded state and direction;
//! - [`sim_seek`]: seeking in a simulation recording by bisecting it for keyframe chunks;
//! - [`state`]: printable states and field-by-field differences;
//! - [`timeline`]: the viewer's HUD figures and timeline, from the recorded frames;
//! - [`viewer`]: the viewer's state and drawing, hosted by a native window ([`view`]) or the page;
//! - [`tool`]: files, errors and exit codes, progress, formatting.

pub mod cmd;
pub mod engine;
pub mod packets;
pub mod sim_seek;
pub mod state;
pub mod timeline;
pub mod tool;
#[cfg(feature = "view")]
pub mod view;
#[cfg(feature = "viewer")]
pub mod viewer;

pub use engine::{Engine, EngineError, TickOutcome};
pub use tool::{ReplayFile, ToolError};
