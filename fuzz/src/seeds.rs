//! The committed seed corpora (`fuzz/seeds/<target>/`), built from real data.
//!
//! Packets come from the replay fixture `replay/tests/fixtures/small.tgr`, a real recorded
//! session (every frame in both directions, with its state); maps come from the game's own world
//! generator and are transferred with the protocol's own `map_to_transfer`; replay files are that
//! fixture and records re-written with `ReplayWriter`; keyframes are the fixture's own.
//! `cargo run --example write_seeds` regenerates them (see fuzz/README.md).

use std::collections::BTreeMap;

use tilegame_game as game;
use tilegame_protocol::convert;
use tilegame_protocol::frame::encode_frame;
use tilegame_protocol::replay_file::ReplayReader;
use tilegame_protocol::replay_format::{FrameDirection, Record};
use tilegame_protocol::v1::{self, map_transfer, AnyPacket};
use tilegame_protocol::wire::encode_body;
use tilegame_protocol::State;

/// Largest seed file written (the corpora stay small enough to commit).
pub const MAX_SEED: usize = 16 << 10;

/// Request paths the `web_input` target starts from.
const WEB_PATHS: [&str; 8] = [
    "/",
    "/index.html",
    "/assets/fonts/a%20b.ttf",
    "/tilegame_bg.wasm",
    "/%2e%2e/%2E%2e%2fetc/passwd",
    "/a/../b/./c",
    "/..%5c%252e%00/.git/x:y",
    "//dir//",
];

/// One seed file: target, file name, bytes.
pub type Seed = (&'static str, String, Vec<u8>);

fn target_of(state: State, direction: FrameDirection) -> &'static str {
    match (state, direction) {
        (State::Handshake, FrameDirection::ToServer) => "handshake_to_server",
        (State::Handshake, FrameDirection::ToClient) => "handshake_to_client",
        (State::Login, FrameDirection::ToServer) => "login_to_server",
        (State::Login, FrameDirection::ToClient) => "login_to_client",
        (State::MapTransfer, FrameDirection::ToServer) => "map_transfer_to_server",
        (State::MapTransfer, FrameDirection::ToClient) => "map_transfer_to_client",
        (State::Play, FrameDirection::ToServer) => "play_to_server",
        (State::Play, FrameDirection::ToClient) => "play_to_client",
    }
}

fn framed(id: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(id, body, &mut out);
    out
}

fn packet_frame(packet: AnyPacket) -> Vec<u8> {
    let mut body = Vec::new();
    packet
        .encode_body(&mut body)
        .expect("a real packet encodes");
    framed(packet.id(), &body)
}

/// A map's transfer as the frames a server sends.
fn transfer_stream(map: &game::Map, seed: &str) -> Vec<u8> {
    let t = convert::map_to_transfer(map, seed, game::Theme::Default);
    let mut out = packet_frame(map_transfer::ToClient::MapBegin(t.begin).into());
    for chunk in t.chunks {
        out.extend(packet_frame(map_transfer::ToClient::MapChunk(chunk).into()));
    }
    out.extend(packet_frame(
        map_transfer::ToClient::MapEnd(map_transfer::MapEnd {
            checksum: t.checksum,
            players: Vec::new(),
        })
        .into(),
    ));
    out
}

/// `map_payload` input: width, height (u16 LE), then the encoded payload.
fn payload_input(map: &game::Map) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(map.width().to_le_bytes());
    out.extend(map.height().to_le_bytes());
    encode_body(&convert::map_payload(map), "MapPayload", &mut out).expect("a map encodes");
    out
}

/// Small maps: uniform, a checkerboard, generated worlds with changed tiles.
fn maps() -> Vec<(String, game::Map)> {
    let mut out = Vec::new();
    let uniform = game::Map::from_tiles(8, 4, vec![game::Tile::Grass; 32]).expect("8×4");
    out.push(("uniform".to_owned(), uniform));
    let checker = (0..16 * 16)
        .map(|i| {
            if (i + i / 16) % 2 == 0 {
                game::Tile::Cobblestone
            } else {
                game::Tile::Lava
            }
        })
        .collect();
    let mut checker = game::Map::from_tiles(16, 16, checker).expect("16×16");
    checker.change(3, 3, game::Tile::Dirt).expect("in the map");
    out.push(("checker".to_owned(), checker));
    for theme in [
        game::Theme::Default,
        game::Theme::Hell,
        game::Theme::Islands,
    ] {
        let mut map = game::generate("abc", theme, game::MapSize::Small).expect("small map");
        map.change(1, 2, game::Tile::Dirt).expect("in the map");
        let name = format!("generated-{theme:?}").to_lowercase();
        out.push((name, map));
    }
    out
}

/// replay_reader seeds of format 3: the fixture's first records rewritten by the current writer
/// (raw mode), and compressed framed mode over the same records deflated in two chunks (the
/// second continuing the first's stream), a bomb (zeros declared short) and a continuation
/// with no stream.
fn replay_format3_seeds<R: std::io::Read>(
    reader: &ReplayReader<R>,
    records: &[Record],
    seeds: &mut Vec<Seed>,
) {
    use flate2::{Compress, Compression, FlushCompress};
    use tilegame_protocol::replay_file::ReplayWriter;
    let file = |n: usize| {
        let mut writer = ReplayWriter::new(Vec::new(), reader.header()).expect("header");
        for record in &records[..n] {
            writer.push(record).expect("a read record encodes");
            writer.flush().expect("in memory");
        }
        let mut raw = vec![0];
        raw.extend(writer.finish().expect("in memory"));
        raw
    };
    let mut raw = file(0);
    for n in 1..=records.len() {
        let longer = file(n);
        if longer.len() > MAX_SEED {
            break;
        }
        raw = longer;
    }
    seeds.push(("replay_reader", "format3-raw".into(), raw));

    let deflate = |c: &mut Compress, input: &[u8]| {
        let mut out = Vec::with_capacity(input.len() + 1024);
        c.compress_vec(input, &mut out, FlushCompress::Sync)
            .expect("deflate");
        out
    };
    let chunk = |records: u8, codec: u8, raw_length: usize, body: &[u8]| {
        let mut v = vec![records, codec];
        v.extend(&(raw_length as u32).to_le_bytes()[..3]);
        v.extend((body.len() as u16).to_le_bytes());
        v.extend(body);
        v
    };
    let mut bodies = [Vec::new(), Vec::new()];
    let mut counts = [0u8; 2];
    for (i, record) in records.iter().take(16).enumerate() {
        encode_body(record, "Record", &mut bodies[i / 8]).expect("a read record encodes");
        counts[i / 8] += 1;
    }
    let mut c = Compress::new(Compression::new(6), false);
    let first = deflate(&mut c, &bodies[0]);
    let second = deflate(&mut c, &bodies[1]);
    let mut framed = vec![3];
    framed.extend(chunk(counts[0], 2, bodies[0].len(), &first));
    framed.extend(chunk(counts[1], 1, bodies[1].len(), &second));
    if framed.len() <= MAX_SEED {
        seeds.push(("replay_reader", "compressed-chunks".into(), framed));
    }
    let zeros = deflate(
        &mut Compress::new(Compression::new(9), false),
        &vec![0u8; 1 << 20],
    );
    let mut bomb = vec![3];
    bomb.extend(chunk(1, 2, 4096, &zeros));
    seeds.push(("replay_reader", "compressed-bomb".into(), bomb));
    let mut orphan = vec![3];
    orphan.extend(chunk(counts[1], 1, bodies[1].len(), &second));
    seeds.push(("replay_reader", "compressed-no-stream".into(), orphan));
}

/// Every seed, from the replay fixture's bytes.
pub fn all(fixture: &[u8]) -> Vec<Seed> {
    let mut seeds: Vec<Seed> = Vec::new();
    let mut reader = ReplayReader::new(fixture).expect("the fixture is a replay file");
    let records = reader.records();
    assert!(
        reader.stopped_early().is_none(),
        "the fixture reads to its end"
    );

    // Per state and direction: the whole recorded stream (cut at MAX_SEED) and one frame of
    // each packet id.
    let mut streams: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    let mut firsts: BTreeMap<(&str, u8), Vec<u8>> = BTreeMap::new();
    let mut every = vec![0x5a]; // frame_stream: a chunking seed byte, then frames of all states
    for record in &records {
        let Record::Frame(f) = record else { continue };
        let packet = f.decode().expect("the fixture's frames decode");
        let id = packet.id();
        let frame = packet_frame(packet);
        let state = f.protocol_state().expect("a recorded state");
        let target = target_of(state, f.direction);
        let stream = streams.entry(target).or_default();
        if stream.len() + frame.len() <= MAX_SEED {
            stream.extend(&frame);
        }
        firsts.entry((target, id)).or_insert_with(|| frame.clone());
        if every.len() + frame.len() <= MAX_SEED {
            every.extend(&frame);
        }
    }
    for (target, stream) in streams {
        seeds.push((target, "recorded-session".into(), stream));
    }
    for ((target, id), frame) in firsts {
        // web_input: the client's frames, each as one WebSocket message (first byte odd).
        if target.ends_with("to_server") {
            let message = [&[1u8][..], &frame].concat();
            seeds.push(("web_input", format!("message-{target}-{id:02x}"), message));
        }
        seeds.push((target, format!("recorded-id-{id:02x}"), frame));
    }
    // web_input: request paths (first byte even), plain and hostile.
    for (i, path) in WEB_PATHS.iter().enumerate() {
        seeds.push((
            "web_input",
            format!("path-{i}"),
            [&[0u8][..], path.as_bytes()].concat(),
        ));
    }
    seeds.push(("frame_stream", "recorded-session".into(), every));

    // Kick and Disconnect (every state, id 0x7f) are rare in a recording: add one of each.
    let mut kick = Vec::new();
    let reason = v1::DisconnectReason::ProtocolError;
    let message = "bad frame".to_owned();
    encode_body(&v1::Kick { reason, message }, "Kick", &mut kick).expect("a kick encodes");
    for state in State::ALL {
        let to_server = target_of(state, FrameDirection::ToServer);
        let to_client = target_of(state, FrameDirection::ToClient);
        seeds.push((to_server, "disconnect".into(), framed(0x7f, &[])));
        seeds.push((to_client, "kick".into(), framed(0x7f, &kick)));
    }

    for (name, map) in maps() {
        seeds.push(("map_payload", name.clone(), payload_input(&map)));
        seeds.push(("map_transfer", name, transfer_stream(&map, "abc")));
    }

    // replay_reader: raw mode (first byte even) over the fixture; framed mode (odd) over chunks
    // of records re-encoded from it, one chunk per record kind.
    let mut raw = vec![0];
    raw.extend(fixture);
    seeds.push(("replay_reader", "fixture-raw".into(), raw));
    let mut framed_input = vec![1];
    let mut kinds_seen = [false; 5];
    for record in &records {
        let kind = match record {
            Record::Frame(_) => 0,
            Record::TickHash(_) | Record::TickHashLow(_) => 1,
            Record::Keyframe(_) => 2,
            Record::End(_) => 3,
            Record::LegacyKeyframe(_) => 4,
            // Simulation records: the fixture is a client recording and holds none.
            _ => continue,
        };
        if std::mem::replace(&mut kinds_seen[kind], true) {
            continue;
        }
        let mut body = Vec::new();
        encode_body(record, "Record", &mut body).expect("a read record encodes");
        if framed_input.len() + 3 + body.len() > MAX_SEED || body.len() > usize::from(u16::MAX) {
            continue;
        }
        framed_input.push(1);
        framed_input.extend((body.len() as u16).to_le_bytes());
        framed_input.extend(body);
    }
    seeds.push(("replay_reader", "framed-records".into(), framed_input));
    replay_format3_seeds(&reader, &records, &mut seeds);

    // keyframe: the recorded keyframes' states (the client's serialization), first and last.
    let keyframes: Vec<Vec<u8>> = records
        .iter()
        .filter_map(|r| match r {
            Record::Keyframe(k) => {
                let mut bytes = Vec::new();
                encode_body(&k.state, "KeyframeState", &mut bytes).ok()?;
                Some(bytes)
            }
            _ => None,
        })
        .collect();
    for (name, state) in [
        ("recorded-first", keyframes.first()),
        ("recorded-last", keyframes.last()),
    ] {
        if let Some(state) = state.filter(|s| s.len() <= MAX_SEED) {
            seeds.push(("keyframe", name.into(), state.to_vec()));
        }
    }

    // engine_feed: the fixture's records from its start (the engine needs the join first), as
    // a client's and as the server's recording of the connection.
    let mut prefix = Vec::new();
    for record in &records {
        let one = crate::sim_records::input(0, std::slice::from_ref(record));
        if prefix.len() + one.len() > MAX_SEED {
            break;
        }
        prefix.extend(&one[1..]);
    }
    for (mode, name) in [(0u8, "fixture-client"), (1, "fixture-server")] {
        let mut seed = vec![mode];
        seed.extend(&prefix);
        seeds.push(("engine_feed", name.into(), seed));
    }
    seeds.extend(sim_records_seeds());
    seeds
}

/// sim_records: a simulation recorded by the loop itself (`SimLog::record`) with the target's
/// fixed start: three players join (one under a taken name), move and break tiles, one leaves,
/// a keyframe every 10 ticks, everyone kicked at the end.
pub fn sim_records_seeds() -> Vec<Seed> {
    use tilegame_sim::{simlog::SimLog, Command, MemoryLink, Sim};
    let start = crate::sim_keyframe::start().clone();
    let path = std::env::temp_dir().join(format!("sim-records-seed-{}.tgr", std::process::id()));
    {
        let map = game::generate(&start.seed, game::Theme::Default, game::MapSize::Small)
            .expect("the small map generates");
        let mut sim = Sim::new(
            game::World::new(map),
            start.seed.clone(),
            game::Theme::Default,
            start.max_players as usize,
            start.heartbeat_ticks,
        );
        sim.set_view_radius(start.view_radius_tiles);
        let file = std::fs::File::create(&path).expect("a temporary file");
        let log = SimLog::record(
            Box::new(std::io::BufWriter::new(file)),
            "seed",
            start.clone(),
            10,
            "write_seeds",
            0,
        )
        .expect("recording starts");
        sim.set_log(log);
        let mut links = Vec::new();
        for name in ["ann", "bob", "ANN", "cyd"] {
            let link = MemoryLink::new(start.outbox_bytes as usize);
            sim.handle(Command::Join {
                name: name.into(),
                color: 0x336699,
                link: link.boxed(),
            });
            if let Some(Ok(joined)) = link.take_answer() {
                links.push((joined.id, link));
            }
        }
        for t in 1..=30u32 {
            for (i, (id, link)) in links.iter().enumerate() {
                let action = if t % 7 == 3 {
                    game::Action::Break {
                        x: 10 + i as u16,
                        y: 20,
                    }
                } else {
                    game::Action::None
                };
                let input = game::Input {
                    seq: t,
                    move_x: if (t / 5 + i as u32).is_multiple_of(2) {
                        1
                    } else {
                        -1
                    },
                    move_y: i8::from(t % 9 == 0),
                    item: game::Item::Shovel,
                    action,
                };
                sim.handle(Command::Input { id: *id, input });
                let _ = link.drain();
            }
            if t == 20 {
                let (id, _) = links.remove(1);
                sim.handle(Command::Leave {
                    id,
                    reason: v1::DisconnectReason::Quit,
                });
            }
            sim.tick();
        }
        sim.kick_all(v1::DisconnectReason::ServerShutdown, "seeds written");
    }
    let bytes = std::fs::read(&path).expect("the recording");
    let _ = std::fs::remove_file(&path);
    let mut reader = ReplayReader::new(&bytes[..]).expect("a recording");
    let records = reader.records();
    assert!(
        reader.stopped_early().is_none(),
        "the recording reads whole"
    );
    let fit = |mode: u8, records: &[Record]| {
        let mut n = records.len();
        loop {
            let seed = crate::sim_records::input(mode, &records[..n]);
            if seed.len() <= MAX_SEED || n == 0 {
                return seed;
            }
            n -= 1;
        }
    };
    vec![
        (
            "sim_records",
            "recorded-after-start".into(),
            fit(0, &records[1..]),
        ),
        (
            "sim_records",
            "recorded-with-start".into(),
            fit(1, &records),
        ),
    ]
}
