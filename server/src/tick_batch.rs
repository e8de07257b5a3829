//! What queueing frames costs the tick thread, paid once per tick instead of once per client.
//!
//! Each tick the loop pushes a frame to every client in play. Done one by one, each push read
//! the clock, counted its bytes into a shared metric and woke the connection's writer task from
//! outside the runtime (the runtime's injection queue, and often a parked worker thread to
//! unpark): together nearly as much as building the snapshots. While a [`TickBatch`] is open on
//! the tick thread (around [`tilegame_sim::Sim::tick`], see [`crate::ticker`]), pushes made on
//! that thread instead
//!
//! - read the tick's one clock reading ([`now`]),
//! - add the Snapshot bytes they queue to a sum that goes into the metric when the batch closes
//!   ([`count_snapshot`]), and
//! - leave their writers' wakes in a list that the batch hands, when it closes, to a task on the
//!   server's runtime ([`spawn_waker`]), which wakes them all from a worker thread.
//!
//! Outside a batch (sessions' own pushes, other threads) every push does all of this itself, at
//! once. What is sent, and what the metrics say once a tick is over, are the same either way.

use std::cell::RefCell;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::metrics::Metrics;
use crate::outbox::Outbox;

/// Writers whose wakes a tick deferred, for the waker task.
type Wakes = Vec<Outbox>;

/// What the open batch of this thread has gathered.
struct Open {
    now: Instant,
    metrics: Arc<Metrics>,
    snapshot_bytes: u64,
    wakes: Wakes,
}

thread_local! {
    static OPEN: RefCell<Option<Open>> = const { RefCell::new(None) };
}

/// Hands deferred wakes to the task that performs them (see [`spawn_waker`]).
#[derive(Debug, Clone)]
pub struct Waker(mpsc::UnboundedSender<Wakes>);

/// Spawns, on the current runtime, the task that wakes the writers a tick deferred; it ends when
/// every [`Waker`] is dropped.
pub fn spawn_waker() -> Waker {
    let (tx, mut rx) = mpsc::unbounded_channel::<Wakes>();
    tokio::spawn(async move {
        while let Some(wakes) = rx.recv().await {
            for outbox in wakes {
                outbox.wake_now();
            }
        }
    });
    Waker(tx)
}

/// A batch open on this thread (at most one); closing it (dropping it) counts what it
/// gathered into the metrics and hands the wakes to the waker, or performs them where there is
/// none or it has stopped.
pub struct TickBatch {
    waker: Option<Waker>,
}

impl TickBatch {
    /// Opens a batch on this thread for pushes counted into `metrics`, reading the clock once.
    pub fn open(metrics: &Arc<Metrics>, waker: Option<Waker>, capacity: usize) -> TickBatch {
        OPEN.with_borrow_mut(|open| {
            *open = Some(Open {
                now: Instant::now(),
                metrics: Arc::clone(metrics),
                snapshot_bytes: 0,
                wakes: Vec::with_capacity(capacity),
            });
        });
        TickBatch { waker }
    }
}

impl Drop for TickBatch {
    fn drop(&mut self) {
        let Some(open) = OPEN.with_borrow_mut(Option::take) else {
            return;
        };
        if open.snapshot_bytes > 0 {
            open.metrics.snapshot_frames(open.snapshot_bytes);
        }
        if open.wakes.is_empty() {
            return;
        }
        let left = match &self.waker {
            Some(waker) => match waker.0.send(open.wakes) {
                Ok(()) => return,
                Err(mpsc::error::SendError(wakes)) => wakes,
            },
            None => open.wakes,
        };
        for outbox in left {
            outbox.wake_now();
        }
    }
}

/// The open batch's clock reading, or the clock's.
pub fn now() -> Instant {
    OPEN.with_borrow(|open| open.as_ref().map(|o| o.now))
        .unwrap_or_else(Instant::now)
}

/// Counts `bytes` of Snapshot frames queued: into the open batch if it counts into `metrics`,
/// else at once.
pub fn count_snapshot(metrics: &Arc<Metrics>, bytes: usize) {
    let batched = OPEN.with_borrow_mut(|open| match open {
        Some(o) if Arc::ptr_eq(&o.metrics, metrics) => {
            o.snapshot_bytes += bytes as u64;
            true
        }
        _ => false,
    });
    if !batched {
        metrics.snapshot_frames(bytes as u64);
    }
}

/// Leaves the wake of `outbox`'s writer to the open batch; false where none is open.
pub(crate) fn defer_wake(outbox: &Outbox) -> bool {
    OPEN.with_borrow_mut(|open| match open {
        Some(o) => {
            o.wakes.push(outbox.clone());
            true
        }
        None => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_batch_counts_on_close_and_wakes_what_it_deferred() {
        let metrics = Arc::new(Metrics::new(Duration::from_millis(50)));
        let outbox = Outbox::new(100);
        outbox.open_play();
        let line = "tilegame_network_bytes_total{direction=\"out\",packet=\"Snapshot\"}";
        let count = |m: &Metrics| {
            m.encode()
                .lines()
                .find_map(|l| l.strip_prefix(line).map(|v| v.trim().to_owned()))
        };
        {
            let batch = TickBatch::open(&metrics, None, 1);
            let t = now();
            assert_eq!(now(), t, "one clock reading per batch");
            count_snapshot(&metrics, 7);
            count_snapshot(&metrics, 5);
            assert_eq!(count(&metrics).as_deref(), Some("0"), "counted on close");
            outbox.push_play(&[1, 2]).expect("fits");
            assert!(OPEN.with_borrow(|o| o.as_ref().is_some_and(|o| o.wakes.len() == 1)));
            outbox.push_play(&[3]).expect("fits");
            assert!(
                OPEN.with_borrow(|o| o.as_ref().is_some_and(|o| o.wakes.len() == 1)),
                "one wake per writer until it runs"
            );
            drop(batch);
        }
        assert_eq!(count(&metrics).as_deref(), Some("12"));
        // Outside a batch, counting is immediate.
        count_snapshot(&metrics, 3);
        assert_eq!(count(&metrics).as_deref(), Some("15"));
        assert_eq!(outbox.drain(), vec![1, 2, 3]);
    }
}
