//! The Rust emitter's output for a small spec that uses every kind of declaration: an enum, a
//! flag set, a struct with a presence mask, a union, and one state with a packet each way
//! (magic, string, list, compressed). The snapshot is the review surface for emitter changes.

use tilegame_codegen::load_str;
use tilegame_codegen::rust::{generate, Options};

const SPEC: &str = r#"Protocol(
    name: "mini",
    version: 2,
    doc: "A small protocol for the emitter snapshot.",
    max_frame: 4096,
    types: [
        Enum(name: "Color", doc: "A colour.", tag: U8, variants: [
            (name: "Red", value: 0, doc: "Warm."),
            (name: "Blue", value: 7, doc: "Cold."),
        ]),
        Flags(name: "Keys", doc: "Held keys.", repr: U16, bits: [
            (name: "jump", bit: 0, doc: "Space."),
            (name: "crouch", bit: 9, doc: "Ctrl."),
        ]),
        Struct(name: "Delta", doc: "What changed.", presence: true, fields: [
            (name: "id", ty: VarU32, doc: "Who."),
            (name: "color", ty: Option(Ref("Color")), doc: "New colour."),
            (name: "hp", ty: Option(U16), endian: Little, doc: "New health."),
        ]),
        Union(name: "Action", doc: "What to do.", tag: U8, variants: [
            (name: "Idle", value: 0, doc: "Nothing."),
            (name: "Paint", value: 1, doc: "Paint a tile.", fields: [
                (name: "color", ty: Ref("Color"), doc: "Which colour."),
                (name: "keys", ty: Ref("Keys"), doc: "Keys held."),
            ]),
        ]),
    ],
    states: [
        State(name: "Main", doc: "The only state.",
            to_server: [
                Packet(id: 0x00, name: "Hello", doc: "Opens the connection.", fields: [
                    (name: "magic", ty: Magic("MINI"), doc: "Always MINI."),
                    (name: "name", ty: String(max: 16, len: U8), doc: "Who is asking."),
                    (name: "action", ty: Ref("Action"), doc: "First action."),
                ]),
            ],
            to_client: [
                Packet(id: 0x01, name: "Update", doc: "What changed.", fields: [
                    (name: "tick", ty: U32, doc: "Server tick."),
                    (name: "deltas", ty: List(of: Ref("Delta"), max: 64), doc: "Changed players."),
                    (name: "blob", ty: Compressed(of: Bytes(max: 1024), max: 1100), doc: "Packed extras."),
                ]),
            ],
        ),
    ],
)
"#;

#[test]
fn mini_protocol() {
    let spec = load_str("spec/mini.ron", SPEC).unwrap_or_else(|e| panic!("{e}"));
    let code = generate(&spec, &Options::default()).expect("the emitted Rust parses");
    assert!(
        !code.contains("/work/") && !code.contains("spec/mini.ron"),
        "no paths in the output"
    );
    // Real binrw types, no hand-written shims.
    assert!(!code.contains("impl BinRead for") && !code.contains("impl BinWrite for"));
    for ty in [
        "Color", "Keys", "Delta", "Paint", "Action", "Hello", "Update",
    ] {
        let at = code
            .find(&format!(" {ty} {{"))
            .unwrap_or_else(|| panic!("{ty} is emitted"));
        let head = &code[code[..at].rfind("#[::binrw::binrw]").expect("a binrw type")..at];
        assert!(head.contains("#[brw(big)]"), "{ty}: {head}");
    }
    insta::assert_snapshot!(code);
}
