//! `verify` throughput on a 10-player recording (or any, with `TILEGAME_BENCH_FILE`) and on a
//! longer synthesised one: ticks per second through the managers.
//!
//! Records bot 1 of 10 headless bots against an embedded server for `TILEGAME_BENCH_SECONDS`
//! (default 20) — or reads `TILEGAME_BENCH_FILE` — then times the whole `verify` (container
//! decode, engine, hashing) and the engine alone over records already decoded, and prints a
//! table: ticks/s (target ≥ 1,000,000), frames/s, file bytes vs wire bytes. The same table
//! follows for a recording synthesised from that one's join: `TILEGAME_BENCH_LONG_TICKS`
//! (default 4,000; 0 for none) ticks of 20 moving players (`common/synth_client.rs`). The server records
//! its simulation of the same session (`--record`), and re-simulating it is timed too, as is
//! seeking in it (`play --until` a late tick) through its keyframes and, for comparison, in the
//! same file without them (from the start). Each throughput is given in wall time and in the
//! process's CPU time (the machine is shared).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The allocator `tilegame-replay` itself uses (see its `main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use tilegame_replay::cmd::verify::{verify, VerifyOptions};
use tilegame_replay::engine::Engine;
use tilegame_replay::ReplayFile;

#[path = "common/cpu.rs"]
mod cpu;
use cpu::cpu_time;

#[path = "common/rng.rs"]
mod rng;
#[path = "common/synth_client.rs"]
mod synth_client;

use tilegame_testkit::ServerProcess;

fn record(path: &Path, simulation: &Path, seconds: f64) {
    let server = ServerProcess::start(&[
        "--seed".as_ref(),
        "bench".as_ref(),
        "--size".as_ref(),
        "small".as_ref(),
        "--max-players".as_ref(),
        "16".as_ref(),
        "--record".as_ref(),
        simulation.as_os_str(),
    ]);
    let recorder = tilegame_client::net::recorder::create(path, "bot1", 1200).expect("recording");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(tilegame_client::headless::run(
        tilegame_client::headless::HeadlessOptions {
            address: server.addr().to_string(),
            name: "bot".into(),
            bots: 10,
            seconds: Some(seconds),
            seed: 1,
            print_status: false,
            recorder: Some(recorder),
            connect_timeout: Duration::from_secs(30),
            play_timeout: Duration::from_secs(10),
            say: Vec::new(),
        },
    ));
    server.shutdown();
}

fn main() {
    // `cargo test --benches` runs this with `--bench`-less args; keep that quick.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    let mut simulation = None;
    let path = match std::env::var_os("TILEGAME_BENCH_FILE") {
        Some(p) => PathBuf::from(p),
        None => {
            let seconds = std::env::var("TILEGAME_BENCH_SECONDS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(20.0);
            let path = std::env::temp_dir().join(format!("tgr-bench-{}.tgr", std::process::id()));
            eprintln!(
                "recording 10 bots for {seconds} s into {} …",
                path.display()
            );
            let sim_path = path.with_extension("sim.tgr");
            record(&path, &sim_path, seconds);
            simulation = Some(sim_path);
            path
        }
    };
    let file = ReplayFile::open(&path).expect("the recording opens");
    // The players the recording saw (its own file's, not the 10 bots this bench records).
    let players = tilegame_replay::cmd::info::gather(&file)
        .expect("info")
        .players
        .len();
    measure(&format!("the recording ({players} players)"), &file);

    // A longer recording of 20 players from the same join (see `common/synth_client.rs`).
    let long_ticks = std::env::var("TILEGAME_BENCH_LONG_TICKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4000u32);
    if long_ticks > 0 {
        let bytes = synth_client::synthesise(&file, long_ticks, 20, 1200);
        let long = ReplayFile::from_bytes("synthesised.tgr", bytes);
        measure(
            &format!("a synthesised recording ({long_ticks} ticks, 20 players)"),
            &long,
        );
    }
    if let Some(sim_path) = simulation {
        // The server's simulation recording of the same session, re-simulated.
        let sim_file = ReplayFile::open(&sim_path).expect("the simulation recording opens");
        let first = tilegame_replay::cmd::sim::resimulate(&sim_file, None).expect("re-simulates");
        assert_eq!(first.exit_code(), 0, "{}", first.render());
        let runs = 5u32;
        let (started, cpu_started) = (Instant::now(), cpu_time());
        for _ in 0..runs {
            let r = tilegame_replay::cmd::sim::resimulate(&sim_file, None).expect("re-simulates");
            assert_eq!(r.digest, first.digest);
        }
        let t = (started.elapsed() / runs).as_secs_f64().max(1e-12);
        let cpu = ((cpu_time() - cpu_started) / runs).as_secs_f64().max(1e-12);
        let ticks = first.hashes.len() as f64;
        println!(
            "server simulation recording: {} ticks, {} inputs, {} bytes ({:.0} B/tick); re-simulated in {:.3} ms = {:.0} ticks/s ({:.0} ticks/s of CPU)",
            first.hashes.len(),
            first.counts.inputs,
            sim_file.len(),
            sim_file.len() as f64 / ticks.max(1.0),
            t * 1000.0,
            ticks / t,
            ticks / cpu
        );
        seek(&sim_file, &first);
        let _ = std::fs::remove_file(&sim_path);
    }
    if std::env::var_os("TILEGAME_BENCH_FILE").is_none() {
        let _ = std::fs::remove_file(&path);
    }
}

/// Times the whole `verify` of `file` and the engine alone over its decoded records, and
/// prints them (wall and CPU time).
fn measure(label: &str, file: &ReplayFile) {
    let options = VerifyOptions {
        out_dir: None,
        no_timing: true,
    };
    let first = verify(file, &options, false).expect("verify");
    assert_eq!(first.exit_code(), 0, "{}", first.render());
    println!();
    println!("== {label}");
    print!("{}", first.render());

    // Whole verify: container + decode + managers + hashes. At least 20 runs and 0.5 s.
    let (mut runs, started, cpu_started) = (0u32, Instant::now(), cpu_time());
    while runs < 20 || started.elapsed() < Duration::from_millis(500) {
        let r = verify(file, &options, false).expect("verify");
        assert_eq!(r.digest, first.digest);
        runs += 1;
    }
    let whole = started.elapsed() / runs;
    let whole_cpu = (cpu_time() - cpu_started) / runs;

    // Engine alone, over records decoded beforehand.
    let mut reader = file.open_reader().expect("header");
    let header = reader.header().clone();
    let records = reader.records();
    let (mut runs, started, cpu_started) = (0u32, Instant::now(), cpu_time());
    while runs < 20 || started.elapsed() < Duration::from_millis(500) {
        let mut engine = Engine::new(&header);
        for r in &records {
            let _ = engine.feed(r).expect("replays");
        }
        assert_eq!(engine.counts().snapshots, first.snapshots);
        runs += 1;
    }
    let engine_only = started.elapsed() / runs;
    let engine_cpu = (cpu_time() - cpu_started) / runs;

    // The players' hash alone, both definitions on the same states, alternated: a snapshot's
    // worth of work, free of the file's other costs (and of most of the machine's noise).
    let mut engine = Engine::new(&header);
    let mut states = Vec::new();
    for r in &records {
        if let Ok(Some(tilegame_replay::TickOutcome::Snapshot { .. })) = engine.feed(r) {
            if engine.counts().snapshots.is_multiple_of(16) {
                states.extend(engine.play().map(|p| p.players.clone()));
            }
        }
    }
    let (mut fnv, mut words, mut n) = (Duration::ZERO, Duration::ZERO, 0u32);
    let mut sink = 0u64;
    while n < 20 || fnv + words < Duration::from_millis(300) {
        let t = cpu_time();
        for s in &states {
            sink ^= std::hint::black_box(s).state_hash_fnv();
        }
        fnv += cpu_time() - t;
        let t = cpu_time();
        for s in &states {
            sink ^= std::hint::black_box(s).state_hash();
        }
        words += cpu_time() - t;
        n += 1;
    }
    std::hint::black_box(sink);
    let per = |d: Duration| d.as_nanos() as f64 / f64::from(n) / states.len().max(1) as f64;
    let known = states.last().map_or(0, |s| s.len());

    let ticks = first.snapshots as f64;
    let frames = (first.frames.0 + first.frames.1) as f64;
    let (file_bytes, wire_bytes) = first.bytes;
    println!(
        "format {}: {} ticks, {} frames",
        header.format_version, first.snapshots, frames
    );
    println!(
        "bytes: file {file_bytes} vs wire {wire_bytes} ({:.2}x: record framing, tick hashes, keyframes)",
        file_bytes as f64 / wire_bytes.max(1) as f64
    );
    println!(
        "{:<28} {:>12} {:>14} {:>14} {:>12} {:>16}",
        "measure", "time/run", "ticks/s", "frames/s", "MB/s (file)", "ticks/s of CPU"
    );
    for (name, t, cpu) in [
        ("verify (whole file)", whole, whole_cpu),
        ("engine only (decoded)", engine_only, engine_cpu),
    ] {
        let s = t.as_secs_f64().max(1e-12);
        println!(
            "{:<28} {:>10.3}ms {:>14.0} {:>14.0} {:>12.1} {:>16.0}",
            name,
            s * 1000.0,
            ticks / s,
            frames / s,
            file_bytes as f64 / s / 1e6,
            ticks / cpu.as_secs_f64().max(1e-12)
        );
    }
    println!(
        "players' hash per tick ({known} players, CPU): {:.0} ns FNV-1a (formats 1-4), {:.0} ns format 5",
        per(fnv),
        per(words)
    );
    let per_cpu = ticks / whole_cpu.as_secs_f64().max(1e-12);
    let per_wall = ticks / whole.as_secs_f64().max(1e-12);
    let verdict = |v: f64| if v >= 1_000_000.0 { "met" } else { "NOT met" };
    println!(
        "target ≥ 1,000,000 ticks/s through verify: {} in CPU time, {} in wall time",
        verdict(per_cpu),
        verdict(per_wall)
    );
}

/// Times `play --until` a late tick of a simulation recording: through its nearest keyframe,
/// and from the start in the same recording without keyframes.
fn seek(file: &ReplayFile, full: &tilegame_replay::cmd::sim::SimRun) {
    use tilegame_protocol::replay_file::ReplayWriter;
    use tilegame_protocol::replay_format::Record;
    let Some((_, last)) = full.ticks else {
        return;
    };
    let late = last.saturating_sub(5);
    let mut reader = file.open_reader().expect("header");
    let header = reader.header().clone();
    let mut writer = ReplayWriter::new(Vec::new(), &header).expect("header");
    let mut keyframes = (0u64, 0usize);
    for record in reader.by_ref() {
        if let Record::SimKeyframe(_) = &record {
            let mut bytes = Vec::new();
            tilegame_protocol::wire::encode_body(&record, "Record", &mut bytes).expect("encodes");
            keyframes = (keyframes.0 + 1, keyframes.1 + bytes.len());
            continue;
        }
        writer.push(&record).expect("record");
        // One chunk per tick, as the server writes them.
        if matches!(record, Record::SimStart(_) | Record::SimTick(_)) {
            writer.flush().expect("flush");
        }
    }
    let bare_bytes = writer.finish().expect("finish");
    let bare_path = std::env::temp_dir().join(format!("tgr-bench-bare-{}.tgr", std::process::id()));
    std::fs::write(&bare_path, &bare_bytes).expect("written");
    let bare = ReplayFile::open(&bare_path).expect("opens");
    let time = |f: &ReplayFile| {
        let mut first = Vec::new();
        tilegame_replay::cmd::sim::play(f, late, true, &mut first).expect("plays");
        let runs = 10u32;
        let started = Instant::now();
        for _ in 0..runs {
            let mut out = Vec::new();
            tilegame_replay::cmd::sim::play(f, late, true, &mut out).expect("plays");
            assert_eq!(out, first);
        }
        ((started.elapsed() / runs).as_secs_f64(), first)
    };
    let (through, a) = time(file);
    let (from_start, b) = time(&bare);
    assert_eq!(a, b, "the same state at tick {late} either way");
    let keyframe = tilegame_replay::cmd::sim::find_keyframe(file, late)
        .expect("reads")
        .map_or(0, |(_, tick)| tick);
    println!(
        "keyframes: {} of {} B on average; the file is {} B with them, {} B without",
        keyframes.0,
        keyframes.1 as u64 / keyframes.0.max(1),
        file.len(),
        bare_bytes.len()
    );
    println!(
        "play --until {late}: {:.3} ms through the keyframe of tick {keyframe}, {:.3} ms from the start ({:.1}x)",
        through * 1000.0,
        from_start * 1000.0,
        from_start / through.max(1e-12)
    );
    let _ = std::fs::remove_file(&bare_path);
}
