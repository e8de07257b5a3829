//! Decoding a recorded frame into the generated packet type of its state and direction.
//!
//! `dump`, `stats` and `info` need each frame's packet name and contents without running the
//! managers; this module maps a frame's recorded (state, direction) to the generated
//! `ToServer`/`ToClient` enum of that state, so that every tool decodes exactly as the game does
//! and nothing here slices bytes by hand.

use serde::Serialize;
use tilegame_protocol::replay_format::{ConnState, Frame, FrameDirection};
use tilegame_protocol::v1::{handshake, login, map_transfer, play};
use tilegame_protocol::DecodeError;

/// Any packet of the protocol, tagged by state and direction.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AnyPacket {
    /// Handshake, client to server.
    HandshakeToServer(handshake::ToServer),
    /// Handshake, server to client.
    HandshakeToClient(handshake::ToClient),
    /// Login, client to server.
    LoginToServer(login::ToServer),
    /// Login, server to client.
    LoginToClient(login::ToClient),
    /// Map transfer, client to server.
    MapTransferToServer(map_transfer::ToServer),
    /// Map transfer, server to client.
    MapTransferToClient(map_transfer::ToClient),
    /// Play, client to server.
    PlayToServer(play::ToServer),
    /// Play, server to client.
    PlayToClient(play::ToClient),
}

impl AnyPacket {
    /// The packet's name as in the spec.
    pub fn name(&self) -> &'static str {
        match self {
            AnyPacket::HandshakeToServer(p) => p.name(),
            AnyPacket::HandshakeToClient(p) => p.name(),
            AnyPacket::LoginToServer(p) => p.name(),
            AnyPacket::LoginToClient(p) => p.name(),
            AnyPacket::MapTransferToServer(p) => p.name(),
            AnyPacket::MapTransferToClient(p) => p.name(),
            AnyPacket::PlayToServer(p) => p.name(),
            AnyPacket::PlayToClient(p) => p.name(),
        }
    }

    /// The packet's fields as JSON (the generated serde derive; the outer enum tag removed).
    pub fn fields(&self) -> serde_json::Value {
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        match value {
            // Generated enums are externally tagged: {"Snapshot": {...}}.
            serde_json::Value::Object(mut map) if map.len() == 1 => {
                let key = map.keys().next().cloned().unwrap_or_default();
                map.remove(&key).unwrap_or(serde_json::Value::Null)
            }
            other => other,
        }
    }
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameDecodeError {
    /// The frame holds no packet id.
    #[error("empty frame (no packet id)")]
    Empty,
    /// The packet id in the record disagrees with the frame's first byte.
    #[error("packet id {recorded:#04x} recorded, frame starts with {found:#04x}")]
    IdMismatch {
        /// The record's `packet_id`.
        recorded: u8,
        /// The frame's first byte.
        found: u8,
    },
    /// The generated decoder rejected the body.
    #[error("{0}")]
    Decode(String),
}

impl From<DecodeError> for FrameDecodeError {
    fn from(e: DecodeError) -> Self {
        FrameDecodeError::Decode(e.to_string())
    }
}

/// Splits a frame's bytes into packet id and body, checking the recorded id.
pub fn split(frame: &Frame) -> Result<(u8, &[u8]), FrameDecodeError> {
    let (&id, body) = frame.bytes.split_first().ok_or(FrameDecodeError::Empty)?;
    if id != frame.packet_id {
        return Err(FrameDecodeError::IdMismatch {
            recorded: frame.packet_id,
            found: id,
        });
    }
    Ok((id, body))
}

/// Decodes a recorded frame with the generated decoder of its recorded state and direction.
pub fn decode(frame: &Frame) -> Result<AnyPacket, FrameDecodeError> {
    let (id, body) = split(frame)?;
    decode_as(frame.state, frame.direction, id, body)
}

/// Decodes `body` as packet `id` of `state` travelling in `direction`.
pub fn decode_as(
    state: ConnState,
    direction: FrameDirection,
    id: u8,
    body: &[u8],
) -> Result<AnyPacket, FrameDecodeError> {
    use ConnState as S;
    use FrameDirection as D;
    Ok(match (state, direction) {
        (S::Handshake, D::ToServer) => {
            AnyPacket::HandshakeToServer(handshake::ToServer::decode(id, body)?)
        }
        (S::Handshake, D::ToClient) => {
            AnyPacket::HandshakeToClient(handshake::ToClient::decode(id, body)?)
        }
        (S::Login, D::ToServer) => AnyPacket::LoginToServer(login::ToServer::decode(id, body)?),
        (S::Login, D::ToClient) => AnyPacket::LoginToClient(login::ToClient::decode(id, body)?),
        (S::MapTransfer, D::ToServer) => {
            AnyPacket::MapTransferToServer(map_transfer::ToServer::decode(id, body)?)
        }
        (S::MapTransfer, D::ToClient) => {
            AnyPacket::MapTransferToClient(map_transfer::ToClient::decode(id, body)?)
        }
        (S::Play, D::ToServer) => AnyPacket::PlayToServer(play::ToServer::decode(id, body)?),
        (S::Play, D::ToClient) => AnyPacket::PlayToClient(play::ToClient::decode(id, body)?),
    })
}

/// Short direction label: `in` = to the client, `out` = to the server (the client's view).
pub fn dir_label(direction: FrameDirection) -> &'static str {
    match direction {
        FrameDirection::ToClient => "in",
        FrameDirection::ToServer => "out",
    }
}

/// The state's name as in the spec.
pub fn state_label(state: ConnState) -> &'static str {
    match state {
        ConnState::Handshake => "Handshake",
        ConnState::Login => "Login",
        ConnState::MapTransfer => "MapTransfer",
        ConnState::Play => "Play",
    }
}

/// Renders JSON compactly for one-line text output: keys unquoted, `null` fields left out,
/// and byte arrays longer than 16 shown as `<N bytes>`.
pub fn compact(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_compact(value, &mut out);
    out
}

fn write_compact(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            out.push('{');
            let mut first = true;
            for (k, v) in map {
                if v.is_null() {
                    continue;
                }
                if !first {
                    out.push_str(", ");
                }
                first = false;
                out.push_str(k);
                out.push_str(": ");
                write_compact(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            let bytes = items.len() > 16
                && items
                    .iter()
                    .all(|v| v.as_u64().is_some_and(|n| n <= u64::from(u8::MAX)));
            if bytes {
                out.push_str(&format!("<{} bytes>", items.len()));
                return;
            }
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_compact(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilegame_protocol::v1::Packet;

    fn frame(state: ConnState, direction: FrameDirection, bytes: Vec<u8>) -> Frame {
        Frame {
            seq: 0,
            direction,
            state,
            tick: 0,
            micros: 0,
            wire_bytes: bytes.len() as u32 + 1,
            payload_bytes: bytes.len().saturating_sub(1) as u32,
            packet_id: bytes.first().copied().unwrap_or(0),
            bytes,
        }
    }

    #[test]
    fn decodes_by_recorded_state_and_direction() {
        let ping = play::ToServer::Ping(play::Ping { nonce: 7 });
        let mut bytes = vec![play::Ping::ID];
        ping.encode_body(&mut bytes).unwrap();
        let f = frame(ConnState::Play, FrameDirection::ToServer, bytes);
        let p = decode(&f).unwrap();
        assert_eq!(p.name(), "Ping");
        assert_eq!(compact(&p.fields()), "{nonce: 7}");
        // The same bytes in another state are another packet (or none).
        let f = frame(ConnState::MapTransfer, FrameDirection::ToServer, f.bytes);
        assert!(matches!(decode(&f), Err(FrameDecodeError::Decode(_))));
    }

    #[test]
    fn empty_and_mismatched_frames_are_errors() {
        let f = frame(ConnState::Play, FrameDirection::ToClient, vec![]);
        assert_eq!(decode(&f), Err(FrameDecodeError::Empty));
        let mut f = frame(ConnState::Play, FrameDirection::ToClient, vec![1, 2]);
        f.packet_id = 0;
        assert!(matches!(
            decode(&f),
            Err(FrameDecodeError::IdMismatch { .. })
        ));
    }

    #[test]
    fn compact_rendering_elides_bytes_and_nulls() {
        let v = serde_json::json!({"a": null, "b": [1, 2], "data": vec![0u8; 40], "s": "x"});
        assert_eq!(compact(&v), "{b: [1, 2], data: <40 bytes>, s: \"x\"}");
    }
}
