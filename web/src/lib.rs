//! tilegame in a browser: the start function of the page's bundle.
//!
//! Why a crate of its own: the bundle is a `cdylib` for `wasm32-unknown-unknown`, and making the
//! client library one would link a second copy of it in every native build. The game itself is
//! `tilegame-client` built with its `web` feature ([`tilegame_client::web`]); `web/build.sh`
//! builds this crate and runs `wasm-bindgen` on it into `web/dist`, which
//! `tilegame-server --web` serves.
//!
//! The page also opens recordings (`.tgr`): by its "Open replay" button, by dropping a file on
//! the page, or with `?replay=URL` ([`open`]); it then shows the replay viewer of
//! `tilegame-replay view` with `verify`'s result ([`replay`]) instead of the game ([`page`]).

#[cfg(target_arch = "wasm32")]
mod open;
#[cfg(target_arch = "wasm32")]
mod page;
#[cfg(target_arch = "wasm32")]
mod replay;

/// Runs when the page loads the bundle: starts the game on `<canvas id="tilegame">`.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    page::start();
}
