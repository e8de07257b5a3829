//! Server simulation keyframes from bytes: the state of a `SimKeyframe` record restored with
//! `Resim::from_keyframe`, as `tilegame-replay` does when it seeks in a `--record` file.
//!
//! Every keyframe is restored against one fixed recording start ([`start`]: a small generated
//! map, the server's default settings), the one the committed seeds were recorded with
//! (`cargo run --example write_sim_seeds`). A keyframe is hostile input: restoring it never
//! panics; one refused only for its world hash is restored again with the hash the restored
//! world has, so that mutations reach past the hash check (which is the last one). A keyframe
//! that restores must capture into a keyframe that restores to the same state; the loop runs
//! [`TICKS`] ticks from it, and a keyframe captured halfway must restore into a loop that goes
//! on exactly as the first one (equal keyframes after every tick), as seeking requires.

use std::sync::OnceLock;

use tilegame_game as game;
use tilegame_protocol::convert;
use tilegame_protocol::replay_format::{self as rf, Record};
use tilegame_protocol::wire::{decode_body, encode_body};
use tilegame_sim::resim::{Resim, ResimError, Step};
use tilegame_sim::KeyframeError;
use tilegame_server::ServerConfig;

/// The world seed of the fixed recording start.
pub const SEED: &str = "fuzzkeyframes";

/// Ticks run from a restored keyframe.
pub const TICKS: u32 = 5;

/// The configuration of the server that recorded the seeds (bind it to a free port to run it):
/// a 64×64 map, eight players at most, every other setting the default.
pub fn server_config() -> ServerConfig {
    ServerConfig {
        bind: "127.0.0.1:0".parse().expect("a literal address"),
        seed: SEED.into(),
        size: "small".into(),
        max_players: 8,
        ..ServerConfig::default()
    }
}

/// The `SimStart` record a server with [`server_config`] writes (built once).
pub fn start() -> &'static rf::SimStart {
    static START: OnceLock<rf::SimStart> = OnceLock::new();
    START.get_or_init(|| {
        let config = server_config();
        let map = game::generate(SEED, game::Theme::Default, game::MapSize::Small)
            .expect("the small map generates");
        rf::SimStart {
            seed: SEED.into(),
            theme: convert::theme_to_wire(game::Theme::Default).tag(),
            width: map.width(),
            height: map.height(),
            map_hash: map.hash(),
            max_players: config.max_players,
            heartbeat_ticks: config.heartbeat_ticks,
            view_radius_tiles: config.view_radius_tiles,
            outbox_bytes: u32::try_from(config.outbox_bytes).expect("the default budget"),
            tick_rate: config.tps,
        }
    })
}

/// The input as a keyframe record: first byte even, the rest is a `SimKeyframeState` body (the
/// inflated state; the record's tick is the state's, cut to 32 bits); odd, the rest is a whole
/// `SimKeyframe` record body (tick and compressed state).
pub fn keyframe_of(data: &[u8]) -> Option<rf::SimKeyframe> {
    let (&mode, rest) = data.split_first()?;
    if mode % 2 == 0 {
        let state: rf::SimKeyframeState = decode_body("SimKeyframeState", rest).ok()?;
        Some(rf::SimKeyframe {
            tick: state.tick as u32,
            state,
        })
    } else {
        decode_body("SimKeyframe", rest).ok()
    }
}

/// Restores `keyframe`; one refused only for its world hash is given the restored world's hash
/// and restored again (every other check comes first, so that must succeed).
fn restore(keyframe: &mut rf::SimKeyframe) -> Option<Resim> {
    match Resim::from_keyframe(start(), keyframe) {
        Ok(resim) => Some(resim),
        Err(ResimError::Keyframe {
            source: KeyframeError::WorldHash { restored, .. },
            ..
        }) => {
            keyframe.state.world_hash = restored;
            match Resim::from_keyframe(start(), keyframe) {
                Ok(resim) => Some(resim),
                Err(e) => panic!("refused for its world hash only, then for: {e}"),
            }
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            None
        }
    }
}

/// A keyframe the loop itself captured restores, into a loop whose keyframe is the same.
fn restores_as_captured(state: rf::SimKeyframeState, when: &str) {
    let mut out = Vec::new();
    encode_body(&state, "SimKeyframeState", &mut out)
        .unwrap_or_else(|e| panic!("the keyframe captured {when} does not encode: {e}"));
    let Ok(tick) = u32::try_from(state.tick) else {
        // Ticked past what a record can name (a keyframe restored at the last ticks of u32).
        return;
    };
    let keyframe = rf::SimKeyframe {
        tick,
        state: state.clone(),
    };
    let again = Resim::from_keyframe(start(), &keyframe)
        .unwrap_or_else(|e| panic!("the keyframe captured {when} does not restore: {e}"));
    assert_eq!(
        again.keyframe(),
        state,
        "captured {when}: restoring changed it"
    );
}

/// Runs one tick; the recorded hashes are ones the loop cannot match, so every tick is a
/// divergence, never an error.
fn tick(resim: &mut Resim) {
    let step = resim.apply(&Record::SimTick(rf::SimTick {
        tick: resim.tick().wrapping_add(1),
        world_hash: 0,
        players: Vec::new(),
    }));
    match step {
        Ok(Step::Ticked { .. } | Step::Diverged(_)) => {}
        Ok(Step::Applied) => panic!("a SimTick record did not tick"),
        Err(e) => panic!("a tick from a restored keyframe failed: {e}"),
    }
}

/// Input: a mode byte and a keyframe (see [`keyframe_of`]).
pub fn fuzz_sim_keyframe(data: &[u8]) {
    let Some(mut keyframe) = keyframe_of(data) else {
        return;
    };
    let Some(mut resim) = restore(&mut keyframe) else {
        return;
    };
    assert_eq!(resim.tick(), keyframe.tick);
    let captured = resim.keyframe();
    assert_eq!(captured.tick, keyframe.state.tick);
    assert_eq!(captured.world_hash, keyframe.state.world_hash);
    restores_as_captured(captured, "after restoring");
    // Seeking: a keyframe captured between ticks restores into a loop that goes on exactly as
    // the one it was captured from.
    let halfway = TICKS / 2;
    for _ in 0..halfway {
        tick(&mut resim);
    }
    let Ok(at) = u32::try_from(resim.world().tick) else {
        return;
    };
    let middle = rf::SimKeyframe {
        tick: at,
        state: resim.keyframe(),
    };
    let mut seeked = Resim::from_keyframe(start(), &middle).unwrap_or_else(|e| {
        panic!("the keyframe captured after {halfway} ticks does not restore: {e}")
    });
    for n in halfway..TICKS {
        tick(&mut resim);
        tick(&mut seeked);
        assert_eq!(
            seeked.keyframe(),
            resim.keyframe(),
            "tick {} after restoring: the loop restored from its keyframe {halfway} ticks in differs",
            n + 1
        );
    }
    restores_as_captured(resim.keyframe(), "after the ticks");
}
