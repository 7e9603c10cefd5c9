//! The modwatch engine inside Fluent Bit's `wasm` filter (`event_format
//! json`): a thin skin that hands each record to [`modwatch_engine::Engine::tag`]
//! and maps its answer onto Fluent Bit's ABI.
//!
//! Fluent Bit calls `modwatch_filter(tag, tag_len, sec, nsec, record,
//! record_len)` once per record, with the record as NUL-terminated compact
//! JSON, and reads the result as a NUL-terminated string: the record itself
//! (kept), another JSON object (replaces it) or `""` (drops it). A trap, a
//! NULL result or invalid JSON drops the record, so every failure here
//! answers with the record unchanged. The rule pack and config are embedded
//! at build time (`build.rs`): Fluent Bit passes nothing to the module.
//!
//! The exports exist only on `wasm32`: a native build (tests, clippy) must
//! not define a `malloc` that would replace the C library's.

// The Fluent Bit ABI is raw pointers into the module's own memory; this is
// the only modwatch crate that needs `unsafe`, and only in `abi` and `filter_abi` below.
#![allow(unsafe_code, reason = "Fluent Bit's ABI passes raw pointers; every unsafe block says why it holds")]
// Natively (tests, clippy) the wasm32-only exports are absent, and with them
// the only callers of part of the skin.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code, reason = "used by the wasm32-only exports"))]

use std::cell::RefCell;

use modwatch_engine::{Engine, Output};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// What to answer Fluent Bit for one record.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// Return the record's own pointer: Fluent Bit keeps the record.
    Unchanged,
    /// Return the output buffer (`State::out`, NUL-terminated).
    Replaced,
    /// Return `""`: Fluent Bit drops the record.
    Dropped,
}

/// The state that lives as long as the module instance: Fluent Bit keeps one
/// instance for every record, so scoring windows carry across calls.
#[derive(Debug, Default)]
struct State {
    /// `None` until the first record; `Some(None)` if the embedded pack was
    /// refused (the build script loads it too, so that means a bug): every
    /// record then passes through unchanged.
    engine: Option<Option<Engine>>,
    /// The last replacement record with its NUL. Fluent Bit copies the
    /// result before it calls the module again, so one buffer is enough.
    out: Vec<u8>,
}

thread_local! {
    // wasm32-unknown-unknown is single-threaded: this is one static cell.
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Judges one record and leaves a replacement, if any, in `state.out`.
fn filter(state: &mut State, record: &[u8]) -> Answer {
    let engine = state.engine.get_or_insert_with(|| Engine::new(embedded::CONFIG, embedded::RULES).ok());
    let Some(engine) = engine else { return Answer::Unchanged };
    match engine.tag(record).output {
        Output::Unchanged => Answer::Unchanged,
        Output::Dropped => Answer::Dropped,
        // Fluent Bit reads the result up to its first NUL; JSON from the
        // engine never holds one, but if it did the record would be cut
        // short and then dropped as invalid JSON, so keep it as it was.
        Output::Replaced(bytes) if bytes.contains(&0) => Answer::Unchanged,
        Output::Replaced(mut bytes) => {
            bytes.push(0);
            state.out = bytes;
            Answer::Replaced
        }
    }
}

/// Runs [`filter`] on the module's state. `None` if the state cannot be had
/// (a re-entrant call, which Fluent Bit never makes): the record passes.
fn with_state(record: &[u8]) -> Option<(Answer, *const u8)> {
    STATE
        .try_with(|cell| {
            let mut state = cell.try_borrow_mut().ok()?;
            let answer = filter(&mut state, record);
            Some((answer, state.out.as_ptr()))
        })
        .ok()
        .flatten()
}

/// The sum of the bytes, read once: the benchmark's floor for any filter
/// that looks at every byte of a record.
fn touch(record: &[u8]) -> u32 {
    record.iter().fold(0u32, |sum, &b| sum.wrapping_add(u32::from(b)))
}

#[cfg(any(target_arch = "wasm32", feature = "fuzzing", test))]
pub use filter_abi::modwatch_filter;

#[cfg(target_arch = "wasm32")]
mod abi {
    //! The exports Fluent Bit (and the test harness) call, besides
    //! [`modwatch_filter`](super::filter_abi::modwatch_filter).

    use std::alloc::{Layout, alloc, dealloc};

    use super::filter_abi::EMPTY;
    use super::touch;

    /// Bytes before each block from [`malloc`] that record its size, which
    /// [`free`] needs to give the block back. Also the alignment.
    const HEADER: usize = 8;

    /// Fluent Bit copies each tag and record into the module with this
    /// (WAMR uses an exported `malloc`/`free` pair instead of its fixed
    /// app heap). It takes any size linear memory can grow to; it returns
    /// 0 when memory cannot grow, and never traps.
    #[unsafe(no_mangle)]
    pub extern "C" fn malloc(size: usize) -> *mut u8 {
        let Some(total) = size.checked_add(HEADER) else { return std::ptr::null_mut() };
        let Ok(layout) = Layout::from_size_align(total, HEADER) else { return std::ptr::null_mut() };
        // SAFETY: `layout` has a non-zero size (at least HEADER bytes).
        let block = unsafe { alloc(layout) };
        if block.is_null() {
            return block;
        }
        // SAFETY: `block` is a fresh allocation of `total >= HEADER` bytes
        // aligned to HEADER, so the header fits and so does `block + HEADER`.
        unsafe {
            block.cast::<usize>().write(total);
            block.add(HEADER)
        }
    }

    /// Gives back a block from [`malloc`]; 0 is ignored.
    #[unsafe(no_mangle)]
    pub extern "C" fn free(ptr: *mut u8) {
        if ptr.is_null() {
            return;
        }
        // SAFETY: Fluent Bit frees only pointers `malloc` returned, so the
        // header sits HEADER bytes before `ptr` and holds the block's size,
        // which with HEADER alignment made a valid layout when allocated.
        unsafe {
            let block = ptr.sub(HEADER);
            let total = block.cast::<usize>().read();
            dealloc(block, Layout::from_size_align_unchecked(total, HEADER));
        }
    }

    /// Reads the record once and returns it: the benchmark's measure of one
    /// pass over a record's bytes. Not for Fluent Bit.
    #[unsafe(no_mangle)]
    pub extern "C" fn modwatch_touch(
        _tag: *const u8,
        _tag_len: u32,
        _sec: u32,
        _nsec: u32,
        record: *const u8,
        record_len: u32,
    ) -> *const u8 {
        if record.is_null() {
            return EMPTY.as_ptr();
        }
        // SAFETY: as in `modwatch_filter`.
        let bytes = unsafe { std::slice::from_raw_parts(record, record_len as usize) };
        // `black_box`: the sum is otherwise unused, and the read would be
        // optimised away (a relaxed store to a static was).
        std::hint::black_box(touch(bytes));
        record
    }
}

/// The filter function, natively too under the `fuzzing` feature (and in
/// tests): the fuzz target and the regression test call the very export
/// Fluent Bit calls, where the fuzzer can see its coverage. Natively it has
/// no `malloc`/`free` beside it (those would replace the C library's).
#[cfg(any(target_arch = "wasm32", feature = "fuzzing", test))]
mod filter_abi {
    use super::{Answer, with_state};

    /// `""`: the answer that drops a record.
    pub(crate) static EMPTY: [u8; 1] = [0];

    /// Fluent Bit's `wasm` filter function (`function_name modwatch_filter`).
    /// Returns `record` to keep the record, a tagged copy to replace it, or
    /// `""` to drop it (only with `output.mode = "drop-non-matches"`, or a
    /// NULL record, which can be answered no other way).
    ///
    /// # Safety
    ///
    /// `record` is NULL or points to `record_len` readable bytes that stay
    /// put for the call (Fluent Bit's copy of the record). The answer lives
    /// until the next call.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn modwatch_filter(
        _tag: *const u8,
        _tag_len: u32,
        _sec: u32,
        _nsec: u32,
        record: *const u8,
        record_len: u32,
    ) -> *const u8 {
        if record.is_null() {
            // Fluent Bit could not copy the record in (our `malloc` failed):
            // there is nothing to return but "".
            return EMPTY.as_ptr();
        }
        // SAFETY: Fluent Bit passes a buffer it allocated with `malloc` and
        // filled with `record_len` bytes (plus a NUL), live for this call.
        let bytes = unsafe { std::slice::from_raw_parts(record, record_len as usize) };
        match with_state(bytes) {
            Some((Answer::Replaced, out)) => out,
            Some((Answer::Dropped, _)) => EMPTY.as_ptr(),
            Some((Answer::Unchanged, _)) | None => record,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // The fuzz target's check and the replay of its regression inputs
    // (`tests/fuzz/fluent_bit/`), shared with `fuzz/`.
    use modwatch_testkit::fuzz::{fluent_bit as fuzz_check, regressions};

    const MATCH: &[u8] = br#"{"eventVersion":"1.08","eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","awsRegion":"us-east-1","eventTime":"2024-01-01T00:00:00Z","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice"},"requestParameters":{"instancesSet":{"items":[{"instanceId":"i-1"}]}}}"#;

    #[test]
    fn answers() {
        let mut s = State::default();
        assert_eq!(filter(&mut s, br#"{"log":"hello"}"#), Answer::Unchanged);
        assert_eq!(filter(&mut s, b"{not json"), Answer::Unchanged);
        assert_eq!(filter(&mut s, MATCH), Answer::Replaced);
        assert_eq!(s.out.last(), Some(&0));
        assert!(s.out.windows(5).any(|w| w == b"T1578"));
        assert_eq!(with_state(br#"{"log":"hello"}"#).map(|a| a.0), Some(Answer::Unchanged));
    }

    #[test]
    fn touch_sums_bytes() {
        assert_eq!(touch(b"\x01\x02\xff"), 258);
    }

    /// Every input the `fluent_bit` fuzz target kept, through the export
    /// itself, with the target's invariants and the recorded answer.
    #[test]
    fn fuzz_regressions_replay() {
        regressions::replay("fluent_bit", |data| fuzz_check::check(modwatch_filter, data));
    }
}
