//! The client side of play, shared by the window, headless clients and bots.
//!
//! [`PlayState`] owns the managers and the action queue and turns the player's intent into
//! numbered inputs: each input is predicted locally at once and carries the queued action.
//! Server packets go to the managers through [`PlayState::apply`]. It has no I/O and no clock.

use tilegame_game::{self as game, Action, Item};
use tilegame_protocol::v1::play;

use crate::managers::{ChatLog, PlayerManager, WorldManager};
use crate::net::{actions::ActionQueue, Joined};

/// Managers, inputs and actions of one player's session.
#[derive(Debug, Default)]
pub struct PlayState {
    /// The map.
    pub world: WorldManager,
    /// The players.
    pub players: PlayerManager,
    /// Discrete actions waiting.
    pub actions: ActionQueue,
    /// The chat lines received.
    pub chat: ChatLog,
    seq: u32,
    item: Item,
    held_break: Option<(u16, u16)>,
}

impl PlayState {
    /// An empty state (before joining).
    pub fn new() -> Self {
        Self::default()
    }

    /// A state made of existing managers (e.g. restored from a keyframe).
    pub fn from_managers(world: WorldManager, players: PlayerManager) -> Self {
        PlayState {
            world,
            players,
            ..PlayState::default()
        }
    }

    /// Installs what the server sent at join.
    pub fn join(&mut self, joined: &Joined, name: &str) {
        self.world
            .load(joined.map.clone(), &joined.seed, joined.theme, joined.tick);
        for p in &joined.players {
            self.players.add_listed(p.id, &p.name);
        }
        self.players.set_local(joined.player_id, name, joined.spawn);
    }

    /// Applies a server packet to the managers (and the chat) and acknowledges finished actions.
    pub fn apply(&mut self, packet: &play::ToClient) {
        self.world.apply(packet);
        self.players.apply(packet, self.world.map());
        self.chat.apply(packet, &self.players);
        if let (play::ToClient::Snapshot(s), Some(map)) = (packet, self.world.map()) {
            self.actions.acknowledge(s.ack_seq, map);
        }
    }

    /// Selects the held item.
    pub fn select_item(&mut self, item: Item) {
        self.item = item;
    }

    /// Holds (or releases) the break action on a tile, as while the mouse button is down.
    pub fn hold_break(&mut self, tile: Option<(u16, u16)>) {
        self.held_break = tile;
    }

    /// Builds the next input from movement intent (-1/0/1 per axis), predicts it, and returns it.
    pub fn next_input(&mut self, move_x: i8, move_y: i8) -> game::Input {
        self.seq += 1;
        let queued = self.actions.current(self.seq);
        let action = match (queued, self.held_break) {
            (Action::None, Some((x, y))) => Action::Break { x, y },
            (a, _) => a,
        };
        let input = game::Input {
            seq: self.seq,
            move_x,
            move_y,
            item: self.item,
            action,
        };
        if let Some(map) = self.world.map() {
            self.players.predict(map, input);
        }
        input
    }

    /// Whether this input is worth sending (something is held or happening, or it releases keys).
    pub fn is_active(input: &game::Input) -> bool {
        input.move_x != 0 || input.move_y != 0 || input.action != Action::None
    }

    /// Combined state hash of both managers, as replay format 5 records it.
    pub fn state_hash(&self) -> (u64, u64) {
        (self.world.state_hash(), self.players.state_hash())
    }

    /// Combined state hash of both managers as replay formats 1 to 4 record it (the players'
    /// part by FNV-1a, [`crate::managers::PlayerManager::state_hash_fnv`]).
    pub fn state_hash_fnv(&self) -> (u64, u64) {
        (self.world.state_hash(), self.players.state_hash_fnv())
    }
}
