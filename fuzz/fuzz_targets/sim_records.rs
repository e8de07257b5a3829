//! Server simulation records applied by the re-simulator (`Resim::new` / `apply`) under a
//! memory budget (see `tilegame_fuzz::sim_records`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tilegame_fuzz::sim_records::fuzz_sim_records(data);
});
