//! Offscreen rendering tests: a generated map with players and a HUD, checked pixel by pixel.
//!
//! They need a graphics adapter (Mesa's lavapipe/llvmpipe is enough). Without one they fail
//! with a clear message, unless `TILEGAME_SKIP_GPU_TESTS=1` is set.

use std::path::PathBuf;

use tilegame_client::render::atlas::tile_average_color;
use tilegame_client::render::demo::{demo_map, demo_scene, LOCAL_COLOR, REMOTE_COLOR};
use tilegame_client::render::layout::world_to_screen;
use tilegame_client::render::{write_png, OffscreenRenderer, Overlay, RenderError};
use tilegame_game::{map_origin_px, Tile, ALL_TILES, TILE_SIZE};

const W: u32 = 800;
const H: u32 = 600;

/// The offscreen renderer, or `None` when GPU tests are explicitly skipped.
fn renderer() -> Option<OffscreenRenderer> {
    match OffscreenRenderer::new() {
        Ok(r) => {
            eprintln!("rendering on {}", r.adapter());
            Some(r)
        }
        Err(e) if std::env::var("TILEGAME_SKIP_GPU_TESTS").as_deref() == Ok("1") => {
            eprintln!("TILEGAME_SKIP_GPU_TESTS=1: skipping GPU test ({e})");
            None
        }
        Err(e) => panic!(
            "no graphics adapter for the render tests: {e}\n\
             Install Mesa (mesa-vulkan-drivers libvulkan1 libegl1 libegl-mesa0 libgl1-mesa-dri) \
             or set TILEGAME_SKIP_GPU_TESTS=1 to skip GPU tests."
        ),
    }
}

fn out_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn pixel(rgba: &[u8], x: u32, y: u32) -> [u8; 3] {
    let i = ((y * W + x) * 4) as usize;
    [rgba[i], rgba[i + 1], rgba[i + 2]]
}

fn dist(a: [u8; 3], b: [u8; 3]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(&x, y)| (f32::from(x) - f32::from(y)).powi(2))
        .sum::<f32>()
        .sqrt()
}

fn rgb(c: u32) -> [u8; 3] {
    [(c >> 16) as u8, (c >> 8) as u8, c as u8]
}

#[test]
fn small_map_with_players_and_hud() {
    let Some(mut r) = renderer() else { return };
    let map = demo_map().expect("map");
    let scene = demo_scene(&map, 0, None);
    let rgba = r.render(&scene, W, H).expect("render");
    assert_eq!(rgba.len(), (W * H * 4) as usize);
    let path = out_path("render_test.png");
    write_png(&path, W, H, &rgba).expect("png");
    eprintln!("wrote {}", path.display());

    // At most six draw calls, however many tiles and players: one quad for every still
    // tile, water and lava, the sprites under the players, every body, every name tag, the
    // sprites over them.
    let stats = r.last_stats();
    assert!((2..=6).contains(&stats.draw_calls), "{stats:?}");
    assert_eq!(stats.bodies, scene.players.len(), "{stats:?}");
    assert_eq!(stats.tags, scene.players.len(), "{stats:?}");
    assert!(stats.tiles >= 25 * 18, "only {} tiles drawn", stats.tiles);

    // Not uniform: many distinct colours.
    let mut colours: Vec<[u8; 3]> = rgba.chunks(4).map(|p| [p[0], p[1], p[2]]).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 200, "only {} colours", colours.len());
    // Opaque everywhere.
    assert!(rgba.chunks(4).all(|p| p[3] == 255));

    // Tiles away from the HUD, the hotbar and the players show their atlas colour family:
    // the average of each tile's 32×32 screen block is nearest to that tile's atlas average.
    let (ox, oy) = map_origin_px(map.width(), map.height());
    let mut checked = 0;
    for ty in 0..map.height() {
        for tx in 0..map.width() {
            let tile = map.get(tx, ty).unwrap();
            let world = [
                (ox + i32::from(tx) * TILE_SIZE) as f32,
                (oy + i32::from(ty) * TILE_SIZE) as f32,
            ];
            let [sx, sy] = world_to_screen(world, scene.camera, scene.zoom, [W as f32, H as f32]);
            // Right half of the screen, below the HUD, above the hotbar, clear of the players.
            let (sx, sy) = (sx as i64, sy as i64);
            let inside = sx >= 560 && sx + 32 <= W as i64 && sy >= 160 && sy + 32 <= 480;
            if !inside || tile == Tile::Void {
                continue;
            }
            let mut sum = [0u64; 3];
            for y in sy..sy + 32 {
                for x in sx..sx + 32 {
                    let p = pixel(&rgba, x as u32, y as u32);
                    for i in 0..3 {
                        sum[i] += u64::from(p[i]);
                    }
                }
            }
            let avg = sum.map(|s| (s / 1024) as u8);
            let expected = tile_average_color(tile);
            let nearest = ALL_TILES
                .into_iter()
                .min_by(|a, b| {
                    dist(avg, tile_average_color(*a)).total_cmp(&dist(avg, tile_average_color(*b)))
                })
                .unwrap();
            assert_eq!(
                nearest, tile,
                "tile ({tx},{ty}) at screen ({sx},{sy}) averages {avg:?}, expected {tile:?} {expected:?}"
            );
            assert!(
                dist(avg, expected) < 16.0,
                "{tile:?}: {avg:?} vs {expected:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} tiles checked");

    // Both players' body colours appear, as solid blocks.
    for (colour, who) in [(LOCAL_COLOR, "local"), (REMOTE_COLOR, "remote")] {
        let n = rgba
            .chunks(4)
            .filter(|p| [p[0], p[1], p[2]] == rgb(colour))
            .count();
        assert!(
            n > 150,
            "{who} player colour {colour:06x} found on {n} pixels"
        );
    }
    // The local player's body is at the screen centre (camera on it), left of the eyes.
    let c = pixel(&rgba, W / 2 - 8, H / 2 + 4);
    assert_eq!(c, rgb(LOCAL_COLOR));

    // The HUD panel darkens the top-left corner and holds white-ish text.
    let bright = (10..380)
        .flat_map(|x| (10..140).map(move |y| (x, y)))
        .filter(|&(x, y)| pixel(&rgba, x, y).iter().all(|&v| v > 225))
        .count();
    assert!(bright > 500, "HUD text pixels: {bright}");
}

#[test]
fn rendering_is_deterministic_and_animated_by_tick() {
    let Some(mut r) = renderer() else { return };
    let map = demo_map().expect("map");
    let a = r
        .render(&demo_scene(&map, 7, None), 320, 240)
        .expect("render");
    let b = r
        .render(&demo_scene(&map, 7, None), 320, 240)
        .expect("render");
    assert!(a == b, "same scene, different pixels");
    // The demo view shows water, which scrolls with the tick.
    let mut s = demo_scene(&map, 7, None);
    s.camera = [-200.0, -100.0];
    let c = r.render(&s, 320, 240).expect("render");
    s.hud.tick = 27;
    let d = r.render(&s, 320, 240).expect("render");
    assert!(c != d, "water did not move between ticks");
}

#[test]
fn overlays_change_the_picture() {
    let Some(mut r) = renderer() else { return };
    let map = demo_map().expect("map");
    let plain = r.render(&demo_scene(&map, 0, None), W, H).expect("render");
    for (name, overlay) in [
        ("dead", Overlay::Dead),
        ("paused", Overlay::Paused),
        (
            "list",
            Overlay::PlayerList(vec!["you".into(), "Alice".into()]),
        ),
        (
            "connecting",
            Overlay::Connecting {
                message: "Downloading map".into(),
                progress: Some(0.5),
            },
        ),
        ("error", Overlay::Error("Connection refused".into())),
    ] {
        let img = r
            .render(&demo_scene(&map, 0, Some(overlay)), W, H)
            .expect("render");
        assert!(img != plain, "{name} overlay changed nothing");
        write_png(out_path(&format!("render_overlay_{name}.png")), W, H, &img).expect("png");
    }
    // The death screen tints the picture red.
    let dead = r
        .render(&demo_scene(&map, 0, Some(Overlay::Dead)), W, H)
        .expect("render");
    let p = pixel(&dead, 700, 550);
    assert!(p[0] > p[1] && p[0] > p[2], "not red-tinted: {p:?}");
}

#[test]
fn bad_sizes_are_errors_not_panics() {
    let Some(mut r) = renderer() else { return };
    let map = demo_map().expect("map");
    let scene = demo_scene(&map, 0, None);
    assert!(matches!(
        r.render(&scene, 0, 10),
        Err(RenderError::InvalidSize { .. })
    ));
    assert!(matches!(
        r.render(&scene, 100_000, 10),
        Err(RenderError::InvalidSize { .. })
    ));
    // Odd sizes (rows not a multiple of 256 bytes) read back correctly.
    let img = r.render(&scene, 33, 7).expect("render");
    assert_eq!(img.len(), 33 * 7 * 4);
}

/// Names in other scripts get real glyphs in their tags (the UI fonts), not the bitmap font's
/// "?" for every character: the tag holds bright text pixels, and two names that differ in one
/// character draw differently. (The player list is egui text in the same fonts: see
/// `ui::view`'s test of names in every script.)
#[test]
fn name_tags_and_the_player_list_draw_names_in_every_script() {
    use tilegame_client::render::layout::tag_labels;
    let Some(mut r) = renderer() else { return };
    let map = demo_map().expect("map");
    let tag_pixels = |r: &mut OffscreenRenderer, name: &str| {
        let mut scene = demo_scene(&map, 0, Some(Overlay::UiLayer));
        scene.players[1].name = name.into();
        let labels = tag_labels(&scene, W, H);
        assert_eq!(labels.len(), 1, "{name}: {labels:?}");
        let [x, y, w, h] = labels[0].rect;
        assert!(w >= h, "{name}: a box as wide as the text ({w})");
        let rgba = r.render(&scene, W, H).expect("render");
        write_png(out_path(&format!("tag_{name}.png")), W, H, &rgba).expect("png");
        let mut inside = Vec::new();
        for py in y.max(0.0) as u32..((y + h) as u32).min(H) {
            for px in x.max(0.0) as u32..((x + w) as u32).min(W) {
                inside.push(pixel(&rgba, px, py));
            }
        }
        let bright = inside.iter().filter(|p| p.iter().all(|&c| c > 160)).count();
        assert!(bright > 20, "{name}: only {bright} text pixels in its tag");
        inside
    };
    for name in ["Zoë", "Łukasz", "Дмитрий", "さくら", "王小明"] {
        tag_pixels(&mut r, name);
    }
    assert_ne!(
        tag_pixels(&mut r, "さくら"),
        tag_pixels(&mut r, "さくま"),
        "different kana draw the same (placeholder glyphs?)"
    );
}
