//! What each client has been told, and the snapshot that brings it up to date.
//!
//! The snapshot is the hot packet. For every client the server remembers the quantized state it
//! last sent of every player (position in whole pixels, velocity in px/s, health) and sends only
//! differences: a moving player costs its id, a presence mask and two one-byte deltas. Deltas are
//! taken against the *sent* quantized position, so rounding never accumulates. TCP delivers every
//! snapshot in order, so "the last snapshot sent" is also "the last snapshot the client has".
//!
//! Players live in dense slots. Each tick the server buckets their positions into a dense grid
//! ([`SlotGrid`]); a client's diff reads the cells its view overlaps, keeps the players within
//! the view radius, and merges them (in slot order) with the short sorted list of players it was
//! told about ([`ClientView`]). A tick therefore costs about (clients × players in view), reading
//! memory in order, rather than (clients × players) random look-ups.
//!
//! Two things keep a crowded tick cheap. Each player's delta since the previous tick is encoded
//! once ([`SharedDeltas`]) and its bytes are copied into the snapshot of every viewer that was up
//! to date, so a player seen by 200 clients is encoded once, not 200 times. And players in the
//! outer half of a client's view are updated at a quarter of the rate (a delta every
//! [`FAR_EVERY`] ticks, staggered by slot; health changes at once): their deltas are again
//! shared among the far viewers, since all of them last heard of the player on the same tick.
//!
//! A crowd is capped: a client is told about at most [`MAX_VIEW`] players (the spec's
//! `MAX_VIEW_PLAYERS`), the nearest, so on a fixed map the work and bytes per client stop
//! growing with the number of players once its view is full ([`nearest`]).

use std::sync::OnceLock;

use crate::link::prefetch;

use tilegame_game::{Player, SUBPX, TICK_RATE};
pub use tilegame_protocol::snapshot::{
    encode_snapshot, encode_tiles, SnapshotParts, MAX_DELTAS, MAX_GONE,
};
use tilegame_protocol::v1::{PlayerDelta, Position, TileChange};
use tilegame_protocol::wire::{encode_body, EncodeError};

/// Players beyond half the view radius get a delta every this many ticks (the spec's
/// `FAR_UPDATE_TICKS`).
pub const FAR_EVERY: u32 = tilegame_protocol::v1::FAR_UPDATE_TICKS;

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

/// The record that tells a client about player `r` (in state `now`) it did not know.
fn first_sight(r: &Replica, now: Quantized) -> PlayerDelta {
    PlayerDelta {
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
    }
}

/// Each slot's delta this tick, encoded once: from the state it had on the previous tick (for
/// viewers that were told every tick) and from the state it had on its previous far update (for
/// far viewers).
///
/// It also keeps what a diff reads of each slot on every tick — its player, its state, its
/// delta for viewers told every tick — in one cache line per slot ([`Hot`]): a diff reads the
/// slots of the players in view in no order that caches well, and a line per slot, instead of
/// the replica, the delta and its base apart, is one miss per player instead of two or three.
#[derive(Debug, Default)]
pub struct SharedDeltas {
    /// Per slot: who is there, its state, and its delta from the previous tick.
    hot: Vec<Hot>,
    /// Per slot: the state it had on its previous far update, and the encoded delta from there
    /// (built on ticks where the slot is [`far_due`]).
    far: Vec<Shared>,
    /// Per slot: the state as of the previous build.
    last: Vec<Option<(u32, Quantized)>>,
    /// Per slot: the state as of its previous far update.
    last_far: Vec<Option<(u32, Quantized)>>,
    bytes: Vec<u8>,
    /// Per slot: its first-sight record this tick (player id, state, bytes), encoded by the
    /// first diff that needs it and copied by the others (a crowd of newcomers is first seen by
    /// hundreds of clients on the same tick).
    first: Vec<OnceLock<(u32, Quantized, Vec<u8>)>>,
}

/// What a diff reads of one slot on every tick, in one cache line.
#[derive(Debug, Default, Clone, Copy)]
#[repr(align(64))]
struct Hot {
    /// Whether a player is in the slot.
    live: bool,
    /// Its id.
    id: u32,
    /// Its state this tick.
    now: Quantized,
    /// Its state on the previous tick, if it was there then and changed since (`near_len` is
    /// not 0): viewers that hold this state get the bytes in `near`.
    near_base: Quantized,
    /// How many bytes of `near` its encoded delta from `near_base` takes (0: none).
    near_len: u8,
    /// Its encoded delta from `near_base`, in the line itself: a viewer copies these 16 bytes
    /// whole and keeps `near_len` of them (a copy of fixed size, where a copy of a few bytes
    /// through `memcpy` cost a call per delta).
    near: [u8; NEAR_BYTES],
}

const _: () = assert!(
    std::mem::size_of::<Hot>() == 64,
    "a Hot line is one cache line"
);

/// Most bytes of a near delta kept in its slot's [`Hot`] line (a straight move takes 3 to 5,
/// a change of velocity a few more); a longer one is encoded by each viewer that needs it.
const NEAR_BYTES: usize = 16;

#[derive(Debug, Default, Clone)]
struct Shared {
    base: Option<(u32, Quantized)>,
    span: (usize, usize),
}

/// The delta of `r` from `last` (its state when last told), encoded into `bytes` when the slot
/// still holds the same player and it changed; `last` becomes `r`'s state.
fn shared_delta(
    last: &mut Option<(u32, Quantized)>,
    r: &Replica,
    bytes: &mut Vec<u8>,
) -> Result<Shared, EncodeError> {
    let mut shared = Shared::default();
    if let Some((id, was)) = last.filter(|(id, _)| *id == r.id) {
        if was != r.state {
            let start = bytes.len();
            encode_body(&delta(id, &was, &r.state), "PlayerDelta", bytes)?;
            shared = Shared {
                base: Some((id, was)),
                span: (start, bytes.len()),
            };
        }
    }
    *last = Some((r.id, r.state));
    Ok(shared)
}

impl SharedDeltas {
    /// Encodes every slot's deltas for `tick`; call once per tick before the diffs, with the
    /// slots the diffs are given.
    pub fn build(&mut self, tick: u32, slots: &[Option<Replica>]) -> Result<(), EncodeError> {
        self.bytes.clear();
        let n = slots.len();
        self.hot.clear();
        self.hot.resize(n, Hot::default());
        self.far.clear();
        self.far.resize(n, Shared::default());
        self.last.resize(n, None);
        self.last_far.resize(n, None);
        self.first.clear();
        self.first.resize_with(n, OnceLock::new);
        for (slot, r) in slots.iter().enumerate() {
            let Some(r) = r else {
                self.last[slot] = None;
                self.last_far[slot] = None;
                continue;
            };
            let near = shared_delta(&mut self.last[slot], r, &mut self.bytes)?;
            let mut line = Hot {
                live: true,
                id: r.id,
                now: r.state,
                near_base: near.base.map_or(r.state, |(_, was)| was),
                ..Hot::default()
            };
            if let Some(b) = self.bytes.get(near.span.0..near.span.1) {
                if let (Some(to), Ok(len)) = (line.near.get_mut(..b.len()), u8::try_from(b.len())) {
                    to.copy_from_slice(b);
                    line.near_len = len;
                }
            }
            // The near delta lives in the line only (the far ones stay in `bytes`).
            if near.span.1 > near.span.0 {
                self.bytes.truncate(near.span.0);
            }
            self.hot[slot] = line;
            if far_due(tick, slot) {
                self.far[slot] = shared_delta(&mut self.last_far[slot], r, &mut self.bytes)?;
            }
        }
        Ok(())
    }

    /// Appends to `out` the encoded delta of `slot` (which holds player `known.0`) for a
    /// viewer that holds `known`, if one was built; returns whether it did.
    fn append(&self, slot: usize, known: (u32, Quantized), out: &mut Vec<u8>) -> bool {
        if let Some(h) = self.hot.get(slot) {
            if h.live && h.id == known.0 && h.near_len > 0 && h.near_base == known.1 {
                let at = out.len();
                out.extend_from_slice(&h.near);
                out.truncate(at + usize::from(h.near_len));
                return true;
            }
        }
        match self
            .far
            .get(slot)
            .filter(|s| s.base == Some(known))
            .and_then(|s| self.bytes.get(s.span.0..s.span.1))
            .filter(|b| !b.is_empty())
        {
            Some(bytes) => {
                out.extend_from_slice(bytes);
                true
            }
            None => false,
        }
    }

    /// The encoded first-sight record of `r` (in `slot`, in state `now`) this tick, if one can
    /// be shared (built this tick; `None` also when it does not encode: the caller's own
    /// encoding reports the error).
    fn first_sight(&self, slot: usize, r: &Replica, now: Quantized) -> Option<&[u8]> {
        let (id, state, bytes) = self.first.get(slot)?.get_or_init(|| {
            let mut bytes = Vec::new();
            if encode_body(&first_sight(r, now), "PlayerDelta", &mut bytes).is_err() {
                bytes.clear();
            }
            (r.id, now, bytes)
        });
        (*id == r.id && *state == now && !bytes.is_empty()).then_some(&bytes[..])
    }

    /// Each slot's [`Hot`] line, if built from `slot_count` slots.
    fn hot_for(&self, slot_count: usize) -> Option<&[Hot]> {
        (self.hot.len() == slot_count).then_some(&self.hot[..])
    }
}

/// A player's state as the wire shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

/// What a client was last told about one player.
#[derive(Debug, Clone, Copy)]
struct Known {
    slot: u32,
    id: u32,
    state: Quantized,
}

/// Bytes one known player takes in a client's view.
pub(crate) const KNOWN_BYTES: usize = std::mem::size_of::<Known>();

/// Per-client memory of what it was told.
///
/// The players a client knows are a short list sorted by slot (about the players in its view),
/// not a vector over every slot: a crowded server keeps a thousand of these, and a tick walks
/// each one start to end, so a client's state is a few contiguous kilobytes that the cache
/// streams instead of a slot-indexed array per client that misses on every look-up.
#[derive(Debug, Default)]
pub struct ClientView {
    /// What was last sent about each player this client knows, sorted by slot.
    known: Vec<Known>,
    /// Tick of the last snapshot sent.
    last_sent: Option<u32>,
    /// Last input sequence acknowledged.
    last_ack: u32,
    /// Slots the last diff looked at.
    looked: usize,
    /// When the last diff was capped, the distance of the farthest player it could keep (the
    /// cut); 0 otherwise. The next diff looks this far first ([`ClientView::diff`]).
    cut: i32,
}

/// Asks the CPU to start loading every cache line of `items` ([`prefetch`]).
#[inline(always)]
pub(crate) fn prefetch_slice<T>(items: &[T]) {
    let bytes = std::mem::size_of_val(items);
    let start = items.as_ptr().cast::<u8>();
    for offset in (0..bytes).step_by(64) {
        prefetch(start.wrapping_add(offset));
    }
}

/// Most cells a [`SlotGrid`] allocates; a spread wider than this gets bigger cells.
const MAX_CELLS: i64 = 1 << 16;

/// Player positions bucketed into square cells, so a client's view only looks at nearby
/// players. Dense and rebuilt each tick by counting sort: a cell is a contiguous run of
/// (slot, position) entries in slot order, so a query reads memory in order and needs no look-up
/// into the slots to know whether a player is in view.
#[derive(Debug, Default)]
pub struct SlotGrid {
    cell_px: i32,
    /// The cell coordinates of the first cell.
    origin: (i32, i32),
    cols: i32,
    rows: i32,
    /// Index into `entries` where each cell starts (one more than there are cells).
    starts: Vec<u32>,
    entries: Vec<GridEntry>,
    /// Scratch: each occupied slot's cell index.
    cell_of: Vec<(u32, u32)>,
    /// Slots there are (occupied or not).
    slot_count: usize,
    /// Which build this is, unique in the process (a shared look is only reused on the grid
    /// and the tick it was taken on).
    build_id: u64,
}

/// Grid builds so far, for [`SlotGrid::build_id`].
static GRID_BUILDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Buffers a diff reuses from client to client (one per thread building snapshots).
#[derive(Debug, Default)]
pub struct ViewScratch {
    /// One bit per slot: in view (always all clear between diffs).
    bits: Vec<u64>,
    /// Per slot: distance from the view's centre, where its bit is set.
    dist: Vec<i32>,
    /// The slots in view of the client being diffed, sorted, with their distance from the
    /// centre (packed as `slot << 32 | distance`).
    in_view: Vec<u64>,
    /// The client's next list of known players, being built.
    next: Vec<Known>,
    /// Scratch for [`nearest`]: the in-view players' (distance, slot) keys.
    rank: Vec<u64>,
    /// The [`rank_key`]s of the players a grid look found, before trimming and sorting.
    keys: Vec<u64>,
    /// One bit per slot: known to the client being trimmed (always all clear between diffs).
    known_bits: Vec<u64>,
    /// The last grid look, kept for the next client looking from the same spot.
    look: SharedLook,
}

/// A grid look (its [`rank_key`]s with no player ranked as anyone's own) shared by the clients
/// that look from the same spot with the same radius one after the other — a crowd standing on
/// one point, such as newcomers at the spawn, where every look would find the whole crowd
/// again. The clients are built in order of position, so such clients come together.
#[derive(Debug, Default)]
struct SharedLook {
    /// The grid's build, the centre and the radius looked at (build 0: none).
    grid: u64,
    centre: (i32, i32),
    radius: i32,
    /// Every key found.
    keys: Vec<u64>,
    /// Clients that used this look after the one that took it.
    reused: usize,
    /// Once reused: the smallest keys, sorted (enough for any client's cap).
    sorted: Vec<u64>,
}

/// Most players a client is told about at once (the spec's `MAX_VIEW_PLAYERS`).
pub const MAX_VIEW: usize = tilegame_protocol::v1::MAX_VIEW_PLAYERS as usize;

/// How far past the last tick's cut a capped client's view is first looked at, in pixels: two
/// players walking apart at top speed (350 px/s) part by 35 px in a tick, so the players that
/// were within the cut are still within this (unless one respawned or left), and the narrow look
/// holds more than the cap. (24 px looked at 5% fewer entries in the tick bench, within noise.)
pub const CUT_MARGIN_PX: i32 = 48;

/// A player's rank in a capped view, lower first: the client's `own` player (0), then by
/// (distance, slot).
fn rank_key(e: u64, own: Option<usize>) -> u64 {
    let (slot, d) = unpack(e);
    if own == Some(slot as usize) {
        return 0;
    }
    ((u64::from(d as u32) << 32) | u64::from(slot)) + 1
}

/// The distance in a [`rank_key`] (0 for the own player).
fn rank_distance(key: u64) -> i32 {
    (key.saturating_sub(1) >> 32) as i32
}

/// Trims `in_view` (sorted by slot, packed with distances) to the players a client with `cap`
/// places should be told about: a newcomer only if it is among the nearest four fifths of `cap`
/// by [`rank_key`], a player it already `known`s while it stays among the nearest `cap`; its
/// `own` player ranks first whatever shares its spot. The margin keeps players near the cut
/// from leaving and re-entering (a `gone`, then a full record) every tick. Keeps slot order; at
/// most `cap` remain; call it only with more than `cap` in view. Returns the cut: the distance
/// of the `cap`-th nearest (0 if `cap` is 0).
///
/// Only the players ranked within the nearest `cap` matter, so any superset of those gives the
/// same result (what lets [`ClientView::diff`] look at a smaller radius first).
fn nearest(
    in_view: &mut Vec<u64>,
    known: &[Known],
    cap: usize,
    own: Option<usize>,
    rank: &mut Vec<u64>,
) -> i32 {
    if cap == 0 {
        in_view.clear();
        return 0;
    }
    rank.clear();
    rank.extend(in_view.iter().map(|&e| rank_key(e, own)));
    let admit = (cap * 4 / 5).max(1);
    let (_, &mut keep_to, _) = rank.select_nth_unstable(cap - 1);
    let (_, &mut admit_to, _) = rank[..cap].select_nth_unstable(admit - 1);
    let mut k = 0;
    in_view.retain(|&e| {
        let slot = unpack(e).0;
        while k < known.len() && known[k].slot < slot {
            k += 1;
        }
        let key = rank_key(e, own);
        key <= admit_to || (key <= keep_to && known.get(k).is_some_and(|n| n.slot == slot))
    });
    rank_distance(keep_to)
}

#[derive(Debug, Clone, Copy, Default)]
struct GridEntry {
    slot: u32,
    pos: (i32, i32),
}

/// A slot in view and its distance (non-negative), as one sortable integer.
fn pack(slot: u32, d: i32) -> u64 {
    (u64::from(slot) << 32) | u64::from(d.max(0) as u32)
}

fn unpack(e: u64) -> (u32, i32) {
    ((e >> 32) as u32, (e & 0xffff_ffff) as u32 as i32)
}

impl SlotGrid {
    /// Buckets every occupied slot into square cells of `cell_px` pixels (bigger if the players
    /// are spread so far apart that the cells would not fit in [`MAX_CELLS`]).
    pub fn build(&mut self, slots: &[Option<Replica>], cell_px: i32) {
        self.build_id = GRID_BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut cell = cell_px.max(1);
        let (mut lo, mut hi) = ((i32::MAX, i32::MAX), (i32::MIN, i32::MIN));
        for r in slots.iter().flatten() {
            let (x, y) = r.state.pos;
            lo = (lo.0.min(x), lo.1.min(y));
            hi = (hi.0.max(x), hi.1.max(y));
        }
        if lo.0 > hi.0 {
            (lo, hi) = ((0, 0), (0, 0));
        }
        let span = |c: i32| {
            (
                i64::from(hi.0.div_euclid(c)) - i64::from(lo.0.div_euclid(c)) + 1,
                i64::from(hi.1.div_euclid(c)) - i64::from(lo.1.div_euclid(c)) + 1,
            )
        };
        while {
            let (w, h) = span(cell);
            w * h > MAX_CELLS
        } {
            cell = cell.saturating_mul(2);
        }
        let (w, h) = span(cell);
        self.cell_px = cell;
        self.slot_count = slots.len();
        self.origin = (lo.0.div_euclid(cell), lo.1.div_euclid(cell));
        (self.cols, self.rows) = (w as i32, h as i32);
        let cells = (w * h) as usize;
        self.starts.clear();
        self.starts.resize(cells + 1, 0);
        self.cell_of.clear();
        for (slot, r) in slots.iter().enumerate() {
            if let Some(r) = r {
                let (x, y) = r.state.pos;
                let cx = (x.div_euclid(cell) - self.origin.0) as usize;
                let cy = (y.div_euclid(cell) - self.origin.1) as usize;
                let index = cy * w as usize + cx;
                self.starts[index + 1] += 1;
                self.cell_of.push((slot as u32, index as u32));
            }
        }
        for i in 0..cells {
            self.starts[i + 1] += self.starts[i];
        }
        self.entries.clear();
        self.entries
            .resize(self.cell_of.len(), GridEntry::default());
        // Fill in slot order: each cell's run comes out sorted by slot.
        let mut fill: Vec<u32> = self.starts[..cells].to_vec();
        for &(slot, index) in &self.cell_of {
            let at = &mut fill[index as usize];
            let pos = slots[slot as usize]
                .as_ref()
                .map_or((0, 0), |r| r.state.pos);
            self.entries[*at as usize] = GridEntry { slot, pos };
            *at += 1;
        }
    }

    /// Appends the [`rank_key`] of each slot within Chebyshev distance `radius` of `centre`
    /// (`own` ranks 0), in no particular order; returns how many entries it looked at and, if
    /// `own` was among them, its distance. Ranking and trimming happen on these keys before
    /// anything is put in slot order ([`ViewScratch::keep`]), so the players past a capped
    /// view's cut are never written anywhere.
    fn gather(
        &self,
        centre: (i32, i32),
        radius: i32,
        own: Option<usize>,
        keys: &mut Vec<u64>,
    ) -> (usize, Option<i32>) {
        if self.starts.len() < 2 {
            return (0, None);
        }
        let c = self.cell_px;
        let clamp_x = |v: i32| (v.div_euclid(c) - self.origin.0).clamp(0, self.cols - 1);
        let clamp_y = |v: i32| (v.div_euclid(c) - self.origin.1).clamp(0, self.rows - 1);
        let (x0, x1) = (
            clamp_x(centre.0.saturating_sub(radius)),
            clamp_x(centre.0.saturating_add(radius)),
        );
        let (y0, y1) = (
            clamp_y(centre.1.saturating_sub(radius)),
            clamp_y(centre.1.saturating_add(radius)),
        );
        let own = own.map_or(u32::MAX, |s| u32::try_from(s).unwrap_or(u32::MAX));
        let mut own_d = None;
        let mut looked = 0;
        for y in y0..=y1 {
            // A row's cells are contiguous, and so are their entries.
            let row = (y * self.cols) as usize;
            let from = self.starts[row + x0 as usize] as usize;
            let to = self.starts[row + x1 as usize + 1] as usize;
            looked += to - from;
            for e in &self.entries[from..to] {
                // In i64, no difference of two i32s overflows (and nothing saturates).
                let d = (i64::from(e.pos.0) - i64::from(centre.0))
                    .abs()
                    .max((i64::from(e.pos.1) - i64::from(centre.1)).abs());
                if d <= i64::from(radius) {
                    if e.slot == own {
                        own_d = Some(d as i32);
                        keys.push(0);
                    } else {
                        keys.push(((d as u64) << 32 | u64::from(e.slot)) + 1);
                    }
                }
            }
        }
        (looked, own_d)
    }

    /// Appends the slots within Chebyshev distance `radius` of `centre`, with their distance
    /// ([`pack`]ed), in slot order; returns how many entries it looked at.
    #[cfg(test)]
    fn query(
        &self,
        centre: (i32, i32),
        radius: i32,
        scratch: &mut ViewScratch,
        out: &mut Vec<u64>,
    ) -> usize {
        let mut keys = Vec::new();
        let (looked, _) = self.gather(centre, radius, None, &mut keys);
        scratch.keep(&keys, self.slot_count, None, out);
        looked
    }
}

/// Sets the bit of each `known` slot in `bits` (grown to `slot_count` bits). `known` is in
/// slot order, so a word's bits are gathered in a register and stored once (a store per slot
/// made every slot wait for the previous one's store to the same word).
fn set_known_bits(bits: &mut Vec<u64>, known: &[Known], slot_count: usize) {
    bits.resize(slot_count.div_ceil(64), 0);
    let mut word = usize::MAX;
    let mut acc = 0u64;
    for k in known {
        let w = k.slot as usize / 64;
        if w != word {
            if let Some(b) = bits.get_mut(word) {
                *b |= acc;
            }
            (word, acc) = (w, 0);
        }
        acc |= 1 << (k.slot % 64);
    }
    if let Some(b) = bits.get_mut(word) {
        *b |= acc;
    }
}

/// Clears what [`set_known_bits`] set for `known`.
fn clear_known_bits(bits: &mut [u64], known: &[Known]) {
    let mut word = usize::MAX;
    for k in known {
        let w = k.slot as usize / 64;
        if w != word {
            if let Some(b) = bits.get_mut(w) {
                *b = 0;
            }
            word = w;
        }
    }
}

impl ViewScratch {
    /// Makes `look` the grid's keys within `radius` of `centre` (taking them only if the last
    /// look was not the same); returns how many of them there are and the grid entries looked at
    /// for them now (0 when reused).
    fn look(&mut self, grid: &SlotGrid, centre: (i32, i32), radius: i32) -> (usize, usize) {
        let l = &mut self.look;
        if l.grid == grid.build_id && l.centre == centre && l.radius == radius {
            return (l.keys.len(), 0);
        }
        l.keys.clear();
        l.sorted.clear();
        l.reused = 0;
        (l.grid, l.centre, l.radius) = (grid.build_id, centre, radius);
        let (looked, _) = grid.gather(centre, radius, None, &mut l.keys);
        (l.keys.len(), looked)
    }

    /// The client's trimmed keys from the current look, `own` ranked first: those it keeps
    /// when more than `cap` are in view (as [`ViewScratch::keep_nearest`] would), all of them
    /// otherwise; returns its own player's distance if in view, and the cut (0 uncapped).
    fn keys_from_look(
        &mut self,
        keys: &mut Vec<u64>,
        own: Option<(usize, (i32, i32))>,
        known: &[Known],
        cap: usize,
        slot_count: usize,
    ) -> (Option<i32>, i32) {
        keys.clear();
        let centre = self.look.centre;
        // The own player's key in the look, if it is in view.
        let own_key = own.and_then(|(slot, pos)| {
            let d = (i64::from(pos.0) - i64::from(centre.0))
                .abs()
                .max((i64::from(pos.1) - i64::from(centre.1)).abs());
            (d <= i64::from(self.look.radius)).then(|| ((d as u64) << 32 | slot as u64) + 1)
        });
        let own_d = own_key.map(|k| ((k - 1) >> 32) as i32);
        let n = self.look.keys.len();
        if n <= cap || self.look.reused == 0 {
            // Small, or the first client to use it: its own copy, trimmed by selection.
            keys.extend(
                self.look
                    .keys
                    .iter()
                    .map(|&k| if Some(k) == own_key { 0 } else { k }),
            );
            self.look.reused += 1;
            let cut = if n > cap {
                self.keep_nearest(keys, known, cap, slot_count)
            } else {
                0
            };
            return (own_d, cut);
        }
        self.look.reused += 1;
        if cap == 0 {
            return (own_d, 0);
        }
        if self.look.sorted.is_empty() {
            // The crowd's nearest, once: any client's nearest `cap` are its own player and
            // the first of these that are not it.
            let l = &mut self.look;
            l.sorted.extend_from_slice(&l.keys);
            let m = (cap + 1).min(n);
            if m < n {
                l.sorted.select_nth_unstable(m - 1);
                l.sorted.truncate(m);
            }
            l.sorted.sort_unstable();
        }
        // This client's nearest `cap`, in rank order: its own player, then the crowd's.
        if own_key.is_some() {
            keys.push(0);
        }
        keys.extend(
            self.look
                .sorted
                .iter()
                .filter(|&&k| Some(k) != own_key)
                .take(cap - keys.len()),
        );
        let keep_to = keys[cap - 1];
        let admit = (cap * 4 / 5).max(1);
        if admit < cap {
            set_known_bits(&mut self.known_bits, known, slot_count);
            let words = self.known_bits.len();
            let bits = &self.known_bits;
            let mut i = 0;
            keys.retain(|&key| {
                i += 1;
                let slot = key.wrapping_sub(1) as u32 as usize;
                i <= admit || (slot / 64 < words && bits[slot / 64] >> (slot % 64) & 1 == 1)
            });
            clear_known_bits(&mut self.known_bits, known);
        }
        (own_d, rank_distance(keep_to))
    }

    /// Appends the slots of `keys` ([`rank_key`]s; key 0 is `own`'s slot and distance) to
    /// `out` in slot order, [`pack`]ed with their distance. Merged through the bitset (one bit
    /// per slot of `slot_count`), not by sorting.
    fn keep(
        &mut self,
        keys: &[u64],
        slot_count: usize,
        own: Option<(usize, i32)>,
        out: &mut Vec<u64>,
    ) {
        self.bits.resize(slot_count.div_ceil(64), 0);
        self.dist.resize(slot_count, 0);
        for &key in keys {
            let (slot, d) = match key {
                0 => match own {
                    Some(own) => own,
                    None => continue,
                },
                k => ((k - 1) as u32 as usize, ((k - 1) >> 32) as i32),
            };
            if let Some(word) = self.bits.get_mut(slot / 64) {
                *word |= 1 << (slot % 64);
                self.dist[slot] = d;
            }
        }
        for (w, word) in self.bits.iter_mut().enumerate() {
            let mut bits = std::mem::take(word);
            while bits != 0 {
                let slot = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                out.push(pack(slot as u32, self.dist[slot]));
            }
        }
    }

    /// [`nearest`] on unordered [`rank_key`]s: trims `keys` to those a client with `cap`
    /// places keeps (a newcomer only among the nearest four fifths, a `known` player while it
    /// stays among the nearest `cap`), in no order; returns the cut. Call it only with more
    /// than `cap` keys. Only the `cap` nearest can be kept, so after one selection only the
    /// last fifth of them is checked against `known` (through a bitset of its slots).
    fn keep_nearest(
        &mut self,
        keys: &mut Vec<u64>,
        known: &[Known],
        cap: usize,
        slot_count: usize,
    ) -> i32 {
        if cap == 0 {
            keys.clear();
            return 0;
        }
        let admit = (cap * 4 / 5).max(1);
        let (_, &mut keep_to, _) = keys.select_nth_unstable(cap - 1);
        keys.truncate(cap);
        if admit < cap {
            keys.select_nth_unstable(admit - 1);
            set_known_bits(&mut self.known_bits, known, slot_count);
            let words = self.known_bits.len();
            let mut i = admit;
            while i < keys.len() {
                let slot = (keys[i] - 1) as u32 as usize;
                let is_known =
                    slot / 64 < words && self.known_bits[slot / 64] >> (slot % 64) & 1 == 1;
                if is_known {
                    i += 1;
                } else {
                    keys.swap_remove(i);
                }
            }
            clear_known_bits(&mut self.known_bits, known);
        }
        rank_distance(keep_to)
    }
}

impl ClientView {
    /// Players this client was told about and still sees (after the last diff).
    pub fn in_view(&self) -> usize {
        self.known.len()
    }

    /// Starts loading what the next diff reads first: the list of known players ([`prefetch`]).
    pub fn prefetch(&self) {
        prefetch_slice(&self.known);
    }

    /// Slots the last diff looked at (grid entries, or every slot without a grid).
    pub fn candidates(&self) -> usize {
        self.looked
    }

    /// What the client was told: each known player's (slot, id, state) in slot order, the tick
    /// of the last snapshot sent and the ack it carried (for keyframes).
    pub fn parts(
        &self,
    ) -> (
        impl Iterator<Item = (u32, u32, Quantized)> + '_,
        Option<u32>,
        u32,
    ) {
        (
            self.known.iter().map(|k| (k.slot, k.id, k.state)),
            self.last_sent,
            self.last_ack,
        )
    }

    /// A view rebuilt from [`ClientView::parts`]; `known` must be in strictly increasing slot
    /// order (the caller checks).
    pub fn from_parts(
        known: impl IntoIterator<Item = (u32, u32, Quantized)>,
        last_sent: Option<u32>,
        last_ack: u32,
    ) -> ClientView {
        ClientView {
            known: known
                .into_iter()
                .map(|(slot, id, state)| Known { slot, id, state })
                .collect(),
            last_sent,
            last_ack,
            looked: 0,
            cut: 0,
        }
    }

    /// Forgets a player (it left); the slot may be reused by a newcomer.
    pub fn forget(&mut self, slot: usize) {
        if let Ok(i) = self.known.binary_search_by_key(&(slot as u32), |k| k.slot) {
            self.known.remove(i);
        }
    }

    /// Builds this tick's deltas into `parts` (shared bytes where `shared` has them) and the
    /// players that left the view into `parts.gone`; returns whether a snapshot should be sent
    /// (anything changed, the ack moved, or the heartbeat is due). Only players within `view`
    /// (centre and Chebyshev radius in pixels) are replicated; those in its outer half every
    /// [`FAR_EVERY`] ticks. With a `grid` (built from `slots` this tick) only nearby players are
    /// looked at.
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
        cap: usize,
        own: Option<usize>,
        scratch: &mut ViewScratch,
        parts: &mut SnapshotParts,
    ) -> Result<bool, EncodeError> {
        parts.clear();
        // The slots in view, sorted, each with its distance (0 without a view).
        // Per-client memory is only `known`; everything else is the thread's scratch, so a
        // thousand clients' diffs stream through the same few kilobytes of cache.
        let mut in_view = std::mem::take(&mut scratch.in_view);
        in_view.clear();
        match (view, grid) {
            (Some((centre, radius)), Some(grid)) => {
                self.looked = 0;
                let mut keys = std::mem::take(&mut scratch.keys);
                keys.clear();
                // Capped last tick: look just past last tick's cut first. More than `cap`
                // players there means the nearest `cap` of the whole view are all among them
                // (everyone outside is farther), so the trim keeps exactly what it would keep
                // from the whole view; otherwise look at the whole view after all.
                let near = self.cut.saturating_add(CUT_MARGIN_PX);
                let own_within = own.is_none_or(|s| {
                    slots.get(s).and_then(Option::as_ref).is_some_and(|r| {
                        let (x, y) = r.state.pos;
                        x.saturating_sub(centre.0)
                            .saturating_abs()
                            .max(y.saturating_sub(centre.1).saturating_abs())
                            <= near
                    })
                });
                let mut look_radius = radius;
                if self.cut > 0 && near < radius && own_within {
                    let (n, looked) = scratch.look(grid, centre, near);
                    self.looked = looked;
                    if n > cap {
                        look_radius = near;
                    }
                }
                if look_radius == radius {
                    self.looked += scratch.look(grid, centre, radius).1;
                }
                let own_at = own.and_then(|s| {
                    let r = slots.get(s).and_then(Option::as_ref)?;
                    Some((s, r.state.pos))
                });
                let (own_d, cut) =
                    scratch.keys_from_look(&mut keys, own_at, &self.known, cap, grid.slot_count);
                self.cut = cut;
                let own = own.zip(own_d);
                scratch.keep(&keys, grid.slot_count, own, &mut in_view);
                scratch.keys = keys;
            }
            _ => {
                self.looked = slots.len();
                for (slot, r) in slots.iter().enumerate() {
                    let Some(r) = r else { continue };
                    let d = match view {
                        Some(((cx, cy), radius)) => {
                            let (x, y) = r.state.pos;
                            let d = x
                                .saturating_sub(cx)
                                .saturating_abs()
                                .max(y.saturating_sub(cy).saturating_abs());
                            if d > radius {
                                continue;
                            }
                            d
                        }
                        None => 0,
                    };
                    in_view.push(pack(slot as u32, d));
                }
            }
        }
        if grid.is_none() || view.is_none() {
            self.cut = 0;
        }
        if view.is_some() && grid.is_none() && in_view.len() > cap {
            self.cut = nearest(&mut in_view, &self.known, cap, own, &mut scratch.rank);
        }
        let half = view.map_or(i32::MAX, |(_, radius)| radius / 2);
        // Merge what the client knows with what it sees, both in slot order.
        let known = &self.known;
        // Who is in a slot and its state: from the shared deltas' line when there is one.
        let hot = shared.and_then(|s| s.hot_for(slots.len()));
        let player = |slot: usize| -> Option<(u32, Quantized)> {
            match hot {
                Some(hot) => hot.get(slot).filter(|h| h.live).map(|h| (h.id, h.now)),
                None => slots
                    .get(slot)
                    .and_then(Option::as_ref)
                    .map(|r| (r.id, r.state)),
            }
        };
        let mut next = std::mem::take(&mut scratch.next);
        next.clear();
        let (mut k, mut v) = (0, 0);
        while k < known.len() || v < in_view.len() {
            let ks = known.get(k).map_or(u32::MAX, |e| e.slot);
            let vs = in_view.get(v).map_or(u32::MAX, |&e| unpack(e).0);
            if ks < vs {
                // Known but out of view (or gone from the game: its leave is a roster event).
                let was = known[k];
                k += 1;
                match player(was.slot as usize) {
                    Some((id, _)) if id == was.id => {
                        if parts.gone.len() < MAX_GONE {
                            parts.gone.push(was.id);
                        } else {
                            next.push(was); // Told on a later tick.
                        }
                    }
                    _ => {}
                }
                continue;
            }
            let (slot, d) = unpack(in_view[v]);
            v += 1;
            let Some((id, now)) = player(slot as usize) else {
                continue;
            };
            let full = parts.count >= MAX_DELTAS;
            if ks == vs {
                let mut was = known[k];
                k += 1;
                if was.id == id {
                    let far = d > half;
                    if !(was.state == now
                        || full
                        || (far && !far_due(tick, slot as usize) && now.health == was.state.health))
                    {
                        let known = (was.id, was.state);
                        if !shared
                            .is_some_and(|s| s.append(slot as usize, known, &mut parts.deltas))
                        {
                            encode_body(
                                &delta(was.id, &was.state, &now),
                                "PlayerDelta",
                                &mut parts.deltas,
                            )?;
                        }
                        parts.count += 1;
                        was.state = now;
                    }
                    next.push(was);
                    continue;
                }
                // A reused slot: the old player left (a roster event); this is a new one.
            }
            if full {
                // First sight waits for the next snapshot.
                continue;
            }
            let Some(Some(r)) = slots.get(slot as usize) else {
                continue;
            };
            match shared.and_then(|s| s.first_sight(slot as usize, r, now)) {
                Some(bytes) => parts.deltas.extend_from_slice(bytes),
                None => encode_body(&first_sight(r, now), "PlayerDelta", &mut parts.deltas)?,
            }
            parts.count += 1;
            next.push(Known {
                slot,
                id: r.id,
                state: now,
            });
        }
        // The new list becomes the client's, its old buffer the next client's scratch (no copy).
        std::mem::swap(&mut self.known, &mut next);
        scratch.next = next;
        scratch.in_view = in_view;
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
    use std::collections::BTreeMap;
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
        run_capped(view, tick, slots, centre, grid, shared, usize::MAX, None)
    }

    /// [`run`] telling the client (whose player is in slot `own`) about at most `cap` players.
    #[allow(clippy::too_many_arguments)]
    fn run_capped(
        view: &mut ClientView,
        tick: u32,
        slots: &[Option<Replica>],
        centre: Option<((i32, i32), i32)>,
        grid: Option<&SlotGrid>,
        shared: Option<&SharedDeltas>,
        cap: usize,
        own: Option<usize>,
    ) -> (bool, Vec<PlayerDelta>, Vec<u32>) {
        let mut parts = SnapshotParts::default();
        let send = view
            .diff(
                tick,
                0,
                slots,
                &[],
                20,
                centre,
                grid,
                shared,
                cap,
                own,
                &mut ViewScratch::default(),
                &mut parts,
            )
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
    fn with_churn_the_grid_matches_a_full_scan_and_clients_converge() {
        // 150 slots of players walking, leaving and joining (slots reused); viewers centred on
        // some of them, each diffed through the grid and through a full scan, with shared deltas.
        let radius = 500;
        let mut seed = 11u64;
        let mut rand = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let mut next_id = 1u32;
        let mut slots: Vec<Option<Replica>> = (0..150)
            .map(|_| {
                next_id += 1;
                let mut r = replica(next_id, rand(3000) as i32 - 1500)?;
                r.state.pos.1 = rand(3000) as i32 - 1500;
                Some(r)
            })
            .collect();
        let viewers = [0usize, 7, 42, 99, 149];
        let mut by_grid: Vec<ClientView> = viewers.iter().map(|_| ClientView::default()).collect();
        let mut by_scan: Vec<ClientView> = viewers.iter().map(|_| ClientView::default()).collect();
        // What each viewer's client believes: id -> position.
        let mut believed: Vec<BTreeMap<u32, (i32, i32)>> =
            viewers.iter().map(|_| BTreeMap::new()).collect();
        let mut grid = SlotGrid::default();
        let mut shared = SharedDeltas::default();
        for tick in 1..300u32 {
            for (slot, r) in slots.iter_mut().enumerate() {
                if let Some(p) = r {
                    p.state.pos.0 += rand(41) as i32 - 20;
                    p.state.pos.1 += rand(41) as i32 - 20;
                }
                // Now and then a non-viewer leaves, or an empty slot gets a newcomer.
                if viewers.contains(&slot) || rand(100) != 0 {
                    continue;
                }
                match r {
                    Some(p) => {
                        let id = p.id;
                        *r = None;
                        for (v, b) in by_grid.iter_mut().zip(&mut by_scan) {
                            v.forget(slot);
                            b.forget(slot);
                        }
                        for m in &mut believed {
                            m.remove(&id); // PlayerLeft
                        }
                    }
                    None => {
                        next_id += 1;
                        *r = replica(next_id, rand(3000) as i32 - 1500);
                    }
                }
            }
            grid.build(&slots, 250);
            shared.build(tick, &slots).unwrap();
            for (i, &me) in viewers.iter().enumerate() {
                let centre = slots[me].as_ref().unwrap().state.pos;
                let view = Some((centre, radius));
                let a = run(
                    &mut by_grid[i],
                    tick,
                    &slots,
                    view,
                    Some(&grid),
                    Some(&shared),
                );
                let b = run(&mut by_scan[i], tick, &slots, view, None, None);
                assert_eq!(format!("{a:?}"), format!("{b:?}"), "viewer {i} tick {tick}");
                let m = &mut believed[i];
                for id in a.2 {
                    assert!(m.remove(&id).is_some(), "gone {id} was known");
                }
                for d in a.1 {
                    let p = m.entry(d.id).or_insert((i32::MIN, i32::MIN));
                    if let Some(pos) = d.position {
                        *p = (pos.x, pos.y);
                    }
                    assert_ne!(*p, (i32::MIN, i32::MIN), "a delta for an unknown player");
                    p.0 += d.dx.unwrap_or(0);
                    p.1 += d.dy.unwrap_or(0);
                }
                // The client knows exactly the players in view, and where the near ones are.
                for r in slots.iter().flatten() {
                    let d = (r.state.pos.0 - centre.0)
                        .abs()
                        .max((r.state.pos.1 - centre.1).abs());
                    match m.get(&r.id) {
                        Some(p) if d <= radius / 2 => assert_eq!(*p, r.state.pos),
                        Some(_) => assert!(d <= radius),
                        None => assert!(d > radius, "player {} in view, unknown", r.id),
                    }
                }
                assert!(m.len() <= slots.iter().flatten().count());
            }
        }
    }

    #[test]
    fn a_crowd_on_one_spot_shares_its_look_and_tells_each_what_a_full_scan_would() {
        // 150 players, 120 of them standing on one spot (newcomers at the spawn), some
        // stepping off and back; every player a viewer with room for 12, all diffed with one
        // scratch in order of position (as the loop builds them, so the crowd shares one look)
        // and each through a full scan: the snapshots must be the same bytes.
        let (radius, cap) = (500, 12);
        let mut seed = 5u64;
        let mut rand = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let mut slots: Vec<Option<Replica>> = (0..150u32)
            .map(|i| {
                let x = if i < 120 { 0 } else { rand(800) as i32 - 400 };
                let mut r = replica(i + 1, x)?;
                r.state.pos.1 = if i < 120 { 0 } else { rand(800) as i32 - 400 };
                Some(r)
            })
            .collect();
        let mut by_grid: Vec<ClientView> = slots.iter().map(|_| ClientView::default()).collect();
        let mut by_scan: Vec<ClientView> = slots.iter().map(|_| ClientView::default()).collect();
        let mut grid = SlotGrid::default();
        let mut shared = SharedDeltas::default();
        let mut scratch = ViewScratch::default();
        let mut reused = 0;
        for tick in 1..60u32 {
            for r in slots.iter_mut().flatten() {
                match rand(10) {
                    0 => r.state.pos = (0, 0),
                    1 => r.state.pos.0 += rand(7) as i32 - 3,
                    _ => {}
                }
            }
            grid.build(&slots, radius / 6);
            shared.build(tick, &slots).unwrap();
            let mut order: Vec<usize> = (0..slots.len()).collect();
            order.sort_by_key(|&i| (slots[i].as_ref().unwrap().state.pos, i));
            for &me in &order {
                let view = Some((slots[me].as_ref().unwrap().state.pos, radius));
                let mut parts = SnapshotParts::default();
                let a = &mut by_grid[me];
                let sent = a
                    .diff(
                        tick,
                        0,
                        &slots,
                        &[],
                        20,
                        view,
                        Some(&grid),
                        Some(&shared),
                        cap,
                        Some(me),
                        &mut scratch,
                        &mut parts,
                    )
                    .expect("diff");
                let snapshot = decode(&parts, tick);
                let x = (sent, snapshot.players, snapshot.gone);
                reused += usize::from(a.candidates() == 0);
                let y = run_capped(
                    &mut by_scan[me],
                    tick,
                    &slots,
                    view,
                    None,
                    Some(&shared),
                    cap,
                    Some(me),
                );
                assert_eq!(
                    format!("{x:?}"),
                    format!("{y:?}"),
                    "viewer {me} tick {tick}"
                );
                assert!(by_grid[me].in_view() <= cap);
            }
        }
        // Most of the crowd reused the look of the one before it.
        assert!(reused > 59 * 60, "reused {reused} times");
    }

    #[test]
    fn a_capped_view_looks_near_its_last_cut_first_and_tells_what_the_whole_view_would() {
        // 400 players walking in a 2,000 px square (a few jumping far now and then, as a
        // respawn does), viewers with room for 12 of the ~100 in their view: each diffed through
        // the grid (which first looks just past the last tick's cut) and through a full scan of
        // every slot, with shared deltas; the snapshots must be the same bytes.
        let (radius, cap) = (500, 12);
        let mut seed = 23u64;
        let mut rand = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let mut slots: Vec<Option<Replica>> = (0..400u32)
            .map(|i| {
                let mut r = replica(i + 1, rand(2000) as i32 - 1000)?;
                r.state.pos.1 = rand(2000) as i32 - 1000;
                Some(r)
            })
            .collect();
        let viewers = [0usize, 5, 77, 250, 399];
        let mut by_grid: Vec<ClientView> = viewers.iter().map(|_| ClientView::default()).collect();
        let mut by_scan: Vec<ClientView> = viewers.iter().map(|_| ClientView::default()).collect();
        let mut grid = SlotGrid::default();
        let mut shared = SharedDeltas::default();
        let (mut narrowed, mut capped) = (0, 0);
        for tick in 1..200u32 {
            for r in slots.iter_mut().flatten() {
                if rand(200) == 0 {
                    r.state.pos = (rand(2000) as i32 - 1000, rand(2000) as i32 - 1000);
                } else {
                    r.state.pos.0 += rand(37) as i32 - 18;
                    r.state.pos.1 += rand(37) as i32 - 18;
                }
            }
            grid.build(&slots, radius / 6);
            shared.build(tick, &slots).unwrap();
            for (i, &me) in viewers.iter().enumerate() {
                let centre = slots[me].as_ref().unwrap().state.pos;
                let view = Some((centre, radius));
                let full = grid.query(centre, radius, &mut ViewScratch::default(), &mut Vec::new());
                let (a, b) = (&mut by_grid[i], &mut by_scan[i]);
                let x = run_capped(
                    a,
                    tick,
                    &slots,
                    view,
                    Some(&grid),
                    Some(&shared),
                    cap,
                    Some(me),
                );
                let y = run_capped(b, tick, &slots, view, None, Some(&shared), cap, Some(me));
                assert_eq!(format!("{x:?}"), format!("{y:?}"), "viewer {i} tick {tick}");
                assert!(a.in_view() <= cap);
                capped += usize::from(a.cut > 0);
                narrowed += usize::from(a.candidates() < full);
            }
        }
        // The narrow look was taken (and was enough) on most ticks.
        assert!(capped > 900, "capped {capped} times");
        assert!(narrowed > capped / 2, "narrowed {narrowed} of {capped}");
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
    fn a_crowded_view_describes_the_nearest_players_and_keeps_them_at_the_margin() {
        // 30 players in a row, 10 px apart; a viewer at x = 0 with room for 10.
        let mut slots: Vec<Option<Replica>> =
            (0..30).map(|i| replica(i + 1, i as i32 * 10)).collect();
        let centre = Some(((0, 0), 1000));
        let mut view = ClientView::default();
        let (_, first, _) = run_capped(&mut view, 1, &slots, centre, None, None, 10, None);
        // Newcomers are admitted among the nearest 8 only.
        let ids: Vec<u32> = first.iter().map(|d| d.id).collect();
        assert_eq!(ids, (1..=8).collect::<Vec<u32>>());
        // Two nearer players appear: the known ones stay (8 + 2 = 10 fit in the cap).
        slots.push(replica(31, 1));
        slots.push(replica(32, 2));
        let (_, seen, gone) = run_capped(&mut view, 2, &slots, centre, None, None, 10, None);
        assert!(
            gone.is_empty(),
            "known players kept at the margin: {gone:?}"
        );
        assert_eq!(seen.iter().filter(|d| d.name.is_some()).count(), 2);
        assert_eq!(view.in_view(), 10);
        // Three more: the farthest known ones fall out of the nearest 10 and are gone.
        for (id, x) in [(33, 3), (34, 4), (35, 5)] {
            slots.push(replica(id, x));
        }
        let (_, _, mut gone) = run_capped(&mut view, 3, &slots, centre, None, None, 10, None);
        gone.sort_unstable();
        assert_eq!(gone, vec![6, 7, 8]);
        assert!(view.in_view() <= 10);
        // Uncapped, everyone within the radius is described.
        let mut all = ClientView::default();
        run_capped(&mut all, 1, &slots, centre, None, None, usize::MAX, None);
        assert_eq!(all.in_view(), 35);
        // A crowd on one spot: the viewer's own player (the last slot) is still described.
        let crowd: Vec<Option<Replica>> = (0..30).map(|i| replica(i + 1, 0)).collect();
        let mut me = ClientView::default();
        let (_, seen, _) = run_capped(&mut me, 1, &crowd, centre, None, None, 10, Some(29));
        assert!(seen.iter().any(|d| d.id == 30), "own player described");
        assert_eq!(seen.len(), 8);
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
