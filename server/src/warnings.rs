//! Repeated warnings, aggregated per reason and interval.
//!
//! An attacker opening malformed or silent connections by the thousand would otherwise get one
//! WARN line each ("dropping client": 4,349 lines in 7 minutes from one attacker, issue #19).
//! [`WarnLog`] lets the first few warnings of a reason in an interval through on their own lines
//! and counts the rest; the server writes one summary line per reason and interval for what was
//! held back ([`Warnings::flush`], on the accept loop's log tick). Every decision takes the time
//! as an argument, so it is tested without a clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::warn;

/// Warnings of one reason logged on their own lines per interval; the rest are counted.
pub const FIRST_PER_INTERVAL: u32 = 5;

/// Warnings of one reason held back in one interval, for a summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// The reason.
    pub reason: &'static str,
    /// How many warnings were not logged on their own lines.
    pub count: u64,
}

/// One reason's current interval.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    logged: u32,
    held: u64,
}

/// Decides which warnings get their own line: the first `first` of each reason per interval.
#[derive(Debug)]
pub struct WarnLog {
    first: u32,
    interval: Duration,
    windows: HashMap<&'static str, Window>,
}

impl WarnLog {
    /// Lets `first` warnings of each reason through per `interval`.
    pub fn new(first: u32, interval: Duration) -> Self {
        WarnLog {
            first,
            interval,
            windows: HashMap::new(),
        }
    }

    /// Whether a warning for `reason` at `now` gets its own line; with it, the summary of
    /// `reason`'s previous interval if that ended before `now` and held warnings back.
    pub fn offer(&mut self, reason: &'static str, now: Instant) -> (bool, Option<Held>) {
        let ended = match self.windows.get(reason) {
            Some(w) if self.ended(w, now) => {
                self.windows.remove(reason).and_then(|w| held(reason, w))
            }
            _ => None,
        };
        let window = self.windows.entry(reason).or_insert(Window {
            start: now,
            logged: 0,
            held: 0,
        });
        let own_line = window.logged < self.first;
        if own_line {
            window.logged += 1;
        } else {
            window.held += 1;
        }
        (own_line, ended)
    }

    /// Closes the intervals that ended by `now`: the summaries of those that held warnings
    /// back, by reason.
    pub fn flush(&mut self, now: Instant) -> Vec<Held> {
        let mut ended: Vec<&'static str> = self
            .windows
            .iter()
            .filter(|(_, w)| self.ended(w, now))
            .map(|(reason, _)| *reason)
            .collect();
        ended.sort_unstable();
        ended
            .into_iter()
            .filter_map(|reason| {
                let w = self.windows.remove(reason)?;
                held(reason, w)
            })
            .collect()
    }

    fn ended(&self, w: &Window, now: Instant) -> bool {
        now.saturating_duration_since(w.start) >= self.interval
    }
}

/// The summary of a closed interval, if it held anything back.
fn held(reason: &'static str, w: Window) -> Option<Held> {
    (w.held > 0).then_some(Held {
        reason,
        count: w.held,
    })
}

/// A [`WarnLog`] shared by the sessions, writing the summary lines.
#[derive(Debug)]
pub struct Warnings {
    log: Mutex<WarnLog>,
    interval: Duration,
}

impl Warnings {
    /// Lets [`FIRST_PER_INTERVAL`] warnings of each reason through per `interval`.
    pub fn new(interval: Duration) -> Self {
        Warnings {
            log: Mutex::new(WarnLog::new(FIRST_PER_INTERVAL, interval)),
            interval,
        }
    }

    /// Whether a warning for `reason` gets its own line now; writes the summary of `reason`'s
    /// previous interval if one is due.
    pub fn offer(&self, reason: &'static str) -> bool {
        let (own_line, ended) = self.lock().offer(reason, Instant::now());
        if let Some(held) = ended {
            self.summarise(held);
        }
        own_line
    }

    /// Writes the summaries of the intervals that have ended.
    pub fn flush(&self) {
        let ended = self.lock().flush(Instant::now());
        for held in ended {
            self.summarise(held);
        }
    }

    fn summarise(&self, held: Held) {
        warn!(
            reason = held.reason,
            count = held.count,
            interval_secs = self.interval.as_secs(),
            "dropping clients: more warnings of this reason not logged one by one"
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WarnLog> {
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn the_first_of_a_reason_are_logged_the_rest_counted_and_summarised_once() {
        let t0 = Instant::now();
        let mut log = WarnLog::new(3, 10 * SEC);
        let own: Vec<bool> = (0..10)
            .map(|i| log.offer("timeout", t0 + i * SEC / 2).0)
            .collect();
        assert_eq!(
            own,
            [true, true, true, false, false, false, false, false, false, false]
        );
        // Not before the interval ends.
        assert_eq!(log.flush(t0 + 9 * SEC), []);
        assert_eq!(
            log.flush(t0 + 10 * SEC),
            [Held {
                reason: "timeout",
                count: 7
            }]
        );
        // Once only.
        assert_eq!(log.flush(t0 + 30 * SEC), []);
    }

    #[test]
    fn reasons_are_counted_apart() {
        let t0 = Instant::now();
        let mut log = WarnLog::new(1, 10 * SEC);
        assert!(log.offer("timeout", t0).0);
        assert!(!log.offer("timeout", t0).0);
        assert!(log.offer("protocol error", t0).0);
        assert!(!log.offer("protocol error", t0).0);
        assert!(!log.offer("protocol error", t0).0);
        assert_eq!(
            log.flush(t0 + 10 * SEC),
            [
                Held {
                    reason: "protocol error",
                    count: 2
                },
                Held {
                    reason: "timeout",
                    count: 1
                }
            ]
        );
    }

    #[test]
    fn a_new_interval_logs_again_and_brings_the_last_ones_summary() {
        let t0 = Instant::now();
        let mut log = WarnLog::new(1, 10 * SEC);
        assert_eq!(log.offer("timeout", t0), (true, None));
        assert_eq!(log.offer("timeout", t0 + SEC), (false, None));
        assert_eq!(log.offer("timeout", t0 + 2 * SEC), (false, None));
        assert_eq!(
            log.offer("timeout", t0 + 11 * SEC),
            (
                true,
                Some(Held {
                    reason: "timeout",
                    count: 2
                })
            )
        );
        // The new interval starts at its first warning.
        assert_eq!(log.flush(t0 + 20 * SEC), []);
        assert!(!log.offer("timeout", t0 + 20 * SEC).0);
        assert_eq!(
            log.flush(t0 + 21 * SEC),
            [Held {
                reason: "timeout",
                count: 1
            }]
        );
    }

    #[test]
    fn an_interval_that_held_nothing_back_has_no_summary() {
        let t0 = Instant::now();
        let mut log = WarnLog::new(2, 10 * SEC);
        assert!(log.offer("timeout", t0).0);
        assert!(log.offer("timeout", t0 + SEC).0);
        assert_eq!(log.flush(t0 + 10 * SEC), []);
        assert_eq!(log.offer("timeout", t0 + 12 * SEC), (true, None));
    }
}
