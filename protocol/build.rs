//! Generates the protocol's Rust types from `spec/*.ron` into `OUT_DIR`.
fn main() {
    if let Err(err) =
        tilegame_codegen::Builder::new().compile(&["spec/tilegame.ron", "spec/replay.ron"])
    {
        eprintln!("{err}");
        std::process::exit(1);
    }
}
