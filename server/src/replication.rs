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
    /// Slots whose player this client currently knows (with a view radius).
    known_slots: Vec<usize>,
    /// Scratch list of slots to look at this tick.
    scratch: Vec<usize>,
    /// Per slot, the last diff that looked at it (so a slot in both lists is handled once).
    seen: Vec<u32>,
    /// Counts diffs, for `seen`.
    epoch: u32,
}

/// Player slots bucketed by position, so a client's view only looks at nearby players.
#[derive(Debug, Default)]
pub struct SlotGrid {
    cell_px: i32,
    cells: std::collections::BTreeMap<(i32, i32), Vec<usize>>,
}

impl SlotGrid {
    /// Buckets every occupied slot into square cells of `cell_px` pixels.
    pub fn build(&mut self, slots: &[Option<Replica>], cell_px: i32) {
        self.cell_px = cell_px.max(1);
        for cell in self.cells.values_mut() {
            cell.clear();
        }
        for (slot, r) in slots.iter().enumerate() {
            if let Some(r) = r {
                let key = (
                    r.state.pos.0.div_euclid(self.cell_px),
                    r.state.pos.1.div_euclid(self.cell_px),
                );
                self.cells.entry(key).or_default().push(slot);
            }
        }
    }

    /// Appends the slots in cells overlapping the square of `radius` around `centre`.
    pub fn query(&self, centre: (i32, i32), radius: i32, out: &mut Vec<usize>) {
        let c = self.cell_px;
        let (x0, x1) = (
            (centre.0 - radius).div_euclid(c),
            (centre.0 + radius).div_euclid(c),
        );
        let (y0, y1) = (
            (centre.1 - radius).div_euclid(c),
            (centre.1 + radius).div_euclid(c),
        );
        for x in x0..=x1 {
            for (_, cell) in self.cells.range((x, y0)..=(x, y1)) {
                out.extend_from_slice(cell);
            }
        }
    }
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
        grid: Option<&SlotGrid>,
        out: &mut Vec<PlayerDelta>,
        gone: &mut Vec<u32>,
    ) -> bool {
        out.clear();
        gone.clear();
        if self.known.len() < slots.len() {
            self.known.resize(slots.len(), None);
            self.seen.resize(slots.len(), 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.seen.iter_mut().for_each(|s| *s = u32::MAX);
            self.epoch = 1;
        }
        // With a view and a grid, look only at nearby slots and at those already known (to
        // notice them leaving); otherwise at every slot.
        let mut candidates = std::mem::take(&mut self.scratch);
        candidates.clear();
        match (view, grid) {
            (Some((centre, radius)), Some(grid)) => {
                grid.query(centre, radius, &mut candidates);
                candidates.extend_from_slice(&self.known_slots);
            }
            _ => candidates.extend(0..slots.len()),
        }
        self.known_slots.clear();
        for &slot in &candidates {
            if std::mem::replace(&mut self.seen[slot], self.epoch) == self.epoch {
                continue;
            }
            let Some(Some(r)) = slots.get(slot) else {
                continue;
            };
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
                        self.known_slots.push(slot);
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
                    self.known_slots.push(slot);
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
                    self.known_slots.push(slot);
                }
            }
        }
        self.scratch = candidates;
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

    /// Runs a diff without a view.
    fn diff(
        view: &mut ClientView,
        tick: u32,
        slots: &[Option<Replica>],
        out: &mut Vec<PlayerDelta>,
    ) -> bool {
        let mut gone = Vec::new();
        view.diff(tick, 0, slots, &[], 20, None, None, out, &mut gone)
    }

    #[test]
    fn first_sight_then_deltas_then_nothing() {
        let mut view = ClientView::default();
        let mut out = Vec::new();
        assert!(diff(&mut view, 1, &[replica(5, 10)], &mut out));
        assert_eq!(out[0].name.as_deref(), Some("p5"));
        assert!(diff(&mut view, 2, &[replica(5, 27)], &mut out));
        assert_eq!(
            (out[0].dx, out[0].dy, out[0].name.clone()),
            (Some(17), None, None)
        );
        assert!(!diff(&mut view, 3, &[replica(5, 27)], &mut out));
        assert!(out.is_empty());
        assert!(
            diff(&mut view, 23, &[replica(5, 27)], &mut out),
            "heartbeat"
        );
    }

    #[test]
    fn a_reused_slot_is_a_new_player() {
        let mut view = ClientView::default();
        let mut out = Vec::new();
        diff(&mut view, 1, &[replica(5, 10)], &mut out);
        diff(&mut view, 2, &[replica(6, 10)], &mut out);
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
            None,
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
            None,
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
            None,
            &mut out,
            &mut gone,
        );
        assert_eq!(
            out[0].position.as_ref().map(|p| p.x),
            Some(50),
            "a full record on re-entry"
        );
    }

    #[test]
    fn the_grid_finds_the_same_players_as_a_full_scan() {
        let slots: Vec<Option<Replica>> = (0..200u32)
            .map(|i| {
                let mut r = replica(i + 1, (i as i32 * 97) % 4000 - 2000)?;
                r.state.pos.1 = (i as i32 * 53) % 3000 - 1500;
                Some(r)
            })
            .collect();
        let mut grid = SlotGrid::default();
        grid.build(&slots, 768);
        for centre in [(0, 0), (1500, -900), (-2000, 1400)] {
            let view = Some((centre, 768));
            let (mut a, mut b) = (ClientView::default(), ClientView::default());
            let (mut out_a, mut out_b, mut gone) = (Vec::new(), Vec::new(), Vec::new());
            a.diff(1, 0, &slots, &[], 20, view, None, &mut out_a, &mut gone);
            b.diff(
                1,
                0,
                &slots,
                &[],
                20,
                view,
                Some(&grid),
                &mut out_b,
                &mut gone,
            );
            let ids = |v: &Vec<PlayerDelta>| {
                let mut ids: Vec<u32> = v.iter().map(|d| d.id).collect();
                ids.sort_unstable();
                ids
            };
            assert_eq!(ids(&out_a), ids(&out_b));
            assert!(!out_a.is_empty());
            // Moving everyone far away: both report the same players gone.
            let far: Vec<Option<Replica>> = slots
                .iter()
                .map(|r| {
                    r.clone().map(|mut r| {
                        r.state.pos.0 += 100_000;
                        r
                    })
                })
                .collect();
            grid.build(&far, 768);
            let (mut gone_a, mut gone_b) = (Vec::new(), Vec::new());
            a.diff(2, 0, &far, &[], 20, view, None, &mut out_a, &mut gone_a);
            b.diff(
                2,
                0,
                &far,
                &[],
                20,
                view,
                Some(&grid),
                &mut out_b,
                &mut gone_b,
            );
            gone_a.sort_unstable();
            gone_b.sort_unstable();
            assert_eq!(gone_a, gone_b);
            assert_eq!(gone_a.len(), ids(&out_a).len().max(gone_a.len()));
            grid.build(&slots, 768);
        }
    }
}
