//! What each client has been told, and the snapshot that brings it up to date.
//!
//! The snapshot is the hot packet. For every client the server remembers the quantized state it
//! last sent of every player (position in whole pixels, velocity in px/s, health) and sends only
//! differences: a moving player costs its id, a presence mask and two one-byte deltas. Deltas are
//! taken against the *sent* quantized position, so rounding never accumulates. TCP delivers every
//! snapshot in order, so "the last snapshot sent" is also "the last snapshot the client has".
//!
//! Players live in dense slots (index = slot), so per-client state is a flat vector and a tick
//! costs one comparison per (client, player) pair, with no map lookups.

use tilegame_game::{Player, SUBPX, TICK_RATE};
use tilegame_protocol::v1::{PlayerDelta, Position, TileChange};

/// A player's state as the wire shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantized {
    /// Position in whole pixels.
    pub pos: (i32, i32),
    /// Velocity in pixels per second.
    pub vel: (i32, i32),
    /// Health 0..=100.
    pub health: u8,
}

impl Quantized {
    /// Quantizes a player's simulated state.
    pub fn of(p: &Player) -> Quantized {
        let m = &p.motion;
        Quantized {
            pos: (m.x.div_euclid(SUBPX), m.y.div_euclid(SUBPX)),
            vel: (
                m.vx * TICK_RATE as i32 / SUBPX,
                m.vy * TICK_RATE as i32 / SUBPX,
            ),
            health: p.health,
        }
    }
}

/// A player as replicated this tick.
#[derive(Debug, Clone)]
pub struct Replica {
    /// Wire id.
    pub id: u32,
    /// Name, sent on first sight.
    pub name: String,
    /// Body colour, sent on first sight.
    pub color: u32,
    /// Current quantized state.
    pub state: Quantized,
}

/// Per-client memory of what it was told.
#[derive(Debug, Default)]
pub struct ClientView {
    /// Indexed by slot: what was last sent about the player in that slot, and its id.
    known: Vec<Option<(u32, Quantized)>>,
    /// Tick of the last snapshot sent.
    last_sent: Option<u32>,
    /// Last input sequence acknowledged.
    last_ack: u32,
}

impl ClientView {
    /// Forgets a player (it left); the slot may be reused by a newcomer.
    pub fn forget(&mut self, slot: usize) {
        if let Some(entry) = self.known.get_mut(slot) {
            *entry = None;
        }
    }

    /// Builds the deltas for this tick into `out` and the players that left the view into
    /// `gone`; returns whether a snapshot should be sent (anything changed, the ack moved, or the
    /// heartbeat is due). Only players within `view` (centre and Chebyshev radius in pixels) are
    /// replicated.
    #[allow(clippy::too_many_arguments)]
    pub fn diff(
        &mut self,
        tick: u32,
        ack_seq: u32,
        slots: &[Option<Replica>],
        tiles: &[TileChange],
        heartbeat_ticks: u32,
        view: Option<((i32, i32), i32)>,
        out: &mut Vec<PlayerDelta>,
        gone: &mut Vec<u32>,
    ) -> bool {
        out.clear();
        gone.clear();
        if self.known.len() < slots.len() {
            self.known.resize(slots.len(), None);
        }
        for (slot, replica) in slots.iter().enumerate() {
            let Some(r) = replica else { continue };
            let known = &mut self.known[slot];
            if let Some(((cx, cy), radius)) = view {
                let (x, y) = r.state.pos;
                if (x - cx).abs() > radius || (y - cy).abs() > radius {
                    if let Some((id, _)) = known.take() {
                        gone.push(id);
                    }
                    continue;
                }
            }
            match known {
                Some((id, was)) if *id == r.id => {
                    if *was == r.state {
                        continue;
                    }
                    let now = r.state;
                    let (dx, dy) = (now.pos.0 - was.pos.0, now.pos.1 - was.pos.1);
                    out.push(PlayerDelta {
                        id: r.id,
                        name: None,
                        position: None,
                        dx: (dx != 0).then_some(dx),
                        dy: (dy != 0).then_some(dy),
                        velocity: (now.vel != was.vel).then_some(Position {
                            x: now.vel.0,
                            y: now.vel.1,
                        }),
                        health: (now.health != was.health).then_some(now.health),
                        color: None,
                    });
                    *was = now;
                }
                _ => {
                    let now = r.state;
                    out.push(PlayerDelta {
                        id: r.id,
                        name: Some(r.name.clone()),
                        position: Some(Position {
                            x: now.pos.0,
                            y: now.pos.1,
                        }),
                        dx: None,
                        dy: None,
                        velocity: (now.vel != (0, 0)).then_some(Position {
                            x: now.vel.0,
                            y: now.vel.1,
                        }),
                        health: Some(now.health),
                        color: Some(r.color),
                    });
                    *known = Some((r.id, now));
                }
            }
        }
        let heartbeat_due = self
            .last_sent
            .is_none_or(|t| tick.wrapping_sub(t) >= heartbeat_ticks.max(1));
        let send = !out.is_empty()
            || !gone.is_empty()
            || !tiles.is_empty()
            || ack_seq != self.last_ack
            || heartbeat_due;
        if send {
            self.last_sent = Some(tick);
            self.last_ack = ack_seq;
        }
        send
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(id: u32, x: i32) -> Option<Replica> {
        Some(Replica {
            id,
            name: format!("p{id}"),
            color: 0xff0000,
            state: Quantized {
                pos: (x, 0),
                vel: (0, 0),
                health: 100,
            },
        })
    }

    #[test]
    fn first_sight_then_deltas_then_nothing() {
        let mut view = ClientView::default();
        let (mut out, mut gone) = (Vec::new(), Vec::new());
        assert!(view.diff(1, 0, &[replica(5, 10)], &[], 20, None, &mut out, &mut gone));
        assert_eq!(out[0].name.as_deref(), Some("p5"));
        assert!(view.diff(2, 0, &[replica(5, 27)], &[], 20, None, &mut out, &mut gone));
        assert_eq!(
            (out[0].dx, out[0].dy, out[0].name.clone()),
            (Some(17), None, None)
        );
        assert!(!view.diff(3, 0, &[replica(5, 27)], &[], 20, None, &mut out, &mut gone));
        assert!(out.is_empty());
        assert!(
            view.diff(23, 0, &[replica(5, 27)], &[], 20, None, &mut out, &mut gone),
            "heartbeat"
        );
    }

    #[test]
    fn a_reused_slot_is_a_new_player() {
        let mut view = ClientView::default();
        let (mut out, mut gone) = (Vec::new(), Vec::new());
        view.diff(1, 0, &[replica(5, 10)], &[], 20, None, &mut out, &mut gone);
        view.diff(2, 0, &[replica(6, 10)], &[], 20, None, &mut out, &mut gone);
        assert_eq!(out[0].name.as_deref(), Some("p6"));
    }

    #[test]
    fn players_leaving_the_view_are_gone_and_return_with_a_full_record() {
        let mut view = ClientView::default();
        let (mut out, mut gone) = (Vec::new(), Vec::new());
        let centre = Some(((0, 0), 100));
        view.diff(
            1,
            0,
            &[replica(5, 10)],
            &[],
            20,
            centre,
            &mut out,
            &mut gone,
        );
        assert!(view.diff(
            2,
            0,
            &[replica(5, 500)],
            &[],
            20,
            centre,
            &mut out,
            &mut gone
        ));
        assert_eq!((out.len(), gone.as_slice()), (0, &[5u32][..]));
        view.diff(
            3,
            0,
            &[replica(5, 50)],
            &[],
            20,
            centre,
            &mut out,
            &mut gone,
        );
        assert_eq!(
            out[0].position.as_ref().map(|p| p.x),
            Some(50),
            "a full record on re-entry"
        );
    }
}
