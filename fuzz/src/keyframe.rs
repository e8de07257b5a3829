//! Client keyframes from bytes: `Keyframe::from_bytes` then `restore`, as a replay viewer does
//! with a keyframe record's state.
//!
//! Never panics; a keyframe that restores captures again into one that restores to the same
//! state hashes. The keyframe format is owned by the client and may change; this target only
//! uses `from_bytes`, `restore`, `capture`, `to_bytes` and `state_hash`.

use tilegame_client::keyframe::Keyframe;

/// Input: the keyframe's serialized bytes (as stored, inflated, in a replay's keyframe record).
pub fn fuzz_keyframe(data: &[u8]) {
    let Ok(keyframe) = Keyframe::from_bytes(data) else {
        return;
    };
    let Ok(play) = keyframe.restore() else {
        return;
    };
    let again = Keyframe::capture(&play).expect("a restored keyframe has a map");
    let back = Keyframe::from_bytes(&again.to_bytes())
        .expect("a captured keyframe parses")
        .restore()
        .expect("a captured keyframe restores");
    assert_eq!(
        back.state_hash(),
        play.state_hash(),
        "capture → restore changed the state"
    );
}
