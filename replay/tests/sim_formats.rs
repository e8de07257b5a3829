//! Simulation recordings across formats and seeks: a recording whose tick hashes follow the
//! definition of formats 1 to 5 (FNV-1a) still verifies when its header says so (and not when
//! it claims format 6), and `derive --from T` (which bisects the file for its keyframe) gives
//! the frames a re-simulation from the start gives from tick T on.

mod common;

use std::path::Path;

use tilegame_protocol::replay_format::Record;
use tilegame_replay::cmd::sim::{self, Who};
use tilegame_replay::{ReplayFile, ToolError};
use tilegame_sim::resim::{Divergence, Resim, Step};
use tilegame_sim::simlog;

use common::sim_script::SimScript;
use common::{records, rewrite, scratch};

const SEED: &str = "simformats";

/// Ticks the recording holds.
const TICKS: u32 = 150;

/// Ticks between keyframes.
const EVERY: u32 = 20;

/// A simulation recording written by the loop itself: players join (one late), move, break
/// tiles; one leaves at tick 50.
fn recorded(path: &Path) {
    common::sim_script::record(
        path,
        &SimScript {
            seed: SEED,
            names: &["alice", "bob", "carol"],
            ticks: TICKS,
            keyframe_every: EVERY,
            late: Some((90, "late")),
            leave: (50, 1),
        },
    );
}

#[test]
fn derive_from_a_tick_seeks_and_gives_the_frames_of_a_run_from_the_start() {
    let dir = scratch("sim-formats-derive");
    let path = dir.join("sim.tgr");
    recorded(&path);
    let file = ReplayFile::open(&path).expect("recorded");
    let whos = [
        Who::Name("alice".into()),
        Who::Id(1),
        Who::Name("carol".into()),
        // Left at tick 50: frames before only.
        Who::Name("bob".into()),
        // Joined at tick 90: after some keyframes.
        Who::Name("late".into()),
    ];
    let mut compared = 0;
    for who in &whos {
        let whole = sim::resimulate(&file, Some(who)).expect("re-simulates");
        assert_eq!(whole.exit_code(), 0, "{}", whole.render());
        for from in [
            1,
            2,
            19,
            20,
            21,
            45,
            60,
            89,
            90,
            91,
            100,
            141,
            TICKS,
            TICKS + 5,
        ] {
            let seeked = sim::derive_run(&file, who, Some(from)).expect("derives");
            assert_eq!(seeked.exit_code(), 0, "{who:?} from {from}");
            let expected: Vec<_> = whole.stream.iter().filter(|f| f.tick >= from).collect();
            let got: Vec<_> = seeked.stream.iter().collect();
            assert_eq!(got, expected, "{who:?} from {from}");
            compared += got.len();
            // From a keyframe at or before the tick, never after it.
            if from > EVERY + 1 {
                let k = seeked.from_keyframe.expect("a keyframe");
                assert!(k < from && from - 1 - k < EVERY, "{who:?} from {from}: {k}");
            }
            assert!(seeked.tail.is_clean(), "{:?}", seeked.tail);
        }
    }
    assert!(compared > 1000, "{compared} frames compared");
    // An id or name nobody had is refused, seeking or not.
    for who in [Who::Id(99), Who::Name("nobody".into())] {
        for from in [None, Some(100)] {
            assert!(
                matches!(sim::derive_run(&file, &who, from), Err(ToolError::Usage(_))),
                "{who:?} {from:?}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_recording_hashed_as_formats_1_to_5_verifies_under_its_format_only() {
    let dir = scratch("sim-formats-fnv");
    let path = dir.join("sim.tgr");
    recorded(&path);
    let file = ReplayFile::open(&path).expect("recorded");
    let (header, recs) = records(&file.bytes().expect("readable"));
    assert_eq!(
        header.format_version,
        tilegame_protocol::replay_file::FORMAT_VERSION
    );
    // The same records with every SimTick hashed as formats 1 to 5 hash: the states come from
    // re-simulating the format-6 recording.
    let Record::SimStart(start) = &recs[0] else {
        panic!("no SimStart");
    };
    let mut resim = Resim::new(start).expect("starts");
    let mut old = vec![recs[0].clone()];
    let mut changed = 0;
    for r in &recs[1..] {
        match resim.apply(r).expect("applies") {
            Step::Ticked { .. } => {
                let fnv = simlog::tick_hashes(4, resim.world());
                let Record::SimTick(now) = r else {
                    panic!("a tick from a {r:?}");
                };
                assert_eq!(fnv.tick, now.tick);
                assert_eq!(fnv.players.len(), now.players.len());
                assert_ne!(fnv.world_hash, now.world_hash, "tick {}", now.tick);
                changed += 1;
                old.push(Record::SimTick(fnv));
            }
            Step::Applied => old.push(r.clone()),
            Step::Diverged(d) => panic!("{d}"),
        }
    }
    assert_eq!(changed, TICKS);
    for (format, verifies) in [(5, true), (4, true), (3, true), (2, true), (6, false)] {
        let mut h = header.clone();
        h.format_version = format;
        let file = ReplayFile::from_bytes(dir.join(format!("v{format}.tgr")), rewrite(&h, &old));
        let run = sim::resimulate(&file, None).expect("re-simulates");
        if verifies {
            assert_eq!(run.exit_code(), 0, "format {format}: {}", run.render());
            assert_eq!(run.hashes.len() as u32, TICKS);
        } else {
            assert!(
                matches!(run.divergence, Some(Divergence::Tick { tick: 1, .. })),
                "format {format}: {}",
                run.render()
            );
        }
    }
    // And the format-6 hashes under a format-5 header diverge at once.
    let mut h = header.clone();
    h.format_version = 5;
    let file = ReplayFile::from_bytes(dir.join("mislabelled.tgr"), rewrite(&h, &recs));
    let run = sim::resimulate(&file, None).expect("re-simulates");
    assert!(
        matches!(run.divergence, Some(Divergence::Tick { tick: 1, .. })),
        "{}",
        run.render()
    );
    let _ = std::fs::remove_dir_all(dir);
}
