//! The simulation's own thread, scheduled ahead of the sockets.
//!
//! Why it exists: the tick is the one piece of work with a deadline (every client's snapshot
//! waits for it), while socket reads and writes can run a few milliseconds later without anyone
//! noticing. On the runtime's worker threads the tick shared its core with the same runtime's
//! I/O, so a server alone on one core took about twice the tick's CPU time in wall time. Here
//! the loop ([`crate::ticker::run`]) runs on a dedicated OS thread with a small runtime of its
//! own (timers only), which asks the kernel for a lower nice value than the process's, so the
//! scheduler lets the tick finish before it returns to the sockets (and to any other process on
//! the machine). Raising a priority needs `CAP_SYS_NICE` or a raised `RLIMIT_NICE` (systemd's
//! `LimitNICE=`); without either the thread runs at the process's priority and says so once.

use std::future::Future;

use tokio::sync::oneshot;
use tracing::{error, info};

/// The nice value the tick asks for by default (`--tick-nice`): ahead of every normal thread.
pub const DEFAULT_TICK_NICE: i32 = -10;

/// Runs `tick_loop` to its end on a new thread named `tilegame-tick` at nice value `nice`
/// (`None`: the process's own); the returned receiver completes when the loop has ended (or
/// the thread could not start, which is logged).
pub fn spawn(
    nice: Option<i32>,
    tick_loop: impl Future<Output = ()> + Send + 'static,
) -> oneshot::Receiver<()> {
    let (done, ended) = oneshot::channel();
    let started = std::thread::Builder::new()
        .name("tilegame-tick".into())
        .spawn(move || {
            if let Some(nice) = nice {
                set_priority(nice);
            }
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

/// Asks for nice value `nice` for the calling thread, and logs what it got.
fn set_priority(nice: i32) {
    match renice_this_thread(nice) {
        Ok(()) => info!(nice, "the tick runs ahead of the sockets"),
        Err(e) => info!(
            nice,
            "the tick runs at the process's priority: {e} (grant CAP_SYS_NICE or raise \
             RLIMIT_NICE, e.g. systemd's LimitNICE=, to let it run first)"
        ),
    }
}

/// Sets the calling thread's nice value (Linux keeps one per thread).
#[cfg(target_os = "linux")]
fn renice_this_thread(nice: i32) -> std::io::Result<()> {
    // SAFETY: `setpriority` reads no memory of ours. On Linux, `PRIO_PROCESS` with `who == 0`
    // sets the calling thread's nice value only (see setpriority(2), "BUGS").
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Elsewhere a nice value is the whole process's: the tick keeps the process's priority.
#[cfg(not(target_os = "linux"))]
fn renice_this_thread(_nice: i32) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "per-thread priorities are Linux-only",
    ))
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
        let ended = spawn(Some(before + 1), async move {
            let name = std::thread::current().name().map(str::to_owned);
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            let _ = seen_tx.send((name, current_nice()));
        });
        let (name, nice) = seen_rx.recv().expect("the loop ran");
        assert_eq!(name.as_deref(), Some("tilegame-tick"));
        assert_eq!(nice, before + 1);
        assert_eq!(current_nice(), before, "the caller's priority is untouched");
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(ended)
            .expect("the thread says when the loop ends");
    }
}
