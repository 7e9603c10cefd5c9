//! The engine: input → prefilter → normalise → match → verdict → tag.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Config;
use crate::error::Errors;
use crate::rules::RuleSet;
use crate::verdict::{Status, Verdict};

/// What comes back for one input event in tag mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Pass the event on exactly as it came in (byte for byte).
    Unchanged,
    /// Pass this instead: the event with detection fields added.
    Replaced(Vec<u8>),
    /// Drop the event (only with `output.mode = "drop-non-matches"`).
    Dropped,
}

/// The result of [`Engine::tag`]: the output and one verdict per record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    /// What to pass on.
    pub output: Output,
    /// One verdict per record (a batch has several).
    pub verdicts: Vec<Verdict>,
}

/// Counters since the engine was built.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Input events (a batch counts once).
    pub events: u64,
    /// Records (each record of a batch counts).
    pub records: u64,
    /// Records that matched.
    pub matches: u64,
    /// Records that a rule matched but an allowlist suppressed.
    pub suppressed: u64,
    /// Records of a shape modwatch does not know.
    pub unrecognised: u64,
    /// Events that could not be decoded.
    pub errors: u64,
    /// Events passed on by the prefilter without being parsed.
    pub prefiltered: u64,
    /// Matches per rule id (best match and every other match).
    pub by_rule: BTreeMap<String, u64>,
    /// Matches per category (of the best match).
    pub by_category: BTreeMap<String, u64>,
}

/// A loaded detection engine: configuration, compiled rules, counters.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    rules: RuleSet,
    stats: Stats,
}

impl Engine {
    /// Builds an engine from a JSON config (`None`: defaults) and a rule pack
    /// in TOML (`None`: the built-in pack). Reports every error at once.
    pub fn new(config: Option<&str>, rules: Option<&str>) -> Result<Engine, Errors> {
        let config = match config {
            Some(text) => Config::from_json(text)?,
            None => Config::default(),
        };
        let rules = RuleSet::load(&config, rules)?;
        Ok(Engine::with_parts(config, rules))
    }

    /// Builds an engine from an already loaded config and rule set.
    pub fn with_parts(config: Config, rules: RuleSet) -> Engine {
        Engine { config, rules, stats: Stats::default() }
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The rules in use.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Counters since the engine was built.
    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }

    /// The verdicts on one event: one per record.
    pub fn evaluate(&mut self, event: &[u8]) -> Vec<Verdict> {
        self.tag(event).verdicts
    }

    /// Tags one event: a matching event comes back with detection fields
    /// added, anything else comes back unchanged.
    pub fn tag(&mut self, event: &[u8]) -> Tagged {
        let _ = event;
        Tagged { output: Output::Unchanged, verdicts: vec![Verdict::bare(Status::Unrecognised)] }
    }
}
