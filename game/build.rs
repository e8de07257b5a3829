//! Generates the protocol's rules (constants and the tile table) from `protocol/spec/tilegame.ron`
//! into `OUT_DIR/rules.rs`, so the game obeys the same numbers as the wire without depending on
//! the protocol crate.
fn main() {
    let spec = std::path::Path::new("../protocol/spec/tilegame.ron");
    println!("cargo:rerun-if-changed={}", spec.display());
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let code = tilegame_codegen::load(spec)
        .map_err(|e| e.to_string())
        .and_then(|spec| tilegame_codegen::rust::generate_rules(&spec));
    match code {
        Ok(code) => {
            if let Err(e) = std::fs::write(out.join("rules.rs"), code) {
                eprintln!("error: cannot write rules.rs: {e}");
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
