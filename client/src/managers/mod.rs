//! The client's view of the game, built only from decoded server packets.
//!
//! [`WorldManager`] holds the map and applies tile changes; [`PlayerManager`] holds the player
//! list, interpolates other players and predicts the local one. Both are pure — packets and
//! ticks in, state out; no sockets, no clocks — so live play and replay drive them through the
//! same code, and both expose a stable state hash that replay verifies tick by tick.

pub mod chat;
pub mod players;
mod roster;
pub mod world;

pub use chat::{ChatEntry, ChatItem, ChatLog};
pub use players::{PlayerManager, Prediction, RemotePlayer};
pub use world::WorldManager;
