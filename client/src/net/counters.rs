//! Byte counters on the socket, and the rates the HUD shows.
//!
//! Every byte the client sends or receives passes through [`CountingStream`], which adds to shared
//! [`ByteCounters`] (cheap atomics, readable from any thread). [`RateMeter`] keeps one-second
//! buckets of those totals for per-second and per-minute rates. Units follow the original HUD:
//! kB = 1,000 bytes, MB = 1,000,000 bytes.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[cfg(not(target_arch = "wasm32"))]
pub use counting::CountingStream;

/// Totals of bytes sent and received, shared between the socket and observers.
#[derive(Debug, Clone, Default)]
pub struct ByteCounters(Arc<Totals>);

#[derive(Debug, Default)]
struct Totals {
    sent: AtomicU64,
    received: AtomicU64,
}

impl ByteCounters {
    /// New zeroed counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes written to the socket so far.
    pub fn sent(&self) -> u64 {
        self.0.sent.load(Ordering::Relaxed)
    }

    /// Bytes read from the socket so far.
    pub fn received(&self) -> u64 {
        self.0.received.load(Ordering::Relaxed)
    }

    /// Adds to the sent total.
    pub fn add_sent(&self, n: u64) {
        self.0.sent.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds to the received total.
    pub fn add_received(&self, n: u64) {
        self.0.received.fetch_add(n, Ordering::Relaxed);
    }

    /// Megabytes (10^6 bytes) sent.
    pub fn mb_sent(&self) -> f64 {
        self.sent() as f64 / 1e6
    }

    /// Megabytes (10^6 bytes) received.
    pub fn mb_received(&self) -> f64 {
        self.received() as f64 / 1e6
    }
}

/// The native stream wrapper (the web transport counts its messages itself).
#[cfg(not(target_arch = "wasm32"))]
mod counting {
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    use super::ByteCounters;

    /// A stream wrapper that counts every byte read and written.
    #[derive(Debug)]
    pub struct CountingStream<S> {
        inner: S,
        counters: ByteCounters,
    }

    impl<S> CountingStream<S> {
        /// Wraps `inner`, adding to `counters`.
        pub fn new(inner: S, counters: ByteCounters) -> Self {
            CountingStream { inner, counters }
        }

        /// The counters.
        pub fn counters(&self) -> &ByteCounters {
            &self.counters
        }

        /// The wrapped stream.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }
    }

    impl<S: AsyncRead + Unpin> AsyncRead for CountingStream<S> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let before = buf.filled().len();
            let result = Pin::new(&mut self.inner).poll_read(cx, buf);
            let n = buf.filled().len() - before;
            self.counters.add_received(n as u64);
            result
        }
    }

    impl<S: AsyncWrite + Unpin> AsyncWrite for CountingStream<S> {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let result = Pin::new(&mut self.inner).poll_write(cx, buf);
            if let Poll::Ready(Ok(n)) = &result {
                self.counters.add_sent(*n as u64);
            }
            result
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }
}

/// Per-second buckets of byte totals over the last minute.
#[derive(Debug, Clone)]
pub struct RateMeter {
    /// (seconds since start, sent total, received total), oldest first, at most 61.
    samples: VecDeque<(u64, u64, u64)>,
}

impl Default for RateMeter {
    fn default() -> Self {
        RateMeter {
            samples: VecDeque::from([(0, 0, 0)]),
        }
    }
}

/// Rates derived from a [`RateMeter`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    /// Bytes sent in the last second.
    pub sent_per_sec: u64,
    /// Bytes received in the last second.
    pub received_per_sec: u64,
    /// Average kB (1,000 B) sent per minute over the last minute (or since start).
    pub kb_sent_per_min: f64,
    /// Average kB received per minute over the last minute (or since start).
    pub kb_received_per_min: f64,
}

impl RateMeter {
    /// Records the totals at whole second `second` since the start.
    pub fn sample(&mut self, second: u64, sent: u64, received: u64) {
        if self.samples.back().is_some_and(|s| s.0 >= second) {
            return;
        }
        self.samples.push_back((second, sent, received));
        while self.samples.len() > 61 {
            self.samples.pop_front();
        }
    }

    /// The current rates.
    pub fn rates(&self) -> Rates {
        let (Some(first), Some(last)) = (self.samples.front(), self.samples.back()) else {
            return Rates::default();
        };
        let prev = self
            .samples
            .len()
            .checked_sub(2)
            .and_then(|i| self.samples.get(i))
            .unwrap_or(first);
        let span = (last.0 - first.0).max(1) as f64;
        Rates {
            sent_per_sec: last.1 - prev.1,
            received_per_sec: last.2 - prev.2,
            kb_sent_per_min: (last.1 - first.1) as f64 / span * 60.0 / 1000.0,
            kb_received_per_min: (last.2 - first.2) as f64 / span * 60.0 / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_use_decimal_units() {
        let mut m = RateMeter::default();
        for s in 1..=10 {
            m.sample(s, s * 100, s * 1000);
        }
        let r = m.rates();
        assert_eq!((r.sent_per_sec, r.received_per_sec), (100, 1000));
        assert!((r.kb_sent_per_min - 6.0).abs() < 1e-9);
        assert!((r.kb_received_per_min - 60.0).abs() < 1e-9);
    }

    #[test]
    fn the_window_is_one_minute() {
        let mut m = RateMeter::default();
        for s in 1..=200 {
            m.sample(s, s * 10, 0);
        }
        assert!((m.rates().kb_sent_per_min - 0.6).abs() < 1e-9);
    }
}
