//! Server-side recording: one replay file per connection (`--record-dir`).
//!
//! Frames seen before the player's name is known are held in memory (a handful: the handshake
//! and the join request) with the instant and tick they crossed the socket at, then the file is
//! created as `<dir>/<unix ms>-<port>-<name>.tgr` and everything goes through the protocol's
//! [`Recorder`]; times count from the connection's start, not the file's creation. Frames carry
//! the server tick of the latest snapshot sent, or of the join before the first snapshot. The
//! server does not run the client's managers, so these files hold frames only (no tick hashes);
//! `tilegame-replay verify` replays them and reports that there was nothing to compare, and
//! `tilegame-replay diff SIM.tgr FILE` checks them against the stream the simulation pushed
//! (with `--record SIM.tgr`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tilegame_protocol::frame::{frames, FrameRef};
use tilegame_protocol::recorder::Recorder;
use tilegame_protocol::snapshot::announced_tick;
use tilegame_protocol::v1;
use tilegame_protocol::{Direction, State};
use tracing::warn;

/// Frames held before the file exists, at most.
const MAX_PENDING: usize = 64;

/// Records one connection.
pub struct SessionRecorder {
    dir: PathBuf,
    peer: SocketAddr,
    pending: Vec<Pending>,
    recorder: Option<Recorder>,
    tick: u32,
    failed: bool,
    started: (Instant, u64),
    /// The file, once created.
    path: Option<PathBuf>,
}

/// A frame held until the file exists.
struct Pending {
    direction: Direction,
    state: State,
    frame: Vec<u8>,
    wire_len: usize,
    at: Instant,
    tick: u32,
}

impl SessionRecorder {
    /// A recorder that will write into `dir` once the player is named.
    pub fn new(dir: &Path, peer: SocketAddr) -> Self {
        SessionRecorder {
            dir: dir.to_owned(),
            peer,
            pending: Vec::new(),
            recorder: None,
            tick: 0,
            failed: false,
            path: None,
            started: (
                Instant::now(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64),
            ),
        }
    }

    /// Records one frame.
    pub fn frame(&mut self, direction: Direction, state: State, frame: FrameRef<'_>) {
        let at = Instant::now();
        if let Some(tick) = announced_tick(direction, state, frame.packet_bytes()) {
            self.tick = tick;
        }
        let (bytes, wire_len) = (frame.packet_bytes(), frame.wire_len());
        match &mut self.recorder {
            Some(r) => r.frame_at(direction, state, self.tick, bytes, wire_len, at),
            None if !self.failed && self.pending.len() < MAX_PENDING => {
                self.pending.push(Pending {
                    direction,
                    state,
                    frame: bytes.to_vec(),
                    wire_len,
                    at,
                    tick: self.tick,
                });
            }
            None => {}
        }
    }

    /// Records every frame in a buffer of whole frames.
    pub fn frames(&mut self, direction: Direction, state: State, bytes: &[u8]) {
        for f in frames(bytes, v1::MAX_FRAME) {
            self.frame(direction, state, f);
        }
    }

    /// Creates the file now that the player's name is known, and writes what was held.
    pub fn start(&mut self, player_name: &str) {
        let ms = self.started.1;
        let safe: String = player_name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .take(16)
            .collect();
        let path = self
            .dir
            .join(format!("{ms}-{}-{safe}.tgr", self.peer.port()));
        let software = format!("tilegame-server {}", env!("CARGO_PKG_VERSION"));
        match Recorder::create_started(
            &path,
            tilegame_protocol::replay_format::Recorder::Server,
            &software,
            player_name,
            0,
            self.started,
        ) {
            Ok(mut r) => {
                for p in self.pending.drain(..) {
                    r.frame_at(p.direction, p.state, p.tick, &p.frame, p.wire_len, p.at);
                }
                self.recorder = Some(r);
                self.path = Some(path);
            }
            Err(e) => {
                warn!(path = %path.display(), "cannot record this connection: {e}");
                self.failed = true;
                self.pending.clear();
            }
        }
    }

    /// Ends the file with a reason; returns its size in bytes, if it was written.
    pub fn finish(&mut self, reason: &str) -> Option<u64> {
        let r = self.recorder.as_mut()?;
        r.finish(reason);
        std::fs::metadata(self.path.as_ref()?).ok().map(|m| m.len())
    }
}
