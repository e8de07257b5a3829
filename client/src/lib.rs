//! tilegame-client: the player's side of tilegame.
//!
//! - [`net`]: the connection over a byte-counting socket, the player-visible connection states,
//!   ping, the action queue, and the handler that bridges the network to the game loop;
//! - [`managers`]: the world and player managers, pure and hashable, shared with replay;
//! - [`play`]: inputs, prediction and actions of one session (used by the window and bots);
//! - [`bots`] and [`headless`]: seeded headless bots and the `--headless` runner;
//! - [`hosting`]: the embedded server for "Play on this computer" (feature `host`, on by
//!   default; without it the client links no server);
//! - `render` (feature `render`, on by default): the wgpu/winit renderer.

#[cfg(feature = "render")]
pub mod app;
pub mod bots;
pub mod headless;
pub mod hosting;
pub mod keyframe;
pub mod managers;
pub mod net;
pub mod play;
#[cfg(feature = "render")]
pub mod render;
pub mod ui;
