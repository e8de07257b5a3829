//! One outgoing queue per connection, with a byte budget and a write deadline.
//!
//! Everything the server sends a client — replies such as Pong, the map transfer, join and leave
//! events, snapshots, the final Kick — goes through the connection's [`Outbox`]. A writer task
//! ([`spawn_writer`]) owns the socket's write half and drains the queue. Two rules bound what a
//! client that does not read can cost:
//!
//! - **budget**: bytes queued plus bytes being written never exceed the budget. A push that would
//!   go over it closes the outbox ([`Closed::Overflow`]); [`Outbox::send`] instead waits for room
//!   (the session's own bulk sends, map chunks, are paced by the client's reading and use at
//!   most half the budget: [`Outbox::send_bulk`]).
//! - **deadline**: one batch must be written within the deadline, or the outbox closes
//!   ([`Closed::Stalled`]).
//!
//! Once closed, the writer stops at once (dropping the write half) and whoever waits on
//! [`Outbox::closed`] (the session) ends too, so the descriptor and the player's slot are freed
//! without waiting for the peer. A graceful close ([`Outbox::finish`]) still delivers what is
//! queued, within a short grace period.
//!
//! Frames of the play state pushed by the simulation ([`Outbox::push_play`]) are held back until
//! the session has sent the map and opens play ([`Outbox::open_play`]); held bytes count against
//! the budget like any others.
//!
//! A tick's snapshots are built back to back in one buffer shared by every client's outbox
//! ([`Outbox::push_shared`]): the outbox keeps a reference to its frame's bytes there (its
//! "tail") instead of a copy, and the writer writes them from there. Copying each client's frame
//! into its queue cost the tick thread a write to every client's cold queue; now it touches one
//! line of the outbox. Anything queued after the tail first moves the tail's bytes into the
//! queue, so the bytes still go out in the order they were pushed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{watch, Notify};

/// How long a graceful close may take to deliver what is left (e.g. the Kick frame).
const GRACE: Duration = Duration::from_secs(1);

/// Why an outbox stopped accepting frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Closed {
    /// A push would have gone over the byte budget.
    #[error("outgoing queue over its budget of {budget} bytes")]
    Overflow {
        /// The budget in bytes.
        budget: usize,
    },
    /// A write did not complete within the deadline.
    #[error("client did not read for {0:?}")]
    Stalled(Duration),
    /// The socket failed.
    #[error("socket write failed: {0}")]
    Io(std::io::ErrorKind),
    /// The server closed it (session over).
    #[error("connection finished")]
    Finished,
}

/// Bytes of a buffer shared by many outboxes: `bytes[range]`.
#[derive(Debug, Clone)]
pub struct SharedBytes {
    bytes: Arc<Vec<u8>>,
    range: std::ops::Range<usize>,
}

impl SharedBytes {
    /// `bytes[range]` (empty where `range` is not within `bytes`).
    pub fn new(bytes: Arc<Vec<u8>>, range: std::ops::Range<usize>) -> SharedBytes {
        let range = if bytes.get(range.clone()).is_some() {
            range
        } else {
            0..0
        };
        SharedBytes { bytes, range }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(self.range.clone()).unwrap_or_default()
    }

    fn len(&self) -> usize {
        self.range.len()
    }
}

#[derive(Debug)]
struct State {
    queue: Vec<u8>,
    /// Bytes that go after `queue`, still in a shared buffer (see [`Outbox::push_shared`]).
    tail: Option<SharedBytes>,
    in_flight: usize,
    /// Play frames waiting for [`Outbox::open_play`] (`None` once open).
    held: Option<Vec<u8>>,
    closed: Option<Closed>,
    /// Recording copy of frames pushed by others than the session (see [`Outbox::tap`]).
    tap: Option<Vec<u8>>,
}

impl State {
    fn used(&self) -> usize {
        self.queue.len()
            + self.tail.as_ref().map_or(0, SharedBytes::len)
            + self.in_flight
            + self.held.as_ref().map_or(0, Vec::len)
    }

    /// Moves the tail's bytes into the queue (something is queued after them).
    fn settle_tail(&mut self) {
        if let Some(tail) = self.tail.take() {
            self.queue.extend_from_slice(tail.as_slice());
        }
    }

    /// Takes everything queued, the tail's bytes last.
    fn take_all(&mut self) -> Vec<u8> {
        self.settle_tail();
        std::mem::take(&mut self.queue)
    }
}

#[derive(Debug)]
struct Inner {
    budget: usize,
    state: Mutex<State>,
    /// Wakes the writer: data queued or closed.
    wake_writer: Notify,
    /// A wake for queued data is on its way to the writer (possibly deferred to the end of the
    /// tick, see [`crate::tick_batch`]), which clears this before it looks at the queue: only the
    /// first push after that wakes it.
    wake_sent: AtomicBool,
    /// Wakes [`Outbox::send`] waiters: room freed or closed.
    room: Notify,
    /// Wakes the session when tapped frames arrive.
    tapped: Notify,
    closed_tx: watch::Sender<Option<Closed>>,
}

/// A connection's outgoing queue (cheap to clone; all clones are the same queue).
#[derive(Debug, Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

impl Outbox {
    /// An empty outbox holding at most `budget` bytes.
    pub fn new(budget: usize) -> Outbox {
        let (closed_tx, _) = watch::channel(None);
        Outbox {
            inner: Arc::new(Inner {
                budget: budget.max(1),
                state: Mutex::new(State {
                    queue: Vec::new(),
                    tail: None,
                    in_flight: 0,
                    held: Some(Vec::new()),
                    closed: None,
                    tap: None,
                }),
                wake_writer: Notify::new(),
                wake_sent: AtomicBool::new(false),
                room: Notify::new(),
                tapped: Notify::new(),
                closed_tx,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the queue inconsistent: take it anyway.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Starts loading the lines a push reads and writes (the count a wake's clone bumps, the
    /// lock and the queue's state, the wake flag): a hint for the tick, which pushes to every
    /// client in turn and asks a few clients ahead ([`tilegame_sim::link::prefetch`]).
    pub fn prefetch(&self) {
        let inner: &Inner = &self.inner;
        tilegame_sim::link::prefetch(Arc::as_ptr(&self.inner));
        tilegame_sim::link::prefetch(&inner.state);
        tilegame_sim::link::prefetch(&inner.wake_sent);
    }

    /// The byte budget.
    pub fn budget(&self) -> usize {
        self.inner.budget
    }

    /// Bytes queued, held or being written.
    pub fn pending_bytes(&self) -> usize {
        self.lock().used()
    }

    /// Why it closed, if it has.
    pub fn closed_reason(&self) -> Option<Closed> {
        self.lock().closed
    }

    /// Queues encoded frames now; over the budget, closes the outbox and fails.
    pub fn push(&self, frames: &[u8]) -> Result<(), Closed> {
        self.push_inner(frames, false)
    }

    /// Queues play-state frames from the simulation (snapshots, joins and leaves): held until
    /// [`Outbox::open_play`], and copied to the recording tap if one is on. Over the budget,
    /// closes the outbox and fails.
    pub fn push_play(&self, frames: &[u8]) -> Result<(), Closed> {
        self.push_inner(frames, true)
    }

    fn push_inner(&self, frames: &[u8], play: bool) -> Result<(), Closed> {
        let mut s = self.lock();
        if let Some(c) = s.closed {
            return Err(c);
        }
        if s.used() + frames.len() > self.inner.budget {
            let c = Closed::Overflow {
                budget: self.inner.budget,
            };
            self.close_locked(&mut s, c);
            return Err(c);
        }
        if play {
            if let Some(held) = &mut s.held {
                held.extend_from_slice(frames);
                return Ok(());
            }
            self.tap_locked(&mut s, frames);
        }
        s.settle_tail();
        s.queue.extend_from_slice(frames);
        drop(s);
        self.wake();
        Ok(())
    }

    /// [`Outbox::push_play`] of `frames`, a part of a buffer shared with other outboxes (a tick's
    /// snapshots): kept by reference and written from there, not copied (unless play is not
    /// open yet, or something is queued after it before the writer takes it).
    pub fn push_shared(&self, frames: SharedBytes) -> Result<(), Closed> {
        let mut s = self.lock();
        if let Some(c) = s.closed {
            return Err(c);
        }
        let bytes = frames.as_slice();
        if s.used() + bytes.len() > self.inner.budget {
            let c = Closed::Overflow {
                budget: self.inner.budget,
            };
            self.close_locked(&mut s, c);
            return Err(c);
        }
        if let Some(held) = &mut s.held {
            held.extend_from_slice(bytes);
            return Ok(());
        }
        self.tap_locked(&mut s, bytes);
        s.settle_tail();
        s.tail = Some(frames);
        drop(s);
        self.wake();
        Ok(())
    }

    /// Data was queued: wakes the writer unless a wake is already on its way (on the tick
    /// thread, at the end of the tick: see [`crate::tick_batch`]).
    fn wake(&self) {
        if self.inner.wake_sent.swap(true, Ordering::SeqCst) {
            return;
        }
        if !crate::tick_batch::defer_wake(self) {
            self.wake_now();
        }
    }

    /// Wakes the writer now.
    pub(crate) fn wake_now(&self) {
        self.inner.wake_writer.notify_one();
    }

    fn tap_locked(&self, s: &mut State, frames: &[u8]) {
        if let Some(t) = &mut s.tap {
            // The tap is drained by the session each time it is woken; bound it anyway.
            if t.len() + frames.len() <= self.inner.budget {
                t.extend_from_slice(frames);
                self.inner.tapped.notify_one();
            }
        }
    }

    /// The session has sent everything before play: releases the held play frames, in order.
    pub fn open_play(&self) {
        let mut s = self.lock();
        if let Some(held) = s.held.take() {
            self.tap_locked(&mut s, &held);
            s.settle_tail();
            s.queue.extend_from_slice(&held);
            drop(s);
            if !held.is_empty() {
                self.wake();
            }
        }
    }

    /// Queues encoded frames, waiting for room if the budget is used up (the writer's deadline
    /// bounds the wait: a client that stops reading closes the outbox).
    pub async fn send(&self, frames: &[u8]) -> Result<(), Closed> {
        self.send_within(frames, self.inner.budget).await
    }

    /// Queues the session's bulk frames (map chunks), waiting until they fit in half the
    /// budget: the other half stays free for the simulation's frames pushed meanwhile, so a
    /// client still taking a large map is not dropped because a snapshot arrived.
    pub async fn send_bulk(&self, frames: &[u8]) -> Result<(), Closed> {
        self.send_within(frames, self.inner.budget / 2).await
    }

    async fn send_within(&self, frames: &[u8], limit: usize) -> Result<(), Closed> {
        loop {
            let room = self.inner.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut s = self.lock();
                if let Some(c) = s.closed {
                    return Err(c);
                }
                // An oversized frame is let through once nothing is being sent, rather than
                // waiting forever (held play frames do not count: they wait for this one).
                let sending =
                    s.queue.len() + s.tail.as_ref().map_or(0, SharedBytes::len) + s.in_flight;
                if s.used() + frames.len() <= limit || sending == 0 {
                    s.settle_tail();
                    s.queue.extend_from_slice(frames);
                    drop(s);
                    self.wake();
                    return Ok(());
                }
            }
            room.await;
        }
    }

    /// Closes the outbox at once: queued bytes are dropped and a write in progress is abandoned.
    pub fn abort(&self, reason: Closed) {
        let mut s = self.lock();
        self.close_locked(&mut s, reason);
    }

    /// Closes the outbox after delivering what is queued (within a short grace period).
    pub fn finish(&self) {
        let mut s = self.lock();
        if s.closed.is_none() {
            s.closed = Some(Closed::Finished);
            drop(s);
            self.inner.closed_tx.send_replace(Some(Closed::Finished));
            self.inner.wake_writer.notify_one();
            self.inner.room.notify_waiters();
        }
    }

    fn close_locked(&self, s: &mut State, reason: Closed) {
        if s.closed.is_some() {
            return;
        }
        s.closed = Some(reason);
        s.queue = Vec::new();
        s.tail = None;
        s.held = None;
        s.tap = None;
        self.inner.closed_tx.send_replace(Some(reason));
        self.inner.wake_writer.notify_one();
        self.inner.room.notify_waiters();
    }

    /// Resolves when the outbox closes, with the reason.
    pub async fn closed(&self) -> Closed {
        let mut rx = self.inner.closed_tx.subscribe();
        let reason = match rx.wait_for(Option::is_some).await {
            Ok(c) => c.unwrap_or(Closed::Finished),
            Err(_) => Closed::Finished,
        };
        reason
    }

    /// Starts copying frames pushed with [`Outbox::push_tapped`] for the session to record.
    pub fn start_tap(&self) {
        let mut s = self.lock();
        if s.tap.is_none() {
            s.tap = Some(Vec::new());
        }
    }

    /// Takes everything queued, as the writer would (for consumers without a socket: unit
    /// tests and the tick benchmark).
    pub fn drain(&self) -> Vec<u8> {
        let taken = self.lock().take_all();
        self.inner.room.notify_waiters();
        taken
    }

    /// Waits for tapped frames and takes them (never resolves when no tap is on).
    pub async fn tapped(&self) -> Vec<u8> {
        loop {
            let woken = self.inner.tapped.notified();
            {
                let mut s = self.lock();
                if let Some(t) = &mut s.tap {
                    if !t.is_empty() {
                        return std::mem::take(t);
                    }
                }
            }
            woken.await;
        }
    }
}

/// Spawns the task that drains `outbox` into `writer` (a TCP socket's write half, or a
/// WebSocket's, see [`crate::web`]), each batch written and flushed within `deadline`. Batches
/// are whole frames: a writer may rely on a write starting at a frame boundary.
pub fn spawn_writer<W>(outbox: Outbox, writer: W, deadline: Duration) -> tokio::task::JoinHandle<()>
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(write_loop(outbox, writer, deadline))
}

async fn write_loop<W: AsyncWrite + Unpin>(outbox: Outbox, mut writer: W, deadline: Duration) {
    let inner = Arc::clone(&outbox.inner);
    let mut closed_rx = inner.closed_tx.subscribe();
    let mut batch = Vec::new();
    // A batch that is only a shared tail is written from the shared buffer, uncopied.
    let mut tail: Option<SharedBytes> = None;
    loop {
        let woken = inner.wake_writer.notified();
        // Pushes from now on must wake this loop again (what is queued so far is seen below).
        inner.wake_sent.store(false, Ordering::SeqCst);
        let graceful = {
            let mut s = outbox.lock();
            match s.closed {
                Some(Closed::Finished) => true,
                Some(_) => return, // aborted: drop the socket now
                None => {
                    if s.queue.is_empty() {
                        tail = s.tail.take();
                    } else {
                        s.settle_tail();
                        std::mem::swap(&mut s.queue, &mut batch);
                    }
                    s.in_flight = batch.len() + tail.as_ref().map_or(0, SharedBytes::len);
                    false
                }
            }
        };
        if graceful {
            let rest = outbox.lock().take_all();
            let _ = tokio::time::timeout(GRACE.min(deadline), async {
                writer.write_all(&rest).await?;
                writer.shutdown().await
            })
            .await;
            return;
        }
        if batch.is_empty() && tail.is_none() {
            woken.await;
            continue;
        }
        let bytes = match &tail {
            Some(t) => t.as_slice(),
            None => &batch[..],
        };
        let result = tokio::select! {
            r = tokio::time::timeout(deadline, async {
                writer.write_all(bytes).await?;
                writer.flush().await
            }) => r,
            // An abort while writing: stop at once (the batch is abandoned mid-way).
            _ = closed_rx.wait_for(|c| c.is_some_and(|c| c != Closed::Finished)) => return,
        };
        batch.clear();
        tail = None;
        let failure = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(Closed::Io(e.kind())),
            Err(_) => Some(Closed::Stalled(deadline)),
        };
        let mut s = outbox.lock();
        s.in_flight = 0;
        match failure {
            Some(c) => {
                outbox.close_locked(&mut s, c);
                return;
            }
            None => {
                drop(s);
                inner.room.notify_waiters();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_over_the_budget_closes_with_overflow() {
        let o = Outbox::new(10);
        assert!(o.push(&[0; 6]).is_ok());
        assert_eq!(o.pending_bytes(), 6);
        assert_eq!(o.push(&[0; 5]), Err(Closed::Overflow { budget: 10 }));
        assert_eq!(o.closed_reason(), Some(Closed::Overflow { budget: 10 }));
        assert_eq!(o.pending_bytes(), 0, "queued bytes are released");
        assert!(o.push(&[0]).is_err(), "closed for good");
    }

    #[test]
    fn shared_frames_keep_their_place_among_copied_ones_and_count_against_the_budget() {
        let o = Outbox::new(12);
        o.open_play();
        let tick = Arc::new(vec![9, 1, 2, 3, 9]);
        o.push_play(&[0]).unwrap();
        o.push_shared(SharedBytes::new(Arc::clone(&tick), 1..4))
            .unwrap();
        assert_eq!(o.pending_bytes(), 4);
        o.push_play(&[4]).unwrap();
        o.push_shared(SharedBytes::new(Arc::clone(&tick), 2..3))
            .unwrap();
        o.push_shared(SharedBytes::new(Arc::clone(&tick), 3..4))
            .unwrap();
        assert_eq!(o.drain(), vec![0, 1, 2, 3, 4, 2, 3]);
        assert_eq!(
            Arc::strong_count(&tick),
            1,
            "no outbox keeps the buffer once drained"
        );
        o.push_shared(SharedBytes::new(Arc::clone(&tick), 0..5))
            .unwrap();
        o.push_play(&[0; 7]).unwrap();
        assert_eq!(
            o.push_shared(SharedBytes::new(Arc::clone(&tick), 0..1)),
            Err(Closed::Overflow { budget: 12 })
        );
        assert_eq!(Arc::strong_count(&tick), 1, "a closed outbox lets go of it");
    }

    #[test]
    fn a_shared_frame_pushed_before_play_is_held_in_order() {
        let o = Outbox::new(100);
        let tick = Arc::new(vec![5, 6]);
        o.push_shared(SharedBytes::new(Arc::clone(&tick), 0..2))
            .unwrap();
        o.push(&[1]).unwrap();
        o.open_play();
        assert_eq!(o.drain(), vec![1, 5, 6]);
        assert!(
            SharedBytes::new(tick, 1..3).as_slice().is_empty(),
            "a range past the end is empty"
        );
    }

    #[test]
    fn play_frames_wait_for_play_and_are_tapped_in_order() {
        let o = Outbox::new(100);
        o.start_tap();
        o.push_play(&[4, 5]).unwrap();
        o.push(&[1, 2, 3]).unwrap();
        assert_eq!(o.pending_bytes(), 5, "held bytes count");
        o.open_play();
        o.push_play(&[6]).unwrap();
        assert_eq!(o.drain(), vec![1, 2, 3, 4, 5, 6]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(o.tapped()), vec![4, 5, 6], "only play frames");
    }
}
