//! What one frame costs the client.
//!
//! `cargo bench -p tilegame-client --bench frame [-- --frames 2000]`
//!
//! 1. CPU: preparing one 1280×720 frame of a 192×192 map with 100 players in view — the scene
//!    (players with names), the instance lists ([`build_frame`]), and the egui HUD (health,
//!    debug lines, hotbar, the sorted player list) run and tessellated. Target: ≤ 1 ms.
//! 2. GPU: the same frame drawn by the offscreen renderer (Mesa's lavapipe on machines without
//!    a GPU) into a kept target and waited for: the map alone, the world, and the world with
//!    the egui HUD over it (the window's frame before `present`; target ≤ 16 ms), each with
//!    1 player and with 100 players in view. The read-back that tests and exports add is
//!    measured apart, and with the draw as before.
//!
//! Medians and 99th percentiles are printed; nothing is asserted (timings vary by machine).
//! `-- --png PREFIX` also writes the 100-player world frame as `PREFIX-zoom1.png` and, zoomed
//! to 1.37 with the camera off the pixel grid, `PREFIX-zoom137.png` (to compare renderers).

use std::time::{Duration, Instant};

use tilegame_client::render::egui_layer::EguiFrame;
use tilegame_client::render::layout::build_frame;
use tilegame_client::render::{DrawPlayer, Hud, OffscreenRenderer, Overlay, Scene};
use tilegame_client::ui::i18n::Localizer;
use tilegame_client::ui::messages::natural_cmp;
use tilegame_client::ui::view::{self, HudView};
use tilegame_game::{generate, MapSize, Theme};

const W: u32 = 1280;
const H: u32 = 720;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{what:<48} median {:>9.1} µs   p99 {:>9.1} µs   ({} runs)",
        percentile(&times, 0.5).as_secs_f64() * 1e6,
        percentile(&times, 0.99).as_secs_f64() * 1e6,
        times.len()
    );
}

/// 100 players spread over the visible area around the camera.
fn players(n: usize) -> Vec<(String, [f32; 2], u32)> {
    (0..n)
        .map(|i| {
            let x = ((i % 20) as f32 - 10.0) * 60.0;
            let y = ((i / 20) as f32 - 2.5) * 120.0;
            (format!("bot{i}"), [x, y], 0x2f80ed ^ (i as u32 * 0x10307))
        })
        .collect()
}

fn main() {
    let frames: usize = std::env::args()
        .skip_while(|a| a != "--frames")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let map = generate("framebench", Theme::Default, MapSize::Large).expect("a 192² map");
    let people = players(100);
    let i18n = Localizer::english();
    let ctx = egui::Context::default();
    tilegame_client::ui::font::install(&ctx);
    view::apply_style(&ctx);
    let scene_n = |tick: u32, n: usize| Scene {
        map: &map,
        camera: [0.0, 0.0],
        zoom: 1.0,
        players: people
            .iter()
            .take(n)
            .map(|(name, pos, color)| DrawPlayer {
                pos: *pos,
                name: name.clone(),
                color: *color,
                health: 100,
                local: name == "bot0",
            })
            .collect(),
        breaking: Some((96, 96, 3)),
        hud: Hud {
            health: 80,
            tick,
            players: people.len(),
            ..Hud::default()
        },
        overlay: Some(Overlay::UiLayer),
    };
    let scene_for = |tick: u32| scene_n(tick, people.len());
    let hud_for = |tick: u32| {
        let mut names: Vec<String> = people.iter().map(|p| p.0.clone()).collect();
        names.sort_by(|a, b| natural_cmp(a, b));
        HudView {
            health: 80,
            online: people.len(),
            max_players: Some(128),
            player_list: Some(names),
            tile: (3, -4),
            tick,
            ping_ms: Some(12),
            kb_per_min: (40.0, 3.0),
            fps: Some(60.0),
            debug: true,
            hotbar_slot: 0,
            ..HudView::default()
        }
    };
    let run_ui = |tick: u32| {
        let hud = hud_for(tick);
        let raw = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(W as f32, H as f32),
            )),
            time: Some(f64::from(tick) / 60.0),
            ..egui::RawInput::default()
        };
        let mut out = ctx.run_pass(raw, |ctx| {
            view::hud(ctx, &hud, &i18n);
        });
        out.textures_delta.clear();
        ctx.tessellate(out.shapes, out.pixels_per_point)
    };
    // Warm up (font atlas, allocations).
    for t in 0..30 {
        let _ = build_frame(&scene_for(t), W, H);
        let _ = run_ui(t);
    }

    println!("tilegame client frame bench: 192×192 map, 100 players in view, {W}×{H}");
    let mut layout = Vec::with_capacity(frames);
    let mut ui = Vec::with_capacity(frames);
    let mut total = Vec::with_capacity(frames);
    let mut instances = 0;
    for i in 0..frames {
        let tick = i as u32;
        let t0 = Instant::now();
        let scene = scene_for(tick);
        let frame = build_frame(&scene, W, H);
        let t1 = Instant::now();
        let prims = run_ui(tick);
        let t2 = Instant::now();
        instances = frame.tiles.len() + frame.sprites.len() + frame.bodies.len() + frame.tags.len();
        std::hint::black_box((&frame, &prims));
        layout.push(t1 - t0);
        ui.push(t2 - t1);
        total.push(t2 - t0);
    }
    report("CPU: scene + instance lists (world)", layout);
    report("CPU: egui HUD + player list, tessellated", ui);
    report("CPU: one frame prepared (target ≤ 1000 µs)", total);
    println!("    ({instances} instances per frame)");

    // The device's share: the same frame drawn by the offscreen renderer into a kept target and
    // waited for (what the window's frame costs the device before `present`), the egui HUD
    // painted over it as the window does, and, apart, the read-back that only tests and
    // exports pay.
    let mut r = match OffscreenRenderer::new() {
        Ok(r) => r,
        Err(e) => {
            println!("GPU: no adapter ({e}); frame time not measured");
            return;
        }
    };
    println!("GPU: {}", r.adapter());
    if let Some(prefix) = std::env::args().skip_while(|a| a != "--png").nth(1) {
        for (name, zoom, camera) in [("zoom1", 1.0, [0.0, 0.0]), ("zoom137", 1.37, [0.5, 0.25])] {
            let scene = Scene {
                zoom,
                camera,
                ..scene_for(0)
            };
            let path = format!("{prefix}-{name}.png");
            match r.render(&scene, W, H) {
                Ok(rgba) => match tilegame_client::render::write_png(&path, W, H, &rgba) {
                    Ok(()) => println!("wrote {path}"),
                    Err(e) => println!("{path}: {e}"),
                },
                Err(e) => println!("{path}: render failed: {e}"),
            }
        }
    }
    let gpu_frames = (frames / 20).clamp(20, 200);
    // A fresh egui context: its first pass carries the font atlas the layer must upload.
    let gpu_ctx = egui::Context::default();
    tilegame_client::ui::font::install(&gpu_ctx);
    view::apply_style(&gpu_ctx);
    let ui_frame = |tick: u32, list: bool| {
        let mut hud = hud_for(tick);
        if !list {
            // As the game starts: no Tab list, no debug lines, the FPS counter on.
            hud.player_list = None;
            hud.debug = false;
        }
        let raw = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(W as f32, H as f32),
            )),
            time: Some(f64::from(tick) / 60.0),
            ..egui::RawInput::default()
        };
        let out = gpu_ctx.run_pass(raw, |ctx| {
            view::hud(ctx, &hud, &i18n);
        });
        EguiFrame {
            primitives: gpu_ctx.tessellate(out.shapes, out.pixels_per_point),
            textures: out.textures_delta,
            pixels_per_point: out.pixels_per_point,
        }
    };
    // Each kind in a block of frames: wall-clock medians, and the process's CPU time per frame
    // (every thread, the rasteriser's included), which a shared, loaded machine disturbs less.
    let mut stats = None;
    let mut measure = |what: &str,
                       f: &mut dyn FnMut(
        &mut OffscreenRenderer,
        u32,
    )
        -> Result<(), tilegame_client::render::RenderError>| {
        let mut times = Vec::with_capacity(gpu_frames);
        let mut cpu = Duration::ZERO;
        for i in 0..gpu_frames + 5 {
            let c0 = cpu_time();
            let t0 = Instant::now();
            if let Err(e) = f(&mut r, i as u32) {
                println!("GPU: {what}: render failed: {e}");
                return;
            }
            let t = t0.elapsed();
            if i >= 5 {
                times.push(t);
                if let (Some(a), Some(b)) = (c0, cpu_time()) {
                    cpu += b.saturating_sub(a);
                }
            }
        }
        stats = Some(r.last_stats());
        report(what, times);
        println!(
            "{:<48} {:>9.1} µs of CPU per frame (all threads)",
            "",
            cpu.as_secs_f64() * 1e6 / gpu_frames as f64
        );
    };
    measure("GPU: map tiles only drawn", &mut |r, tick| {
        let mut empty = scene_for(tick);
        empty.players.clear();
        empty.breaking = None;
        r.draw(&empty, W, H)
    });
    for n in [1, people.len()] {
        measure(
            &format!("GPU: world drawn, {n} player(s)"),
            &mut |r, tick| r.draw(&scene_n(tick, n), W, H),
        );
    }
    for n in [1, people.len()] {
        measure(
            &format!("GPU: world + HUD, {n} player(s) (target ≤ 16000 µs)"),
            &mut |r, tick| {
                r.draw_with_ui_frame(&scene_n(tick, n), W, H, &mut ui_frame(tick, false))
            },
        );
    }
    measure(
        "GPU: world + HUD + Tab list of 100 drawn",
        &mut |r, tick| r.draw_with_ui_frame(&scene_for(tick), W, H, &mut ui_frame(tick, true)),
    );
    measure(
        "GPU: read-back of one frame (tests, exports)",
        &mut |r, _| r.read_back().map(|px| drop(std::hint::black_box(px))),
    );
    measure("GPU: world drawn and read back", &mut |r, tick| {
        r.render(&scene_for(tick), W, H)
            .map(|px| drop(std::hint::black_box(px)))
    });
    if let Some(s) = stats {
        println!(
            "    ({} tile + {} sprite + {} body + {} name tag instances, {} draw calls for the world)",
            s.tiles, s.sprites, s.bodies, s.tags, s.draw_calls
        );
    }
}

/// The process's CPU time so far (user + system, every thread), from `/proc/self/stat`
/// (Linux; `None` elsewhere). Ticks of 10 ms: meaningful summed over many frames.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}
