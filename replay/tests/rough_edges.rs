//! The rough edges of issue #20, each through the real `tilegame-replay` binary: an unknown
//! player id, the simulation `verify`'s throughput line, what a cut simulation recording kept, a
//! `SimTick` record edited with valid checksums, and `info`'s player order.

mod common;

use std::path::Path;

use tilegame_protocol::replay_format::{self as rf, Record};

use common::sim_script::SimScript;
use common::{records, rewrite, scratch};

const SEED: &str = "roughedges";

/// Ticks the recording holds.
const TICKS: u32 = 60;

/// A simulation recording written by the loop itself (as `tilegame-server --record` writes
/// one): three players join, move and break tiles, one leaves; a keyframe every 20 ticks.
fn recorded(path: &Path) {
    common::sim_script::record(
        path,
        &SimScript {
            seed: SEED,
            names: &["player2", "player10", "player1"],
            ticks: TICKS,
            keyframe_every: 20,
            late: None,
            leave: (40, 0),
        },
    );
}

/// Runs the binary on `args[0] file args[1..]`: exit code, stdout, stderr.
fn run(args: &[&str], file: &Path) -> (Option<i32>, String, String) {
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    all.insert(1, file.as_os_str());
    common::replay_tool(&all)
}

#[test]
fn derive_refuses_an_unknown_id_like_an_unknown_name() {
    let dir = scratch("rough-derive");
    let path = dir.join("sim.tgr");
    recorded(&path);
    let (code, out, err) = run(&["derive", "--player", "99"], &path);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("no player joined with id 99"), "{err}");
    assert!(out.is_empty(), "{out}");
    let (code, _, err) = run(&["derive", "--player", "nobody"], &path);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no player joined as \"nobody\""), "{err}");
    let (code, out, err) = run(&["derive", "--player", "2"], &path);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("frames pushed for player 2"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn simulation_verify_prints_its_throughput_unless_asked_not_to() {
    let dir = scratch("rough-throughput");
    let path = dir.join("sim.tgr");
    recorded(&path);
    let (code, out, err) = run(&["verify"], &path);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(&format!("OK: {TICKS} ticks re-simulated")),
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.starts_with("throughput: "))
        .unwrap_or_else(|| panic!("no throughput line: {out}"));
    assert!(line.contains(" ticks/s with 3 players at most, "), "{line}");
    let (code, quiet, _) = run(&["verify", "--no-timing"], &path);
    assert_eq!(code, Some(0));
    assert!(!quiet.contains("throughput"), "{quiet}");
    assert_eq!(
        quiet,
        out.lines()
            .filter(|l| !l.starts_with("throughput: "))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_cut_simulation_recording_reports_the_ticks_it_kept() {
    let dir = scratch("rough-cut");
    let path = dir.join("sim.tgr");
    recorded(&path);
    let whole = std::fs::read(&path).expect("recorded");
    let cut_path = dir.join("cut.tgr");
    // Into the middle of the file: inside some chunk after tick 20 or so.
    std::fs::write(&cut_path, &whole[..whole.len() * 2 / 3]).expect("written");
    let (code, out, err) = run(&["verify", "--no-timing"], &cut_path);
    assert_eq!(code, Some(0), "{out}{err}");
    let ok = out
        .lines()
        .find(|l| l.starts_with("OK: "))
        .unwrap_or_else(|| panic!("{out}"));
    let kept: u32 = ok
        .strip_prefix("OK: ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!((1..TICKS).contains(&kept), "{out}");
    assert!(
        out.contains(&format!("({kept} ticks kept)")),
        "the cut names the ticks it kept: {out}"
    );
    assert!(!out.contains("frames kept"), "{out}");
    let (code, info, err) = run(&["info"], &cut_path);
    assert_eq!(code, Some(0), "{info}{err}");
    assert!(info.contains(&format!("({kept} ticks kept)")), "{info}");
    let _ = std::fs::remove_dir_all(dir);
}

/// An edit of a tick record: its name, the edit, the report expected.
type Edit = (&'static str, fn(&mut rf::SimTick), &'static str);

/// A `SimTick` record edited and re-checksummed: another tick number, or its player hashes
/// repeated, keep the hashes equal. The report names the true tick and what is wrong with the
/// record, never tick 4294967295 with two equal hashes.
#[test]
fn an_edited_tick_record_is_named_at_its_true_tick() {
    let dir = scratch("rough-edited");
    let path = dir.join("sim.tgr");
    recorded(&path);
    let (header, recs) = records(&std::fs::read(&path).expect("recorded"));
    let at = recs
        .iter()
        .position(|r| matches!(r, Record::SimTick(t) if t.tick == 30))
        .expect("tick 30");
    let edits: [Edit; 3] = [
        (
            "renumbered",
            |t| t.tick = u32::MAX,
            "DIVERGED tick 30: its SimTick record names tick 4294967295 (the recording was edited, or records were removed or added)",
        ),
        (
            "repeated",
            |t| {
                let first = t.players[0].clone();
                t.players.push(first);
            },
            "DIVERGED tick 30: its SimTick record lists 4 player hashes for 3 players, not one per player in id order (the recording was edited)",
        ),
        (
            "reordered",
            |t| t.players.reverse(),
            "DIVERGED tick 30: its SimTick record lists 3 player hashes for 3 players, not one per player in id order (the recording was edited)",
        ),
    ];
    for (name, edit, expected) in edits {
        let mut bad = recs.clone();
        let Record::SimTick(t) = &mut bad[at] else {
            unreachable!("a tick")
        };
        edit(t);
        let edited = dir.join(format!("{name}.tgr"));
        std::fs::write(&edited, rewrite(&header, &bad)).expect("written");
        let (code, out, err) = run(&["verify", "--no-timing"], &edited);
        assert_eq!(code, Some(1), "{name}: {out}{err}");
        assert!(out.contains(expected), "{name}: {out}");
        assert!(
            out.contains("(29 ticks re-simulated equal before it)"),
            "{name}: {out}"
        );
        assert!(!out.contains("DIVERGED tick 4294967295"), "{name}: {out}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A live session of eleven bots (bot1 … bot11): `info` lists them as the viewer does.
#[test]
fn info_lists_players_in_natural_order() {
    let dir = scratch("rough-info");
    let path = dir.join("bot1.tgr");
    common::record_session(&path, "naturalorder", 11, 3.0, 1200);
    let (code, out, err) = run(&["info"], &path);
    assert_eq!(code, Some(0), "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("players:"))
        .unwrap_or_else(|| panic!("{out}"));
    let names: Vec<&str> = line
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line}"))
        .split(", ")
        .collect();
    let expected: Vec<String> = (1..=11).map(|i| format!("bot{i}")).collect();
    assert_eq!(names, expected, "{line}");
    let _ = std::fs::remove_dir_all(dir);
}
