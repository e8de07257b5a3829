//! The client's recorder: the protocol's [`Recorder`] shared between the socket (every frame)
//! and the game loop (tick hashes and keyframes).
//!
//! The two record from different threads in the window client (the socket thread sees a
//! snapshot before the game loop has applied and hashed it), so the recorder sequences them:
//! frames after a snapshot wait for its tick hash (see `tilegame_protocol::recorder`).
//!
//! The browser has no files: its recording goes to memory ([`create_in_memory`]), bounded by
//! [`MAX_MEMORY_RECORDING`], and the page offers the bytes as a download.

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

/// Most bytes a recording in memory may hold (past it, recording stops with an error and the
/// bytes so far stay downloadable): about two hours of one player's play.
pub const MAX_MEMORY_RECORDING: usize = 256 << 20;

/// Creates a client recording in memory for `player_name`, at most `limit` bytes; the
/// returned [`RecordingBytes`] reads what was written so far.
pub fn create_in_memory(
    player_name: &str,
    keyframe_interval: u32,
    limit: usize,
) -> Result<(SharedRecorder, RecordingBytes), ReplayError> {
    let software = format!("tilegame {} (web)", env!("CARGO_PKG_VERSION"));
    let bytes = RecordingBytes {
        data: Arc::new(Mutex::new(Vec::new())),
        limit,
    };
    let start_unix_ms = web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut recorder = Recorder::to_writer(
        Box::new(bytes.clone()),
        tilegame_protocol::replay_format::Recorder::Client,
        &software,
        player_name,
        keyframe_interval,
        (web_time::Instant::now(), start_unix_ms),
    )?;
    recorder.sequence_tick_hashes(true);
    Ok((SharedRecorder::new(recorder), bytes))
}

/// A recording's bytes in memory (shared: the recorder writes, the page reads).
#[derive(Clone)]
pub struct RecordingBytes {
    data: Arc<Mutex<Vec<u8>>>,
    limit: usize,
}

impl RecordingBytes {
    /// A copy of the bytes written so far.
    pub fn snapshot(&self) -> Vec<u8> {
        self.data.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// How many bytes were written so far.
    pub fn len(&self) -> usize {
        self.data.lock().map_or(0, |d| d.len())
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::io::Write for RecordingBytes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut data = self
            .data
            .lock()
            .map_err(|_| std::io::Error::other("the recording's buffer is poisoned"))?;
        if data.len().saturating_add(buf.len()) > self.limit {
            return Err(std::io::Error::other(format!(
                "the recording reached its limit of {} bytes in memory",
                self.limit
            )));
        }
        data.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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
