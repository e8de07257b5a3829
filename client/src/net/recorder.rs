//! The client's recorder: the protocol's [`Recorder`] shared between the socket (every frame)
//! and the game loop (tick hashes and keyframes).
//!
//! The two record from different threads in the window client (the socket thread sees a
//! snapshot before the game loop has applied and hashed it), so the recorder sequences them:
//! frames after a snapshot wait for its tick hash (see `tilegame_protocol::recorder`).

use std::path::Path;
use std::sync::{Arc, Mutex};

pub use tilegame_protocol::recorder::{Recorder, DEFAULT_KEYFRAME_INTERVAL};
use tilegame_protocol::replay_file::ReplayError;
use tilegame_protocol::{Direction, State};

use super::connection::FrameObserver;

/// Creates a client recording at `path` for `player_name`.
pub fn create(
    path: &Path,
    player_name: &str,
    keyframe_interval: u32,
) -> Result<SharedRecorder, ReplayError> {
    let software = format!("tilegame {}", env!("CARGO_PKG_VERSION"));
    let mut recorder = Recorder::create(
        path,
        tilegame_protocol::replay_format::Recorder::Client,
        &software,
        player_name,
        keyframe_interval,
    )?;
    recorder.sequence_tick_hashes(true);
    Ok(SharedRecorder::new(recorder))
}

/// A recorder shared between the socket (frames) and the game loop (tick hashes).
#[derive(Clone)]
pub struct SharedRecorder(Arc<Mutex<Recorder>>);

impl SharedRecorder {
    /// Shares a recorder.
    pub fn new(recorder: Recorder) -> Self {
        SharedRecorder(Arc::new(Mutex::new(recorder)))
    }

    /// Runs `f` on the recorder.
    pub fn with<R>(&self, f: impl FnOnce(&mut Recorder) -> R) -> Option<R> {
        self.0.lock().ok().map(|mut r| f(&mut r))
    }
}

impl FrameObserver for SharedRecorder {
    fn frame(
        &mut self,
        direction: Direction,
        state: State,
        tick: u32,
        frame: &[u8],
        wire_len: usize,
    ) {
        self.with(|r| r.frame(direction, state, tick, frame, wire_len));
    }
}
