//! No layout outside the spec: a bound changed in a copy of the spec is the bound that the
//! server's snapshot assembly enforces.
//!
//! The server builds every client's Snapshot from parts (`tilegame_protocol::snapshot`:
//! `SnapshotParts`, `MAX_DELTAS`, `MAX_GONE`, `encode_snapshot`); it caps the deltas and the
//! players gone at those names, which come from the generated field items
//! (`play::Snapshot::GONE_MAX`, `write_gone`, ...). This test copies the protocol crate with its
//! spec, lowers the Snapshot's `players` and `gone` bounds in the copy, builds it (its own
//! target folder under `target/tmp`, offline, with the workspace's `Cargo.lock`) and runs a
//! small program against it: the new bounds are the ones the assembly takes and refuses past.
//! A number written by hand anywhere on that path would keep the old bound and fail here.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Copies `from` into `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a folder of the copy");
    for entry in std::fs::read_dir(from).expect("read a folder of the crate") {
        let entry = entry.expect("a folder entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("its type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// The workspace manifest of the copy: the real one's package fields and dependencies, with
/// the path dependencies pointing back into the real workspace, and only the copied crate.
fn copy_manifest(root: &Path) -> String {
    let text = std::fs::read_to_string(root.join("Cargo.toml")).expect("the workspace manifest");
    let start = text
        .find("[workspace.package]")
        .expect("[workspace.package]");
    let end = text[start..]
        .find("\n[profile")
        .map_or(text.len(), |i| start + i);
    let shared = text[start..end].replace("path = \"", &format!("path = \"{}/", root.display()));
    let shared = shared.replace(
        &format!("path = \"{}/protocol\"", root.display()),
        "path = \"protocol\"",
    );
    format!("[workspace]\nresolver = \"2\"\nmembers = [\"protocol\"]\n\n{shared}")
}

const CHECK: &str = r#"
use tilegame_protocol::snapshot::{encode_snapshot, encode_tiles, SnapshotParts, MAX_DELTAS, MAX_GONE};
use tilegame_protocol::v1::play;

fn main() {
    let mut tiles = Vec::new();
    encode_tiles(&[], &mut tiles).expect("no tiles");
    let mut parts = SnapshotParts::default();
    let mut taken = 0;
    for id in 0..10 {
        if parts.push_gone(id) {
            taken += 1;
        }
    }
    let fits = encode_snapshot(1, 0, &parts, &tiles, &mut Vec::new(), &mut Vec::new()).is_ok();
    let over = SnapshotParts { gone: (0..=MAX_GONE as u32).collect(), ..SnapshotParts::default() };
    let refused = encode_snapshot(1, 0, &over, &tiles, &mut Vec::new(), &mut Vec::new()).is_err();
    let many = SnapshotParts { count: MAX_DELTAS + 1, ..SnapshotParts::default() };
    let deltas_refused = encode_snapshot(1, 0, &many, &tiles, &mut Vec::new(), &mut Vec::new()).is_err();
    let full = SnapshotParts { count: MAX_DELTAS, ..SnapshotParts::default() }.deltas_full();
    println!(
        "gone_max={} players_max={} gone_taken={taken} fits={fits} refused={refused} deltas_refused={deltas_refused} full={full}",
        play::Snapshot::GONE_MAX, play::Snapshot::PLAYERS_MAX
    );
}
"#;

#[test]
fn a_snapshot_bound_changed_in_a_copy_of_the_spec_is_the_one_enforced() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = crate_dir.parent().expect("the workspace root");
    let copy: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join("spec-bounds");
    let _ = std::fs::remove_dir_all(copy.join("protocol"));
    for part in ["src", "spec", "benches"] {
        copy_dir(&crate_dir.join(part), &copy.join("protocol").join(part));
    }
    for file in ["Cargo.toml", "build.rs"] {
        std::fs::copy(crate_dir.join(file), copy.join("protocol").join(file)).expect("copy");
    }
    std::fs::write(copy.join("Cargo.toml"), copy_manifest(root)).expect("write the manifest");
    std::fs::copy(root.join("Cargo.lock"), copy.join("Cargo.lock")).expect("copy Cargo.lock");

    // Lower the two bounds the server caps snapshots at.
    let spec_path = copy.join("protocol/spec/tilegame.ron");
    let spec = std::fs::read_to_string(&spec_path).expect("the copied spec");
    let players = r#"(name: "players", ty: List(of: Ref("PlayerDelta"), max: 1024)"#;
    let gone = r#"(name: "gone", ty: List(of: VarU32, max: 1024)"#;
    assert!(
        spec.contains(players) && spec.contains(gone),
        "the spec's Snapshot no longer declares `players` and `gone` as this test expects"
    );
    let spec = spec
        .replace(players, &players.replace("1024", "5"))
        .replace(gone, &gone.replace("1024", "3"));
    std::fs::write(&spec_path, spec).expect("write the changed spec");
    let bin = copy.join("protocol/src/bin");
    std::fs::create_dir_all(&bin).expect("src/bin");
    std::fs::write(bin.join("bound_check.rs"), CHECK).expect("write the check");

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&copy)
        .env("CARGO_TARGET_DIR", copy.join("target"))
        .args(["run", "--offline", "--quiet", "-p", "tilegame-protocol"])
        .args(["--bin", "bound_check"])
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "the copy did not build or run:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        "gone_max=3 players_max=5 gone_taken=3 fits=true refused=true deltas_refused=true full=true"
    );
}
