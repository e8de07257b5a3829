//! Server simulation keyframes: a `SimKeyframeState` (or `SimKeyframe` record body) restored
//! with `Resim::from_keyframe`, then ticked (see `tilegame_fuzz::sim_keyframe`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tilegame_fuzz::sim_keyframe::fuzz_sim_keyframe(data);
});
