//! A tiny built-in bitmap font: printable ASCII as 5×8 pixel glyphs.
//!
//! Why: name tags, the HUD and menus need text, and the project ships no font files. Each glyph
//! is five column bytes (bit 0 = top row, bit 7 = the descender row), written out below. The
//! glyphs are rasterised once into the texture sheet (see [`super::atlas`]); text is then drawn
//! as one textured quad per glyph, at an integer scale so pixels stay crisp.
//! Characters outside printable ASCII are drawn as `?`.

use super::atlas::Image;

/// Glyph width in font pixels.
pub const GLYPH_W: u32 = 5;
/// Glyph height in font pixels (7 rows + 1 descender row).
pub const GLYPH_H: u32 = 8;
/// Horizontal advance per character in font pixels (glyph + 1 px spacing).
pub const ADVANCE: u32 = 6;
/// Line height in font pixels.
pub const LINE_HEIGHT: u32 = 10;
/// Glyphs per row in the sheet's glyph grid.
pub const GRID_COLUMNS: u32 = 16;
/// Side of a glyph's cell in the sheet's grid.
pub const GRID_CELL: u32 = 8;

const FIRST: u8 = b' ';
const LAST: u8 = b'~';
/// Glyphs in the grid (printable ASCII, ' ' to '~').
pub const GLYPH_COUNT: u32 = (LAST - FIRST + 1) as u32;

/// Column bitmaps of ' ' ..= '~'.
#[rustfmt::skip]
const GLYPHS: [[u8; 5]; (LAST - FIRST + 1) as usize] = [
    [0x00, 0x00, 0x00, 0x00, 0x00], // ' '
    [0x00, 0x00, 0x5F, 0x00, 0x00], // !
    [0x00, 0x07, 0x00, 0x07, 0x00], // "
    [0x14, 0x7F, 0x14, 0x7F, 0x14], // #
    [0x24, 0x2A, 0x7F, 0x2A, 0x12], // $
    [0x23, 0x13, 0x08, 0x64, 0x62], // %
    [0x36, 0x49, 0x55, 0x22, 0x50], // &
    [0x00, 0x05, 0x03, 0x00, 0x00], // '
    [0x00, 0x1C, 0x22, 0x41, 0x00], // (
    [0x00, 0x41, 0x22, 0x1C, 0x00], // )
    [0x14, 0x08, 0x3E, 0x08, 0x14], // *
    [0x08, 0x08, 0x3E, 0x08, 0x08], // +
    [0x00, 0x80, 0x60, 0x00, 0x00], // ,
    [0x08, 0x08, 0x08, 0x08, 0x08], // -
    [0x00, 0x60, 0x60, 0x00, 0x00], // .
    [0x20, 0x10, 0x08, 0x04, 0x02], // /
    [0x3E, 0x51, 0x49, 0x45, 0x3E], // 0
    [0x00, 0x42, 0x7F, 0x40, 0x00], // 1
    [0x42, 0x61, 0x51, 0x49, 0x46], // 2
    [0x21, 0x41, 0x45, 0x4B, 0x31], // 3
    [0x18, 0x14, 0x12, 0x7F, 0x10], // 4
    [0x27, 0x45, 0x45, 0x45, 0x39], // 5
    [0x3C, 0x4A, 0x49, 0x49, 0x30], // 6
    [0x01, 0x71, 0x09, 0x05, 0x03], // 7
    [0x36, 0x49, 0x49, 0x49, 0x36], // 8
    [0x06, 0x49, 0x49, 0x29, 0x1E], // 9
    [0x00, 0x36, 0x36, 0x00, 0x00], // :
    [0x00, 0x56, 0x36, 0x00, 0x00], // ;
    [0x08, 0x14, 0x22, 0x41, 0x00], // <
    [0x14, 0x14, 0x14, 0x14, 0x14], // =
    [0x00, 0x41, 0x22, 0x14, 0x08], // >
    [0x02, 0x01, 0x51, 0x09, 0x06], // ?
    [0x32, 0x49, 0x79, 0x41, 0x3E], // @
    [0x7E, 0x11, 0x11, 0x11, 0x7E], // A
    [0x7F, 0x49, 0x49, 0x49, 0x36], // B
    [0x3E, 0x41, 0x41, 0x41, 0x22], // C
    [0x7F, 0x41, 0x41, 0x22, 0x1C], // D
    [0x7F, 0x49, 0x49, 0x49, 0x41], // E
    [0x7F, 0x09, 0x09, 0x09, 0x01], // F
    [0x3E, 0x41, 0x49, 0x49, 0x7A], // G
    [0x7F, 0x08, 0x08, 0x08, 0x7F], // H
    [0x00, 0x41, 0x7F, 0x41, 0x00], // I
    [0x20, 0x40, 0x41, 0x3F, 0x01], // J
    [0x7F, 0x08, 0x14, 0x22, 0x41], // K
    [0x7F, 0x40, 0x40, 0x40, 0x40], // L
    [0x7F, 0x02, 0x0C, 0x02, 0x7F], // M
    [0x7F, 0x04, 0x08, 0x10, 0x7F], // N
    [0x3E, 0x41, 0x41, 0x41, 0x3E], // O
    [0x7F, 0x09, 0x09, 0x09, 0x06], // P
    [0x3E, 0x41, 0x51, 0x21, 0x5E], // Q
    [0x7F, 0x09, 0x19, 0x29, 0x46], // R
    [0x46, 0x49, 0x49, 0x49, 0x31], // S
    [0x01, 0x01, 0x7F, 0x01, 0x01], // T
    [0x3F, 0x40, 0x40, 0x40, 0x3F], // U
    [0x1F, 0x20, 0x40, 0x20, 0x1F], // V
    [0x3F, 0x40, 0x38, 0x40, 0x3F], // W
    [0x63, 0x14, 0x08, 0x14, 0x63], // X
    [0x07, 0x08, 0x70, 0x08, 0x07], // Y
    [0x61, 0x51, 0x49, 0x45, 0x43], // Z
    [0x00, 0x7F, 0x41, 0x41, 0x00], // [
    [0x02, 0x04, 0x08, 0x10, 0x20], // backslash
    [0x00, 0x41, 0x41, 0x7F, 0x00], // ]
    [0x04, 0x02, 0x01, 0x02, 0x04], // ^
    [0x80, 0x80, 0x80, 0x80, 0x80], // _
    [0x00, 0x01, 0x02, 0x04, 0x00], // `
    [0x20, 0x54, 0x54, 0x54, 0x78], // a
    [0x7F, 0x48, 0x44, 0x44, 0x38], // b
    [0x38, 0x44, 0x44, 0x44, 0x20], // c
    [0x38, 0x44, 0x44, 0x48, 0x7F], // d
    [0x38, 0x54, 0x54, 0x54, 0x18], // e
    [0x08, 0x7E, 0x09, 0x01, 0x02], // f
    [0x18, 0xA4, 0xA4, 0xA4, 0x7C], // g
    [0x7F, 0x08, 0x04, 0x04, 0x78], // h
    [0x00, 0x44, 0x7D, 0x40, 0x00], // i
    [0x40, 0x80, 0x84, 0x7D, 0x00], // j
    [0x7F, 0x10, 0x28, 0x44, 0x00], // k
    [0x00, 0x41, 0x7F, 0x40, 0x00], // l
    [0x7C, 0x04, 0x18, 0x04, 0x78], // m
    [0x7C, 0x08, 0x04, 0x04, 0x78], // n
    [0x38, 0x44, 0x44, 0x44, 0x38], // o
    [0xFC, 0x24, 0x24, 0x24, 0x18], // p
    [0x18, 0x24, 0x24, 0x24, 0xFC], // q
    [0x7C, 0x08, 0x04, 0x04, 0x08], // r
    [0x48, 0x54, 0x54, 0x54, 0x20], // s
    [0x04, 0x3F, 0x44, 0x40, 0x20], // t
    [0x3C, 0x40, 0x40, 0x20, 0x7C], // u
    [0x1C, 0x20, 0x40, 0x20, 0x1C], // v
    [0x3C, 0x40, 0x30, 0x40, 0x3C], // w
    [0x44, 0x28, 0x10, 0x28, 0x44], // x
    [0x1C, 0xA0, 0xA0, 0xA0, 0x7C], // y
    [0x44, 0x64, 0x54, 0x4C, 0x44], // z
    [0x00, 0x08, 0x36, 0x41, 0x00], // {
    [0x00, 0x00, 0x7F, 0x00, 0x00], // |
    [0x00, 0x41, 0x36, 0x08, 0x00], // }
    [0x08, 0x04, 0x08, 0x10, 0x08], // ~
];

/// The character actually drawn for `c` (`?` for anything the font lacks).
pub fn drawn_char(c: char) -> u8 {
    match u8::try_from(c) {
        Ok(b) if (FIRST..=LAST).contains(&b) => b,
        _ => b'?',
    }
}

/// `c`'s place in the glyph grid (0 for ' ', row-major, [`GRID_COLUMNS`] per row).
pub fn glyph_index(c: char) -> u8 {
    drawn_char(c) - FIRST
}

/// The five column bytes of `c`'s glyph.
pub fn glyph_columns(c: char) -> [u8; 5] {
    GLYPHS[usize::from(drawn_char(c) - FIRST)]
}

/// Whether font pixel (`x`, `y`) of `c`'s glyph is set.
pub fn glyph_pixel(c: char, x: u32, y: u32) -> bool {
    x < GLYPH_W && y < GLYPH_H && glyph_columns(c)[x as usize] >> y & 1 == 1
}

/// Top-left corner of `c`'s glyph in the texture sheet.
pub fn glyph_origin(c: char) -> (u32, u32) {
    let i = u32::from(glyph_index(c));
    let (ox, oy) = super::atlas::FONT_ORIGIN;
    (
        ox + (i % GRID_COLUMNS) * GRID_CELL,
        oy + (i / GRID_COLUMNS) * GRID_CELL,
    )
}

/// Writes every glyph, white on transparent, into `img` with the grid at `origin`.
pub fn rasterize_into(img: &mut Image, origin: (u32, u32)) {
    for b in FIRST..=LAST {
        let c = char::from(b);
        let i = u32::from(b - FIRST);
        let gx = origin.0 + (i % GRID_COLUMNS) * GRID_CELL;
        let gy = origin.1 + (i / GRID_COLUMNS) * GRID_CELL;
        for y in 0..GLYPH_H {
            for x in 0..GLYPH_W {
                if glyph_pixel(c, x, y) {
                    img.put(gx + x, gy + y, [255, 255, 255, 255]);
                }
            }
        }
    }
}

/// Width in screen pixels of `text` drawn at `scale` (no trailing spacing).
pub fn text_width(text: &str, scale: f32) -> f32 {
    let n = text.chars().count() as f32;
    if n == 0.0 {
        0.0
    } else {
        (n * ADVANCE as f32 - 1.0) * scale
    }
}

/// Splits `text` into lines of at most `max_chars` characters, breaking at spaces when it can.
pub fn wrap(text: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(1);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split(' ') {
            let mut word: Vec<char> = word.chars().collect();
            loop {
                let line_len = line.chars().count();
                let sep = usize::from(line_len > 0);
                if line_len + sep + word.len() <= max_chars {
                    if sep == 1 {
                        line.push(' ');
                    }
                    line.extend(word.iter());
                    break;
                }
                if line_len > 0 {
                    lines.push(std::mem::take(&mut line));
                    continue;
                }
                // A word longer than a line: hard-break it.
                let rest = word.split_off(max_chars);
                lines.push(word.iter().collect());
                word = rest;
            }
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyphs_are_distinct_and_non_empty() {
        for (i, g) in GLYPHS.iter().enumerate().skip(1) {
            assert!(
                g.iter().any(|&c| c != 0),
                "glyph {} is empty",
                i as u8 + FIRST
            );
            for (j, h) in GLYPHS.iter().enumerate().skip(i + 1) {
                assert_ne!(
                    g,
                    h,
                    "glyphs {:?} and {:?} are identical",
                    char::from(i as u8 + FIRST),
                    char::from(j as u8 + FIRST)
                );
            }
        }
        assert_eq!(glyph_columns(' '), [0; 5]);
    }

    #[test]
    fn unknown_chars_fall_back_to_question_mark() {
        assert_eq!(glyph_columns('é'), glyph_columns('?'));
        assert_eq!(glyph_columns('\n'), glyph_columns('?'));
        assert_eq!(glyph_origin('€'), glyph_origin('?'));
    }

    #[test]
    fn letters_look_right() {
        // 'I' is a vertical bar with serifs; 'H' has two posts and a bar; '-' a middle line.
        let rows = |c: char| -> Vec<String> {
            (0..7)
                .map(|y| {
                    (0..GLYPH_W)
                        .map(|x| if glyph_pixel(c, x, y) { '#' } else { '.' })
                        .collect()
                })
                .collect()
        };
        assert_eq!(
            rows('H'),
            ["#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"]
        );
        assert_eq!(
            rows('T'),
            ["#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."]
        );
        assert_eq!(rows('-')[3], "#####");
        // Descenders use the eighth row.
        assert!(glyph_pixel('g', 2, 7) && !glyph_pixel('a', 2, 7));
    }

    #[test]
    fn rasterised_grid_matches_bits() {
        let mut img = Image::new(128, 48);
        rasterize_into(&mut img, (0, 0));
        let i = u32::from(b'A' - FIRST);
        let (gx, gy) = (
            (i % GRID_COLUMNS) * GRID_CELL,
            (i / GRID_COLUMNS) * GRID_CELL,
        );
        for y in 0..GLYPH_H {
            for x in 0..GLYPH_W {
                assert_eq!(img.get(gx + x, gy + y)[3] == 255, glyph_pixel('A', x, y));
            }
        }
    }

    #[test]
    fn width_and_wrap() {
        assert_eq!(text_width("", 2.0), 0.0);
        assert_eq!(text_width("ab", 1.0), 11.0);
        assert_eq!(wrap("hello big world", 9), ["hello big", "world"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("a\nb", 10), ["a", "b"]);
    }
}
