//! The project's own spec files parse and validate.

use std::path::Path;

fn spec(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../protocol/spec")
        .join(name)
}

#[test]
fn tilegame_spec_is_valid() {
    let spec = tilegame_codegen::load(&spec("tilegame.ron")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(spec.protocol.name, "tilegame");
    assert_eq!(spec.protocol.states.len(), 4);
}

#[test]
fn replay_spec_is_valid() {
    let spec = tilegame_codegen::load(&spec("replay.ron")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(spec.protocol.name, "replay_format");
}
