//! Rule packs: TOML files of EQL rules, loaded and compiled.

use crate::config::Config;
use crate::error::Errors;

/// A compiled set of rules.
#[derive(Debug, Default)]
pub struct RuleSet {}

impl RuleSet {
    /// Loads the rules the config asks for: the built-in pack and/or `pack`.
    pub fn load(config: &Config, pack: Option<&str>) -> Result<RuleSet, Errors> {
        let _ = (config, pack);
        Ok(RuleSet::default())
    }
}
