//! The player list: remote players with interpolation, and the predicted local player.
//!
//! Remote players are drawn between their last two server positions (interpolation by a factor
//! the renderer supplies). The local player moves at once with the same `game::step_movement`
//! the server runs (prediction); each snapshot tells which input the server has processed
//! (`ack_seq`) and where the player really is, and the client replays its unacknowledged inputs
//! from there (reconciliation). Only server-given state enters the state hash, so replays of the
//! same frames hash the same whatever the local timing was.

use std::collections::{BTreeMap, VecDeque};

use super::roster::Roster;

use tilegame_game::hash::{fold, PRODUCT_K as K};
use tilegame_game::{self as game, Map, MoveState, SUBPX, TICK_RATE};
use tilegame_protocol::v1::play;

/// A player as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemotePlayer {
    /// Player id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Body colour 0xRRGGBB.
    pub color: u32,
    /// Position in pixels at the latest snapshot.
    pub pos: (i32, i32),
    /// Position at the snapshot before (for interpolation).
    pub prev_pos: (i32, i32),
    /// Velocity in px/s.
    pub vel: (i32, i32),
    /// Health 0..=100.
    pub health: u8,
    /// Whether a position has been received (and the player is within view).
    pub placed: bool,
    /// Tick of the snapshot that last changed this player (`prev_pos` is from before it).
    #[serde(default)]
    pub moved_at: u32,
}

impl RemotePlayer {
    /// A player known by name only, not yet placed on the map.
    pub fn unplaced(id: u32, name: &str) -> Self {
        RemotePlayer {
            id,
            name: name.to_owned(),
            color: 0,
            pos: (0, 0),
            prev_pos: (0, 0),
            vel: (0, 0),
            health: game::MAX_HEALTH,
            placed: false,
            moved_at: 0,
        }
    }
}

/// Inputs applied locally but not yet acknowledged, and the predicted state.
#[derive(Debug, Clone, Default)]
pub struct Prediction {
    state: MoveState,
    pending: VecDeque<game::Input>,
    last_error_px: i32,
    max_error_px: i32,
}

/// Most unacknowledged inputs kept (5 s at 20 ticks/s); older ones are dropped.
const MAX_PENDING: usize = 100;

impl Prediction {
    /// The predicted state (sub-pixels).
    pub fn state(&self) -> MoveState {
        self.state
    }

    /// Predicted position in (fractional) pixels.
    pub fn pos_px(&self) -> (f32, f32) {
        (
            self.state.x as f32 / SUBPX as f32,
            self.state.y as f32 / SUBPX as f32,
        )
    }

    /// Distance in pixels between prediction and the server at the last reconciliation.
    pub fn last_error_px(&self) -> i32 {
        self.last_error_px
    }

    /// Largest such distance seen.
    pub fn max_error_px(&self) -> i32 {
        self.max_error_px
    }

    /// Inputs not yet acknowledged.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

/// A known player with the name's part of its hash ([`name_part`]), computed when the name is
/// set rather than on every tick's hash (the name rarely changes; the fields hashed with it do).
#[derive(Debug, Clone)]
struct Known {
    player: RemotePlayer,
    /// `name_part(&player.name)`.
    name_part: u64,
}

impl Known {
    fn new(player: RemotePlayer) -> Self {
        Known {
            name_part: name_part(&player.name),
            player,
        }
    }
}

/// Everyone in the game, as this client knows it.
#[derive(Debug, Clone, Default)]
pub struct PlayerManager {
    /// Every player known, by id: a [`Roster`], whose look-up is one load for the dense ids a
    /// server hands out and stays logarithmic for any other (a hostile recording or server
    /// may send any ids, in any order).
    players: Roster<Known>,
    names: BTreeMap<String, u32>,
    local_id: Option<u32>,
    tick: u32,
    ack_seq: u32,
    prediction: Prediction,
    anomalies: u64,
}

fn server_state(p: &RemotePlayer) -> MoveState {
    MoveState {
        x: p.pos.0 * SUBPX + SUBPX / 2,
        y: p.pos.1 * SUBPX + SUBPX / 2,
        vx: p.vel.0 * SUBPX / TICK_RATE as i32,
        vy: p.vel.1 * SUBPX / TICK_RATE as i32,
    }
}

impl PlayerManager {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets who we are and where we spawn.
    pub fn set_local(&mut self, id: u32, name: &str, spawn: (i32, i32)) {
        self.local_id = Some(id);
        let p = &self
            .players
            .get_or_insert_with(id, || {
                Known::new(RemotePlayer {
                    pos: spawn,
                    prev_pos: spawn,
                    placed: true,
                    ..RemotePlayer::unplaced(id, name)
                })
            })
            .player;
        self.names.insert(p.name.clone(), id);
        self.prediction = Prediction {
            state: server_state(p),
            ..Prediction::default()
        };
    }

    /// Rebuilds a manager from saved players (a keyframe); the prediction restarts from the
    /// local player's saved state.
    pub fn restore(
        players: Vec<RemotePlayer>,
        local_id: Option<u32>,
        tick: u32,
        ack_seq: u32,
    ) -> PlayerManager {
        let mut m = PlayerManager {
            local_id,
            tick,
            ack_seq,
            ..PlayerManager::default()
        };
        for p in players {
            m.names.insert(p.name.clone(), p.id);
            let id = p.id;
            if let Some(known) = m.players.get_mut(id) {
                *known = Known::new(p);
            } else {
                m.players.insert(id, Known::new(p));
            }
        }
        if let Some(local) = m.local() {
            m.prediction = Prediction {
                state: server_state(local),
                ..Prediction::default()
            };
        }
        m
    }

    /// Adds players listed at join (names only; positions come with the first snapshot).
    pub fn add_listed(&mut self, id: u32, name: &str) {
        self.players
            .get_or_insert_with(id, || Known::new(RemotePlayer::unplaced(id, name)));
        self.names.insert(name.to_owned(), id);
    }

    /// Applies one server packet; `map` is used to reconcile the local prediction.
    pub fn apply(&mut self, packet: &play::ToClient, map: Option<&Map>) {
        match packet {
            play::ToClient::Snapshot(s) => {
                self.tick = s.tick;
                self.ack_seq = s.ack_seq;
                // Only players in this snapshot move; `prev_pos`/`moved_at` record where each was
                // before its latest delta, so a snapshot costs O(deltas), not O(players known).
                for d in &s.players {
                    // One look-up per delta: with a thousand players known, the tree's nodes
                    // are cache misses, and this loop is most of a crowded client's work.
                    let index = match self.players.index_of(d.id) {
                        Some(index) => index,
                        None if d.name.is_none() || d.position.is_none() => {
                            self.anomalies += 1;
                            continue;
                        }
                        None => self
                            .players
                            .insert(d.id, Known::new(RemotePlayer::unplaced(d.id, ""))),
                    };
                    let Some(known) = self.players.at_mut(index) else {
                        continue;
                    };
                    let p = &mut known.player;
                    p.prev_pos = p.pos;
                    p.moved_at = s.tick;
                    if let Some(name) = &d.name {
                        if *name != p.name {
                            self.names.remove(&p.name);
                            p.name.clone_from(name);
                            known.name_part = name_part(name);
                        }
                        self.names.insert(name.clone(), d.id);
                    }
                    if let Some(pos) = &d.position {
                        p.pos = (pos.x, pos.y);
                        if !p.placed {
                            p.prev_pos = p.pos;
                        }
                        p.placed = true;
                    }
                    p.pos.0 = p.pos.0.wrapping_add(d.dx.unwrap_or(0));
                    p.pos.1 = p.pos.1.wrapping_add(d.dy.unwrap_or(0));
                    if let Some(v) = &d.velocity {
                        p.vel = (v.x, v.y);
                    } else if d.position.is_some() {
                        p.vel = (0, 0);
                    }
                    if let Some(h) = d.health {
                        p.health = h.min(game::MAX_HEALTH);
                    }
                    if let Some(c) = d.color {
                        p.color = c & 0xff_ffff;
                    }
                }
                for id in &s.gone {
                    if Some(*id) == self.local_id {
                        self.anomalies += 1;
                    } else if let Some(known) = self.players.get_mut(*id) {
                        known.player.placed = false;
                    }
                }
                if let Some(map) = map {
                    self.reconcile(map);
                }
            }
            play::ToClient::PlayerJoined(j) => self.add_listed(j.player.id, &j.player.name),
            play::ToClient::PlayerLeft(l) => {
                if let Some(known) = self.players.remove(l.id) {
                    self.names.remove(&known.player.name);
                }
            }
            play::ToClient::Pong(_)
            | play::ToClient::Kick(_)
            | play::ToClient::Chat(_)
            | play::ToClient::ChatRefused(_) => {}
        }
    }

    /// Applies a local input at once (prediction); call once per local tick.
    pub fn predict(&mut self, map: &Map, input: game::Input) {
        if self.local().is_some_and(|p| p.health == 0) {
            return;
        }
        self.prediction.state =
            game::step_movement(map, &self.prediction.state, input.move_x, input.move_y);
        if self.prediction.pending.len() == MAX_PENDING {
            self.prediction.pending.pop_front();
        }
        self.prediction.pending.push_back(input);
    }

    /// Re-bases the prediction on the server's state and replays unacknowledged inputs.
    fn reconcile(&mut self, map: &Map) {
        // The fields used, not a clone (a clone allocates the name on every snapshot).
        let Some((local_state, local_health)) = self.local().map(|p| (server_state(p), p.health))
        else {
            return;
        };
        let ack = self.ack_seq;
        while self
            .prediction
            .pending
            .front()
            .is_some_and(|i| i.seq <= ack)
        {
            self.prediction.pending.pop_front();
        }
        let mut state = local_state;
        // How far off were we for the acknowledged input? Compare before replaying the rest.
        let predicted_then = self.prediction.pending.iter().fold(state, |s, i| {
            game::step_movement(map, &s, i.move_x, i.move_y)
        });
        let err = (predicted_then.x - self.prediction.state.x)
            .abs()
            .max((predicted_then.y - self.prediction.state.y).abs())
            / SUBPX;
        self.prediction.last_error_px = err;
        self.prediction.max_error_px = self.prediction.max_error_px.max(err);
        if local_health > 0 {
            for i in &self.prediction.pending {
                state = game::step_movement(map, &state, i.move_x, i.move_y);
            }
        }
        self.prediction.state = state;
    }

    /// Our own player, once joined.
    pub fn local(&self) -> Option<&RemotePlayer> {
        self.local_id.and_then(|id| self.get(id))
    }

    /// Our id.
    pub fn local_id(&self) -> Option<u32> {
        self.local_id
    }

    /// The prediction of the local player.
    pub fn prediction(&self) -> &Prediction {
        &self.prediction
    }

    /// A player by id.
    pub fn get(&self, id: u32) -> Option<&RemotePlayer> {
        self.players.get(id).map(|k| &k.player)
    }

    /// A player by name.
    pub fn by_name(&self, name: &str) -> Option<&RemotePlayer> {
        self.names.get(name).and_then(|id| self.get(*id))
    }

    /// All players in id order.
    pub fn iter(&self) -> impl Iterator<Item = &RemotePlayer> {
        self.players.iter().map(|(_, k)| &k.player)
    }

    /// How many players.
    pub fn len(&self) -> usize {
        self.players.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.players.is_empty()
    }

    /// Position of a player between its last two snapshots (`alpha` 0 = previous, 1 = latest).
    pub fn interpolated(&self, id: u32, alpha: f32) -> Option<(f32, f32)> {
        let p = self.get(id)?;
        if p.moved_at != self.tick {
            return Some((p.pos.0 as f32, p.pos.1 as f32));
        }
        let a = alpha.clamp(0.0, 1.0);
        Some((
            p.prev_pos.0 as f32 + (p.pos.0 - p.prev_pos.0) as f32 * a,
            p.prev_pos.1 as f32 + (p.pos.1 - p.prev_pos.1) as f32 * a,
        ))
    }

    /// Latest server tick applied.
    pub fn tick(&self) -> u32 {
        self.tick
    }

    /// Last input sequence the server acknowledged.
    pub fn ack_seq(&self) -> u32 {
        self.ack_seq
    }

    /// Deltas for unknown players without a first-sight record (ignored).
    pub fn anomalies(&self) -> u64 {
        self.anomalies
    }

    /// Stable hash of the server-given state (the tick, the ack, the local id and every player)
    /// as replay format 5 records it: each player's fields are mixed a few words at a time
    /// ([`player_hash`]) and the players combined by wrapping addition (their ids are in their
    /// hashes), so no chain runs through all of them byte by byte.
    pub fn state_hash(&self) -> u64 {
        let sum = self.players.values().fold(0u64, |acc, k| {
            debug_assert_eq!(k.name_part, name_part(&k.player.name));
            acc.wrapping_add(hash_with_name_part(&k.player, k.name_part))
        });
        let head = fold(
            (u64::from(self.tick) | u64::from(self.ack_seq) << 32) ^ K[0],
            (u64::from(self.local_id.unwrap_or(0)) | (self.players.len() as u64) << 32) ^ K[1],
        );
        fold(head ^ K[2], sum ^ K[3])
    }

    /// The same state hashed as replay formats 1 to 4 record it: FNV-1a over every player's
    /// bytes in id order (one dependent multiplication per byte).
    pub fn state_hash_fnv(&self) -> u64 {
        let mut h = tilegame_game::StableHasher::default();
        h.write_u32(self.tick);
        h.write_u32(self.ack_seq);
        h.write_u32(self.local_id.unwrap_or(0));
        h.write_u32(self.players.len() as u32);
        for p in self.iter() {
            h.write_u32(p.id);
            h.write_str(&p.name);
            h.write_u32(p.color);
            h.write_i32(p.pos.0);
            h.write_i32(p.pos.1);
            h.write_i32(p.vel.0);
            h.write_i32(p.vel.1);
            h.write_u8(p.health);
            h.write_bool(p.placed);
        }
        h.finish()
    }
}

/// Eight little-endian bytes of `bytes` from `at`, zero-padded past its end.
#[inline]
fn word(bytes: &[u8], at: usize) -> u64 {
    let rest = bytes.get(at..).unwrap_or_default();
    if let Some(w) = rest.first_chunk::<8>() {
        return u64::from_le_bytes(*w);
    }
    // A short tail (the end of every name) in whole loads, no byte loop and no copy into a
    // buffer (read back whole, that stalls the load): the last 8 bytes of `bytes` shifted down
    // past the ones before `at`, or, in a slice shorter than 8, two 4-byte loads that overlap
    // on equal bytes (or the last 3 bytes one by one).
    let n = rest.len();
    if n == 0 {
        return 0;
    }
    if let Some(last) = bytes.last_chunk::<8>() {
        return u64::from_le_bytes(*last) >> ((8 - n) * 8);
    }
    match (rest.first_chunk::<4>(), rest.last_chunk::<4>()) {
        (Some(lo), Some(hi)) => {
            u64::from(u32::from_le_bytes(*lo)) | u64::from(u32::from_le_bytes(*hi)) << ((n - 4) * 8)
        }
        _ => rest
            .iter()
            .rev()
            .fold(0u64, |w, &b| (w << 8) | u64::from(b)),
    }
}

/// One player's format-5 hash (see `spec/replay.ron`): two products of its fields' words, one
/// per 16 bytes of its name, combined by one more. The products are independent of each other
/// and of the other players', so a tick's players hash side by side rather than byte by byte.
pub fn player_hash(p: &RemotePlayer) -> u64 {
    hash_with_name_part(p, name_part(&p.name))
}

/// The part of a player's format-5 hash that depends on its name's bytes alone: the sum of one
/// product per 16 bytes (their words, each block's index mixed in).
fn name_part(name: &str) -> u64 {
    let name = name.as_bytes();
    let mut names = 0u64;
    for (i, at) in (0..name.len()).step_by(16).enumerate() {
        names = names.wrapping_add(fold(
            word(name, at) ^ K[1] ^ i as u64,
            word(name, at + 8) ^ K[2],
        ));
    }
    names
}

/// [`player_hash`] given its name's part ([`name_part`]).
#[inline]
fn hash_with_name_part(p: &RemotePlayer, names: u64) -> u64 {
    let pair = |a: i32, b: i32| u64::from(a as u32) | u64::from(b as u32) << 32;
    let a = fold(
        (u64::from(p.id) | u64::from(p.color) << 32) ^ K[0],
        pair(p.pos.0, p.pos.1) ^ K[1],
    );
    let b = fold(
        pair(p.vel.0, p.vel.1) ^ K[2],
        (u64::from(p.health) | u64::from(p.placed) << 8 | (p.name.len() as u64) << 16) ^ K[3],
    );
    fold(a ^ names ^ K[3], b ^ K[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilegame_protocol::v1::{PlayerDelta, Position};

    fn delta(id: u32) -> PlayerDelta {
        PlayerDelta {
            id,
            name: None,
            position: None,
            dx: None,
            dy: None,
            velocity: None,
            health: None,
            color: None,
        }
    }

    fn snap(tick: u32, ack: u32, players: Vec<PlayerDelta>) -> play::ToClient {
        play::ToClient::Snapshot(play::Snapshot {
            tick,
            ack_seq: ack,
            players,
            tiles: vec![],
            gone: vec![],
        })
    }

    #[test]
    fn first_sight_then_deltas_and_lookup_by_name() {
        let mut m = PlayerManager::new();
        let first = PlayerDelta {
            name: Some("bob".into()),
            position: Some(Position { x: 10, y: 20 }),
            health: Some(90),
            ..delta(2)
        };
        m.apply(&snap(1, 0, vec![first]), None);
        m.apply(
            &snap(
                2,
                0,
                vec![PlayerDelta {
                    dx: Some(5),
                    ..delta(2)
                }],
            ),
            None,
        );
        let bob = m.by_name("bob").unwrap();
        assert_eq!((bob.pos, bob.health), ((15, 20), 90));
        assert_eq!(m.interpolated(2, 0.5), Some((12.5, 20.0)));
        m.apply(
            &snap(
                3,
                0,
                vec![PlayerDelta {
                    dx: Some(1),
                    ..delta(9)
                }],
            ),
            None,
        );
        assert_eq!(m.anomalies(), 1);
    }

    /// A known state: the local player and two others, one with a 9-byte name.
    fn known_state() -> PlayerManager {
        let mut m = PlayerManager::new();
        m.set_local(1, "me", (100, 200));
        let bob = PlayerDelta {
            name: Some("bob".into()),
            position: Some(Position { x: 10, y: 20 }),
            velocity: Some(Position { x: -60, y: 0 }),
            health: Some(90),
            color: Some(0x12_34_56),
            ..delta(2)
        };
        let long = PlayerDelta {
            name: Some("ninebytes".into()),
            position: Some(Position { x: -5, y: 7 }),
            ..delta(300)
        };
        m.apply(&snap(41, 17, vec![bob, long]), None);
        m
    }

    /// The words a name is hashed by are its little-endian bytes, zero-padded, whatever the
    /// name's length and wherever the word starts (the short tails are read in whole loads).
    #[test]
    fn words_are_the_zero_padded_little_endian_bytes() {
        let bytes: Vec<u8> = (1..=40u8).map(|b| b.wrapping_mul(37)).collect();
        for len in 0..=bytes.len() {
            let name = &bytes[..len];
            for at in 0..len + 10 {
                let mut padded = [0u8; 8];
                for (i, b) in name.iter().skip(at).take(8).enumerate() {
                    padded[i] = *b;
                }
                assert_eq!(
                    word(name, at),
                    u64::from_le_bytes(padded),
                    "len {len} at {at}"
                );
            }
        }
    }

    #[test]
    fn the_state_hashes_of_a_known_state_are_pinned() {
        let m = known_state();
        // Format 5's definition (spec/replay.ron) and formats 1-4's FNV-1a: recordings carry
        // these values, so they may never change.
        assert_eq!(m.state_hash(), 0x443e_d475_118d_8d14);
        assert_eq!(m.state_hash_fnv(), 0xb051_1788_a731_7898);
    }

    #[test]
    fn every_hashed_field_changes_the_format_5_hash() {
        let m = known_state();
        let base = m.state_hash();
        let p = m.get(2).expect("bob").clone();
        let changed: [fn(&mut RemotePlayer); 8] = [
            |p| p.id += 1,
            |p| p.name.push('x'),
            |p| p.color ^= 1,
            |p| p.pos.0 += 1,
            |p| p.pos.1 -= 1,
            |p| p.vel.1 += 1,
            |p| p.health -= 1,
            |p| p.placed = !p.placed,
        ];
        for (i, change) in changed.iter().enumerate() {
            let mut q = p.clone();
            change(&mut q);
            assert_ne!(player_hash(&q), player_hash(&p), "field {i}");
            let mut n = m.clone();
            if let Some(k) = n.players.get_mut(2) {
                *k = Known::new(q);
            }
            assert_ne!(n.state_hash(), base, "field {i}");
        }
        // The tick, the ack and the local id are hashed too; prev_pos and moved_at are not.
        let mut n = m.clone();
        n.tick += 1;
        assert_ne!(n.state_hash(), base);
        let mut n = m.clone();
        n.ack_seq += 1;
        assert_ne!(n.state_hash(), base);
        let mut n = m.clone();
        if let Some(k) = n.players.get_mut(2) {
            k.player.prev_pos.0 += 1;
            k.player.moved_at += 1;
        }
        assert_eq!(n.state_hash(), base);
    }

    #[test]
    fn prediction_matches_the_server_when_inputs_are_applied_in_step() {
        let map = Map::new(64, 64, tilegame_game::Tile::Grass).unwrap();
        let mut world = tilegame_game::World::new(map.clone());
        world.add_player(game::PlayerId(1), "me").unwrap();
        let spawn = world.player(game::PlayerId(1)).unwrap().motion;
        let mut m = PlayerManager::new();
        m.set_local(
            1,
            "me",
            (spawn.x.div_euclid(SUBPX), spawn.y.div_euclid(SUBPX)),
        );
        for seq in 1..=30u32 {
            let input = game::Input {
                seq,
                move_x: 1,
                move_y: i8::from(seq > 10),
                ..game::Input::default()
            };
            m.predict(&map, input);
            world.tick(&[(game::PlayerId(1), input)]);
            let p = world.player(game::PlayerId(1)).unwrap();
            let q = crate::managers::players::tests::quantize(p);
            let d = PlayerDelta {
                position: Some(Position { x: q.0, y: q.1 }),
                velocity: Some(Position { x: q.2, y: q.3 }),
                ..delta(1)
            };
            m.apply(&snap(seq, seq, vec![d]), Some(&map));
            assert!(
                m.prediction().last_error_px() <= 1,
                "error {} at {seq}",
                m.prediction().last_error_px()
            );
        }
    }

    pub(crate) fn quantize(p: &game::Player) -> (i32, i32, i32, i32) {
        (
            p.motion.x.div_euclid(SUBPX),
            p.motion.y.div_euclid(SUBPX),
            p.motion.vx * TICK_RATE as i32 / SUBPX,
            p.motion.vy * TICK_RATE as i32 / SUBPX,
        )
    }
}
