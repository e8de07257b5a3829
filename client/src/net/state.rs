//! The connection states a player can see, each with a message.
//!
//! These mirror the original game's list (idle, pending, getting data, success, invalid host,
//! refused, timeout, no route, disconnected, name taken, server full, server failure, version
//! mismatch, error) so players see the same vocabulary, with the cause attached where we know it.

use std::fmt;
use std::io;

use tilegame_protocol::v1::{JoinError, RejectReason};

/// Where a connection stands, as shown to the player.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectionState {
    /// Not connected and not trying.
    Idle,
    /// Connecting and negotiating.
    Pending,
    /// Downloading the map; progress 0..=1.
    GettingData(f32),
    /// Playing.
    Success,
    /// The host name does not resolve or the address is malformed.
    InvalidHost,
    /// Nothing listens at that address.
    Refused,
    /// The server stopped answering (60 s while connecting, 10 s in play by default).
    Timeout,
    /// The network cannot reach the host.
    NoRoute,
    /// The connection ended (server closed it, or we left).
    Disconnected,
    /// Another player has this name.
    NameTaken,
    /// The server has no free slot.
    ServerFull,
    /// The server has too many connections waiting to join: try again shortly.
    Busy,
    /// The server's operator removed the player (Kick(Kicked)).
    Kicked,
    /// The server's operator banned the player's name or address (JoinRejected(Banned) or
    /// Kick(Banned)).
    Banned,
    /// The server failed or misbehaved.
    ServerFailure,
    /// Client and server protocols differ.
    VersionMismatch,
    /// Something else went wrong.
    Error,
}

impl ConnectionState {
    /// The message shown to the player.
    pub fn message(&self) -> String {
        match self {
            ConnectionState::Idle => "Not connected.".into(),
            ConnectionState::Pending => "Connecting…".into(),
            ConnectionState::GettingData(p) => format!("Downloading the map… {:.0}%", p * 100.0),
            ConnectionState::Success => "Connected.".into(),
            ConnectionState::InvalidHost => "Invalid host: check the address and port.".into(),
            ConnectionState::Refused => "Connection refused: no server is running there.".into(),
            ConnectionState::Timeout => "The server is not responding (timed out).".into(),
            ConnectionState::NoRoute => "No route to the host: check your network.".into(),
            ConnectionState::Disconnected => "Disconnected from the server.".into(),
            ConnectionState::NameTaken => "That name is already taken on this server.".into(),
            ConnectionState::ServerFull => "The server is full.".into(),
            ConnectionState::Busy => "The server is busy: try again in a moment.".into(),
            ConnectionState::Kicked => "The server's operator removed you from the game.".into(),
            ConnectionState::Banned => "You are banned from this server.".into(),
            ConnectionState::ServerFailure => "The server failed.".into(),
            ConnectionState::VersionMismatch => {
                "Version mismatch: the server runs a different protocol.".into()
            }
            ConnectionState::Error => "An error occurred.".into(),
        }
    }

    /// A short lowercase name for logs and status lines.
    pub fn name(&self) -> &'static str {
        match self {
            ConnectionState::Idle => "idle",
            ConnectionState::Pending => "pending",
            ConnectionState::GettingData(_) => "getting data",
            ConnectionState::Success => "success",
            ConnectionState::InvalidHost => "invalid host",
            ConnectionState::Refused => "refused",
            ConnectionState::Timeout => "timeout",
            ConnectionState::NoRoute => "no route",
            ConnectionState::Disconnected => "disconnected",
            ConnectionState::NameTaken => "name taken",
            ConnectionState::ServerFull => "server full",
            ConnectionState::Busy => "busy",
            ConnectionState::Kicked => "kicked",
            ConnectionState::Banned => "banned",
            ConnectionState::ServerFailure => "server failure",
            ConnectionState::VersionMismatch => "version mismatch",
            ConnectionState::Error => "error",
        }
    }

    /// Whether this state ends the connection.
    pub fn is_terminal(&self) -> bool {
        !matches!(
            self,
            ConnectionState::Idle
                | ConnectionState::Pending
                | ConnectionState::GettingData(_)
                | ConnectionState::Success
        )
    }

    /// The state for a socket error.
    pub fn from_io(e: &io::Error) -> ConnectionState {
        use io::ErrorKind::*;
        match e.kind() {
            ConnectionRefused => ConnectionState::Refused,
            TimedOut | WouldBlock => ConnectionState::Timeout,
            HostUnreachable | NetworkUnreachable | AddrNotAvailable => ConnectionState::NoRoute,
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
                ConnectionState::Disconnected
            }
            InvalidInput => ConnectionState::InvalidHost,
            _ => ConnectionState::Error,
        }
    }

    /// The state for a handshake rejection.
    pub fn from_reject(r: RejectReason) -> ConnectionState {
        match r {
            RejectReason::BadMagic | RejectReason::VersionMismatch | RejectReason::SpecMismatch => {
                ConnectionState::VersionMismatch
            }
        }
    }

    /// The state for a join rejection.
    pub fn from_join_error(e: JoinError) -> ConnectionState {
        match e {
            JoinError::NameTaken => ConnectionState::NameTaken,
            JoinError::ServerFull => ConnectionState::ServerFull,
            JoinError::InvalidName => ConnectionState::Error,
            JoinError::Banned => ConnectionState::Banned,
        }
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// A state with the specific cause, for terminal states.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{}", state.message(), if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
pub struct ConnectError {
    /// The player-visible state.
    pub state: ConnectionState,
    /// What exactly happened.
    pub detail: String,
}

impl ConnectError {
    /// A state with a detail.
    pub fn new(state: ConnectionState, detail: impl Into<String>) -> Self {
        ConnectError {
            state,
            detail: detail.into(),
        }
    }
}

impl ConnectError {
    /// The server ended the connection with a Kick (in any state): its reason and message.
    pub fn kicked(kick: &tilegame_protocol::v1::Kick) -> Self {
        use tilegame_protocol::v1::DisconnectReason as R;
        let state = match kick.reason {
            R::Timeout => ConnectionState::Timeout,
            R::ProtocolError => ConnectionState::ServerFailure,
            R::Busy => ConnectionState::Busy,
            R::Kicked => ConnectionState::Kicked,
            R::Banned => ConnectionState::Banned,
            R::Quit | R::TooSlow | R::ServerShutdown | R::ChatFlood => {
                ConnectionState::Disconnected
            }
        };
        let detail = if kick.message.is_empty() {
            format!("kicked: {}", kick.reason.name())
        } else {
            format!("kicked: {}: {}", kick.reason.name(), kick.message)
        };
        ConnectError::new(state, detail)
    }
}

impl From<io::Error> for ConnectError {
    fn from(e: io::Error) -> Self {
        ConnectError::new(ConnectionState::from_io(&e), e.to_string())
    }
}
