//! The replay viewer's timeline bar: a track along the bottom of the window with the played
//! part, keyframe and join marks, the play-head, and the time (`mm:ss / mm:ss`) and tick,
//! painted with egui shapes over the frame.
//!
//! Why it lives here: the bar is drawn by the renderer's UI layer, and clicks on it must land
//! where it is drawn. Drawing and hit-testing both go through one [`BarLayout`] (in physical
//! pixels, the unit of [`super::InputState`]): [`BarLayout::x_of`] places a recorded time on
//! the track and [`BarLayout::time_at`] is its inverse, so a click on column `x` seeks to the
//! time that the play-head is then drawn at, on that column. The bar knows nothing of
//! recordings: the viewer hands it times in microseconds.

use egui::{Align2, Color32, FontId, Pos2, Rect};

/// Panel height in points.
const PANEL_H: f32 = 52.0;
/// Space between the window's sides and the track's ends, in points.
const SIDE_PAD: f32 = 16.0;
/// Distance from the panel's bottom to the track's centre line, in points.
const TRACK_FROM_BOTTOM: f32 = 15.0;
/// Track thickness, in points.
const TRACK_H: f32 = 8.0;
/// How far keyframe marks reach above and below the track's centre, in points.
const KEYFRAME_REACH: f32 = 8.0;
/// How far the play-head line reaches above and below the track's centre, in points.
const CURSOR_REACH: f32 = 12.0;
/// Join marks: triangles this tall, pointing down at the track from just above it, in points.
const JOIN_H: f32 = 8.0;
/// Play-head line width, in points.
const CURSOR_W: f32 = 3.0;

/// The panel behind the bar.
pub const PANEL_COLOR: Color32 = Color32::from_rgba_premultiplied(0, 0, 0, 200);
/// The part of the track still to play.
pub const TRACK_COLOR: Color32 = Color32::from_rgb(72, 76, 90);
/// The part of the track already played.
pub const ELAPSED_COLOR: Color32 = Color32::from_rgb(70, 150, 235);
/// Keyframe marks.
pub const KEYFRAME_COLOR: Color32 = Color32::from_rgb(230, 230, 235);
/// Join marks (a player, or the recording client itself, joined).
pub const JOIN_COLOR: Color32 = Color32::from_rgb(110, 225, 120);
/// The play-head.
pub const CURSOR_COLOR: Color32 = Color32::from_rgb(255, 205, 40);

/// What the bar shows; times are recorded microseconds from the recording's start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimelineBar<'a> {
    /// The recording's length.
    pub total_micros: u64,
    /// The play-head.
    pub cursor_micros: u64,
    /// The tick shown at the play-head.
    pub tick: u32,
    /// Times of the keyframes (seek points), ascending.
    pub keyframes: &'a [u64],
    /// Times at which players joined, ascending.
    pub joins: &'a [u64],
    /// Text at the right end of the bar (speed, paused).
    pub note: &'a str,
}

/// Where the bar sits in a window, in physical pixels: the one place that maps x ↔ time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarLayout {
    /// The panel: `[left, top, right, bottom]`. Clicks inside it seek.
    pub panel: [f32; 4],
    /// The track's ends and centre line: `[left, centre y, right]`.
    pub track: [f32; 3],
    /// Physical pixels per point (sizes scale with it).
    pub pixels_per_point: f32,
}

impl BarLayout {
    /// The bar along the bottom of a `window` (physical pixels) shown at `pixels_per_point`.
    pub fn new(window: [f32; 2], pixels_per_point: f32) -> BarLayout {
        let s = if pixels_per_point.is_finite() && pixels_per_point > 0.0 {
            pixels_per_point
        } else {
            1.0
        };
        let [w, h] = window.map(|v| if v.is_finite() { v.max(1.0) } else { 1.0 });
        let panel_h = (PANEL_H * s).min(h);
        let pad = (SIDE_PAD * s).min(w / 4.0);
        BarLayout {
            panel: [0.0, h - panel_h, w, h],
            track: [pad, h - TRACK_FROM_BOTTOM * s, w - pad],
            pixels_per_point: s,
        }
    }

    /// The panel's height in physical pixels (what the HUD keeps free at the bottom).
    pub fn height(&self) -> f32 {
        self.panel[3] - self.panel[1]
    }

    /// Whether `p` (physical pixels) is on the drawn bar.
    pub fn contains(&self, p: [f32; 2]) -> bool {
        let [l, t, r, b] = self.panel;
        p[0] >= l && p[0] < r && p[1] >= t && p[1] < b
    }

    /// The x (physical pixels) at which recorded time `t` is drawn on a track spanning `total`.
    pub fn x_of(&self, t: u64, total: u64) -> f32 {
        let [l, _, r] = self.track;
        if total == 0 {
            return l;
        }
        let f = t.min(total) as f64 / total as f64;
        l + ((r - l) as f64 * f) as f32
    }

    /// The recorded time drawn at `x` (physical pixels) on a track spanning `total`: the inverse
    /// of [`Self::x_of`], clamped to `0..=total` beyond the track's ends.
    pub fn time_at(&self, x: f32, total: u64) -> u64 {
        let [l, _, r] = self.track;
        if !x.is_finite() || r <= l {
            return 0;
        }
        let f = f64::from(((x - l) / (r - l)).clamp(0.0, 1.0));
        ((f * total as f64).round() as u64).min(total)
    }
}

/// The columns (x, physical pixels) at which marks for `times` are drawn: each column once, in
/// the order first met, so there are never more than the track is wide.
pub fn mark_columns(layout: &BarLayout, times: &[u64], total: u64) -> Vec<f32> {
    let [l, _, r] = layout.track;
    let width = (r - l).max(0.0) as usize + 2;
    let mut seen = vec![false; width];
    let mut out = Vec::new();
    for &t in times {
        let x = layout.x_of(t, total).round();
        let i = ((x - l).round().max(0.0) as usize).min(width - 1);
        if !std::mem::replace(&mut seen[i], true) {
            out.push(x);
        }
    }
    out
}

/// `mm:ss` (or `h:mm:ss` from an hour on) of `micros`.
pub fn clock_text(micros: u64) -> String {
    let s = micros / 1_000_000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// The bar's text: `mm:ss / mm:ss   tick N`.
pub fn label(bar: &TimelineBar) -> String {
    format!(
        "{} / {}   tick {}",
        clock_text(bar.cursor_micros.min(bar.total_micros)),
        clock_text(bar.total_micros),
        bar.tick
    )
}

/// Paints `bar` at `layout` on egui's background layer of `ctx` (under egui windows, over the
/// world and the HUD).
pub fn paint(ctx: &egui::Context, layout: &BarLayout, bar: &TimelineBar) {
    let painter = ctx.layer_painter(egui::LayerId::new(
        egui::Order::Background,
        egui::Id::unique("tilegame-timeline-bar"),
    ));
    // Everything is placed in physical pixels, then handed to egui in points.
    let s = layout.pixels_per_point;
    let pt = |x: f32, y: f32| Pos2::new(x / s, y / s);
    let rect = |l: f32, t: f32, r: f32, b: f32| Rect::from_min_max(pt(l, t), pt(r, b));
    let total = bar.total_micros;
    let [pl, pt_, pr, pb] = layout.panel;
    painter.rect_filled(rect(pl, pt_, pr, pb), 0.0, PANEL_COLOR);

    let [tl, cy, tr] = layout.track;
    let half = TRACK_H * s / 2.0;
    let here = layout.x_of(bar.cursor_micros, total);
    painter.rect_filled(rect(tl, cy - half, tr, cy + half), 2.0, TRACK_COLOR);
    painter.rect_filled(rect(tl, cy - half, here, cy + half), 2.0, ELAPSED_COLOR);

    // Marks: at most one per pixel column, so a hostile file with millions of keyframes or
    // joins still paints at most a window's width of shapes.
    for x in mark_columns(layout, bar.keyframes, total) {
        let reach = KEYFRAME_REACH * s;
        painter.rect_filled(
            rect(x - s, cy - reach, x + s, cy + reach),
            0.0,
            KEYFRAME_COLOR,
        );
    }
    let (tip, top) = (cy - half - 2.0 * s, cy - half - (2.0 + JOIN_H) * s);
    for x in mark_columns(layout, bar.joins, total) {
        painter.add(egui::Shape::convex_polygon(
            vec![
                pt(x - JOIN_H * s / 2.0, top),
                pt(x + JOIN_H * s / 2.0, top),
                pt(x, tip),
            ],
            JOIN_COLOR,
            egui::Stroke::NONE,
        ));
    }

    // The play-head: a line across the track and a knob on it.
    let x = here.round();
    let cw = CURSOR_W * s / 2.0;
    painter.rect_filled(
        rect(x - cw, cy - CURSOR_REACH * s, x + cw, cy + CURSOR_REACH * s),
        0.0,
        CURSOR_COLOR,
    );
    painter.circle_filled(pt(x, cy), 6.0, CURSOR_COLOR);

    let text_y = pt_ + 4.0 * s;
    painter.text(
        pt(tl, text_y),
        Align2::LEFT_TOP,
        label(bar),
        FontId::monospace(14.0),
        Color32::WHITE,
    );
    if !bar.note.is_empty() {
        painter.text(
            pt(tr, text_y),
            Align2::RIGHT_TOP,
            bar.note,
            FontId::proportional(14.0),
            Color32::from_gray(200),
        );
    }
    // A legend in the middle of the text row, so the marks are readable without the docs.
    let mid = (tl + tr) / 2.0;
    let legend_font = FontId::proportional(13.0);
    let key = |x: f32, color: Color32, text: &str| {
        painter.rect_filled(
            rect(
                x - 3.0 * s,
                text_y + 4.0 * s,
                x + 3.0 * s,
                text_y + 14.0 * s,
            ),
            0.0,
            color,
        );
        painter.text(
            pt(x + 5.0 * s, text_y),
            Align2::LEFT_TOP,
            text,
            legend_font.clone(),
            Color32::from_gray(190),
        );
    };
    key(mid - 70.0 * s, KEYFRAME_COLOR, "keyframe");
    key(mid + 20.0 * s, JOIN_COLOR, "join");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_sits_at_the_bottom_and_scales() {
        let l = BarLayout::new([1280.0, 720.0], 1.0);
        assert_eq!(l.panel, [0.0, 668.0, 1280.0, 720.0]);
        assert_eq!(l.track, [16.0, 705.0, 1264.0]);
        assert_eq!(l.height(), 52.0);
        let l2 = BarLayout::new([2560.0, 1440.0], 2.0);
        assert_eq!(l2.height(), 104.0);
        assert_eq!(l2.track, [32.0, 1410.0, 2528.0]);
        // Nonsense sizes give a usable bar, never NaN.
        let bad = BarLayout::new([f32::NAN, -5.0], f32::INFINITY);
        assert!(bad.panel.iter().chain(&bad.track).all(|v| v.is_finite()));
    }

    #[test]
    fn hit_test_is_the_drawn_panel() {
        let l = BarLayout::new([1280.0, 720.0], 1.0);
        assert!(l.contains([0.0, 668.0]));
        assert!(l.contains([1279.0, 719.0]));
        assert!(!l.contains([640.0, 667.0]));
        assert!(!l.contains([640.0, 720.0]));
        assert!(!l.contains([1280.0, 700.0]));
    }

    #[test]
    fn x_and_time_are_inverse_on_every_column() {
        let l = BarLayout::new([1280.0, 720.0], 1.0);
        let total = 271_345_678;
        assert_eq!(l.x_of(0, total), 16.0);
        assert_eq!(l.x_of(total, total), 1264.0);
        assert_eq!(l.x_of(total / 2, total), 640.0);
        assert_eq!(l.time_at(640.0, total), total / 2);
        // A click on a column seeks to a time drawn on that same column.
        for x in 16..=1264 {
            let t = l.time_at(x as f32, total);
            assert_eq!(l.x_of(t, total).round(), x as f32, "column {x}");
        }
        // Beyond the ends: clamped; no length: time 0 drawn at the start.
        assert_eq!(l.time_at(0.0, total), 0);
        assert_eq!(l.time_at(5000.0, total), total);
        assert_eq!(l.time_at(f32::NAN, total), 0);
        assert_eq!(l.x_of(total * 2, total), 1264.0);
        assert_eq!((l.time_at(700.0, 0), l.x_of(5, 0)), (0, 16.0));
    }

    #[test]
    fn marks_are_one_per_column() {
        let l = BarLayout::new([116.0, 100.0], 1.0);
        // 84 px of track; a million keyframes give at most 85 marks.
        let many: Vec<u64> = (0..1_000_000).rev().collect();
        let cols = mark_columns(&l, &many, 1_000_000);
        assert_eq!(cols.len(), 85);
        assert_eq!(
            mark_columns(&l, &[0, 1, 500_000, 2_000_000], 1_000_000),
            [16.0, 58.0, 100.0]
        );
    }

    #[test]
    fn clock_and_label() {
        assert_eq!(clock_text(0), "00:00");
        assert_eq!(clock_text(65_999_999), "01:05");
        assert_eq!(clock_text(3_725_000_000), "1:02:05");
        let bar = TimelineBar {
            total_micros: 254_000_000,
            cursor_micros: 83_500_000,
            tick: 1670,
            keyframes: &[],
            joins: &[],
            note: "",
        };
        assert_eq!(label(&bar), "01:23 / 04:14   tick 1670");
    }
}
