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
    /// `scoring.*`: the per-principal window.
    pub scoring: Scoring,
}

/// Per-principal scoring settings (`scoring.*` in the config).
#[derive(Debug, Clone, PartialEq)]
pub struct Scoring {
    /// `scoring.window_minutes` (15), in seconds.
    pub window_secs: i64,
    /// `scoring.out_of_order_minutes` (5), in seconds: an event up to this much
    /// older than its principal's latest still counts.
    pub out_of_order_secs: i64,
    /// `scoring.threshold` (10), in milli-points.
    pub threshold_milli: u64,
    /// `scoring.bulk_cap` (10): a bulk call scores points × min(N, cap).
    pub bulk_cap: u32,
    /// `scoring.max_principals` (100,000).
    pub max_principals: usize,
    /// `scoring.unfamiliar_ip.points` (2), in milli-points.
    pub unfamiliar_ip_milli: u64,
    /// `scoring.unfamiliar_ip.learning_hours` (24), in seconds.
    pub learning_secs: i64,
    /// `scoring.unfamiliar_ip.known_networks`: never unfamiliar.
    pub(crate) known_networks: Vec<crate::eql::Cidr>,
    /// `scoring.change_windows`: none means not applied.
    pub change_windows: Vec<ChangeWindow>,
    /// `scoring.outside_window_multiplier` (1.5), in thousandths.
    pub outside_window_permille: u64,
}

impl Default for Scoring {
    fn default() -> Scoring {
        Scoring {
            window_secs: 15 * 60,
            out_of_order_secs: 5 * 60,
            threshold_milli: 10_000,
            bulk_cap: 10,
            max_principals: 100_000,
            unfamiliar_ip_milli: 2_000,
            learning_secs: 24 * 3600,
            known_networks: Vec::new(),
            change_windows: Vec::new(),
            outside_window_permille: 1_500,
        }
    }
}

impl Scoring {
    /// The width of one of the window's buckets, in seconds.
    pub(crate) fn bucket_secs(&self) -> i64 {
        (self.window_secs + crate::score::BUCKETS as i64 - 1) / crate::score::BUCKETS as i64
    }
}

/// A weekly change window: days, a start and end time of day, in a time zone
/// given as an offset from UTC. An end before the start spans midnight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeWindow {
    /// Bit 0 Monday … bit 6 Sunday.
    pub days: u8,
    /// Minutes after local midnight.
    pub start: u32,
    /// Minutes after local midnight (exclusive).
    pub end: u32,
    /// Local time = UTC + offset.
    pub offset_secs: i64,
}

impl ChangeWindow {
    /// True if the Unix time falls inside the window.
    pub(crate) fn contains(&self, ts: i64) -> bool {
        let local = ts + self.offset_secs;
        let day = crate::time::weekday(local);
        let minute = (local.rem_euclid(86_400) / 60) as u32;
        let on = |d: u32| self.days & (1 << d) != 0;
        if self.start <= self.end {
            on(day) && (self.start..self.end).contains(&minute)
        } else {
            (on(day) && minute >= self.start) || (on((day + 6) % 7) && minute < self.end)
        }
    }
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
            scoring: Scoring::default(),
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
        v.keys(&root, "", &["rules", "input", "output", "threat", "points", "allowlist", "scoring"]);
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
            if let Some(list) = v.patterns(allow, "allowlist.principals") {
                config.allow_principals = list;
            }
            if let Some(list) = v.patterns(allow, "allowlist.user_agents") {
                config.allow_user_agents = list;
            }
        }
        if let Some(scoring) = v.object(&root, "scoring") {
            v.scoring(scoring, &mut config.scoring);
        }
        if v.errors.is_empty() { Ok(config) } else { Err(Errors(v.errors)) }
    }

    /// The points of a category (0 for one the config does not know).
    pub fn points_of(&self, category: &str) -> u32 {
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

    /// Allowlist patterns: strings with at least one character that is not a
    /// wildcard. `*` (or `?*`) would suppress every match of every rule, which
    /// is switching detection off, not allow-listing.
    fn patterns(&mut self, obj: &Map<String, Value>, path: &str) -> Option<Vec<String>> {
        let list = self.strings(obj, path)?;
        for (i, p) in list.iter().enumerate() {
            if p.chars().all(|c| c == '*' || c == '?') {
                self.invalid(format!("{path}[{i}] {p:?} matches everything; name what to allow"));
            }
        }
        Some(list)
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

impl Validator {
    fn scoring(&mut self, s: &Map<String, Value>, out: &mut Scoring) {
        self.keys(
            s,
            "scoring",
            &[
                "window_minutes",
                "out_of_order_minutes",
                "threshold",
                "bulk_cap",
                "max_principals",
                "unfamiliar_ip",
                "change_windows",
                "outside_window_multiplier",
            ],
        );
        if let Some(n) = self.uint(s, "scoring.window_minutes", 1, 7 * 24 * 60) {
            out.window_secs = n as i64 * 60;
        }
        if let Some(n) = self.uint(s, "scoring.out_of_order_minutes", 0, 24 * 60) {
            out.out_of_order_secs = n as i64 * 60;
        }
        if let Some(x) = self.decimal(s, "scoring.threshold", 0.001, 1e6) {
            out.threshold_milli = (x * 1000.0).round() as u64;
        }
        if let Some(n) = self.uint(s, "scoring.bulk_cap", 1, 10_000) {
            out.bulk_cap = n as u32;
        }
        if let Some(n) = self.uint(s, "scoring.max_principals", 1, 10_000_000) {
            out.max_principals = n as usize;
        }
        if let Some(x) = self.decimal(s, "scoring.outside_window_multiplier", 1.0, 100.0) {
            out.outside_window_permille = (x * 1000.0).round() as u64;
        }
        if let Some(ip) = self.object(s, "scoring.unfamiliar_ip") {
            self.keys(ip, "scoring.unfamiliar_ip", &["points", "learning_hours", "known_networks"]);
            if let Some(x) = self.decimal(ip, "scoring.unfamiliar_ip.points", 0.0, 1000.0) {
                out.unfamiliar_ip_milli = (x * 1000.0).round() as u64;
            }
            if let Some(n) = self.uint(ip, "scoring.unfamiliar_ip.learning_hours", 0, 24 * 365) {
                out.learning_secs = n as i64 * 3600;
            }
            if let Some(nets) = self.strings(ip, "scoring.unfamiliar_ip.known_networks") {
                out.known_networks.clear();
                for net in nets {
                    match crate::eql::Cidr::parse(&net) {
                        Some(c) => out.known_networks.push(c),
                        None => self.invalid(format!(
                            "scoring.unfamiliar_ip.known_networks: {net:?} is not a CIDR range such as \"10.0.0.0/8\""
                        )),
                    }
                }
            }
        }
        match s.get("change_windows") {
            None => {}
            Some(Value::Array(list)) => {
                for (i, w) in list.iter().enumerate() {
                    let key = format!("scoring.change_windows[{i}]");
                    match w {
                        Value::Object(w) => {
                            if let Some(cw) = self.change_window(w, &key) {
                                out.change_windows.push(cw);
                            }
                        }
                        other => self.invalid(format!("{key} must be an object, not {}", kind_of(other))),
                    }
                }
            }
            Some(other) => self.invalid(format!("scoring.change_windows must be an array, not {}", kind_of(other))),
        }
    }

    fn change_window(&mut self, w: &Map<String, Value>, key: &str) -> Option<ChangeWindow> {
        self.keys(w, key, &["days", "start", "end", "utc_offset"]);
        let before = self.errors.len();
        const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let mut days = 0u8;
        for d in self.strings(w, &format!("{key}.days")).unwrap_or_default() {
            match DAYS.iter().position(|x| d.eq_ignore_ascii_case(x)) {
                Some(i) => days |= 1 << i,
                None => self.invalid(format!("{key}.days: {d:?} is not one of {}", DAYS.join(", "))),
            }
        }
        if days == 0 && self.errors.len() == before {
            self.invalid(format!("{key}.days must list at least one day"));
        }
        let mut minutes = |field: &str| -> Option<u32> {
            let text = self.string(w, &format!("{key}.{field}"))?;
            let parsed = text.split_once(':').and_then(|(h, m)| {
                let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
                (h <= 24 && m < 60 && h * 60 + m <= 1440 && m < 100 && text.len() == 5).then_some(h * 60 + m)
            });
            if parsed.is_none() {
                self.invalid(format!("{key}.{field} must be a time \"HH:MM\", not {text:?}"));
            }
            parsed
        };
        let start = minutes("start");
        let end = minutes("end");
        if w.get("start").is_none() || w.get("end").is_none() {
            self.invalid(format!("{key} needs both \"start\" and \"end\""));
        }
        // Equal times would be an empty window (everything outside it) to
        // the matcher, and a whole day to a reader: refused as ambiguous.
        if let (Some(a), Some(b)) = (start, end)
            && a == b
        {
            self.invalid(format!("{key}.start and .end are the same time; for a whole day use \"00:00\" to \"24:00\""));
        }
        let offset_secs = match w.get("utc_offset") {
            None => 0,
            Some(_) => {
                let text = self.string(w, &format!("{key}.utc_offset")).unwrap_or("");
                match parse_offset(text) {
                    Some(o) => o,
                    None => {
                        self.invalid(format!("{key}.utc_offset must look like \"+01:00\" or \"-05:30\", not {text:?}"));
                        0
                    }
                }
            }
        };
        if self.errors.len() > before {
            return None;
        }
        Some(ChangeWindow { days, start: start?, end: end?, offset_secs })
    }

    fn decimal(&mut self, obj: &Map<String, Value>, path: &str, min: f64, max: f64) -> Option<f64> {
        let value = Self::leaf(obj, path)?;
        match value.as_f64() {
            Some(x) if x.is_finite() && (min..=max).contains(&x) => Some(x),
            _ => {
                self.invalid(format!("{path} must be a number between {min} and {max}, not {value}"));
                None
            }
        }
    }
}

/// `+01:00`, `-05:30`, `Z` → seconds east of UTC.
fn parse_offset(text: &str) -> Option<i64> {
    if text == "Z" || text == "UTC" {
        return Some(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
    (h <= 14 && (0..60).contains(&m) && rest.len() == 5).then_some(sign * (h * 3600 + m * 60))
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
