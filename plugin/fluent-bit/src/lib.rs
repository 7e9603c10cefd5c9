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

use std::cell::UnsafeCell;

use modwatch_engine::{Engine, ErrorKind, Output, with_error};

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

/// What the module was doing when a call began its work. It is set before
/// the engine is built or a record tagged and cleared after, so a call that
/// finds it set knows the previous call trapped there: a trap ends the call
/// on the spot, with no unwinding and no code of ours run after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Phase {
    #[default]
    Idle,
    Building,
    Tagging,
}

/// Builds that may trap or fail before the module stops trying: each trapped
/// build costs Fluent Bit the record it was built for, and what it allocated.
const MAX_BUILDS: u32 = 10;

/// Records passed on (with `modwatch.error`) between the first failed build
/// and the next try; doubled after each further failure.
const FIRST_BACKOFF: u32 = 16;

/// How far the wasm shadow stack may have crept down (a trap skips the
/// epilogues that give it back) before the module stops building and tagging
/// and only passes records on: beyond it, the next deep call could run off
/// the bottom of the stack and trap on every record. The shadow stack is
/// 1 MiB; the snapshot (`host-test`'s `snapshot`) resets it on every call.
const MAX_STACK_CREEP: usize = 256 << 10;

/// How the module has fared: the counters behind `modwatch.error` and the
/// `modwatch_errors` export.
#[derive(Debug, Default)]
struct Health {
    /// Calls that trapped (seen by the call after each).
    traps: u32,
    /// Builds of the engine that trapped or were refused.
    failed_builds: u32,
    /// Builds the engine refused (the pack or config): never, as the build
    /// script loads them too, but counted if it happens.
    refused_builds: u32,
    /// Records to pass on before the next build is tried.
    retry_in: u32,
    /// The wait after the last failed build.
    backoff: u32,
    /// A trap not yet reported on a record: where it happened.
    unreported: Option<Phase>,
    /// The shadow stack's position in the first call (0 until then).
    stack_base: usize,
}

/// The state that lives as long as the module instance: Fluent Bit keeps one
/// instance for every record, so scoring windows carry across calls.
#[derive(Debug, Default)]
struct State {
    /// `None` until built (on the first record, or ahead of time by
    /// `modwatch_init` when the module is snapshotted), or while a failed
    /// build waits for its retry.
    engine: Option<Engine>,
    /// Set while building or tagging: see [`Phase`].
    phase: Phase,
    health: Health,
    /// The last replacement record with its NUL. Fluent Bit copies the
    /// result before it calls the module again, so one buffer is enough.
    out: Vec<u8>,
}

/// The module's state, reached only through [`with_state`].
struct Slot(UnsafeCell<Option<State>>);

thread_local! {
    // wasm32-unknown-unknown is single-threaded: this is one static cell.
    // Not a `RefCell`: a trap while it is borrowed would leave it borrowed
    // for good, which is how a trap used to switch detection off.
    static STATE: Slot = const { Slot(UnsafeCell::new(None)) };
}

impl State {
    /// Notes a trap in the previous call, if it left a phase set.
    fn recover(&mut self) {
        let phase = std::mem::take(&mut self.phase);
        if phase == Phase::Idle {
            return;
        }
        let h = &mut self.health;
        h.traps = h.traps.saturating_add(1);
        h.unreported = Some(phase);
        if phase == Phase::Building {
            // What the build allocated is lost; the engine was never set.
            self.fail_build();
        }
        // A trap while tagging (the stack or memory ran out) leaves the
        // engine as Rust's containers leave themselves at any allocation or
        // call: consistent, so it is kept with its scoring windows.
    }

    fn fail_build(&mut self) {
        let h = &mut self.health;
        h.failed_builds = h.failed_builds.saturating_add(1);
        h.backoff = if h.backoff == 0 { FIRST_BACKOFF } else { h.backoff.saturating_mul(2) };
        h.retry_in = h.backoff;
    }

    /// The engine, built now if it is missing and a build is due.
    fn engine(&mut self, stack_creep: usize) -> Option<&mut Engine> {
        if self.engine.is_none() {
            let h = &mut self.health;
            if h.retry_in > 0 {
                h.retry_in -= 1;
            } else if h.failed_builds < MAX_BUILDS && stack_creep <= MAX_STACK_CREEP {
                self.phase = Phase::Building;
                match Engine::new(embedded::CONFIG, embedded::RULES) {
                    Ok(engine) => {
                        self.engine = Some(engine);
                        self.health.backoff = 0;
                    }
                    // The build script loads the same pack and config, so
                    // this is a bug; it is reported like a trapped build.
                    Err(_) => {
                        self.health.refused_builds = self.health.refused_builds.saturating_add(1);
                        self.fail_build();
                    }
                }
                self.phase = Phase::Idle;
            }
        }
        self.engine.as_mut()
    }

    /// Why detection is off for this record, if it is.
    fn unavailable(&self, stack_creep: usize) -> Option<String> {
        let h = &self.health;
        if stack_creep > MAX_STACK_CREEP {
            return Some(format!(
                "detection is off: {} calls trapped and the module's stack did not recover; restart Fluent Bit \
                 with a larger wasm_stack_size",
                h.traps
            ));
        }
        if self.engine.is_some() {
            return None;
        }
        Some(if h.failed_builds >= MAX_BUILDS {
            format!(
                "detection is off: building the engine failed {} times (too little wasm stack or memory); \
                 restart Fluent Bit with a larger wasm_stack_size",
                h.failed_builds
            )
        } else {
            format!(
                "detection is off: building the engine failed {} times (too little wasm stack or memory); \
                 next try in {} records",
                h.failed_builds,
                h.retry_in + 1
            )
        })
    }
}

/// Judges one record and leaves a replacement, if any, in `state.out`.
/// `stack_creep` is how far the shadow stack sits below where it was in the
/// first call.
fn filter(state: &mut State, record: &[u8], stack_creep: usize) -> Answer {
    state.recover();
    let ready = state.engine(stack_creep).is_some() && stack_creep <= MAX_STACK_CREEP;
    let output = match state.engine.as_mut() {
        Some(engine) if ready => {
            state.phase = Phase::Tagging;
            let output = engine.tag(record).output;
            state.phase = Phase::Idle;
            output
        }
        _ => Output::Unchanged,
    };
    let mut error = state.unavailable(stack_creep).map(|message| (ErrorKind::DetectionOff, message));
    if let Some(phase) = state.health.unreported.take() {
        let place = if phase == Phase::Building { "building the engine" } else { "tagging a record" };
        let message = format!(
            "the previous call trapped while {place} (too little wasm stack or memory); Fluent Bit dropped that \
             record; {} traps so far",
            state.health.traps
        );
        error = error.or(Some((ErrorKind::Trap, message)));
    }
    let bytes = match (output, error) {
        (Output::Dropped, _) => return Answer::Dropped,
        (Output::Unchanged, None) => return Answer::Unchanged,
        (Output::Replaced(bytes), None) => bytes,
        (Output::Unchanged, Some((kind, message))) => match with_error(record, kind, &message) {
            Some(bytes) => bytes,
            None => return Answer::Unchanged,
        },
        (Output::Replaced(bytes), Some((kind, message))) => with_error(&bytes, kind, &message).unwrap_or(bytes),
    };
    // Fluent Bit reads the result up to its first NUL; JSON from the engine
    // never holds one, but if it did the record would be cut short and then
    // dropped as invalid JSON, so keep it as it was.
    if bytes.contains(&0) {
        return Answer::Unchanged;
    }
    state.out = bytes;
    state.out.push(0);
    Answer::Replaced
}

/// Runs `f` on the module's state. `None` only while the thread's storage is
/// being torn down (never in wasm).
fn with_state<T>(f: impl FnOnce(&mut State) -> T) -> Option<T> {
    STATE
        .try_with(|slot| {
            // SAFETY: the module imports nothing, so no call into it can
            // begin while another is under way (and natively the state is
            // per thread): this is the only reference to the state. A call
            // that trapped left its reference behind without ever using it
            // again.
            let state = unsafe { &mut *slot.0.get() }.get_or_insert_with(State::default);
            f(state)
        })
        .ok()
}

/// Filters one record on the module's state; `here` is the caller's
/// position on the shadow stack (the address of one of its locals).
fn run(record: &[u8], here: usize) -> (Answer, *const u8) {
    with_state(|state| {
        if state.health.stack_base == 0 {
            state.health.stack_base = here;
        }
        let creep = state.health.stack_base.saturating_sub(here);
        let answer = filter(state, record, creep);
        (answer, state.out.as_ptr())
    })
    .unwrap_or((Answer::Unchanged, std::ptr::null()))
}

/// Builds the engine now, if it is not built: the snapshot step calls this
/// so that a snapshotted module builds nothing at run time. 1 if the engine
/// is ready.
fn init() -> u32 {
    with_state(|state| {
        state.recover();
        u32::from(state.engine(0).is_some())
    })
    .unwrap_or(0)
}

/// Calls that trapped plus builds the engine refused: 0 while all is well.
fn errors() -> u32 {
    with_state(|state| {
        let h = &state.health;
        // A trap not yet seen by a call is counted here too.
        h.traps.saturating_add(h.refused_builds).saturating_add(u32::from(state.phase != Phase::Idle))
    })
    .unwrap_or(0)
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
    use super::{errors, init, touch};

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

    /// Builds the engine now if it is not built; 1 if it is ready. The
    /// snapshot step calls it once, so that the snapshotted module starts
    /// with the engine built. Fluent Bit never calls it.
    #[unsafe(no_mangle)]
    pub extern "C" fn modwatch_init() -> u32 {
        init()
    }

    /// The module's error counter: calls that trapped (counted by the next
    /// call) plus engine builds refused. 0 while all is well; each such
    /// failure also puts `modwatch.error` on a record.
    #[unsafe(no_mangle)]
    pub extern "C" fn modwatch_errors() -> u32 {
        errors()
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
    use super::{Answer, run};

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
        // A local kept in memory: its address is this call's place on the
        // shadow stack, which a trap leaves lower for the next call.
        let here = 0u8;
        match run(bytes, std::ptr::from_ref(std::hint::black_box(&here)) as usize) {
            (Answer::Replaced, out) if !out.is_null() => out,
            (Answer::Dropped, _) => EMPTY.as_ptr(),
            _ => record,
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
        assert_eq!(filter(&mut s, br#"{"log":"hello"}"#, 0), Answer::Unchanged);
        assert_eq!(filter(&mut s, b"{not json", 0), Answer::Unchanged);
        assert_eq!(filter(&mut s, MATCH, 0), Answer::Replaced);
        assert_eq!(s.out.last(), Some(&0));
        assert!(s.out.windows(5).any(|w| w == b"T1578"));
        assert_eq!(run(br#"{"log":"hello"}"#, 1 << 20).0, Answer::Unchanged);
        assert_eq!(init(), 1);
        assert_eq!(errors(), 0);
    }

    fn error_of(s: &State) -> serde_json::Value {
        let out: serde_json::Value = serde_json::from_slice(&s.out[..s.out.len() - 1]).unwrap();
        out["modwatch"]["error"].clone()
    }

    /// A call that stops in the middle (as a trap stops it) is noticed by
    /// the next one, which reports it on its record and goes on detecting.
    #[test]
    fn a_trap_is_reported_and_detection_goes_on() {
        let mut s = State::default();
        assert_eq!(filter(&mut s, MATCH, 0), Answer::Replaced);
        s.phase = Phase::Tagging;
        assert_eq!(filter(&mut s, br#"{"log":"hello"}"#, 0), Answer::Replaced);
        assert_eq!(error_of(&s)["code"], ErrorKind::Trap.code());
        assert_eq!(s.health.traps, 1);
        assert_eq!(filter(&mut s, br#"{"log":"hello"}"#, 0), Answer::Unchanged);
        // A matching record after a trap: tagged, and the error merged into its `modwatch`.
        s.phase = Phase::Tagging;
        assert_eq!(filter(&mut s, MATCH, 0), Answer::Replaced);
        assert_eq!(error_of(&s)["kind"], ErrorKind::Trap.name());
        assert!(String::from_utf8_lossy(&s.out).contains("T1578"));
    }

    /// A build that trapped is retried after a wait, and every record in
    /// between passes with `modwatch.error`; after MAX_BUILDS it is not.
    #[test]
    fn a_trapped_build_is_retried_then_given_up() {
        let mut s = State { phase: Phase::Building, ..State::default() };
        assert_eq!(filter(&mut s, br#"{"log":"a"}"#, 0), Answer::Replaced);
        assert_eq!(error_of(&s)["code"], ErrorKind::DetectionOff.code());
        for _ in 1..FIRST_BACKOFF {
            assert_eq!(filter(&mut s, br#"{"log":"a"}"#, 0), Answer::Replaced);
        }
        assert!(s.engine.is_none());
        assert_eq!(filter(&mut s, MATCH, 0), Answer::Replaced);
        assert!(s.engine.is_some(), "built on the try after the wait");
        assert!(error_of(&s).is_null());
        s.engine = None;
        s.health.failed_builds = MAX_BUILDS;
        assert_eq!(filter(&mut s, b"[1]", 0), Answer::Unchanged, "not an object: passed as it is");
        assert_eq!(filter(&mut s, MATCH, 0), Answer::Replaced);
        assert!(error_of(&s)["message"].as_str().unwrap().contains("restart Fluent Bit"));
        assert!(s.engine.is_none());
    }

    /// Once the shadow stack has crept too far, nothing deep runs any more.
    #[test]
    fn a_crept_stack_turns_detection_off_visibly() {
        let mut s = State::default();
        assert_eq!(filter(&mut s, MATCH, MAX_STACK_CREEP + 1), Answer::Replaced);
        assert_eq!(error_of(&s)["code"], ErrorKind::DetectionOff.code());
        assert!(!String::from_utf8_lossy(&s.out).contains("T1578"));
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
