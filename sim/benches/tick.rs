//! The simulation loop alone: tick work for N players with no sockets, to separate the
//! server's own cost from the cost of N clients sharing the same two cores.
//!
//! `cargo bench -p tilegame-sim --bench tick [-- --players 1000 --ticks 400 --only 2000 --digest]`
//!
//! `--digest` also prints, per N, an FNV-1a digest of every byte sent to the clients over all
//! ticks (tick by tick, client by client) and the world's state hash at the end: two builds that
//! print the same digests sent the same frames and simulated the same world. The hashing counts
//! in the CPU column: compare CPU only between runs without it.
//!
//! Players join through the same commands as real connections, spread out from the spawn
//! (each walks in its own direction for up to ~3,000 px, unmeasured), then walk with seeded
//! random inputs over a Large map; every snapshot frame is drained from their queues each tick.

use std::time::Instant;

use std::sync::OnceLock;

use tilegame_game::{self as game, SplitMix64};
use tilegame_sim::{Command, MemoryLink, Sim, PHASES};

/// Nanoseconds since the first call: the clock the loop's phases are timed with.
fn phase_clock() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// CPU time this process has used (all threads, live and ended), in clock ticks of 10 ms.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)
}

/// Ticks to let the players spread out before measuring (they all join at the spawn).
const SPREAD_TICKS: usize = 200;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let ticks = get("--ticks", 400);
    let digest = args.iter().any(|a| a == "--digest");
    let mut digest_lines = Vec::new();
    println!("\n== Simulation tick work, no sockets (Large map, view radius 24 tiles) ==");
    println!(
        "{:>7} | {:>9} {:>9} {:>9} {:>9} | {:>7} {:>7} {:>7} | {:>12}",
        "players",
        "p50 µs",
        "p99 µs",
        "max µs",
        "CPU µs",
        "seen/pl",
        "looked",
        "Δ/pl",
        "frame B/tick"
    );
    // `--only N` measures N players alone (for a profiler or an instruction count).
    let sizes = match get("--only", 0) {
        0 => vec![10, 100, get("--players", 1000), 2000],
        n => vec![n],
    };
    let mut phase_lines = Vec::new();
    let mut spread_lines = Vec::new();
    for players in sizes {
        let map =
            game::generate("tickbench", game::Theme::Default, game::MapSize::Large).expect("map");
        let mut sim = Sim::new(
            game::World::new(map),
            "tickbench".into(),
            game::Theme::Default,
            players,
            20,
        );
        sim.set_view_radius(24);
        sim.set_phase_clock(phase_clock);
        let mut queues = Vec::new();
        for i in 0..players {
            let link = MemoryLink::new(1 << 20);
            sim.handle(Command::Join {
                name: format!("p{i}"),
                color: 0x808080,
                link: link.boxed(),
            });
            queues.push(link);
        }
        let mut rng = SplitMix64::new(7);
        // First each player walks out in its own direction for up to 170 ticks (~3,000 px at
        // top speed), as the load benchmark's bots walk to a random point, then walks randomly.
        let mut dirs: Vec<(i8, i8)> = (0..players)
            .map(|_| loop {
                let d = (rng.below(3) as i8 - 1, rng.below(3) as i8 - 1);
                if d != (0, 0) {
                    break d;
                }
            })
            .collect();
        let out_for: Vec<u32> = (0..players).map(|_| rng.below(171) as u32).collect();
        let mut times = Vec::with_capacity(ticks);
        let mut spreading = Vec::with_capacity(SPREAD_TICKS);
        let mut since = None;
        let mut phases_from = tilegame_sim::PhaseTimes::default();
        let mut cpu_from = 0;
        let mut bytes = 0usize;
        let mut sent = game::StableHasher::new();
        for t in 0..(SPREAD_TICKS + ticks) as u32 {
            for (i, dir) in dirs.iter_mut().enumerate() {
                if t == out_for[i] {
                    *dir = (0, 0);
                }
                if t >= SPREAD_TICKS as u32 && t % 40 == 0 {
                    *dir = (rng.below(3) as i8 - 1, rng.below(3) as i8 - 1);
                }
                let input = game::Input {
                    seq: t + 1,
                    move_x: dir.0,
                    move_y: dir.1,
                    ..game::Input::default()
                };
                sim.handle(Command::Input {
                    id: game::PlayerId(i as u32 + 1),
                    input,
                });
            }
            let started = Instant::now();
            sim.tick();
            let took = started.elapsed().as_micros() as u64;
            let mut drained = 0;
            for q in &queues {
                let frames = q.drain();
                drained += frames.len();
                if digest {
                    sent.write_bytes(&frames);
                }
            }
            if t >= SPREAD_TICKS as u32 {
                since.get_or_insert_with(|| {
                    cpu_from = cpu_ticks();
                    let s = sim.stats();
                    let s = s.lock().map(|s| s.clone()).unwrap_or_default();
                    phases_from = s.phases;
                    s.replication
                });
                times.push(took);
                bytes += drained;
            } else {
                spreading.push(took);
            }
        }
        let mut t: Vec<u64> = times;
        t.sort_unstable();
        let pct = |p: f64| {
            t.get(((t.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or(0)
        };
        // Mean CPU time per measured tick (all threads; includes draining the queues).
        let cpu_us = cpu_ticks().saturating_sub(cpu_from) * 10_000 / ticks.max(1) as u64;
        let stats = sim.stats();
        let stats = stats.lock().map(|s| s.clone()).unwrap_or_default();
        let now = stats.replication;
        let since = since.unwrap_or_default();
        let per = |a: u64, b: u64| {
            a.saturating_sub(b) as f64
                / now.ticks.saturating_sub(since.ticks).max(1) as f64
                / players.max(1) as f64
        };
        println!(
            "{players:>7} | {:>9} {:>9} {:>9} {:>9} | {:>7.1} {:>7.1} {:>7.1} | {:>12}",
            pct(0.5),
            pct(0.99),
            t.last().copied().unwrap_or(0),
            cpu_us,
            per(now.visible, since.visible),
            per(now.candidates, since.candidates),
            per(now.deltas, since.deltas),
            bytes / ticks.max(1)
        );
        spreading.sort_unstable();
        spread_lines.push(format!(
            "{players:>7} | p50 {} / p99 {} / max {} µs",
            spreading.get(spreading.len() / 2).copied().unwrap_or(0),
            spreading
                .get((spreading.len() * 99 / 100).min(spreading.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0),
            spreading.last().copied().unwrap_or(0)
        ));
        digest_lines.push(format!(
            "{players:>7} | frames {:016x} / world {:016x}",
            sent.finish(),
            sim.world().state_hash()
        ));
        phase_lines.push(format!(
            "{players:>7} | {}",
            stats.phases.summary_since(&phases_from)
        ));
    }
    println!(
        "\nMean wall time per tick by phase, µs ({}):",
        PHASES.join(", ")
    );
    for line in phase_lines {
        println!("{line}");
    }
    println!(
        "\nWall time per tick while the players walk out from the spawn (first {SPREAD_TICKS} \
         ticks, not measured above; all join on one spot):"
    );
    for line in spread_lines {
        println!("{line}");
    }
    if digest {
        println!("\nDigest of every frame sent (all ticks) and the world's hash at the end:");
        for line in digest_lines {
            println!("{line}");
        }
    }
}
