//! Naming rules shared by validation and the emitters: case conversion and Rust keywords.

/// Words Rust reserves (strict and reserved keywords, 2021 edition and later).
pub const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// Names the generated code itself uses, which a spec must not take.
pub const GENERATED_NAMES: &[&str] = &[
    "Packet",
    "State",
    "ToServer",
    "ToClient",
    "Option",
    "Vec",
    "String",
    "Result",
    "Some",
    "None",
    "Ok",
    "Err",
    "Box",
    "DecodeError",
    "EncodeError",
];

/// Whether `word` is a Rust keyword.
pub fn is_keyword(word: &str) -> bool {
    RUST_KEYWORDS.contains(&word)
}

/// `PascalCase`: starts with an ASCII capital, then ASCII letters and digits.
pub fn is_pascal_case(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_alphanumeric())
}

/// `snake_case`: starts with a lowercase ASCII letter, then lowercase letters, digits and `_`.
pub fn is_snake_case(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.ends_with('_')
        && !name.contains("__")
}

/// `MapTransfer` → `map_transfer`.
pub fn to_snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `player_id` → `PLAYER_ID`, `MapBegin` → `MAP_BEGIN`.
pub fn to_screaming_case(name: &str) -> String {
    to_snake_case(name).to_ascii_uppercase()
}

/// `map_transfer` → `MapTransfer`.
pub fn to_pascal_case(name: &str) -> String {
    name.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            chars.next().map_or(String::new(), |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        assert_eq!(to_snake_case("MapTransfer"), "map_transfer");
        assert_eq!(to_screaming_case("ClientHello"), "CLIENT_HELLO");
        assert_eq!(to_pascal_case("map_transfer"), "MapTransfer");
        assert!(is_pascal_case("Snapshot2"));
        assert!(!is_pascal_case("snapshot"));
        assert!(is_snake_case("ack_seq"));
        assert!(!is_snake_case("AckSeq"));
        assert!(!is_snake_case("a__b"));
        assert!(is_keyword("type"));
    }
}
