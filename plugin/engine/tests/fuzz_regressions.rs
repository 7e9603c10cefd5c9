//! Every input the fuzz targets found a bug with (`tests/fuzz/<target>/`,
//! minimised, the bug fixed) replayed through the fuzz target's own check,
//! which panics when an invariant breaks, and compared with the result
//! written down for it in `tests/fuzz/README.md`. The `fluent_bit` inputs
//! are replayed by the Fluent Bit crate's tests.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use modwatch_testkit::fuzz::{checks, regressions};

/// A fuzz target's check: the input in, the kind of result out.
type Check = fn(&[u8]) -> String;

#[test]
fn fuzz_regressions_replay() {
    let targets: [(&str, Check); 5] = [
        ("event", checks::event),
        ("eql", checks::eql),
        ("rules", checks::rules),
        ("config", checks::config),
        ("state", checks::state),
    ];
    for (target, check) in targets {
        regressions::replay(target, check);
    }
}
