//! Snapshots assembled from parts encoded once and shared between viewers.
//!
//! A server with many clients sends each player's per-tick delta to every client that sees it.
//! Encoding the same `PlayerDelta` once per viewer is most of the cost of a tick, so the server
//! encodes each delta once ([`encode_delta`]), the tick's tile changes once ([`encode_tiles`]),
//! and then builds each client's Snapshot frame from those bytes ([`SnapshotParts`],
//! [`encode_snapshot`]). The layout is the generated one — every part is written by the
//! generated encoders or the same runtime functions, in the spec's field order — and a test
//! checks the assembled frame byte for byte against the generated encoder. Splicing bytes is
//! framing work, so it lives here, in `protocol`, not in the server.

use crate::frame::FrameRef;
use crate::v1::{play, Packet, PlayerDelta, TileChange};
use crate::wire::{encode_body, EncodeError, FieldError};
use crate::State;

/// Most player deltas one Snapshot carries (the spec's bound on `players`, generated).
pub const MAX_DELTAS: usize = play::Snapshot::PLAYERS_MAX;
/// Most tile changes one Snapshot carries (the spec's bound on `tiles`, generated).
pub const MAX_TILES: usize = play::Snapshot::TILES_MAX;
/// Most players gone one Snapshot lists (the spec's bound on `gone`, generated).
pub const MAX_GONE: usize = play::Snapshot::GONE_MAX;

/// One client's snapshot contents before framing: encoded deltas and the players gone.
#[derive(Debug, Default, Clone)]
pub struct SnapshotParts {
    /// The encoded `PlayerDelta`s, back to back.
    pub deltas: Vec<u8>,
    /// How many deltas `deltas` holds.
    pub count: usize,
    /// Players that left the view.
    pub gone: Vec<u32>,
}

impl SnapshotParts {
    /// Empties the parts, keeping their buffers.
    pub fn clear(&mut self) {
        self.deltas.clear();
        self.count = 0;
        self.gone.clear();
    }

    /// Appends one delta, encoded with the generated encoder.
    pub fn push_delta(&mut self, delta: &PlayerDelta) -> Result<(), EncodeError> {
        encode_delta(delta, &mut self.deltas)?;
        self.count += 1;
        Ok(())
    }

    /// Appends a delta already encoded by [`encode_delta`] (shared by several viewers).
    pub fn push_encoded(&mut self, encoded: &[u8]) {
        self.deltas.extend_from_slice(encoded);
        self.count += 1;
    }

    /// Whether the parts hold as many deltas as one Snapshot may carry.
    pub fn deltas_full(&self) -> bool {
        self.count >= MAX_DELTAS
    }

    /// Lists a player as gone if one Snapshot still has room for it; false when it has not.
    pub fn push_gone(&mut self, id: u32) -> bool {
        let room = self.gone.len() < MAX_GONE;
        if room {
            self.gone.push(id);
        }
        room
    }
}

/// Appends one `PlayerDelta`, encoded with the generated encoder, to `out`.
pub fn encode_delta(delta: &PlayerDelta, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    encode_body(delta, "PlayerDelta", out)
}

/// Encodes the tick's tile changes once, as the Snapshot's `tiles` list (shared by every client).
pub fn encode_tiles(tiles: &[TileChange], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    out.clear();
    play::Snapshot::write_tiles(tiles, out)
}

/// Appends the Snapshot frame made of `parts` and the pre-encoded `tiles` list to `out`.
///
/// Every part is written by the generated field items (`play::Snapshot::write_tick`, ...), in
/// the spec's field order; the test below checks the frame against the whole-body encoder.
pub fn encode_snapshot<'o>(
    tick: u32,
    ack_seq: u32,
    parts: &SnapshotParts,
    tiles: &[u8],
    scratch: &mut Vec<u8>,
    out: &'o mut Vec<u8>,
) -> Result<FrameRef<'o>, EncodeError> {
    // The head (tick, ack_seq, players' count) and the tail (gone) go to `scratch`; the body is
    // then written straight into `out` behind its length prefix, without an intermediate copy.
    scratch.clear();
    play::Snapshot::write_tick(&tick, scratch)?;
    play::Snapshot::write_ack_seq(&ack_seq, scratch)?;
    play::Snapshot::write_players_count(parts.count, scratch)?;
    let head = scratch.len();
    play::Snapshot::write_gone(&parts.gone, scratch)?;
    let body = scratch.len() + parts.deltas.len() + tiles.len();
    let start = out.len();
    out.reserve(body + 6);
    crate::frame::encode_frame_head(play::Snapshot::ID, body, out).map_err(|len| EncodeError {
        packet: play::Snapshot::NAME,
        field: None,
        error: FieldError::TooLong {
            len,
            max: crate::v1::MAX_FRAME,
        },
    })?;
    out.extend_from_slice(&scratch[..head]);
    out.extend_from_slice(&parts.deltas);
    out.extend_from_slice(tiles);
    out.extend_from_slice(&scratch[head..]);
    crate::frame::decode_frame(&out[start..], crate::v1::MAX_FRAME)
        .ok()
        .flatten()
        .ok_or_else(|| EncodeError {
            packet: play::Snapshot::NAME,
            field: None,
            error: FieldError::Invalid("the assembled frame does not decode".into()),
        })
}

/// The tick of a frame (packet id and body) when it is a Snapshot: its `tick` field, read with
/// the generated head reader. The one place a snapshot's tick is taken from its bytes.
pub fn snapshot_tick(direction: crate::Direction, state: State, frame: &[u8]) -> Option<u32> {
    let (&id, body) = frame.split_first()?;
    if direction != crate::Direction::ToClient || state != State::Play || id != play::Snapshot::ID {
        return None;
    }
    play::Snapshot::peek_tick(body).ok()
}

/// The server tick a server-to-client frame (packet id and body) announces: a Snapshot's
/// `tick`, or JoinAccepted's `tick` (the tick at join, before any snapshot). Recorders stamp
/// each frame with the latest announced tick, this frame's included.
pub fn announced_tick(direction: crate::Direction, state: State, frame: &[u8]) -> Option<u32> {
    match (state, frame.split_first()) {
        (State::Login, Some((&id, body)))
            if direction == crate::Direction::ToClient
                && id == crate::v1::login::JoinAccepted::ID =>
        {
            crate::v1::login::JoinAccepted::peek_tick(body).ok()
        }
        _ => snapshot_tick(direction, state, frame),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::PlayEncoder;
    use crate::v1::{Position, Tile, TilePos};

    #[test]
    fn the_assembled_snapshot_is_byte_for_byte_the_generated_one() {
        let deltas = vec![
            PlayerDelta {
                id: 7,
                name: None,
                position: None,
                dx: Some(-12),
                dy: Some(300),
                velocity: None,
                health: None,
                color: None,
            },
            PlayerDelta {
                id: 9,
                name: Some("nine".into()),
                position: Some(Position { x: -5, y: 70000 }),
                dx: None,
                dy: None,
                velocity: Some(Position { x: 3, y: -4 }),
                health: Some(55),
                color: Some(0x123456),
            },
        ];
        let tiles = vec![TileChange {
            pos: TilePos { x: 3, y: 200 },
            tile: Tile::Dirt,
        }];
        let mut parts = SnapshotParts {
            gone: vec![1, 300, 70000],
            ..SnapshotParts::default()
        };
        let mut shared = Vec::new();
        encode_delta(&deltas[0], &mut shared).unwrap();
        parts.push_encoded(&shared);
        parts.push_delta(&deltas[1]).unwrap();
        let mut tiles_bytes = Vec::new();
        encode_tiles(&tiles, &mut tiles_bytes).unwrap();
        let mut ours = Vec::new();
        let frame =
            encode_snapshot(1234, 99, &parts, &tiles_bytes, &mut Vec::new(), &mut ours).unwrap();
        assert_eq!(frame.id(), play::Snapshot::ID);
        let mut generated = Vec::new();
        PlayEncoder::new()
            .encode(
                &play::Snapshot {
                    tick: 1234,
                    ack_seq: 99,
                    players: deltas,
                    tiles,
                    gone: vec![1, 300, 70000],
                },
                &mut generated,
            )
            .unwrap();
        assert_eq!(ours, generated);
    }

    #[test]
    fn the_tick_is_read_from_a_snapshot_frame_only() {
        let mut out = Vec::new();
        let parts = SnapshotParts::default();
        let mut tiles = Vec::new();
        encode_tiles(&[], &mut tiles).unwrap();
        let frame = encode_snapshot(70000, 3, &parts, &tiles, &mut Vec::new(), &mut out).unwrap();
        let bytes = frame.packet_bytes();
        let to_client = crate::Direction::ToClient;
        assert_eq!(snapshot_tick(to_client, State::Play, bytes), Some(70000));
        assert_eq!(snapshot_tick(to_client, State::Login, bytes), None);
        assert_eq!(
            snapshot_tick(crate::Direction::ToServer, State::Play, bytes),
            None
        );
        assert_eq!(snapshot_tick(to_client, State::Play, &[]), None);
        assert_eq!(
            snapshot_tick(to_client, State::Play, &[play::Snapshot::ID, 0x80]),
            None
        );
        assert_eq!(announced_tick(to_client, State::Play, bytes), Some(70000));
        let accepted = crate::v1::login::JoinAccepted {
            player_id: 300,
            spawn: Position { x: -70, y: 1 << 20 },
            tick: 12345,
        };
        let mut body = vec![crate::v1::login::JoinAccepted::ID];
        encode_body(&accepted, "JoinAccepted", &mut body).unwrap();
        assert_eq!(announced_tick(to_client, State::Login, &body), Some(12345));
        // The same bytes in Play are a Snapshot (id 0): their first varint is its tick.
        assert_eq!(announced_tick(to_client, State::Play, &body), Some(300));
    }

    #[test]
    fn gone_and_deltas_stop_at_the_generated_bounds() {
        let mut parts = SnapshotParts::default();
        for id in 0..MAX_GONE as u32 {
            assert!(parts.push_gone(id));
        }
        assert!(!parts.push_gone(1));
        assert_eq!(parts.gone.len(), MAX_GONE);
        parts.count = MAX_DELTAS;
        assert!(parts.deltas_full());
    }

    #[test]
    fn bounds_are_checked() {
        let parts = SnapshotParts {
            count: MAX_DELTAS + 1,
            ..SnapshotParts::default()
        };
        let mut tiles = Vec::new();
        encode_tiles(&[], &mut tiles).unwrap();
        assert!(encode_snapshot(1, 0, &parts, &tiles, &mut Vec::new(), &mut Vec::new()).is_err());
        let parts = SnapshotParts {
            gone: vec![0; MAX_GONE + 1],
            ..SnapshotParts::default()
        };
        assert!(encode_snapshot(1, 0, &parts, &tiles, &mut Vec::new(), &mut Vec::new()).is_err());
        let many = vec![
            TileChange {
                pos: TilePos { x: 0, y: 0 },
                tile: Tile::Dirt,
            };
            MAX_TILES + 1
        ];
        assert!(encode_tiles(&many, &mut tiles).is_err());
    }
}
