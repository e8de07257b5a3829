//! The `tilegame-protocol` binary: exit codes and output of each subcommand.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tilegame-protocol"))
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/compat")
        .join(name)
}

fn run(args: &[&std::ffi::OsStr]) -> Output {
    bin().args(args).output().expect("run tilegame-protocol")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A file in the temp dir unique to this test process and `name`.
fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tilegame-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write temp file");
    path
}

#[test]
fn check_valid_file_exits_0() {
    let spec = repo("protocol/spec/tilegame.ron");
    let out = run(&["check".as_ref(), spec.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("ok: "), "{stdout}");
    assert!(stdout.contains("(tilegame v1, hash 0x"), "{stdout}");
}

#[test]
fn check_invalid_file_exits_1_with_position() {
    let bad = temp_file(
        "bad.ron",
        "Protocol(\n    name: \"bad\",\n    version: 1,\n    states: [\n        State(name: \"A\", to_server: [\n            Packet(id: 0, name: \"P\", fields: [(name: \"a\", ty: Nope)]),\n        ]),\n    ],\n)\n",
    );
    let out = run(&["check".as_ref(), bad.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "stdout: {}", text(&out.stdout));
    let stderr = text(&out.stderr);
    let prefix = format!("{}:", bad.display());
    let at = stderr
        .find(&prefix)
        .unwrap_or_else(|| panic!("no file name in: {stderr}"));
    let rest = &stderr[at + prefix.len()..];
    let mut parts = rest.splitn(3, ':');
    let line = parts.next().unwrap_or("");
    let col = parts.next().unwrap_or("");
    assert!(
        line.parse::<u32>().is_ok() && col.parse::<u32>().is_ok(),
        "no line:column in: {stderr}"
    );
    assert_eq!(line, "6", "{stderr}");
}

#[test]
fn check_reports_every_file() {
    let good = repo("protocol/spec/replay.ron");
    let bad = temp_file("syntax.ron", "Protocol(name: \"x\", version: )\n");
    let out = run(&["check".as_ref(), good.as_os_str(), bad.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("ok: "), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("syntax.ron:1:"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn missing_file_is_an_io_error() {
    let out = run(&["hash".as_ref(), "/nonexistent/spec.ron".as_ref()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot read"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn usage_error_exits_2() {
    let out = run(&["frobnicate".as_ref()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn diff_compatible_exits_1() {
    let out = run(&[
        "diff".as_ref(),
        fixture("base.ron").as_os_str(),
        fixture("compatible.ron").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(
        stdout.lines().all(|l| !l.starts_with("breaking:")),
        "{stdout}"
    );
    assert!(
        stdout.contains("compatible: play/to_client/Pong: packet 0x01 renamed to `Echo`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("3 change(s): 2 compatible, 1 docs\n"),
        "{stdout}"
    );
    // A wire-compatible rename still changes the hash, the Rust API and recordings.
    assert!(
        stdout.contains("spec hash: 0x") && stdout.contains("refused at the handshake"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  renamed `play::Pong` → `play::Echo`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("recordings: old .tgr files record spec hash")
            && stdout.contains(
                "  replay as-is: protocol, play/to_client/Snapshot.tick, play/to_client/Pong\n"
            ),
        "{stdout}"
    );
    insta::assert_snapshot!(stdout);
}

#[test]
fn diff_breaking_exits_2() {
    let out = run(&[
        "diff".as_ref(),
        fixture("base.ron").as_os_str(),
        fixture("breaking.ron").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("breaking: play/to_client/Snapshot.tick: type changed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("breaking: play/to_client/Pong: packet renumbered 0x01 → 0x02"),
        "{stdout}"
    );
    assert!(stdout.contains("2 change(s): 2 breaking\n"), "{stdout}");
    assert!(
        stdout.contains("  no longer open (their frames no longer decode): play/to_client/Snapshot.tick, play/to_client/Pong\n"),
        "{stdout}"
    );
}

#[test]
fn diff_invalid_input_exits_3_and_reports_both_files() {
    let bad = temp_file(
        "diff-bad.ron",
        "Protocol(\n    name: \"bad\"\n    version: 1,\n)\n",
    );
    let out = run(&[
        "diff".as_ref(),
        bad.as_os_str(),
        fixture("base.ron").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:2:16: syntax:", bad.display())),
        "{stderr}"
    );
    assert!(text(&out.stdout).is_empty());
    // A missing file, a file against a directory, bad arguments: also "could not compare".
    let out = run(&[
        "diff".as_ref(),
        fixture("base.ron").as_os_str(),
        "/nonexistent/spec.ron".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("cannot read"),
        "{}",
        text(&out.stderr)
    );
    let dir = repo("protocol/spec");
    let out = run(&[
        "diff".as_ref(),
        fixture("base.ron").as_os_str(),
        dir.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let out = run(&["diff".as_ref(), fixture("base.ron").as_os_str()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}

#[test]
fn diff_field_rename_reports_hash_api_and_recordings() {
    let base = std::fs::read_to_string(fixture("base.ron")).expect("fixture");
    assert!(
        base.contains("(name: \"nonce\", ty: U32"),
        "fixture changed"
    );
    let renamed = temp_file(
        "diff-rename.ron",
        &base.replacen("(name: \"nonce\", ty: U32", "(name: \"token\", ty: U32", 1),
    );
    let out = run(&[
        "diff".as_ref(),
        fixture("base.ron").as_os_str(),
        renamed.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("renamed `play::Pong.nonce` → `play::Pong.token`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("serde/JSON names and types follow"),
        "{stdout}"
    );
    assert!(stdout.contains("SpecMismatch"), "{stdout}");
}

#[test]
fn diff_of_identical_specs_exits_0() {
    let spec = repo("protocol/spec/tilegame.ron");
    let out = run(&["diff".as_ref(), spec.as_os_str(), spec.as_os_str()]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("0 change(s)\nspec hash: unchanged (0x"),
        "{stdout}"
    );
    assert!(stdout.contains("Rust API: unchanged\n"), "{stdout}");
    assert!(
        stdout.ends_with("recordings: old .tgr files replay as before\n"),
        "{stdout}"
    );
}

#[test]
fn hash_prints_16_hex_digits() {
    let spec = repo("protocol/spec/tilegame.ron");
    let out = run(&["hash".as_ref(), spec.as_os_str()]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let hash = stdout.trim_end();
    assert_eq!(stdout, format!("{hash}\n"));
    let digits = hash
        .strip_prefix("0x")
        .unwrap_or_else(|| panic!("no 0x: {hash}"));
    assert_eq!(digits.len(), 16, "{hash}");
    assert!(
        digits
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{hash}"
    );
}

#[test]
fn doc_writes_markdown() {
    let spec = repo("protocol/spec/tilegame.ron");
    let out = run(&["doc".as_ref(), spec.as_os_str()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("<!-- @generated by tilegame-protocol doc"));

    let target = std::env::temp_dir().join(format!("tilegame-cli-doc-{}.md", std::process::id()));
    let out = run(&[
        "doc".as_ref(),
        spec.as_os_str(),
        "-o".as_ref(),
        target.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&target).expect("doc output");
    assert!(written.contains("Snapshot"));
    let _ = std::fs::remove_file(target);
}

#[test]
fn dissector_writes_lua_with_port() {
    let spec = repo("protocol/spec/tilegame.ron");
    let out = run(&[
        "dissector".as_ref(),
        spec.as_os_str(),
        "--port".as_ref(),
        "4242".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lua = text(&out.stdout);
    assert!(lua.starts_with("-- @generated by tilegame-protocol dissector"));
    assert!(
        lua.contains("Pref.uint(\"TCP port\", 4242,"),
        "port not used"
    );
}

/// `check` on a spec with five problems (two of them syntax errors) prints all five in file
/// order, each `file:line:column: rule: message`, and exits 1.
#[test]
fn check_reports_every_problem_in_file_order() {
    let bad = fixture_file("five_problems.ron");
    let out = run(&["check".as_ref(), bad.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "stdout: {}", text(&out.stdout));
    let stderr = text(&out.stderr);
    let prefix = format!("{}:", bad.display());
    let heads: Vec<String> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter(|l| l.contains(": "))
        .map(|l| l.split(": ").take(2).collect::<Vec<_>>().join(": "))
        .collect();
    assert_eq!(
        heads,
        [
            "3:15: syntax",
            "6:29: unknown-type",
            "10:13: syntax",
            "11:29: bound-zero",
            "17:24: duplicate-id",
        ],
        "{stderr}"
    );
}

fn fixture_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A file format (no states, like `replay.ron`) gets consequences for its files, not for
/// handshakes and recordings.
#[test]
fn diff_of_a_file_format_speaks_of_files() {
    let spec = repo("protocol/spec/replay.ron");
    let text = std::fs::read_to_string(&spec).expect("replay.ron");
    assert!(
        text.contains("(name: \"tick\", ty: VarU32, doc: \"The tick.\")"),
        "fixture changed"
    );
    let widened = temp_file(
        "replay-widened.ron",
        &text.replacen(
            "(name: \"tick\", ty: VarU32, doc: \"The tick.\")",
            "(name: \"tick\", ty: VarU64, doc: \"The tick.\")",
            1,
        ),
    );
    let out = run(&["diff".as_ref(), spec.as_os_str(), widened.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("(a file format: no handshake exchanges it)"),
        "{stdout}"
    );
    // VarU32 → VarU64 widens: old files still read, with the new reader.
    assert!(
        stdout.contains("widening: ") && stdout.contains("old files still read"),
        "{stdout}"
    );
    assert!(
        stdout.contains("files: per change, files written in the old format:\n  read only with the widened reader"),
        "{stdout}"
    );
    assert!(!stdout.contains("SpecMismatch"), "{stdout}");
}

/// A fresh directory for this test process and `name`, emptied first.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("tilegame-cli-test-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A copy of `protocol/spec` (its `*.ron` files) in `dir`.
fn copy_spec_dir(dir: &Path) {
    for entry in std::fs::read_dir(repo("protocol/spec")).expect("protocol/spec") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "ron") {
            let name = path.file_name().expect("file name");
            std::fs::copy(&path, dir.join(name)).expect("copy spec");
        }
    }
}

/// `text` with every `0x` + 16 hex digits (a spec hash) written `0x[hash]`, so that the snapshot
/// does not change with every edit of the real spec.
fn without_hashes(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at]);
        let digits = &rest[at + 2..];
        let n = digits.bytes().take_while(|b| b.is_ascii_hexdigit()).count();
        if n == 16 {
            out.push_str("0x[hash]");
            rest = &digits[16..];
        } else {
            out.push_str("0x");
            rest = digits;
        }
    }
    out.push_str(rest);
    out
}

/// The maintainer's path: a copy of `protocol/spec` and an edited copy, compared by the real
/// binary as directories. One edit of each kind that does not break: a bound raised on the
/// every-state Kick (once, not per state), a constant, a tile property, a rule.
#[test]
fn diff_of_two_spec_directories_end_to_end() {
    let old = temp_dir("spec-old");
    let new = temp_dir("spec-new");
    copy_spec_dir(&old);
    copy_spec_dir(&new);
    let path = new.join("tilegame.ron");
    let mut spec = std::fs::read_to_string(&path).expect("tilegame.ron");
    for (from, to) in [
        (
            r#"(name: "message", ty: String(max: 256), doc: "Human-readable detail on one line."),"#,
            r#"(name: "message", ty: String(max: 512), doc: "Human-readable detail on one line."),"#,
        ),
        (
            r#"(name: "TICK_RATE", ty: U32, value: 20,"#,
            r#"(name: "TICK_RATE", ty: U32, value: 25,"#,
        ),
        (r#""resistance": 10,"#, r#""resistance": 12,"#),
        (
            "The round-trip time is the time",
            "The round-trip time (RTT) is the time",
        ),
    ] {
        assert!(
            spec.contains(from),
            "protocol/spec/tilegame.ron changed: {from}"
        );
        spec = spec.replacen(from, to, 1);
    }
    std::fs::write(&path, &spec).expect("write edited spec");
    let out = run(&["diff".as_ref(), old.as_os_str(), new.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("== replay.ron ==\n0 change(s)\n"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("Kick.message").count(), 2, "{stdout}");
    assert!(
        stdout.contains("4 change(s): 1 widening, 1 constant, 1 property, 1 rules\n"),
        "{stdout}"
    );
    insta::assert_snapshot!(without_hashes(&stdout));

    // The same edit plus a narrowing one exits 2.
    let narrowed = spec.replacen(
        r#"(name: "nonce", ty: U32, doc: "The Ping's nonce."),"#,
        r#"(name: "nonce", ty: String(max: 16), doc: "The Ping's nonce."),"#,
        1,
    );
    assert_ne!(
        narrowed, spec,
        "protocol/spec/tilegame.ron changed: Pong.nonce"
    );
    std::fs::write(&path, narrowed).expect("write edited spec");
    let out = run(&["diff".as_ref(), old.as_os_str(), new.as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("changed type of `play::Pong.nonce`: u32 → String"),
        "{stdout}"
    );
}

fn text_of(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}
