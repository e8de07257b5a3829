//! The fonts shipped with the game: Noto Sans (Latin, Cyrillic) and Noto Sans CJK SC (kana,
//! Han) as a fallback, both SIL OFL 1.1, subset to the characters the UI needs (ASCII, Latin-1,
//! Latin Extended-A, and every character of every translation).
//!
//! Why it exists: egui's built-in fonts have no CJK (and Noto Sans CJK has no Polish letters),
//! and the renderer's procedural font is ASCII only. Together the two cover every language,
//! "…" included.
//! `client/assets/fonts/make-subset.sh` regenerates it after a translation changes; a test fails
//! while any character of a translation has no glyph.

/// The fonts in the order they are tried, as (name in egui, file bytes).
pub const UI_FONTS: [(&str, &[u8]); 2] = [
    (
        "noto-sans-subset",
        include_bytes!("../../assets/fonts/NotoSans-Subset.ttf"),
    ),
    (
        "noto-sans-cjk-sc-subset",
        include_bytes!("../../assets/fonts/NotoSansCJKsc-Subset.otf"),
    ),
];

/// Makes the shipped font egui's first choice for both families (egui's own fonts stay behind it
/// for the symbols its widgets draw).
#[cfg(feature = "render")]
pub fn install(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::default();
    for (i, (name, bytes)) in UI_FONTS.iter().enumerate() {
        fonts.font_data.insert(
            (*name).to_owned(),
            std::sync::Arc::new(egui::FontData::from_static(bytes)),
        );
        for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
            fonts
                .families
                .entry(family)
                .or_default()
                .insert(i, (*name).to_owned());
        }
    }
    ctx.set_fonts(fonts);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::i18n::LANGUAGES;

    fn faces() -> Vec<ttf_parser::Face<'static>> {
        UI_FONTS
            .iter()
            .map(|(name, bytes)| {
                ttf_parser::Face::parse(bytes, 0).unwrap_or_else(|e| panic!("{name}: {e}"))
            })
            .collect()
    }

    fn has_glyph(faces: &[ttf_parser::Face], c: char) -> bool {
        faces.iter().any(|f| f.glyph_index(c).is_some())
    }

    #[test]
    fn every_locale_character_has_a_glyph() {
        let faces = faces();
        let mut missing = Vec::new();
        for (code, source) in LANGUAGES {
            for c in source.chars().filter(|c| !c.is_control()) {
                if !has_glyph(&faces, c) && !missing.contains(&(code, c)) {
                    missing.push((code, c));
                }
            }
        }
        for c in "…0123456789%/:"
            .chars()
            .chain((0x20u8..0x7f).map(char::from))
        {
            if !has_glyph(&faces, c) {
                missing.push(("ui", c));
            }
        }
        assert!(
            missing.is_empty(),
            "characters without a glyph (rerun client/assets/fonts/make-subset.sh): {missing:?}"
        );
    }

    #[test]
    fn the_font_is_a_subset() {
        // The full Noto Sans CJK face has 65k glyphs and ~16 MB; the subsets must stay small.
        let faces = faces();
        for (face, (name, bytes)) in faces.iter().zip(UI_FONTS) {
            assert!(
                face.number_of_glyphs() < 3000,
                "{name}: {}",
                face.number_of_glyphs()
            );
            assert!(bytes.len() < 400_000, "{name}: {} bytes", bytes.len());
        }
        // Each script is where it should be.
        for c in ['П', 'ł', 'é', '…'] {
            assert!(faces[0].glyph_index(c).is_some(), "{c}");
        }
        for c in ['日', '中', 'ン'] {
            assert!(faces[1].glyph_index(c).is_some(), "{c}");
        }
        assert!(!has_glyph(&faces, '鬱'));
    }

    #[cfg(feature = "render")]
    #[test]
    fn egui_renders_every_message_of_every_language() {
        use crate::ui::i18n::{message_ids, Localizer};
        let ctx = egui::Context::default();
        install(&ctx);
        // Fonts are loaded at the start of a pass.
        let mut output = ctx.run_pass(egui::RawInput::default(), |_| {});
        output.textures_delta.clear();
        let font = egui::FontId::proportional(18.0);
        let keys = message_ids(LANGUAGES[0].1);
        for (code, _) in LANGUAGES {
            let l = Localizer::new(code).unwrap();
            for key in &keys {
                let text = l.text(key);
                let ok = ctx.fonts_mut(|f| f.has_glyphs(&font, &text));
                assert!(
                    ok,
                    "{code}: {key}: {text:?} has characters egui cannot draw"
                );
            }
        }
        assert!(ctx.fonts_mut(|f| f.has_glyphs(&font, "Connecting…")));
    }
}
