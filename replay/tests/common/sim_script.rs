//! Simulation recordings written by the loop itself (as `tilegame-server --record` writes one),
//! from a short script: who joins, who joins late, who leaves; everyone walks back and forth and
//! breaks a tile every 10 ticks.

use std::path::Path;

use tilegame_game as game;
use tilegame_protocol::replay_format as rf;
use tilegame_sim::simlog::SimLog;
use tilegame_sim::{Command, MemoryLink, Sim};

/// What happens in a scripted recording.
pub struct SimScript<'a> {
    /// The world's seed (a small map of the default theme).
    pub seed: &'a str,
    /// Who joins before the first tick, in order.
    pub names: &'a [&'a str],
    /// Ticks recorded.
    pub ticks: u32,
    /// Ticks between keyframes.
    pub keyframe_every: u32,
    /// One more player joining just before that tick's inputs.
    pub late: Option<(u32, &'a str)>,
    /// At that tick, after its inputs, the player at that place in the join order leaves.
    pub leave: (u32, usize),
}

/// Records `script` into `path`.
pub fn record(path: &Path, script: &SimScript) {
    let seed = script.seed;
    let map = game::generate(seed, game::Theme::Default, game::MapSize::Small).expect("map");
    let start = rf::SimStart {
        seed: seed.into(),
        theme: 0,
        width: map.width(),
        height: map.height(),
        map_hash: map.hash(),
        max_players: 8,
        heartbeat_ticks: 20,
        view_radius_tiles: 0,
        outbox_bytes: 1 << 20,
        tick_rate: 20,
    };
    let mut sim = Sim::new(
        game::World::new(map),
        seed.into(),
        game::Theme::Default,
        8,
        20,
    );
    let file = std::fs::File::create(path).expect("file");
    let out = Box::new(std::io::BufWriter::new(file));
    sim.set_log(
        SimLog::record(out, "test", start, script.keyframe_every, "test", 0).expect("recording"),
    );
    let join = |sim: &mut Sim, name: &str| -> (game::PlayerId, MemoryLink) {
        let link = MemoryLink::new(1 << 20);
        sim.handle(Command::Join {
            name: name.into(),
            color: 0x123456,
            link: link.boxed(),
        });
        let joined = link.take_answer().expect("answered").expect("joined");
        (joined.id, link)
    };
    let mut links: Vec<_> = script.names.iter().map(|n| join(&mut sim, n)).collect();
    for t in 1..=script.ticks {
        if let Some((at, name)) = script.late {
            if t == at {
                links.push(join(&mut sim, name));
            }
        }
        for (i, (id, link)) in links.iter().enumerate() {
            let input = game::Input {
                seq: t,
                move_x: if (t / 8 + i as u32).is_multiple_of(2) {
                    1
                } else {
                    -1
                },
                move_y: 0,
                item: game::Item::Shovel,
                action: if t % 10 == 5 {
                    game::Action::Break {
                        x: 5 + i as u16,
                        y: 30,
                    }
                } else {
                    game::Action::None
                },
            };
            sim.handle(Command::Input { id: *id, input });
            let _ = link.drain();
        }
        if t == script.leave.0 {
            let (id, _) = links.remove(script.leave.1);
            sim.handle(Command::Leave {
                id,
                reason: tilegame_protocol::v1::DisconnectReason::Quit,
            });
        }
        sim.tick();
    }
}
