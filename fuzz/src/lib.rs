//! Shared driver for the tilegame fuzz targets.
//!
//! Every per-state, per-direction target feeds its input to the protocol's own run-time
//! [`Decoder`] in that state — the codec every peer and tool uses — and checks that whatever
//! decodes re-encodes (the decoded value is within every bound of the spec) and decodes again to
//! the same value. The map, replay and keyframe targets live in [`map`], [`replay`], [`keyframe`]
//! (client keyframes), [`sim_keyframe`] (server simulation keyframes), [`sim_records`] (the
//! re-simulator applying a simulation recording's records) and [`engine_feed`] (the client
//! replay engine fed a connection recording's records); [`seeds`] builds the committed seed
//! corpora.

pub use tilegame_protocol;

pub mod alloc_meter;
pub mod engine_feed;
pub mod keyframe;
pub mod map;
pub mod replay;
pub mod seeds;
pub mod sim_keyframe;
pub mod sim_records;

use tilegame_protocol::codec::Decoder;
use tilegame_protocol::{v1, Direction, State};

/// Decodes every frame of `data` as packets of `state` travelling in `direction`, checking that
/// whatever decodes re-encodes and decodes back to the same value. Stops at the first frame that
/// is malformed, incomplete or not a packet of that state.
pub fn fuzz_state(data: &[u8], state: State, direction: Direction) {
    let mut decoder = Decoder::new(state, direction);
    decoder.feed(data);
    while let Ok(Some(got)) = decoder.next_packet() {
        let packet = got.packet;
        assert_eq!(packet.id(), got.frame.id());
        assert_eq!(packet.state(), state);
        assert!(got.frame.wire_len() <= data.len());
        let mut again = Vec::new();
        packet
            .encode_body(&mut again)
            .unwrap_or_else(|err| panic!("decoded {packet:?} does not re-encode: {err}"));
        let back = v1::decode(state, direction, packet.id(), &again)
            .unwrap_or_else(|err| panic!("re-encoded {packet:?} does not decode: {err}"));
        assert_eq!(back, packet, "decode(encode(decode(body))) differs");
    }
}

/// One fuzz target per state and direction: `fuzz_direction!(data, Play, ToClient)`.
#[macro_export]
macro_rules! fuzz_direction {
    ($data:expr, $state:ident, $direction:ident) => {
        $crate::fuzz_state(
            $data,
            $crate::tilegame_protocol::State::$state,
            $crate::tilegame_protocol::Direction::$direction,
        )
    };
}
