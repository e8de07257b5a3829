//! tilegame-sim: the deterministic simulation behind the server, with no I/O.
//!
//! The authoritative loop ([`Sim`]) owns the world and ticks it; connections reach it only as
//! [`Command`]s and receive its frames through a [`ClientLink`] each, so the same loop runs in
//! the server (links over sockets), in the re-simulator ([`resim`], links in memory) and in the
//! benchmarks and fuzz targets. Around it: what each client has been told and the snapshot that
//! brings it up to date ([`replication`]), the simulation log that records the loop's commands
//! and I/O outcomes into a replay file ([`simlog`]), keyframes of its whole state, the
//! ranges of the settings it is built from ([`settings`], shared by the server's configuration
//! and a recording's `SimStart`), which names are taken ([`names`]: case and confusable
//! look-alikes), and the world hash a re-simulation checks every tick, its map part remembered
//! ([`state_hash`]).
//!
//! Nothing here opens a socket, a file, a thread pool of its own beyond a scoped fan-out for
//! large ticks, or reads the clock: the caller drives the loop (`tilegame-server` at a fixed
//! rate, `tilegame-replay` record by record) and times it.

pub mod link;
pub mod names;
pub mod replication;
pub mod resim;
pub mod settings;
pub mod simlog;
pub mod simulation;
pub mod state_hash;

pub use link::{ClientLink, JoinAnswer, MemoryLink, PushError};
pub use simulation::{
    keyframe_differences, Command, Footprint, Frame, Joined, KeyframeError, Kick, PhaseClock,
    PhaseTimes, ReplicationCounts, Sim, TickStats, PHASES,
};
