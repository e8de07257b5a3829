//! The recorder: every frame in both directions, with its byte counts, into a replay file.
//!
//! Both the client and the server record with it. It writes the [`crate::replay_file`]
//! container, with records generated
//! from `spec/replay.ron`: a frame record per frame (sequence, direction, protocol state, tick,
//! monotonic microseconds since the start, wire and payload bytes, packet id, the bytes), the
//! managers' state hashes after each applied tick, and a keyframe every `keyframe_interval`
//! ticks. Each frame is flushed to the OS as its own checksummed chunk, so `kill -9` loses at
//! most the frame being written. Recording failures are reported once and then recording stops;
//! they never take the game down.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::time::Instant;

use crate::replay_file::{ReplayError, ReplayWriter, FORMAT_VERSION};
use crate::replay_format::{self as rf, ConnState, FrameDirection, Record};
use crate::{Direction, State};

/// Default ticks between keyframes (one minute at 20 ticks/s).
pub const DEFAULT_KEYFRAME_INTERVAL: u32 = 1200;

/// Writes one connection's replay file.
pub struct Recorder {
    writer: Option<ReplayWriter<BufWriter<File>>>,
    started: Instant,
    seq: u64,
    keyframe_interval: u32,
    last_keyframe: Option<u32>,
    wire_bytes: u64,
    error: Option<String>,
}

fn conn_state(s: State) -> ConnState {
    match s {
        State::Handshake => ConnState::Handshake,
        State::Login => ConnState::Login,
        State::MapTransfer => ConnState::MapTransfer,
        State::Play => ConnState::Play,
    }
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
        let file = File::create(path)?;
        let start_unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
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
        let writer = ReplayWriter::new(BufWriter::with_capacity(64 * 1024, file), &header)?;
        Ok(Recorder {
            writer: Some(writer),
            started: Instant::now(),
            seq: 0,
            keyframe_interval,
            last_keyframe: None,
            wire_bytes: 0,
            error: None,
        })
    }

    fn write(&mut self, records: &[Record], flush: bool) {
        let Some(w) = self.writer.as_mut() else {
            return;
        };
        let result = records.iter().try_for_each(|r| w.push(r)).and_then(|()| {
            if flush {
                w.flush()
            } else {
                Ok(())
            }
        });
        if let Err(e) = result {
            self.error = Some(e.to_string());
            self.writer = None;
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
        let record = Record::Frame(rf::Frame {
            seq: self.seq,
            direction: match direction {
                Direction::ToServer => FrameDirection::ToServer,
                Direction::ToClient => FrameDirection::ToClient,
            },
            state: conn_state(state),
            tick,
            micros: self.started.elapsed().as_micros() as u64,
            wire_bytes: wire_len as u32,
            payload_bytes: frame.len().saturating_sub(1) as u32,
            packet_id: frame.first().copied().unwrap_or(0),
            bytes: frame.to_vec(),
        });
        self.seq += 1;
        self.wire_bytes += wire_len as u64;
        self.write(&[record], true);
    }

    /// Records the managers' hashes after a tick, and a keyframe when one is due.
    pub fn tick(&mut self, tick: u32, hashes: (u64, u64), keyframe: impl FnOnce() -> Vec<u8>) {
        let mut records = vec![Record::TickHash(rf::TickHash {
            tick,
            world_hash: hashes.0,
            players_hash: hashes.1,
        })];
        let due = self.keyframe_interval > 0
            && self
                .last_keyframe
                .is_none_or(|k| tick.saturating_sub(k) >= self.keyframe_interval);
        if due {
            self.last_keyframe = Some(tick);
            records.push(Record::Keyframe(rf::Keyframe {
                tick,
                frame_seq: self.seq,
                state: keyframe(),
            }));
        }
        self.write(&records, true);
    }

    /// Writes the end record and closes the file.
    pub fn finish(&mut self, reason: &str) {
        let end = Record::End(rf::End {
            frames: self.seq,
            reason: reason.chars().take(200).collect(),
        });
        self.write(&[end], true);
        if let Some(w) = self.writer.take() {
            let _ = w.finish();
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
        self.writer.as_ref().map_or(0, ReplayWriter::bytes_written)
    }

    /// Why recording stopped, if it failed.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}
