//! The replay viewer's timeline bar, rendered offscreen through the real renderer and its egui
//! layer (Mesa's software rasteriser is enough), checked pixel by pixel: the play-head is drawn
//! on the column [`BarLayout::x_of`] gives (the column a click there seeks to), it moves when
//! the cursor does, and the played part, keyframe and join marks are where the layout puts them.
//!
//! Needs a graphics adapter: without one it fails, it does not skip. The pictures are kept
//! under the target folder (`timeline-bar-*.png`) for a person to look at.

#![cfg(feature = "render")]

use std::path::PathBuf;

use tilegame_client::render::demo::{demo_map, demo_scene};
use tilegame_client::render::timeline_bar::{
    self, BarLayout, TimelineBar, CURSOR_COLOR, ELAPSED_COLOR, JOIN_COLOR, KEYFRAME_COLOR,
    TRACK_COLOR,
};
use tilegame_client::render::{egui, write_png, OffscreenRenderer};

const W: u32 = 800;
const H: u32 = 600;
/// A 4-minute recording.
const TOTAL: u64 = 240_000_000;

fn rgb(c: egui::Color32) -> [u8; 3] {
    [c.r(), c.g(), c.b()]
}

fn pixel(rgba: &[u8], x: u32, y: u32) -> [u8; 3] {
    let i = ((y * W + x) * 4) as usize;
    [rgba[i], rgba[i + 1], rgba[i + 2]]
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(&x, y)| x.abs_diff(y) <= 12)
}

/// The frame with the bar at `cursor`, keyframes every minute and two joins.
fn render(r: &mut OffscreenRenderer, layout: &BarLayout, cursor: u64, name: &str) -> Vec<u8> {
    let map = demo_map().expect("the demo map");
    let mut scene = demo_scene(&map, 0, None);
    scene.hud.bottom_inset = layout.height();
    let keyframes = [0, 60_000_000, 120_000_000, 180_000_000];
    let joins = [30_000_000, 150_000_000];
    let rgba = r
        .render_with_ui(&scene, W, H, &mut |ctx| {
            let bar = TimelineBar {
                total_micros: TOTAL,
                cursor_micros: cursor,
                tick: (cursor / 50_000) as u32,
                keyframes: &keyframes,
                joins: &joins,
                note: "×1",
            };
            timeline_bar::paint(ctx, layout, &bar);
        })
        .expect("render the frame with the bar");
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("timeline-bar-{name}.png"));
    write_png(&path, W, H, &rgba).expect("save the picture");
    rgba
}

/// The columns of row `y` in the play-head's colour.
fn cursor_columns(rgba: &[u8], y: u32) -> Vec<u32> {
    (0..W)
        .filter(|&x| close(pixel(rgba, x, y), rgb(CURSOR_COLOR)))
        .collect()
}

#[test]
fn the_play_head_is_drawn_where_the_layout_maps_its_time() {
    let mut r = OffscreenRenderer::new().unwrap_or_else(|e| {
        panic!(
            "no graphics adapter for the timeline bar test: {e}; install Mesa \
             (mesa-vulkan-drivers libvulkan1 libegl1 libegl-mesa0 libgl1-mesa-dri)"
        )
    });
    let layout = BarLayout::new([W as f32, H as f32], 1.0);
    let [_, cy, _] = layout.track;
    // Below the track, where only the play-head reaches.
    let below = (cy + 10.0) as u32;
    let on_track = cy as u32;

    let mut seen = Vec::new();
    for (name, cursor) in [("early", 40_000_000u64), ("late", 200_000_000)] {
        let rgba = render(&mut r, &layout, cursor, name);
        let cols = cursor_columns(&rgba, below);
        let x = layout.x_of(cursor, TOTAL);
        assert!(
            !cols.is_empty() && cols.len() <= 4,
            "{name}: the play-head should be a line 3 pixels wide below the track, found \
             columns {cols:?}"
        );
        let centre = (cols[0] + cols[cols.len() - 1]) as f32 / 2.0 + 0.5;
        assert!(
            (centre - x).abs() <= 1.5,
            "{name}: play-head drawn at {centre}, the layout places {cursor} µs at {x}"
        );
        // Played to the left of it, still to play to the right.
        let left = pixel(&rgba, (x - 20.0) as u32, on_track);
        let right = pixel(&rgba, (x + 20.0) as u32, on_track);
        assert!(
            close(left, rgb(ELAPSED_COLOR)),
            "{name}: played part {left:?}"
        );
        assert!(
            close(right, rgb(TRACK_COLOR)),
            "{name}: part to play {right:?}"
        );
        // Clicking that column seeks back to (within a column of) the same time.
        let back = layout.time_at(centre.floor(), TOTAL);
        assert!(
            back.abs_diff(cursor) <= TOTAL / (layout.track[2] - layout.track[0]) as u64,
            "{name}: column {centre} maps to {back} µs, not {cursor}"
        );
        seen.push((centre, rgba));
    }
    let (a, b) = (&seen[0], &seen[1]);
    assert!(
        b.0 - a.0 > 400.0,
        "the play-head moved from {} to {}",
        a.0,
        b.0
    );
    // Where the early play-head was, the late frame shows the played track, and vice versa.
    assert!(cursor_columns(&b.1, below)
        .iter()
        .all(|c| (*c as f32 - a.0).abs() > 3.0));

    // A keyframe mark crosses the track at each minute (here at 1 and 3 minutes, away from
    // both play-heads), and joins are marked above the track.
    let frame = &a.1;
    for t in [60_000_000, 180_000_000] {
        let x = layout.x_of(t, TOTAL).round() as u32;
        let mark = (x - 1..=x).map(|c| pixel(frame, c, (cy - 6.0) as u32));
        assert!(
            mark.clone().any(|p| close(p, rgb(KEYFRAME_COLOR))),
            "keyframe at {t} µs (column {x}): {:?}",
            mark.collect::<Vec<_>>()
        );
    }
    for t in [30_000_000, 150_000_000] {
        let x = layout.x_of(t, TOTAL).round() as u32;
        let p = pixel(frame, x, (cy - 11.0) as u32);
        assert!(
            close(p, rgb(JOIN_COLOR)),
            "join at {t} µs (column {x}): {p:?}"
        );
    }
    // Nothing of the bar above its panel: the row above it is the world, as without a bar.
    let top = layout.panel[1] as u32 - 1;
    assert!(cursor_columns(frame, top).is_empty());
}
