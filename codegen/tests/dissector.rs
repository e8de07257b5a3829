//! The Wireshark Lua dissector: a snapshot for the real spec, and a syntax check with `luac`
//! (required: `.ci/run` installs `lua5.4`; this test fails without it). `replay/tests/tshark.rs`
//! runs the dissector in tshark on real captures.

use std::path::{Path, PathBuf};
use std::process::Command;

use tilegame_codegen::{dissector, hash, load, SpecFile};

fn spec(name: &str) -> SpecFile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../protocol/spec")
        .join(name);
    load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The spec hash is computed elsewhere and may change independently; keep it out of snapshots.
fn redact_hash(text: &str, spec: &SpecFile) -> String {
    text.replace(
        &format!("0x{:016x}", hash::spec_hash(&spec.protocol)),
        "0x<spec hash>",
    )
}

#[test]
fn tilegame_dissector() {
    let spec = spec("tilegame.ron");
    let lua = dissector::generate(&spec, dissector::DEFAULT_PORT);
    insta::assert_snapshot!(redact_hash(&lua, &spec));
}

#[test]
fn registers_on_the_given_port_and_as_a_heuristic() {
    let lua = dissector::generate(&spec("tilegame.ron"), 1234);
    assert!(lua.contains("Pref.uint(\"TCP port\", 1234,"));
    assert!(lua.contains("DissectorTable.get(\"tcp.port\")"));
    assert!(lua.contains("proto:register_heuristic(\"tcp\", heuristic)"));
    assert!(lua.contains("local HELLO_ID, HELLO_MAGIC = 0, \"TGME\""));
    assert!(lua.contains("desegment_len"));
}

/// The state machine comes from the spec's packet order (see `layout`), not from names.
#[test]
fn state_transitions_come_from_the_spec() {
    let lua = dissector::generate(&spec("tilegame.ron"), dissector::DEFAULT_PORT);
    for t in [
        "--   Handshake --ServerWelcome--> Login",
        "--   Login --JoinAccepted--> MapTransfer",
        "--   MapTransfer --MapEnd--> Play",
    ] {
        assert!(lua.contains(t), "missing {t}");
    }
    assert!(lua.contains("[0x00] = { name = \"ServerWelcome\", next = 2,"));
    assert!(lua.contains("[0x01] = { name = \"Reject\", next = nil,"));
    assert!(lua.contains("[0x02] = { name = \"MapEnd\", next = 4,"));
}

/// `luac` (any 5.x); panics with how to install one when there is none.
fn luac() -> &'static str {
    ["luac", "luac5.4", "luac5.3", "luac5.2", "luac5.1"]
        .into_iter()
        .find(|name| {
            Command::new(name)
                .arg("-v")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("no Lua compiler: apt-get install lua5.4 (as .ci/run does)")
}

fn temp_lua(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "tilegame-dissector-{}-{name}.lua",
        std::process::id()
    ));
    std::fs::write(&path, text).expect("write lua");
    path
}

#[test]
fn generated_lua_compiles() {
    let luac = luac();
    for name in ["tilegame.ron", "replay.ron"] {
        let lua = dissector::generate(&spec(name), dissector::DEFAULT_PORT);
        let path = temp_lua(name, &lua);
        let out = Command::new(luac)
            .arg("-p")
            .arg(&path)
            .output()
            .expect("run luac");
        assert!(
            out.status.success(),
            "{name}: luac -p failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_file(path);
    }
}
