//! The engine's integration tests, one module per file, in one test binary
//! (one link instead of one per file).

// The hostile-input bounds (`hostile.rs`) measure heap bytes; the counters
// are per thread, so the other tests running beside them do not count.
#[global_allocator]
static ALLOCATOR: modwatch_testkit::counting::Counting = modwatch_testkit::counting::Counting;

mod api;
mod correlation;
mod engine;
mod evasion;
mod false_negatives;
mod fuzz_regressions;
mod hostile;
mod properties;
mod rules;
mod sigma;
mod sigma_parity;
