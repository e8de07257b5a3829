//! Frames of the handshake state, to server direction: `handshake::ToServer::decode` on each body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tilegame_fuzz::fuzz_direction!(data, handshake::ToServer);
});
