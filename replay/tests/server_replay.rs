//! Server-side replay end to end: a real server on loopback records its simulation
//! (`--record`) while headless bots play and one of them records its own connection; then the
//! recording re-simulates bit-exactly (twice the same), a tampered input is named with its tick
//! and player, and the stream re-derived for the recording bot equals, frame for frame, what
//! that bot received.

mod common;

use std::path::Path;

use tilegame_protocol::replay_format::{Record, SimJoinResult};
use tilegame_replay::cmd::sim::{self, Who};
use tilegame_replay::{ReplayFile, ToolError};
use tilegame_server::resim::Divergence;

use common::{output, scratch};

/// Runs a recording server, `bots` bots for `seconds` (bot 1 recording into `client`), and
/// shuts the server down (which ends the simulation recording). With `connections`, the
/// server also records each connection there.
fn session(
    seed: &str,
    simulation: &Path,
    client: &Path,
    connections: Option<&Path>,
    bots: usize,
    seconds: f64,
) {
    let server = tilegame_server::ServerHandle::start(tilegame_server::ServerConfig {
        bind: "127.0.0.1:0".parse().expect("literal address"),
        seed: seed.into(),
        size: "small".into(),
        max_players: 16,
        record: Some(simulation.to_owned()),
        record_dir: connections.map(Path::to_owned),
        ..Default::default()
    })
    .expect("the server starts");
    common::record_bots(server.addr().to_string(), client, bots, seconds, 1200);
    server.shutdown();
}

/// The header and records of a whole file.
fn records(file: &ReplayFile) -> (tilegame_protocol::replay_format::FileHeader, Vec<Record>) {
    common::records(&file.bytes().expect("readable"))
}

#[test]
fn a_server_recording_resimulates_detects_tampering_and_rederives_a_players_stream() {
    let dir = scratch("server-replay");
    let (sim_path, bot_path) = (dir.join("sim.tgr"), dir.join("bot1.tgr"));
    let conns = dir.join("connections");
    std::fs::create_dir_all(&conns).expect("folder");
    session("simreplay", &sim_path, &bot_path, Some(&conns), 3, 4.0);
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
    let bin = env!("CARGO_BIN_EXE_tilegame-replay");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new(bin)
            .args(args)
            .output()
            .expect("the binary runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
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
    session("tenbotsim", &sim_path, &bot_path, None, 10, 60.0);
    let file = ReplayFile::open(&sim_path).expect("recorded");
    // Every recorded tick (about 20 a second for the minute, fewer on a busy machine).
    let a = resimulate_twice(&file);
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
