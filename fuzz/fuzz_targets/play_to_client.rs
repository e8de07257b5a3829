//! Frames of the play state, to client direction: `play::ToClient::decode` on each body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tilegame_fuzz::fuzz_direction!(data, play::ToClient);
});
