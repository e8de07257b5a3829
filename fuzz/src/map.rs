//! The map decoders: run-length payloads and chunked reassembly.
//!
//! `map_payload` checks that [`convert::map_from_payload`] never panics on a decoded
//! [`MapPayload`] and that a map that decodes re-encodes to the canonical form of its payload;
//! `map_transfer` drives a [`MapAssembler`] with packets decoded from the input and checks that
//! its memory stays within what was announced and received.

use tilegame_protocol::codec::Decoder;
use tilegame_protocol::convert::{self, MapAssembler};
use tilegame_protocol::v1::{map_transfer::ToClient, MapPayload};
use tilegame_protocol::wire::{decode_body, encode_body};
use tilegame_protocol::{AnyPacket, Direction, State};

use crate::alloc_meter::peak_during;

/// The payload with adjacent runs of equal value merged: the only form an encoder writes.
pub fn canonical(payload: &MapPayload) -> MapPayload {
    let mut out = MapPayload {
        tiles: Vec::with_capacity(payload.tiles.len()),
        dynatiles: Vec::with_capacity(payload.dynatiles.len()),
    };
    for run in &payload.tiles {
        match out.tiles.last_mut() {
            Some(last) if last.tile == run.tile => last.count += run.count,
            _ => out.tiles.push(run.clone()),
        }
    }
    for run in &payload.dynatiles {
        match out.dynatiles.last_mut() {
            Some(last) if last.changed == run.changed => last.count += run.count,
            _ => out.dynatiles.push(run.clone()),
        }
    }
    out
}

/// Input: width (u16 LE), height (u16 LE), then an encoded `MapPayload`.
pub fn fuzz_map_payload(data: &[u8]) {
    let Some((size, body)) = data.split_at_checked(4) else {
        return;
    };
    let width = u16::from_le_bytes([size[0], size[1]]);
    let height = u16::from_le_bytes([size[2], size[3]]);
    let Ok(payload) = decode_body::<MapPayload>("MapPayload", body) else {
        return;
    };
    let Ok(map) = convert::map_from_payload(width, height, &payload) else {
        return;
    };
    assert_eq!((map.width(), map.height()), (width, height));
    // Runs that decode add up to width × height, so merging them cannot overflow.
    let again = convert::map_payload(&map);
    assert_eq!(
        again,
        canonical(&payload),
        "re-encoding is not the canonical payload"
    );
    let mut bytes = Vec::new();
    encode_body(&again, "MapPayload", &mut bytes).expect("a decoded map re-encodes");
    let decoded: MapPayload =
        decode_body("MapPayload", &bytes).expect("re-encoded payload decodes");
    let back = convert::map_from_payload(width, height, &decoded).expect("re-encoded map decodes");
    assert_eq!(back, map, "map → payload → map differs");
}

/// Most packets a `map_transfer` input is read for.
pub const MAX_PACKETS: usize = 4096;

/// Input: a stream of MapTransfer frames to the client (MapBegin, MapChunk…, MapEnd), fed to
/// a [`MapAssembler`] the way a client does: a MapBegin (re)starts a transfer, a chunk or end
/// before any MapBegin or any assembler error ends the input.
pub fn fuzz_map_transfer(data: &[u8]) {
    let mut received = 0usize; // by the current transfer
    let mut taken = 0usize; // by every transfer of the input
    let mut cells = 0usize;
    let ((), peak) = peak_during(|| {
        let mut decoder = Decoder::new(State::MapTransfer, Direction::ToClient);
        decoder.feed(data);
        let mut assembler: Option<MapAssembler> = None;
        for _ in 0..MAX_PACKETS {
            let Ok(Some(got)) = decoder.next_packet() else {
                return;
            };
            let AnyPacket::MapTransferToClient(packet) = got.packet else {
                panic!("a MapTransfer decoder returned {:?}", got.packet);
            };
            match packet {
                ToClient::MapBegin(begin) => match MapAssembler::new(begin) {
                    Ok(a) => {
                        received = 0;
                        assembler = Some(a);
                    }
                    Err(_) => return,
                },
                ToClient::MapChunk(chunk) => {
                    let Some(a) = assembler.as_mut() else { return };
                    let len = chunk.data.len();
                    if a.push(chunk).is_err() {
                        return;
                    }
                    received += len;
                    taken += len;
                    let total = a.begin().total_bytes as usize;
                    assert!(
                        received <= total,
                        "{received} bytes taken of {total} announced"
                    );
                    assert!((0.0..=1.0).contains(&a.progress()));
                }
                ToClient::MapEnd(end) => {
                    let Some(a) = assembler.take() else { return };
                    let (width, height) = (a.begin().width, a.begin().height);
                    cells = usize::from(width) * usize::from(height);
                    if let Ok(map) = a.finish(end.checksum) {
                        assert_eq!((map.width(), map.height()), (width, height));
                    }
                    return;
                }
                ToClient::Kick(_) => return,
            }
        }
    });
    // What may be live at once: the input in the frame buffer, one chunk inflated (≤ 64 KiB)
    // and its copy, two assemblers while one replaces the other (each pre-sized to at most
    // 1 MiB, then grown by what it received), and at the end the decoded runs (≤ 8 bytes per 2
    // received) and the map.
    let budget = (3 << 20) + 2 * data.len() + 10 * taken + 2 * cells;
    assert!(
        peak <= budget,
        "map transfer peaked at {peak} live bytes; budget {budget} (input {}, received {taken}, cells {cells})",
        data.len()
    );
}
