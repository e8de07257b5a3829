//! Records fed to the client replay engine (`Engine::feed`), twice, deterministically (see
//! `tilegame_fuzz::engine_feed`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tilegame_fuzz::engine_feed::fuzz_engine_feed(data);
});
