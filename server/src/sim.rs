//! The authoritative simulation loop: one task owns the world and ticks it at a fixed rate.
//!
//! Connections never touch the world. They send [`Command`]s (join, input, leave) over a
//! channel; each tick the loop applies at most one queued input per player, runs
//! `World::tick`, and pushes each client a snapshot of what changed for it into that client's
//! bounded frame queue. A queue that is full means the client cannot keep up: it is kicked with
//! a reason, and its memory is bounded by the queue's size. Players are bound to the connection
//! that joined them — inputs arrive tagged with the id the loop handed out, never with an id
//! the client chose.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tilegame_game::{self as game, Event, PlayerId, World};
use tilegame_protocol::codec::PlayEncoder;
use tilegame_protocol::convert::{map_to_transfer, tile_to_wire, MapTransfer};
use tilegame_protocol::v1::{
    marker, play, DisconnectReason, JoinError, PlayerInfo, ServerPacket, TileChange, TilePos,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::replication::{ClientView, Quantized, Replica, SlotGrid};

/// Inputs a player may have waiting; older ones are dropped past this.
const INPUT_QUEUE: usize = 8;

/// An encoded frame on its way to one client.
pub type Frame = Vec<u8>;

/// Why a connection is being closed by the loop.
pub type Kick = (DisconnectReason, String);

/// What connections ask of the loop.
#[derive(Debug)]
pub enum Command {
    /// Create a player for a connection.
    Join {
        /// Requested name.
        name: String,
        /// Body colour 0xRRGGBB.
        color: u32,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Joined, (JoinError, String)>>,
        /// The connection's outgoing frame queue.
        frames: mpsc::Sender<Frame>,
        /// Fired when the loop drops the client, with the reason.
        kick: oneshot::Sender<Kick>,
    },
    /// A player's input (already converted and bound to the connection's player).
    Input {
        /// The connection's player.
        id: PlayerId,
        /// The input.
        input: game::Input,
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
}

struct Client {
    slot: usize,
    name: String,
    color: u32,
    frames: mpsc::Sender<Frame>,
    kick: Option<oneshot::Sender<Kick>>,
    view: ClientView,
    inputs: VecDeque<game::Input>,
}

/// Clients from which snapshot building is spread over threads.
const PARALLEL_FROM: usize = 128;

/// Buffers one snapshot builder reuses from client to client.
#[derive(Default)]
struct Scratch {
    encoder: PlayEncoder,
    deltas: Vec<tilegame_protocol::v1::PlayerDelta>,
    gone: Vec<u32>,
}

/// What every client's snapshot this tick is built from (shared read-only between threads).
struct SnapshotContext<'a> {
    tick: u32,
    tiles: &'a [TileChange],
    slots: &'a [Option<Replica>],
    world: &'a World,
    heartbeat_ticks: u32,
    view_radius_px: Option<i32>,
    grid: Option<&'a SlotGrid>,
}

/// Builds the snapshot frame of each client that has something to receive this tick.
fn build_snapshots(
    clients: &mut [(PlayerId, &mut Client)],
    ctx: &SnapshotContext<'_>,
    scratch: &mut Scratch,
) -> Vec<(PlayerId, Frame)> {
    let mut frames = Vec::with_capacity(clients.len());
    for (id, c) in clients.iter_mut() {
        let ack = ctx.world.player(*id).map_or(0, |p| p.last_input_seq);
        let view = match (ctx.view_radius_px, &ctx.slots[c.slot]) {
            (Some(radius), Some(me)) => Some((me.state.pos, radius)),
            _ => None,
        };
        if !c.view.diff(
            ctx.tick,
            ack,
            ctx.slots,
            ctx.tiles,
            ctx.heartbeat_ticks,
            view,
            ctx.grid,
            &mut scratch.deltas,
            &mut scratch.gone,
        ) {
            continue;
        }
        let snapshot = play::Snapshot {
            tick: ctx.tick,
            ack_seq: ack,
            players: std::mem::take(&mut scratch.deltas),
            tiles: ctx.tiles.to_vec(),
            gone: std::mem::take(&mut scratch.gone),
        };
        let mut out = Vec::with_capacity(16 + snapshot.players.len() * 5);
        if let Err(e) = scratch.encoder.encode(&snapshot, &mut out) {
            warn!("cannot encode snapshot: {e}");
        }
        scratch.deltas = snapshot.players;
        scratch.gone = snapshot.gone;
        frames.push((*id, out));
    }
    frames
}

/// The loop's state.
pub struct Sim {
    world: World,
    seed: String,
    theme: game::Theme,
    max_players: usize,
    heartbeat_ticks: u32,
    clients: BTreeMap<PlayerId, Client>,
    slots: Vec<Option<Replica>>,
    next_id: u32,
    transfer: Option<Arc<MapTransfer>>,
    encoder: PlayEncoder,
    scratch: Scratch,
    view_radius_px: Option<i32>,
    grid: SlotGrid,
    stats: Arc<Mutex<TickStats>>,
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
            slots: Vec::new(),
            next_id: 1,
            transfer: None,
            encoder: PlayEncoder::new(),
            scratch: Scratch::default(),
            view_radius_px: None,
            grid: SlotGrid::default(),
            stats: Arc::new(Mutex::new(TickStats::default())),
        }
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

    /// Applies one command now (the loop does this for every command before each tick).
    pub fn handle(&mut self, command: Command) {
        match command {
            Command::Join {
                name,
                color,
                reply,
                frames,
                kick,
            } => {
                let result = self.join(name, color, frames, kick);
                if let Err(Ok(joined)) = reply.send(result) {
                    // The connection vanished before the answer: undo the join.
                    self.remove(joined.id, DisconnectReason::Quit, None);
                }
            }
            Command::Input { id, input } => {
                if let Some(c) = self.clients.get_mut(&id) {
                    if c.inputs.len() == INPUT_QUEUE {
                        c.inputs.pop_front();
                    }
                    c.inputs.push_back(input);
                }
            }
            Command::Leave { id, reason } => self.remove(id, reason, None),
        }
    }

    fn join(
        &mut self,
        name: String,
        color: u32,
        frames: mpsc::Sender<Frame>,
        kick: oneshot::Sender<Kick>,
    ) -> Result<Joined, (JoinError, String)> {
        if let Err(e) = game::validate_name(&name) {
            return Err((JoinError::InvalidName, e.to_string()));
        }
        if self.clients.values().any(|c| c.name == name) {
            return Err((
                JoinError::NameTaken,
                format!("the name {name:?} is already taken"),
            ));
        }
        if self.clients.len() >= self.max_players {
            return Err((
                JoinError::ServerFull,
                format!("the server is full ({} players)", self.max_players),
            ));
        }
        let id = PlayerId(self.next_id);
        self.next_id += 1;
        let player = self
            .world
            .add_player(id, &name)
            .map_err(|e| (JoinError::InvalidName, e.to_string()))?;
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
        let players = self
            .clients
            .iter()
            .map(|(pid, c)| PlayerInfo {
                id: pid.0,
                name: c.name.clone(),
            })
            .collect();
        let joined_frame = self.frame(&play::PlayerJoined {
            player: PlayerInfo {
                id: id.0,
                name: name.clone(),
            },
        });
        for c in self.clients.values() {
            if let Some(f) = &joined_frame {
                let _ = c.frames.try_send(f.clone());
            }
        }
        info!(player = id.0, %name, "player joined");
        self.clients.insert(
            id,
            Client {
                slot,
                name,
                color,
                frames,
                kick: Some(kick),
                view: ClientView::default(),
                inputs: VecDeque::new(),
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
    fn remove(&mut self, id: PlayerId, reason: DisconnectReason, kick: Option<String>) {
        let Some(mut client) = self.clients.remove(&id) else {
            return;
        };
        self.world.remove_player(id);
        self.slots[client.slot] = None;
        for c in self.clients.values_mut() {
            c.view.forget(client.slot);
        }
        if let (Some(message), Some(tx)) = (kick, client.kick.take()) {
            let _ = tx.send((reason, message));
        }
        if let Some(f) = self.frame(&play::PlayerLeft { id: id.0, reason }) {
            for c in self.clients.values() {
                let _ = c.frames.try_send(f.clone());
            }
        }
        info!(player = id.0, name = %client.name, ?reason, "player left");
    }

    /// Runs one tick: inputs, simulation, snapshots.
    pub fn tick(&mut self) {
        let started = Instant::now();
        let inputs: Vec<(PlayerId, game::Input)> = self
            .clients
            .iter_mut()
            .filter_map(|(id, c)| c.inputs.pop_front().map(|i| (*id, i)))
            .collect();
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
        for (id, c) in &self.clients {
            if let Some(p) = self.world.player(*id) {
                self.slots[c.slot] = Some(Replica {
                    id: id.0,
                    name: c.name.clone(),
                    color: c.color,
                    state: Quantized::of(p),
                });
            }
        }
        let tick = self.world.tick as u32;
        if let Some(radius) = self.view_radius_px {
            self.grid.build(&self.slots, (radius / 2).max(128));
        }
        let ctx = SnapshotContext {
            tick,
            tiles: &tiles,
            slots: &self.slots,
            world: &self.world,
            heartbeat_ticks: self.heartbeat_ticks,
            view_radius_px: self.view_radius_px,
            grid: self.view_radius_px.map(|_| &self.grid),
        };
        let mut clients: Vec<(PlayerId, &mut Client)> =
            self.clients.iter_mut().map(|(id, c)| (*id, c)).collect();
        // Snapshots are independent per client: build them on several threads for big servers.
        let workers = if clients.len() >= PARALLEL_FROM {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .clamp(1, 4)
        } else {
            1
        };
        let frames: Vec<(PlayerId, Frame)> = if workers > 1 {
            let per = clients.len().div_ceil(workers);
            std::thread::scope(|scope| {
                let handles: Vec<_> = clients
                    .chunks_mut(per)
                    .map(|chunk| {
                        scope.spawn(|| build_snapshots(chunk, &ctx, &mut Scratch::default()))
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_default())
                    .collect()
            })
        } else {
            build_snapshots(&mut clients, &ctx, &mut self.scratch)
        };
        let mut slow = Vec::new();
        let mut closed = Vec::new();
        for (id, frame) in frames {
            let Some(c) = self.clients.get(&id) else {
                continue;
            };
            match c.frames.try_send(frame) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => slow.push(id),
                Err(mpsc::error::TrySendError::Closed(_)) => closed.push(id),
            }
        }
        for id in slow {
            warn!(
                player = id.0,
                "client cannot keep up with snapshots; dropping it"
            );
            self.remove(
                id,
                DisconnectReason::TooSlow,
                Some("your connection could not keep up".into()),
            );
            if let Ok(mut s) = self.stats.lock() {
                s.dropped_slow += 1;
            }
        }
        for id in closed {
            self.remove(id, DisconnectReason::Quit, None);
        }
        let micros = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        if let Ok(mut s) = self.stats.lock() {
            if s.tick_micros.len() < 1_000_000 {
                s.tick_micros.push(micros);
            }
            s.players = self.clients.len();
            s.tick = self.world.tick;
        }
    }

    /// Kicks everyone (shutdown).
    pub fn kick_all(&mut self, reason: DisconnectReason, message: &str) {
        let ids: Vec<PlayerId> = self.clients.keys().copied().collect();
        for id in ids {
            self.remove(id, reason, Some(message.to_owned()));
        }
    }

    /// Runs the loop until `shutdown` fires or, with `exit_when_empty`, the server has been
    /// empty that long after its last player left.
    pub async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        period: Duration,
        exit_when_empty: Option<Duration>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut empty_since: Option<Instant> = None;
        let mut ever_joined = false;
        loop {
            tokio::select! {
                _ = interval.tick() => {
                    while let Ok(command) = commands.try_recv() {
                        ever_joined |= matches!(command, Command::Join { .. });
                        self.handle(command);
                    }
                    self.tick();
                    if self.clients.is_empty() && ever_joined {
                        let since = *empty_since.get_or_insert_with(Instant::now);
                        if exit_when_empty.is_some_and(|limit| since.elapsed() >= limit) {
                            info!("no players left; shutting down");
                            break;
                        }
                    } else {
                        empty_since = None;
                    }
                }
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
        debug!("simulation loop stopping");
        self.kick_all(
            DisconnectReason::ServerShutdown,
            "the server is shutting down",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilegame_protocol::frame::decode_frame;

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

    fn join(sim: &mut Sim, name: &str) -> (mpsc::Receiver<Frame>, oneshot::Receiver<Kick>) {
        let (frames, rx) = mpsc::channel(64);
        let (kick, kick_rx) = oneshot::channel();
        let (reply, mut reply_rx) = oneshot::channel();
        sim.handle(Command::Join {
            name: name.into(),
            color: 1,
            reply,
            frames,
            kick,
        });
        assert!(reply_rx.try_recv().expect("answered").is_ok());
        (rx, kick_rx)
    }

    fn snapshot(rx: &mut mpsc::Receiver<Frame>) -> play::Snapshot {
        loop {
            let frame = rx.try_recv().expect("a frame");
            let f = decode_frame(&frame, 1 << 20)
                .expect("frame")
                .expect("complete");
            if let Ok(play::ToClient::Snapshot(s)) = play::ToClient::decode(f.id(), f.payload()) {
                return s;
            }
        }
    }

    #[test]
    fn players_joining_in_the_same_tick_get_their_own_slots() {
        let mut sim = sim();
        let mut clients: Vec<_> = ["a", "b", "c"].iter().map(|n| join(&mut sim, n)).collect();
        sim.tick();
        for (rx, _) in &mut clients {
            let s = snapshot(rx);
            let mut ids: Vec<u32> = s.players.iter().map(|d| d.id).collect();
            ids.sort_unstable();
            assert_eq!(ids, vec![1, 2, 3], "everyone sees everyone on first sight");
        }
        let slots: Vec<usize> = sim.clients.values().map(|c| c.slot).collect();
        assert_eq!(slots, vec![0, 1, 2]);
    }

    #[test]
    fn a_join_whose_connection_vanished_is_undone() {
        let mut sim = sim();
        let (frames, _rx) = mpsc::channel(8);
        let (kick, _kick_rx) = oneshot::channel();
        let (reply, reply_rx) = oneshot::channel();
        drop(reply_rx);
        sim.handle(Command::Join {
            name: "ghost".into(),
            color: 1,
            reply,
            frames,
            kick,
        });
        assert_eq!(sim.player_count(), 0);
        assert!(sim.world.players.is_empty());
    }

    #[test]
    fn a_full_queue_drops_the_slow_client_with_a_reason() {
        let mut sim = sim();
        let (_rx, mut kick) = {
            let (frames, rx) = mpsc::channel(1);
            let (kick, kick_rx) = oneshot::channel();
            let (reply, _reply_rx) = oneshot::channel();
            sim.handle(Command::Join {
                name: "slow".into(),
                color: 1,
                reply,
                frames,
                kick,
            });
            (rx, kick_rx)
        };
        // The first snapshot fills the queue of one; the heartbeat 20 ticks later does not fit.
        for _ in 0..25 {
            sim.tick();
        }
        let (reason, _) = kick.try_recv().expect("kicked");
        assert_eq!(reason, DisconnectReason::TooSlow);
        assert_eq!(sim.player_count(), 0);
    }
}
