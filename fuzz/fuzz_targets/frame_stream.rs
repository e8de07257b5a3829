//! The frame layer on its own: the streaming `FrameDecoder`, fed the input in arbitrary pieces,
//! must yield exactly the frames (and the same error) as `decode_frame` over the whole input;
//! every frame must survive `encode_frame` → `decode_frame`; and every body is offered to every
//! state's decoders (none may panic).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tilegame_fuzz::tilegame_protocol::frame::{decode_frame, encode_frame, FrameDecoder};
use tilegame_fuzz::tilegame_protocol::{v1, Direction, State};

const MAX_FRAME: u32 = v1::MAX_FRAME;

fuzz_target!(|data: &[u8]| {
    // The first byte picks how the stream is cut into reads; the rest is the stream.
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };

    // Reference: one pass over the whole buffer.
    let mut expected = Vec::new();
    let mut expected_err = None;
    let mut rest = stream;
    loop {
        match decode_frame(rest, MAX_FRAME) {
            Ok(Some(frame)) => {
                assert!(frame.wire_len() > frame.payload().len() && frame.wire_len() <= rest.len());
                expected.push((frame.id(), frame.payload()));
                rest = &rest[frame.wire_len()..];
            }
            Ok(None) => break,
            Err(err) => {
                expected_err = Some(err);
                break;
            }
        }
    }

    // Streaming, in reads of 1..=64 bytes chosen by a small generator seeded from `seed`.
    let mut decoder = FrameDecoder::new(MAX_FRAME);
    let mut got: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut got_err = None;
    let mut state = u32::from(seed) | 1;
    let mut pos = 0;
    'feed: while pos < stream.len() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = (1 + (state >> 16) as usize % 64).min(stream.len() - pos);
        decoder.extend(&stream[pos..pos + n]);
        pos += n;
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => got.push((frame.id(), frame.payload().to_vec())),
                Ok(None) => break,
                Err(err) => {
                    got_err = Some(err);
                    break 'feed;
                }
            }
        }
    }
    assert_eq!(
        got_err, expected_err,
        "streaming and one-shot decoding end differently"
    );
    assert_eq!(
        got.len(),
        expected.len(),
        "streaming and one-shot decoding found different frames"
    );
    for ((gid, gbody), (eid, ebody)) in got.iter().zip(&expected) {
        assert_eq!((gid, gbody.as_slice()), (eid, *ebody));
    }
    if got_err.is_none() {
        assert_eq!(
            decoder.buffered(),
            rest.len(),
            "bytes of the incomplete tail went missing"
        );
    }

    for (id, body) in expected {
        // Re-framing is lossless (the prefix becomes canonical).
        let mut out = Vec::new();
        let len = encode_frame(id, body, &mut out);
        assert_eq!(len, out.len());
        let frame = decode_frame(&out, MAX_FRAME)
            .expect("re-encoded frame is valid")
            .expect("complete");
        assert_eq!(
            (frame.id(), frame.payload(), frame.wire_len()),
            (id, body, out.len())
        );

        // No decoder may panic on any body.
        for state in State::ALL {
            for direction in Direction::ALL {
                let _ = v1::decode(state, direction, id, body);
            }
        }
    }
});
