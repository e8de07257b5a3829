//! Frames of the map_transfer state, to server direction: `map_transfer::ToServer::decode` on each body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tilegame_fuzz::fuzz_direction!(data, map_transfer::ToServer);
});
