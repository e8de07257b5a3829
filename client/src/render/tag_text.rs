//! Paints the name tag texts the bitmap font cannot draw ([`super::layout::TagLabel`]) with the
//! shipped UI fonts, on egui's background layer: above the world, below every menu and HUD
//! panel.
//!
//! Why it exists: the renderer's bitmap font is ASCII only, but names may be written in Latin
//! with diacritics, Cyrillic, kana or Han; egui already holds the Noto fonts that draw them.

use super::layout::TagLabel;

/// Paints `labels` (placed in physical pixels) into this egui pass.
pub fn paint(ctx: &egui::Context, labels: &[TagLabel]) {
    if labels.is_empty() {
        return;
    }
    let ppp = ctx.pixels_per_point().max(0.1);
    let painter = ctx.layer_painter(egui::LayerId::background());
    for l in labels {
        let [x, y, w, h] = l.rect.map(|v| v / ppp);
        let [r, g, b, a] = l.color;
        painter.text(
            egui::pos2(x + w / 2.0, y + h / 2.0),
            egui::Align2::CENTER_CENTER,
            &l.text,
            egui::FontId::proportional(h),
            egui::Color32::from_rgba_unmultiplied(r, g, b, a),
        );
    }
}
