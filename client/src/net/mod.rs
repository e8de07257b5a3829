//! The network side of the client: a counted transport, the protocol, and the bridge to the game loop.
//!
//! - [`counters`]: byte counters on the socket and the HUD's rates;
//! - [`state`]: the connection states a player sees, with messages;
//! - [`transport`]: the seam between the protocol and the bytes' way out: [`tcp`] natively,
//!   `websocket` in the page; [`rt`]: timers for either;
//! - [`connection`]: handshake → login → map transfer → play over a transport;
//! - [`ping`]: round-trip time from Ping/Pong;
//! - [`actions`]: the FIFO queue of acknowledged actions;
//! - [`handler`]: runs a connection off the game loop (its own thread natively, a browser task in
//!   the page) and talks to the game loop over channels;
//! - [`join`]: the join sequence as a pure state machine (live and replay);
//! - [`recorder`]: writes every frame, tick hash and keyframe to a replay file.

#[cfg(all(target_arch = "wasm32", not(feature = "web")))]
compile_error!("the wasm32 build of tilegame-client needs the `web` feature");

pub mod actions;
pub mod connection;
pub mod counters;
pub mod handler;
pub mod join;
pub mod ping;
pub mod recorder;
pub mod rt;
pub mod state;
#[cfg(not(target_arch = "wasm32"))]
pub mod tcp;
pub mod transport;
#[cfg(target_arch = "wasm32")]
pub mod websocket;

pub use connection::{ConnectOptions, Connection, FrameObserver, Joined};
pub use counters::{ByteCounters, RateMeter, Rates};
pub use handler::{ConnectionHandler, NetCommand, NetEvent};
pub use state::{ConnectError, ConnectionState};
pub use transport::{PlatformTransport, Transport};
