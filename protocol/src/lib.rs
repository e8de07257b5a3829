//! tilegame-protocol: every byte that crosses the wire.
//!
//! The packet types are generated at build time by `tilegame-codegen` from `spec/*.ron` and
//! pulled in below; nothing here is hand-written byte slicing except the bounded runtime the
//! generated code calls ([`wire`]). On top of them sit the frame layer ([`frame`]) that turns
//! a byte stream into `[length][id][body]` frames, the connection codec ([`codec`]) that every
//! peer and tool uses to decode packets in their state and to send only what a state allows,
//! and the replay-file container ([`replay_file`]) whose records are generated from
//! `spec/replay.ron` the same way.

pub mod codec;
#[cfg(feature = "game")]
pub mod convert;
pub mod frame;
pub mod record_read;
pub mod recorder;
pub mod replay_file;
pub mod snapshot;
pub mod wire;

/// The tilegame protocol, version 1, generated from `spec/tilegame.ron`.
///
/// Shared types live at the top; each connection state has a module with its packets and the
/// `ToServer` / `ToClient` enums that decode a body by packet id.
#[allow(missing_docs, clippy::all)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/tilegame.rs"));
}

/// The records of a replay file, generated from `spec/replay.ron`.
#[allow(missing_docs, clippy::all)]
pub mod replay_format {
    include!(concat!(env!("OUT_DIR"), "/replay_format.rs"));
}

pub use codec::{ClientCodec, CodecError, Decoder, Received, ServerCodec};
pub use frame::{FrameDecoder, FrameError, FrameRef};
pub use v1::{AnyPacket, Packet, State, PROTOCOL_VERSION, SPEC_HASH};
pub use wire::{DecodeError, Direction, EncodeError, FieldError, PacketSet};
