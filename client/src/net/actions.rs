//! The FIFO action queue: discrete actions go out in order and leave the queue when acknowledged.
//!
//! The original game sent one queued action (a tile break) per round trip and waited for the
//! server's receipt. Here an action rides on every input until the server's snapshot shows it
//! is done: a respawn when the input carrying it is acknowledged, a tile break when the tile's
//! change arrives (or, if the server refuses it, after it had time to complete and did not).

use std::collections::VecDeque;

use tilegame_game::{Action, Map, Tile};

/// One queued action and the first input sequence that carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    action: Action,
    first_seq: Option<u32>,
}

/// Actions waiting to be performed, oldest first.
#[derive(Debug, Default, Clone)]
pub struct ActionQueue {
    entries: VecDeque<Entry>,
    acknowledged: u64,
    abandoned: u64,
}

/// How many inputs past the expected completion a break may take before it is abandoned.
const BREAK_SLACK: u32 = 20;

impl ActionQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues an action (at most 64 pending; older ones are kept, the new one is dropped).
    pub fn push(&mut self, action: Action) -> bool {
        if matches!(action, Action::None) || self.entries.len() >= 64 {
            return false;
        }
        self.entries.push_back(Entry {
            action,
            first_seq: None,
        });
        true
    }

    /// The action to attach to the input with sequence `seq`.
    pub fn current(&mut self, seq: u32) -> Action {
        match self.entries.front_mut() {
            Some(e) => {
                e.first_seq.get_or_insert(seq);
                e.action
            }
            None => Action::None,
        }
    }

    /// Updates the queue from a snapshot: the server processed inputs up to `ack_seq` and the map
    /// reflects tile changes so far.
    pub fn acknowledge(&mut self, ack_seq: u32, map: &Map) {
        while let Some(front) = self.entries.front() {
            let Some(first) = front.first_seq else { break };
            if ack_seq < first {
                break;
            }
            let done = match front.action {
                Action::None | Action::Respawn => Some(true),
                Action::Break { x, y } => match map.get(x, y) {
                    None => Some(false),
                    Some(tile) if !tile.attrs().breakable => {
                        Some(tile == Tile::Dirt && map.is_dynamic(x, y) == Some(true))
                    }
                    Some(tile) => {
                        let needed = tilegame_game::break_ticks(tile).unwrap_or(0);
                        (ack_seq.saturating_sub(first) > needed + BREAK_SLACK).then_some(false)
                    }
                },
            };
            match done {
                Some(true) => {
                    self.acknowledged += 1;
                    self.entries.pop_front();
                }
                Some(false) => {
                    self.abandoned += 1;
                    self.entries.pop_front();
                }
                None => break,
            }
        }
    }

    /// Actions waiting.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Actions completed and acknowledged so far.
    pub fn acknowledged(&self) -> u64 {
        self.acknowledged
    }

    /// Actions the server refused or that could not complete.
    pub fn abandoned(&self) -> u64 {
        self.abandoned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_go_out_in_order_and_leave_when_done() {
        let mut map = Map::new(8, 8, Tile::Cobblestone).unwrap();
        let mut q = ActionQueue::new();
        q.push(Action::Respawn);
        q.push(Action::Break { x: 1, y: 1 });
        assert_eq!(q.current(5), Action::Respawn);
        q.acknowledge(4, &map);
        assert_eq!(
            q.len(),
            2,
            "not acknowledged before its input was processed"
        );
        q.acknowledge(5, &map);
        assert_eq!(q.current(6), Action::Break { x: 1, y: 1 });
        q.acknowledge(10, &map);
        assert_eq!(q.len(), 1, "still breaking");
        map.change(1, 1, Tile::Dirt).unwrap();
        q.acknowledge(20, &map);
        assert!(q.is_empty());
        assert_eq!(q.acknowledged(), 2);
    }

    #[test]
    fn a_refused_break_is_abandoned() {
        let map = Map::new(8, 8, Tile::Grass).unwrap();
        let mut q = ActionQueue::new();
        q.push(Action::Break { x: 1, y: 1 });
        q.current(1);
        q.acknowledge(1, &map);
        assert!(q.is_empty());
        assert_eq!(q.abandoned(), 1);
    }
}
