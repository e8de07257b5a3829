//! The Markdown reference: a snapshot of a small spec, and the committed `docs/PROTOCOL.md`.

use std::path::{Path, PathBuf};

use tilegame_codegen::{docs, hash, load, load_str};

const DEMO: &str = r#"Protocol(
    name: "demo",
    version: 3,
    doc: "A small protocol for the docs snapshot.",
    max_frame: 4096,
    types: [
        Enum(name: "Color", doc: "A colour.", tag: U8, variants: [
            (name: "Red", value: 0, doc: "Warm."),
            (name: "Blue", value: 1, doc: "Cold | wet."),
        ]),
        Flags(name: "Keys", doc: "Held keys.", repr: U16, bits: [
            (name: "jump", bit: 0, doc: "Space."),
            (name: "crouch", bit: 9, doc: "Ctrl."),
        ]),
        Struct(name: "Point", doc: "A point.", fields: [
            (name: "x", ty: I16, doc: "Across."),
            (name: "y", ty: I16, endian: Little, doc: "Down."),
        ]),
        Union(name: "Shape", doc: "Something to draw.", tag: U8, variants: [
            (name: "Empty", value: 0, doc: "Nothing."),
            (name: "Dot", value: 1, doc: "One point.", fields: [
                (name: "at", ty: Ref("Point"), doc: "Where."),
            ]),
        ]),
        Struct(name: "Delta", doc: "What changed.", presence: true, fields: [
            (name: "id", ty: VarU32, doc: "Who."),
            (name: "color", ty: Option(Ref("Color")), doc: "New colour."),
            (name: "label", ty: Option(String(max: 8, len: U8)), doc: "New label."),
        ]),
    ],
    states: [
        State(name: "Main", doc: "The only state.", to_server: [
            Packet(id: 0x00, name: "Hello", doc: "Opens the connection.", fields: [
                (name: "magic", ty: Magic("DEMO"), doc: "Always DEMO."),
                (name: "keys", ty: Ref("Keys"), doc: "Keys held."),
                (name: "nick", ty: Option(String(max: 16)), doc: "Optional nickname."),
                (name: "corner", ty: Array(of: Ref("Point"), len: 2), doc: "Two corners."),
            ]),
        ], to_client: [
            Packet(id: 0x10, name: "Update", doc: "What changed.", fields: [
                (name: "shapes", ty: List(of: Ref("Shape"), max: 4, len: U8), doc: "Shapes."),
                (name: "deltas", ty: List(of: Ref("Delta"), max: 16), doc: "Deltas."),
                (name: "blob", ty: Compressed(of: Bytes(max: 1000), max: 1000), doc: "Packed."),
            ]),
            Packet(id: 0x11, name: "Bye", doc: "Closes."),
        ]),
    ],
)"#;

/// The spec hash is computed elsewhere and may change independently; keep it out of snapshots.
fn redact_hash(text: &str, spec: &tilegame_codegen::SpecFile) -> String {
    text.replace(
        &format!("0x{:016x}", hash::spec_hash(&spec.protocol)),
        "0x<spec hash>",
    )
}

#[test]
fn demo_reference() {
    let spec = load_str("specs/demo.ron", DEMO).unwrap_or_else(|e| panic!("{e}"));
    let text = docs::generate(std::slice::from_ref(&spec));
    assert!(text.starts_with(docs::HEADER));
    insta::assert_snapshot!(redact_hash(&text, &spec));
}

#[test]
fn output_is_deterministic() {
    let spec = load_str("demo.ron", DEMO).unwrap_or_else(|e| panic!("{e}"));
    let a = docs::generate(std::slice::from_ref(&spec));
    let again = load_str("demo.ron", DEMO).unwrap_or_else(|e| panic!("{e}"));
    let b = docs::generate(&[again]);
    assert_eq!(a, b);
}

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

#[test]
fn protocol_md_is_up_to_date() {
    let specs: Vec<_> = ["protocol/spec/tilegame.ron", "protocol/spec/replay.ron"]
        .iter()
        .map(|p| load(&repo_path(p)).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let mut expected = docs::generate(&specs);
    if !expected.ends_with('\n') {
        expected.push('\n');
    }
    let committed = std::fs::read_to_string(repo_path("docs/PROTOCOL.md")).unwrap_or_default();
    assert!(
        committed == expected,
        "docs/PROTOCOL.md is stale: run `cargo run -p tilegame-codegen -- doc protocol/spec/tilegame.ron \
         protocol/spec/replay.ron -o docs/PROTOCOL.md`"
    );
}
