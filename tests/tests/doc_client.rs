//! The protocol reference is the whole contract: a client written in Python from
//! `docs/PROTOCOL.md` alone (`tests/doc_client/`, standard library only) joins the real server
//! over loopback, decodes the map, names every tile, checks the rule "Movement" tick by tick
//! against every Snapshot of its own player, breaks a tile, sees another player, and
//! decodes a reason for every refusal and kick it can provoke (`--strict`: any statement of the
//! document the server does not follow fails the run). It reads the protocol version and spec
//! hash from the document's header table, as a client built from it would. If the document and
//! the server drift apart, this fails.

use std::process::Command;

use tilegame_tests::{start_server, test_config};

fn python() -> Command {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/doc_client/tilegame_client.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script);
    cmd
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .expect("python3 must be installed to run the doc client (CI installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "doc client failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

#[test]
fn a_client_written_from_the_document_plays_and_breaks_a_tile() {
    let server = start_server(test_config());
    let addr = server.addr().to_string();
    // A second client in the game, so the first one sees another player.
    let mut other = python()
        .args(["--addr", &addr, "--name", "bob", "--linger", "8", "--quiet"])
        .spawn()
        .expect("python3 runs");
    let out = run(python().args(["--addr", &addr, "--name", "alice", "--linger", "2"]));
    let _ = other.wait();
    let last = out.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("OK: joined, map 64x64 decoded (4096 tiles named), broke "),
        "{out}"
    );
    assert!(last.contains("-> Dirt"), "{last}");
    assert!(!last.contains("saw 0 other"), "{last}");
    // The rule "Movement" held on every Snapshot, through the scripted walk (accelerating,
    // stopping, diagonals, reversing, cancelling keys) and the walk to the tile.
    let checked: u32 = last
        .rsplit_once("movement law held on ")
        .and_then(|(_, n)| n.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no movement law count in {last:?}"));
    assert!(checked >= 60, "only {checked} snapshots checked: {last}");
}

#[test]
fn a_client_written_from_the_document_decodes_every_refusal_and_kick() {
    let server = start_server(test_config());
    let out = run(python().args(["--addr", &server.addr().to_string(), "--selftest-errors"]));
    for expected in [
        "REJECT SpecMismatch",
        "REJECT VersionMismatch",
        "REJECT BadMagic",
        "REJECT NameTaken",
        "REJECT InvalidName",
        "KICK Handshake ProtocolError",
        "KICK Login ProtocolError",
        "KICK Play ProtocolError",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}
