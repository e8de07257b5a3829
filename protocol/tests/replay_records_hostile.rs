//! A replay record that claims a long byte string allocates what is there, not what it claims.
//!
//! Found by reading while adding the `replay_reader` fuzz target: `read_bytes` and
//! `read_compressed` allocated the declared length (up to the field's bound: 16 MiB for a
//! keyframe's compressed state, 256 KiB for a frame) before reading, so a 10-byte record made
//! the decoder allocate 16 MiB, and a 1 MiB file of such records in one chunk allocated the
//! bound once per record tried. A counting allocator checks the peak of each decode.

use tilegame_protocol::replay_format::Record;
use tilegame_protocol::wire::decode_body;
use tilegame_protocol::{DecodeError, FieldError};
use tilegame_testkit::alloc_meter::{peak_during, Meter};

#[global_allocator]
static METER: Meter = Meter;

/// Far below the claimed lengths, far above what the few bytes present need (tests run in
/// parallel, so the peak includes the other test's small allocations).
const BUDGET: usize = 1 << 20;

/// A varint (LEB128) of `n`.
fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn assert_ends_early(result: Result<Record, DecodeError>) {
    match result {
        Err(DecodeError::Parse {
            error: FieldError::Eof,
            ..
        }) => {}
        other => panic!("expected the body to end early, got {other:?}"),
    }
}

#[test]
fn a_keyframe_claiming_16_mib_allocates_what_is_there() {
    // Record::Keyframe: tag 2, tick 0, frame_seq 0, then the compressed state's length: just
    // under its bound (compressed_limit(16_000_000)), followed by 4 bytes.
    let mut body = vec![2, 0, 0];
    varint(16_000_000, &mut body);
    body.extend([0x78, 0x9c, 0x03, 0x00]);
    let (result, peak) = peak_during(|| decode_body::<Record>("Record", &body));
    assert_ends_early(result);
    assert!(
        peak < BUDGET,
        "a {}-byte record allocated {peak} bytes",
        body.len()
    );
}

#[test]
fn a_frame_claiming_256_kib_allocates_what_is_there() {
    // Record::Frame: tag 0, seq, direction, state, tick, micros, wire_bytes, payload_bytes,
    // packet_id, then the bytes' length at its bound (262144) and 3 bytes.
    let mut body = vec![0, 0, 1, 3, 0, 0, 0, 0, 3];
    varint(262_144, &mut body);
    body.extend([3, 1, 2]);
    for _ in 0..8 {
        let (result, peak) = peak_during(|| decode_body::<Record>("Record", &body));
        assert_ends_early(result);
        assert!(
            peak < 64 << 10,
            "a {}-byte record allocated {peak} bytes",
            body.len()
        );
    }
}
