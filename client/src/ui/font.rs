//! The fonts shipped with the game: Noto Sans (Latin, Cyrillic) and Noto Sans CJK SC (kana,
//! Han) as a fallback, both SIL OFL 1.1, subset to the characters the UI needs (ASCII, Latin-1,
//! Latin Extended-A, and every character of every translation) and those a player name may hold
//! (Latin and Cyrillic letters and marks, kana, and the 5009 commonest ideographs).
//!
//! Why it exists: egui's built-in fonts have no CJK (and Noto Sans CJK has no Polish letters),
//! and the renderer's procedural font is ASCII only. Together the two cover every language,
//! "…" included. They are the only fonts: egui is built without its `default_fonts` (Ubuntu
//! Light, Hack and an icon font, 322 KB of the gzipped browser bundle, never drawn with),
//! so the monospace family is Noto Sans too (its digits are tabular, which is all the tick
//! counter needs), and the tests draw every screen with egui's missing-glyph policy set to
//! panic.
//!
//! They are compiled in as LZMA (`.lzma`) and inflated once on first use ([`ui_fonts`]), with
//! their outlines on a grid of 1/256 em: the fonts are most of the browser bundle, and LZMA
//! of the 256-unit faces is 45 % smaller than the gzip the server sends of the original
//! 1000-unit ones (the grid moves a point by at most 1/512 em, a tenth of a pixel at 48 px).
//! `client/assets/fonts/make-subset.sh` regenerates them after a translation changes; a test
//! fails while any character of a translation has no glyph.

/// The fonts in the order they are tried, as (name in egui, file compressed with LZMA).
const COMPRESSED_FONTS: [(&str, &[u8]); 2] = [
    (
        "noto-sans-subset",
        include_bytes!("../../assets/fonts/NotoSans-Subset.ttf.lzma"),
    ),
    (
        "noto-sans-cjk-sc-subset",
        include_bytes!("../../assets/fonts/NotoSansCJKsc-Subset.otf.lzma"),
    ),
];

/// The most memory the decoder may take, in KiB: the fonts are compressed with a 2 MiB
/// dictionary (`make-subset.sh`).
const LZMA_MEMORY_KIB: u32 = 4 * 1024;

/// Inflates one of the shipped `.lzma` files (empty, with an error logged, if it does not
/// inflate: then that font is left out).
fn inflate(name: &str, compressed: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut bytes = Vec::new();
    let inflated = lzma_rust2::LzmaReader::new_mem_limit(compressed, LZMA_MEMORY_KIB, None)
        .and_then(|mut reader| reader.read_to_end(&mut bytes));
    if let Err(e) = inflated {
        tracing::error!("the font {name} does not inflate: {e}");
        bytes.clear();
    }
    bytes
}

/// The fonts in the order they are tried, as (name in egui, file bytes): inflated once, on
/// first use.
pub fn ui_fonts() -> &'static [(&'static str, Vec<u8>)] {
    static FONTS: std::sync::OnceLock<Vec<(&'static str, Vec<u8>)>> = std::sync::OnceLock::new();
    FONTS.get_or_init(|| {
        COMPRESSED_FONTS
            .iter()
            .map(|(name, compressed)| (*name, inflate(name, compressed)))
            .collect()
    })
}

/// The shipped faces, parsed once.
fn faces() -> &'static [ttf_parser::Face<'static>] {
    static FACES: std::sync::OnceLock<Vec<ttf_parser::Face<'static>>> = std::sync::OnceLock::new();
    FACES.get_or_init(|| {
        ui_fonts()
            .iter()
            .filter_map(|(_, bytes)| ttf_parser::Face::parse(bytes, 0).ok())
            .collect()
    })
}

/// Whether one of the shipped fonts has a glyph for `c` (what the name form checks, so that no
/// name shows as a blank box).
pub fn can_draw(c: char) -> bool {
    faces().iter().any(|f| f.glyph_index(c).is_some())
}

/// `text` without the characters no shipped font draws, spaces collapsed: for text we show but
/// do not write (the crates' authors on the Credits screen: "خالد حسني (Khaled Hosny)" shows as
/// "(Khaled Hosny)", where egui, which lays out no right-to-left text, would draw boxes).
pub fn drawable(text: &str) -> String {
    text.split_whitespace()
        .map(|word| word.chars().filter(|c| can_draw(*c)).collect::<String>())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Makes the shipped fonts egui's only fonts, for both families (egui's widgets draw their
/// symbols, such as the check mark and the combo box arrow, as shapes, not text).
#[cfg(feature = "render")]
pub fn install(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::empty();
    // A font that did not inflate or parse is left out (egui would fail on it).
    let usable = ui_fonts()
        .iter()
        .filter(|(_, bytes)| ttf_parser::Face::parse(bytes, 0).is_ok());
    for (i, (name, bytes)) in usable.enumerate() {
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

    fn faces() -> &'static [ttf_parser::Face<'static>] {
        let faces = super::faces();
        assert_eq!(
            faces.len(),
            COMPRESSED_FONTS.len(),
            "a shipped font does not inflate or parse"
        );
        faces
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
                if !has_glyph(faces, c) && !missing.contains(&(code, c)) {
                    missing.push((code, c));
                }
            }
        }
        // What the UI code writes itself around the translations: the progress and traffic
        // figures ("Connecting…", "In 1.3 kB/min · Out …" with no-break spaces), the Credits
        // lines ("egui 0.37.0 — MIT OR Apache-2.0") and the replay timeline.
        for c in "…0123456789%/:—·\u{a0}"
            .chars()
            .chain((0x20u8..0x7f).map(char::from))
        {
            if !has_glyph(faces, c) {
                missing.push(("ui", c));
            }
        }
        // The Credits screen: the font licence and every crate's name, version and licence
        // (egui has no fallback font behind ours; the authors are shown through `drawable`).
        let credits = crate::ui::credits::crates().expect("build.rs listed the crates");
        let credit_text = credits
            .iter()
            .flat_map(|c| [c.name, c.version, c.licence])
            .chain([crate::ui::credits::FONT_LICENCE])
            .chain(crate::ui::credits::FONTS.iter().flat_map(|(f, l)| [*f, *l]));
        for c in credit_text.flat_map(str::chars).filter(|c| !c.is_control()) {
            if !has_glyph(faces, c) && !missing.contains(&("credits", c)) {
                missing.push(("credits", c));
            }
        }
        assert!(
            missing.is_empty(),
            "characters without a glyph (rerun client/assets/fonts/make-subset.sh): {missing:?}"
        );
    }

    #[test]
    fn drawable_leaves_out_what_no_font_draws() {
        assert_eq!(drawable("خالد حسني (Khaled Hosny)"), "(Khaled Hosny)");
        assert_eq!(
            drawable("Staś Małolepszy <stas@mozilla.com>"),
            "Staś Małolepszy <stas@mozilla.com>"
        );
        assert_eq!(drawable("王小明😀 and  Zoë"), "王小明 and Zoë");
        assert_eq!(drawable("😀"), "");
    }

    #[test]
    fn the_font_is_a_subset() {
        // The full Noto Sans CJK face has 65k glyphs and ~16 MB; the subsets must stay small
        // (the CJK one holds 5009 ideographs for names: about 1 MB, 0.5 MB compressed).
        let faces = faces();
        for (face, (name, bytes), (max_glyphs, max_bytes)) in faces_with_limits(faces) {
            assert!(
                face.number_of_glyphs() < max_glyphs,
                "{name}: {}",
                face.number_of_glyphs()
            );
            assert!(bytes.len() < max_bytes, "{name}: {} bytes", bytes.len());
        }
        // Each script is where it should be.
        for c in ['П', 'ł', 'é', '…'] {
            assert!(faces[0].glyph_index(c).is_some(), "{c}");
        }
        for c in ['日', '中', 'ン'] {
            assert!(faces[1].glyph_index(c).is_some(), "{c}");
        }
        // A rare ideograph (JIS level 2, not in GB 2312) is left out.
        assert!(!has_glyph(faces, '鬱'));
        // The fallback holds nothing Noto Sans draws (egui would never draw it from there):
        // its Latin and Cyrillic glyphs are left out.
        let mut both = Vec::new();
        for table in faces[1].tables().cmap.iter().flat_map(|c| c.subtables) {
            table.codepoints(|cp| {
                if let Some(c) = char::from_u32(cp) {
                    if faces[0].glyph_index(c).is_some() && !both.contains(&c) {
                        both.push(c);
                    }
                }
            });
        }
        assert!(both.is_empty(), "in both fonts: {both:?}");
    }

    #[test]
    fn the_fonts_ship_compressed_on_a_256_unit_grid() {
        let faces = faces();
        for (face, ((name, compressed), (_, bytes))) in
            faces.iter().zip(COMPRESSED_FONTS.iter().zip(ui_fonts()))
        {
            assert_eq!(face.units_per_em(), 256, "{name}");
            assert!(
                compressed.len() * 10 < bytes.len() * 9,
                "{name}: {} bytes compressed, {} inflated",
                compressed.len(),
                bytes.len()
            );
        }
        // What the browser downloads of them (the page's gzip cannot shrink LZMA further).
        let shipped: usize = COMPRESSED_FONTS.iter().map(|(_, c)| c.len()).sum();
        assert!(shipped < 600_000, "{shipped} bytes of fonts");
    }

    #[test]
    fn a_damaged_font_is_left_out_without_a_panic() {
        assert!(inflate("test", b"not lzma").is_empty());
        let (_, compressed) = COMPRESSED_FONTS[0];
        assert!(inflate("test", &compressed[..compressed.len() / 2]).is_empty());
    }

    fn faces_with_limits(
        faces: &'static [ttf_parser::Face<'static>],
    ) -> impl Iterator<
        Item = (
            &'static ttf_parser::Face<'static>,
            (&'static str, &'static [u8]),
            (u16, usize),
        ),
    > {
        faces
            .iter()
            .zip(ui_fonts().iter().map(|(n, b)| (*n, b.as_slice())))
            .zip([(3_000, 400_000), (6_500, 1_500_000)])
            .map(|((f, n), l)| (f, n, l))
    }

    /// The spec's alphabet of names (`tilegame_game::name_char_allowed`) against the fonts:
    /// every letter and mark of the Latin, Cyrillic and kana blocks that a name may hold has a
    /// glyph, and so do the commonest ideographs (a sample of names, and at least 5000 in all).
    #[test]
    fn the_fonts_draw_the_alphabet_of_names() {
        let faces = faces();
        let blocks = [
            0x20..0x250,
            0x300..0x370,
            0x400..0x530,
            0x1E00..0x1F00,
            0x3040..0x3100,
            0x31F0..0x3200,
        ];
        let missing: Vec<String> = blocks
            .into_iter()
            .flatten()
            .filter_map(char::from_u32)
            .filter(|c| tilegame_game::name_char_allowed(*c) && !has_glyph(faces, *c))
            .map(|c| format!("U+{:04X}", u32::from(c)))
            .collect();
        assert!(
            missing.is_empty(),
            "letters a name may hold without a glyph (rerun make-subset.sh): {missing:?}"
        );
        for name in [
            "Zoë",
            "Łukasz",
            "Дмитрий",
            "さくら",
            "王小明",
            "山田太郎",
            "张伟",
            "José",
        ] {
            assert!(
                name.chars().all(|c| has_glyph(faces, c) && can_draw(c)),
                "{name}"
            );
        }
        let han = (0x4E00..0xA000)
            .filter_map(char::from_u32)
            .filter(|c| faces[1].glyph_index(*c).is_some())
            .count();
        assert!(han >= 5000, "{han} ideographs");
        // What the form refuses as undrawable although the server would take it.
        assert!(!can_draw('鬱') && tilegame_game::name_char_allowed('鬱'));
        assert!(!can_draw('😀'));
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
