//! A day of play: a 24-hour, 20-player server simulation recording (1,728,000 ticks at 20
//! ticks/s), synthesised by the server's own loop, then verified and sought in.
//!
//! The loop (`tilegame_sim::Sim`, as `tilegame-server --record` runs it) plays 20 players whose
//! inputs come from a seeded generator (every player sends an input every tick, walking and
//! turning, respawning when dead), with every connection drained each tick as a socket would
//! be. Prints: the file's size and bytes per player-hour; the time to write it; the full
//! re-simulation (`verify`) and its ticks/s (target ≤ 20 s); and seeking to ticks spread over
//! the day (`tilegame_replay::sim_seek`, bisecting the file for keyframe chunks), each checked
//! against the hash the full run reached at that tick (target ≤ 50 ms each). Then the
//! client-side equivalent: a client recording of the same number of ticks of 20 moving players
//! (`common/synth_client.rs`, from the committed fixture's join), written to a file, and its
//! whole `verify` (container, decode, managers, hashes; target ≤ 2 s for a day);
//! `TILEGAME_DAY_CLIENT=0` leaves it out, `TILEGAME_DAY_SIM=0` leaves out the simulation,
//! `TILEGAME_DAY_CLIENT_FILE` keeps (and re-uses) it.
//! `TILEGAME_DAY_HOURS` shortens the day (default 24);
//! `TILEGAME_DAY_FILE` keeps the recording at that path (and re-uses it when it is already
//! there, to time or profile the re-simulation alone). Each timed phase prints its CPU time as
//! well as its wall time: the machine is shared; `TILEGAME_DAY_VERIFY_RUNS` repeats the full
//! re-simulation and reports the fastest run.
//! Stops by itself; a bench (`cargo bench -p tilegame-replay --bench day`), not a test.

use std::time::Instant;

/// The allocator `tilegame-replay` itself uses (see its `main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use tilegame_game::{self as game, PlayerId};
use tilegame_protocol::convert::theme_to_wire;
use tilegame_protocol::replay_format::SimStart;
use tilegame_protocol::v1;
use tilegame_replay::cmd::verify::{verify, VerifyOptions};
use tilegame_replay::ReplayFile;
use tilegame_sim::simlog::SimLog;
use tilegame_sim::{Command, MemoryLink, Sim};

#[path = "common/cpu.rs"]
mod cpu;
#[path = "common/rng.rs"]
mod rng;
#[path = "common/synth_client.rs"]
mod synth_client;
use cpu::cpu_time;
use rng::Rng;

const PLAYERS: u32 = 20;
const TICK_RATE: u32 = 20;
const SEED: &str = "adayofplay";

/// Plays `ticks` ticks of 20 players into a simulation recording at `path`.
fn synthesise(path: &std::path::Path, ticks: u64) {
    let theme = game::Theme::Default;
    let map = game::generate(SEED, theme, game::MapSize::Medium).expect("the map generates");
    let outbox = v1::OUTBOX_BYTES;
    let start = SimStart {
        seed: SEED.into(),
        theme: theme_to_wire(theme).tag(),
        width: map.width(),
        height: map.height(),
        map_hash: map.hash(),
        max_players: 64,
        heartbeat_ticks: v1::HEARTBEAT_TICKS,
        view_radius_tiles: v1::VIEW_RADIUS_TILES,
        outbox_bytes: outbox,
        tick_rate: TICK_RATE,
    };
    let mut sim = Sim::new(
        game::World::new(map),
        SEED.into(),
        theme,
        64,
        v1::HEARTBEAT_TICKS,
    );
    sim.set_view_radius(v1::VIEW_RADIUS_TILES);
    let file = std::fs::File::create(path).expect("the recording is created");
    let out = Box::new(std::io::BufWriter::with_capacity(64 * 1024, file));
    let log = SimLog::record(
        out,
        path.display().to_string(),
        start,
        tilegame_sim::simlog::DEFAULT_KEYFRAME_EVERY,
        "tilegame day bench",
        0,
    )
    .expect("the recording starts");
    sim.set_log(log);
    let mut conns: Vec<(PlayerId, MemoryLink, Rng, i8)> = Vec::new();
    for i in 0..PLAYERS {
        let link = MemoryLink::new(outbox as usize);
        sim.handle(Command::Join {
            name: format!("player{}", i + 1),
            color: 0x30_60_90 + i,
            link: link.boxed(),
        });
        let id = link.take_answer().expect("answered").expect("joined").id;
        conns.push((id, link, Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(i + 1)), 1));
    }
    for tick in 0..ticks {
        for (id, _, rng, dir) in &mut conns {
            let r = rng.next();
            if r % 40 == 0 {
                *dir = -*dir;
            }
            let dead = sim.world().player(*id).is_some_and(|p| !p.alive);
            let input = game::Input {
                seq: tick as u32 + 1,
                move_x: if r % 7 == 0 { 0 } else { *dir },
                move_y: if (r >> 8) % 16 == 0 { -1 } else { 0 },
                item: game::Item::default(),
                action: if dead {
                    game::Action::Respawn
                } else {
                    game::Action::None
                },
            };
            sim.handle(Command::Input { id: *id, input });
        }
        sim.tick();
        for (_, link, _, _) in &conns {
            link.drain();
        }
    }
    sim.kick_all(v1::DisconnectReason::ServerShutdown, "the day is over");
    // Dropping the loop writes the End record and closes the file.
}

fn main() {
    // `cargo test --benches` runs this with `--test`; keep that quick.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    let mut hours: f64 = std::env::var("TILEGAME_DAY_HOURS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24.0);
    let mut ticks = (hours * 3600.0 * f64::from(TICK_RATE)) as u64;
    // `TILEGAME_DAY_SIM=0`: the client-side day alone.
    if std::env::var("TILEGAME_DAY_SIM").is_ok_and(|v| v == "0") {
        client_day(ticks, hours / 24.0);
        return;
    }
    // `TILEGAME_DAY_FILE` keeps the recording at that path (to profile `verify` on it), and a
    // recording already there is re-used.
    let DayFile {
        path,
        kept,
        reused,
        written,
    } = day_file(
        "TILEGAME_DAY_FILE",
        "tgr-day",
        &format!("{hours} h of {PLAYERS} players ({ticks} ticks)"),
        |path| synthesise(path, ticks),
    );
    let file = ReplayFile::open(&path).expect("the recording opens");

    // The whole re-simulation, `TILEGAME_DAY_VERIFY_RUNS` times (default 1): the fastest
    // run's wall and CPU time are reported (the machine is shared), each run's digest equal.
    let runs = verify_runs();
    let (mut full, mut cpu) = (f64::MAX, f64::MAX);
    let mut first_run: Option<tilegame_replay::cmd::sim::SimRun> = None;
    for _ in 0..runs {
        let (started, cpu_started) = (Instant::now(), cpu_time());
        let run = tilegame_replay::cmd::sim::resimulate(&file, None).expect("re-simulates");
        full = full.min(started.elapsed().as_secs_f64());
        cpu = cpu.min((cpu_time() - cpu_started).as_secs_f64().max(1e-9));
        if let Some(first) = &first_run {
            assert_eq!(run.digest, first.digest, "every run re-simulates the same");
        } else {
            first_run = Some(run);
        }
    }
    let run = first_run.expect("one run at least");
    assert_eq!(run.exit_code(), 0, "{}", run.render());
    if reused {
        ticks = run.hashes.len() as u64;
        hours = ticks as f64 / 3600.0 / f64::from(TICK_RATE);
    }
    assert_eq!(run.hashes.len() as u64, ticks, "every tick re-simulated");
    let player_hours = hours * f64::from(PLAYERS);
    println!(
        "day: {ticks} ticks, {PLAYERS} players, {} in {:.1} s; file {} B = {:.0} B per player-hour",
        if reused { "re-used" } else { "written" },
        written.as_secs_f64(),
        file.len(),
        file.len() as f64 / player_hours
    );
    // The targets are for a whole day; a shorter run is held to its share.
    let share = hours / 24.0;
    println!(
        "verify (simulation, best of {runs}): {:.2} s = {:.0} ticks/s; CPU {:.2} s = {:.0} ticks/s of CPU (target ≤ {:.2} s for {hours} h: {})",
        full,
        ticks as f64 / full,
        cpu,
        ticks as f64 / cpu,
        20.0 * share,
        if full <= 20.0 * share {
            "met"
        } else {
            "NOT met"
        }
    );

    // Seeking: ticks spread over the day, each checked against the full run's hash there.
    let (first_tick, _) = run.ticks.expect("ticks");
    let mut rng = Rng(0x5eed);
    let mut times = Vec::new();
    let mut cpu_times = Vec::new();
    for i in 0..24u64 {
        let target = if i == 0 {
            first_tick + ticks as u32 - 1
        } else {
            first_tick + (rng.next() % ticks) as u32
        };
        let (started, cpu_started) = (Instant::now(), cpu_time());
        let mut seeked = tilegame_replay::sim_seek::seek(&file, target).expect("seeks");
        let t = started.elapsed().as_secs_f64();
        cpu_times.push((cpu_time() - cpu_started).as_secs_f64());
        assert!(
            seeked.diverged.is_none(),
            "tick {target}: {:?}",
            seeked.diverged
        );
        assert_eq!(seeked.resim.tick(), target, "reached tick {target}");
        assert_eq!(
            seeked.resim.world_hash(),
            run.hashes[(target - first_tick) as usize],
            "the state at tick {target} is the one the full run reached"
        );
        times.push((t, target, seeked.keyframe, seeked.probes, seeked.ticks));
    }
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (worst, at, keyframe, probes, resimulated) = times[times.len() - 1];
    cpu_times.sort_by(f64::total_cmp);
    println!(
        "seek to any tick: median {:.1} ms, worst {:.1} ms (tick {at}: {probes} probes, keyframe {keyframe:?}, {resimulated} ticks re-simulated); CPU median {:.1} ms, worst {:.1} ms; target ≤ 50 ms: {}",
        times[times.len() / 2].0 * 1000.0,
        worst * 1000.0,
        cpu_times[cpu_times.len() / 2] * 1000.0,
        cpu_times[cpu_times.len() - 1] * 1000.0,
        if worst <= 0.05 { "met" } else { "NOT met" }
    );

    if !kept {
        let _ = std::fs::remove_file(&path);
    }
    drop(file);

    // The client-side equivalent: a client recording of the same day, synthesised and verified.
    if std::env::var("TILEGAME_DAY_CLIENT").is_ok_and(|v| v == "0") {
        return;
    }
    client_day(ticks, share);
}

/// A client recording of `ticks` ticks of 20 moving players (`common/synth_client.rs`, from the
/// committed fixture's join), written to a file and verified whole by `verify` as
/// `tilegame-replay verify` runs it: its size, the time to write it, and the verify's wall and
/// CPU time and ticks/s against the target of 2 s for a day (held to `share` of it for a
/// shorter span).
/// `TILEGAME_DAY_CLIENT_FILE` keeps (and re-uses) the recording.
fn client_day(ticks: u64, share: f64) {
    let fixture = ReplayFile::open(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small.tgr"),
    )
    .expect("the fixture opens");
    let DayFile {
        path,
        kept,
        reused,
        written,
    } = day_file(
        "TILEGAME_DAY_CLIENT_FILE",
        "tgr-day-client",
        &format!("a client recording of {ticks} ticks of {PLAYERS} players"),
        |path| {
            let ticks = u32::try_from(ticks).expect("a day's ticks fit in u32");
            let bytes = synth_client::synthesise(&fixture, ticks, PLAYERS, 1200);
            std::fs::write(path, &bytes).expect("the client recording is written");
        },
    );
    let file = ReplayFile::open(&path).expect("the client recording opens");
    let options = VerifyOptions {
        out_dir: None,
        no_timing: true,
    };
    let runs = verify_runs();
    let (mut full, mut cpu) = (f64::MAX, f64::MAX);
    let mut first: Option<tilegame_replay::cmd::verify::VerifyReport> = None;
    for _ in 0..runs {
        let (started, cpu_started) = (Instant::now(), cpu_time());
        let report = verify(&file, &options, false).expect("verifies");
        full = full.min(started.elapsed().as_secs_f64());
        cpu = cpu.min((cpu_time() - cpu_started).as_secs_f64().max(1e-9));
        match &first {
            Some(f) => assert_eq!(report.digest, f.digest, "every run verifies the same"),
            None => first = Some(report),
        }
    }
    let report = first.expect("one run at least");
    assert_eq!(report.exit_code(), 0, "{}", report.render());
    let verified = report.snapshots as f64;
    println!(
        "client day: {} ticks verified ({} snapshots, {} keyframes matched), {PLAYERS} players, {} in {:.1} s; file {} B = {:.0} B per tick",
        report.verified,
        report.snapshots,
        report.keyframes,
        if reused { "re-used" } else { "written" },
        written.as_secs_f64(),
        file.len(),
        file.len() as f64 / verified.max(1.0)
    );
    println!(
        "client verify (best of {runs}): {:.2} s = {:.0} ticks/s; CPU {:.2} s = {:.0} ticks/s of CPU (target ≤ {:.2} s: {})",
        full,
        verified / full,
        cpu,
        verified / cpu,
        2.0 * share,
        if full <= 2.0 * share { "met" } else { "NOT met" }
    );
    if !kept {
        let _ = std::fs::remove_file(&path);
    }
}

/// The recording a part of the bench verifies, and how it came to be there.
struct DayFile {
    /// Where it is.
    path: std::path::PathBuf,
    /// Whether it stays after the bench (its path was given).
    kept: bool,
    /// Whether it was already there and re-used.
    reused: bool,
    /// The time taken to write it (or to find it).
    written: std::time::Duration,
}

/// The recording at the path in `keep_var` (re-used when already there), else a new file named
/// after `stem` in the temporary folder, written by `write`.
fn day_file(
    keep_var: &str,
    stem: &str,
    what: &str,
    write: impl FnOnce(&std::path::Path),
) -> DayFile {
    let keep = std::env::var_os(keep_var).map(std::path::PathBuf::from);
    let kept = keep.is_some();
    let path = keep
        .unwrap_or_else(|| std::env::temp_dir().join(format!("{stem}-{}.tgr", std::process::id())));
    let reused = kept && path.exists();
    let started = Instant::now();
    if reused {
        eprintln!("re-using the recording {}", path.display());
    } else {
        eprintln!("synthesising {what} into {} …", path.display());
        write(&path);
    }
    DayFile {
        path,
        kept,
        reused,
        written: started.elapsed(),
    }
}

/// How many times each verify runs (`TILEGAME_DAY_VERIFY_RUNS`, default 1): the fastest run is
/// reported, since the machine is shared.
fn verify_runs() -> u32 {
    std::env::var("TILEGAME_DAY_VERIFY_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1)
}
