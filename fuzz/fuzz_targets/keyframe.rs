//! Client keyframes: `Keyframe::from_bytes` and `restore` over arbitrary bytes (see
//! `tilegame_fuzz::keyframe`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tilegame_fuzz::keyframe::fuzz_keyframe(data);
});
