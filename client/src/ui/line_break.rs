//! Line breaking for Japanese and Chinese text.
//!
//! Why it exists: egui may break a line between any two kana or ideographs, so Japanese labels
//! wrapped as "サーバ/ー" (a line starting with the prolonged sound mark), "バイ/ト数" or
//! "スペー/ス". Here a line may break between two characters only where Japanese typesetting
//! allows it and a word stays whole: never before a character that may not start a line
//! (kinsoku: "ー", small kana, closing brackets and punctuation), never after an opening
//! bracket, never inside a katakana word or a run of Latin letters and digits, and at spaces.
//! [`wrap`] then fills lines greedily with the pieces between those points; the caller draws
//! the result with its own newlines.

/// Characters that may not start a line (JIS X 4051 kinsoku, as egui lists them).
const NO_LINE_START: &str = ")]｝〕〉》」』】〙〗〟'\"｠»ヽヾーァィゥェォッャュョヮヵヶぁぃぅぇぉっゃゅょゎゕゖㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ々〻‐゠–〜?!‼⁇⁈⁉・、:;,。.！％），．：；？］”’…";
/// Characters that may not end a line.
const NO_LINE_END: &str = "([｛〔〈《「『【〘〖〝'\"｟«（［“‘";

/// Kana, ideographs and CJK punctuation: text in which egui would break anywhere.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3000}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}' | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{FF00}'..='\u{FFEF}')
}

/// A katakana word's characters (with the prolonged sound mark and the middle dot's neighbours).
fn is_katakana(c: char) -> bool {
    matches!(c, '\u{30A0}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}' | '\u{FF66}'..='\u{FF9F}')
        && c != '・'
}

/// Whether any character of `text` is CJK (only such text needs [`wrap`]).
pub fn has_cjk(text: &str) -> bool {
    text.chars().any(is_cjk)
}

/// Whether a line may break between `a` and `b`.
pub fn break_allowed(a: char, b: char) -> bool {
    if a.is_whitespace() && a != '\u{a0}' {
        return !NO_LINE_START.contains(b);
    }
    if b.is_whitespace() || NO_LINE_START.contains(b) || NO_LINE_END.contains(a) {
        return false;
    }
    if is_katakana(a) && is_katakana(b) {
        return false;
    }
    // Between two CJK characters, or where CJK meets other text; not inside a Latin word.
    is_cjk(a) || is_cjk(b)
}

/// `text` cut after every point where a line may break (see [`break_allowed`]).
pub fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        if let Some(p) = prev {
            if p == '\n' || break_allowed(p, c) {
                out.push(&text[start..i]);
                start = i;
            }
        }
        prev = Some(c);
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// `text` with newlines where a line must break to stay within `max_width`, as measured by
/// `width` (of a whole line's text), breaking only between [`pieces`]; a piece wider than the
/// line gets a line of its own. Existing newlines are kept.
pub fn wrap(text: &str, max_width: f32, width: impl Fn(&str) -> f32) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut line = String::new();
    for piece in pieces(text) {
        let candidate = format!("{line}{piece}");
        if !line.is_empty() && !line.ends_with('\n') && width(candidate.trim_end()) > max_width {
            out.push_str(line.trim_end_matches(' '));
            out.push('\n');
            line = piece.trim_start_matches(' ').to_owned();
        } else {
            line = candidate;
        }
        if line.ends_with('\n') {
            out.push_str(&line);
            line.clear();
        }
    }
    out.push_str(&line);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Full-width CJK characters 2 units wide, others 1.
    fn cells(s: &str) -> f32 {
        s.chars().map(|c| if is_cjk(c) { 2.0 } else { 1.0 }).sum()
    }

    #[test]
    fn katakana_words_stay_whole_and_no_line_starts_with_a_forbidden_character() {
        let texts = [
            "デバッグ情報（座標、ティック、ピング、バイト数）",
            "サーバーのアドレスを入力してください。",
            "スペース：マップ、Tab：プレイヤー一覧",
            "このコンピューターでサーバーを起動中…",
        ];
        for text in texts {
            for max in 6..40 {
                let wrapped = wrap(text, max as f32, cells);
                assert_eq!(wrapped.replace('\n', ""), text.replace('\n', ""), "{max}");
                for line in wrapped.lines().skip(1) {
                    let first = line.chars().next().expect("no empty line");
                    assert!(!NO_LINE_START.contains(first), "{max}: {wrapped:?}");
                }
                for word in [
                    "サーバー",
                    "バイト",
                    "スペース",
                    "ティック",
                    "コンピューター",
                ] {
                    if text.contains(word) {
                        assert!(wrapped.contains(word), "{max}: {word} split in {wrapped:?}");
                    }
                }
            }
        }
        // Latin words are not split either; a line breaks at the space.
        assert_eq!(wrap("Tick 5 Ping 12 ms", 9.0, cells), "Tick 5\nPing 12\nms");
        assert_eq!(pieces("サーバー1台"), ["サーバー", "1", "台"]);
    }
}
