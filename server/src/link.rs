//! A session's side of the simulation seam: the [`ClientLink`] the loop holds for each joined
//! connection.
//!
//! The loop answers the join through a one-shot channel the session awaits, pushes play-state
//! frames into the connection's [`Outbox`] (whose writer task owns the socket), and delivers a
//! kick through a second one-shot channel. When the loop drops the player the link is dropped
//! with it, which closes both channels: the session sees that and ends.

use tilegame_sim::{ClientLink, JoinAnswer, Kick, PushError};
use tokio::sync::oneshot;

use std::sync::Arc;

use crate::metrics::Metrics;
use crate::outbox::{Closed, Outbox};
use crate::reading::SentSnapshots;

/// One connection as the simulation sees it.
pub struct SessionLink {
    outbox: Outbox,
    metrics: Arc<Metrics>,
    sent: SentSnapshots,
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
            reply: Some(reply),
            kick: Some(kick),
        };
        (link, reply_rx, kick_rx)
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
        self.outbox
            .push_play(frames)
            .map_err(|closed| match closed {
                Closed::Overflow { .. } => PushError::Full,
                _ => PushError::Closed,
            })?;
        self.metrics.play_frames(frames);
        let now = tokio::time::Instant::now();
        for f in tilegame_protocol::frame::frames(frames, tilegame_protocol::v1::MAX_FRAME) {
            if let Some(tick) = tilegame_protocol::snapshot::snapshot_tick(
                tilegame_protocol::Direction::ToClient,
                tilegame_protocol::State::Play,
                f.packet_bytes(),
            ) {
                self.sent.sent(tick, now);
            }
        }
        Ok(())
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
