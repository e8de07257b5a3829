//! Admission control: how many connections may be pending (accepted, not yet joined) at once.
//!
//! A connection holds a [`Pending`] token from accept until its player joins (or it ends). Two
//! limits apply: one per peer address, so one host opening silent sockets cannot take every
//! pending place, and one in total, so a flood from many hosts cannot exhaust descriptors or
//! memory. The handshake deadline (in the session) bounds how long a place can be held. Refusals
//! are counted, not logged one by one: the accept loop logs the counts once per interval.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

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
    /// Distinct addresses among those refused (at most a bounded number are remembered).
    pub addresses: usize,
}

/// Addresses remembered per interval for the refusal log line, at most.
const MAX_REFUSED_ADDRS: usize = 1024;

#[derive(Debug, Default)]
struct State {
    by_addr: HashMap<IpAddr, usize>,
    total: usize,
    refusals: Refusals,
    refused_addrs: std::collections::HashSet<IpAddr>,
}

/// The limits and the connections counted against them.
#[derive(Debug, Clone)]
pub struct Admission {
    per_addr: usize,
    total: usize,
    state: Arc<Mutex<State>>,
}

/// A pending connection's place; dropping it frees the place.
#[derive(Debug)]
pub struct Pending {
    ip: IpAddr,
    state: Arc<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl Admission {
    /// At most `per_addr` pending connections per address and `total` in all.
    pub fn new(per_addr: usize, total: usize) -> Admission {
        Admission {
            per_addr: per_addr.max(1),
            total: total.max(1),
            state: Arc::default(),
        }
    }

    /// Takes a place for a connection from `ip`, or counts a refusal.
    pub fn admit(&self, ip: IpAddr) -> Result<Pending, Refusal> {
        let mut s = lock(&self.state);
        let refusal = if s.total >= self.total {
            Some(Refusal::Busy)
        } else if s.by_addr.get(&ip).copied().unwrap_or(0) >= self.per_addr {
            Some(Refusal::PerAddress)
        } else {
            None
        };
        if let Some(r) = refusal {
            match r {
                Refusal::Busy => s.refusals.busy += 1,
                Refusal::PerAddress => s.refusals.per_address += 1,
            }
            if s.refused_addrs.len() < MAX_REFUSED_ADDRS {
                s.refused_addrs.insert(ip);
            }
            return Err(r);
        }
        s.total += 1;
        *s.by_addr.entry(ip).or_insert(0) += 1;
        Ok(Pending {
            ip,
            state: Arc::clone(&self.state),
        })
    }

    /// Pending connections now.
    pub fn pending(&self) -> usize {
        lock(&self.state).total
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

impl Drop for Pending {
    fn drop(&mut self) {
        let mut s = lock(&self.state);
        s.total = s.total.saturating_sub(1);
        if let Some(n) = s.by_addr.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                s.by_addr.remove(&self.ip);
            }
        }
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
                addresses: 2
            }
        );
        assert_eq!(adm.take_refusals(), Refusals::default());
    }
}
