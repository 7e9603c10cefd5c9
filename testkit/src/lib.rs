//! Dev-only helpers shared by modwatch's tests, benchmarks and fuzz targets,
//! so that no crate includes another's files by path. Nothing that ships
//! depends on this crate (only `[dev-dependencies]` and `fuzz/`).
//!
//! - [`corpus`]: the labelled events of `tests/corpus/`;
//! - [`r#gen`]: the deterministic benchmark mix (`just bench`, `just bench-web`);
//! - [`shapes`]: proptest strategies for cloud events, JSON and mutations;
//! - [`hostile`]: the hostile-input table the component and the CLI share;
//! - [`counting`]: a heap-counting global allocator for memory bounds;
//! - [`fuzz`]: what each fuzz target checks, and the replay of the inputs
//!   kept in `tests/fuzz/`;
//! - [`rules_table`]: the rule table of `rules/README.md`, generated from the
//!   packs (`just rules-table`), with the test that fails when it is stale.
//!
//! ```
//! let events = modwatch_testkit::r#gen::mix(10, 1578);
//! assert_eq!(events.len(), 10);
//! assert!(modwatch_testkit::corpus::events().iter().any(|e| e.expect_match));
//! ```

// A helper fails the test that called it, naming the file, the event or the
// invariant; nothing here runs outside a test, a benchmark or a fuzz target.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, reason = "test helpers fail a test by panicking")]

pub mod corpus;
pub mod counting;
pub mod fuzz;
pub mod r#gen;
pub mod hostile;
pub mod rules_table;
pub mod shapes;
