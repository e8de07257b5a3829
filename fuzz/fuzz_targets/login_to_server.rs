//! Frames of the login state, to server direction: the protocol's `Decoder` in that state.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tilegame_fuzz::fuzz_direction!(data, Login, ToServer);
});
