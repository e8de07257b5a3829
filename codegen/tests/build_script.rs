//! What `cargo build` shows for a broken spec: `protocol/build.rs` calls
//! [`Builder::compile_in_build_script`], which prints [`BuildError::cargo_directives`]. These
//! tests run the same Builder on broken files in a temporary package and check the directives
//! cargo receives: every problem of every file, in file order, with paths from the workspace
//! root, then a one-line summary.

use std::path::{Path, PathBuf};

use tilegame_codegen::{BuildError, Builder};

/// Five different problems, two of them syntax errors (a missing `,` and an unclosed `(`).
const FIVE_PROBLEMS: &str = include_str!("fixtures/five_problems.ron");

/// A fresh directory laid out like the workspace: `ws/Cargo.toml` with `[workspace]`,
/// `ws/protocol/spec/*.ron`.
fn workspace(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = std::env::temp_dir().join(format!(
        "tilegame-build-script-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("protocol/spec")).expect("temp dir");
    std::fs::create_dir_all(root.join("out")).expect("temp dir");
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"protocol\"]\n",
    )
    .unwrap();
    std::fs::write(
        root.join("protocol/Cargo.toml"),
        "[package]\nname = \"p\"\n",
    )
    .unwrap();
    for (path, text) in files {
        std::fs::write(root.join("protocol/spec").join(path), text).unwrap();
    }
    root
}

fn directives(root: &Path, specs: &[&str]) -> String {
    let specs: Vec<PathBuf> = specs
        .iter()
        .map(|s| root.join("protocol/spec").join(s))
        .collect();
    let err = Builder::new()
        .cargo_directives(false)
        .out_dir(root.join("out"))
        .display_root(tilegame_codegen::workspace_root(&root.join("protocol")))
        .compile(&specs)
        .expect_err("the specs are broken");
    assert!(matches!(err, BuildError::Spec(_)));
    err.cargo_directives()
}

#[test]
fn every_problem_of_every_file_reaches_cargo_in_file_order() {
    let root = workspace(
        "five",
        &[
            ("tilegame.ron", FIVE_PROBLEMS),
            (
                "replay.ron",
                "Protocol(\n    name: \"replay_format\",\n    version: 1,\n    dco: \"typo\",\n)\n",
            ),
        ],
    );
    let out = directives(&root, &["tilegame.ron", "replay.ron"]);
    assert!(out.lines().all(|l| l.starts_with("cargo::error=")), "{out}");
    let heads: Vec<&str> = out
        .lines()
        .map(|l| &l["cargo::error=".len()..])
        .filter(|l| l.starts_with("protocol/spec/"))
        .collect();
    let expected = [
        "protocol/spec/tilegame.ron:3:15: syntax:",
        "protocol/spec/tilegame.ron:6:29: unknown-type:",
        "protocol/spec/tilegame.ron:10:13: syntax:",
        "protocol/spec/tilegame.ron:11:29: bound-zero:",
        "protocol/spec/tilegame.ron:17:24: duplicate-id:",
        "protocol/spec/replay.ron:4:5: unknown-key:",
    ];
    assert_eq!(heads.len(), expected.len(), "{out}");
    for (head, want) in heads.iter().zip(expected) {
        assert!(head.starts_with(want), "{head} is not {want}\n{out}");
    }
    let last = out.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        "cargo::error=6 spec problems (5 in protocol/spec/tilegame.ron, 1 in \
         protocol/spec/replay.ron); the protocol was not generated"
    );
    insta::assert_snapshot!(out);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn valid_specs_generate_and_print_nothing() {
    let root = workspace(
        "valid",
        &[(
            "ok.ron",
            "Protocol(\n    name: \"ok\",\n    version: 1,\n    states: [State(name: \"Play\", to_server: [Packet(id: 0, name: \"Ping\")])],\n)\n",
        )],
    );
    let written = Builder::new()
        .cargo_directives(false)
        .out_dir(root.join("out"))
        .compile(&[root.join("protocol/spec/ok.ron")])
        .expect("valid");
    assert_eq!(written, [root.join("out/ok.rs")]);
    let _ = std::fs::remove_dir_all(&root);
}
