//! Keyframes of the simulation: everything the loop carries from one tick to the next, as the
//! replay spec's `SimKeyframeState`, so that a re-simulation can start at a keyframe instead of
//! at the recording's `SimStart` (seeking), and so that `verify` can check a recorded keyframe
//! against the state it re-simulated.
//!
//! The state is the world (its tick, the tiles changed since generation — every other tile is
//! what the `SimStart`'s seed generates — and every player's full simulated state), each
//! connection's queued inputs, what its client has been told (the replication view and the joins
//! and leaves still pending) and the loop's counters (next player id, slots allocated). What the
//! loop rebuilds every tick (the slot grid, the shared deltas, encoded tile changes, the map
//! transfer) is not kept: it is a cache that gives the same bytes rebuilt.
//!
//! A keyframe is untrusted input: [`Sim::restore`] checks every value against the bounds the
//! loop itself keeps (positions inside the map, velocities below top speed, ids below the next
//! id, slots unique, sorted lists, pending joins of players here and leaves of players gone)
//! and the world hash the keyframe names, so that a restored loop can neither panic nor
//! silently differ from the recorded one.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use super::{Client, RosterEvent, Sim, INPUT_QUEUE};
use crate::link::ClientLink;
use crate::replication::{ClientView, Quantized, Replica};
use crate::simlog;
use tilegame_game::{self as game, PlayerId, Tile, World};
use tilegame_protocol::replay_format::{self as rf, SimKeyframeState};

/// Most replication slots a keyframe may name (the spec's bound on players).
const MAX_SLOTS: u32 = 65536;

/// Largest tick count a keyframe may hold for a tile being broken or a damage timer (far above
/// what any tile takes; keeps their per-tick increments far from overflow).
const MAX_TIMER_TICKS: u32 = 1 << 24;

/// Why a keyframe cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyframeError {
    /// The state's tick is not the record's.
    #[error("the state is for tick {state}, its record for tick {record}")]
    Tick {
        /// The record's tick.
        record: u32,
        /// The state's tick.
        state: u64,
    },
    /// A run of the dynamic layer or of the changed tiles does not fit the map.
    #[error("the {layer} runs add up to {got} tiles, {expected} expected")]
    Runs {
        /// `dynamic` or `changed`.
        layer: &'static str,
        /// What they should add up to.
        expected: u64,
        /// What they add up to (at least).
        got: u64,
    },
    /// A run of changed tiles is empty.
    #[error("run {index} of the changed tiles is empty")]
    EmptyRun {
        /// Its index.
        index: usize,
    },
    /// An unknown tile id.
    #[error("unknown tile id {0} among the changed tiles")]
    Tile(u8),
    /// The slot count is out of range.
    #[error("{slots} replication slots (at most {MAX_SLOTS})")]
    Slots {
        /// The count.
        slots: u32,
    },
    /// The next id is not above every player's, or cannot grow.
    #[error(
        "next player id {next_id} is not above every player id and below {}",
        u32::MAX
    )]
    NextId {
        /// The recorded next id.
        next_id: u32,
    },
    /// A player's state is out of the bounds the loop keeps.
    #[error("player {id}: {problem}")]
    Player {
        /// The player.
        id: u32,
        /// What is wrong.
        problem: String,
    },
    /// The restored world is not the one the keyframe names.
    #[error("the restored world hashes to {restored:#018x}, the keyframe names {recorded:#018x}")]
    WorldHash {
        /// The keyframe's hash.
        recorded: u64,
        /// The restored world's.
        restored: u64,
    },
}

/// The dynamic layer as lengths of alternating runs, starting with an unchanged run (which may be
/// empty), and the changed tiles as runs of equal tiles.
fn map_changes(map: &game::Map) -> (Vec<u32>, Vec<rf::TileRun>) {
    let mut dynamic = Vec::new();
    for (changed, count) in map.dyn_runs() {
        if dynamic.is_empty() && changed {
            dynamic.push(0);
        }
        dynamic.push(count);
    }
    let mut changed: Vec<rf::TileRun> = Vec::new();
    let tiles = map.tiles();
    for i in map.dynatiles().iter_ones() {
        let tile = tiles.get(i).map_or(0, |t| t.id());
        match changed.last_mut() {
            Some(run) if run.tile == tile => run.count += 1,
            _ => changed.push(rf::TileRun { tile, count: 1 }),
        }
    }
    (dynamic, changed)
}

/// The changed tiles a keyframe lists, as (row-major index, tile id), checked against a map of
/// `tiles` tiles.
fn changed_tiles(state: &SimKeyframeState, tiles: u64) -> Result<Vec<(usize, u8)>, KeyframeError> {
    let mut indices = Vec::new();
    let mut at = 0u64;
    for (k, &count) in state.dynamic.iter().enumerate() {
        let end = at.saturating_add(u64::from(count));
        if end > tiles {
            return Err(KeyframeError::Runs {
                layer: "dynamic",
                expected: tiles,
                got: end,
            });
        }
        if k % 2 == 1 {
            indices.push(at..end);
        }
        at = end;
    }
    if at != tiles {
        return Err(KeyframeError::Runs {
            layer: "dynamic",
            expected: tiles,
            got: at,
        });
    }
    let dynamic: u64 = indices.iter().map(|r| r.end - r.start).sum();
    let mut out = Vec::new();
    let mut next = indices.into_iter().flatten();
    let mut listed = 0u64;
    for (index, run) in state.changed.iter().enumerate() {
        if run.count == 0 {
            return Err(KeyframeError::EmptyRun { index });
        }
        listed = listed.saturating_add(u64::from(run.count));
        if listed > dynamic {
            return Err(KeyframeError::Runs {
                layer: "changed",
                expected: dynamic,
                got: listed,
            });
        }
        for _ in 0..run.count {
            if let Some(i) = next.next() {
                out.push((i as usize, run.tile));
            }
        }
    }
    if listed != dynamic {
        return Err(KeyframeError::Runs {
            layer: "changed",
            expected: dynamic,
            got: listed,
        });
    }
    Ok(out)
}

fn item_of(tag: u8) -> Option<game::Item> {
    match tag {
        0 => Some(game::Item::Shovel),
        1 => Some(game::Item::Gun),
        _ => None,
    }
}

/// A player's simulated state from its keyframe entry, checked against `map`.
fn player_of(p: &rf::SimKeyframePlayer, map: &game::Map) -> Result<game::Player, String> {
    game::validate_name(&p.name).map_err(|e| format!("name {:?}: {e}", p.name))?;
    let (min_x, min_y, max_x, max_y) = game::movement::position_bounds(map);
    if !(min_x..=max_x).contains(&p.x) || !(min_y..=max_y).contains(&p.y) {
        return Err(format!(
            "position ({}, {}) sub-pixels is outside the map",
            p.x, p.y
        ));
    }
    let top = game::movement::TOP_SPEED;
    if p.vx.unsigned_abs() > top.unsigned_abs() || p.vy.unsigned_abs() > top.unsigned_abs() {
        return Err(format!(
            "velocity ({}, {}) is above the top speed {top}",
            p.vx, p.vy
        ));
    }
    if p.health > game::MAX_HEALTH {
        return Err(format!("health {} is above {}", p.health, game::MAX_HEALTH));
    }
    let item = item_of(p.item).ok_or_else(|| format!("unknown item {}", p.item))?;
    if p.damage_ticks > MAX_TIMER_TICKS {
        return Err(format!("damage timer {} ticks", p.damage_ticks));
    }
    let breaking = match &p.breaking {
        None => None,
        Some(b) => {
            if b.x >= map.width() || b.y >= map.height() {
                return Err(format!("breaks tile ({}, {}) outside the map", b.x, b.y));
            }
            if b.needed > MAX_TIMER_TICKS || b.ticks >= b.needed {
                return Err(format!(
                    "breaking progress {} of {} ticks",
                    b.ticks, b.needed
                ));
            }
            Some(game::Breaking {
                x: b.x,
                y: b.y,
                ticks: b.ticks,
                needed: b.needed,
            })
        }
    };
    Ok(game::Player {
        id: PlayerId(p.id),
        name: p.name.clone(),
        motion: game::MoveState {
            x: p.x,
            y: p.y,
            vx: p.vx,
            vy: p.vy,
        },
        prev_x: p.prev_x,
        prev_y: p.prev_y,
        health: p.health,
        alive: p.alive,
        last_input_seq: p.last_input_seq,
        item,
        breaking,
        damage_ticks: p.damage_ticks,
    })
}

/// A connection's state from its keyframe entry: queued inputs, view, pending roster.
type ClientParts = (
    VecDeque<(game::Input, u32)>,
    ClientView,
    BTreeMap<u32, RosterEvent>,
);

fn client_parts(
    p: &rf::SimKeyframePlayer,
    map: &game::Map,
    slots: u32,
    tick: u64,
) -> Result<ClientParts, String> {
    if p.inputs.len() > INPUT_QUEUE {
        return Err(format!(
            "{} queued inputs (at most {INPUT_QUEUE})",
            p.inputs.len()
        ));
    }
    let mut inputs = VecDeque::with_capacity(p.inputs.len());
    for q in &p.inputs {
        let input = simlog::input_from_queued(p.id, q).map_err(|e| e.to_string())?;
        if u64::from(q.before) > tick.saturating_add(1) {
            return Err(format!(
                "an input queued before tick {}, after the keyframe",
                q.before
            ));
        }
        inputs.push_back((input, q.before));
    }
    let (left, top, right, bottom) = map.bounds_px();
    let speed = game::movement::TOP_SPEED_PX_PER_S;
    let mut known = Vec::with_capacity(p.known.len());
    let mut last_slot = None;
    for k in &p.known {
        if k.slot >= slots || last_slot.is_some_and(|s| k.slot <= s) {
            return Err(format!(
                "its view names slot {} out of order or beyond {slots} slots",
                k.slot
            ));
        }
        last_slot = Some(k.slot);
        if !(left..=right).contains(&k.x)
            || !(top..=bottom).contains(&k.y)
            || k.vel_x.unsigned_abs() > speed.unsigned_abs()
            || k.vel_y.unsigned_abs() > speed.unsigned_abs()
        {
            return Err(format!(
                "its view holds player {} at ({}, {}) px moving ({}, {}) px/s, out of bounds",
                k.id, k.x, k.y, k.vel_x, k.vel_y
            ));
        }
        known.push((
            k.slot,
            k.id,
            Quantized {
                pos: (k.x, k.y),
                vel: (k.vel_x, k.vel_y),
                health: k.health,
            },
        ));
    }
    if p.last_sent.is_some_and(|t| u64::from(t) > tick) {
        return Err(format!(
            "last snapshot sent at tick {:?}, after the keyframe",
            p.last_sent
        ));
    }
    let view = ClientView::from_parts(known, p.last_sent, p.last_ack);
    let mut roster = BTreeMap::new();
    let mut last = None;
    for e in &p.roster {
        if last.is_some_and(|l| e.player <= l) {
            return Err(format!(
                "its pending joins and leaves name player {} out of order",
                e.player
            ));
        }
        last = Some(e.player);
        let event = match e.left {
            None => RosterEvent::Joined,
            Some(tag) => RosterEvent::Left(
                simlog::reason_from_tag("SimKeyframe", tag).map_err(|e| e.to_string())?,
            ),
        };
        roster.insert(e.player, event);
    }
    Ok((inputs, view, roster))
}

impl Sim {
    /// The loop's whole state now (between ticks), as a keyframe.
    pub(crate) fn keyframe(&self) -> SimKeyframeState {
        let (dynamic, changed) = map_changes(&self.world.map);
        let players = self
            .world
            .players
            .values()
            .filter_map(|p| Some((p, self.clients.get(&p.id)?)))
            .map(|(p, c)| {
                let (known, last_sent, last_ack) = c.view.parts();
                rf::SimKeyframePlayer {
                    id: p.id.0,
                    name: p.name.clone(),
                    color: c.color,
                    slot: c.slot as u32,
                    x: p.motion.x,
                    y: p.motion.y,
                    vx: p.motion.vx,
                    vy: p.motion.vy,
                    prev_x: p.prev_x,
                    prev_y: p.prev_y,
                    health: p.health,
                    alive: p.alive,
                    last_input_seq: p.last_input_seq,
                    item: p.item as u8,
                    breaking: p.breaking.map(|b| rf::SimBreaking {
                        x: b.x,
                        y: b.y,
                        ticks: b.ticks,
                        needed: b.needed,
                    }),
                    damage_ticks: p.damage_ticks,
                    inputs: c
                        .inputs
                        .iter()
                        .map(|(input, before)| {
                            let r = simlog::input_record(p.id, input);
                            rf::SimQueuedInput {
                                before: *before,
                                seq: r.seq,
                                move_x: r.move_x,
                                move_y: r.move_y,
                                item: r.item,
                                action: r.action,
                            }
                        })
                        .collect(),
                    last_sent,
                    last_ack,
                    known: known
                        .map(|(slot, id, s)| rf::SimKnown {
                            slot,
                            id,
                            x: s.pos.0,
                            y: s.pos.1,
                            vel_x: s.vel.0,
                            vel_y: s.vel.1,
                            health: s.health,
                        })
                        .collect(),
                    roster: c
                        .roster
                        .iter()
                        .map(|(&player, event)| rf::SimRosterEntry {
                            player,
                            left: match event {
                                RosterEvent::Joined => None,
                                RosterEvent::Left(reason) => Some(reason.tag()),
                            },
                        })
                        .collect(),
                }
            })
            .collect();
        SimKeyframeState {
            tick: self.world.tick,
            world_hash: self.world.state_hash(),
            dynamic,
            changed,
            next_id: self.next_id,
            slots: self.slots.len() as u32,
            players,
        }
    }

    /// Replaces the loop's state with a keyframe's (the record's `tick`); the loop must have
    /// been built from the recording's `SimStart` (its map is the generated one). `connect`
    /// gives each restored player its connection. On error nothing
    /// is changed.
    pub(crate) fn restore(
        &mut self,
        tick: u32,
        state: &SimKeyframeState,
        mut connect: impl FnMut(PlayerId) -> Box<dyn ClientLink>,
    ) -> Result<(), KeyframeError> {
        if state.tick != u64::from(tick) {
            return Err(KeyframeError::Tick {
                record: tick,
                state: state.tick,
            });
        }
        // The generated map, then the tiles changed since.
        let mut map = self.world.map.clone();
        let (width, height) = (map.width(), map.height());
        let area = u64::from(width) * u64::from(height);
        for (i, id) in changed_tiles(state, area)? {
            let tile = Tile::from_u8(id).ok_or(KeyframeError::Tile(id))?;
            let x = (i % usize::from(width)) as u16;
            let y = (i / usize::from(width)) as u16;
            map.change(x, y, tile).map_err(|_| KeyframeError::Runs {
                layer: "changed",
                expected: area,
                got: i as u64,
            })?;
        }
        if state.slots > MAX_SLOTS || (state.players.len() as u64) > u64::from(state.slots) {
            return Err(KeyframeError::Slots { slots: state.slots });
        }
        let mut world = World::new(map);
        world.tick = state.tick;
        let mut slots: Vec<Option<Replica>> = vec![None; state.slots as usize];
        let mut names = crate::names::Names::default();
        let mut clients = Vec::with_capacity(state.players.len());
        let mut last_id = None;
        for p in &state.players {
            let bad = |problem: String| KeyframeError::Player { id: p.id, problem };
            if last_id.is_some_and(|l| p.id <= l) {
                return Err(bad("players out of id order".into()));
            }
            last_id = Some(p.id);
            if p.id >= state.next_id {
                return Err(KeyframeError::NextId {
                    next_id: state.next_id,
                });
            }
            let player = player_of(p, &world.map).map_err(bad)?;
            if !names.insert(&p.name) {
                return Err(bad(format!("name {:?} is taken by another player", p.name)));
            }
            let slot = match slots.get_mut(p.slot as usize) {
                Some(s @ None) => s,
                _ => {
                    return Err(bad(format!(
                        "slot {} is taken or beyond {} slots",
                        p.slot, state.slots
                    )))
                }
            };
            *slot = Some(Replica {
                id: p.id,
                name: p.name.clone(),
                color: p.color,
                state: Quantized::of(&player),
            });
            let (inputs, view, roster) =
                client_parts(p, &world.map, state.slots, state.tick).map_err(bad)?;
            world.players.insert(player.id, player);
            clients.push((PlayerId(p.id), p, inputs, view, roster));
        }
        // Pending joins and leaves name what the loop's own do: a join, another player who is
        // here (a leave replaces it); a leave, a player given an id before and gone since.
        for (id, _, _, _, roster) in &clients {
            for (&pid, event) in roster {
                let here = world.players.contains_key(&PlayerId(pid));
                let (fits, what) = match event {
                    RosterEvent::Joined => (here && pid != id.0, "join"),
                    RosterEvent::Left(_) => (!here && pid < state.next_id, "leave"),
                };
                if !fits {
                    return Err(KeyframeError::Player {
                        id: id.0,
                        problem: format!(
                            "its pending joins and leaves hold a {what} of player {pid}, {}",
                            if here {
                                "who is here"
                            } else {
                                "who is not here"
                            }
                        ),
                    });
                }
            }
        }
        if state.next_id == u32::MAX || state.next_id == 0 {
            return Err(KeyframeError::NextId {
                next_id: state.next_id,
            });
        }
        let restored = world.state_hash();
        if restored != state.world_hash {
            return Err(KeyframeError::WorldHash {
                recorded: state.world_hash,
                restored,
            });
        }
        // Checked: replace the state.
        self.world = world;
        self.slots = slots;
        self.names = names;
        self.next_id = state.next_id;
        self.transfer = None;
        self.shared = Default::default();
        self.clients.clear();
        for (id, p, inputs, view, roster) in clients {
            let joined_frame = self
                .frame(&tilegame_protocol::v1::play::PlayerJoined {
                    player: tilegame_protocol::v1::PlayerInfo {
                        id: id.0,
                        name: p.name.clone(),
                    },
                })
                .unwrap_or_default();
            let link = connect(id);
            self.clients.insert(
                id,
                Client {
                    slot: p.slot as usize,
                    name: p.name.clone(),
                    color: p.color,
                    link,
                    view,
                    inputs,
                    joined_frame,
                    roster,
                    ack: 0, // Set by the next tick, before its snapshots.
                },
            );
        }
        Ok(())
    }
}

/// How a recorded keyframe differs from the state re-simulated at its tick: one line per
/// difference, at most `limit` (empty: equal).
pub fn keyframe_differences(
    recorded: &SimKeyframeState,
    resimulated: &SimKeyframeState,
    (width, height): (u16, u16),
    limit: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut note = |line: String| {
        if out.len() < limit {
            out.push(line);
        }
    };
    let scalar = |name: &str, a: String, b: String| {
        (a != b).then(|| format!("{name}: recorded {a}, re-simulated {b}"))
    };
    for line in [
        scalar(
            "tick",
            recorded.tick.to_string(),
            resimulated.tick.to_string(),
        ),
        scalar(
            "world hash",
            format!("{:#018x}", recorded.world_hash),
            format!("{:#018x}", resimulated.world_hash),
        ),
        scalar(
            "next player id",
            recorded.next_id.to_string(),
            resimulated.next_id.to_string(),
        ),
        scalar(
            "slots",
            recorded.slots.to_string(),
            resimulated.slots.to_string(),
        ),
    ]
    .into_iter()
    .flatten()
    {
        note(line);
    }
    // The map: the changed tiles, by position.
    if (&recorded.dynamic, &recorded.changed) != (&resimulated.dynamic, &resimulated.changed) {
        let area = u64::from(width) * u64::from(height);
        let tiles = |s: &SimKeyframeState| -> Result<BTreeMap<usize, u8>, KeyframeError> {
            Ok(changed_tiles(s, area)?.into_iter().collect())
        };
        match (tiles(recorded), tiles(resimulated)) {
            (Ok(a), Ok(b)) => {
                let name = |t: Option<&u8>| match t {
                    None => "unchanged".to_owned(),
                    Some(&id) => Tile::from_u8(id).map_or(format!("tile id {id}"), Tile::label),
                };
                let at = |i: usize| {
                    let w = usize::from(width.max(1));
                    format!("({}, {})", i % w, i / w)
                };
                for i in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
                    if a.get(i) != b.get(i) {
                        note(format!(
                            "tile {}: recorded {}, re-simulated {}",
                            at(*i),
                            name(a.get(i)),
                            name(b.get(i))
                        ));
                    }
                }
            }
            (Err(e), _) | (_, Err(e)) => note(format!("map: {e}")),
        }
    }
    // The players, by id.
    fn by_id(s: &SimKeyframeState) -> BTreeMap<u32, &rf::SimKeyframePlayer> {
        s.players.iter().map(|p| (p.id, p)).collect()
    }
    let (a, b) = (by_id(recorded), by_id(resimulated));
    for id in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
        match (a.get(id), b.get(id)) {
            (Some(p), Some(q)) if p != q => {
                let mut fields = String::new();
                macro_rules! cmp {
                    ($($f:ident),*) => {$(
                        if p.$f != q.$f {
                            let _ = write!(
                                fields,
                                "{}{}: recorded {:?}, re-simulated {:?}",
                                if fields.is_empty() { "" } else { "; " },
                                stringify!($f),
                                p.$f,
                                q.$f
                            );
                        }
                    )*};
                }
                cmp!(
                    name,
                    color,
                    slot,
                    x,
                    y,
                    vx,
                    vy,
                    prev_x,
                    prev_y,
                    health,
                    alive,
                    last_input_seq,
                    item,
                    breaking,
                    damage_ticks,
                    inputs,
                    last_sent,
                    last_ack,
                    known,
                    roster
                );
                note(format!("player {id} ({:?}): {fields}", q.name));
            }
            (Some(p), None) => note(format!(
                "player {id} ({:?}) is in the keyframe, not in the re-simulation",
                p.name
            )),
            (None, Some(q)) => note(format!(
                "player {id} ({:?}) is in the re-simulation, not in the keyframe",
                q.name
            )),
            _ => {}
        }
    }
    out
}
