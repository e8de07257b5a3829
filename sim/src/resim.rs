//! Re-simulation: rebuilds the server's [`Sim`] from a simulation recording ([`crate::simlog`])
//! and runs it again, record by record, with detached outboxes.
//!
//! Commands are handled as the loop handled them; the I/O outcomes the recording holds are
//! reapplied where the live loop met them (a vanished join at once, roster cuts during the next
//! tick, drops at its end). After every tick the world's hashes are compared with the recorded
//! ones; the first difference is a [`Divergence`] naming the tick, the players whose state
//! differs and the input each of them was given that tick. Each outbox is drained after every
//! step, so one player's play-state stream (snapshots, joins, leaves, and the kicks the loop
//! decided) can be collected frame by frame: what that player's client should have received.
//!
//! A re-simulation may also start at one of the recording's keyframes ([`Resim::from_keyframe`]):
//! the loop's whole state after a tick, so that seeking does not re-run every tick before it.
//! Every keyframe met on the way is compared with the state re-simulated at its tick; a
//! difference is a [`Divergence::Keyframe`] naming the tick and what differs.

use std::collections::{BTreeMap, VecDeque};

use crate::link::MemoryLink;
use crate::settings::{InvalidSetting, LoopSettings};
use crate::simlog::{self, BadValue, SimLog};
use crate::simulation::{keyframe_differences, Command, Footprint, Joined, KeyframeError, Sim};
use crate::state_hash::{HashDef, WorldHasher};
use tilegame_game::{self as game, PlayerId};
use tilegame_protocol::codec::encode_any_state;
use tilegame_protocol::replay_format::{self as rf, Record};
use tilegame_protocol::v1::{self, DisconnectReason, JoinError};

/// Why a recording cannot be re-simulated (as opposed to re-simulating differently).
#[derive(Debug, thiserror::Error)]
pub enum ResimError {
    /// The first record is not `SimStart`.
    #[error("a {0} record where the simulation's SimStart record was expected")]
    NoStart(&'static str),
    /// A record that has no place in a simulation recording.
    #[error("a {0} record in a simulation recording")]
    Unexpected(&'static str),
    /// A recorded value is out of range.
    #[error(transparent)]
    BadValue(#[from] BadValue),
    /// The recorded settings are outside what the server accepts from its configuration.
    #[error("the SimStart record's settings are not a server's: {0}")]
    Settings(#[from] InvalidSetting),
    /// Re-simulating further would take more memory than a re-simulation may.
    #[error("the re-simulation would hold about {} MiB after tick {tick} ({} players, {} pending join/leave events, {} replicated player states, {} B of the watched player's stream), over its budget of {} MiB: not a recording of a server this tool re-simulates", .bytes >> 20, .footprint.players, .footprint.roster_events, .footprint.known, .stream_bytes, .budget >> 20)]
    Budget {
        /// The tick reached.
        tick: u32,
        /// The budget in bytes.
        budget: usize,
        /// The estimate in bytes.
        bytes: usize,
        /// What the loop holds.
        footprint: Footprint,
        /// Bytes of the watched player's stream not yet taken.
        stream_bytes: usize,
    },
    /// The recorded map cannot be generated.
    #[error("cannot generate the recorded map: {0}")]
    Map(#[from] game::MapError),
    /// A keyframe cannot be restored.
    #[error("the keyframe of tick {tick} cannot be restored: {source}")]
    Keyframe {
        /// Its tick.
        tick: u32,
        /// Why.
        source: KeyframeError,
    },
    /// The generator made another map than the recording's.
    #[error("the map generated from seed {seed:?} hashes to {computed:#018x}, the recording's to {recorded:#018x} (another world generator)")]
    MapHash {
        /// The seed.
        seed: String,
        /// Recorded.
        recorded: u64,
        /// Generated now.
        computed: u64,
    },
}

/// Bytes a re-simulation may hold (an estimate of the loop's state, the map and the watched
/// player's stream not yet taken): twice the replay reader's budget, well above what the
/// servers this tool is meant for hold (a thousand players with a view radius), far below what
/// a hostile recording of a few kilobytes of joins would otherwise make it allocate.
pub const RESIM_BUDGET: usize = 128 << 20;

/// Bytes per map tile a re-simulation holds (the world's tile and dynamic layers, the map
/// transfer sent to joiners), an upper estimate.
const TILE_BYTES: usize = 8;

/// Where a re-simulation first differs from the recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Divergence {
    /// A tick's hashes differ.
    Tick {
        /// The tick.
        tick: u32,
        /// Recorded world hash.
        recorded: u64,
        /// Re-simulated world hash.
        resimulated: u64,
        /// The players whose state differs, in id order.
        players: Vec<PlayerDivergence>,
    },
    /// A `SimTick` record does not describe the tick it follows: it names another tick, or lists
    /// the players' hashes out of id order or twice (an edited recording, or records removed or
    /// added), although the hashes it holds may be equal.
    Record {
        /// The tick re-simulated.
        tick: u32,
        /// What is wrong with the record.
        problem: String,
    },
    /// A join was answered otherwise.
    Join {
        /// The tick it was handled before.
        tick: u32,
        /// The name asked for.
        name: String,
        /// Recorded answer.
        recorded: String,
        /// Re-simulated answer.
        resimulated: String,
    },
    /// A recorded keyframe is not the state re-simulated at its tick.
    Keyframe {
        /// The keyframe's tick.
        tick: u32,
        /// What differs, one line each (the first few).
        differences: Vec<String>,
    },
    /// The re-simulated loop dropped a player the recording did not (its outbox overflowed
    /// although the recording said it had room).
    Drop {
        /// The tick.
        tick: u32,
        /// The player.
        player: u32,
        /// Why.
        reason: DisconnectReason,
    },
}

/// One player whose state differs after a tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayerDivergence {
    /// Player id.
    pub id: u32,
    /// Its name, when the re-simulation knows it.
    pub name: Option<String>,
    /// Recorded hash (`None`: the recording does not have this player).
    pub recorded: Option<u32>,
    /// Re-simulated hash (`None`: the re-simulation does not have this player).
    pub resimulated: Option<u32>,
    /// The input the tick applied to it, with the tick it was recorded before.
    pub input: Option<(game::Input, u32)>,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Divergence::Tick {
                tick,
                recorded,
                resimulated,
                players,
            } => {
                write!(
                    f,
                    "tick {tick}: world hash {resimulated:#018x}, recorded {recorded:#018x}"
                )?;
                if players.is_empty() {
                    write!(f, "; every player's state equal (the map differs)")?;
                }
                for p in players {
                    let name = p.name.as_deref().map_or(String::new(), |n| format!(" {n:?}"));
                    let hash = |h: Option<u32>| h.map_or("absent".to_owned(), |h| format!("{h:#010x}"));
                    write!(
                        f,
                        "\n  player {}{name}: state {}, recorded {}",
                        p.id,
                        hash(p.resimulated),
                        hash(p.recorded)
                    )?;
                    match &p.input {
                        Some((input, before)) => write!(
                            f,
                            "; the input applied at this tick (recorded before tick {before}): {}",
                            describe_input(input)
                        )?,
                        None => write!(f, "; no input applied at this tick")?,
                    }
                }
                Ok(())
            }
            Divergence::Record { tick, problem } => {
                write!(f, "tick {tick}: its SimTick record {problem}")
            }
            Divergence::Join {
                tick,
                name,
                recorded,
                resimulated,
            } => write!(
                f,
                "before tick {tick}: the join of {name:?} was answered {resimulated}, recorded {recorded}"
            ),
            Divergence::Keyframe { tick, differences } => write!(
                f,
                "keyframe of tick {tick}: differs from the state re-simulated at that tick: {}",
                differences.join("; ")
            ),
            Divergence::Drop {
                tick,
                player,
                reason,
            } => write!(
                f,
                "tick {tick}: player {player} was dropped ({}) although the recording had room for it",
                reason.name()
            ),
        }
    }
}

/// Copies the replication views (what each client had been sent) of the players `recorded`
/// has into `now`, so that a comparison leaves them out.
fn adopt_views(now: &mut rf::SimKeyframeState, recorded: &rf::SimKeyframeState) {
    let by_id: BTreeMap<u32, &rf::SimKeyframePlayer> =
        recorded.players.iter().map(|p| (p.id, p)).collect();
    for p in &mut now.players {
        if let Some(r) = by_id.get(&p.id) {
            p.last_sent = r.last_sent;
            p.last_ack = r.last_ack;
            p.known.clone_from(&r.known);
        }
    }
}

/// An input on one line.
pub fn describe_input(i: &game::Input) -> String {
    let action = match i.action {
        game::Action::None => "none".to_owned(),
        game::Action::Break { x, y } => format!("break ({x}, {y})"),
        game::Action::Respawn => "respawn".to_owned(),
    };
    let item = match i.item {
        game::Item::Shovel => "shovel",
        game::Item::Gun => "gun",
    };
    format!(
        "seq {}, move ({}, {}), item {item}, action {action}",
        i.seq, i.move_x, i.move_y
    )
}

/// What applying one record did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A command or an I/O outcome was taken in.
    Applied,
    /// A tick ran and its hashes equal the recorded ones.
    Ticked {
        /// The tick.
        tick: u32,
        /// Its world hash.
        world_hash: u64,
    },
    /// The re-simulation differs from the recording (it goes on, but later ticks may differ
    /// as a consequence).
    Diverged(Divergence),
}

/// One frame of a player's play-state stream, as the loop pushed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFrame {
    /// The tick it was pushed in (the tick just run, or the next one for a kick at shutdown).
    pub tick: u32,
    /// Packet id and body (a frame without its length prefix).
    pub bytes: Vec<u8>,
}

/// Counts of what was re-simulated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResimCounts {
    /// Joins handled (accepted or not).
    pub joins: u64,
    /// Inputs queued.
    pub inputs: u64,
    /// Leaves.
    pub leaves: u64,
    /// Roster cuts reapplied.
    pub roster_cuts: u64,
    /// Drops reapplied.
    pub drops: u64,
    /// Ticks run.
    pub ticks: u64,
    /// Keyframes found equal to the re-simulated state.
    pub keyframes: u64,
}

/// A simulation being re-run from its recording.
pub struct Resim {
    sim: Sim,
    start: rf::SimStart,
    conns: BTreeMap<PlayerId, MemoryLink>,
    /// Inputs queued per player, with the tick they were queued before (mirrors the loop's
    /// queue, to say which recorded input a tick applied).
    queued: BTreeMap<PlayerId, VecDeque<(game::Input, u32)>>,
    caps: BTreeMap<PlayerId, usize>,
    drops: Vec<rf::SimDrop>,
    watch: Option<PlayerId>,
    stream: Vec<StreamFrame>,
    /// Bytes in `stream`.
    stream_bytes: usize,
    /// Bytes the re-simulation may hold ([`RESIM_BUDGET`] unless set).
    budget: usize,
    counts: ResimCounts,
    /// Whether the loop replicates (see [`Resim::set_replicate`]).
    replicate: bool,
    /// World hashes, the map's part remembered.
    hasher: WorldHasher,
}

/// The name of a record kind, for messages.
pub fn record_name(r: &Record) -> &'static str {
    match r {
        Record::Frame(_) => "Frame",
        Record::TickHash(_) => "TickHash",
        Record::TickHashLow(_) => "TickHashLow",
        Record::LegacyKeyframe(_) => "LegacyKeyframe",
        Record::Keyframe(_) => "Keyframe",
        Record::SimStart(_) => "SimStart",
        Record::SimJoin(_) => "SimJoin",
        Record::SimInput(_) => "SimInput",
        Record::SimLeave(_) => "SimLeave",
        Record::SimChat(_) => "SimChat",
        Record::SimRosterCut(_) => "SimRosterCut",
        Record::SimDrop(_) => "SimDrop",
        Record::SimTick(_) => "SimTick",
        Record::SimKickAll(_) => "SimKickAll",
        Record::SimKeyframe(_) => "SimKeyframe",
        Record::End(_) => "End",
    }
}

impl Resim {
    /// Rebuilds the simulation a `SimStart` record describes.
    pub fn new(start: &rf::SimStart) -> Result<Resim, ResimError> {
        // What the server would refuse to start with, a re-simulation refuses to rebuild.
        let size = game::MapSize::Custom {
            width: start.width,
            height: start.height,
        };
        LoopSettings {
            max_players: start.max_players,
            tick_rate: start.tick_rate,
            outbox_bytes: u64::from(start.outbox_bytes),
            seed: &start.seed,
            size,
        }
        .validate()?;
        let theme = v1::Theme::from_tag(start.theme)
            .map(tilegame_protocol::convert::theme_from_wire)
            .ok_or(BadValue {
                record: "SimStart",
                what: "theme",
                value: u32::from(start.theme),
            })?;
        let map = game::generate(&start.seed, theme, size)?;
        let computed = map.hash();
        if computed != start.map_hash {
            return Err(ResimError::MapHash {
                seed: start.seed.clone(),
                recorded: start.map_hash,
                computed,
            });
        }
        let mut sim = Sim::new(
            game::World::new(map),
            start.seed.clone(),
            theme,
            start.max_players as usize,
            start.heartbeat_ticks,
        );
        sim.set_view_radius(start.view_radius_tiles);
        sim.set_log(SimLog::replay());
        Ok(Resim {
            sim,
            start: start.clone(),
            conns: BTreeMap::new(),
            queued: BTreeMap::new(),
            caps: BTreeMap::new(),
            drops: Vec::new(),
            watch: None,
            stream: Vec::new(),
            stream_bytes: 0,
            budget: RESIM_BUDGET,
            counts: ResimCounts::default(),
            replicate: true,
            hasher: WorldHasher::with_def(HashDef::for_format(
                tilegame_protocol::replay_file::FORMAT_VERSION,
            )),
        })
    }

    /// Rebuilds the simulation at a keyframe of the recording that `start` begins: the next
    /// record to apply is the one after the keyframe.
    pub fn from_keyframe(
        start: &rf::SimStart,
        keyframe: &rf::SimKeyframe,
    ) -> Result<Resim, ResimError> {
        let mut resim = Resim::new(start)?;
        let budget = start.outbox_bytes as usize;
        let mut conns = BTreeMap::new();
        resim
            .sim
            .restore(keyframe.tick, &keyframe.state, |id| {
                let link = MemoryLink::new(budget);
                conns.insert(id, link.clone());
                link.boxed()
            })
            .map_err(|source| ResimError::Keyframe {
                tick: keyframe.tick,
                source,
            })?;
        resim.conns = conns;
        for p in &keyframe.state.players {
            let queue = resim.queued.entry(PlayerId(p.id)).or_default();
            for q in &p.inputs {
                let input = simlog::input_from_queued(p.id, q)?;
                queue.push_back((input, q.before));
            }
        }
        resim.check_budget()?;
        Ok(resim)
    }

    /// The loop's state now, as a keyframe records it.
    pub fn keyframe(&self) -> rf::SimKeyframeState {
        self.sim.keyframe()
    }

    /// The recording's format (its header's `format_version`): which definition its tick
    /// hashes follow ([`HashDef::for_format`]; the format written today unless set). Set it
    /// before the first record.
    pub fn set_format(&mut self, format_version: u16) {
        self.hasher = WorldHasher::with_def(HashDef::for_format(format_version));
    }

    /// The world's hash now, as the recording's `SimTick` records it (its format's definition).
    pub fn world_hash(&mut self) -> u64 {
        self.hasher.state_hash(self.sim.world())
    }

    /// The recording's start.
    pub fn start(&self) -> &rf::SimStart {
        &self.start
    }

    /// Collects `player`'s play-state stream from now on (see [`Resim::take_stream`]).
    pub fn watch(&mut self, player: PlayerId) {
        self.watch = Some(player);
    }

    /// Whether the loop builds the clients' snapshots (on unless turned off). A check of the
    /// recorded hashes needs none of them (they read the world, never change it): turned off,
    /// ticks cost the world's simulation and the hashes, every tick's hashes and every
    /// keyframe's world, players, queued inputs and rosters are still compared, but not the
    /// keyframes' replication views (what each client had been sent), and the streams of
    /// [`Resim::watch`] lack their snapshots. Turn it off before the first record only.
    pub fn set_replicate(&mut self, on: bool) {
        self.replicate = on;
        self.sim.set_replicate(on);
    }

    /// The frames collected for the watched player since the last call.
    pub fn take_stream(&mut self) -> Vec<StreamFrame> {
        self.stream_bytes = 0;
        std::mem::take(&mut self.stream)
    }

    /// The memory the re-simulation holds now, estimated (see [`RESIM_BUDGET`]).
    pub fn memory(&self) -> usize {
        let tiles = usize::from(self.start.width) * usize::from(self.start.height);
        tiles
            .saturating_mul(TILE_BYTES)
            .saturating_add(self.sim.footprint().bytes())
            .saturating_add(self.stream_bytes)
    }

    /// Sets the bytes the re-simulation may hold (checked from the next record on).
    pub fn set_budget(&mut self, bytes: usize) {
        self.budget = bytes;
    }

    /// Refuses to go on past the budget.
    fn check_budget(&self) -> Result<(), ResimError> {
        let bytes = self.memory();
        if bytes > self.budget {
            return Err(ResimError::Budget {
                tick: self.tick(),
                budget: self.budget,
                bytes,
                footprint: self.sim.footprint(),
                stream_bytes: self.stream_bytes,
            });
        }
        Ok(())
    }

    /// What has been re-simulated so far.
    pub fn counts(&self) -> ResimCounts {
        self.counts
    }

    /// The re-simulated world.
    pub fn world(&self) -> &game::World {
        self.sim.world()
    }

    /// The world's tick.
    pub fn tick(&self) -> u32 {
        self.sim.world().tick as u32
    }

    /// Applies the next record of the recording (after its `SimStart`).
    pub fn apply(&mut self, record: &Record) -> Result<Step, ResimError> {
        let step = match record {
            Record::SimJoin(j) => self.join(j),
            Record::SimInput(r) => {
                let (id, input) = simlog::input_from_record(r)?;
                if self.sim.world().player(id).is_some() {
                    let before = self.tick().saturating_add(1);
                    let q = self.queued.entry(id).or_default();
                    if q.len() == v1::INPUT_QUEUE as usize {
                        q.pop_front();
                    }
                    q.push_back((input, before));
                }
                self.counts.inputs += 1;
                self.sim.handle(Command::Input { id, input });
                Step::Applied
            }
            Record::SimChat(c) => {
                self.sim.handle(Command::Chat {
                    id: PlayerId(c.player),
                    text: c.text.clone(),
                });
                Step::Applied
            }
            Record::SimLeave(l) => {
                let reason = simlog::reason_from_tag("SimLeave", l.reason)?;
                let id = PlayerId(l.player);
                self.counts.leaves += 1;
                self.sim.handle(Command::Leave { id, reason });
                Step::Applied
            }
            Record::SimRosterCut(c) => {
                self.caps.insert(PlayerId(c.player), c.sent as usize);
                self.counts.roster_cuts += 1;
                Step::Applied
            }
            Record::SimDrop(d) => {
                simlog::reason_from_tag("SimDrop", d.reason)?;
                self.drops.push(d.clone());
                Step::Applied
            }
            Record::SimTick(t) => self.run_tick(t)?,
            Record::SimKickAll(k) => {
                let reason = simlog::reason_from_tag("SimKickAll", k.reason)?;
                self.sim.kick_all(reason, &k.message);
                Step::Applied
            }
            Record::SimKeyframe(k) => {
                let mut now = self.sim.keyframe();
                if !self.replicate {
                    // Views stood still: compare the rest.
                    adopt_views(&mut now, &k.state);
                }
                let mut differences =
                    keyframe_differences(&k.state, &now, (self.start.width, self.start.height), 8);
                if k.tick != self.tick() {
                    differences.insert(
                        0,
                        format!(
                            "recorded after tick {}, re-simulated after tick {}",
                            k.tick,
                            self.tick()
                        ),
                    );
                }
                if differences.is_empty() {
                    self.counts.keyframes += 1;
                    Step::Applied
                } else {
                    Step::Diverged(Divergence::Keyframe {
                        tick: k.tick,
                        differences,
                    })
                }
            }
            Record::End(_) => Step::Applied,
            other => return Err(ResimError::Unexpected(record_name(other))),
        };
        // An input reaches no connection (and inputs are most records).
        if !matches!(record, Record::SimInput(_)) {
            self.collect(self.tick());
        }
        // Joins and leaves add to every client's roster, a tick to the views and the stream,
        // kicks to the stream; an input only replaces one in a bounded queue (and inputs are
        // most records, so they skip the walk over every client the check takes).
        if !matches!(record, Record::SimInput(_)) {
            self.check_budget()?;
        }
        Ok(step)
    }

    fn join(&mut self, j: &rf::SimJoin) -> Step {
        self.counts.joins += 1;
        let link = MemoryLink::new(self.start.outbox_bytes as usize);
        self.sim.handle(Command::Join {
            name: j.name.clone(),
            color: j.color,
            link: link.boxed(),
        });
        let answer: Result<Joined, (JoinError, String)> = match link.take_answer() {
            Some(a) => a,
            // The loop always answers a join at once.
            None => Err((JoinError::ServerFull, "no answer".into())),
        };
        let resimulated = match &answer {
            Ok(joined) => format!("player {}", joined.id.0),
            Err((e, _)) => format!("refused ({})", e.name()),
        };
        let recorded = match &j.result {
            rf::SimJoinResult::JoinedAs(a) => format!("player {}", a.player),
            rf::SimJoinResult::JoinRefused(r) => match JoinError::from_tag(r.reason) {
                Some(e) => format!("refused ({})", e.name()),
                None => format!("refused (unknown reason {})", r.reason),
            },
        };
        if let Ok(joined) = answer {
            self.conns.insert(joined.id, link);
            if j.vanished {
                self.sim.remove(joined.id, DisconnectReason::Quit, None);
            }
        }
        if recorded != resimulated {
            return Step::Diverged(Divergence::Join {
                tick: self.tick().saturating_add(1),
                name: j.name.clone(),
                recorded,
                resimulated,
            });
        }
        Step::Applied
    }

    fn run_tick(&mut self, recorded: &rf::SimTick) -> Result<Step, ResimError> {
        let caps = std::mem::take(&mut self.caps);
        if let Some(SimLog::Replay(r)) = self.sim.log_mut() {
            r.caps = caps;
        }
        self.sim.tick();
        self.counts.ticks += 1;
        let tick = self.tick();
        let (applied, unexpected) = match self.sim.log_mut() {
            Some(SimLog::Replay(r)) => (
                std::mem::take(&mut r.applied),
                std::mem::take(&mut r.unexpected_drops),
            ),
            _ => (Vec::new(), Vec::new()),
        };
        let drops = std::mem::take(&mut self.drops);
        // The loop may drop a player by itself for a reason the recording shares (a roster
        // grown past its bound, a snapshot larger than the budget): expected when recorded.
        let unexpected: Vec<(PlayerId, DisconnectReason)> = unexpected
            .into_iter()
            .filter(|(id, reason)| {
                !drops
                    .iter()
                    .any(|d| d.player == id.0 && d.reason == reason.tag())
            })
            .collect();
        for d in drops {
            let reason = simlog::reason_from_tag("SimDrop", d.reason)?;
            self.counts.drops += 1;
            self.sim.remove(PlayerId(d.player), reason, d.kick);
        }
        // Which recorded input each applied one was (inputs dropped from a full queue skipped).
        let mut applied_from = Vec::with_capacity(applied.len());
        for (id, input) in &applied {
            if let Some(q) = self.queued.get_mut(id) {
                while let Some((queued, before)) = q.pop_front() {
                    if queued == *input {
                        applied_from.push((*id, (*input, before)));
                        break;
                    }
                }
            }
        }
        self.queued
            .retain(|id, _| self.sim.world().player(*id).is_some());
        if let Some((id, reason)) = unexpected.first() {
            return Ok(Step::Diverged(Divergence::Drop {
                tick,
                player: id.0,
                reason: *reason,
            }));
        }
        // The common case first, with nothing allocated: every hash as recorded.
        let world = self.sim.world();
        if recorded.tick == tick && recorded.players.len() == world.players.len() {
            // Each player's bytes are hashed once, for its own hash and the world's.
            let mut listed = recorded.players.iter();
            let mut same = true;
            let world_hash = self.hasher.state_hash_and_players(world, |p, hash| {
                same &= listed
                    .next()
                    .is_some_and(|r| r.id == p.id.0 && r.hash == hash);
            });
            if same && world_hash == recorded.world_hash {
                return Ok(Step::Ticked { tick, world_hash });
            }
        }
        let now = simlog::tick_hashes_with(&mut self.hasher, self.sim.world());
        if now == *recorded {
            return Ok(Step::Ticked {
                tick,
                world_hash: now.world_hash,
            });
        }
        if recorded.tick != tick {
            return Ok(Step::Diverged(Divergence::Record {
                tick,
                problem: format!(
                    "names tick {} (the recording was edited, or records were removed or added)",
                    recorded.tick
                ),
            }));
        }
        let mut players = Vec::new();
        let recorded_players: BTreeMap<u32, u32> =
            recorded.players.iter().map(|p| (p.id, p.hash)).collect();
        let now_players: BTreeMap<u32, u32> = now.players.iter().map(|p| (p.id, p.hash)).collect();
        let ids: std::collections::BTreeSet<u32> = recorded_players
            .keys()
            .chain(now_players.keys())
            .copied()
            .collect();
        for id in ids {
            let (r, n) = (recorded_players.get(&id), now_players.get(&id));
            if r != n {
                players.push(PlayerDivergence {
                    id,
                    name: self
                        .sim
                        .world()
                        .player(PlayerId(id))
                        .map(|p| p.name.clone()),
                    recorded: r.copied(),
                    resimulated: n.copied(),
                    input: applied_from
                        .iter()
                        .find(|(p, _)| p.0 == id)
                        .map(|(_, applied)| *applied),
                });
            }
        }
        if players.is_empty() && recorded.world_hash == now.world_hash {
            // Equal hashes, and yet not the record the loop writes.
            return Ok(Step::Diverged(Divergence::Record {
                tick,
                problem: format!(
                    "lists {} player hashes for {} players, not one per player in id order (the recording was edited)",
                    recorded.players.len(),
                    now.players.len()
                ),
            }));
        }
        Ok(Step::Diverged(Divergence::Tick {
            tick,
            recorded: recorded.world_hash,
            resimulated: now.world_hash,
            players,
        }))
    }

    /// Drains every link (as the writers would) and keeps the watched player's frames and
    /// kicks.
    fn collect(&mut self, tick: u32) {
        let mut gone = Vec::new();
        for (id, link) in &self.conns {
            // A player the loop removed has its kick (if any) taken here.
            if self.sim.world().player(*id).is_none() {
                gone.push(*id);
            }
            if Some(*id) != self.watch {
                // Nobody reads this connection's frames: empty its queue as the writer would.
                link.discard();
                continue;
            }
            let bytes = link.drain();
            for f in tilegame_protocol::frame::frames(&bytes, v1::MAX_FRAME) {
                self.stream_bytes += f.packet_bytes().len() + std::mem::size_of::<StreamFrame>();
                self.stream.push(StreamFrame {
                    tick,
                    bytes: f.packet_bytes().to_vec(),
                });
            }
            if let Some((reason, message)) = link.take_kick() {
                // The frame the connection sends for this kick (see session.rs).
                let mut out = Vec::new();
                let packet = v1::Kick { reason, message };
                if let Ok(frame) = encode_any_state(&packet, &mut out) {
                    self.stream_bytes +=
                        frame.packet_bytes().len() + std::mem::size_of::<StreamFrame>();
                    self.stream.push(StreamFrame {
                        tick,
                        bytes: frame.packet_bytes().to_vec(),
                    });
                }
            }
        }
        for id in gone {
            self.conns.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilegame_protocol::replay_file::ReplayReader;

    const SEED: &str = "resimtest";

    fn start() -> rf::SimStart {
        let map = game::generate(SEED, game::Theme::Default, game::MapSize::Small).expect("map");
        rf::SimStart {
            seed: SEED.into(),
            theme: 0,
            width: map.width(),
            height: map.height(),
            map_hash: map.hash(),
            max_players: 300,
            heartbeat_ticks: 20,
            view_radius_tiles: 1,
            outbox_bytes: 4096,
            tick_rate: 20,
        }
    }

    /// A simulation recording written to `path` (as the server writes one).
    pub(crate) fn recording(path: &std::path::Path, start: rf::SimStart, every: u32) -> SimLog {
        let file = std::fs::File::create(path).expect("file");
        let out = Box::new(std::io::BufWriter::new(file));
        SimLog::record(out, path.display().to_string(), start, every, "test", 0).expect("recording")
    }

    /// A connection that closed before the loop answered its join.
    struct Vanished;

    impl crate::link::ClientLink for Vanished {
        fn answer(&mut self, a: crate::JoinAnswer) -> Result<(), crate::JoinAnswer> {
            Err(a)
        }
        fn push_play(&mut self, _: &[u8]) -> Result<(), crate::PushError> {
            Err(crate::PushError::Closed)
        }
        fn budget(&self) -> usize {
            1
        }
        fn pending_bytes(&self) -> usize {
            0
        }
        fn kick(&mut self, _: crate::Kick) {}
    }

    struct Live {
        sim: Sim,
        conns: Vec<(PlayerId, MemoryLink)>,
    }

    impl Live {
        fn join(&mut self, name: &str, budget: usize) -> Option<PlayerId> {
            let link = MemoryLink::new(budget);
            self.sim.handle(Command::Join {
                name: name.into(),
                color: 7,
                link: link.boxed(),
            });
            let id = link.take_answer().expect("answered").ok()?.id;
            self.conns.push((id, link));
            Some(id)
        }

        fn input(&mut self, id: PlayerId, seq: u32, move_x: i8) {
            let input = game::Input {
                seq,
                move_x,
                move_y: 1,
                ..game::Input::default()
            };
            self.sim.handle(Command::Input { id, input });
        }
    }

    /// A live session whose I/O decides things (a slow client dropped, roster flushes cut
    /// short by a small outbox, a vanished join), recorded; returns the file and what the
    /// watcher (player 1) was pushed, in order.
    fn record(path: &std::path::Path) -> Vec<u8> {
        let start = start();
        let map = game::generate(SEED, game::Theme::Default, game::MapSize::Small).expect("map");
        let mut sim = Sim::new(
            game::World::new(map),
            SEED.into(),
            game::Theme::Default,
            300,
            20,
        );
        sim.set_view_radius(1);
        sim.set_log(recording(path, start, 7));
        let mut live = Live {
            sim,
            conns: Vec::new(),
        };
        let watcher = live.join("watcher", 4096).expect("joined");
        let mut watched = Vec::new();
        for i in 0..120u32 {
            live.join(&format!("bot{i}"), 4096);
        }
        // Never drained: dropped as too slow when its queue fills.
        let slow = live.join("slow", 4096).expect("joined");
        // The answer finds no one: undone at once.
        live.sim.handle(Command::Join {
            name: "ghost".into(),
            color: 1,
            link: Box::new(Vanished),
        });
        assert!(live.join("WATCHER", 4096).is_none(), "names are unique");
        for t in 0..60u32 {
            let ids: Vec<PlayerId> = live.conns.iter().map(|c| c.0).collect();
            for id in ids {
                live.input(id, t + 1, if (id.0 + t) % 3 == 0 { -1 } else { 1 });
            }
            if t == 5 || t == 20 {
                // Chat lines are commands: recorded, and re-sent the same in a re-simulation.
                live.sim.handle(Command::Chat {
                    id: watcher,
                    text: format!("line at {t}: Zoë"),
                });
            }
            if t == 12 {
                // The operator's broadcast too (from CHAT_FROM_SERVER, no player's id).
                live.sim.handle(Command::Chat {
                    id: PlayerId(v1::CHAT_FROM_SERVER),
                    text: "restart at noon".into(),
                });
            }
            if t == 10 {
                for i in 2..40 {
                    live.sim.handle(Command::Leave {
                        id: PlayerId(i),
                        reason: DisconnectReason::Quit,
                    });
                }
            }
            live.sim.tick();
            for (id, link) in &live.conns {
                // The watcher reads every other tick: its roster flushes find less room than
                // in a re-simulation, which drains every tick (the recorded cuts make up).
                if *id == watcher {
                    if t % 2 == 1 {
                        watched.extend(link.drain());
                    }
                } else if *id != slow {
                    link.drain();
                }
            }
        }
        assert!(
            live.sim.world().player(slow).is_none(),
            "the slow one was dropped"
        );
        watched.extend(live.conns[0].1.drain());
        live.sim.kick_all(DisconnectReason::ServerShutdown, "bye");
        drop(live);
        watched
    }

    fn resim(path: &std::path::Path, watch: PlayerId) -> (Vec<u64>, Vec<StreamFrame>, ResimCounts) {
        resim_with(path, Some(watch))
    }

    /// Re-simulates the file, watching `watch` (`None`: hashes only, no snapshots built).
    fn resim_with(
        path: &std::path::Path,
        watch: Option<PlayerId>,
    ) -> (Vec<u64>, Vec<StreamFrame>, ResimCounts) {
        let file = std::fs::File::open(path).expect("file");
        let mut reader = ReplayReader::new(std::io::BufReader::new(file)).expect("header");
        let Some(Record::SimStart(start)) = reader.next() else {
            panic!("no SimStart");
        };
        let mut resim = Resim::new(&start).expect("rebuilt");
        match watch {
            Some(id) => resim.watch(id),
            None => resim.set_replicate(false),
        }
        let mut hashes = Vec::new();
        for record in reader.by_ref() {
            match resim.apply(&record).expect("applies") {
                Step::Applied => {}
                Step::Ticked { world_hash, .. } => hashes.push(world_hash),
                Step::Diverged(d) => panic!("diverged: {d}"),
            }
        }
        assert!(
            reader.stopped_early().is_none(),
            "{:?}",
            reader.stopped_early()
        );
        assert!(reader.ended());
        (hashes, resim.take_stream(), resim.counts())
    }

    #[test]
    fn a_recorded_session_resimulates_exactly_with_its_io_outcomes() {
        let dir = std::env::temp_dir().join(format!("resim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("sim.tgr");
        let watched = record(&path);
        let (a, stream, counts) = resim(&path, PlayerId(1));
        let (b, _, _) = resim(&path, PlayerId(1));
        assert_eq!(a.len(), 60);
        assert_eq!(a, b, "twice the same");
        // Without snapshots: the same hashes, every keyframe's world, players and rosters
        // equal, the same I/O outcomes reapplied; twice the same.
        let (fast, _, fast_counts) = resim_with(&path, None);
        let (again, _, _) = resim_with(&path, None);
        assert_eq!(fast, a, "hashes only");
        assert_eq!(fast, again, "hashes only, twice");
        assert_eq!(fast_counts, counts);
        assert!(counts.keyframes >= 8, "{counts:?}");
        assert!(counts.drops >= 1, "{counts:?}");
        assert!(counts.roster_cuts >= 1, "{counts:?}");
        // What the watcher was pushed live, frame by frame, then the shutdown kick.
        let live: Vec<Vec<u8>> = tilegame_protocol::frame::frames(&watched, v1::MAX_FRAME)
            .map(|f| f.packet_bytes().to_vec())
            .collect();
        let derived: Vec<Vec<u8>> = stream.iter().map(|f| f.bytes.clone()).collect();
        assert!(live.len() > 60, "{}", live.len());
        let chat = <v1::play::Chat as v1::Packet>::ID;
        assert_eq!(live.iter().filter(|f| f.first() == Some(&chat)).count(), 3);
        assert_eq!(derived.len(), live.len() + 1);
        assert_eq!(derived[..live.len()], live[..]);
        assert_eq!(
            derived.last().and_then(|f| f.first()),
            Some(&0x7f),
            "a Kick"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    /// The records of a recording after its SimStart.
    fn read(path: &std::path::Path) -> (rf::SimStart, Vec<Record>) {
        let file = std::fs::File::open(path).expect("file");
        let mut reader = ReplayReader::new(std::io::BufReader::new(file)).expect("header");
        assert_eq!(reader.header().keyframe_interval, 7);
        let Some(Record::SimStart(start)) = reader.next() else {
            panic!("no SimStart");
        };
        let records = reader.records();
        assert!(reader.stopped_early().is_none());
        (start, records)
    }

    /// Applies `records`, returning every (tick, hash) and, at each record, how many frames
    /// the watched player had been pushed.
    fn run_from(resim: &mut Resim, records: &[Record]) -> (Vec<(u32, u64)>, Vec<usize>) {
        let mut hashes = Vec::new();
        let mut streamed = Vec::new();
        for record in records {
            match resim.apply(record).expect("applies") {
                Step::Applied => {}
                Step::Ticked { tick, world_hash } => hashes.push((tick, world_hash)),
                Step::Diverged(d) => panic!("diverged: {d}"),
            }
            streamed.push(resim.stream.len());
        }
        (hashes, streamed)
    }

    fn keyframes(records: &[Record]) -> Vec<(usize, rf::SimKeyframe)> {
        records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match r {
                Record::SimKeyframe(k) => Some((i, k.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_keyframe_restores_a_loop_that_goes_on_exactly() {
        let dir = std::env::temp_dir().join(format!("resim-kf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("sim.tgr");
        record(&path);
        let (start, records) = read(&path);
        let mut full = Resim::new(&start).expect("rebuilt");
        full.watch(PlayerId(1));
        let (hashes, streamed) = run_from(&mut full, &records);
        let stream = full.take_stream();
        let kfs = keyframes(&records);
        // One after every 7th tick, each checked against the re-simulated state.
        assert_eq!(kfs.len(), 60 / 7);
        assert_eq!(full.counts().keyframes, kfs.len() as u64);
        for (index, k) in &kfs {
            assert!(matches!(&records[index - 1], Record::SimTick(t) if t.tick == k.tick));
            let mut resim = Resim::from_keyframe(&start, k).expect("restores");
            assert_eq!(resim.tick(), k.tick);
            assert_eq!(resim.keyframe(), k.state, "restored as recorded");
            resim.watch(PlayerId(1));
            let (after, _) = run_from(&mut resim, &records[index + 1..]);
            let expected: Vec<(u32, u64)> = hashes
                .iter()
                .copied()
                .filter(|(t, _)| *t > k.tick)
                .collect();
            assert!(!expected.is_empty());
            assert_eq!(after, expected, "tick hashes after tick {}", k.tick);
            // The same frames pushed to the watcher, byte for byte, from there on.
            assert_eq!(
                resim.take_stream(),
                stream[streamed[*index]..],
                "stream after tick {}",
                k.tick
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn hostile_keyframes_are_typed_errors_and_never_panic() {
        let dir = std::env::temp_dir().join(format!("resim-kfh-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("sim.tgr");
        record(&path);
        let (start, records) = read(&path);
        let (_, k) = keyframes(&records).pop().expect("a keyframe");
        assert!(k.state.players.len() > 10);
        let fails = |edit: &dyn Fn(&mut rf::SimKeyframe)| {
            let mut bad = k.clone();
            edit(&mut bad);
            match Resim::from_keyframe(&start, &bad) {
                Err(ResimError::Keyframe { tick, source }) => {
                    assert_eq!(tick, bad.tick);
                    source
                }
                Err(e) => panic!("another error: {e}"),
                Ok(_) => panic!("restored"),
            }
        };
        use KeyframeError as E;
        assert!(matches!(fails(&|k| k.tick += 1), E::Tick { .. }));
        assert!(matches!(
            fails(&|k| k.state.world_hash ^= 1),
            E::WorldHash { .. }
        ));
        assert!(matches!(
            fails(&|k| k.state.dynamic.push(1)),
            E::Runs {
                layer: "dynamic",
                ..
            }
        ));
        assert!(matches!(
            fails(&|k| k.state.dynamic = vec![u32::MAX, u32::MAX, u32::MAX]),
            E::Runs {
                layer: "dynamic",
                ..
            }
        ));
        // One changed tile more than the layer has.
        assert!(matches!(
            fails(&|k| k.state.changed.push(rf::TileRun { tile: 1, count: 1 })),
            E::Runs {
                layer: "changed",
                ..
            }
        ));
        assert!(matches!(
            fails(&|k| k.state.slots = u32::MAX),
            E::Slots { .. }
        ));
        assert!(matches!(fails(&|k| k.state.next_id = 1), E::NextId { .. }));
        assert!(matches!(
            fails(&|k| k.state.next_id = u32::MAX),
            E::NextId { .. }
        ));
        let player = |edit: fn(&mut rf::SimKeyframePlayer)| {
            fails(&move |k: &mut rf::SimKeyframe| edit(&mut k.state.players[3]))
        };
        for edit in [
            (|p: &mut rf::SimKeyframePlayer| p.x = i32::MAX) as fn(&mut rf::SimKeyframePlayer),
            |p| p.y = i32::MIN,
            |p| p.vx = i32::MAX,
            |p| p.health = 101,
            |p| p.item = 7,
            |p| p.damage_ticks = u32::MAX,
            |p| p.name = "bad name".into(),
            |p| p.name = "WATCHER".into(),
            |p| p.slot = 0,
            |p| p.slot = 1 << 20,
            |p| {
                p.breaking = Some(rf::SimBreaking {
                    x: 0,
                    y: 0,
                    ticks: u32::MAX,
                    needed: u32::MAX,
                })
            },
            |p| {
                let q = rf::SimQueuedInput {
                    before: 1,
                    seq: 1,
                    move_x: 0,
                    move_y: 0,
                    item: 9,
                    action: rf::SimAction::NoAction,
                };
                p.inputs = vec![q];
            },
            |p| {
                p.known = vec![
                    rf::SimKnown {
                        slot: 2,
                        id: 1,
                        x: 0,
                        y: 0,
                        vel_x: 0,
                        vel_y: 0,
                        health: 100,
                    };
                    2
                ]
            },
            |p| {
                p.known = vec![rf::SimKnown {
                    slot: 2,
                    id: 1,
                    x: i32::MIN,
                    y: 0,
                    vel_x: 0,
                    vel_y: 0,
                    health: 100,
                }]
            },
            |p| {
                p.roster = vec![rf::SimRosterEntry {
                    player: 1,
                    left: Some(250),
                }]
            },
            |p| p.last_sent = Some(u32::MAX),
            // A pending join of no one, of itself; a leave of itself, of an id never given.
            |p| {
                p.roster = vec![rf::SimRosterEntry {
                    player: 100_000,
                    left: None,
                }]
            },
            |p| {
                p.roster = vec![rf::SimRosterEntry {
                    player: p.id,
                    left: None,
                }]
            },
            |p| {
                p.roster = vec![rf::SimRosterEntry {
                    player: p.id,
                    left: Some(DisconnectReason::Quit.tag()),
                }]
            },
            |p| {
                p.roster = vec![rf::SimRosterEntry {
                    player: 100_000,
                    left: Some(DisconnectReason::Quit.tag()),
                }]
            },
        ] {
            assert!(matches!(player(edit), E::Player { id, .. } if id == k.state.players[3].id));
        }
        // Players out of order.
        assert!(matches!(
            fails(&|k| k.state.players.swap(1, 2)),
            E::Player { .. }
        ));
        // Random changes to every number: restored or refused, never a panic; a restored loop
        // ticks on.
        let mut rng = game::SplitMix64::from_seed_str("keyframes");
        let mut outcomes = [0usize; 2];
        for _ in 0..300 {
            let mut bad = k.clone();
            let n = bad.state.players.len() as u64;
            let p = &mut bad.state.players[rng.below(n) as usize];
            let v = rng.next_u64();
            match rng.below(12) {
                0 => p.x = p.x.wrapping_add(v as i32 % 4096),
                1 => p.vy = v as i32 % 8000,
                2 => p.slot = v as u32 % 200,
                3 => p.id = v as u32 % 200,
                4 => p.last_sent = Some(v as u32 % 100),
                5 => p.health = v as u8,
                6 => {
                    if let Some(kn) = p.known.first_mut() {
                        kn.slot = v as u32 % 300;
                        kn.x = kn.x.wrapping_add(v as i32 % 50_000);
                    }
                }
                7 => p.roster.push(rf::SimRosterEntry {
                    player: v as u32 % 300,
                    left: v.is_multiple_of(2).then_some((v >> 8) as u8 % 8),
                }),
                8 => bad.state.next_id = v as u32 % 300,
                9 => bad.state.slots = v as u32 % 300,
                10 => {
                    if let Some(c) = bad.state.dynamic.get_mut(rng.below(4) as usize) {
                        *c = c.wrapping_add(v as u32 % 3);
                    }
                }
                _ => bad.state.world_hash = v,
            }
            match Resim::from_keyframe(&start, &bad) {
                Ok(mut resim) => {
                    outcomes[0] += 1;
                    for _ in 0..30 {
                        resim.sim.tick();
                        resim.collect(resim.tick());
                    }
                }
                Err(e) => {
                    outcomes[1] += 1;
                    assert!(!e.to_string().is_empty());
                }
            }
        }
        assert!(outcomes[1] > 0, "{outcomes:?}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_changed_keyframe_is_a_divergence_naming_its_tick_and_what_differs() {
        let dir = std::env::temp_dir().join(format!("resim-kft-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("sim.tgr");
        record(&path);
        let (start, records) = read(&path);
        let (index, k) = keyframes(&records).swap_remove(2);
        let check = |edit: &dyn Fn(&mut rf::SimKeyframe), needle: &str| {
            let mut recs = records.clone();
            let Record::SimKeyframe(bad) = &mut recs[index] else {
                unreachable!("a keyframe")
            };
            edit(bad);
            let mut resim = Resim::new(&start).expect("rebuilt");
            for r in &recs {
                match resim.apply(r).expect("applies") {
                    Step::Diverged(d) => {
                        let Divergence::Keyframe { tick, .. } = &d else {
                            panic!("{d}");
                        };
                        assert_eq!(*tick, k.tick);
                        let text = d.to_string();
                        assert!(text.contains(needle), "{text}");
                        return;
                    }
                    _ => continue,
                }
            }
            panic!("no divergence");
        };
        check(&|k| k.state.players[0].x += 256, "x: recorded");
        check(
            &|k| {
                // One more tile changed (the first of the map, made stone).
                k.state.dynamic[0] = k.state.dynamic[0].saturating_sub(1).max(1);
                let rest = k.state.dynamic.iter().skip(1).sum::<u32>();
                let area = u32::from(start.width) * u32::from(start.height);
                k.state.dynamic = vec![0, 1, area - 1 - rest];
                k.state.changed = vec![rf::TileRun { tile: 3, count: 1 }];
            },
            "tile (0, 0): recorded",
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn hostile_starts_are_typed_errors() {
        let bad_theme = rf::SimStart {
            theme: 9,
            ..start()
        };
        assert!(matches!(
            Resim::new(&bad_theme),
            Err(ResimError::BadValue(BadValue { what: "theme", .. }))
        ));
        let too_wide = rf::SimStart {
            width: 5000,
            ..start()
        };
        assert!(matches!(
            Resim::new(&too_wide),
            Err(ResimError::Settings(InvalidSetting { key: "size", .. }))
        ));
        // Every setting the server's configuration checks, checked alike.
        for (bad, key) in [
            (
                rf::SimStart {
                    max_players: u32::MAX,
                    ..start()
                },
                "max_players",
            ),
            (
                rf::SimStart {
                    max_players: 0,
                    ..start()
                },
                "max_players",
            ),
            (
                rf::SimStart {
                    tick_rate: 0,
                    ..start()
                },
                "tps",
            ),
            (
                rf::SimStart {
                    outbox_bytes: 12,
                    ..start()
                },
                "outbox_bytes",
            ),
            (
                rf::SimStart {
                    seed: "not a seed".into(),
                    ..start()
                },
                "seed",
            ),
        ] {
            match Resim::new(&bad) {
                Err(ResimError::Settings(e)) => assert_eq!(e.key, key),
                Err(e) => panic!("another error: {e}"),
                Ok(_) => panic!("{key} accepted"),
            }
        }
        let e = Resim::new(&rf::SimStart {
            max_players: u32::MAX,
            ..start()
        })
        .err()
        .expect("refused");
        assert_eq!(
            e.to_string(),
            "the SimStart record's settings are not a server's: invalid max_players: must be 1..=4096 (is 4294967295)"
        );
        let other_map = rf::SimStart {
            map_hash: 1,
            ..start()
        };
        assert!(matches!(
            Resim::new(&other_map),
            Err(ResimError::MapHash { .. })
        ));
    }

    /// Joins between ticks grow every roster; past the budget the re-simulation stops with an
    /// error saying what it would hold.
    #[test]
    fn a_re_simulation_past_its_memory_budget_is_refused() {
        let mut resim = Resim::new(&start()).expect("rebuilt");
        resim.set_budget(1 << 20);
        let mut refused = None;
        for i in 0..300u32 {
            let join = Record::SimJoin(rf::SimJoin {
                name: format!("p{i}"),
                color: 0,
                result: rf::SimJoinResult::JoinedAs(rf::JoinedAs { player: i + 1 }),
                vanished: false,
            });
            match resim.apply(&join) {
                Ok(Step::Applied) => {}
                Ok(other) => panic!("join {i}: {other:?}"),
                Err(e) => {
                    refused = Some((i, e));
                    break;
                }
            }
        }
        let (at, e) = refused.expect("refused before 300 joins");
        assert!(at > 100, "{at}: {e}");
        let ResimError::Budget {
            tick,
            budget,
            bytes,
            footprint,
            ..
        } = &e
        else {
            panic!("another error: {e}");
        };
        assert_eq!((*tick, *budget), (0, 1 << 20));
        assert!(*bytes > *budget);
        assert_eq!(footprint.players, at as usize + 1);
        let text = e.to_string();
        assert!(
            text.starts_with("the re-simulation would hold about 1 MiB after tick 0 (")
                && text.contains("over its budget of 1 MiB"),
            "{text}"
        );
    }

    /// Random sequences of simulation records (out-of-range values, unknown players, absurd
    /// cuts and hashes) give errors or divergences, never a panic.
    #[test]
    fn hostile_records_never_panic() {
        let mut rng = game::SplitMix64::from_seed_str("hostile");
        let mut outcomes = [0usize; 3];
        for _ in 0..40 {
            let mut resim = Resim::new(&start()).expect("rebuilt");
            resim.watch(PlayerId(rng.below(4) as u32));
            for _ in 0..200 {
                let player = rng.below(6) as u32;
                let small = |rng: &mut game::SplitMix64| rng.below(8) as u8;
                let record = match rng.below(10) {
                    0 => Record::SimJoin(rf::SimJoin {
                        name: ["a", "b", "", "bad name", "c"][rng.below(5) as usize].into(),
                        color: rng.next_u64() as u32,
                        result: if rng.below(2) == 0 {
                            rf::SimJoinResult::JoinedAs(rf::JoinedAs { player })
                        } else {
                            rf::SimJoinResult::JoinRefused(rf::JoinRefused {
                                reason: small(&mut rng),
                            })
                        },
                        vanished: rng.below(4) == 0,
                    }),
                    1 | 2 => Record::SimInput(rf::SimInput {
                        player,
                        seq: rng.below(50) as u32,
                        move_x: rng.next_u64() as i8,
                        move_y: rng.next_u64() as i8,
                        item: small(&mut rng) % 3,
                        action: match rng.below(3) {
                            0 => rf::SimAction::NoAction,
                            1 => rf::SimAction::BreakTile(rf::BreakTile {
                                x: rng.next_u64() as u16,
                                y: rng.below(70) as u16,
                            }),
                            _ => rf::SimAction::Respawn,
                        },
                    }),
                    3 => Record::SimLeave(rf::SimLeave {
                        player,
                        reason: small(&mut rng),
                    }),
                    4 => Record::SimRosterCut(rf::SimRosterCut {
                        player,
                        sent: rng.next_u64() as u32 % 4,
                    }),
                    5 => Record::SimDrop(rf::SimDrop {
                        player,
                        reason: small(&mut rng),
                        kick: (rng.below(2) == 0).then(|| "x".into()),
                    }),
                    6 => Record::SimKickAll(rf::SimKickAll {
                        reason: small(&mut rng),
                        message: "bye".into(),
                    }),
                    7 => Record::End(rf::End {
                        frames: 0,
                        reason: String::new(),
                    }),
                    8 => Record::SimKeyframe(rf::SimKeyframe {
                        tick: rng.below(4) as u32,
                        state: rf::SimKeyframeState {
                            tick: rng.below(4),
                            world_hash: rng.next_u64(),
                            dynamic: (0..rng.below(4))
                                .map(|_| rng.next_u64() as u32 % 5000)
                                .collect(),
                            changed: (0..rng.below(3))
                                .map(|_| rf::TileRun {
                                    tile: rng.next_u64() as u8,
                                    count: rng.below(3000) as u32,
                                })
                                .collect(),
                            next_id: rng.next_u64() as u32,
                            slots: rng.next_u64() as u32,
                            players: Vec::new(),
                        },
                    }),
                    _ => Record::SimTick(rf::SimTick {
                        tick: rng.next_u64() as u32,
                        world_hash: rng.next_u64(),
                        players: Vec::new(),
                    }),
                };
                match resim.apply(&record) {
                    Ok(Step::Diverged(d)) => {
                        outcomes[0] += 1;
                        assert!(!d.to_string().is_empty());
                    }
                    Ok(_) => outcomes[1] += 1,
                    Err(e) => {
                        outcomes[2] += 1;
                        assert!(!e.to_string().is_empty());
                    }
                }
            }
        }
        assert!(outcomes.iter().all(|&n| n > 0), "{outcomes:?}");
        let mut resim = Resim::new(&start()).expect("rebuilt");
        assert!(matches!(
            resim.apply(&Record::TickHash(rf::TickHash {
                tick: 1,
                world_hash: 0,
                players_hash: 0,
            })),
            Err(ResimError::Unexpected("TickHash"))
        ));
    }
}
