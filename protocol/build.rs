//! Generates the protocol's Rust types from `spec/*.ron` into `OUT_DIR`; a spec problem stops
//! the build with every problem of every file as `error: protocol/spec/…:line:col: …`.
fn main() {
    tilegame_codegen::Builder::new()
        .compile_in_build_script(&["spec/tilegame.ron", "spec/replay.ron"]);
}
