//! Map reassembly: MapBegin, MapChunk… and MapEnd packets decoded from the input drive a
//! `MapAssembler`; never panics and stays within its memory budget (see `tilegame_fuzz::map`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tilegame_fuzz::map::fuzz_map_transfer(data);
});
