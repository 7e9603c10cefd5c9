//! What each fuzz target does with its input, and the invariants it checks
//! (a violated invariant panics, which libFuzzer reports as a crash).
//!
//! The same functions replay the regression inputs of `tests/fuzz/` in the
//! normal test suite: `plugin/engine/tests/fuzz_regressions.rs` includes
//! `checks.rs` and `json.rs`, the Fluent Bit crate's tests `fluent_bit.rs`;
//! both replay with `regressions.rs`.

pub mod checks;
pub mod fluent_bit;
pub mod json;
pub mod regressions;
