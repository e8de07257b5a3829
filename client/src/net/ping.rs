//! Round-trip time from the protocol's Ping/Pong, not guessed.
//!
//! One ping is outstanding at a time; its nonce must come back in a Pong. The wall clock is
//! read by the caller (the network side), never by the managers or replay.

use std::time::Duration;

use web_time::Instant;

/// Tracks pings in flight and the measured round-trip time.
#[derive(Debug, Default)]
pub struct PingTracker {
    next_nonce: u32,
    outstanding: Option<(u32, Instant)>,
    last: Option<Duration>,
    smoothed: Option<Duration>,
}

impl PingTracker {
    /// A tracker with nothing measured.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a new ping should go out now (none outstanding, or the previous one is lost).
    pub fn due(&self, now: Instant, interval: Duration) -> bool {
        match self.outstanding {
            None => true,
            Some((_, sent)) => now.duration_since(sent) >= interval * 5,
        }
    }

    /// Registers a ping sent now; returns its nonce.
    pub fn sent(&mut self, now: Instant) -> u32 {
        self.next_nonce = self.next_nonce.wrapping_add(1);
        self.outstanding = Some((self.next_nonce, now));
        self.next_nonce
    }

    /// Handles a pong; returns the round-trip time if it answers the outstanding ping.
    pub fn pong(&mut self, nonce: u32, now: Instant) -> Option<Duration> {
        let (expected, sent) = self.outstanding?;
        if nonce != expected {
            return None;
        }
        self.outstanding = None;
        let rtt = now.duration_since(sent);
        self.last = Some(rtt);
        self.smoothed = Some(match self.smoothed {
            None => rtt,
            Some(s) => (s * 7 + rtt) / 8,
        });
        Some(rtt)
    }

    /// The latest round-trip time.
    pub fn last(&self) -> Option<Duration> {
        self.last
    }

    /// The smoothed round-trip time (exponential average, 1/8 weight per sample).
    pub fn smoothed(&self) -> Option<Duration> {
        self.smoothed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_outstanding_nonce_counts() {
        let t0 = Instant::now();
        let mut p = PingTracker::new();
        let n = p.sent(t0);
        assert_eq!(p.pong(n + 1, t0 + Duration::from_millis(5)), None);
        assert_eq!(
            p.pong(n, t0 + Duration::from_millis(7)),
            Some(Duration::from_millis(7))
        );
        assert_eq!(p.last(), Some(Duration::from_millis(7)));
        assert!(p.due(t0, Duration::from_secs(1)));
    }
}
