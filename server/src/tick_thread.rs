//! The simulation's own thread, scheduled ahead of the sockets.
//!
//! Why it exists: the tick is the one piece of work with a deadline (every client's snapshot
//! waits for it), while socket reads and writes can run a few milliseconds later without anyone
//! noticing. On the runtime's worker threads the tick shared its core with the same runtime's
//! I/O, so a server alone on one core took about twice the tick's CPU time in wall time. Here
//! the loop ([`crate::ticker::run`]) runs on a dedicated OS thread with a small runtime of its
//! own (timers only).
//!
//! That thread asks the kernel to run it first, in two steps:
//! - a lower nice value than the process's (`--tick-nice`, default -10);
//! - then real-time scheduling (`SCHED_FIFO` at `--tick-realtime`, default priority 10), which
//!   lets the tick (and the snapshot builders it starts, which inherit it) take a core the
//!   moment it wakes. A nice value only weighs the share of a core: with 2,000 bots on the same
//!   two cores, ticks still waited behind them (p99 12-13 ms at nice -10, 7 ms in real time).
//!
//! A real-time thread that never sleeps would starve every other thread of its core, so the
//! tick gives real time up for good once it keeps the loop busy past its period
//! [`OVERRUNS_BEFORE_STEP_DOWN`] ticks in a row (an overloaded server cannot hold its rate
//! anyway, and its sockets must still be served): it goes on at its nice value and says so.
//!
//! Raising a priority needs `CAP_SYS_NICE`, or raised limits (systemd's `LimitNICE=` and
//! `LimitRTPRIO=`); without them the thread keeps what it could get and says so once.

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

use tokio::sync::oneshot;
use tracing::{error, info, warn};

/// The nice value the tick asks for by default (`--tick-nice`): ahead of every normal thread.
pub const DEFAULT_TICK_NICE: i32 = -10;

/// The real-time priority the tick asks for by default (`--tick-realtime`; 0: none).
pub const DEFAULT_TICK_REALTIME: u8 = 10;

/// Ticks in a row that keep the loop busy past its period before a real-time tick steps down
/// to its nice value.
pub const OVERRUNS_BEFORE_STEP_DOWN: u32 = 3;

/// What the tick thread asks the scheduler for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickPriority {
    /// Nice value (`None`: the process's own).
    pub nice: Option<i32>,
    /// `SCHED_FIFO` priority, 1-99 (0: none).
    pub realtime: u8,
}

/// How the calling tick thread is scheduled now, and whether it should step down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Scheduling {
    /// Whether the thread runs in real time.
    realtime: bool,
    /// Ticks in a row that kept the loop busy past its period.
    overruns: u32,
}

impl Scheduling {
    /// Notes a tick that kept the loop busy for `busy` of its `period`; returns whether the
    /// thread should leave real time now (once).
    fn note(&mut self, busy: Duration, period: Duration) -> bool {
        if !self.realtime {
            return false;
        }
        self.overruns = if busy > period { self.overruns + 1 } else { 0 };
        if self.overruns >= OVERRUNS_BEFORE_STEP_DOWN {
            self.realtime = false;
            return true;
        }
        false
    }
}

thread_local! {
    /// The tick thread's scheduling (`None` on any other thread).
    static SCHEDULING: RefCell<Option<Scheduling>> = const { RefCell::new(None) };
}

/// Tells the tick thread's scheduling how long the loop was busy for one tick (the commands
/// and the tick) out of its `period`; a real-time thread that overran its period
/// [`OVERRUNS_BEFORE_STEP_DOWN`] ticks in a row goes back to normal scheduling at its nice
/// value. Returns whether the thread runs in real time now (false on any other thread, where
/// it does nothing else).
pub fn after_tick(busy: Duration, period: Duration) -> bool {
    let (step_down, realtime) = SCHEDULING.with(|s| match s.borrow_mut().as_mut() {
        Some(s) => (s.note(busy, period), s.realtime),
        None => (false, false),
    });
    if step_down {
        match set_normal_scheduling() {
            Ok(()) => warn!(
                busy_ms = busy.as_millis() as u64,
                period_ms = period.as_millis() as u64,
                "the tick overran its period {OVERRUNS_BEFORE_STEP_DOWN} times in a row; it \
                 leaves real-time scheduling (so that it cannot starve the sockets) and runs at \
                 its nice value from now on"
            ),
            Err(e) => warn!("the tick overran its period but cannot leave real time: {e}"),
        }
    }
    realtime
}

/// Runs `tick_loop` to its end on a new thread named `tilegame-tick`, scheduled as `priority`
/// asks where the kernel allows; the returned receiver completes when the loop has ended (or
/// the thread could not start, which is logged).
pub fn spawn(
    priority: TickPriority,
    tick_loop: impl Future<Output = ()> + Send + 'static,
) -> oneshot::Receiver<()> {
    let (done, ended) = oneshot::channel();
    let started = std::thread::Builder::new()
        .name("tilegame-tick".into())
        .spawn(move || {
            set_priority(priority);
            match tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
            {
                Ok(runtime) => runtime.block_on(tick_loop),
                Err(e) => error!("cannot start the simulation's runtime: {e}; stopping"),
            }
            let _ = done.send(());
        });
    if let Err(e) = started {
        // `done` went down with the closure, so `ended` completes at once and the server stops.
        error!("cannot start the simulation thread: {e}; stopping");
    }
    ended
}

/// Asks for `priority` for the calling thread, and logs what it got.
fn set_priority(priority: TickPriority) {
    let mut got_nice = None;
    if let Some(nice) = priority.nice {
        match renice_this_thread(nice) {
            Ok(()) => got_nice = Some(nice),
            Err(e) => info!(
                nice,
                "the tick keeps the process's nice value: {e} (grant CAP_SYS_NICE or raise \
                 RLIMIT_NICE, e.g. systemd's LimitNICE=, to let it run first)"
            ),
        }
    }
    let realtime = match priority.realtime {
        0 => false,
        rt => match set_realtime_scheduling(rt) {
            Ok(()) => true,
            Err(e) => {
                info!(
                    priority = rt,
                    "the tick runs without real-time scheduling: {e} (grant CAP_SYS_NICE or \
                     raise RLIMIT_RTPRIO, e.g. systemd's LimitRTPRIO=, to let it take a core \
                     the moment it wakes)"
                );
                false
            }
        },
    };
    SCHEDULING.with(|s| {
        *s.borrow_mut() = Some(Scheduling {
            realtime,
            overruns: 0,
        })
    });
    match (realtime, got_nice) {
        (true, _) => info!(
            priority = priority.realtime,
            nice = got_nice,
            "the tick runs ahead of the sockets, in real time (SCHED_FIFO)"
        ),
        (false, Some(nice)) => info!(nice, "the tick runs ahead of the sockets"),
        (false, None) => {}
    }
}

/// Makes the calling thread `SCHED_FIFO` at `priority` (the snapshot builders it starts
/// inherit it).
#[cfg(target_os = "linux")]
fn set_realtime_scheduling(priority: u8) -> std::io::Result<()> {
    set_scheduler(libc::SCHED_FIFO, i32::from(priority))
}

/// Puts the calling thread back under the normal scheduler (its nice value applies again).
#[cfg(target_os = "linux")]
fn set_normal_scheduling() -> std::io::Result<()> {
    set_scheduler(libc::SCHED_OTHER, 0)
}

/// `sched_setscheduler` on the calling thread.
#[cfg(target_os = "linux")]
fn set_scheduler(policy: libc::c_int, priority: libc::c_int) -> std::io::Result<()> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: the call only reads `param`, which lives until it returns. On Linux, pid 0 means
    // the calling thread (each thread has its own policy; see sched_setscheduler(2)).
    os_result(unsafe { libc::sched_setscheduler(0, policy, &param) })
}

/// A libc call's return code as a result (0 is success; otherwise the error is in errno).
#[cfg(target_os = "linux")]
fn os_result(rc: libc::c_int) -> std::io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The error of a priority this platform cannot give one thread.
#[cfg(not(target_os = "linux"))]
fn unsupported(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!("{what} is Linux-only"),
    )
}

/// Elsewhere the tick keeps the process's scheduling.
#[cfg(not(target_os = "linux"))]
fn set_realtime_scheduling(_priority: u8) -> std::io::Result<()> {
    Err(unsupported("per-thread real-time scheduling"))
}

/// Elsewhere the tick never runs in real time.
#[cfg(not(target_os = "linux"))]
fn set_normal_scheduling() -> std::io::Result<()> {
    Ok(())
}

/// Sets the calling thread's nice value (Linux keeps one per thread).
#[cfg(target_os = "linux")]
fn renice_this_thread(nice: i32) -> std::io::Result<()> {
    // SAFETY: `setpriority` reads no memory of ours. On Linux, `PRIO_PROCESS` with `who == 0`
    // sets the calling thread's nice value only (see setpriority(2), "BUGS").
    os_result(unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) })
}

/// Elsewhere a nice value is the whole process's: the tick keeps the process's priority.
#[cfg(not(target_os = "linux"))]
fn renice_this_thread(_nice: i32) -> std::io::Result<()> {
    Err(unsupported("a per-thread nice value"))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The calling thread's nice value.
    fn current_nice() -> i32 {
        // SAFETY: as in `renice_this_thread`; errno is cleared first since -1 is a valid value.
        unsafe {
            *libc::__errno_location() = 0;
            libc::getpriority(libc::PRIO_PROCESS, 0)
        }
    }

    #[test]
    fn the_loop_runs_on_its_own_thread_at_the_asked_priority() {
        // Lowering a priority (a higher nice value) is always allowed, so this runs unprivileged.
        let before = current_nice();
        let (seen_tx, seen_rx) = std::sync::mpsc::channel();
        let priority = TickPriority {
            nice: Some(before + 1),
            realtime: 0,
        };
        let ended = spawn(priority, async move {
            let name = std::thread::current().name().map(str::to_owned);
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            let _ = seen_tx.send((name, current_nice()));
        });
        let (name, nice) = seen_rx.recv().expect("the loop ran");
        assert_eq!(name.as_deref(), Some("tilegame-tick"));
        assert_eq!(nice, before + 1);
        assert_eq!(current_nice(), before, "the caller's priority is untouched");
        wait_for(ended);
    }

    /// Waits until the tick thread says its loop ended.
    fn wait_for(ended: oneshot::Receiver<()>) {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(ended)
            .expect("the thread says when the loop ends");
    }

    /// The calling thread's scheduling policy.
    fn current_policy() -> libc::c_int {
        // SAFETY: reads nothing of ours; pid 0 is the calling thread.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[test]
    fn a_real_time_tick_says_what_it_got_and_steps_down_after_overrunning() {
        // Real time needs CAP_SYS_NICE or RLIMIT_RTPRIO: where the kernel refuses it, the
        // thread must say so and run under the normal scheduler; where it grants it, the
        // thread runs SCHED_FIFO until it overruns its period three ticks in a row.
        let before = current_nice();
        let (seen_tx, seen_rx) = std::sync::mpsc::channel();
        let priority = TickPriority {
            nice: Some(before + 1),
            realtime: 1,
        };
        let ended = spawn(priority, async move {
            let said = SCHEDULING.with(|s| *s.borrow());
            let policy = current_policy();
            let period = Duration::from_millis(50);
            let mut steps = Vec::new();
            for busy in [60, 10, 60, 60, 60] {
                let realtime = after_tick(Duration::from_millis(busy), period);
                let policy = current_policy();
                assert_eq!(
                    realtime,
                    policy == libc::SCHED_FIFO,
                    "it says what it runs as"
                );
                steps.push(policy);
            }
            let _ = seen_tx.send((said, policy, steps, current_nice()));
        });
        let (said, policy, steps, nice) = seen_rx.recv().expect("the loop ran");
        let said = said.expect("the tick thread knows its scheduling");
        assert_eq!(nice, before + 1);
        if said.realtime {
            assert_eq!(policy, libc::SCHED_FIFO);
            // An overrun, an on-time tick (the count starts over), then three overruns.
            let fifo = libc::SCHED_FIFO;
            let other = libc::SCHED_OTHER;
            assert_eq!(steps, [fifo, fifo, fifo, fifo, other]);
        } else {
            assert_eq!(
                policy,
                libc::SCHED_OTHER,
                "refused real time runs as normal"
            );
            assert!(steps.iter().all(|&p| p == libc::SCHED_OTHER));
        }
        assert_eq!(
            current_policy(),
            libc::SCHED_OTHER,
            "the caller's policy is untouched"
        );
        wait_for(ended);
    }

    #[test]
    fn only_overruns_in_a_row_step_down_and_only_once() {
        let mut s = Scheduling {
            realtime: true,
            overruns: 0,
        };
        let period = Duration::from_millis(50);
        let over = Duration::from_millis(51);
        let on_time = period;
        assert!(!s.note(over, period));
        assert!(!s.note(over, period));
        assert!(
            !s.note(on_time, period),
            "a tick within its period starts over"
        );
        assert!(!s.note(over, period));
        assert!(!s.note(over, period));
        assert!(
            s.note(over, period),
            "the third overrun in a row steps down"
        );
        assert!(!s.realtime);
        assert!(!s.note(over, period), "once");
        let mut normal = Scheduling {
            realtime: false,
            overruns: 0,
        };
        for _ in 0..10 {
            assert!(!normal.note(over, period));
        }
    }
}
