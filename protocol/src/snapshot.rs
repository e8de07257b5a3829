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
use crate::wire::{self, encode_body, EncodeError, FieldError, Len, VecSink};

/// Most player deltas one Snapshot carries (the spec's bound on `players`).
pub const MAX_DELTAS: usize = 1024;
/// Most tile changes one Snapshot carries (the spec's bound on `tiles`).
pub const MAX_TILES: usize = 4096;
/// Most players gone one Snapshot lists (the spec's bound on `gone`).
pub const MAX_GONE: usize = 1024;

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
}

/// Appends one `PlayerDelta`, encoded with the generated encoder, to `out`.
pub fn encode_delta(delta: &PlayerDelta, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    encode_body(delta, "PlayerDelta", out)
}

fn snapshot_error(err: wire::Fail) -> EncodeError {
    let (field, _, message) = wire::explain(&err.into_binrw(), 0);
    EncodeError {
        packet: play::Snapshot::NAME,
        field,
        error: FieldError::Invalid(message),
    }
}

/// Encodes the tick's tile changes once, as the Snapshot's `tiles` list (shared by every client).
pub fn encode_tiles(tiles: &[TileChange], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    out.clear();
    wire::write_list(
        tiles,
        &mut VecSink::new(out),
        binrw::Endian::Big,
        Len::Var,
        MAX_TILES as u32,
        wire::write_plain,
    )
    .map_err(snapshot_error)
}

/// Appends the Snapshot frame made of `parts` and the pre-encoded `tiles` list to `out`.
pub fn encode_snapshot<'o>(
    tick: u32,
    ack_seq: u32,
    parts: &SnapshotParts,
    tiles: &[u8],
    scratch: &mut Vec<u8>,
    out: &'o mut Vec<u8>,
) -> Result<FrameRef<'o>, EncodeError> {
    let e = binrw::Endian::Big;
    // The head (tick, ack_seq, players' count) and the tail (gone) go to `scratch`; the body is
    // then written straight into `out` behind its length prefix, without an intermediate copy.
    scratch.clear();
    let mut w = VecSink::new(scratch);
    wire::write_var_u32(&tick, &mut w, e).map_err(snapshot_error)?;
    wire::write_var_u32(&ack_seq, &mut w, e).map_err(snapshot_error)?;
    wire::write_len(&mut w, e, Len::Var, parts.count, MAX_DELTAS as u32).map_err(snapshot_error)?;
    let head = scratch.len();
    let mut w = VecSink::new(scratch);
    wire::write_list(
        &parts.gone,
        &mut w,
        e,
        Len::Var,
        MAX_GONE as u32,
        wire::write_var_u32,
    )
    .map_err(snapshot_error)?;
    let body = scratch.len() + parts.deltas.len() + tiles.len();
    if body + 1 > crate::v1::MAX_FRAME as usize {
        return Err(EncodeError {
            packet: play::Snapshot::NAME,
            field: None,
            error: FieldError::TooLong {
                len: body as u64 + 1,
                max: crate::v1::MAX_FRAME,
            },
        });
    }
    let start = out.len();
    out.reserve(body + 6);
    // The frame's head, as `frame::encode_frame` writes it: varint length (id + body), id.
    let mut len = body as u64 + 1;
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        out.push(if len == 0 { byte } else { byte | 0x80 });
        if len == 0 {
            break;
        }
    }
    out.push(play::Snapshot::ID);
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
    fn bounds_are_checked() {
        let parts = SnapshotParts {
            count: MAX_DELTAS + 1,
            ..SnapshotParts::default()
        };
        let mut tiles = Vec::new();
        encode_tiles(&[], &mut tiles).unwrap();
        assert!(encode_snapshot(1, 0, &parts, &tiles, &mut Vec::new(), &mut Vec::new()).is_err());
    }
}
