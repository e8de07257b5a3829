//! Values keyed by player id: found in constant time for the small, dense ids a server hands
//! out, in logarithmic time for any other, and listed in id order when asked.
//!
//! Replaying a recording looks a player up for every delta of every snapshot, and a tree's
//! look-up (a few nodes, a dozen comparisons) was most of applying one. A sorted `Vec` would be
//! faster to search but a hostile recording that keeps introducing ever lower ids would make
//! each insertion shift the whole list. So the values live in a plain `Vec` (removal swaps the
//! last one in), a tree maps each id to its place (order, and any id), and a direct table maps
//! the ids below a bound to their place in one load. The table never grows past about twice
//! the players present plus a few hundred entries, so no id, however large, costs memory.

use std::collections::BTreeMap;

/// Direct-table entries allowed beyond twice the values present.
const DIRECT_SLACK: usize = 256;

/// Values keyed by `u32` id (see the module's doc).
#[derive(Debug, Clone)]
pub(crate) struct Roster<T> {
    /// Every value with its id, in no particular order.
    values: Vec<(u32, T)>,
    /// Each id's place in `values`, in id order.
    order: BTreeMap<u32, usize>,
    /// For each id below its length, its place in `values` plus one (0: no such id).
    direct: Vec<usize>,
}

impl<T> Default for Roster<T> {
    fn default() -> Self {
        Roster {
            values: Vec::new(),
            order: BTreeMap::new(),
            direct: Vec::new(),
        }
    }
}

impl<T> Roster<T> {
    /// How many values.
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Where `id`'s value is, if it has one.
    #[inline]
    pub(crate) fn index_of(&self, id: u32) -> Option<usize> {
        match self.direct.get(id as usize) {
            Some(0) => None,
            Some(&at) => Some(at - 1),
            None => self.order.get(&id).copied(),
        }
    }

    /// The value at a place [`Self::index_of`] or [`Self::insert`] gave.
    #[inline]
    pub(crate) fn at_mut(&mut self, index: usize) -> Option<&mut T> {
        self.values.get_mut(index).map(|(_, v)| v)
    }

    /// `id`'s value.
    pub(crate) fn get(&self, id: u32) -> Option<&T> {
        self.values.get(self.index_of(id)?).map(|(_, v)| v)
    }

    /// `id`'s value, to change.
    pub(crate) fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        let index = self.index_of(id)?;
        self.at_mut(index)
    }

    /// `id`'s value, first made by `make` if it has none.
    pub(crate) fn get_or_insert_with(&mut self, id: u32, make: impl FnOnce() -> T) -> &mut T {
        let index = match self.index_of(id) {
            Some(index) => index,
            None => self.insert(id, make()),
        };
        &mut self.values[index].1
    }

    /// Adds a value for an id that has none (the caller checked with [`Self::index_of`]);
    /// returns its place.
    pub(crate) fn insert(&mut self, id: u32, value: T) -> usize {
        debug_assert!(self.index_of(id).is_none(), "id {id} is already present");
        let index = self.values.len();
        self.values.push((id, value));
        self.order.insert(id, index);
        let slot = id as usize;
        if let Some(entry) = self.direct.get_mut(slot) {
            *entry = index + 1;
        } else if slot < 2 * self.values.len() + DIRECT_SLACK {
            // Grow the table to cover this id (and a little more), filling in the ids already
            // present in the newly covered range.
            let old = self.direct.len();
            let new = (slot + 1)
                .max(old * 2)
                .min(2 * self.values.len() + DIRECT_SLACK);
            self.direct.resize(new, 0);
            let (from, to) = (
                u32::try_from(old).unwrap_or(u32::MAX),
                u32::try_from(new).unwrap_or(u32::MAX),
            );
            for (&id, &at) in self.order.range(from..to) {
                self.direct[id as usize] = at + 1;
            }
        }
        index
    }

    /// Removes `id`'s value and returns it.
    pub(crate) fn remove(&mut self, id: u32) -> Option<T> {
        let index = self.order.remove(&id)?;
        if let Some(entry) = self.direct.get_mut(id as usize) {
            *entry = 0;
        }
        let (_, value) = self.values.swap_remove(index);
        // The last value took the removed one's place.
        if let Some(&(moved, _)) = self.values.get(index) {
            self.order.insert(moved, index);
            if let Some(entry) = self.direct.get_mut(moved as usize) {
                *entry = index + 1;
            }
        }
        Some(value)
    }

    /// Every value, in no particular order (the cheapest walk: for sums that ignore order).
    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.values.iter().map(|(_, v)| v)
    }

    /// Every id and value, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.order
            .iter()
            .filter_map(|(&id, &at)| self.values.get(at).map(|(_, v)| (id, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks every read of `roster` against the same operations on a tree.
    fn check(roster: &Roster<u64>, model: &BTreeMap<u32, u64>, probes: &[u32]) {
        assert_eq!(roster.len(), model.len());
        assert!(roster
            .iter()
            .map(|(id, v)| (id, *v))
            .eq(model.iter().map(|(k, v)| (*k, *v))));
        let mut sum: Vec<u64> = roster.values().copied().collect();
        sum.sort_unstable();
        let mut expected: Vec<u64> = model.values().copied().collect();
        expected.sort_unstable();
        assert_eq!(sum, expected);
        for &id in probes.iter().chain(model.keys()) {
            assert_eq!(roster.get(id), model.get(&id), "id {id}");
        }
        assert!(roster.direct.len() <= 2 * model.len().max(roster.len()) + 2 * DIRECT_SLACK);
    }

    #[test]
    fn it_reads_as_a_tree_whatever_the_ids() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for case in 0..60 {
            let mut roster = Roster::default();
            let mut model = BTreeMap::new();
            for step in 0..400u64 {
                // Dense ids, descending ids, and ids anywhere in the u32 range.
                let id = match case % 3 {
                    0 => next(300) as u32,
                    1 => 1_000_000 - (step as u32 * 3 + next(3) as u32),
                    _ => next(u64::from(u32::MAX) + 1) as u32,
                };
                if next(4) == 0 {
                    assert_eq!(roster.remove(id), model.remove(&id));
                } else {
                    let value = next(1 << 40);
                    *roster.get_or_insert_with(id, || value) += 1;
                    *model.entry(id).or_insert(value) += 1;
                }
                if step % 37 == 0 {
                    check(&roster, &model, &[0, 1, 255, 256, 1_000_000, u32::MAX]);
                }
            }
            check(&roster, &model, &[0, u32::MAX]);
            // Emptied in any order, it is empty.
            let ids: Vec<u32> = model.keys().copied().collect();
            let odd = ids.iter().skip(1).step_by(2);
            for &id in odd.chain(ids.iter().step_by(2).rev()) {
                assert_eq!(roster.remove(id), model.remove(&id));
            }
            check(&roster, &model, &[0]);
            assert!(roster.is_empty());
        }
    }

    #[test]
    fn a_huge_id_costs_no_table() {
        let mut roster = Roster::default();
        roster.insert(u32::MAX, 1u64);
        roster.insert(4_000_000_000, 2);
        assert!(roster.direct.is_empty());
        assert_eq!(roster.get(u32::MAX), Some(&1));
        // Small ids still get the table, and the big ones stay found through the tree.
        for id in 0..100 {
            roster.insert(id, u64::from(id));
        }
        assert!(roster.direct.len() <= 2 * 102 + DIRECT_SLACK);
        assert_eq!(roster.get(4_000_000_000), Some(&2));
        assert_eq!(roster.get(57), Some(&57));
        assert_eq!(roster.index_of(100), None);
    }
}
