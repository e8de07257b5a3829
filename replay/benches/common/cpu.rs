//! The process's CPU time, for the benches' figures on a shared machine.
//!
//! On a machine other work also uses, wall-clock throughput says as much about the neighbours
//! as about the code; the CPU time the process itself spent (user + system, every thread) does
//! not, so each timed phase prints both.

use std::time::Duration;

/// CPU time this process has used so far (`CLOCK_PROCESS_CPUTIME_ID`).
pub fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` only writes the `timespec` it is given, which lives on our stack.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } == 0;
    if !ok {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}
