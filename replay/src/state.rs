//! Printable views of the managers' state and field-by-field differences between two states.
//!
//! `play --print-state` prints a [`StateView`]; `verify` writes the recorded and replayed views
//! and a [`StateDiff`] when a tick diverges; `diff` reports the first differing field between
//! two recordings. Hashes say *that* two states differ; this module says *where*: which tiles
//! and which player's which field.

use serde::{Deserialize, Serialize};
use tilegame_client::managers::RemotePlayer;
use tilegame_client::play::PlayState;

/// The two managers' state hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateHashes {
    /// `WorldManager::state_hash`.
    pub world: u64,
    /// `PlayerManager::state_hash`.
    pub players: u64,
}

/// The newest replay format whose tick hashes hash the players by FNV-1a
/// (`PlayerManager::state_hash_fnv`); later formats use `PlayerManager::state_hash`.
pub const LAST_FNV_FORMAT: u16 = 4;

impl StateHashes {
    /// The hashes of a play state, as the recorders write them now (format 5 on).
    pub fn of(play: &PlayState) -> Self {
        let (world, players) = play.state_hash();
        StateHashes { world, players }
    }

    /// The hashes of a play state as a recording of `format_version` records them.
    pub fn of_format(play: &PlayState, format_version: u16) -> Self {
        let (world, players) = if format_version <= LAST_FNV_FORMAT {
            play.state_hash_fnv()
        } else {
            play.state_hash()
        };
        StateHashes { world, players }
    }
}

impl std::fmt::Display for StateHashes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "world {:#018x} players {:#018x}",
            self.world, self.players
        )
    }
}

/// The managers' state, as JSON for people and tools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateView {
    /// Latest server tick applied (world manager).
    pub tick: u32,
    /// World state hash (hex).
    pub world_hash: String,
    /// Players state hash (hex).
    pub players_hash: String,
    /// The map's digest (the world hash without size and tick; hex).
    pub world_digest: String,
    /// Map width and height in tiles (0×0 before the map arrived).
    pub map_size: (u16, u16),
    /// World seed.
    pub seed: String,
    /// Tiles changed since the map was generated (the dynatile layer's set bits).
    pub changed_tiles: usize,
    /// The local player's id.
    pub local_id: Option<u32>,
    /// Tick of the latest snapshot the player manager applied.
    pub players_tick: u32,
    /// Last input the server acknowledged.
    pub ack_seq: u32,
    /// Every player in id order, with all fields.
    pub players: Vec<RemotePlayer>,
}

/// Tiles whose changed bit is set.
pub fn changed_tiles(play: &PlayState) -> usize {
    play.world.map().map_or(0, |m| {
        let layer = m.dynatiles();
        (0..layer.len())
            .filter(|&i| layer.get(i).unwrap_or(false))
            .count()
    })
}

impl StateView {
    /// Captures a play state (hashes as formats 5 and 6 define them).
    pub fn of(play: &PlayState) -> Self {
        Self::of_format(play, tilegame_protocol::replay_file::FORMAT_VERSION)
    }

    /// Captures a play state with hashes as a recording of `format_version` defines them.
    pub fn of_format(play: &PlayState, format_version: u16) -> Self {
        let hashes = StateHashes::of_format(play, format_version);
        StateView {
            tick: play.world.tick(),
            world_hash: format!("{:#018x}", hashes.world),
            players_hash: format!("{:#018x}", hashes.players),
            world_digest: format!("{:#018x}", play.world.map_digest()),
            map_size: play.world.map().map_or((0, 0), |m| (m.width(), m.height())),
            seed: play.world.seed().to_owned(),
            changed_tiles: changed_tiles(play),
            local_id: play.players.local_id(),
            players_tick: play.players.tick(),
            ack_seq: play.players.ack_seq(),
            players: play.players.iter().cloned().collect(),
        }
    }
}

/// One tile that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileDiff {
    /// Column.
    pub x: u16,
    /// Row.
    pub y: u16,
    /// Tile on the expected (recorded / first) side, with its changed bit.
    pub expected: (String, bool),
    /// Tile on the actual (replayed / second) side, with its changed bit.
    pub actual: (String, bool),
}

/// One player field that differs (`field` = `"present"` when only one side has the player).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerFieldDiff {
    /// Player id.
    pub id: u32,
    /// Player name (from whichever side has it).
    pub name: String,
    /// Field name (`name`, `color`, `pos`, `prev_pos`, `vel`, `health`, `placed`, `present`).
    pub field: String,
    /// Expected value (JSON).
    pub expected: serde_json::Value,
    /// Actual value (JSON).
    pub actual: serde_json::Value,
}

/// Most tile differences listed (the total is always counted).
pub const MAX_TILE_DIFFS: usize = 64;

/// Where two states differ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StateDiff {
    /// Differences of scalar fields (tick, map size, seed, local id, ack, players tick):
    /// `(field, expected, actual)`.
    pub meta: Vec<(String, String, String)>,
    /// Differing tiles (at most [`MAX_TILE_DIFFS`]).
    pub tiles: Vec<TileDiff>,
    /// How many tiles differ in all.
    pub tiles_differing: usize,
    /// Differing player fields, in player id order.
    pub players: Vec<PlayerFieldDiff>,
}

impl StateDiff {
    /// Whether the states are equal in every compared field.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty() && self.tiles_differing == 0 && self.players.is_empty()
    }

    /// Whether the world part (map, tiles, world tick) differs.
    pub fn world_differs(&self) -> bool {
        self.tiles_differing > 0
            || self
                .meta
                .iter()
                .any(|(f, _, _)| matches!(f.as_str(), "tick" | "map_size" | "seed"))
    }

    /// Whether the players part differs.
    pub fn players_differ(&self) -> bool {
        !self.players.is_empty()
            || self
                .meta
                .iter()
                .any(|(f, _, _)| matches!(f.as_str(), "local_id" | "ack_seq" | "players_tick"))
    }

    /// Up to `max` lines describing the differences, first ones first (`a`, `b` name the sides),
    /// e.g. `player 2 "bot2" pos: recorded [1,2], replayed [1,3]`.
    pub fn describe(&self, a: &str, b: &str, max: usize) -> Vec<String> {
        let mut lines = Vec::new();
        for (f, x, y) in &self.meta {
            lines.push(format!("{f}: {a} {x}, {b} {y}"));
        }
        if self.tiles_differing > 0 {
            lines.push(format!("{} tiles differ", self.tiles_differing));
        }
        for t in &self.tiles {
            let changed = |c: bool| if c { " (changed)" } else { "" };
            lines.push(format!(
                "tile ({}, {}): {a} {}{}, {b} {}{}",
                t.x,
                t.y,
                t.expected.0,
                changed(t.expected.1),
                t.actual.0,
                changed(t.actual.1)
            ));
        }
        for p in &self.players {
            lines.push(format!(
                "player {} {:?} {}: {a} {}, {b} {}",
                p.id, p.name, p.field, p.expected, p.actual
            ));
        }
        if lines.len() > max {
            let more = lines.len() - max;
            lines.truncate(max);
            lines.push(format!("… and {more} more"));
        }
        lines
    }

    /// One line naming the first difference.
    pub fn first(&self) -> Option<String> {
        self.describe("expected", "replayed", 2)
            .into_iter()
            .find(|l| !l.ends_with("tiles differ"))
    }
}

fn json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// How the players of two states are paired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Match {
    /// By player id (the same session replayed twice).
    #[default]
    Id,
    /// By name (two sessions whose players joined in another order, so got other ids).
    Name,
}

/// Compares two states field by field (`expected` first), pairing players by id.
pub fn diff(expected: &PlayState, actual: &PlayState) -> StateDiff {
    diff_matched(expected, actual, Match::Id)
}

/// The players of a state as `by` pairs them: everything but the id when by name.
pub fn players_key(play: &PlayState, by: Match) -> Vec<(String, u32, RemotePlayer)> {
    let mut out: Vec<(String, u32, RemotePlayer)> = play
        .players
        .iter()
        .map(|p| {
            let mut p = p.clone();
            let id = p.id;
            if by == Match::Name {
                p.id = 0;
            }
            match by {
                Match::Id => (String::new(), id, p),
                Match::Name => (p.name.clone(), 0, p),
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    out
}

/// Compares two states field by field (`expected` first), pairing players as `by` says.
pub fn diff_matched(expected: &PlayState, actual: &PlayState, by: Match) -> StateDiff {
    let mut d = StateDiff::default();
    let mut meta = |field: &str, a: String, b: String| {
        if a != b {
            d.meta.push((field.to_owned(), a, b));
        }
    };
    let size = |p: &PlayState| {
        p.world.map().map_or("none".to_owned(), |m| {
            format!("{}x{}", m.width(), m.height())
        })
    };
    meta(
        "tick",
        expected.world.tick().to_string(),
        actual.world.tick().to_string(),
    );
    meta("map_size", size(expected), size(actual));
    meta(
        "seed",
        expected.world.seed().to_owned(),
        actual.world.seed().to_owned(),
    );
    let local = |p: &PlayState| match (by, p.players.local_id()) {
        (_, None) => "none".to_owned(),
        (Match::Id, Some(id)) => id.to_string(),
        (Match::Name, Some(id)) => p
            .players
            .get(id)
            .map_or(format!("id {id}"), |r| format!("{:?}", r.name)),
    };
    meta(
        if by == Match::Id { "local_id" } else { "local" },
        local(expected),
        local(actual),
    );
    meta(
        "players_tick",
        expected.players.tick().to_string(),
        actual.players.tick().to_string(),
    );
    meta(
        "ack_seq",
        expected.players.ack_seq().to_string(),
        actual.players.ack_seq().to_string(),
    );
    if let (Some(a), Some(b)) = (expected.world.map(), actual.world.map()) {
        if a.width() == b.width() && a.height() == b.height() && a.width() > 0 {
            let w = usize::from(a.width());
            let (da, db) = (a.dynatiles(), b.dynatiles());
            for (i, (ta, tb)) in a.tiles().iter().zip(b.tiles()).enumerate() {
                let (ca, cb) = (da.get(i).unwrap_or(false), db.get(i).unwrap_or(false));
                if ta != tb || ca != cb {
                    d.tiles_differing += 1;
                    if d.tiles.len() < MAX_TILE_DIFFS {
                        d.tiles.push(TileDiff {
                            x: (i % w) as u16,
                            y: (i / w) as u16,
                            expected: (format!("{ta:?}"), ca),
                            actual: (format!("{tb:?}"), cb),
                        });
                    }
                }
            }
        }
    }
    match by {
        Match::Id => {
            let mut ids: Vec<u32> = expected
                .players
                .iter()
                .chain(actual.players.iter())
                .map(|p| p.id)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            for id in ids {
                pair(expected.players.get(id), actual.players.get(id), id, &mut d);
            }
        }
        Match::Name => {
            fn by_name(p: &PlayState) -> std::collections::BTreeMap<String, &RemotePlayer> {
                p.players.iter().map(|r| (r.name.clone(), r)).collect()
            }
            let (ea, eb) = (by_name(expected), by_name(actual));
            let mut names: Vec<&String> = ea.keys().chain(eb.keys()).collect();
            names.sort_by(|a, b| natural_cmp(a, b));
            names.dedup();
            for name in names {
                let (a, b) = (ea.get(name).copied(), eb.get(name).copied());
                let id = a.or(b).map_or(0, |p| p.id);
                pair(a, b, id, &mut d);
            }
        }
    }
    d
}

fn pair(a: Option<&RemotePlayer>, b: Option<&RemotePlayer>, id: u32, d: &mut StateDiff) {
    match (a, b) {
        (Some(a), Some(b)) => player_fields(a, b, &mut d.players),
        (a, b) => d.players.push(PlayerFieldDiff {
            id,
            name: a.or(b).map(|p| p.name.clone()).unwrap_or_default(),
            field: "present".into(),
            expected: json(&a.is_some()),
            actual: json(&b.is_some()),
        }),
    }
}

/// Orders names as people count: `player2` before `player10` (runs of digits by value).
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for ((da, xa), (db, xb)) in ca.iter().zip(cb.iter()) {
        let ord = match (da, db) {
            (true, true) => {
                let (ta, tb) = (xa.trim_start_matches('0'), xb.trim_start_matches('0'));
                ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
            }
            _ => xa.cmp(xb),
        };
        if ord != std::cmp::Ordering::Equal {
            return ord;
        }
    }
    ca.len().cmp(&cb.len()).then_with(|| a.cmp(b))
}

fn player_fields(a: &RemotePlayer, b: &RemotePlayer, out: &mut Vec<PlayerFieldDiff>) {
    let mut field = |name: &str, x: serde_json::Value, y: serde_json::Value| {
        if x != y {
            out.push(PlayerFieldDiff {
                id: a.id,
                name: a.name.clone(),
                field: name.to_owned(),
                expected: x,
                actual: y,
            });
        }
    };
    field("name", json(&a.name), json(&b.name));
    field("color", json(&a.color), json(&b.color));
    field("pos", json(&a.pos), json(&b.pos));
    field("prev_pos", json(&a.prev_pos), json(&b.prev_pos));
    field("vel", json(&a.vel), json(&b.vel));
    field("health", json(&a.health), json(&b.health));
    field("placed", json(&a.placed), json(&b.placed));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilegame_game::{generate, MapSize, Theme, Tile};

    fn state() -> PlayState {
        let mut play = PlayState::new();
        let map = generate("d", Theme::Default, MapSize::Small).unwrap();
        play.world.load(map, "d", Theme::Default, 3);
        play.players.set_local(1, "me", (10, 10));
        play.players.add_listed(2, "other");
        play
    }

    #[test]
    fn names_sort_naturally() {
        let mut names = vec![
            "player10",
            "player2",
            "bot",
            "player1",
            "player02x",
            "Player3",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            [
                "Player3",
                "bot",
                "player1",
                "player2",
                "player02x",
                "player10"
            ]
        );
        assert_eq!(natural_cmp("", "a"), std::cmp::Ordering::Less);
    }

    #[test]
    fn players_matched_by_name_ignore_their_ids() {
        let mut a = PlayState::new();
        let mut b = PlayState::new();
        for (p, ids) in [(&mut a, [1, 2, 3]), (&mut b, [3, 1, 2])] {
            let map = generate("d", Theme::Default, MapSize::Small).unwrap();
            p.world.load(map, "d", Theme::Default, 3);
            p.players.set_local(ids[0], "me", (10, 10));
            p.players.add_listed(ids[1], "alice");
            p.players.add_listed(ids[2], "bob");
        }
        assert!(!diff(&a, &b).is_empty());
        let by_name = diff_matched(&a, &b, Match::Name);
        assert!(by_name.is_empty(), "{by_name:?}");
        assert_eq!(players_key(&a, Match::Name), players_key(&b, Match::Name));
        assert_ne!(players_key(&a, Match::Id), players_key(&b, Match::Id));
        let d = diff(&a, &b);
        assert!(
            d.describe("A", "B", 4)[0].starts_with("local_id: A 1, B 3"),
            "{:?}",
            d.describe("A", "B", 4)
        );
    }

    #[test]
    fn equal_states_have_an_empty_diff() {
        let (a, b) = (state(), state());
        let d = diff(&a, &b);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(StateView::of(&a), StateView::of(&b));
    }

    #[test]
    fn tiles_and_player_fields_are_named() {
        let a = state();
        let mut b = state();
        let mut kf = tilegame_client::keyframe::Keyframe::capture(&b).unwrap();
        kf.0.players[1].health = 40;
        b.players = kf.restore().unwrap().players;
        let mut map = b.world.map().unwrap().clone();
        map.change(5, 6, Tile::Lava).unwrap();
        b.world.load(map, "d", Theme::Default, 3);
        let d = diff(&a, &b);
        assert_eq!(d.tiles_differing, 1);
        assert_eq!((d.tiles[0].x, d.tiles[0].y), (5, 6));
        assert_eq!(d.tiles[0].actual, ("Lava".to_owned(), true));
        assert_eq!(d.players.len(), 1);
        assert_eq!(
            (d.players[0].id, d.players[0].field.as_str()),
            (2, "health")
        );
        assert!(d.world_differs() && d.players_differ());
        assert!(d.first().unwrap().starts_with("tile (5, 6)"));
    }
}
