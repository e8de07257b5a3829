//! The deterministic replay engine: recorded frames in, the client's managers out.
//!
//! Live play and replay must run the *same* code, or a replay proves nothing. The engine feeds
//! the recorded server-to-client frames to the client's own [`JoinAssembler`] during the join
//! and then to `play::ToClient::decode` + [`PlayState::apply`], exactly as a connected client
//! does, and recomputes the state hashes after every snapshot. Time is a virtual clock made of
//! the recorded microseconds and ticks: no wall clock, no sockets, no randomness, so the same
//! file always yields the same states and hashes. Recorded [`TickHash`] records are compared
//! with the recomputed hashes of the same tick; recorded keyframes are compared field by field.
//! [`Engine::seek`] starts from the nearest keyframe at or before a tick instead of the join.
//! A recording may hold several connections (a client refused with `Kick(Busy)` tries again,
//! one kicked may reconnect): each `ClientHello` starts the join over, as it did for the client.

use std::io::Read;

use tilegame_client::keyframe::{Keyframe as StateKeyframe, KeyframeError};
use tilegame_client::net::join::{JoinAssembler, JoinStep};
use tilegame_client::play::PlayState;
use tilegame_protocol::replay_file::{ReplayError, ReplayReader};
use tilegame_protocol::replay_format::{
    FileHeader, Frame, FrameDirection, Keyframe, Record, TickHash,
};
use tilegame_protocol::v1::{handshake, play, State};

use crate::packets::{self, AnyPacket, FrameDecodeError};
use crate::state::{self, StateDiff, StateHashes};

/// Why the engine cannot go on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// A record of a server simulation recording in a connection's recording.
    #[error("a {0} record (a server simulation's) in a connection recording")]
    SimulationRecord(&'static str),
    /// A frame did not decode.
    #[error("frame {seq} ({dir} {state}, id {id:#04x}) does not decode: {source}")]
    Decode {
        /// Frame sequence number.
        seq: u64,
        /// Direction label.
        dir: &'static str,
        /// Recorded state.
        state: &'static str,
        /// Packet id.
        id: u8,
        /// Why.
        source: FrameDecodeError,
    },
    /// Frames are missing or out of order.
    #[error("frame {found} where frame {expected} was expected")]
    Sequence {
        /// The next sequence number expected.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// The recorded state of a server frame is not the state the join is in.
    #[error("frame {seq} was recorded in state {recorded} but the join is in state {engine}")]
    StateMismatch {
        /// Frame sequence number.
        seq: u64,
        /// Recorded state.
        recorded: &'static str,
        /// The engine's state.
        engine: &'static str,
    },
    /// A server frame arrived after the join was refused.
    #[error("frame {seq} arrived after the join was refused")]
    AfterRefusal {
        /// Frame sequence number.
        seq: u64,
    },
    /// A tick hash does not follow a snapshot of its tick.
    #[error("tick hash for tick {tick} does not follow a snapshot of that tick (last snapshot: {})", last.map_or("none".to_owned(), |t| format!("tick {t}")))]
    UnmatchedTickHash {
        /// The hash record's tick.
        tick: u32,
        /// The latest snapshot's tick.
        last: Option<u32>,
    },
    /// A keyframe could not be restored.
    #[error("keyframe for tick {tick} is invalid: {message}")]
    BadKeyframe {
        /// The keyframe's tick.
        tick: u32,
        /// Why.
        message: String,
    },
}

/// Why a seek failed.
#[derive(Debug, thiserror::Error)]
pub enum SeekError {
    /// The file could not be read.
    #[error(transparent)]
    File(#[from] ReplayError),
    /// Replaying failed (with the offset of the chunk holding the record).
    #[error("at chunk offset {offset}: {source}")]
    Engine {
        /// File offset of the chunk.
        offset: u64,
        /// What went wrong.
        source: EngineError,
    },
    /// The tick is before the first state the file can give.
    #[error("tick {tick} is before the first state the file can give ({})", first.map_or("it has no snapshot".to_owned(), |t| format!("the first is tick {t}")))]
    TooEarly {
        /// The tick asked for.
        tick: u32,
        /// The first snapshot's tick, if any.
        first: Option<u32>,
    },
}

/// A tick whose recorded hashes differ from the replayed ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The tick.
    pub tick: u32,
    /// What the recorder hashed.
    pub expected: StateHashes,
    /// What the engine recomputed.
    pub actual: StateHashes,
}

impl Divergence {
    /// Which parts diverged: `"world"`, `"players"` or `"world and players"`.
    pub fn parts(&self) -> &'static str {
        match (
            self.expected.world != self.actual.world,
            self.expected.players != self.actual.players,
        ) {
            (true, true) => "world and players",
            (true, false) => "world",
            _ => "players",
        }
    }
}

/// What a record did.
#[derive(Debug, Clone, PartialEq)]
pub enum TickOutcome {
    /// The join completed; play starts at this tick.
    Joined {
        /// The server tick at join.
        tick: u32,
    },
    /// The server refused the join (the recording shows why).
    JoinRefused {
        /// The refusal, as the client shows it.
        message: String,
    },
    /// A snapshot was applied.
    Snapshot {
        /// Its tick.
        tick: u32,
        /// The recomputed hashes after it.
        hashes: StateHashes,
    },
    /// A recorded tick hash matched.
    Verified {
        /// The tick.
        tick: u32,
    },
    /// A recorded tick hash did not match.
    Diverged(Divergence),
    /// A recorded keyframe was compared with the replayed state (`diff` empty = equal).
    Keyframe {
        /// Its tick.
        tick: u32,
        /// Where the recorded keyframe differs from the replayed state.
        diff: Box<StateDiff>,
    },
    /// The recording's end record.
    Ended {
        /// Frames the recorder says it wrote.
        frames: u64,
        /// Why it ended.
        reason: String,
    },
}

/// The virtual clock: the recorded time of the latest frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VirtualClock {
    /// Recorded microseconds since the recording started.
    pub micros: u64,
    /// The recorder's tick at that frame.
    pub tick: u32,
}

/// Counters of what the engine has consumed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineCounts {
    /// Frames to the client.
    pub frames_in: u64,
    /// Frames to the server.
    pub frames_out: u64,
    /// Snapshots applied.
    pub snapshots: u64,
    /// Tick hashes that matched.
    pub verified: u64,
    /// Keyframes compared.
    pub keyframes: u64,
}

enum Phase {
    Joining(JoinAssembler),
    Playing(Box<PlayState>),
    Refused,
}

/// Replays one recording's records, in order, through the client's managers.
pub struct Engine {
    player_name: String,
    phase: Phase,
    next_seq: u64,
    clock: VirtualClock,
    last: Option<(u32, StateHashes)>,
    first_tick: Option<u32>,
    counts: EngineCounts,
    keyframe: Option<(u32, StateKeyframe)>,
    /// The file's format version, which defines its tick hashes.
    format_version: u16,
}

impl Engine {
    /// An engine at the start of the recording described by `header`.
    pub fn new(header: &FileHeader) -> Self {
        Engine {
            player_name: header.player_name.clone(),
            phase: Phase::Joining(JoinAssembler::new()),
            next_seq: 0,
            clock: VirtualClock::default(),
            last: None,
            first_tick: None,
            counts: EngineCounts::default(),
            keyframe: None,
            format_version: header.format_version,
        }
    }

    /// The recording's format version (it says how tick hashes are defined).
    pub fn format_version(&self) -> u16 {
        self.format_version
    }

    /// The hashes of `play` as this recording defines them.
    pub fn hashes(&self, play: &PlayState) -> StateHashes {
        StateHashes::of_format(play, self.format_version)
    }

    /// An engine restored from a recorded keyframe; frames continue at `keyframe.frame_seq`.
    pub fn from_keyframe(header: &FileHeader, keyframe: &Keyframe) -> Result<Self, EngineError> {
        let bad = |e: KeyframeError| EngineError::BadKeyframe {
            tick: keyframe.tick,
            message: e.to_string(),
        };
        let play = StateKeyframe(keyframe.state.clone())
            .restore()
            .map_err(bad)?;
        let mut engine = Engine::new(header);
        engine.last = Some((keyframe.tick, engine.hashes(&play)));
        engine.first_tick = Some(keyframe.tick);
        engine.phase = Phase::Playing(Box::new(play));
        engine.next_seq = keyframe.frame_seq;
        engine.clock.tick = keyframe.tick;
        Ok(engine)
    }

    /// The managers, once joined.
    pub fn play(&self) -> Option<&PlayState> {
        match &self.phase {
            Phase::Playing(p) => Some(p),
            _ => None,
        }
    }

    /// The virtual clock.
    pub fn clock(&self) -> VirtualClock {
        self.clock
    }

    /// The latest snapshot's tick and recomputed hashes.
    pub fn last_tick(&self) -> Option<(u32, StateHashes)> {
        self.last
    }

    /// The first tick the engine had a state for (join or keyframe).
    pub fn first_tick(&self) -> Option<u32> {
        self.first_tick
    }

    /// What has been consumed so far.
    pub fn counts(&self) -> EngineCounts {
        self.counts
    }

    /// The next frame sequence number expected.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The latest recorded keyframe seen, with its tick.
    pub fn last_keyframe(&self) -> Option<&(u32, StateKeyframe)> {
        self.keyframe.as_ref()
    }

    /// Consumes one record.
    pub fn feed(&mut self, record: &Record) -> Result<Option<TickOutcome>, EngineError> {
        match record {
            Record::Frame(f) => self.frame(f),
            Record::TickHash(h) => self.tick_hash(h).map(Some),
            Record::TickHashLow(h) => self
                .tick_hash_masked(
                    h.tick,
                    StateHashes {
                        world: h.world.into(),
                        players: h.players.into(),
                    },
                    u64::from(u16::MAX),
                )
                .map(Some),
            Record::Keyframe(k) => self.recorded_keyframe(k).map(Some),
            // Format 1's JSON keyframes are not read: replay goes on from the frames.
            Record::LegacyKeyframe(_) => Ok(None),
            Record::End(e) => Ok(Some(TickOutcome::Ended {
                frames: e.frames,
                reason: e.reason.clone(),
            })),
            other => Err(EngineError::SimulationRecord(
                tilegame_sim::resim::record_name(other),
            )),
        }
    }

    fn decode_error(f: &Frame, source: FrameDecodeError) -> EngineError {
        EngineError::Decode {
            seq: f.seq,
            dir: packets::dir_label(f.direction),
            state: packets::state_label(f.state),
            id: f.packet_id,
            source,
        }
    }

    fn frame(&mut self, f: &Frame) -> Result<Option<TickOutcome>, EngineError> {
        if f.seq != self.next_seq {
            return Err(EngineError::Sequence {
                expected: self.next_seq,
                found: f.seq,
            });
        }
        self.next_seq += 1;
        self.clock = VirtualClock {
            micros: f.micros,
            tick: f.tick,
        };
        if f.direction == FrameDirection::ToServer {
            // The server's side is not simulated, but every frame must still decode.
            self.counts.frames_out += 1;
            let packet = packets::decode(f).map_err(|e| Self::decode_error(f, e))?;
            if matches!(
                packet,
                AnyPacket::HandshakeToServer(handshake::ToServer::ClientHello(_))
            ) {
                // A new connection in the same recording (the client tried again after a
                // refusal such as Busy, or reconnected after a kick): its join starts over
                // from nothing, as the client's did.
                self.phase = Phase::Joining(JoinAssembler::new());
            }
            return Ok(None);
        }
        self.counts.frames_in += 1;
        let packet = packets::decode(f).map_err(|e| Self::decode_error(f, e))?;
        match &mut self.phase {
            Phase::Joining(join) => {
                let engine_state = join.state();
                if engine_state.tag() != f.state {
                    return Err(EngineError::StateMismatch {
                        seq: f.seq,
                        recorded: packets::state_label(f.state),
                        engine: engine_state.name(),
                    });
                }
                match join.feed(packet) {
                    Ok(JoinStep::Done(joined)) => {
                        let mut play = PlayState::new();
                        play.join(&joined, &self.player_name);
                        let tick = joined.tick;
                        self.first_tick.get_or_insert(tick);
                        self.phase = Phase::Playing(Box::new(play));
                        Ok(Some(TickOutcome::Joined { tick }))
                    }
                    Ok(_) => Ok(None),
                    Err(e) => {
                        // A refusal is a legitimate ending; bad data is not.
                        if e.state == tilegame_client::net::ConnectionState::ServerFailure {
                            return Err(Self::decode_error(
                                f,
                                FrameDecodeError::Join(e.detail.clone()),
                            ));
                        }
                        self.phase = Phase::Refused;
                        Ok(Some(TickOutcome::JoinRefused {
                            message: e.to_string(),
                        }))
                    }
                }
            }
            Phase::Playing(play) => {
                let AnyPacket::PlayToClient(packet) = packet else {
                    return Err(EngineError::StateMismatch {
                        seq: f.seq,
                        recorded: packets::state_label(f.state),
                        engine: State::Play.name(),
                    });
                };
                play.apply(&packet);
                if let play::ToClient::Snapshot(s) = &packet {
                    let hashes = StateHashes::of_format(play, self.format_version);
                    self.last = Some((s.tick, hashes));
                    self.counts.snapshots += 1;
                    return Ok(Some(TickOutcome::Snapshot {
                        tick: s.tick,
                        hashes,
                    }));
                }
                Ok(None)
            }
            Phase::Refused => Err(EngineError::AfterRefusal { seq: f.seq }),
        }
    }

    fn tick_hash(&mut self, h: &TickHash) -> Result<TickOutcome, EngineError> {
        let expected = StateHashes {
            world: h.world_hash,
            players: h.players_hash,
        };
        self.tick_hash_masked(h.tick, expected, u64::MAX)
    }

    /// Checks the `mask` bits of the hashes recorded after `tick` (format 4 records 16 bits).
    fn tick_hash_masked(
        &mut self,
        tick: u32,
        expected: StateHashes,
        mask: u64,
    ) -> Result<TickOutcome, EngineError> {
        let Some((tick, actual)) = self.last.filter(|(t, _)| *t == tick) else {
            return Err(EngineError::UnmatchedTickHash {
                tick,
                last: self.last.map(|(t, _)| t),
            });
        };
        let actual = StateHashes {
            world: actual.world & mask,
            players: actual.players & mask,
        };
        if expected == actual {
            self.counts.verified += 1;
            Ok(TickOutcome::Verified { tick })
        } else {
            Ok(TickOutcome::Diverged(Divergence {
                tick,
                expected,
                actual,
            }))
        }
    }

    fn recorded_keyframe(&mut self, k: &Keyframe) -> Result<TickOutcome, EngineError> {
        let bad = |e: KeyframeError| EngineError::BadKeyframe {
            tick: k.tick,
            message: e.to_string(),
        };
        let kf = StateKeyframe(k.state.clone());
        let recorded = kf.restore().map_err(bad)?;
        let diff = match self.play() {
            Some(replayed) => state::diff(&recorded, replayed),
            None => StateDiff {
                meta: vec![("map_size".into(), "present".into(), "none".into())],
                ..StateDiff::default()
            },
        };
        self.counts.keyframes += 1;
        self.keyframe = Some((k.tick, kf));
        Ok(TickOutcome::Keyframe {
            tick: k.tick,
            diff: Box::new(diff),
        })
    }

    /// Replays a recording up to and including the last snapshot with tick ≤ `tick`, starting
    /// from the latest keyframe at or before `tick` (or from the join when there is none).
    ///
    /// `open` gives a fresh reader over the file (it is read twice). A file cut by a crash is
    /// read up to its cut, as `verify` reads it. Returns the engine and the keyframe tick it
    /// started from.
    pub fn seek<R: Read>(
        mut open: impl FnMut() -> Result<ReplayReader<R>, ReplayError>,
        tick: u32,
    ) -> Result<(Engine, Option<u32>), SeekError> {
        /// The next record; a crash cut ends the records like the end of the file.
        fn next<R: Read>(reader: &mut ReplayReader<R>) -> Result<Option<Record>, ReplayError> {
            match reader.try_next() {
                Err(e) if e.is_cut() => Ok(None),
                other => other,
            }
        }
        let mut reader = open()?;
        reader.check_protocol()?;
        let header = reader.header().clone();
        // Pass 1: the latest keyframe at or before the tick, and the index of its record.
        let mut best: Option<(usize, Keyframe)> = None;
        let mut index = 0usize;
        while let Some(record) = next(&mut reader)? {
            if let Record::Keyframe(k) = &record {
                if k.tick <= tick && best.as_ref().is_none_or(|(_, b)| k.tick >= b.tick) {
                    best = Some((index, k.clone()));
                }
            }
            if let Record::Frame(f) = &record {
                if f.tick > tick.saturating_add(1) && f.state == State::Play.tag() {
                    break;
                }
            }
            index += 1;
        }
        // Pass 2: restore and replay the frames after it.
        let mut reader = open()?;
        let (mut engine, skip, from) = match &best {
            Some((i, k)) => (
                Engine::from_keyframe(&header, k).map_err(|source| SeekError::Engine {
                    offset: reader.chunk_offset(),
                    source,
                })?,
                i + 1,
                Some(k.tick),
            ),
            None => (Engine::new(&header), 0, None),
        };
        let mut index = 0usize;
        while let Some(record) = next(&mut reader)? {
            index += 1;
            if index <= skip {
                continue;
            }
            if let Record::Frame(f) = &record {
                if next_snapshot_tick(f).is_some_and(|t| t > tick) {
                    break;
                }
            }
            engine.feed(&record).map_err(|source| SeekError::Engine {
                offset: reader.chunk_offset(),
                source,
            })?;
        }
        match engine.play() {
            Some(p) if p.world.tick() <= tick => {}
            _ => {
                return Err(SeekError::TooEarly {
                    tick,
                    first: engine.first_tick,
                })
            }
        }
        Ok((engine, from))
    }
}

/// The tick of a recorded snapshot frame (without applying it), if the frame is one.
pub fn next_snapshot_tick(f: &Frame) -> Option<u32> {
    if f.direction != FrameDirection::ToClient || f.protocol_state() != Some(State::Play) {
        return None;
    }
    match packets::decode(f) {
        Ok(AnyPacket::PlayToClient(play::ToClient::Snapshot(s))) => Some(s.tick),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilegame_protocol::replay_format::Recorder;
    use tilegame_protocol::v1::{self, Packet};

    fn header() -> FileHeader {
        FileHeader {
            format_version: 1,
            protocol_version: v1::PROTOCOL_VERSION,
            protocol_hash: v1::SPEC_HASH,
            recorder: Recorder::Client,
            software: "test".into(),
            player_name: "me".into(),
            start_unix_ms: 0,
            keyframe_interval: 0,
        }
    }

    fn frame(seq: u64, direction: FrameDirection, state: u8, bytes: Vec<u8>) -> Record {
        Record::Frame(Frame {
            seq,
            direction,
            state,
            tick: 0,
            micros: seq * 1000,
            wire_bytes: bytes.len() as u32 + 1,
            payload_bytes: bytes.len() as u32 - 1,
            packet_id: bytes[0],
            bytes,
        })
    }

    fn ping(seq: u64) -> Record {
        let mut bytes = vec![v1::play::Ping::ID];
        v1::play::ToServer::Ping(v1::play::Ping { nonce: 1 })
            .encode_body(&mut bytes)
            .unwrap();
        frame(seq, FrameDirection::ToServer, State::Play.tag(), bytes)
    }

    #[test]
    fn frames_must_come_in_sequence() {
        let mut e = Engine::new(&header());
        assert_eq!(e.feed(&ping(0)).unwrap(), None);
        assert_eq!(e.clock().micros, 0);
        assert_eq!(
            e.feed(&ping(2)),
            Err(EngineError::Sequence {
                expected: 1,
                found: 2
            })
        );
        assert_eq!(e.counts().frames_out, 1);
    }

    #[test]
    fn server_frames_before_the_join_go_to_the_join_assembler() {
        let mut e = Engine::new(&header());
        // A Play packet while the join is in the handshake is a state mismatch.
        let mut bytes = vec![v1::play::Pong::ID];
        v1::play::ToClient::Pong(v1::play::Pong { nonce: 1 })
            .encode_body(&mut bytes)
            .unwrap();
        let r = frame(0, FrameDirection::ToClient, State::Play.tag(), bytes);
        assert!(matches!(
            e.feed(&r),
            Err(EngineError::StateMismatch { seq: 0, .. })
        ));
    }

    #[test]
    fn a_tick_hash_without_its_snapshot_is_an_error() {
        let mut e = Engine::new(&header());
        let h = Record::TickHash(TickHash {
            tick: 4,
            world_hash: 0,
            players_hash: 0,
        });
        assert_eq!(
            e.feed(&h),
            Err(EngineError::UnmatchedTickHash {
                tick: 4,
                last: None
            })
        );
    }

    #[test]
    fn undecodable_client_frames_are_errors() {
        let mut e = Engine::new(&header());
        let r = frame(
            0,
            FrameDirection::ToServer,
            State::Play.tag(),
            vec![0x7f, 1],
        );
        assert!(matches!(
            e.feed(&r),
            Err(EngineError::Decode { seq: 0, .. })
        ));
    }
}
