//! The chat as the client has received it: the last lines, each with its sender's name as known
//! when it arrived and the tick it arrived at, plus the server's refusals of this client's own
//! lines. Pure, like the other managers: packets in, lines out, so that live play and the replay
//! viewer show the same chat. Its lines are not part of any state hash (they change no game
//! state).

use std::collections::VecDeque;

use tilegame_protocol::v1::{play, ChatRefusal};

use super::PlayerManager;

/// Lines kept; older ones are dropped.
pub const KEPT_LINES: usize = 64;

/// What one entry of the chat says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEntry {
    /// A line a player said.
    Line {
        /// The sender's player id.
        from: u32,
        /// The sender's name when the line arrived (empty when unknown).
        name: String,
        /// The text, as the server sent it.
        text: String,
    },
    /// The server refused this client's last line.
    Refused(ChatRefusal),
}

/// One entry and the tick it arrived at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatItem {
    /// The players' manager's tick when it arrived (fading is measured from it).
    pub tick: u32,
    /// The entry.
    pub entry: ChatEntry,
}

/// The last chat entries, oldest first.
#[derive(Debug, Clone, Default)]
pub struct ChatLog {
    items: VecDeque<ChatItem>,
}

impl ChatLog {
    /// Takes a chat packet (others are ignored); `players` names the sender.
    pub fn apply(&mut self, packet: &play::ToClient, players: &PlayerManager) {
        let entry = match packet {
            play::ToClient::Chat(c) => ChatEntry::Line {
                from: c.from,
                name: players
                    .get(c.from)
                    .map(|p| p.name.clone())
                    .unwrap_or_default(),
                text: c.text.clone(),
            },
            play::ToClient::ChatRefused(r) => ChatEntry::Refused(r.reason),
            _ => return,
        };
        if self.items.len() == KEPT_LINES {
            self.items.pop_front();
        }
        self.items.push_back(ChatItem {
            tick: players.tick(),
            entry,
        });
    }

    /// Every entry kept, oldest first.
    pub fn items(&self) -> impl DoubleEndedIterator<Item = &ChatItem> + ExactSizeIterator {
        self.items.iter()
    }

    /// Forgets everything (a seek in the replay viewer).
    pub fn clear(&mut self) {
        self.items.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_the_sender_name_and_the_oldest_go_first() {
        let mut players = PlayerManager::restore(Vec::new(), None, 40, 0);
        players.add_listed(7, "Zoë");
        let mut log = ChatLog::default();
        log.apply(
            &play::ToClient::Chat(play::Chat {
                from: 7,
                text: "hi".into(),
            }),
            &players,
        );
        log.apply(
            &play::ToClient::ChatRefused(play::ChatRefused {
                reason: ChatRefusal::RateLimited,
            }),
            &players,
        );
        log.apply(&play::ToClient::Pong(play::Pong { nonce: 1 }), &players);
        let items: Vec<&ChatItem> = log.items().collect();
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0].entry,
            ChatEntry::Line {
                from: 7,
                name: "Zoë".into(),
                text: "hi".into()
            }
        );
        assert_eq!(items[0].tick, 40);
        assert_eq!(items[1].entry, ChatEntry::Refused(ChatRefusal::RateLimited));
        for i in 0..KEPT_LINES {
            log.apply(
                &play::ToClient::Chat(play::Chat {
                    from: 7,
                    text: format!("{i}"),
                }),
                &players,
            );
        }
        assert_eq!(log.items().len(), KEPT_LINES);
        assert!(matches!(&log.items().next().map(|i| &i.entry),
            Some(ChatEntry::Line { text, .. }) if text == "0"));
    }
}
