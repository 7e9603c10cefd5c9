//! What each fuzz target does with its input, and the invariants it checks
//! (a violated invariant panics, which libFuzzer reports as a crash).
//!
//! The fuzz targets (`fuzz/`, its own workspace) call these functions, and
//! the same functions replay the regression inputs of `tests/fuzz/` in the
//! normal test suite: the engine's tests (`plugin/engine/tests/fuzz_regressions.rs`)
//! with [`checks`], the Fluent Bit crate's with [`fluent_bit`]; both through
//! [`regressions::replay`].

pub mod checks;
pub mod fluent_bit;
pub mod json;
pub mod regressions;
