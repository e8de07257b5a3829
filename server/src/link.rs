//! A session's side of the simulation seam: the [`ClientLink`] the loop holds for each joined
//! connection.
//!
//! The loop answers the join through a one-shot channel the session awaits, pushes play-state
//! frames into the connection's [`Outbox`] (whose writer task owns the socket), and delivers a
//! kick through a second one-shot channel. When the loop drops the player the link is dropped
//! with it, which closes both channels: the session sees that and ends.
//!
//! A push runs on the tick thread once per client per tick, so it is kept cheap: a Snapshot's
//! kind and tick come from the loop ([`ClientLink::push_snapshot`]) rather than from decoding
//! the frame, [`SentSnapshots`] is locked only when a Snapshot is to be remembered (every
//! 250 ms), and the clock, the metric and the writer's wake are the tick's
//! ([`crate::tick_batch`]).

use tilegame_sim::{ClientLink, JoinAnswer, Kick, PushError};
use tokio::sync::oneshot;
use tokio::time::Instant;

use std::sync::Arc;

use crate::metrics::Metrics;
use crate::outbox::{Closed, Outbox, SharedBytes};
use crate::reading::{SentSnapshots, SAMPLE};
use crate::tick_batch;

/// One connection as the simulation sees it.
pub struct SessionLink {
    outbox: Outbox,
    metrics: Arc<Metrics>,
    sent: SentSnapshots,
    /// When the last Snapshot remembered in `sent` was queued (the link alone writes there).
    last_sample: Option<Instant>,
    reply: Option<oneshot::Sender<JoinAnswer>>,
    kick: Option<oneshot::Sender<Kick>>,
}

impl SessionLink {
    /// A link over `outbox` (counting what it pushes into `metrics`, and noting when Snapshots
    /// are queued into `sent`); returns it with the receivers of the join's answer and the kick.
    pub fn new(
        outbox: Outbox,
        metrics: Arc<Metrics>,
        sent: SentSnapshots,
    ) -> (
        SessionLink,
        oneshot::Receiver<JoinAnswer>,
        oneshot::Receiver<Kick>,
    ) {
        let (reply, reply_rx) = oneshot::channel();
        let (kick, kick_rx) = oneshot::channel();
        let link = SessionLink {
            outbox,
            metrics,
            sent,
            last_sample: None,
            reply: Some(reply),
            kick: Some(kick),
        };
        (link, reply_rx, kick_rx)
    }
}

impl SessionLink {
    /// Queues `frames` on the outbox.
    fn push(&mut self, frames: &[u8]) -> Result<(), PushError> {
        self.outbox
            .push_play(frames)
            .map_err(|closed| match closed {
                Closed::Overflow { .. } => PushError::Full,
                _ => PushError::Closed,
            })
    }

    /// The Snapshot of `tick` was queued now: tells `sent` when it would remember it (the same
    /// sampling it does, without taking its lock in between).
    fn note_sent(&mut self, tick: u32) {
        let now = tick_batch::now();
        if self
            .last_sample
            .is_some_and(|at| now.duration_since(at) < SAMPLE)
        {
            return;
        }
        self.last_sample = Some(now);
        self.sent.sent(tick, now);
    }
}

impl ClientLink for SessionLink {
    fn answer(&mut self, answer: JoinAnswer) -> Result<(), JoinAnswer> {
        match self.reply.take() {
            Some(tx) => tx.send(answer),
            None => Err(answer),
        }
    }

    fn push_play(&mut self, frames: &[u8]) -> Result<(), PushError> {
        self.push(frames)?;
        self.metrics.play_frames(frames);
        for f in tilegame_protocol::frame::frames(frames, tilegame_protocol::v1::MAX_FRAME) {
            if let Some(tick) = tilegame_protocol::snapshot::snapshot_tick(
                tilegame_protocol::Direction::ToClient,
                tilegame_protocol::State::Play,
                f.packet_bytes(),
            ) {
                self.note_sent(tick);
            }
        }
        Ok(())
    }

    fn push_snapshot(&mut self, frame: &[u8], tick: u32) -> Result<(), PushError> {
        self.push(frame)?;
        // One whole Snapshot frame (the encoder keeps it within the frame limit).
        tick_batch::count_snapshot(&self.metrics, frame.len());
        self.note_sent(tick);
        Ok(())
    }

    fn push_shared_snapshot(
        &mut self,
        frames: &Arc<Vec<u8>>,
        range: std::ops::Range<usize>,
        tick: u32,
    ) -> Result<(), PushError> {
        let shared = SharedBytes::new(Arc::clone(frames), range);
        let len = shared.as_slice().len();
        self.outbox
            .push_shared(shared)
            .map_err(|closed| match closed {
                Closed::Overflow { .. } => PushError::Full,
                _ => PushError::Closed,
            })?;
        tick_batch::count_snapshot(&self.metrics, len);
        self.note_sent(tick);
        Ok(())
    }

    fn prefetch(&self) {
        self.outbox.prefetch();
    }

    fn budget(&self) -> usize {
        self.outbox.budget()
    }

    fn pending_bytes(&self) -> usize {
        self.outbox.pending_bytes()
    }

    fn kick(&mut self, kick: Kick) {
        if let Some(tx) = self.kick.take() {
            let _ = tx.send(kick);
        }
    }
}
