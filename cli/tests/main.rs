//! The `modwatch` binary's integration tests, one module per file, in one
//! test binary (one link of wasmtime and tokio instead of one per file).

mod cli;
mod export_sigma;
mod hostile;
mod serve;
mod worker;
