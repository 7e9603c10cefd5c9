//! The web skin's integration tests, one module per file, in one test binary.

mod skin;
