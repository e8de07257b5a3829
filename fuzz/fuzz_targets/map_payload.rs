//! Map run-length decoding: a `MapPayload` from bytes, then `convert::map_from_payload` with the
//! size from the first four bytes; never panics, and a map that decodes re-encodes to the
//! canonical form of its payload (see `tilegame_fuzz::map`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tilegame_fuzz::map::fuzz_map_payload(data);
});
