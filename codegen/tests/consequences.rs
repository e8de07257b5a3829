//! What `diff` says a change means: the Rust API (type changes included), widening versus
//! narrowing and who must upgrade, constants, properties and rules as their own classes,
//! every-state packets once, and per change what happens to old recordings. One snapshot per
//! case, each the whole report the command line prints for it, with its exit code.

use tilegame_codegen::compat::{self, Class};
use tilegame_codegen::load_str;

const SPEC: &str = include_str!("fixtures/compat/contract.ron");

/// `SPEC` with each `(from, to)` replaced once; panics if `from` is missing (a stale test).
fn edit(replacements: &[(&str, &str)]) -> String {
    let mut text = SPEC.to_owned();
    for (from, to) in replacements {
        assert!(text.contains(from), "fixture does not contain {from:?}");
        text = text.replacen(from, to, 1);
    }
    text
}

/// The changes, summary, consequences and exit code from `SPEC` to `new`, as `diff` prints them.
fn report(new: &str) -> (String, Vec<compat::Change>) {
    let old = load_str("old.ron", SPEC).unwrap_or_else(|e| panic!("{e}"));
    let new = load_str("new.ron", new).unwrap_or_else(|e| panic!("{e}"));
    let changes = compat::diff(&old, &new);
    let mut out = String::new();
    for change in &changes {
        out.push_str(&format!("{change}\n"));
    }
    out.push_str(&compat::summary(&changes));
    out.push('\n');
    out.push_str(&compat::consequences(&old, &new, &changes).to_string());
    out.push_str(&format!("exit code: {}", compat::exit_code(&changes)));
    (out, changes)
}

#[test]
fn unchanged_spec_reports_nothing_and_exits_0() {
    let (out, changes) = report(SPEC);
    assert!(changes.is_empty(), "{out}");
    assert!(out.starts_with("0 change(s)\n"), "{out}");
    assert!(out.ends_with("exit code: 0"), "{out}");
}

#[test]
fn field_type_changes_are_rust_api_changes() {
    let (out, changes) = report(&edit(&[
        (
            r#"(name: "nonce", ty: U32, doc: "Nonce."),
                (name: "seq""#,
            r#"(name: "nonce", ty: String(max: 16), doc: "Nonce."),
                (name: "seq""#,
        ),
        (r#"(name: "seq", ty: VarU32"#, r#"(name: "seq", ty: VarU64"#),
    ]));
    assert!(
        out.contains("changed type of `play::Pong.nonce`: u32 → String"),
        "{out}"
    );
    assert!(
        out.contains("changed type of `play::Pong.seq`: u32 → u64"),
        "{out}"
    );
    assert!(!out.contains("Rust API: unchanged"), "{out}");
    assert_eq!(compat::exit_code(&changes), 2);
    insta::assert_snapshot!(out);
}

#[test]
fn widening_keeps_old_frames_and_says_who_upgrades() {
    let (out, changes) = report(&edit(&[
        // A raised bound read by the server.
        ("String(max: 16)", "String(max: 32)"),
        // A new variant, read by clients (in Kick).
        (
            r#"(name: "Timeout", value: 1, doc: "Timeout."),"#,
            r#"(name: "Timeout", value: 1, doc: "Timeout."),
            (name: "Banned", value: 2, doc: "Banned."),"#,
        ),
        // A new packet, read by clients.
        (
            r#"Packet(id: 0x01, name: "TileSet""#,
            r#"Packet(id: 0x02, name: "Chat", doc: "Chat.", fields: [
                (name: "text", ty: String(max: 64), doc: "Text."),
            ]),
            Packet(id: 0x01, name: "TileSet""#,
        ),
        // A wider varint.
        (r#"(name: "seq", ty: VarU32"#, r#"(name: "seq", ty: VarU64"#),
    ]));
    assert!(changes.iter().all(|c| c.class == Class::Widening), "{out}");
    assert!(!out.contains("no longer decode"), "{out}");
    assert!(out.contains("upgrade the server first"), "{out}");
    assert!(out.contains("upgrade the clients first"), "{out}");
    assert!(out.contains("replay only with the widened reader"), "{out}");
    assert_eq!(compat::exit_code(&changes), 1);
    insta::assert_snapshot!(out);
}

#[test]
fn narrowing_breaks_old_frames_and_old_recordings() {
    let (out, changes) = report(&edit(&[
        ("String(max: 16)", "String(max: 8)"),
        (r#"(name: "Timeout", value: 1, doc: "Timeout."),"#, ""),
        (r#"(name: "seq", ty: VarU32"#, r#"(name: "seq", ty: U32"#),
    ]));
    assert!(changes.iter().all(|c| c.class == Class::Breaking), "{out}");
    assert!(
        out.contains("no longer open (their frames no longer decode)"),
        "{out}"
    );
    assert_eq!(compat::exit_code(&changes), 2);
    insta::assert_snapshot!(out);
}

#[test]
fn constants_properties_and_rules_are_changes_of_their_own() {
    let (out, changes) = report(&edit(&[
        ("value: 20,", "value: 30,"),
        (
            r#"(name: "MAX_HEALTH", ty: U8,"#,
            r#"(name: "MAX_HEALTH", ty: U16,"#,
        ),
        (r#""resistance": 10,"#, r#""resistance": 12,"#),
        ("with a Pong at once.", "with a Pong within one tick."),
    ]));
    let classes: Vec<Class> = changes.iter().map(|c| c.class).collect();
    assert_eq!(
        classes,
        [
            Class::Constant,
            Class::Constant,
            Class::Rules,
            Class::Property
        ],
        "{out}"
    );
    assert!(
        out.contains("changed type of `MAX_HEALTH`: u8 → u16"),
        "{out}"
    );
    assert!(out.contains("spec hash: 0x"), "{out}");
    assert_eq!(compat::exit_code(&changes), 1);
    insta::assert_snapshot!(out);
}

#[test]
fn a_rules_only_change_keeps_the_hash_and_recordings() {
    let (out, changes) = report(&edit(&[("then closes.", "then closes its side.")]));
    assert_eq!(changes.len(), 1, "{out}");
    assert_eq!(changes[0].class, Class::Rules);
    assert!(out.contains("spec hash: unchanged"), "{out}");
    assert_eq!(compat::exit_code(&changes), 1);
    insta::assert_snapshot!(out);
}

#[test]
fn every_state_packets_are_reported_once() {
    let (out, changes) = report(&edit(&[
        ("String(max: 256)", "String(max: 512)"),
        (
            r#"(name: "message", ty: String(max: 512), doc: "Detail."),
            ]),"#,
            r#"(name: "message", ty: String(max: 512), doc: "Detail."),
            ]),
            Packet(id: 0x7e, name: "Notice", doc: "A notice.", fields: [
                (name: "text", ty: String(max: 64), doc: "Text."),
            ]),"#,
        ),
    ]));
    assert_eq!(
        out.matches("Kick.message").count(),
        2,
        "once as a change, once under recordings: {out}"
    );
    assert_eq!(changes.len(), 2, "{out}");
    assert!(
        out.contains("added `<every state>::ToClient::Notice`"),
        "{out}"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn a_packet_moved_out_of_every_state_is_reported_where_it_is_gone() {
    let new = edit(&[
        (
            r#"        to_client: [
            Packet(id: 0x7f, name: "Kick", doc: "Ends the connection.", fields: [
                (name: "reason", ty: Ref("Reason"), doc: "Why."),
                (name: "message", ty: String(max: 256), doc: "Detail."),
            ]),
        ],
"#,
            "",
        ),
        (
            r#"        ], to_client: [
            Packet(id: 0x00, name: "Pong""#,
            r#"        ], to_client: [
            Packet(id: 0x7f, name: "Kick", doc: "Ends the connection.", fields: [
                (name: "reason", ty: Ref("Reason"), doc: "Why."),
                (name: "message", ty: String(max: 256), doc: "Detail."),
            ]),
            Packet(id: 0x00, name: "Pong""#,
        ),
    ]);
    let (out, changes) = report(&new);
    let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
        ["handshake/to_client/Kick", "login/to_client/Kick"],
        "{out}"
    );
    assert!(is_all(&changes, Class::Breaking), "{out}");
    insta::assert_snapshot!(out);
}

fn is_all(changes: &[compat::Change], class: Class) -> bool {
    changes.iter().all(|c| c.class == class)
}
