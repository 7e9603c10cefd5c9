//! The VRL generator's integration tests, one module per file, in one test binary.

mod fields;
mod parity;
mod refused;
mod vrl_host;
