#![doc = include_str!("../README.md")]
// Events come from other people's log pipelines; the engine is the part of
// modwatch that touches them, and it has no reason to need `unsafe`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod doc;
mod engine;
mod eql;
mod error;
#[cfg(feature = "export")]
#[doc(hidden)]
pub mod export;
mod input;
mod normalise;
mod prefilter;
mod rules;
mod score;
mod sigma;
pub mod split;
mod tag;
pub mod time;
mod verdict;

pub use config::{ChangeWindow, Config, OutputMode, Overrides, Scoring, Tactic};
pub use engine::{CorrelationStats, Engine, Output, Stats, Tagged};
pub use error::{Error, ErrorKind, Errors, LoadError, Location};
pub use rules::{Example, FILE_MARKER, RuleSet};
pub use score::{Alert, CorrelationAlert, Score};
pub use tag::with_error;
pub use verdict::{EventError, Format, Outcome, Principal, RuleMatch, Status, Verdict, partition_token};
