//! tilegame-client: the player's side of tilegame.
//!
//! - [`net`]: the connection over a byte-counting socket, the player-visible connection states,
//!   ping, the action queue, and the handler that bridges the network to the game loop;
//! - [`managers`]: the world and player managers, pure and hashable, shared with replay;
//! - [`play`]: inputs, prediction and actions of one session (used by the window and bots);
//! - [`bots`] and [`headless`]: seeded headless bots and the `--headless` runner;
//! - [`hosting`]: the embedded server for "Play on this computer" (feature `host`, on by
//!   default; without it the client links no server);
//! - `render` (feature `render`, on by default): the wgpu/winit renderer;
//! - `web` (feature `web`, built for `wasm32-unknown-unknown`): the page's entry point, its
//!   settings in `localStorage` and its recording download; the bundle is built by
//!   `web/build.sh`.
//!
//! On wasm32 the bots and the headless runner (tokio tasks) are left out.

#[cfg(feature = "render")]
pub mod app;
#[cfg(not(target_arch = "wasm32"))]
pub mod bots;
#[cfg(not(target_arch = "wasm32"))]
pub mod headless;
pub mod hosting;
pub mod keyframe;
pub mod managers;
pub mod net;
pub mod play;
#[cfg(feature = "render")]
pub mod render;
pub mod settings_store;
pub mod ui;
#[cfg(all(target_arch = "wasm32", feature = "web"))]
pub mod web;
