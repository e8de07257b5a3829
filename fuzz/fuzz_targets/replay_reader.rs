//! The replay-file reader over raw bytes, or over the input wrapped into a valid header and
//! chunks with correct CRCs so records are reached (see `tilegame_fuzz::replay`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tilegame_fuzz::replay::fuzz_replay_reader(data);
});
