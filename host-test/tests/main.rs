//! Every artefact in a real host, one module per file, in one test binary
//! (one link of wasmtime instead of one per file): the component in wasmtime
//! and the Fluent Bit module through Fluent Bit's ABI, held to the native
//! engine's verdicts.

mod component;
mod corpus;
mod correlation;
mod fluent_bit;
mod hostile;
mod properties;
mod scoring;
