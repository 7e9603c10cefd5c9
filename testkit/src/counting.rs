//! A global allocator that counts live heap bytes and their peak, for the
//! memory figures of the engine's `benches/scoring.rs` and the bounds of its
//! `tests/hostile.rs` (measured, not estimated).
//!
//! A binary opts in with one line:
//!
//! ```
//! #[global_allocator]
//! static ALLOCATOR: modwatch_testkit::counting::Counting = modwatch_testkit::counting::Counting;
//! ```
//!
//! The counters are per thread: a crate's integration tests run as one
//! binary, many at a time on several threads, and a bound must see only the
//! allocations of the code it measures, made on its own thread. Memory freed
//! on another thread than the one that allocated it lowers that thread's
//! count, so [`live`] is signed; only differences mean anything.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The counting allocator: every call forwarded to [`System`] unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counting;

thread_local! {
    // `const` and without `Drop`: no lazy initialisation and no destructor
    // to register, so the allocator can use them without allocating.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

/// Adds `delta` to this thread's live count and raises its peak.
fn count(delta: isize) {
    // `try_with`: an allocation while the thread's locals are torn down is
    // simply not counted.
    let _ = LIVE.try_with(|live| {
        let now = live.get().wrapping_add(delta);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

/// A size as a count: no allocation is larger than `isize::MAX` bytes.
fn size(layout: Layout) -> isize {
    isize::try_from(layout.size()).unwrap_or(isize::MAX)
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters only observe sizes.
#[allow(unsafe_code, reason = "a global allocator is unsafe by definition; this one only counts")]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(size(layout));
        // SAFETY: same layout, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-size(layout));
        // SAFETY: same pointer and layout, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Live heap bytes of this thread now (allocated minus freed on it).
pub fn live() -> isize {
    LIVE.try_with(Cell::get).unwrap_or(0)
}

/// The peak of this thread's live heap bytes while `f` runs, above what was
/// live before.
pub fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = live();
    let _ = PEAK.try_with(|peak| peak.set(before));
    let out = f();
    let peak = PEAK.try_with(Cell::get).unwrap_or(before);
    (out, peak.wrapping_sub(before).unsigned_abs())
}
