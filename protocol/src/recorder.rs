//! The recorder: every frame in both directions, with its byte counts, into a replay file.
//!
//! Both the client and the server record with it. It writes the [`crate::replay_file`]
//! container, with records generated
//! from `spec/replay.ron`: a frame record per frame (sequence, direction, protocol state, tick,
//! monotonic time since the start in whole milliseconds, wire and payload bytes, packet id, the bytes), the
//! managers' state hashes after each applied tick, and a keyframe every `keyframe_interval`
//! ticks. Records are gathered and written as one compressed, checksummed chunk at least every
//! [`FLUSH_INTERVAL_MS`] (one thread per process flushes every recorder on that clock, whether
//! or not more frames come), so `kill -9` loses at most the last 0.5 s of frames. Recording failures are reported once and then recording
//! stops; they never take the game down.
//!
//! **One writer sequences everything.** A replay checks each tick hash right after the snapshot
//! of its tick, so the hash must be written before any later frame, whichever thread records
//! what: in the window client the socket thread records frames while the game loop hashes ticks
//! later. With [`Recorder::sequence_tick_hashes`] on (every client recording), frames that
//! arrive after a snapshot are held until that snapshot's hash comes, then written after it.
//! A hash that never comes (the game loop skipped a snapshot, or fell [`MAX_HELD`] frames or
//! [`MAX_HELD_BYTES`] behind) releases the frames without it; a hash whose snapshot was already released is
//! dropped. Frames keep the sequence numbers of their arrival.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use web_time::Instant;

use crate::replay_file::{ReplayError, ReplayWriter, FLUSH_INTERVAL_MS, FORMAT_VERSION};
use crate::replay_format::{self as rf, FrameDirection, Record};
use crate::{Direction, State};

/// Default ticks between keyframes (one minute at 20 ticks/s).
pub const DEFAULT_KEYFRAME_INTERVAL: u32 = 1200;

/// Most frames held while waiting for a snapshot's tick hash (then they are written without it).
pub const MAX_HELD: usize = 4096;

/// Most frame bytes held while waiting for a snapshot's tick hash.
pub const MAX_HELD_BYTES: usize = 8 << 20;

/// Where a recording's bytes go: a file, or any writer (memory in the browser).
pub type RecordingOutput = Box<dyn Write + Send>;

/// A recorder's file: written by the recorder, flushed by it and by the flusher thread.
struct Sink {
    writer: Option<ReplayWriter<RecordingOutput>>,
    error: Option<String>,
    /// When the records not yet written were first gathered.
    pending_since: Option<Instant>,
}

impl Sink {
    /// Writes what was gathered; a failure stops the recording.
    fn flush(&mut self) {
        self.pending_since = None;
        if let Some(w) = self.writer.as_mut() {
            if let Err(e) = w.flush() {
                self.error = Some(e.to_string());
                self.writer = None;
            }
        }
    }
}

type SharedSink = Arc<Mutex<Sink>>;

fn lock(sink: &SharedSink) -> MutexGuard<'_, Sink> {
    sink.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Every live recorder's sink, flushed every [`FLUSH_INTERVAL_MS`] by one thread.
#[cfg(not(target_arch = "wasm32"))]
fn flusher() -> &'static Mutex<Vec<std::sync::Weak<Mutex<Sink>>>> {
    use std::sync::{OnceLock, Weak};
    static SINKS: OnceLock<Mutex<Vec<Weak<Mutex<Sink>>>>> = OnceLock::new();
    SINKS.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("recorder-flush".into())
            .spawn(|| loop {
                std::thread::sleep(Duration::from_millis(FLUSH_INTERVAL_MS));
                let live: Vec<SharedSink> = {
                    let mut sinks = flusher()
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    sinks.retain(|w| w.strong_count() > 0);
                    sinks.iter().filter_map(Weak::upgrade).collect()
                };
                for sink in live {
                    lock(&sink).flush();
                }
            });
        if let Err(e) = spawned {
            warn_no_flusher(&e);
        }
        Mutex::new(Vec::new())
    })
}

/// Has `sink` flushed on the flusher thread's clock.
#[cfg(not(target_arch = "wasm32"))]
fn register(sink: &SharedSink) {
    flusher()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(Arc::downgrade(sink));
}

/// The browser has no threads: the page flushes ([`Recorder::flush`]) on its own clock.
#[cfg(target_arch = "wasm32")]
fn register(_sink: &SharedSink) {}

/// Without a flusher thread, records are still written on every tick, snapshot and finish.
#[cfg(not(target_arch = "wasm32"))]
fn warn_no_flusher(e: &std::io::Error) {
    eprintln!("warning: no recorder flush thread ({e}); recordings flush as frames come");
}

/// Writes one connection's replay file.
pub struct Recorder {
    sink: SharedSink,
    started: Instant,
    seq: u64,
    keyframe_interval: u32,
    last_keyframe: Option<u32>,
    wire_bytes: u64,
    sequencing: bool,
    /// The tick of the last written snapshot whose hash has not come yet.
    awaiting: Option<u32>,
    /// Frames recorded after it, with their snapshot tick when they are snapshots.
    held: VecDeque<(Record, Option<u32>)>,
    held_bytes: usize,
    dropped_hashes: u64,
}

impl Recorder {
    /// Creates `path` and writes the header; `software` names the recording program.
    pub fn create(
        path: &Path,
        who: rf::Recorder,
        software: &str,
        player_name: &str,
        keyframe_interval: u32,
    ) -> Result<Recorder, ReplayError> {
        let start_unix_ms = web_time::SystemTime::now()
            .duration_since(web_time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Recorder::create_started(
            path,
            who,
            software,
            player_name,
            keyframe_interval,
            (Instant::now(), start_unix_ms),
        )
    }

    /// Like [`Recorder::create`] for a recording that started before its file could be
    /// created (the server learns the player's name only after the handshake): `started` is
    /// the monotonic instant and wall-clock ms of the start, which frame times count from.
    pub fn create_started(
        path: &Path,
        who: rf::Recorder,
        software: &str,
        player_name: &str,
        keyframe_interval: u32,
        started: (Instant, u64),
    ) -> Result<Recorder, ReplayError> {
        let file = File::create(path)?;
        let out: RecordingOutput = Box::new(BufWriter::with_capacity(64 * 1024, file));
        Recorder::to_writer(out, who, software, player_name, keyframe_interval, started)
    }

    /// Like [`Recorder::create_started`] into any writer (the browser client records into
    /// memory, for the player to download).
    pub fn to_writer(
        out: RecordingOutput,
        who: rf::Recorder,
        software: &str,
        player_name: &str,
        keyframe_interval: u32,
        started: (Instant, u64),
    ) -> Result<Recorder, ReplayError> {
        let (started, start_unix_ms) = started;
        let header = rf::FileHeader {
            format_version: FORMAT_VERSION,
            protocol_version: crate::PROTOCOL_VERSION,
            protocol_hash: crate::SPEC_HASH,
            recorder: who,
            software: software.chars().take(64).collect(),
            player_name: player_name.chars().take(16).collect(),
            start_unix_ms,
            keyframe_interval,
        };
        let writer = ReplayWriter::new(out, &header)?;
        let sink = Arc::new(Mutex::new(Sink {
            writer: Some(writer),
            error: None,
            pending_since: None,
        }));
        register(&sink);
        Ok(Recorder {
            sink,
            started,
            seq: 0,
            keyframe_interval,
            last_keyframe: None,
            wire_bytes: 0,
            sequencing: false,
            awaiting: None,
            held: VecDeque::new(),
            held_bytes: 0,
            dropped_hashes: 0,
        })
    }

    /// Holds frames after each snapshot until its tick hash is recorded (see the module doc).
    /// Recorders that write tick hashes turn this on; the server's frame-only files do not.
    pub fn sequence_tick_hashes(&mut self, on: bool) {
        self.sequencing = on;
        if !on {
            self.release(usize::MAX);
        }
    }

    /// Tick hashes dropped because their snapshot was written without waiting for them.
    pub fn dropped_hashes(&self) -> u64 {
        self.dropped_hashes
    }

    /// Writes held frames: up to and including the next held snapshot (which is then awaited),
    /// or all of them when `snapshots` is `usize::MAX`.
    fn release(&mut self, snapshots: usize) {
        self.awaiting = None;
        let mut out = Vec::new();
        let mut seen = 0usize;
        while let Some((record, snap)) = self.held.pop_front() {
            if let Record::Frame(f) = &record {
                self.held_bytes = self.held_bytes.saturating_sub(f.bytes.len());
            }
            out.push(record);
            if let Some(t) = snap {
                seen += 1;
                if seen >= snapshots {
                    self.awaiting = Some(t);
                    break;
                }
            }
        }
        if snapshots == usize::MAX {
            self.awaiting = None;
        }
        if !out.is_empty() {
            self.write(&out, false);
        }
    }

    /// Gathers records for the next chunk; writes it when `flush` is set. The flusher thread
    /// writes it every [`FLUSH_INTERVAL_MS`]; should that thread fall behind (or be missing),
    /// the recorder writes records gathered twice that long ago itself.
    fn write(&mut self, records: &[Record], flush: bool) {
        let now = Instant::now();
        let mut sink = lock(&self.sink);
        let since = *sink.pending_since.get_or_insert(now);
        let due =
            flush || now.duration_since(since) >= Duration::from_millis(2 * FLUSH_INTERVAL_MS);
        let Some(w) = sink.writer.as_mut() else {
            return;
        };
        if let Err(e) = records.iter().try_for_each(|r| w.push(r)) {
            sink.error = Some(e.to_string());
            sink.writer = None;
            return;
        }
        if due || !w.pending() {
            sink.flush();
        }
    }

    /// Records one frame (`frame` = packet id + body; `wire_len` includes the length prefix).
    pub fn frame(
        &mut self,
        direction: Direction,
        state: State,
        tick: u32,
        frame: &[u8],
        wire_len: usize,
    ) {
        self.frame_at(direction, state, tick, frame, wire_len, Instant::now());
    }

    /// Records a frame that crossed the socket at `at` (held until the file existed).
    pub fn frame_at(
        &mut self,
        direction: Direction,
        state: State,
        tick: u32,
        frame: &[u8],
        wire_len: usize,
        at: Instant,
    ) {
        let record = Record::Frame(rf::Frame {
            seq: self.seq,
            direction: match direction {
                Direction::ToServer => FrameDirection::ToServer,
                Direction::ToClient => FrameDirection::ToClient,
            },
            state: state.tag(),
            tick,
            // Whole milliseconds: what a viewer needs, and what format 4 stores compactly.
            micros: at.saturating_duration_since(self.started).as_millis() as u64 * 1000,
            wire_bytes: wire_len as u32,
            payload_bytes: frame.len().saturating_sub(1) as u32,
            packet_id: frame.first().copied().unwrap_or(0),
            bytes: frame.to_vec(),
        });
        self.seq += 1;
        self.wire_bytes += wire_len as u64;
        if !self.sequencing {
            self.write(&[record], false);
            return;
        }
        let snap = crate::snapshot::snapshot_tick(direction, state, frame);
        if self.awaiting.is_some() {
            self.held_bytes += frame.len();
            self.held.push_back((record, snap));
            if self.held.len() > MAX_HELD || self.held_bytes > MAX_HELD_BYTES {
                // The game loop fell too far behind: write without waiting for its hashes.
                self.release(usize::MAX);
            }
            return;
        }
        self.write(&[record], false);
        self.awaiting = snap;
    }

    /// Records the managers' hashes after a tick, and a keyframe when one is due: `keyframe`
    /// then gives the managers' state encoded as a [`rf::KeyframeState`] (empty when there is
    /// none yet).
    pub fn tick(&mut self, tick: u32, hashes: (u64, u64), keyframe: impl FnOnce() -> Vec<u8>) {
        if self.sequencing {
            loop {
                match self.awaiting {
                    Some(a) if a == tick => break,
                    // The hash of `a` never came: write the frames up to the next snapshot.
                    Some(a) if a < tick && !self.held.is_empty() => self.release(1),
                    // A hash whose snapshot was written without waiting, or never recorded.
                    _ => {
                        self.dropped_hashes += 1;
                        return;
                    }
                }
            }
        }
        // The first frame after the state hashed here.
        let next_seq = self.held.front().map_or(self.seq, |(r, _)| match r {
            Record::Frame(f) => f.seq,
            _ => self.seq,
        });
        // 16 bits of each hash (4 bytes a tick, see TickHashLow in spec/replay.ron).
        let mut records = vec![Record::TickHashLow(rf::TickHashLow {
            tick,
            world: hashes.0 as u16,
            players: hashes.1 as u16,
        })];
        let due = self.keyframe_interval > 0
            && self
                .last_keyframe
                .is_none_or(|k| tick.saturating_sub(k) >= self.keyframe_interval);
        if due {
            // The caller encodes its state as a `KeyframeState` (nothing: no state to save yet).
            if let Ok(state) =
                crate::wire::decode_body::<rf::KeyframeState>("KeyframeState", &keyframe())
            {
                self.last_keyframe = Some(tick);
                records.push(Record::Keyframe(rf::Keyframe {
                    tick,
                    frame_seq: next_seq,
                    state,
                }));
            }
        }
        self.write(&records, false);
        if self.sequencing {
            self.release(1);
        }
    }

    /// Writes the end record and closes the file.
    pub fn finish(&mut self, reason: &str) {
        self.release(usize::MAX);
        let end = Record::End(rf::End {
            frames: self.seq,
            reason: reason.chars().take(200).collect(),
        });
        self.write(&[end], true);
        let mut sink = lock(&self.sink);
        if let Some(w) = sink.writer.take() {
            if let Err(e) = w.finish() {
                sink.error = Some(e.to_string());
            }
        }
    }

    /// Frames recorded.
    pub fn frames(&self) -> u64 {
        self.seq
    }

    /// Wire bytes of the recorded frames.
    pub fn wire_bytes(&self) -> u64 {
        self.wire_bytes
    }

    /// File bytes written so far.
    pub fn file_bytes(&self) -> u64 {
        lock(&self.sink)
            .writer
            .as_ref()
            .map_or(0, ReplayWriter::bytes_written)
    }

    /// Why recording stopped, if it failed.
    pub fn error(&self) -> Option<String> {
        lock(&self.sink).error.clone()
    }

    /// Writes what was gathered now (the flusher thread does so every [`FLUSH_INTERVAL_MS`]).
    pub fn flush(&mut self) {
        lock(&self.sink).flush();
    }
}

impl Drop for Recorder {
    /// A recorder dropped without [`Recorder::finish`] still writes what it gathered (no End:
    /// the file reads as unfinished).
    fn drop(&mut self) {
        lock(&self.sink).flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay_file::ReplayReader;
    use crate::v1::play;
    use crate::Packet;

    fn snapshot(tick: u32) -> Vec<u8> {
        let mut bytes = vec![play::Snapshot::ID];
        play::ToClient::Snapshot(play::Snapshot {
            tick,
            ack_seq: 0,
            players: Vec::new(),
            tiles: Vec::new(),
            gone: Vec::new(),
        })
        .encode_body(&mut bytes)
        .unwrap();
        bytes
    }

    fn state() -> Vec<u8> {
        let state = rf::KeyframeState {
            tick: 1,
            width: 1,
            height: 1,
            seed: "s".into(),
            theme: 0,
            tiles: vec![rf::TileRun { tile: 0, count: 1 }],
            dynamic: vec![1],
            players_tick: 1,
            local_id: None,
            ack_seq: 0,
            players: Vec::new(),
        };
        let mut bytes = Vec::new();
        crate::wire::encode_body(&state, "KeyframeState", &mut bytes).unwrap();
        bytes
    }

    fn ping() -> Vec<u8> {
        let mut bytes = vec![play::Ping::ID];
        play::ToServer::Ping(play::Ping { nonce: 1 })
            .encode_body(&mut bytes)
            .unwrap();
        bytes
    }

    /// What the file holds, in order: `S<tick>` snapshot, `F` other frame, `H<tick>` hash,
    /// `K<tick>@<frame_seq>` keyframe, `E<frames>` end.
    fn layout(path: &Path) -> Vec<String> {
        let data = std::fs::read(path).unwrap();
        let mut reader = ReplayReader::new(data.as_slice()).unwrap();
        let records = reader.records();
        assert!(
            reader.stopped_early().is_none(),
            "{:?}",
            reader.stopped_early()
        );
        records
            .iter()
            .map(|r| match r {
                Record::Frame(f) => match crate::snapshot::snapshot_tick(
                    match f.direction {
                        FrameDirection::ToClient => Direction::ToClient,
                        FrameDirection::ToServer => Direction::ToServer,
                    },
                    State::Play,
                    &f.bytes,
                ) {
                    Some(t) => format!("S{t}#{}", f.seq),
                    None => format!("F#{}", f.seq),
                },
                Record::TickHash(h) => format!("H{}", h.tick),
                Record::TickHashLow(h) => format!("H{}", h.tick),
                Record::Keyframe(k) => format!("K{}@{}", k.tick, k.frame_seq),
                Record::LegacyKeyframe(_) => "L".into(),
                Record::End(e) => format!("E{}", e.frames),
                // A client's recorder writes no simulation records.
                _ => "sim".into(),
            })
            .collect()
    }

    #[test]
    fn tick_hashes_follow_their_snapshot_whatever_thread_records_first() {
        let dir = std::env::temp_dir().join(format!("tgr-recorder-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("seq.tgr");
        let mut r = Recorder::create(&path, rf::Recorder::Client, "test", "p", 2).unwrap();
        r.sequence_tick_hashes(true);
        // The socket thread records three snapshots and a ping before the game loop hashes any.
        r.frame(Direction::ToClient, State::Play, 1, &snapshot(1), 9);
        r.frame(Direction::ToServer, State::Play, 1, &ping(), 6);
        r.frame(Direction::ToClient, State::Play, 2, &snapshot(2), 9);
        r.frame(Direction::ToClient, State::Play, 3, &snapshot(3), 9);
        r.tick(1, (1, 1), state);
        r.tick(2, (2, 2), state);
        // The game loop skipped the hash of tick 3; then a stale hash comes for it.
        r.frame(Direction::ToClient, State::Play, 4, &snapshot(4), 9);
        r.tick(4, (4, 4), state);
        r.tick(3, (3, 3), state);
        r.frame(Direction::ToClient, State::Play, 5, &snapshot(5), 9);
        r.finish("done");
        assert_eq!(r.dropped_hashes(), 1);
        assert_eq!(
            layout(&path),
            [
                "S1#0", "H1", "K1@1", "F#1", "S2#2", "H2", "S3#3", "S4#4", "H4", "K4@5", "S5#5",
                "E6"
            ]
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A writer the test can read back while the recorder owns its other end.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_recording_into_memory_reads_back_before_and_after_it_ends() {
        let out = Shared::default();
        let mut r = Recorder::to_writer(
            Box::new(out.clone()),
            rf::Recorder::Client,
            "test",
            "p",
            2,
            (Instant::now(), 0),
        )
        .unwrap();
        r.sequence_tick_hashes(true);
        r.frame(Direction::ToClient, State::Play, 1, &snapshot(1), 9);
        r.tick(1, (1, 1), state);
        r.frame(Direction::ToServer, State::Play, 1, &ping(), 6);
        // What a page downloads mid-game: everything so far, without an End.
        r.flush();
        let so_far = out.0.lock().unwrap().clone();
        let mut reader = ReplayReader::new(so_far.as_slice()).unwrap();
        assert_eq!(reader.records().len(), 4);
        assert!(!reader.ended());
        r.finish("done");
        let all = out.0.lock().unwrap().clone();
        let mut reader = ReplayReader::new(all.as_slice()).unwrap();
        assert_eq!(reader.records().len(), 5);
        assert!(reader.ended() && reader.stopped_early().is_none());
    }

    #[test]
    fn a_game_loop_that_falls_behind_does_not_hold_frames_without_bound() {
        let dir = std::env::temp_dir().join(format!("tgr-recorder-held-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("held.tgr");
        let mut r = Recorder::create(&path, rf::Recorder::Client, "test", "p", 0).unwrap();
        r.sequence_tick_hashes(true);
        r.frame(Direction::ToClient, State::Play, 1, &snapshot(1), 9);
        for _ in 0..MAX_HELD + 1 {
            r.frame(Direction::ToServer, State::Play, 1, &ping(), 6);
        }
        // Everything was written without waiting; the late hash is dropped.
        assert!(r.held.is_empty() && r.held_bytes == 0);
        r.tick(1, (1, 1), Vec::new);
        assert_eq!(r.dropped_hashes(), 1);
        r.finish("done");
        let layout = layout(&path);
        assert_eq!(layout.len(), MAX_HELD + 3);
        assert_eq!(layout.last().map(String::as_str), Some("E4098"));
        let _ = std::fs::remove_dir_all(dir);
    }
}

impl rf::Frame {
    /// The protocol state the frame was recorded in (`None` for a number no state has).
    pub fn protocol_state(&self) -> Option<State> {
        State::from_tag(self.state)
    }

    /// Which way the frame travelled.
    pub fn protocol_direction(&self) -> Direction {
        match self.direction {
            FrameDirection::ToServer => Direction::ToServer,
            FrameDirection::ToClient => Direction::ToClient,
        }
    }

    /// The recorded packet, decoded with the protocol's codec in its recorded state and
    /// direction.
    pub fn decode(&self) -> Result<crate::AnyPacket, RecordedFrameError> {
        let state = self
            .protocol_state()
            .ok_or(RecordedFrameError::UnknownState(self.state))?;
        let packet =
            crate::codec::decode_packet_bytes(state, self.protocol_direction(), &self.bytes)?;
        if packet.id() != self.packet_id {
            return Err(RecordedFrameError::IdMismatch {
                recorded: self.packet_id,
                found: packet.id(),
            });
        }
        Ok(packet)
    }
}

/// Why a recorded frame is not a packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordedFrameError {
    /// The recorded state number names no state.
    #[error("unknown protocol state {0}")]
    UnknownState(u8),
    /// The bytes do not decode in the recorded state and direction.
    #[error("{0}")]
    Codec(#[from] crate::CodecError),
    /// The record's packet id disagrees with the frame's.
    #[error("packet id {recorded:#04x} recorded, frame holds {found:#04x}")]
    IdMismatch {
        /// The record's `packet_id`.
        recorded: u8,
        /// The frame's id.
        found: u8,
    },
}
