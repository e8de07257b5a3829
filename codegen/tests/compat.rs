//! Classification of spec changes by `compat::diff`, one snapshot per kind of edit.
//!
//! Every case derives a new spec from `fixtures/compat/base.ron` by text replacement, so each
//! snapshot shows exactly the changes one edit produces.

use tilegame_codegen::compat::{self, Class};
use tilegame_codegen::load_str;

const BASE: &str = include_str!("fixtures/compat/base.ron");

/// `BASE` with each `(from, to)` replaced once; panics if `from` is missing (a stale test).
fn edit(replacements: &[(&str, &str)]) -> String {
    let mut text = BASE.to_owned();
    for (from, to) in replacements {
        assert!(text.contains(from), "fixture does not contain {from:?}");
        text = text.replacen(from, to, 1);
    }
    text
}

/// Renders the changes from `BASE` to `new`, one per line, plus the summary.
fn diff_base(new: &str) -> String {
    diff(BASE, new)
}

fn diff(old: &str, new: &str) -> String {
    let old = load_str("old.ron", old).unwrap_or_else(|e| panic!("{e}"));
    let new = load_str("new.ron", new).unwrap_or_else(|e| panic!("{e}"));
    let changes = compat::diff(&old, &new);
    let mut out: Vec<String> = changes.iter().map(ToString::to_string).collect();
    out.push(format!("is_breaking: {}", compat::is_breaking(&changes)));
    out.join("\n")
}

#[test]
fn identical_specs_have_no_changes() {
    assert_eq!(diff_base(BASE), "is_breaking: false");
}

#[test]
fn display_of_kinds() {
    assert_eq!(Class::Breaking.to_string(), "breaking");
    assert_eq!(Class::Compatible.to_string(), "compatible");
}

#[test]
fn packet_added_and_removed() {
    let new = edit(&[(
        r#"            Packet(id: 0x01, name: "Pong", doc: "Pong.", fields: [
                (name: "nonce", ty: U32, doc: "Nonce."),
            ]),"#,
        r#"            Packet(id: 0x02, name: "Kick", doc: "Kick.", fields: [
                (name: "reason", ty: String(max: 64), doc: "Reason."),
            ]),"#,
    )]);
    insta::assert_snapshot!(diff_base(&new));
}

#[test]
fn packet_renumbered() {
    insta::assert_snapshot!(diff_base(&edit(&[(
        r#"id: 0x01, name: "Pong""#,
        r#"id: 0x07, name: "Pong""#
    )])));
}

#[test]
fn packet_renamed_with_same_id_and_layout() {
    insta::assert_snapshot!(diff_base(&edit(&[(r#"name: "Pong""#, r#"name: "Echo""#)])));
}

#[test]
fn field_type_changed() {
    insta::assert_snapshot!(diff_base(&edit(&[
        (r#"(name: "nonce", ty: U32"#, r#"(name: "nonce", ty: U64"#),
        (
            r#"(name: "x", ty: U16"#,
            r#"(name: "x", ty: U16, endian: Little"#
        ),
    ])));
}

#[test]
fn field_order_changed() {
    let new = edit(&[(
        r#"(name: "x", ty: U16, doc: "X."),
            (name: "y", ty: U16, doc: "Y."),"#,
        r#"(name: "y", ty: U16, doc: "Y."),
            (name: "x", ty: U16, doc: "X."),"#,
    )]);
    insta::assert_snapshot!(diff_base(&new));
}

#[test]
fn field_added_and_removed() {
    let new = edit(&[
        (
            r#"                (name: "nonce", ty: U32, doc: "Nonce."),"#,
            r#"                (name: "nonce", ty: U32, doc: "Nonce."),
                (name: "sent_at", ty: U64, doc: "Sender clock."),"#,
        ),
        (
            r#"                (name: "seq", ty: VarU32, doc: "Seq."),
"#,
            "",
        ),
    ]);
    insta::assert_snapshot!(diff_base(&new));
}

#[test]
fn field_renamed_with_same_type_and_position() {
    insta::assert_snapshot!(diff_base(&edit(&[(
        r#"(name: "nonce", ty: U32"#,
        r#"(name: "token", ty: U32"#
    )])));
}

#[test]
fn bounds_raised_and_lowered() {
    insta::assert_snapshot!(diff_base(&edit(&[
        ("String(max: 16)", "String(max: 32)"),
        ("List(of: U8, max: 64)", "List(of: U8, max: 8)"),
    ])));
}

#[test]
fn length_prefix_changed() {
    insta::assert_snapshot!(diff_base(&edit(&[(
        "String(max: 16)",
        "String(max: 16, len: U8)"
    )])));
}

#[test]
fn enum_variants_added_removed_renumbered_renamed() {
    let new = edit(&[(
        r#"            (name: "Off", value: 0, doc: "Off."),
            (name: "On", value: 1, doc: "On."),
            (name: "Auto", value: 2, doc: "Auto."),"#,
        r#"            (name: "Disabled", value: 0, doc: "Off."),
            (name: "On", value: 3, doc: "On."),
            (name: "Eco", value: 4, doc: "Eco."),"#,
    )]);
    insta::assert_snapshot!(diff_base(&new));
}

#[test]
fn flags_and_union_changes() {
    let new = edit(&[
        (
            r#"(name: "down", bit: 1, doc: "Down."),"#,
            r#"(name: "down", bit: 2, doc: "Down."),
            (name: "jump", bit: 3, doc: "Jump."),"#,
        ),
        (
            r#"(name: "Idle", value: 0, doc: "Idle."),"#,
            r#"(name: "Idle", value: 0, doc: "Idle."),
            (name: "Wait", value: 2, doc: "Wait."),"#,
        ),
        (
            r#"(name: "to", ty: Ref("Pos"), doc: "To."),"#,
            r#"(name: "to", ty: Ref("Pos"), doc: "To."),
                (name: "run", ty: Bool, doc: "Run."),"#,
        ),
    ]);
    insta::assert_snapshot!(diff_base(&new));
}

#[test]
fn doc_only_changes_are_compatible() {
    let new = edit(&[
        (r#"doc: "Base.""#, r#"doc: "The base protocol.""#),
        (r#"doc: "Tick.""#, r#"doc: "The server tick.""#),
        (
            r#"(name: "Auto", value: 2, doc: "Auto.")"#,
            r#"(name: "Auto", value: 2, doc: "Automatic.")"#,
        ),
    ]);
    let out = diff_base(&new);
    assert!(out.ends_with("is_breaking: false"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn states_added_and_removed() {
    let new = edit(&[(
        r#"State(name: "Login", doc: "Login.", to_server: [
            Packet(id: 0x00, name: "Hello", doc: "Hello.", fields: [
                (name: "name", ty: String(max: 16), doc: "Name."),
            ]),
        ], to_client: []),"#,
        r#"State(name: "Lobby", doc: "Lobby.", to_server: [
            Packet(id: 0x00, name: "Ready", doc: "Ready."),
        ], to_client: []),"#,
    )]);
    insta::assert_snapshot!(diff_base(&new));
}

#[test]
fn state_renamed_with_same_packets() {
    insta::assert_snapshot!(diff_base(&edit(&[(
        r#"State(name: "Login""#,
        r#"State(name: "Auth""#
    )])));
}

#[test]
fn compressed_bound_and_max_frame() {
    let old = BASE
        .replacen(
            "doc: \"Base.\",",
            "doc: \"Base.\",\n    max_frame: 1024,",
            1,
        )
        .replacen(
            r#"(name: "nonce", ty: U32, doc: "Nonce."),"#,
            r#"(name: "nonce", ty: U32, doc: "Nonce."),
                (name: "blob", ty: Compressed(of: Bytes(max: 500), max: 500), doc: "Blob."),"#,
            1,
        );
    let new = old
        .replacen("max_frame: 1024", "max_frame: 2048", 1)
        .replacen("max: 500), max: 500)", "max: 500), max: 400)", 1);
    insta::assert_snapshot!(diff(&old, &new));
}

#[test]
fn version_bump_is_informational() {
    let out = diff_base(&edit(&[("version: 1,", "version: 2,")]));
    assert!(out.ends_with("is_breaking: false"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn type_renamed_when_wire_identical() {
    insta::assert_snapshot!(diff_base(&edit(&[
        (r#"Struct(name: "Pos""#, r#"Struct(name: "Point""#),
        (
            r#"(name: "to", ty: Ref("Pos")"#,
            r#"(name: "to", ty: Ref("Point")"#
        ),
        (
            r#"(name: "pos", ty: Ref("Pos")"#,
            r#"(name: "pos", ty: Ref("Point")"#
        ),
    ])));
}

#[test]
fn type_replaced_by_a_different_layout() {
    insta::assert_snapshot!(diff_base(&edit(&[(
        r#"Struct(name: "Pos", doc: "Pos.", fields: ["#,
        r#"Struct(name: "Pos", doc: "Pos.", fields: [
            (name: "z", ty: U8, doc: "Z."),"#
    ),])));
}

#[test]
fn change_display_format() {
    let out = diff_base(&edit(&[(
        r#"id: 0x01, name: "Pong""#,
        r#"id: 0x02, name: "Pong""#,
    )]));
    assert!(out.starts_with("breaking: play/to_client/Pong: "), "{out}");
}

#[test]
fn flipping_the_default_byte_order_flips_multi_byte_tags_only() {
    let wide_tag = (
        r#"Enum(name: "Mode", doc: "Mode.", tag: U8,"#,
        r#"Enum(name: "Mode", doc: "Mode.", tag: U16,"#,
    );
    let old = edit(&[wide_tag]);
    let new = edit(&[
        wide_tag,
        (r#"doc: "Base.","#, r#"doc: "Base.", endian: Little,"#),
    ]);
    let out = diff(&old, &new);
    assert!(
        out.contains("breaking: play/to_server/Input.mode: byte order of the `Mode` tag changed"),
        "{out}"
    );
    // One-byte tags and bits have no byte order.
    assert!(!out.contains("`Keys`") && !out.contains("`Act`"), "{out}");
    // Unchanged tags are not reported at each use.
    assert!(!diff_base(&old).contains("byte order of the"));
}
