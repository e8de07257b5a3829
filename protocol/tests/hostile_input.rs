//! Decoding hostile bytes never panics and never allocates past the spec's declared bounds.
//!
//! A counting global allocator measures the peak memory of each decode. Random bodies are fed to
//! every state and direction; crafted bodies claim huge lengths and carry an inflate bomb.

use std::io::Write;

use proptest::prelude::*;
use tilegame_protocol::frame::decode_frame;
use tilegame_protocol::v1::{handshake, login, map_transfer, play};
use tilegame_protocol::{DecodeError, FieldError};
use tilegame_testkit::alloc_meter::{thread_peak_during, Meter};

#[global_allocator]
static METER: Meter = Meter;

/// The most any single decode may allocate: the largest declared bound (a 64 KiB map chunk,
/// inflated, plus its compressed form) with room for bookkeeping.
const DECODE_BUDGET: usize = 4 << 20;

fn decode_everywhere(id: u8, body: &[u8]) {
    let _ = handshake::ToServer::decode(id, body);
    let _ = handshake::ToClient::decode(id, body);
    let _ = login::ToServer::decode(id, body);
    let _ = login::ToClient::decode(id, body);
    let _ = map_transfer::ToServer::decode(id, body);
    let _ = map_transfer::ToClient::decode(id, body);
    let _ = play::ToServer::decode(id, body);
    let _ = play::ToClient::decode(id, body);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bodies_never_panic(id in 0u8..8, body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let (_, peak) = thread_peak_during(|| decode_everywhere(id, &body));
        prop_assert!(peak <= DECODE_BUDGET, "decode allocated {peak} bytes");
    }

    #[test]
    fn random_streams_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut rest = bytes.as_slice();
        while let Ok(Some(frame)) = decode_frame(rest, tilegame_protocol::v1::MAX_FRAME) {
            decode_everywhere(frame.id(), frame.payload());
            rest = &rest[frame.wire_len()..];
        }
    }
}

#[test]
fn huge_list_count_is_rejected_before_allocating() {
    // Snapshot: tick 0, ack 0, players count = u32::MAX as a varint.
    let body = [0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f];
    let (result, peak) = thread_peak_during(|| play::ToClient::decode(0, &body));
    let err = result.unwrap_err();
    assert!(peak < 1 << 20, "allocated {peak} bytes");
    match err {
        DecodeError::Parse {
            packet,
            field,
            offset,
            error,
        } => {
            assert_eq!(packet, "Snapshot");
            assert_eq!(field.as_deref(), Some("players"));
            assert_eq!(offset, 2, "the count starts at byte 2");
            assert_eq!(
                error,
                FieldError::TooLong {
                    len: u64::from(u32::MAX),
                    max: 1024
                }
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn inflate_bomb_is_rejected_within_its_bound() {
    // A JoinRequest whose profile inflates to 10 MB of zeros (limit: 4096 bytes).
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![0u8; 10_000_000]).unwrap();
    let bomb = enc.finish().unwrap();
    let mut body = vec![3, b'b', b'o', b'b'];
    let mut len = bomb.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        body.push(if len == 0 { byte } else { byte | 0x80 });
        if len == 0 {
            break;
        }
    }
    body.extend_from_slice(&bomb);
    let (result, peak) = thread_peak_during(|| login::ToServer::decode(0, &body));
    let err = result.unwrap_err();
    assert!(peak < 256 * 1024, "inflating allocated {peak} bytes");
    match err {
        DecodeError::Parse {
            packet,
            field,
            error,
            ..
        } => {
            assert_eq!((packet, field.as_deref()), ("JoinRequest", Some("profile")));
            assert!(
                matches!(
                    error,
                    FieldError::InflateTooBig { max: 4096 } | FieldError::TooLong { .. }
                ),
                "{error}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}
