//! The transport seam: where the client's bytes go, TCP natively and a WebSocket in the page.
//!
//! Why it exists: the protocol is sans-I/O (`ClientCodec` only frames and decodes bytes), so the
//! join, play, recording and byte counting in [`super::connection`] are the same on every
//! platform; only opening, reading, writing and closing differ. [`super::tcp::Tcp`] is the
//! native transport (tokio), [`super::websocket::WebSocket`] the browser's (one frame per
//! binary message, the spec's rule "WebSocket"). [`PlatformTransport`] is the one this build
//! uses.

use std::future::Future;
use std::io;

use super::counters::ByteCounters;
use super::state::ConnectError;

/// A byte pipe to the server that counts what crosses it.
pub trait Transport: Sized {
    /// Opens a connection to `address` (`host:port`), counting bytes into `counters`.
    fn open(
        address: &str,
        counters: ByteCounters,
    ) -> impl Future<Output = Result<Self, ConnectError>>;

    /// Appends what arrived to `buf` and returns how many bytes that was; 0 means the server
    /// closed the connection. Cancel-safe: dropping the future loses nothing.
    fn read(&mut self, buf: &mut Vec<u8>) -> impl Future<Output = io::Result<usize>>;

    /// Sends one whole frame (length prefix, packet id, body).
    fn write_frame(&mut self, frame: &[u8]) -> impl Future<Output = io::Result<()>>;

    /// Closes our side, then reads (and counts) what the server still sends until it closes
    /// too. Unbounded: callers put a deadline on it.
    fn close(&mut self) -> impl Future<Output = ()>;

    /// The byte counters of this connection.
    fn counters(&self) -> &ByteCounters;
}

/// The transport of this build: TCP natively.
#[cfg(not(target_arch = "wasm32"))]
pub type PlatformTransport = super::tcp::Tcp;

/// The transport of this build: a WebSocket in the page.
#[cfg(target_arch = "wasm32")]
pub type PlatformTransport = super::websocket::WebSocket;
