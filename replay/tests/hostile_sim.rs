//! Hostile simulation recordings through the real `tilegame-replay` binary: settings a server
//! would refuse to start with, and floods of joins between two ticks, are refused with a clear
//! error (exit 2) instead of re-simulated into gigabytes; `verify` writes nothing beside its
//! input.

mod common;

use std::path::Path;
use std::time::Instant;

use tilegame_protocol::replay_file::{ReplayWriter, FORMAT_VERSION};
use tilegame_protocol::replay_format::{
    self as rf, FileHeader, Record, Recorder, SimJoin, SimJoinResult, SimStart,
};

use common::scratch;

const SEED: &str = "hostile";

fn header() -> FileHeader {
    FileHeader {
        format_version: FORMAT_VERSION,
        protocol_version: tilegame_protocol::PROTOCOL_VERSION,
        protocol_hash: tilegame_protocol::SPEC_HASH,
        recorder: Recorder::Simulation,
        software: "attack".into(),
        player_name: String::new(),
        start_unix_ms: 0,
        keyframe_interval: 0,
    }
}

/// A valid start of the small map, with `max_players`.
fn start(max_players: u32) -> SimStart {
    let map = tilegame_game::generate(
        SEED,
        tilegame_game::Theme::Default,
        tilegame_game::MapSize::Small,
    )
    .expect("map");
    SimStart {
        seed: SEED.into(),
        theme: 0,
        width: map.width(),
        height: map.height(),
        map_hash: map.hash(),
        max_players,
        heartbeat_ticks: 20,
        view_radius_tiles: 0,
        outbox_bytes: 1 << 20,
        tick_rate: 20,
    }
}

/// `SimStart` then `joins` accepted joins (ids 1, 2, …; each connection gone before its answer
/// with `vanished`), no tick: a file of a few bytes per join.
fn joins_file(path: &Path, max_players: u32, joins: u32, vanished: bool) {
    let mut w = ReplayWriter::new(Vec::new(), &header()).expect("header");
    w.push(&Record::SimStart(start(max_players)))
        .expect("start");
    for i in 0..joins {
        w.push(&Record::SimJoin(SimJoin {
            name: format!("p{i}"),
            color: 0,
            result: SimJoinResult::JoinedAs(rf::JoinedAs { player: i + 1 }),
            vanished,
        }))
        .expect("join");
        if i % 64 == 63 {
            w.flush().expect("flush");
        }
    }
    std::fs::write(path, w.finish().expect("finish")).expect("written");
}

/// The file of issue #20: `SimStart` with `max_players = 2³²−1`, then joins and no tick. The
/// server refuses such a configuration; so do `verify` and `play`, at the first record.
#[test]
fn a_start_the_server_would_refuse_is_refused_by_verify_and_play() {
    let dir = scratch("hostile-start");
    let path = dir.join("hostile.tgr");
    joins_file(&path, u32::MAX, 5000, false);
    let size = std::fs::metadata(&path).expect("written").len();
    for command in [vec!["verify"], vec!["play", "--until", "10"]] {
        let mut args: Vec<&std::ffi::OsStr> = command.iter().map(|a| a.as_ref()).collect();
        args.insert(1, path.as_os_str());
        let started = Instant::now();
        let (code, out, err) = common::replay_tool(&args);
        eprintln!(
            "{} on a {size} B file: exit {code:?} in {:.1} ms\n{out}{err}",
            command[0],
            started.elapsed().as_secs_f64() * 1000.0
        );
        assert_eq!(code, Some(2), "{out}{err}");
        assert!(
            err.contains("the SimStart record's settings are not a server's: invalid max_players: must be 1..=4096 (is 4294967295)"),
            "{err}"
        );
        assert!(err.contains("hostile.tgr"), "{err}");
    }
    // Nothing was written beside the input.
    let beside: Vec<_> = std::fs::read_dir(&dir)
        .expect("listed")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(beside, vec![std::ffi::OsString::from("hostile.tgr")]);
    let _ = std::fs::remove_dir_all(dir);
}

/// More joins between two ticks than the loop admits: each connection vanishes before its
/// answer, so the players never fill the server, but the loop admits at most `max_players`
/// between ticks (each admission adds to every roster), so the re-simulation refuses the first
/// join the recording claims beyond that: a divergence, with a bounded roster held.
#[test]
fn joins_beyond_what_the_loop_admits_between_ticks_are_a_divergence() {
    let dir = scratch("hostile-joins");
    let path = dir.join("joins.tgr");
    joins_file(&path, 64, 200, true);
    let (code, out, err) = common::replay_tool(&["verify".as_ref(), path.as_os_str()]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("DIVERGED before tick 1: the join of \"p64\" was answered refused (ServerFull), recorded player 65"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The largest player limit a server accepts, and more joins before the first tick than it
/// admits: every join adds an event to every roster (the quadratic growth), so the
/// re-simulation reaches its memory budget long before the 4,096th join and stops there with
/// what it would hold.
#[test]
fn a_flood_of_joins_stops_at_the_memory_budget() {
    let dir = scratch("hostile-flood");
    let path = dir.join("flood.tgr");
    joins_file(&path, 4096, 4097, false);
    let (code, out, err) = common::replay_tool(&["verify".as_ref(), path.as_os_str()]);
    eprintln!("{out}{err}");
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("the re-simulation would hold about 128 MiB after tick 0 (")
            && err.contains("over its budget of 128 MiB"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
