//! `play`: the managers' state at a given tick, reached by seeking from the nearest keyframe.
//!
//! Looking at "what did the client believe at tick T?" should not need replaying an hour of
//! frames: the engine restores the latest keyframe at or before T and replays only the frames
//! after it. `--print-state` prints the state as JSON (tick, world digest, map size, changed
//! tiles, every player with all fields).

use std::io::Write;

use crate::engine::Engine;
use crate::state::StateView;
use crate::tool::{ReplayFile, ToolError};

/// Runs `play --until T`.
pub fn run(
    file: &ReplayFile,
    until: u32,
    print_state: bool,
    out: &mut dyn Write,
) -> Result<u8, ToolError> {
    let (engine, from) =
        Engine::seek(|| file.open_reader(), until).map_err(|source| ToolError::Seek {
            path: file.path.clone(),
            source,
        })?;
    let Some(play) = engine.play() else {
        return Err(ToolError::Usage(format!("no state at tick {until}")));
    };
    let view = StateView::of_format(play, engine.format_version());
    if print_state {
        let text = serde_json::to_string_pretty(&view).unwrap_or_default();
        writeln!(out, "{text}")?;
    } else {
        let from = from.map_or("the join".to_owned(), |t| {
            format!("the keyframe of tick {t}")
        });
        writeln!(
            out,
            "tick {} (asked {until}; from {from}): world {} players {}, {} players, {} changed tiles",
            view.tick,
            view.world_hash,
            view.players_hash,
            view.players.len(),
            view.changed_tiles
        )?;
    }
    Ok(0)
}
