//! Shared driver for the tilegame fuzz targets.
//!
//! Every per-direction target splits its input into frames with
//! [`tilegame_protocol::frame::decode_frame`] and decodes each body with that state and
//! direction's `decode`. A body that decodes must re-encode (the decoded value is within every
//! bound of the spec) and decode again to the same value.

pub use tilegame_protocol;

/// The frame limit the targets use (the protocol's).
pub const MAX_FRAME: u32 = tilegame_protocol::v1::MAX_FRAME;

/// Calls `each(id, body)` for every complete frame at the start of `data`; stops at the first
/// malformed or incomplete frame.
pub fn for_each_frame(mut data: &[u8], mut each: impl FnMut(u8, &[u8])) {
    while let Ok(Some(frame)) = tilegame_protocol::frame::decode_frame(data, MAX_FRAME) {
        assert!(frame.wire_len > 0 && frame.wire_len <= data.len());
        assert_eq!(frame.wire_len - frame.body.len() - 1, prefix_len(data));
        each(frame.id, frame.body);
        data = &data[frame.wire_len..];
    }
}

fn prefix_len(data: &[u8]) -> usize {
    data.iter().position(|b| b & 0x80 == 0).map_or(data.len(), |i| i + 1)
}

/// Decodes every frame of `data` as a packet of `$enum` (e.g. `play::ToServer`), and checks that
/// whatever decodes re-encodes and decodes back to the same value.
#[macro_export]
macro_rules! fuzz_direction {
    ($data:expr, $($enum:ident)::+) => {{
        use $crate::tilegame_protocol::v1::$($enum)::+ as Packets;
        $crate::for_each_frame($data, |id, body| {
            let Ok(packet) = Packets::decode(id, body) else { return };
            assert_eq!(packet.id(), id);
            let mut again = ::std::vec::Vec::new();
            packet
                .encode_body(&mut again)
                .unwrap_or_else(|err| panic!("decoded {packet:?} does not re-encode: {err}"));
            let back = Packets::decode(id, &again)
                .unwrap_or_else(|err| panic!("re-encoded {packet:?} does not decode: {err}"));
            assert_eq!(back, packet, "decode(encode(decode(body))) differs");
        });
    }};
}
