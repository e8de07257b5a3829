//! The authoritative simulation loop: one owner holds the world and ticks it (the server at a
//! fixed rate, a re-simulation record by record).
//!
//! Connections never touch the world. They hand the loop [`Command`]s (join, input, leave);
//! each tick the loop applies at most one queued input per player, runs `World::tick`, and
//! pushes each client a snapshot of what changed for it through that client's [`ClientLink`].
//! A link over its byte budget means the client cannot keep up: it is kicked with a reason, and
//! its memory is bounded by the budget. The loop neither waits nor reads the clock: whoever
//! drives it times the ticks ([`Sim::record_tick_time`]).
//!
//! Joins and leaves never evict anyone: they are not pushed as they happen but kept per client as
//! a coalesced roster of pending events (one entry per player, bounded by the players there are
//! and the leaves since), flushed each tick only while the client's outbox has room. A client
//! that reads its socket therefore always converges to the server's player list, however large
//! the burst. Players are bound to the connection
//! that joined them — inputs arrive tagged with the id the loop handed out, never with an id
//! the client chose.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use tilegame_game::{self as game, Event, PlayerId, World};
use tilegame_protocol::codec::PlayEncoder;
use tilegame_protocol::convert::{map_to_transfer, tile_to_wire, MapTransfer};
use tilegame_protocol::v1::{
    marker, play, DisconnectReason, JoinError, PlayerInfo, ServerPacket, TileChange, TilePos,
};
use tracing::{info, warn};

use crate::link::{ClientLink, PushError};
use crate::names::Names;
use crate::replication::{
    encode_snapshot, encode_tiles, ClientView, Quantized, Replica, SharedDeltas, SlotGrid,
    SnapshotParts, ViewScratch,
};
use crate::simlog::SimLog;

mod keyframe;
pub use keyframe::{keyframe_differences, KeyframeError};

/// Roster events a client may have pending before it counts as too slow (far above what a
/// client that reads sees: pending joins are at most the players present).
const MAX_ROSTER_PENDING: usize = 8192;

/// Roster events are flushed to a client only while its outbox holds less than this share
/// (1/4) of its budget, so they never push it over.
const ROSTER_ROOM_SHARE: usize = 4;

/// Players listed in MapEnd, at most (the spec's bound); the rest follow as PlayerJoined.
const MAX_LISTED: usize = tilegame_protocol::v1::map_transfer::MapEnd::PLAYERS_MAX;

/// Inputs a player may have waiting; older ones are dropped past this.
const INPUT_QUEUE: usize = tilegame_protocol::v1::INPUT_QUEUE as usize;

/// The replication grid's cells are this many to a view radius: fine enough that a view's
/// cells hold little more than the view (a capped client looks at a radius smaller than the
/// view), coarse enough that a query's rows stay few.
const GRID_CELLS_PER_RADIUS: i32 = 6;

/// The grid's cell size for a view radius of `radius` pixels.
fn grid_cell_px(radius: i32) -> i32 {
    (radius / GRID_CELLS_PER_RADIUS).max(64)
}

/// An encoded frame on its way to one client.
pub type Frame = Vec<u8>;

/// Why a connection is being closed by the loop.
pub type Kick = (DisconnectReason, String);

/// What connections ask of the loop.
pub enum Command {
    /// Create a player for a connection.
    Join {
        /// Requested name.
        name: String,
        /// Body colour 0xRRGGBB.
        color: u32,
        /// The connection: the answer, then its play-state frames and any kick, go there.
        link: Box<dyn ClientLink>,
    },
    /// A player's input (already converted and bound to the connection's player).
    Input {
        /// The connection's player.
        id: PlayerId,
        /// The input.
        input: game::Input,
    },
    /// A chat line the connection accepted (checked and within the rate limit): the next tick
    /// sends it to every player as Chat.
    Chat {
        /// The connection's player, or `PlayerId(CHAT_FROM_SERVER)` for the operator's line.
        id: PlayerId,
        /// The line (NFC, within the spec's bounds).
        text: String,
    },
    /// The connection ended.
    Leave {
        /// The connection's player.
        id: PlayerId,
        /// Why.
        reason: DisconnectReason,
    },
}

/// The loop's answer to a successful join.
#[derive(Debug)]
pub struct Joined {
    /// The new player's id.
    pub id: PlayerId,
    /// Spawn position in pixels.
    pub spawn: (i32, i32),
    /// The current tick.
    pub tick: u32,
    /// The map as of this tick, ready to send.
    pub transfer: Arc<MapTransfer>,
    /// Players already present.
    pub players: Vec<PlayerInfo>,
}

/// Tick timing, for logs and the load benchmark.
#[derive(Debug, Default, Clone)]
pub struct TickStats {
    /// Duration of each tick's work in microseconds, oldest first (cleared on demand).
    pub tick_micros: Vec<u32>,
    /// Clients dropped for being too slow.
    pub dropped_slow: u64,
    /// Players connected now.
    pub players: usize,
    /// The current tick.
    pub tick: u64,
    /// Replication work since the start, summed over ticks and clients.
    pub replication: ReplicationCounts,
    /// Time spent in each phase of the tick, summed (only with a [`Sim::set_phase_clock`]).
    pub phases: PhaseTimes,
}

/// The phases of a tick, in order, as [`PhaseTimes`] names them.
pub const PHASES: [&str; 5] = ["world", "replicas", "snapshots", "send", "log"];

/// Time spent in each phase of the tick, summed over ticks, in nanoseconds (see [`PHASES`]):
/// the world's tick (inputs, movement, events); the replicated states, the grid and the shared
/// deltas; building and queueing each client's snapshot; chat, rosters and dropping the clients
/// whose links refused frames; the recording.
#[derive(Debug, Default, Clone, Copy)]
pub struct PhaseTimes {
    /// Ticks timed.
    pub ticks: u64,
    /// Nanoseconds per phase, in [`PHASES`] order.
    pub nanos: [u64; 5],
}

impl PhaseTimes {
    /// Mean microseconds per tick of each phase since `then` (an earlier copy).
    pub fn mean_micros_since(&self, then: &PhaseTimes) -> [f64; 5] {
        let ticks = self.ticks.saturating_sub(then.ticks).max(1) as f64;
        std::array::from_fn(|i| self.nanos[i].saturating_sub(then.nanos[i]) as f64 / ticks / 1e3)
    }

    /// One line: each phase's mean microseconds per tick since `then`.
    pub fn summary_since(&self, then: &PhaseTimes) -> String {
        let mean = self.mean_micros_since(then);
        PHASES
            .iter()
            .zip(mean)
            .map(|(name, us)| format!("{name} {us:.0}"))
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

/// A monotonic clock for [`Sim::set_phase_clock`]: nanoseconds since any fixed instant.
pub type PhaseClock = fn() -> u64;

/// How much replication work ticks did (summed; the load benchmark reports it per tick).
#[derive(Debug, Default, Clone, Copy)]
pub struct ReplicationCounts {
    /// Ticks counted.
    pub ticks: u64,
    /// (client, player) pairs in view after each tick.
    pub visible: u64,
    /// (client, slot) pairs looked at.
    pub candidates: u64,
    /// Player deltas written into snapshots.
    pub deltas: u64,
    /// Snapshot frames built.
    pub snapshots: u64,
    /// Snapshot bytes built.
    pub bytes: u64,
}

impl ReplicationCounts {
    fn add(&mut self, o: &ReplicationCounts) {
        self.ticks += o.ticks;
        self.visible += o.visible;
        self.candidates += o.candidates;
        self.deltas += o.deltas;
        self.snapshots += o.snapshots;
        self.bytes += o.bytes;
    }
}

/// A join or leave a client has not been sent yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RosterEvent {
    Joined,
    Left(DisconnectReason),
}

struct Client {
    slot: usize,
    name: String,
    color: u32,
    link: Box<dyn ClientLink>,
    view: ClientView,
    /// Inputs waiting, oldest first, each with the tick it arrived before.
    inputs: VecDeque<(game::Input, u32)>,
    /// This player's PlayerJoined frame, encoded once for everyone.
    joined_frame: Frame,
    /// Joins and leaves of others not yet sent to this client, by player id (coalesced).
    roster: BTreeMap<u32, RosterEvent>,
    /// The last input sequence applied to this player, as of this tick (its snapshot's ack).
    ack: u32,
}

impl Client {
    /// Starts loading the lines of this struct a tick reads ([`crate::link::prefetch`]).
    fn prefetch(&self) {
        crate::link::prefetch(&self.view);
        crate::link::prefetch(&self.slot);
        crate::link::prefetch(&self.link);
    }
}

/// Snapshot frames built by one thread: back to back in one buffer, not one allocation each.
#[derive(Default)]
struct Built {
    /// The frames' bytes, while they are built.
    bytes: Vec<u8>,
    /// Each frame's client (its index in the tick's build order) and its end in `bytes` (it
    /// starts where the previous one ends).
    frames: Vec<(usize, usize)>,
    /// The last tick's bytes, handed to the links (which may still hold them): taken back
    /// for the next tick's frames once nobody else does.
    shared: Option<Arc<Vec<u8>>>,
}

impl Built {
    /// Empties it, keeping its buffers (the shared one too, if the links are done with it).
    fn clear(&mut self) {
        if let Some(shared) = self.shared.take() {
            let capacity = shared.capacity();
            match Arc::try_unwrap(shared) {
                Ok(bytes) => self.bytes = bytes,
                // Still being written somewhere: a new buffer, of the size the last one grew to.
                Err(_) => self.bytes.reserve(capacity),
            }
        }
        self.bytes.clear();
        self.frames.clear();
    }

    /// Hands the frames' bytes over to be shared with the links; returns them.
    fn share(&mut self) -> Arc<Vec<u8>> {
        let shared = Arc::new(std::mem::take(&mut self.bytes));
        self.shared = Some(Arc::clone(&shared));
        shared
    }

    /// Each client's frame (by index in the build order) as its range in the bytes, in the
    /// order built.
    fn ranges(&self) -> impl Iterator<Item = (usize, std::ops::Range<usize>)> + '_ {
        self.frames.iter().scan(0, |start, &(id, end)| {
            let range = *start..end;
            *start = end;
            Some((id, range))
        })
    }
}

/// Clients from which snapshot building is spread over threads.
const PARALLEL_FROM: usize = 128;

/// Clients per share of snapshot building handed to a thread.
const CHUNK: usize = 32;

/// Buffers one snapshot builder reuses from client to client.
#[derive(Default)]
struct Scratch {
    body: Vec<u8>,
    parts: SnapshotParts,
    view: ViewScratch,
}

/// What every client's snapshot this tick is built from (shared read-only between threads).
struct SnapshotContext<'a> {
    tick: u32,
    tiles: &'a [TileChange],
    /// `tiles`, encoded once as the Snapshot's list.
    tiles_encoded: &'a [u8],
    shared: &'a SharedDeltas,
    slots: &'a [Option<Replica>],
    heartbeat_ticks: u32,
    view_radius_px: Option<i32>,
    grid: Option<&'a SlotGrid>,
}

/// Builds the snapshot frame of each client that has something to receive this tick into
/// `out`. (They are queued on the links afterwards, by one thread: a push wakes the client's
/// writer, which would take a core from the threads still building.)
fn build_snapshots(
    clients: &mut [(usize, &mut Client)],
    ctx: &SnapshotContext<'_>,
    scratch: &mut Scratch,
    out: &mut Built,
) -> ReplicationCounts {
    let mut counts = ReplicationCounts::default();
    for i in 0..clients.len() {
        // The clients' state is cold each tick: start loading the struct of the client after
        // next, and the known list of the next one (its struct was asked for last time).
        if let Some((_, c)) = clients.get(i + 2) {
            c.prefetch();
        }
        if let Some((_, c)) = clients.get(i + 1) {
            c.view.prefetch();
        }
        let Some((index, c)) = clients.get_mut(i) else {
            break;
        };
        let ack = c.ack;
        let view = match (ctx.view_radius_px, &ctx.slots[c.slot]) {
            (Some(radius), Some(me)) => Some((me.state.pos, radius)),
            _ => None,
        };
        let sent = c.view.diff(
            ctx.tick,
            ack,
            ctx.slots,
            ctx.tiles,
            ctx.heartbeat_ticks,
            view,
            ctx.grid,
            Some(ctx.shared),
            crate::replication::MAX_VIEW,
            Some(c.slot),
            &mut scratch.view,
            &mut scratch.parts,
        );
        counts.visible += c.view.in_view() as u64;
        counts.candidates += c.view.candidates() as u64;
        match sent {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                warn!("cannot encode a player delta: {e}");
                continue;
            }
        }
        let parts = &scratch.parts;
        counts.deltas += parts.count as u64;
        let start = out.bytes.len();
        if let Err(e) = encode_snapshot(
            ctx.tick,
            ack,
            parts,
            ctx.tiles_encoded,
            &mut scratch.body,
            &mut out.bytes,
        ) {
            warn!("cannot encode snapshot: {e}");
            out.bytes.truncate(start);
            continue;
        }
        counts.snapshots += 1;
        counts.bytes += (out.bytes.len() - start) as u64;
        out.frames.push((*index, out.bytes.len()));
    }
    counts
}

/// Where a client's snapshot is built in the tick's order: clients near each other on the
/// map are built one after the other (a Z-order curve over cells of `cell_px`), so the players
/// they all see are still in cache from the previous client. Only the order of work changes:
/// each client's frame depends on that client alone.
fn build_order(pos: (i32, i32), cell_px: i32) -> u64 {
    // Spread the 32 bits of a cell coordinate (offset to be unsigned) over the even bits.
    fn spread(v: i32, cell_px: i32) -> u64 {
        let mut x = u64::from((v.div_euclid(cell_px.max(1)) as u32) ^ 0x8000_0000);
        x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
        x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
        x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
        x = (x | (x << 2)) & 0x3333_3333_3333_3333;
        (x | (x << 1)) & 0x5555_5555_5555_5555
    }
    spread(pos.0, cell_px) | (spread(pos.1, cell_px) << 1)
}

/// The loop's state.
pub struct Sim {
    world: World,
    seed: String,
    theme: game::Theme,
    max_players: usize,
    heartbeat_ticks: u32,
    clients: BTreeMap<PlayerId, Client>,
    /// Names in use (unique ignoring case and confusable look-alikes).
    names: Names,
    slots: Vec<Option<Replica>>,
    next_id: u32,
    transfer: Option<Arc<MapTransfer>>,
    encoder: PlayEncoder,
    view_radius_px: Option<i32>,
    grid: SlotGrid,
    shared: SharedDeltas,
    tiles_encoded: Vec<u8>,
    stats: Arc<Mutex<TickStats>>,
    /// The simulation recording, or a re-simulation's hooks ([`crate::simlog`]).
    log: Option<SimLog>,
    /// Players admitted since the last tick (at most `max_players`, see [`Sim::handle`]).
    joined_since_tick: usize,
    /// Chat lines taken since the last tick, in order, as encoded Chat frames.
    chat: Vec<u8>,
    /// The driver's clock, to time the tick's phases (the loop never reads a clock itself).
    phase_clock: Option<PhaseClock>,
    /// Each snapshot-building thread's buffers and frames, the tick thread's first, kept
    /// between ticks (a thread that starts with empty ones grows them by reallocation every
    /// tick: a tenth of a big tick was `malloc`).
    builders: Vec<(Scratch, Built)>,
    /// Whether ticks build and push snapshots (a re-simulation that checks hashes only turns
    /// this off: see [`Sim::set_replicate`]).
    replicate: bool,
}

/// What the loop holds in proportion to its players, for a memory budget (a re-simulation of an
/// untrusted recording keeps one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Players connected.
    pub players: usize,
    /// Replication slots (free ones included).
    pub slots: usize,
    /// Join and leave events pending in the clients' rosters, in all.
    pub roster_events: usize,
    /// (client, player) pairs whose last replicated state is kept.
    pub known: usize,
}

impl Footprint {
    /// Bytes per player beyond what is counted separately (its client, queue of inputs, world
    /// entry, name, encoded join frame, link), an upper estimate.
    pub const PLAYER_BYTES: usize = 2048;
    /// Bytes per pending roster event (a B-tree entry and its share of the node), an upper
    /// estimate.
    pub const ROSTER_EVENT_BYTES: usize = 24;

    /// An estimate of the bytes these take.
    pub fn bytes(&self) -> usize {
        self.players
            .saturating_mul(Self::PLAYER_BYTES)
            .saturating_add(
                self.slots
                    .saturating_mul(std::mem::size_of::<Option<Replica>>()),
            )
            .saturating_add(self.roster_events.saturating_mul(Self::ROSTER_EVENT_BYTES))
            .saturating_add(self.known.saturating_mul(crate::replication::KNOWN_BYTES))
    }
}

impl Sim {
    /// A loop over a generated world.
    pub fn new(
        world: World,
        seed: String,
        theme: game::Theme,
        max_players: usize,
        heartbeat_ticks: u32,
    ) -> Sim {
        Sim {
            world,
            seed,
            theme,
            max_players,
            heartbeat_ticks,
            clients: BTreeMap::new(),
            names: Names::default(),
            slots: Vec::new(),
            next_id: 1,
            transfer: None,
            encoder: PlayEncoder::new(),
            view_radius_px: None,
            grid: SlotGrid::default(),
            shared: SharedDeltas::default(),
            tiles_encoded: Vec::new(),
            stats: Arc::new(Mutex::new(TickStats::default())),
            log: None,
            joined_since_tick: 0,
            chat: Vec::new(),
            phase_clock: None,
            builders: Vec::new(),
            replicate: true,
        }
    }

    /// Times each phase of every tick with the driver's `clock` into [`TickStats::phases`]. The
    /// times go nowhere else: what the loop does never depends on them.
    pub fn set_phase_clock(&mut self, clock: PhaseClock) {
        self.phase_clock = Some(clock);
    }

    /// Whether ticks build and push each client's snapshot (on unless turned off). Off, a tick
    /// still applies inputs, runs the world, sends chat and roster events and drops whom the
    /// log says; the world and every player's state stay exactly those of a replicating loop
    /// (snapshots read the world, never change it), but the clients' replication views stand
    /// still, so a keyframe taken then is not the live loop's. For re-simulations that check
    /// hashes only.
    pub fn set_replicate(&mut self, on: bool) {
        self.replicate = on;
    }

    /// Replicates only players within `tiles` tiles of each client (0 = everyone).
    pub fn set_view_radius(&mut self, tiles: u32) {
        self.view_radius_px = (tiles > 0).then(|| (tiles as i32).saturating_mul(game::TILE_SIZE));
    }

    /// Shared tick statistics.
    pub fn stats(&self) -> Arc<Mutex<TickStats>> {
        Arc::clone(&self.stats)
    }

    /// Players connected now.
    pub fn player_count(&self) -> usize {
        self.clients.len()
    }

    /// What the loop holds in proportion to its players now (walks every client).
    pub fn footprint(&self) -> Footprint {
        let mut f = Footprint {
            players: self.clients.len(),
            slots: self.slots.len(),
            ..Footprint::default()
        };
        for c in self.clients.values() {
            f.roster_events += c.roster.len();
            f.known += c.view.in_view();
        }
        f
    }

    /// Logs every command and I/O outcome from now on (or takes them from a re-simulation).
    pub fn set_log(&mut self, log: SimLog) {
        self.log = Some(log);
    }

    /// The log, if any.
    pub(crate) fn log_mut(&mut self) -> Option<&mut SimLog> {
        self.log.as_mut()
    }

    /// The world as of the last tick.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Applies one command now (the loop does this for every command before each tick).
    pub fn handle(&mut self, command: Command) {
        match command {
            Command::Join { name, color, link } => {
                let logged = self.log.is_some().then(|| name.clone());
                let (outcome, vanished) = match self.join(name, color, link) {
                    Ok(joined) => {
                        let id = joined.id;
                        let answered = match self.clients.get_mut(&id) {
                            Some(c) => c.link.answer(Ok(joined)).is_ok(),
                            None => false,
                        };
                        if !answered {
                            // The connection vanished before the answer: undo the join.
                            self.remove(id, DisconnectReason::Quit, None);
                        }
                        (Ok(id), !answered)
                    }
                    Err((refusal, mut link)) => {
                        let reason = refusal.0;
                        let _ = link.answer(Err(refusal));
                        (Err(reason), false)
                    }
                };
                if let (Some(log), Some(name)) = (&mut self.log, logged) {
                    log.join(&name, color, outcome, vanished);
                }
            }
            Command::Input { id, input } => {
                if let Some(log) = &mut self.log {
                    log.input(id, &input);
                }
                let before = (self.world.tick as u32).saturating_add(1);
                if let Some(c) = self.clients.get_mut(&id) {
                    if c.inputs.len() == INPUT_QUEUE {
                        c.inputs.pop_front();
                    }
                    c.inputs.push_back((input, before));
                }
            }
            Command::Chat { id, text } => {
                if id.0 != tilegame_protocol::v1::CHAT_FROM_SERVER
                    && !self.clients.contains_key(&id)
                {
                    return;
                }
                if let Some(log) = &mut self.log {
                    log.chat(id, &text);
                }
                let line = play::Chat { from: id.0, text };
                if let Err(e) = self.encoder.encode(&line, &mut self.chat) {
                    warn!("cannot encode a chat line: {e}");
                }
            }
            Command::Leave { id, reason } => {
                if let Some(log) = &mut self.log {
                    log.leave(id, reason);
                }
                self.remove(id, reason, None);
            }
        }
    }

    /// Admits a player; a refusal hands the link back with the reason.
    #[allow(clippy::type_complexity)]
    fn join(
        &mut self,
        name: String,
        color: u32,
        link: Box<dyn ClientLink>,
    ) -> Result<Joined, ((JoinError, String), Box<dyn ClientLink>)> {
        // The NFC form is the name admitted, compared and shown (see NAME_MAX_CHARS).
        let name = match game::normalize_name(&name) {
            Ok(name) => name,
            Err(e) => return Err(((JoinError::InvalidName, e.to_string()), link)),
        };
        if self.names.taken(&name) {
            return Err((
                (
                    JoinError::NameTaken,
                    format!("the name {name:?} is already taken"),
                ),
                link,
            ));
        }
        if self.clients.len() >= self.max_players {
            return Err((
                (
                    JoinError::ServerFull,
                    format!("the server is full ({} players)", self.max_players),
                ),
                link,
            ));
        }
        // Each admission adds an event to every client's roster, so admissions between two
        // ticks are bounded (players who leave at once, or whose connection vanished, would
        // otherwise make room for any number of them).
        if self.joined_since_tick >= self.max_players {
            return Err((
                (
                    JoinError::ServerFull,
                    format!(
                        "the server is full ({} players admitted since the last tick)",
                        self.max_players
                    ),
                ),
                link,
            ));
        }
        self.joined_since_tick += 1;
        let id = PlayerId(self.next_id);
        self.next_id += 1;
        let player = match self.world.add_player(id, &name) {
            Ok(p) => p,
            Err(e) => return Err(((JoinError::InvalidName, e.to_string()), link)),
        };
        let spawn = (
            player.motion.x.div_euclid(game::SUBPX),
            player.motion.y.div_euclid(game::SUBPX),
        );
        // Reserve the slot now: ticks fill it, but another join may come before the next tick.
        let replica = Replica {
            id: id.0,
            name: name.clone(),
            color,
            state: Quantized::of(player),
        };
        let slot = match self.slots.iter().position(Option::is_none) {
            Some(free) => {
                self.slots[free] = Some(replica);
                free
            }
            None => {
                self.slots.push(Some(replica));
                self.slots.len() - 1
            }
        };
        let transfer = match &self.transfer {
            Some(t) => Arc::clone(t),
            None => {
                let t = Arc::new(map_to_transfer(&self.world.map, &self.seed, self.theme));
                self.transfer = Some(Arc::clone(&t));
                t
            }
        };
        // Those already here are listed in MapEnd (up to the spec's bound; any more follow as
        // roster events), and each of them gets this join through its roster.
        let mut players = Vec::with_capacity(self.clients.len().min(MAX_LISTED));
        let mut roster = BTreeMap::new();
        for (pid, c) in self.clients.iter_mut() {
            if players.len() < MAX_LISTED {
                players.push(PlayerInfo {
                    id: pid.0,
                    name: c.name.clone(),
                });
            } else {
                roster.insert(pid.0, RosterEvent::Joined);
            }
            c.roster.insert(id.0, RosterEvent::Joined);
        }
        let joined_frame = self
            .frame(&play::PlayerJoined {
                player: PlayerInfo {
                    id: id.0,
                    name: name.clone(),
                },
            })
            .unwrap_or_default();
        info!(player = id.0, %name, "player joined");
        self.names.insert(&name);
        self.clients.insert(
            id,
            Client {
                slot,
                name,
                color,
                link,
                view: ClientView::default(),
                inputs: VecDeque::new(),
                joined_frame,
                roster,
                ack: 0,
            },
        );
        Ok(Joined {
            id,
            spawn,
            tick: self.world.tick as u32,
            transfer,
            players,
        })
    }

    fn frame<P: ServerPacket<marker::Play>>(&mut self, packet: &P) -> Option<Frame> {
        let mut out = Vec::new();
        match self.encoder.encode(packet, &mut out) {
            Ok(_) => Some(out),
            Err(e) => {
                warn!("cannot encode {}: {e}", P::NAME);
                None
            }
        }
    }

    /// Removes a player; `kick` tells its connection why (when the loop decided it).
    pub(crate) fn remove(&mut self, id: PlayerId, reason: DisconnectReason, kick: Option<String>) {
        let Some(mut client) = self.clients.remove(&id) else {
            return;
        };
        self.world.remove_player(id);
        self.names.remove(&client.name);
        self.slots[client.slot] = None;
        // A pending join is replaced by the leave: a client may have seen the player in a
        // snapshot already, and a leave of a player it never heard of is harmless.
        for c in self.clients.values_mut() {
            c.view.forget(client.slot);
            c.roster.insert(id.0, RosterEvent::Left(reason));
        }
        if let Some(message) = kick {
            client.link.kick((reason, message));
        }
        if reason == DisconnectReason::TooSlow {
            // Whether the loop found the outbox full or the session found the writes stalled.
            if let Ok(mut s) = self.stats.lock() {
                s.dropped_slow += 1;
            }
        }
        info!(player = id.0, name = %client.name, ?reason, "player left");
    }

    /// [`Sim::remove`] for a full or closed outbox: an I/O outcome, so it is logged.
    fn drop_client(&mut self, id: PlayerId, reason: DisconnectReason, kick: Option<String>) {
        if let Some(log) = self.log.as_mut().filter(|_| self.clients.contains_key(&id)) {
            log.dropped(id, reason, kick.as_deref());
        }
        self.remove(id, reason, kick);
    }

    /// Runs one tick: inputs, simulation, snapshots.
    pub fn tick(&mut self) {
        let clock = self.phase_clock;
        // Nanoseconds spent in each phase (see PHASES); `lap(phase)` ends a stretch of it.
        let mut spent = [0u64; 5];
        let mut last = clock.map_or(0, |now| now());
        let mut lap = |phase: usize| {
            if let Some(now) = clock {
                let t = now();
                spent[phase] += t.saturating_sub(last);
                last = t;
            }
        };
        self.joined_since_tick = 0;
        let tiles = self.step_world();
        lap(0);
        let tick = self.world.tick as u32;
        let tiles = self.replicate_states(tick, tiles);
        lap(1);
        let mut slow = Vec::new();
        let mut closed = Vec::new();
        // Chat and rosters are queued before the snapshots, as always: a snapshot never
        // depends on them, and each client's stream is chat, roster events, then its snapshot.
        self.queue_chat(&mut slow, &mut closed);
        self.flush_rosters(&mut slow, &mut closed);
        lap(3);
        let counts = self.snapshots(tick, &tiles, &mut slow, &mut closed);
        lap(2);
        self.drop_refused(slow, closed);
        lap(3);
        let keyframe = self
            .log
            .as_ref()
            .is_some_and(|l| l.keyframe_due(tick))
            .then(|| self.keyframe());
        if let Some(log) = &mut self.log {
            log.tick_done(&self.world, keyframe);
        }
        lap(4);
        if let Ok(mut s) = self.stats.lock() {
            s.players = self.clients.len();
            s.tick = self.world.tick;
            s.replication.add(&counts);
            if clock.is_some() {
                s.phases.ticks += 1;
                for (total, w) in s.phases.nanos.iter_mut().zip(spent) {
                    *total += w;
                }
            }
        }
    }

    /// The world's step: each client's oldest waiting input applied, movement and events;
    /// returns the tiles broken.
    fn step_world(&mut self) -> Vec<TileChange> {
        let inputs: Vec<(PlayerId, game::Input)> = self
            .clients
            .iter_mut()
            .filter_map(|(id, c)| c.inputs.pop_front().map(|(i, _)| (*id, i)))
            .collect();
        if let Some(log) = &mut self.log {
            log.applied(&inputs);
        }
        let events = self.world.tick(&inputs);
        let mut tiles = Vec::new();
        for e in &events {
            if let Event::TileBroken { x, y, tile, .. } = e {
                tiles.push(TileChange {
                    pos: TilePos { x: *x, y: *y },
                    tile: tile_to_wire(*tile),
                });
            }
        }
        if !tiles.is_empty() {
            self.transfer = None;
        }
        tiles
    }

    /// Each player's replicated state and ack for this tick; when snapshots are built, the grid,
    /// the shared deltas and the encoded tile changes too. Returns the tile changes snapshots
    /// carry (none if more than one can).
    fn replicate_states(&mut self, tick: u32, mut tiles: Vec<TileChange>) -> Vec<TileChange> {
        for (id, c) in self.clients.iter_mut() {
            if let Some(p) = self.world.player(*id) {
                c.ack = p.last_input_seq;
                let state = Quantized::of(p);
                match &mut self.slots[c.slot] {
                    Some(r) if r.id == id.0 => r.state = state,
                    other => {
                        *other = Some(Replica {
                            id: id.0,
                            name: c.name.clone(),
                            color: c.color,
                            state,
                        })
                    }
                }
            } else {
                c.ack = 0;
            }
        }
        // A re-simulation that checks hashes only builds no snapshots (see `set_replicate`).
        if self.replicate {
            if let Some(radius) = self.view_radius_px {
                self.grid.build(&self.slots, grid_cell_px(radius));
            }
            if let Err(e) = self.shared.build(tick, &self.slots) {
                warn!("cannot encode shared deltas: {e}");
            }
            if let Err(e) = encode_tiles(&tiles, &mut self.tiles_encoded) {
                // More changes than a snapshot can carry: newcomers' maps still have them.
                warn!("cannot encode this tick's tile changes: {e}");
                tiles.clear();
                let _ = encode_tiles(&tiles, &mut self.tiles_encoded);
            }
        }
        tiles
    }

    /// Queues this tick's chat lines to everyone in play, in order, before this tick's leaves
    /// (a flooder's last lines come while its name is still known).
    fn queue_chat(&mut self, slow: &mut Vec<PlayerId>, closed: &mut Vec<PlayerId>) {
        if self.chat.is_empty() {
            return;
        }
        let chat = std::mem::take(&mut self.chat);
        for (id, c) in self.clients.iter_mut() {
            match c.link.push_play(&chat) {
                Ok(()) => {}
                Err(PushError::Full) => slow.push(*id),
                Err(PushError::Closed) => closed.push(*id),
            }
        }
    }

    /// Builds every client's snapshot and queues it on its link; links that refused theirs go
    /// to `slow` or `closed`.
    fn snapshots(
        &mut self,
        tick: u32,
        tiles: &[TileChange],
        slow: &mut Vec<PlayerId>,
        closed: &mut Vec<PlayerId>,
    ) -> ReplicationCounts {
        let mut counts = ReplicationCounts {
            ticks: 1,
            ..ReplicationCounts::default()
        };
        if !self.replicate {
            return counts;
        }
        let ctx = SnapshotContext {
            tick,
            tiles,
            tiles_encoded: &self.tiles_encoded,
            shared: &self.shared,
            slots: &self.slots,
            heartbeat_ticks: self.heartbeat_ticks,
            view_radius_px: self.view_radius_px,
            grid: self.view_radius_px.map(|_| &self.grid),
        };
        // Each client with its id, in build order; frames name their client by its index here,
        // and are queued through it (no look-up by id).
        let mut clients: Vec<(PlayerId, &mut Client)> =
            self.clients.iter_mut().map(|(id, c)| (*id, c)).collect();
        if let Some(radius) = self.view_radius_px {
            let cell = grid_cell_px(radius);
            clients.sort_by_cached_key(|(id, c)| {
                let pos = self.slots[c.slot].as_ref().map_or((0, 0), |r| r.state.pos);
                // Clients on the same spot come together (they share their look at the grid).
                (build_order(pos, cell), pos, *id)
            });
        }
        let ids: Vec<PlayerId> = clients.iter().map(|(id, _)| *id).collect();
        let mut order: Vec<(usize, &mut Client)> = clients
            .into_iter()
            .enumerate()
            .map(|(i, (_, c))| (i, c))
            .collect();
        // Snapshots are independent per client: build them on several threads for big servers.
        // The clients are dealt out in small chunks to whichever thread is free, this one
        // included: on a busy machine a helper thread may wait long for a core, and a fixed
        // half of the clients would make the whole tick wait for it.
        let workers = if order.len() >= PARALLEL_FROM {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .clamp(1, 4)
        } else {
            1
        };
        let builders = &mut self.builders;
        if builders.len() < workers {
            builders.resize_with(workers, Default::default);
        }
        let builders = &mut builders[..workers];
        for (_, out) in builders.iter_mut() {
            out.clear();
        }
        if let Some(((scratch, built), helpers)) = builders.split_first_mut() {
            if helpers.is_empty() {
                counts.add(&build_snapshots(&mut order, &ctx, scratch, built));
            } else {
                let queue = Mutex::new(order.chunks_mut(CHUNK));
                let work = |scratch: &mut Scratch, out: &mut Built| {
                    let mut counts = ReplicationCounts::default();
                    loop {
                        let chunk = match queue.lock() {
                            Ok(mut q) => q.next(),
                            Err(_) => None,
                        };
                        let Some(chunk) = chunk else { break };
                        counts.add(&build_snapshots(chunk, &ctx, scratch, out));
                    }
                    counts
                };
                std::thread::scope(|scope| {
                    let spawned: Vec<_> = helpers
                        .iter_mut()
                        .map(|(scratch, out)| scope.spawn(|| work(scratch, out)))
                        .collect();
                    counts.add(&work(scratch, built));
                    for h in spawned {
                        counts.add(&h.join().unwrap_or_default());
                    }
                });
            }
        }
        // Each push reads the client's struct, its link and its queue, all cold: a few frames
        // ahead, each is asked to start loading (the struct, then the link it points to, then
        // what the link points to), so the misses overlap instead of queueing one by one.
        // The frames' bytes are shared with the links, which may keep them rather than copy
        // them (see `ClientLink::push_shared_snapshot`).
        let mut frames: Vec<(usize, std::ops::Range<usize>, usize)> = Vec::new();
        let mut shared = Vec::with_capacity(builders.len());
        for (b, (_, out)) in builders.iter_mut().enumerate() {
            frames.extend(out.ranges().map(|(i, range)| (i, range, b)));
            shared.push(out.share());
        }
        fn ahead<'a>(
            frames: &[(usize, std::ops::Range<usize>, usize)],
            order: &'a [(usize, &mut Client)],
            j: usize,
        ) -> Option<&'a Client> {
            let (i, _, _) = frames.get(j)?;
            order.get(*i).map(|(_, c)| &**c)
        }
        for (j, (index, range, b)) in frames.iter().enumerate() {
            let index = *index;
            if let Some(c) = ahead(&frames, &order, j + 8) {
                c.prefetch();
            }
            if let Some(c) = ahead(&frames, &order, j + 4) {
                crate::link::prefetch(&*c.link as *const dyn ClientLink);
            }
            if let Some(c) = ahead(&frames, &order, j + 2) {
                c.link.prefetch();
            }
            let (Some(&id), Some((_, c))) = (ids.get(index), order.get_mut(index)) else {
                continue;
            };
            let Some(bytes) = shared.get(*b) else {
                continue;
            };
            match c.link.push_shared_snapshot(bytes, range.clone(), tick) {
                Ok(()) => {}
                Err(PushError::Full) => slow.push(id),
                Err(PushError::Closed) => closed.push(id),
            }
        }
        drop(order);
        counts
    }

    /// Drops the clients whose links refused frames this tick: too slow first, then closed,
    /// each in id order (whatever order the threads found them in).
    fn drop_refused(&mut self, mut slow: Vec<PlayerId>, mut closed: Vec<PlayerId>) {
        slow.sort_unstable();
        slow.dedup();
        closed.sort_unstable();
        closed.dedup();
        for id in slow {
            warn!(
                player = id.0,
                "client cannot keep up with snapshots; dropping it"
            );
            self.drop_client(
                id,
                DisconnectReason::TooSlow,
                Some("your connection could not keep up".into()),
            );
        }
        for id in closed {
            self.drop_client(id, DisconnectReason::Quit, None);
        }
    }

    /// Sends each client as many of its pending joins and leaves as its outbox has room for.
    fn flush_rosters(&mut self, slow: &mut Vec<PlayerId>, closed: &mut Vec<PlayerId>) {
        let mut batch = Vec::new();
        let mut encoder = std::mem::take(&mut self.encoder);
        let ids: Vec<PlayerId> = self
            .clients
            .iter()
            .filter(|(_, c)| !c.roster.is_empty())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let Some(c) = self.clients.get(&id) else {
                continue;
            };
            if c.roster.len() > MAX_ROSTER_PENDING {
                slow.push(id);
                continue;
            }
            let room = (c.link.budget() / ROSTER_ROOM_SHARE).saturating_sub(c.link.pending_bytes());
            let cap = self.log.as_ref().map_or(usize::MAX, |l| l.roster_cap(id));
            batch.clear();
            // A long roster (a burst of joins) finds the newcomers' frames by walking the
            // clients beside it (both in id order), a short one by looking each up.
            let walk = c.roster.len() >= self.clients.len() / 16;
            let mut others = self.clients.iter().peekable();
            let mut sent = 0;
            let mut unsent = None;
            for (&pid, event) in &c.roster {
                if batch.len() >= room || sent >= cap {
                    unsent = Some(pid);
                    break;
                }
                match event {
                    // Always present: a leave replaces the pending join.
                    RosterEvent::Joined => {
                        let other = if walk {
                            while others.next_if(|(id, _)| id.0 < pid).is_some() {}
                            others.peek().filter(|(id, _)| id.0 == pid).map(|(_, c)| *c)
                        } else {
                            self.clients.get(&PlayerId(pid))
                        };
                        if let Some(other) = other {
                            batch.extend_from_slice(&other.joined_frame);
                        }
                    }
                    RosterEvent::Left(reason) => {
                        let left = play::PlayerLeft {
                            id: pid,
                            reason: *reason,
                        };
                        if let Err(e) = encoder.encode(&left, &mut batch) {
                            warn!("cannot encode PlayerLeft: {e}");
                        }
                    }
                }
                sent += 1;
            }
            if let Some(log) = self.log.as_mut().filter(|_| sent < c.roster.len()) {
                log.roster_cut(id, sent);
            }
            if batch.is_empty() {
                continue;
            }
            let Some(c) = self.clients.get_mut(&id) else {
                continue;
            };
            match c.link.push_play(&batch) {
                Ok(()) => {
                    // What was sent is the roster's first `sent` events: keep the rest.
                    c.roster = match unsent {
                        Some(pid) => c.roster.split_off(&pid),
                        None => BTreeMap::new(),
                    };
                }
                Err(PushError::Full) => slow.push(id),
                Err(PushError::Closed) => closed.push(id),
            }
        }
        self.encoder = encoder;
    }

    /// Notes how long the last tick's work took, as measured by whoever drives the loop.
    pub fn record_tick_time(&self, micros: u32) {
        if let Ok(mut s) = self.stats.lock() {
            if s.tick_micros.len() < 1_000_000 {
                s.tick_micros.push(micros);
            }
        }
    }

    /// Whether no player is connected.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Kicks everyone (shutdown).
    pub fn kick_all(&mut self, reason: DisconnectReason, message: &str) {
        if let Some(log) = &mut self.log {
            log.kick_all(reason, message);
        }
        let ids: Vec<PlayerId> = self.clients.keys().copied().collect();
        for id in ids {
            self.remove(id, reason, Some(message.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::{JoinAnswer, MemoryLink};
    use std::collections::BTreeSet;

    fn sim() -> Sim {
        let map =
            game::generate("simtest", game::Theme::Default, game::MapSize::Small).expect("map");
        Sim::new(
            World::new(map),
            "simtest".into(),
            game::Theme::Default,
            10,
            20,
        )
    }

    fn join_with(sim: &mut Sim, name: &str, budget: usize) -> Result<MemoryLink, JoinError> {
        let link = MemoryLink::new(budget);
        sim.handle(Command::Join {
            name: name.into(),
            color: 1,
            link: link.boxed(),
        });
        match link.take_answer().expect("answered") {
            Ok(_) => Ok(link),
            Err((e, _)) => Err(e),
        }
    }

    fn join(sim: &mut Sim, name: &str) -> MemoryLink {
        join_with(sim, name, 1 << 20).expect("joined")
    }

    /// Everything queued for a client, decoded.
    fn received(link: &MemoryLink) -> Vec<play::ToClient> {
        let bytes = link.drain();
        let mut out = Vec::new();
        for f in tilegame_protocol::frame::frames(&bytes, 1 << 20) {
            out.push(play::ToClient::decode(f.id(), f.payload()).expect("packet"));
        }
        out
    }

    fn snapshot(link: &MemoryLink) -> play::Snapshot {
        received(link)
            .into_iter()
            .find_map(|p| match p {
                play::ToClient::Snapshot(s) => Some(s),
                _ => None,
            })
            .expect("a snapshot")
    }

    /// A connection that closed before the loop answered its join.
    struct Vanished;

    impl ClientLink for Vanished {
        fn answer(&mut self, answer: JoinAnswer) -> Result<(), JoinAnswer> {
            Err(answer)
        }
        fn push_play(&mut self, _: &[u8]) -> Result<(), PushError> {
            Err(PushError::Closed)
        }
        fn budget(&self) -> usize {
            1
        }
        fn pending_bytes(&self) -> usize {
            0
        }
        fn kick(&mut self, _: Kick) {}
    }

    /// Admissions between two ticks are bounded by the player limit even when those admitted
    /// leave at once (each one adds to every roster); the next tick admits again.
    #[test]
    fn admissions_between_ticks_are_bounded_by_the_player_limit() {
        let map =
            game::generate("bounded", game::Theme::Default, game::MapSize::Small).expect("map");
        let mut sim = Sim::new(
            World::new(map),
            "bounded".into(),
            game::Theme::Default,
            3,
            20,
        );
        let stay = join(&mut sim, "stay");
        drop(stay);
        for i in 0..2 {
            let id = PlayerId(2 + i);
            join(&mut sim, &format!("churn{i}"));
            sim.handle(Command::Leave {
                id,
                reason: DisconnectReason::Quit,
            });
        }
        assert_eq!(sim.player_count(), 1);
        assert_eq!(
            join_with(&mut sim, "late", 1 << 20).err(),
            Some(JoinError::ServerFull)
        );
        // A connection that vanished before its answer was admitted too.
        sim.tick();
        for name in ["gone", "gone2"] {
            sim.handle(Command::Join {
                name: name.into(),
                color: 0,
                link: Box::new(Vanished),
            });
        }
        assert_eq!(sim.player_count(), 1);
        join(&mut sim, "late");
        assert_eq!(
            join_with(&mut sim, "later", 1 << 20).err(),
            Some(JoinError::ServerFull)
        );
        let f = sim.footprint();
        assert_eq!((f.players, f.roster_events), (2, 3), "{f:?}");
        assert!(f.bytes() >= 2 * Footprint::PLAYER_BYTES);
    }

    #[test]
    fn players_joining_in_the_same_tick_get_their_own_slots() {
        let mut sim = sim();
        let clients: Vec<_> = ["a", "b", "c"].iter().map(|n| join(&mut sim, n)).collect();
        sim.tick();
        for link in &clients {
            let s = snapshot(link);
            let mut ids: Vec<u32> = s.players.iter().map(|d| d.id).collect();
            ids.sort_unstable();
            assert_eq!(ids, vec![1, 2, 3], "everyone sees everyone on first sight");
        }
        let slots: Vec<usize> = sim.clients.values().map(|c| c.slot).collect();
        assert_eq!(slots, vec![0, 1, 2]);
    }

    #[test]
    fn chat_lines_reach_everyone_in_order_with_the_sender_id() {
        let mut sim = sim();
        let a = join(&mut sim, "a");
        let b = join(&mut sim, "b");
        sim.tick();
        a.drain();
        b.drain();
        for text in ["hello", "Zoë here"] {
            sim.handle(Command::Chat {
                id: PlayerId(1),
                text: text.into(),
            });
        }
        // A line from a player who is gone is dropped; the operator's line (from
        // CHAT_FROM_SERVER, which no player has) goes to everyone in its turn.
        sim.handle(Command::Chat {
            id: PlayerId(9),
            text: "ghost".into(),
        });
        sim.handle(Command::Chat {
            id: PlayerId(tilegame_protocol::v1::CHAT_FROM_SERVER),
            text: "restart at noon".into(),
        });
        sim.tick();
        for link in [&a, &b] {
            let lines: Vec<(u32, String)> = received(link)
                .into_iter()
                .filter_map(|p| match p {
                    play::ToClient::Chat(c) => Some((c.from, c.text)),
                    _ => None,
                })
                .collect();
            assert_eq!(
                lines,
                vec![
                    (1, "hello".into()),
                    (1, "Zoë here".into()),
                    (0, "restart at noon".into())
                ]
            );
        }
        sim.tick();
        assert!(!received(&b)
            .iter()
            .any(|p| matches!(p, play::ToClient::Chat(_))));
    }

    #[test]
    fn a_join_whose_connection_vanished_is_undone() {
        let mut sim = sim();
        sim.handle(Command::Join {
            name: "ghost".into(),
            color: 1,
            link: Box::new(Vanished),
        });
        assert_eq!(sim.player_count(), 0);
        assert!(sim.world.players.is_empty());
    }

    #[test]
    fn an_outbox_over_budget_drops_the_slow_client_with_a_reason() {
        let mut sim = sim();
        let link = join_with(&mut sim, "slow", 64).expect("joined");
        // Nobody drains the link: heartbeats pile up until one does not fit.
        for _ in 0..200 {
            sim.tick();
        }
        let (reason, _) = link.take_kick().expect("kicked");
        assert_eq!(reason, DisconnectReason::TooSlow);
        assert_eq!(sim.player_count(), 0);
    }

    #[test]
    fn names_are_unique_ignoring_case_and_look_alikes_and_free_again_after_leaving() {
        let mut sim = sim();
        let _honest = join(&mut sim, "honest");
        assert_eq!(
            join_with(&mut sim, "HONEST", 4096).err(),
            Some(JoinError::NameTaken)
        );
        // A look-alike (a capital I for an l) is taken too.
        let _alice = join(&mut sim, "Alice");
        assert_eq!(
            join_with(&mut sim, "AIice", 4096).err(),
            Some(JoinError::NameTaken)
        );
        sim.handle(Command::Leave {
            id: PlayerId(1),
            reason: DisconnectReason::Quit,
        });
        assert!(join_with(&mut sim, "Honest", 4096).is_ok());
    }

    #[test]
    fn a_join_burst_never_overflows_a_small_outbox_and_the_roster_converges() {
        let mut sim = Sim::new(
            World::new(
                game::generate("simtest", game::Theme::Default, game::MapSize::Small).expect("map"),
            ),
            "simtest".into(),
            game::Theme::Default,
            300,
            20,
        );
        sim.set_view_radius(1);
        // A client with room for a few dozen events at a time, drained every tick.
        let watcher = join_with(&mut sim, "watcher", 4096).expect("joined");
        let mut list: BTreeSet<u32> = BTreeSet::from([1]);
        let apply = |packets: Vec<play::ToClient>, list: &mut BTreeSet<u32>| {
            for p in packets {
                match p {
                    play::ToClient::PlayerJoined(j) => {
                        list.insert(j.player.id);
                    }
                    play::ToClient::PlayerLeft(l) => {
                        list.remove(&l.id);
                    }
                    _ => {}
                }
            }
        };
        let mut others = Vec::new();
        for i in 0..250 {
            others.push(join(&mut sim, &format!("bot{i}")));
        }
        for i in 0..200u32 {
            sim.handle(Command::Leave {
                id: PlayerId(i + 2),
                reason: DisconnectReason::Quit,
            });
        }
        for _ in 0..200 {
            sim.tick();
            apply(received(&watcher), &mut list);
            for o in &others {
                o.drain();
            }
        }
        assert!(watcher.take_kick().is_none(), "the watcher was not kicked");
        let server: BTreeSet<u32> = sim.clients.keys().map(|id| id.0).collect();
        assert_eq!(list, server);
        assert_eq!(server.len(), 51);
    }
}
