//! The simulation's log: a recording of the authoritative session (`tilegame-server --record`),
//! and the hooks through which a re-simulation ([`crate::resim`]) reproduces it.
//!
//! The [`Sim`](crate::Sim) is deterministic given how it was built and the commands it
//! handles before each tick, except where its connections' I/O decides: a join whose connection
//! vanished before the answer, an outbox that overflowed or closed during a tick, and a roster
//! flush cut short because a client's outbox was still full. The log writes the commands and
//! those outcomes, in the order the loop met them, plus the world's hashes after every tick, as
//! `Sim*` records of a replay file (`protocol/spec/replay.ron`, recorder `Simulation`):
//!
//! - `SimStart`: seed, theme, size, limits, heartbeat, view radius, outbox budget;
//! - per tick: the `SimJoin` / `SimInput` / `SimChat` / `SimLeave` commands handled before it, then what its
//!   I/O decided (`SimRosterCut`, `SimDrop`), then `SimTick` with the world hash and each
//!   player's hash; every `keyframe_every` ticks (default [`DEFAULT_KEYFRAME_EVERY`], 10 s at
//!   20 ticks/s) then a `SimKeyframe` with the loop's whole state, so that seeking re-simulates
//!   from the nearest keyframe instead of from the start (its map is the generated one plus the
//!   tiles changed since, so it stays small); the records of [`FLUSH_INTERVAL_MS`] of ticks
//!   (6 at 20 ticks/s) are written as one compressed chunk, so a killed server loses at most
//!   that much (the bound promised is 0.5 s), counted in ticks: the simulation reads no clock;
//! - `SimKickAll` when the server shuts down, then `End`.
//!
//! In a re-simulation the same hooks run in [`SimLog::Replay`] mode: they write nothing, hand the
//! loop the recorded roster cuts, and note which inputs each tick applied and any removal the
//! detached outboxes caused by themselves (which a faithful recording never leaves to happen).
//! Recording failures are logged once and stop the recording; they never stop the server.

use std::collections::BTreeMap;
use std::io::Write;

use tilegame_game::{self as game, PlayerId, StableHasher, World};

use crate::state_hash::{HashDef, WorldHasher};
use tilegame_protocol::replay_file::{
    written_format, ReplayError, ReplayWriter, FLUSH_INTERVAL_MS, FORMAT_VERSION,
};
use tilegame_protocol::replay_format::{self as rf, Record};
use tilegame_protocol::v1::{DisconnectReason, JoinError};
use tracing::warn;

/// Why the end of a recording was written.
const END_REASON: &str = "the server stopped";

/// Ticks between keyframes unless configured otherwise (10 s at 20 ticks/s).
pub const DEFAULT_KEYFRAME_EVERY: u32 = 200;

/// The loop's log: writing a recording, or feeding a re-simulation.
pub enum SimLog {
    /// Writing `tilegame-server --record FILE`.
    Record(Box<RecordLog>),
    /// Re-simulating a recording.
    Replay(ReplayLog),
}

/// Where a recording goes (a file the server opened, or memory in tests).
pub type RecordSink = Box<dyn Write + Send>;

/// A recording being written.
pub struct RecordLog {
    /// Names the destination in log lines (the server passes the file's path).
    label: String,
    writer: Option<ReplayWriter<RecordSink>>,
    /// Ticks between keyframes (0: none).
    keyframe_every: u32,
    /// Ticks between flushes ([`FLUSH_INTERVAL_MS`] at the recorded tick rate, at least 1).
    flush_every: u32,
    /// World hashes, the map's part remembered.
    hasher: WorldHasher,
}

/// What a re-simulation tells the loop, and what the loop tells it back.
#[derive(Debug, Default)]
pub struct ReplayLog {
    /// Roster events each player may be sent in the coming tick (recorded cuts).
    pub(crate) caps: BTreeMap<PlayerId, usize>,
    /// Inputs the last tick applied.
    pub(crate) applied: Vec<(PlayerId, game::Input)>,
    /// Players the loop removed by itself for a full or closed outbox.
    pub(crate) unexpected_drops: Vec<(PlayerId, DisconnectReason)>,
}

impl SimLog {
    /// Writes the header and `start` into `out` (buffer it: every few ticks flush); a keyframe
    /// follows every `keyframe_every` ticks (0: none). The caller supplies what the header says
    /// about the recording's origin (the simulation reads no clock): `software` and
    /// `start_unix_ms`. `label` names the destination in log lines.
    pub fn record(
        out: RecordSink,
        label: impl Into<String>,
        start: rf::SimStart,
        keyframe_every: u32,
        software: impl Into<String>,
        start_unix_ms: u64,
    ) -> Result<SimLog, ReplayError> {
        let header = rf::FileHeader {
            format_version: FORMAT_VERSION,
            protocol_version: tilegame_protocol::PROTOCOL_VERSION,
            protocol_hash: tilegame_protocol::SPEC_HASH,
            recorder: rf::Recorder::Simulation,
            software: software.into(),
            player_name: String::new(),
            start_unix_ms,
            keyframe_interval: keyframe_every,
        };
        let flush_every =
            (u64::from(start.tick_rate) * FLUSH_INTERVAL_MS / 1000).clamp(1, 1000) as u32;
        let mut writer = ReplayWriter::new(out, &header)?;
        writer.push(&Record::SimStart(start))?;
        writer.flush()?;
        Ok(SimLog::Record(Box::new(RecordLog {
            label: label.into(),
            writer: Some(writer),
            keyframe_every,
            flush_every,
            hasher: WorldHasher::with_def(HashDef::for_format(written_format(FORMAT_VERSION))),
        })))
    }

    /// The hooks of a re-simulation.
    pub fn replay() -> SimLog {
        SimLog::Replay(ReplayLog::default())
    }

    fn push(&mut self, record: Record) {
        if let SimLog::Record(r) = self {
            r.push(&record);
        }
    }

    /// The loop handled a join.
    pub fn join(
        &mut self,
        name: &str,
        color: u32,
        result: Result<PlayerId, JoinError>,
        vanished: bool,
    ) {
        let result = match result {
            Ok(id) => rf::SimJoinResult::JoinedAs(rf::JoinedAs { player: id.0 }),
            Err(e) => rf::SimJoinResult::JoinRefused(rf::JoinRefused { reason: e.tag() }),
        };
        self.push(Record::SimJoin(rf::SimJoin {
            name: name.to_owned(),
            color,
            result,
            vanished,
        }));
    }

    /// The loop took a chat line.
    pub fn chat(&mut self, id: PlayerId, text: &str) {
        self.push(Record::SimChat(rf::SimChat {
            player: id.0,
            text: text.to_owned(),
        }));
    }

    /// The loop queued an input.
    pub fn input(&mut self, id: PlayerId, input: &game::Input) {
        self.push(Record::SimInput(input_record(id, input)));
    }

    /// A connection left.
    pub fn leave(&mut self, id: PlayerId, reason: DisconnectReason) {
        self.push(Record::SimLeave(rf::SimLeave {
            player: id.0,
            reason: reason.tag(),
        }));
    }

    /// How many roster events `id` may be sent this tick (all, unless a replay says otherwise).
    pub fn roster_cap(&self, id: PlayerId) -> usize {
        match self {
            SimLog::Record(_) => usize::MAX,
            SimLog::Replay(r) => r.caps.get(&id).copied().unwrap_or(usize::MAX),
        }
    }

    /// `id`'s outbox had room for only `sent` of its pending roster events.
    pub fn roster_cut(&mut self, id: PlayerId, sent: usize) {
        self.push(Record::SimRosterCut(rf::SimRosterCut {
            player: id.0,
            sent: u32::try_from(sent).unwrap_or(u32::MAX),
        }));
    }

    /// The loop removes `id` because its outbox overflowed or closed.
    pub fn dropped(&mut self, id: PlayerId, reason: DisconnectReason, kick: Option<&str>) {
        match self {
            SimLog::Record(r) => r.push(&Record::SimDrop(rf::SimDrop {
                player: id.0,
                reason: reason.tag(),
                kick: kick.map(str::to_owned),
            })),
            SimLog::Replay(r) => r.unexpected_drops.push((id, reason)),
        }
    }

    /// The inputs this tick applies (one per player at most).
    pub fn applied(&mut self, inputs: &[(PlayerId, game::Input)]) {
        if let SimLog::Replay(r) = self {
            r.applied.clear();
            r.applied.extend_from_slice(inputs);
        }
    }

    /// Whether a keyframe is to be written after `tick` (recording only).
    pub fn keyframe_due(&self, tick: u32) -> bool {
        match self {
            SimLog::Record(r) => {
                r.writer.is_some() && r.keyframe_every > 0 && tick.is_multiple_of(r.keyframe_every)
            }
            SimLog::Replay(_) => false,
        }
    }

    /// The tick is over: its hashes (and `keyframe`, when one was due) are written, and the
    /// chunk flushed every `flush_every` ticks.
    pub fn tick_done(&mut self, world: &World, keyframe: Option<rf::SimKeyframeState>) {
        if let SimLog::Record(r) = self {
            let hashes = tick_hashes_with(&mut r.hasher, world);
            r.push(&Record::SimTick(hashes));
            if let Some(state) = keyframe {
                r.keyframe(rf::SimKeyframe {
                    tick: world.tick as u32,
                    state,
                });
            }
            if world.tick.is_multiple_of(u64::from(r.flush_every)) {
                r.flush();
            }
        }
    }

    /// The server shuts down, kicking everyone.
    pub fn kick_all(&mut self, reason: DisconnectReason, message: &str) {
        self.push(Record::SimKickAll(rf::SimKickAll {
            reason: reason.tag(),
            message: message.to_owned(),
        }));
    }
}

impl RecordLog {
    fn push(&mut self, record: &Record) {
        if let Some(w) = &mut self.writer {
            if let Err(e) = w.push(record) {
                self.fail(e);
            }
        }
    }

    /// Writes a keyframe; one that cannot be encoded (a state over the spec's bound) stops the
    /// keyframes, not the recording.
    fn keyframe(&mut self, keyframe: rf::SimKeyframe) {
        let record = Record::SimKeyframe(keyframe);
        let mut scratch = Vec::new();
        if let Err(e) = tilegame_protocol::wire::encode_body(&record, "Record", &mut scratch) {
            warn!(recording = %self.label, "simulation keyframes stopped: {e}");
            self.keyframe_every = 0;
            return;
        }
        // A keyframe starts a chunk and a new compressed stream: a seek starts reading there.
        if let Some(w) = &mut self.writer {
            if let Err(e) = w.restart() {
                self.fail(e);
            }
        }
        self.push(&record);
    }

    fn flush(&mut self) {
        if let Some(w) = &mut self.writer {
            if let Err(e) = w.flush() {
                self.fail(e);
            }
        }
    }

    fn fail(&mut self, e: ReplayError) {
        warn!(recording = %self.label, "simulation recording stopped: {e}");
        self.writer = None;
    }
}

impl Drop for RecordLog {
    fn drop(&mut self) {
        self.push(&Record::End(rf::End {
            frames: 0,
            reason: END_REASON.to_owned(),
        }));
        if let Some(w) = self.writer.take() {
            if let Err(e) = w.finish() {
                warn!(recording = %self.label, "cannot finish the simulation recording: {e}");
            }
        }
    }
}

/// The world's hash and each player's (low 32 bits), after a tick, as a file of format
/// `format_version` records them.
pub fn tick_hashes(format_version: u16, world: &World) -> rf::SimTick {
    tick_hashes_with(
        &mut WorldHasher::with_def(HashDef::for_format(format_version)),
        world,
    )
}

/// [`tick_hashes`] with a hasher that remembers the map's part from tick to tick.
pub fn tick_hashes_with(hasher: &mut WorldHasher, world: &World) -> rf::SimTick {
    let mut players = Vec::with_capacity(world.players.len());
    let world_hash = hasher.state_hash_and_players(world, |p, hash| {
        players.push(rf::SimPlayerHash { id: p.id.0, hash });
    });
    rf::SimTick {
        tick: world.tick as u32,
        world_hash,
        players,
    }
}

/// One player's hash as `SimTick` records it in formats 1 to 5 (FNV-1a 64 of its canonical
/// bytes; format 6's is `state_hash::player_hash_products`).
pub fn player_hash(p: &game::Player) -> u32 {
    let mut h = StableHasher::new();
    p.hash_into(&mut h);
    h.finish() as u32
}

/// An input as a record.
pub fn input_record(id: PlayerId, input: &game::Input) -> rf::SimInput {
    rf::SimInput {
        player: id.0,
        seq: input.seq,
        move_x: input.move_x,
        move_y: input.move_y,
        item: input.item as u8,
        action: match input.action {
            game::Action::None => rf::SimAction::NoAction,
            game::Action::Break { x, y } => rf::SimAction::BreakTile(rf::BreakTile { x, y }),
            game::Action::Respawn => rf::SimAction::Respawn,
        },
    }
}

/// A recorded value the simulation has no meaning for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value} in a {record} record")]
pub struct BadValue {
    /// The record kind.
    pub record: &'static str,
    /// The field.
    pub what: &'static str,
    /// The value.
    pub value: u32,
}

/// An input record back as the input the loop queued.
/// The input a keyframe holds queued for `player`, as the loop applies it.
pub fn input_from_queued(player: u32, q: &rf::SimQueuedInput) -> Result<game::Input, BadValue> {
    let record = rf::SimInput {
        player,
        seq: q.seq,
        move_x: q.move_x,
        move_y: q.move_y,
        item: q.item,
        action: q.action.clone(),
    };
    input_from_record(&record).map(|(_, input)| input)
}

pub fn input_from_record(r: &rf::SimInput) -> Result<(PlayerId, game::Input), BadValue> {
    let item = match r.item {
        0 => game::Item::Shovel,
        1 => game::Item::Gun,
        other => {
            return Err(BadValue {
                record: "SimInput",
                what: "item",
                value: u32::from(other),
            })
        }
    };
    let action = match &r.action {
        rf::SimAction::NoAction => game::Action::None,
        rf::SimAction::BreakTile(b) => game::Action::Break { x: b.x, y: b.y },
        rf::SimAction::Respawn => game::Action::Respawn,
    };
    Ok((
        PlayerId(r.player),
        game::Input {
            seq: r.seq,
            move_x: r.move_x,
            move_y: r.move_y,
            item,
            action,
        },
    ))
}

/// A recorded disconnect reason.
pub fn reason_from_tag(record: &'static str, tag: u8) -> Result<DisconnectReason, BadValue> {
    DisconnectReason::from_tag(tag).ok_or(BadValue {
        record,
        what: "disconnect reason",
        value: u32::from(tag),
    })
}
