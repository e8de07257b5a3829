//! Server-side replay end to end: a real server on loopback records its simulation
//! (`--record`) while headless bots play and one of them records its own connection; then the
//! recording re-simulates bit-exactly (twice the same), a tampered input is named with its tick
//! and player, and the stream re-derived for the recording bot equals, frame for frame, what
//! that bot received. Keyframes: re-simulating from each gives the same ticks and frames as from
//! the start, seeking uses them, and a changed, hostile or cut keyframe is caught.

mod common;

use std::path::Path;

use tilegame_protocol::replay_file::ReplayWriter;
use tilegame_protocol::replay_format::{FileHeader, Record, SimJoinResult, SimKeyframe, TileRun};
use tilegame_replay::cmd::sim::{self, Who};
use tilegame_replay::{ReplayFile, ToolError};
use tilegame_sim::resim::Divergence;

use common::{output, scratch};

/// Runs a recording server, `bots` bots for `seconds` (bot 1 recording into `client`), and
/// shuts the server down (which ends the simulation recording). With `connections`, the
/// server also records each connection there. The simulation recording holds a keyframe
/// every `keyframe_interval` ticks.
fn session(
    seed: &str,
    simulation: &Path,
    client: &Path,
    connections: Option<&Path>,
    bots: usize,
    seconds: f64,
    keyframe_interval: u32,
) {
    let mut args: Vec<std::ffi::OsString> = vec![
        "--seed".into(),
        seed.into(),
        "--size".into(),
        "small".into(),
        "--max-players".into(),
        "16".into(),
        "--record".into(),
        simulation.into(),
        "--keyframe-interval".into(),
        keyframe_interval.to_string().into(),
    ];
    if let Some(dir) = connections {
        args.push("--record-dir".into());
        args.push(dir.into());
    }
    let server = common::ServerProcess::start(&args);
    common::record_bots(server.addr().to_string(), client, bots, seconds, 1200);
    server.shutdown();
}

fn records(file: &ReplayFile) -> (tilegame_protocol::replay_format::FileHeader, Vec<Record>) {
    common::records(&file.bytes().expect("readable"))
}

#[test]
fn a_server_recording_resimulates_detects_tampering_and_rederives_a_players_stream() {
    let dir = scratch("server-replay");
    let (sim_path, bot_path) = (dir.join("sim.tgr"), dir.join("bot1.tgr"));
    let conns = dir.join("connections");
    std::fs::create_dir_all(&conns).expect("folder");
    session(
        "simreplay",
        &sim_path,
        &bot_path,
        Some(&conns),
        3,
        4.0,
        tilegame_sim::simlog::DEFAULT_KEYFRAME_EVERY,
    );
    let file = ReplayFile::open(&sim_path).expect("recorded");

    // Re-simulating twice gives the same hashes, equal to the recorded ones.
    let a = resimulate_twice(&file);
    assert_eq!(a.counts.joins, 3, "{}", a.render());
    assert!(a.counts.inputs > 0, "{}", a.render());

    // `info` says what it is.
    let (code, text) = output(|out| tilegame_replay::cmd::info::run(&file, out));
    assert_eq!(code.expect("info runs"), 0);
    assert!(text.contains("recorder:   server simulation"), "{text}");
    assert!(text.contains("players:    3 joined"), "{text}");
    // Commands that read frames refuse it with a reason.
    assert!(matches!(
        sim::refuse_simulation(&file, "stats"),
        Err(ToolError::Usage(_))
    ));

    // The stream re-derived for bot 1 is what bot 1 received, frame for frame.
    let bot = ReplayFile::open(&bot_path).expect("recorded");
    let d = sim::diff_stream(&file, &bot).expect("compares");
    assert_eq!(d.exit_code(), 0, "{}", d.render());
    assert!(d.compared > 0, "{}", d.render());
    assert_eq!(d.compared, d.received, "{}", d.render());
    assert!(d.excluded.contains_key("MapEnd"), "{}", d.render());
    // Either argument order, through the command.
    let (code, text) = output(|out| sim::run_diff(&bot, &file, out));
    assert_eq!(code.expect("diff runs"), 0, "{text}");
    assert!(text.starts_with("identical: player "), "{text}");
    // The server's own per-connection recordings hold the same streams.
    let mut connections = 0;
    for entry in std::fs::read_dir(&conns).expect("listed") {
        let conn = ReplayFile::open(&entry.expect("entry").path()).expect("recorded");
        let c = sim::diff_stream(&file, &conn).expect("compares");
        assert_eq!(c.exit_code(), 0, "{}", c.render());
        assert!(c.compared > 0, "{}", c.render());
        assert_eq!(c.compared, c.received, "{}", c.render());
        connections += 1;
    }
    assert_eq!(connections, 3);
    // A recording of another session is refused, not compared.
    assert!(matches!(
        sim::diff_stream(&file, &common::fixture()),
        Err(ToolError::Usage(m)) if m.contains("not the same session")
    ));
    // By name, the same stream.
    let (_, header) = (0, records(&bot).0);
    let by_name =
        sim::resimulate(&file, Some(&Who::Name(header.player_name.clone()))).expect("re-simulates");
    assert_eq!(by_name.stream.len() as u64, d.derived);

    // A tampered input (rewritten with valid checksums) is named with its tick and player.
    let (header, mut recs) = records(&file);
    // The loop queues inputs and applies one per player per tick: pick one, past the middle,
    // queued when its player's queue was empty, so it is applied in the very next tick.
    let mut tick_before = 1;
    let mut target = None;
    let inputs = recs
        .iter()
        .filter(|r| matches!(r, Record::SimInput(_)))
        .count();
    let mut seen = 0;
    let mut queued: std::collections::BTreeMap<u32, usize> = Default::default();
    for (i, r) in recs.iter().enumerate() {
        match r {
            Record::SimTick(t) => {
                tick_before = t.tick + 1;
                for q in queued.values_mut() {
                    *q = q.saturating_sub(1);
                }
            }
            Record::SimInput(input) => {
                seen += 1;
                let q = queued.entry(input.player).or_default();
                if seen >= inputs / 2 && *q == 0 {
                    target = Some((i, input.player, tick_before));
                    break;
                }
                *q += 1;
            }
            _ => {}
        }
    }
    let (index, player, before) = target.expect("an input in the middle");
    let Record::SimInput(input) = &mut recs[index] else {
        unreachable!("picked an input")
    };
    input.item ^= 1;
    let tampered = ReplayFile::from_bytes("tampered.tgr", common::rewrite(&header, &recs));
    let t = sim::resimulate(&tampered, None).expect("re-simulates");
    assert_eq!(t.exit_code(), 1, "{}", t.render());
    let Some(Divergence::Tick { tick, players, .. }) = &t.divergence else {
        panic!("a tick divergence: {}", t.render());
    };
    assert_eq!(*tick, before, "{}", t.render());
    let named: Vec<u32> = players.iter().map(|p| p.id).collect();
    assert_eq!(named, vec![player], "{}", t.render());
    let (applied, recorded_before) = players[0].input.expect("the applied input is named");
    assert_eq!(recorded_before, before, "{}", t.render());
    assert_eq!(
        applied.item as u8,
        input_item(&recs[index]),
        "{}",
        t.render()
    );
    let report = t.render();
    assert!(
        report.contains(&format!("player {player} "))
            && report.contains(&format!("recorded before tick {before}")),
        "{report}"
    );
    eprintln!("{}{}{report}", a.render(), d.render());

    // The binary: exit 0 when everything matches, 1 for the tampered file, 2 for a command
    // that reads frames; `dump` lists the records.
    let tampered_path = dir.join("tampered.tgr");
    std::fs::write(&tampered_path, tampered.bytes().expect("in memory")).expect("written");
    let run = |args: &[&std::ffi::OsStr]| {
        let (code, out, _) = common::replay_tool(args);
        (code, out)
    };
    let (sim_arg, bot_arg) = (sim_path.as_os_str(), bot_path.as_os_str());
    let (code, text) = run(&["verify".as_ref(), sim_arg]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("OK: "), "{text}");
    let (code, text) = run(&["verify".as_ref(), tampered_path.as_os_str()]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!("recorded before tick {before}")),
        "{text}"
    );
    let (code, text) = run(&["diff".as_ref(), sim_arg, bot_arg]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run(&[
        "derive".as_ref(),
        sim_arg,
        "--player".as_ref(),
        "bot1".as_ref(),
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("Snapshot"), "{text}");
    let (code, text) = run(&["dump".as_ref(), sim_arg, "--to".as_ref(), "3".as_ref()]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("start  seed \"simreplay\""), "{text}");
    assert!(text.contains("tick   3 world"), "{text}");
    assert!(!text.contains("tick   4 world"), "{text}");
    let (code, text) = run(&["play".as_ref(), sim_arg, "--until".as_ref(), "5".as_ref()]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.starts_with(&format!(
            "tick 5 (asked 5; re-simulated from the start): world {:#018x}",
            a.hashes[4]
        )),
        "{text}"
    );
    let (code, _) = run(&["stats".as_ref(), sim_arg]);
    assert_eq!(code, Some(2));
    let _ = std::fs::remove_dir_all(dir);
}

/// The SimTick records of a file.
/// Re-simulates `file` twice: both runs pass every recorded tick and agree bit for bit.
fn resimulate_twice(file: &ReplayFile) -> sim::SimRun {
    let a = sim::resimulate(file, None).expect("re-simulates");
    let b = sim::resimulate(file, None).expect("re-simulates");
    assert_eq!(a.exit_code(), 0, "{}", a.render());
    assert!(a.tail.is_clean(), "{:?}", a.tail);
    assert_eq!(a.hashes.len(), tick_records(file), "{}", a.render());
    assert!(!a.hashes.is_empty());
    assert_eq!(a.hashes, b.hashes);
    assert_eq!(a.digest, b.digest);
    a
}

fn tick_records(file: &ReplayFile) -> usize {
    records(file)
        .1
        .iter()
        .filter(|r| matches!(r, Record::SimTick(_)))
        .count()
}

fn input_item(r: &Record) -> u8 {
    match r {
        Record::SimInput(i) => i.item,
        _ => u8::MAX,
    }
}

#[test]
fn ten_bots_for_sixty_seconds_resimulate_bit_exactly_and_one_bots_stream_matches() {
    let dir = scratch("server-replay-60");
    let (sim_path, bot_path) = (dir.join("sim.tgr"), dir.join("bot1.tgr"));
    session(
        "tenbotsim",
        &sim_path,
        &bot_path,
        None,
        10,
        60.0,
        tilegame_sim::simlog::DEFAULT_KEYFRAME_EVERY,
    );
    let file = ReplayFile::open(&sim_path).expect("recorded");
    // Every recorded tick (about 20 a second for the minute, fewer on a busy machine).
    let a = resimulate_twice(&file);
    // A keyframe every 200 ticks, each equal to the state re-simulated at its tick.
    let keyframes = keyframes(&records(&file).1);
    assert_eq!(
        keyframes.len() as u64,
        a.hashes.len() as u64 / 200,
        "{}",
        a.render()
    );
    assert_eq!(a.counts.keyframes, keyframes.len() as u64);
    for (_, k, bytes) in &keyframes {
        eprintln!("keyframe of tick {}: {bytes} bytes", k.tick);
    }
    let joined = records(&file)
        .1
        .iter()
        .filter(
            |r| matches!(r, Record::SimJoin(j) if matches!(j.result, SimJoinResult::JoinedAs(_))),
        )
        .count();
    assert_eq!(joined, 10);
    let bot = ReplayFile::open(&bot_path).expect("recorded");
    let d = sim::diff_stream(&file, &bot).expect("compares");
    assert_eq!(d.exit_code(), 0, "{}", d.render());
    assert_eq!(d.compared, d.received, "{}", d.render());
    assert!(d.compared > 0, "{}", d.render());
    eprintln!("{}{}", a.render(), d.render());
    let _ = std::fs::remove_dir_all(dir);
}

/// Each keyframe of a file with its record index and its encoded size in bytes.
fn keyframes(records: &[Record]) -> Vec<(usize, SimKeyframe, usize)> {
    records
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            Record::SimKeyframe(k) => {
                let mut bytes = Vec::new();
                tilegame_protocol::wire::encode_body(r, "Record", &mut bytes).expect("encodes");
                Some((i, k.clone(), bytes.len()))
            }
            _ => None,
        })
        .collect()
}

/// A file of `records` where the record at `index` is replaced by a chunk of raw `bytes`.
fn with_raw_record(header: &FileHeader, records: &[Record], index: usize, bytes: &[u8]) -> Vec<u8> {
    let mut w = ReplayWriter::new(Vec::new(), header).expect("header");
    for (i, r) in records.iter().enumerate() {
        if i == index {
            w.push_raw_chunk(1, bytes).expect("raw chunk");
        } else {
            w.push(r).expect("record");
            w.flush().expect("flush");
        }
    }
    w.finish().expect("finish")
}

/// A SimKeyframe record for `tick` whose compressed state inflates to `plain`.
fn keyframe_record_holding(tick: u8, plain: &[u8]) -> Vec<u8> {
    let mut out = vec![13, tick];
    let mut sink = tilegame_protocol::wire::VecSink::new(&mut out);
    tilegame_protocol::wire::write_compressed(
        &plain.to_vec(),
        &mut sink,
        tilegame_protocol::wire::Endian::Little,
        16_000_000,
        |v: &Vec<u8>, w, _| {
            use std::io::Write;
            w.write_all(v)?;
            Ok(())
        },
    )
    .expect("compresses");
    out
}

#[test]
fn keyframes_seek_exactly_and_a_changed_hostile_or_cut_keyframe_is_caught() {
    let dir = scratch("server-replay-keyframes");
    let (sim_path, bot_path) = (dir.join("sim.tgr"), dir.join("bot1.tgr"));
    session("keyframesim", &sim_path, &bot_path, None, 10, 12.0, 40);
    let file = ReplayFile::open(&sim_path).expect("recorded");
    let (header, recs) = records(&file);
    assert_eq!(header.keyframe_interval, 40);
    let kfs = keyframes(&recs);
    assert!(kfs.len() >= 3, "{} keyframes", kfs.len());

    // From the start, watching player 1: every keyframe checked.
    let watch = Who::Id(1);
    let full = sim::resimulate(&file, Some(&watch)).expect("re-simulates");
    assert_eq!(full.exit_code(), 0, "{}", full.render());
    assert_eq!(full.counts.keyframes, kfs.len() as u64, "{}", full.render());
    let (first, end) = full.ticks.expect("ticks");
    assert!(full.stream.len() > 100);

    // From each keyframe: the same per-tick hashes to the end, and the same frames pushed to
    // player 1, byte for byte.
    let mut compared = 0;
    for (_, k, _) in &kfs {
        let from = k.tick + 1;
        let run = sim::derive_run(&file, &watch, Some(from)).expect("re-simulates");
        assert_eq!(run.exit_code(), 0, "{}", run.render());
        assert_eq!(run.from_keyframe, Some(k.tick));
        assert_eq!(run.ticks.map(|t| t.0), (from <= end).then_some(from));
        assert_eq!(
            run.hashes[..],
            full.hashes[(from - first) as usize..],
            "tick hashes after the keyframe of tick {}",
            k.tick
        );
        let expected: Vec<_> = full.stream.iter().filter(|f| f.tick >= from).collect();
        compared += expected.len();
        assert_eq!(
            run.stream.iter().collect::<Vec<_>>(),
            expected,
            "frames after tick {}",
            k.tick
        );
    }
    // The first keyframe is far from the end: frames followed it.
    assert!(compared > 50, "{compared} frames compared");

    // `play --until T` seeks from the keyframe at or before T and shows what the re-simulation
    // from the start shows (the file without keyframes).
    let bare: Vec<Record> = recs
        .iter()
        .filter(|r| !matches!(r, Record::SimKeyframe(_)))
        .cloned()
        .collect();
    let bare = ReplayFile::from_bytes("bare.tgr", common::rewrite(&header, &bare));
    let (_, last, _) = kfs.last().expect("a keyframe");
    for until in [kfs[0].1.tick, kfs[1].1.tick + 13, (last.tick + 5).min(end)] {
        let (code, seeking) = output(|out| sim::play(&file, until, true, out));
        assert_eq!(code.expect("plays"), 0, "{seeking}");
        let (code, from_start) = output(|out| sim::play(&bare, until, true, out));
        assert_eq!(code.expect("plays"), 0, "{from_start}");
        assert_eq!(seeking, from_start, "state at tick {until}");
        let (_, line) = output(|out| sim::play(&file, until, false, out));
        let k = kfs
            .iter()
            .rev()
            .find(|(_, k, _)| k.tick <= until)
            .expect("one");
        assert!(
            line.starts_with(&format!(
                "tick {until} (asked {until}; re-simulated from the keyframe of tick {}): world {:#018x}",
                k.1.tick,
                full.hashes[(until - first) as usize]
            )),
            "{line}"
        );
    }

    // `info` lists them.
    let (code, text) = output(|out| tilegame_replay::cmd::info::run(&file, out));
    assert_eq!(code.expect("info runs"), 0);
    assert!(
        text.contains(&format!(
            "keyframes:  {} (every 40 ticks, ticks 40..",
            kfs.len()
        )),
        "{text}"
    );

    // A keyframe changed in the file (checksums rewritten): verify names its tick and what
    // differs, and exits 1; seeking from it refuses to restore it.
    let run = |args: &[&std::ffi::OsStr]| common::replay_tool(args);
    let (index, k, _) = &kfs[1];
    let start = sim::gather(&file).expect("info").start.expect("start");
    let area = u32::from(start.width) * u32::from(start.height);
    type Edit = Box<dyn Fn(&mut SimKeyframe)>;
    let edits: [(&str, Edit, &str); 2] = [
        (
            "position",
            Box::new(|k: &mut SimKeyframe| k.state.players[0].x += 256),
            "x: recorded",
        ),
        (
            "tile",
            Box::new(
                move |k: &mut SimKeyframe| match k.state.changed.first_mut() {
                    Some(run) => run.tile = if run.tile == 1 { 2 } else { 1 },
                    None => {
                        k.state.dynamic = vec![0, 1, area - 1];
                        k.state.changed = vec![TileRun { tile: 1, count: 1 }];
                    }
                },
            ),
            "tile (",
        ),
    ];
    for (what, edit, needle) in &edits {
        let mut changed = recs.clone();
        let Record::SimKeyframe(bad) = &mut changed[*index] else {
            unreachable!("a keyframe")
        };
        edit(bad);
        let path = dir.join(format!("changed-{what}.tgr"));
        std::fs::write(&path, common::rewrite(&header, &changed)).expect("written");
        let tampered = ReplayFile::open(&path).expect("opens");
        let t = sim::resimulate(&tampered, None).expect("re-simulates");
        assert_eq!(t.exit_code(), 1, "{what}: {}", t.render());
        let Some(Divergence::Keyframe { tick, differences }) = &t.divergence else {
            panic!("{what}: a keyframe divergence: {}", t.render());
        };
        assert_eq!(*tick, k.tick);
        assert!(
            differences.iter().any(|d| d.contains(needle)),
            "{what}: {differences:?}"
        );
        let (code, verified, _) = run(&["verify".as_ref(), path.as_os_str()]);
        assert_eq!(code, Some(1), "{what}: {verified}");
        assert!(
            verified.contains(&format!("DIVERGED keyframe of tick {}", k.tick))
                && verified.contains(needle),
            "{what}: {verified}"
        );
        // Seeking past it: this rewritten file starts no compressed stream at its keyframes,
        // so `play` finds none to bisect to and re-simulates from the start, meeting the
        // changed keyframe on the way (the state shown is the re-simulation's).
        let until = (k.tick + 3).to_string();
        let (code, out, err) = run(&[
            "play".as_ref(),
            path.as_os_str(),
            "--until".as_ref(),
            until.as_ref(),
        ]);
        assert_eq!(code, Some(1), "{what}: {out}{err}");
        assert!(
            out.contains(&format!("DIVERGED keyframe of tick {}", k.tick))
                && out.contains(needle)
                && out.contains("re-simulated from the start"),
            "{what}: {out}{err}"
        );
        // Restoring it directly: the restored world is not the one the keyframe names.
        let bad = match &changed[*index] {
            Record::SimKeyframe(bad) => bad.clone(),
            _ => unreachable!("a keyframe"),
        };
        let restored = tilegame_sim::resim::Resim::from_keyframe(&start, &bad);
        assert!(
            restored
                .as_ref()
                .is_err_and(|e| e.to_string().contains(&format!(
                    "the keyframe of tick {} cannot be restored",
                    k.tick
                ))),
            "{what}: {:?}",
            restored.err()
        );
        eprintln!("{what}:\n{verified}{out}{err}");
    }

    // Hostile keyframes (a list longer than its bound, a list longer than the bytes, a cut
    // record): a clear error naming the chunk, no panic, and the reader's bounded memory
    // (tests/memory.rs measures it).
    let mut plain_huge = vec![1u8];
    plain_huge.extend_from_slice(&[0; 8]);
    plain_huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    let mut plain_short = vec![1u8];
    plain_short.extend_from_slice(&[0; 8]);
    plain_short.extend_from_slice(&[0xc0, 0x84, 0x3d]); // 1,000,000 runs, none there
    let mut whole = Vec::new();
    tilegame_protocol::wire::encode_body(&recs[*index], "Record", &mut whole).expect("encodes");
    let cut = whole[..whole.len() - 10].to_vec();
    for (what, bytes) in [
        ("over its bound", keyframe_record_holding(1, &plain_huge)),
        (
            "longer than its bytes",
            keyframe_record_holding(1, &plain_short),
        ),
        ("cut", cut),
    ] {
        let path = dir.join("hostile.tgr");
        std::fs::write(&path, with_raw_record(&header, &recs, *index, &bytes)).expect("written");
        let hostile = ReplayFile::open(&path).expect("opens");
        for result in [
            sim::resimulate(&hostile, None).map(|_| ()),
            sim::play(&hostile, k.tick + 3, false, &mut Vec::new()).map(|_| ()),
            sim::gather(&hostile).map(|_| ()),
        ] {
            match result {
                Err(ToolError::File { source, .. }) => {
                    let text = source.to_string();
                    assert!(text.contains("record 0"), "{what}: {text}");
                    eprintln!("{what}: {text}");
                }
                other => panic!("{what}: {other:?}"),
            }
        }
        let (code, _, err) = run(&["verify".as_ref(), path.as_os_str()]);
        assert_eq!(code, Some(2), "{what}: {err}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
