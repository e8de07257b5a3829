//! Writes the committed seed corpora: `cargo run --example write_seeds` in `fuzz/`.
//!
//! Replaces `seeds/<target>/` for every target it has seeds for, from the replay fixture
//! `../replay/tests/fixtures/small.tgr` (see `tilegame_fuzz::seeds`).

use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture = std::fs::read(root.join("../replay/tests/fixtures/small.tgr"))?;
    let seeds = tilegame_fuzz::seeds::all(&fixture);
    let mut targets: Vec<&str> = seeds.iter().map(|s| s.0).collect();
    targets.dedup();
    for target in &targets {
        let dir = root.join("seeds").join(target);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
    }
    for (target, name, bytes) in &seeds {
        std::fs::write(root.join("seeds").join(target).join(name), bytes)?;
        println!("seeds/{target}/{name}: {} bytes", bytes.len());
    }
    Ok(())
}
