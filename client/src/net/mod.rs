//! The network side of the client: a counted socket, the protocol, and the bridge to the game loop.
//!
//! - [`counters`]: byte counters on the socket and the HUD's rates;
//! - [`state`]: the connection states a player sees, with messages;
//! - [`connection`]: handshake → login → map transfer → play over real TCP;
//! - [`ping`]: round-trip time from Ping/Pong;
//! - [`actions`]: the FIFO queue of acknowledged actions;
//! - [`handler`]: runs a connection on its own thread and talks to the game loop over channels;
//! - [`join`]: the join sequence as a pure state machine (live and replay);
//! - [`recorder`]: writes every frame, tick hash and keyframe to a replay file.

pub mod actions;
pub mod connection;
pub mod counters;
pub mod handler;
pub mod join;
pub mod ping;
pub mod recorder;
pub mod state;

pub use connection::{ConnectOptions, Connection, FrameObserver, Joined};
pub use counters::{ByteCounters, RateMeter, Rates};
pub use handler::{ConnectionHandler, NetCommand, NetEvent};
pub use state::{ConnectError, ConnectionState};
