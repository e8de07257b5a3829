//! Reading a crafted file costs a bounded amount of memory, whatever it claims: the reader
//! streams records and holds one chunk at a time. A counting allocator measures the peak.
//!
//! The allocator counts every thread (re-simulation may fan out), so the tests here take turns
//! ([`TURN`]): no other test allocates while one measures.

use tilegame_protocol::replay_file::{ReplayWriter, READ_BUDGET};
use tilegame_protocol::replay_format::{
    FileHeader, Frame, FrameDirection, LegacyKeyframe, Record, Recorder,
};
use tilegame_replay::{cmd, ReplayFile};
use tilegame_testkit::alloc_meter::{peak_during, Meter};

#[global_allocator]
static METER: Meter = Meter;

/// Held by each test for its whole run.
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn header() -> FileHeader {
    FileHeader {
        format_version: 2,
        protocol_version: tilegame_protocol::v1::PROTOCOL_VERSION,
        protocol_hash: tilegame_protocol::v1::SPEC_HASH,
        recorder: Recorder::Client,
        software: "attack".into(),
        player_name: "x".into(),
        start_unix_ms: 0,
        keyframe_interval: 1,
    }
}

/// A properly checksummed file of about 1 MiB: a chunk packed with keyframes, each an inflate
/// bomb of (nearly) the largest size a keyframe may inflate to (read all at once, they would
/// take 6 × 16 MB), then frames of the largest size to fill the megabyte.
fn crafted() -> Vec<u8> {
    // Format 1's keyframes hold plain bytes: the cheapest bomb to build.
    let bomb = Record::LegacyKeyframe(LegacyKeyframe {
        tick: 1,
        frame_seq: 0,
        state: vec![0u8; 15_900_000],
    });
    let mut w = ReplayWriter::new(Vec::new(), &header()).unwrap();
    for _ in 0..6 {
        w.push(&bomb).unwrap();
    }
    w.flush().unwrap();
    let mut seq = 0;
    // Incompressible bytes, so the file holds what it declares (format 3 deflates chunks).
    let mut noise = 0x2545_f491_4f6c_dd1du64;
    let mut bytes = vec![0x7f; 200_000];
    while w.bytes_written() < 1 << 20 {
        for b in &mut bytes[1..] {
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            *b = noise as u8;
        }
        w.push(&Record::Frame(Frame {
            seq,
            direction: FrameDirection::ToClient,
            state: tilegame_protocol::State::Play.tag(),
            tick: 0,
            micros: 0,
            wire_bytes: 1,
            payload_bytes: 1,
            packet_id: 0x7f,
            bytes: bytes.clone(),
        }))
        .unwrap();
        w.flush().unwrap();
        seq += 1;
    }
    w.finish().unwrap()
}

#[test]
fn info_on_crafted_files_stays_within_the_read_budget() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let bombs = crafted();
    assert!(bombs.len() <= (1 << 20) + (1 << 18), "{}", bombs.len());
    // A last chunk that declares far more than is there.
    let short = bombs[..(1 << 20) - 1000].to_vec();
    for (name, data) in [("bombs.tgr", bombs), ("short.tgr", short)] {
        let dir = std::env::temp_dir().join(format!("tgr-memory-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, &data).unwrap();
        drop(data);
        let file = ReplayFile::open(&path).unwrap();
        let mut out = Vec::with_capacity(1 << 16);
        let (r, peak) = peak_during(|| cmd::info::run(&file, &mut out));
        assert!(r.is_ok(), "{name}: {r:?}");
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("keyframes:"), "{text}");
        eprintln!("{name}: peak {peak} bytes (budget {READ_BUDGET})");
        assert!(
            peak <= READ_BUDGET,
            "{name}: info allocated {peak} bytes at its peak, more than the budget of {READ_BUDGET}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    // A simulation recording whose keyframes are decoding bombs: each state is as large as its
    // bound allows and decodes into as many list items as it can (players that "know" 65,536
    // others each). Seeking decodes every keyframe (one at a time), verify compares one with the
    // re-simulated state; both stay within the budget and end with an error, not a panic.
    let sim = crafted_simulation();
    assert!(sim.len() < 1 << 20, "{}", sim.len());
    let dir = std::env::temp_dir().join(format!("tgr-memory-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keyframes.tgr");
    std::fs::write(&path, &sim).unwrap();
    drop(sim);
    let file = ReplayFile::open(&path).unwrap();
    let mut out = Vec::with_capacity(1 << 16);
    for (what, run) in [
        (
            "play",
            Box::new(|out: &mut Vec<u8>| cmd::sim::play(&file, 10, false, out))
                as Box<dyn Fn(&mut Vec<u8>) -> Result<u8, tilegame_replay::ToolError>>,
        ),
        ("verify", Box::new(|out| cmd::sim::verify(&file, true, out))),
    ] {
        out.clear();
        let (result, peak) = peak_during(|| run(&mut out));
        eprintln!("simulation {what}: peak {peak} bytes (budget {READ_BUDGET}): {result:?}");
        match result {
            Err(e) => assert!(e.to_string().contains("keyframe"), "{what}: {e}"),
            Ok(code) => assert_eq!(code, 1, "{what}: {}", String::from_utf8_lossy(&out)),
        }
        assert!(
            peak <= READ_BUDGET,
            "simulation {what}: allocated {peak} bytes at its peak, more than the budget of {READ_BUDGET}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_chunk_that_inflates_without_end_is_stopped_within_the_budget() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    use flate2::{Compress, Compression, FlushCompress};
    // 64 MiB of zeros deflate to about 64 KiB; the chunk declares the most a chunk may hold.
    let zeros = vec![0u8; 64 << 20];
    let mut body = Vec::with_capacity(1 << 20);
    Compress::new(Compression::new(9), false)
        .compress_vec(&zeros, &mut body, FlushCompress::Sync)
        .unwrap();
    drop(zeros);
    let max = tilegame_protocol::replay_file::MAX_CHUNK;
    let mut w = ReplayWriter::new(Vec::new(), &header()).unwrap();
    w.push_raw_compressed(2, max, 1, &body).unwrap();
    let data = w.finish().unwrap();
    assert!(data.len() < 1 << 20, "{}", data.len());
    let file = ReplayFile::from_bytes("bomb.tgr", data);
    let mut out = Vec::with_capacity(1 << 16);
    let (result, peak) = peak_during(|| cmd::info::run(&file, &mut out));
    eprintln!("bomb chunk: peak {peak} bytes (budget {READ_BUDGET}): {result:?}");
    let e = result.unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("chunk inflates past its declared {max} bytes")),
        "{e}"
    );
    assert!(peak <= READ_BUDGET, "{peak} bytes at the peak");
}

/// A simulation recording: a real SimStart, then four keyframes whose states each inflate to
/// nearly the 4 MB bound, all list items.
fn crafted_simulation() -> Vec<u8> {
    use tilegame_protocol::replay_format::{
        SimKeyframe, SimKeyframePlayer, SimKeyframeState, SimKnown, SimStart,
    };
    let seed = "memorybomb";
    let map = tilegame_game::generate(
        seed,
        tilegame_game::Theme::Default,
        tilegame_game::MapSize::Small,
    )
    .unwrap();
    let area = u32::from(map.width()) * u32::from(map.height());
    let start = SimStart {
        seed: seed.into(),
        theme: 0,
        width: map.width(),
        height: map.height(),
        map_hash: map.hash(),
        max_players: 16,
        heartbeat_ticks: 20,
        view_radius_tiles: 0,
        outbox_bytes: 1 << 16,
        tick_rate: 20,
    };
    let known = SimKnown {
        slot: 0,
        id: 0,
        x: 0,
        y: 0,
        vel_x: 0,
        vel_y: 0,
        health: 0,
    };
    let players: Vec<SimKeyframePlayer> = (1..=8)
        .map(|id| SimKeyframePlayer {
            id,
            name: format!("p{id}"),
            color: 0,
            slot: id - 1,
            x: 0,
            y: 0,
            vx: 0,
            vy: 0,
            prev_x: 0,
            prev_y: 0,
            health: 100,
            alive: true,
            last_input_seq: 0,
            item: 0,
            breaking: None,
            damage_ticks: 0,
            inputs: Vec::new(),
            last_sent: None,
            last_ack: 0,
            known: vec![known.clone(); 65536],
            roster: Vec::new(),
        })
        .collect();
    let mut w = ReplayWriter::new(
        Vec::new(),
        &FileHeader {
            recorder: Recorder::Simulation,
            player_name: String::new(),
            keyframe_interval: 1,
            ..header()
        },
    )
    .unwrap();
    w.push(&Record::SimStart(start)).unwrap();
    w.flush().unwrap();
    for tick in 1..=4 {
        w.push(&Record::SimKeyframe(SimKeyframe {
            tick,
            state: SimKeyframeState {
                tick: u64::from(tick),
                world_hash: 0,
                dynamic: vec![area],
                changed: Vec::new(),
                next_id: 9,
                slots: 8,
                players: players.clone(),
            },
        }))
        .unwrap();
        w.flush().unwrap();
    }
    w.finish().unwrap()
}
