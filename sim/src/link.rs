//! The seam between the loop and a connection: what the simulation may do to a client.
//!
//! The loop answers a join, pushes play-state frames (snapshots, joins, leaves) and, when it
//! drops a client, tells it why. It never waits: a push that does not fit the client's budget
//! fails at once and the loop drops that client ([`PushError::Full`]), so one slow reader costs
//! its own budget and nobody else's time. The server implements [`ClientLink`] over its socket
//! outboxes; [`MemoryLink`] keeps everything in memory for re-simulation, tests and benchmarks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tilegame_protocol::v1::JoinError;

use crate::simulation::{Joined, Kick};

/// Asks the CPU to start loading the cache line at `p` (a hint: it never faults and changes no
/// result). Per-client state is cold at each tick, and the loops over clients know which
/// client comes next: loading its lines while the current one is worked on hides the misses.
#[inline(always)]
pub fn prefetch<T: ?Sized>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it reads nothing the program sees and never faults, on
    // any address.
    unsafe {
        core::arch::x86_64::_mm_prefetch(p.cast::<i8>(), core::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The loop's answer to a join: the new player, or why not (with a message for the player).
pub type JoinAnswer = Result<Joined, (JoinError, String)>;

/// Why a push was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The frames would take the client over its byte budget: it cannot keep up.
    #[error("the client's outgoing queue is over its budget")]
    Full,
    /// The connection is gone or closing.
    #[error("the connection is closed")]
    Closed,
}

/// One client's connection as the loop sees it.
pub trait ClientLink: Send {
    /// Delivers the join's answer; gives it back when the connection has already gone.
    fn answer(&mut self, answer: JoinAnswer) -> Result<(), JoinAnswer>;
    /// Queues encoded play-state frames, or fails without queueing any of them.
    fn push_play(&mut self, frames: &[u8]) -> Result<(), PushError>;
    /// Queues one encoded Snapshot frame of `tick`, as [`ClientLink::push_play`] would: the
    /// loop says what it built, so a link need not decode the frame to learn its kind or tick.
    fn push_snapshot(&mut self, frame: &[u8], tick: u32) -> Result<(), PushError> {
        let _ = tick;
        self.push_play(frame)
    }
    /// Starts loading what the next push reads (a hint, see [`prefetch`]): the loop asks a few
    /// clients ahead of the one it pushes to. Does nothing unless a link implements it.
    fn prefetch(&self) {}
    /// [`ClientLink::push_snapshot`] of `frames[range]`, where `frames` holds this tick's
    /// Snapshot frames of every client: a link may keep a reference to the bytes instead of a
    /// copy (what every link does unless it implements this: copies them).
    fn push_shared_snapshot(
        &mut self,
        frames: &Arc<Vec<u8>>,
        range: std::ops::Range<usize>,
        tick: u32,
    ) -> Result<(), PushError> {
        match frames.get(range) {
            Some(frame) => self.push_snapshot(frame, tick),
            None => Ok(()),
        }
    }
    /// The most bytes the client may have queued.
    fn budget(&self) -> usize;
    /// Bytes queued for the client and not yet delivered.
    fn pending_bytes(&self) -> usize;
    /// The loop has removed the client: the connection should say why and close.
    fn kick(&mut self, kick: Kick);
}

#[derive(Debug, Default)]
struct MemoryState {
    queue: Vec<u8>,
    answer: Option<JoinAnswer>,
    kick: Option<Kick>,
    /// Set by the first push over the budget; later pushes fail as closed.
    overflowed: bool,
}

/// A link that keeps the client's frames, answer and kick in memory until taken (cheap to
/// clone; all clones are the same link). Used where no socket exists: re-simulation, unit tests,
/// benchmarks and fuzzing.
#[derive(Debug, Clone)]
pub struct MemoryLink {
    budget: usize,
    state: Arc<Mutex<MemoryState>>,
    /// Set when frames or a kick are queued (under the lock), cleared by [`MemoryLink::discard`]:
    /// a re-simulation discards every connection each tick, most of them with nothing queued.
    queued: Arc<AtomicBool>,
}

impl MemoryLink {
    /// An empty link holding at most `budget` bytes.
    pub fn new(budget: usize) -> MemoryLink {
        MemoryLink {
            budget: budget.max(1),
            state: Arc::new(Mutex::new(MemoryState::default())),
            queued: Arc::new(AtomicBool::new(false)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, MemoryState> {
        // Nothing can be left half-done under this lock: take it even after a panic.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A boxed clone for the loop.
    pub fn boxed(&self) -> Box<dyn ClientLink> {
        Box::new(self.clone())
    }

    /// Takes every frame queued so far, as a writer would.
    pub fn drain(&self) -> Vec<u8> {
        std::mem::take(&mut self.lock().queue)
    }

    /// Takes the join's answer, once it has come.
    pub fn take_answer(&self) -> Option<JoinAnswer> {
        self.lock().answer.take()
    }

    /// Takes the kick, once the loop has removed the client.
    /// Empties the queue (keeping its memory for the next pushes) and takes the kick, under
    /// one lock: what a re-simulation does each tick with a connection nobody watches.
    pub fn discard(&self) -> Option<Kick> {
        if !self.queued.load(Ordering::Acquire) {
            return None;
        }
        let mut s = self.lock();
        self.queued.store(false, Ordering::Release);
        s.queue.clear();
        s.kick.take()
    }

    pub fn take_kick(&self) -> Option<Kick> {
        self.lock().kick.take()
    }
}

impl ClientLink for MemoryLink {
    fn answer(&mut self, answer: JoinAnswer) -> Result<(), JoinAnswer> {
        self.lock().answer = Some(answer);
        Ok(())
    }

    fn push_play(&mut self, frames: &[u8]) -> Result<(), PushError> {
        let mut s = self.lock();
        if s.overflowed {
            return Err(PushError::Closed);
        }
        if s.queue.len() + frames.len() > self.budget {
            s.overflowed = true;
            s.queue = Vec::new();
            return Err(PushError::Full);
        }
        s.queue.extend_from_slice(frames);
        self.queued.store(true, Ordering::Release);
        Ok(())
    }

    fn prefetch(&self) {
        prefetch(Arc::as_ptr(&self.state));
    }

    fn budget(&self) -> usize {
        self.budget
    }

    fn pending_bytes(&self) -> usize {
        self.lock().queue.len()
    }

    fn kick(&mut self, kick: Kick) {
        self.lock().kick = Some(kick);
        self.queued.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_over_the_budget_fails_whole_and_closes_the_link() {
        let mut link = MemoryLink::new(8);
        assert_eq!(link.push_play(&[1; 6]), Ok(()));
        assert_eq!(link.push_play(&[2; 3]), Err(PushError::Full));
        assert_eq!(link.push_play(&[3]), Err(PushError::Closed));
        assert!(
            link.drain().is_empty(),
            "an overflowed link drops its queue"
        );
    }

    #[test]
    fn discard_empties_the_queue_and_takes_the_kick() {
        let link = MemoryLink::new(64);
        assert_eq!(link.discard(), None);
        let mut boxed = link.boxed();
        boxed.push_play(&[7, 8]).expect("fits");
        assert_eq!(link.discard(), None);
        assert_eq!(boxed.pending_bytes(), 0);
        boxed.push_play(&[9]).expect("fits");
        boxed.kick((
            tilegame_protocol::v1::DisconnectReason::ServerShutdown,
            "bye".into(),
        ));
        assert_eq!(
            link.discard(),
            Some((
                tilegame_protocol::v1::DisconnectReason::ServerShutdown,
                "bye".into()
            ))
        );
        assert_eq!(boxed.pending_bytes(), 0);
        assert_eq!(link.discard(), None);
    }

    #[test]
    fn clones_share_one_queue() {
        let link = MemoryLink::new(64);
        let mut boxed = link.boxed();
        boxed.push_play(&[7, 8]).expect("fits");
        assert_eq!(boxed.pending_bytes(), 2);
        assert_eq!(link.drain(), vec![7, 8]);
        assert_eq!(boxed.pending_bytes(), 0);
    }
}
