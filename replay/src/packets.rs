//! Decoding a recorded frame into the generated packet of its state and direction.
//!
//! `dump`, `stats` and `info` need each frame's packet name and contents without running the
//! managers. A frame records its protocol state (the one `State` enum, by number) and its
//! direction; the protocol's codec decodes it exactly as a live connection would
//! (`replay_format::Frame::decode`), so every tool decodes as the game does and nothing here
//! frames or slices bytes.

use tilegame_protocol::recorder::RecordedFrameError;
use tilegame_protocol::replay_format::{Frame, FrameDirection};
pub use tilegame_protocol::AnyPacket;
use tilegame_protocol::State;

/// Why a recorded frame could not be replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameDecodeError {
    /// The frame is not a packet of its recorded state and direction.
    #[error("{0}")]
    Frame(Box<RecordedFrameError>),
    /// The packet decodes but makes no sense where it is in the join.
    #[error("{0}")]
    Join(String),
}

impl From<RecordedFrameError> for FrameDecodeError {
    fn from(e: RecordedFrameError) -> Self {
        FrameDecodeError::Frame(Box::new(e))
    }
}

/// Decodes a recorded frame in its recorded state and direction.
pub fn decode(frame: &Frame) -> Result<AnyPacket, FrameDecodeError> {
    Ok(frame.decode()?)
}

/// The packet's fields as JSON (the generated serde derive, without the enum tags).
pub fn fields(packet: &AnyPacket) -> serde_json::Value {
    // Generated enums are externally tagged: {"PlayToClient": {"Snapshot": {...}}}.
    let mut value = serde_json::to_value(packet).unwrap_or(serde_json::Value::Null);
    for _ in 0..2 {
        value = match value {
            serde_json::Value::Object(mut map) if map.len() == 1 => {
                let key = map.keys().next().cloned().unwrap_or_default();
                map.remove(&key).unwrap_or(serde_json::Value::Null)
            }
            other => other,
        };
    }
    value
}

/// Short direction label: `in` = to the client, `out` = to the server (the client's view).
pub fn dir_label(direction: FrameDirection) -> &'static str {
    match direction {
        FrameDirection::ToClient => "in",
        FrameDirection::ToServer => "out",
    }
}

/// The name of the state a frame records by number (`?` for a number no state has).
pub fn state_label(state: u8) -> &'static str {
    State::from_tag(state).map_or("?", State::name)
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
    use tilegame_protocol::v1::{play, Packet};

    fn frame(state: State, direction: FrameDirection, bytes: Vec<u8>) -> Frame {
        Frame {
            seq: 0,
            direction,
            state: state.tag(),
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
        let f = frame(State::Play, FrameDirection::ToServer, bytes);
        let p = decode(&f).unwrap();
        assert_eq!(p.name(), "Ping");
        assert_eq!(compact(&fields(&p)), "{nonce: 7}");
        // The same bytes in another state are another packet (or none).
        let f = frame(State::MapTransfer, FrameDirection::ToServer, f.bytes);
        assert!(matches!(
            decode(&f),
            Err(FrameDecodeError::Frame(e)) if matches!(*e, RecordedFrameError::Codec(_))
        ));
    }

    #[test]
    fn empty_and_mismatched_frames_are_errors() {
        let f = frame(State::Play, FrameDirection::ToClient, vec![]);
        assert!(matches!(
            decode(&f),
            Err(FrameDecodeError::Frame(e)) if matches!(*e, RecordedFrameError::Codec(_))
        ));
        // A valid Pong (id 0x03) whose record claims id 0x00.
        let mut f = frame(State::Play, FrameDirection::ToClient, vec![3, 0, 0, 0, 9]);
        f.packet_id = 0;
        assert!(matches!(
            decode(&f),
            Err(FrameDecodeError::Frame(e)) if matches!(*e, RecordedFrameError::IdMismatch { .. })
        ));
    }

    #[test]
    fn compact_rendering_elides_bytes_and_nulls() {
        let v = serde_json::json!({"a": null, "b": [1, 2], "data": vec![0u8; 40], "s": "x"});
        assert_eq!(compact(&v), "{b: [1, 2], data: <40 bytes>, s: \"x\"}");
    }
}
