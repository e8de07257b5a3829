//! A counting global allocator, so tests can check how much memory a decoder or a reader takes.
//!
//! "Bound every allocation" is a property no assertion on a result can see: a decoder that
//! allocates 16 MiB for a 10-byte input returns the same error as one that allocates nothing.
//! A test binary installs [`Meter`] as its global allocator (it wraps the system one and keeps
//! a few counters per call), then asks for the peak of live heap bytes during a closure, either
//! over the whole process ([`peak_during`], for code that may use other threads; keep such a
//! test alone in its binary) or on the calling thread only ([`thread_peak_during`], which tests
//! running in parallel do not disturb).
//!
//! ```ignore
//! #[global_allocator]
//! static METER: tilegame_testkit::alloc_meter::Meter = tilegame_testkit::alloc_meter::Meter;
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting live bytes and their peak, per process and per thread.
pub struct Meter;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Bytes this thread allocated minus those it freed, and the most since the last reset.
    static THREAD_LIVE: Cell<isize> = const { Cell::new(0) };
    static THREAD_PEAK: Cell<isize> = const { Cell::new(0) };
}

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
    on_thread(by as isize);
}

fn shrank(by: usize) {
    LIVE.fetch_sub(by, Ordering::Relaxed);
    on_thread(-(by as isize));
}

/// The thread's share (`try_with`: nothing is counted while the thread's locals are torn down).
fn on_thread(delta: isize) {
    let _ = THREAD_LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = THREAD_PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded unchanged to `System`; the counters never affect the result.
unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size > layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        p
    }
}

/// Runs `f` and returns its result with the peak of the process's live heap bytes during it,
/// above what was live when it started (other threads' allocations count too).
pub fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.load(Ordering::Relaxed);
    PEAK.store(start, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(start))
}

/// Runs `f` and returns its result with the peak of this thread's live heap bytes during it,
/// above what the thread held when it started.
pub fn thread_peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = THREAD_LIVE.with(Cell::get);
    THREAD_PEAK.with(|peak| peak.set(start));
    let out = f();
    let peak = THREAD_PEAK.with(Cell::get);
    (out, (peak - start).max(0) as usize)
}
