//! Whether a client in play reads what it is sent: the liveness check behind the spec's
//! *Reading* rule.
//!
//! A client that keeps sending Inputs but never reads costs the server a socket, a player and
//! every byte queued for it, and in a quiet world (a Snapshot of a few dozen bytes per tick) the
//! kernel's buffers take hours to fill, so the outbox budget alone never drops it. Every Input
//! carries `ack_tick`, the newest Snapshot tick the client has applied, which a client learns
//! only by reading. The link records when Snapshots are queued ([`SentSnapshots::sent`]); the
//! session compares each Input's `ack_tick` with the newest Snapshot queued at least the read
//! timeout before ([`SentSnapshots::unread`]; [`READ_LAG`] unless the config's
//! `read_timeout_secs` says otherwise): older means the client has not read for that long, and
//! it is dropped as TooSlow.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// How long a client may take to acknowledge a Snapshot it was sent, by default (the spec's
/// `READ_TIMEOUT_MS`, see its *Reading* rule).
pub const READ_LAG: Duration = Duration::from_millis(tilegame_protocol::v1::READ_TIMEOUT_MS as u64);

/// At most one Snapshot per this interval is remembered (bounds the memory and the work).
pub(crate) const SAMPLE: Duration = Duration::from_millis(250);

#[derive(Debug)]
struct Sent {
    lag: Duration,
    /// (tick, when queued), oldest first; of those older than `lag` only the newest is kept.
    queued: VecDeque<(u32, Instant)>,
}

/// When recent Snapshots were queued for one client, shared by its link (which records) and its
/// session (which checks). Holds at most `lag / 250 ms + 2` entries.
#[derive(Debug, Clone)]
pub struct SentSnapshots(Arc<Mutex<Sent>>);

impl SentSnapshots {
    /// Nothing sent yet; a client may take `lag` to acknowledge a Snapshot.
    pub fn new(lag: Duration) -> SentSnapshots {
        SentSnapshots(Arc::new(Mutex::new(Sent {
            lag,
            queued: VecDeque::new(),
        })))
    }

    /// The Snapshot of `tick` was queued at `now` (remembered only if the last one remembered
    /// was queued at least 250 ms before: a caller that knows when that was can skip the lock,
    /// see [`crate::link::SessionLink`]).
    pub fn sent(&self, tick: u32, now: Instant) {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let lag = s.lag;
        let q = &mut s.queued;
        if q.back()
            .is_some_and(|&(_, at)| now.duration_since(at) < SAMPLE)
        {
            return;
        }
        q.push_back((tick, now));
        // Of the entries older than the lag only the newest matters.
        while q.len() >= 2
            && q.get(1)
                .is_some_and(|&(_, at)| now.duration_since(at) >= lag)
        {
            q.pop_front();
        }
    }

    /// The newest Snapshot queued at least the lag before `now`, with how long ago, when an
    /// Input acknowledging `acked` shows it has not been read.
    pub fn unread(&self, acked: u32, now: Instant) -> Option<(u32, Duration)> {
        let s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let &(tick, at) = s
            .queued
            .iter()
            .rev()
            .find(|&&(_, at)| now.duration_since(at) >= s.lag)?;
        (acked < tick).then(|| (tick, now.duration_since(at)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ack_older_than_a_snapshot_sent_read_lag_ago_is_unread() {
        let t0 = Instant::now();
        let s = SentSnapshots::new(READ_LAG);
        // A Snapshot every tick (50 ms) for 10 s.
        for i in 0..200u32 {
            s.sent(100 + i, t0 + Duration::from_millis(50 * u64::from(i)));
        }
        let now = t0 + Duration::from_millis(50 * 199);
        // Acknowledging anything from READ_LAG ago or newer passes; older fails.
        let (due, age) = s.unread(0, now).expect("old ack");
        assert!(age >= READ_LAG);
        assert!(s.unread(due, now).is_none());
        assert!(s.unread(299, now).is_none());
        assert_eq!(s.unread(due - 1, now).map(|(t, _)| t), Some(due));
        // Nothing is due before the lag has passed since the first Snapshot.
        let fresh = SentSnapshots::new(READ_LAG);
        fresh.sent(5, t0);
        assert!(fresh.unread(0, t0 + READ_LAG / 2).is_none());
        assert!(fresh.unread(0, t0 + READ_LAG).is_some());
        // A longer lag waits longer.
        let patient = SentSnapshots::new(READ_LAG * 4);
        patient.sent(5, t0);
        assert!(patient.unread(0, t0 + READ_LAG * 2).is_none());
        // Bounded memory.
        let len = s.0.lock().unwrap().queued.len();
        assert!(
            len <= (READ_LAG.as_millis() / SAMPLE.as_millis()) as usize + 2,
            "{len}"
        );
    }
}
