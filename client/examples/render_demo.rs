//! Renders the demo scene offscreen to a PNG (default `target/render_demo.png`).
//!
//! `cargo run -p tilegame-client --example render_demo -- [OUT.png] [WIDTH HEIGHT] [--overlay dead|paused|list|connecting|error]`

use tilegame_client::render::demo::{demo_map, demo_scene};
use tilegame_client::render::{OffscreenRenderer, Overlay};

fn main() {
    if let Err(e) = run() {
        eprintln!("render_demo: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut overlay = None;
    if let Some(i) = args.iter().position(|a| a == "--overlay") {
        let kind = args.get(i + 1).cloned().unwrap_or_default();
        args.drain(i..(i + 2).min(args.len()));
        overlay = Some(match kind.as_str() {
            "dead" => Overlay::Dead,
            "paused" => Overlay::Paused,
            "list" => Overlay::PlayerList(vec!["you".into(), "Alice".into()]),
            "connecting" => Overlay::Connecting {
                message: "Downloading map (12 of 30 kB)".into(),
                progress: Some(0.4),
            },
            "error" => {
                Overlay::Error("Connection refused: nothing listens on 127.0.0.1:35000".into())
            }
            other => return Err(format!("unknown overlay {other:?}").into()),
        });
    }
    let out = args
        .first()
        .cloned()
        .unwrap_or_else(|| "target/render_demo.png".into());
    let width: u32 = args.get(1).map_or(Ok(1024), |s| s.parse())?;
    let height: u32 = args.get(2).map_or(Ok(768), |s| s.parse())?;

    let map = demo_map()?;
    let scene = demo_scene(&map, 0, overlay);
    let mut renderer = OffscreenRenderer::new()?;
    let rgba = renderer.render(&scene, width, height)?;
    tilegame_client::render::write_png(&out, width, height, &rgba)?;
    let stats = renderer.last_stats();
    println!(
        "wrote {out} ({width}x{height}) on {}: {} tiles, {} sprites, {} draw calls",
        renderer.adapter(),
        stats.tiles,
        stats.sprites,
        stats.draw_calls
    );
    Ok(())
}
