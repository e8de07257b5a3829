//! The world and its tick: the authoritative simulation step.
//!
//! [`World::tick`] applies at most one input per player (the newest), advances every player in
//! id order (movement, breaking, damage, death, respawn) and reports what happened as
//! [`Event`]s for the server to broadcast. Players live in a `BTreeMap` so that iteration, and so
//! the simulation and [`World::state_hash`], follow id order on every machine.
//!
//! A player without an input this tick is treated as idle: it keeps decelerating and any break
//! in progress is cancelled (breaking needs the action held every tick).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::breaking::{self, BreakError};
use crate::coords::TICK_RATE;
use crate::hash::StableHasher;
use crate::map::Map;
use crate::movement::{step_movement, MoveState};
use crate::player::{Action, Breaking, Input, Item, NameError, Player, PlayerId, MAX_HEALTH};
use crate::tile::Tile;

/// The tile a broken tile becomes.
pub const BROKEN_TILE: Tile = Tile::Dirt;

/// Something that happened during a tick.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Event {
    /// A tile was broken and became `tile`.
    TileBroken {
        /// Column.
        x: u16,
        /// Row.
        y: u16,
        /// The new tile.
        tile: Tile,
        /// Who broke it.
        by: PlayerId,
    },
    /// A player started breaking a tile or reached a new crack stage (0..=7).
    BreakProgress {
        /// The player.
        id: PlayerId,
        /// Column.
        x: u16,
        /// Row.
        y: u16,
        /// Crack stage.
        stage: u8,
    },
    /// A player stopped breaking before the tile broke.
    BreakCancelled {
        /// The player.
        id: PlayerId,
    },
    /// A player took damage; `health` is what is left.
    Damaged {
        /// The player.
        id: PlayerId,
        /// Remaining health.
        health: u8,
    },
    /// A player died.
    Died {
        /// The player.
        id: PlayerId,
    },
    /// A player came back to life at the spawn.
    Respawned {
        /// The player.
        id: PlayerId,
    },
}

/// Errors from adding players.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WorldError {
    /// The id is already in use.
    #[error("player id {} is already in use", .0 .0)]
    IdTaken(PlayerId),
    /// Another player has this name.
    #[error("the name {0:?} is already taken")]
    NameTaken(String),
    /// The name is not valid.
    #[error("invalid name: {0}")]
    InvalidName(#[from] NameError),
}

/// Ticks between two hits of a tile's damage, or `None` if the tile does no damage.
pub fn damage_period_ticks(tile: Tile) -> Option<u32> {
    let a = tile.attrs();
    (a.damage > 0).then(|| {
        (u32::from(a.damage_delay_tenths) * TICK_RATE)
            .div_ceil(10)
            .max(1)
    })
}

/// The whole simulated state: the map, the players and the tick counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct World {
    /// The map.
    pub map: Map,
    /// The players, by id.
    pub players: BTreeMap<PlayerId, Player>,
    /// Ticks simulated so far.
    pub tick: u64,
}

impl World {
    /// A world on `map` with no players, at tick 0.
    pub fn new(map: Map) -> World {
        World {
            map,
            players: BTreeMap::new(),
            tick: 0,
        }
    }

    /// Adds a player at the spawn; the id and the name must be unused.
    pub fn add_player(&mut self, id: PlayerId, name: &str) -> Result<&Player, WorldError> {
        if self.players.contains_key(&id) {
            return Err(WorldError::IdTaken(id));
        }
        if self.players.values().any(|p| p.name == name) {
            return Err(WorldError::NameTaken(name.to_owned()));
        }
        let player = Player::new(id, name)?;
        Ok(self.players.entry(id).or_insert(player))
    }

    /// Removes a player; returns it if it was there.
    pub fn remove_player(&mut self, id: PlayerId) -> Option<Player> {
        self.players.remove(&id)
    }

    /// A player by id.
    pub fn player(&self, id: PlayerId) -> Option<&Player> {
        self.players.get(&id)
    }

    /// Checks whether player `id` could break tile (`x`, `y`) now; returns the ticks it takes.
    pub fn check_break(&self, id: PlayerId, x: u16, y: u16) -> Result<u32, BreakError> {
        let p = self.players.get(&id).ok_or(BreakError::UnknownPlayer)?;
        if !p.alive {
            return Err(BreakError::Dead);
        }
        if p.item != Item::Shovel {
            return Err(BreakError::WrongItem);
        }
        breaking::check_break(&self.map, &p.motion, x, y)
    }

    /// Advances the world by one tick and returns what happened, in player id order.
    ///
    /// Per player, the input with the highest `seq` in `inputs` is applied (the later one on a
    /// tie) if it is newer than the last one applied; inputs for unknown players are ignored.
    pub fn tick(&mut self, inputs: &[(PlayerId, Input)]) -> Vec<Event> {
        self.tick += 1;
        // The loop gives at most one input per player, in id order: walk them beside the
        // players. Anything else is first reduced to that (the highest sequence number per
        // player, the later of equals), as it always was.
        let chosen: Vec<(PlayerId, Input)>;
        let inputs = if inputs.windows(2).all(|w| w[0].0 < w[1].0) {
            inputs
        } else {
            let mut by_id: BTreeMap<PlayerId, Input> = BTreeMap::new();
            for (id, input) in inputs {
                match by_id.get(id) {
                    Some(prev) if prev.seq > input.seq => {}
                    _ => {
                        by_id.insert(*id, *input);
                    }
                }
            }
            chosen = by_id.into_iter().collect();
            &chosen
        };
        let mut events = Vec::new();
        let mut next = inputs.iter().peekable();
        let map = &mut self.map;
        for (id, p) in self.players.iter_mut() {
            while next.next_if(|(i, _)| i < id).is_some() {}
            // An input no newer than the last one applied is ignored.
            let input = next
                .next_if(|(i, _)| i == id)
                .map(|(_, input)| *input)
                .filter(|input| input.seq > p.last_input_seq);
            step_player(map, *id, p, input, &mut events);
        }
        events
    }

    /// FNV-1a 64 of the world's canonical bytes; stable across machines and runs.
    ///
    /// Canonical form: tick (u64 BE), the map ([`Map::hash_into`]), the player count (u32 BE),
    /// then each player in increasing id order ([`Player::hash_into`]).
    pub fn state_hash(&self) -> u64 {
        let mut h = StableHasher::new();
        h.write_u64(self.tick);
        self.map.hash_into(&mut h);
        h.write_u32(u32::try_from(self.players.len()).unwrap_or(u32::MAX));
        for p in self.players.values() {
            p.hash_into(&mut h);
        }
        h.finish()
    }
}

/// Applies one tick to one player (on `map`, which breaking may change).
fn step_player(
    map: &mut Map,
    id: PlayerId,
    p: &mut Player,
    input: Option<Input>,
    events: &mut Vec<Event>,
) {
    let input = match input {
        Some(i) => {
            p.last_input_seq = i.seq;
            p.item = i.item;
            i
        }
        None => Input {
            seq: p.last_input_seq,
            item: p.item,
            ..Input::default()
        },
    };
    p.prev_x = p.motion.x;
    p.prev_y = p.motion.y;

    if !p.alive {
        if input.action == Action::Respawn {
            p.motion = MoveState::default();
            p.prev_x = 0;
            p.prev_y = 0;
            p.health = MAX_HEALTH;
            p.alive = true;
            p.damage_ticks = 0;
            p.breaking = None;
            events.push(Event::Respawned { id });
        }
        return;
    }

    p.motion = step_movement(map, &p.motion, input.move_x, input.move_y);

    // Breaking: the action must be held on the same, still breakable, reachable tile.
    let target = match input.action {
        Action::Break { x, y } if p.item == Item::Shovel => {
            breaking::check_break(map, &p.motion, x, y)
                .ok()
                .map(|needed| (x, y, needed))
        }
        _ => None,
    };
    match target {
        Some((x, y, needed)) => {
            let mut b = match p.breaking {
                Some(b) if b.x == x && b.y == y => b,
                other => {
                    if other.is_some() {
                        events.push(Event::BreakCancelled { id });
                    }
                    Breaking {
                        x,
                        y,
                        ticks: 0,
                        needed,
                    }
                }
            };
            let before = b.stage();
            b.ticks += 1;
            if b.ticks >= b.needed {
                p.breaking = None;
                let result = map.get(x, y).map_or(BROKEN_TILE, Tile::becomes);
                if map.change(x, y, result).is_ok() {
                    events.push(Event::TileBroken {
                        x,
                        y,
                        tile: result,
                        by: id,
                    });
                }
            } else {
                if b.ticks == 1 || b.stage() != before {
                    events.push(Event::BreakProgress {
                        id,
                        x,
                        y,
                        stage: b.stage(),
                    });
                }
                p.breaking = Some(b);
            }
        }
        None => {
            if p.breaking.take().is_some() {
                events.push(Event::BreakCancelled { id });
            }
        }
    }

    // Damage from the tile under the player's centre.
    let under = map
        .tile_at_subpx(p.motion.x, p.motion.y)
        .unwrap_or(Tile::Void);
    match damage_period_ticks(under) {
        Some(period) => {
            p.damage_ticks += 1;
            if p.damage_ticks >= period {
                p.damage_ticks = 0;
                p.health = p.health.saturating_sub(under.attrs().damage);
                events.push(Event::Damaged {
                    id,
                    health: p.health,
                });
                if p.health == 0 {
                    p.alive = false;
                    p.motion.vx = 0;
                    p.motion.vy = 0;
                    if p.breaking.take().is_some() {
                        events.push(Event::BreakCancelled { id });
                    }
                    events.push(Event::Died { id });
                }
            }
        }
        None => p.damage_ticks = 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::movement::TOP_SPEED;

    const A: PlayerId = PlayerId(1);
    const B: PlayerId = PlayerId(2);

    fn world(fill: Tile) -> World {
        let mut w = World::new(Map::new(64, 64, fill).unwrap());
        w.add_player(A, "alice").unwrap();
        w
    }

    fn input(seq: u32, move_x: i8, move_y: i8, action: Action) -> Input {
        Input {
            seq,
            move_x,
            move_y,
            item: Item::Shovel,
            action,
        }
    }

    #[test]
    fn add_and_remove_players() {
        let mut w = world(Tile::Grass);
        assert_eq!(w.add_player(A, "x"), Err(WorldError::IdTaken(A)));
        assert_eq!(
            w.add_player(B, "alice"),
            Err(WorldError::NameTaken("alice".into()))
        );
        assert_eq!(
            w.add_player(B, ""),
            Err(WorldError::InvalidName(NameError::Empty))
        );
        let p = w.add_player(B, "bob").unwrap();
        assert_eq!((p.id, p.health, p.motion), (B, 100, MoveState::default()));
        assert_eq!(w.remove_player(A).map(|p| p.name), Some("alice".into()));
        assert_eq!(w.remove_player(A), None);
        assert_eq!(w.players.len(), 1);
    }

    #[test]
    fn latest_input_wins_stale_ignored_idle_decelerates() {
        let mut w = world(Tile::Grass);
        let ev = w.tick(&[
            (A, input(2, 1, 0, Action::None)),
            (A, input(3, -1, 0, Action::None)),
            (A, input(1, 0, 1, Action::None)),
            (PlayerId(99), input(5, 1, 1, Action::None)),
        ]);
        assert!(ev.is_empty());
        let p = w.player(A).unwrap();
        assert_eq!((p.motion.vx, p.motion.vy, p.last_input_seq), (-2240, 0, 3));
        // A stale input (seq ≤ 3) is ignored: the player idles and decelerates.
        w.tick(&[(A, input(3, -1, 0, Action::None))]);
        assert_eq!(w.player(A).unwrap().motion.vx, -2240 + 896);
        w.tick(&[]);
        assert_eq!(w.player(A).unwrap().motion.vx, -2240 + 2 * 896);
        assert_eq!(w.tick, 3);
        // Hostile move values are clamped.
        w.tick(&[(A, input(4, 100, -100, Action::None))]);
        let m = w.player(A).unwrap().motion;
        assert!(m.vx > 0 && m.vy < 0 && m.vx <= TOP_SPEED);
        assert_eq!(w.player(A).unwrap().prev_x + m.vx, m.x);
    }

    #[test]
    fn lava_damage_cadence_death_and_respawn() {
        let mut w = world(Tile::Lava);
        assert_eq!(damage_period_ticks(Tile::Lava), Some(10));
        assert_eq!(damage_period_ticks(Tile::Grass), None);
        let mut hits = Vec::new();
        let mut died_at = None;
        for t in 1..=400u64 {
            for e in w.tick(&[]) {
                match e {
                    Event::Damaged { id: A, health } => hits.push((t, health)),
                    Event::Died { id: A } => died_at = Some(t),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        assert_eq!(hits.len(), 34);
        assert_eq!(hits[0], (10, 97));
        assert_eq!(hits[1], (20, 94));
        assert_eq!(hits[32], (330, 1));
        assert_eq!(hits[33], (340, 0));
        assert_eq!(died_at, Some(340));
        let p = w.player(A).unwrap();
        assert!(!p.alive);
        // Dead players don't move; respawn only on request.
        w.tick(&[(A, input(1, 1, 1, Action::None))]);
        assert_eq!(w.player(A).unwrap().motion, MoveState::default());
        let ev = w.tick(&[(A, input(2, 0, 0, Action::Respawn))]);
        assert_eq!(ev, vec![Event::Respawned { id: A }]);
        let p = w.player(A).unwrap();
        assert!(p.alive);
        assert_eq!((p.health, p.motion), (100, MoveState::default()));
        // Respawn while alive does nothing.
        let ev = w.tick(&[(A, input(3, 0, 0, Action::Respawn))]);
        assert!(ev.is_empty());
        // Leaving lava resets the damage timer.
        let mut w = world(Tile::Lava);
        w.map.set(33, 33, Tile::Grass).unwrap();
        for _ in 0..9 {
            w.tick(&[]);
        }
        assert_eq!(w.player(A).unwrap().damage_ticks, 9);
        w.players.get_mut(&A).unwrap().motion = MoveState::at(48 * 256, 48 * 256);
        w.tick(&[]);
        assert_eq!(w.player(A).unwrap().damage_ticks, 0);
        assert_eq!(w.player(A).unwrap().health, 100);
    }

    fn hold_break(w: &mut World, seq: &mut u32, x: u16, y: u16, ticks: u32) -> Vec<Event> {
        let mut all = Vec::new();
        for _ in 0..ticks {
            *seq += 1;
            all.extend(w.tick(&[(A, input(*seq, 0, 0, Action::Break { x, y }))]));
        }
        all
    }

    #[test]
    fn breaking_cobblestone_takes_13_ticks() {
        let mut w = world(Tile::Grass);
        w.map.set(33, 32, Tile::Cobblestone).unwrap();
        assert_eq!(w.check_break(A, 33, 32), Ok(13));
        let mut seq = 0;
        let ev = hold_break(&mut w, &mut seq, 33, 32, 12);
        assert!(!ev.iter().any(|e| matches!(e, Event::TileBroken { .. })));
        assert_eq!(
            ev.first(),
            Some(&Event::BreakProgress {
                id: A,
                x: 33,
                y: 32,
                stage: 0
            })
        );
        let stages: Vec<u8> = ev
            .iter()
            .filter_map(|e| match e {
                Event::BreakProgress { stage, .. } => Some(*stage),
                _ => None,
            })
            .collect();
        assert_eq!(stages, vec![0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(w.map.get(33, 32), Some(Tile::Cobblestone));
        let ev = hold_break(&mut w, &mut seq, 33, 32, 1);
        assert_eq!(
            ev,
            vec![Event::TileBroken {
                x: 33,
                y: 32,
                tile: Tile::Dirt,
                by: A
            }]
        );
        assert_eq!(w.map.get(33, 32), Some(Tile::Dirt));
        assert_eq!(w.map.is_dynamic(33, 32), Some(true));
        assert_eq!(w.map.dynatiles().count_ones(), 1);
        assert_eq!(w.player(A).unwrap().breaking, None);
        // Dirt cannot be broken again.
        assert!(hold_break(&mut w, &mut seq, 33, 32, 20).is_empty());
    }

    #[test]
    fn breaking_firestone_takes_32_ticks_and_cancels() {
        let mut w = world(Tile::Grass);
        w.map.set(31, 33, Tile::Firestone).unwrap();
        w.map.set(30, 33, Tile::Firestone).unwrap();
        let mut seq = 0;
        hold_break(&mut w, &mut seq, 31, 33, 20);
        // One tick without the action cancels the progress.
        seq += 1;
        let ev = w.tick(&[(A, input(seq, 0, 0, Action::None))]);
        assert_eq!(ev, vec![Event::BreakCancelled { id: A }]);
        let ev = hold_break(&mut w, &mut seq, 31, 33, 31);
        assert!(!ev.iter().any(|e| matches!(e, Event::TileBroken { .. })));
        // Switching target restarts from zero.
        let ev = hold_break(&mut w, &mut seq, 30, 33, 1);
        assert_eq!(ev.first(), Some(&Event::BreakCancelled { id: A }));
        let ev = hold_break(&mut w, &mut seq, 30, 33, 31);
        assert_eq!(
            ev.last(),
            Some(&Event::TileBroken {
                x: 30,
                y: 33,
                tile: Tile::Dirt,
                by: A
            })
        );
        assert_eq!(w.map.get(31, 33), Some(Tile::Firestone));
        // No input at all also cancels.
        hold_break(&mut w, &mut seq, 31, 33, 3);
        assert_eq!(w.tick(&[]), vec![Event::BreakCancelled { id: A }]);
    }

    #[test]
    fn unbreakable_out_of_reach_and_gun_are_refused() {
        let mut w = world(Tile::Grass);
        w.map.set(40, 32, Tile::Cobblestone).unwrap();
        w.map.set(32, 33, Tile::Lava).unwrap();
        let mut seq = 0;
        assert_eq!(
            w.check_break(A, 31, 31),
            Err(BreakError::NotBreakable(Tile::Grass))
        );
        assert_eq!(
            w.check_break(A, 32, 33),
            Err(BreakError::NotBreakable(Tile::Lava))
        );
        assert_eq!(
            w.check_break(A, 40, 32),
            Err(BreakError::OutOfReach { x: 40, y: 32 })
        );
        assert_eq!(
            w.check_break(A, 64, 0),
            Err(BreakError::OutOfMap { x: 64, y: 0 })
        );
        assert_eq!(w.check_break(B, 0, 0), Err(BreakError::UnknownPlayer));
        assert!(hold_break(&mut w, &mut seq, 31, 31, 30).is_empty());
        assert!(hold_break(&mut w, &mut seq, 40, 32, 30).is_empty());
        assert!(hold_break(&mut w, &mut seq, 1000, 1000, 30).is_empty());
        w.map.set(33, 32, Tile::Cobblestone).unwrap();
        for _ in 0..30 {
            seq += 1;
            let gun = Input {
                item: Item::Gun,
                ..input(seq, 0, 0, Action::Break { x: 33, y: 32 })
            };
            assert!(w.tick(&[(A, gun)]).is_empty());
        }
        assert_eq!(w.check_break(A, 33, 32), Err(BreakError::WrongItem));
        assert_eq!(w.map.get(33, 32), Some(Tile::Cobblestone));
        assert_eq!(w.map.dynatiles().count_ones(), 0);
    }

    #[test]
    fn state_hash_is_deterministic_and_sensitive() {
        let run = |order: &[(PlayerId, &str)]| {
            let mut w = World::new(
                crate::worldgen::generate("seed", crate::Theme::Default, crate::MapSize::Small)
                    .unwrap(),
            );
            for (id, name) in order {
                w.add_player(*id, name).unwrap();
            }
            let mut hashes = Vec::new();
            for s in 1..=30u32 {
                let mx = [(s % 3) as i8 - 1, 1][usize::from(s > 15)];
                w.tick(&[
                    (A, input(s, mx, 1, Action::None)),
                    (B, input(s, -1, 0, Action::None)),
                ]);
                hashes.push(w.state_hash());
            }
            hashes
        };
        let a = run(&[(A, "alice"), (B, "bob")]);
        let b = run(&[(B, "bob"), (A, "alice")]);
        assert_eq!(a, b);
        let mut seen = a.clone();
        seen.dedup();
        assert_eq!(seen.len(), a.len());
        let w1 = world(Tile::Grass);
        let mut w2 = w1.clone();
        assert_eq!(w1.state_hash(), w2.state_hash());
        w2.players.get_mut(&A).unwrap().last_input_seq = 1;
        assert_ne!(w1.state_hash(), w2.state_hash());
        let mut w3 = w1.clone();
        w3.map.change(0, 0, Tile::Grass).unwrap();
        assert_ne!(w1.state_hash(), w3.state_hash());
    }
}
