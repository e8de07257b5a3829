//! Writes the committed seeds of the `sim_keyframe` target: `cargo run --example write_sim_seeds`
//! in `fuzz/`.
//!
//! Records a real session: an embedded server with `tilegame_fuzz::sim_keyframe::server_config`
//! (on a free loopback port, `--record` into a scratch file, a keyframe every 50 ticks) and six
//! headless bots walking and breaking tiles for ten seconds over TCP. Its `SimStart` must be the
//! target's fixed start. Replaces `seeds/sim_keyframe/` with the recording's keyframes: the
//! inflated states (first byte 0) of the first, a middle and the last, and the last as a whole
//! record body (first byte 1).

use std::path::Path;
use std::time::Duration;

use tilegame_client::headless::{self, HeadlessOptions};
use tilegame_fuzz::seeds::MAX_SEED;
use tilegame_fuzz::sim_keyframe;
use tilegame_protocol::replay_file::ReplayReader;
use tilegame_protocol::replay_format::Record;
use tilegame_protocol::wire::encode_body;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scratch = std::env::temp_dir().join(format!("sim-seeds-{}.tgr", std::process::id()));
    let server = tilegame_server::ServerHandle::start(tilegame_server::ServerConfig {
        record: Some(scratch.clone()),
        keyframe_interval: 50,
        ..sim_keyframe::server_config()
    })?;
    let runtime = tokio::runtime::Runtime::new()?;
    let statuses = runtime.block_on(headless::run(HeadlessOptions {
        address: server.addr().to_string(),
        name: "bot".into(),
        bots: 6,
        seconds: Some(10.0),
        seed: 1,
        print_status: false,
        recorder: None,
        connect_timeout: Duration::from_secs(30),
        play_timeout: Duration::from_secs(10),
        say: Vec::new(),
    }));
    server.shutdown();
    println!("bots: {statuses:?}");

    let file = std::fs::read(&scratch)?;
    std::fs::remove_file(&scratch)?;
    let mut reader = ReplayReader::new(&file[..])?;
    let records = reader.records();
    if let Some(stop) = reader.stopped_early() {
        return Err(format!("the recording does not read to its end: {stop:?}").into());
    }
    let Some(Record::SimStart(start)) = records.first() else {
        return Err("the recording does not begin with SimStart".into());
    };
    if start != sim_keyframe::start() {
        return Err(format!(
            "recorded {start:?}, the target starts from {:?}",
            sim_keyframe::start()
        )
        .into());
    }
    let keyframes: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::SimKeyframe(k) => Some(k),
            _ => None,
        })
        .collect();
    let (Some(first), Some(last)) = (keyframes.first(), keyframes.last()) else {
        return Err("the recording holds no keyframe".into());
    };
    if last.state.players.len() < 6 {
        return Err("the bots were not playing at the last keyframe".into());
    }
    let middle = keyframes[keyframes.len() / 2];
    let mut seeds = Vec::new();
    for (name, k) in [("first", *first), ("middle", middle), ("last", *last)] {
        let mut bytes = vec![0];
        encode_body(&k.state, "SimKeyframeState", &mut bytes)?;
        seeds.push((format!("state-tick-{}-{name}", k.tick), bytes));
    }
    let mut record = vec![1];
    encode_body(*last, "SimKeyframe", &mut record)?;
    seeds.push((format!("record-tick-{}", last.tick), record));

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/sim_keyframe");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    for (name, bytes) in seeds {
        assert!(bytes.len() <= MAX_SEED, "{name}: {} bytes", bytes.len());
        std::fs::write(dir.join(&name), &bytes)?;
        println!("seeds/sim_keyframe/{name}: {} bytes", bytes.len());
    }
    Ok(())
}
