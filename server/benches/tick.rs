//! The simulation loop alone: tick work for N players with no sockets, to separate the
//! server's own cost from the cost of N clients sharing the same two cores.
//!
//! `cargo bench -p tilegame-server --bench tick [-- --players 1000 --ticks 400]`
//!
//! Players join through the same commands as real connections, walk with seeded random
//! inputs over a Large map, and every snapshot frame is drained from their queues each tick.

use std::time::Instant;

use tilegame_game::{self as game, SplitMix64};
use tilegame_server::outbox::Outbox;
use tilegame_server::sim::{Command, Sim};
use tokio::sync::oneshot;

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
    println!("\n== Simulation tick work, no sockets (Large map, view radius 24 tiles) ==");
    println!(
        "{:>7} | {:>9} {:>9} {:>9} | {:>12}",
        "players", "p50 µs", "p99 µs", "max µs", "frame B/tick"
    );
    for players in [10, 100, get("--players", 1000)] {
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
        let mut queues = Vec::new();
        let mut kicks = Vec::new();
        for i in 0..players {
            let outbox = Outbox::new(1 << 20);
            let (kick, kick_rx) = oneshot::channel();
            let (reply, _reply_rx) = oneshot::channel();
            sim.handle(Command::Join {
                name: format!("p{i}"),
                color: 0x808080,
                reply,
                outbox: outbox.clone(),
                kick,
            });
            outbox.open_play();
            queues.push(outbox);
            kicks.push(kick_rx);
        }
        let mut rng = SplitMix64::new(7);
        let mut dirs: Vec<(i8, i8)> = vec![(0, 0); players];
        let mut times = Vec::with_capacity(ticks);
        let mut bytes = 0usize;
        for t in 0..ticks as u32 {
            for (i, dir) in dirs.iter_mut().enumerate() {
                if t % 40 == 0 {
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
            times.push(started.elapsed().as_micros() as u64);
            for q in &queues {
                bytes += q.drain().len();
            }
        }
        // Skip the first 100 ticks (everyone at the spawn) so players have spread out.
        let mut t: Vec<u64> = times[100.min(times.len())..].to_vec();
        t.sort_unstable();
        let pct = |p: f64| {
            t.get(((t.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or(0)
        };
        println!(
            "{players:>7} | {:>9} {:>9} {:>9} | {:>12}",
            pct(0.5),
            pct(0.99),
            t.last().copied().unwrap_or(0),
            bytes / ticks.max(1)
        );
    }
}
