//! Telling a connection the server cannot take yet why it is closed.
//!
//! Admission ([`crate::admission`]) refuses a connection as it is accepted. Closing it silently
//! leaves the player guessing ("connection closed"); so the accept loop writes it a
//! `Kick(Busy)` naming the limit, without waiting (a new socket's send buffer is empty, so the
//! few bytes always fit), then closes. Closing a socket that holds unread bytes (the client's
//! hello, if it arrived before the refusal) resets the connection, and a reset can make the
//! client's stack drop the kick before it is read (the "lingering close" of RFC 9112 §9.6): so
//! a bounded number of refused connections linger for a moment, sending FIN after the kick and
//! draining what the client sent, before they close. Past that bound, under a flood, refused
//! connections get the kick and are closed at once.

use std::sync::Arc;
use std::time::Duration;

use tilegame_protocol::codec::encode_any_state;
use tilegame_protocol::v1::{DisconnectReason, Kick, Packet};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::admission::Refusal;
use crate::metrics::{Metrics, Way};

/// Refused connections kept open at once so that their kick arrives intact.
const LINGERING_MAX: usize = 64;
/// How long a refused connection is kept open for its client to read the kick and close.
const LINGER: Duration = Duration::from_secs(2);
/// Bytes read and discarded from a refused connection, at most.
const DRAIN_BYTES: usize = 4096;

/// Writes `Kick(Busy)` to refused connections and closes them.
#[derive(Debug, Clone)]
pub struct Refuser {
    lingering: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

impl Refuser {
    /// A refuser counting its refusals and kicks into `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Refuser {
            lingering: Arc::new(Semaphore::new(LINGERING_MAX)),
            metrics,
        }
    }

    /// Tells `stream` why it is refused and closes it; never waits on the client.
    pub fn refuse(&self, stream: TcpStream, refusal: Refusal) {
        let mut frame = Vec::with_capacity(96);
        let kick = Kick {
            reason: DisconnectReason::Busy,
            message: refusal.to_string(),
        };
        self.metrics.refusal(match refusal {
            Refusal::Busy => "TooManyPending",
            Refusal::PerAddress => "TooManyPendingFromAddress",
        });
        if encode_any_state(&kick, &mut frame).is_err() || stream.try_write(&frame).is_err() {
            return;
        }
        self.metrics.kick(DisconnectReason::Busy);
        self.metrics.bytes(Way::Out, Kick::NAME, frame.len());
        let Ok(permit) = Arc::clone(&self.lingering).try_acquire_owned() else {
            return;
        };
        tokio::spawn(async move {
            let _permit = permit;
            let mut stream = stream;
            let _ = tokio::time::timeout(LINGER, async {
                // FIN after the kick, then read until the client closes (or the bound).
                stream.shutdown().await?;
                let mut buf = [0u8; 512];
                let mut left = DRAIN_BYTES;
                while left > 0 {
                    match stream.read(&mut buf).await? {
                        0 => break,
                        n => left = left.saturating_sub(n),
                    }
                }
                std::io::Result::Ok(())
            })
            .await;
        });
    }
}
