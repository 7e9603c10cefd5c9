//! The engine's configuration: one JSON document, every key optional.
//!
//! Validation walks the document by hand rather than through serde so that a
//! bad config is refused with **every** problem listed, each naming its key.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Errors};

/// Risk categories and their default points (`spec/operations.md` §1).
pub(crate) const CATEGORY_POINTS: &[(&str, u32)] = &[
    ("EXPOSE_PUBLIC", 5),
    ("EXPORT", 4),
    ("SHARE_EXTERNAL", 4),
    ("GUARDRAIL_OFF", 4),
    ("DELETE", 3),
    ("CAPTURE", 3),
    ("GENERALIZE", 3),
    ("REVERT", 3),
    ("EXTENSION_CHANGE", 2),
    ("EXEC", 2),
    ("IDENTITY_CHANGE", 2),
    ("COPY", 2),
    ("QUOTA_REGION", 2),
    ("CREATE", 1),
    ("MODIFY", 1),
    ("READ", 0),
];

/// The hard ceiling for `input.max_depth`: the JSON parser's own recursion
/// limit, which also bounds the stack a parse can use.
pub(crate) const MAX_DEPTH_CEILING: u32 = 128;

/// What the engine does with events in tag mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Every event passes; matches are tagged (the default).
    Tag,
    /// Matches pass tagged; everything else is dropped. Opt-in only: a
    /// detection filter that drops events is easy to misconfigure.
    DropNonMatches,
}

/// An ATT&CK tactic, id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tactic {
    /// e.g. `TA0005`.
    pub id: String,
    /// e.g. `Defense Evasion`.
    pub name: String,
}

/// Engine configuration. Built from JSON with [`Config::from_json`]; every key
/// has a default, documented in the README.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `rules.builtin`: load the built-in pack. `None`: yes when no pack is
    /// given, no when one is (a given pack replaces the built-in one).
    pub builtin_rules: Option<bool>,
    /// `input.max_event_bytes`: larger events are refused (and pass through).
    pub max_event_bytes: usize,
    /// `input.max_depth`: deeper nesting is refused (and passes through).
    pub max_depth: u32,
    /// `input.validate`: parse every event and evaluate every rule on it,
    /// without the prefilter, so that invalid JSON is always reported. Off
    /// by default: the prefilter's point is not to parse events that cannot
    /// match (it never changes a verdict; the tests hold it to that).
    pub validate: bool,
    /// `output.mode`.
    pub mode: OutputMode,
    /// `output.error_field`: add `modwatch.error` to events that are valid
    /// JSON objects but could not be evaluated (e.g. too deep).
    pub error_field: bool,
    /// `threat.tactic`: the tactic written into tags.
    pub tactic: Tactic,
    /// `points`: points per risk category.
    pub points: BTreeMap<String, u32>,
    /// `allowlist.aws_service_callers`: suppress AWS services acting on their
    /// own behalf (`userIdentity.type == AWSService` or `invokedBy` a service).
    pub allow_aws_service_callers: bool,
    /// `allowlist.principals`: principals (id, user name or display name;
    /// `*` and `?` wildcards, case-insensitive) whose matches are suppressed.
    pub allow_principals: Vec<String>,
    /// `allowlist.user_agents`: user agents (wildcards, case-insensitive)
    /// whose matches are suppressed.
    pub allow_user_agents: Vec<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            builtin_rules: None,
            max_event_bytes: 1024 * 1024,
            max_depth: MAX_DEPTH_CEILING,
            validate: false,
            mode: OutputMode::Tag,
            error_field: false,
            tactic: Tactic { id: "TA0005".into(), name: "Defense Evasion".into() },
            points: CATEGORY_POINTS.iter().map(|(c, p)| (c.to_string(), *p)).collect(),
            allow_aws_service_callers: true,
            allow_principals: vec!["azure-backup-service".into(), "azure-site-recovery".into()],
            allow_user_agents: Vec::new(),
        }
    }
}

impl Config {
    /// Parses and validates a JSON config, reporting every error at once.
    pub fn from_json(text: &str) -> Result<Config, Errors> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Errors(vec![Error::new(ErrorKind::ConfigSyntax, format!("config is not valid JSON: {e}"))]))?;
        let Value::Object(root) = value else {
            return Err(Errors(vec![Error::new(ErrorKind::ConfigSyntax, "config must be a JSON object")]));
        };
        let mut v = Validator { errors: Vec::new() };
        let mut config = Config::default();
        v.keys(&root, "", &["rules", "input", "output", "threat", "points", "allowlist"]);
        if let Some(rules) = v.object(&root, "rules") {
            v.keys(rules, "rules", &["builtin"]);
            config.builtin_rules = v.bool(rules, "rules.builtin").or(config.builtin_rules);
        }
        if let Some(input) = v.object(&root, "input") {
            v.keys(input, "input", &["max_event_bytes", "max_depth", "validate"]);
            if let Some(n) = v.uint(input, "input.max_event_bytes", 64, 64 * 1024 * 1024) {
                config.max_event_bytes = n as usize;
            }
            if let Some(n) = v.uint(input, "input.max_depth", 1, u64::from(MAX_DEPTH_CEILING)) {
                config.max_depth = n as u32;
            }
            config.validate = v.bool(input, "input.validate").unwrap_or(config.validate);
        }
        if let Some(output) = v.object(&root, "output") {
            v.keys(output, "output", &["mode", "error_field"]);
            match v.string(output, "output.mode") {
                Some("tag") => config.mode = OutputMode::Tag,
                Some("drop-non-matches") => config.mode = OutputMode::DropNonMatches,
                Some(other) => v.invalid(format!("output.mode must be \"tag\" or \"drop-non-matches\", not {other:?}")),
                None => {}
            }
            config.error_field = v.bool(output, "output.error_field").unwrap_or(config.error_field);
        }
        if let Some(threat) = v.object(&root, "threat") {
            v.keys(threat, "threat", &["tactic"]);
            if let Some(tactic) = v.object(threat, "threat.tactic") {
                v.keys(tactic, "threat.tactic", &["id", "name"]);
                if let Some(id) = v.string(tactic, "threat.tactic.id") {
                    config.tactic.id = id.to_string();
                }
                if let Some(name) = v.string(tactic, "threat.tactic.name") {
                    config.tactic.name = name.to_string();
                }
            }
        }
        if let Some(points) = v.object(&root, "points") {
            for (category, value) in points {
                let key = format!("points.{category}");
                if !is_category_name(category) {
                    v.invalid(format!("{key}: a category is UPPER_SNAKE_CASE, not {category:?}"));
                    continue;
                }
                if let Some(n) = v.uint_value(value, &key, 0, 1000) {
                    config.points.insert(category.clone(), n as u32);
                }
            }
        }
        if let Some(allow) = v.object(&root, "allowlist") {
            v.keys(allow, "allowlist", &["aws_service_callers", "principals", "user_agents"]);
            config.allow_aws_service_callers =
                v.bool(allow, "allowlist.aws_service_callers").unwrap_or(config.allow_aws_service_callers);
            if let Some(list) = v.strings(allow, "allowlist.principals") {
                config.allow_principals = list;
            }
            if let Some(list) = v.strings(allow, "allowlist.user_agents") {
                config.allow_user_agents = list;
            }
        }
        if v.errors.is_empty() { Ok(config) } else { Err(Errors(v.errors)) }
    }

    /// The points of a category (0 for one the config does not know).
    pub(crate) fn points_of(&self, category: &str) -> u32 {
        self.points.get(category).copied().unwrap_or(0)
    }
}

/// A category name: `UPPER_SNAKE_CASE`.
pub(crate) fn is_category_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

struct Validator {
    errors: Vec<Error>,
}

impl Validator {
    fn invalid(&mut self, message: String) {
        self.errors.push(Error::new(ErrorKind::ConfigInvalidValue, message));
    }

    fn keys(&mut self, obj: &Map<String, Value>, prefix: &str, known: &[&str]) {
        for key in obj.keys() {
            if !known.contains(&key.as_str()) {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                self.errors.push(Error::new(
                    ErrorKind::ConfigUnknownKey,
                    format!("unknown config key {path:?} (known here: {})", known.join(", ")),
                ));
            }
        }
    }

    fn leaf<'a>(obj: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
        let key = path.rsplit('.').next().unwrap_or(path);
        obj.get(key)
    }

    fn object<'a>(&mut self, obj: &'a Map<String, Value>, path: &str) -> Option<&'a Map<String, Value>> {
        match Self::leaf(obj, path)? {
            Value::Object(map) => Some(map),
            other => {
                self.invalid(format!("{path} must be an object, not {}", kind_of(other)));
                None
            }
        }
    }

    fn bool(&mut self, obj: &Map<String, Value>, path: &str) -> Option<bool> {
        match Self::leaf(obj, path)? {
            Value::Bool(b) => Some(*b),
            other => {
                self.invalid(format!("{path} must be true or false, not {}", kind_of(other)));
                None
            }
        }
    }

    fn string<'a>(&mut self, obj: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
        match Self::leaf(obj, path)? {
            Value::String(s) if !s.is_empty() => Some(s),
            other => {
                self.invalid(format!("{path} must be a non-empty string, not {}", kind_of(other)));
                None
            }
        }
    }

    fn strings(&mut self, obj: &Map<String, Value>, path: &str) -> Option<Vec<String>> {
        match Self::leaf(obj, path)? {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) if !s.is_empty() => out.push(s.clone()),
                        other => {
                            self.invalid(format!("{path}[{i}] must be a non-empty string, not {}", kind_of(other)))
                        }
                    }
                }
                Some(out)
            }
            other => {
                self.invalid(format!("{path} must be an array of strings, not {}", kind_of(other)));
                None
            }
        }
    }

    fn uint(&mut self, obj: &Map<String, Value>, path: &str, min: u64, max: u64) -> Option<u64> {
        let value = Self::leaf(obj, path)?;
        self.uint_value(value, path, min, max)
    }

    fn uint_value(&mut self, value: &Value, path: &str, min: u64, max: u64) -> Option<u64> {
        match value.as_u64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(n) => {
                self.invalid(format!("{path} must be between {min} and {max}, not {n}"));
                None
            }
            None => {
                self.invalid(format!("{path} must be a whole number between {min} and {max}, not {value}"));
                None
            }
        }
    }
}

fn kind_of(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(text: &str) -> Vec<String> {
        match Config::from_json(text) {
            Ok(_) => Vec::new(),
            Err(Errors(e)) => e.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.max_event_bytes, 1_048_576);
        assert_eq!(c.max_depth, 128);
        assert_eq!(c.points_of("DELETE"), 3);
        assert_eq!(c.points_of("EXTENSION_CHANGE"), 2);
        assert_eq!(c.points_of("CREATE"), 1);
        assert_eq!(Config::from_json("{}"), Ok(Config::default()));
    }

    #[test]
    fn values_are_read() {
        let c = Config::from_json(
            r#"{"input":{"max_depth":32,"validate":true},"output":{"mode":"drop-non-matches"},
                "points":{"DELETE":7},"threat":{"tactic":{"id":"TA0040","name":"Impact"}},
                "allowlist":{"principals":["svc-*"],"aws_service_callers":false}}"#,
        )
        .unwrap_or_default();
        assert_eq!(c.max_depth, 32);
        assert!(c.validate);
        assert_eq!(c.mode, OutputMode::DropNonMatches);
        assert_eq!(c.points_of("DELETE"), 7);
        assert_eq!(c.tactic.id, "TA0040");
        assert_eq!(c.allow_principals, vec!["svc-*".to_string()]);
        assert!(!c.allow_aws_service_callers);
    }

    #[test]
    fn every_error_is_listed() {
        let e = errs(
            r#"{"inptu":{},"input":{"max_depth":1000,"validate":"yes"},"output":{"mode":"x"},"points":{"delete":1}}"#,
        );
        assert_eq!(e.len(), 5, "{e:#?}");
        assert!(e[0].starts_with("E301 unknown config key \"inptu\""), "{}", e[0]);
        assert!(e.iter().any(|m| m.contains("input.max_depth must be between 1 and 128, not 1000")));
        assert!(e.iter().any(|m| m.contains("input.validate must be true or false, not \"yes\"")));
        assert!(e.iter().any(|m| m.contains("output.mode must be")));
        assert!(e.iter().any(|m| m.contains("points.delete")));
    }

    #[test]
    fn not_an_object() {
        assert_eq!(errs("[1]"), vec!["E300 config must be a JSON object".to_string()]);
        assert!(errs("{").iter().all(|m| m.starts_with("E300 config is not valid JSON")));
    }
}
