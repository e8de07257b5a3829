//! What the end-to-end tests and benchmarks of several crates share, in one place: the real
//! binaries (`tilegame-server`, `tilegame-replay`, `tilegame`) built by cargo into the test's own
//! target folder, and a `tilegame-server` process on a loopback port driven as an operator
//! drives it (flags, signals, its log); and a counting allocator for tests that bound memory.
//!
//! It links none of the game's crates: the replay crate's tests use it without linking a server,
//! and `tilegame-tests` without a second copy of anything.

pub mod alloc_meter;
pub mod binaries;
pub mod server_process;

pub use binaries::{client_binary, replay_binary, server_binary};
pub use server_process::ServerProcess;
