//! A longer client recording, synthesised deterministically for the verify bench.
//!
//! Live recordings are made in real time (20 ticks a second), so the bench's own is a few
//! hundred ticks long and its fixed costs (the join, the map) weigh on its ticks/s. This
//! builds a recording of any length from a real one: its records up to the join are kept as
//! they are, then every tick gets what a client in a busy game records — an `Input` frame to the
//! server, a `Snapshot` frame moving every player (players are added on first sight until there
//! are `players` of them), its 16-bit tick hashes computed by the client's own managers as the
//! recorder computes them, a keyframe every `keyframe_interval` ticks and a flush every 10 ticks
//! (0.5 s) — from a seeded generator: the same inputs always give the same bytes.

use tilegame_client::keyframe::Keyframe as StateKeyframe;
use tilegame_protocol::replay_file::{ReplayWriter, FORMAT_VERSION};
use tilegame_protocol::replay_format::{
    End, Frame, FrameDirection, Keyframe, KeyframeState, Record, TickHashLow,
};
use tilegame_protocol::v1::{play, Packet, PlayerDelta, Position, State};
use tilegame_replay::engine::{Engine, TickOutcome};
use tilegame_replay::packets::{self, AnyPacket};
use tilegame_replay::ReplayFile;

use crate::rng::Rng;

/// A step of -2 to 2 pixels.
fn step(rng: &mut Rng) -> i32 {
    (rng.next() % 5) as i32 - 2
}

/// The bytes of a client recording: `file`'s join, then `ticks` ticks of `players` players.
pub fn synthesise(file: &ReplayFile, ticks: u32, players: u32, keyframe_interval: u32) -> Vec<u8> {
    let mut reader = file.open_reader().expect("header");
    let mut header = reader.header().clone();
    header.format_version = FORMAT_VERSION;
    header.keyframe_interval = keyframe_interval;
    let mut writer = ReplayWriter::new(Vec::new(), &header).expect("header");
    let mut engine = Engine::new(&header);
    let (mut seq, mut micros, mut tick) = (0u64, 0u64, 0u32);
    let mut input: Option<play::Input> = None;
    let mut joined = false;
    for record in reader.by_ref() {
        if let Record::Frame(f) = &record {
            if let Ok(AnyPacket::PlayToServer(play::ToServer::Input(i))) = packets::decode(f) {
                input.get_or_insert(i);
            }
            if joined {
                continue;
            }
            seq = f.seq + 1;
            // The recorders keep whole milliseconds (so their frames take the compact form);
            // the fixture's join is older and keeps microseconds.
            micros = f.micros.div_ceil(1000) * 1000;
        }
        if joined || !matches!(record, Record::Frame(_)) {
            continue;
        }
        writer.push(&record).expect("record");
        if let Ok(Some(TickOutcome::Joined { tick: t })) = engine.feed(&record) {
            tick = t;
            joined = true;
        }
    }
    assert!(joined, "the recording joins");
    let mut input = input.expect("the recording holds an Input");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let known: Vec<u32> = engine
        .play()
        .expect("joined")
        .players
        .iter()
        .map(|p| p.id)
        .collect();
    let mut next_id = known.iter().copied().max().unwrap_or(0) + 1;
    let mut ids = known;
    let frame = |seq: &mut u64, direction, tick, micros, bytes: Vec<u8>| {
        let record = Record::Frame(Frame {
            seq: *seq,
            direction,
            state: State::Play.tag(),
            tick,
            micros,
            wire_bytes: bytes.len() as u32 + 1,
            payload_bytes: bytes.len() as u32 - 1,
            packet_id: bytes[0],
            bytes,
        });
        *seq += 1;
        record
    };
    for n in 0..ticks {
        tick += 1;
        micros += 50_000;
        input.seq += 1;
        input.ack_tick = tick - 1;
        let mut bytes = vec![play::Input::ID];
        play::ToServer::Input(input.clone())
            .encode_body(&mut bytes)
            .expect("encodes");
        let out = frame(&mut seq, FrameDirection::ToServer, tick, micros, bytes);
        writer.push(&out).expect("record");
        engine.feed(&out).expect("replays");

        let mut deltas = Vec::with_capacity(players as usize);
        if (ids.len() as u32) < players {
            let id = next_id;
            next_id += 1;
            ids.push(id);
            deltas.push(PlayerDelta {
                id,
                name: Some(format!("synth{id}")),
                position: Some(Position {
                    x: 400 + (rng.next() % 400) as i32,
                    y: 400 + (rng.next() % 400) as i32,
                }),
                dx: None,
                dy: None,
                velocity: Some(Position { x: 60, y: 0 }),
                health: Some(100),
                color: Some((rng.next() & 0xff_ffff) as u32),
            });
        }
        for &id in &ids {
            if deltas.first().is_some_and(|d| d.id == id) {
                continue;
            }
            let (dx, dy) = (step(&mut rng), step(&mut rng));
            let turn = rng.next().is_multiple_of(8);
            deltas.push(PlayerDelta {
                id,
                name: None,
                position: None,
                dx: (dx != 0).then_some(dx),
                dy: (dy != 0).then_some(dy),
                velocity: turn.then_some(Position {
                    x: dx * 20,
                    y: dy * 20,
                }),
                health: None,
                color: None,
            });
        }
        deltas.sort_by_key(|d| d.id);
        let mut bytes = vec![play::Snapshot::ID];
        play::ToClient::Snapshot(play::Snapshot {
            tick,
            ack_seq: input.seq,
            players: deltas,
            tiles: vec![],
            gone: vec![],
        })
        .encode_body(&mut bytes)
        .expect("encodes");
        let snap = frame(&mut seq, FrameDirection::ToClient, tick, micros, bytes);
        writer.push(&snap).expect("record");
        let Ok(Some(TickOutcome::Snapshot { hashes, .. })) = engine.feed(&snap) else {
            panic!("a snapshot of tick {tick}");
        };
        let hash = Record::TickHashLow(TickHashLow {
            tick,
            world: hashes.world as u16,
            players: hashes.players as u16,
        });
        writer.push(&hash).expect("record");
        engine.feed(&hash).expect("replays");
        if keyframe_interval > 0 && n.is_multiple_of(keyframe_interval) {
            let state = StateKeyframe::capture(engine.play().expect("joined"))
                .expect("captures")
                .to_bytes();
            let state: KeyframeState =
                tilegame_protocol::wire::decode_body("KeyframeState", &state).expect("decodes");
            let k = Record::Keyframe(Keyframe {
                tick,
                frame_seq: seq,
                state,
            });
            writer.push(&k).expect("record");
            engine.feed(&k).expect("replays");
        }
        if n % 10 == 9 {
            writer.flush().expect("flush");
        }
    }
    writer
        .push(&Record::End(End {
            frames: seq,
            reason: "synthesised".into(),
        }))
        .expect("record");
    writer.finish().expect("finish")
}
