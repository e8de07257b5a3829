//! One snapshot per spec rule: the rendered diagnostics a maintainer sees for a small bad spec.
//!
//! Each test also asserts which rules fired, so that a snapshot accepted by mistake cannot hide a
//! rule that stopped firing; the snapshots pin the message, the `file:line:column` and the caret.

use tilegame_codegen::{load_str, SpecErrors};

const FILE: &str = "spec/bad.ron";

fn load_err(src: &str) -> SpecErrors {
    match load_str(FILE, src) {
        Ok(_) => panic!("spec unexpectedly valid:\n{src}"),
        Err(e) => e,
    }
}

/// The rendered diagnostics for `src`, after checking that exactly `rules` fired (in order).
fn check(src: &str, rules: &[&str]) -> String {
    let e = load_err(src);
    let fired: Vec<&str> = e.diagnostics.iter().map(|d| d.rule).collect();
    assert_eq!(fired, rules, "rules fired for:\n{e}");
    e.to_string()
}

/// The source text each diagnostic's span starts with, to check positions without snapshots.
fn span_texts(src: &str) -> Vec<String> {
    load_err(src)
        .diagnostics
        .iter()
        .map(|d| src[d.span.clone()].to_owned())
        .collect()
}

#[test]
fn syntax_missing_comma() {
    let src = r#"Protocol(
    name: "bad",
    version: 1
    types: [],
)
"#;
    insta::assert_snapshot!(check(src, &["syntax"]));
}

#[test]
fn unknown_key_did_you_mean() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Struct(name: "Point", fields: [
            (name: "x", tpye: U16),
        ]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["unknown-key"]));
}

#[test]
fn duplicate_id() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    states: [
        State(name: "Play", to_server: [
            Packet(id: 0x01, name: "Input"),
            Packet(id: 0x01, name: "Ping"),
        ]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["duplicate-id"]));
    assert_eq!(span_texts(src), ["0x01"]);
}

#[test]
fn duplicate_name_field() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Struct(name: "Point", fields: [
            (name: "x", ty: U16),
            (name: "x", ty: U16),
        ]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["duplicate-name"]));
}

#[test]
fn duplicate_name_packet() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    states: [
        State(name: "Play",
            to_server: [Packet(id: 0, name: "Ping")],
            to_client: [Packet(id: 0, name: "Ping")],
        ),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["duplicate-name"]));
}

#[test]
fn duplicate_name_type() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Struct(name: "Point", fields: [(name: "x", ty: U16)]),
        Enum(name: "Point", tag: U8, variants: [(name: "Origin", value: 0)]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["duplicate-name"]));
}

#[test]
fn unknown_type() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Struct(name: "Position", fields: [(name: "x", ty: I32)]),
        Struct(name: "Player", fields: [
            (name: "at", ty: Ref("Postion")),
            (name: "items", ty: List(of: Ref("Item"), max: 8)),
        ]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["unknown-type", "unknown-type"]));
}

#[test]
fn cyclic_type() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Struct(name: "Tree", fields: [(name: "children", ty: List(of: Ref("Node"), max: 4))]),
        Struct(name: "Node", fields: [(name: "tree", ty: Option(Ref("Tree")))]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["cyclic-type"]));
}

#[test]
fn bound_overflow() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Struct(name: "Sign", fields: [(name: "text", ty: String(max: 300, len: U8))]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["bound-overflow"]));
}

#[test]
fn bound_zero() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Struct(name: "Inventory", fields: [(name: "items", ty: List(of: U8, max: 0))]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["bound-zero"]));
}

#[test]
fn bound_too_large() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    max_frame: 100000000,
    types: [
        Struct(name: "Blob", fields: [(name: "data", ty: Bytes(max: 100000000))]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["bound-too-large", "bound-too-large"]));
    assert_eq!(span_texts(src), ["100000000", "Bytes(max: 100000000)"]);
}

#[test]
fn invalid_name_field() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Struct(name: "Player", fields: [(name: "playerId", ty: U32)]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["invalid-name"]));
}

#[test]
fn invalid_name_type() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Struct(name: "tile_pos", fields: [(name: "x", ty: U16)]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["invalid-name"]));
}

#[test]
fn reserved_word_field() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Struct(name: "Tile", fields: [(name: "type", ty: U8)]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["reserved-word"]));
}

#[test]
fn reserved_word_type() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Struct(name: "Packet", fields: [(name: "id", ty: U8)]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["reserved-word"]));
}

#[test]
fn value_overflow_enum_value() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Enum(name: "Color", tag: U8, variants: [
            (name: "Red", value: 0),
            (name: "Blue", value: 256),
        ]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["value-overflow"]));
}

#[test]
fn value_overflow_packet_id() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    states: [
        State(name: "Play", to_client: [Packet(id: 300, name: "Pong")]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["value-overflow"]));
}

#[test]
fn value_overflow_flag_bit() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Flags(name: "Keys", repr: U8, bits: [
            (name: "jump", bit: 0),
            (name: "crouch", bit: 9),
        ]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["value-overflow"]));
}

#[test]
fn duplicate_value() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Enum(name: "Color", tag: U8, variants: [
            (name: "Red", value: 1),
            (name: "Blue", value: 1),
        ]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["duplicate-value"]));
}

#[test]
fn float_not_allowed() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Struct(name: "Velocity", fields: [(name: "dx", ty: F32)]),
        Struct(name: "Physics", floats: true, fields: [(name: "mass", ty: F64)]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["float-not-allowed"]));
}

#[test]
fn magic_position() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    states: [
        State(name: "Handshake", to_server: [
            Packet(id: 0, name: "Hello", fields: [
                (name: "version", ty: U32),
                (name: "magic", ty: Magic("TGME")),
            ]),
        ]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["magic-position"]));
}

#[test]
fn magic_invalid() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    states: [
        State(name: "Handshake", to_server: [
            Packet(id: 0, name: "Hello", fields: [(name: "magic", ty: Magic("TG ME"))]),
        ]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["magic-invalid"]));
}

#[test]
fn nested_option() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Struct(name: "Delta", fields: [(name: "health", ty: Option(Option(U8)))]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["nested-option"]));
}

#[test]
fn empty_type() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Enum(name: "Nothing", tag: U8, variants: []),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["empty-type"]));
}

#[test]
fn invalid_version() {
    let src = r#"Protocol(
    name: "bad",
    version: 0,
)
"#;
    insta::assert_snapshot!(check(src, &["invalid-version"]));
    assert_eq!(span_texts(src), ["0"]);
}

#[test]
fn endian_not_applicable() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Enum(name: "Color", tag: U16, variants: [(name: "Red", value: 0)]),
        Struct(name: "Pixel", fields: [
            (name: "id", ty: VarU32, endian: Little),
            (name: "color", ty: Ref("Color"), endian: Big),
            (name: "label", ty: String(max: 16, len: U8), endian: Little),
            (name: "level", ty: U8, endian: Little),
        ]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["endian-not-applicable"; 4]));
    assert_eq!(span_texts(src), ["Little", "Big", "Little", "Little"]);
}

#[test]
fn endian_accepted_where_it_applies() {
    let src = r#"Protocol(
    name: "fine",
    version: 1,
    types: [
        Struct(name: "Pixel", fields: [
            (name: "x", ty: I16, endian: Little),
            (name: "ids", ty: List(of: U32, max: 8), endian: Little),
            (name: "grid", ty: Array(of: U16, len: 4), endian: Big),
            (name: "hp", ty: Option(U16), endian: Little),
            (name: "names", ty: List(of: U8, max: 8, len: U16), endian: Little),
            (name: "label", ty: String(max: 300, len: U16), endian: Little),
            (name: "packed", ty: Compressed(of: U64, max: 8), endian: Little),
        ]),
    ],
)
"#;
    if let Err(e) = load_str(FILE, src) {
        panic!("endian overrides that change bytes must be accepted:\n{e}");
    }
}

/// One pass reports every problem, in source order, each with its own position.
#[test]
fn several_problems_in_one_pass() {
    let src = r#"Protocol(
    name: "bad",
    version: 0,
    types: [
        Struct(name: "point", fields: [
            (name: "x", ty: U16),
            (name: "x", ty: Ref("Vec2")),
        ]),
    ],
    states: [
        State(name: "Play", to_server: [
            Packet(id: 1, name: "Input", fields: [(name: "text", ty: String(max: 0))]),
            Packet(id: 1, name: "Ping"),
        ]),
    ],
)
"#;
    insta::assert_snapshot!(check(
        src,
        &[
            "invalid-version",
            "invalid-name",
            "duplicate-name",
            "unknown-type",
            "bound-zero",
            "duplicate-id",
        ]
    ));
}

/// `file:line:column: rule: message` without a regex crate: `^spec/bad.ron:\d+:\d+: [a-z-]+: `.
fn is_diagnostic_head(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("spec/bad.ron:") else {
        return false;
    };
    let number = |s: &str| -> Option<usize> {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        (digits > 0).then_some(digits)
    };
    let Some(n) = number(rest) else { return false };
    let Some(rest) = rest[n..].strip_prefix(':') else {
        return false;
    };
    let Some(n) = number(rest) else { return false };
    let Some(rest) = rest[n..].strip_prefix(": ") else {
        return false;
    };
    let rule = rest
        .bytes()
        .take_while(|b| b.is_ascii_lowercase() || *b == b'-')
        .count();
    rule > 0 && rest[rule..].starts_with(": ")
}

/// Every diagnostic of every case starts with `file:line:column: rule: message`, and its
/// line:column is where the offending text is.
#[test]
fn every_diagnostic_starts_with_file_line_column_rule() {
    // (spec body on line 4, rule, text the position must point at, which occurrence of that
    // text on the line: 0 = the first)
    let cases: &[(&str, &str, &str, usize)] = &[
        (
            r#"types: [Struct(name: "A", fields: [(name: "a", tpye: U8)])]"#,
            "unknown-key",
            "tpye",
            0,
        ),
        (
            r#"states: [State(name: "S", to_server: [Packet(id: 7, name: "A"), Packet(id: 7, name: "B")])]"#,
            "duplicate-id",
            "7",
            1,
        ),
        (
            r#"types: [Struct(name: "A", fields: [(name: "a", ty: U8), (name: "a", ty: U8)])]"#,
            "duplicate-name",
            r#""a""#,
            1,
        ),
        (
            r#"types: [Struct(name: "A", fields: [(name: "a", ty: Ref("B"))])]"#,
            "unknown-type",
            r#"Ref("B")"#,
            0,
        ),
        (
            r#"types: [Struct(name: "A", fields: [(name: "a", ty: Ref("A"))])]"#,
            "cyclic-type",
            r#""A""#,
            0,
        ),
        (
            r#"types: [Struct(name: "A", fields: [(name: "a", ty: Bytes(max: 300, len: U8))])]"#,
            "bound-overflow",
            "Bytes(",
            0,
        ),
        (
            r#"types: [Struct(name: "A", fields: [(name: "a", ty: Array(of: U8, len: 0))])]"#,
            "bound-zero",
            "Array(",
            0,
        ),
        (
            r#"types: [Struct(name: "A", fields: [(name: "a", ty: Compressed(of: U8, max: 99999999))])]"#,
            "bound-too-large",
            "Compressed(",
            0,
        ),
        (
            r#"types: [Struct(name: "A", fields: [(name: "Bad", ty: U8)])]"#,
            "invalid-name",
            r#""Bad""#,
            0,
        ),
        (
            r#"types: [Struct(name: "A", fields: [(name: "fn", ty: U8)])]"#,
            "reserved-word",
            r#""fn""#,
            0,
        ),
        (
            r#"types: [Enum(name: "A", tag: U8, variants: [(name: "B", value: 999)])]"#,
            "value-overflow",
            "999",
            0,
        ),
        (
            r#"types: [Flags(name: "A", repr: U8, bits: [(name: "b", bit: 3), (name: "c", bit: 3)])]"#,
            "duplicate-value",
            "3",
            1,
        ),
        (
            r#"types: [Struct(name: "A", fields: [(name: "a", ty: List(of: F64, max: 2))])]"#,
            "float-not-allowed",
            "List(",
            0,
        ),
        (
            r#"types: [Struct(name: "A", fields: [(name: "a", ty: Option(Magic("X")))])]"#,
            "magic-position",
            "Option(",
            0,
        ),
        (
            r#"types: [Struct(name: "A", fields: [(name: "a", ty: Magic(""))])]"#,
            "magic-invalid",
            "Magic(",
            0,
        ),
        (
            r#"types: [Struct(name: "A", fields: [(name: "a", ty: Option(Option(U8)))])]"#,
            "nested-option",
            "Option(",
            0,
        ),
        (
            r#"types: [Union(name: "A", tag: U8, variants: [])]"#,
            "empty-type",
            r#""A""#,
            0,
        ),
        (
            r#"types: [Struct(name: "A", fields: [(name: "a", ty: Bool, endian: Little)])]"#,
            "endian-not-applicable",
            "Little",
            0,
        ),
    ];
    let mut rules = std::collections::BTreeSet::new();
    for (body, rule, at, nth) in cases {
        let src = format!("Protocol(\n    name: \"bad\",\n    version: 1,\n    {body},\n)\n");
        let e = load_err(&src);
        assert_eq!(e.diagnostics.len(), 1, "{e}");
        let d = &e.diagnostics[0];
        assert_eq!(d.rule, *rule, "{e}");
        let rendered = d.render(&e.source);
        let head = rendered.lines().next().unwrap();
        assert!(is_diagnostic_head(head), "bad first line: {head}");
        let line = src.lines().nth(3).unwrap();
        let column = line
            .match_indices(at)
            .nth(*nth)
            .expect("the case names its text")
            .0
            + 1;
        let location = format!("spec/bad.ron:4:{column}: {rule}: ");
        assert!(
            head.starts_with(&location),
            "expected {location}\n{rendered}"
        );
        assert!(
            src[d.span.start..].starts_with(at),
            "{rule} points at {:?}, not {at:?}",
            &src[d.span.clone()]
        );
        rules.insert(*rule);
    }
    assert_eq!(rules.len(), cases.len());
    assert!(!is_diagnostic_head("spec/bad.ron:4: duplicate-id: x"));
    assert!(!is_diagnostic_head("spec/bad.ron:4:5: Duplicate: x"));
}

// ---- recovery: syntax errors do not hide the rest -------------------------------------------

/// Five different problems, two of them syntax errors (a missing `,` and an unclosed `(`).
const FIVE_PROBLEMS: &str = include_str!("fixtures/five_problems.ron");

#[test]
fn five_problems_two_of_them_syntax_all_reported_in_file_order() {
    let out = check(
        FIVE_PROBLEMS,
        &[
            "syntax",
            "unknown-type",
            "syntax",
            "bound-zero",
            "duplicate-id",
        ],
    );
    insta::assert_snapshot!(out);
}

#[test]
fn several_syntax_errors_in_one_file() {
    let src = r#"Protocol(
    name: "bad"
    version: 1,
    types: [
        Struct(name: "A", fields: [(name: "a", ty: U8)]),
        Struct(name: "B" fields: [(name: "b", ty: U8)]),
        Struct(name: "C", fields: [(name: "c", ty: U8)]),
    ],
    states: [
        State(name: "Play", to_server: [
            Packet(id: 1, name: "Input", fields: [(name: "x", ty: U8),
        ]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["syntax", "syntax", "syntax"]));
}

#[test]
fn unclosed_delimiter_points_at_the_opener() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Struct(name: "Point", fields: [
            (name: "x", ty: U16,
        ]),
    ],
)
"#;
    insta::assert_snapshot!(check(src, &["syntax"]));
    assert_eq!(span_texts(src), ["("]);
    let e = load_err(src);
    let (second, label) = &e.diagnostics[0].secondary[0];
    assert_eq!(&src[second.clone()], "]", "{label}");
}

#[test]
fn unclosed_at_end_of_file() {
    let src = "Protocol(\n    name: \"bad\",\n    version: 1,\n    types: [\n";
    let out = check(src, &["syntax"]);
    assert!(out.contains("also unclosed"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn stray_closer_and_unterminated_string() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Struct(name: "A", fields: [(name: "a", ty: U8)])),
    ],
    states: [State(name: "Play", doc: "never closed)],
)
"#;
    insta::assert_snapshot!(check(src, &["syntax", "syntax"]));
}

#[test]
fn builtin_did_you_mean() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Struct(name: "A", fields: [
            (name: "a", ty: Uint32),
            (name: "b", ty: Varint),
            (name: "c", ty: Ref("U16")),
        ]),
    ],
)
"#;
    let out = check(src, &["unknown-type", "unknown-type", "unknown-type"]);
    assert!(out.contains("did you mean `U32`?"), "{out}");
    assert!(out.contains("did you mean `VarU32`?"), "{out}");
    assert!(out.contains("the builtin `U16`"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn misspelt_doc_is_an_error() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    dco: "A typo.",
)
"#;
    let out = check(src, &["unknown-key"]);
    assert!(out.contains("did you mean `doc`?"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn missing_key() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [Struct(name: "A", fields: [(name: "a")])],
)
"#;
    insta::assert_snapshot!(check(src, &["missing-key"]));
}

#[test]
fn max_frame_zero() {
    let src = "Protocol(\n    name: \"bad\",\n    version: 1,\n    max_frame: 0,\n)\n";
    let out = check(src, &["bound-zero"]);
    assert!(!out.contains("keep them small"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn array_of_zero_items() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [Struct(name: "A", fields: [(name: "a", ty: Array(of: U8, len: 0))])],
)
"#;
    let out = check(src, &["bound-zero"]);
    assert!(out.contains("array of 0 items"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn name_clash_points_at_both_declarations() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Struct(name: "Ping", fields: [(name: "a", ty: U8)]),
    ],
    states: [
        State(name: "Play", to_server: [Packet(id: 1, name: "Ping")]),
    ],
)
"#;
    let e = load_err(src);
    let d = &e.diagnostics[0];
    assert_eq!(d.secondary.len(), 1, "{e}");
    assert_eq!(&src[d.secondary[0].0.clone()], "\"Ping\"");
    assert!(d.secondary[0].0.start < d.span.start);
    insta::assert_snapshot!(check(src, &["duplicate-name"]));
}

/// A type whose declaration does not parse is not reported again as unknown where it is used.
#[test]
fn a_broken_declaration_is_reported_once() {
    let src = r#"Protocol(
    name: "bad",
    version: 1,
    types: [
        Struct(name: "Point", fields: [(name: "x", ty: U16, bits: 3)]),
        Enum(name: "E", tag: U8, variants: [(name: "A", valeu: 0)]),
        Struct(name: "Line", fields: [(name: "a", ty: Ref("Point")), (name: "e", ty: Ref("E"))]),
    ],
)
"#;
    check(src, &["unknown-key", "unknown-key"]);
}

/// Recovery never panics and always reports something, however the file is cut or damaged.
#[test]
fn damaged_real_spec_never_panics() {
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../protocol/spec/tilegame.ron"
    ))
    .expect("read spec");
    let boundaries: Vec<usize> = (0..spec.len())
        .filter(|&i| spec.is_char_boundary(i))
        .step_by(53)
        .collect();
    for &cut in &boundaries {
        if spec[cut..].trim().is_empty()
            || spec[..cut].trim_end().ends_with(')') && cut > spec.len() - 3
        {
            continue;
        }
        let truncated = &spec[..cut];
        assert!(load_str(FILE, truncated).is_err(), "cut at {cut} parsed");
        // Drop one structural character.
        let c = spec[cut..].chars().next().unwrap_or(' ');
        if matches!(c, '(' | ')' | '[' | ']' | ',' | ':' | '"') {
            let damaged = format!("{}{}", &spec[..cut], &spec[cut + 1..]);
            let _ = load_str(FILE, &damaged);
        }
    }
}

/// Hostile nesting is reported, not followed into a stack overflow.
#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let src = format!(
        "Protocol(name: \"bad\", version: 1, doc: {}{})",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let e = load_err(&src);
    assert!(!e.diagnostics.is_empty());
    let unclosed = format!(
        "Protocol(name: \"bad\", version: 1, doc: {}",
        "(".repeat(50_000)
    );
    let _ = load_err(&unclosed);
}

/// Random damage to the real spec (80 seeded variants of 1 to 4 edits each) never panics and always
/// reports something in range.
#[test]
fn randomly_damaged_spec_never_panics() {
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../protocol/spec/tilegame.ron"
    ))
    .expect("read spec");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const PIECES: &[&str] = &[
        "(", ")", "[", "]", ",", ":", "\"", "é", "/*", "//", "0x", "-", "r#\"", "U8", " ",
    ];
    for _ in 0..80 {
        let mut text = spec.clone();
        for _ in 0..(1 + next() % 4) {
            let mut at = (next() % text.len() as u64) as usize;
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            match next() % 3 {
                0 => {
                    let end = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
                    text.replace_range(at..end, "");
                }
                _ => text.insert_str(at, PIECES[(next() % PIECES.len() as u64) as usize]),
            }
        }
        if let Err(e) = load_str(FILE, &text) {
            for d in &e.diagnostics {
                assert!(
                    d.span.start <= text.len() && d.span.end <= text.len(),
                    "{d:?}"
                );
                let _ = d.render(&text);
            }
        }
    }
}
