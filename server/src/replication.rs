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
//!
//! Two things keep a crowded tick cheap. Each player's delta since the previous tick is encoded
//! once ([`SharedDeltas`]) and its bytes are copied into the snapshot of every viewer that was up
//! to date, so a player seen by 200 clients is encoded once, not 200 times. And players in the
//! outer half of a client's view are updated at a quarter of the rate (a delta every
//! [`FAR_EVERY`] ticks, staggered by slot; health changes at once): their deltas are again
//! shared among the far viewers, since all of them last heard of the player on the same tick.

use tilegame_game::{Player, SUBPX, TICK_RATE};
pub use tilegame_protocol::snapshot::{encode_snapshot, encode_tiles, SnapshotParts, MAX_DELTAS};
use tilegame_protocol::v1::{PlayerDelta, Position, TileChange};
use tilegame_protocol::wire::{encode_body, EncodeError};

/// Players beyond half the view radius get a delta every this many ticks.
pub const FAR_EVERY: u32 = 4;

/// Whether `slot`'s far viewers are updated on `tick`.
fn far_due(tick: u32, slot: usize) -> bool {
    tick.wrapping_add(slot as u32).is_multiple_of(FAR_EVERY)
}

/// The delta that brings a viewer from `was` to `now` (both of player `id`).
fn delta(id: u32, was: &Quantized, now: &Quantized) -> PlayerDelta {
    let (dx, dy) = (now.pos.0 - was.pos.0, now.pos.1 - was.pos.1);
    PlayerDelta {
        id,
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
    }
}

/// Each slot's delta this tick, encoded once: from the state it had on the previous tick (for
/// viewers that were told every tick) and from the state it had on its previous far update (for
/// far viewers).
#[derive(Debug, Default)]
pub struct SharedDeltas {
    /// Per slot: the state it had on the previous tick, and the encoded delta from there.
    near: Vec<Shared>,
    /// Per slot: the state it had on its previous far update, and the encoded delta from there
    /// (built on ticks where the slot is [`far_due`]).
    far: Vec<Shared>,
    /// Per slot: the state as of the previous build.
    last: Vec<Option<(u32, Quantized)>>,
    /// Per slot: the state as of its previous far update.
    last_far: Vec<Option<(u32, Quantized)>>,
    bytes: Vec<u8>,
}

#[derive(Debug, Default, Clone)]
struct Shared {
    base: Option<(u32, Quantized)>,
    span: (usize, usize),
}

impl SharedDeltas {
    /// Encodes every slot's deltas for `tick`; call once per tick before the diffs.
    pub fn build(&mut self, tick: u32, slots: &[Option<Replica>]) -> Result<(), EncodeError> {
        self.bytes.clear();
        let n = slots.len();
        for v in [&mut self.near, &mut self.far] {
            v.clear();
            v.resize(n, Shared::default());
        }
        self.last.resize(n, None);
        self.last_far.resize(n, None);
        for (slot, r) in slots.iter().enumerate() {
            let Some(r) = r else {
                self.last[slot] = None;
                self.last_far[slot] = None;
                continue;
            };
            let now = Some((r.id, r.state));
            if let Some((id, was)) = self.last[slot].filter(|(id, _)| *id == r.id) {
                if was != r.state {
                    let start = self.bytes.len();
                    encode_body(&delta(id, &was, &r.state), "PlayerDelta", &mut self.bytes)?;
                    self.near[slot] = Shared {
                        base: Some((id, was)),
                        span: (start, self.bytes.len()),
                    };
                }
            }
            self.last[slot] = now;
            if far_due(tick, slot) {
                if let Some((id, was)) = self.last_far[slot].filter(|(id, _)| *id == r.id) {
                    if was != r.state {
                        let start = self.bytes.len();
                        encode_body(&delta(id, &was, &r.state), "PlayerDelta", &mut self.bytes)?;
                        self.far[slot] = Shared {
                            base: Some((id, was)),
                            span: (start, self.bytes.len()),
                        };
                    }
                }
                self.last_far[slot] = now;
            }
        }
        Ok(())
    }

    /// The encoded delta of `slot` for a viewer that holds `known`, if one was built.
    fn lookup(&self, slot: usize, known: (u32, Quantized)) -> Option<&[u8]> {
        [self.near.get(slot), self.far.get(slot)]
            .into_iter()
            .flatten()
            .find(|s| s.base == Some(known) && s.span.1 > s.span.0)
            .map(|s| &self.bytes[s.span.0..s.span.1])
    }
}

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

    /// Builds this tick's deltas into `parts` (shared bytes where `shared` has them) and the
    /// players that left the view into `parts.gone`; returns whether a snapshot should be sent
    /// (anything changed, the ack moved, or the heartbeat is due). Only players within `view`
    /// (centre and Chebyshev radius in pixels) are replicated; those in its outer half every
    /// [`FAR_EVERY`] ticks.
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
        shared: Option<&SharedDeltas>,
        parts: &mut SnapshotParts,
    ) -> Result<bool, EncodeError> {
        parts.deltas.clear();
        parts.count = 0;
        parts.gone.clear();
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
            let mut far = false;
            if let Some(((cx, cy), radius)) = view {
                let (x, y) = r.state.pos;
                let d = (x - cx).abs().max((y - cy).abs());
                if d > radius {
                    if let Some((id, _)) = known.take() {
                        parts.gone.push(id);
                    }
                    continue;
                }
                far = d > radius / 2;
            }
            let full = parts.count >= MAX_DELTAS;
            match known {
                Some((id, was)) if *id == r.id => {
                    self.known_slots.push(slot);
                    let now = r.state;
                    if *was == now
                        || full
                        || (far && !far_due(tick, slot) && now.health == was.health)
                    {
                        continue;
                    }
                    match shared.and_then(|s| s.lookup(slot, (*id, *was))) {
                        Some(bytes) => parts.deltas.extend_from_slice(bytes),
                        None => {
                            encode_body(&delta(*id, was, &now), "PlayerDelta", &mut parts.deltas)?
                        }
                    }
                    parts.count += 1;
                    *was = now;
                }
                _ if full => {
                    // First sight waits for the next snapshot.
                    *known = None;
                }
                _ => {
                    let now = r.state;
                    let first = PlayerDelta {
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
                    };
                    encode_body(&first, "PlayerDelta", &mut parts.deltas)?;
                    parts.count += 1;
                    *known = Some((r.id, now));
                    self.known_slots.push(slot);
                }
            }
        }
        self.scratch = candidates;
        let heartbeat_due = self
            .last_sent
            .is_none_or(|t| tick.wrapping_sub(t) >= heartbeat_ticks.max(1));
        let send = parts.count > 0
            || !parts.gone.is_empty()
            || !tiles.is_empty()
            || ack_seq != self.last_ack
            || heartbeat_due;
        if send {
            self.last_sent = Some(tick);
            self.last_ack = ack_seq;
        }
        Ok(send)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilegame_protocol::v1::play;

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

    /// Runs a diff and decodes the snapshot it makes: (send?, deltas, gone).
    fn run(
        view: &mut ClientView,
        tick: u32,
        slots: &[Option<Replica>],
        centre: Option<((i32, i32), i32)>,
        grid: Option<&SlotGrid>,
        shared: Option<&SharedDeltas>,
    ) -> (bool, Vec<PlayerDelta>, Vec<u32>) {
        let mut parts = SnapshotParts::default();
        let send = view
            .diff(tick, 0, slots, &[], 20, centre, grid, shared, &mut parts)
            .expect("diff");
        let snapshot = decode(&parts, tick);
        (send, snapshot.players, snapshot.gone)
    }

    fn decode(parts: &SnapshotParts, tick: u32) -> play::Snapshot {
        let mut tiles = Vec::new();
        encode_tiles(&[], &mut tiles).unwrap();
        let mut out = Vec::new();
        let f = encode_snapshot(tick, 0, parts, &tiles, &mut Vec::new(), &mut out).unwrap();
        match play::ToClient::decode(f.id(), f.payload()).unwrap() {
            play::ToClient::Snapshot(s) => s,
            other => panic!("not a snapshot: {other:?}"),
        }
    }

    fn diff(
        view: &mut ClientView,
        tick: u32,
        slots: &[Option<Replica>],
        out: &mut Vec<PlayerDelta>,
    ) -> bool {
        let (send, deltas, _) = run(view, tick, slots, None, None, None);
        *out = deltas;
        send
    }

    #[test]
    fn shared_deltas_give_every_viewer_what_its_own_encoding_would() {
        // 40 players walking pseudo-randomly; viewers with and without the shared bytes.
        let mut slots: Vec<Option<Replica>> =
            (0..40).map(|i| replica(i + 1, i as i32 * 40)).collect();
        let mut shared = SharedDeltas::default();
        let mut with: Vec<ClientView> = (0..5).map(|_| ClientView::default()).collect();
        let mut without: Vec<ClientView> = (0..5).map(|_| ClientView::default()).collect();
        let mut seed = 7u64;
        for tick in 1..200u32 {
            for r in slots.iter_mut().flatten() {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                r.state.pos.0 += (seed >> 60) as i32 % 5 - 2;
                r.state.pos.1 += (seed >> 56) as i32 % 3 - 1;
                if seed.is_multiple_of(50) {
                    r.state.health = r.state.health.saturating_sub(1);
                }
            }
            shared.build(tick, &slots).unwrap();
            for (v, (a, b)) in with.iter_mut().zip(without.iter_mut()).enumerate() {
                let centre = Some(((v as i32 * 300, 0), 800));
                let x = run(a, tick, &slots, centre, None, Some(&shared));
                let y = run(b, tick, &slots, centre, None, None);
                assert_eq!(
                    format!("{x:?}"),
                    format!("{y:?}"),
                    "viewer {v} at tick {tick}"
                );
            }
        }
    }

    #[test]
    fn far_players_are_updated_every_few_ticks_and_near_ones_every_tick() {
        let mut view = ClientView::default();
        let centre = Some(((0, 0), 1000));
        let mut slots = vec![replica(1, 100), replica(2, 900)];
        run(&mut view, 1, &slots, centre, None, None);
        let mut near = 0;
        let mut far = 0;
        for tick in 2..=41 {
            for r in slots.iter_mut().flatten() {
                r.state.pos.1 += 1;
            }
            let (_, deltas, _) = run(&mut view, tick, &slots, centre, None, None);
            near += deltas.iter().filter(|d| d.id == 1).count();
            far += deltas.iter().filter(|d| d.id == 2).count();
            // Whenever the far player is updated, its delta covers all the ticks skipped.
            if let Some(d) = deltas.iter().find(|d| d.id == 2) {
                assert!(d.dy.unwrap_or(0) >= 1);
            }
        }
        assert_eq!(near, 40);
        assert_eq!(far, 40 / FAR_EVERY as usize);
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
        let centre = Some(((0, 0), 100));
        run(&mut view, 1, &[replica(5, 10)], centre, None, None);
        let (send, out, gone) = run(&mut view, 2, &[replica(5, 500)], centre, None, None);
        assert!(send);
        assert_eq!((out.len(), gone.as_slice()), (0, &[5u32][..]));
        let (_, out, _) = run(&mut view, 3, &[replica(5, 50)], centre, None, None);
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
        let ids = |v: &Vec<PlayerDelta>| {
            let mut ids: Vec<u32> = v.iter().map(|d| d.id).collect();
            ids.sort_unstable();
            ids
        };
        for centre in [(0, 0), (1500, -900), (-2000, 1400)] {
            let view = Some((centre, 768));
            let (mut a, mut b) = (ClientView::default(), ClientView::default());
            let (_, out_a, _) = run(&mut a, 1, &slots, view, None, None);
            let (_, out_b, _) = run(&mut b, 1, &slots, view, Some(&grid), None);
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
            let (_, _, mut gone_a) = run(&mut a, 2, &far, view, None, None);
            let (_, _, mut gone_b) = run(&mut b, 2, &far, view, Some(&grid), None);
            gone_a.sort_unstable();
            gone_b.sort_unstable();
            assert_eq!(gone_a, gone_b);
            assert_eq!(gone_a, ids(&out_a));
            grid.build(&slots, 768);
        }
    }
}
