//! The engine's configuration: one JSON document, every key optional.
//!
//! Validation walks the document by hand rather than through serde so that a
//! bad config is refused with **every** problem listed, each naming its key
//! and placed at its line:column in the text (`locate`).

mod locate;

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Errors};

/// Risk categories and their default points (`docs/detection.md#categories`).
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

/// The hard ceiling for `input.max_depth`. The parser needs no stack per
/// level (it keeps its own stack of open containers); the ceiling bounds
/// what the documented configurations and the hosts' tests assume.
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

/// Engine configuration, always valid: made only by [`Config::default`],
/// [`Config::from_json`] (which refuses anything out of range) and the typed
/// setters ([`Config::with_validate`], [`Config::with_builtin_rules`],
/// [`Config::with_overrides`]), and read through accessors. Every key has a
/// default, documented in `docs/detection.md#configuration`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `rules.builtin`: load the built-in pack. `None`: yes when no pack is
    /// given, no when one is (a given pack replaces the built-in one).
    pub(crate) builtin_rules: Option<bool>,
    /// `input.max_event_bytes`: larger events are refused (and pass through).
    pub(crate) max_event_bytes: usize,
    /// `input.max_depth`: deeper nesting is refused (and passes through).
    pub(crate) max_depth: u32,
    /// `input.validate`: parse every event and evaluate every rule on it,
    /// without the prefilter, so that invalid JSON is always reported. Off
    /// by default: the prefilter's point is not to parse events that cannot
    /// match (it never changes a verdict; the tests hold it to that).
    pub(crate) validate: bool,
    /// `output.mode`.
    pub(crate) mode: OutputMode,
    /// `output.error_field`: add `modwatch.error` to events that are valid
    /// JSON objects but could not be evaluated (e.g. too deep).
    pub(crate) error_field: bool,
    /// `output.routing_fields`: add the principal key and partition token to
    /// every record of a recognised format, matching or not, so that a
    /// shipper can route it by principal. Off by default: every event is then
    /// parsed, where the prefilter would pass most of them on unparsed.
    pub(crate) routing_fields: bool,
    /// `threat.tactic`: the tactic written into tags.
    pub(crate) tactic: Tactic,
    /// `points`: points per risk category.
    pub(crate) points: BTreeMap<String, u32>,
    /// `allowlist.aws_service_callers`: suppress AWS services acting on their
    /// own behalf (`userIdentity.type == AWSService` or `invokedBy` a service).
    pub(crate) allow_aws_service_callers: bool,
    /// `allowlist.principals`: principals (id, user name or display name;
    /// `*` and `?` wildcards, case-insensitive) whose matches are suppressed.
    pub(crate) allow_principals: Vec<String>,
    /// `allowlist.user_agents`: user agents (wildcards, case-insensitive)
    /// whose matches are suppressed.
    pub(crate) allow_user_agents: Vec<String>,
    /// `scoring.*`: the per-principal window.
    pub(crate) scoring: Scoring,
}

/// Per-principal scoring settings (`scoring.*` in the config), read through
/// accessors; part of a [`Config`], so always valid.
#[derive(Debug, Clone, PartialEq)]
pub struct Scoring {
    /// `scoring.window_minutes` (15), in seconds.
    pub(crate) window_secs: i64,
    /// `scoring.out_of_order_minutes` (5), in seconds: an event up to this much
    /// older than its principal's latest still counts.
    pub(crate) out_of_order_secs: i64,
    /// `scoring.threshold` (10), in milli-points.
    pub(crate) threshold_milli: u64,
    /// `scoring.bulk_cap` (10): a bulk call scores points × min(N, cap).
    pub(crate) bulk_cap: u32,
    /// `scoring.max_principals` (100,000).
    pub(crate) max_principals: usize,
    /// `scoring.unfamiliar_ip.points` (2), in milli-points.
    pub(crate) unfamiliar_ip_milli: u64,
    /// `scoring.unfamiliar_ip.learning_hours` (24), in seconds.
    pub(crate) learning_secs: i64,
    /// `scoring.unfamiliar_ip.known_networks`: never unfamiliar.
    pub(crate) known_networks: Vec<crate::eql::Cidr>,
    /// `scoring.change_windows`: none means not applied.
    pub(crate) change_windows: Vec<ChangeWindow>,
    /// `scoring.outside_window_multiplier` (1.5), in thousandths.
    pub(crate) outside_window_permille: u64,
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

/// Buckets per scoring window: the window's resolution is a fifteenth of it
/// (one minute at the default fifteen minutes). It lives with [`Scoring`]
/// because the bucket width is part of the config's meaning (an exported
/// state records it); the scorer takes it from here.
pub(crate) const BUCKETS: usize = 15;

impl Scoring {
    /// The width of one of the window's buckets, in seconds (at least one:
    /// the validator never lets the window be shorter than a minute).
    pub(crate) fn bucket_secs(&self) -> i64 {
        (self.window_secs + BUCKETS as i64 - 1) / BUCKETS as i64
    }

    /// `scoring.window_minutes`: the window, in seconds.
    pub fn window_secs(&self) -> i64 {
        self.window_secs
    }

    /// `scoring.out_of_order_minutes`: how much older than its principal's
    /// latest an event may be and still count, in seconds.
    pub fn out_of_order_secs(&self) -> i64 {
        self.out_of_order_secs
    }

    /// `scoring.threshold`: the alert threshold, in milli-points.
    pub fn threshold_milli(&self) -> u64 {
        self.threshold_milli
    }

    /// `scoring.bulk_cap`: a bulk call scores points × min(N, cap).
    pub fn bulk_cap(&self) -> u32 {
        self.bulk_cap
    }

    /// `scoring.max_principals`: the most principals tracked at once.
    pub fn max_principals(&self) -> usize {
        self.max_principals
    }

    /// `scoring.unfamiliar_ip.points`, in milli-points.
    pub fn unfamiliar_ip_milli(&self) -> u64 {
        self.unfamiliar_ip_milli
    }

    /// `scoring.unfamiliar_ip.learning_hours`, in seconds.
    pub fn learning_secs(&self) -> i64 {
        self.learning_secs
    }

    /// `scoring.change_windows`: none means not applied.
    pub fn change_windows(&self) -> &[ChangeWindow] {
        &self.change_windows
    }

    /// `scoring.outside_window_multiplier`, in thousandths.
    pub fn outside_window_permille(&self) -> u64 {
        self.outside_window_permille
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
            routing_fields: false,
            tactic: Tactic { id: "TA0005".into(), name: "Defense Evasion".into() },
            points: CATEGORY_POINTS.iter().map(|(c, p)| (c.to_string(), *p)).collect(),
            allow_aws_service_callers: true,
            allow_principals: vec!["azure-backup-service".into(), "azure-site-recovery".into()],
            allow_user_agents: Vec::new(),
            scoring: Scoring::default(),
        }
    }
}

/// Settings a host takes from its own flags rather than from the JSON config
/// (`--validate`, `--with-builtin`). Each one that is set replaces the
/// config's key; every combination is a valid config.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `input.validate`: parse every event and evaluate every rule on it.
    pub validate: Option<bool>,
    /// `rules.builtin`: load the built-in pack as well as (or instead of) a
    /// given one.
    pub builtin_rules: Option<bool>,
}

impl Config {
    /// Parses and validates a JSON config, reporting every error at once,
    /// each at the line:column of its key (or, for a syntax error, where the
    /// JSON parser stopped).
    pub fn from_json(text: &str) -> Result<Config, Errors> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            let error = Error::new(ErrorKind::ConfigSyntax, format!("config is not valid JSON: {e}"));
            let at = locate::syntax(text, e.line(), e.column());
            Errors(vec![match at {
                Some(location) => error.at(location),
                None => error,
            }])
        })?;
        let mut v = Validator { locator: locate::Locator::new(text), errors: Vec::new() };
        let root = Path::default();
        let Value::Object(map) = value else {
            v.error(ErrorKind::ConfigSyntax, &root, "config must be a JSON object".into());
            return Err(Errors(v.errors));
        };
        let mut config = Config::default();
        v.keys(&map, &root, &["rules", "input", "output", "threat", "points", "allowlist", "scoring"]);
        let p = root.key("rules");
        if let Some(rules) = v.object(&map, &p) {
            v.keys(rules, &p, &["builtin"]);
            config.builtin_rules = v.bool(rules, &p.key("builtin")).or(config.builtin_rules);
        }
        let p = root.key("input");
        if let Some(input) = v.object(&map, &p) {
            v.keys(input, &p, &["max_event_bytes", "max_depth", "validate"]);
            if let Some(n) = v.uint(input, &p.key("max_event_bytes"), 64, 64 * 1024 * 1024) {
                config.max_event_bytes = n as usize;
            }
            if let Some(n) = v.uint(input, &p.key("max_depth"), 1, u64::from(MAX_DEPTH_CEILING)) {
                config.max_depth = n as u32;
            }
            config.validate = v.bool(input, &p.key("validate")).unwrap_or(config.validate);
        }
        let p = root.key("output");
        if let Some(output) = v.object(&map, &p) {
            v.keys(output, &p, &["mode", "error_field", "routing_fields"]);
            let mode = p.key("mode");
            match v.string(output, &mode) {
                Some("tag") => config.mode = OutputMode::Tag,
                Some("drop-non-matches") => config.mode = OutputMode::DropNonMatches,
                Some(other) => {
                    v.invalid(&mode, format!("{mode} must be \"tag\" or \"drop-non-matches\", not {other:?}"))
                }
                None => {}
            }
            config.error_field = v.bool(output, &p.key("error_field")).unwrap_or(config.error_field);
            config.routing_fields = v.bool(output, &p.key("routing_fields")).unwrap_or(config.routing_fields);
        }
        let p = root.key("threat");
        if let Some(threat) = v.object(&map, &p) {
            v.keys(threat, &p, &["tactic"]);
            let p = p.key("tactic");
            if let Some(tactic) = v.object(threat, &p) {
                v.keys(tactic, &p, &["id", "name"]);
                if let Some(id) = v.string(tactic, &p.key("id")) {
                    config.tactic.id = id.to_string();
                }
                if let Some(name) = v.string(tactic, &p.key("name")) {
                    config.tactic.name = name.to_string();
                }
            }
        }
        let p = root.key("points");
        if let Some(points) = v.object(&map, &p) {
            for (category, value) in points {
                let key = p.key(category);
                if !is_category_name(category) {
                    v.invalid(&key, format!("{key}: a category is UPPER_SNAKE_CASE, not {category:?}"));
                    continue;
                }
                if let Some(n) = v.uint_value(value, &key, 0, 1000) {
                    config.points.insert(category.clone(), n as u32);
                }
            }
        }
        let p = root.key("allowlist");
        if let Some(allow) = v.object(&map, &p) {
            v.keys(allow, &p, &["aws_service_callers", "principals", "user_agents"]);
            config.allow_aws_service_callers =
                v.bool(allow, &p.key("aws_service_callers")).unwrap_or(config.allow_aws_service_callers);
            if let Some(list) = v.patterns(allow, &p.key("principals")) {
                config.allow_principals = list;
            }
            if let Some(list) = v.patterns(allow, &p.key("user_agents")) {
                config.allow_user_agents = list;
            }
        }
        let p = root.key("scoring");
        if let Some(scoring) = v.object(&map, &p) {
            v.scoring(scoring, &p, &mut config.scoring);
        }
        if v.errors.is_empty() { Ok(config) } else { Err(Errors(v.errors)) }
    }

    /// The config with `input.validate` set: every event parsed and every
    /// rule evaluated, without the prefilter.
    #[must_use]
    pub fn with_validate(mut self, validate: bool) -> Config {
        self.validate = validate;
        self
    }

    /// The config with `rules.builtin` set: load the built-in pack (true)
    /// or not (false), whether or not a pack is given.
    #[must_use]
    pub fn with_builtin_rules(mut self, builtin: bool) -> Config {
        self.builtin_rules = Some(builtin);
        self
    }

    /// The config with every override that is set applied.
    #[must_use]
    pub fn with_overrides(self, overrides: &Overrides) -> Config {
        let config = match overrides.validate {
            Some(validate) => self.with_validate(validate),
            None => self,
        };
        match overrides.builtin_rules {
            Some(builtin) => config.with_builtin_rules(builtin),
            None => config,
        }
    }

    /// `rules.builtin`: load the built-in pack. `None`: yes when no pack is
    /// given, no when one is (a given pack replaces the built-in one).
    pub fn builtin_rules(&self) -> Option<bool> {
        self.builtin_rules
    }

    /// `input.max_event_bytes`: larger events are refused (and pass through).
    pub fn max_event_bytes(&self) -> usize {
        self.max_event_bytes
    }

    /// `input.max_depth`: deeper nesting is refused (and passes through);
    /// never more than 128.
    pub fn max_depth(&self) -> u32 {
        self.max_depth
    }

    /// `input.validate`: every event parsed, every rule evaluated.
    pub fn validate(&self) -> bool {
        self.validate
    }

    /// `output.mode`.
    pub fn mode(&self) -> OutputMode {
        self.mode
    }

    /// `output.error_field`: `modwatch.error` is added to events that could
    /// not be evaluated.
    pub fn error_field(&self) -> bool {
        self.error_field
    }

    /// `output.routing_fields`: `modwatch.principal_key` and
    /// `modwatch.partition` are added to every record of a recognised format.
    pub fn routing_fields(&self) -> bool {
        self.routing_fields
    }

    /// `threat.tactic`: the tactic written into tags.
    pub fn tactic(&self) -> &Tactic {
        &self.tactic
    }

    /// `points`: points per risk category.
    pub fn points(&self) -> &BTreeMap<String, u32> {
        &self.points
    }

    /// `allowlist.aws_service_callers`.
    pub fn allow_aws_service_callers(&self) -> bool {
        self.allow_aws_service_callers
    }

    /// `allowlist.principals`: wildcard patterns, case-insensitive.
    pub fn allow_principals(&self) -> &[String] {
        &self.allow_principals
    }

    /// `allowlist.user_agents`: wildcard patterns, case-insensitive.
    pub fn allow_user_agents(&self) -> &[String] {
        &self.allow_user_agents
    }

    /// `scoring.*`: the per-principal window.
    pub fn scoring(&self) -> &Scoring {
        &self.scoring
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

/// Where a value is in the config document: object keys and array indexes
/// from the root. Kept as steps (not a dotted string) because keys the user
/// wrote may contain dots; shown dotted in messages.
#[derive(Debug, Clone, Default)]
struct Path(Vec<Step>);

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

impl Path {
    fn key(&self, key: &str) -> Path {
        let mut steps = self.0.clone();
        steps.push(Step::Key(key.to_string()));
        Path(steps)
    }

    fn index(&self, i: usize) -> Path {
        let mut steps = self.0.clone();
        steps.push(Step::Index(i));
        Path(steps)
    }

    /// The key of the last step, if it is one.
    fn leaf(&self) -> Option<&str> {
        match self.0.last() {
            Some(Step::Key(k)) => Some(k),
            _ => None,
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(k) if i == 0 => write!(f, "{k}")?,
                Step::Key(k) => write!(f, ".{k}")?,
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

struct Validator<'t> {
    /// Finds where in the config text each problem is.
    locator: locate::Locator<'t>,
    errors: Vec<Error>,
}

impl Validator<'_> {
    fn error(&mut self, kind: ErrorKind, at: &Path, message: String) {
        let error = Error::new(kind, message);
        self.errors.push(match self.locator.path(&at.0) {
            Some(location) => error.at(location),
            None => error,
        });
    }

    fn invalid(&mut self, at: &Path, message: String) {
        self.error(ErrorKind::ConfigInvalidValue, at, message);
    }

    fn keys(&mut self, obj: &Map<String, Value>, prefix: &Path, known: &[&str]) {
        for key in obj.keys() {
            if !known.contains(&key.as_str()) {
                let path = prefix.key(key);
                let message = format!("unknown config key {:?} (known here: {})", path.to_string(), known.join(", "));
                self.error(ErrorKind::ConfigUnknownKey, &path, message);
            }
        }
    }

    fn leaf<'a>(obj: &'a Map<String, Value>, path: &Path) -> Option<&'a Value> {
        obj.get(path.leaf()?)
    }

    fn object<'a>(&mut self, obj: &'a Map<String, Value>, path: &Path) -> Option<&'a Map<String, Value>> {
        match Self::leaf(obj, path)? {
            Value::Object(map) => Some(map),
            other => {
                self.invalid(path, format!("{path} must be an object, not {}", kind_of(other)));
                None
            }
        }
    }

    fn bool(&mut self, obj: &Map<String, Value>, path: &Path) -> Option<bool> {
        match Self::leaf(obj, path)? {
            Value::Bool(b) => Some(*b),
            other => {
                self.invalid(path, format!("{path} must be true or false, not {}", kind_of(other)));
                None
            }
        }
    }

    fn string<'a>(&mut self, obj: &'a Map<String, Value>, path: &Path) -> Option<&'a str> {
        match Self::leaf(obj, path)? {
            Value::String(s) if !s.is_empty() => Some(s),
            other => {
                self.invalid(path, format!("{path} must be a non-empty string, not {}", kind_of(other)));
                None
            }
        }
    }

    /// The valid strings of an array, each with its index (for positions).
    fn strings(&mut self, obj: &Map<String, Value>, path: &Path) -> Option<Vec<(usize, String)>> {
        match Self::leaf(obj, path)? {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) if !s.is_empty() => out.push((i, s.clone())),
                        other => self.invalid(
                            &path.index(i),
                            format!("{path}[{i}] must be a non-empty string, not {}", kind_of(other)),
                        ),
                    }
                }
                Some(out)
            }
            other => {
                self.invalid(path, format!("{path} must be an array of strings, not {}", kind_of(other)));
                None
            }
        }
    }

    /// Allowlist patterns: strings with at least one character that is not a
    /// wildcard. `*` (or `?*`) would suppress every match of every rule, which
    /// is switching detection off, not allow-listing.
    fn patterns(&mut self, obj: &Map<String, Value>, path: &Path) -> Option<Vec<String>> {
        let list = self.strings(obj, path)?;
        for (i, p) in &list {
            if p.chars().all(|c| c == '*' || c == '?') {
                self.invalid(&path.index(*i), format!("{path}[{i}] {p:?} matches everything; name what to allow"));
            }
        }
        Some(list.into_iter().map(|(_, p)| p).collect())
    }

    fn uint(&mut self, obj: &Map<String, Value>, path: &Path, min: u64, max: u64) -> Option<u64> {
        let value = Self::leaf(obj, path)?;
        self.uint_value(value, path, min, max)
    }

    fn uint_value(&mut self, value: &Value, path: &Path, min: u64, max: u64) -> Option<u64> {
        match value.as_u64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(n) => {
                self.invalid(path, format!("{path} must be between {min} and {max}, not {n}"));
                None
            }
            None => {
                self.invalid(path, format!("{path} must be a whole number between {min} and {max}, not {value}"));
                None
            }
        }
    }

    fn decimal(&mut self, obj: &Map<String, Value>, path: &Path, min: f64, max: f64) -> Option<f64> {
        let value = Self::leaf(obj, path)?;
        match value.as_f64() {
            Some(x) if x.is_finite() && (min..=max).contains(&x) => Some(x),
            _ => {
                self.invalid(path, format!("{path} must be a number between {min} and {max}, not {value}"));
                None
            }
        }
    }
}

impl Validator<'_> {
    fn scoring(&mut self, s: &Map<String, Value>, p: &Path, out: &mut Scoring) {
        self.keys(
            s,
            p,
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
        if let Some(n) = self.uint(s, &p.key("window_minutes"), 1, 7 * 24 * 60) {
            out.window_secs = n as i64 * 60;
        }
        if let Some(n) = self.uint(s, &p.key("out_of_order_minutes"), 0, 24 * 60) {
            out.out_of_order_secs = n as i64 * 60;
        }
        if let Some(x) = self.decimal(s, &p.key("threshold"), 0.001, 1e6) {
            out.threshold_milli = (x * 1000.0).round() as u64;
        }
        if let Some(n) = self.uint(s, &p.key("bulk_cap"), 1, 10_000) {
            out.bulk_cap = n as u32;
        }
        if let Some(n) = self.uint(s, &p.key("max_principals"), 1, 10_000_000) {
            out.max_principals = n as usize;
        }
        if let Some(x) = self.decimal(s, &p.key("outside_window_multiplier"), 1.0, 100.0) {
            out.outside_window_permille = (x * 1000.0).round() as u64;
        }
        let ip_path = p.key("unfamiliar_ip");
        if let Some(ip) = self.object(s, &ip_path) {
            self.keys(ip, &ip_path, &["points", "learning_hours", "known_networks"]);
            if let Some(x) = self.decimal(ip, &ip_path.key("points"), 0.0, 1000.0) {
                out.unfamiliar_ip_milli = (x * 1000.0).round() as u64;
            }
            if let Some(n) = self.uint(ip, &ip_path.key("learning_hours"), 0, 24 * 365) {
                out.learning_secs = n as i64 * 3600;
            }
            let nets_path = ip_path.key("known_networks");
            if let Some(nets) = self.strings(ip, &nets_path) {
                out.known_networks.clear();
                for (i, net) in nets {
                    match crate::eql::Cidr::parse(&net) {
                        Some(c) => out.known_networks.push(c),
                        None => self.invalid(
                            &nets_path.index(i),
                            format!("{nets_path}: {net:?} is not a CIDR range such as \"10.0.0.0/8\""),
                        ),
                    }
                }
            }
        }
        let windows = p.key("change_windows");
        match s.get("change_windows") {
            None => {}
            Some(Value::Array(list)) => {
                for (i, w) in list.iter().enumerate() {
                    let key = windows.index(i);
                    match w {
                        Value::Object(w) => {
                            if let Some(cw) = self.change_window(w, &key) {
                                out.change_windows.push(cw);
                            }
                        }
                        other => self.invalid(&key, format!("{key} must be an object, not {}", kind_of(other))),
                    }
                }
            }
            Some(other) => {
                self.invalid(&windows, format!("{windows} must be an array, not {}", kind_of(other)));
            }
        }
    }

    fn change_window(&mut self, w: &Map<String, Value>, key: &Path) -> Option<ChangeWindow> {
        self.keys(w, key, &["days", "start", "end", "utc_offset"]);
        let before = self.errors.len();
        const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let mut days = 0u8;
        let days_path = key.key("days");
        for (i, d) in self.strings(w, &days_path).unwrap_or_default() {
            match DAYS.iter().position(|x| d.eq_ignore_ascii_case(x)) {
                Some(day) => days |= 1 << day,
                None => {
                    self.invalid(&days_path.index(i), format!("{days_path}: {d:?} is not one of {}", DAYS.join(", ")))
                }
            }
        }
        if days == 0 && self.errors.len() == before {
            self.invalid(&days_path, format!("{days_path} must list at least one day"));
        }
        let mut minutes = |field: &str| -> Option<u32> {
            let path = key.key(field);
            let text = self.string(w, &path)?;
            let parsed = text.split_once(':').and_then(|(h, m)| {
                let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
                (h <= 24 && m < 60 && h * 60 + m <= 1440 && m < 100 && text.len() == 5).then_some(h * 60 + m)
            });
            if parsed.is_none() {
                self.invalid(&path, format!("{path} must be a time \"HH:MM\", not {text:?}"));
            }
            parsed
        };
        let start = minutes("start");
        let end = minutes("end");
        if w.get("start").is_none() || w.get("end").is_none() {
            self.invalid(key, format!("{key} needs both \"start\" and \"end\""));
        }
        // Equal times would be an empty window (everything outside it) to
        // the matcher, and a whole day to a reader: refused as ambiguous.
        if let (Some(a), Some(b)) = (start, end)
            && a == b
        {
            self.invalid(
                &key.key("start"),
                format!("{key}.start and .end are the same time; for a whole day use \"00:00\" to \"24:00\""),
            );
        }
        let offset_path = key.key("utc_offset");
        let offset_secs = match w.get("utc_offset") {
            None => 0,
            Some(_) => {
                let text = self.string(w, &offset_path).unwrap_or("");
                match parse_offset(text) {
                    Some(o) => o,
                    None => {
                        self.invalid(
                            &offset_path,
                            format!("{offset_path} must look like \"+01:00\" or \"-05:30\", not {text:?}"),
                        );
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
}

/// `+01:00`, `-05:30`, `Z` → seconds east of UTC.
fn parse_offset(text: &str) -> Option<i64> {
    if text == "Z" || text == "UTC" {
        return Some(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, text.get(1..)?),
        b'-' => (-1, text.get(1..)?),
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
        assert!(e[0].starts_with("E301 at 1:2 unknown config key \"inptu\""), "{}", e[0]);
        assert!(e.iter().any(|m| m.contains("input.max_depth must be between 1 and 128, not 1000")));
        assert!(e.iter().any(|m| m.contains("input.validate must be true or false, not \"yes\"")));
        assert!(e.iter().any(|m| m.contains("output.mode must be")));
        assert!(e.iter().any(|m| m.contains("points.delete")));
    }

    #[test]
    fn not_an_object() {
        assert_eq!(errs("[1]"), vec!["E300 at 1:1 config must be a JSON object".to_string()]);
        assert!(errs("{").iter().all(|m| m.starts_with("E300 at 1:1 config is not valid JSON")));
    }

    /// Each problem is at its key (or array item) in the text, 1-based, in
    /// characters; a syntax error where the parser stopped.
    #[test]
    fn errors_are_placed() {
        let at = |text: &str| -> Vec<(u32, u32)> {
            match Config::from_json(text) {
                Ok(_) => Vec::new(),
                Err(Errors(e)) => e.iter().filter_map(|e| e.location()).map(|l| (l.line, l.column)).collect(),
            }
        };
        let text =
            "{\n  \"input\": {\"max_depth\": 0},\n  \"ü\": 1,\n  \"allowlist\": {\"principals\": [\"a\", \"*\"]}\n}";
        assert_eq!(at(text), vec![(3, 3), (2, 13), (4, 37)]);
        let windows = r#"{"scoring":{"change_windows":[{"days":["mon","xyz"],"start":"09:00","end":"09:00"}]}}"#;
        assert_eq!(at(windows), vec![(1, 46), (1, 53)]);
        assert_eq!(at("{\n \"points\": {\"a.b\": 1}}"), vec![(2, 13)]);
        assert_eq!(at("{\n  \"input\": }"), vec![(2, 12)]);
        assert_eq!(at("{\"input\":{\"validate\":1},\"input\":{\"validate\":2}}"), vec![(1, 34)]);
    }

    /// Placing thousands of problems on one long line walks the text once
    /// (a walk per problem would take minutes here).
    #[test]
    fn many_errors_are_placed_at_once() {
        let members: Vec<String> = (0..20_000).map(|i| format!("\"bad{i:05}\":1")).collect();
        let text = format!("{{\"points\":{{{}}}}}", members.join(","));
        let Err(Errors(errors)) = Config::from_json(&text) else { panic!("bad categories are refused") };
        assert_eq!(errors.len(), 20_000);
        let last = errors.last().and_then(Error::location).map(|l| (l.line, l.column));
        assert_eq!(last, Some((1, 12 + 19_999 * 13)));
    }
}
