//! Admission control: how many connections may be pending (accepted, not yet joined) at once.
//!
//! A connection holds a [`Pending`] token from accept until its player joins (or it ends). Two
//! limits apply: one per peer address, so one host opening silent sockets cannot take every
//! pending place, and one in total, so a flood from many hosts cannot exhaust descriptors or
//! memory. The handshake deadline (in the session) bounds how long a place can be held.
//!
//! The total limit alone would let silent sockets spread over many addresses lock every new
//! player out for as long as the attack lasts. With eviction on ([`Admission::evicting`]) a
//! full table makes room instead, fairly between addresses: a newcomer whose address holds
//! fewer places than the address holding the most takes the place of that address's oldest
//! pending connection, which is told through [`Pending::eviction`] (the session then sends
//! Kick(Busy) and closes). An honest client finishes its handshake and login within a round
//! trip or two, so the oldest pending connections are the ones that are not joining; and an
//! attacker reconnecting evicts its own other addresses' places before an honest one's.
//! Refusals and evictions are counted, not logged one by one: the accept loop logs the counts
//! once per interval.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Its address already has the most pending connections allowed.
    #[error("too many pending connections from this address")]
    PerAddress,
    /// The server has the most pending connections allowed.
    #[error("too many pending connections")]
    Busy,
}

/// Refusals counted since the last [`Admission::take_refusals`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refusals {
    /// Refused by the per-address limit.
    pub per_address: u64,
    /// Refused by the total limit.
    pub busy: u64,
    /// Pending connections evicted to make room for a newcomer.
    pub evicted: u64,
    /// Distinct addresses among those refused or evicted (at most a bounded number are
    /// remembered).
    pub addresses: usize,
}

/// Addresses remembered per interval for the refusal log line, at most.
const MAX_REFUSED_ADDRS: usize = 1024;

/// One pending connection.
#[derive(Debug)]
struct Entry {
    ip: IpAddr,
    /// Told when the connection is evicted; dropped with the entry otherwise.
    evict: Option<oneshot::Sender<()>>,
}

#[derive(Debug, Default)]
struct State {
    /// Pending connections by admission order (the oldest first).
    entries: BTreeMap<u64, Entry>,
    next_seq: u64,
    by_addr: HashMap<IpAddr, usize>,
    refusals: Refusals,
    refused_addrs: HashSet<IpAddr>,
}

impl State {
    fn remember(&mut self, ip: IpAddr) {
        if self.refused_addrs.len() < MAX_REFUSED_ADDRS {
            self.refused_addrs.insert(ip);
        }
    }

    /// Removes an entry and its counts; `None` if it was already gone (evicted).
    fn remove(&mut self, seq: u64) -> Option<Entry> {
        let entry = self.entries.remove(&seq)?;
        if let Some(n) = self.by_addr.get_mut(&entry.ip) {
            *n -= 1;
            if *n == 0 {
                self.by_addr.remove(&entry.ip);
            }
        }
        Some(entry)
    }

    /// The oldest pending connection of the address holding the most places, if that address
    /// holds more than `than` (ties between addresses go to the one with the oldest connection).
    fn victim(&self, than: usize) -> Option<u64> {
        let most = self.by_addr.values().copied().max()?;
        if most <= than {
            return None;
        }
        self.entries
            .iter()
            .find(|(_, e)| self.by_addr.get(&e.ip) == Some(&most))
            .map(|(seq, _)| *seq)
    }
}

/// The limits and the connections counted against them.
#[derive(Debug, Clone)]
pub struct Admission {
    per_addr: usize,
    total: usize,
    evict: bool,
    state: Arc<Mutex<State>>,
}

/// A pending connection's place; dropping it frees the place.
#[derive(Debug)]
pub struct Pending {
    seq: u64,
    state: Arc<Mutex<State>>,
    evicted: Option<oneshot::Receiver<()>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl Admission {
    /// At most `per_addr` pending connections per address and `total` in all; past the total
    /// a newcomer is refused.
    pub fn new(per_addr: usize, total: usize) -> Admission {
        Admission {
            per_addr: per_addr.max(1),
            total: total.max(1),
            evict: false,
            state: Arc::default(),
        }
    }

    /// The same limits, but a full table evicts the oldest pending connection of the address
    /// holding the most places when the newcomer's address holds fewer (see the module doc).
    /// Only for connections that act on [`Pending::eviction`].
    pub fn evicting(per_addr: usize, total: usize) -> Admission {
        Admission {
            evict: true,
            ..Admission::new(per_addr, total)
        }
    }

    /// Takes a place for a connection from `ip` (evicting another one if allowed), or counts a
    /// refusal.
    pub fn admit(&self, ip: IpAddr) -> Result<Pending, Refusal> {
        let mut s = lock(&self.state);
        let mine = s.by_addr.get(&ip).copied().unwrap_or(0);
        if mine >= self.per_addr {
            s.refusals.per_address += 1;
            s.remember(ip);
            return Err(Refusal::PerAddress);
        }
        if s.entries.len() >= self.total {
            let victim = if self.evict { s.victim(mine) } else { None };
            let Some(victim) = victim.and_then(|seq| s.remove(seq)) else {
                s.refusals.busy += 1;
                s.remember(ip);
                return Err(Refusal::Busy);
            };
            s.refusals.evicted += 1;
            s.remember(victim.ip);
            if let Some(tx) = victim.evict {
                let _ = tx.send(());
            }
        }
        let seq = s.next_seq;
        s.next_seq += 1;
        let (tx, rx) = oneshot::channel();
        s.entries.insert(
            seq,
            Entry {
                ip,
                evict: Some(tx),
            },
        );
        *s.by_addr.entry(ip).or_insert(0) += 1;
        Ok(Pending {
            seq,
            state: Arc::clone(&self.state),
            evicted: Some(rx),
        })
    }

    /// Pending connections now.
    pub fn pending(&self) -> usize {
        lock(&self.state).entries.len()
    }

    /// The refusals counted since the last call, resetting the count.
    pub fn take_refusals(&self) -> Refusals {
        let mut s = lock(&self.state);
        let mut r = std::mem::take(&mut s.refusals);
        r.addresses = s.refused_addrs.len();
        s.refused_addrs.clear();
        r
    }
}

impl Pending {
    /// What tells this connection that it was evicted (see [`Eviction::wait`]); the first call
    /// takes it, later calls get one that never fires.
    pub fn eviction(&mut self) -> Eviction {
        Eviction(self.evicted.take())
    }
}

/// A pending connection's eviction notice.
#[derive(Debug)]
pub struct Eviction(Option<oneshot::Receiver<()>>);

impl Eviction {
    /// Completes when the connection has been evicted to make room for another (its place is
    /// already free then); never completes otherwise, also once the place was given up. Cancel
    /// safe; after it has completed once it never completes again.
    pub async fn wait(&mut self) {
        if let Some(rx) = self.0.as_mut() {
            let evicted = rx.await.is_ok();
            self.0 = None;
            if evicted {
                return;
            }
        }
        std::future::pending::<()>().await;
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        lock(&self.state).remove(self.seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_address_and_in_total_and_places_come_back() {
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let adm = Admission::new(2, 3);
        let p1 = adm.admit(a).unwrap();
        let _p2 = adm.admit(a).unwrap();
        assert_eq!(adm.admit(a).unwrap_err(), Refusal::PerAddress);
        let _p3 = adm.admit(b).unwrap();
        assert_eq!(adm.admit(b).unwrap_err(), Refusal::Busy);
        drop(p1);
        assert!(adm.admit(a).is_ok(), "a place freed is a place again");
        assert_eq!(
            adm.take_refusals(),
            Refusals {
                per_address: 1,
                busy: 1,
                evicted: 0,
                addresses: 2
            }
        );
        assert_eq!(adm.take_refusals(), Refusals::default());
    }

    #[test]
    fn a_full_table_evicts_the_oldest_of_the_address_holding_the_most() {
        let ip = |n: u8| -> IpAddr { [10, 0, 0, n].into() };
        let adm = Admission::evicting(3, 4);
        // Two addresses fill the table: 3 from .1 (the oldest first), 1 from .2.
        let mut a: Vec<Pending> = (0..3).map(|_| adm.admit(ip(1)).unwrap()).collect();
        let _b = adm.admit(ip(2)).unwrap();
        // A newcomer from .3 evicts .1's oldest place at once.
        let _c = adm.admit(ip(3)).unwrap();
        assert_eq!(adm.pending(), 4);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (mut e0, mut e1) = (a[0].eviction(), a[1].eviction());
        rt.block_on(async {
            let first = tokio::time::timeout(std::time::Duration::from_secs(5), e0.wait());
            assert!(first.await.is_ok(), "the oldest of .1 is told");
            let second = tokio::time::timeout(std::time::Duration::from_millis(50), e1.wait());
            assert!(second.await.is_err(), "the others are not");
        });
        // Now .1 holds 2, .2 and .3 one each: a newcomer from .2 evicts .1 again; then .2
        // holds 2, as many as any, and its next newcomer is refused.
        let _d = adm.admit(ip(2)).unwrap();
        assert_eq!(adm.admit(ip(2)).unwrap_err(), Refusal::Busy);
        drop(a.remove(0));
        assert_eq!(
            adm.pending(),
            4,
            "dropping an evicted place frees nothing twice"
        );
        let r = adm.take_refusals();
        assert_eq!((r.evicted, r.busy), (2, 1));
    }

    #[test]
    fn without_eviction_a_full_table_refuses() {
        let adm = Admission::new(3, 2);
        let _a = adm.admit([10, 0, 0, 1].into()).unwrap();
        let _b = adm.admit([10, 0, 0, 1].into()).unwrap();
        assert_eq!(adm.admit([10, 0, 0, 2].into()).unwrap_err(), Refusal::Busy);
    }
}
